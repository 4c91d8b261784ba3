//! A dashboard's charts: `addVisualization`, `updateVisualization`,
//! `removeVisualization`. A chart has exactly one source of data — SQL
//! over one of the account's datasets, a finished analysis's chart, or a
//! Vega-Lite spec with its rows inline — and is drawn once before it is
//! saved, so a statement the validator refuses, a column the encoding
//! names that the data lacks, or a place off the grid is `BAD_USER_INPUT`
//! naming the field, and never a chart that cannot be drawn.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use alatar_agents::dashboards::chart::{ChartType, Encoding, MAX_CHART_ROWS};
use alatar_agents::dashboards::layout::{MAX_CHARTS, Placement};
use alatar_agents::datasets::sql::DatasetSql;
use alatar_agents::pipeline::Pipeline;
use alatar_entity::{AccountScope, visualization};

use super::render::{self, Source};
use super::updates::{self, Reason};
use super::{Layout, get_dashboard, parse_label, touch};
use crate::auth::AccessClaims;
use crate::error::{ApiError, ApiResult};
use crate::service::knowledge::may_edit;

const MAX_SQL_BYTES: usize = 20_000;
/// An inline spec's JSON at most (its rows are drawn on every view).
const MAX_SPEC_BYTES: usize = 1024 * 1024;

/// What `addVisualization` and `updateVisualization` are given; in an
/// update, `None` keeps what the chart has (a new source replaces the
/// whole source: dataset with SQL, analysis, or spec).
#[derive(Debug, Clone, Default)]
pub struct VisualizationInput {
    /// Title.
    pub title: Option<String>,
    /// How it is drawn.
    pub chart_type: Option<ChartType>,
    /// The dataset `sql` reads.
    pub dataset_id: Option<Uuid>,
    /// The analysis whose chart it shows (`spec` `{"visualization": n}`
    /// picks which; the first by default).
    pub analysis_request_id: Option<Uuid>,
    /// A read-only statement over `dataset_id`.
    pub sql: Option<String>,
    /// Alone: a Vega-Lite spec with `data.values`.
    pub spec: Option<Value>,
    /// The columns plotted.
    pub encoding: Option<Encoding>,
    /// Its place on the grid.
    pub position: Option<Placement>,
}

impl VisualizationInput {
    fn names_source(&self) -> bool {
        self.dataset_id.is_some() || self.analysis_request_id.is_some() || self.sql.is_some() || self.spec.is_some()
    }
}

/// Where `v` sits on its dashboard's grid.
pub fn placement_of(v: &visualization::Model) -> Placement {
    serde_json::from_value(v.position.clone()).unwrap_or(Placement { x: 0, y: 0, w: 1, h: 1 })
}

/// What `v` plots.
pub fn encoding_of(v: &visualization::Model) -> Encoding {
    serde_json::from_value(v.encoding.clone()).unwrap_or_default()
}

/// `v`'s chart type (a bar chart if the stored text is unknown).
pub fn chart_type_of(v: &visualization::Model) -> ChartType {
    ChartType::parse(&v.chart_type).unwrap_or(ChartType::Bar)
}

