//! Data tools over the `StoreData` port (the `DataRetrieval` department's).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{Datelike, Duration, NaiveDate};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ToolError, TypedTool, major};
use crate::plan::Granularity;
use crate::store::sales::{Entry, Ledger, Sales};
use crate::store::{DateRange, Order, OrderStatus, ProductStatus, StoreData, StoreError};

mod customers;
pub use customers::{
    CustomerActivity, CustomerActivityInput, CustomerActivityOutput, CustomerSegments, CustomerSegmentsInput,
    CustomerSegmentsOutput, CustomerStats,
};

impl From<StoreError> for ToolError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => ToolError::Transient(m),
            StoreError::CircuitOpen(refusal) => ToolError::CircuitOpen(refusal),
            StoreError::Denied(m) | StoreError::Rejected(m) | StoreError::TooCostly(m) => ToolError::InvalidInput(m),
        }
    }
}

/// A tool's date range, checked: non-empty, at most 800 days, and within
/// the history the store lets us read (no figures from partial data).
fn range(store: &dyn StoreData, from: NaiveDate, to: NaiveDate) -> Result<DateRange, ToolError> {
    if to <= from || (to - from).num_days() > 800 {
        return Err(ToolError::InvalidInput(format!("bad date range {from} .. {to}")));
    }
    if let Some(first) = store.readable_from().filter(|first| from < *first) {
        return Err(ToolError::InvalidInput(format!(
            "orders before {first} cannot be read: the store has not granted read_all_orders \
             (without it Shopify returns only the last 60 days)"
        )));
    }
    Ok(DateRange { from, to })
}

