//! Property tests (seed 001 asks for proptest, at least 100 cases each):
//! every figure of a profile against a straightforward computation of it
//! on generated tables, whose columns have nulls (none, some, most, all),
//! small domains (so rows repeat and columns are constant) and single rows.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::json;

use super::*;

const KINDS: [ColumnType; 5] =
    [ColumnType::Integer, ColumnType::Float, ColumnType::Text, ColumnType::Boolean, ColumnType::Date];

/// Value `v` of a small domain; `wide` ones are far from the rest (outliers).
fn make(kind: ColumnType, v: i64, wide: bool) -> Value {
    match kind {
        ColumnType::Integer => Value::Integer(if wide { v * 1000 + 500 } else { v }),
        ColumnType::Float => Value::Float(if wide { v as f64 * 250.5 + 100.0 } else { v as f64 * 0.5 - 1.0 }),
        ColumnType::Text => Value::Text(format!("v{v}")),
        ColumnType::Boolean => Value::Boolean(v % 2 == 0),
        ColumnType::Date | ColumnType::Timestamp => {
            NaiveDate::from_ymd_opt(2024, 1, 1 + v as u32).map_or(Value::Null, Value::Date)
        }
    }
}

type Table = Vec<(ColumnType, Vec<Value>)>;

fn column(rows: usize) -> impl Strategy<Value = (ColumnType, Vec<Value>)> {
    let nulls = prop_oneof![Just(0u32), Just(25u32), Just(60u32), Just(90u32), Just(100u32)];
    (0..KINDS.len(), nulls, 1i64..8).prop_flat_map(move |(k, nulls, domain)| {
        let kind = KINDS[k];
        prop::collection::vec((0u32..100, 0..domain, prop::bool::weighted(0.05)), rows).prop_map(move |cells| {
            let values =
                cells.into_iter().map(|(p, v, wide)| if p < nulls { Value::Null } else { make(kind, v, wide) });
            (kind, values.collect())
        })
    })
}

fn table() -> impl Strategy<Value = Table> {
    (1usize..40, 1usize..5).prop_flat_map(|(rows, columns)| prop::collection::vec(column(rows), columns))
}

fn spec(i: usize, kind: ColumnType) -> ColumnSpec {
    ColumnSpec { name: format!("c{i}"), kind, inferred: kind }
}

fn profile_of(table: &Table) -> Profile {
    let inputs = table.iter().enumerate().map(|(i, (kind, _))| ColumnInput { spec: spec(i, *kind), mixed: None });
    let mut profiler = Profiler::new(inputs.collect());
    let rows = table.first().map_or(0, |(_, values)| values.len());
    for r in 0..rows {
        let row: Vec<Value> = table.iter().map(|(_, values)| values[r].clone()).collect();
        profiler.push(&row);
    }
    profiler.finish(1, Utc::now())
}

fn close(actual: f64, expected: f64) -> Result<(), TestCaseError> {
    prop_assert!((actual - expected).abs() <= 1e-9 * (1.0 + expected.abs()), "{actual} is not {expected}");
    Ok(())
}

fn numbers(values: &[Value]) -> Vec<f64> {
    values
        .iter()
        .filter_map(|v| match v {
            Value::Integer(n) => Some(*n as f64),
            Value::Float(x) => Some(*x),
            _ => None,
        })
        .collect()
}

/// The p-th quantile: the value at rank p·(n − 1), between two ranks weighted by distance.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = p * (sorted.len() as f64 - 1.0);
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    let weight = rank - lo as f64;
    sorted[lo] * (1.0 - weight) + sorted[hi] * weight
}

