//! Which `StoreData` (and `StoreWriter`) serves a store row.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use sea_orm::DatabaseConnection;

use alatar_entity::{StoreKind, store};

use crate::actions::{ReadOnlyStore, StoreWriter};
use crate::shopify::{Shopify, ShopifyData, ShopifyWriter};
use crate::store::{DEMO_TIME_ZONE, DemoStore, StoreData, StoreError, Tz};

/// Resolves a linked store to its data source and its writer.
#[async_trait]
pub trait StoreResolver: Send + Sync {
    /// The data of `store` as seen on `as_of`.
    async fn resolve(&self, store: &store::Model, as_of: NaiveDate) -> Result<Arc<dyn StoreData>, StoreError>;
    /// What applies approved changes to `store`.
    async fn writer(&self, store: &store::Model) -> Result<Arc<dyn StoreWriter>, StoreError>;
    /// The shop's time zone: "today" and every period are its days.
    async fn time_zone(&self, store: &store::Model) -> Result<Tz, StoreError> {
        let _ = store;
        Ok(Tz::UTC)
    }
}

/// Demo stores from the generator; Shopify stores through the Admin API
/// when Shopify is configured.
pub struct LinkedStores {
    db: DatabaseConnection,
    shopify: Option<Shopify>,
}

impl LinkedStores {
    /// Demo stores only.
    pub fn demo(db: DatabaseConnection) -> Self {
        Self { db, shopify: None }
    }

    /// Demo and Shopify stores.
    pub fn with_shopify(db: DatabaseConnection, shopify: Shopify) -> Self {
        Self { db, shopify: Some(shopify) }
    }

    fn shopify(&self, store: &store::Model) -> Result<&Shopify, StoreError> {
        self.shopify.as_ref().ok_or_else(|| {
            StoreError::Denied(format!("store {} needs the Shopify Admin API, which is not configured", store.id))
        })
    }
}

#[async_trait]
impl StoreResolver for LinkedStores {
    async fn resolve(&self, store: &store::Model, as_of: NaiveDate) -> Result<Arc<dyn StoreData>, StoreError> {
        match store.kind {
            StoreKind::Demo => Ok(Arc::new(DemoStore::new(store.demo_seed.unwrap_or(1) as u64, as_of))),
            StoreKind::Shopify => {
                let shopify = self.shopify(store)?;
                Ok(Arc::new(ShopifyData::open(shopify, self.db.clone(), store.clone()).await?))
            }
        }
    }

    async fn time_zone(&self, store: &store::Model) -> Result<Tz, StoreError> {
        match store.kind {
            StoreKind::Demo => Ok(DEMO_TIME_ZONE),
            StoreKind::Shopify => {
                let shopify = self.shopify(store)?;
                Ok(ShopifyData::open(shopify, self.db.clone(), store.clone()).await?.time_zone())
            }
        }
    }

    async fn writer(&self, store: &store::Model) -> Result<Arc<dyn StoreWriter>, StoreError> {
        match store.kind {
            StoreKind::Demo => Ok(Arc::new(ReadOnlyStore)),
            StoreKind::Shopify => {
                let shopify = self.shopify(store)?;
                let token = shopify.credentials.token(store).await?;
                let admin = shopify.admin(token.shop, token.access_token);
                Ok(Arc::new(ShopifyWriter::new(admin, token.scopes)))
            }
        }
    }
}
