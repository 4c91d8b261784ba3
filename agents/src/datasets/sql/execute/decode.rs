//! Result values as JSON, per engine.
//!
//! PostgreSQL types each column, so its plan is fixed before the first
//! row; its `NUMERIC` (what `sum` of integers returns) is read from the
//! binary wire format here rather than through a decimal crate. SQLite
//! types values, not columns: a column read straight from the dataset's
//! table takes the dataset's type (so `BOOLEAN`'s 0/1 become booleans and
//! dates are `DATE`), an expression the type of its first non-null value.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Utc};
use sea_orm::sqlx::postgres::types::PgInterval;
use sea_orm::sqlx::postgres::{PgColumn, PgRow, PgValueFormat, PgValueRef};
use sea_orm::sqlx::sqlite::{SqliteColumn, SqliteRow};
use sea_orm::sqlx::{self, Column, ColumnOrigin, Row, TypeInfo, ValueRef};
use serde_json::Value;

use super::{ExecuteError, ResultColumn};
use crate::datasets::column::{ColumnSpec, ColumnType};

/// The result type a dataset column type reads as.
fn kind_of(column: ColumnType) -> &'static str {
    match column {
        ColumnType::Integer => "INTEGER",
        ColumnType::Float => "FLOAT",
        ColumnType::Boolean => "BOOLEAN",
        ColumnType::Date => "DATE",
        ColumnType::Timestamp => "TIMESTAMP",
        ColumnType::Text => "TEXT",
    }
}

