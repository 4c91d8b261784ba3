//! `CachedShopifyData`: raw Admin API answers per shop, with a TTL. Keys
//! name the data (`products`, `customers`, `orders:<from>:<to>`, `shop`), so
//! a webhook about orders drops every cached order range and nothing else.
//! Entries past their TTL are deleted by the worker's minute sweep
//! ([`purge_expired`]): they hold customers' names and emails, which must
//! not outlive the TTL just because no webhook came.

use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use serde_json::Value;
use uuid::Uuid;

use alatar_entity::{AccountScope, ScopeSession, shopify_cache, store};

/// Cache kinds, the first segment of a key.
pub mod key {
    /// The shop's settings (currency).
    pub const SHOP: &str = "shop";
    /// Products with variants and stock.
    pub const PRODUCTS: &str = "products";
    /// Customers.
    pub const CUSTOMERS: &str = "customers";
    /// Orders, one entry per date range.
    pub const ORDERS: &str = "orders";
}

/// A fresh entry, if any.
pub async fn get<C: ConnectionTrait>(db: &C, store: &store::Model, key: &str) -> Result<Option<Value>, DbErr> {
    Ok(AccountScope::new(store.account_id)
        .find::<shopify_cache::Entity>()
        .filter(shopify_cache::Column::StoreId.eq(store.id))
        .filter(shopify_cache::Column::Key.eq(key))
        .filter(shopify_cache::Column::ExpiresAt.gt(Utc::now()))
        .one(db)
        .await?
        .map(|row| row.body))
}

/// Stores (or replaces) an entry for `ttl`.
pub async fn put<C: ConnectionTrait>(
    db: &C,
    store: &store::Model,
    key: &str,
    body: Value,
    ttl: Duration,
) -> Result<(), DbErr> {
    let expires_at = Utc::now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(5));
    shopify_cache::Entity::insert(shopify_cache::ActiveModel {
        store_id: Set(store.id),
        key: Set(key.to_owned()),
        account_id: Set(store.account_id),
        body: Set(body),
        expires_at: Set(expires_at),
    })
    .on_conflict(
        OnConflict::columns([shopify_cache::Column::StoreId, shopify_cache::Column::Key])
            .update_columns([shopify_cache::Column::Body, shopify_cache::Column::ExpiresAt])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Drops the entries of the given kinds (every kind when `kinds` is empty).
pub async fn invalidate<C: ScopeSession>(
    db: &C,
    scope: AccountScope,
    store_id: Uuid,
    kinds: &[&str],
) -> Result<u64, DbErr> {
    let mut delete = scope.delete_many::<shopify_cache::Entity>().filter(shopify_cache::Column::StoreId.eq(store_id));
    if !kinds.is_empty() {
        let mut any = Condition::any();
        for kind in kinds {
            any = any
                .add(shopify_cache::Column::Key.eq(*kind))
                .add(shopify_cache::Column::Key.starts_with(format!("{kind}:")));
        }
        delete = delete.filter(any);
    }
    Ok(delete.exec(&scope.on(db)).await?.rows_affected)
}

/// Deletes every entry past its expiry, in every account; returns how many.
pub async fn purge_expired<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    // A system sweep across accounts, like the proposal expiry sweep (one of
    // the documented exceptions to reaching tenant rows only through
    // `AccountScope`): it acts for no account and returns no row, it only
    // deletes what `get` would no longer serve to anyone.
    Ok(shopify_cache::Entity::delete_many()
        .filter(shopify_cache::Column::ExpiresAt.lte(Utc::now()))
        .exec(db)
        .await?
        .rows_affected)
}
