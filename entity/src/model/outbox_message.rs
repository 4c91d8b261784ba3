//! `outbox_messages`: queue messages written in the same transaction as the
//! state change that causes them; a relay publishes and then deletes them.

use sea_orm::entity::prelude::*;

/// A message waiting to be published.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox_messages")]
pub struct Model {
    /// Primary key, also the AMQP `message_id` (UUIDv7: publish order).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Destination queue.
    pub queue: String,
    /// JSON body.
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    /// When the state change committed.
    pub created_at: ChronoDateTimeUtc,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
