//! One typed value of a dataset's table, as it is stored and profiled: how
//! it is bound in SQL on each engine, shown in a profile, and compared.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use sea_orm::DbBackend;

use super::column::ColumnType;

/// A cell after conversion to its column's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Missing (or, in a column of a type set by the merchant, a value that
    /// was not of that type).
    Null,
    /// An `INTEGER` cell.
    Integer(i64),
    /// A `FLOAT` cell; always finite.
    Float(f64),
    /// A `BOOLEAN` cell.
    Boolean(bool),
    /// A `DATE` cell.
    Date(NaiveDate),
    /// A `TIMESTAMP` cell, to the microsecond.
    Timestamp(DateTime<Utc>),
    /// A `TEXT` cell, as written (without NUL characters, which PostgreSQL
    /// text cannot hold).
    Text(String),
}

impl Value {
    /// Whether it is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The number, for `INTEGER` and `FLOAT` cells.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Integer(n) => Some(*n as f64),
            Value::Float(x) => Some(*x),
            _ => None,
        }
    }

    /// The value as a profile shows it: numbers as JSON numbers, booleans
    /// as booleans, dates `YYYY-MM-DD`, timestamps RFC 3339 in UTC, text as
    /// it is; `null` for [`Value::Null`].
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Integer(n) => serde_json::Value::from(*n),
            Value::Float(x) => serde_json::Number::from_f64(*x).map_or(serde_json::Value::Null, Into::into),
            Value::Boolean(b) => serde_json::Value::Bool(*b),
            Value::Date(d) => serde_json::Value::String(d.format("%Y-%m-%d").to_string()),
            Value::Timestamp(t) => serde_json::Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            Value::Text(s) => serde_json::Value::String(s.clone()),
        }
    }

    /// The SQL parameter for this cell of a `kind` column on `backend`
    /// (a `NULL` typed as the column, which PostgreSQL needs). On SQLite
    /// timestamps are RFC 3339 in UTC with microseconds when `fraction`
    /// (the column holds sub-second values), else whole seconds, so that
    /// the column's values sort as text in time order.
    pub fn into_sql(self, kind: ColumnType, backend: DbBackend, fraction: bool) -> sea_orm::Value {
        let postgres = backend == DbBackend::Postgres;
        match (self, kind) {
            (Value::Integer(n), _) => sea_orm::Value::BigInt(Some(n)),
            (Value::Float(x), _) => sea_orm::Value::Double(Some(x)),
            (Value::Boolean(b), _) if postgres => sea_orm::Value::Bool(Some(b)),
            (Value::Boolean(b), _) => sea_orm::Value::BigInt(Some(i64::from(b))),
            (Value::Date(d), _) if postgres => sea_orm::Value::ChronoDate(Some(d)),
            (Value::Date(d), _) => sea_orm::Value::String(Some(d.format("%Y-%m-%d").to_string())),
            (Value::Timestamp(t), _) if postgres => sea_orm::Value::ChronoDateTimeUtc(Some(t)),
            (Value::Timestamp(t), _) => {
                let precision = if fraction { SecondsFormat::Micros } else { SecondsFormat::Secs };
                sea_orm::Value::String(Some(t.to_rfc3339_opts(precision, true)))
            }
            (Value::Text(s), _) => sea_orm::Value::String(Some(s)),
            (Value::Null, ColumnType::Integer) => sea_orm::Value::BigInt(None),
            (Value::Null, ColumnType::Float) => sea_orm::Value::Double(None),
            (Value::Null, ColumnType::Boolean) if postgres => sea_orm::Value::Bool(None),
            (Value::Null, ColumnType::Boolean) => sea_orm::Value::BigInt(None),
            (Value::Null, ColumnType::Date) if postgres => sea_orm::Value::ChronoDate(None),
            (Value::Null, ColumnType::Timestamp) if postgres => sea_orm::Value::ChronoDateTimeUtc(None),
            (Value::Null, ColumnType::Date | ColumnType::Timestamp | ColumnType::Text) => sea_orm::Value::String(None),
        }
    }

    /// Orders two non-null cells of one column (numbers by value, text by
    /// code points, `false` before `true`, dates and timestamps in time).
    /// Cells of different kinds, which one column never holds, are equal.
    pub fn compare(&self, other: &Value) -> Ordering {
        match (self, other) {
            (Value::Integer(a), Value::Integer(b)) => a.cmp(b),
            (Value::Float(a), Value::Float(b)) => a.total_cmp(b),
            (Value::Boolean(a), Value::Boolean(b)) => a.cmp(b),
            (Value::Date(a), Value::Date(b)) => a.cmp(b),
            (Value::Timestamp(a), Value::Timestamp(b)) => a.cmp(b),
            (Value::Text(a), Value::Text(b)) => a.cmp(b),
            _ => Ordering::Equal,
        }
    }

    /// Feeds the cell to `state` so that equal cells hash alike: a tag per
    /// kind, then the value (`-0.0` as `0.0`, floats by their bits).
    pub fn hash_into<H: Hasher>(&self, state: &mut H) {
        match self {
            Value::Null => 0u8.hash(state),
            Value::Integer(n) => (1u8, n).hash(state),
            Value::Float(x) => (2u8, float_key(*x)).hash(state),
            Value::Boolean(b) => (3u8, b).hash(state),
            Value::Date(d) => (4u8, d).hash(state),
            Value::Timestamp(t) => (5u8, t.timestamp(), t.timestamp_subsec_nanos()).hash(state),
            Value::Text(s) => (6u8, s.as_str()).hash(state),
        }
    }

    /// A key equal for equal non-text cells and different otherwise (text
    /// cells are counted by their text): integers, float bits (`-0.0` as
    /// `0.0`), booleans, days since the common era, microseconds since
    /// the epoch. `None` for text and null.
    pub fn distinct_key(&self) -> Option<u64> {
        match self {
            Value::Integer(n) => Some(*n as u64),
            Value::Float(x) => Some(float_key(*x)),
            Value::Boolean(b) => Some(u64::from(*b)),
            Value::Date(d) => Some(i64::from(chrono::Datelike::num_days_from_ce(d)) as u64),
            Value::Timestamp(t) => Some(t.timestamp_micros() as u64),
            Value::Text(_) | Value::Null => None,
        }
    }
}

/// The bits of `x`, with `-0.0` counted as `0.0` (they compare equal).
fn float_key(x: f64) -> u64 {
    if x == 0.0 { 0.0f64.to_bits() } else { x.to_bits() }
}
