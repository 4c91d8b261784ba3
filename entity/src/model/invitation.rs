//! `invitations`: an owner or admin invites an email into the account.

use sea_orm::entity::prelude::*;

use crate::Role;

/// A pending or accepted invitation.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invitations")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Account the invitee joins.
    pub account_id: Uuid,
    /// Lower-cased invitee email.
    pub email: String,
    /// Role granted on acceptance.
    pub role: Role,
    /// Hex SHA-256 of the invitation token.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// Member who invited.
    pub invited_by: Uuid,
    /// Creation time.
    pub created_at: ChronoDateTimeUtc,
    /// After this the invitation cannot be accepted.
    pub expires_at: ChronoDateTimeUtc,
    /// Set once the invitee registered with it.
    pub accepted_at: Option<ChronoDateTimeUtc>,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
