//! Statistics tools (the `QuantitativeAnalysis` department's): the model
//! never does arithmetic, these do.

use async_trait::async_trait;
use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::store::CustomerStats;
use super::{ToolError, TypedTool};

/// A labelled value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Point {
    /// Bucket or item label.
    pub label: String,
    /// Value.
    pub value: f64,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn percent_change(from: f64, to: f64) -> Option<f64> {
    (from != 0.0).then(|| round2((to - from) / from.abs() * 100.0))
}

fn non_empty(points: &[Point]) -> Result<(), ToolError> {
    if points.is_empty() || points.iter().any(|p| !p.value.is_finite()) {
        return Err(ToolError::InvalidInput("a non-empty series of finite values is required".into()));
    }
    Ok(())
}

/// Input of `stats.trend`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TrendInput {
    /// The series, oldest first.
    pub points: Vec<Point>,
}

/// Output of `stats.trend`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TrendOutput {
    /// Sum of values.
    pub total: f64,
    /// Mean value.
    pub mean: f64,
    /// Last vs first, in percent (`None` when the first is zero).
    pub change_pct: Option<f64>,
    /// Least-squares slope per bucket.
    pub slope: f64,
    /// Slope per bucket as a percentage of the mean.
    pub slope_pct_of_mean: f64,
    /// Highest bucket.
    pub best: Point,
    /// Lowest bucket.
    pub worst: Point,
}

/// `stats.trend`: total, mean, change, least-squares slope, best and worst bucket.
pub struct Trend;

#[async_trait]
impl TypedTool for Trend {
    type Input = TrendInput;
    type Output = TrendOutput;
    const NAME: &'static str = "stats.trend";
    const DESCRIPTION: &'static str =
        "Total, mean, first-to-last change, least-squares slope, best and worst point of a series.";

    async fn call(&self, input: &TrendInput) -> Result<TrendOutput, ToolError> {
        let points = &input.points;
        non_empty(points)?;
        let n = points.len() as f64;
        let total: f64 = points.iter().map(|p| p.value).sum();
        let mean = total / n;
        let x_mean = (n - 1.0) / 2.0;
        let (mut num, mut den) = (0.0, 0.0);
        for (i, p) in points.iter().enumerate() {
            num += (i as f64 - x_mean) * (p.value - mean);
            den += (i as f64 - x_mean).powi(2);
        }
        let slope = if den == 0.0 { 0.0 } else { num / den };
        let by_value = |a: &&Point, b: &&Point| a.value.total_cmp(&b.value);
        let best = points.iter().max_by(by_value).cloned().unwrap_or_else(|| points[0].clone());
        let worst = points.iter().min_by(by_value).cloned().unwrap_or_else(|| points[0].clone());
        Ok(TrendOutput {
            total: round2(total),
            mean: round2(mean),
            change_pct: percent_change(points[0].value, points[points.len() - 1].value),
            slope: round2(slope),
            slope_pct_of_mean: if mean == 0.0 { 0.0 } else { round2(slope / mean * 100.0) },
            best,
            worst,
        })
    }

    fn summarize(output: &TrendOutput) -> String {
        format!("total {}, change {:?}%, slope {}", output.total, output.change_pct, output.slope)
    }
}

/// Input of `stats.compare`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CompareInput {
    /// This period's value.
    pub current: f64,
    /// The previous period's value.
    pub previous: f64,
}

/// Output of `stats.compare`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CompareOutput {
    /// current − previous.
    pub change: f64,
    /// Change in percent of previous (`None` when previous is zero).
    pub change_pct: Option<f64>,
}

/// `stats.compare`: absolute and relative change between two values.
pub struct Compare;

#[async_trait]
impl TypedTool for Compare {
    type Input = CompareInput;
    type Output = CompareOutput;
    const NAME: &'static str = "stats.compare";
    const DESCRIPTION: &'static str = "Absolute and percentage change from a previous value to a current one.";

    async fn call(&self, input: &CompareInput) -> Result<CompareOutput, ToolError> {
        if !input.current.is_finite() || !input.previous.is_finite() {
            return Err(ToolError::InvalidInput("values must be finite".into()));
        }
        Ok(CompareOutput {
            change: round2(input.current - input.previous),
            change_pct: percent_change(input.previous, input.current),
        })
    }

    fn summarize(output: &CompareOutput) -> String {
        format!("change {} ({:?}%)", output.change, output.change_pct)
    }
}

