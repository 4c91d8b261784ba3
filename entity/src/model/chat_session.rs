//! `chat_sessions`: a conversation over one collection's documents (seed
//! 000 P18): who started it, its title, and the model it asked for.

use sea_orm::entity::prelude::*;

/// A chat over a collection; deleted with it (foreign key, cascading).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "chat_sessions")]
pub struct Model {
    /// Primary key (UUIDv7, so ids sort by creation).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// The collection its answers are retrieved from.
    pub collection_id: Uuid,
    /// The member who started it.
    pub user_id: Uuid,
    /// "New chat" until the first message names it.
    pub title: String,
    /// The model asked for at creation; `None`: the user's preference, then
    /// the server's routing.
    pub model: Option<String>,
    /// Creation time.
    pub created_at: ChronoDateTimeUtc,
    /// Last message sent or title change.
    pub updated_at: ChronoDateTimeUtc,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
