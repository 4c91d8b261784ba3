//! The inference rules, one by one.

use chrono::{NaiveDate, TimeZone, Utc};

use super::*;

fn text(values: &[&str]) -> Vec<Cell> {
    values.iter().map(|v| if is_null_token(v) { Cell::Null } else { Cell::Text((*v).to_owned()) }).collect()
}

fn infer(cells: &[Cell]) -> Inference {
    let mut stats = ColumnStats::default();
    for cell in cells {
        stats.observe(cell);
    }
    stats.decide()
}

fn kind(values: &[&str]) -> ColumnType {
    infer(&text(values)).kind
}

#[test]
fn numbers_booleans_and_codes() {
    assert_eq!(kind(&["1", "-2", "+3", " 4 "]), ColumnType::Integer);
    assert_eq!(kind(&["1", "2.5", "-.5", "1e3"]), ColumnType::Float);
    assert_eq!(kind(&["true", "FALSE", "Yes", "no"]), ColumnType::Boolean);
    // Leading zeros make codes: kept as written.
    assert_eq!(kind(&["02134", "10001"]), ColumnType::Text);
    assert_eq!(kind(&["0", "0.5", "10"]), ColumnType::Float);
    // Beyond 64 bits an integer is still a number.
    assert_eq!(kind(&["99999999999999999999"]), ColumnType::Float);
    assert_eq!(kind(&["inf", "1"]), ColumnType::Text);
}

#[test]
fn decimal_commas_make_floats_only_when_no_dot_decimals_are_mixed_in() {
    let comma = infer(&text(&["3,5", "2", "-0,25"]));
    assert_eq!(comma.kind, ColumnType::Float);
    assert!(comma.format.decimal_comma);
    let converter = Converter::new(ColumnType::Float, &comma);
    assert_eq!(converter.convert(&Cell::Text("3,5".into())), (Value::Float(3.5), false));
    assert_eq!(converter.convert(&Cell::Text("2".into())), (Value::Float(2.0), false));
    assert_eq!(kind(&["3,5", "2.5"]), ColumnType::Text);
    assert_eq!(kind(&["1,234,567"]), ColumnType::Text);
}

#[test]
fn one_date_form_for_the_whole_column() {
    let iso = infer(&text(&["2024-03-31", "2024-01-05"]));
    assert_eq!(iso.kind, ColumnType::Date);
    // Ambiguous days and months: month first.
    let us = infer(&text(&["01/02/2024", "03/04/2024"]));
    let converter = Converter::new(ColumnType::Date, &us);
    let date = NaiveDate::from_ymd_opt(2024, 1, 2).map(Value::Date).unwrap_or(Value::Null);
    assert_eq!(converter.convert(&Cell::Text("01/02/2024".into())), (date, false));
    // A day over 12 leaves only day first, for every value.
    let eu = infer(&text(&["01/02/2024", "31/12/2024"]));
    let converter = Converter::new(ColumnType::Date, &eu);
    let date = NaiveDate::from_ymd_opt(2024, 2, 1).map(Value::Date).unwrap_or(Value::Null);
    assert_eq!(converter.convert(&Cell::Text("01/02/2024".into())), (date, false));
    assert_eq!(kind(&["31.12.2024", "1.1.2025"]), ColumnType::Date);
    // Two forms in one column are no date column.
    assert_eq!(kind(&["2024-03-31", "31/03/2024"]), ColumnType::Text);
    assert_eq!(kind(&["24-03-31"]), ColumnType::Text);
    assert_eq!(kind(&["2024-02-30"]), ColumnType::Text);
}

#[test]
fn timestamps_in_utc_to_the_microsecond() {
    let column = ["2024-03-31T10:00:00Z", "2024-03-31 12:30:00+02:00", "2024-04-01T08:15", "2024-04-02"];
    let inferred = infer(&text(&column));
    assert_eq!(inferred.kind, ColumnType::Timestamp);
    assert!(!inferred.format.fraction);
    let converter = Converter::new(ColumnType::Timestamp, &inferred);
    let at = |h, m| Utc.with_ymd_and_hms(2024, 3, 31, h, m, 0).single().map(Value::Timestamp).unwrap_or(Value::Null);
    assert_eq!(converter.convert(&Cell::Text(column[0].into())).0, at(10, 0));
    assert_eq!(converter.convert(&Cell::Text(column[1].into())).0, at(10, 30));
    let fine = infer(&text(&["2024-03-31T10:00:00.1234567Z"]));
    assert!(fine.format.fraction);
    let converter = Converter::new(ColumnType::Timestamp, &fine);
    let Value::Timestamp(t) = converter.convert(&Cell::Text("2024-03-31T10:00:00.1234567Z".into())).0 else {
        panic!("not a timestamp")
    };
    assert_eq!(t.timestamp_subsec_micros(), 123_456);
    assert_eq!(t.timestamp_subsec_nanos(), 123_456_000);
}

