//! Intents, periods and plans: what the orchestrator decides before any
//! department works. The offline rules live here; a model-written plan has
//! the same shape and is validated against it. `plan/datasets.rs` fits a
//! plan to the uploaded datasets a question names, `plan/market.rs` to the
//! share prices it asks about.

mod code;
mod datasets;
mod market;
mod period;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use code::code_question;
pub use datasets::{NamedDatasets, asks_about_store};
pub use market::{MarketQuestion, market_question};
pub use period::{Granularity, Period};

use crate::Department;

/// What the merchant wants to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Intent {
    /// How revenue developed over a period.
    RevenueTrend,
    /// Which products sell best (and worst).
    TopProducts,
    /// Who the customers are: new, returning, loyal, lapsing.
    CustomerSegments,
    /// Which items will sell out or sit unsold.
    InventoryRisk,
    /// Where a discount would pay off.
    DiscountOpportunities,
    /// Days that were unusually good or bad.
    Anomalies,
}

impl Intent {
    /// Stable text form, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::RevenueTrend => "REVENUE_TREND",
            Intent::TopProducts => "TOP_PRODUCTS",
            Intent::CustomerSegments => "CUSTOMER_SEGMENTS",
            Intent::InventoryRisk => "INVENTORY_RISK",
            Intent::DiscountOpportunities => "DISCOUNT_OPPORTUNITIES",
            Intent::Anomalies => "ANOMALIES",
        }
    }

    /// Deterministic intent rules: the first rule whose words appear wins.
    pub fn classify(prompt: &str) -> Intent {
        let text = prompt.to_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| text.contains(w));
        if has(&["anomal", "unusual", "spike", "outlier", "strange", "sudden"]) {
            Intent::Anomalies
        } else if has(&["inventory", "stock", "sell out", "sold out", "overstock", "restock"]) {
            Intent::InventoryRisk
        } else if has(&["customer", "segment", "cohort", "loyal", "churn", "retention", "repeat"]) {
            Intent::CustomerSegments
        } else if has(&["discount", "promotion", "promo", "coupon", "sale "]) {
            Intent::DiscountOpportunities
        } else if has(&["product", "best seller", "bestseller", "top seller", "best-selling", "catalog"]) {
            Intent::TopProducts
        } else {
            Intent::RevenueTrend
        }
    }
}

/// Whether a question needs the merchant's own documents (return policy,
/// supplier contracts, FAQ) besides, or instead of, the store's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DocumentFocus {
    /// Store data only.
    #[default]
    None,
    /// Documents and store data ("did the new return policy change refunds?").
    Mixed,
    /// What the documents say ("what does our return policy say about sale items?").
    Only,
}

impl DocumentFocus {
    /// Deterministic rules: a question naming documents (a policy, a
    /// contract, "according to") is about them; it mixes in store data
    /// when it also asks for something measured (a change, revenue, orders).
    pub fn classify(prompt: &str) -> DocumentFocus {
        let text = prompt.to_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| text.contains(w));
        let documents = has(&[
            "policy",
            "policies",
            "contract",
            "agreement",
            "terms and conditions",
            "terms of service",
            "document",
            "handbook",
            "guideline",
            "manual",
            "warranty",
            "faq",
            ".pdf",
            "uploaded",
            "according to",
            "our docs",
            "supplier",
        ]);
        if !documents {
            return DocumentFocus::None;
        }
        let measured = has(&[
            "revenue",
            "sales",
            "orders",
            "trend",
            "change",
            "affect",
            "impact",
            "effect",
            "increase",
            "decrease",
            "drop",
            "grew",
            "grow",
            "rise",
            "rose",
            "fell",
            "compare",
            "how many",
            "how much",
            "last week",
            "last month",
            "last year",
            "this month",
            "this year",
            "since",
            "inventory",
            "stock",
            "customers",
            "best sell",
            "top product",
            "anomal",
        ]);
        if measured { DocumentFocus::Mixed } else { DocumentFocus::Only }
    }
}

/// The objective of the `Knowledge` step alongside store data.
const KNOWLEDGE_WITH_DATA: &str =
    "Passages of the merchant's documents that bear on the question, quoted with their citations (chunk ids)";
/// The objective of the `Knowledge` step answering alone.
const KNOWLEDGE_ALONE: &str =
    "What the merchant's documents say in answer to the question, quoted with their citations (chunk ids)";

/// One step of a plan: a department and what it must produce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanStep {
    /// Who works it.
    pub department: Department,
    /// What it must produce.
    pub objective: String,
    /// Steps (indexes into the plan) whose output it needs.
    pub depends_on: Vec<usize>,
}

