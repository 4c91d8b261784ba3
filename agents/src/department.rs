//! Class 2 departments (seed 002 item 5, plus the capabilities of seeds
//! 000, 001 and 003). Each works behind its own queue.

use serde::{Deserialize, Serialize};

/// A functional department of the analyst team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Department {
    /// Pulls store data (orders, products, customers, inventory).
    DataRetrieval,
    /// Numbers: trends, statistics, comparisons.
    QuantitativeAnalysis,
    /// Words: reviews, descriptions, sentiment.
    QualitativeAnalysis,
    /// Concrete proposals a person approves.
    RecommendationGeneration,
    /// Documents and retrieval-augmented answers.
    Knowledge,
    /// Stock indicators.
    Market,
    /// GitHub repository analysis.
    Code,
    /// Uploaded datasets, profiling and NL→SQL.
    Datasets,
    /// The nodes of a merchant's saved workflow, one task each.
    Workflow,
}

impl Department {
    /// Every department, in routing order.
    pub const ALL: [Department; 9] = [
        Department::DataRetrieval,
        Department::QuantitativeAnalysis,
        Department::QualitativeAnalysis,
        Department::RecommendationGeneration,
        Department::Knowledge,
        Department::Market,
        Department::Code,
        Department::Datasets,
        Department::Workflow,
    ];

    /// Stable name, as stored on `agent_tasks.department` and serialized.
    pub fn name(self) -> &'static str {
        match self {
            Department::DataRetrieval => "DataRetrieval",
            Department::QuantitativeAnalysis => "QuantitativeAnalysis",
            Department::QualitativeAnalysis => "QualitativeAnalysis",
            Department::RecommendationGeneration => "RecommendationGeneration",
            Department::Knowledge => "Knowledge",
            Department::Market => "Market",
            Department::Code => "Code",
            Department::Datasets => "Datasets",
            Department::Workflow => "Workflow",
        }
    }

    /// The department with `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.name() == name)
    }

    /// The durable queue the department consumes from.
    pub fn queue_name(self) -> &'static str {
        match self {
            Department::DataRetrieval => "alatar.department.data_retrieval",
            Department::QuantitativeAnalysis => "alatar.department.quantitative_analysis",
            Department::QualitativeAnalysis => "alatar.department.qualitative_analysis",
            Department::RecommendationGeneration => "alatar.department.recommendation_generation",
            Department::Knowledge => "alatar.department.knowledge",
            Department::Market => "alatar.department.market",
            Department::Code => "alatar.department.code",
            Department::Datasets => "alatar.department.datasets",
            Department::Workflow => "alatar.department.workflow",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_are_distinct() {
        let mut names: Vec<_> = Department::ALL.iter().map(|d| d.queue_name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Department::ALL.len());
    }
}
