//! Data tools over the `StoreData` port (the `DataRetrieval` department's).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{Datelike, Duration, NaiveDate};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ToolError, TypedTool, major};
use crate::plan::Granularity;
use crate::store::{DateRange, Order, OrderStatus, StoreData, StoreError};

impl From<StoreError> for ToolError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => ToolError::Transient(m),
            StoreError::Denied(m) | StoreError::Rejected(m) => ToolError::InvalidInput(m),
        }
    }
}

fn range(from: NaiveDate, to: NaiveDate) -> Result<DateRange, ToolError> {
    if to <= from || (to - from).num_days() > 800 {
        return Err(ToolError::InvalidInput(format!("bad date range {from} .. {to}")));
    }
    Ok(DateRange { from, to })
}

/// Sales in one bucket of a period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PeriodSales {
    /// `2026-10`, `2026-10-05`, or the bucket's first day for weeks.
    pub label: String,
    /// Orders placed.
    pub orders: i64,
    /// Units sold.
    pub units: i64,
    /// Line totals before discounts, in cents.
    pub gross_cents: i64,
    /// Discounts granted, in cents.
    pub discount_cents: i64,
    /// Refunds, in cents.
    pub refund_cents: i64,
    /// Gross − discounts − refunds, in cents.
    pub net_cents: i64,
}

/// Input of `shopify.sales_by_period`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SalesByPeriodInput {
    /// First day included.
    pub from: NaiveDate,
    /// First day excluded.
    pub to: NaiveDate,
    /// Bucket size.
    pub granularity: Granularity,
}

/// Output of `shopify.sales_by_period`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SalesByPeriodOutput {
    /// ISO 4217.
    pub currency: String,
    /// One entry per bucket, oldest first, empty buckets included.
    pub buckets: Vec<PeriodSales>,
    /// The whole range.
    pub totals: PeriodSales,
}

/// `shopify.sales_by_period`: orders, units, gross, discounts, refunds, net per bucket.
pub struct SalesByPeriod(pub Arc<dyn StoreData>);

/// The first day of `day`'s bucket: the key orders are summed under (a date,
/// not its label, so that a year of orders does not format a string each).
fn bucket_start(day: NaiveDate, from: NaiveDate, granularity: Granularity) -> NaiveDate {
    match granularity {
        Granularity::Day => day,
        Granularity::Week => from + Duration::days((day - from).num_days() / 7 * 7),
        Granularity::Month => day.with_day(1).unwrap_or(day),
    }
}

fn bucket_label(start: NaiveDate, granularity: Granularity) -> String {
    match granularity {
        Granularity::Day | Granularity::Week => start.to_string(),
        Granularity::Month => format!("{:04}-{:02}", start.year(), start.month()),
    }
}

#[async_trait]
impl TypedTool for SalesByPeriod {
    type Input = SalesByPeriodInput;
    type Output = SalesByPeriodOutput;
    const NAME: &'static str = "shopify.sales_by_period";
    const DESCRIPTION: &'static str =
        "Orders, units, gross sales, discounts, refunds and net revenue per day, week or month of a date range.";

    async fn call(&self, input: &SalesByPeriodInput) -> Result<SalesByPeriodOutput, ToolError> {
        let range = range(input.from, input.to)?;
        let orders = self.0.orders(range).await?;
        let mut buckets: BTreeMap<NaiveDate, PeriodSales> = BTreeMap::new();
        let mut day = range.from;
        while day < range.to {
            let start = bucket_start(day, range.from, input.granularity);
            buckets.entry(start).or_insert_with(|| PeriodSales {
                label: bucket_label(start, input.granularity),
                ..PeriodSales::default()
            });
            day += Duration::days(1);
        }
        let mut totals = PeriodSales { label: format!("{} .. {}", range.from, range.to), ..PeriodSales::default() };
        for order in &orders {
            let start = bucket_start(order.created_at.date_naive(), range.from, input.granularity);
            let bucket = buckets.entry(start).or_insert_with(|| PeriodSales {
                label: bucket_label(start, input.granularity),
                ..PeriodSales::default()
            });
            for sales in [bucket, &mut totals] {
                sales.orders += 1;
                sales.units += order.units();
                sales.gross_cents += order.gross_cents();
                sales.discount_cents += order.discount_cents;
                sales.refund_cents += order.refunded_cents;
                sales.net_cents += order.net_cents();
            }
        }
        Ok(SalesByPeriodOutput {
            currency: self.0.currency().to_owned(),
            buckets: buckets.into_values().collect(),
            totals,
        })
    }

