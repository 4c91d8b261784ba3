//! `QuantitativeAnalysis`: turns datasets into figures through the stats
//! tools. Every figure cites the data call and the statistics call.

use async_trait::async_trait;
use chrono::NaiveDate;
use serde_json::{Value, json};

use super::{Datasets, DepartmentAgent, Findings, TaskContext, dataset};
use crate::Department;
use crate::plan::{Granularity, Intent};
use crate::result::{KeyFigure, Provenance, Visualization};
use crate::store::ProductStatus;
use crate::tools::{
    Anomalies, AnomaliesInput, AnomalyKind, Compare, CompareInput, CustomerSegmentsOutput, DiscountUsageOutput,
    InventoryOutput, Point, ProductSalesOutput, Rank, RankInput, SalesByPeriodOutput, TaskFailure, ToolRunner, Trend,
    TrendInput, major,
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

/// Why the previous period is missing from the answer.
fn history_warning(task: &TaskContext) -> String {
    let first = task.store.readable_from().map(|d| d.to_string()).unwrap_or_else(|| "recently".into());
    format!(
        "No comparison with the previous period ({} – {}): the store lets us read orders only from {first}. \
         Grant the app read_all_orders to compare (Shopify serves 60 days of orders without it).",
        task.period.previous.from,
        task.period.previous.to - chrono::Duration::days(1),
    )
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
    let sales_set = dataset(data, "sales")?;
    let sales: SalesByPeriodOutput = sales_set.typed()?;
    let g = task.period.granularity;
    let points: Vec<Point> =
        sales.buckets.iter().map(|b| Point { label: pretty(&b.label, g), value: major(b.sales.net_sales) }).collect();
    let (trend, trend_call) = tools.call(&Trend, TrendInput { points: points.clone() }).await?;
    let t = &sales.totals.sales;
    let d = &sales_set.provenance;
    let c = &sales.currency;
    // Shopify's names and definitions (ARCHITECTURE.md, "Sales figures").
    s.figure("net_revenue", "Net sales", major(t.net_sales), c, &[d]);
    s.figure("gross_sales", "Gross sales", major(t.gross_sales), c, &[d]);
    s.figure("discounts", "Discounts", major(t.discounts), c, &[d]);
    s.figure("refunds", "Returns", major(t.returns), c, &[d]);
    s.figure("shipping", "Shipping charges", major(t.shipping), c, &[d]);
    s.figure("taxes", "Taxes", major(t.taxes), c, &[d]);
    s.figure("total_sales", "Total sales", major(t.total_sales), c, &[d]);
    s.figure("orders", "Orders", t.orders as f64, "orders", &[d]);
    s.figure("average_order_value", "Average order value", major(t.average_order_value()), c, &[d]);
    // No comparison period when the store withholds its history: say so
    // rather than compare with an empty (partial) period.
    if let Some(previous_set) = data.get("previous_sales") {
        let previous: SalesByPeriodOutput = previous_set.typed()?;
        let p = &previous.totals.sales;
        let compare = CompareInput { current: major(t.net_sales), previous: major(p.net_sales) };
        let (revenue_change, revenue_call) = tools.call(&Compare, compare).await?;
        let compare = CompareInput { current: t.orders as f64, previous: p.orders as f64 };
        let (orders_change, orders_call) = tools.call(&Compare, compare).await?;
        let pd = &previous_set.provenance;
        s.figure("previous_net_revenue", "Net sales, previous period", major(p.net_sales), c, &[pd]);
        if let Some(pct) = revenue_change.change_pct {
            s.figure("net_revenue_change_pct", "Net sales vs previous period", pct, "%", &[d, pd, &revenue_call]);
        }
        if let Some(pct) = orders_change.change_pct {
            s.figure("orders_change_pct", "Orders vs previous period", pct, "%", &[d, pd, &orders_call]);
        }
    } else {
        s.findings.warnings.push(history_warning(task));
    }
    s.figure("revenue_slope_pct", "Trend per period (share of mean)", trend.slope_pct_of_mean, "%", &[d, &trend_call]);
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        s.figure("first_period_revenue", &format!("Net sales {}", first.label), first.value, c, &[d]);
        s.figure("last_period_revenue", &format!("Net sales {}", last.label), last.value, c, &[d]);
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
        .map(|b| json!({ "period": pretty(&b.label, g), "netSales": major(b.sales.net_sales), "orders": b.sales.orders }))
        .collect();
    s.findings.visualizations.push(Visualization::new(
        "Net sales per period",
        "LINE",
        ("period", "Period"),
        ("netSales", &format!("Net sales ({})", sales.currency)),
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
        sales.products.iter().map(|p| Point { label: p.title.clone(), value: major(p.net_sales) }).collect();
    let (rank, rank_call) = tools.call(&Rank, RankInput { items, top: 5 }).await?;
    let d = &set.provenance;
    if let (Some(top), Some(slow)) = (rank.top.first(), rank.bottom.first()) {
        s.figure("top_product_revenue", &format!("Net sales of {}", top.label), top.value, currency, &[d, &rank_call]);
        s.figure(
            "slowest_product_revenue",
            &format!("Net sales of {}", slow.label),
            slow.value,
            currency,
            &[d, &rank_call],
        );
        let inventory = sales.products.iter().find(|p| p.title == slow.label).map(|p| p.inventory).unwrap_or(0);
        s.figure("slowest_product_inventory", &format!("Stock of {}", slow.label), inventory as f64, "units", &[d]);
        s.fact("top_product", top.label.clone());
        s.fact("slowest_product", slow.label.clone());
    }
    s.figure("top5_share_pct", "Top five products' share of net sales", rank.top_share_pct, "%", &[d, &rank_call]);
    let rows: Vec<Value> =
        sales.products.iter().take(10).map(|p| json!({ "product": p.title, "netSales": major(p.net_sales) })).collect();
    s.findings.visualizations.push(Visualization::new(
        "Top products by net sales",
        "BAR",
        ("product", "Product"),
        ("netSales", &format!("Net sales ({currency})")),
        rows,
    ));
    Ok(())
}

fn customers(data: &Datasets, s: &mut Sheet, currency: &str) -> Result<(), TaskFailure> {
    let set = dataset(data, "customers")?;
    let segments: CustomerSegmentsOutput = set.typed()?;
    let d = &set.provenance;
    s.figure(
        "active_customers",
        "Customers with an order in 12 months",
        segments.active_customers as f64,
        "customers",
        &[d],
    );
    // Guests are counted apart: they are orders, not customers.
    s.figure("guest_orders", "Guest checkout orders", segments.guests.orders as f64, "orders", &[d]);
    s.figure("guest_net_sales", "Guest checkout net sales", major(segments.guests.net_sales), currency, &[d]);
    for seg in &segments.segments {
        let key = seg.name.to_lowercase();
        s.figure(
            &format!("{key}_customers"),
            &format!("{} customers", seg.name),
            seg.customers as f64,
            "customers",
            &[d],
        );
        s.figure(
            &format!("{key}_revenue"),
            &format!("{} net sales", seg.name),
            major(seg.revenue_cents),
            currency,
            &[d],
        );
        s.figure(
            &format!("{key}_revenue_share_pct"),
            &format!("{} share of customers' net sales", seg.name),
            seg.revenue_share_pct,
            "%",
            &[d],
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
    // An archived product is no longer sold: its stock is a write-off
    // question, not overstock to discount.
    let overstocked: Vec<_> = stock
        .items
        .iter()
        .filter(|i| i.status != ProductStatus::Archived)
        .filter(|i| i.days_of_cover.is_none_or(|c| c > 120.0) && i.on_hand > 0)
        .collect();
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
    let codes: Vec<_> = with.iter().filter(|c| !c.automatic).collect();
    let discounted_value: i64 = with.iter().map(|c| c.average_order_cents * c.orders).sum();
    let discounted_credits: i64 = with.iter().map(|c| c.orders).sum();
    s.figure(
        "discounted_order_share_pct",
        "Orders with a discount",
        usage.discounted_orders as f64 * 100.0 / usage.orders.max(1) as f64,
        "%",
        &[d],
    );
    s.figure("discount_cost", "Discounts", major(usage.discounts), currency, &[d]);
    s.figure("codes_in_use", "Discount codes in use", codes.len() as f64, "codes", &[d]);
    s.figure(
        "aov_with_code",
        "Average order with a discount (gross sales)",
        major(discounted_value / discounted_credits.max(1)),
        currency,
        &[d],
    );
    s.figure(
        "aov_without_code",
        "Average order without a discount (gross sales)",
        major(without.first().map(|c| c.average_order_cents).unwrap_or(0)),
        currency,
        &[d],
    );
    s.fact("top_code", codes.first().map(|c| c.code.clone()).unwrap_or_else(|| "none".into()));
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
        sales.buckets.iter().map(|b| Point { label: b.label.clone(), value: major(b.sales.net_sales) }).collect();
    let (out, call) = tools.call(&Anomalies, AnomaliesInput { points, threshold: 3.5 }).await?;
    let d = &set.provenance;
    let count = |kind| out.outliers.iter().filter(|o| o.kind == kind).count() as f64;
    s.figure("anomalous_days", "Days outside the usual range", out.outliers.len() as f64, "days", &[d, &call]);
    s.figure("spike_days", "Unusually strong days", count(AnomalyKind::Spike), "days", &[d, &call]);
    s.figure("collapse_days", "Unusually weak days", count(AnomalyKind::Collapse), "days", &[d, &call]);
    s.figure("daily_mean_revenue", "Median daily net sales", out.median, currency, &[d, &call]);
    if let Some(top) = out.outliers.first() {
        s.figure("largest_anomaly_revenue", &format!("Net sales on {}", top.label), top.value, currency, &[d, &call]);
        s.fact("largest_anomaly", top.label.clone());
        s.fact("largest_anomaly_explanation", top.explanation.clone());
    }
    s.fact("outliers", serde_json::to_value(&out.outliers).unwrap_or_default());
    let rows: Vec<Value> =
        sales.buckets.iter().map(|b| json!({ "day": b.label, "netSales": major(b.sales.net_sales) })).collect();
    s.findings.visualizations.push(Visualization::new(
        "Daily net sales",
        "LINE",
        ("day", "Day"),
        ("netSales", &format!("Net sales ({currency})")),
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
            Intent::CustomerSegments => customers(&data, s, &currency)?,
            Intent::InventoryRisk => inventory(&data, s)?,
            Intent::DiscountOpportunities => discounts(&data, s, &currency)?,
            Intent::Anomalies => anomalies(&data, tools, s, &currency).await?,
        }
        serde_json::to_value(sheet.findings).map_err(|e| TaskFailure::Infrastructure(e.into()))
    }
}
