//! Dashboards: `dashboards`, `dashboard`, `createDashboard`,
//! `updateDashboard`, `deleteDashboard`, `addVisualization`,
//! `updateVisualization`, `removeVisualization`, `exportDashboard`,
//! `shareDashboard`, `revokeShare`, the public `sharedDashboard` and the
//! `dashboardUpdates` subscription.

use std::sync::Arc;

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, InputObject, Json, Object, Result, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use serde_json::Value;
use tokio::sync::OnceCell;

use alatar_agents::dashboards::chart::{ChartData, Encoding};
use alatar_agents::dashboards::layout::{Grid, Placement};
use alatar_agents::dashboards::svg::{Size, chart_svg};
use alatar_agents::dashboards::vega::vega_lite;
use alatar_entity::{AccountScope, dashboard, dashboard_share, visualization};

use crate::context::ContextExt;
use crate::error::{ApiError, ApiResult};
use crate::service::dashboards::render::{self, Broken};
use crate::service::dashboards::updates as update_service;
use crate::service::dashboards::visualizations::{self as chart_service, VisualizationInput as ChartInput};
use crate::service::dashboards::{self as service, Layout, exports, shares};

use super::knowledge::{connection, page};
use super::parse_id;

/// How a visualization is drawn.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "alatar_agents::dashboards::chart::ChartType")]
pub enum ChartType {
    /// Lines over `x`, one per `y` column.
    Line,
    /// Bars (grouped when there are several `y` columns), from zero.
    Bar,
    /// Points of `y` against `x`.
    Scatter,
    /// Sectors of the first `y` column, by `x`.
    Pie,
    /// The rows as a table.
    Table,
}

/// A file format of `exportDashboard`.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "alatar_agents::dashboards::export::ExportFormat")]
pub enum ExportFormat {
    /// A PNG image at twice the page's pixel size.
    Png,
    /// A one-page PDF with the charts as vector graphics.
    Pdf,
}

/// Why a `DashboardUpdate` was sent.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::service::dashboards::updates::Reason")]
pub enum DashboardUpdateReason {
    /// A chart's dataset changed: `visualization` has its new rows.
    DataChanged,
    /// A chart was added or changed: `visualization` is it now.
    VisualizationChanged,
    /// A chart was removed: `removedVisualizationId`.
    VisualizationRemoved,
    /// The dashboard changed (its name or grid), or may have: read it again.
    DashboardChanged,
}

/// A dashboard's grid: the page is `width` pixels wide, in `columns`
/// equal columns, rows `rowHeight` pixels high.
#[derive(SimpleObject)]
pub struct DashboardLayout {
    /// Columns across.
    pub columns: i32,
    /// Pixels a row is high.
    pub row_height: i32,
    /// The page's width in pixels.
    pub width: i32,
}

fn layout_of(layout: Layout) -> DashboardLayout {
    let grid = layout.grid();
    DashboardLayout {
        columns: i32::try_from(grid.columns).unwrap_or(i32::MAX),
        row_height: i32::try_from(grid.row_height).unwrap_or(i32::MAX),
        width: i32::try_from(grid.width).unwrap_or(i32::MAX),
    }
}

/// The grid a new dashboard gets; what is left out keeps its default
/// (12 columns, rows of 80 px).
#[derive(InputObject)]
pub struct DashboardLayoutInput {
    /// Columns across, 1–24.
    pub columns: Option<i32>,
    /// Pixels a row is high, 40–400.
    pub row_height: Option<i32>,
}

fn cells(field: &'static str, n: i32) -> ApiResult<u32> {
    u32::try_from(n).map_err(|_| ApiError::bad_input(field, "must not be negative"))
}

impl DashboardLayoutInput {
    fn over(self, base: Layout) -> ApiResult<Layout> {
        Ok(Layout {
            columns: self.columns.map(|n| cells("layout", n)).transpose()?.unwrap_or(base.columns),
            row_height: self.row_height.map(|n| cells("layout", n)).transpose()?.unwrap_or(base.row_height),
        })
    }
}

