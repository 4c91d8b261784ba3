//! `shopify_cache` (`CachedShopifyData`): raw Admin API answers per shop,
//! kept for a TTL and dropped by webhooks that say the data changed.

use sea_orm::entity::prelude::*;

/// One cached answer.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "shopify_cache")]
pub struct Model {
    /// The store.
    #[sea_orm(primary_key, auto_increment = false)]
    pub store_id: Uuid,
    /// What was asked: `products`, `customers`, `orders:2026-01-01:2026-02-01`, `shop`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// The raw nodes as the Admin API returned them.
    pub body: Json,
    /// Stale after this.
    pub expires_at: ChronoDateTimeUtc,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
