//! A row of the record reader (`parquet::record::Row`) as cells: each
//! field's value in the form the text formats write it, so the same
//! conversion (`infer::Converter`) reads every format alike — dates as
//! `YYYY-MM-DD`, instants as RFC 3339 in UTC, times of day as
//! `HH:MM:SS[.ffffff]`, decimals as floats, bytes as UTF-8 text (else
//! hexadecimal), lists, maps and repeated fields as JSON text.

use ::parquet::data_type::Decimal;
use ::parquet::record::{Field, Row};
use chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat, Utc};
use serde_json::Value as Json;

use super::plan::{Node, Plan, Read};
use crate::datasets::parse::Cell;

/// Days from 0001-01-01 (day 1 of the common era) to 1970-01-01.
const EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// Why a value could not be taken, naming the column.
#[derive(Debug)]
pub(super) struct BadValue(pub String);

impl Plan {
    /// Fills `cells` (one per column) from `row`; columns the row leaves
    /// out (a null struct, say) are null.
    pub fn fill(&self, row: &Row, cells: &mut [Cell]) -> Result<(), BadValue> {
        cells.iter_mut().for_each(|cell| *cell = Cell::Null);
        self.fill_group(&self.nodes, row, cells)
    }

    fn fill_group(&self, nodes: &[Node], row: &Row, cells: &mut [Cell]) -> Result<(), BadValue> {
        for (node, (_, field)) in nodes.iter().zip(row.get_column_iter()) {
            match (node, field) {
                (Node::Column(at), field) => {
                    let Some(column) = self.columns.get(*at) else { continue };
                    let cell = cell(field, column.read)
                        .map_err(|why| BadValue(format!("the column \"{}\": {why}", column.name)))?;
                    if let Some(slot) = cells.get_mut(*at) {
                        *slot = cell;
                    }
                }
                (Node::Struct(members), Field::Group(inner)) => self.fill_group(members, inner, cells)?,
                // A null struct: its members stay null.
                (Node::Struct(_), _) => {}
            }
        }
        Ok(())
    }
}

/// One value as a cell, read as `read` says; why it does not fit.
pub(super) fn cell(field: &Field, read: Read) -> Result<Cell, String> {
    let cell = match (field, read) {
        (Field::Null, _) => Cell::Null,
        (_, Read::Json) => Cell::Text(json(field).to_string()),
        (Field::Long(nanos), Read::TimestampNanos) => Cell::Text(instant(DateTime::from_timestamp_nanos(*nanos))),
        (Field::Long(nanos), Read::TimeNanos) => Cell::Text(time_of_day(nanos.div_euclid(1_000))),
        (Field::Bytes(bytes), Read::Uuid) => Cell::Text(match uuid::Uuid::from_slice(bytes.data()) {
            Ok(id) => id.to_string(),
            Err(_) => text_of_bytes(bytes.data()),
        }),
        (Field::Bool(b), _) => Cell::Boolean(*b),
        (Field::Byte(n), _) => Cell::Integer(i64::from(*n)),
        (Field::Short(n), _) => Cell::Integer(i64::from(*n)),
        (Field::Int(n), _) => Cell::Integer(i64::from(*n)),
        (Field::Long(n), _) => Cell::Integer(*n),
        (Field::UByte(n), _) => Cell::Integer(i64::from(*n)),
        (Field::UShort(n), _) => Cell::Integer(i64::from(*n)),
        (Field::UInt(n), _) => Cell::Integer(i64::from(*n)),
        (Field::ULong(n), _) => match i64::try_from(*n) {
            Ok(n) => Cell::Integer(n),
            Err(_) => return Err(format!("{n} is beyond the largest integer a dataset holds ({})", i64::MAX)),
        },
        (Field::Float16(x), _) => float(x.to_f64()),
        (Field::Float(x), _) => float(f64::from(*x)),
        (Field::Double(x), _) => float(*x),
        (Field::Decimal(d), _) => float(decimal(d)),
        (Field::Str(s), _) => Cell::Text(s.clone()),
        (Field::Bytes(bytes), _) => Cell::Text(text_of_bytes(bytes.data())),
        (Field::Date(days), _) => Cell::Text(date(*days)),
        (Field::TimeMillis(ms), _) => Cell::Text(time_of_day(i64::from(*ms) * 1_000)),
        (Field::TimeMicros(us), _) => Cell::Text(time_of_day(*us)),
        (Field::TimestampMillis(ms), _) => {
            Cell::Text(DateTime::from_timestamp_millis(*ms).map_or_else(|| ms.to_string(), instant))
        }
        (Field::TimestampMicros(us), _) => {
            Cell::Text(DateTime::from_timestamp_micros(*us).map_or_else(|| us.to_string(), instant))
        }
        (Field::Group(_) | Field::ListInternal(_) | Field::MapInternal(_), _) => Cell::Text(json(field).to_string()),
    };
    Ok(cell)
}

