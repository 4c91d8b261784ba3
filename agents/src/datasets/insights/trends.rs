//! Step 5 of the module doc: each numeric column's average per period, and
//! its trend.
//!
//! A column trends when the least-squares line through its period averages
//! (periods placed on the time axis, gaps kept) is significant (the
//! slope's t statistic beyond Student's two-sided 95 % value for n − 2
//! degrees of freedom) and material (the line moves by at least
//! [`MIN_CHANGE`] of the column's mean level over the span), over at least
//! [`MIN_PERIODS`] periods. Trends rank by R², the steadiest first. P24
//! asks for three: when fewer columns trend, the note says so and names
//! the ones that do not, with their figures, rather than call noise a
//! trend.

use chrono::NaiveDate;

use super::periods::{Grain, date_of};
use super::reader::{InsightsError, TableReader};
use super::spread::Overview;
use super::stats::{self, Line};
use super::{Columns, Evidence, Trend, TrendDirection, WANTED_TRENDS, figure, names, percent};
use crate::datasets::column::quote;

/// Periods a column needs before it can trend.
pub const MIN_PERIODS: usize = 4;
/// The least movement of the line over the span, as a share of the mean level.
pub const MIN_CHANGE: f64 = 0.05;

/// The period averages of every numeric column.
pub(crate) struct PeriodTable {
    pub(crate) grain: Grain,
    /// The grouping statement.
    pub(crate) sql: String,
    /// The date column.
    pub(crate) date_column: String,
    /// Periods with rows.
    pub(crate) periods: usize,
    pub(crate) series: Vec<Series>,
}

/// One column's averages, in time order.
pub(crate) struct Series {
    pub(crate) column: String,
    pub(crate) points: Vec<Point>,
}

/// One period's average.
pub(crate) struct Point {
    /// The period's first day.
    pub(crate) start: NaiveDate,
    /// Periods after the first one.
    pub(crate) index: i64,
    pub(crate) value: f64,
}

/// Reads every period's row count and each measure's average (one grouped
/// scan), the grain chosen by `span`.
pub(crate) async fn periods(
    reader: &TableReader<'_>,
    date: &str,
    measures: &[String],
    span: (NaiveDate, NaiveDate),
    notes: &mut Vec<String>,
) -> Result<PeriodTable, InsightsError> {
    let grain = Grain::for_span((span.1 - span.0).num_days());
    let column = quote(date);
    let bucket = grain.sql(&column, reader.engine());
    let mut items = vec![format!("{bucket} AS period_start"), "count(*) AS rows_in".to_owned()];
    for (i, measure) in measures.iter().enumerate() {
        items.push(format!("avg({}) AS mean_{i}", quote(measure)));
    }
    let sql = format!("SELECT {} FROM data WHERE {column} IS NOT NULL GROUP BY 1 ORDER BY 1", items.join(", "));
    let answer = reader.query(&sql).await?;
    if answer.rows.truncated {
        notes.push(format!("Only the first {} {}s were read.", reader.row_cap(), grain.noun()));
    }
    let starts: Vec<(usize, NaiveDate)> = (0..answer.rows.rows.len())
        .filter_map(|r| answer.text(r, 0).as_deref().and_then(date_of).map(|d| (r, grain.start_of(d))))
        .collect();
    let first = starts.first().map_or(span.0, |s| s.1);
    let series = measures
        .iter()
        .enumerate()
        .map(|(i, measure)| Series {
            column: measure.clone(),
            points: starts
                .iter()
                .filter_map(|&(r, start)| {
                    answer.number(r, 2 + i).map(|value| Point { start, index: grain.index(first, start), value })
                })
                .collect(),
        })
        .collect();
    Ok(PeriodTable { grain, sql: answer.sql, date_column: date.to_owned(), periods: starts.len(), series })
}

/// The trends found and the note on them.
pub(crate) struct Findings {
    pub(crate) trends: Vec<Trend>,
    pub(crate) note: String,
}

fn none(note: String) -> Findings {
    Findings { trends: Vec::new(), note }
}

/// The trends of `table` (see the module doc).
pub(crate) fn find(table: Option<&PeriodTable>, columns: &Columns, overview: &Overview) -> Findings {
    let Some(date) = &columns.date else {
        return none("No trends: the dataset has no date or timestamp column to place its rows in time.".into());
    };
    if columns.measures.is_empty() {
        return none("No trends: the dataset has no numeric column to follow over time.".into());
    }
    let Some(table) = table else {
        return none(format!("No trends: `{date}` has no values in {} rows.", overview.rows));
    };
    if table.periods < MIN_PERIODS {
        return none(format!(
            "No trends: `{date}` covers {} {}(s); at least {MIN_PERIODS} are needed to tell a trend from noise.",
            table.periods,
            table.grain.noun()
        ));
    }
    let mut trends = Vec::new();
    let mut still = Vec::new();
    for series in &table.series {
        match judge(table, series) {
            Ok(trend) => trends.push(trend),
            Err(why) => still.push(why),
        }
    }
    trends.sort_by(|a, b| {
        b.r_squared.total_cmp(&a.r_squared).then_with(|| {
            let size = |t: &Trend| t.change.map_or(0.0, f64::abs);
            size(b).total_cmp(&size(a))
        })
    });
    let others = still.join("; ");
    let note = match trends.len() {
        0 => format!(
            "No trends: no numeric column moves clearly over the {} {}s: {others}.",
            table.periods,
            table.grain.noun()
        ),
        n if n < WANTED_TRENDS => format!(
            "Only {n} column{} trend{}; {WANTED_TRENDS} are looked for, and the others do not move clearly: {others}.",
            if n == 1 { "" } else { "s" },
            if n == 1 { "s" } else { "" },
        ),
        n => format!("{n} trends over {} {}s, the steadiest first.", table.periods, table.grain.noun()),
    };
    Findings { trends, note }
}

