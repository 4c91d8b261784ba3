//! `code_edges`: how an analysed repository's nodes relate (`CONTAINS`,
//! `IMPORTS`, `CALLS`, `INHERITS`, `IMPLEMENTS`); a target that could not be
//! resolved within the repository keeps its name with no `to_node`.

use sea_orm::entity::prelude::*;

/// One edge of a repository's code graph.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "code_edges")]
pub struct Model {
    /// Insertion order.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// The repository analysis it belongs to.
    pub repository_id: Uuid,
    /// The node it starts from.
    pub from_node: Uuid,
    /// The node it reaches, when resolved.
    pub to_node: Option<Uuid>,
    /// `CONTAINS`, `IMPORTS`, `CALLS`, `INHERITS` or `IMPLEMENTS`.
    pub kind: String,
    /// The target as written (`cart.add`, `crate::cart::Cart`).
    #[sea_orm(column_type = "Text")]
    pub target: String,
    /// The line it is written on.
    pub line: i32,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl crate::TenantOwned for Entity {
    fn account_column() -> Self::Column {
        Column::AccountId
    }
}
