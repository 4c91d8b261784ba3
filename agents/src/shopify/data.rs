//! `StoreData` over the Admin API: orders (paged, or a bulk export for long
//! ranges), products with every variant and its stock, customers. Every
//! nested connection is read to its end; raw answers go through the per-shop
//! cache. Days are the shop's (`shop.ianaTimezone`), and a grant without
//! `read_all_orders` limits history to 60 days, which the tools refuse to
//! reach past rather than compute from partial data.

mod bulk;
mod map;
pub mod queries;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{Duration, NaiveDate, SecondsFormat, Utc};
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};

use alatar_entity::store;

use super::cache::{self, key};
use super::{AdminClient, Shopify, ShopifyApp};
use crate::store::{Customer, DateRange, Order, Product, StoreData, StoreError, Tz, local_day};

/// Without `read_all_orders`, Shopify serves only this many days of orders.
pub const DEFAULT_ORDER_HISTORY_DAYS: i64 = 60;

/// A linked Shopify store's data.
pub struct ShopifyData {
    admin: AdminClient,
    db: DatabaseConnection,
    store: store::Model,
    app: Arc<ShopifyApp>,
    currency: String,
    zone: Tz,
    all_orders: bool,
}

fn db_error(e: sea_orm::DbErr) -> StoreError {
    StoreError::Unavailable(format!("cache: {e}"))
}

/// `'2026-09-01T00:00:00-04:00'`: the shop's midnight, quoted as Shopify's
/// search syntax wants date values.
fn instant(day: NaiveDate, zone: Tz) -> String {
    let at = crate::store::midnight(day, zone).with_timezone(&zone);
    format!("'{}'", at.to_rfc3339_opts(SecondsFormat::Secs, false))
}

impl ShopifyData {
    /// Opens the store's token (refreshing it if due) and reads its currency
    /// and time zone.
    pub async fn open(shopify: &Shopify, db: DatabaseConnection, store: store::Model) -> Result<Self, StoreError> {
        let token = shopify.credentials.token(&store).await?;
        let all_orders = token.scopes.iter().any(|s| s == "read_all_orders");
        let admin = shopify.admin(token.shop, token.access_token);
        let mut data =
            Self { admin, db, store, app: shopify.app.clone(), currency: String::new(), zone: Tz::UTC, all_orders };
        let shop = data.cached(key::SHOP, || async { data.admin.graphql(queries::SHOP, json!({})).await }).await?;
        data.currency = shop.pointer("/shop/currencyCode").and_then(Value::as_str).unwrap_or("USD").to_owned();
        let zone = shop.pointer("/shop/ianaTimezone").and_then(Value::as_str).unwrap_or("UTC");
        data.zone = zone.parse().unwrap_or_else(|_| {
            tracing::warn!(store_id = %data.store.id, zone, "unknown shop time zone; using UTC");
            Tz::UTC
        });
        Ok(data)
    }

    async fn cached<F, Fut>(&self, key: &str, fetch: F) -> Result<Value, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Value, StoreError>>,
    {
        if let Some(hit) = cache::get(&self.db, &self.store, key).await.map_err(db_error)? {
            return Ok(hit);
        }
        let fresh = fetch().await?;
        // A cache that cannot be written only costs a later re-fetch.
        if let Err(e) = cache::put(&self.db, &self.store, key, fresh.clone(), self.app.cache_ttl).await {
            tracing::warn!(store_id = %self.store.id, error = %e, "shopify cache write failed");
        }
        Ok(fresh)
    }

    /// Orders matching `search`, complete: bulk for long ranges, else pages.
    async fn order_nodes(&self, search: String, days: i64) -> Result<Vec<Value>, StoreError> {
        if days > self.app.bulk_threshold_days {
            let bulk = queries::ORDERS_BULK.replace("$SEARCH", &search.replace('\\', "\\\\").replace('"', "\\\""));
            return bulk::assemble(self.admin.bulk_export(&bulk).await?);
        }
        let mut nodes = self.admin.paginate(queries::ORDERS, json!({ "query": search }), "/orders").await?;
        for node in &mut nodes {
            self.complete_order(node).await?;
        }
        Ok(nodes)
    }

    /// Appends the rest of each nested connection the page cut short.
    async fn complete_order(&self, node: &mut Value) -> Result<(), StoreError> {
        let id = node.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
        for (field, query) in [
            ("lineItems", queries::ORDER_LINES),
            ("discountApplications", queries::ORDER_DISCOUNTS),
            ("shippingLines", queries::ORDER_SHIPPING),
        ] {
            self.rest(node, field, query, &id, "/order").await?;
        }
        // `refunds` is a list without page info: when the page held as many
        // refunds (2) or shipping refunds (1 each) as it asked for, there may
        // be more, so read them all.
        let refunds = node.get("refunds").and_then(Value::as_array).cloned().unwrap_or_default();
        let full = refunds.len() >= 2
            || refunds.iter().any(|r| {
                r.pointer("/refundShippingLines/nodes").and_then(Value::as_array).is_some_and(|n| !n.is_empty())
            });
        if full {
            let data = self.admin.graphql(queries::ORDER_REFUNDS, json!({ "id": id })).await?;
            node["refunds"] = data.pointer("/order/refunds").cloned().unwrap_or_else(|| json!([]));
        }
        if let Some(refunds) = node.get_mut("refunds").and_then(Value::as_array_mut) {
            for refund in refunds {
                let refund_id = refund.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
                self.rest(refund, "refundLineItems", queries::REFUND_LINES, &refund_id, "/node").await?;
            }
        }
        Ok(())
    }

