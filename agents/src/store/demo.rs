//! The bundled demo shop: a deterministic generator of a realistic store.
//!
//! Every day's orders depend only on the seed and that day, so the history
//! does not shift as time passes: an analysis repeated next week sees the
//! same past. Seasonality (a November/December peak), weekends, repeat
//! customers and guest checkouts, discount codes (a Black Friday code in
//! late November, orders with two codes) and an automatic discount, sales
//! tax and shipping, refunds processed weeks after their order, cancelled
//! orders, a monthly wholesale order of more than 20 lines, a product with
//! more than 20 variants and an archived product are all in the data. The
//! shop keeps New York time, so its days shift with daylight saving time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{
    Customer, DateRange, Order, OrderDiscount, OrderLine, OrderStatus, Product, ProductStatus, Refund, RefundLine,
    StoreData, StoreError, Tz, Variant, midnight,
};

const CUSTOMERS: u64 = 1_800;
const ORDERS_PER_DAY: f64 = 24.0;
/// The demo shop's time zone (DST: its days are 23 or 25 hours twice a year).
pub const DEMO_TIME_ZONE: Tz = Tz::America__New_York;
/// Sales tax on goods and shipping, in basis points (prices exclude it).
const TAX_BPS: i64 = 800;
/// Flat shipping below the free-shipping threshold, in cents.
const SHIPPING_CENTS: i64 = 695;
/// Orders from this gross value ship free.
const FREE_SHIPPING_CENTS: i64 = 7_500;
/// The automatic (code-less) discount: this much off orders from 150.00.
const SPEND_AND_SAVE: (i64, i64) = (15_000, 1_500);
/// Refunds are processed at most this many days after their order.
const MAX_REFUND_DELAY_DAYS: i64 = 40;
/// The archived product (retired; stock left over, never sold now).
const ARCHIVED: &str = "Summer Espadrilles";
/// The product with more variants than one page of Shopify's nested connection.
const MANY_VARIANTS: &str = "Crew Socks";

/// (product type, title, base price in dollars, variant titles)
const CATALOGUE: &[(&str, &str, i64, &[&str])] = &[
    ("Apparel", "Classic Crew T-Shirt", 24, &["S", "M", "L", "XL"]),
    ("Apparel", "Heavyweight Hoodie", 59, &["S", "M", "L", "XL"]),
    ("Apparel", "Merino Beanie", 29, &["Charcoal", "Forest", "Rust"]),
    ("Apparel", "Linen Shirt", 64, &["S", "M", "L"]),
    ("Apparel", "Everyday Joggers", 49, &["S", "M", "L", "XL"]),
    ("Apparel", "Rain Shell Jacket", 129, &["S", "M", "L"]),
    ("Accessories", "Canvas Tote Bag", 19, &["Natural", "Black"]),
    ("Accessories", "Leather Card Wallet", 39, &["Tan", "Black"]),
    ("Accessories", "Wool Socks (3-pack)", 21, &["S/M", "L/XL"]),
    ("Accessories", "Roll-Top Backpack", 89, &["Olive", "Black"]),
    ("Accessories", "Baseball Cap", 27, &["Navy", "Sand"]),
    ("Home", "Stoneware Mug", 18, &["White", "Speckled"]),
    ("Home", "Soy Candle", 26, &["Cedar", "Fig", "Sea Salt"]),
    ("Home", "Linen Throw", 79, &["Oat", "Clay"]),
    ("Home", "Ceramic Planter", 34, &["Small", "Large"]),
    ("Home", "Cotton Bath Towel", 32, &["White", "Sage"]),
    ("Outdoor", "Insulated Bottle", 35, &["500 ml", "750 ml"]),
    ("Outdoor", "Camp Blanket", 69, &["Plaid", "Solid"]),
    ("Outdoor", "Trail Running Cap", 31, &["One size"]),
    ("Gifts", "Gift Card", 50, &["$50"]),
    (
        "Accessories",
        MANY_VARIANTS,
        12,
        &[
            "Black S", "Black M", "Black L", "Navy S", "Navy M", "Navy L", "Grey S", "Grey M", "Grey L", "Olive S",
            "Olive M", "Olive L", "Rust S", "Rust M", "Rust L", "Cream S", "Cream M", "Cream L", "Teal S", "Teal M",
            "Teal L", "Plum S", "Plum M", "Plum L",
        ],
    ),
    ("Apparel", ARCHIVED, 45, &["40", "42", "44"]),
];

