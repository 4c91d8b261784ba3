//! Column types from the values, and values converted to their column's type.
//!
//! Rules (leading and trailing spaces never matter to a typed value):
//! - Null: an empty cell, JSON `null`, a missing key, and the tokens `NA`,
//!   `N/A`, `n/a`, `NULL`, `null`, `Null`, `NaN`, `nan`, `None`, `none`,
//!   `#N/A`, `<NA>` (as pandas reads them).
//! - `BOOLEAN`: `true`/`false`/`yes`/`no` in any case, JSON booleans.
//! - `INTEGER`: an optional sign and digits within 64 bits, without a
//!   leading zero (`0123` is a code, not a number: it stays text), JSON
//!   integers.
//! - `FLOAT`: decimal notation with `.` (`-1.5`, `.5`, `2e-3`; the same
//!   leading-zero rule), or every value written with a decimal comma
//!   (`3,5`, as `;`-separated European exports write them; integers may
//!   be among them, `.` decimals may not), JSON numbers.
//! - `DATE`: day, month and year as numbers (year of four digits) in one
//!   order and with one separator for the whole column: `2024-03-31`,
//!   `2024/03/31`, `2024.03.31`, `03/31/2024`, `03-31-2024`, `31/03/2024`,
//!   `31.03.2024`, `31-03-2024`. When several fit every value (`01/02/2024`),
//!   the earlier in that list wins: year first, then month first (US).
//! - `TIMESTAMP`: ISO 8601 / RFC 3339 date and time (`T` or a space
//!   between, seconds and fraction optional, `Z` or an offset optional; no
//!   offset is UTC), some of which may be bare ISO dates (midnight UTC).
//!   Kept to the microsecond.
//! - `TEXT`: anything else.
//!
//! A column takes the first of `BOOLEAN`, `INTEGER`, `FLOAT`, `DATE`,
//! `TIMESTAMP` that **every** non-null value parses as (100 %: inference
//! never turns a value into a null), else `TEXT`; a column with no values
//! is `TEXT`. A text column where one other type covers at least half of
//! the values (but not all) is reported as mixed (`MIXED_TYPES` in the
//! profile), so the merchant can clean it or set its type.
//!
//! A type the merchant sets (`setColumnType`) is applied to every value:
//! one that is not of it is stored as null and counted as invalid in the
//! profile (`MIXED_TYPES`), as SQL's `TRY_CAST` would. Integral floats are
//! integers, `0`/`1` are booleans, any of the date forms (and timestamps,
//! by their UTC date) are dates, and dates are timestamps at midnight UTC.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Timelike, Utc};

use super::column::ColumnType;
use super::parse::Cell;
use super::value::Value;

/// Whether `text` stands for a missing value (see the module documentation).
pub fn is_null_token(text: &str) -> bool {
    matches!(
        text.trim(),
        "" | "NA" | "N/A" | "n/a" | "NULL" | "null" | "Null" | "NaN" | "nan" | "None" | "none" | "#N/A" | "<NA>"
    )
}

/// `true`/`false`/`yes`/`no`, any case.
pub fn parse_bool(text: &str) -> Option<bool> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("yes") {
        Some(true)
    } else if t.eq_ignore_ascii_case("false") || t.eq_ignore_ascii_case("no") {
        Some(false)
    } else {
        None
    }
}

/// Digits of a number's integer part: not empty only when allowed, and
/// without a leading zero unless they are `0`.
fn integer_part_ok(digits: &[u8]) -> bool {
    digits.iter().all(u8::is_ascii_digit) && !(digits.len() > 1 && digits[0] == b'0')
}

/// `text` without one leading `+` or `-`.
fn unsigned(text: &[u8]) -> &[u8] {
    match text.first() {
        Some(b'+' | b'-') => &text[1..],
        _ => text,
    }
}

