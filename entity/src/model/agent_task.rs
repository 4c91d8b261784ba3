//! `agent_tasks`: one plan step, worked by one department.

use sea_orm::entity::prelude::*;

use crate::TaskStatus;

/// A department's share of a request.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "agent_tasks")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// The request this task serves.
    pub request_id: Uuid,
    /// Position in the plan (unique per request).
    pub step: i32,
    /// Assigned department (`DataRetrieval`, …).
    pub department: String,
    /// What the department must produce.
    #[sea_orm(column_type = "Text")]
    pub objective: String,
    /// Steps whose output this one needs (JSON array of step numbers).
    pub depends_on: Json,
    /// Lifecycle state.
    pub status: TaskStatus,
    /// Deliveries that started working on it.
    pub attempts: i32,
    /// Tool errors so far; at five the task fails (seed 002 item 9).
    pub error_count: i32,
    /// The latest error.
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    /// What the department produced.
    pub output: Option<Json>,
    /// Creation time.
    pub created_at: ChronoDateTimeUtc,
    /// When it finished.
    pub finished_at: Option<ChronoDateTimeUtc>,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