    fn summarize(output: &SalesByPeriodOutput) -> String {
        format!(
            "{} buckets, {} orders, net {:.2} {}",
            output.buckets.len(),
            output.totals.orders,
            major(output.totals.net_cents),
            output.currency
        )
    }
}

/// One product's sales.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProductStats {
    /// Product id.
    pub product_id: u64,
    /// Title.
    pub title: String,
    /// Units sold.
    pub units: i64,
    /// Revenue after discounts (line share) and refunds, in cents.
    pub net_cents: i64,
    /// Units on hand across variants.
    pub inventory: i64,
}

/// Input of `shopify.product_sales`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ProductSalesInput {
    /// First day included.
    pub from: NaiveDate,
    /// First day excluded.
    pub to: NaiveDate,
}

/// Output of `shopify.product_sales`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ProductSalesOutput {
    /// Every product, best seller (by net revenue) first.
    pub products: Vec<ProductStats>,
}

/// `shopify.product_sales`: units and net revenue per product.
pub struct ProductSales(pub Arc<dyn StoreData>);

#[async_trait]
impl TypedTool for ProductSales {
    type Input = ProductSalesInput;
    type Output = ProductSalesOutput;
    const NAME: &'static str = "shopify.product_sales";
    const DESCRIPTION: &'static str = "Units sold and net revenue per product in a date range, with stock on hand.";

    async fn call(&self, input: &ProductSalesInput) -> Result<ProductSalesOutput, ToolError> {
        let range = range(input.from, input.to)?;
        let (orders, products) = tokio::try_join!(self.0.orders(range), self.0.products())?;
        let mut stats: HashMap<u64, ProductStats> = products
            .iter()
            .map(|p| {
                let inventory = p.variants.iter().map(|v| v.inventory_quantity).sum();
                (p.id, ProductStats { product_id: p.id, title: p.title.clone(), units: 0, net_cents: 0, inventory })
            })
            .collect();
        for order in &orders {
            let gross = order.gross_cents().max(1);
            let kept = order.net_cents();
            for line in &order.lines {
                if let Some(s) = stats.get_mut(&line.product_id) {
                    s.units += line.quantity;
                    // Discounts and refunds are shared across lines by value.
                    s.net_cents += kept * line.quantity * line.unit_price_cents / gross;
                }
            }
        }
        let mut products: Vec<_> = stats.into_values().collect();
        products.sort_by(|a, b| b.net_cents.cmp(&a.net_cents).then(a.product_id.cmp(&b.product_id)));
        Ok(ProductSalesOutput { products })
    }

    fn summarize(output: &ProductSalesOutput) -> String {
        let best = output.products.first().map(|p| p.title.as_str()).unwrap_or("none");
        format!("{} products, best seller {best}", output.products.len())
    }
}

/// One customer's activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CustomerStats {
    /// Customer id.
    pub customer_id: u64,
    /// Orders in the range.
    pub orders: i64,
    /// Net spend, in cents.
    pub spend_cents: i64,
    /// First order in the range.
    pub first_order: NaiveDate,
    /// Latest order in the range.
    pub last_order: NaiveDate,
}

/// Input of `shopify.customer_activity`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CustomerActivityInput {
    /// First day included.
    pub from: NaiveDate,
    /// First day excluded.
    pub to: NaiveDate,
}

/// Output of `shopify.customer_activity`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CustomerActivityOutput {
    /// Customers who ordered in the range.
    pub customers: Vec<CustomerStats>,
}

/// `shopify.customer_activity`: orders, spend, first and last order per customer.
pub struct CustomerActivity(pub Arc<dyn StoreData>);

#[async_trait]
impl TypedTool for CustomerActivity {
    type Input = CustomerActivityInput;
    type Output = CustomerActivityOutput;
    const NAME: &'static str = "shopify.customer_activity";
    const DESCRIPTION: &'static str = "Orders, net spend and first/last order date per customer in a date range.";