/// Input of `stats.rank`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RankInput {
    /// Items to rank.
    pub items: Vec<Point>,
    /// How many to return at each end.
    pub top: usize,
}

/// Output of `stats.rank`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RankOutput {
    /// Highest values, best first.
    pub top: Vec<Point>,
    /// Lowest values, worst first.
    pub bottom: Vec<Point>,
    /// Share of the total held by `top`, in percent.
    pub top_share_pct: f64,
}

/// `stats.rank`: top and bottom items and the top's share of the total.
pub struct Rank;

#[async_trait]
impl TypedTool for Rank {
    type Input = RankInput;
    type Output = RankOutput;
    const NAME: &'static str = "stats.rank";
    const DESCRIPTION: &'static str = "Top and bottom N items by value and the top N's share of the total.";

    async fn call(&self, input: &RankInput) -> Result<RankOutput, ToolError> {
        non_empty(&input.items)?;
        let mut items = input.items.clone();
        items.sort_by(|a, b| b.value.total_cmp(&a.value).then(a.label.cmp(&b.label)));
        let n = input.top.clamp(1, items.len());
        let total: f64 = items.iter().map(|p| p.value).sum();
        let top: Vec<Point> = items[..n].to_vec();
        let top_sum: f64 = top.iter().map(|p| p.value).sum();
        let bottom: Vec<Point> = items.iter().rev().take(n).cloned().collect();
        Ok(RankOutput { top, bottom, top_share_pct: if total == 0.0 { 0.0 } else { round2(top_sum / total * 100.0) } })
    }

    fn summarize(output: &RankOutput) -> String {
        format!("top {} hold {}%", output.top.len(), output.top_share_pct)
    }
}

/// A customer segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Segment {
    /// `NEW`, `LOYAL`, `RETURNING`, `AT_RISK`, `LAPSED`.
    pub name: String,
    /// Customers in it.
    pub customers: i64,
    /// Their net spend, in cents.
    pub revenue_cents: i64,
    /// Share of all spend, in percent.
    pub revenue_share_pct: f64,
}

/// Input of `stats.segments`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SegmentsInput {
    /// Customer activity.
    pub customers: Vec<CustomerStats>,
    /// The day recency is measured from.
    pub as_of: NaiveDate,
}

/// Output of `stats.segments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SegmentsOutput {
    /// Segments in a fixed order.
    pub segments: Vec<Segment>,
}

/// Recency/frequency segments of `customers` as of `as_of`.
pub(crate) fn segment(customers: &[CustomerStats], as_of: NaiveDate) -> SegmentsOutput {
    const NAMES: [&str; 5] = ["NEW", "LOYAL", "RETURNING", "AT_RISK", "LAPSED"];
    let mut counts = [(0i64, 0i64); 5];
    for c in customers {
        let recency = (as_of - c.last_order).num_days();
        let tenure = (as_of - c.first_order).num_days();
        let index = match (recency, c.orders) {
            (r, _) if r > 120 => 4,
            (r, n) if r > 60 && n >= 2 => 3,
            (_, n) if n >= 4 => 1,
            (_, n) if n >= 2 => 2,
            _ if tenure <= 60 => 0,
            _ => 4,
        };
        counts[index].0 += 1;
        counts[index].1 += c.spend_cents;
    }
    let total: i64 = counts.iter().map(|c| c.1).sum();
    SegmentsOutput {
        segments: NAMES
            .iter()
            .zip(counts)
            .map(|(name, (customers, revenue))| Segment {
                name: (*name).into(),
                customers,
                revenue_cents: revenue,
                revenue_share_pct: if total == 0 { 0.0 } else { round2(revenue as f64 / total as f64 * 100.0) },
            })
            .collect(),
    }
}

/// `stats.segments`: recency/frequency segments.
pub struct Segments;

#[async_trait]
impl TypedTool for Segments {
    type Input = SegmentsInput;
    type Output = SegmentsOutput;
    const NAME: &'static str = "stats.segments";
    const DESCRIPTION: &'static str =
        "Splits customers into NEW, LOYAL, RETURNING, AT_RISK and LAPSED by recency and frequency.";

    async fn call(&self, input: &SegmentsInput) -> Result<SegmentsOutput, ToolError> {
        Ok(segment(&input.customers, input.as_of))
    }

