//! Property tests (seed 001 asks for proptest, at least 100 cases each;
//! 256 here): quartiles, the MAD, the robust scale, Tukey's fences, the
//! least-squares line and period bucketing, each against a direct, naive
//! computation (order statistics by counting rather than sorting, the line
//! from raw sums in exact integers, periods by walking day by day); and
//! the period anomaly and trend rules on a year of synthetic months.

use chrono::{Datelike, Days, NaiveDate, Weekday};
use proptest::prelude::*;

use super::anomalies::{self, period_severity, value_severity};
use super::periods::Grain;
use super::reader::literal;
use super::spread::Overview;
use super::stats;
use super::trends::{self, PeriodTable, Point, Series};
use super::{AnomalyKind, Columns, Direction, Severity, TrendDirection, figure};

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

/// The `k`-th smallest (from 0) of `values`, found by counting: the value
/// with at most `k` values below it and more than `k` at or below it.
fn kth(values: &[f64], k: usize) -> f64 {
    values
        .iter()
        .copied()
        .find(|v| {
            let below = values.iter().filter(|x| *x < v).count();
            let at_most = values.iter().filter(|x| *x <= v).count();
            below <= k && k < at_most
        })
        .unwrap_or(f64::NAN)
}

fn naive_quantile(values: &[f64], p: f64) -> f64 {
    let h = (values.len() - 1) as f64 * p;
    let (low, high) = (h.floor() as usize, h.ceil() as usize);
    let (a, b) = (kth(values, low), kth(values, high));
    a + (h - low as f64) * (b - a)
}

fn naive_median(values: &[f64]) -> f64 {
    naive_quantile(values, 0.5)
}

/// Quarters of integers: exact in binary, with repeats.
fn numbers() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(-400i32..400, 1..60).prop_map(|v| v.into_iter().map(|x| f64::from(x) / 4.0).collect())
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
}

fn day(offset: u32) -> NaiveDate {
    let first = NaiveDate::from_ymd_opt(2020, 1, 1);
    first.and_then(|d| d.checked_add_days(Days::new(u64::from(offset)))).unwrap_or_default()
}

