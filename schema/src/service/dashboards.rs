//! Dashboards as the API sees them (seed 001 §7, P31–P34): a named grid of
//! charts (`visualizations`), each drawn from SQL over a dataset (live: it
//! follows the dataset's reloads), a finished analysis's chart, or a
//! Vega-Lite spec with its data inline; exported to PNG or PDF behind a
//! signed, expiring link (`exports`); shared read-only by an unguessable
//! link (`shares`); followed live (`updates`). Owners, admins and analysts
//! change dashboards; every member, viewers included, reads and exports
//! them. Every row is reached through the caller's `AccountScope`: another
//! account's dashboard is `NOT_FOUND`. The drawing is
//! `alatar_agents::dashboards`.

pub mod exports;
pub mod render;
pub mod shares;
pub mod updates;
pub mod visualizations;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{Value, json};
use uuid::Uuid;

use alatar_agents::dashboards::layout::Grid;
use alatar_agents::pipeline::Pipeline;
use alatar_entity::{AccountScope, dashboard, visualization};

use super::knowledge::may_edit;
use crate::auth::AccessClaims;
use crate::error::{ApiError, ApiResult};

const MAX_NAME_CHARS: usize = 200;

/// The grid a dashboard's charts are placed on: columns across and the
/// height of a row in pixels; the page is 1,200 px wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Columns across (1–24; 12 by default).
    pub columns: u32,
    /// Pixels a row is high (40–400; 80 by default).
    pub row_height: u32,
}

impl Default for Layout {
    fn default() -> Self {
        let grid = Grid::default();
        Self { columns: grid.columns, row_height: grid.row_height }
    }
}

impl Layout {
    /// Checked: `BAD_USER_INPUT` on `layout` out of range.
    pub fn checked(self) -> ApiResult<Self> {
        if !(1..=24).contains(&self.columns) {
            return Err(ApiError::bad_input("layout", "columns must be between 1 and 24"));
        }
        if !(40..=400).contains(&self.row_height) {
            return Err(ApiError::bad_input("layout", "rowHeight must be between 40 and 400"));
        }
        Ok(self)
    }

    /// As stored in `dashboards.layout`.
    fn to_json(self) -> Value {
        json!({ "columns": self.columns, "rowHeight": self.row_height })
    }

    /// Dashboard `d`'s layout (the default where its JSON lacks a part).
    pub fn of(d: &dashboard::Model) -> Self {
        let read = |key: &str, fallback: u32| {
            d.layout.get(key).and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok()).unwrap_or(fallback)
        };
        let default = Self::default();
        Self { columns: read("columns", default.columns), row_height: read("rowHeight", default.row_height) }
    }

    /// The grid charts are drawn on.
    pub fn grid(self) -> Grid {
        Grid { columns: self.columns, row_height: self.row_height, ..Grid::default() }
    }
}

/// A dashboard's name or a chart's title (`field`): trimmed, 1 to 200
/// characters, no control characters.
fn parse_label(field: &'static str, raw: &str) -> ApiResult<String> {
    let label = raw.trim();
    if label.is_empty() {
        return Err(ApiError::bad_input(field, "must not be empty"));
    }
    if label.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::bad_input(field, format!("must be at most {MAX_NAME_CHARS} characters")));
    }
    if label.chars().any(char::is_control) {
        return Err(ApiError::bad_input(field, "must not contain control characters"));
    }
    Ok(label.to_owned())
}