/// A 64-bit integer (see the module documentation).
pub fn parse_integer(text: &str) -> Option<i64> {
    let t = text.trim();
    let digits = unsigned(t.as_bytes());
    if digits.is_empty() || !integer_part_ok(digits) {
        return None;
    }
    t.parse().ok()
}

/// A finite decimal number with `.` (see the module documentation).
pub fn parse_float(text: &str) -> Option<f64> {
    let t = text.trim();
    let body = unsigned(t.as_bytes());
    let (mantissa, exponent) = match body.iter().position(|&b| b == b'e' || b == b'E') {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let (int, frac) = match mantissa.iter().position(|&b| b == b'.') {
        Some(at) => (&mantissa[..at], &mantissa[at + 1..]),
        None => (mantissa, &mantissa[mantissa.len()..]),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !integer_part_ok(int) || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if let Some(exponent) = exponent {
        let digits = unsigned(exponent);
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
    }
    t.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// A number written with a decimal comma and no exponent: `3,5`, `-0,25`.
pub fn parse_comma_decimal(text: &str) -> Option<f64> {
    let t = text.trim();
    let body = unsigned(t.as_bytes());
    let at = body.iter().position(|&b| b == b',')?;
    let (int, frac) = (&body[..at], &body[at + 1..]);
    if int.is_empty() || frac.is_empty() || !integer_part_ok(int) || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    t.replacen(',', ".", 1).parse::<f64>().ok().filter(|x| x.is_finite())
}

/// The order of a date's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    Ymd,
    Mdy,
    Dmy,
}

/// One way of writing dates: an order and a separator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateFormat {
    order: Order,
    separator: char,
}

/// The date forms, in order of preference (see the module documentation).
pub const DATE_FORMATS: [DateFormat; 8] = [
    DateFormat { order: Order::Ymd, separator: '-' },
    DateFormat { order: Order::Ymd, separator: '/' },
    DateFormat { order: Order::Ymd, separator: '.' },
    DateFormat { order: Order::Mdy, separator: '/' },
    DateFormat { order: Order::Mdy, separator: '-' },
    DateFormat { order: Order::Dmy, separator: '/' },
    DateFormat { order: Order::Dmy, separator: '.' },
    DateFormat { order: Order::Dmy, separator: '-' },
];

impl DateFormat {
    /// The date `text` is in this form, if it is one.
    pub fn parse(self, text: &str) -> Option<NaiveDate> {
        let t = text.trim();
        let mut parts = t.split(self.separator);
        let (a, b, c) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let number = |part: &str, lengths: std::ops::RangeInclusive<usize>| -> Option<u32> {
            (lengths.contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit())).then(|| part.parse().ok())?
        };
        let (year, month, day) = match self.order {
            Order::Ymd => (number(a, 4..=4)?, number(b, 1..=2)?, number(c, 1..=2)?),
            Order::Mdy => (number(c, 4..=4)?, number(a, 1..=2)?, number(b, 1..=2)?),
            Order::Dmy => (number(c, 4..=4)?, number(b, 1..=2)?, number(a, 1..=2)?),
        };
        NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
    }
}

/// The date in any of the forms, the preferred first.
fn parse_any_date(text: &str) -> Option<NaiveDate> {
    DATE_FORMATS.iter().find_map(|format| format.parse(text))
}

/// An ISO 8601 / RFC 3339 timestamp or ISO date (see the module
/// documentation), in UTC to the microsecond; and whether it had a time.
pub fn parse_timestamp(text: &str) -> Option<(DateTime<Utc>, bool)> {
    let t = text.trim();
    let bytes = t.as_bytes();
    if bytes.len() < 10 || bytes[4] != b'-' || bytes[7] != b'-' || !bytes[0].is_ascii_digit() {
        return None;
    }
    if bytes.len() == 10 {
        let date = DATE_FORMATS[0].parse(t)?;
        return Some((date.and_hms_opt(0, 0, 0)?.and_utc(), false));
    }
    if !matches!(bytes[10], b'T' | b't' | b' ') {
        return None;
    }
    let parsed = DateTime::parse_from_rfc3339(t)
        .or_else(|_| DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .or_else(|_| DateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f%z"))
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
                .iter()
                .find_map(|format| NaiveDateTime::parse_from_str(t, format).ok())
                .map(|naive| naive.and_utc())
        })?;
    let micros = parsed.with_nanosecond(parsed.nanosecond() / 1_000 * 1_000)?;
    Some((micros, true))
}

