//! Which statement answers the question over one dataset, tried in order:
//!
//! 1. with a model configured, the model's (`Llm::write_sql`: the columns
//!    and five sample rows fenced as untrusted data, as `askDataset` asks);
//! 2. the offline translator's (`datasets::sql::offline`), for the
//!    question without the dataset's mentions ("in spend.csv"), then for
//!    each of its clauses: it refuses whatever it does not fully read;
//! 3. the department's own summary query ([`fallback`]).
//!
//! Every candidate is checked by the validator (through the catalog)
//! before it is chosen: a refused one never runs, and the next is tried.
//! Nothing fits: no statement, and the reason in the answer's warnings.

use tracing::warn;

use super::fallback::{self, Summary};
use super::figures::title;
use crate::datasets::catalog::{self, Catalog, CatalogError};
use crate::datasets::column::ColumnSpec;
use crate::datasets::sql::offline;
use crate::datasets::sql::validate::functions::allowed_names;
use crate::datasets::sql::{Engine, Refusal};
use crate::departments::TaskContext;
use crate::llm::{OFFLINE_AUTHOR, SqlDraft, SqlQuestion};
use crate::tools::{DatasetSchema, TaskFailure};

/// Rows of the dataset a model is shown.
const SAMPLE_ROWS: usize = 5;

/// The statement chosen for a dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Chosen {
    /// As the validator normalised it, naming `data`: what `sql.query` runs.
    pub sql: String,
    /// What it computes, in a sentence.
    pub explanation: String,
    /// The model's id, or the offline rules.
    pub written_by: String,
    /// Set when it is the summary rule's: the result's shape is known.
    pub summary: Option<Summary>,
}

/// A candidate statement checked.
enum Checked {
    /// It may run, as normalised.
    Passed(String),
    /// It broke a rule; it did not run.
    Refused(Refusal),
    /// The dataset went away meanwhile (said in the warnings).
    Gone,
}