/// Where a chart sits, in grid cells from the top left.
#[derive(SimpleObject, InputObject)]
#[graphql(input_name = "PositionInput")]
pub struct Position {
    /// Column of its left edge (0-based).
    pub x: i32,
    /// Row of its top edge (0-based).
    pub y: i32,
    /// Columns wide (at least 1).
    pub w: i32,
    /// Rows high (1–24).
    pub h: i32,
}

impl Position {
    fn of(p: Placement) -> Self {
        let int = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        Self { x: int(p.x), y: int(p.y), w: int(p.w), h: int(p.h) }
    }

    fn placement(&self) -> ApiResult<Placement> {
        Ok(Placement {
            x: cells("position", self.x)?,
            y: cells("position", self.y)?,
            w: cells("position", self.w)?,
            h: cells("position", self.h)?,
        })
    }
}

/// Which columns a chart plots.
#[derive(SimpleObject)]
pub struct ChartEncoding {
    /// The column along the x axis (the pie's categories).
    pub x: Option<String>,
    /// The measures.
    pub y: Vec<String>,
}

/// Which columns a chart plots.
#[derive(InputObject)]
pub struct EncodingInput {
    /// The column along the x axis (the pie's categories); the first
    /// column when left out.
    pub x: Option<String>,
    /// The measures; every numeric column but `x` when left out or empty.
    pub y: Option<Vec<String>>,
}

/// A chart for `addVisualization` (`title`, `chartType` and `position`
/// required) or `updateVisualization` (what is given replaces what the
/// chart has). Its data comes from exactly one source: `datasetId` with
/// `sql` (a read-only statement naming the dataset's table `data`, re-run
/// whenever the dataset changes), `analysisRequestId` (a finished
/// analysis's chart; `spec` `{"visualization": n}` picks which, the first
/// by default), or `spec` alone (a Vega-Lite spec with its rows in
/// `data.values`).
#[derive(InputObject)]
pub struct VisualizationInput {
    /// Title, 1–200 characters.
    pub title: Option<String>,
    /// How it is drawn.
    pub chart_type: Option<ChartType>,
    /// The dataset `sql` reads.
    pub dataset_id: Option<ID>,
    /// The analysis whose chart it shows.
    pub analysis_request_id: Option<ID>,
    /// A read-only statement over the dataset.
    pub sql: Option<String>,
    /// See the type's description.
    pub spec: Option<Json<Value>>,
    /// The columns plotted.
    pub encoding: Option<EncodingInput>,
    /// Its place on the grid.
    pub position: Option<Position>,
}

impl VisualizationInput {
    fn into_service(self) -> ApiResult<ChartInput> {
        Ok(ChartInput {
            title: self.title,
            chart_type: self.chart_type.map(Into::into),
            dataset_id: self.dataset_id.as_ref().map(|id| parse_id("datasetId", id)).transpose()?,
            analysis_request_id: self
                .analysis_request_id
                .as_ref()
                .map(|id| parse_id("analysisRequestId", id))
                .transpose()?,
            sql: self.sql,
            spec: self.spec.map(|s| s.0),
            encoding: self.encoding.map(|e| Encoding { x: e.x, y: e.y.unwrap_or_default() }),
            position: self.position.as_ref().map(Position::placement).transpose()?,
        })
    }
}

/// A chart on a dashboard, drawn from its source as it is now (an
/// analysis's own charts are `Visualization`).
pub struct DashboardVisualization {
    model: visualization::Model,
    grid: Grid,
    drawn: OnceCell<Result<ChartData, Broken>>,
}

impl DashboardVisualization {
    fn new(model: visualization::Model, grid: Grid) -> Arc<Self> {
        Arc::new(Self { model, grid, drawn: OnceCell::new() })
    }

    /// Its data, read once per request whichever fields ask.
    async fn drawn(&self, ctx: &Context<'_>) -> ApiResult<&Result<ChartData, Broken>> {
        self.drawn
            .get_or_try_init(|| async {
                let state = ctx.state();
                let scope = AccountScope::new(self.model.account_id);
                render::draw(&state.pipeline, &state.dataset_sql, scope, &self.model).await
            })
            .await
    }