/// A float as a JSON number; NaN and infinities as text.
fn float(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or_else(|| Value::String(v.to_string()), Value::Number)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PgKind {
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric,
    Bool,
    Text,
    Date,
    Timestamptz,
    Timestamp,
    Time,
    Interval,
}

impl PgKind {
    fn of(type_name: &str) -> Option<(Self, &'static str)> {
        Some(match type_name {
            "INT2" => (PgKind::Int2, "INTEGER"),
            "INT4" => (PgKind::Int4, "INTEGER"),
            "INT8" => (PgKind::Int8, "INTEGER"),
            "FLOAT4" => (PgKind::Float4, "FLOAT"),
            "FLOAT8" => (PgKind::Float8, "FLOAT"),
            "NUMERIC" => (PgKind::Numeric, "DECIMAL"),
            "BOOL" => (PgKind::Bool, "BOOLEAN"),
            "TEXT" | "VARCHAR" | "CHAR" | "NAME" | "UNKNOWN" => (PgKind::Text, "TEXT"),
            "DATE" => (PgKind::Date, "DATE"),
            "TIMESTAMPTZ" => (PgKind::Timestamptz, "TIMESTAMP"),
            "TIMESTAMP" => (PgKind::Timestamp, "TIMESTAMP"),
            "TIME" => (PgKind::Time, "TIME"),
            "INTERVAL" => (PgKind::Interval, "INTERVAL"),
            _ => return None,
        })
    }
}

/// How each PostgreSQL result column is read.
pub(super) struct PgPlan {
    columns: Vec<(ResultColumn, PgKind)>,
}

impl PgPlan {
    /// From the prepared statement's columns; a type with no JSON form
    /// here is refused before anything runs.
    pub(super) fn of(columns: &[PgColumn]) -> Result<Self, ExecuteError> {
        let columns = columns
            .iter()
            .map(|column| {
                let type_name = column.type_info().name().to_owned();
                match PgKind::of(&type_name) {
                    Some((kind, shown)) => {
                        Ok((ResultColumn { name: column.name().to_owned(), kind: shown.to_owned() }, kind))
                    }
                    None => Err(ExecuteError::Unsupported { name: column.name().to_owned(), kind: type_name }),
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { columns })
    }

    pub(super) fn columns(&self) -> Vec<ResultColumn> {
        self.columns.iter().map(|(column, _)| column.clone()).collect()
    }

    pub(super) fn row(&self, row: &PgRow) -> Result<Vec<Value>, sqlx::Error> {
        self.columns.iter().enumerate().map(|(i, (_, kind))| pg_value(row, i, *kind)).collect()
    }
}

fn pg_value(row: &PgRow, i: usize, kind: PgKind) -> Result<Value, sqlx::Error> {
    fn or_null<T>(value: Option<T>, f: impl FnOnce(T) -> Value) -> Value {
        value.map_or(Value::Null, f)
    }
    Ok(match kind {
        PgKind::Int2 => or_null(row.try_get::<Option<i16>, _>(i)?, Value::from),
        PgKind::Int4 => or_null(row.try_get::<Option<i32>, _>(i)?, Value::from),
        PgKind::Int8 => or_null(row.try_get::<Option<i64>, _>(i)?, Value::from),
        PgKind::Float4 => or_null(row.try_get::<Option<f32>, _>(i)?, |v| float(f64::from(v))),
        PgKind::Float8 => or_null(row.try_get::<Option<f64>, _>(i)?, float),
        PgKind::Numeric => {
            let raw = row.try_get_raw(i)?;
            if raw.is_null() { Value::Null } else { numeric(&raw) }
        }
        PgKind::Bool => or_null(row.try_get::<Option<bool>, _>(i)?, Value::Bool),
        PgKind::Text => or_null(row.try_get::<Option<String>, _>(i)?, Value::String),
        PgKind::Date => or_null(row.try_get::<Option<NaiveDate>, _>(i)?, |d| Value::String(d.to_string())),
        PgKind::Timestamptz => or_null(row.try_get::<Option<DateTime<Utc>>, _>(i)?, |t| {
            Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        }),
        PgKind::Timestamp => or_null(row.try_get::<Option<NaiveDateTime>, _>(i)?, |t| {
            Value::String(t.format("%Y-%m-%dT%H:%M:%S%.f").to_string())
        }),
        PgKind::Time => or_null(row.try_get::<Option<NaiveTime>, _>(i)?, |t| Value::String(t.to_string())),
        PgKind::Interval => or_null(row.try_get::<Option<PgInterval>, _>(i)?, |v| Value::String(interval(&v))),
    })
}

/// `1 mon 2 days 03:04:05.000006`, as PostgreSQL writes an interval.
fn interval(v: &PgInterval) -> String {
    let mut parts = Vec::new();
    if v.months != 0 {
        parts.push(format!("{} mon{}", v.months, if v.months.abs() == 1 { "" } else { "s" }));
    }
    if v.days != 0 {
        parts.push(format!("{} day{}", v.days, if v.days.abs() == 1 { "" } else { "s" }));
    }
    if v.microseconds != 0 || parts.is_empty() {
        let sign = if v.microseconds < 0 { "-" } else { "" };
        let micros = v.microseconds.unsigned_abs();
        let (seconds, fraction) = (micros / 1_000_000, micros % 1_000_000);
        let clock = format!("{sign}{:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60);
        parts.push(if fraction == 0 { clock } else { format!("{clock}.{fraction:06}") });
    }
    parts.join(" ")
}

fn numeric(raw: &PgValueRef<'_>) -> Value {
    let parsed = match raw.format() {
        PgValueFormat::Text => raw.as_str().ok().and_then(|text| text.parse::<f64>().ok()).map(float),
        PgValueFormat::Binary => raw.as_bytes().ok().and_then(numeric_binary),
    };
    parsed.unwrap_or(Value::Null)
}

/// PostgreSQL's binary `NUMERIC`: the count of base-10,000 digits, the
/// weight of the first, the sign (or NaN/±Infinity), the display scale,
/// then the digits. A whole number that fits is an integer; else a float.
pub(crate) fn numeric_binary(bytes: &[u8]) -> Option<Value> {
    let word = |at: usize| bytes.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let count = usize::from(word(0)?);
    let weight = i32::from(i16::from_be_bytes(word(2)?.to_be_bytes()));
    let sign = word(4)?;
    let scale = word(6)?;
    let negative = match sign {
        0x0000 => false,
        0x4000 => true,
        0xC000 => return Some(Value::String("NaN".into())),
        0xD000 => return Some(Value::String("Infinity".into())),
        0xF000 => return Some(Value::String("-Infinity".into())),
        _ => return None,
    };
    let mut digits = String::with_capacity(count * 4);
    for k in 0..count {
        let digit = word(8 + 2 * k)?;
        if digit > 9_999 {
            return None;
        }
        digits.push_str(&format!("{digit:04}"));
    }
    if digits.is_empty() {
        digits.push('0');
    }
    let exponent = 4 * (weight - i32::try_from(count).ok()? + 1);
    let sign = if negative { "-" } else { "" };
    if scale == 0 && (0..=18).contains(&exponent) {
        let zeros = "0".repeat(usize::try_from(exponent).ok()?);
        if let Ok(whole) = format!("{sign}{digits}{zeros}").parse::<i64>() {
            return Some(Value::from(whole));
        }
    }
    format!("{sign}{digits}e{exponent}").parse::<f64>().ok().map(float)
}

/// How each SQLite result column is read.
pub(super) struct SqlitePlan {
    columns: Vec<SqliteColumnPlan>,
}

struct SqliteColumnPlan {
    name: String,
    /// Known from the declared type (a column of the table) or from the
    /// first non-null value; `None` until then.
    kind: Option<&'static str>,
}

impl SqlitePlan {
    pub(super) fn of(columns: &[SqliteColumn], dataset: &[ColumnSpec]) -> Self {
        let columns = columns
            .iter()
            .map(|column| {
                let name = column.name().to_owned();
                // A column read straight from the table, whatever its alias.
                let origin = match column.origin() {
                    ColumnOrigin::Table(source) => dataset.iter().find(|spec| *spec.name == *source.name),
                    _ => None,
                };
                // The declared type is there only for a column of the table.
                let declared = column.type_info().name().to_ascii_uppercase();
                let kind = match (origin, declared.as_str()) {
                    (Some(spec), _) => Some(kind_of(spec.kind)),
                    (None, "NULL") => None,
                    (None, "INTEGER") => Some("INTEGER"),
                    (None, "REAL") => Some("FLOAT"),
                    (None, "BOOLEAN") => Some("BOOLEAN"),
                    (None, "DATE") => Some("DATE"),
                    (None, "DATETIME") => Some("TIMESTAMP"),
                    (None, "TIME") => Some("TIME"),
                    (None, _) => Some("TEXT"),
                };
                SqliteColumnPlan { name, kind }
            })
            .collect();
        Self { columns }
    }

    pub(super) fn columns(&self) -> Vec<ResultColumn> {
        self.columns
            .iter()
            .map(|c| ResultColumn { name: c.name.clone(), kind: c.kind.unwrap_or("NULL").to_owned() })
            .collect()
    }

    pub(super) fn row(&mut self, row: &SqliteRow) -> Result<Vec<Value>, ExecuteError> {
        let mut values = Vec::with_capacity(self.columns.len());
        for (i, column) in self.columns.iter_mut().enumerate() {
            let raw = row.try_get_raw(i).map_err(ExecuteError::Internal)?;
            if raw.is_null() {
                values.push(Value::Null);
                continue;
            }
            let class = raw.type_info().name().to_owned();
            let value = match class.as_str() {
                "INTEGER" | "BOOLEAN" => {
                    let n = row.try_get_unchecked::<i64, _>(i).map_err(ExecuteError::Internal)?;
                    match column.kind {
                        Some("BOOLEAN") if n == 0 || n == 1 => Value::Bool(n == 1),
                        _ => Value::from(n),
                    }
                }
                "REAL" => float(row.try_get_unchecked::<f64, _>(i).map_err(ExecuteError::Internal)?),
                "BLOB" => return Err(ExecuteError::Unsupported { name: column.name.clone(), kind: class }),
                _ => Value::String(row.try_get_unchecked::<String, _>(i).map_err(ExecuteError::Internal)?),
            };
            if column.kind.is_none() {
                column.kind = Some(match class.as_str() {
                    "INTEGER" => "INTEGER",
                    "REAL" => "FLOAT",
                    _ => "TEXT",
                });
            }
            values.push(value);
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn wire(count: u16, weight: i16, sign: u16, scale: u16, digits: &[u16]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for word in [count, weight as u16, sign, scale].iter().chain(digits) {
            bytes.extend_from_slice(&word.to_be_bytes());
        }
        bytes
    }

    #[test]
    fn numerics_are_read_from_the_wire() {
        // 12345 = 1·10000 + 2345.
        assert_eq!(numeric_binary(&wire(2, 1, 0, 0, &[1, 2345])), Some(json!(12345)));
        // 20000: trailing zero digits are not sent.
        assert_eq!(numeric_binary(&wire(1, 1, 0, 0, &[2])), Some(json!(20000)));
        assert_eq!(numeric_binary(&wire(1, 0, 0x4000, 0, &[7])), Some(json!(-7)));
        assert_eq!(numeric_binary(&wire(0, 0, 0, 0, &[])), Some(json!(0)));
        // 1234.5 = 1234 + 5000·10⁻⁴, scale 1.
        assert_eq!(numeric_binary(&wire(2, 0, 0, 1, &[1234, 5000])), Some(json!(1234.5)));
        // 0.0025 = 25·10⁻⁴.
        assert_eq!(numeric_binary(&wire(1, -1, 0, 4, &[25])), Some(json!(0.0025)));
        assert_eq!(numeric_binary(&wire(0, 0, 0xC000, 0, &[])), Some(json!("NaN")));
        assert_eq!(numeric_binary(&[0, 1]), None);
        assert_eq!(numeric_binary(&wire(1, 0, 0, 0, &[10_000])), None);
    }

    #[test]
    fn intervals_read_as_postgres_writes_them() {
        let v = PgInterval { months: 1, days: 2, microseconds: 3_723_000_006 };
        assert_eq!(interval(&v), "1 mon 2 days 01:02:03.000006");
        assert_eq!(interval(&PgInterval { months: 0, days: 0, microseconds: 0 }), "00:00:00");
    }
}
