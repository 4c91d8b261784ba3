//! Class 2 departments. Each breaks its task into tool calls, runs them
//! through a [`ToolRunner`] (retries, error budget, call records) and hands
//! its output to the orchestrator through the task row.
//!
//! A new department (Market, Code) is one more [`DepartmentAgent`]
//! registered in [`Departments`]; the orchestrator only reads the plan and
//! never names a department itself. `Knowledge` reads the merchant's
//! documents through the task's [`Library`], `Datasets` their uploaded
//! tables through its [`Catalog`], `Market` their share prices through its
//! [`Quotes`], `Code` their analysed repositories through its
//! [`Repositories`].

mod code;
mod data_retrieval;
mod datasets;
mod knowledge;
mod market;
mod qualitative;
mod quantitative;
mod recommendation;
mod workflow;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Department;
use crate::code::repositories::Repositories;
use crate::datasets::catalog::Catalog;
use crate::knowledge::library::Library;
use crate::llm::{Llm, Narrative};
use crate::market::quotes::Quotes;
use crate::plan::{Intent, Period};
use crate::result::{KeyFigure, ProposalDraft, Provenance, Recommendation, Visualization};
use crate::store::StoreData;
use crate::tools::{TaskFailure, ToolRunner};
use crate::workflows::NodeContext;

pub use code::{CodeAgent, CodeFindings, NO_REPOSITORIES};
pub use data_retrieval::DataRetrievalAgent;
pub use datasets::{DatasetFindings, DatasetQuery, DatasetsAgent, NO_DATASETS};
pub use knowledge::{DocumentFindings, KnowledgeAgent, NO_DOCUMENTS};
pub use market::{MarketAgent, MarketFindings, NO_QUOTES, named as market_named};
pub use qualitative::QualitativeAgent;
pub use quantitative::QuantitativeAgent;
pub use recommendation::RecommendationAgent;
pub use workflow::WorkflowAgent;

/// Everything a department needs to work one task.
pub struct TaskContext {
    /// The question as asked.
    pub prompt: String,
    /// Classified intent.
    pub intent: Intent,
    /// The period analysed.
    pub period: Period,
    /// "Today" for this request (its submission day).
    pub as_of: NaiveDate,
    /// What the plan asks of this task.
    pub objective: String,
    /// Outputs of the tasks this one depends on.
    pub upstream: Vec<(Department, Value)>,
    /// The store's data.
    pub store: Arc<dyn StoreData>,
    /// The model for words.
    pub llm: Arc<dyn Llm>,
    /// The request's model (the user's preference when they set one).
    pub model: Option<String>,
    /// The request's account's documents; `None` where none can be read.
    pub library: Option<Arc<dyn Library>>,
    /// The request's account's uploaded datasets; `None` where none can be read.
    pub datasets: Option<Arc<dyn Catalog>>,
    /// The request's account's share prices; `None` where none can be read.
    pub market: Option<Arc<dyn Quotes>>,
    /// The request's account's analysed repositories; `None` where none
    /// can be read.
    pub code: Option<Arc<dyn Repositories>>,
}

impl TaskContext {
    /// The output of the upstream department `department`, typed.
    pub fn upstream<T: DeserializeOwned>(&self, department: Department) -> Result<T, TaskFailure> {
        let value = self
            .upstream
            .iter()
            .find(|(d, _)| *d == department)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| TaskFailure::Rejected(format!("missing input from {department:?}")))?;
        serde_json::from_value(value).map_err(|e| TaskFailure::Rejected(format!("bad input from {department:?}: {e}")))
    }
}

/// A Class 2 agent.
#[async_trait]
pub trait DepartmentAgent: Send + Sync {
    /// Its department.
    fn department(&self) -> Department;
    /// Works the task; the returned JSON becomes the task's output.
    async fn work(&self, task: &TaskContext, tools: &mut ToolRunner) -> Result<Value, TaskFailure>;
    /// Works one node of a saved workflow's run; the returned JSON becomes
    /// the task's output. Only `Workflow` runs nodes: a run's plan gives
    /// its tasks to no other department.
    async fn work_node(&self, node: &NodeContext, tools: &mut ToolRunner) -> Result<Value, TaskFailure> {
        let _ = (node, tools);
        Err(TaskFailure::Rejected(format!("{:?} does not run workflow nodes", self.department())))
    }
}

/// The departments this worker staffs.
#[derive(Clone)]
pub struct Departments(HashMap<Department, Arc<dyn DepartmentAgent>>);

impl Departments {
    /// The four analysis departments, `Knowledge`, `Datasets`, `Market`,
    /// `Code` and `Workflow`.
    pub fn standard() -> Self {
        let agents: [Arc<dyn DepartmentAgent>; 9] = [
            Arc::new(DataRetrievalAgent),
            Arc::new(QuantitativeAgent),
            Arc::new(QualitativeAgent),
            Arc::new(RecommendationAgent),
            Arc::new(KnowledgeAgent),
            Arc::new(DatasetsAgent),
            Arc::new(MarketAgent),
            Arc::new(CodeAgent),
            Arc::new(WorkflowAgent),
        ];
        Self(agents.into_iter().map(|a| (a.department(), a)).collect())
    }

    /// Adds or replaces a department.
    pub fn with(mut self, agent: Arc<dyn DepartmentAgent>) -> Self {
        self.0.insert(agent.department(), agent);
        self
    }

    /// The agent for `department`.
    pub fn get(&self, department: Department) -> Option<&Arc<dyn DepartmentAgent>> {
        self.0.get(&department)
    }

    /// Departments staffed, for consumers to bind their queues.
    pub fn staffed(&self) -> Vec<Department> {
        let mut all: Vec<_> = self.0.keys().copied().collect();
        all.sort_by_key(|d| Department::ALL.iter().position(|x| x == d));
        all
    }
}

/// Data fetched by a tool, with the call that fetched it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Retrieved {
    /// The tool's output.
    pub data: Value,
    /// The call.
    pub provenance: Provenance,
}

impl Retrieved {
    /// The data, typed.
    pub fn typed<T: DeserializeOwned>(&self) -> Result<T, TaskFailure> {
        serde_json::from_value(self.data.clone()).map_err(|e| TaskFailure::Rejected(format!("bad dataset: {e}")))
    }
}

/// `DataRetrieval`'s output: named data sets of the store (not the
/// merchant's uploaded datasets: those are [`DatasetFindings`]).
pub type Datasets = BTreeMap<String, Retrieved>;

/// `QuantitativeAnalysis`'s output.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Findings {
    /// ISO 4217.
    pub currency: String,
    /// Figures with provenance.
    pub figures: Vec<KeyFigure>,
    /// Charts.
    pub visualizations: Vec<Visualization>,
    /// Labels and other non-numeric findings.
    pub facts: Map<String, Value>,
    /// What the data could not support, said in the answer.
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl Findings {
    /// A figure's value by key.
    pub fn figure(&self, key: &str) -> Option<f64> {
        self.figures.iter().find(|f| f.key == key).map(|f| f.value)
    }
}

/// `QualitativeAnalysis`'s output.
pub type Words = Narrative;

/// `RecommendationGeneration`'s output.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Proposals {
    /// Advice in words.
    pub recommendations: Vec<Recommendation>,
    /// Concrete store changes for a person to approve.
    pub actions: Vec<ProposalDraft>,
}

pub(crate) fn dataset<'a>(data: &'a Datasets, name: &str) -> Result<&'a Retrieved, TaskFailure> {
    data.get(name).ok_or_else(|| TaskFailure::Rejected(format!("dataset {name} was not retrieved")))
}