/// The one source `input` names, checked for shape (not yet for data).
fn source_of(input: &VisualizationInput) -> ApiResult<Source> {
    match (input.dataset_id, input.analysis_request_id, &input.sql, &input.spec) {
        (Some(dataset_id), None, Some(sql), None) => {
            if sql.trim().is_empty() {
                return Err(ApiError::bad_input("sql", "must not be empty"));
            }
            if sql.len() > MAX_SQL_BYTES {
                return Err(ApiError::bad_input("sql", format!("must be at most {MAX_SQL_BYTES} bytes")));
            }
            Ok(Source::Sql { dataset_id, sql: sql.clone() })
        }
        (Some(_), None, None, _) => Err(ApiError::bad_input("sql", "a chart of a dataset needs its SQL")),
        (Some(_), None, Some(_), Some(_)) => {
            Err(ApiError::bad_input("spec", "a chart of a dataset takes its data from its SQL, not a spec"))
        }
        (None, Some(request_id), None, spec) => {
            let index = match spec {
                None => 0,
                Some(spec) => spec
                    .get("visualization")
                    .and_then(Value::as_u64)
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| {
                    ApiError::bad_input("spec", "with an analysis, spec is {\"visualization\": n}, its chart's index")
                })?,
            };
            Ok(Source::Analysis { request_id, index })
        }
        (None, None, None, Some(spec)) => {
            if serde_json::to_vec(spec).map_or(usize::MAX, |b| b.len()) > MAX_SPEC_BYTES {
                return Err(ApiError::bad_input("spec", format!("must be at most {MAX_SPEC_BYTES} bytes of JSON")));
            }
            let rows = spec.pointer("/data/values").and_then(Value::as_array);
            match rows {
                Some(rows) if rows.iter().all(Value::is_object) && rows.len() <= MAX_CHART_ROWS => {
                    Ok(Source::Spec(spec.clone()))
                }
                Some(rows) if rows.len() > MAX_CHART_ROWS => {
                    Err(ApiError::bad_input("spec", format!("data.values must hold at most {MAX_CHART_ROWS} rows")))
                }
                _ => Err(ApiError::bad_input("spec", "must be a Vega-Lite spec with data.values, an array of objects")),
            }
        }
        (None, Some(_), Some(_), _) => {
            Err(ApiError::bad_input("sql", "SQL reads a dataset: give datasetId, not analysisRequestId"))
        }
        (None, None, Some(_), _) => Err(ApiError::bad_input("datasetId", "SQL needs the dataset it reads")),
        (Some(_), Some(_), _, _) => {
            Err(ApiError::bad_input("analysisRequestId", "a chart has one source: a dataset or an analysis"))
        }
        (None, None, None, None) => {
            Err(ApiError::bad_input("datasetId", "give a dataset with SQL, an analysis, or a spec with its data"))
        }
    }
}

/// The columns stored for `source`.
fn source_columns(source: &Source) -> (Option<Uuid>, Option<Uuid>, Option<String>, Option<Value>) {
    match source {
        Source::Sql { dataset_id, sql } => (Some(*dataset_id), None, Some(sql.clone()), None),
        Source::Analysis { request_id, index } => {
            (None, Some(*request_id), None, Some(json!({ "visualization": index })))
        }
        Source::Spec(spec) => (None, None, None, Some(spec.clone())),
    }
}

/// Draws the chart once: what the merchant gave must make a chart.
async fn check_drawable(
    p: &Pipeline,
    sql: &DatasetSql,
    scope: AccountScope,
    title: &str,
    chart_type: ChartType,
    source: &Source,
    encoding: &Encoding,
) -> ApiResult<()> {
    match render::chart_data(p, sql, scope, title, chart_type, source, encoding).await? {
        Ok(_) => Ok(()),
        Err(broken) => Err(ApiError::bad_input(broken.field, broken.message)),
    }
}