/// Seasonality by calendar month (January first): holiday peak, summer dip.
const MONTH_FACTOR: [f64; 12] = [0.78, 0.74, 0.88, 0.94, 1.0, 0.93, 0.86, 0.9, 1.0, 1.08, 1.42, 1.58];

/// The demo shop as of a given day: orders up to (not including) `as_of`.
#[derive(Debug, Clone)]
pub struct DemoStore {
    seed: u64,
    as_of: NaiveDate,
}

impl DemoStore {
    /// The shop generated from `seed`, seen on `as_of`.
    pub fn new(seed: u64, as_of: NaiveDate) -> Self {
        Self { seed, as_of }
    }

    /// The catalogue (without stock, which depends on the day).
    fn catalogue(&self) -> Vec<Product> {
        let mut rng = StdRng::seed_from_u64(mix(self.seed, 0xC0FFEE));
        CATALOGUE
            .iter()
            .enumerate()
            .map(|(i, (kind, title, dollars, variants))| {
                let product_id = 1000 + i as u64;
                // Prices vary a little per seed so two demo shops differ.
                let price_cents = dollars * 100 + rng.random_range(-2..=2) * 100 - 1;
                Product {
                    id: product_id,
                    title: (*title).to_owned(),
                    product_type: (*kind).to_owned(),
                    description: format!("{title}: a {} staple, made to last.", kind.to_lowercase()),
                    status: if *title == ARCHIVED { ProductStatus::Archived } else { ProductStatus::Active },
                    variants: variants
                        .iter()
                        .enumerate()
                        .map(|(j, v)| Variant {
                            id: product_id * 100 + j as u64,
                            title: (*v).to_owned(),
                            sku: format!("DEMO-{product_id}-{j}"),
                            price_cents,
                            inventory_quantity: 0,
                        })
                        .collect(),
                }
            })
            .collect()
    }

    /// Orders of one day; cached, since a day's orders never change.
    /// `catalogue` is built only on a cache miss: most calls hit.
    fn day_orders(&self, day: NaiveDate, catalogue: &mut Option<Vec<Product>>) -> Arc<Vec<Order>> {
        type DayOrders = HashMap<(u64, NaiveDate), Arc<Vec<Order>>>;
        static CACHE: OnceLock<Mutex<DayOrders>> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        if let Some(hit) = cache.lock().ok().and_then(|c| c.get(&(self.seed, day)).cloned()) {
            return hit;
        }
        let catalogue = catalogue.get_or_insert_with(|| self.catalogue());
        let orders = Arc::new(generate_day(self.seed, day, catalogue));
        if let Ok(mut c) = cache.lock() {
            // Bounded: a few years of a handful of demo seeds.
            if c.len() > 20_000 {
                c.clear();
            }
            c.insert((self.seed, day), orders.clone());
        }
        orders
    }
}

impl DemoStore {
    /// Orders placed on the range's days that `keep` wants, as the shop
    /// stands on `as_of`: nothing from `as_of` on (refunds included), the
    /// last two days' orders still open. Only kept orders are cloned out of
    /// the day cache.
    fn placed(&self, range: DateRange, keep: impl Fn(&Order) -> bool) -> Vec<Order> {
        let mut catalogue = None;
        // The demo shop opened a year before `as_of`.
        let mut day = range.from.max(self.as_of - Duration::days(365));
        let end = range.to.min(self.as_of);
        let today = midnight(self.as_of, DEMO_TIME_ZONE);
        let recent = midnight(self.as_of - Duration::days(2), DEMO_TIME_ZONE);
        let mut orders = Vec::new();
        while day < end {
            for order in self.day_orders(day, &mut catalogue).iter().filter(|o| keep(o)) {
                let mut order = order.clone();
                order.refunds.retain(|r| r.created_at < today);
                if order.status != OrderStatus::Cancelled && order.created_at >= recent {
                    order.status = OrderStatus::Open;
                }
                orders.push(order);
            }
            day += Duration::days(1);
        }
        orders
    }
}

