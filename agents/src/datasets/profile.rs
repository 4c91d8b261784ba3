//! The data profile of a dataset version (seed 001 §3, P8–P11): computed
//! in the same pass that loads the table, from the typed values as stored,
//! and kept as JSON on the dataset (served from there, P12).
//!
//! Figures, per column:
//! - `count`: non-null values; `nullCount` and `nullPercentage` (of all
//!   rows, 0–100; values not of a type the merchant set count as null, and
//!   also as `invalidCount`); `uniqueCount`: distinct non-null values.
//! - `min` / `max`: numbers by value, dates and timestamps in time, text by
//!   Unicode code points, `false` before `true`.
//! - Numbers only: `mean`; `stdDev`, the sample standard deviation
//!   (divisor n − 1, as pandas' `std`; none below two values); `quartiles`
//!   (q1, median, q3) by linear interpolation between the closest ranks
//!   (Hyndman & Fan type 7, the default of numpy and pandas: for p, with
//!   h = (n − 1)·p over the sorted values x₀…xₙ₋₁, x⌊h⌋ + (h − ⌊h⌋)·(x⌊h⌋₊₁ − x⌊h⌋));
//!   `outlierCount`: values below q1 − 1.5·IQR or above q3 + 1.5·IQR
//!   (Tukey's fences, IQR = q3 − q1).
//! - Text and booleans: `topValues`, the five most frequent with their
//!   counts (ties by value).
//!
//! Per dataset: `rowCount`, `columnCount`, `duplicateRowCount` (rows equal
//! in every column to an earlier row: rows − distinct rows; rows are told
//! apart by a 128-bit fingerprint of their values, so a miscount needs a
//! collision, with odds below 10⁻²⁰ for a billion rows).
//!
//! Issues, each with a severity:
//! - `HIGH_NULLS`: over 50 % of a column is null (the column is then
//!   low quality, P9): `MEDIUM`, over 80 % `HIGH`.
//! - `DUPLICATES`: some rows are duplicates: `LOW`, over 1 % of the rows
//!   `MEDIUM`, over 10 % `HIGH`.
//! - `OUTLIERS`: a numeric column has values outside Tukey's fences:
//!   `LOW`, over 1 % of its values `MEDIUM`, over 5 % `HIGH`.
//! - `MIXED_TYPES`: values not of the type set for a column (stored as
//!   null): `LOW`, over 1 % `MEDIUM`, over 10 % `HIGH`; or a text column
//!   where one other type covers at least half of the values but not all
//!   (see `infer`): `MEDIUM`, `HIGH` when that type covers 90 % or more.
//!
//! Quality score, in [0, 1]: completeness × uniqueness × validity, where
//! over all cells (rows × columns) completeness = 1 − null cells / cells,
//! uniqueness = 1 − duplicate rows / rows, and validity = 1 − (invalid
//! cells + outlier cells + the cells of mixed text columns not of their
//! main type) / cells; a factor whose denominator is 0 is 1.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hasher};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::column::{ColumnSpec, ColumnType};
use super::infer::Mixed;
use super::value::Value;

/// How many most frequent values a column's profile lists.
pub const TOP_VALUES: usize = 5;

/// A dataset version's profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// The dataset version it describes.
    pub version: i32,
    /// Rows.
    pub row_count: u64,
    /// Columns.
    pub column_count: u64,
    /// Rows equal to an earlier row in every column.
    pub duplicate_row_count: u64,
    /// completeness × uniqueness × validity (see the module documentation).
    pub quality_score: f64,
    /// 1 − null cells / cells.
    pub completeness: f64,
    /// 1 − duplicate rows / rows.
    pub uniqueness: f64,
    /// 1 − (invalid, outlier and mixed cells) / cells.
    pub validity: f64,
    /// Per column, in table order.
    pub columns: Vec<ColumnProfile>,
    /// What lowers the score, columns in table order, then the dataset's.
    pub issues: Vec<QualityIssue>,
    /// Columns over 50 % null (P9).
    pub low_quality_columns: Vec<String>,
    /// When it was computed.
    pub generated_at: DateTime<Utc>,
}

/// One column's figures (see the module documentation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnProfile {
    /// As the table has it.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: ColumnType,
    /// Non-null values.
    pub count: u64,
    /// Null values.
    pub null_count: u64,
    /// Null values per hundred rows.
    pub null_percentage: f64,
    /// Distinct non-null values.
    pub unique_count: u64,
    /// Values not of the column's type set by hand (stored as null).
    pub invalid_count: u64,
    /// The smallest value.
    pub min: Option<serde_json::Value>,
    /// The largest value.
    pub max: Option<serde_json::Value>,
    /// Numbers: the mean.
    pub mean: Option<f64>,
    /// Numbers: the sample standard deviation.
    pub std_dev: Option<f64>,
    /// Numbers: q1, median, q3.
    pub quartiles: Option<Quartiles>,
    /// Numbers: values outside Tukey's fences.
    pub outlier_count: Option<u64>,
    /// Text and booleans: the most frequent values.
    pub top_values: Vec<TopValue>,
    /// Over 50 % null.
    pub low_quality: bool,
}

