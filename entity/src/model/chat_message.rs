//! `chat_messages`: the turns of a chat session. A user's message is stored
//! `COMPLETE` when sent; the assistant's answer is stored `STREAMING` at the
//! same moment and finished `COMPLETE` (with its citations) or `FAILED`
//! (with the error) once written.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChatRole {
    /// The member chatting.
    #[sea_orm(string_value = "USER")]
    User,
    /// The answer, from the documents.
    #[sea_orm(string_value = "ASSISTANT")]
    Assistant,
}

/// Where a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChatMessageStatus {
    /// Written in full.
    #[sea_orm(string_value = "COMPLETE")]
    Complete,
    /// An answer still being written; its text streams to subscribers.
    #[sea_orm(string_value = "STREAMING")]
    Streaming,
    /// An answer that could not be written; `error` says why.
    #[sea_orm(string_value = "FAILED")]
    Failed,
}

impl ChatMessageStatus {
    /// No further change happens.
    pub fn is_terminal(self) -> bool {
        !matches!(self, Self::Streaming)
    }

    /// Stable text form, as stored and as sent in events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Complete => "COMPLETE",
            Self::Streaming => "STREAMING",
            Self::Failed => "FAILED",
        }
    }
}

/// One message of a chat session.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "chat_messages")]
pub struct Model {
    /// Primary key (UUIDv7: a session's messages sort by id).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// The session (deleted with it: foreign key, cascading).
    pub session_id: Uuid,
    /// Who wrote it.
    pub role: ChatRole,
    /// The text; for an answer, what is written so far once it ended
    /// (empty while streaming: the text travels as events then).
    #[sea_orm(column_type = "Text")]
    pub content: String,
    /// `COMPLETE`, `STREAMING` or `FAILED`.
    pub status: ChatMessageStatus,
    /// Why an answer failed, in words for the member.
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    /// The passages an answer cites: a JSON array of
    /// `{index, chunkId, documentId, documentFilename, page, charStart,
    /// charEnd, quote}` (`alatar_agents::knowledge::chat::Citation`).
    pub citations: Json,
    /// Tokens of `content` (see the agents' chat module for how counted).
    pub token_count: Option<i32>,
    /// Who wrote an answer: the model's id, or `extractive` (sentences of
    /// the documents themselves); `None` for the user's messages.
    pub model: Option<String>,
    /// When it was sent (or, for an answer, started).
    pub created_at: ChronoDateTimeUtc,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
