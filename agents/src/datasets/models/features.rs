//! Features as numbers: how each column of a training becomes one or more
//! columns of the matrix the families fit, learned from the rows read and
//! recorded in the model ([`Encoder`]) so that a prediction encodes its
//! input exactly as training did.
//!
//! - INTEGER, FLOAT: as they are; BOOLEAN: 0 or 1; DATE: days since
//!   1970-01-01; TIMESTAMP: days since 1970-01-01 UTC, with the fraction
//!   of the day. A null becomes the column's median (a boolean's mode).
//! - TEXT: one indicator column per category, over the
//!   [`MAX_CATEGORIES`] most frequent values (ties by text). When those
//!   are all of the values, the most frequent is the baseline and gets no
//!   column (all zeros: with an intercept, one column per value would be
//!   collinear); when there are more, every other value (and any value a
//!   prediction brings that training never saw) is all zeros. A null
//!   becomes the column's mode.
//!
//! Every matrix column is then standardised (the rows' mean subtracted,
//! divided by their standard deviation; 1 for a constant column): the
//! distances of k-nearest neighbours and the penalties of ridge and
//! logistic regression would otherwise depend on each column's units.
//! Trees are indifferent to it.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::MAX_CATEGORIES;
use crate::datasets::column::ColumnType;

/// A feature column as a training reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureColumn {
    /// As the table has it.
    pub name: String,
    /// Its type.
    pub kind: ColumnType,
}

/// How one feature becomes numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "as", rename_all = "camelCase")]
pub enum Encoding {
    /// One number (see the module documentation); a null is `fill`.
    Number {
        /// The training rows' median (a boolean's mode).
        fill: f64,
    },
    /// One indicator per category.
    Categories {
        /// The values with a column, most frequent first.
        categories: Vec<String>,
        /// The most frequent value, encoded as all zeros, when the
        /// categories are all the values there were.
        baseline: Option<String>,
        /// A null is this value (the mode); `None` when every training
        /// value was null.
        fill: Option<String>,
    },
}

/// One feature's name, type and encoding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeatureCodec {
    /// The column.
    pub name: String,
    /// Its type when the model was trained.
    #[serde(rename = "type")]
    pub kind: ColumnType,
    /// How it becomes numbers.
    pub encoding: Encoding,
}

/// Every feature's encoding and the standardisation after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Encoder {
    /// In the model's order.
    pub features: Vec<FeatureCodec>,
    /// Per matrix column, the mean subtracted.
    pub means: Vec<f64>,
    /// Per matrix column, the divisor (never 0).
    pub scales: Vec<f64>,
}

/// Encoded rows, row-major: `n` rows of `p` numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    /// Rows.
    pub n: usize,
    /// Numbers per row.
    pub p: usize,
    /// `n * p` numbers, row after row.
    pub values: Vec<f64>,
}

impl Rows {
    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.p..(i + 1) * self.p]
    }

    /// The rows at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Rows {
        let mut values = Vec::with_capacity(indices.len() * self.p);
        for &i in indices {
            values.extend_from_slice(self.row(i));
        }
        Rows { n: indices.len(), p: self.p, values }
    }
}

/// Why a prediction's input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// Not a JSON object.
    #[error("features must be a JSON object of feature names and values, like {{\"{example}\": …}}")]
    NotAnObject {
        /// A feature's name, for the example.
        example: String,
    },
    /// Names the model does not read.
    #[error("{} {} not a feature of the model; its features are {}", quoted_list(.names), is_are(.names), quoted_list(.expected))]
    Unknown {
        /// The unknown names.
        names: Vec<String>,
        /// The model's features.
        expected: Vec<String>,
    },
    /// A value not of its feature's type.
    #[error("the feature \"{name}\" is {kind}: it takes {expected}, not {got}")]
    WrongType {
        /// The feature.
        name: String,
        /// Its type.
        kind: ColumnType,
        /// What it takes.
        expected: &'static str,
        /// What it was given.
        got: &'static str,
    },
}

/// `names`, quoted and joined.
fn quoted_list(names: &[String]) -> String {
    names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")
}

/// "is" for one name, "are" for more.
fn is_are(names: &[String]) -> &'static str {
    if names.len() == 1 { "is" } else { "are" }
}

/// What a missing cell is read as.
static NULL: Value = Value::Null;

/// An encoded input and the features it lacked (filled in).
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    /// The standardised matrix row.
    pub values: Vec<f64>,
    /// Features missing or null in the input, filled with the training
    /// median or mode.
    pub imputed: Vec<String>,
}

/// A cell as the encoding reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cell<'a> {
    Number(f64),
    Text(&'a str),
    Missing,
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date.
fn date_days(text: &str) -> Option<f64> {
    let date = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp() as f64 / 86_400.0)
}

