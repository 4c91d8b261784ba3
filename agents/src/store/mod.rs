//! The `StoreData` port: what the agents may read about a shop. The bundled
//! demo shop implements it here; the Shopify Admin API implements it too.
//!
//! Money is integer minor units (cents) so sums are exact.

mod demo;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use demo::DemoStore;

/// Half-open date range `[from, to)` in the store's calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateRange {
    /// First day included.
    pub from: NaiveDate,
    /// First day excluded.
    pub to: NaiveDate,
}

impl DateRange {
    /// Whether `at` falls inside.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let day = at.date_naive();
        day >= self.from && day < self.to
    }

    /// Number of days covered.
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days()
    }
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
    /// Its variants.
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

/// One order line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderLine {
    /// Product bought.
    pub product_id: u64,
    /// Variant bought.
    pub variant_id: u64,
    /// Units.
    pub quantity: i64,
    /// Unit price in cents at the time of sale.
    pub unit_price_cents: i64,
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
    /// Cancelled: never revenue.
    Cancelled,
}

/// An order with its discount and refund.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// Store-wide id.
    pub id: u64,
    /// When it was placed.
    pub created_at: DateTime<Utc>,
    /// Who placed it.
    pub customer_id: u64,
    /// What was bought.
    pub lines: Vec<OrderLine>,
    /// Discount code used, if any.
    pub discount_code: Option<String>,
    /// Discount granted, in cents.
    pub discount_cents: i64,
    /// Refunded later, in cents.
    pub refunded_cents: i64,
    /// Open, closed or cancelled.
    #[serde(default)]
    pub status: OrderStatus,
}

impl Order {
    /// Sum of line prices before discount.
    pub fn gross_cents(&self) -> i64 {
        self.lines.iter().map(|l| l.quantity * l.unit_price_cents).sum()
    }

    /// What the shop kept: gross − discount − refunds.
    pub fn net_cents(&self) -> i64 {
        self.gross_cents() - self.discount_cents - self.refunded_cents
    }

    /// Units sold.
    pub fn units(&self) -> i64 {
        self.lines.iter().map(|l| l.quantity).sum()
    }
}

/// Why store data could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Transient: try again later (throttling, timeouts, 5xx).
    #[error("store temporarily unavailable: {0}")]
    Unavailable(String),
    /// The store refuses (revoked token, missing scope).
    #[error("store access denied: {0}")]
    Denied(String),
    /// The store answered, and the answer is no (GraphQL errors, `userErrors`).
    #[error("store rejected the request: {0}")]
    Rejected(String),
}

impl StoreError {
    /// Worth trying again later.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// Read access to one shop's data.
#[async_trait]
pub trait StoreData: Send + Sync {
    /// The shop's currency (ISO 4217).
    fn currency(&self) -> &str;
    /// Orders placed in `range`, oldest first, without cancelled ones (revenue).
    async fn orders(&self, range: DateRange) -> Result<Vec<Order>, StoreError>;
    /// Orders placed in `range`, cancelled ones included.
    async fn orders_with_cancelled(&self, range: DateRange) -> Result<Vec<Order>, StoreError> {
        self.orders(range).await
    }
    /// The catalogue with current stock.
    async fn products(&self) -> Result<Vec<Product>, StoreError>;
    /// Customers.
    async fn customers(&self) -> Result<Vec<Customer>, StoreError>;
}
