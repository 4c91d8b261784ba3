//! Insights over a dataset (seed 001 §6, P22–P26): statistical anomalies,
//! trends, recommendations and a summary, every figure with the statement
//! it came from.
//!
//! The figures come from a handful of aggregate statements over the
//! dataset's table, each through the same validator and read-only
//! execution as `runSql` ([`reader`]); the table is never loaded whole:
//!
//! 1. Overview (one scan): rows; per numeric column its count, minimum and
//!    maximum; the date column's first and last day ([`spread`]).
//! 2. Sample (one scan): the numeric columns of at most [`SAMPLE_ROWS`]
//!    rows, every k-th row (SQLite's `rowid`, else `row_number() OVER ()`),
//!    all rows when there are no more. The quartiles and the median
//!    absolute deviation are computed from it ([`stats`]). Why a sample:
//!    an exact quartile needs a sort per column and per statistic
//!    (PostgreSQL's `percentile_cont` sorts each column once for the
//!    quartiles and again for the MAD; SQLite has no percentile and an
//!    `ORDER BY … OFFSET` per quartile is a sort each), which at a million
//!    rows and a dozen columns is well past P26's five seconds; one scan
//!    reading 10,000 evenly spaced rows is not, and a quartile of 10,000
//!    values is within about half a percent of the distribution's spread of
//!    the exact one, far inside the 1.5-IQR fences it feeds. Tables up to
//!    10,000 rows (every test here) get exact figures on both engines.
//! 3. Outliers (one scan, only for columns whose minimum or maximum lies
//!    beyond Tukey's fences): how many values lie below and above, exactly,
//!    over every row.
//! 4. Extremes (one top-N scan per such column, at most
//!    [`anomalies::MAX_COLUMNS`]): the values furthest from the median,
//!    with their row's date when there is a date column.
//! 5. Periods (one grouped scan, with a date column): per day, week or month
//!    (by the span, [`periods`]) each numeric column's average per row —
//!    robust to partial first and last periods and to months of unequal
//!    length, where a sum is not. Periods departing from the column's own
//!    least-squares line by a robust z-score over 3.5 are anomalies;
//!    columns whose line is significant and material are trends ([`trends`]).
//!
//! Recommendations and the summary are templates over the findings
//! ([`recommend`]); so are the explanations (`written_by` says so): no
//! model writes here, and no model does arithmetic anywhere.
//!
//! The job that runs this and stores the result on the dataset is
//! [`job`]; between statements it records progress and looks for a
//! cancel request.

mod anomalies;
pub mod job;
mod periods;
mod reader;
mod recommend;
mod spread;
mod stats;
mod trends;

#[cfg(test)]
mod tests;

use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use periods::Grain;
pub use reader::{Answered, InsightsError, TableReader};

use super::column::{ColumnSpec, ColumnType};
use crate::llm::OFFLINE_AUTHOR;

/// Rows the sample of step 2 reads at most (also the row cap insights'
/// statements run with).
pub const SAMPLE_ROWS: usize = 10_000;
/// Numeric columns analysed at most; the rest are named in the notes.
pub const MAX_MEASURES: usize = 16;
/// Anomalies reported at most, the most severe first.
pub const MAX_ANOMALIES: usize = 20;
/// Trends P24 asks for when the data has them.
pub const WANTED_TRENDS: usize = 3;

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    /// Worth knowing.
    Low,
    /// Worth a look.
    Medium,
    /// Look now.
    High,
}

/// What an anomaly is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AnomalyKind {
    /// A row's value outside its column's Tukey fences.
    Value,
    /// A period whose average departs from the column's line.
    Period,
}

/// Which side of the expected range an anomaly lies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Direction {
    /// Above the range.
    Above,
    /// Below the range.
    Below,
}

/// Which way a trend goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TrendDirection {
    /// Rising.
    Up,
    /// Falling.
    Down,
}

/// A figure and the statement it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    /// What the figure is.
    pub label: String,
    /// The figure.
    pub value: f64,
    /// The statement (over `data`, as `runSql` would take it) whose result
    /// it is or was computed from.
    pub sql: String,
    /// How it follows from that result, when it is not read off it.
    pub derivation: Option<String>,
}

impl Evidence {
    /// A figure read off `sql`'s result.
    pub fn read(label: impl Into<String>, value: f64, sql: &str) -> Self {
        Self { label: label.into(), value: finite(value), sql: sql.to_owned(), derivation: None }
    }

