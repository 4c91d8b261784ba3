//! `collections`: a merchant's named set of documents (return policy,
//! supplier contracts, FAQ, …) that chat and search run over.

use sea_orm::entity::prelude::*;

/// A named collection of documents; its name is unique within the account.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "collections")]
pub struct Model {
    /// Primary key (UUIDv7, so ids sort by creation).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// Display name, unique per account.
    pub name: String,
    /// What the collection holds, in the merchant's words.
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    /// The embedding model its vectors come from, once one is bound.
    pub embedding_model: Option<String>,
    /// That model's vector dimension.
    pub embedding_dimension: Option<i32>,
    /// Creation time.
    pub created_at: ChronoDateTimeUtc,
    /// Last rename or model change.
    pub updated_at: ChronoDateTimeUtc,
    /// The repository analysis whose code index it is; such a collection
    /// is no merchant's: hidden from `collections`, chat and the
    /// `Knowledge` department, deleted with its analysis.
    pub repository_id: Option<Uuid>,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