/// A finite number; NaN and infinities are no value a table can compare,
/// sum or profile (the text formats never produce them either).
fn float(x: f64) -> Cell {
    if x.is_finite() { Cell::Float(x) } else { Cell::Null }
}

/// A decimal's value as the nearest float: its unscaled big-endian two's
/// complement bytes over ten to its scale.
pub(super) fn decimal(d: &Decimal) -> f64 {
    let bytes = d.data();
    let scale = 10f64.powi(d.scale());
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    if bytes.len() <= 16 {
        let mut wide = [if negative { 0xFF } else { 0 }; 16];
        wide[16 - bytes.len()..].copy_from_slice(bytes);
        return i128::from_be_bytes(wide) as f64 / scale;
    }
    // Wider than 128 bits: the magnitude digit by digit (-x is !x + 1).
    let mut magnitude: Vec<u8> = if negative { bytes.iter().map(|b| !b).collect() } else { bytes.to_vec() };
    if negative {
        for byte in magnitude.iter_mut().rev() {
            let (sum, carry) = byte.overflowing_add(1);
            *byte = sum;
            if !carry {
                break;
            }
        }
    }
    let value = magnitude.iter().fold(0f64, |acc, b| acc * 256.0 + f64::from(*b)) / scale;
    if negative { -value } else { value }
}

/// Days since 1970-01-01 as `YYYY-MM-DD`; the bare number when no calendar
/// date is that far (the conversion then counts it invalid).
fn date(days: i32) -> String {
    days.checked_add(EPOCH_DAYS_FROM_CE)
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .map_or_else(|| days.to_string(), |d| d.format("%Y-%m-%d").to_string())
}

/// An instant as RFC 3339 in UTC (`Z`), with as many fraction digits as it has.
fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Microseconds since midnight as `HH:MM:SS`, with a fraction when it has one.
fn time_of_day(micros: i64) -> String {
    let (seconds, fraction) = (micros.div_euclid(1_000_000), micros.rem_euclid(1_000_000));
    let time = u32::try_from(seconds)
        .ok()
        .zip(u32::try_from(fraction * 1_000).ok())
        .and_then(|(s, nanos)| NaiveTime::from_num_seconds_from_midnight_opt(s, nanos));
    match time {
        Some(time) => time.format("%H:%M:%S%.f").to_string(),
        None => micros.to_string(),
    }
}

/// Bytes as their UTF-8 text, else in hexadecimal.
fn text_of_bytes(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => hex::encode(bytes),
    }
}

/// A nested value as JSON: structs and maps as objects, lists as arrays,
/// leaves as the cells above write them (decimals as numbers).
fn json(field: &Field) -> Json {
    match field {
        Field::Null => Json::Null,
        Field::Bool(b) => Json::Bool(*b),
        Field::Byte(n) => Json::from(*n),
        Field::Short(n) => Json::from(*n),
        Field::Int(n) => Json::from(*n),
        Field::Long(n) => Json::from(*n),
        Field::UByte(n) => Json::from(*n),
        Field::UShort(n) => Json::from(*n),
        Field::UInt(n) => Json::from(*n),
        Field::ULong(n) => Json::from(*n),
        Field::Float16(x) => number(x.to_f64()),
        Field::Float(x) => number(f64::from(*x)),
        Field::Double(x) => number(*x),
        Field::Decimal(d) => number(decimal(d)),
        Field::Str(s) => Json::String(s.clone()),
        Field::Bytes(bytes) => Json::String(text_of_bytes(bytes.data())),
        Field::Date(days) => Json::String(date(*days)),
        Field::TimeMillis(ms) => Json::String(time_of_day(i64::from(*ms) * 1_000)),
        Field::TimeMicros(us) => Json::String(time_of_day(*us)),
        Field::TimestampMillis(ms) => {
            DateTime::from_timestamp_millis(*ms).map_or(Json::from(*ms), |at| Json::String(instant(at)))
        }
        Field::TimestampMicros(us) => {
            DateTime::from_timestamp_micros(*us).map_or(Json::from(*us), |at| Json::String(instant(at)))
        }
        Field::Group(row) => {
            Json::Object(row.get_column_iter().map(|(name, value)| (name.clone(), json(value))).collect())
        }
        Field::ListInternal(list) => Json::Array(list.elements().iter().map(json).collect()),
        Field::MapInternal(map) => Json::Object(
            map.entries()
                .iter()
                .map(|(key, value)| {
                    let key = match json(key) {
                        Json::String(text) => text,
                        other => other.to_string(),
                    };
                    (key, json(value))
                })
                .collect(),
        ),
    }
}

/// A finite number as JSON, else `null` (JSON has no NaN).
fn number(x: f64) -> Json {
    serde_json::Number::from_f64(x).map_or(Json::Null, Json::Number)
}