/// Days since 1970-01-01 UTC of an RFC 3339 timestamp, with the fraction.
fn timestamp_days(text: &str) -> Option<f64> {
    let at = DateTime::parse_from_rfc3339(text.trim()).ok()?;
    Some(at.timestamp_millis() as f64 / 86_400_000.0)
}

/// The number a cell of a non-text `kind` column read from the table
/// stands for; `None` for a null (or, defensively, anything unexpected).
pub fn stored_number(kind: ColumnType, value: &Value) -> Option<f64> {
    match (kind, value) {
        (ColumnType::Integer | ColumnType::Float, Value::Number(n)) => n.as_f64().filter(|x| x.is_finite()),
        (ColumnType::Boolean, Value::Bool(b)) => Some(f64::from(u8::from(*b))),
        // SQLite types an expression's result by its values: 0 and 1.
        (ColumnType::Boolean, Value::Number(n)) => n.as_f64().filter(|x| *x == 0.0 || *x == 1.0),
        (ColumnType::Date, Value::String(s)) => date_days(s),
        (ColumnType::Timestamp, Value::String(s)) => timestamp_days(s).or_else(|| date_days(s)),
        _ => None,
    }
}

/// The text a cell read from the table is, for text columns and labels.
pub fn stored_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The middle of `values` (the mean of the two middle ones for an even
/// count); 0 when there are none.
pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 }
}

/// The encoding of one column from its cells.
fn fit_encoding<'a>(kind: ColumnType, cells: impl Iterator<Item = &'a Value>) -> Encoding {
    match kind {
        ColumnType::Text => {
            let mut counts: HashMap<String, usize> = HashMap::new();
            for value in cells {
                if let Some(text) = stored_text(value) {
                    *counts.entry(text).or_default() += 1;
                }
            }
            let mut ranked: Vec<(String, usize)> = counts.into_iter().collect();
            ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let fill = ranked.first().map(|(text, _)| text.clone());
            let mut categories: Vec<String> = ranked.into_iter().map(|(text, _)| text).collect();
            let baseline = if categories.len() <= MAX_CATEGORIES && !categories.is_empty() {
                Some(categories.remove(0))
            } else {
                categories.truncate(MAX_CATEGORIES);
                None
            };
            Encoding::Categories { categories, baseline, fill }
        }
        ColumnType::Boolean => {
            let (mut trues, mut falses) = (0usize, 0usize);
            for value in cells {
                match stored_number(kind, value) {
                    Some(x) if x == 1.0 => trues += 1,
                    Some(_) => falses += 1,
                    None => {}
                }
            }
            Encoding::Number { fill: if trues > falses { 1.0 } else { 0.0 } }
        }
        _ => {
            let mut values: Vec<f64> = cells.filter_map(|v| stored_number(kind, v)).collect();
            Encoding::Number { fill: median(&mut values) }
        }
    }
}

/// Appends the numbers of `cell` under `codec` to `out`.
fn push(codec: &FeatureCodec, cell: Cell<'_>, out: &mut Vec<f64>) {
    match &codec.encoding {
        Encoding::Number { fill } => out.push(match cell {
            Cell::Number(x) => x,
            Cell::Text(_) | Cell::Missing => *fill,
        }),
        Encoding::Categories { categories, fill, .. } => {
            let text = match cell {
                Cell::Text(text) => Some(text),
                Cell::Number(_) | Cell::Missing => fill.as_deref(),
            };
            out.extend(categories.iter().map(|c| if Some(c.as_str()) == text { 1.0 } else { 0.0 }));
        }
    }
}

/// A stored cell of `codec`'s column as the encoding reads it.
fn stored_cell<'a>(codec: &FeatureCodec, value: &'a Value) -> Cell<'a> {
    match (codec.kind, value) {
        (_, Value::Null) => Cell::Missing,
        (ColumnType::Text, Value::String(s)) => Cell::Text(s),
        // A text column always reads as strings; anything else is as good as missing.
        (ColumnType::Text, _) => Cell::Missing,
        (kind, value) => stored_number(kind, value).map_or(Cell::Missing, Cell::Number),
    }
}

/// What kind of JSON value `value` is, for messages.
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An input value of `codec`'s column, strictly of its type.
fn input_cell<'a>(codec: &FeatureCodec, value: &'a Value) -> Result<Cell<'a>, InputError> {
    let (parsed, expected) = match codec.kind {
        ColumnType::Integer | ColumnType::Float => {
            (value.as_f64().filter(|x| x.is_finite()).map(Cell::Number), "a number")
        }
        ColumnType::Boolean => (value.as_bool().map(|b| Cell::Number(f64::from(u8::from(b)))), "true or false"),
        ColumnType::Date => (value.as_str().and_then(date_days).map(Cell::Number), "a date as \"YYYY-MM-DD\""),
        ColumnType::Timestamp => (
            value.as_str().and_then(|s| timestamp_days(s).or_else(|| date_days(s))).map(Cell::Number),
            "an RFC 3339 timestamp (or a date as \"YYYY-MM-DD\")",
        ),
        ColumnType::Text => (value.as_str().map(Cell::Text), "text (a JSON string)"),
    };
    parsed.ok_or_else(|| InputError::WrongType {
        name: codec.name.clone(),
        kind: codec.kind,
        expected,
        got: match (codec.kind, value) {
            // A string of the wrong form for a date or a timestamp.
            (ColumnType::Date | ColumnType::Timestamp, Value::String(_)) => "a string in another form",
            _ => json_kind(value),
        },
    })
}

