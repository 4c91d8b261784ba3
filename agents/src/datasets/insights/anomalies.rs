//! Anomalies, of two kinds:
//!
//! - `VALUE`: a row's value outside its column's Tukey fences (the
//!   expected range, q1 − 1.5·IQR to q3 + 1.5·IQR). Step 4 of the module
//!   doc reads the [`EXTREMES`] furthest from the median of each column
//!   with any, for at most [`MAX_COLUMNS`] columns (those with the most).
//!   Severity by how far beyond the nearer quartile it lies, in IQRs:
//!   under 3 `LOW` (Tukey's "outside"), under 6 `MEDIUM` (his "far out"),
//!   else `HIGH`.
//! - `PERIOD`: a period whose average departs from the column's own
//!   least-squares line (so a steady rise is not an anomaly, but a month
//!   off it is) by a robust z-score over [`Z_LIMIT`] (Iglewicz and
//!   Hoaglin's cut-off), the residuals' median and robust scale the
//!   centre and spread; and by at least [`MATERIAL`] of the column's
//!   typical level, since a near-perfect series has a tiny scale and
//!   would make a rounding difference an anomaly. Needs [`MIN_PERIODS`].
//!   The expected range is the line plus the median residual ± 3.5 robust
//!   scales. Severity by |z|: under 6 `LOW`, under 10 `MEDIUM`, else `HIGH`.

use super::reader::{InsightsError, TableReader, literal};
use super::spread::Spread;
use super::stats::{self, Line};
use super::trends::{PeriodTable, Series};
use super::{Anomaly, AnomalyKind, Direction, Evidence, MAX_ANOMALIES, Severity, figure};
use crate::datasets::column::quote;

/// Columns whose extremes are read, at most (one scan each).
pub const MAX_COLUMNS: usize = 6;
/// Extremes read per column.
pub const EXTREMES: usize = 3;
/// Robust z-score beyond which a period is anomalous.
pub const Z_LIMIT: f64 = 3.5;
/// Smallest departure from the line worth reporting, as a share of the
/// column's median absolute period average.
pub const MATERIAL: f64 = 0.05;
/// Periods a column needs before its periods are judged.
pub const MIN_PERIODS: usize = 6;
/// How a robust scale is computed, for evidence.
const SCALE_HOW: &str = "1.4826 × MAD of the residuals (1.2533 × their mean absolute deviation when the MAD is 0)";
/// The normal distribution's IQR in σ: IQR / 1.349 estimates σ.
const IQR_PER_SIGMA: f64 = 1.349;

/// A value's severity by its distance beyond the nearer quartile, in IQRs.
pub fn value_severity(beyond_iqrs: f64) -> Severity {
    if beyond_iqrs >= 6.0 {
        Severity::High
    } else if beyond_iqrs >= 3.0 {
        Severity::Medium
    } else {
        Severity::Low
    }
}

/// A period's severity by its robust z-score.
pub fn period_severity(z: f64) -> Severity {
    let z = z.abs();
    if z >= 10.0 {
        Severity::High
    } else if z >= 6.0 {
        Severity::Medium
    } else {
        Severity::Low
    }
}

/// The columns whose extremes step 4 reads: with values beyond the fences,
/// the most such values first, at most [`MAX_COLUMNS`].
pub(crate) fn worth_a_look(spreads: &[Spread]) -> Vec<&Spread> {
    let mut chosen: Vec<&Spread> = spreads.iter().filter(|s| s.has_outliers() && s.below + s.above > 0).collect();
    chosen.sort_by(|a, b| (b.below + b.above).cmp(&(a.below + a.above)));
    chosen.truncate(MAX_COLUMNS);
    chosen
}

/// Step 4 for one column: its values furthest from the median beyond the
/// fences, each an anomaly, with the row's `date` when there is one.
pub(crate) async fn extremes(
    reader: &TableReader<'_>,
    spread: &Spread,
    date: Option<&str>,
) -> Result<Vec<Anomaly>, InsightsError> {
    let column = quote(&spread.name);
    let (low, high) = spread.fences();
    let dated = date.map(|d| format!(", {}", quote(d))).unwrap_or_default();
    let sql = format!(
        "SELECT {column}{dated} FROM data WHERE {column} < {} OR {column} > {} \
         ORDER BY abs({column} - {}) DESC LIMIT {EXTREMES}",
        literal(low),
        literal(high),
        literal(spread.quartiles.median),
    );
    let answer = reader.query(&sql).await?;
    let scale = spread.scale.unwrap_or(spread.quartiles.iqr() / IQR_PER_SIGMA);
    let mut found = Vec::new();
    for row in 0..answer.rows.rows.len() {
        let Some(value) = answer.number(row, 0) else { continue };
        let at = date.and_then(|_| answer.text(row, 1));
        found.push(value_anomaly(spread, value, at, scale, &answer.sql));
    }
    Ok(found)
}

