//! `users`: a person who logs in; belongs to exactly one account.

use sea_orm::entity::prelude::*;

use crate::Role;

/// A user and its membership in one account.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// Lower-cased, unique across the service.
    #[sea_orm(unique)]
    pub email: String,
    /// Argon2id PHC string; never leaves the server.
    pub password_hash: String,
    /// Role within the account.
    pub role: Role,
    /// Creation time.
    pub created_at: ChronoDateTimeUtc,
    /// Last successful login.
    pub last_login_at: Option<ChronoDateTimeUtc>,
    /// The Shopify user (an App Bridge session token's `sub`) this member
    /// is, unique within the account; `None` for people who joined Alatar
    /// directly.
    pub shopify_user_id: Option<String>,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