    /// If `node.field` has a next page, reads every remaining page with
    /// `query` (rooted at `root` in the answer) and appends them.
    async fn rest(&self, node: &mut Value, field: &str, query: &str, id: &str, root: &str) -> Result<(), StoreError> {
        let connection = &node[field];
        if connection.pointer("/pageInfo/hasNextPage").and_then(Value::as_bool) != Some(true) {
            return Ok(());
        }
        let after = connection.pointer("/pageInfo/endCursor").cloned().unwrap_or(Value::Null);
        let more = self.admin.paginate(query, json!({ "id": id, "after": after }), &format!("{root}/{field}")).await?;
        if let Some(list) = node[field]["nodes"].as_array_mut() {
            list.extend(more);
        }
        node[field]["pageInfo"]["hasNextPage"] = json!(false);
        Ok(())
    }

    fn search_placed(&self, range: DateRange) -> String {
        format!("created_at:>={} AND created_at:<{}", instant(range.from, self.zone), instant(range.to, self.zone))
    }
}

fn mapped(raw: Value) -> Vec<Order> {
    match raw {
        Value::Array(items) => items.iter().filter_map(map::order).collect(),
        _ => Vec::new(),
    }
}

#[async_trait]
impl StoreData for ShopifyData {
    fn currency(&self) -> &str {
        &self.currency
    }

    fn time_zone(&self) -> Tz {
        self.zone
    }

    fn readable_from(&self) -> Option<NaiveDate> {
        // A day of margin: Shopify counts the 60 days back from now.
        (!self.all_orders).then(|| local_day(Utc::now(), self.zone) - Duration::days(DEFAULT_ORDER_HISTORY_DAYS - 1))
    }

    async fn orders(&self, range: DateRange) -> Result<Vec<Order>, StoreError> {
        let key = format!("{}:{}:{}", key::ORDERS, range.from, range.to);
        let search = self.search_placed(range);
        let raw =
            self.cached(&key, || async { Ok(Value::Array(self.order_nodes(search, range.days()).await?)) }).await?;
        let mut orders: Vec<Order> =
            mapped(raw).into_iter().filter(|o| range.contains(o.created_at, self.zone)).collect();
        orders.sort_by_key(|o| o.created_at);
        Ok(orders)
    }

    async fn refunded_in(&self, range: DateRange) -> Result<Vec<Order>, StoreError> {
        // A refund updates its order: orders placed before the range and
        // updated since it began hold every refund processed in it.
        let key = format!("{}:refunded:{}:{}", key::ORDERS, range.from, range.to);
        let start = instant(range.from, self.zone);
        let search = format!("updated_at:>={start} AND created_at:<{start}");
        let raw =
            self.cached(&key, || async { Ok(Value::Array(self.order_nodes(search, range.days()).await?)) }).await?;
        let mut orders: Vec<Order> = mapped(raw)
            .into_iter()
            .filter(|o| o.created_at < range.start(self.zone))
            .filter(|o| o.refunds.iter().any(|r| range.contains(r.created_at, self.zone)))
            .collect();
        orders.sort_by_key(|o| o.created_at);
        Ok(orders)
    }

    async fn products(&self) -> Result<Vec<Product>, StoreError> {
        let raw = self
            .cached(key::PRODUCTS, || async {
                let mut nodes = self.admin.paginate(queries::PRODUCTS, json!({}), "/products").await?;
                for node in &mut nodes {
                    let id = node.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
                    self.rest(node, "variants", queries::PRODUCT_VARIANTS, &id, "/product").await?;
                }
                Ok(Value::Array(nodes))
            })
            .await?;
        Ok(nodes_list(&raw).iter().map(map::product).collect())
    }

    async fn customers(&self) -> Result<Vec<Customer>, StoreError> {
        let raw = self
            .cached(key::CUSTOMERS, || async {
                Ok(Value::Array(self.admin.paginate(queries::CUSTOMERS, json!({}), "/customers").await?))
            })
            .await?;
        Ok(nodes_list(&raw).iter().map(map::customer).collect())
    }
}

fn nodes_list(raw: &Value) -> &[Value] {
    raw.as_array().map(Vec::as_slice).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shopify::cost::{MAX_QUERY_COST, page_size, requested_cost};

    #[test]
    fn search_dates_are_the_shops_quoted_midnights() {
        let zone: Tz = "America/New_York".parse().unwrap_or(Tz::UTC);
        let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap_or_default();
        // Daylight saving time ends on 1 November 2026 in New York.
        assert_eq!(instant(day(10, 1), zone), "'2026-10-01T00:00:00-04:00'");
        assert_eq!(instant(day(12, 1), zone), "'2026-12-01T00:00:00-05:00'");
    }

    #[test]
    fn every_page_fits_the_cost_limit() {
        for (name, query) in queries::ALL {
            let vars = json!({ "id": "gid://shopify/Order/1" });
            let n = page_size(query, &vars, 250);
            let mut at = vars.clone();
            at["first"] = json!(n);
            assert!(requested_cost(query, &at) <= MAX_QUERY_COST, "{name}");
        }
    }
}
