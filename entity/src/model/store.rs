//! `stores`: a shop linked to an account, the data source of its analyses.

use sea_orm::entity::prelude::*;

use crate::StoreKind;

/// A linked store.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stores")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// Demo or Shopify.
    pub kind: StoreKind,
    /// Display name.
    pub name: String,
    /// `*.myshopify.com` for Shopify stores.
    pub shop_domain: Option<String>,
    /// Generator seed for the demo store.
    pub demo_seed: Option<i64>,
    /// When it was linked.
    pub created_at: ChronoDateTimeUtc,
    /// Set by `disconnectStore` or Shopify's `app/uninstalled`; no new analyses.
    pub disconnected_at: Option<ChronoDateTimeUtc>,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