    async fn call(&self, input: &CustomerActivityInput) -> Result<CustomerActivityOutput, ToolError> {
        let orders = self.0.orders(range(input.from, input.to)?).await?;
        let mut by_customer: BTreeMap<u64, CustomerStats> = BTreeMap::new();
        for order in &orders {
            let day = order.created_at.date_naive();
            let stats = by_customer.entry(order.customer_id).or_insert(CustomerStats {
                customer_id: order.customer_id,
                orders: 0,
                spend_cents: 0,
                first_order: day,
                last_order: day,
            });
            stats.orders += 1;
            stats.spend_cents += order.net_cents();
            stats.first_order = stats.first_order.min(day);
            stats.last_order = stats.last_order.max(day);
        }
        Ok(CustomerActivityOutput { customers: by_customer.into_values().collect() })
    }

    fn summarize(output: &CustomerActivityOutput) -> String {
        format!("{} active customers", output.customers.len())
    }
}

/// One variant's stock and sales velocity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InventoryItem {
    /// Product id.
    pub product_id: u64,
    /// Variant id.
    pub variant_id: u64,
    /// "Product — Variant".
    pub title: String,
    /// Price in cents.
    pub price_cents: i64,
    /// Units on hand.
    pub on_hand: i64,
    /// Units sold in the window.
    pub sold: i64,
    /// Days until sold out at the window's pace (`None` when nothing sold).
    pub days_of_cover: Option<f64>,
}

/// Input of `shopify.inventory`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct InventoryInput {
    /// Velocity window: first day included.
    pub from: NaiveDate,
    /// Velocity window: first day excluded (normally today).
    pub to: NaiveDate,
}

/// Output of `shopify.inventory`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct InventoryOutput {
    /// Every variant, fewest days of cover first.
    pub items: Vec<InventoryItem>,
}

/// `shopify.inventory`: stock on hand per variant and days of cover.
pub struct Inventory(pub Arc<dyn StoreData>);

#[async_trait]
impl TypedTool for Inventory {
    type Input = InventoryInput;
    type Output = InventoryOutput;
    const NAME: &'static str = "shopify.inventory";
    const DESCRIPTION: &'static str =
        "Stock on hand per variant, units sold in a window and days of cover at that pace.";

    async fn call(&self, input: &InventoryInput) -> Result<InventoryOutput, ToolError> {
        let range = range(input.from, input.to)?;
        let (orders, products) = tokio::try_join!(self.0.orders(range), self.0.products())?;
        let mut sold: HashMap<u64, i64> = HashMap::new();
        for line in orders.iter().flat_map(|o| &o.lines) {
            *sold.entry(line.variant_id).or_default() += line.quantity;
        }
        let days = range.days() as f64;
        let mut items: Vec<InventoryItem> = products
            .iter()
            .flat_map(|p| {
                p.variants.iter().map(|v| {
                    let sold = sold.get(&v.id).copied().unwrap_or(0);
                    InventoryItem {
                        product_id: p.id,
                        variant_id: v.id,
                        title: format!("{} — {}", p.title, v.title),
                        price_cents: v.price_cents,
                        on_hand: v.inventory_quantity,
                        sold,
                        days_of_cover: (sold > 0)
                            .then(|| (v.inventory_quantity as f64 / (sold as f64 / days) * 10.0).round() / 10.0),
                    }
                })
            })
            .collect();
        items.sort_by(|a, b| {
            a.days_of_cover
                .unwrap_or(f64::MAX)
                .total_cmp(&b.days_of_cover.unwrap_or(f64::MAX))
                .then(a.variant_id.cmp(&b.variant_id))
        });
        Ok(InventoryOutput { items })
    }

    fn summarize(output: &InventoryOutput) -> String {
        format!("{} variants", output.items.len())
    }
}

/// Use of one discount code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CodeUsage {
    /// The code (`(none)` for orders without one).
    pub code: String,
    /// Orders.
    pub orders: i64,
    /// Discount granted, in cents.
    pub discount_cents: i64,
    /// Average order value before discount, in cents.
    pub average_order_cents: i64,
}

/// Input of `shopify.discount_usage`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DiscountUsageInput {
    /// First day included.
    pub from: NaiveDate,
    /// First day excluded.
    pub to: NaiveDate,
}

/// Output of `shopify.discount_usage`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DiscountUsageOutput {
    /// Per code, most used first; the last entry is orders without a code.
    pub codes: Vec<CodeUsage>,
}

/// `shopify.discount_usage`: orders, cost and order value per discount code.
pub struct DiscountUsage(pub Arc<dyn StoreData>);