#[test]
fn nulls_do_not_count_and_an_empty_column_is_text() {
    assert_eq!(kind(&["", "NA", "12", "null", "n/a"]), ColumnType::Integer);
    assert_eq!(kind(&["", "  "]), ColumnType::Text);
    assert_eq!(infer(&[Cell::Null, Cell::Null]).kind, ColumnType::Text);
}

#[test]
fn json_cells_keep_their_kinds() {
    assert_eq!(infer(&[Cell::Integer(1), Cell::Text("2".into())]).kind, ColumnType::Integer);
    assert_eq!(infer(&[Cell::Integer(1), Cell::Float(2.5)]).kind, ColumnType::Float);
    assert_eq!(infer(&[Cell::Boolean(true), Cell::Text("no".into())]).kind, ColumnType::Boolean);
    assert_eq!(infer(&[Cell::Boolean(true), Cell::Integer(1)]).kind, ColumnType::Text);
}

#[test]
fn mostly_typed_text_is_mixed() {
    let mixed = infer(&text(&["12", "13", "n.a.", "14"]));
    assert_eq!(mixed.kind, ColumnType::Text);
    assert_eq!(mixed.mixed, Some(Mixed { kind: ColumnType::Integer, matching: 3, non_null: 4 }));
    assert_eq!(infer(&text(&["a", "b", "1"])).mixed, None);
    assert_eq!(infer(&text(&["a", "1"])).mixed.map(|m| m.kind), Some(ColumnType::Integer));
}

#[test]
fn a_type_set_by_hand_turns_what_does_not_fit_into_counted_nulls() {
    let inferred = infer(&text(&["12", "13.0", "abc"]));
    assert_eq!(inferred.kind, ColumnType::Text);
    let to_int = Converter::new(ColumnType::Integer, &inferred);
    assert_eq!(to_int.convert(&Cell::Text("12".into())), (Value::Integer(12), false));
    assert_eq!(to_int.convert(&Cell::Text("13.0".into())), (Value::Integer(13), false));
    assert_eq!(to_int.convert(&Cell::Text("abc".into())), (Value::Null, true));
    assert_eq!(to_int.convert(&Cell::Null), (Value::Null, false));
    let to_bool = Converter::new(ColumnType::Boolean, &inferred);
    assert_eq!(to_bool.convert(&Cell::Text("1".into())), (Value::Boolean(true), false));
    assert_eq!(to_bool.convert(&Cell::Text("0".into())).0, Value::Boolean(false));
    assert_eq!(to_bool.convert(&Cell::Text("2".into())), (Value::Null, true));
    let to_text = Converter::new(ColumnType::Text, &infer(&[Cell::Integer(1)]));
    assert_eq!(to_text.convert(&Cell::Integer(7)).0, Value::Text("7".into()));
    assert_eq!(to_text.convert(&Cell::Float(2.5)).0, Value::Text("2.5".into()));
    assert_eq!(to_text.convert(&Cell::Text("a\0b".into())).0, Value::Text("ab".into()));
    let to_date = Converter::new(ColumnType::Date, &inferred);
    let date = NaiveDate::from_ymd_opt(2024, 3, 31).map(Value::Date).unwrap_or(Value::Null);
    assert_eq!(to_date.convert(&Cell::Text("2024-03-31T23:00:00Z".into())).0, date);
}

#[test]
fn what_inference_accepts_the_converter_reads_without_loss() {
    // Every value of an inferred column converts, none to null.
    let columns: [&[&str]; 6] = [
        &["1", "-7", "0"],
        &["1.5", "2", ".5"],
        &["3,5", "4"],
        &["yes", "No"],
        &["31.12.2024", "01.01.2025"],
        &["2024-01-01T00:00:00Z", "2024-01-02"],
    ];
    for values in columns {
        let cells = text(values);
        let inferred = infer(&cells);
        assert_ne!(inferred.kind, ColumnType::Text, "{values:?}");
        let converter = Converter::new(inferred.kind, &inferred);
        for cell in &cells {
            let (value, invalid) = converter.convert(cell);
            assert!(!invalid && !value.is_null(), "{values:?}: {cell:?}");
        }
    }
}
