//! A chart as a Vega-Lite v5 specification, for clients that draw charts
//! themselves (interactive, with tooltips); the same chart as
//! [`super::svg`] draws for exports.

use serde_json::{Map, Value, json};

use super::chart::{ChartData, ChartType, MAX_CHART_ROWS, number};

/// The schema every specification names.
pub const SCHEMA: &str = "https://vega.github.io/schema/vega-lite/v5.json";

/// The Vega-Lite specification of `chart`, its rows inline.
pub fn vega_lite(chart: &ChartData) -> Value {
    let values: Vec<Value> = chart.rows.iter().map(|row| record(chart, row)).collect();
    let title = if chart.truncated {
        json!({ "text": chart.title, "subtitle": format!("First {MAX_CHART_ROWS} rows") })
    } else {
        json!(chart.title)
    };
    let mut spec = json!({ "$schema": SCHEMA, "title": title, "data": { "values": values } });
    let (mark, encoding, transform) = match chart.chart_type {
        ChartType::Table => table(chart),
        ChartType::Pie => pie(chart),
        _ => xy(chart),
    };
    spec["mark"] = mark;
    spec["encoding"] = encoding;
    if !transform.is_empty() {
        spec["transform"] = Value::Array(transform);
    }
    spec
}

/// One row as an object; measures as numbers, so a numeric string plots.
fn record(chart: &ChartData, row: &[Value]) -> Value {
    let mut object = Map::new();
    for (i, column) in chart.columns.iter().enumerate() {
        let cell = row.get(i).unwrap_or(&Value::Null);
        let value =
            if chart.y.contains(column) { number(cell).map_or(Value::Null, |n| json!(n)) } else { cell.clone() };
        object.insert(column.clone(), value);
    }
    Value::Object(object)
}

type Parts = (Value, Value, Vec<Value>);

fn xy(chart: &ChartData) -> Parts {
    let mark = match chart.chart_type {
        ChartType::Line => json!({ "type": "line", "point": true, "tooltip": true }),
        ChartType::Bar => json!({ "type": "bar", "tooltip": true }),
        _ => json!({ "type": "point", "filled": true, "tooltip": true }),
    };
    let mut encoding = Map::new();
    if let Some(x) = &chart.x {
        let kind = x_type(chart);
        let mut axis = json!({ "field": field(x), "type": kind, "title": x });
        if kind == "ordinal" {
            // The query's order, not Vega's alphabetical default.
            axis["sort"] = Value::Null;
        }
        encoding.insert("x".into(), axis);
    }
    let mut transform = Vec::new();
    if let [y] = chart.y.as_slice() {
        encoding.insert("y".into(), json!({ "field": field(y), "type": "quantitative", "title": y }));
    } else {
        let series = fresh("series", &chart.columns);
        let value = fresh("value", &chart.columns);
        let folded: Vec<Value> = chart.y.iter().map(|y| json!(field(y))).collect();
        transform.push(json!({ "fold": folded, "as": [series, value] }));
        let title = chart.y.join(", ");
        encoding.insert("y".into(), json!({ "field": value, "type": "quantitative", "title": title }));
        encoding.insert("color".into(), json!({ "field": series, "type": "nominal", "title": null }));
        if chart.chart_type == ChartType::Bar {
            encoding.insert("xOffset".into(), json!({ "field": series }));
        }
    }
    (mark, Value::Object(encoding), transform)
}

fn pie(chart: &ChartData) -> Parts {
    let mut encoding = Map::new();
    if let Some(y) = chart.y.first() {
        encoding.insert("theta".into(), json!({ "field": field(y), "type": "quantitative", "title": y }));
    }
    if let Some(x) = &chart.x {
        encoding.insert("color".into(), json!({ "field": field(x), "type": "nominal", "title": x, "sort": null }));
    }
    (json!({ "type": "arc", "tooltip": true }), Value::Object(encoding), Vec::new())
}

/// A table as text marks: each row numbered, each column folded into a
/// (column, value) pair, laid out as a grid.
fn table(chart: &ChartData) -> Parts {
    let row = fresh("row", &chart.columns);
    let column = fresh("column", &chart.columns);
    let value = fresh("cell", &chart.columns);
    let folded: Vec<Value> = chart.columns.iter().map(|c| json!(field(c))).collect();
    let transform = vec![
        json!({ "window": [{ "op": "row_number", "as": row }] }),
        json!({ "fold": folded, "as": [column, value] }),
    ];
    let encoding = json!({
        "y": { "field": row, "type": "ordinal", "axis": null },
        "x": {
            "field": column, "type": "nominal", "sort": chart.columns,
            "axis": { "orient": "top", "title": null, "labelAngle": 0, "domain": false, "ticks": false }
        },
        "text": { "field": value }
    });
    (json!({ "type": "text", "align": "left", "limit": 200 }), encoding, transform)
}

