//! A chart's data, read from its source as it is now, and a whole
//! dashboard drawn as one SVG page. A chart whose source is gone (its
//! dataset deleted, its analysis erased) or no longer answers (a reload
//! dropped a column its SQL reads) is not an error of the dashboard: it is
//! reported broken, with why, and the rest still draw (issue 15). Its SQL
//! runs through the same validated, read-only, cached path as `runSql`.

use futures_util::future::join_all;
use sea_orm::{ColumnTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use alatar_agents::dashboards::chart::{ChartData, ChartType, Encoding};
use alatar_agents::dashboards::layout::{Placement, compose};
use alatar_agents::datasets::catalog::{TableLookup, ready_dataset};
use alatar_agents::datasets::sql::{DatasetSql, DatasetTable, ExecuteError, SqlError};
use alatar_agents::pipeline::Pipeline;
use alatar_agents::result::AnalysisBody;
use alatar_entity::{AccountScope, analysis_result, dashboard, visualization};

use super::Layout;
use super::visualizations::{chart_type_of, encoding_of, placement_of};
use crate::error::{ApiError, ApiResult};

/// Where a chart's rows come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A read-only statement over one of the account's datasets.
    Sql {
        /// The dataset.
        dataset_id: Uuid,
        /// The statement, naming `data`.
        sql: String,
    },
    /// Chart `index` of a finished analysis's answer.
    Analysis {
        /// The analysis request.
        request_id: Uuid,
        /// Which of its charts.
        index: usize,
    },
    /// A Vega-Lite spec with `data.values`.
    Spec(Value),
}

/// Stored chart `v`'s source.
pub fn source_of(v: &visualization::Model) -> Source {
    match (v.dataset_id, v.analysis_request_id) {
        (Some(dataset_id), _) => Source::Sql { dataset_id, sql: v.sql.clone().unwrap_or_default() },
        (None, Some(request_id)) => {
            let index = v.spec.as_ref().and_then(|s| s.get("visualization")).and_then(Value::as_u64).unwrap_or(0);
            Source::Analysis { request_id, index: usize::try_from(index).unwrap_or(usize::MAX) }
        }
        (None, None) => Source::Spec(v.spec.clone().unwrap_or(Value::Null)),
    }
}

/// Why a chart cannot be drawn now, and which input it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct Broken {
    /// The input at fault (`datasetId`, `sql`, `analysisRequestId`,
    /// `spec`, `encoding`).
    pub field: &'static str,
    /// What is wrong, in words a merchant can act on.
    pub message: String,
}

impl Broken {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self { field, message: message.into() }
    }
}

/// The rows of `source` as a chart; `Err(Broken)` when the source cannot
/// give them now. Only the server's own failures are an `ApiError`.
pub async fn chart_data(
    p: &Pipeline,
    sql: &DatasetSql,
    scope: AccountScope,
    title: &str,
    chart_type: ChartType,
    source: &Source,
    encoding: &Encoding,
) -> ApiResult<Result<ChartData, Broken>> {
    let made = match source {
        Source::Sql { dataset_id, sql: statement } => {
            let (columns, rows) = match query(p, sql, scope, *dataset_id, statement).await? {
                Ok(found) => found,
                Err(broken) => return Ok(Err(broken)),
            };
            ChartData::new(title, chart_type, columns, rows, encoding)
        }
        Source::Analysis { request_id, index } => {
            let records = match analysis_chart(p, scope, *request_id, *index).await? {
                Ok(records) => records,
                Err(broken) => return Ok(Err(broken)),
            };
            ChartData::from_records(title, chart_type, &records, encoding)
        }
        Source::Spec(spec) => {
            let records = spec.pointer("/data/values").and_then(Value::as_array).cloned().unwrap_or_default();
            ChartData::from_records(title, chart_type, &records, encoding)
        }
    };
    Ok(made.map_err(|e| Broken::new("encoding", e.to_string())))
}

