//! `code_nodes`: the files, modules, types and functions of an analysed
//! repository (seed 003's code graph), each with its qualified name, span,
//! signature and source, and the Knowledge chunk its text is searched by.

use sea_orm::entity::prelude::*;

/// One node of a repository's code graph.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "code_nodes")]
pub struct Model {
    /// Primary key (UUIDv7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// The repository analysis it belongs to.
    pub repository_id: Uuid,
    /// Its chunk in the analysis's collection (`document_chunks.id`).
    pub chunk_id: Option<Uuid>,
    /// `FILE`, `MODULE`, `CLASS`, `STRUCT`, `ENUM`, `TRAIT`, `INTERFACE`,
    /// `FUNCTION` or `METHOD`.
    pub kind: String,
    /// As declared (`add`).
    #[sea_orm(column_type = "Text")]
    pub name: String,
    /// With its module and type (`src/cart.Cart.add`, `crate::cart::Cart::add`).
    #[sea_orm(column_type = "Text")]
    pub qualified_name: String,
    /// Its file, relative to the repository root.
    #[sea_orm(column_type = "Text")]
    pub path: String,
    /// Its file's language.
    pub language: String,
    /// First line (1-based).
    pub start_line: i32,
    /// Last line.
    pub end_line: i32,
    /// The declaration up to its body.
    #[sea_orm(column_type = "Text", nullable)]
    pub signature: Option<String>,
    /// Its doc comment or docstring.
    #[sea_orm(column_type = "Text", nullable)]
    pub doc: Option<String>,
    /// Its source (capped; files are not stored whole).
    #[sea_orm(column_type = "Text", nullable)]
    pub source: Option<String>,
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
