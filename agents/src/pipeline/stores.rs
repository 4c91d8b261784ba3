//! Which `StoreData` serves a store row.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;

use alatar_entity::{StoreKind, store};

use crate::store::{DemoStore, StoreData};

/// Resolves a linked store to its data source.
#[async_trait]
pub trait StoreResolver: Send + Sync {
    /// The data of `store` as seen on `as_of`.
    async fn resolve(&self, store: &store::Model, as_of: NaiveDate) -> Result<Arc<dyn StoreData>, String>;
}

/// Serves demo stores; Shopify stores need the Admin API client.
pub struct DemoStores;

#[async_trait]
impl StoreResolver for DemoStores {
    async fn resolve(&self, store: &store::Model, as_of: NaiveDate) -> Result<Arc<dyn StoreData>, String> {
        match store.kind {
            StoreKind::Demo => Ok(Arc::new(DemoStore::new(store.demo_seed.unwrap_or(1) as u64, as_of))),
            StoreKind::Shopify => {
                Err(format!("store {} needs the Shopify Admin API, which is not configured", store.id))
            }
        }
    }
}
