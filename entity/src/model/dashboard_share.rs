//! `dashboard_shares`: a public, read-only link to a dashboard (seed 001
//! P34). The token itself is shown once, when made; the table keeps its
//! SHA-256 (unique), so a stolen database opens no dashboard. A revoked
//! link keeps its row (`revoked_at`) and opens nothing.

use sea_orm::entity::prelude::*;

/// A share link of a dashboard.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "dashboard_shares")]
pub struct Model {
    /// Primary key (UUIDv7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// The dashboard it opens.
    pub dashboard_id: Uuid,
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    /// The member who shared it.
    pub created_by: Uuid,
    /// Creation time.
    pub created_at: ChronoDateTimeUtc,
    /// When it was revoked; it opens nothing since.
    pub revoked_at: Option<ChronoDateTimeUtc>,
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
