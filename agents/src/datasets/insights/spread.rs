//! Steps 1–3 of the module doc: the overview, the sample the quartiles
//! and the MAD are computed from, and the exact counts of values beyond
//! Tukey's fences.

use chrono::NaiveDate;

use super::periods::date_of;
use super::reader::{Answered, InsightsError, TableReader, literal};
use super::stats::{self, Quartiles};
use super::{Columns, Evidence, SAMPLE_ROWS, figure};
use crate::datasets::column::quote;
use crate::datasets::sql::Engine;

/// Step 1's figures.
pub(crate) struct Overview {
    /// Rows of the table.
    pub(crate) rows: u64,
    /// The date column's first and last day, when it has any.
    pub(crate) span: Option<(NaiveDate, NaiveDate)>,
    /// Per numeric column, in order.
    pub(crate) measures: Vec<MeasureOverview>,
    /// The statement.
    pub(crate) sql: String,
}

/// One numeric column in the overview.
pub(crate) struct MeasureOverview {
    pub(crate) name: String,
    /// Non-null values.
    pub(crate) count: u64,
    pub(crate) min: Option<f64>,
    pub(crate) max: Option<f64>,
}

/// One numeric column's spread: quartiles and robust scale from the
/// sample, and (step 3) how many of all its values lie beyond the fences.
pub(crate) struct Spread {
    pub(crate) name: String,
    pub(crate) quartiles: Quartiles,
    /// 1.4826 × MAD around the median (or its mean-deviation stand-in).
    pub(crate) scale: Option<f64>,
    pub(crate) mad: f64,
    /// Values the quartiles were computed from.
    pub(crate) sampled: usize,
    /// Whether those were all of the column's values.
    pub(crate) exact: bool,
    pub(crate) min: Option<f64>,
    pub(crate) max: Option<f64>,
    pub(crate) overview_sql: String,
    pub(crate) sample_sql: String,
    /// Values below the lower and above the upper fence (step 3).
    pub(crate) below: u64,
    pub(crate) above: u64,
    pub(crate) counts_sql: Option<String>,
}

impl Spread {
    /// Tukey's fences.
    pub(crate) fn fences(&self) -> (f64, f64) {
        self.quartiles.fences()
    }

    /// Whether its extremes lie beyond the fences (an IQR of 0 has none
    /// worth telling: every value off the one most common would be one).
    pub(crate) fn has_outliers(&self) -> bool {
        let (low, high) = self.fences();
        self.quartiles.iqr() > 0.0 && (self.min.is_some_and(|m| m < low) || self.max.is_some_and(|m| m > high))
    }

    /// How its quartiles were found, for evidence.
    pub(crate) fn method(&self) -> String {
        if self.exact {
            format!("type-7 quantile of all {} values", self.sampled)
        } else {
            format!("type-7 quantile of {} evenly spaced sampled values", self.sampled)
        }
    }

    /// The quartiles, the MAD and the fences as evidence.
    pub(crate) fn evidence(&self) -> Vec<Evidence> {
        let (low, high) = self.fences();
        let method = self.method();
        let q = &self.quartiles;
        let sql = &self.sample_sql;
        vec![
            Evidence::derived(format!("q1 of `{}`", self.name), q.q1, sql, method.clone()),
            Evidence::derived(format!("median of `{}`", self.name), q.median, sql, method.clone()),
            Evidence::derived(format!("q3 of `{}`", self.name), q.q3, sql, method),
            Evidence::derived(format!("MAD of `{}`", self.name), self.mad, sql, "median of |value − median|"),
            Evidence::derived("lower fence", low, sql, format!("q1 − 1.5 × IQR, IQR = {}", figure(q.iqr()))),
            Evidence::derived("upper fence", high, sql, format!("q3 + 1.5 × IQR, IQR = {}", figure(q.iqr()))),
        ]
    }
}

/// Step 1: one scan for the row count, the date span and each numeric
/// column's count, minimum and maximum.
pub(crate) async fn overview(reader: &TableReader<'_>, columns: &Columns) -> Result<Overview, InsightsError> {
    let mut items = vec!["count(*) AS all_rows".to_owned()];
    if let Some(date) = &columns.date {
        let date = quote(date);
        items.push(format!("min({date}) AS first_date"));
        items.push(format!("max({date}) AS last_date"));
    }
    for (i, name) in columns.measures.iter().enumerate() {
        let column = quote(name);
        items.push(format!("count({column}) AS count_{i}"));
        items.push(format!("min({column}) AS min_{i}"));
        items.push(format!("max({column}) AS max_{i}"));
    }
    let answer = reader.query(&format!("SELECT {} FROM data", items.join(", "))).await?;
    let rows = answer.number(0, 0).map_or(0, whole);
    let offset = if columns.date.is_some() { 3 } else { 1 };
    let span = match (columns.date.is_some(), answer.text(0, 1), answer.text(0, 2)) {
        (true, Some(first), Some(last)) => date_of(&first).zip(date_of(&last)),
        _ => None,
    };
    let measures = columns
        .measures
        .iter()
        .enumerate()
        .map(|(i, name)| MeasureOverview {
            name: name.clone(),
            count: answer.number(0, offset + 3 * i).map_or(0, whole),
            min: answer.number(0, offset + 3 * i + 1),
            max: answer.number(0, offset + 3 * i + 2),
        })
        .collect();
    Ok(Overview { rows, span, measures, sql: answer.sql })
}

