//! `market_outbox`: accepted ticks waiting for their partition's queue,
//! one row per batch and partition. The relay publishes a partition's rows
//! in `id` order and deletes them once confirmed, so ticks accepted while
//! the broker is down wait here and go out in order when it returns.

use sea_orm::entity::prelude::*;

/// Ticks on their way to a partition.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "market_outbox")]
pub struct Model {
    /// Publish order within a partition.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The partition (`market::partition` of the agents crate).
    pub partition: i32,
    /// JSON `TickBatch` (account and ticks).
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    /// When the batch was accepted.
    pub created_at: ChronoDateTimeUtc,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
