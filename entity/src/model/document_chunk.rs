//! `document_chunks`: a document's text cut into token-bounded, overlapping
//! pieces, each with the page it is on and its character offsets into that
//! page's extracted text, so a citation can point into the source.

use sea_orm::entity::prelude::*;

/// One chunk of a document's text.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "document_chunks")]
pub struct Model {
    /// Primary key (UUIDv7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// The document it was cut from.
    pub document_id: Uuid,
    /// The document's collection (searches filter by it).
    pub collection_id: Uuid,
    /// 0, 1, 2, … in reading order within the document.
    pub ordinal: i32,
    /// The chunk's text.
    #[sea_orm(column_type = "Text")]
    pub text: String,
    /// 1-based page number (PDF); `None` for unpaginated documents.
    pub page: Option<i32>,
    /// Offset of the first character in the page's extracted text, in
    /// Unicode scalar values.
    pub char_start: i32,
    /// Offset one past the last character, in Unicode scalar values.
    pub char_end: i32,
    /// Tokens, as counted by the tokenizer that cut it.
    pub token_count: i32,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