impl Encoder {
    /// Learns the encoding of `columns` from `rows` (cell `j` of a row is
    /// column `j`'s; further cells are ignored) and encodes them.
    pub fn fit(columns: &[FeatureColumn], rows: &[Vec<Value>]) -> (Encoder, Rows) {
        let features: Vec<FeatureCodec> = columns
            .iter()
            .enumerate()
            .map(|(j, column)| {
                let cells = rows.iter().map(|row| row.get(j).unwrap_or(&NULL));
                FeatureCodec {
                    name: column.name.clone(),
                    kind: column.kind,
                    encoding: fit_encoding(column.kind, cells),
                }
            })
            .collect();
        let mut encoder = Encoder { features, means: Vec::new(), scales: Vec::new() };
        let p = encoder.width();
        let mut values = Vec::with_capacity(rows.len() * p);
        for row in rows {
            for (j, codec) in encoder.features.iter().enumerate() {
                push(codec, stored_cell(codec, row.get(j).unwrap_or(&NULL)), &mut values);
            }
        }
        let n = rows.len();
        let (means, scales) = standardisation(&values, n, p);
        encoder.means = means;
        encoder.scales = scales;
        let mut rows = Rows { n, p, values };
        for i in 0..n {
            let start = i * p;
            encoder.scale(&mut rows.values[start..start + p]);
        }
        (encoder, rows)
    }

    /// Matrix columns per row.
    pub fn width(&self) -> usize {
        self.features
            .iter()
            .map(|codec| match &codec.encoding {
                Encoding::Number { .. } => 1,
                Encoding::Categories { categories, .. } => categories.len(),
            })
            .sum()
    }

    /// Standardises one encoded row in place.
    fn scale(&self, row: &mut [f64]) {
        for ((x, mean), scale) in row.iter_mut().zip(&self.means).zip(&self.scales) {
            *x = (*x - mean) / scale;
        }
    }

    /// The features' names, in order.
    pub fn names(&self) -> Vec<String> {
        self.features.iter().map(|f| f.name.clone()).collect()
    }

    /// Encodes a prediction's input: a JSON object of feature names and
    /// values, each of its feature's type (see [`InputError`]); a feature
    /// missing or null is filled as training filled nulls, and named.
    pub fn encode_input(&self, input: &Value) -> Result<Encoded, InputError> {
        let Some(object) = input.as_object() else {
            let example = self.features.first().map(|f| f.name.clone()).unwrap_or_default();
            return Err(InputError::NotAnObject { example });
        };
        let unknown: Vec<String> =
            object.keys().filter(|key| !self.features.iter().any(|f| &f.name == *key)).cloned().collect();
        if !unknown.is_empty() {
            return Err(InputError::Unknown { names: unknown, expected: self.names() });
        }
        let mut values = Vec::with_capacity(self.width());
        let mut imputed = Vec::new();
        for codec in &self.features {
            let cell = match object.get(&codec.name) {
                None | Some(Value::Null) => {
                    imputed.push(codec.name.clone());
                    Cell::Missing
                }
                Some(value) => input_cell(codec, value)?,
            };
            push(codec, cell, &mut values);
        }
        self.scale(&mut values);
        Ok(Encoded { values, imputed })
    }
}

/// Each column's mean and standard deviation (population) over `n` rows
/// of `p`; a deviation of (nearly) 0 is 1, so a constant column becomes 0.
fn standardisation(values: &[f64], n: usize, p: usize) -> (Vec<f64>, Vec<f64>) {
    if n == 0 {
        return (vec![0.0; p], vec![1.0; p]);
    }
    let mut means = vec![0.0; p];
    for row in values.chunks_exact(p.max(1)) {
        for (mean, x) in means.iter_mut().zip(row) {
            *mean += x;
        }
    }
    for mean in &mut means {
        *mean /= n as f64;
    }
    let mut variances = vec![0.0; p];
    for row in values.chunks_exact(p.max(1)) {
        for ((variance, x), mean) in variances.iter_mut().zip(row).zip(&means) {
            *variance += (x - mean) * (x - mean);
        }
    }
    let scales = variances
        .into_iter()
        .map(|v| {
            let sd = (v / n as f64).sqrt();
            if sd > 1e-12 && sd.is_finite() { sd } else { 1.0 }
        })
        .collect();
    (means, scales)
}
