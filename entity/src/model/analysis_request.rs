//! `analysis_requests`: a merchant's question and where its answer stands.

use sea_orm::entity::prelude::*;

use crate::AnalysisStatus;

/// One question, from submission to result.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "analysis_requests")]
pub struct Model {
    /// Primary key (UUIDv7, so ids sort by creation).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// Who asked.
    pub user_id: Uuid,
    /// The store the question is about.
    pub store_id: Uuid,
    /// The question, as asked.
    #[sea_orm(column_type = "Text")]
    pub prompt: String,
    /// Lifecycle state.
    pub status: AnalysisStatus,
    /// Classified intent, once planned.
    pub intent: Option<String>,
    /// The plan the orchestrator wrote.
    pub plan: Option<Json>,
    /// Model that writes the narrative (`offline` without an LLM).
    pub model: String,
    /// Why it failed, when it did.
    #[sea_orm(column_type = "Text", nullable)]
    pub failure_reason: Option<String>,
    /// Last event sequence number handed out; events are numbered 1, 2, ….
    pub last_sequence: i64,
    /// Submission time.
    pub created_at: ChronoDateTimeUtc,
    /// Last status change.
    pub updated_at: ChronoDateTimeUtc,
    /// When a worker started planning.
    pub started_at: Option<ChronoDateTimeUtc>,
    /// When it reached a terminal state.
    pub finished_at: Option<ChronoDateTimeUtc>,
    /// The saved workflow this request runs (`runWorkflow`); `None` for a
    /// question. Kept when the workflow is deleted: the run's plan holds
    /// the definition it ran.
    pub workflow_id: Option<Uuid>,
    /// The inputs the workflow was run with (a JSON object).
    pub workflow_inputs: Option<Json>,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
