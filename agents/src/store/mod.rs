//! The `StoreData` port: what the agents may read about a shop. The bundled
//! demo shop implements it here; the Shopify Admin API implements it too.
//!
//! Money is integer minor units (cents) so sums are exact.

mod demo;
pub mod sales;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
pub use chrono_tz::Tz;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use demo::{DEMO_TIME_ZONE, DemoStore};

use crate::breaker::CircuitOpen;

/// Half-open date range `[from, to)` of days in the shop's calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateRange {
    /// First day included.
    pub from: NaiveDate,
    /// First day excluded.
    pub to: NaiveDate,
}

impl DateRange {
    /// Whether the instant `at` falls on one of the range's days in `zone`.
    pub fn contains(&self, at: DateTime<Utc>, zone: Tz) -> bool {
        let day = local_day(at, zone);
        day >= self.from && day < self.to
    }

    /// Number of days covered.
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days()
    }

    /// The instant the range starts: midnight of `from` in `zone`.
    pub fn start(&self, zone: Tz) -> DateTime<Utc> {
        midnight(self.from, zone)
    }

    /// The instant the range ends (excluded): midnight of `to` in `zone`.
    pub fn end(&self, zone: Tz) -> DateTime<Utc> {
        midnight(self.to, zone)
    }
}

/// The shop's calendar day of an instant.
pub fn local_day(at: DateTime<Utc>, zone: Tz) -> NaiveDate {
    at.with_timezone(&zone).date_naive()
}

/// The first instant of `day` in `zone`. Where a DST change skips midnight
/// (e.g. America/Santiago, America/Havana) the day starts at the first
/// local time that exists.
pub fn midnight(day: NaiveDate, zone: Tz) -> DateTime<Utc> {
    let mut time = day.and_time(NaiveTime::MIN);
    for _ in 0..4 {
        if let Some(at) = zone.from_local_datetime(&time).earliest() {
            return at.with_timezone(&Utc);
        }
        time += chrono::Duration::minutes(30);
    }
    Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN))
}

/// Where a product is in the catalogue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProductStatus {
    /// On sale.
    #[default]
    Active,
    /// Not yet published.
    Draft,
    /// Retired: no longer sold, so its stock is not "overstock".
    Archived,
}

/// A product variant (size, colour…) with its price and stock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    /// Store-wide id.
    pub id: u64,
    /// e.g. "M / Blue".
    pub title: String,
    /// Stock keeping unit.
    pub sku: String,
    /// Price in cents.
    pub price_cents: i64,
    /// Units on hand now.
    pub inventory_quantity: i64,
}

/// A product with its variants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// Store-wide id.
    pub id: u64,
    /// Title as shown in the shop.
    pub title: String,
    /// Product type (category).
    pub product_type: String,
    /// Description (HTML-free text).
    pub description: String,
    /// Active, draft or archived.
    #[serde(default)]
    pub status: ProductStatus,
    /// Every variant.
    pub variants: Vec<Variant>,
}

/// A customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// Store-wide id.
    pub id: u64,
    /// Display name.
    pub name: String,
    /// Contact email.
    pub email: String,
}

/// One order line, as sold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderLine {
    /// Product bought (0 when the product was deleted since).
    pub product_id: u64,
    /// Variant bought (0 when deleted since).
    pub variant_id: u64,
    /// Units.
    pub quantity: i64,
    /// Unit price in cents at the time of sale, before discounts (tax
    /// included when the order's prices include tax).
    pub unit_price_cents: i64,
    /// Every discount allocated to this line, in cents: its own, its share of
    /// order-level ones, code and automatic alike.
    pub discount_cents: i64,
    /// Tax charged on this line, in cents.
    pub tax_cents: i64,
}

/// One returned line of a refund.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefundLine {
    /// Product returned.
    pub product_id: u64,
    /// Variant returned.
    pub variant_id: u64,
    /// Units returned.
    pub quantity: i64,
    /// Value refunded for the goods (after their discounts), in cents; tax
    /// included when the order's prices include tax.
    pub subtotal_cents: i64,
    /// Tax refunded with them, in cents.
    pub tax_cents: i64,
}

