//! `dashboards`: a named page of charts (seed 001 §7, P31) laid out on a
//! grid; its charts are `visualizations`, its public links
//! `dashboard_shares`, its downloads `dashboard_exports`.

use sea_orm::entity::prelude::*;

/// A dashboard of an account.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "dashboards")]
pub struct Model {
    /// Primary key (UUIDv7, so ids sort by creation).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// What the merchant calls it.
    pub name: String,
    /// The grid: `{columns, rowHeight}`.
    pub layout: Json,
    /// The member who made it.
    pub created_by: Uuid,
    /// Creation time.
    pub created_at: ChronoDateTimeUtc,
    /// Last change of the dashboard or one of its charts.
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
