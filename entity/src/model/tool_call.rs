//! `tool_calls`: the record behind every figure (inputs, output, duration).

use sea_orm::entity::prelude::*;

/// One Class 3 tool invocation that a committed task relied on.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tool_calls")]
pub struct Model {
    /// Primary key; figures cite it as provenance.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// The request.
    pub request_id: Uuid,
    /// The task that called it.
    pub task_id: Uuid,
    /// Tool name, e.g. `shopify.orders`.
    pub tool: String,
    /// Validated input.
    pub input: Json,
    /// Short human summary of the output.
    #[sea_orm(column_type = "Text")]
    pub output_summary: String,
    /// Attempts it took (1 when the first try worked).
    pub attempts: i32,
    /// Wall time of the successful attempt, in microseconds.
    pub duration_us: i64,
    /// When it ran.
    pub created_at: ChronoDateTimeUtc,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
