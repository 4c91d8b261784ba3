//! `dashboard_exports`: a dashboard rendered to a PNG or PDF file for
//! download (seed 001 P33), kept under the data directory until
//! `expires_at`; its download URL is signed with that expiry.

use sea_orm::entity::prelude::*;

/// A file made by `exportDashboard`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "dashboard_exports")]
pub struct Model {
    /// Primary key (UUIDv7); the download URL names it.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// The dashboard drawn.
    pub dashboard_id: Uuid,
    /// `PNG` or `PDF`.
    pub format: String,
    /// The file's size.
    pub bytes: i64,
    /// Where the file is.
    #[sea_orm(column_type = "Text")]
    pub path: String,
    /// The member who asked for it.
    pub created_by: Uuid,
    /// When it was made.
    pub created_at: ChronoDateTimeUtc,
    /// When its URL stops working and the file may go.
    pub expires_at: ChronoDateTimeUtc,
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
