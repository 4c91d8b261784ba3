//! `Datasets`: figures from the merchant's own uploaded tables (an ad spend
//! export, a supplier price list), each computed by read-only SQL and
//! citing the `sql.query` call that ran it (its recorded input is the
//! statement as it ran and the dataset's id).
//!
//! The work: `datasets.schema` lists the account's loaded datasets; the
//! ones the question names (by name or file name, at most three:
//! `datasets::catalog::names`) are answered one by one: a statement is
//! chosen ([`query`]: the model's, the offline translator's, or the
//! summary rule of [`fallback`]), run through `sql.query`, and read
//! ([`figures`]); `datasets.profile` says whether a column it used is
//! mostly empty. A question no statement answers gets the reason in the
//! warnings, never a guess.
//!
//! Cells are the merchant's file, untrusted like document text: they reach
//! a model only fenced as data (`llm::dataset_sql`), this department's
//! output is figures, tables and words only, and the orchestrator takes
//! nothing else from it: no cell can become a proposal or an instruction.

mod fallback;
mod figures;
mod query;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{DepartmentAgent, TaskContext};
use crate::Department;
use crate::datasets::catalog::{self, Catalog};
use crate::datasets::column::quote;
use crate::result::{KeyFigure, Provenance, Section};
use crate::tools::{
    DatasetSchema, DatasetsProfile, DatasetsProfileInput, DatasetsSchema, DatasetsSchemaInput, SqlQuery, SqlQueryInput,
    TaskFailure, ToolRunner,
};

/// What the account has not got, said instead of an answer.
pub const NO_DATASETS: &str = "There are no loaded datasets in this account to answer from: upload the CSV, JSON \
    or NDJSON file, wait until it is READY, then ask again.";
/// A question naming none of the account's datasets.
const NONE_NAMED: &str = "The question names none of this account's datasets: name one by its name or its file's \
    name (\"spend.csv\"), then ask again.";

/// A statement that ran over a dataset, with what it returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetQuery {
    /// The dataset.
    pub dataset_id: Uuid,
    /// Its name.
    pub dataset: String,
    /// Its file's name.
    pub source_name: String,
    /// The statement as it ran, naming `data`.
    pub sql: String,
    /// What it computes.
    pub explanation: String,
    /// The result's columns.
    pub columns: Vec<String>,
    /// Its first rows (untrusted text from the file).
    pub rows: Vec<Vec<Value>>,
    /// How many rows it returned.
    pub row_count: usize,
    /// Who wrote the statement: a model's id, or the offline rules.
    pub written_by: String,
    /// The `sql.query` call.
    pub provenance: Provenance,
}

/// `Datasets`' output: figures, tables and words from the merchant's
/// uploaded datasets. (`DataRetrieval`'s output is [`super::Datasets`], the
/// store's data sets; these are the merchant's files.)
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DatasetFindings {
    /// What the datasets say, in a sentence per dataset: added to the
    /// answer's summary.
    pub answer: Option<String>,
    /// Figures, each citing the `sql.query` call behind it.
    pub figures: Vec<KeyFigure>,
    /// A section per dataset: the statement's first rows and its SQL.
    pub sections: Vec<Section>,
    /// The statements that ran.
    pub queries: Vec<DatasetQuery>,
    /// What the datasets could not answer, and text in them addressed to
    /// an assistant.
    pub warnings: Vec<String>,
    /// Who wrote the first statement: the model, or the offline rules.
    pub answered_by: Option<String>,
}

impl DatasetFindings {
    fn unanswered(why: &str) -> Self {
        Self { answer: Some(why.to_owned()), warnings: vec![why.to_owned()], ..Self::default() }
    }
}

/// Reads the merchant's uploaded datasets.
pub struct DatasetsAgent;

#[async_trait]
impl DepartmentAgent for DatasetsAgent {
    fn department(&self) -> Department {
        Department::Datasets
    }

