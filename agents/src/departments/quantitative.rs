//! `QuantitativeAnalysis`: turns datasets into figures through the stats
//! tools. Every figure cites the data call and the statistics call.

use async_trait::async_trait;
use chrono::NaiveDate;
use serde_json::{Value, json};

use super::{Datasets, DepartmentAgent, Findings, TaskContext, dataset};
use crate::Department;
use crate::plan::{Granularity, Intent};
use crate::result::{KeyFigure, Provenance, Visualization};
use crate::tools::{
    Anomalies, AnomaliesInput, Compare, CompareInput, CustomerActivityOutput, DiscountUsageOutput, InventoryOutput,
    Point, ProductSalesOutput, Rank, RankInput, SalesByPeriodOutput, Segments, SegmentsInput, TaskFailure, ToolRunner,
    Trend, TrendInput, major,
};

/// Computes the numbers.
pub struct QuantitativeAgent;

struct Sheet {
    findings: Findings,
}

impl Sheet {
    fn figure(&mut self, key: &str, label: &str, value: f64, unit: &str, sources: &[&Provenance]) {
        self.findings.figures.push(KeyFigure {
            key: key.into(),
            label: label.into(),
            value: (value * 100.0).round() / 100.0,
            unit: unit.into(),
            provenance: sources.iter().map(|p| (*p).clone()).collect(),
        });
    }

    fn fact(&mut self, key: &str, value: impl Into<Value>) {
        self.findings.facts.insert(key.into(), value.into());
    }
}

/// "2026-08" → "Aug 2026"; other labels unchanged.
fn pretty(label: &str, granularity: Granularity) -> String {
    match granularity {
        Granularity::Month => NaiveDate::parse_from_str(&format!("{label}-01"), "%Y-%m-%d")
            .map(|d| d.format("%b %Y").to_string())
            .unwrap_or_else(|_| label.to_owned()),
        _ => label.to_owned(),
    }
}

async fn revenue(
    task: &TaskContext,
    data: &Datasets,
    tools: &mut ToolRunner,
    s: &mut Sheet,
) -> Result<(), TaskFailure> {
    let (sales_set, previous_set) = (dataset(data, "sales")?, dataset(data, "previous_sales")?);
    let sales: SalesByPeriodOutput = sales_set.typed()?;
    let previous: SalesByPeriodOutput = previous_set.typed()?;
    let g = task.period.granularity;
    let points: Vec<Point> =
        sales.buckets.iter().map(|b| Point { label: pretty(&b.label, g), value: major(b.net_cents) }).collect();
    let (trend, trend_call) = tools.call(&Trend, TrendInput { points: points.clone() }).await?;
    let compare = CompareInput { current: major(sales.totals.net_cents), previous: major(previous.totals.net_cents) };
    let (revenue_change, revenue_call) = tools.call(&Compare, compare).await?;
    let compare = CompareInput { current: sales.totals.orders as f64, previous: previous.totals.orders as f64 };
    let (orders_change, orders_call) = tools.call(&Compare, compare).await?;
    let t = &sales.totals;
    let d = &sales_set.provenance;
    s.figure("net_revenue", "Net revenue", major(t.net_cents), &sales.currency, &[d]);
    s.figure("gross_sales", "Gross sales", major(t.gross_cents), &sales.currency, &[d]);
    s.figure("discounts", "Discounts", major(t.discount_cents), &sales.currency, &[d]);
    s.figure("refunds", "Refunds", major(t.refund_cents), &sales.currency, &[d]);
    s.figure("orders", "Orders", t.orders as f64, "orders", &[d]);
    s.figure(
        "average_order_value",
        "Average order value (net)",
        major(t.net_cents) / (t.orders.max(1) as f64),
        &sales.currency,
        &[d],
    );
    s.figure(
        "previous_net_revenue",
        "Net revenue, previous period",
        major(previous.totals.net_cents),
        &sales.currency,
        &[&previous_set.provenance],
    );
    if let Some(pct) = revenue_change.change_pct {
        s.figure(
            "net_revenue_change_pct",
            "Net revenue vs previous period",
            pct,
            "%",
            &[d, &previous_set.provenance, &revenue_call],
        );
    }
    if let Some(pct) = orders_change.change_pct {
        s.figure(
            "orders_change_pct",
            "Orders vs previous period",
            pct,
            "%",
            &[d, &previous_set.provenance, &orders_call],
        );
    }
    s.figure("revenue_slope_pct", "Trend per period (share of mean)", trend.slope_pct_of_mean, "%", &[d, &trend_call]);
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        s.figure("first_period_revenue", &format!("Net revenue {}", first.label), first.value, &sales.currency, &[d]);
        s.figure("last_period_revenue", &format!("Net revenue {}", last.label), last.value, &sales.currency, &[d]);
        s.fact("first_period", first.label.clone());
        s.fact("last_period", last.label.clone());
    }
    s.figure(
        "best_period_revenue",
        &format!("Best period ({})", trend.best.label),
        trend.best.value,
        &sales.currency,
        &[d, &trend_call],
    );
    s.figure(
        "worst_period_revenue",
        &format!("Weakest period ({})", trend.worst.label),
        trend.worst.value,
        &sales.currency,
        &[d, &trend_call],
    );
    s.fact("best_period", trend.best.label.clone());
    s.fact("worst_period", trend.worst.label.clone());
    let rows: Vec<Value> = sales
        .buckets
        .iter()
        .map(|b| json!({ "period": pretty(&b.label, g), "netRevenue": major(b.net_cents), "orders": b.orders }))
        .collect();
    s.findings.visualizations.push(Visualization::new(
        "Net revenue per period",
        "LINE",
        ("period", "Period"),
        ("netRevenue", &format!("Net revenue ({})", sales.currency)),
        rows.clone(),
    ));
    s.findings.visualizations.push(Visualization::new(
        "Orders per period",
        "BAR",
        ("period", "Period"),
        ("orders", "Orders"),
        rows,
    ));
    Ok(())
}

