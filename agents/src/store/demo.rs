//! The bundled demo shop: a deterministic generator of a realistic store.
//!
//! Every day's orders depend only on the seed and that day, so the history
//! does not shift as time passes: an analysis repeated next week sees the
//! same past. Seasonality (a November/December peak), weekends, repeat
//! customers, discount codes (a Black Friday code in late November) and
//! refunds are all in the data.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{Customer, DateRange, Order, OrderLine, OrderStatus, Product, StoreData, StoreError, Variant};

const CUSTOMERS: u64 = 1_800;
const ORDERS_PER_DAY: f64 = 24.0;

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
    let start = Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default());
    let mut seconds: Vec<i64> = (0..count).map(|_| rng.random_range(0..86_400)).collect();
    seconds.sort_unstable();
    seconds
        .into_iter()
        .enumerate()
        .map(|(k, second)| {
            let lines = (0..line_count(&mut rng)).map(|_| order_line(&mut rng, catalogue)).collect::<Vec<_>>();
            let gross: i64 = lines.iter().map(|l: &OrderLine| l.quantity * l.unit_price_cents).sum();
            let (discount_code, percent) = discount(&mut rng, black_friday_week);
            let discount_cents = gross * percent / 100;
            let refunded_cents = match rng.random_range(0..100) {
                0..=2 => gross - discount_cents,
                3..=4 => (gross - discount_cents) / 2,
                _ => 0,
            };
            // Repeat customers: low ids buy far more often than high ids.
            let customer_id = 1 + (CUSTOMERS as f64 * rng.random::<f64>().powi(2)) as u64;
            Order {
                id: day_number * 1_000 + k as u64,
                created_at: start + Duration::seconds(second),
                customer_id,
                lines,
                discount_code,
                discount_cents,
                refunded_cents,
                status: OrderStatus::Closed,
            }
        })
        .collect()
}

fn line_count(rng: &mut StdRng) -> usize {
    match rng.random_range(0..100) {
        0..=64 => 1,
        65..=89 => 2,
        _ => 3,
    }
}

fn order_line(rng: &mut StdRng, catalogue: &[Product]) -> OrderLine {
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
    }
}

fn discount(rng: &mut StdRng, black_friday_week: bool) -> (Option<String>, i64) {
    let roll = rng.random_range(0..100);
    match roll {
        _ if black_friday_week && roll < 45 => (Some("BFCM25".into()), 25),
        0..=7 => (Some("WELCOME10".into()), 10),
        8..=12 => (Some("SAVE15".into()), 15),
        _ => (None, 0),
    }
}

#[async_trait]
impl StoreData for DemoStore {
    fn currency(&self) -> &str {
        "USD"
    }

    async fn orders(&self, range: DateRange) -> Result<Vec<Order>, StoreError> {
        let mut catalogue = None;
        // The demo shop opened a year before `as_of`; nothing after it.
        let mut day = range.from.max(self.as_of - Duration::days(365));
        let end = range.to.min(self.as_of);
        let mut orders = Vec::new();
        while day < end {
            orders.extend(self.day_orders(day, &mut catalogue).iter().cloned());
            day += Duration::days(1);
        }
        // The last two days' orders are still being fulfilled.
        let recent = self.as_of - Duration::days(2);
        for order in orders.iter_mut().filter(|o| o.created_at.date_naive() >= recent) {
            order.status = OrderStatus::Open;
        }
        Ok(orders)
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
        let net = |orders: Vec<Order>| orders.iter().map(Order::net_cents).sum::<i64>();
        let july =
            net(store.orders(DateRange { from: day(2026, 7, 1), to: day(2026, 8, 1) }).await.unwrap_or_default());
        let dec =
            net(store.orders(DateRange { from: day(2026, 12, 1), to: day(2027, 1, 1) }).await.unwrap_or_default());
        assert!(dec as f64 > july as f64 * 1.4, "december {dec} vs july {july}");
    }

    #[tokio::test]
    async fn no_orders_after_as_of_or_before_opening() {
        let store = DemoStore::new(1, day(2026, 6, 1));
        let range = DateRange { from: day(2020, 1, 1), to: day(2030, 1, 1) };
        let orders = store.orders(range).await.unwrap_or_default();
        let first = orders.first().map(|o| o.created_at.date_naive());
        let last = orders.last().map(|o| o.created_at.date_naive());
        assert_eq!(first, Some(day(2025, 6, 1)));
        assert_eq!(last, Some(day(2026, 5, 31)));
    }
}
