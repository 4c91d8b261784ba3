//! Customer tools. Guest checkouts have no customer record: they are counted
//! apart, never as one pseudo-customer. Segments are computed inside the data
//! tool so that customer-level rows never reach task outputs, tool-call
//! inputs or events (only aggregates do).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::range;
use crate::store::StoreData;
use crate::store::sales::{Entry, Ledger};
use crate::tools::stats::segment;
use crate::tools::{Segment, ToolError, TypedTool};

/// One customer's activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CustomerStats {
    /// Customer id.
    pub customer_id: u64,
    /// Orders placed in the range.
    pub orders: i64,
    /// Net sales (after discounts and returns), in cents.
    pub spend_cents: i64,
    /// First order in the range (the shop's day).
    pub first_order: NaiveDate,
    /// Latest order in the range (the shop's day).
    pub last_order: NaiveDate,
}

/// What guest checkouts did in the range.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GuestActivity {
    /// Orders placed without a customer record.
    pub orders: i64,
    /// Their net sales, in cents.
    pub net_sales: i64,
}

/// Per-customer activity and the guests' total.
struct Activity {
    customers: Vec<CustomerStats>,
    guests: GuestActivity,
    inactive_net_sales: i64,
}

async fn activity(store: &dyn StoreData, from: NaiveDate, to: NaiveDate) -> Result<Activity, ToolError> {
    let ledger = Ledger::read(store, range(store, from, to)?).await?;
    let mut by_customer: BTreeMap<u64, CustomerStats> = BTreeMap::new();
    let mut guests = GuestActivity::default();
    for entry in ledger.entries() {
        let figures = entry.sales();
        let Some(customer) = entry.order().customer_id else {
            guests.orders += figures.orders;
            guests.net_sales += figures.net_sales;
            continue;
        };
        let day = entry.day();
        let stats = by_customer.entry(customer).or_insert(CustomerStats {
            customer_id: customer,
            orders: 0,
            spend_cents: 0,
            first_order: day,
            last_order: day,
        });
        stats.spend_cents += figures.net_sales;
        if let Entry::Sale { .. } = entry {
            stats.orders += 1;
            stats.first_order = stats.first_order.min(day);
            stats.last_order = stats.last_order.max(day);
        }
    }
    // A customer seen only through a refund of an earlier order did not
    // order in the range: no segment, but their returns still reconcile.
    let (customers, refund_only): (Vec<_>, Vec<_>) = by_customer.into_values().partition(|c| c.orders > 0);
    let inactive_net_sales = refund_only.iter().map(|c| c.spend_cents).sum();
    Ok(Activity { customers, guests, inactive_net_sales })
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
    /// Guest checkouts, apart.
    pub guests: GuestActivity,
    /// Returns in the range of customers who did not order in it (net sales,
    /// so zero or negative): with the above, the range's net sales.
    pub inactive_net_sales: i64,
}

/// `shopify.customer_activity`: orders, spend, first and last order per customer.
pub struct CustomerActivity(pub Arc<dyn StoreData>);

#[async_trait]
impl TypedTool for CustomerActivity {
    type Input = CustomerActivityInput;
    type Output = CustomerActivityOutput;
    const NAME: &'static str = "shopify.customer_activity";
    const DESCRIPTION: &'static str = "Orders, net sales and first/last order day per customer in a date range; \
         guest checkouts apart.";

    async fn call(&self, input: &CustomerActivityInput) -> Result<CustomerActivityOutput, ToolError> {
        let a = activity(&*self.0, input.from, input.to).await?;
        Ok(CustomerActivityOutput {
            customers: a.customers,
            guests: a.guests,
            inactive_net_sales: a.inactive_net_sales,
        })
    }

    fn summarize(output: &CustomerActivityOutput) -> String {
        format!("{} active customers, {} guest orders", output.customers.len(), output.guests.orders)
    }
}

/// Input of `shopify.customer_segments`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CustomerSegmentsInput {
    /// First day included.
    pub from: NaiveDate,
    /// First day excluded; recency is measured from here.
    pub to: NaiveDate,
}

/// Output of `shopify.customer_segments`: aggregates only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CustomerSegmentsOutput {
    /// Customers with an order in the range.
    pub active_customers: i64,
    /// Their net sales, in cents.
    pub customer_net_sales: i64,
    /// Segments in a fixed order (NEW, LOYAL, RETURNING, AT_RISK, LAPSED).
    pub segments: Vec<Segment>,
    /// Guest checkouts, apart: they are nobody's segment.
    pub guests: GuestActivity,
    /// Returns in the range of customers who did not order in it (net sales).
    pub inactive_net_sales: i64,
}

/// `shopify.customer_segments`: recency/frequency segments of the customers
/// who ordered in a range, and the guests apart.
pub struct CustomerSegments(pub Arc<dyn StoreData>);

#[async_trait]
impl TypedTool for CustomerSegments {
    type Input = CustomerSegmentsInput;
    type Output = CustomerSegmentsOutput;
    const NAME: &'static str = "shopify.customer_segments";
    const DESCRIPTION: &'static str = "Customers who ordered in a date range split into NEW, LOYAL, RETURNING, \
         AT_RISK and LAPSED by recency and frequency, with their net sales; guest checkouts counted apart.";

    async fn call(&self, input: &CustomerSegmentsInput) -> Result<CustomerSegmentsOutput, ToolError> {
        let a = activity(&*self.0, input.from, input.to).await?;
        let segments = segment(&a.customers, input.to);
        Ok(CustomerSegmentsOutput {
            active_customers: a.customers.len() as i64,
            customer_net_sales: a.customers.iter().map(|c| c.spend_cents).sum(),
            segments: segments.segments,
            guests: a.guests,
            inactive_net_sales: a.inactive_net_sales,
        })
    }

    fn summarize(output: &CustomerSegmentsOutput) -> String {
        let parts: Vec<String> = output.segments.iter().map(|s| format!("{} {}", s.name, s.customers)).collect();
        format!("{}; {} guest orders", parts.join(", "), output.guests.orders)
    }
}