async fn products(data: &Datasets, tools: &mut ToolRunner, s: &mut Sheet, currency: &str) -> Result<(), TaskFailure> {
    let set = dataset(data, "product_sales")?;
    let sales: ProductSalesOutput = set.typed()?;
    let items: Vec<Point> =
        sales.products.iter().map(|p| Point { label: p.title.clone(), value: major(p.net_cents) }).collect();
    let (rank, rank_call) = tools.call(&Rank, RankInput { items, top: 5 }).await?;
    let d = &set.provenance;
    if let (Some(top), Some(slow)) = (rank.top.first(), rank.bottom.first()) {
        s.figure(
            "top_product_revenue",
            &format!("Net revenue of {}", top.label),
            top.value,
            currency,
            &[d, &rank_call],
        );
        s.figure(
            "slowest_product_revenue",
            &format!("Net revenue of {}", slow.label),
            slow.value,
            currency,
            &[d, &rank_call],
        );
        let inventory = sales.products.iter().find(|p| p.title == slow.label).map(|p| p.inventory).unwrap_or(0);
        s.figure("slowest_product_inventory", &format!("Stock of {}", slow.label), inventory as f64, "units", &[d]);
        s.fact("top_product", top.label.clone());
        s.fact("slowest_product", slow.label.clone());
    }
    s.figure("top5_share_pct", "Top five products' share of revenue", rank.top_share_pct, "%", &[d, &rank_call]);
    let rows: Vec<Value> = sales
        .products
        .iter()
        .take(10)
        .map(|p| json!({ "product": p.title, "netRevenue": major(p.net_cents) }))
        .collect();
    s.findings.visualizations.push(Visualization::new(
        "Top products by net revenue",
        "BAR",
        ("product", "Product"),
        ("netRevenue", &format!("Net revenue ({currency})")),
        rows,
    ));
    Ok(())
}