    async fn chart(&self, ctx: &Context<'_>) -> ApiResult<Option<&ChartData>> {
        Ok(self.drawn(ctx).await?.as_ref().ok())
    }

    async fn svg_of(&self, ctx: &Context<'_>, width: Option<i32>, height: Option<i32>) -> Result<Option<String>> {
        let Some(chart) = self.chart(ctx).await? else { return Ok(None) };
        let cell = self.grid.size_of(&chart_service::placement_of(&self.model));
        let size = Size {
            width: width.map(|w| cells("width", w)).transpose()?.unwrap_or(cell.width).clamp(80, 4000),
            height: height.map(|h| cells("height", h)).transpose()?.unwrap_or(cell.height).clamp(60, 4000),
        };
        let chart = chart.clone();
        let svg = tokio::task::spawn_blocking(move || chart_svg(&chart, size))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
        Ok(Some(svg))
    }

    async fn rows_of(&self, ctx: &Context<'_>) -> Result<Option<Json<Vec<Vec<Value>>>>> {
        Ok(self.chart(ctx).await?.map(|c| Json(c.rows.clone())))
    }

    async fn error_of(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(self.drawn(ctx).await?.as_ref().err().map(|b| b.message.clone()))
    }
}

#[Object]
impl DashboardVisualization {
    async fn id(&self) -> ID {
        ID(self.model.id.to_string())
    }
    async fn dashboard_id(&self) -> ID {
        ID(self.model.dashboard_id.to_string())
    }
    async fn title(&self) -> &str {
        &self.model.title
    }
    async fn chart_type(&self) -> ChartType {
        chart_service::chart_type_of(&self.model).into()
    }
    /// The dataset its SQL reads (kept after the dataset is deleted: the
    /// chart is then broken, see `error`).
    async fn dataset_id(&self) -> Option<ID> {
        self.model.dataset_id.map(|id| ID(id.to_string()))
    }
    /// The analysis whose chart it shows.
    async fn analysis_request_id(&self) -> Option<ID> {
        self.model.analysis_request_id.map(|id| ID(id.to_string()))
    }
    /// Its statement, as written.
    async fn sql(&self) -> Option<&str> {
        self.model.sql.as_deref()
    }
    async fn position(&self) -> Position {
        Position::of(chart_service::placement_of(&self.model))
    }
    /// The columns plotted, as chosen (after defaults, once drawn).
    async fn encoding(&self, ctx: &Context<'_>) -> Result<ChartEncoding> {
        Ok(match self.chart(ctx).await? {
            Some(chart) => ChartEncoding { x: chart.x.clone(), y: chart.y.clone() },
            None => {
                let stored = chart_service::encoding_of(&self.model);
                ChartEncoding { x: stored.x, y: stored.y }
            }
        })
    }
    /// A complete Vega-Lite v5 spec with the rows inline; null when broken.
    async fn spec(&self, ctx: &Context<'_>) -> Result<Option<Json<Value>>> {
        Ok(self.chart(ctx).await?.map(|c| Json(vega_lite(c))))
    }
    /// The chart drawn as SVG, at its cell's size unless asked; null when
    /// broken.
    async fn svg(&self, ctx: &Context<'_>, width: Option<i32>, height: Option<i32>) -> Result<Option<String>> {
        self.svg_of(ctx, width, height).await
    }
    /// The result's column names; null when broken.
    async fn columns(&self, ctx: &Context<'_>) -> Result<Option<Vec<String>>> {
        Ok(self.chart(ctx).await?.map(|c| c.columns.clone()))
    }
    /// The rows plotted (at most 5,000), each in `columns`' order.
    async fn rows(&self, ctx: &Context<'_>) -> Result<Option<Json<Vec<Vec<Value>>>>> {
        self.rows_of(ctx).await
    }
    /// Whether rows were left out (the source had more than are drawn).
    async fn truncated(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.chart(ctx).await?.is_some_and(|c| c.truncated))
    }
    /// Why it cannot be drawn now (its dataset deleted or not READY, its
    /// SQL no longer valid, its analysis gone); null when it draws.
    async fn error(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.error_of(ctx).await
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.model.updated_at
    }
}

