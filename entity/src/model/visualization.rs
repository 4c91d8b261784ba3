//! `visualizations`: one chart on a dashboard: its type, where its data
//! comes from — SQL over a dataset (live: it follows the dataset's
//! reloads), a finished analysis's chart, or a Vega-Lite spec with its
//! data inline — which columns it plots, and its place on the grid. The
//! dataset and the analysis are referenced without a foreign key: when
//! either is deleted the chart stays, reported broken.

use sea_orm::entity::prelude::*;

/// A chart on a dashboard.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "visualizations")]
pub struct Model {
    /// Primary key (UUIDv7, so ids sort by creation).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// The dashboard it is on.
    pub dashboard_id: Uuid,
    /// Title.
    pub title: String,
    /// `LINE`, `BAR`, `SCATTER`, `PIE` or `TABLE`.
    pub chart_type: String,
    /// The dataset its SQL reads (no foreign key: see the module).
    pub dataset_id: Option<Uuid>,
    /// The analysis whose chart it shows (no foreign key).
    pub analysis_request_id: Option<Uuid>,
    /// The read-only statement over `dataset_id`, as the merchant wrote it.
    #[sea_orm(column_type = "Text", nullable)]
    pub sql: Option<String>,
    /// With a dataset or an analysis, unused; alone, a Vega-Lite spec with
    /// inline `data.values`. With an analysis, `{"visualization": n}` picks
    /// its chart.
    pub spec: Option<Json>,
    /// `{x, y: [..]}`: the columns plotted (empty: chosen from the data).
    pub encoding: Json,
    /// `{x, y, w, h}` in grid cells.
    pub position: Json,
    /// Creation time.
    pub created_at: ChronoDateTimeUtc,
    /// Last change.
    pub updated_at: ChronoDateTimeUtc,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

// As `workflow` does: the one-line mapping every tenant table has, beside its model.
impl crate::TenantOwned for Entity {
    fn account_column() -> Self::Column {
        Column::AccountId
    }
}