    /// A figure computed from `sql`'s result as `how` says.
    pub fn derived(label: impl Into<String>, value: f64, sql: &str, how: impl Into<String>) -> Self {
        Self { label: label.into(), value: finite(value), sql: sql.to_owned(), derivation: Some(how.into()) }
    }
}

/// Something out of the ordinary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Anomaly {
    /// A value or a period.
    pub kind: AnomalyKind,
    /// The numeric column.
    pub column: String,
    /// The value (a period's: its average per row).
    pub value: f64,
    /// The lower end of the expected range.
    pub expected_low: f64,
    /// The upper end of the expected range.
    pub expected_high: f64,
    /// Above or below it.
    pub direction: Direction,
    /// By distance (see [`anomalies`]).
    pub severity: Severity,
    /// Robust z-score: (value − expected centre) / robust scale.
    pub score: f64,
    /// A period's first day (`YYYY-MM-DD`).
    pub period: Option<String>,
    /// A value's row's date, when the table has a date column.
    pub at: Option<String>,
    /// In plain words.
    pub explanation: String,
    /// The figures behind it.
    pub evidence: Vec<Evidence>,
}

/// A column moving one way over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trend {
    /// The numeric column (its average per row, per period).
    pub column: String,
    /// Up or down.
    pub direction: TrendDirection,
    /// The periods it was measured over.
    pub grain: Grain,
    /// Periods with data.
    pub periods: u32,
    /// The first period's first day.
    pub first_period: String,
    /// The last period's first day.
    pub last_period: String,
    /// The first period's average.
    pub first_value: f64,
    /// The last period's average.
    pub last_value: f64,
    /// (last − first) / |first|; `None` when the first is 0.
    pub change: Option<f64>,
    /// The least-squares line's change per period.
    pub slope: f64,
    /// The line's R², 0–1: how steady the movement is; trends rank by it.
    pub r_squared: f64,
    /// The line's value one period after the last.
    pub next_value: f64,
    /// In plain words.
    pub explanation: String,
    /// The figures behind it.
    pub evidence: Vec<Evidence>,
}

/// Something to do about the findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recommendation {
    /// How soon.
    pub priority: Severity,
    /// What to do.
    pub action: String,
    /// Why, from the findings.
    pub rationale: String,
    /// The figures it rests on.
    pub evidence: Vec<Evidence>,
}

/// A dataset version's insights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetInsights {
    /// The dataset version they describe.
    pub version: i32,
    /// When they were computed.
    pub generated_at: DateTime<Utc>,
    /// Rows of the table.
    pub row_count: u64,
    /// The column placing rows in time, if any.
    pub date_column: Option<String>,
    /// The periods trends and period anomalies use, with a date column.
    pub grain: Option<Grain>,
    /// The numeric columns analysed.
    pub measures: Vec<String>,
    /// One paragraph.
    pub summary: String,
    /// Most severe first.
    pub anomalies: Vec<Anomaly>,
    /// Steadiest first.
    pub trends: Vec<Trend>,
    /// How many trends there are and, when fewer than three, why.
    pub trend_note: String,
    /// At least one; most urgent first.
    pub recommendations: Vec<Recommendation>,
    /// What was left out or approximated, and why.
    pub notes: Vec<String>,
    /// Who wrote the words: the offline rules' templates.
    pub written_by: String,
    /// Statements run.
    pub statements: u32,
    /// Milliseconds the work took.
    pub elapsed_ms: u64,
}

/// Where a running computation reports between statements.
#[async_trait::async_trait]
pub trait Checkpoint: Send {
    /// `progress` (0–100) reached; an error (such as
    /// [`InsightsError::Stopped`]) ends the work.
    async fn reached(&mut self, progress: i32) -> Result<(), InsightsError>;
}

/// A checkpoint that never stops the work (tests, benchmarks).
pub struct Unwatched;

#[async_trait::async_trait]
impl Checkpoint for Unwatched {
    async fn reached(&mut self, _progress: i32) -> Result<(), InsightsError> {
        Ok(())
    }
}

/// The columns analysed: the numeric ones (identifiers aside, at most
/// [`MAX_MEASURES`]) and the first date or timestamp column.
pub(crate) struct Columns {
    pub(crate) measures: Vec<String>,
    pub(crate) date: Option<String>,
    pub(crate) notes: Vec<String>,
}

