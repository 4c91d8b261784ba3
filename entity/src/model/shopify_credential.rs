//! `shopify_credentials`: a Shopify store's offline access token, sealed
//! with AES-256-GCM (see the agents crate's `TokenCipher`). Plain tokens
//! never touch the database.

use sea_orm::entity::prelude::*;

/// The credential of one linked Shopify store.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "shopify_credentials")]
pub struct Model {
    /// The store (one credential per store).
    #[sea_orm(primary_key, auto_increment = false)]
    pub store_id: Uuid,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// `*.myshopify.com`; unique: a shop belongs to one account.
    pub shop_domain: String,
    /// Sealed access token (`v1.<key id>.<nonce+ciphertext>`); empty once revoked.
    pub access_token: String,
    /// Sealed refresh token of an expiring offline token.
    pub refresh_token: Option<String>,
    /// When the access token expires (expiring offline tokens only).
    pub access_expires_at: Option<ChronoDateTimeUtc>,
    /// When the refresh token expires.
    pub refresh_expires_at: Option<ChronoDateTimeUtc>,
    /// Scopes Shopify granted, comma-separated as Shopify sends them.
    pub scopes: String,
    /// `ACTIVE`, `REFRESH_FAILED` or `REVOKED`.
    pub status: String,
    /// Installed or last re-authorised.
    pub linked_at: ChronoDateTimeUtc,
    /// Last change (refresh, revocation).
    pub updated_at: ChronoDateTimeUtc,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