/// The quartiles of a numeric column.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Quartiles {
    /// 25 %.
    pub q1: f64,
    /// 50 %.
    pub median: f64,
    /// 75 %.
    pub q3: f64,
}

/// A frequent value and how often it occurs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopValue {
    /// The value (text or a boolean).
    pub value: serde_json::Value,
    /// Occurrences.
    pub count: u64,
}

/// What kind of problem an issue is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IssueKind {
    /// Over half of a column is null.
    HighNulls,
    /// Rows repeat.
    Duplicates,
    /// Numbers far outside the rest.
    Outliers,
    /// Values of more than one type in a column.
    MixedTypes,
}

/// How much an issue matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    /// Worth knowing.
    Low,
    /// Skews results.
    Medium,
    /// Makes the column (or dataset) unreliable as it is.
    High,
}

/// A data quality issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QualityIssue {
    /// The column; `None` for the dataset as a whole.
    pub column: Option<String>,
    /// What it is.
    #[serde(rename = "type")]
    pub kind: IssueKind,
    /// How much it matters.
    pub severity: Severity,
    /// The cells (or rows) it concerns.
    pub count: u64,
    /// In plain words.
    pub description: String,
}

/// A column as the profiler is told of it.
#[derive(Debug, Clone)]
pub struct ColumnInput {
    /// Its name and type.
    pub spec: ColumnSpec,
    /// For a text column, what inference found most values to be.
    pub mixed: Option<Mixed>,
}

/// Computes a profile row by row, in one pass.
pub struct Profiler {
    columns: Vec<Column>,
    rows: u64,
    fingerprints: HashSet<u128>,
    duplicates: u64,
}

/// One column's running figures.
struct Column {
    input: ColumnInput,
    count: u64,
    nulls: u64,
    invalid: u64,
    /// Numbers: every value (quartiles need them all).
    numbers: Vec<f64>,
    /// Non-text values: their distinct keys.
    keys: HashSet<u64>,
    /// Text: every distinct value and its count.
    texts: HashMap<Box<str>, u64>,
    /// Booleans: `false` and `true` counts.
    booleans: [u64; 2],
    /// Non-text values: the least and greatest so far.
    min: Option<Value>,
    max: Option<Value>,
}

impl Profiler {
    /// A profiler for a table of `columns`, in order.
    pub fn new(columns: Vec<ColumnInput>) -> Self {
        let columns = columns
            .into_iter()
            .map(|input| Column {
                input,
                count: 0,
                nulls: 0,
                invalid: 0,
                numbers: Vec::new(),
                keys: HashSet::new(),
                texts: HashMap::new(),
                booleans: [0; 2],
                min: None,
                max: None,
            })
            .collect();
        Self { columns, rows: 0, fingerprints: HashSet::new(), duplicates: 0 }
    }

    /// Counts one row, its values in column order.
    pub fn push(&mut self, row: &[Value]) {
        self.rows += 1;
        let (mut first, mut second) = (DefaultHasher::new(), DefaultHasher::new());
        // Two SipHash states that differ from the start: a 128-bit fingerprint.
        second.write_u64(0x9E37_79B9_7F4A_7C15);
        for (column, value) in self.columns.iter_mut().zip(row) {
            value.hash_into(&mut first);
            value.hash_into(&mut second);
            column.push(value);
        }
        let fingerprint = (u128::from(first.finish()) << 64) | u128::from(second.finish());
        if !self.fingerprints.insert(fingerprint) {
            self.duplicates += 1;
        }
    }

    /// Counts a value of column `index` that was not of its type (and was
    /// pushed as null).
    pub fn invalid(&mut self, index: usize) {
        if let Some(column) = self.columns.get_mut(index) {
            column.invalid += 1;
        }
    }