impl Columns {
    fn of(columns: &[ColumnSpec]) -> Self {
        let mut notes = Vec::new();
        let identifiers: Vec<&str> =
            columns.iter().filter(|c| c.kind.is_numeric() && is_identifier(&c.name)).map(|c| c.name.as_str()).collect();
        if !identifiers.is_empty() {
            notes.push(format!("{} left out as identifiers, not measures.", names(&identifiers)));
        }
        let mut measures: Vec<String> =
            columns.iter().filter(|c| c.kind.is_numeric() && !is_identifier(&c.name)).map(|c| c.name.clone()).collect();
        if measures.len() > MAX_MEASURES {
            let rest: Vec<&str> = measures[MAX_MEASURES..].iter().map(String::as_str).collect();
            notes.push(format!("Only the first {MAX_MEASURES} numeric columns were analysed; not {}.", names(&rest)));
            measures.truncate(MAX_MEASURES);
        }
        let date = columns.iter().find(|c| matches!(c.kind, ColumnType::Date | ColumnType::Timestamp));
        Self { measures, date: date.map(|c| c.name.clone()), notes }
    }
}

/// Whether a numeric column names rows rather than measures them (`id`,
/// `order_id`, `customer id`, `orderId`): its "trend" would be the order
/// rows were numbered in.
fn is_identifier(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let camel = name.len() > 2 && name.ends_with("Id") && name[..name.len() - 2].ends_with(|c: char| c.is_lowercase());
    lower == "id" || [" id", "_id", "-id"].iter().any(|end| lower.ends_with(end)) || camel
}

/// `` `a`, `b` and `c` ``.
pub(crate) fn names(list: &[&str]) -> String {
    let quoted: Vec<String> = list.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// `x` as a sentence shows it: at most two decimals, no trailing zeros.
pub(crate) fn figure(x: f64) -> String {
    let text = format!("{:.2}", finite(x));
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_owned() } else { text };
    if text == "-0" { "0".to_owned() } else { text }
}

/// A share as a signed percentage: `+12.5 %`.
pub(crate) fn percent(share: f64) -> String {
    let value = figure(share * 100.0);
    if share > 0.0 { format!("+{value} %") } else { format!("{value} %") }
}

/// `x`, or 0 when it is not finite (JSON and GraphQL have no NaN).
pub(crate) fn finite(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

/// Computes the insights of `reader`'s dataset (see the module doc),
/// reporting to `checkpoint` between statements.
pub async fn analyze(
    reader: &TableReader<'_>,
    checkpoint: &mut dyn Checkpoint,
) -> Result<DatasetInsights, InsightsError> {
    let started = Instant::now();
    let columns = Columns::of(&reader.table().columns);
    let mut notes = columns.notes.clone();
    checkpoint.reached(5).await?;
    let overview = spread::overview(reader, &columns).await?;
    checkpoint.reached(20).await?;
    let mut spreads = spread::sample(reader, &overview, &mut notes).await?;
    checkpoint.reached(35).await?;
    spread::count_outliers(reader, &mut spreads).await?;
    checkpoint.reached(50).await?;
    let mut found = Vec::new();
    let looked_at = anomalies::worth_a_look(&spreads);
    let steps = i32::try_from(looked_at.len().max(1)).unwrap_or(i32::MAX);
    for (i, spread) in looked_at.into_iter().enumerate() {
        found.extend(anomalies::extremes(reader, spread, columns.date.as_deref()).await?);
        let done = i32::try_from(i + 1).unwrap_or(steps);
        checkpoint.reached(50 + 20 * done / steps).await?;
    }
    let periods = match (&columns.date, overview.span) {
        (Some(date), Some(span)) if !columns.measures.is_empty() => {
            Some(trends::periods(reader, date, &columns.measures, span, &mut notes).await?)
        }
        _ => None,
    };
    checkpoint.reached(85).await?;
    if let Some(table) = &periods {
        found.extend(anomalies::in_periods(table));
    }
    anomalies::rank(&mut found);
    let findings = trends::find(periods.as_ref(), &columns, &overview);
    let recommendations = recommend::recommendations(&found, &findings.trends, &overview);
    let summary = recommend::summary(&overview, &columns, periods.as_ref(), &found, &findings.trends);
    Ok(DatasetInsights {
        version: reader.table().version,
        generated_at: Utc::now(),
        row_count: overview.rows,
        date_column: columns.date.clone(),
        grain: periods.as_ref().map(|p| p.grain),
        measures: columns.measures.clone(),
        summary,
        anomalies: found,
        trends: findings.trends,
        trend_note: findings.note,
        recommendations,
        notes,
        written_by: OFFLINE_AUTHOR.to_owned(),
        statements: reader.statements(),
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}