/// A chart that cannot be drawn now, and why.
#[derive(SimpleObject)]
pub struct BrokenVisualization {
    /// The chart.
    pub visualization_id: ID,
    /// Its title.
    pub title: String,
    /// The input at fault: `datasetId`, `sql`, `analysisRequestId`, `spec` or `encoding`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// A share link of a dashboard.
pub struct DashboardShare {
    model: dashboard_share::Model,
    token: Option<String>,
}

#[Object]
impl DashboardShare {
    async fn id(&self) -> ID {
        ID(self.model.id.to_string())
    }
    async fn dashboard_id(&self) -> ID {
        ID(self.model.dashboard_id.to_string())
    }
    /// The token to give `sharedDashboard`: only in `shareDashboard`'s
    /// answer, never again.
    async fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }
    /// Whether it still opens the dashboard.
    async fn active(&self) -> bool {
        self.model.revoked_at.is_none()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.model.revoked_at
    }
}

/// A dashboard of the account.
pub struct Dashboard {
    model: dashboard::Model,
    charts: OnceCell<Vec<Arc<DashboardVisualization>>>,
}

impl Dashboard {
    fn new(model: dashboard::Model) -> Self {
        Self { model, charts: OnceCell::new() }
    }

    async fn charts(&self, ctx: &Context<'_>) -> ApiResult<&Vec<Arc<DashboardVisualization>>> {
        self.charts
            .get_or_try_init(|| async {
                let scope = AccountScope::new(self.model.account_id);
                let grid = Layout::of(&self.model).grid();
                let rows = service::visualizations_of(&ctx.state().pipeline, scope, self.model.id).await?;
                Ok(rows.into_iter().map(|v| DashboardVisualization::new(v, grid)).collect())
            })
            .await
    }
}

