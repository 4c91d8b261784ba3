//! Sales figures as Shopify's sales reports define them, so a merchant can
//! hold ours against their admin. One place computes them; every tool folds
//! the same [`Entry`]s.
//!
//! - A sale counts on the day its order was placed (in the shop's time
//!   zone), a return on the day its refund was processed.
//! - Gross sales: unit price × quantity of every line, before discounts,
//!   without tax (removed from tax-inclusive prices) and without shipping.
//! - Discounts: what discounts took off the lines, code and automatic alike,
//!   without tax. Shipping discounts are part of shipping.
//! - Returns: the value of goods refunded, without tax.
//! - Net sales = gross sales − discounts − returns.
//! - Shipping: shipping charged after its discounts, less shipping refunded,
//!   without tax. Taxes: tax charged, less tax refunded.
//! - Total sales = net sales + shipping + taxes.
//! - Cancelled orders are not sales (Shopify's reports leave them out).

use std::ops::AddAssign;

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{DateRange, Order, OrderLine, Refund, StoreData, StoreError, Tz, local_day};

/// Sales figures in cents (orders and units are counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Sales {
    /// Orders placed (cancelled ones excluded).
    pub orders: i64,
    /// Units sold, less units returned.
    pub units: i64,
    /// Line totals before discounts, without tax and shipping.
    pub gross_sales: i64,
    /// Discounts on lines, code and automatic, without tax.
    pub discounts: i64,
    /// Value of goods refunded, without tax, on the refund's day.
    pub returns: i64,
    /// Gross sales − discounts − returns.
    pub net_sales: i64,
    /// Shipping charged less shipping refunded, without tax.
    pub shipping: i64,
    /// Tax charged less tax refunded.
    pub taxes: i64,
    /// Net sales + shipping + taxes.
    pub total_sales: i64,
}

impl AddAssign for Sales {
    fn add_assign(&mut self, o: Sales) {
        self.orders += o.orders;
        self.units += o.units;
        self.gross_sales += o.gross_sales;
        self.discounts += o.discounts;
        self.returns += o.returns;
        self.net_sales += o.net_sales;
        self.shipping += o.shipping;
        self.taxes += o.taxes;
        self.total_sales += o.total_sales;
    }
}

impl Sales {
    /// Shopify's average order value: (gross sales − discounts) per order,
    /// before returns.
    pub fn average_order_value(&self) -> i64 {
        if self.orders == 0 { 0 } else { (self.gross_sales - self.discounts) / self.orders }
    }

    fn close(mut self) -> Self {
        self.net_sales = self.gross_sales - self.discounts - self.returns;
        self.total_sales = self.net_sales + self.shipping + self.taxes;
        self
    }

    /// One line as sold.
    pub fn of_line(order: &Order, line: &OrderLine) -> Sales {
        let (gross, discount) = without_tax(order, line);
        Sales {
            units: line.quantity,
            gross_sales: gross,
            discounts: discount,
            taxes: line.tax_cents,
            ..Sales::default()
        }
        .close()
    }

    /// A whole order as sold, on its own day.
    pub fn of_order(order: &Order) -> Sales {
        let mut sales = Sales { orders: 1, ..Sales::default() };
        for line in &order.lines {
            sales += Sales::of_line(order, line);
        }
        sales.shipping += order.shipping_cents - if order.taxes_included { order.shipping_tax_cents } else { 0 };
        sales.taxes += order.shipping_tax_cents;
        sales.close()
    }

    /// One refund, on its own day: returns, and shipping and tax given back.
    pub fn of_refund(order: &Order, refund: &Refund) -> Sales {
        let mut sales = Sales::default();
        for line in &refund.lines {
            sales += Sales::of_returned_line(order, line);
        }
        let shipping_tax = refund.shipping_tax_cents;
        sales.shipping -= refund.shipping_cents - if order.taxes_included { shipping_tax } else { 0 };
        sales.taxes -= shipping_tax;
        sales.close()
    }

    /// One returned line of a refund.
    pub fn of_returned_line(order: &Order, line: &super::RefundLine) -> Sales {
        let value = line.subtotal_cents - if order.taxes_included { line.tax_cents } else { 0 };
        Sales { units: -line.quantity, returns: value, taxes: -line.tax_cents, ..Sales::default() }.close()
    }
}

/// A line's gross sales and discount without tax. Tax-inclusive prices hold
/// the tax of the discounted amount; both parts shrink by the same factor,
/// and the discount takes the rounding so that gross − discount is exact.
fn without_tax(order: &Order, line: &OrderLine) -> (i64, i64) {
    let gross = line.quantity * line.unit_price_cents;
    if !order.taxes_included || line.tax_cents == 0 {
        return (gross, line.discount_cents);
    }
    let discounted = gross - line.discount_cents;
    if discounted <= 0 {
        return (gross, line.discount_cents);
    }
    let net = discounted - line.tax_cents;
    let gross_ex = ((gross as i128 * net as i128 + discounted as i128 / 2) / discounted as i128) as i64;
    (gross_ex, gross_ex - net)
}

/// Something that moves a period's figures: a sale on its day, or a refund
/// on its day.
#[derive(Debug, Clone, Copy)]
pub enum Entry<'a> {
    /// An order placed on `day`.
    Sale {
        /// The shop's day it was placed.
        day: NaiveDate,
        /// The order.
        order: &'a Order,
    },
    /// A refund processed on `day`.
    Return {
        /// The shop's day it was processed.
        day: NaiveDate,
        /// Its order.
        order: &'a Order,
        /// The refund.
        refund: &'a Refund,
    },
}