/// The columns and rows `statement` returns over dataset `dataset_id`.
async fn query(
    p: &Pipeline,
    sql: &DatasetSql,
    scope: AccountScope,
    dataset_id: Uuid,
    statement: &str,
) -> ApiResult<Result<(Vec<String>, Vec<Vec<Value>>), Broken>> {
    let table = match ready_dataset(&p.db, scope, dataset_id).await {
        Ok(found) => DatasetTable::of(&found),
        Err(TableLookup::Missing) => {
            return Ok(Err(Broken::new("datasetId", "no such dataset: it was deleted, or is not this account's")));
        }
        Err(TableLookup::NotReady(status)) => {
            return Ok(Err(Broken::new(
                "datasetId",
                format!("the dataset is {}; the chart shows once it is READY", status.as_str()),
            )));
        }
        Err(TableLookup::Db(e)) => return Err(ApiError::internal(e)),
    };
    let validated = match sql.validate(&table, statement) {
        Ok(validated) => validated,
        Err(refusal) => return Ok(Err(Broken::new("sql", refusal.to_string()))),
    };
    match sql.run(&table, &validated).await {
        Ok(answer) => {
            let columns = answer.rows.columns.iter().map(|c| c.name.clone()).collect();
            Ok(Ok((columns, answer.rows.rows.clone())))
        }
        Err(SqlError::Execute(
            e @ (ExecuteError::Query(_) | ExecuteError::Unsupported { .. } | ExecuteError::Timeout(_)),
        )) => Ok(Err(Broken::new("sql", e.to_string()))),
        Err(e @ (SqlError::Refused(_) | SqlError::Unanswerable(_))) => Ok(Err(Broken::new("sql", e.to_string()))),
        Err(SqlError::Execute(e)) => Err(ApiError::internal(e)),
    }
}

/// The rows of chart `index` of analysis `request_id`'s answer.
async fn analysis_chart(
    p: &Pipeline,
    scope: AccountScope,
    request_id: Uuid,
    index: usize,
) -> ApiResult<Result<Vec<Value>, Broken>> {
    let found = scope
        .find::<analysis_result::Entity>()
        .filter(analysis_result::Column::RequestId.eq(request_id))
        .one(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?;
    let Some(result) = found else {
        return Ok(Err(Broken::new(
            "analysisRequestId",
            "the analysis has no answer: it was deleted or has not finished",
        )));
    };
    let body: AnalysisBody = serde_json::from_value(result.body).unwrap_or_default();
    let count = body.visualizations.len();
    match body.visualizations.into_iter().nth(index) {
        Some(chart) => Ok(Ok(chart.data)),
        None => Ok(Err(Broken::new("spec", format!("the analysis has {count} charts: there is no chart {index}")))),
    }
}

/// Stored chart `v` as it is now.
pub async fn draw(
    p: &Pipeline,
    sql: &DatasetSql,
    scope: AccountScope,
    v: &visualization::Model,
) -> ApiResult<Result<ChartData, Broken>> {
    chart_data(p, sql, scope, &v.title, chart_type_of(v), &source_of(v), &encoding_of(v)).await
}

/// What a broken chart shows on a drawn page: its title and why.
fn placeholder(title: &str, broken: &Broken) -> ChartData {
    ChartData {
        title: title.to_owned(),
        chart_type: ChartType::Table,
        columns: vec!["unavailable".to_owned()],
        rows: vec![vec![json!(broken.message)]],
        x: None,
        y: Vec::new(),
        truncated: false,
    }
}

/// Every chart of dashboard `d` as it is now, read at once.
pub async fn draw_all(
    p: &Pipeline,
    sql: &DatasetSql,
    scope: AccountScope,
    charts: &[visualization::Model],
) -> ApiResult<Vec<Result<ChartData, Broken>>> {
    join_all(charts.iter().map(|v| draw(p, sql, scope, v))).await.into_iter().collect()
}

/// Dashboard `d` with its charts drawn as one SVG page (a broken chart
/// shows why in its place), off the async runtime.
pub async fn dashboard_svg(
    p: &Pipeline,
    sql: &DatasetSql,
    scope: AccountScope,
    d: &dashboard::Model,
    charts: &[visualization::Model],
) -> ApiResult<String> {
    let drawn = draw_all(p, sql, scope, charts).await?;
    let placed: Vec<(Placement, ChartData)> = charts
        .iter()
        .zip(drawn)
        .map(|(v, chart)| (placement_of(v), chart.unwrap_or_else(|broken| placeholder(&v.title, &broken))))
        .collect();
    let grid = Layout::of(d).grid();
    let title = d.name.clone();
    tokio::task::spawn_blocking(move || compose(&title, &grid, &placed))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}