#[Object]
impl Dashboard {
    async fn id(&self) -> ID {
        ID(self.model.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.model.name
    }
    async fn layout(&self) -> DashboardLayout {
        layout_of(Layout::of(&self.model))
    }
    /// Its charts, in the order they were added.
    async fn visualizations(&self, ctx: &Context<'_>) -> Result<Vec<Arc<DashboardVisualization>>> {
        Ok(self.charts(ctx).await?.clone())
    }
    /// The charts that cannot be drawn now, with why (a deleted dataset, a
    /// statement a reload broke).
    async fn broken_visualizations(&self, ctx: &Context<'_>) -> Result<Vec<BrokenVisualization>> {
        let charts = self.charts(ctx).await?;
        let drawn = futures_util::future::join_all(charts.iter().map(|c| c.drawn(ctx))).await;
        let mut broken = Vec::new();
        for (chart, outcome) in charts.iter().zip(drawn) {
            if let Err(b) = outcome? {
                broken.push(BrokenVisualization {
                    visualization_id: ID(chart.model.id.to_string()),
                    title: chart.model.title.clone(),
                    field: b.field.to_owned(),
                    message: b.message.clone(),
                });
            }
        }
        Ok(broken)
    }
    /// The whole page drawn as one SVG (what the exports are made of).
    async fn svg(&self, ctx: &Context<'_>) -> Result<String> {
        let state = ctx.state();
        let scope = AccountScope::new(self.model.account_id);
        let charts: Vec<visualization::Model> = self.charts(ctx).await?.iter().map(|c| c.model.clone()).collect();
        Ok(render::dashboard_svg(&state.pipeline, &state.dataset_sql, scope, &self.model, &charts).await?)
    }
    /// Its share links, revoked ones included (without their tokens).
    async fn shares(&self, ctx: &Context<'_>) -> Result<Vec<DashboardShare>> {
        let scope = AccountScope::new(self.model.account_id);
        let found = shares::shares_of(&ctx.state().pipeline, scope, self.model.id).await?;
        Ok(found.into_iter().map(|model| DashboardShare { model, token: None }).collect())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.model.updated_at
    }
}

/// A chart as a share link shows it: no ids, no SQL, no sources.
pub struct SharedVisualization(Arc<DashboardVisualization>);

#[Object]
impl SharedVisualization {
    async fn title(&self) -> &str {
        &self.0.model.title
    }
    async fn chart_type(&self) -> ChartType {
        chart_service::chart_type_of(&self.0.model).into()
    }
    async fn position(&self) -> Position {
        Position::of(chart_service::placement_of(&self.0.model))
    }
    /// A Vega-Lite v5 spec with the rows inline; null when it cannot be drawn.
    async fn spec(&self, ctx: &Context<'_>) -> Result<Option<Json<Value>>> {
        Ok(self.0.chart(ctx).await?.map(|c| Json(vega_lite(c))))
    }
    /// The chart drawn as SVG.
    async fn svg(&self, ctx: &Context<'_>, width: Option<i32>, height: Option<i32>) -> Result<Option<String>> {
        self.0.svg_of(ctx, width, height).await
    }
    /// The result's column names.
    async fn columns(&self, ctx: &Context<'_>) -> Result<Option<Vec<String>>> {
        Ok(self.0.chart(ctx).await?.map(|c| c.columns.clone()))
    }
    /// The rows plotted.
    async fn rows(&self, ctx: &Context<'_>) -> Result<Option<Json<Vec<Vec<Value>>>>> {
        self.0.rows_of(ctx).await
    }
    /// Why it cannot be drawn now.
    async fn error(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.0.error_of(ctx).await
    }
}

/// A dashboard as its share link shows it, read-only: its name, grid and
/// charts, nothing else of the account.
pub struct SharedDashboard(Dashboard);

#[Object]
impl SharedDashboard {
    async fn name(&self) -> &str {
        &self.0.model.name
    }
    async fn layout(&self) -> DashboardLayout {
        layout_of(Layout::of(&self.0.model))
    }
    async fn visualizations(&self, ctx: &Context<'_>) -> Result<Vec<SharedVisualization>> {
        Ok(self.0.charts(ctx).await?.iter().cloned().map(SharedVisualization).collect())
    }
    /// The whole page drawn as one SVG.
    async fn svg(&self, ctx: &Context<'_>) -> Result<String> {
        let state = ctx.state();
        let scope = AccountScope::new(self.0.model.account_id);
        let charts: Vec<visualization::Model> = self.0.charts(ctx).await?.iter().map(|c| c.model.clone()).collect();
        Ok(render::dashboard_svg(&state.pipeline, &state.dataset_sql, scope, &self.0.model, &charts).await?)
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.model.updated_at
    }
}

/// A dashboard file made for download.
#[derive(SimpleObject)]
pub struct DashboardExport {
    pub id: ID,
    /// Path and query of the download (relative to the server's origin);
    /// works until `expiresAt`, then answers 410.
    pub url: String,
    pub format: ExportFormat,
    /// `image/png` or `application/pdf`.
    pub content_type: String,
    /// The file's size.
    pub bytes: i64,
    pub expires_at: DateTime<Utc>,
}

/// One change of a dashboard.
#[derive(SimpleObject)]
pub struct DashboardUpdate {
    pub dashboard_id: ID,
    pub reason: DashboardUpdateReason,
    /// The chart that changed or has new rows, as it now is (its `rows`,
    /// `svg` and `spec` read now).
    pub visualization: Option<Arc<DashboardVisualization>>,
    /// The chart removed.
    pub removed_visualization_id: Option<ID>,
    /// When the change was heard.
    pub at: DateTime<Utc>,
}

/// Dashboard queries.
#[derive(Default)]
pub struct DashboardQuery;

#[Object]
impl DashboardQuery {
    /// The account's dashboards, newest first.
    async fn dashboards(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<Connection<String, Dashboard>> {
        let (first, before) = page(first, 100, after.as_deref())?;
        let rows = service::list_dashboards(&ctx.state().pipeline, ctx.scope()?, before, first + 1).await?;
        Ok(connection(rows, first, before.is_some(), |d| d.id.to_string(), Dashboard::new))
    }

    /// One of the account's dashboards.
    async fn dashboard(&self, ctx: &Context<'_>, id: ID) -> Result<Dashboard> {
        let id = parse_id("id", &id)?;
        Ok(Dashboard::new(service::get_dashboard(&ctx.state().pipeline, ctx.scope()?, id).await?))
    }

    /// The dashboard a share link opens: public (no sign-in), read-only;
    /// null for a token that opens nothing (unknown, revoked, or its
    /// dashboard deleted).
    async fn shared_dashboard(&self, ctx: &Context<'_>, token: String) -> Result<Option<SharedDashboard>> {
        if token.len() > 100 {
            return Ok(None);
        }
        let opened = shares::open(&ctx.state().pipeline, &token).await?;
        Ok(opened.map(|(_, d)| SharedDashboard(Dashboard::new(d))))
    }
}

/// Dashboard mutations.
#[derive(Default)]
pub struct DashboardMutation;

#[Object]
impl DashboardMutation {
    /// Makes an empty dashboard. Viewers may not.
    async fn create_dashboard(
        &self,
        ctx: &Context<'_>,
        name: String,
        layout: Option<DashboardLayoutInput>,
    ) -> Result<Dashboard> {
        let viewer = ctx.viewer()?;
        let layout = layout.map(|l| l.over(Layout::default())).transpose()?;
        Ok(Dashboard::new(service::create_dashboard(&ctx.state().pipeline, ctx.scope()?, viewer, &name, layout).await?))
    }