/// The orchestrator's plan for one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// The classified intent.
    pub intent: Intent,
    /// The period analysed.
    pub period: Period,
    /// The steps, in an order that respects their dependencies.
    pub steps: Vec<PlanStep>,
    /// "Today" in the shop's calendar when the request was planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<NaiveDate>,
}

impl Plan {
    /// The fixed plan for an intent: retrieve, quantify, then words and
    /// proposals in parallel, both working from the numbers.
    pub fn for_intent(intent: Intent, period: Period) -> Plan {
        let (data, numbers, proposals) = match intent {
            Intent::RevenueTrend => (
                "Revenue, orders, discounts and refunds per period, and the previous period's totals",
                "Trend, growth against the previous period, best and worst period",
                "A concrete action that addresses the trend",
            ),
            Intent::TopProducts => (
                "Units and revenue per product in the period and the one before",
                "Ranking by revenue, movers against the previous period, share of the top five",
                "An action for a slow mover with stock to spare",
            ),
            Intent::CustomerSegments => (
                "Orders and spend per customer over the last twelve months",
                "Recency/frequency segments with their size and revenue share",
                "A win-back action for lapsing customers",
            ),
            Intent::InventoryRisk => (
                "Stock on hand per variant and units sold per day over the last 30 days",
                "Days of cover per variant; items at risk of selling out and overstocked items",
                "Clear overstock without discounting items about to sell out",
            ),
            Intent::DiscountOpportunities => (
                "Discount code usage and product sales in the period",
                "Order value with and without codes, discount cost, slow movers",
                "A targeted discount with its expected effect",
            ),
            Intent::Anomalies => (
                "Daily revenue and orders in the period",
                "Days outside the usual range (robust z-score, weekday by weekday) and their size",
                "An action that follows from the anomalies, if any",
            ),
        };
        Plan {
            intent,
            period,
            steps: vec![
                PlanStep { department: Department::DataRetrieval, objective: data.into(), depends_on: vec![] },
                PlanStep {
                    department: Department::QuantitativeAnalysis,
                    objective: numbers.into(),
                    depends_on: vec![0],
                },
                PlanStep {
                    department: Department::QualitativeAnalysis,
                    objective: "A short narrative of what the figures mean for the merchant".into(),
                    depends_on: vec![1],
                },
                PlanStep {
                    department: Department::RecommendationGeneration,
                    objective: proposals.into(),
                    depends_on: vec![0, 1],
                },
            ],
            as_of: None,
        }
    }

    /// The plan for a question: the fixed plan of its intent, with the
    /// merchant's documents consulted as `focus` says.
    pub fn for_question(intent: Intent, period: Period, focus: DocumentFocus) -> Plan {
        match focus {
            DocumentFocus::None => Plan::for_intent(intent, period),
            DocumentFocus::Mixed => Plan::for_intent(intent, period).with_documents(),
            DocumentFocus::Only => Plan {
                intent,
                period,
                steps: vec![PlanStep {
                    department: Department::Knowledge,
                    objective: KNOWLEDGE_ALONE.into(),
                    depends_on: vec![],
                }],
                as_of: None,
            },
        }
    }

    /// This plan with a `Knowledge` step first (it needs nothing) that the
    /// narrative waits for, so the answer is written once everything is
    /// gathered. Proposals never depend on it: no document text reaches
    /// the department that drafts store changes.
    pub fn with_documents(self) -> Plan {
        self.with_first(Department::Knowledge, KNOWLEDGE_WITH_DATA)
    }

    /// This plan with a `department` step first, needing nothing, that the
    /// narrative waits for and proposals never depend on: what it reads
    /// (documents, uploaded cells, share prices) informs the answer's
    /// words but never drafts a store change. Added once.
    fn with_first(mut self, department: Department, objective: &str) -> Plan {
        if self.steps.iter().any(|s| s.department == department) {
            return self;
        }
        for step in &mut self.steps {
            for d in &mut step.depends_on {
                *d += 1;
            }
            if step.department == Department::QualitativeAnalysis {
                step.depends_on.push(0);
            }
        }
        self.steps.insert(0, PlanStep { department, objective: objective.to_owned(), depends_on: vec![] });
        self
    }

    /// This plan with only the steps of `kept` departments, each needing
    /// nothing (those read sources of their own, never each other).
    fn keeping(mut self, kept: &[Department]) -> Plan {
        self.steps.retain(|s| kept.contains(&s.department));
        for step in &mut self.steps {
            step.depends_on.clear();
        }
        self
    }

