//! `webhook_deliveries`: Shopify webhook ids already processed (Shopify
//! delivers at least once; the id makes processing exactly once).

use sea_orm::entity::prelude::*;

/// A processed webhook.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    /// `X-Shopify-Webhook-Id`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub webhook_id: String,
    /// `X-Shopify-Shop-Domain`.
    pub shop_domain: String,
    /// `X-Shopify-Topic`.
    pub topic: String,
    /// When it was processed.
    pub received_at: ChronoDateTimeUtc,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