/// What one pass over a column's values found, for [`ColumnStats::decide`].
#[derive(Debug, Clone, Default)]
pub struct ColumnStats {
    non_null: u64,
    booleans: u64,
    integers: u64,
    /// Values that are numbers with `.` (integers included).
    floats: u64,
    /// Values that are numbers with a decimal comma or integers.
    commas: u64,
    /// Some value had a decimal comma.
    comma_seen: bool,
    /// Values of each of [`DATE_FORMATS`].
    dates: [u64; DATE_FORMATS.len()],
    /// Values that are timestamps or ISO dates.
    timestamps: u64,
    /// Some timestamp had a time of day.
    timed: bool,
    /// Some timestamp had a fraction of a second.
    subsecond: bool,
}

/// How a column's values are read into its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Format {
    /// The one date form of a `DATE` column.
    pub date: Option<DateFormat>,
    /// A `FLOAT` column written with decimal commas.
    pub decimal_comma: bool,
    /// Some timestamp has a fraction of a second (SQLite then stores them
    /// all with microseconds, so that they sort as text).
    pub fraction: bool,
}

/// A text column that is mostly of another type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mixed {
    /// The type most of its values are.
    pub kind: ColumnType,
    /// How many are.
    pub matching: u64,
    /// Of how many non-null values.
    pub non_null: u64,
}

/// A column's inferred type and how its values read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inference {
    /// The type every value fits.
    pub kind: ColumnType,
    /// How its values read.
    pub format: Format,
    /// For a `TEXT` column, the other type at least half its values are.
    pub mixed: Option<Mixed>,
}

impl ColumnStats {
    /// Counts `cell`.
    pub fn observe(&mut self, cell: &Cell) {
        match cell {
            Cell::Null => {}
            Cell::Boolean(_) => {
                self.non_null += 1;
                self.booleans += 1;
            }
            Cell::Integer(_) => {
                self.non_null += 1;
                self.integers += 1;
                self.floats += 1;
                self.commas += 1;
            }
            Cell::Float(_) => {
                self.non_null += 1;
                self.floats += 1;
            }
            Cell::Text(text) => {
                self.non_null += 1;
                self.observe_text(text);
            }
        }
    }

    fn observe_text(&mut self, text: &str) {
        // Each form excludes the ones after it: a boolean, an integer or a
        // decimal number is never a date.
        if parse_bool(text).is_some() {
            self.booleans += 1;
            return;
        }
        if parse_integer(text).is_some() {
            self.integers += 1;
            self.floats += 1;
            self.commas += 1;
            return;
        }
        if parse_float(text).is_some() {
            self.floats += 1;
            return;
        }
        if parse_comma_decimal(text).is_some() {
            self.commas += 1;
            self.comma_seen = true;
            return;
        }
        if !text.trim_start().as_bytes().first().is_some_and(u8::is_ascii_digit) {
            return;
        }
        for (count, format) in self.dates.iter_mut().zip(DATE_FORMATS) {
            if format.parse(text).is_some() {
                *count += 1;
            }
        }
        if let Some((at, timed)) = parse_timestamp(text) {
            self.timestamps += 1;
            self.timed |= timed;
            self.subsecond |= at.nanosecond() != 0;
        }
    }

    /// Non-null values counted.
    pub fn non_null(&self) -> u64 {
        self.non_null
    }