/// Letters and digits, lower case.
fn key(text: &str) -> String {
    text.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// `prompt` without its mentions of `dataset` (but for a mention that is
/// also one of its columns' names: "spend" of `spend.csv` is the column
/// too), so the translator reads only the question.
pub(super) fn question_for(prompt: &str, dataset: &DatasetSchema) -> String {
    let columns: Vec<String> = dataset.columns.iter().map(|c| key(&c.name)).collect();
    let phrases: Vec<String> = catalog::phrases(&dataset.name, &dataset.source_name)
        .into_iter()
        .filter(|p| !columns.contains(&key(p)))
        .collect();
    catalog::without_mentions(prompt, &phrases)
}

async fn check(
    catalog: &dyn Catalog,
    dataset: &DatasetSchema,
    sql: &str,
    warnings: &mut Vec<String>,
) -> Result<Checked, TaskFailure> {
    match catalog.check(dataset.dataset_id, sql).await {
        Ok(sql) => Ok(Checked::Passed(sql)),
        Err(CatalogError::Refused(refusal)) => Ok(Checked::Refused(refusal)),
        Err(e @ (CatalogError::UnknownDataset(_) | CatalogError::NotReady { .. })) => {
            warnings.push(format!("{} can no longer be read: {e}.", title(dataset)));
            Ok(Checked::Gone)
        }
        Err(e) => Err(TaskFailure::Infrastructure(e.into())),
    }
}

/// The model's statement; `None` when it wrote none or could not be asked
/// (the offline rules answer then, as `askDataset` does).
async fn drafted(
    task: &TaskContext,
    catalog: &dyn Catalog,
    dataset: &DatasetSchema,
    columns: &[ColumnSpec],
) -> Option<SqlDraft> {
    let engine: Engine = catalog.engine();
    let sample = match catalog.query(dataset.dataset_id, &format!("SELECT * FROM data LIMIT {SAMPLE_ROWS}")).await {
        Ok(answer) => answer.rows.rows.clone(),
        Err(_) => Vec::new(),
    };
    let functions = allowed_names(engine);
    let question =
        SqlQuestion { question: &task.prompt, engine: engine.name(), columns, sample: &sample, functions: &functions };
    match task.llm.write_sql(&question, task.model.as_deref()).await {
        Ok(draft) => draft,
        Err(e) => {
            warn!(error = %e, dataset_id = %dataset.dataset_id, "the model wrote no SQL; the offline rules answer");
            None
        }
    }
}

/// The statement that answers the question over `dataset`, if any; see
/// the module doc. Why none does goes to `warnings`.
pub(super) async fn choose(
    task: &TaskContext,
    catalog: &dyn Catalog,
    dataset: &DatasetSchema,
    warnings: &mut Vec<String>,
) -> Result<Option<Chosen>, TaskFailure> {
    let columns = dataset.column_specs();
    if task.llm.model() != "offline"
        && let Some(draft) = drafted(task, catalog, dataset, &columns).await
    {
        match check(catalog, dataset, &draft.sql, warnings).await? {
            Checked::Passed(sql) => {
                let chosen = Chosen { sql, explanation: draft.explanation, written_by: draft.model, summary: None };
                return Ok(Some(chosen));
            }
            Checked::Refused(refusal) => {
                warn!(model = %draft.model, %refusal, "the model's SQL was refused; it did not run");
                warnings.push(format!(
                    "The model's query over {} was refused ({refusal}); it did not run, and the offline rules \
                     answered instead.",
                    title(dataset)
                ));
            }
            Checked::Gone => return Ok(None),
        }
    }
    let question = question_for(&task.prompt, dataset);
    let mut variants = vec![question.clone()];
    variants.extend(fallback::clauses(&question).into_iter().filter(|c| *c != question));
    for variant in &variants {
        let Ok(translation) = offline::translate(variant, &columns, catalog.engine()) else { continue };
        match check(catalog, dataset, &translation.sql, warnings).await? {
            Checked::Passed(sql) => {
                let (explanation, written_by) = (translation.explanation, OFFLINE_AUTHOR.to_owned());
                return Ok(Some(Chosen { sql, explanation, written_by, summary: None }));
            }
            // The translator's own statements pass; one that does not is a bug to log, not to run.
            Checked::Refused(refusal) => warn!(%refusal, sql = %translation.sql, "an offline translation was refused"),
            Checked::Gone => return Ok(None),
        }
    }
    let summary = match fallback::summary_query(&question, &columns) {
        Ok(summary) => summary,
        Err(why) => {
            let names: Vec<String> = columns.iter().map(|c| format!("\"{}\"", c.name)).collect();
            warnings.push(format!(
                "No query over {} answers this question offline: {why}. Ask for a total, an average, a count or \
                 the best value of one of its columns ({}).",
                title(dataset),
                names.join(", ")
            ));
            return Ok(None);
        }
    };
    match check(catalog, dataset, &summary.sql, warnings).await? {
        Checked::Passed(sql) => {
            let explanation = summary.explanation.clone();
            Ok(Some(Chosen { sql, explanation, written_by: OFFLINE_AUTHOR.to_owned(), summary: Some(summary) }))
        }
        Checked::Refused(refusal) => {
            warn!(%refusal, sql = %summary.sql, "the summary query was refused");
            warnings.push(format!("The summary query over {} was refused ({refusal}); nothing ran.", title(dataset)));
            Ok(None)
        }
        Checked::Gone => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::tools::datasets::SchemaColumn;

    #[test]
    fn the_question_loses_the_datasets_mentions_but_not_its_columns() {
        let column = |name: &str, kind: &str| SchemaColumn { name: name.into(), kind: kind.into() };
        let dataset = DatasetSchema {
            dataset_id: Uuid::from_u128(1),
            name: "Ad spend".into(),
            source_name: "spend.csv".into(),
            row_count: 2,
            column_count: 3,
            version: 1,
            columns: vec![column("campaign", "TEXT"), column("spend", "FLOAT"), column("clicks", "INTEGER")],
        };
        let asked = question_for("What is the total spend in my uploaded Spend.csv?", &dataset);
        assert_eq!(asked, "What is the total spend in my?");
        let translated = offline::translate(&asked, &dataset.column_specs(), Engine::Sqlite);
        assert!(translated.is_ok(), "{translated:?}");
        assert_eq!(question_for("Best campaign in the ad spend table?", &dataset), "Best campaign in the table?");
    }
}
