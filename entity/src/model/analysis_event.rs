//! `analysis_events`: every step of a request, numbered for replay.

use sea_orm::entity::prelude::*;

/// One progress event; `(request_id, sequence)` is unique.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "analysis_events")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// The request.
    pub request_id: Uuid,
    /// 1, 2, 3, … per request, without gaps.
    pub sequence: i64,
    /// `STATUS_CHANGED`, `PLAN`, `TASK_STARTED`, … (see the agents crate).
    pub kind: String,
    /// Kind-specific data.
    pub payload: Json,
    /// When it happened.
    pub created_at: ChronoDateTimeUtc,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