/// Makes an empty dashboard.
pub async fn create_dashboard(
    p: &Pipeline,
    scope: AccountScope,
    viewer: &AccessClaims,
    name: &str,
    layout: Option<Layout>,
) -> ApiResult<dashboard::Model> {
    may_edit(viewer, "viewers cannot create dashboards")?;
    let name = parse_label("name", name)?;
    let layout = layout.unwrap_or_default().checked()?;
    let now = Utc::now();
    dashboard::Entity::insert(dashboard::ActiveModel {
        id: Set(Uuid::now_v7()),
        account_id: Set(scope.account_id()),
        name: Set(name),
        layout: Set(layout.to_json()),
        created_by: Set(viewer.sub),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_with_returning(&p.db)
    .await
    .map_err(ApiError::internal)
}

/// One of the account's dashboards.
pub async fn get_dashboard(p: &Pipeline, scope: AccountScope, id: Uuid) -> ApiResult<dashboard::Model> {
    scope
        .find::<dashboard::Entity>()
        .filter(dashboard::Column::Id.eq(id))
        .one(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?
        .ok_or(ApiError::NotFound("dashboard"))
}

/// A page of the account's dashboards, newest first, after the cursor `before_id`.
pub async fn list_dashboards(
    p: &Pipeline,
    scope: AccountScope,
    before_id: Option<Uuid>,
    limit: u64,
) -> ApiResult<Vec<dashboard::Model>> {
    let mut query = scope.find::<dashboard::Entity>();
    if let Some(before) = before_id {
        query = query.filter(dashboard::Column::Id.lt(before));
    }
    query.order_by_desc(dashboard::Column::Id).limit(limit).all(&scope.on(&p.db)).await.map_err(ApiError::internal)
}

/// A dashboard's charts, in the order they were added.
pub async fn visualizations_of(
    p: &Pipeline,
    scope: AccountScope,
    dashboard_id: Uuid,
) -> ApiResult<Vec<visualization::Model>> {
    scope
        .find::<visualization::Entity>()
        .filter(visualization::Column::DashboardId.eq(dashboard_id))
        .order_by_asc(visualization::Column::Id)
        .all(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)
}

/// Renames a dashboard or changes its grid. A grid with fewer columns must
/// still hold every chart (`BAD_USER_INPUT` on `layout` naming one that
/// would not fit).
pub async fn update_dashboard(
    p: &Pipeline,
    scope: AccountScope,
    viewer: &AccessClaims,
    id: Uuid,
    name: Option<&str>,
    layout: Option<Layout>,
) -> ApiResult<dashboard::Model> {
    may_edit(viewer, "viewers cannot change dashboards")?;
    let name = name.map(|n| parse_label("name", n)).transpose()?;
    let layout = layout.map(Layout::checked).transpose()?;
    let found = get_dashboard(p, scope, id).await?;
    let mut update = scope
        .update_many::<dashboard::Entity>()
        .col_expr(dashboard::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(dashboard::Column::Id.eq(found.id));
    if let Some(name) = name {
        update = update.col_expr(dashboard::Column::Name, Expr::value(name));
    }
    if let Some(layout) = layout {
        let grid = layout.grid();
        for chart in visualizations_of(p, scope, id).await? {
            let placement = visualizations::placement_of(&chart);
            if grid.validate(&placement).is_err() {
                return Err(ApiError::bad_input(
                    "layout",
                    format!("the chart \"{}\" would not fit a grid of {} columns", chart.title, layout.columns),
                ));
            }
        }
        update = update.col_expr(dashboard::Column::Layout, Expr::value(layout.to_json()));
    }
    update.exec(&scope.on(&p.db)).await.map_err(ApiError::internal)?;
    updates::announce(p, scope, id, updates::Reason::DashboardChanged, None).await;
    get_dashboard(p, scope, id).await
}

/// Deletes a dashboard with its charts, share links and exported files.
pub async fn delete_dashboard(p: &Pipeline, scope: AccountScope, viewer: &AccessClaims, id: Uuid) -> ApiResult<()> {
    may_edit(viewer, "viewers cannot delete dashboards")?;
    let files = exports::files_of(p, scope, Some(id)).await?;
    let gone = scope
        .delete_many::<dashboard::Entity>()
        .filter(dashboard::Column::Id.eq(id))
        .exec(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?;
    if gone.rows_affected == 0 {
        // Nothing of another account's was touched: the statement was scoped.
        return Err(ApiError::NotFound("dashboard"));
    }
    exports::remove_files(files).await;
    updates::announce(p, scope, id, updates::Reason::DashboardChanged, None).await;
    Ok(())
}

/// Marks dashboard `id` changed now (a chart was added, moved or removed).
async fn touch(p: &Pipeline, scope: AccountScope, id: Uuid) -> ApiResult<()> {
    scope
        .update_many::<dashboard::Entity>()
        .col_expr(dashboard::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(dashboard::Column::Id.eq(id))
        .exec(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?;
    Ok(())
}
