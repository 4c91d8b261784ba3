//! A dataset's columns: their types (inferred, or set by the merchant), the
//! physical type each becomes on each engine, and their names as the table
//! has them.
//!
//! Names are the source's (a CSV header cell, a JSON key path joined with
//! `.`), trimmed, without control characters, cut to 63 bytes (PostgreSQL's
//! identifier length: a longer one would be cut silently and could clash),
//! an empty one named `column_N` (N its 1-based position), and made unique
//! ignoring ASCII case (SQLite compares quoted identifiers so) by appending
//! `_2`, `_3`, …. They are always double-quoted in SQL ([`quote`]).

use std::collections::HashSet;

use sea_orm::DbBackend;
use serde::{Deserialize, Serialize};

/// A column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ColumnType {
    /// 64-bit signed integers.
    Integer,
    /// 64-bit floating point numbers.
    Float,
    /// true / false.
    Boolean,
    /// Calendar dates.
    Date,
    /// Instants, in UTC.
    Timestamp,
    /// Anything else, as written.
    Text,
}

impl ColumnType {
    /// Every type.
    pub const ALL: [ColumnType; 6] =
        [Self::Integer, Self::Float, Self::Boolean, Self::Date, Self::Timestamp, Self::Text];

    /// Stable text form, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Integer => "INTEGER",
            Self::Float => "FLOAT",
            Self::Boolean => "BOOLEAN",
            Self::Date => "DATE",
            Self::Timestamp => "TIMESTAMP",
            Self::Text => "TEXT",
        }
    }

    /// The type named `text` (as [`ColumnType::as_str`] writes it).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// Integer or float.
    pub fn is_numeric(self) -> bool {
        matches!(self, Self::Integer | Self::Float)
    }

    /// The column type in `CREATE TABLE` on `backend`: PostgreSQL `bigint`,
    /// `double precision`, `boolean`, `date`, `timestamptz`, `text`; SQLite
    /// `INTEGER`, `REAL`, `INTEGER` (0, 1), `TEXT` (`YYYY-MM-DD`), `TEXT`
    /// (RFC 3339, UTC), `TEXT`.
    pub fn physical(self, backend: DbBackend) -> &'static str {
        match (backend, self) {
            (DbBackend::Postgres, Self::Integer) => "bigint",
            (DbBackend::Postgres, Self::Float) => "double precision",
            (DbBackend::Postgres, Self::Boolean) => "boolean",
            (DbBackend::Postgres, Self::Date) => "date",
            (DbBackend::Postgres, Self::Timestamp) => "timestamptz",
            (DbBackend::Postgres, Self::Text) => "text",
            (_, Self::Integer | Self::Boolean) => "INTEGER",
            (_, Self::Float) => "REAL",
            (_, Self::Date | Self::Timestamp | Self::Text) => "TEXT",
        }
    }
}

impl std::fmt::Display for ColumnType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A column of a dataset's table: its name, the type it is stored as, and
/// the type inference found (the two differ once the merchant set one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnSpec {
    /// As the table has it (see the module documentation).
    pub name: String,
    /// The type it is stored as.
    #[serde(rename = "type")]
    pub kind: ColumnType,
    /// The type inference chose from the values.
    pub inferred: ColumnType,
}

impl ColumnSpec {
    /// The columns stored as `dataset.columns`; an unreadable value is no columns.
    pub fn list_from(json: &serde_json::Value) -> Vec<ColumnSpec> {
        serde_json::from_value(json.clone()).unwrap_or_default()
    }

    /// `columns` as stored in `dataset.columns`.
    pub fn list_to_json(columns: &[ColumnSpec]) -> serde_json::Value {
        serde_json::to_value(columns).unwrap_or_else(|_| serde_json::Value::Array(Vec::new()))
    }
}

/// The most bytes of a column name: PostgreSQL's `NAMEDATALEN - 1`.
pub const MAX_NAME_BYTES: usize = 63;

/// `name` as an SQL identifier: double-quoted, inner quotes doubled.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The table's column names for the source's `raw` names, in order (see
/// the module documentation): as many as given, all distinct ignoring
/// ASCII case, none empty, none over [`MAX_NAME_BYTES`].
pub fn table_names(raw: &[String]) -> Vec<String> {
    let mut taken: HashSet<String> = HashSet::new();
    let mut names = Vec::with_capacity(raw.len());
    for (i, source) in raw.iter().enumerate() {
        let cleaned: String = source.chars().filter(|c| !c.is_control()).collect();
        let cleaned = cut(cleaned.trim(), MAX_NAME_BYTES);
        let base = if cleaned.is_empty() { format!("column_{}", i + 1) } else { cleaned.to_owned() };
        let mut name = base.clone();
        let mut n = 2;
        while taken.contains(&name.to_ascii_lowercase()) {
            let suffix = format!("_{n}");
            name = format!("{}{suffix}", cut(&base, MAX_NAME_BYTES - suffix.len()));
            n += 1;
        }
        taken.insert(name.to_ascii_lowercase());
        names.push(name);
    }
    names
}

/// The longest prefix of `text` of at most `max` bytes that ends on a
/// character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(raw: &[&str]) -> Vec<String> {
        table_names(&raw.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn names_are_trimmed_filled_and_made_unique_ignoring_case() {
        assert_eq!(
            names(&[" id ", "", "Name", "name", "name_2", "\tnote\u{0}"]),
            ["id", "column_2", "Name", "name_2", "name_2_2", "note"]
        );
    }

    #[test]
    fn long_names_are_cut_on_a_character_boundary_and_stay_unique() {
        let long = "é".repeat(40);
        let cut = names(&[&long, &long]);
        assert!(cut.iter().all(|n| n.len() <= MAX_NAME_BYTES), "{cut:?}");
        assert_ne!(cut[0], cut[1]);
        assert!(cut[1].ends_with("_2"));
    }

    #[test]
    fn types_round_trip_and_quote() {
        for kind in ColumnType::ALL {
            assert_eq!(ColumnType::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_value(kind).unwrap_or_default();
            assert_eq!(json, serde_json::json!(kind.as_str()));
        }
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
        let spec = ColumnSpec { name: "n".into(), kind: ColumnType::Integer, inferred: ColumnType::Text };
        let json = ColumnSpec::list_to_json(std::slice::from_ref(&spec));
        assert_eq!(json, serde_json::json!([{ "name": "n", "type": "INTEGER", "inferred": "TEXT" }]));
        assert_eq!(ColumnSpec::list_from(&json), vec![spec]);
    }
}