    fn summarize(output: &SegmentsOutput) -> String {
        output.segments.iter().map(|s| format!("{} {}", s.name, s.customers)).collect::<Vec<_>>().join(", ")
    }
}

/// Which way a point is unusual.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AnomalyKind {
    /// Far above what such a day usually brings (a sale, a viral post).
    Spike,
    /// Far below it (an outage, a broken checkout, a stock-out).
    Collapse,
}

/// An unusual point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Outlier {
    /// Its label.
    pub label: String,
    /// Its value.
    pub value: f64,
    /// What such a point usually is: the median of its weekday (daily
    /// series with date labels) or of the whole series.
    pub expected: f64,
    /// Robust z-score: distance from the expected value in scaled MADs.
    pub z: f64,
    /// Spike or collapse.
    pub kind: AnomalyKind,
    /// Why it stands out, in words.
    pub explanation: String,
}

/// Input of `stats.anomalies`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AnomaliesInput {
    /// The series (daily series labelled `YYYY-MM-DD` are compared weekday
    /// by weekday).
    pub points: Vec<Point>,
    /// |robust z| at or above which a point is unusual (3.5 is the usual
    /// cut-off for the modified z-score).
    pub threshold: f64,
}

/// Output of `stats.anomalies`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AnomaliesOutput {
    /// Median of the series.
    pub median: f64,
    /// Median absolute deviation of the points from their expected values.
    pub mad: f64,
    /// Whether weekdays were compared with their own kind.
    pub weekday_seasonality: bool,
    /// Points at or beyond the threshold, largest |z| first.
    pub outliers: Vec<Outlier>,
}

/// `stats.anomalies`: robust outliers of a series (median and MAD, weekday
/// by weekday): a spike does not hide itself by inflating the spread, and a
/// near-zero day stands out as much as a tripled one.
pub struct Anomalies;

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 0 { (values[mid - 1] + values[mid]) / 2.0 } else { values[mid] }
}

/// The expected value of each point: its weekday's median when every label
/// is a date and each weekday has at least three points, else the series'.
fn expectations(points: &[Point]) -> (Vec<f64>, bool) {
    use chrono::Datelike;
    let days: Option<Vec<usize>> = points
        .iter()
        .map(|p| {
            NaiveDate::parse_from_str(&p.label, "%Y-%m-%d").ok().map(|d| d.weekday().num_days_from_monday() as usize)
        })
        .collect();
    if let Some(days) = days.filter(|d| (0..7).all(|w| d.iter().filter(|x| **x == w).count() >= 3)) {
        let mut by_day: Vec<Vec<f64>> = vec![Vec::new(); 7];
        for (p, d) in points.iter().zip(&days) {
            by_day[*d].push(p.value);
        }
        let medians: Vec<f64> = by_day.iter_mut().map(|v| median(v)).collect();
        return (days.iter().map(|d| medians[*d]).collect(), true);
    }
    let whole = median(&mut points.iter().map(|p| p.value).collect::<Vec<_>>());
    (vec![whole; points.len()], false)
}

#[async_trait]
impl TypedTool for Anomalies {
    type Input = AnomaliesInput;
    type Output = AnomaliesOutput;
    const NAME: &'static str = "stats.anomalies";
    const DESCRIPTION: &'static str = "Unusual points of a series by a robust z-score (median and MAD, daily \
         series weekday by weekday): spikes and collapses, each explained.";

