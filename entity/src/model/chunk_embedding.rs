//! `chunk_embeddings`: the vector of one document chunk, with the model
//! that made it and its dimension (vectors of two models are never
//! compared). The vector itself is not a field here: it is a pgvector
//! `vector` on PostgreSQL and a BLOB of little-endian `f32`s on SQLite, so
//! it is written and read by `alatar_agents::knowledge::vectors` with a
//! statement per engine. Rows are therefore never inserted through this
//! model; it is for finding, counting and deleting them under an
//! [`AccountScope`](crate::AccountScope).

use sea_orm::entity::prelude::*;

/// A chunk's vector, without the vector.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "chunk_embeddings")]
pub struct Model {
    /// The chunk (one vector per chunk; deleted with it).
    #[sea_orm(primary_key, auto_increment = false)]
    pub chunk_id: Uuid,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// The chunk's collection (searches filter by it).
    pub collection_id: Uuid,
    /// The chunk's document.
    pub document_id: Uuid,
    /// The embedding model's id (`sentence-transformers/all-MiniLM-L6-v2`).
    pub model: String,
    /// The vector's length.
    pub dimension: i32,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