/// Adds a chart to one of the account's dashboards.
pub async fn add_visualization(
    p: &Pipeline,
    sql: &DatasetSql,
    scope: AccountScope,
    viewer: &AccessClaims,
    dashboard_id: Uuid,
    input: VisualizationInput,
) -> ApiResult<visualization::Model> {
    may_edit(viewer, "viewers cannot change dashboards")?;
    let dashboard = get_dashboard(p, scope, dashboard_id).await?;
    let title = parse_label("title", input.title.as_deref().unwrap_or_default())?;
    let chart_type = input.chart_type.ok_or_else(|| ApiError::bad_input("chartType", "is required"))?;
    let position = input.position.ok_or_else(|| ApiError::bad_input("position", "is required"))?;
    Layout::of(&dashboard).grid().validate(&position).map_err(|e| ApiError::bad_input("position", e.to_string()))?;
    let count = scope
        .find::<visualization::Entity>()
        .filter(visualization::Column::DashboardId.eq(dashboard.id))
        .count(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?;
    if count >= MAX_CHARTS as u64 {
        return Err(ApiError::bad_input("dashboardId", format!("a dashboard holds at most {MAX_CHARTS} charts")));
    }
    let source = source_of(&input)?;
    let encoding = input.encoding.unwrap_or_default();
    check_drawable(p, sql, scope, &title, chart_type, &source, &encoding).await?;
    let (dataset_id, analysis_request_id, statement, spec) = source_columns(&source);
    let now = Utc::now();
    let saved = visualization::Entity::insert(visualization::ActiveModel {
        id: Set(Uuid::now_v7()),
        account_id: Set(scope.account_id()),
        dashboard_id: Set(dashboard.id),
        title: Set(title),
        chart_type: Set(chart_type.as_str().to_owned()),
        dataset_id: Set(dataset_id),
        analysis_request_id: Set(analysis_request_id),
        sql: Set(statement),
        spec: Set(spec),
        encoding: Set(serde_json::to_value(&encoding).map_err(ApiError::internal)?),
        position: Set(serde_json::to_value(position).map_err(ApiError::internal)?),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_with_returning(&p.db)
    .await
    .map_err(ApiError::internal)?;
    touch(p, scope, dashboard.id).await?;
    updates::announce(p, scope, dashboard.id, Reason::VisualizationChanged, Some(saved.id)).await;
    Ok(saved)
}

/// One of the account's charts.
pub async fn get_visualization(p: &Pipeline, scope: AccountScope, id: Uuid) -> ApiResult<visualization::Model> {
    scope
        .find::<visualization::Entity>()
        .filter(visualization::Column::Id.eq(id))
        .one(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?
        .ok_or(ApiError::NotFound("visualization"))
}

/// Changes a chart: what `input` gives replaces what it had, and the
/// result is drawn once before it is saved.
pub async fn update_visualization(
    p: &Pipeline,
    sql: &DatasetSql,
    scope: AccountScope,
    viewer: &AccessClaims,
    id: Uuid,
    input: VisualizationInput,
) -> ApiResult<visualization::Model> {
    may_edit(viewer, "viewers cannot change dashboards")?;
    let current = get_visualization(p, scope, id).await?;
    let dashboard = get_dashboard(p, scope, current.dashboard_id).await?;
    let title = match &input.title {
        Some(title) => parse_label("title", title)?,
        None => current.title.clone(),
    };
    let chart_type = input.chart_type.unwrap_or_else(|| chart_type_of(&current));
    let position = input.position.unwrap_or_else(|| placement_of(&current));
    Layout::of(&dashboard).grid().validate(&position).map_err(|e| ApiError::bad_input("position", e.to_string()))?;
    let source = if input.names_source() { source_of(&input)? } else { render::source_of(&current) };
    let encoding = input.encoding.clone().unwrap_or_else(|| encoding_of(&current));
    check_drawable(p, sql, scope, &title, chart_type, &source, &encoding).await?;
    let (dataset_id, analysis_request_id, statement, spec) = source_columns(&source);
    scope
        .update_many::<visualization::Entity>()
        .col_expr(visualization::Column::Title, Expr::value(title))
        .col_expr(visualization::Column::ChartType, Expr::value(chart_type.as_str()))
        .col_expr(visualization::Column::DatasetId, Expr::value(dataset_id))
        .col_expr(visualization::Column::AnalysisRequestId, Expr::value(analysis_request_id))
        .col_expr(visualization::Column::Sql, Expr::value(statement))
        .col_expr(visualization::Column::Spec, Expr::value(spec))
        .col_expr(
            visualization::Column::Encoding,
            Expr::value(serde_json::to_value(&encoding).map_err(ApiError::internal)?),
        )
        .col_expr(
            visualization::Column::Position,
            Expr::value(serde_json::to_value(position).map_err(ApiError::internal)?),
        )
        .col_expr(visualization::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(visualization::Column::Id.eq(id))
        .exec(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?;
    touch(p, scope, dashboard.id).await?;
    updates::announce(p, scope, dashboard.id, Reason::VisualizationChanged, Some(id)).await;
    get_visualization(p, scope, id).await
}

/// Removes a chart from its dashboard; the dashboard's id.
pub async fn remove_visualization(
    p: &Pipeline,
    scope: AccountScope,
    viewer: &AccessClaims,
    id: Uuid,
) -> ApiResult<Uuid> {
    may_edit(viewer, "viewers cannot change dashboards")?;
    let current = get_visualization(p, scope, id).await?;
    scope
        .delete_many::<visualization::Entity>()
        .filter(visualization::Column::Id.eq(id))
        .exec(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?;
    touch(p, scope, current.dashboard_id).await?;
    updates::announce(p, scope, current.dashboard_id, Reason::VisualizationRemoved, Some(id)).await;
    Ok(current.dashboard_id)
}