fn value_anomaly(spread: &Spread, value: f64, at: Option<String>, scale: f64, sql: &str) -> Anomaly {
    let q = &spread.quartiles;
    let (low, high) = spread.fences();
    let iqr = q.iqr();
    let (direction, beyond, side, of_them) = if value > high {
        (Direction::Above, (value - q.q3) / iqr, "above", spread.above)
    } else {
        (Direction::Below, (q.q1 - value) / iqr, "below", spread.below)
    };
    let score = if scale > 0.0 { (value - q.median) / scale } else { 0.0 };
    let when = at.as_deref().map(|d| format!(" on {d}")).unwrap_or_default();
    let among = match of_them {
        0 | 1 => format!("It is the only value {side} the range."),
        n => format!("It is one of {n} values {side} the range."),
    };
    let explanation = format!(
        "`{}` is {}{when}, {side} its expected range of {} to {} (1.5 interquartile ranges beyond the quartiles {} \
         and {}): {} interquartile ranges beyond the {} quartile, a robust z-score of {}. {among}",
        spread.name,
        figure(value),
        figure(low),
        figure(high),
        figure(q.q1),
        figure(q.q3),
        figure(beyond),
        if direction == Direction::Above { "upper" } else { "lower" },
        figure(score),
    );
    let mut evidence = vec![Evidence::read(format!("`{}` value", spread.name), value, sql)];
    evidence.extend(spread.evidence());
    let extreme = if direction == Direction::Above { spread.max } else { spread.min };
    if let Some(extreme) = extreme {
        let label = if direction == Direction::Above { "largest" } else { "smallest" };
        evidence.push(Evidence::read(format!("{label} `{}`", spread.name), extreme, &spread.overview_sql));
    }
    if let Some(counts) = &spread.counts_sql {
        evidence.push(Evidence::read("values below the lower fence", spread.below as f64, counts));
        evidence.push(Evidence::read("values above the upper fence", spread.above as f64, counts));
    }
    Anomaly {
        kind: AnomalyKind::Value,
        column: spread.name.clone(),
        value,
        expected_low: low,
        expected_high: high,
        direction,
        severity: value_severity(beyond),
        score: super::finite(score),
        period: None,
        at,
        explanation,
        evidence,
    }
}

/// Periods off each column's line (see the module doc).
pub(crate) fn in_periods(table: &PeriodTable) -> Vec<Anomaly> {
    table.series.iter().flat_map(|series| series_anomalies(table, series)).collect()
}

fn series_anomalies(table: &PeriodTable, series: &Series) -> Vec<Anomaly> {
    if series.points.len() < MIN_PERIODS {
        return Vec::new();
    }
    let points: Vec<(f64, f64)> = series.points.iter().map(|p| (p.index as f64, p.value)).collect();
    let Some(line) = stats::least_squares(&points) else { return Vec::new() };
    let residuals: Vec<f64> = points.iter().map(|(x, y)| y - line.at(*x)).collect();
    let Some(center) = stats::median(&residuals) else { return Vec::new() };
    let Some(scale) = stats::robust_scale(&residuals, center) else { return Vec::new() };
    let levels: Vec<f64> = points.iter().map(|p| p.1.abs()).collect();
    let level = stats::median(&levels).unwrap_or(0.0);
    let mut found = Vec::new();
    for (point, residual) in series.points.iter().zip(&residuals) {
        let departure = residual - center;
        let z = departure / scale;
        if z.abs() <= Z_LIMIT || (level > 0.0 && departure.abs() < MATERIAL * level) {
            continue;
        }
        let expected = line.at(point.index as f64) + center;
        found.push(period_anomaly(table, series, point, &line, expected, scale, z));
    }
    found
}

fn period_anomaly(
    table: &PeriodTable,
    series: &Series,
    point: &super::trends::Point,
    line: &Line,
    expected: f64,
    scale: f64,
    z: f64,
) -> Anomaly {
    let (low, high) = (expected - Z_LIMIT * scale, expected + Z_LIMIT * scale);
    let direction = if z > 0.0 { Direction::Above } else { Direction::Below };
    let side = if z > 0.0 { "above" } else { "below" };
    let label = table.grain.label(point.start);
    let explanation = format!(
        "The average `{}` per row in {label} was {}, {side} the {} to {} expected from the column's {} line \
         through {} {}s (a robust z-score of {}).",
        series.column,
        figure(point.value),
        figure(low),
        figure(high),
        table.grain.adjective(),
        series.points.len(),
        table.grain.noun(),
        figure(z),
    );
    let sql = &table.sql;
    let fit = format!("least-squares line through the {} {} averages", series.points.len(), table.grain.adjective());
    let evidence = vec![
        Evidence::read(format!("average `{}` in {label}", series.column), point.value, sql),
        Evidence::derived("line's slope per period", line.slope, sql, fit.clone()),
        Evidence::derived("line's value there, plus the median residual", expected, sql, fit),
        Evidence::derived("robust scale of the residuals", scale, sql, SCALE_HOW),
        Evidence::derived("expected low", low, sql, "expected − 3.5 × robust scale"),
        Evidence::derived("expected high", high, sql, "expected + 3.5 × robust scale"),
        Evidence::derived("robust z-score", z, sql, "(value − expected) / robust scale"),
    ];
    Anomaly {
        kind: AnomalyKind::Period,
        column: series.column.clone(),
        value: point.value,
        expected_low: low,
        expected_high: high,
        direction,
        severity: period_severity(z),
        score: super::finite(z),
        period: Some(point.start.format("%Y-%m-%d").to_string()),
        at: None,
        explanation,
        evidence,
    }
}

/// Most severe first, then by |score|; at most [`MAX_ANOMALIES`].
pub(crate) fn rank(found: &mut Vec<Anomaly>) {
    found.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| b.score.abs().total_cmp(&a.score.abs())));
    found.truncate(MAX_ANOMALIES);
}
