//! Questions answered by read-only SQL over a dataset: `askDataset`,
//! `validateSql` and `runSql` (seed 001 §4). Every member may use them,
//! viewers included; `askDataset` and `runSql` count as heavy operations
//! for the rate limit.

use async_graphql::{Context, ID, Json, Object, Result, SimpleObject};
use serde_json::Value;

use alatar_agents::datasets::sql::Answer;

use crate::context::ContextExt;
use crate::service::dataset_sql as service;

use super::parse_id;

/// A result column.
#[derive(SimpleObject)]
pub struct DatasetAnswerColumn {
    /// As the statement named it.
    name: String,
    /// `INTEGER`, `FLOAT`, `DECIMAL`, `BOOLEAN`, `DATE`, `TIMESTAMP`, `TIME`,
    /// `INTERVAL`, `TEXT`, or `NULL` when only nulls came back for an
    /// expression (SQLite types values, not columns).
    #[graphql(name = "type")]
    kind: String,
}

/// A statement's answer over a dataset.
#[derive(SimpleObject)]
pub struct DatasetAnswer {
    /// The statement that ran, as the merchant reads it: over `data`,
    /// normalised (comments gone), with their own `LIMIT`.
    sql: String,
    /// The result's columns, in order.
    columns: Vec<DatasetAnswerColumn>,
    /// Each row as a JSON array of values in column order: numbers,
    /// strings, booleans, nulls; dates `YYYY-MM-DD`, timestamps RFC 3339
    /// in UTC.
    rows: Vec<Json<Value>>,
    /// How many rows came back (at most `datasets.sql_row_cap`).
    row_count: i32,
    /// Whether there were more rows than the cap.
    truncated: bool,
    /// What the query computes and what the result shows: the model's
    /// words, or the offline rules' template over the result.
    explanation: String,
    /// Who wrote the statement: a model's id, `offline rules`, or null for
    /// the merchant's own (`runSql`).
    written_by: Option<String>,
    /// Milliseconds it took to run (to find it, when cached).
    execution_time_ms: i64,
    /// Served from the result cache (same statement, same dataset version,
    /// within its time to live).
    cached: bool,
}

impl From<Answer> for DatasetAnswer {
    fn from(answer: Answer) -> Self {
        let columns = answer
            .rows
            .columns
            .iter()
            .map(|c| DatasetAnswerColumn { name: c.name.clone(), kind: c.kind.clone() })
            .collect();
        let rows: Vec<Json<Value>> = answer.rows.rows.iter().map(|row| Json(Value::Array(row.clone()))).collect();
        Self {
            sql: answer.sql,
            columns,
            row_count: i32::try_from(rows.len()).unwrap_or(i32::MAX),
            rows,
            truncated: answer.rows.truncated,
            explanation: answer.explanation,
            written_by: answer.written_by,
            execution_time_ms: i64::try_from(answer.execution_time_ms).unwrap_or(i64::MAX),
            cached: answer.cached,
        }
    }
}

/// Whether a statement may run, and if not, why.
#[derive(SimpleObject)]
pub struct SqlValidation {
    /// It passed every rule.
    valid: bool,
    /// The rules it broke, each `CODE: what broke it` (`MULTIPLE_STATEMENTS`,
    /// `NOT_A_QUERY`, `DATA_MODIFYING`, `OTHER_TABLE`, `SYSTEM_CATALOG`,
    /// `FUNCTION`, …).
    errors: Vec<String>,
}

/// Dataset SQL queries.
#[derive(Default)]
pub struct DatasetSqlQuery;

#[Object]
impl DatasetSqlQuery {
    /// Answers a question in plain words over a `READY` dataset: a model's
    /// SQL when a model is configured (checked like any statement), else
    /// the offline translator's for its grammar (totals, averages, counts,
    /// min/max by a column; top N by a measure; filters on values; date
    /// ranges; trends by day, week or month). A question outside it is
    /// `BAD_USER_INPUT` ("can't answer that offline: …").
    async fn ask_dataset(&self, ctx: &Context<'_>, dataset_id: ID, question: String) -> Result<DatasetAnswer> {
        let id = parse_id("datasetId", &dataset_id)?;
        let state = ctx.state();
        let answer =
            service::ask(&state.pipeline, &state.dataset_sql, ctx.scope()?, ctx.viewer()?, id, &question).await?;
        Ok(answer.into())
    }

    /// Checks a statement against the rules without running it: exactly
    /// one query over the dataset's table (`data`, or the dataset's name),
    /// allowed functions only.
    async fn validate_sql(&self, ctx: &Context<'_>, dataset_id: ID, sql: String) -> Result<SqlValidation> {
        let id = parse_id("datasetId", &dataset_id)?;
        let state = ctx.state();
        let errors = service::check(&state.pipeline, &state.dataset_sql, ctx.scope()?, id, &sql).await?;
        Ok(SqlValidation { valid: errors.is_empty(), errors })
    }

    /// Runs the merchant's own statement read-only over a `READY` dataset,
    /// once it passed every rule (else `BAD_USER_INPUT` naming the rule;
    /// it did not run). At most `datasets.sql_row_cap` rows, at most
    /// `datasets.sql_timeout_ms` (then `TIMEOUT`).
    async fn run_sql(&self, ctx: &Context<'_>, dataset_id: ID, sql: String) -> Result<DatasetAnswer> {
        let id = parse_id("datasetId", &dataset_id)?;
        let state = ctx.state();
        Ok(service::run(&state.pipeline, &state.dataset_sql, ctx.scope()?, id, &sql).await?.into())
    }
}