/// SplitMix64: turns (seed, salt) into an independent stream seed.
fn mix(seed: u64, salt: u64) -> u64 {
    let mut z = seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn generate_day(seed: u64, day: NaiveDate, catalogue: &[Product]) -> Vec<Order> {
    let day_number = day.num_days_from_ce() as u64;
    let mut rng = StdRng::seed_from_u64(mix(seed, day_number));
    let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
    let black_friday_week = day.month() == 11 && day.day() >= 24;
    let mut expected = ORDERS_PER_DAY * MONTH_FACTOR[day.month0() as usize];
    if weekend {
        expected *= 1.18;
    }
    if black_friday_week {
        expected *= 1.6;
    }
    let count = (expected * rng.random_range(0.8..1.2)).round() as u64;
    // The shop's day, in real seconds: 23 or 25 hours on DST changes.
    let start = midnight(day, DEMO_TIME_ZONE);
    let length = (midnight(day + Duration::days(1), DEMO_TIME_ZONE) - start).num_seconds();
    let mut seconds: Vec<i64> = (0..count).map(|_| rng.random_range(0..length)).collect();
    seconds.sort_unstable();
    let on_sale: Vec<&Product> = catalogue.iter().filter(|p| p.status == ProductStatus::Active).collect();
    let mut orders: Vec<Order> = seconds
        .into_iter()
        .enumerate()
        .map(|(k, second)| {
            let lines = (0..line_count(&mut rng)).map(|_| order_line(&mut rng, &on_sale)).collect::<Vec<_>>();
            let created_at = start + Duration::seconds(second);
            // Repeat customers: low ids buy far more often than high ids; about
            // one order in nine is a guest checkout.
            let customer_id =
                (rng.random_range(0..100) >= 11).then(|| 1 + (CUSTOMERS as f64 * rng.random::<f64>().powi(2)) as u64);
            let codes = discount(&mut rng, black_friday_week);
            let cancelled = rng.random_range(0..1000) < 12;
            let mut order = price(day_number * 1_000 + k as u64, created_at, customer_id, lines, &codes);
            order.status = if cancelled { OrderStatus::Cancelled } else { OrderStatus::Closed };
            if !cancelled {
                order.refunds = refunds(&mut rng, &order);
            }
            order
        })
        .collect();
    // A wholesale order on the 15th: more lines than one page of Shopify's
    // nested `lineItems` connection.
    if day.day() == 15 {
        let lines = on_sale
            .iter()
            .flat_map(|p| p.variants.iter().take(2).map(move |v| (p, v)))
            .take(24)
            .map(|(p, v)| OrderLine {
                product_id: p.id,
                variant_id: v.id,
                quantity: 6,
                unit_price_cents: v.price_cents,
                discount_cents: 0,
                tax_cents: 0,
            })
            .collect();
        let at = start + Duration::hours(11);
        let mut order = price(day_number * 1_000 + 999, at, Some(7), lines, &[]);
        order.status = OrderStatus::Closed;
        orders.push(order);
    }
    orders
}

/// Prices an order: discounts allocated to lines by value, tax per line and
/// on shipping, free shipping above the threshold.
fn price(
    id: u64,
    created_at: DateTime<Utc>,
    customer_id: Option<u64>,
    mut lines: Vec<OrderLine>,
    codes: &[(&str, i64)],
) -> Order {
    let gross: i64 = lines.iter().map(|l| l.quantity * l.unit_price_cents).sum();
    let mut discounts: Vec<OrderDiscount> = codes
        .iter()
        .map(|(code, percent)| OrderDiscount {
            code: Some((*code).to_owned()),
            title: (*code).to_owned(),
            amount_cents: gross * percent / 100,
        })
        .collect();
    if gross >= SPEND_AND_SAVE.0 {
        discounts.push(OrderDiscount {
            code: None,
            title: "Spend 150, save 15".into(),
            amount_cents: SPEND_AND_SAVE.1,
        });
    }
    let total_discount: i64 = discounts.iter().map(|d| d.amount_cents).sum::<i64>().min(gross);
    // Allocate by line value; the last line takes the rounding.
    let mut left = total_discount;
    let count = lines.len();
    for (i, line) in lines.iter_mut().enumerate() {
        let value = line.quantity * line.unit_price_cents;
        let share = if i + 1 == count { left } else { total_discount * value / gross.max(1) };
        line.discount_cents = share;
        left -= share;
        line.tax_cents = tax(value - share);
    }
    let shipping_cents = if gross >= FREE_SHIPPING_CENTS { 0 } else { SHIPPING_CENTS };
    Order {
        id,
        created_at,
        customer_id,
        lines,
        discounts,
        taxes_included: false,
        shipping_cents,
        shipping_tax_cents: tax(shipping_cents),
        refunds: Vec::new(),
        status: OrderStatus::Closed,
    }
}

fn tax(cents: i64) -> i64 {
    (cents * TAX_BPS + 5_000) / 10_000
}

/// About one order in twenty is refunded, days or weeks later: one line
/// returned, or the whole order with its shipping.
fn refunds(rng: &mut StdRng, order: &Order) -> Vec<Refund> {
    let roll = rng.random_range(0..100);
    if roll >= 5 || order.lines.is_empty() {
        return Vec::new();
    }
    let at = order.created_at + Duration::days(rng.random_range(3..=MAX_REFUND_DELAY_DAYS)) + Duration::hours(2);
    let whole = roll < 2;
    let returned = |l: &OrderLine| RefundLine {
        product_id: l.product_id,
        variant_id: l.variant_id,
        quantity: l.quantity,
        subtotal_cents: l.quantity * l.unit_price_cents - l.discount_cents,
        tax_cents: l.tax_cents,
    };
    let lines = if whole { order.lines.iter().map(returned).collect() } else { vec![returned(&order.lines[0])] };
    let (shipping_cents, shipping_tax_cents) =
        if whole { (order.shipping_cents, order.shipping_tax_cents) } else { (0, 0) };
    vec![Refund { created_at: at, lines, shipping_cents, shipping_tax_cents }]
}

fn line_count(rng: &mut StdRng) -> usize {
    match rng.random_range(0..100) {
        0..=64 => 1,
        65..=89 => 2,
        _ => 3,
    }
}

fn order_line(rng: &mut StdRng, catalogue: &[&Product]) -> OrderLine {
    // Zipf-like popularity: the first products sell most.
    let weights: f64 = (1..=catalogue.len()).map(|r| 1.0 / (r as f64).powf(0.9)).sum();
    let mut pick = rng.random::<f64>() * weights;
    let mut index = 0;
    for (i, _) in catalogue.iter().enumerate() {
        pick -= 1.0 / ((i + 1) as f64).powf(0.9);
        if pick <= 0.0 {
            index = i;
            break;
        }
        index = i;
    }
    let product = &catalogue[index];
    let variant = &product.variants[rng.random_range(0..product.variants.len())];
    OrderLine {
        product_id: product.id,
        variant_id: variant.id,
        quantity: if rng.random_range(0..100) < 82 { 1 } else { 2 },
        unit_price_cents: variant.price_cents,
        discount_cents: 0,
        tax_cents: 0,
    }
}

/// The codes of one order: most have none, some one, a few two (a welcome
/// code stacked with the VIP code).
fn discount(rng: &mut StdRng, black_friday_week: bool) -> Vec<(&'static str, i64)> {
    let roll = rng.random_range(0..100);
    match roll {
        _ if black_friday_week && roll < 45 => vec![("BFCM25", 25)],
        0..=7 => vec![("WELCOME10", 10)],
        8..=11 => vec![("SAVE15", 15)],
        12 => vec![("WELCOME10", 10), ("VIP5", 5)],
        _ => Vec::new(),
    }
}

#[async_trait]
impl StoreData for DemoStore {
    fn currency(&self) -> &str {
        "USD"
    }

    fn time_zone(&self) -> Tz {
        DEMO_TIME_ZONE
    }

    async fn orders(&self, range: DateRange) -> Result<Vec<Order>, StoreError> {
        Ok(self.placed(range, |_| true))
    }

    async fn refunded_in(&self, range: DateRange) -> Result<Vec<Order>, StoreError> {
        let earlier = DateRange { from: range.from - Duration::days(MAX_REFUND_DELAY_DAYS + 1), to: range.from };
        let today = midnight(self.as_of, DEMO_TIME_ZONE);
        let (start, end) = (range.start(DEMO_TIME_ZONE), range.end(DEMO_TIME_ZONE).min(today));
        Ok(self.placed(earlier, |o| o.refunds.iter().any(|r| r.created_at >= start && r.created_at < end)))
    }

    async fn products(&self) -> Result<Vec<Product>, StoreError> {
        let mut rng = StdRng::seed_from_u64(mix(self.seed, self.as_of.num_days_from_ce() as u64 ^ 0x5704));
        let mut products = self.catalogue();
        for variant in products.iter_mut().flat_map(|p| p.variants.iter_mut()) {
            // Mostly healthy stock, a few items nearly sold out, a few overstocked.
            variant.inventory_quantity = match rng.random_range(0..100) {
                0..=9 => rng.random_range(0..6),
                10..=84 => rng.random_range(20..90),
                _ => rng.random_range(250..400),
            };
        }
        Ok(products)
    }

    async fn customers(&self) -> Result<Vec<Customer>, StoreError> {
        const FIRST: &[&str] = &["Ada", "Ben", "Chloe", "Dev", "Elif", "Farah", "Gus", "Hana", "Ivo", "Jun"];
        const LAST: &[&str] = &["Okafor", "Lind", "Moreau", "Patel", "Sato", "Novak", "Reyes", "Berg"];
        Ok((1..=CUSTOMERS)
            .map(|id| {
                let first = FIRST[(id as usize * 7) % FIRST.len()];
                let last = LAST[(id as usize * 3) % LAST.len()];
                Customer {
                    id,
                    name: format!("{first} {last}"),
                    email: format!("{}.{}{id}@example.com", first.to_lowercase(), last.to_lowercase()),
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::local_day;
    use crate::store::sales::Ledger;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[tokio::test]
    async fn history_is_deterministic_and_does_not_shift() {
        let range = DateRange { from: day(2026, 3, 1), to: day(2026, 4, 1) };
        let a = DemoStore::new(7, day(2026, 6, 1)).orders(range).await.unwrap_or_default();
        let b = DemoStore::new(7, day(2026, 9, 1)).orders(range).await.unwrap_or_default();
        let other = DemoStore::new(8, day(2026, 6, 1)).orders(range).await.unwrap_or_default();
        assert!(a.len() > 400, "a month of a small shop: {}", a.len());
        assert_eq!(a, b);
        assert_ne!(a, other);
    }

    #[tokio::test]
    async fn holiday_season_outsells_summer() {
        let store = DemoStore::new(1, day(2027, 1, 1));
        let net = async |range| Ledger::read(&store, range).await.map(|l| l.totals().net_sales).unwrap_or_default();
        let july = net(DateRange { from: day(2026, 7, 1), to: day(2026, 8, 1) }).await;
        let dec = net(DateRange { from: day(2026, 12, 1), to: day(2027, 1, 1) }).await;
        assert!(dec as f64 > july as f64 * 1.4, "december {dec} vs july {july}");
    }

    #[tokio::test]
    async fn no_orders_after_as_of_or_before_opening() {
        let store = DemoStore::new(1, day(2026, 6, 1));
        let range = DateRange { from: day(2020, 1, 1), to: day(2030, 1, 1) };
        let orders = store.orders(range).await.unwrap_or_default();
        let first = orders.first().map(|o| local_day(o.created_at, DEMO_TIME_ZONE));
        let last = orders.last().map(|o| local_day(o.created_at, DEMO_TIME_ZONE));
        assert_eq!(first, Some(day(2025, 6, 1)));
        assert_eq!(last, Some(day(2026, 5, 31)));
        assert!(
            orders.iter().flat_map(|o| &o.refunds).all(|r| r.created_at < midnight(day(2026, 6, 1), DEMO_TIME_ZONE))
        );
    }

    #[tokio::test]
    async fn the_ugly_cases_are_in_the_data() {
        let store = DemoStore::new(1, day(2026, 12, 1));
        let orders = store.orders(DateRange { from: day(2026, 9, 1), to: day(2026, 12, 1) }).await.unwrap_or_default();
        assert!(orders.iter().any(|o| o.customer_id.is_none()), "guest checkouts");
        assert!(orders.iter().any(|o| o.lines.len() > 20), "an order longer than a page of line items");
        assert!(orders.iter().any(|o| o.codes().count() == 2), "an order with two codes");
        assert!(orders.iter().any(|o| o.discounts.iter().any(|d| d.code.is_none())), "an automatic discount");
        assert!(orders.iter().any(|o| o.status == OrderStatus::Cancelled), "cancelled orders");
        let late = orders.iter().flat_map(|o| o.refunds.iter().map(move |r| (o, r)));
        assert!(
            late.into_iter().any(|(o, r)| local_day(r.created_at, DEMO_TIME_ZONE).month()
                != local_day(o.created_at, DEMO_TIME_ZONE).month()),
            "a refund in a later month than its order"
        );
        let products = store.products().await.unwrap_or_default();
        assert!(products.iter().any(|p| p.variants.len() > 20));
        assert!(products.iter().any(|p| p.status == ProductStatus::Archived));
    }
}