async fn customers(
    task: &TaskContext,
    data: &Datasets,
    tools: &mut ToolRunner,
    s: &mut Sheet,
    currency: &str,
) -> Result<(), TaskFailure> {
    let set = dataset(data, "customers")?;
    let activity: CustomerActivityOutput = set.typed()?;
    let active = activity.customers.len();
    let (segments, call) =
        tools.call(&Segments, SegmentsInput { customers: activity.customers, as_of: task.as_of }).await?;
    let d = &set.provenance;
    s.figure("active_customers", "Customers with an order in 12 months", active as f64, "customers", &[d]);
    for seg in &segments.segments {
        let key = seg.name.to_lowercase();
        s.figure(
            &format!("{key}_customers"),
            &format!("{} customers", seg.name),
            seg.customers as f64,
            "customers",
            &[d, &call],
        );
        s.figure(
            &format!("{key}_revenue"),
            &format!("{} revenue", seg.name),
            major(seg.revenue_cents),
            currency,
            &[d, &call],
        );
        s.figure(
            &format!("{key}_revenue_share_pct"),
            &format!("{} share of revenue", seg.name),
            seg.revenue_share_pct,
            "%",
            &[d, &call],
        );
    }
    let rows: Vec<Value> =
        segments.segments.iter().map(|g| json!({ "segment": g.name, "customers": g.customers })).collect();
    s.findings.visualizations.push(Visualization::new(
        "Customers per segment",
        "BAR",
        ("segment", "Segment"),
        ("customers", "Customers"),
        rows,
    ));
    Ok(())
}

fn inventory(data: &Datasets, s: &mut Sheet) -> Result<(), TaskFailure> {
    let set = dataset(data, "inventory")?;
    let stock: InventoryOutput = set.typed()?;
    let d = &set.provenance;
    let at_risk: Vec<_> = stock.items.iter().filter(|i| i.days_of_cover.is_some_and(|c| c < 14.0)).collect();
    let overstocked: Vec<_> =
        stock.items.iter().filter(|i| i.days_of_cover.is_none_or(|c| c > 120.0) && i.on_hand > 0).collect();
    s.figure("at_risk_variants", "Variants selling out within 14 days", at_risk.len() as f64, "variants", &[d]);
    s.figure(
        "overstocked_variants",
        "Variants with over 120 days of stock",
        overstocked.len() as f64,
        "variants",
        &[d],
    );
    if let Some(urgent) = at_risk.first() {
        s.figure(
            "most_urgent_days",
            &format!("Days of cover, {}", urgent.title),
            urgent.days_of_cover.unwrap_or(0.0),
            "days",
            &[d],
        );
        s.fact("most_urgent", urgent.title.clone());
    }
    if let Some(over) = overstocked
        .iter()
        .max_by(|a, b| a.days_of_cover.unwrap_or(f64::MAX).total_cmp(&b.days_of_cover.unwrap_or(f64::MAX)))
    {
        s.figure(
            "most_overstocked_days",
            &format!("Days of cover, {}", over.title),
            over.days_of_cover.unwrap_or(999.0),
            "days",
            &[d],
        );
        s.fact("most_overstocked", over.title.clone());
        s.fact("most_overstocked_product_id", over.product_id);
    }
    let rows: Vec<Value> =
        stock.items.iter().take(10).map(|i| json!({ "variant": i.title, "daysOfCover": i.days_of_cover })).collect();
    s.findings.visualizations.push(Visualization::new(
        "Days of cover, most urgent variants",
        "BAR",
        ("variant", "Variant"),
        ("daysOfCover", "Days of cover"),
        rows,
    ));
    Ok(())
}

