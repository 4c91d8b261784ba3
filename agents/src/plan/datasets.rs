//! The merchant's uploaded datasets in a plan: a `Datasets` step when the
//! question names one of the account's `READY` datasets (the orchestrator
//! finds which, `datasets::catalog::names`), decided after planning so the
//! offline rules and a model's plan get the same treatment.
//!
//! The decision, by rule:
//! - it names no dataset: no `Datasets` step;
//! - it names one and asks about the store too (it says "store", "shop",
//!   "Shopify", or names a store measure such as revenue, orders or
//!   customers that is no column of the named datasets): the plan as
//!   planned with `Datasets` as step 0, needing nothing, which the
//!   narrative waits for and proposals never depend on (as `Knowledge`);
//! - it names one and nothing of the store: `Datasets` alone. Words of
//!   time and comparison ("last month", "compare") do not make a question
//!   about the store: an export has dates and figures of its own.
//!
//! A question whose only document word is the dataset's own mention ("my
//! uploaded spend.csv") is not about documents: judged on the question
//! without the mentions, `Knowledge` leaves a plan that named it for that
//! word alone.

use super::{DocumentFocus, Plan};
use crate::Department;

/// Words that ask about the shop itself.
const STORE_WORDS: &[&str] = &["store", "stores", "shop", "shops", "shopify", "storefront"];
/// The store's own measures; one that is a column of a named dataset is
/// the dataset's.
const STORE_MEASURES: &[&str] = &[
    "revenue",
    "sales",
    "net sales",
    "gross sales",
    "orders",
    "order value",
    "aov",
    "customers",
    "customer",
    "inventory",
    "stock",
    "products",
    "product",
    "refunds",
    "discounts",
    "checkouts",
];

/// What a question says of the account's datasets.
#[derive(Debug, Clone, Copy)]
pub struct NamedDatasets<'a> {
    /// The named datasets' names, as the step's objective states them.
    pub names: &'a [String],
    /// Their columns' names.
    pub columns: &'a [String],
    /// The question with the datasets' mentions taken out.
    pub rest: &'a str,
}

/// Letters and digits, lower case: `Net Sales` and `net_sales` are one key.
fn key(text: &str) -> String {
    text.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// Whether `text` (lower case) holds `phrase` as whole words.
fn has_phrase(text: &str, phrase: &str) -> bool {
    text.match_indices(phrase).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + phrase.len()..].chars().next();
        before.is_none_or(|c| !c.is_alphanumeric()) && after.is_none_or(|c| !c.is_alphanumeric())
    })
}

/// Whether `rest` (a question without its dataset mentions) asks about the
/// store; see the module doc.
pub fn asks_about_store(rest: &str, columns: &[String]) -> bool {
    let text = rest.to_lowercase();
    if STORE_WORDS.iter().any(|w| has_phrase(&text, w)) {
        return true;
    }
    let columns: Vec<String> = columns.iter().map(|c| key(c)).collect();
    let is_column = |measure: &str| {
        let k = key(measure);
        columns
            .iter()
            .any(|c| *c == k || c.strip_suffix('s') == Some(k.as_str()) || k.strip_suffix('s') == Some(c.as_str()))
    };
    STORE_MEASURES.iter().any(|m| has_phrase(&text, m) && !is_column(m))
}

/// The `Datasets` step's objective.
fn objective(names: &[String], alone: bool) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    let list = quoted.join(", ");
    if alone {
        format!("Answer the question from the uploaded datasets {list} with read-only SQL, each figure with its query")
    } else {
        format!("Figures from the uploaded datasets {list} that bear on the question, by read-only SQL with its query")
    }
}

impl Plan {
    /// This plan with a `Datasets` step first (it needs nothing) that the
    /// narrative waits for, as [`Plan::with_documents`] does for
    /// `Knowledge`. Proposals never depend on it: no cell of an uploaded
    /// file reaches the department that drafts store changes.
    pub fn with_datasets(self, objective: &str) -> Plan {
        self.with_first(Department::Datasets, objective)
    }

    /// `Datasets` alone (beside `Knowledge`, when the plan consults the
    /// documents too): the store's departments are left out.
    pub fn with_datasets_alone(self, objective: &str) -> Plan {
        self.keeping(&[Department::Knowledge]).with_datasets(objective)
    }