    /// This plan without `department`'s steps; a step that depended on one
    /// depends on what it depended on instead.
    pub fn without(mut self, department: Department) -> Plan {
        let removed: Vec<usize> =
            self.steps.iter().enumerate().filter(|(_, s)| s.department == department).map(|(i, _)| i).collect();
        if removed.is_empty() {
            return self;
        }
        // Each removed step's own (transitive) dependencies, oldest first.
        let mut inherited: Vec<Vec<usize>> = self.steps.iter().map(|s| s.depends_on.clone()).collect();
        for i in 0..inherited.len() {
            let mut resolved = Vec::new();
            for d in inherited[i].clone() {
                if removed.contains(&d) {
                    resolved.extend(inherited.get(d).cloned().unwrap_or_default());
                } else {
                    resolved.push(d);
                }
            }
            inherited[i] = resolved;
        }
        let renumber = |d: usize| d - removed.iter().filter(|r| **r < d).count();
        self.steps = self
            .steps
            .into_iter()
            .zip(inherited)
            .filter(|(s, _)| s.department != department)
            .map(|(step, depends_on)| {
                let mut depends_on: Vec<usize> = depends_on.into_iter().map(renumber).collect();
                depends_on.sort_unstable();
                depends_on.dedup();
                PlanStep { depends_on, ..step }
            })
            .collect();
        self
    }

    /// Fits the plan to the account's documents: without any ingested
    /// document, `Knowledge` is left out where other departments answer;
    /// a plan of `Knowledge` alone keeps it, so the answer says there are
    /// none instead of answering something else.
    pub fn fit_to_documents(self, has_documents: bool) -> Plan {
        let others = self.steps.iter().any(|s| s.department != Department::Knowledge);
        if has_documents || !others { self } else { self.without(Department::Knowledge) }
    }

    /// A plan is valid when every dependency points to an earlier step.
    pub fn validate(&self) -> Result<(), String> {
        if self.steps.is_empty() {
            return Err("the plan has no steps".into());
        }
        for (i, step) in self.steps.iter().enumerate() {
            if let Some(bad) = step.depends_on.iter().find(|d| **d >= i) {
                return Err(format!("step {i} depends on step {bad}, which does not come before it"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn intents_follow_the_rules() {
        assert_eq!(Intent::classify("How did revenue develop over the last 3 months?"), Intent::RevenueTrend);
        assert_eq!(Intent::classify("Which products sell best?"), Intent::TopProducts);
        assert_eq!(Intent::classify("What will sell out soon? check stock"), Intent::InventoryRisk);
        assert_eq!(Intent::classify("Who are my loyal customers?"), Intent::CustomerSegments);
        assert_eq!(Intent::classify("Should I run a discount?"), Intent::DiscountOpportunities);
        assert_eq!(Intent::classify("Any unusual days lately?"), Intent::Anomalies);
    }

    #[test]
    fn document_questions_are_recognised() {
        assert_eq!(DocumentFocus::classify("How did revenue develop over the last 3 months?"), DocumentFocus::None);
        assert_eq!(DocumentFocus::classify("What does our return policy say about sale items?"), DocumentFocus::Only);
        assert_eq!(
            DocumentFocus::classify("According to the supplier contract, who pays for late deliveries?"),
            DocumentFocus::Only
        );
        assert_eq!(DocumentFocus::classify("Did the new return policy change refunds?"), DocumentFocus::Mixed);
    }

    #[test]
    fn documents_join_and_leave_plans_cleanly() {
        let period = Period::months(day(2026, 11, 22), 3);
        let base = Plan::for_intent(Intent::RevenueTrend, period);
        let mixed = Plan::for_question(Intent::RevenueTrend, period, DocumentFocus::Mixed);
        assert_eq!(mixed.validate(), Ok(()));
        assert_eq!(mixed.steps[0].department, Department::Knowledge);
        let writer = mixed.steps.iter().find(|s| s.department == Department::QualitativeAnalysis);
        assert_eq!(writer.map(|s| s.depends_on.clone()), Some(vec![2, 0]));
        let proposer = mixed.steps.iter().find(|s| s.department == Department::RecommendationGeneration);
        assert!(proposer.is_some_and(|s| !s.depends_on.contains(&0)), "proposals never see documents");
        // No documents: back to the store's own plan, dependencies and all.
        assert_eq!(mixed.clone().fit_to_documents(false).steps, base.steps);
        assert_eq!(mixed.clone().fit_to_documents(true), mixed);
        let alone = Plan::for_question(Intent::RevenueTrend, period, DocumentFocus::Only);
        assert_eq!(alone.validate(), Ok(()));
        assert_eq!(alone.clone().fit_to_documents(false), alone, "a documents question still gets an answer");
    }

    #[test]
    fn fixed_plans_are_valid() {
        let period = Period::months(day(2026, 11, 22), 3);
        for intent in [Intent::RevenueTrend, Intent::TopProducts, Intent::Anomalies] {
            assert_eq!(Plan::for_intent(intent, period).validate(), Ok(()));
        }
    }
}