    /// Renames a dashboard or changes its grid (which must still hold
    /// every chart). Viewers may not.
    async fn update_dashboard(
        &self,
        ctx: &Context<'_>,
        id: ID,
        name: Option<String>,
        layout: Option<DashboardLayoutInput>,
    ) -> Result<Dashboard> {
        let viewer = ctx.viewer()?;
        let id = parse_id("id", &id)?;
        let scope = ctx.scope()?;
        let p = &ctx.state().pipeline;
        let layout = match layout {
            Some(input) => Some(input.over(Layout::of(&service::get_dashboard(p, scope, id).await?))?),
            None => None,
        };
        Ok(Dashboard::new(service::update_dashboard(p, scope, viewer, id, name.as_deref(), layout).await?))
    }

    /// Deletes a dashboard with its charts, links and exports; its id.
    /// Viewers may not.
    async fn delete_dashboard(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let viewer = ctx.viewer()?;
        let parsed = parse_id("id", &id)?;
        service::delete_dashboard(&ctx.state().pipeline, ctx.scope()?, viewer, parsed).await?;
        Ok(id)
    }

    /// Adds a chart to a dashboard (at most 50); it is drawn once first,
    /// so what cannot make a chart is `BAD_USER_INPUT` naming the field.
    /// Viewers may not.
    async fn add_visualization(
        &self,
        ctx: &Context<'_>,
        dashboard_id: ID,
        input: VisualizationInput,
    ) -> Result<Arc<DashboardVisualization>> {
        let viewer = ctx.viewer()?;
        let dashboard_id = parse_id("dashboardId", &dashboard_id)?;
        let state = ctx.state();
        let scope = ctx.scope()?;
        let saved = chart_service::add_visualization(
            &state.pipeline,
            &state.dataset_sql,
            scope,
            viewer,
            dashboard_id,
            input.into_service()?,
        )
        .await?;
        visualization_on_its_grid(ctx, scope, saved).await
    }

    /// Changes a chart: what is given replaces what it had. Viewers may not.
    async fn update_visualization(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: VisualizationInput,
    ) -> Result<Arc<DashboardVisualization>> {
        let viewer = ctx.viewer()?;
        let id = parse_id("id", &id)?;
        let state = ctx.state();
        let scope = ctx.scope()?;
        let saved = chart_service::update_visualization(
            &state.pipeline,
            &state.dataset_sql,
            scope,
            viewer,
            id,
            input.into_service()?,
        )
        .await?;
        visualization_on_its_grid(ctx, scope, saved).await
    }

    /// Removes a chart; its dashboard. Viewers may not.
    async fn remove_visualization(&self, ctx: &Context<'_>, id: ID) -> Result<Dashboard> {
        let viewer = ctx.viewer()?;
        let id = parse_id("id", &id)?;
        let p = &ctx.state().pipeline;
        let scope = ctx.scope()?;
        let dashboard_id = chart_service::remove_visualization(p, scope, viewer, id).await?;
        Ok(Dashboard::new(service::get_dashboard(p, scope, dashboard_id).await?))
    }