    /// The profile of everything pushed, as dataset version `version`.
    pub fn finish(self, version: i32, generated_at: DateTime<Utc>) -> Profile {
        let rows = self.rows;
        let columns: Vec<ColumnProfile> = self.columns.iter().map(|c| c.profile(rows)).collect();
        let cells = rows.saturating_mul(columns.len() as u64);
        let mut issues = Vec::new();
        let (mut nulls, mut doubtful) = (0u64, 0u64);
        for (column, profile) in self.columns.iter().zip(&columns) {
            nulls += profile.null_count;
            doubtful += profile.invalid_count + profile.outlier_count.unwrap_or(0);
            if let Some(mixed) = column.mixed() {
                doubtful += mixed.non_null - mixed.matching;
            }
            issues.extend(column.issues(profile, rows));
        }
        if self.duplicates > 0 {
            issues.push(QualityIssue {
                column: None,
                kind: IssueKind::Duplicates,
                severity: by_share(share(self.duplicates, rows), 0.01, 0.10),
                count: self.duplicates,
                description: format!(
                    "{} of {rows} rows ({}) repeat an earlier row exactly",
                    self.duplicates,
                    percent(share(self.duplicates, rows))
                ),
            });
        }
        let completeness = 1.0 - ratio(nulls, cells);
        let uniqueness = 1.0 - ratio(self.duplicates, rows);
        let validity = (1.0 - ratio(doubtful, cells)).max(0.0);
        let low_quality_columns = columns.iter().filter(|c| c.low_quality).map(|c| c.name.clone()).collect();
        Profile {
            version,
            row_count: rows,
            column_count: columns.len() as u64,
            duplicate_row_count: self.duplicates,
            quality_score: completeness * uniqueness * validity,
            completeness,
            uniqueness,
            validity,
            columns,
            issues,
            low_quality_columns,
            generated_at,
        }
    }
}

impl Column {
    fn push(&mut self, value: &Value) {
        match value {
            Value::Null => {
                self.nulls += 1;
                return;
            }
            Value::Text(text) => match self.texts.get_mut(text.as_str()) {
                Some(n) => *n += 1,
                None => {
                    self.texts.insert(text.as_str().into(), 1);
                }
            },
            Value::Boolean(b) => self.booleans[usize::from(*b)] += 1,
            _ => {}
        }
        self.count += 1;
        if let Some(x) = value.as_f64() {
            self.numbers.push(x);
        }
        if let Some(key) = value.distinct_key() {
            self.keys.insert(key);
            if self.min.as_ref().is_none_or(|m| value.compare(m).is_lt()) {
                self.min = Some(value.clone());
            }
            if self.max.as_ref().is_none_or(|m| value.compare(m).is_gt()) {
                self.max = Some(value.clone());
            }
        }
    }

    /// The mixed-type finding of a text column (none for other types).
    fn mixed(&self) -> Option<Mixed> {
        self.input.mixed.filter(|_| self.input.spec.kind == ColumnType::Text)
    }

    fn profile(&self, rows: u64) -> ColumnProfile {
        let kind = self.input.spec.kind;
        let (min, max) = if kind == ColumnType::Text {
            let min = self.texts.keys().min().map(|t| serde_json::Value::String(t.to_string()));
            let max = self.texts.keys().max().map(|t| serde_json::Value::String(t.to_string()));
            (min, max)
        } else {
            (self.min.as_ref().map(Value::to_json), self.max.as_ref().map(Value::to_json))
        };
        let unique_count = (if kind == ColumnType::Text { self.texts.len() } else { self.keys.len() }) as u64;
        let numbers = kind.is_numeric().then(|| numeric(&self.numbers)).flatten();
        let top_values = match kind {
            ColumnType::Text => top(self.texts.iter().map(|(t, &n)| (serde_json::Value::String(t.to_string()), n))),
            ColumnType::Boolean => top([(false, self.booleans[0]), (true, self.booleans[1])]
                .into_iter()
                .filter(|&(_, n)| n > 0)
                .map(|(b, n)| (serde_json::Value::Bool(b), n))),
            _ => Vec::new(),
        };
        let null_share = share(self.nulls, rows);
        ColumnProfile {
            name: self.input.spec.name.clone(),
            kind,
            count: self.count,
            null_count: self.nulls,
            null_percentage: null_share * 100.0,
            unique_count,
            invalid_count: self.invalid,
            min,
            max,
            mean: numbers.map(|n| n.mean),
            std_dev: numbers.and_then(|n| n.std_dev),
            quartiles: numbers.map(|n| n.quartiles),
            outlier_count: numbers.map(|n| n.outliers),
            top_values,
            low_quality: null_share > 0.5,
        }
    }