    /// The column's type (see the module documentation).
    pub fn decide(&self) -> Inference {
        let n = self.non_null;
        let format = Format { fraction: self.subsecond, ..Format::default() };
        let typed = |kind| Inference { kind, format, mixed: None };
        if n == 0 {
            return typed(ColumnType::Text);
        }
        if self.booleans == n {
            return typed(ColumnType::Boolean);
        }
        if self.integers == n {
            return typed(ColumnType::Integer);
        }
        if self.floats == n {
            return typed(ColumnType::Float);
        }
        if self.commas == n && self.comma_seen {
            return Inference {
                kind: ColumnType::Float,
                format: Format { decimal_comma: true, ..format },
                mixed: None,
            };
        }
        if let Some((_, &date)) = self.dates.iter().zip(DATE_FORMATS.iter()).find(|(count, _)| **count == n) {
            return Inference { kind: ColumnType::Date, format: Format { date: Some(date), ..format }, mixed: None };
        }
        if self.timestamps == n && self.timed {
            return typed(ColumnType::Timestamp);
        }
        let numbers = if self.commas > self.floats {
            (ColumnType::Float, self.commas)
        } else if self.integers == self.floats {
            (ColumnType::Integer, self.floats)
        } else {
            (ColumnType::Float, self.floats)
        };
        let best_date = self.dates.iter().copied().max().unwrap_or(0);
        let candidates = [
            numbers,
            (ColumnType::Boolean, self.booleans),
            (ColumnType::Date, best_date),
            (ColumnType::Timestamp, self.timestamps),
        ];
        // The first of the largest: numbers before the rest.
        let (kind, matching) =
            candidates.iter().fold((ColumnType::Text, 0), |best, &c| if c.1 > best.1 { c } else { best });
        let mixed =
            (matching > 0 && matching * 2 >= n && matching < n).then_some(Mixed { kind, matching, non_null: n });
        Inference { kind: ColumnType::Text, format, mixed }
    }
}

/// Whether `cell` is a value of `kind` as inference reads values.
pub fn fits(cell: &Cell, kind: ColumnType) -> bool {
    match (cell, kind) {
        (Cell::Null, _) | (_, ColumnType::Text) => true,
        (Cell::Boolean(_), ColumnType::Boolean) => true,
        (Cell::Integer(_), ColumnType::Integer | ColumnType::Float) => true,
        (Cell::Float(_), ColumnType::Float) => true,
        (Cell::Text(t), ColumnType::Boolean) => parse_bool(t).is_some(),
        (Cell::Text(t), ColumnType::Integer) => parse_integer(t).is_some(),
        (Cell::Text(t), ColumnType::Float) => parse_float(t).is_some() || parse_comma_decimal(t).is_some(),
        (Cell::Text(t), ColumnType::Date) => parse_any_date(t).is_some(),
        (Cell::Text(t), ColumnType::Timestamp) => parse_timestamp(t).is_some(),
        _ => false,
    }
}

/// Whether `cell` is text of no other type.
pub fn only_text(cell: &Cell) -> bool {
    matches!(cell, Cell::Text(_))
        && [ColumnType::Boolean, ColumnType::Float, ColumnType::Date, ColumnType::Timestamp]
            .into_iter()
            .all(|kind| !fits(cell, kind))
}

/// Reads a column's cells into its type.
#[derive(Debug, Clone, Copy)]
pub struct Converter {
    kind: ColumnType,
    format: Format,
    /// The type is the inferred one: values read as inference read them.
    inferred: bool,
}

impl Converter {
    /// Reads a column of `kind`, whose values inference found as `inference`.
    pub fn new(kind: ColumnType, inference: &Inference) -> Self {
        Self { kind, format: inference.format, inferred: kind == inference.kind }
    }

    /// The column's type.
    pub fn kind(&self) -> ColumnType {
        self.kind
    }

    /// Whether its timestamps have fractions of a second.
    pub fn fraction(&self) -> bool {
        self.format.fraction
    }