/// A period's first day by walking back one day at a time.
fn naive_start(grain: Grain, date: NaiveDate) -> NaiveDate {
    let mut d = date;
    loop {
        let done = match grain {
            Grain::Day => true,
            Grain::Week => d.weekday() == Weekday::Mon,
            Grain::Month => d.day() == 1,
        };
        if done {
            return d;
        }
        d = d.pred_opt().unwrap_or(d);
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn quartiles_are_type_7_order_statistics(values in numbers()) {
        let q = stats::quartiles(&values).ok_or_else(|| TestCaseError::fail("no quartiles"))?;
        prop_assert!(close(q.q1, naive_quantile(&values, 0.25)), "{q:?}");
        prop_assert!(close(q.median, naive_quantile(&values, 0.5)), "{q:?}");
        prop_assert!(close(q.q3, naive_quantile(&values, 0.75)), "{q:?}");
        prop_assert!(q.q1 <= q.median && q.median <= q.q3);
    }

    #[test]
    fn mad_is_the_median_of_absolute_deviations(values in numbers(), shift in -50i32..50) {
        let center = naive_median(&values) + f64::from(shift) / 2.0;
        let deviations: Vec<f64> = values.iter().map(|x| (x - center).abs()).collect();
        let mad = stats::mad(&values, center).ok_or_else(|| TestCaseError::fail("no MAD"))?;
        prop_assert!(close(mad, naive_median(&deviations)), "{mad}");
    }

    #[test]
    fn the_robust_scale_moves_with_the_data(values in numbers(), factor in 1i32..20, offset in -100i32..100) {
        let center = naive_median(&values);
        let (c, o) = (f64::from(factor), f64::from(offset));
        let moved: Vec<f64> = values.iter().map(|x| x * c + o).collect();
        match (stats::robust_scale(&values, center), stats::robust_scale(&moved, center * c + o)) {
            (Some(a), Some(b)) => prop_assert!(close(a * c, b), "{a} × {c} vs {b}"),
            (None, None) => prop_assert!(values.iter().all(|x| *x == center)),
            other => prop_assert!(false, "{other:?}"),
        }
        let mad = naive_median(&values.iter().map(|x| (x - center).abs()).collect::<Vec<_>>());
        if mad > 0.0 {
            let scale = stats::robust_scale(&values, center).unwrap_or(f64::NAN);
            prop_assert!(close(scale, mad * stats::MAD_SCALE), "{scale} vs {mad}");
        }
    }

    #[test]
    fn fences_keep_the_middle_half_and_count_like_tukey(values in numbers()) {
        let q = stats::quartiles(&values).ok_or_else(|| TestCaseError::fail("no quartiles"))?;
        let (low, high) = q.fences();
        let (q1, q3) = (naive_quantile(&values, 0.25), naive_quantile(&values, 0.75));
        prop_assert!(close(low, q1 - 1.5 * (q3 - q1)) && close(high, q3 + 1.5 * (q3 - q1)));
        for x in &values {
            if *x >= q1 && *x <= q3 {
                prop_assert!(*x >= low && *x <= high);
            }
        }
        let outside = values.iter().filter(|x| **x < low || **x > high).count();
        let naive = values.iter().filter(|x| **x < q1 - 1.5 * (q3 - q1) || **x > q3 + 1.5 * (q3 - q1)).count();
        prop_assert_eq!(outside, naive);
    }

    #[test]
    fn least_squares_matches_the_raw_sums(points in prop::collection::vec((-50i64..50, -1000i64..1000), 2..40)) {
        let n = points.len() as i128;
        let sx: i128 = points.iter().map(|p| i128::from(p.0)).sum();
        let sy: i128 = points.iter().map(|p| i128::from(p.1)).sum();
        let sxx: i128 = points.iter().map(|p| i128::from(p.0) * i128::from(p.0)).sum();
        let syy: i128 = points.iter().map(|p| i128::from(p.1) * i128::from(p.1)).sum();
        let sxy: i128 = points.iter().map(|p| i128::from(p.0) * i128::from(p.1)).sum();
        let (dx, dy, cross) = (n * sxx - sx * sx, n * syy - sy * sy, n * sxy - sx * sy);
        let floats: Vec<(f64, f64)> = points.iter().map(|p| (p.0 as f64, p.1 as f64)).collect();
        let line = stats::least_squares(&floats);
        if dx == 0 {
            prop_assert!(line.is_none());
            return Ok(());
        }
        let line = line.ok_or_else(|| TestCaseError::fail("no line"))?;
        let slope = cross as f64 / dx as f64;
        let intercept = (sy as f64 - slope * sx as f64) / n as f64;
        let r2 = if dy == 0 { 0.0 } else { (cross as f64 * cross as f64) / (dx as f64 * dy as f64) };
        prop_assert!((line.slope - slope).abs() <= 1e-6 * (1.0 + slope.abs()), "{line:?} vs {slope}");
        prop_assert!((line.intercept - intercept).abs() <= 1e-6 * (1.0 + intercept.abs()), "{line:?}");
        prop_assert!((line.r_squared - r2).abs() <= 1e-6, "{line:?} vs {r2}");
    }

    #[test]
    fn a_straight_line_is_found_exactly(
        a in -100i32..100,
        b in -20i32..20,
        xs in prop::collection::btree_set(-30i32..30, 2..20),
    ) {
        let points: Vec<(f64, f64)> = xs.iter().map(|x| (f64::from(*x), f64::from(a + b * x))).collect();
        let line = stats::least_squares(&points).ok_or_else(|| TestCaseError::fail("no line"))?;
        prop_assert!(close(line.slope, f64::from(b)) && close(line.intercept, f64::from(a)), "{line:?}");
        let expected = if b == 0 { line.r_squared == 0.0 } else { close(line.r_squared, 1.0) };
        prop_assert!(expected, "r² {}", line.r_squared);
    }

    #[test]
    fn periods_start_where_walking_back_says(offset in 0u32..3000, g in 0usize..3) {
        let grain = [Grain::Day, Grain::Week, Grain::Month][g];
        let date = day(offset);
        prop_assert_eq!(grain.start_of(date), naive_start(grain, date));
        prop_assert_eq!(grain.start_of(grain.start_of(date)), grain.start_of(date));
    }

    #[test]
    fn period_indices_count_the_periods_walked(first in 0u32..1500, ahead in 0u32..800, g in 0usize..3) {
        let grain = [Grain::Day, Grain::Week, Grain::Month][g];
        let (from, to) = (day(first), day(first + ahead));
        let mut changes = 0i64;
        let mut d = from;
        while d < to {
            let next = d.succ_opt().unwrap_or(to);
            if grain.start_of(next) != grain.start_of(d) {
                changes += 1;
            }
            d = next;
        }
        prop_assert_eq!(grain.index(grain.start_of(from), grain.start_of(to)), changes);
    }

    #[test]
    fn literals_read_back_as_the_same_number(x in -1e12f64..1e12) {
        let text = literal(x);
        let bare = text.trim_start_matches('(').trim_end_matches(')');
        prop_assert!(!bare.contains('e'), "{text}");
        prop_assert_eq!(bare.parse::<f64>().ok(), Some(x));
    }
}

#[test]
fn grains_follow_the_span_and_t_tightens_with_more_periods() {
    assert_eq!(Grain::for_span(0), Grain::Day);
    assert_eq!(Grain::for_span(59), Grain::Day);
    assert_eq!(Grain::for_span(60), Grain::Week);
    assert_eq!(Grain::for_span(209), Grain::Week);
    assert_eq!(Grain::for_span(364), Grain::Month);
    for df in 1..200 {
        assert!(stats::t_critical(df + 1) <= stats::t_critical(df), "{df}");
    }
    let levels = (Severity::Low, Severity::Medium, Severity::High);
    assert_eq!((value_severity(2.0), value_severity(3.0), value_severity(6.5)), levels);
    assert_eq!((period_severity(-4.0), period_severity(7.0), period_severity(-12.0)), levels);
    assert_eq!([figure(2.0), figure(-0.004), figure(1234.567)], ["2", "0", "1234.57"]);
}

/// Twelve months: `revenue` rising with a spike in June, `visits` flat
/// with a small wiggle, `returns` falling on an exact line.
fn year() -> PeriodTable {
    let grain = Grain::Month;
    let start = |m: u32| NaiveDate::from_ymd_opt(2025, m, 1).unwrap_or_default();
    let series = |name: &str, f: &dyn Fn(f64) -> f64| Series {
        column: name.to_owned(),
        points: (1..=12)
            .map(|m| Point { start: start(m), index: i64::from(m) - 1, value: f(f64::from(m) - 1.0) })
            .collect(),
    };
    let revenue = |i: f64| 130.0 + 60.0 * i + if i == 5.0 { 150.0 } else { (i * 7.0) % 5.0 - 2.0 };
    let visits = |i: f64| 203.0 + (i * 3.0) % 2.0 * 0.4;
    let returns = |i: f64| 388.0 - 24.4 * i;
    PeriodTable {
        grain,
        sql: "SELECT … FROM data GROUP BY 1 ORDER BY 1".to_owned(),
        date_column: "day".to_owned(),
        periods: 12,
        series: vec![series("revenue", &revenue), series("visits", &visits), series("returns", &returns)],
    }
}

#[test]
fn a_spike_month_is_an_anomaly_and_steady_lines_are_trends() {
    let table = year();
    let found = anomalies::in_periods(&table);
    assert_eq!(found.len(), 1, "{found:#?}");
    let spike = &found[0];
    let what = (spike.kind, spike.direction, spike.column.as_str());
    assert_eq!(what, (AnomalyKind::Period, Direction::Above, "revenue"));
    assert_eq!(spike.period.as_deref(), Some("2025-06-01"));
    assert!(spike.value > spike.expected_high && spike.expected_low < spike.expected_high, "{spike:#?}");
    assert!(spike.evidence.iter().all(|e| !e.sql.is_empty()));

    let measures = vec!["revenue".into(), "visits".into(), "returns".into()];
    let columns = Columns { measures, date: Some("day".into()), notes: vec![] };
    let overview = Overview { rows: 365, span: None, measures: vec![], sql: "SELECT count(*) FROM data".into() };
    let findings = trends::find(Some(&table), &columns, &overview);
    let directions: Vec<(&str, TrendDirection)> =
        findings.trends.iter().map(|t| (t.column.as_str(), t.direction)).collect();
    let note = &findings.note;
    assert_eq!(directions, vec![("returns", TrendDirection::Down), ("revenue", TrendDirection::Up)], "{note}");
    assert!(note.starts_with("Only 2 columns trend") && note.contains("`visits`"), "{note}");

    let no_date = Columns { date: None, ..columns };
    let none = trends::find(None, &no_date, &overview);
    assert!(none.trends.is_empty() && none.note.contains("no date or timestamp column"), "{}", none.note);
}

#[test]
fn a_rising_line_whose_last_period_dips_says_so_instead_of_rose_by_a_fall() {
    // A clear rise over two years, with a last month below the first.
    let start =
        |i: u32| NaiveDate::from_ymd_opt(2024 + i32::try_from(i / 12).unwrap_or(0), i % 12 + 1, 1).unwrap_or_default();
    let value = |i: u32| {
        if i == 0 {
            120.0
        } else if i == 23 {
            119.0
        } else {
            120.0 + 30.0 * f64::from(i)
        }
    };
    let points = (0u32..24).map(|i| Point { start: start(i), index: i64::from(i), value: value(i) }).collect();
    let table = PeriodTable {
        grain: Grain::Month,
        sql: "SELECT … FROM data GROUP BY 1 ORDER BY 1".to_owned(),
        date_column: "day".to_owned(),
        periods: 24,
        series: vec![Series { column: "revenue".to_owned(), points }],
    };
    let columns = Columns { measures: vec!["revenue".into()], date: Some("day".into()), notes: vec![] };
    let overview = Overview { rows: 365, span: None, measures: vec![], sql: "SELECT count(*) FROM data".into() };
    let found = trends::find(Some(&table), &columns, &overview);
    let Some(trend) = found.trends.first() else { panic!("no trend: {}", found.note) };
    assert_eq!(trend.direction, TrendDirection::Up);
    // The figures stay the periods' own: (119 − 120) / 120.
    assert!(trend.change.is_some_and(|c| (c - (119.0 - 120.0) / 120.0).abs() < 1e-12), "{:?}", trend.change);
    let said = &trend.explanation;
    assert!(said.contains("rose along its line, though 2025-12 averaged 119 against 120 in 2024-01"), "{said}");
    assert!(!said.contains("rose from"), "{said}");
}