    /// Fits the plan to the datasets the question names (`None`: none);
    /// see the module doc.
    pub fn fit_to_datasets(self, named: Option<&NamedDatasets<'_>>) -> Plan {
        let Some(named) = named.filter(|n| !n.names.is_empty()) else {
            return self.without(Department::Datasets);
        };
        let plan = if DocumentFocus::classify(named.rest) == DocumentFocus::None {
            self.without(Department::Knowledge)
        } else {
            self
        };
        if asks_about_store(named.rest, named.columns) {
            plan.with_datasets(&objective(named.names, false))
        } else {
            plan.with_datasets_alone(&objective(named.names, true))
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::plan::{Intent, Period};

    fn period() -> Period {
        Period::months(NaiveDate::from_ymd_opt(2026, 11, 22).unwrap_or_default(), 1)
    }

    fn departments(plan: &Plan) -> Vec<Department> {
        plan.steps.iter().map(|s| s.department).collect()
    }

    #[test]
    fn a_named_dataset_joins_the_store_plan_or_answers_alone() {
        let names = ["spend".to_owned()];
        let columns = ["date".to_owned(), "campaign".to_owned(), "spend".to_owned(), "revenue".to_owned()];
        let prompt = "Which ad campaign in my uploaded spend.csv had the best return, and how does that compare \
                      with last month's store revenue?";
        let rest = "Which ad campaign in my had the best return, and how does that compare with last month's store \
                    revenue?";
        let planned = Plan::for_question(Intent::classify(prompt), period(), DocumentFocus::classify(prompt));
        assert_eq!(planned.steps[0].department, Department::Knowledge, "\"uploaded\" reads as documents");
        let named = NamedDatasets { names: &names, columns: &columns, rest };
        let mixed = planned.fit_to_datasets(Some(&named));
        assert_eq!(mixed.validate(), Ok(()));
        assert_eq!(
            departments(&mixed),
            [
                Department::Datasets,
                Department::DataRetrieval,
                Department::QuantitativeAnalysis,
                Department::QualitativeAnalysis,
                Department::RecommendationGeneration
            ],
            "the upload is the dataset, not a document"
        );
        let writer = mixed.steps.iter().find(|s| s.department == Department::QualitativeAnalysis);
        assert!(writer.is_some_and(|s| s.depends_on.contains(&0)), "the narrative waits for the datasets");
        let proposer = mixed.steps.iter().find(|s| s.department == Department::RecommendationGeneration);
        assert!(proposer.is_some_and(|s| !s.depends_on.contains(&0)), "proposals never see dataset cells");
        assert!(mixed.steps[0].objective.contains("\"spend\""));

        // About the dataset alone: revenue is one of its columns, nothing names the store.
        let rest = "Which campaign had the most revenue last month?";
        let alone = Plan::for_intent(Intent::RevenueTrend, period()).fit_to_datasets(Some(&NamedDatasets {
            names: &names,
            columns: &columns,
            rest,
        }));
        assert_eq!(departments(&alone), [Department::Datasets]);
        assert_eq!(alone.validate(), Ok(()));
        // Orders are no column: the store's.
        let rest = "Did campaigns with more spend bring more orders?";
        let store = Plan::for_intent(Intent::RevenueTrend, period()).fit_to_datasets(Some(&NamedDatasets {
            names: &names,
            columns: &columns,
            rest,
        }));
        assert_eq!(store.steps.len(), 5);
    }

    #[test]
    fn no_named_dataset_leaves_no_datasets_step() {
        let base = Plan::for_intent(Intent::RevenueTrend, period());
        assert_eq!(base.clone().fit_to_datasets(None), base);
        let with = base.clone().with_datasets("x");
        assert_eq!(with.clone().with_datasets("y"), with, "added once");
        assert_eq!(with.fit_to_datasets(None).steps, base.steps, "back to the store's plan, dependencies and all");
        assert!(!asks_about_store("which campaign did best", &[]));
        assert!(asks_about_store("compare with the shop's sales", &[]));
        assert!(!asks_about_store("best sales by campaign", &["Sales".to_owned()]));
    }
}
