//! `audit_log`: who did what to which proposed action, and what came of it.
//! Written in the same transaction as the change it records.

use sea_orm::entity::prelude::*;

/// One audit record.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    /// Primary key (UUIDv7: time-ordered).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// The person, when a person acted.
    pub actor_user_id: Option<Uuid>,
    /// `user`, `agent`, `system` or `shopify`.
    pub actor: String,
    /// `PROPOSED`, `APPROVED`, `REJECTED`, `EXECUTION_STARTED`, `EXECUTED`,
    /// `EXECUTION_FAILED`, `EXPIRED`, `REVERTED`, `REVERT_FAILED`, `STORE_LINKED`, ….
    pub event: String,
    /// The action concerned.
    pub action_id: Option<Uuid>,
    /// The store concerned.
    pub store_id: Option<Uuid>,
    /// What exactly: parameters, hash, Shopify's response, the error.
    pub detail: Json,
    /// When.
    pub created_at: ChronoDateTimeUtc,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