/// A count out of a result.
pub(crate) fn whole(x: f64) -> u64 {
    if x > 0.0 { x.round() as u64 } else { 0 }
}

/// The name of the sample's row-number column: one no column has.
fn row_alias(reader: &TableReader<'_>) -> String {
    let mut alias = "sample_row".to_owned();
    while reader.table().columns.iter().any(|c| c.name.eq_ignore_ascii_case(&alias)) {
        alias.push('_');
    }
    alias
}

/// The statement reading every `step`-th row's `items` (all rows for 1).
fn sample_sql(reader: &TableReader<'_>, items: &str, step: u64) -> String {
    if step <= 1 {
        return format!("SELECT {items} FROM data");
    }
    let shadowed = reader.table().columns.iter().any(|c| c.name.eq_ignore_ascii_case("rowid"));
    if reader.engine() == Engine::Sqlite && !shadowed {
        // Rows are numbered 1, 2, … in load order and never deleted.
        return format!("SELECT {items} FROM data WHERE rowid % {step} = 0");
    }
    // No ORDER BY: the numbering follows the scan, which needs no sort.
    let alias = quote(&row_alias(reader));
    format!(
        "SELECT {items} FROM (SELECT {items}, row_number() OVER () AS {alias} FROM data) AS sampled \
         WHERE {alias} % {step} = 0"
    )
}

/// Step 2: reads at most [`SAMPLE_ROWS`] rows' numeric columns and
/// computes each one's quartiles and robust scale.
pub(crate) async fn sample(
    reader: &TableReader<'_>,
    overview: &Overview,
    notes: &mut Vec<String>,
) -> Result<Vec<Spread>, InsightsError> {
    let present: Vec<&MeasureOverview> = overview.measures.iter().filter(|m| m.count > 0).collect();
    if present.is_empty() || overview.rows == 0 {
        return Ok(Vec::new());
    }
    let cap = u64::try_from(SAMPLE_ROWS.min(reader.row_cap())).unwrap_or(u64::MAX).max(1);
    let step = overview.rows.div_ceil(cap);
    let items: Vec<String> = present.iter().map(|m| quote(&m.name)).collect();
    let answer: Answered = reader.query(&sample_sql(reader, &items.join(", "), step)).await?;
    if step > 1 {
        notes.push(format!(
            "Quartiles and MADs are from one row in {step} ({} of {} rows); outlier counts are over every row.",
            answer.rows.rows.len(),
            overview.rows
        ));
    }
    let mut spreads = Vec::new();
    for (i, measure) in present.iter().enumerate() {
        let values: Vec<f64> = (0..answer.rows.rows.len()).filter_map(|r| answer.number(r, i)).collect();
        let Some(quartiles) = stats::quartiles(&values) else { continue };
        let mad = stats::mad(&values, quartiles.median).unwrap_or(0.0);
        spreads.push(Spread {
            name: measure.name.clone(),
            quartiles,
            scale: stats::robust_scale(&values, quartiles.median),
            mad,
            sampled: values.len(),
            exact: step <= 1 && !answer.rows.truncated,
            min: measure.min,
            max: measure.max,
            overview_sql: overview.sql.clone(),
            sample_sql: answer.sql.clone(),
            below: 0,
            above: 0,
            counts_sql: None,
        });
    }
    Ok(spreads)
}

/// Step 3: one scan counting, for each column with values beyond its
/// fences, how many lie below and above them.
pub(crate) async fn count_outliers(reader: &TableReader<'_>, spreads: &mut [Spread]) -> Result<(), InsightsError> {
    let mut items = Vec::new();
    let mut counted = Vec::new();
    for (i, spread) in spreads.iter().enumerate() {
        if !spread.has_outliers() {
            continue;
        }
        let (low, high) = spread.fences();
        let column = quote(&spread.name);
        let below = format!("sum(CASE WHEN {column} < {} THEN 1 ELSE 0 END) AS below_{i}", literal(low));
        items.push(below);
        items.push(format!("sum(CASE WHEN {column} > {} THEN 1 ELSE 0 END) AS above_{i}", literal(high)));
        counted.push(i);
    }
    if counted.is_empty() {
        return Ok(());
    }
    let answer = reader.query(&format!("SELECT {} FROM data", items.join(", "))).await?;
    for (k, i) in counted.into_iter().enumerate() {
        if let Some(spread) = spreads.get_mut(i) {
            spread.below = answer.number(0, 2 * k).map_or(0, whole);
            spread.above = answer.number(0, 2 * k + 1).map_or(0, whole);
            spread.counts_sql = Some(answer.sql.clone());
        }
    }
    Ok(())
}