fn discounts(data: &Datasets, s: &mut Sheet, currency: &str) -> Result<(), TaskFailure> {
    let set = dataset(data, "discounts")?;
    let usage: DiscountUsageOutput = set.typed()?;
    let d = &set.provenance;
    let (with, without): (Vec<_>, Vec<_>) = usage.codes.iter().partition(|c| c.code != "(none)");
    let with_orders: i64 = with.iter().map(|c| c.orders).sum();
    let all_orders = with_orders + without.iter().map(|c| c.orders).sum::<i64>();
    let with_value: i64 = with.iter().map(|c| c.average_order_cents * c.orders).sum();
    s.figure(
        "discounted_order_share_pct",
        "Orders with a discount code",
        with_orders as f64 * 100.0 / all_orders.max(1) as f64,
        "%",
        &[d],
    );
    s.figure("discount_cost", "Discounts granted", major(with.iter().map(|c| c.discount_cents).sum()), currency, &[d]);
    s.figure(
        "aov_with_code",
        "Average order with a code (before discount)",
        major(with_value / with_orders.max(1)),
        currency,
        &[d],
    );
    s.figure(
        "aov_without_code",
        "Average order without a code",
        major(without.first().map(|c| c.average_order_cents).unwrap_or(0)),
        currency,
        &[d],
    );
    s.fact("top_code", with.first().map(|c| c.code.clone()).unwrap_or_else(|| "none".into()));
    let rows: Vec<Value> = usage.codes.iter().map(|c| json!({ "code": c.code, "orders": c.orders })).collect();
    s.findings.visualizations.push(Visualization::new(
        "Orders per discount code",
        "BAR",
        ("code", "Code"),
        ("orders", "Orders"),
        rows,
    ));
    Ok(())
}

async fn anomalies(data: &Datasets, tools: &mut ToolRunner, s: &mut Sheet, currency: &str) -> Result<(), TaskFailure> {
    let set = dataset(data, "sales")?;
    let sales: SalesByPeriodOutput = set.typed()?;
    let points: Vec<Point> =
        sales.buckets.iter().map(|b| Point { label: b.label.clone(), value: major(b.net_cents) }).collect();
    let (out, call) = tools.call(&Anomalies, AnomaliesInput { points, threshold: 2.0 }).await?;
    let d = &set.provenance;
    s.figure("anomalous_days", "Days outside the usual range", out.outliers.len() as f64, "days", &[d, &call]);
    s.figure("daily_mean_revenue", "Mean daily net revenue", out.mean, currency, &[d, &call]);
    if let Some(top) = out.outliers.first() {
        s.figure("largest_anomaly_revenue", &format!("Net revenue on {}", top.label), top.value, currency, &[d, &call]);
        s.fact("largest_anomaly", top.label.clone());
    }
    s.fact("outliers", serde_json::to_value(&out.outliers).unwrap_or_default());
    let rows: Vec<Value> =
        sales.buckets.iter().map(|b| json!({ "day": b.label, "netRevenue": major(b.net_cents) })).collect();
    s.findings.visualizations.push(Visualization::new(
        "Daily net revenue",
        "LINE",
        ("day", "Day"),
        ("netRevenue", &format!("Net revenue ({currency})")),
        rows,
    ));
    Ok(())
}

#[async_trait]
impl DepartmentAgent for QuantitativeAgent {
    fn department(&self) -> Department {
        Department::QuantitativeAnalysis
    }

    async fn work(&self, task: &TaskContext, tools: &mut ToolRunner) -> Result<Value, TaskFailure> {
        let data: Datasets = task.upstream(Department::DataRetrieval)?;
        let currency = task.store.currency().to_owned();
        let mut sheet = Sheet { findings: Findings { currency: currency.clone(), ..Findings::default() } };
        let s = &mut sheet;
        match task.intent {
            Intent::RevenueTrend => revenue(task, &data, tools, s).await?,
            Intent::TopProducts => products(&data, tools, s, &currency).await?,
            Intent::CustomerSegments => customers(task, &data, tools, s, &currency).await?,
            Intent::InventoryRisk => inventory(&data, s)?,
            Intent::DiscountOpportunities => discounts(&data, s, &currency)?,
            Intent::Anomalies => anomalies(&data, tools, s, &currency).await?,
        }
        serde_json::to_value(sheet.findings).map_err(|e| TaskFailure::Infrastructure(e.into()))
    }
}
