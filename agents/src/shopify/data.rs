//! `StoreData` over the Admin API: orders (paged, or a bulk export for long
//! ranges), products with variants and stock, customers. Raw answers go
//! through the per-shop cache.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};

use alatar_entity::store;

use super::cache::{self, key};
use super::{AdminClient, Shopify, ShopifyApp, gid_number};
use crate::store::{Customer, DateRange, Order, OrderLine, OrderStatus, Product, StoreData, StoreError, Variant};

const SHOP: &str = "query Shop { shop { currencyCode } }";

const ORDERS: &str = "query Orders($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: CREATED_AT) {
    nodes { id createdAt cancelledAt closedAt customer { id } discountCodes
      totalDiscountsSet { shopMoney { amount } } totalRefundedSet { shopMoney { amount } }
      lineItems(first: 20) { nodes { quantity originalUnitPriceSet { shopMoney { amount } } variant { id } product { id } } } }
    pageInfo { hasNextPage endCursor }
  }
}";

const PRODUCTS: &str = "query Products($first: Int!, $after: String) {
  products(first: $first, after: $after) {
    nodes { id title productType description
      variants(first: 20) { nodes { id title sku price inventoryQuantity } } }
    pageInfo { hasNextPage endCursor }
  }
}";

const CUSTOMERS: &str = "query Customers($first: Int!, $after: String) {
  customers(first: $first, after: $after) {
    nodes { id displayName email }
    pageInfo { hasNextPage endCursor }
  }
}";

/// A linked Shopify store's data.
pub struct ShopifyData {
    admin: AdminClient,
    db: DatabaseConnection,
    store: store::Model,
    app: Arc<ShopifyApp>,
    currency: String,
}

fn db_error(e: sea_orm::DbErr) -> StoreError {
    StoreError::Unavailable(format!("cache: {e}"))
}

impl ShopifyData {
    /// Opens the store's token (refreshing it if due) and reads its currency.
    pub async fn open(shopify: &Shopify, db: DatabaseConnection, store: store::Model) -> Result<Self, StoreError> {
        let token = shopify.credentials.token(&store).await?;
        let admin = AdminClient::new(shopify.http.clone(), shopify.app.clone(), token.shop, token.access_token);
        let mut data = Self { admin, db, store, app: shopify.app.clone(), currency: String::new() };
        let shop = data.cached(key::SHOP, || async { data.admin.graphql(SHOP, json!({})).await }).await?;
        data.currency = shop.pointer("/shop/currencyCode").and_then(Value::as_str).unwrap_or("USD").to_owned();
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

    async fn order_nodes(&self, range: DateRange) -> Result<Vec<Value>, StoreError> {
        let search = format!("created_at:>={} AND created_at:<{} AND status:any", range.from, range.to);
        if range.days() > self.app.bulk_threshold_days {
            let bulk = ORDERS_BULK.replace("$SEARCH", &search.replace('"', "\\\""));
            return Ok(assemble_bulk(self.admin.bulk_export(&bulk).await?));
        }
        // 25 orders × 20 line items ≈ 550 points per page.
        self.admin.paginate(ORDERS, json!({ "query": search }), "orders", 25).await
    }
}

/// The bulk form of the orders query (bulk queries take no variables and
/// use `edges { node }`); each line item comes back as its own line.
const ORDERS_BULK: &str = "{ orders(query: \"$SEARCH\", sortKey: CREATED_AT) { edges { node {
  id createdAt cancelledAt closedAt customer { id } discountCodes
  totalDiscountsSet { shopMoney { amount } } totalRefundedSet { shopMoney { amount } }
  lineItems { edges { node { quantity originalUnitPriceSet { shopMoney { amount } } variant { id } product { id } } } } } } } }";

/// Re-nests bulk JSONL (children carry `__parentId`) into the paged shape.
fn assemble_bulk(lines: Vec<Value>) -> Vec<Value> {
    let mut orders: Vec<Value> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for mut line in lines {
        match line.get("__parentId").and_then(Value::as_str).map(str::to_owned) {
            None => {
                if let Some(id) = line.get("id").and_then(Value::as_str) {
                    index.insert(id.to_owned(), orders.len());
                }
                line["lineItems"] = json!({ "nodes": [] });
                orders.push(line);
            }
            Some(parent) => {
                if let Some(&i) = index.get(&parent) {
                    if let Some(obj) = line.as_object_mut() {
                        obj.remove("__parentId");
                    }
                    if let Some(nodes) = orders[i].pointer_mut("/lineItems/nodes").and_then(Value::as_array_mut) {
                        nodes.push(line);
                    }
                }
            }
        }
    }
    orders
}

/// `"12.50"` → 1250. Shopify sends decimal strings; floats would drift.
pub(crate) fn cents(amount: Option<&Value>) -> i64 {
    let Some(text) = amount.and_then(|v| v.as_str().map(str::to_owned).or_else(|| v.as_f64().map(|f| f.to_string())))
    else {
        return 0;
    };
    let negative = text.starts_with('-');
    let text = text.trim_start_matches('-');
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let whole: i64 = whole.parse().unwrap_or(0);
    let mut digits = frac.chars().chain(std::iter::repeat('0'));
    let d1 = digits.next().and_then(|c| c.to_digit(10)).unwrap_or(0) as i64;
    let d2 = digits.next().and_then(|c| c.to_digit(10)).unwrap_or(0) as i64;
    let round = i64::from(digits.next().and_then(|c| c.to_digit(10)).unwrap_or(0) >= 5);
    let value = whole * 100 + d1 * 10 + d2 + round;
    if negative { -value } else { value }
}