/// Expected min and max, straight from the values by their Rust types.
fn extremes(kind: ColumnType, values: &[Value]) -> (Option<serde_json::Value>, Option<serde_json::Value>) {
    match kind {
        ColumnType::Integer => {
            let xs: Vec<i64> =
                values.iter().filter_map(|v| if let Value::Integer(n) = v { Some(*n) } else { None }).collect();
            (xs.iter().min().map(|n| json!(n)), xs.iter().max().map(|n| json!(n)))
        }
        ColumnType::Float => {
            let xs = numbers(values);
            let min = xs.iter().copied().reduce(f64::min).map(|x| json!(x));
            (min, xs.iter().copied().reduce(f64::max).map(|x| json!(x)))
        }
        ColumnType::Text => {
            let xs: Vec<&str> =
                values.iter().filter_map(|v| if let Value::Text(s) = v { Some(s.as_str()) } else { None }).collect();
            (xs.iter().min().map(|s| json!(s)), xs.iter().max().map(|s| json!(s)))
        }
        ColumnType::Boolean => {
            let xs: Vec<bool> =
                values.iter().filter_map(|v| if let Value::Boolean(b) = v { Some(*b) } else { None }).collect();
            (xs.iter().min().map(|b| json!(b)), xs.iter().max().map(|b| json!(b)))
        }
        ColumnType::Date | ColumnType::Timestamp => {
            let xs: Vec<NaiveDate> =
                values.iter().filter_map(|v| if let Value::Date(d) = v { Some(*d) } else { None }).collect();
            let show = |d: &NaiveDate| json!(d.format("%Y-%m-%d").to_string());
            (xs.iter().min().map(show), xs.iter().max().map(show))
        }
    }
}

/// Expected top values: counted, most frequent first, ties by value, five.
fn expected_top(kind: ColumnType, values: &[Value]) -> Vec<TopValue> {
    let mut counts: HashMap<String, (serde_json::Value, u64)> = HashMap::new();
    for value in values {
        let json = match (kind, value) {
            (ColumnType::Text, Value::Text(s)) => json!(s),
            (ColumnType::Boolean, Value::Boolean(b)) => json!(b),
            _ => continue,
        };
        counts.entry(json.to_string()).or_insert((json, 0)).1 += 1;
    }
    let mut all: Vec<(serde_json::Value, u64)> = counts.into_values().collect();
    all.sort_by(|a, b| {
        b.1.cmp(&a.1).then_with(|| match (&a.0, &b.0) {
            (serde_json::Value::String(x), serde_json::Value::String(y)) => x.cmp(y),
            (serde_json::Value::Bool(x), serde_json::Value::Bool(y)) => x.cmp(y),
            _ => std::cmp::Ordering::Equal,
        })
    });
    all.into_iter().take(5).map(|(value, count)| TopValue { value, count }).collect()
}

/// Expected outliers of `xs` by Tukey's fences on the expected quartiles.
fn expected_outliers(xs: &[f64]) -> u64 {
    let mut sorted = xs.to_vec();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let (q1, q3) = (percentile(&sorted, 0.25), percentile(&sorted, 0.75));
    let iqr = q3 - q1;
    xs.iter().filter(|&&x| x < q1 - 1.5 * iqr || x > q3 + 1.5 * iqr).count() as u64
}

