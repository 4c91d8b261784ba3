//! `workflows`: a merchant's saved workflow (seed 000 §7, P22): a named DAG
//! of nodes (`retrieve`, `llm`, `tool`, `postprocess`) stored as the JSON
//! it was saved with, after `alatar_agents::workflows` validated it. A run
//! is an analysis request that names it (`analysis_requests.workflow_id`).

use sea_orm::entity::prelude::*;

/// A saved workflow; its name is unique within the account.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "workflows")]
pub struct Model {
    /// Primary key (UUIDv7, so ids sort by creation).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// Display name, unique per account.
    pub name: String,
    /// What it is for, in the merchant's words.
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    /// `{ inputs, nodes, edges }`, as saved (validated on save and again
    /// before every run).
    pub definition: Json,
    /// The member who saved it first.
    pub created_by: Uuid,
    /// Creation time.
    pub created_at: ChronoDateTimeUtc,
    /// Last change of name, description or definition.
    pub updated_at: ChronoDateTimeUtc,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

// Implemented here rather than in `tenancy.rs`'s list, which is another
// change's: the same one-line mapping every tenant table has.
impl crate::TenantOwned for Entity {
    fn account_column() -> Self::Column {
        Column::AccountId
    }
}