/// Sales in one bucket of a period, with Shopify's definitions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PeriodSales {
    /// `2026-10`, `2026-10-05`, or the bucket's first day for weeks.
    pub label: String,
    /// Its figures: sales on their order's day, returns on their refund's.
    #[serde(flatten)]
    pub sales: Sales,
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
    const DESCRIPTION: &'static str = "Orders, units, gross sales, discounts, returns, net sales, shipping, taxes and total sales (Shopify's \
         definitions, the shop's days) per day, week or month of a date range.";

    async fn call(&self, input: &SalesByPeriodInput) -> Result<SalesByPeriodOutput, ToolError> {
        let range = range(&*self.0, input.from, input.to)?;
        let ledger = Ledger::read(&*self.0, range).await?;
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
        for entry in ledger.entries() {
            let start = bucket_start(entry.day(), range.from, input.granularity);
            let figures = entry.sales();
            if let Some(bucket) = buckets.get_mut(&start) {
                bucket.sales += figures;
            }
            totals.sales += figures;
        }
        Ok(SalesByPeriodOutput {
            currency: self.0.currency().to_owned(),
            buckets: buckets.into_values().collect(),
            totals,
        })
    }

    fn summarize(output: &SalesByPeriodOutput) -> String {
        format!(
            "{} buckets, {} orders, net sales {:.2} {}",
            output.buckets.len(),
            output.totals.sales.orders,
            major(output.totals.sales.net_sales),
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
    /// Active, draft or archived.
    pub status: ProductStatus,
    /// Units sold less units returned.
    pub units: i64,
    /// Gross sales, in cents.
    pub gross_sales: i64,
    /// Discounts on its lines, in cents.
    pub discounts: i64,
    /// Returns of it (on the refund's day), in cents.
    pub returns: i64,
    /// Net sales, in cents.
    pub net_sales: i64,
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
    /// Every product, best seller (by net sales) first.
    pub products: Vec<ProductStats>,
}

/// `shopify.product_sales`: units and net sales per product.
pub struct ProductSales(pub Arc<dyn StoreData>);

#[async_trait]
impl TypedTool for ProductSales {
    type Input = ProductSalesInput;
    type Output = ProductSalesOutput;
    const NAME: &'static str = "shopify.product_sales";
    const DESCRIPTION: &'static str =
        "Units, gross sales, discounts, returns and net sales per product in a date range, with stock on hand.";

    async fn call(&self, input: &ProductSalesInput) -> Result<ProductSalesOutput, ToolError> {
        let range = range(&*self.0, input.from, input.to)?;
        let (ledger, products) = tokio::try_join!(Ledger::read(&*self.0, range), self.0.products())?;
        let mut stats: HashMap<u64, ProductStats> = products
            .iter()
            .map(|p| {
                let inventory = p.variants.iter().map(|v| v.inventory_quantity).sum();
                let stats = ProductStats {
                    product_id: p.id,
                    title: p.title.clone(),
                    status: p.status,
                    units: 0,
                    gross_sales: 0,
                    discounts: 0,
                    returns: 0,
                    net_sales: 0,
                    inventory,
                };
                (p.id, stats)
            })
            .collect();
        let mut add = |product_id: u64, figures: Sales| {
            if let Some(s) = stats.get_mut(&product_id) {
                s.units += figures.units;
                s.gross_sales += figures.gross_sales;
                s.discounts += figures.discounts;
                s.returns += figures.returns;
                s.net_sales += figures.net_sales;
            }
        };
        for entry in ledger.entries() {
            match entry {
                Entry::Sale { order, .. } => {
                    for line in &order.lines {
                        add(line.product_id, Sales::of_line(order, line));
                    }
                }
                Entry::Return { order, refund, .. } => {
                    for line in &refund.lines {
                        add(line.product_id, Sales::of_returned_line(order, line));
                    }
                }
            }
        }
        let mut products: Vec<_> = stats.into_values().collect();
        products.sort_by(|a, b| b.net_sales.cmp(&a.net_sales).then(a.product_id.cmp(&b.product_id)));
        Ok(ProductSalesOutput { products })
    }

    fn summarize(output: &ProductSalesOutput) -> String {
        let best = output.products.first().map(|p| p.title.as_str()).unwrap_or("none");
        format!("{} products, best seller {best}", output.products.len())
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
    /// Its product's status: an archived product's stock is not overstock.
    pub status: ProductStatus,
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
        let range = range(&*self.0, input.from, input.to)?;
        let (orders, products) = tokio::try_join!(self.0.orders(range), self.0.products())?;
        // Pace of sale: units leaving with orders placed in the window.
        let mut sold: HashMap<u64, i64> = HashMap::new();
        for line in orders.iter().filter(|o| o.is_sale()).flat_map(|o| &o.lines) {
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
                        status: p.status,
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

/// Use of one discount (a code, an automatic discount, or none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CodeUsage {
    /// The code, the automatic discount's title, or `(none)` for orders
    /// without any discount.
    pub code: String,
    /// Whether it is an automatic (code-less) discount.
    #[serde(default)]
    pub automatic: bool,
    /// Orders it was applied to (an order with two codes counts for both).
    pub orders: i64,
    /// What it took off those orders' lines, without tax, in cents.
    pub discount_cents: i64,
    /// Average gross sales of those orders (before discounts), in cents.
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
    /// Orders placed in the range (each once).
    pub orders: i64,
    /// Orders with at least one discount, code or automatic.
    pub discounted_orders: i64,
    /// All discounts, without tax, in cents (Shopify's "Discounts").
    pub discounts: i64,
    /// Per discount, most used first; the last entry is orders without one.
    pub codes: Vec<CodeUsage>,
}

/// `shopify.discount_usage`: orders, cost and order value per discount.
pub struct DiscountUsage(pub Arc<dyn StoreData>);

#[derive(Default)]
struct Usage {
    automatic: bool,
    orders: i64,
    discount: i64,
    gross: i64,
}

#[async_trait]
impl TypedTool for DiscountUsage {
    type Input = DiscountUsageInput;
    type Output = DiscountUsageOutput;
    const NAME: &'static str = "shopify.discount_usage";
    const DESCRIPTION: &'static str = "Orders, discount cost and average order value per discount code and \
         automatic discount, and for orders without one.";

    async fn call(&self, input: &DiscountUsageInput) -> Result<DiscountUsageOutput, ToolError> {
        let range = range(&*self.0, input.from, input.to)?;
        let orders = self.0.orders(range).await?;
        let zone = self.0.time_zone();
        let mut by_code: BTreeMap<String, Usage> = BTreeMap::new();
        let mut out = DiscountUsageOutput { orders: 0, discounted_orders: 0, discounts: 0, codes: Vec::new() };
        for order in orders.iter().filter(|o| o.is_sale() && range.contains(o.created_at, zone)) {
            let sales = Sales::of_order(order);
            out.orders += 1;
            out.discounts += sales.discounts;
            // Each discount's share of the order's tax-free discount total.
            let allocated: i64 = order.discounts.iter().map(|d| d.amount_cents).sum();
            let mut credit = |key: String, automatic: bool, amount: i64| {
                let usage = by_code.entry(key).or_default();
                usage.automatic = automatic;
                usage.orders += 1;
                usage.discount += amount;
                usage.gross += sales.gross_sales;
            };
            if order.discounts.is_empty() {
                credit("(none)".into(), false, 0);
                continue;
            }
            out.discounted_orders += 1;
            for d in &order.discounts {
                let amount = if allocated == 0 { 0 } else { sales.discounts * d.amount_cents / allocated };
                credit(d.code.clone().unwrap_or_else(|| d.title.clone()), d.code.is_none(), amount);
            }
        }
        let usage = |(code, u): (String, Usage)| CodeUsage {
            code,
            automatic: u.automatic,
            orders: u.orders,
            discount_cents: u.discount,
            average_order_cents: u.gross / u.orders.max(1),
        };
        let none = by_code.remove("(none)").map(|u| usage(("(none)".into(), u)));
        let mut codes: Vec<_> = by_code.into_iter().map(usage).collect();
        codes.sort_by(|a, b| b.orders.cmp(&a.orders).then(a.code.cmp(&b.code)));
        codes.extend(none);
        out.codes = codes;
        Ok(out)
    }

    fn summarize(output: &DiscountUsageOutput) -> String {
        let used = output.codes.iter().filter(|c| c.code != "(none)").count();
        format!("{used} discounts in use on {} of {} orders", output.discounted_orders, output.orders)
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
    /// Its net sales as placed (gross − discounts), in cents.
    pub net_sales: i64,
    /// Refunded so far (goods, without tax), in cents.
    pub returns: i64,
}

/// Output of `shopify.orders`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct OrdersOutput {
    /// ISO 4217.
    pub currency: String,
    /// Orders matching.
    pub count: i64,
    /// Their gross sales (before discounts, without tax), in cents.
    pub gross_sales: i64,
    /// Their net sales as placed (gross − discounts), in cents.
    pub net_sales: i64,
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
        let range = range(&*self.0, input.from, input.to)?;
        let orders = self.0.orders(range).await?;
        let wanted = |status: OrderStatus| match input.status {
            OrderStatusFilter::Any => true,
            OrderStatusFilter::Open => status == OrderStatus::Open,
            OrderStatusFilter::Closed => status == OrderStatus::Closed,
            OrderStatusFilter::Cancelled => status == OrderStatus::Cancelled,
        };
        let zone = self.0.time_zone();
        let matching: Vec<&Order> =
            orders.iter().filter(|o| wanted(o.status) && range.contains(o.created_at, zone)).collect();
        // Each order's figures as placed, computed once.
        let placed: Vec<(&Order, Sales)> = matching.iter().map(|o| (*o, Sales::of_order(o))).collect();
        Ok(OrdersOutput {
            currency: self.0.currency().to_owned(),
            count: placed.len() as i64,
            gross_sales: placed.iter().map(|(_, s)| s.gross_sales).sum(),
            net_sales: placed.iter().map(|(_, s)| s.gross_sales - s.discounts).sum(),
            latest: placed
                .iter()
                .rev()
                .take(50)
                .map(|(o, s)| OrderSummary {
                    id: o.id,
                    created_at: o.created_at.with_timezone(&zone).to_rfc3339(),
                    status: o.status,
                    units: o.units(),
                    net_sales: s.gross_sales - s.discounts,
                    returns: o.refunds.iter().map(|r| Sales::of_refund(o, r).returns).sum(),
                })
                .collect(),
        })
    }

    fn summarize(output: &OrdersOutput) -> String {
        format!("{} orders", output.count)
    }
}