/// "temporal" when every x is an ISO date or timestamp, "quantitative" for
/// a scatter over numbers, "ordinal" otherwise.
fn x_type(chart: &ChartData) -> &'static str {
    let Some(x) = &chart.x else { return "ordinal" };
    let cells: Vec<&Value> = chart.cells(x).filter(|c| !c.is_null()).collect();
    if cells.is_empty() {
        return "ordinal";
    }
    if cells.iter().all(|c| c.as_str().is_some_and(is_temporal)) {
        "temporal"
    } else if chart.chart_type == ChartType::Scatter && cells.iter().all(|c| number(c).is_some()) {
        "quantitative"
    } else {
        "ordinal"
    }
}

/// Whether text is an ISO 8601 date or timestamp (with or without zone).
pub(crate) fn is_temporal(text: &str) -> bool {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    let s = text.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
        || DateTime::parse_from_rfc3339(s).is_ok()
        || DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%#z").is_ok()
        || NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
        || NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").is_ok()
}

/// A column name as a Vega field reference: `.`, `[` `]`, quotes and
/// backslashes would otherwise read as a path into nested objects.
fn field(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '.' | '[' | ']' | '\\' | '"' | '\'') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A name for a derived field that no column already has.
fn fresh(base: &str, columns: &[String]) -> String {
    let mut name = base.to_owned();
    while columns.contains(&name) {
        name.push('_');
    }
    name
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a test fails loudly on what it did not expect")]
mod tests {
    use super::*;
    use crate::dashboards::chart::Encoding;

    fn chart(kind: ChartType, columns: &[&str], rows: Vec<Vec<Value>>) -> ChartData {
        let columns = columns.iter().map(|s| s.to_string()).collect();
        ChartData::new("Sales", kind, columns, rows, &Encoding::default()).unwrap()
    }

    #[test]
    fn dates_make_a_temporal_axis() {
        let c = chart(
            ChartType::Line,
            &["day", "sales"],
            vec![vec![json!("2024-01-01"), json!(3)], vec![json!("2024-01-02T10:00:00Z"), json!("4")]],
        );
        let spec = vega_lite(&c);
        assert_eq!(spec["$schema"], SCHEMA);
        assert_eq!(spec["encoding"]["x"]["type"], "temporal");
        assert_eq!(spec["mark"]["point"], true);
        // The numeric string became a number.
        assert_eq!(spec["data"]["values"][1]["sales"], json!(4.0));
    }

    #[test]
    fn categories_are_ordinal_in_query_order_and_scatter_numbers_quantitative() {
        let rows = vec![vec![json!("b"), json!(3)], vec![json!("a"), json!(4)]];
        let spec = vega_lite(&chart(ChartType::Bar, &["k", "v"], rows));
        assert_eq!(spec["encoding"]["x"]["type"], "ordinal");
        assert_eq!(spec["encoding"]["x"]["sort"], Value::Null);
        let rows = vec![vec![json!(1), json!(3)], vec![json!(2.5), json!(4)]];
        let spec = vega_lite(&chart(ChartType::Scatter, &["price", "units"], rows));
        assert_eq!(spec["encoding"]["x"]["type"], "quantitative");
        assert_eq!(spec["mark"]["type"], "point");
    }

    #[test]
    fn several_measures_are_folded_and_coloured() {
        let rows = vec![vec![json!("Jan"), json!(1), json!(2), json!(3)]];
        let spec = vega_lite(&chart(ChartType::Bar, &["month", "a.b", "value", "c"], rows));
        assert_eq!(spec["transform"][0]["fold"], json!(["a\\.b", "value", "c"]));
        // "value" is taken by a column, so the folded measure is named apart.
        assert_eq!(spec["transform"][0]["as"], json!(["series", "value_"]));
        assert_eq!(spec["encoding"]["y"]["field"], "value_");
        assert_eq!(spec["encoding"]["color"]["field"], "series");
        assert_eq!(spec["encoding"]["xOffset"]["field"], "series");
    }

    #[test]
    fn pies_and_tables() {
        let rows = vec![vec![json!("a"), json!(1)], vec![json!("b"), json!(2)]];
        let spec = vega_lite(&chart(ChartType::Pie, &["k", "v"], rows.clone()));
        assert_eq!(spec["mark"]["type"], "arc");
        assert_eq!(spec["encoding"]["theta"]["field"], "v");
        assert_eq!(spec["encoding"]["color"]["field"], "k");
        let spec = vega_lite(&chart(ChartType::Table, &["k", "v"], rows));
        assert_eq!(spec["mark"]["type"], "text");
        assert_eq!(spec["transform"][1]["fold"], json!(["k", "v"]));
        assert_eq!(spec["encoding"]["x"]["sort"], json!(["k", "v"]));
    }

    #[test]
    fn temporal_text() {
        assert!(is_temporal("2024-02-29"));
        assert!(is_temporal("2024-02-29 13:45:00"));
        assert!(is_temporal("2024-02-29T13:45:00.123+02:00"));
        assert!(!is_temporal("2024-02-30"));
        assert!(!is_temporal("February"));
        assert!(!is_temporal("2024"));
    }
}