    /// `cell` as a value of the column's type, and whether it was a value
    /// that is not of that type (then stored as null).
    pub fn convert(&self, cell: &Cell) -> (Value, bool) {
        if *cell == Cell::Null {
            return (Value::Null, false);
        }
        let value = match self.kind {
            ColumnType::Text => Some(Value::Text(as_text(cell))),
            ColumnType::Boolean => self.boolean(cell).map(Value::Boolean),
            ColumnType::Integer => self.integer(cell).map(Value::Integer),
            ColumnType::Float => self.float(cell).map(Value::Float),
            ColumnType::Date => self.date(cell).map(Value::Date),
            ColumnType::Timestamp => self.timestamp(cell).map(Value::Timestamp),
        };
        match value {
            Some(value) => (value, false),
            None => (Value::Null, true),
        }
    }

    fn boolean(&self, cell: &Cell) -> Option<bool> {
        match cell {
            Cell::Boolean(b) => Some(*b),
            Cell::Text(t) => {
                parse_bool(t).or_else(|| if self.inferred { None } else { zero_or_one(parse_integer(t)?) })
            }
            Cell::Integer(n) if !self.inferred => zero_or_one(*n),
            _ => None,
        }
    }

    fn integer(&self, cell: &Cell) -> Option<i64> {
        match cell {
            Cell::Integer(n) => Some(*n),
            Cell::Text(t) => parse_integer(t).or_else(|| {
                if self.inferred { None } else { integral(parse_float(t).or_else(|| parse_comma_decimal(t))?) }
            }),
            Cell::Float(x) if !self.inferred => integral(*x),
            _ => None,
        }
    }

    fn float(&self, cell: &Cell) -> Option<f64> {
        match cell {
            Cell::Integer(n) => Some(*n as f64),
            Cell::Float(x) => Some(*x),
            Cell::Text(t) if self.inferred && self.format.decimal_comma => {
                parse_integer(t).map(|n| n as f64).or_else(|| parse_comma_decimal(t))
            }
            Cell::Text(t) if self.inferred => parse_float(t),
            Cell::Text(t) => parse_float(t).or_else(|| parse_comma_decimal(t)),
            _ => None,
        }
    }

    fn date(&self, cell: &Cell) -> Option<NaiveDate> {
        let Cell::Text(t) = cell else { return None };
        match (self.inferred, self.format.date) {
            (true, Some(format)) => format.parse(t),
            _ => parse_any_date(t).or_else(|| parse_timestamp(t).map(|(at, _)| at.date_naive())),
        }
    }

    fn timestamp(&self, cell: &Cell) -> Option<DateTime<Utc>> {
        let Cell::Text(t) = cell else { return None };
        parse_timestamp(t).map(|(at, _)| at).or_else(|| {
            if self.inferred { None } else { parse_any_date(t)?.and_hms_opt(0, 0, 0).map(|at| at.and_utc()) }
        })
    }
}

fn zero_or_one(n: i64) -> Option<bool> {
    match n {
        0 => Some(false),
        1 => Some(true),
        _ => None,
    }
}

/// `x` as an integer when it has no fraction and fits.
fn integral(x: f64) -> Option<i64> {
    // i64::MAX as f64 rounds up to 2^63, which does not fit: hence `<`.
    (x.fract() == 0.0 && x >= i64::MIN as f64 && x < i64::MAX as f64).then_some(x as i64)
}

/// A cell's text: as written; numbers and booleans as JSON writes them.
fn as_text(cell: &Cell) -> String {
    match cell {
        Cell::Text(t) if t.contains('\0') => t.replace('\0', ""),
        Cell::Text(t) => t.clone(),
        Cell::Integer(n) => n.to_string(),
        Cell::Float(x) => serde_json::Number::from_f64(*x).map_or_else(|| x.to_string(), |n| n.to_string()),
        Cell::Boolean(b) => b.to_string(),
        Cell::Null => String::new(),
    }
}

#[cfg(test)]
mod tests;
