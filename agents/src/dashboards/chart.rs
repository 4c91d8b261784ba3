//! The data behind one chart: its type, the columns it plots and its rows,
//! resolved and bounded once so every renderer (Vega-Lite, SVG) draws the
//! same thing.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Rows a chart keeps; the rest are cut, so one chart cannot hold a whole
/// table in memory or in a rendered page.
pub const MAX_CHART_ROWS: usize = 5000;

/// How a chart draws its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChartType {
    /// A line per measure over the x column, with a point per row.
    Line,
    /// Bars from zero, grouped when there are several measures.
    Bar,
    /// A point per row.
    Scatter,
    /// One slice per row, sized by the first measure.
    Pie,
    /// The rows themselves.
    Table,
}

impl ChartType {
    /// Every chart type, in the order a picker lists them.
    pub const ALL: [Self; 5] = [Self::Line, Self::Bar, Self::Scatter, Self::Pie, Self::Table];

    /// The stable upper-case name stored and sent to clients.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Line => "LINE",
            Self::Bar => "BAR",
            Self::Scatter => "SCATTER",
            Self::Pie => "PIE",
            Self::Table => "TABLE",
        }
    }

    /// Reads a name written by [`ChartType::as_str`], in any case.
    pub fn parse(name: &str) -> Option<Self> {
        let name = name.trim();
        Self::ALL.into_iter().find(|t| t.as_str().eq_ignore_ascii_case(name))
    }
}

/// Which columns a chart plots, as the merchant (or a model) chose them;
/// anything left out is filled in by [`ChartData::new`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Encoding {
    /// The column along the x axis (the slice names of a pie).
    pub x: Option<String>,
    /// The measured columns.
    pub y: Vec<String>,
}

/// Why a chart cannot be built from its rows, in words a merchant can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChartError {
    /// The encoding names a column the results do not have.
    #[error("the results have no column named \"{0}\"")]
    UnknownColumn(String),
    /// Nothing numeric to plot.
    #[error("this chart needs at least one numeric column to plot; choose one, or show a table")]
    NoMeasure,
    /// A record given to [`ChartData::from_records`] was not a JSON object.
    #[error("row {0} of the results is not a record of named values")]
    NotARecord(usize),
}

/// A chart ready to draw: encoding resolved against the columns, rows cut
/// to [`MAX_CHART_ROWS`].
#[derive(Debug, Clone, PartialEq)]
pub struct ChartData {
    /// The chart's title (untrusted text: renderers escape it).
    pub title: String,
    /// How the rows are drawn.
    pub chart_type: ChartType,
    /// Column names, in the order of each row's cells.
    pub columns: Vec<String>,
    /// The rows; a short row reads as nulls for its missing cells.
    pub rows: Vec<Vec<Value>>,
    /// The x column (`None` only when there are no columns).
    pub x: Option<String>,
    /// The measured columns (only the first for a pie).
    pub y: Vec<String>,
    /// Whether rows beyond [`MAX_CHART_ROWS`] were cut.
    pub truncated: bool,
}

impl ChartData {
    /// Resolves `encoding` against `columns`: x defaults to the first column,
    /// y to every numeric column other than x.
    pub fn new(
        title: impl Into<String>,
        chart_type: ChartType,
        columns: Vec<String>,
        mut rows: Vec<Vec<Value>>,
        encoding: &Encoding,
    ) -> Result<Self, ChartError> {
        let truncated = rows.len() > MAX_CHART_ROWS;
        rows.truncate(MAX_CHART_ROWS);
        let known = |name: &String| {
            if columns.contains(name) { Ok(name.clone()) } else { Err(ChartError::UnknownColumn(name.clone())) }
        };
        let x = match &encoding.x {
            Some(name) => Some(known(name)?),
            None => columns.first().cloned(),
        };
        let mut y = if encoding.y.is_empty() {
            columns
                .iter()
                .enumerate()
                .filter(|(i, name)| Some(*name) != x.as_ref() && is_numeric(&rows, *i))
                .map(|(_, name)| name.clone())
                .collect()
        } else {
            encoding.y.iter().map(known).collect::<Result<Vec<_>, _>>()?
        };
        if chart_type == ChartType::Pie {
            y.truncate(1);
        }
        if chart_type != ChartType::Table && y.is_empty() {
            return Err(ChartError::NoMeasure);
        }
        Ok(Self { title: title.into(), chart_type, columns, rows, x, y, truncated })
    }

    /// Builds a chart from JSON objects (one per row); the columns are their
    /// keys in first-seen order.
    pub fn from_records(
        title: impl Into<String>,
        chart_type: ChartType,
        records: &[Value],
        encoding: &Encoding,
    ) -> Result<Self, ChartError> {
        let mut columns: Vec<String> = Vec::new();
        let mut objects = Vec::with_capacity(records.len().min(MAX_CHART_ROWS));
        for (i, record) in records.iter().enumerate() {
            let Value::Object(object) = record else {
                return Err(ChartError::NotARecord(i + 1));
            };
            for key in object.keys() {
                if !columns.contains(key) {
                    columns.push(key.clone());
                }
            }
            objects.push(object);
        }
        let rows = objects
            .iter()
            .take(MAX_CHART_ROWS + 1) // one past the cap, so `new` sees the cut
            .map(|o| columns.iter().map(|c| o.get(c).cloned().unwrap_or(Value::Null)).collect())
            .collect();
        Self::new(title, chart_type, columns, rows, encoding)
    }

