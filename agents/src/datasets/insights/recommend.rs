//! Recommendations and the summary, as templates over the findings (P25:
//! at least one recommendation, every one resting on figures with their
//! statements):
//!
//! - a `HIGH` or `MEDIUM` value anomaly: check the value (an entry error?)
//!   or keep it out of averages and forecasts; one per column, two at most;
//! - a period anomaly: find what happened in that period before comparing
//!   it with the others; two at most;
//! - the steadiest falling trend: find what drives it and decide whether to
//!   counter it, with the line's next value; `HIGH` past a 25 % fall;
//! - the steadiest rising trend: plan for it to go on; `MEDIUM` past 25 %;
//! - nothing found: keep adding recent rows and ask again, so a change is
//!   caught early (and add a date column when there is none).
//!
//! Most urgent first, at most [`MAX_RECOMMENDATIONS`].

use super::spread::Overview;
use super::trends::PeriodTable;
use super::{
    Anomaly, AnomalyKind, Columns, Evidence, Recommendation, Severity, Trend, TrendDirection, figure, percent,
};

/// Recommendations given at most.
pub const MAX_RECOMMENDATIONS: usize = 5;
/// A change past which a trend's recommendation is more urgent.
const LARGE_CHANGE: f64 = 0.25;

/// The recommendations for these findings (see the module doc).
pub(crate) fn recommendations(anomalies: &[Anomaly], trends: &[Trend], overview: &Overview) -> Vec<Recommendation> {
    let mut found = Vec::new();
    let mut columns_seen: Vec<&str> = Vec::new();
    for anomaly in anomalies.iter().filter(|a| a.kind == AnomalyKind::Value && a.severity >= Severity::Medium) {
        if columns_seen.len() == 2 || columns_seen.contains(&anomaly.column.as_str()) {
            continue;
        }
        columns_seen.push(&anomaly.column);
        let when = anomaly.at.as_deref().map(|d| format!(" on {d}")).unwrap_or_default();
        found.push(Recommendation {
            priority: anomaly.severity,
            action: format!(
                "Check the `{}` value {}{when}: correct it if it is an entry or import error; if it is real, keep it \
                 out of averages and forecasts of `{}` and look into what caused it.",
                anomaly.column,
                figure(anomaly.value),
                anomaly.column
            ),
            rationale: anomaly.explanation.clone(),
            evidence: anomaly.evidence.clone(),
        });
    }
    for anomaly in anomalies.iter().filter(|a| a.kind == AnomalyKind::Period).take(2) {
        let period = anomaly.period.clone().unwrap_or_default();
        found.push(Recommendation {
            priority: anomaly.severity.max(Severity::Medium),
            action: format!(
                "Find what happened to `{}` in the period from {period} (a promotion, a stock-out, a price change, \
                 a bulk import?) before comparing that period with the others.",
                anomaly.column
            ),
            rationale: anomaly.explanation.clone(),
            evidence: anomaly.evidence.clone(),
        });
    }
    if let Some(falling) = trends.iter().find(|t| t.direction == TrendDirection::Down) {
        let large = falling.change.is_some_and(|c| c <= -LARGE_CHANGE);
        found.push(Recommendation {
            priority: if large { Severity::High } else { Severity::Medium },
            action: format!(
                "Find what drives the fall in `{}`{} and decide whether to counter it: at this pace the next {} \
                 averages {}.",
                falling.column,
                since(falling),
                falling.grain.noun(),
                figure(falling.next_value)
            ),
            rationale: falling.explanation.clone(),
            evidence: falling.evidence.clone(),
        });
    }
    if let Some(rising) = trends.iter().find(|t| t.direction == TrendDirection::Up) {
        let large = rising.change.is_some_and(|c| c >= LARGE_CHANGE);
        found.push(Recommendation {
            priority: if large { Severity::Medium } else { Severity::Low },
            action: format!(
                "Plan for `{}` to keep rising{}: at this pace the next {} averages {}; make sure stock, staff and \
                 budget keep up.",
                rising.column,
                since(rising),
                rising.grain.noun(),
                figure(rising.next_value)
            ),
            rationale: rising.explanation.clone(),
            evidence: rising.evidence.clone(),
        });
    }
    if found.is_empty() {
        found.push(Recommendation {
            priority: Severity::Low,
            action: "Nothing stands out: keep adding recent rows (with a date column, so changes over time can be \
                     followed) and ask for insights again, so a change is caught early."
                .to_owned(),
            rationale: format!(
                "No value lies far outside its column's range and no column moves clearly over time in these {} rows.",
                overview.rows
            ),
            evidence: vec![Evidence::read("rows", overview.rows as f64, &overview.sql)],
        });
    }
    found.sort_by(|a, b| b.priority.cmp(&a.priority));
    found.truncate(MAX_RECOMMENDATIONS);
    found
}

/// ` (+12.5 % since 2025-01-01)`, or nothing when the change is unknown.
fn since(trend: &Trend) -> String {
    trend.change.map(|c| format!(" ({} since {})", percent(c), trend.first_period)).unwrap_or_default()
}

/// One paragraph over everything found.
pub(crate) fn summary(
    overview: &Overview,
    columns: &Columns,
    periods: Option<&PeriodTable>,
    anomalies: &[Anomaly],
    trends: &[Trend],
) -> String {
    let measures = columns.measures.len();
    let mut text = format!(
        "{} rows and {measures} numeric column{} analysed",
        overview.rows,
        if measures == 1 { "" } else { "s" }
    );
    if let Some(table) = periods {
        text.push_str(&format!(
            ", by {} over `{}` ({} {}s with data)",
            table.grain.noun(),
            table.date_column,
            table.periods,
            table.grain.noun()
        ));
    }
    text.push_str(". ");
    let high = anomalies.iter().filter(|a| a.severity == Severity::High).count();
    text.push_str(&match anomalies.first() {
        None => "No anomalies.".to_owned(),
        Some(worst) => format!(
            "{} anomal{} ({high} high); the most severe: `{}` at {} against an expected {} to {}.",
            anomalies.len(),
            if anomalies.len() == 1 { "y" } else { "ies" },
            worst.column,
            figure(worst.value),
            figure(worst.expected_low),
            figure(worst.expected_high)
        ),
    });
    text.push(' ');
    text.push_str(&match trends.first() {
        None => "No trends.".to_owned(),
        Some(best) => format!(
            "{} trend{}; the steadiest: `{}` {}{}.",
            trends.len(),
            if trends.len() == 1 { "" } else { "s" },
            best.column,
            if best.direction == TrendDirection::Up { "up" } else { "down" },
            best.change.map(|c| format!(" {}", percent(c))).unwrap_or_default()
        ),
    });
    text
}