    async fn work(&self, task: &TaskContext, tools: &mut ToolRunner) -> Result<Value, TaskFailure> {
        let findings = match &task.datasets {
            Some(catalog) => answer(task, catalog.clone(), tools).await?,
            None => DatasetFindings::unanswered("The merchant's datasets cannot be read for this analysis."),
        };
        serde_json::to_value(findings).map_err(|e| TaskFailure::Infrastructure(e.into()))
    }
}

/// The datasets `prompt` names among `listed`, in the order it names them
/// (at most [`catalog::MAX_NAMED`]).
fn named<'a>(prompt: &str, listed: &'a [DatasetSchema]) -> Vec<&'a DatasetSchema> {
    let candidates: Vec<(&str, &str)> = listed.iter().map(|d| (d.name.as_str(), d.source_name.as_str())).collect();
    catalog::mentioned(prompt, &candidates).into_iter().filter_map(|i| listed.get(i)).collect()
}

async fn answer(
    task: &TaskContext,
    catalog: Arc<dyn Catalog>,
    tools: &mut ToolRunner,
) -> Result<DatasetFindings, TaskFailure> {
    let (listed, _) = tools.call(&DatasetsSchema(catalog.clone()), DatasetsSchemaInput::default()).await?;
    if listed.datasets.is_empty() {
        return Ok(DatasetFindings::unanswered(NO_DATASETS));
    }
    let named = named(&task.prompt, &listed.datasets);
    if named.is_empty() {
        return Ok(DatasetFindings::unanswered(NONE_NAMED));
    }
    let mut findings = DatasetFindings::default();
    let mut answers = Vec::new();
    for dataset in named {
        let mut warnings = Vec::new();
        if let Some(chosen) = query::choose(task, catalog.as_ref(), dataset, &mut warnings).await? {
            let input = SqlQueryInput { dataset_id: dataset.dataset_id, sql: chosen.sql.clone() };
            match tools.call(&SqlQuery(catalog.clone()), input).await {
                Ok((ran, provenance)) => {
                    warnings.extend(sparse_columns(tools, &catalog, dataset, &ran.sql).await?);
                    let read = figures::read(dataset, &chosen, &ran, provenance);
                    findings.figures.extend(read.figures);
                    findings.sections.push(read.section);
                    findings.queries.push(read.query);
                    warnings.extend(read.warnings);
                    answers.extend(read.answer);
                    if findings.answered_by.is_none() {
                        findings.answered_by = Some(chosen.written_by);
                    }
                }
                // The engine refused it or it ran too long (recorded as the
                // call's error): said, not fatal, so the store's figures
                // still answer.
                Err(TaskFailure::Tool { error, .. }) => {
                    warnings.push(format!("The query over {} failed: {error}", figures::title(dataset)));
                }
                Err(other) => return Err(other),
            }
        }
        findings.warnings.extend(warnings);
    }
    findings.answer = if answers.is_empty() { findings.warnings.first().cloned() } else { Some(answers.join(" ")) };
    Ok(findings)
}

/// Warnings for the mostly empty columns (the stored profile's low-quality
/// ones) that the statement `sql` reads.
async fn sparse_columns(
    tools: &mut ToolRunner,
    catalog: &Arc<dyn Catalog>,
    dataset: &DatasetSchema,
    sql: &str,
) -> Result<Vec<String>, TaskFailure> {
    let input = DatasetsProfileInput { dataset_id: dataset.dataset_id };
    let profile = match tools.call(&DatasetsProfile(catalog.clone()), input).await {
        Ok((profile, _)) => profile,
        // No stored profile: nothing to say about its columns.
        Err(TaskFailure::Tool { .. }) => return Ok(Vec::new()),
        Err(other) => return Err(other),
    };
    Ok(profile
        .low_quality_columns
        .iter()
        .filter(|column| sql.contains(&quote(column)))
        .map(|column| {
            format!(
                "Column \"{column}\" of {} is over half empty: the figures over it rest on few rows.",
                figures::title(dataset)
            )
        })
        .collect())
}

#[cfg(test)]
mod tests;