fn money(node: &Value, field: &str) -> i64 {
    cents(node.pointer(&format!("/{field}/shopMoney/amount")))
}

fn id_of(node: &Value, pointer: &str) -> u64 {
    node.pointer(pointer).and_then(Value::as_str).and_then(gid_number).unwrap_or(0)
}

fn map_order(node: &Value) -> Option<Order> {
    let set = |field: &str| node.get(field).is_some_and(|c| !c.is_null());
    let status = if set("cancelledAt") {
        OrderStatus::Cancelled
    } else if set("closedAt") {
        OrderStatus::Closed
    } else {
        OrderStatus::Open
    };
    let created_at: DateTime<Utc> = node.get("createdAt")?.as_str()?.parse().ok()?;
    let lines = node
        .pointer("/lineItems/nodes")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|l| OrderLine {
                    product_id: id_of(l, "/product/id"),
                    variant_id: id_of(l, "/variant/id"),
                    quantity: l.get("quantity").and_then(Value::as_i64).unwrap_or(0),
                    unit_price_cents: money(l, "originalUnitPriceSet"),
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Order {
        id: id_of(node, "/id"),
        created_at,
        customer_id: id_of(node, "/customer/id"),
        lines,
        discount_code: node
            .get("discountCodes")
            .and_then(Value::as_array)
            .and_then(|c| c.first())
            .and_then(Value::as_str)
            .map(str::to_owned),
        discount_cents: money(node, "totalDiscountsSet"),
        refunded_cents: money(node, "totalRefundedSet"),
        status,
    })
}

fn map_product(node: &Value) -> Product {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    Product {
        id: id_of(node, "/id"),
        title: text(node, "title"),
        product_type: text(node, "productType"),
        description: text(node, "description"),
        variants: node
            .pointer("/variants/nodes")
            .and_then(Value::as_array)
            .map(|vs| {
                vs.iter()
                    .map(|v| Variant {
                        id: id_of(v, "/id"),
                        title: text(v, "title"),
                        sku: text(v, "sku"),
                        price_cents: cents(v.get("price")),
                        inventory_quantity: v.get("inventoryQuantity").and_then(Value::as_i64).unwrap_or(0),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn map_customer(node: &Value) -> Customer {
    Customer {
        id: id_of(node, "/id"),
        name: node.get("displayName").and_then(Value::as_str).unwrap_or_default().to_owned(),
        email: node.get("email").and_then(Value::as_str).unwrap_or_default().to_owned(),
    }
}

fn nodes(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        _ => Vec::new(),
    }
}

#[async_trait]
impl StoreData for ShopifyData {
    fn currency(&self) -> &str {
        &self.currency
    }

    async fn orders(&self, range: DateRange) -> Result<Vec<Order>, StoreError> {
        // Cancelled orders were never revenue.
        let mut orders = self.orders_with_cancelled(range).await?;
        orders.retain(|o| o.status != OrderStatus::Cancelled);
        Ok(orders)
    }

    async fn orders_with_cancelled(&self, range: DateRange) -> Result<Vec<Order>, StoreError> {
        let key = format!("{}:{}:{}", key::ORDERS, range.from, range.to);
        let raw = self.cached(&key, || async { Ok(Value::Array(self.order_nodes(range).await?)) }).await?;
        let mut orders: Vec<Order> =
            nodes(raw).iter().filter_map(map_order).filter(|o| range.contains(o.created_at)).collect();
        orders.sort_by_key(|o| o.created_at);
        Ok(orders)
    }

    async fn products(&self) -> Result<Vec<Product>, StoreError> {
        let raw = self
            .cached(key::PRODUCTS, || async {
                Ok(Value::Array(self.admin.paginate(PRODUCTS, json!({}), "products", 40).await?))
            })
            .await?;
        Ok(nodes(raw).iter().map(map_product).collect())
    }

    async fn customers(&self) -> Result<Vec<Customer>, StoreError> {
        let raw = self
            .cached(key::CUSTOMERS, || async {
                Ok(Value::Array(self.admin.paginate(CUSTOMERS, json!({}), "customers", 250).await?))
            })
            .await?;
        Ok(nodes(raw).iter().map(map_customer).collect())
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn money_is_exact() {
        for (text, expected) in [("12.50", 1250), ("0.1", 10), ("3", 300), ("19.999", 2000), ("-4.25", -425)] {
            assert_eq!(cents(Some(&json!(text))), expected, "{text}");
        }
        assert_eq!(cents(None), 0);
    }

    #[test]
    fn bulk_lines_are_nested_back() {
        let lines = vec![
            json!({"id": "gid://shopify/Order/1", "createdAt": "2026-10-01T10:00:00Z", "cancelledAt": null}),
            json!({"quantity": 2, "originalUnitPriceSet": {"shopMoney": {"amount": "5.00"}}, "__parentId": "gid://shopify/Order/1"}),
            json!({"id": "gid://shopify/Order/2", "createdAt": "2026-10-02T10:00:00Z", "cancelledAt": "2026-10-03T00:00:00Z"}),
        ];
        let orders = assemble_bulk(lines);
        assert_eq!(orders.len(), 2);
        let first = map_order(&orders[0]).expect("order");
        assert_eq!(first.gross_cents(), 1000);
        assert_eq!(first.status, OrderStatus::Open);
        assert_eq!(map_order(&orders[1]).expect("order").status, OrderStatus::Cancelled);
    }
}