    /// The index of a column by name.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// One column's cells, row by row (nulls for a missing column or cell).
    pub fn cells<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a Value> + use<'a> {
        let index = self.column(name);
        self.rows.iter().map(move |row| index.and_then(|i| row.get(i)).unwrap_or(&Value::Null))
    }

    /// One column's values as finite numbers, row by row.
    pub fn values(&self, name: &str) -> Vec<Option<f64>> {
        self.cells(name).map(number).collect()
    }

    /// The x column's cells as text, row by row (row numbers without an x).
    pub fn labels(&self) -> Vec<String> {
        match &self.x {
            Some(x) => self.cells(x).map(text).collect(),
            None => (1..=self.rows.len()).map(|i| i.to_string()).collect(),
        }
    }
}

/// A cell as a finite number: JSON numbers and numeric strings (`"12.5"`);
/// NaN and infinities (which only strings can carry) count as missing.
pub fn number(value: &Value) -> Option<f64> {
    let n = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    n.is_finite().then_some(n)
}

/// A cell as display text (strings without their quotes, null as empty).
pub(crate) fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether a column can be a default measure: every non-null cell is
/// numeric and at least one is (an all-null column plots nothing), except
/// with no rows at all, where an empty chart is still a chart.
fn is_numeric(rows: &[Vec<Value>], index: usize) -> bool {
    let mut any = false;
    for cell in rows.iter().filter_map(|r| r.get(index)).filter(|c| !c.is_null()) {
        if number(cell).is_none() {
            return false;
        }
        any = true;
    }
    any || rows.is_empty()
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a test fails loudly on what it did not expect")]
mod tests {
    use super::*;
    use serde_json::json;

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn chart_types_round_trip_their_names() {
        for t in ChartType::ALL {
            assert_eq!(ChartType::parse(t.as_str()), Some(t));
        }
        assert_eq!(ChartType::parse(" bar "), Some(ChartType::Bar));
        assert_eq!(ChartType::parse("donut"), None);
    }

    #[test]
    fn encoding_defaults_to_first_column_and_numeric_measures() {
        let rows = vec![
            vec![json!("2024-01-01"), json!("shoes"), json!(3), json!("4.5"), json!(null)],
            vec![json!("2024-01-02"), json!("hats"), json!(null), json!("7"), json!(null)],
        ];
        let chart = ChartData::new(
            "Sales",
            ChartType::Line,
            cols(&["day", "product", "units", "revenue", "notes"]),
            rows,
            &Encoding::default(),
        )
        .unwrap();
        assert_eq!(chart.x.as_deref(), Some("day"));
        assert_eq!(chart.y, cols(&["units", "revenue"]));
        assert_eq!(chart.values("revenue"), vec![Some(4.5), Some(7.0)]);
    }

    #[test]
    fn unknown_columns_and_missing_measures_are_refused() {
        let columns = cols(&["name", "city"]);
        let rows = vec![vec![json!("a"), json!("b")]];
        let bad = Encoding { x: Some("nope".into()), y: vec![] };
        assert_eq!(
            ChartData::new("t", ChartType::Bar, columns.clone(), rows.clone(), &bad),
            Err(ChartError::UnknownColumn("nope".into()))
        );
        let bad_y = Encoding { x: None, y: vec!["price".into()] };
        assert_eq!(
            ChartData::new("t", ChartType::Bar, columns.clone(), rows.clone(), &bad_y),
            Err(ChartError::UnknownColumn("price".into()))
        );
        assert_eq!(
            ChartData::new("t", ChartType::Bar, columns.clone(), rows.clone(), &Encoding::default()),
            Err(ChartError::NoMeasure)
        );
        assert!(ChartData::new("t", ChartType::Table, columns, rows, &Encoding::default()).is_ok());
    }

    #[test]
    fn pies_keep_one_measure_and_rows_are_capped() {
        let rows: Vec<Vec<Value>> =
            (0..MAX_CHART_ROWS + 3).map(|i| vec![json!(i.to_string()), json!(i), json!(1)]).collect();
        let chart = ChartData::new("t", ChartType::Pie, cols(&["k", "a", "b"]), rows, &Encoding::default()).unwrap();
        assert_eq!(chart.y, cols(&["a"]));
        assert_eq!(chart.rows.len(), MAX_CHART_ROWS);
        assert!(chart.truncated);
    }

    #[test]
    fn records_give_columns_in_first_seen_order() {
        let records = vec![json!({"month": "Jan", "sales": 3}), json!({"returns": 1, "month": "Feb"})];
        let chart = ChartData::from_records("t", ChartType::Bar, &records, &Encoding::default()).unwrap();
        assert_eq!(chart.columns, cols(&["month", "sales", "returns"]));
        assert_eq!(chart.rows[1], vec![json!("Feb"), Value::Null, json!(1)]);
        assert_eq!(chart.y, cols(&["sales", "returns"]));
        assert!(!chart.truncated);
        assert_eq!(
            ChartData::from_records("t", ChartType::Bar, &[json!(1)], &Encoding::default()),
            Err(ChartError::NotARecord(1))
        );
    }

    #[test]
    fn numbers_are_finite() {
        assert_eq!(number(&json!(" 12.5 ")), Some(12.5));
        assert_eq!(number(&json!(3)), Some(3.0));
        assert_eq!(number(&json!("NaN")), None);
        assert_eq!(number(&json!("inf")), None);
        assert_eq!(number(&json!("")), None);
        assert_eq!(number(&json!(true)), None);
    }
}