#[async_trait]
impl TypedTool for DiscountUsage {
    type Input = DiscountUsageInput;
    type Output = DiscountUsageOutput;
    const NAME: &'static str = "shopify.discount_usage";
    const DESCRIPTION: &'static str =
        "Orders, discount cost and average order value per discount code, and without one.";

    async fn call(&self, input: &DiscountUsageInput) -> Result<DiscountUsageOutput, ToolError> {
        let orders = self.0.orders(range(input.from, input.to)?).await?;
        let mut by_code: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
        for order in &orders {
            let code = order.discount_code.clone().unwrap_or_else(|| "(none)".into());
            let entry = by_code.entry(code).or_default();
            entry.0 += 1;
            entry.1 += order.discount_cents;
            entry.2 += order.gross_cents();
        }
        let usage = |(code, (orders, discount, gross)): (String, (i64, i64, i64))| CodeUsage {
            code,
            orders,
            discount_cents: discount,
            average_order_cents: gross / orders.max(1),
        };
        let none = by_code.remove("(none)").map(|v| usage(("(none)".into(), v)));
        let mut codes: Vec<_> = by_code.into_iter().map(usage).collect();
        codes.sort_by(|a, b| b.orders.cmp(&a.orders).then(a.code.cmp(&b.code)));
        codes.extend(none);
        Ok(DiscountUsageOutput { codes })
    }

    fn summarize(output: &DiscountUsageOutput) -> String {
        format!("{} codes in use", output.codes.len().saturating_sub(1))
    }
}

/// Which orders `shopify.orders` lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatusFilter {
    /// Every order, cancelled ones included.
    #[default]
    Any,
    /// Not yet closed.
    Open,
    /// Closed.
    Closed,
    /// Cancelled.
    Cancelled,
}

/// Input of `shopify.orders`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct OrdersInput {
    /// First day included.
    pub from: NaiveDate,
    /// First day excluded.
    pub to: NaiveDate,
    /// Which orders.
    #[serde(default)]
    pub status: OrderStatusFilter,
}

/// One order, without the customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OrderSummary {
    /// Store-wide id.
    pub id: u64,
    /// When it was placed (RFC 3339).
    pub created_at: String,
    /// Open, closed or cancelled.
    pub status: OrderStatus,
    /// Units.
    pub units: i64,
    /// Gross − discount − refunds, in cents.
    pub net_cents: i64,
}

/// Output of `shopify.orders`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct OrdersOutput {
    /// ISO 4217.
    pub currency: String,
    /// Orders matching.
    pub count: i64,
    /// Their line totals before discounts, in cents.
    pub gross_cents: i64,
    /// Their net, in cents.
    pub net_cents: i64,
    /// The newest 50 of them.
    pub latest: Vec<OrderSummary>,
}

/// `shopify.orders`: orders in a date range by status, with totals.
pub struct Orders(pub Arc<dyn StoreData>);

#[async_trait]
impl TypedTool for Orders {
    type Input = OrdersInput;
    type Output = OrdersOutput;
    const NAME: &'static str = "shopify.orders";
    const DESCRIPTION: &'static str =
        "Orders placed in a date range, filtered by status (open, closed, cancelled or any), with totals.";

    async fn call(&self, input: &OrdersInput) -> Result<OrdersOutput, ToolError> {
        let orders = self.0.orders_with_cancelled(range(input.from, input.to)?).await?;
        let wanted = |status: OrderStatus| match input.status {
            OrderStatusFilter::Any => true,
            OrderStatusFilter::Open => status == OrderStatus::Open,
            OrderStatusFilter::Closed => status == OrderStatus::Closed,
            OrderStatusFilter::Cancelled => status == OrderStatus::Cancelled,
        };
        let matching: Vec<&Order> = orders.iter().filter(|o| wanted(o.status)).collect();
        Ok(OrdersOutput {
            currency: self.0.currency().to_owned(),
            count: matching.len() as i64,
            gross_cents: matching.iter().map(|o| o.gross_cents()).sum(),
            net_cents: matching.iter().map(|o| o.net_cents()).sum(),
            latest: matching
                .iter()
                .rev()
                .take(50)
                .map(|o| OrderSummary {
                    id: o.id,
                    created_at: o.created_at.to_rfc3339(),
                    status: o.status,
                    units: o.units(),
                    net_cents: o.net_cents(),
                })
                .collect(),
        })
    }

    fn summarize(output: &OrdersOutput) -> String {
        format!("{} orders", output.count)
    }
}
