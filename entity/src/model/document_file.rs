//! `document_files`: the bytes of an upload, apart from `documents` so that
//! listing documents never reads them. In the database rather than under
//! `data_dir`, so that a separate `alatar worker` sharing only the database
//! can ingest it, on both engines (`bytea` on PostgreSQL, `blob` on SQLite).

use sea_orm::entity::prelude::*;

/// The raw upload of one document.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "document_files")]
pub struct Model {
    /// The document (primary key and foreign key).
    #[sea_orm(primary_key, auto_increment = false)]
    pub document_id: Uuid,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// The bytes as uploaded (at most the upload limit).
    #[sea_orm(column_type = "Blob")]
    pub content: Vec<u8>,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
