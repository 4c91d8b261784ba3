//! `refresh_tokens`: stored as SHA-256 hashes, rotated on use.

use sea_orm::entity::prelude::*;

/// One issued refresh token. A family is the chain of rotations from one
/// login; presenting an already-rotated token revokes the whole family.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// Holder.
    pub user_id: Uuid,
    /// The login this token descends from.
    pub family_id: Uuid,
    /// Hex SHA-256 of the token; the token itself is never stored.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// Issue time.
    pub created_at: ChronoDateTimeUtc,
    /// After this the token is refused.
    pub expires_at: ChronoDateTimeUtc,
    /// Set when rotated or revoked.
    pub revoked_at: Option<ChronoDateTimeUtc>,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