impl Entry<'_> {
    /// The day it counts on.
    pub fn day(&self) -> NaiveDate {
        match self {
            Entry::Sale { day, .. } | Entry::Return { day, .. } => *day,
        }
    }

    /// Its figures.
    pub fn sales(&self) -> Sales {
        match self {
            Entry::Sale { order, .. } => Sales::of_order(order),
            Entry::Return { order, refund, .. } => Sales::of_refund(order, refund),
        }
    }

    /// Its order.
    pub fn order(&self) -> &Order {
        match self {
            Entry::Sale { order, .. } | Entry::Return { order, .. } => order,
        }
    }
}

/// What moved a range's figures: its sales and every refund processed in it,
/// whenever its order was placed.
#[derive(Debug, Clone)]
pub struct Ledger {
    range: DateRange,
    zone: Tz,
    orders: Vec<Order>,
}

impl Ledger {
    /// Reads the orders placed in `range` and the earlier ones refunded in it.
    pub async fn read(store: &dyn StoreData, range: DateRange) -> Result<Ledger, StoreError> {
        let (mut placed, earlier) = tokio::try_join!(store.orders(range), store.refunded_in(range))?;
        placed.extend(earlier);
        Ok(Ledger::of(placed, range, store.time_zone()))
    }

    /// A ledger over orders already read.
    pub fn of(orders: Vec<Order>, range: DateRange, zone: Tz) -> Ledger {
        Ledger { range, zone, orders }
    }

    /// Every sale and return of the range. A refund of a cancelled order is
    /// not a return: its sale never counted.
    pub fn entries(&self) -> impl Iterator<Item = Entry<'_>> {
        let (range, zone) = (self.range, self.zone);
        let inside = move |day: NaiveDate| day >= range.from && day < range.to;
        self.orders.iter().filter(|o| o.is_sale()).flat_map(move |order| {
            let day = local_day(order.created_at, zone);
            let sale = inside(day).then_some(Entry::Sale { day, order });
            let returns = order.refunds.iter().filter_map(move |refund| {
                let day = local_day(refund.created_at, zone);
                inside(day).then_some(Entry::Return { day, order, refund })
            });
            sale.into_iter().chain(returns)
        })
    }

    /// The range's totals.
    pub fn totals(&self) -> Sales {
        let mut total = Sales::default();
        for entry in self.entries() {
            total += entry.sales();
        }
        total
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::store::{OrderDiscount, OrderStatus, RefundLine};

    fn order(taxes_included: bool) -> Order {
        Order {
            id: 1,
            created_at: Utc.with_ymd_and_hms(2026, 10, 31, 23, 30, 0).unwrap(),
            customer_id: None,
            lines: vec![OrderLine {
                product_id: 1,
                variant_id: 1,
                quantity: 2,
                unit_price_cents: 6000,
                discount_cents: 1200,
                tax_cents: if taxes_included { 1800 } else { 2160 },
            }],
            discounts: vec![OrderDiscount { code: Some("SAVE10".into()), title: "SAVE10".into(), amount_cents: 1200 }],
            taxes_included,
            shipping_cents: 600,
            shipping_tax_cents: if taxes_included { 100 } else { 120 },
            refunds: vec![Refund {
                created_at: Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap(),
                lines: vec![RefundLine {
                    product_id: 1,
                    variant_id: 1,
                    quantity: 1,
                    subtotal_cents: 5400,
                    tax_cents: if taxes_included { 900 } else { 1080 },
                }],
                shipping_cents: 0,
                shipping_tax_cents: 0,
            }],
            status: OrderStatus::Closed,
        }
    }

    #[test]
    fn tax_exclusive_order() {
        let o = order(false);
        let s = Sales::of_order(&o);
        assert_eq!((s.gross_sales, s.discounts, s.net_sales, s.shipping, s.taxes), (12000, 1200, 10800, 600, 2280));
        assert_eq!(s.total_sales, 10800 + 600 + 2280);
        let r = Sales::of_refund(&o, &o.refunds[0]);
        assert_eq!((r.returns, r.net_sales, r.taxes, r.units), (5400, -5400, -1080, -1));
    }

    #[test]
    fn tax_inclusive_prices_lose_their_tax() {
        // 20 % VAT inside the prices: 120.00 gross, 12.00 off, 18.00 of the 108.00 is tax.
        let o = order(true);
        let s = Sales::of_order(&o);
        assert_eq!((s.gross_sales, s.discounts, s.net_sales), (10000, 1000, 9000));
        assert_eq!((s.shipping, s.taxes), (500, 1900));
        let r = Sales::of_refund(&o, &o.refunds[0]);
        assert_eq!(r.returns, 4500);
    }

    #[test]
    fn sales_and_returns_fall_on_their_own_shop_days() {
        let o = order(false);
        let zone: Tz = "Europe/Berlin".parse().unwrap();
        // 23:30 UTC on Oct 31 is Nov 1 in Berlin.
        let nov = DateRange {
            from: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        };
        let ledger = Ledger::of(vec![o.clone()], nov, zone);
        let t = ledger.totals();
        assert_eq!((t.orders, t.gross_sales, t.returns), (1, 12000, 5400));
        let in_utc = Ledger::of(vec![o], nov, Tz::UTC).totals();
        assert_eq!((in_utc.orders, in_utc.returns), (0, 5400), "in UTC the sale is October's");
    }
}
