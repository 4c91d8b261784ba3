//! Periods: a dataset's rows grouped by the day, week (from Monday) or
//! month of its date column, the grain chosen by the span so a series has
//! enough periods to show a line and not so many that each holds a few
//! rows. The engine groups (the SQL here); the same bucketing in Rust
//! places each period on the time axis, gaps included.

use chrono::{Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::datasets::sql::Engine;

/// Below this many days of span, periods are days (at most 60 of them).
const DAYS_UP_TO: i64 = 60;
/// Below this many days of span, periods are weeks (at most 30 of them);
/// from here on, months (seven or more).
const WEEKS_UP_TO: i64 = 210;

/// How long a period is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Grain {
    /// A calendar day (UTC).
    Day,
    /// Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
}

impl Grain {
    /// The grain for data spanning `days` (last date − first date).
    pub fn for_span(days: i64) -> Grain {
        if days < DAYS_UP_TO {
            Grain::Day
        } else if days < WEEKS_UP_TO {
            Grain::Week
        } else {
            Grain::Month
        }
    }

    /// The first day of the period `date` falls in.
    pub fn start_of(self, date: NaiveDate) -> NaiveDate {
        match self {
            Grain::Day => date,
            Grain::Week => {
                let back = u64::from(date.weekday().num_days_from_monday());
                date.checked_sub_days(Days::new(back)).unwrap_or(date)
            }
            // Day 1 of a date's own month always exists.
            Grain::Month => date.with_day(1).unwrap_or(date),
        }
    }

    /// How many periods after the period starting `first` the one
    /// starting `start` is (negative before it).
    pub fn index(self, first: NaiveDate, start: NaiveDate) -> i64 {
        match self {
            Grain::Day => (start - first).num_days(),
            Grain::Week => (start - first).num_days().div_euclid(7),
            Grain::Month => {
                i64::from(start.year() - first.year()) * 12 + i64::from(start.month()) - i64::from(first.month())
            }
        }
    }

    /// The period starting `start`, as a merchant reads it.
    pub fn label(self, start: NaiveDate) -> String {
        match self {
            Grain::Day => start.format("%Y-%m-%d").to_string(),
            Grain::Week => format!("the week of {}", start.format("%Y-%m-%d")),
            Grain::Month => start.format("%Y-%m").to_string(),
        }
    }

    /// `day`, `week` or `month`.
    pub fn noun(self) -> &'static str {
        match self {
            Grain::Day => "day",
            Grain::Week => "week",
            Grain::Month => "month",
        }
    }

    /// `daily`, `weekly` or `monthly`.
    pub fn adjective(self) -> &'static str {
        match self {
            Grain::Day => "daily",
            Grain::Week => "weekly",
            Grain::Month => "monthly",
        }
    }

    /// The SQL of the first day (`YYYY-MM-DD`) of the period of `column`
    /// (quoted), a DATE or TIMESTAMP column, on `engine`. Both engines
    /// compute in UTC (the read-only execution sets it on PostgreSQL;
    /// SQLite stores UTC).
    pub fn sql(self, column: &str, engine: Engine) -> String {
        match (engine, self) {
            (Engine::Sqlite, Grain::Day) => format!("date({column})"),
            (Engine::Sqlite, Grain::Week) => format!("date({column}, 'weekday 0', '-6 days')"),
            (Engine::Sqlite, Grain::Month) => format!("strftime('%Y-%m-01', {column})"),
            (Engine::Postgres, Grain::Day) => format!("CAST({column} AS DATE)"),
            (Engine::Postgres, Grain::Week) => format!("CAST(date_trunc('week', {column}) AS DATE)"),
            (Engine::Postgres, Grain::Month) => format!("CAST(date_trunc('month', {column}) AS DATE)"),
        }
    }
}

/// The calendar day of a DATE (`YYYY-MM-DD`) or TIMESTAMP (RFC 3339, UTC)
/// value as a result carries it.
pub fn date_of(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()
}