    /// Draws a dashboard as it is now into a PNG or PDF file; a signed
    /// link that downloads it until it expires
    /// (`dashboards.export_ttl_secs`, 15 minutes by default). Every member
    /// may.
    async fn export_dashboard(&self, ctx: &Context<'_>, id: ID, format: ExportFormat) -> Result<DashboardExport> {
        let viewer = ctx.viewer()?;
        let id = parse_id("id", &id)?;
        let state = ctx.state();
        let format = alatar_agents::dashboards::export::ExportFormat::from(format);
        let made = exports::export_dashboard(
            &state.pipeline,
            &state.dataset_sql,
            &state.downloads,
            ctx.scope()?,
            viewer.sub,
            id,
            format,
        )
        .await?;
        Ok(DashboardExport {
            id: ID(made.export.id.to_string()),
            url: made.url,
            format: format.into(),
            content_type: format.content_type().to_owned(),
            bytes: made.export.bytes,
            expires_at: made.export.expires_at,
        })
    }

    /// Makes a public, read-only link to a dashboard: its `token` (shown
    /// only here) opens it in `sharedDashboard` until revoked. Viewers may not.
    async fn share_dashboard(&self, ctx: &Context<'_>, id: ID) -> Result<DashboardShare> {
        let viewer = ctx.viewer()?;
        let id = parse_id("id", &id)?;
        let (model, token) = shares::share_dashboard(&ctx.state().pipeline, ctx.scope()?, viewer, id).await?;
        Ok(DashboardShare { model, token: Some(token) })
    }

    /// Revokes a share link (by the link's id); it opens nothing from now
    /// on. Viewers may not.
    async fn revoke_share(&self, ctx: &Context<'_>, id: ID) -> Result<DashboardShare> {
        let viewer = ctx.viewer()?;
        let id = parse_id("id", &id)?;
        let model = shares::revoke_share(&ctx.state().pipeline, ctx.scope()?, viewer, id).await?;
        Ok(DashboardShare { model, token: None })
    }
}

/// `saved` with the grid of its dashboard.
async fn visualization_on_its_grid(
    ctx: &Context<'_>,
    scope: AccountScope,
    saved: visualization::Model,
) -> Result<Arc<DashboardVisualization>> {
    let dashboard = service::get_dashboard(&ctx.state().pipeline, scope, saved.dashboard_id).await?;
    Ok(DashboardVisualization::new(saved, Layout::of(&dashboard).grid()))
}

/// Dashboard subscriptions.
#[derive(Default)]
pub struct DashboardSubscription;

#[Subscription]
impl DashboardSubscription {
    /// A dashboard as it changes: a chart of a dataset with its new rows
    /// whenever the dataset changes (a reload, new column types, its
    /// deletion), and every edit of the dashboard or its charts. Ends when
    /// the dashboard is deleted.
    async fn dashboard_updates(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<impl Stream<Item = Result<DashboardUpdate>> + use<>> {
        let id = parse_id("id", &id)?;
        let scope = ctx.scope()?;
        let pipeline = ctx.state().pipeline.clone();
        service::get_dashboard(&pipeline, scope, id).await?;
        let updates = update_service::dashboard_updates(pipeline.clone(), scope, id).await?;
        Ok(updates.then(move |item| {
            let pipeline = pipeline.clone();
            async move {
                let update = item?;
                // The grid as it is now, for the chart's drawing size.
                let grid = match service::get_dashboard(&pipeline, scope, update.dashboard_id).await {
                    Ok(d) => Layout::of(&d).grid(),
                    Err(_) => Grid::default(),
                };
                Ok(DashboardUpdate {
                    dashboard_id: ID(update.dashboard_id.to_string()),
                    reason: update.reason.into(),
                    visualization: update.visualization.map(|v| DashboardVisualization::new(v, grid)),
                    removed_visualization_id: update.removed_visualization_id.map(|id| ID(id.to_string())),
                    at: update.at,
                })
            }
        }))
    }
}