    async fn call(&self, input: &AnomaliesInput) -> Result<AnomaliesOutput, ToolError> {
        non_empty(&input.points)?;
        let (expected, weekday_seasonality) = expectations(&input.points);
        let residuals: Vec<f64> = input.points.iter().zip(&expected).map(|(p, e)| p.value - e).collect();
        let mut deviations: Vec<f64> = residuals.iter().map(|r| r.abs()).collect();
        let mad = median(&mut deviations);
        // A series flat on most days has MAD 0; fall back to the mean absolute
        // deviation (scaled to match), as the modified z-score does.
        let scale = if mad > 0.0 {
            mad / 0.6745
        } else {
            let mean_ad = residuals.iter().map(|r| r.abs()).sum::<f64>() / residuals.len() as f64;
            mean_ad * 1.2533
        };
        let mut outliers: Vec<Outlier> = input
            .points
            .iter()
            .zip(&expected)
            .zip(&residuals)
            .filter_map(|((p, e), r)| {
                let z = if scale > 0.0 { r / scale } else { 0.0 };
                if z.abs() < input.threshold {
                    return None;
                }
                let kind = if z > 0.0 { AnomalyKind::Spike } else { AnomalyKind::Collapse };
                let usual = if weekday_seasonality { "a usual day of that weekday" } else { "a usual point" };
                let ratio = if *e > 0.0 { p.value / e } else { f64::INFINITY };
                let explanation = match kind {
                    AnomalyKind::Spike => format!("{:.1}× {usual} ({e:.2}): a sale, a campaign or a bulk order", ratio),
                    AnomalyKind::Collapse if ratio < 0.2 => format!(
                        "{:.0}% of {usual} ({e:.2}): near zero, as when checkout, payments or the storefront fail",
                        ratio * 100.0
                    ),
                    AnomalyKind::Collapse => {
                        format!(
                            "{:.0}% of {usual} ({e:.2}): a slump (stock-outs, traffic, a refund wave)",
                            ratio * 100.0
                        )
                    }
                };
                Some(Outlier {
                    label: p.label.clone(),
                    value: p.value,
                    expected: round2(*e),
                    z: round2(z),
                    kind,
                    explanation,
                })
            })
            .collect();
        outliers.sort_by(|a, b| b.z.abs().total_cmp(&a.z.abs()));
        let whole = median(&mut input.points.iter().map(|p| p.value).collect::<Vec<_>>());
        Ok(AnomaliesOutput { median: round2(whole), mad: round2(mad), weekday_seasonality, outliers })
    }

    fn summarize(output: &AnomaliesOutput) -> String {
        format!("{} outliers", output.outliers.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(values: &[f64]) -> Vec<Point> {
        values.iter().enumerate().map(|(i, v)| Point { label: i.to_string(), value: *v }).collect()
    }

    #[tokio::test]
    async fn trend_of_a_straight_line() {
        let out = Trend.call(&TrendInput { points: series(&[10.0, 20.0, 30.0]) }).await.ok();
        let out = out.map(|o| (o.total, o.slope, o.change_pct, o.best.value, o.worst.value));
        assert_eq!(out, Some((60.0, 10.0, Some(200.0), 30.0, 10.0)));
        assert!(Trend.call(&TrendInput { points: vec![] }).await.is_err());
    }

    #[tokio::test]
    async fn one_spike_is_an_anomaly() {
        let mut values = vec![10.0; 20];
        values[7] = 40.0;
        let out = Anomalies.call(&AnomaliesInput { points: series(&values), threshold: 3.5 }).await.ok();
        assert_eq!(out.map(|o| o.outliers.iter().map(|p| p.label.clone()).collect::<Vec<_>>()), Some(vec!["7".into()]));
    }

    /// Eight weeks of a shop that sells more at weekends, with noise, a Black
    /// Friday at four times a normal Friday and an outage day near zero.
    #[tokio::test]
    async fn spikes_and_collapses_are_found_weekday_by_weekday() {
        let start = NaiveDate::from_ymd_opt(2026, 10, 5).unwrap_or_default(); // a Monday
        let points: Vec<Point> = (0..56)
            .map(|i| {
                let day = start + chrono::Duration::days(i);
                let weekend = i % 7 >= 5;
                let noise = [0.93, 1.04, 0.98, 1.07, 0.96, 1.02, 1.0][(i * 3 % 7) as usize];
                let mut value = if weekend { 2000.0 } else { 1000.0 } * noise;
                if day == NaiveDate::from_ymd_opt(2026, 11, 27).unwrap_or_default() {
                    value = 4000.0;
                }
                if day == NaiveDate::from_ymd_opt(2026, 10, 21).unwrap_or_default() {
                    value = 30.0;
                }
                Point { label: day.to_string(), value }
            })
            .collect();
        let out = Anomalies.call(&AnomaliesInput { points, threshold: 3.5 }).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(out.weekday_seasonality);
        let found: Vec<(&str, AnomalyKind)> = out.outliers.iter().map(|o| (o.label.as_str(), o.kind)).collect();
        assert!(found.contains(&("2026-11-27", AnomalyKind::Spike)), "{found:?}");
        assert!(found.contains(&("2026-10-21", AnomalyKind::Collapse)), "{found:?}");
        // Weekends are twice a weekday but normal for a weekend: not outliers.
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(out.outliers.iter().all(|o| !o.explanation.is_empty()));
    }
}