/// The trend of one column, or why it has none.
fn judge(table: &PeriodTable, series: &Series) -> Result<Trend, String> {
    let name = names(&[series.column.as_str()]);
    let n = series.points.len();
    let (Some(first), Some(last)) = (series.points.first(), series.points.last()) else {
        return Err(format!("{name} has no values"));
    };
    if n < MIN_PERIODS {
        return Err(format!("{name} has values in only {n} {}(s)", table.grain.noun()));
    }
    let points: Vec<(f64, f64)> = series.points.iter().map(|p| (p.index as f64, p.value)).collect();
    let Some(line) = stats::least_squares(&points) else { return Err(format!("{name} does not change")) };
    let moved = line.slope * (last.index - first.index) as f64;
    let level = points.iter().map(|p| p.1.abs()).sum::<f64>() / n as f64;
    let material = if level > 0.0 { moved.abs() >= MIN_CHANGE * level } else { moved != 0.0 };
    let significant = stats::slope_t(&line, n) >= stats::t_critical(n - 2);
    if !(significant && material) {
        let share = if level > 0.0 { percent(moved / level) } else { figure(moved) };
        return Err(format!("{name} ({share} along its line, R² {})", figure(line.r_squared)));
    }
    Ok(trend(table, series, &line, first, last))
}

fn trend(table: &PeriodTable, series: &Series, line: &Line, first: &Point, last: &Point) -> Trend {
    let grain = table.grain;
    let n = series.points.len();
    let direction = if line.slope > 0.0 { TrendDirection::Up } else { TrendDirection::Down };
    let change = (first.value != 0.0).then(|| (last.value - first.value) / first.value.abs());
    let next_value = line.at((last.index + 1) as f64);
    let steady = if line.r_squared >= 0.8 {
        "a steady"
    } else if line.r_squared >= 0.5 {
        "a fairly steady"
    } else {
        "an uneven"
    };
    let verb = if direction == TrendDirection::Up { "rose" } else { "fell" };
    let by = change.map(|c| format!(" ({})", percent(c))).unwrap_or_default();
    let sign = if line.slope > 0.0 { "+" } else { "" };
    // The line decides the direction; a noisy series can end below where
    // it began while its line rises (or the other way). Then the two end
    // periods are told apart from the trend instead of "rose … (−20 %)".
    let ends_agree = change.is_none_or(|c| (c >= 0.0) == (line.slope > 0.0));
    let movement = if ends_agree {
        format!(
            "{verb} from {} in {} to {} in {}{by}, about",
            figure(first.value),
            grain.label(first.start),
            figure(last.value),
            grain.label(last.start),
        )
    } else {
        format!(
            "{verb} along its line, though {} averaged {} against {} in {}{by}: about",
            grain.label(last.start),
            figure(last.value),
            figure(first.value),
            grain.label(first.start),
        )
    };
    let explanation = format!(
        "The average `{}` per row {movement} {sign}{} a {} along {steady} line (R² {} over {n} {}s); at that pace \
         the next {} would average {}.",
        series.column,
        figure(line.slope),
        grain.noun(),
        figure(line.r_squared),
        grain.noun(),
        grain.noun(),
        figure(next_value),
    );
    let sql = &table.sql;
    let fit = format!("least-squares line through the {n} {} averages", grain.adjective());
    let mut evidence = vec![
        Evidence::read(format!("average `{}` in {}", series.column, grain.label(first.start)), first.value, sql),
        Evidence::read(format!("average `{}` in {}", series.column, grain.label(last.start)), last.value, sql),
        Evidence::derived(format!("slope per {}", grain.noun()), line.slope, sql, fit.clone()),
        Evidence::derived("R²", line.r_squared, sql, fit),
        Evidence::derived(
            format!("line's value the {} after {}", grain.noun(), grain.label(last.start)),
            next_value,
            sql,
            "intercept + slope × (last period + 1)",
        ),
    ];
    if let Some(c) = change {
        evidence.push(Evidence::derived("change, first to last period", c, sql, "(last − first) / |first|"));
    }
    Trend {
        column: series.column.clone(),
        direction,
        grain,
        periods: u32::try_from(n).unwrap_or(u32::MAX),
        first_period: first.start.format("%Y-%m-%d").to_string(),
        last_period: last.start.format("%Y-%m-%d").to_string(),
        first_value: first.value,
        last_value: last.value,
        change,
        slope: super::finite(line.slope),
        r_squared: line.r_squared,
        next_value: super::finite(next_value),
        explanation,
        evidence,
    }
}