    fn issues(&self, profile: &ColumnProfile, rows: u64) -> Vec<QualityIssue> {
        let name = &profile.name;
        let issue = |kind, severity, count, description| QualityIssue {
            column: Some(name.clone()),
            kind,
            severity,
            count,
            description,
        };
        let mut issues = Vec::new();
        let null_share = share(profile.null_count, rows);
        if null_share > 0.5 {
            let severity = if null_share > 0.8 { Severity::High } else { Severity::Medium };
            let text =
                format!("{} of the values of {name} are missing: the column is of low quality", percent(null_share));
            issues.push(issue(IssueKind::HighNulls, severity, profile.null_count, text));
        }
        if let Some(outliers) = profile.outlier_count.filter(|&n| n > 0) {
            let part = share(outliers, profile.count);
            let text = format!(
                "{outliers} values of {name} ({}) lie outside 1.5 interquartile ranges of the quartiles",
                percent(part)
            );
            issues.push(issue(IssueKind::Outliers, by_share(part, 0.01, 0.05), outliers, text));
        }
        if profile.invalid_count > 0 {
            let part = share(profile.invalid_count, profile.count + profile.invalid_count);
            let text = format!(
                "{} values of {name} ({}) are not {} and are stored as empty",
                profile.invalid_count,
                percent(part),
                profile.kind
            );
            issues.push(issue(IssueKind::MixedTypes, by_share(part, 0.01, 0.10), profile.invalid_count, text));
        } else if let Some(mixed) = self.mixed() {
            let part = share(mixed.matching, mixed.non_null);
            let severity = if part >= 0.9 { Severity::High } else { Severity::Medium };
            let others = mixed.non_null - mixed.matching;
            let text = format!(
                "{} of the values of {name} are {} but {others} are not, so it is stored as text: \
                 correct those values, or set its type to {} (they would be stored as empty)",
                percent(part),
                mixed.kind,
                mixed.kind
            );
            issues.push(issue(IssueKind::MixedTypes, severity, others, text));
        }
        issues
    }
}

/// A numeric column's figures.
#[derive(Debug, Clone, Copy)]
struct Numbers {
    mean: f64,
    std_dev: Option<f64>,
    quartiles: Quartiles,
    outliers: u64,
}

/// The figures of `values`; `None` when there are none.
fn numeric(values: &[f64]) -> Option<Numbers> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    let mean = compensated_sum(sorted.iter().copied()) / n;
    let std_dev = (sorted.len() > 1)
        .then(|| (compensated_sum(sorted.iter().map(|x| (x - mean) * (x - mean))) / (n - 1.0)).sqrt());
    let quartiles =
        Quartiles { q1: quantile(&sorted, 0.25), median: quantile(&sorted, 0.5), q3: quantile(&sorted, 0.75) };
    let iqr = quartiles.q3 - quartiles.q1;
    let (low, high) = (quartiles.q1 - 1.5 * iqr, quartiles.q3 + 1.5 * iqr);
    let outliers = sorted.iter().filter(|&&x| x < low || x > high).count() as u64;
    Some(Numbers { mean, std_dev, quartiles, outliers })
}

/// The `p` quantile of ascending `sorted` (not empty), Hyndman & Fan type 7.
fn quantile(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let below = h.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    sorted[below] + (h - below as f64) * (sorted[above] - sorted[below])
}

/// Σ `values`, Neumaier's compensated summation (exact far longer than a
/// plain running sum).
fn compensated_sum(values: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut compensation) = (0.0f64, 0.0f64);
    for x in values {
        let t = sum + x;
        compensation += if sum.abs() >= x.abs() { (sum - t) + x } else { (x - t) + sum };
        sum = t;
    }
    sum + compensation
}

/// The [`TOP_VALUES`] most frequent of `counted`, the most frequent first,
/// ties by value.
fn top(counted: impl Iterator<Item = (serde_json::Value, u64)>) -> Vec<TopValue> {
    let order = |a: &TopValue, b: &TopValue| b.count.cmp(&a.count).then_with(|| json_order(&a.value, &b.value));
    let mut best: Vec<TopValue> = Vec::with_capacity(TOP_VALUES + 1);
    for (value, count) in counted {
        let candidate = TopValue { value, count };
        if best.len() == TOP_VALUES && best.last().is_some_and(|last| order(&candidate, last).is_ge()) {
            continue;
        }
        let at = best.partition_point(|kept| order(kept, &candidate).is_lt());
        best.insert(at, candidate);
        best.truncate(TOP_VALUES);
    }
    best
}

/// Text by code points, `false` before `true`.
fn json_order(a: &serde_json::Value, b: &serde_json::Value) -> std::cmp::Ordering {
    match (a, b) {
        (serde_json::Value::String(a), serde_json::Value::String(b)) => a.cmp(b),
        (serde_json::Value::Bool(a), serde_json::Value::Bool(b)) => a.cmp(b),
        _ => std::cmp::Ordering::Equal,
    }
}

/// `part / whole`, 0 when `whole` is.
fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

/// `part / whole`, 0 when `whole` is (a factor of the score is then 1).
fn ratio(part: u64, whole: u64) -> f64 {
    share(part, whole)
}

/// `LOW`, above `medium` `MEDIUM`, above `high` `HIGH`.
fn by_share(part: f64, medium: f64, high: f64) -> Severity {
    if part > high {
        Severity::High
    } else if part > medium {
        Severity::Medium
    } else {
        Severity::Low
    }
}

fn percent(share: f64) -> String {
    format!("{:.1} %", share * 100.0)
}

#[cfg(test)]
mod tests;