fn severity(share: f64, medium: f64, high: f64) -> Severity {
    if share > high {
        Severity::High
    } else if share > medium {
        Severity::Medium
    } else {
        Severity::Low
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// P8: types, null counts, unique counts, min, max, mean and the rest,
    /// for every column.
    #[test]
    fn every_column_figure_matches_a_direct_computation(table in table()) {
        let profile = profile_of(&table);
        prop_assert_eq!(profile.columns.len(), table.len());
        for ((kind, values), column) in table.iter().zip(&profile.columns) {
            let rows = values.len();
            let present: Vec<&Value> = values.iter().filter(|v| !matches!(v, Value::Null)).collect();
            let nulls = rows - present.len();
            prop_assert_eq!(column.kind, *kind);
            prop_assert_eq!(column.count, present.len() as u64);
            prop_assert_eq!(column.null_count, nulls as u64);
            close(column.null_percentage, 100.0 * nulls as f64 / rows as f64)?;
            prop_assert_eq!(column.low_quality, nulls * 2 > rows);
            let distinct: HashSet<String> = present.iter().map(|v| format!("{v:?}")).collect();
            prop_assert_eq!(column.unique_count, distinct.len() as u64);
            prop_assert_eq!(column.invalid_count, 0);
            let (min, max) = extremes(*kind, values);
            prop_assert_eq!(&column.min, &min);
            prop_assert_eq!(&column.max, &max);
            prop_assert_eq!(&column.top_values, &expected_top(*kind, values));
            let xs = numbers(values);
            if !kind.is_numeric() || xs.is_empty() {
                prop_assert!(column.mean.is_none() && column.std_dev.is_none() && column.quartiles.is_none());
                prop_assert!(column.outlier_count.is_none());
                continue;
            }
            let n = xs.len() as f64;
            let mean = xs.iter().sum::<f64>() / n;
            close(column.mean.unwrap_or(f64::NAN), mean)?;
            match column.std_dev {
                Some(sd) => close(sd, (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt())?,
                None => prop_assert_eq!(xs.len(), 1),
            }
            let mut sorted = xs.clone();
            sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
            let quartiles = column.quartiles.unwrap_or(Quartiles { q1: f64::NAN, median: f64::NAN, q3: f64::NAN });
            close(quartiles.q1, percentile(&sorted, 0.25))?;
            close(quartiles.median, percentile(&sorted, 0.5))?;
            close(quartiles.q3, percentile(&sorted, 0.75))?;
            prop_assert_eq!(column.outlier_count, Some(expected_outliers(&xs)));
        }
    }

    /// P9, P10 and the score: duplicate rows counted exactly, the issues
    /// each column and the dataset should have, the low-quality columns and
    /// the score by its formula.
    #[test]
    fn duplicates_issues_and_the_score_match_a_direct_computation(table in table()) {
        let profile = profile_of(&table);
        let rows = table[0].1.len();
        let as_rows: Vec<String> = (0..rows)
            .map(|r| table.iter().map(|(_, values)| format!("{:?}", values[r])).collect::<Vec<_>>().join("|"))
            .collect();
        let distinct: HashSet<&String> = as_rows.iter().collect();
        let duplicates = (rows - distinct.len()) as u64;
        prop_assert_eq!(profile.row_count, rows as u64);
        prop_assert_eq!(profile.column_count, table.len() as u64);
        prop_assert_eq!(profile.duplicate_row_count, duplicates);

        let mut expected = Vec::new();
        let (mut nulls, mut outliers) = (0u64, 0u64);
        for (i, (kind, values)) in table.iter().enumerate() {
            let name = Some(format!("c{i}"));
            let null_count = values.iter().filter(|v| matches!(v, Value::Null)).count() as u64;
            nulls += null_count;
            let null_share = null_count as f64 / rows as f64;
            if null_share > 0.5 {
                let level = if null_share > 0.8 { Severity::High } else { Severity::Medium };
                expected.push((name.clone(), IssueKind::HighNulls, level, null_count));
            }
            let xs = numbers(values);
            if kind.is_numeric() && !xs.is_empty() {
                let found = expected_outliers(&xs);
                outliers += found;
                if found > 0 {
                    let level = severity(found as f64 / xs.len() as f64, 0.01, 0.05);
                    expected.push((name, IssueKind::Outliers, level, found));
                }
            }
        }
        if duplicates > 0 {
            let level = severity(duplicates as f64 / rows as f64, 0.01, 0.10);
            expected.push((None, IssueKind::Duplicates, level, duplicates));
        }
        let issues: Vec<_> = profile.issues.iter().map(|i| (i.column.clone(), i.kind, i.severity, i.count)).collect();
        prop_assert_eq!(issues, expected);
        let low: Vec<String> =
            profile.columns.iter().filter(|c| c.null_count * 2 > rows as u64).map(|c| c.name.clone()).collect();
        prop_assert_eq!(&profile.low_quality_columns, &low);

        let cells = (rows * table.len()) as f64;
        let completeness = 1.0 - nulls as f64 / cells;
        let uniqueness = 1.0 - duplicates as f64 / rows as f64;
        let validity = 1.0 - outliers as f64 / cells;
        close(profile.completeness, completeness)?;
        close(profile.uniqueness, uniqueness)?;
        close(profile.validity, validity)?;
        close(profile.quality_score, completeness * uniqueness * validity)?;
        prop_assert!((0.0..=1.0).contains(&profile.quality_score));
    }

    /// Values not of a type set by hand: counted as invalid (and null),
    /// reported as mixed types by their share, and taken off validity; a
    /// mostly numeric text column is reported with the values that are not.
    #[test]
    fn invalid_and_mixed_values_are_counted_and_reported(
        values in prop::collection::vec(prop::option::weighted(0.7, -50i64..50), 1..60),
        invalid in prop::collection::vec(any::<bool>(), 60),
        matching_share in 50u64..100,
    ) {
        let rows = values.len() as u64;
        let mut profiler = Profiler::new(vec![
            ColumnInput {
                spec: ColumnSpec { name: "n".into(), kind: ColumnType::Integer, inferred: ColumnType::Text },
                mixed: None,
            },
            ColumnInput {
                spec: spec(1, ColumnType::Text),
                mixed: Some(Mixed { kind: ColumnType::Integer, matching: matching_share, non_null: 100 }),
            },
        ]);
        let mut bad = 0u64;
        for (r, value) in values.iter().enumerate() {
            let cell = value.map_or(Value::Null, Value::Integer);
            profiler.push(&[cell, Value::Text(format!("t{}", r % 3))]);
            if value.is_none() && invalid[r] {
                profiler.invalid(0);
                bad += 1;
            }
        }
        let profile = profiler.finish(3, Utc::now());
        prop_assert_eq!(profile.version, 3);
        let column = &profile.columns[0];
        prop_assert_eq!(column.invalid_count, bad);
        let mixed: Vec<&QualityIssue> = profile.issues.iter().filter(|i| i.kind == IssueKind::MixedTypes).collect();
        let mut expected = Vec::new();
        if bad > 0 {
            let share = bad as f64 / (column.count + bad) as f64;
            expected.push((Some("n".to_owned()), severity(share, 0.01, 0.10), bad));
        }
        let others = 100 - matching_share;
        if others > 0 {
            let level = if matching_share >= 90 { Severity::High } else { Severity::Medium };
            expected.push((Some("c1".to_owned()), level, others));
        }
        let found: Vec<_> = mixed.iter().map(|i| (i.column.clone(), i.severity, i.count)).collect();
        prop_assert_eq!(found, expected);
        let outliers = column.outlier_count.unwrap_or(0);
        close(profile.validity, (1.0 - (bad + outliers + others) as f64 / (2 * rows) as f64).max(0.0))?;
    }
}

#[test]
fn a_single_row_has_no_spread_and_a_constant_column_no_outliers() {
    let one = profile_of(&vec![(ColumnType::Float, vec![Value::Float(2.5)])]);
    let column = &one.columns[0];
    assert_eq!(column.mean, Some(2.5));
    assert_eq!(column.std_dev, None);
    assert_eq!(column.quartiles, Some(Quartiles { q1: 2.5, median: 2.5, q3: 2.5 }));
    assert_eq!(column.outlier_count, Some(0));
    assert_eq!(one.duplicate_row_count, 0);
    assert_eq!(one.quality_score, 1.0);

    let constant = profile_of(&vec![(ColumnType::Integer, vec![Value::Integer(7); 10])]);
    let column = &constant.columns[0];
    assert_eq!((column.unique_count, column.std_dev, column.outlier_count), (1, Some(0.0), Some(0)));
    assert_eq!(constant.duplicate_row_count, 9);
    assert_eq!(constant.issues.len(), 1);
    assert_eq!((constant.issues[0].kind, constant.issues[0].severity), (IssueKind::Duplicates, Severity::High));

    let empty = profile_of(&vec![(ColumnType::Text, vec![Value::Null; 4])]);
    assert_eq!(empty.columns[0].null_percentage, 100.0);
    assert_eq!(empty.columns[0].min, None);
    assert_eq!(empty.low_quality_columns, ["c0"]);
    assert_eq!(empty.completeness, 0.0);
    assert_eq!(empty.quality_score, 0.0);
}

#[test]
fn the_profile_round_trips_through_its_stored_json() {
    let profile = profile_of(&vec![(ColumnType::Text, vec![Value::Text("a".into()), Value::Null])]);
    let stored = serde_json::to_value(&profile).unwrap_or_default();
    assert_eq!(stored["columns"][0]["type"], json!("TEXT"));
    assert_eq!(stored["columns"][0]["nullPercentage"], json!(50.0));
    let back: Option<Profile> = serde_json::from_value(stored).ok();
    assert_eq!(back, Some(profile));
}