/// A refund: goods returned, shipping given back, on its own date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refund {
    /// When it was processed: returns count on this day, not the order's.
    pub created_at: DateTime<Utc>,
    /// Goods returned.
    pub lines: Vec<RefundLine>,
    /// Shipping refunded (tax included when the order's prices include tax),
    /// in cents.
    pub shipping_cents: i64,
    /// Tax refunded on that shipping, in cents.
    #[serde(default)]
    pub shipping_tax_cents: i64,
}

/// One discount applied to an order, with what it took off its lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderDiscount {
    /// The code; `None` for an automatic (code-less) discount.
    pub code: Option<String>,
    /// Its title (the code itself, or the automatic discount's name).
    pub title: String,
    /// Allocated to the order's lines, in cents.
    pub amount_cents: i64,
}

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    /// Placed, not yet fulfilled and paid in full.
    Open,
    /// Done.
    #[default]
    Closed,
    /// Cancelled: never a sale (Shopify's sales reports leave it out).
    Cancelled,
}

/// An order with its lines, charges and refunds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// Store-wide id.
    pub id: u64,
    /// When it was placed.
    pub created_at: DateTime<Utc>,
    /// Who placed it; `None` for a guest checkout (no customer record).
    pub customer_id: Option<u64>,
    /// What was bought, every line.
    pub lines: Vec<OrderLine>,
    /// Every discount applied to its lines, code and automatic (shipping
    /// discounts are in `shipping_cents` instead).
    pub discounts: Vec<OrderDiscount>,
    /// Whether prices include tax (the shop's tax setting when it was placed).
    pub taxes_included: bool,
    /// Shipping charged after shipping discounts (tax included when prices
    /// include tax), in cents.
    pub shipping_cents: i64,
    /// Tax on the shipping, in cents.
    pub shipping_tax_cents: i64,
    /// Refunds, each on its own date.
    pub refunds: Vec<Refund>,
    /// Open, closed or cancelled.
    #[serde(default)]
    pub status: OrderStatus,
}

impl Order {
    /// Units bought.
    pub fn units(&self) -> i64 {
        self.lines.iter().map(|l| l.quantity).sum()
    }

    /// The discount codes used (an order may carry several).
    pub fn codes(&self) -> impl Iterator<Item = &str> {
        self.discounts.iter().filter_map(|d| d.code.as_deref())
    }

    /// Whether it counts as a sale (Shopify leaves cancelled orders out).
    pub fn is_sale(&self) -> bool {
        self.status != OrderStatus::Cancelled
    }
}

/// Why store data could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Transient: try again later (throttling, timeouts, 5xx).
    #[error("store temporarily unavailable: {0}")]
    Unavailable(String),
    /// Not tried: the store's circuit is open after repeated failures.
    /// Transient, and no fault of the call: wait for its `retry_in`.
    #[error("store temporarily unavailable: {0}")]
    CircuitOpen(CircuitOpen),
    /// The store refuses (revoked token, missing scope).
    #[error("store access denied: {0}")]
    Denied(String),
    /// The store answered, and the answer is no (GraphQL errors, `userErrors`).
    #[error("store rejected the request: {0}")]
    Rejected(String),
    /// The query asked for more than the store's single-query cost limit
    /// (Shopify's `MAX_COST_EXCEEDED`): smaller pages will do.
    #[error("store refused the query's cost: {0}")]
    TooCostly(String),
}

impl StoreError {
    /// Worth trying again later.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_) | StoreError::CircuitOpen(_))
    }
}

/// Read access to one shop's data.
#[async_trait]
pub trait StoreData: Send + Sync {
    /// The shop's currency (ISO 4217).
    fn currency(&self) -> &str;
    /// The shop's IANA time zone: every range's days are its days.
    fn time_zone(&self) -> Tz;
    /// The first day whose orders can be read, when the grant limits history
    /// (Shopify without `read_all_orders`: the last 60 days); `None` = all.
    fn readable_from(&self) -> Option<NaiveDate> {
        None
    }
    /// Orders placed in `range`, oldest first, cancelled ones included.
    async fn orders(&self, range: DateRange) -> Result<Vec<Order>, StoreError>;
    /// Orders placed before `range` with a refund processed in it: their
    /// returns belong to `range`.
    async fn refunded_in(&self, range: DateRange) -> Result<Vec<Order>, StoreError>;
    /// The catalogue with current stock, archived products included.
    async fn products(&self) -> Result<Vec<Product>, StoreError>;
    /// Customers.
    async fn customers(&self) -> Result<Vec<Customer>, StoreError>;
}
