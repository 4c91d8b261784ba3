//! `documents`: one uploaded file of a collection and where its ingestion
//! stands (`PENDING → EXTRACTING → EMBEDDING → INGESTED | FAILED`).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Where a document's ingestion is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DocumentStatus {
    /// Stored and queued; no worker has picked it up yet.
    #[sea_orm(string_value = "PENDING")]
    Pending,
    /// A worker is reading its text and cutting it into chunks.
    #[sea_orm(string_value = "EXTRACTING")]
    Extracting,
    /// Its chunks are stored; their vectors are being computed.
    #[sea_orm(string_value = "EMBEDDING")]
    Embedding,
    /// Searchable.
    #[sea_orm(string_value = "INGESTED")]
    Ingested,
    /// Could not be ingested; `failure_reason` says why.
    #[sea_orm(string_value = "FAILED")]
    Failed,
}

impl DocumentStatus {
    /// No further work happens.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Ingested | Self::Failed)
    }

    /// Stable text form, as stored and as sent in events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Extracting => "EXTRACTING",
            Self::Embedding => "EMBEDDING",
            Self::Ingested => "INGESTED",
            Self::Failed => "FAILED",
        }
    }

    /// Every state that is not terminal.
    pub const UNFINISHED: [DocumentStatus; 3] = [Self::Pending, Self::Extracting, Self::Embedding];
}

/// An uploaded document; its bytes are in `document_files`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "documents")]
pub struct Model {
    /// Primary key (UUIDv7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// The collection it belongs to.
    pub collection_id: Uuid,
    /// The name it was uploaded under (last path component only).
    pub filename: String,
    /// The kind sniffed from its content: `application/pdf`,
    /// `text/markdown`, `text/html` or `text/plain`.
    pub content_type: String,
    /// Size of the upload in bytes.
    pub byte_size: i64,
    /// SHA-256 of the upload, hex; unique within a collection.
    pub sha256: String,
    /// Ingestion state.
    pub status: DocumentStatus,
    /// 0–100.
    pub progress: i32,
    /// Why ingestion failed, in words a merchant understands.
    #[sea_orm(column_type = "Text", nullable)]
    pub failure_reason: Option<String>,
    /// Pages (PDF only), once extracted.
    pub page_count: Option<i32>,
    /// Chunks stored, once extracted.
    pub chunk_count: Option<i32>,
    /// Upload time.
    pub created_at: ChronoDateTimeUtc,
    /// Last status, progress, summary or redaction change.
    pub updated_at: ChronoDateTimeUtc,
    /// A few sentences on what it says, once written (after `INGESTED`).
    #[sea_orm(column_type = "Text", nullable)]
    pub summary: Option<String>,
    /// Who wrote `summary`: a model's id, or `extractive` (its own sentences).
    pub summary_model: Option<String>,
    /// When `summary` was written.
    pub summarized_at: Option<ChronoDateTimeUtc>,
    /// The summary job queued for it, if one waits; a job with another id
    /// is stale and does nothing.
    pub summary_job_id: Option<Uuid>,
    /// When a privacy erasure (`customers/redact`) last removed parts of it.
    pub redacted_at: Option<ChronoDateTimeUtc>,
    /// What that erasure did, in words for the merchant (names nobody).
    #[sea_orm(column_type = "Text", nullable)]
    pub redaction_note: Option<String>,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
