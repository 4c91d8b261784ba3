//! Periods: the days a question is about, read from its words, and the
//! equally long stretch just before them that it is compared with.
//!
//! Ranges are half-open `[from, to)` days in the shop's calendar and `as_of`
//! is the shop's local today. Trailing periods ("last 30 days", "last 3
//! months") end before today, so a day that is only partly over never
//! weighs in a comparison. Periods that run up to now ("this month",
//! "today", "since September") end after today (`to = as_of + 1 day`):
//! otherwise "this month" on the 1st would be empty.

use chrono::{Datelike, Duration, Months, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use crate::store::DateRange;

/// The longest period in whole months. The store tools refuse a range of
/// more than 800 days per call; the current and the previous period are
/// fetched in separate calls, so each must stay under it on its own, and 24
/// months are at most 731 days.
const MAX_MONTHS: u32 = 24;
/// The longest period in days, for the same reason: two years and a leap day.
const MAX_DAYS: i64 = 731;
/// The longest period in weeks (728 days).
const MAX_WEEKS: u32 = (MAX_DAYS / 7) as u32;
/// Years read from a prompt. Keeping them near today keeps every date
/// computed from them far from chrono's limits, so no arithmetic can overflow.
const YEARS: std::ops::RangeInclusive<i32> = 1900..=2200;

/// Words before a month name or a year that make it a period ("in May",
/// "for 2025"); without one, "may" is more likely the verb.
const CONTEXT: [&str; 9] = ["in", "for", "during", "of", "over", "this", "throughout", "across", "on"];
/// Month names that are not also common words, so they count on their own.
const PLAIN_MONTHS: [&str; 10] =
    ["january", "february", "april", "june", "july", "august", "september", "october", "november", "december"];
const MONTH_NAMES: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
/// Spelled counts; larger counts are written as numbers.
const COUNTS: [&str; 20] = [
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
];

/// How a period is split into buckets: days for up to 31 days, weeks for up
/// to 190, months beyond; a period of whole calendar months always by month,
/// except a single month, which is split into days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Granularity {
    /// Calendar days.
    Day,
    /// Seven-day buckets from the period's start.
    Week,
    /// Calendar months.
    Month,
}

impl Granularity {
    /// Buckets for a period of `days` days: few enough to read, enough to
    /// show a trend.
    fn for_days(days: i64) -> Granularity {
        if days <= 31 {
            Granularity::Day
        } else if days <= 190 {
            Granularity::Week
        } else {
            Granularity::Month
        }
    }
}

/// The period a question is about and the one before it, for comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// The period asked about.
    pub current: DateRange,
    /// The equally long period just before: as many whole months for a
    /// period of whole months, as many days otherwise.
    pub previous: DateRange,
    /// Bucket size for series.
    pub granularity: Granularity,
}

impl Period {
    /// The period a prompt names, relative to `as_of` (the shop's today);
    /// the `default_months` whole months before the current one when it
    /// names none. The earliest phrase in the prompt that reads as a period
    /// wins. Understood (case-insensitive):
    ///
    /// - "last|past|previous|prior N days|weeks|months|quarters|years" (N in
    ///   digits or words, "last week" = N of 1): days and weeks are the N or
    ///   7·N days before today; months, quarters and years the N, 3·N or 12·N
    ///   whole calendar months before the current one ("last quarter" is the
    ///   three months before this one, not the previous calendar quarter).
    ///   "this N months" reads the same; "12 months" alone as a last resort.
    /// - "this|current week|month|quarter|year", "month to date", "ytd",
    ///   "mtd"…: from the start of the unit (weeks start on Monday) to the
    ///   end of today.
    /// - "today", "yesterday".
    /// - A day ("2026-09-01", "September 5", "5th of Sep 2026"), a month
    ///   ("September 2026", "Sep 2026", "2026-09", "in October", "last
    ///   October") or a year ("in 2025"). Without a year, a month is the most
    ///   recent one that has begun ("in October" in October is this month so
    ///   far), except after "last", where it is the most recent complete one.
    /// - Ranges, both ends included as people say them: "from A to B",
    ///   "between A and B", "A..B", "A – B", "since A" (to the end of today).
    /// - "Black Friday" (the day after the fourth Thursday of November),
    ///   "Cyber Monday", "Black Friday weekend" / "BFCM" / "cyber weekend"
    ///   (Friday to Monday): the most recent one that has begun, or the one
    ///   of a year given after it.
    ///
    /// Nothing ends after today: a period reaching into the future is cut
    /// at the end of today, and one that starts after today is ignored.
    /// Longer periods than 24 months or 731 days are cut to their most
    /// recent 24 months or 731 days (see `MAX_MONTHS`).
    pub fn parse(prompt: &str, as_of: NaiveDate, default_months: u32) -> Period {
        let words = words(prompt);
        let reader = Reader { words: &words, as_of };
        (0..words.len())
            .find_map(|i| reader.period_at(i))
            .or_else(|| reader.bare_count())
            .unwrap_or_else(|| Period::months(as_of, default_months))
    }

    /// The `count` whole months before `as_of`'s month (1 to 24).
    pub fn months(as_of: NaiveDate, count: u32) -> Period {
        let count = count.clamp(1, MAX_MONTHS);
        Period::whole_months(first_of_month(as_of) - Months::new(count), count)
    }

    /// The `days` days before `as_of` (1 to 731).
    pub fn days(as_of: NaiveDate, days: i64) -> Period {
        Period::trailing_days(as_of, days.clamp(1, MAX_DAYS))
    }

    /// "Aug 2026 – Oct 2026", "Oct 2026", "2026-10-05 – 2026-10-11" or "2026-10-05".
    pub fn label(&self) -> String {
        let DateRange { from, to } = self.current;
        let last = to - Duration::days(1);
        let month = |d: NaiveDate| d.format("%b %Y").to_string();
        if months_between(from, to).is_some() {
            if (from.year(), from.month()) == (last.year(), last.month()) {
                month(from)
            } else {
                format!("{} – {}", month(from), month(last))
            }
        } else if from == last {
            from.to_string()
        } else {
            format!("{from} – {last}")
        }
    }

    /// `count` whole months from `from`, a first of the month. A single month
    /// is split into days: one monthly bucket would be no series at all.
    fn whole_months(from: NaiveDate, count: u32) -> Period {
        let months = Months::new(count);
        Period {
            current: DateRange { from, to: from + months },
            previous: DateRange { from: from - months, to: from },
            granularity: if count == 1 { Granularity::Day } else { Granularity::Month },
        }
    }

    /// The `days` days before `to`.
    fn trailing_days(to: NaiveDate, days: i64) -> Period {
        let length = Duration::days(days);
        let from = to - length;
        Period {
            current: DateRange { from, to },
            previous: DateRange { from: from - length, to: from },
            granularity: Granularity::for_days(days),
        }
    }

    /// `[from, to)` (non-empty): counted in whole months when it is whole
    /// months, in days otherwise, and cut to its latest part when too long.
    fn span(from: NaiveDate, to: NaiveDate) -> Period {
        match months_between(from, to) {
            Some(count) => {
                let count = count.min(MAX_MONTHS);
                Period::whole_months(to - Months::new(count), count)
            }
            None => Period::trailing_days(to, (to - from).num_days().clamp(1, MAX_DAYS)),
        }
    }
}

/// A calendar unit a period is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl Unit {
    fn parse(word: &str) -> Option<Unit> {
        Some(match word {
            "day" | "days" => Unit::Day,
            "week" | "weeks" | "wk" | "wks" => Unit::Week,
            "month" | "months" | "mo" | "mos" | "mth" | "mths" => Unit::Month,
            "quarter" | "quarters" | "qtr" | "qtrs" => Unit::Quarter,
            "year" | "years" | "yr" | "yrs" => Unit::Year,
            _ => return None,
        })
    }
}

/// A day, month or year named in a prompt, possibly without its year.
#[derive(Debug, Clone, Copy)]
enum Point {
    Day { year: Option<i32>, month: u32, day: u32 },
    Month { year: Option<i32>, month: u32 },
    Year(i32),
}

impl Point {
    /// The days the point covers. Without a year it is the most recent such
    /// day or month that begins on or before `anchor`.
    fn resolve(self, anchor: NaiveDate) -> Option<DateRange> {
        match self {
            Point::Year(year) => Some(DateRange { from: first_of(year, 1)?, to: first_of(year + 1, 1)? }),
            Point::Month { year, month } => {
                let year = year.unwrap_or(if month <= anchor.month() { anchor.year() } else { anchor.year() - 1 });
                let from = first_of(year, month)?;
                Some(DateRange { from, to: from.checked_add_months(Months::new(1))? })
            }
            Point::Day { year, month, day } => {
                let from = match year {
                    Some(year) => NaiveDate::from_ymd_opt(year, month, day)?,
                    // Eight years back always reach a 29 February.
                    None => (0..8).find_map(|back| {
                        NaiveDate::from_ymd_opt(anchor.year() - back, month, day).filter(|d| *d <= anchor)
                    })?,
                };
                Some(DateRange { from, to: from.succ_opt()? })
            }
        }
    }
}

/// A prompt's words and the day it is read on.
struct Reader<'a> {
    words: &'a [String],
    as_of: NaiveDate,
}

impl Reader<'_> {
    /// The `i`th word, or "" past the end (so look-aheads need no bounds checks).
    fn word(&self, i: usize) -> &str {
        self.words.get(i).map_or("", String::as_str)
    }

    /// The first day after today: where periods up to now end.
    fn tomorrow(&self) -> NaiveDate {
        self.as_of + Duration::days(1)
    }

    /// The period a phrase starting at word `i` names, if it names one.
    fn period_at(&self, i: usize) -> Option<Period> {
        self.relative_at(i).or_else(|| self.holiday_at(i)).or_else(|| self.explicit_at(i))
    }

    /// "last 3 months", "this week", "month to date", "today"…
    fn relative_at(&self, i: usize) -> Option<Period> {
        match self.word(i) {
            "today" => return Some(self.to_date(Unit::Day)),
            "yesterday" => return Some(Period::days(self.as_of, 1)),
            "wtd" => return Some(self.to_date(Unit::Week)),
            "mtd" => return Some(self.to_date(Unit::Month)),
            "qtd" => return Some(self.to_date(Unit::Quarter)),
            "ytd" => return Some(self.to_date(Unit::Year)),
            _ => {}
        }
        if let Some(unit) = Unit::parse(self.word(i))
            && (self.word(i + 1), self.word(i + 2)) == ("to", "date")
        {
            return Some(self.to_date(unit));
        }
        let this = match self.word(i) {
            "this" | "current" => true,
            "last" | "past" | "previous" | "prior" => false,
            _ => return None,
        };
        let count = parse_count(self.word(i + 1));
        let at = if count.is_some() { i + 2 } else { i + 1 };
        if let (false, None, Some(month)) = (this, count, month_number(self.word(at))) {
            // "last October": the most recent October that is over.
            let last_month = first_of_month(self.as_of).pred_opt()?;
            let range = Point::Month { year: None, month }.resolve(last_month)?;
            return Some(Period::span(range.from, range.to));
        }
        let unit = Unit::parse(self.word(at))?;
        Some(match count {
            None if this => self.to_date(unit),
            count => self.trailing(unit, count.unwrap_or(1)),
        })
    }

    /// The `count` days, weeks, months… before today (or before this month).
    fn trailing(&self, unit: Unit, count: u32) -> Period {
        let as_of = self.as_of;
        match unit {
            Unit::Day => Period::days(as_of, i64::from(count)),
            Unit::Week => Period::days(as_of, 7 * i64::from(count.clamp(1, MAX_WEEKS))),
            Unit::Month => Period::months(as_of, count),
            Unit::Quarter => Period::months(as_of, 3 * count.clamp(1, MAX_MONTHS / 3)),
            Unit::Year => Period::months(as_of, 12 * count.clamp(1, MAX_MONTHS / 12)),
        }
    }

    /// From the start of the current `unit` to the end of today.
    fn to_date(&self, unit: Unit) -> Period {
        let as_of = self.as_of;
        let from = match unit {
            Unit::Day => Some(as_of),
            Unit::Week => Some(as_of - Duration::days(i64::from(as_of.weekday().num_days_from_monday()))),
            Unit::Month => Some(first_of_month(as_of)),
            Unit::Quarter => first_of(as_of.year(), as_of.month0() / 3 * 3 + 1),
            Unit::Year => first_of(as_of.year(), 1),
        };
        Period::span(from.unwrap_or(as_of), self.tomorrow())
    }

    /// "Black Friday", "Cyber Monday", "Black Friday weekend", "BFCM",
    /// optionally followed by a year.
    fn holiday_at(&self, i: usize) -> Option<Period> {
        // (days after Black Friday it starts, its length in days, the word after it)
        let (offset, days, next) = match (self.word(i), self.word(i + 1), self.word(i + 2), self.word(i + 3)) {
            ("bfcm", ..) => (0, 4, i + 1),
            ("black", "friday", "weekend", _) => (0, 4, i + 3),
            ("black", "friday", "cyber", "monday") => (0, 4, i + 4),
            ("black", "friday", ..) => (0, 1, i + 2),
            ("cyber", "weekend", ..) => (0, 4, i + 2),
            ("cyber", "monday", ..) => (3, 1, i + 2),
            _ => return None,
        };
        // Black Friday follows US Thanksgiving, the fourth Thursday of November.
        let start = |year: i32| {
            NaiveDate::from_weekday_of_month_opt(year, 11, Weekday::Thu, 4).map(|d| d + Duration::days(1 + offset))
        };
        let from = match year_number(self.word(next)) {
            Some(year) => start(year)?,
            None => start(self.as_of.year()).filter(|d| *d <= self.as_of).or_else(|| start(self.as_of.year() - 1))?,
        };
        self.up_to_today(DateRange { from, to: from + Duration::days(days) })
    }

    /// Named days, months, years and ranges between them.
    fn explicit_at(&self, i: usize) -> Option<Period> {
        let opener = match self.word(i) {
            w @ ("between" | "from" | "since") => w,
            _ => "",
        };
        let first = if opener.is_empty() { i } else { i + 1 };
        let (start, next) = self.point(first)?;
        let connectors: &[&str] = if opener == "between" {
            &["and", "to", "-", ".."]
        } else {
            &["to", "until", "till", "through", "thru", "-", ".."]
        };
        let end = connectors.contains(&self.word(next)).then(|| self.point(next + 1)).flatten();
        let range = match (end, opener) {
            (Some((end, _)), _) => {
                let end = end.resolve(self.as_of)?;
                // A start without a year is the latest one before the end:
                // "from November to February" spans the new year.
                let start = start.resolve(end.from)?;
                DateRange { from: start.from.min(end.from), to: start.to.max(end.to) }
            }
            (None, "between") => return None,
            (None, "from" | "since") => DateRange { from: start.resolve(self.as_of)?.from, to: self.tomorrow() },
            (None, _) if self.stands_alone(start, i) => start.resolve(self.as_of)?,
            (None, _) => return None,
        };
        self.up_to_today(range)
    }

    /// Whether a point named without "from", "between"… is a period by
    /// itself: "May" and "2025" alone are more often something else.
    fn stands_alone(&self, point: Point, i: usize) -> bool {
        let after_context = i.checked_sub(1).is_some_and(|before| CONTEXT.contains(&self.word(before)));
        match point {
            Point::Day { .. } | Point::Month { year: Some(_), .. } => true,
            Point::Month { year: None, .. } => after_context || PLAIN_MONTHS.contains(&self.word(i)),
            Point::Year(_) => after_context,
        }
    }

    /// The day, month or year that starts at word `i`, and the word after it.
    fn point(&self, i: usize) -> Option<(Point, usize)> {
        let word = self.word(i);
        if let Some(date) = iso_day(word) {
            let (year, month, day) = (Some(date.year()), date.month(), date.day());
            return Some((Point::Day { year, month, day }, i + 1));
        }
        if let Some((year, month)) = year_month(word) {
            return Some((Point::Month { year: Some(year), month }, i + 1));
        }
        if let Some(year) = year_number(word) {
            return Some((Point::Year(year), i + 1));
        }
        if let Some(month) = month_number(word) {
            // "September 5", "September 5 2026"
            if let Some(day) = day_of_month(self.word(i + 1)) {
                let year = year_number(self.word(i + 2));
                return Some((Point::Day { year, month, day }, i + 2 + usize::from(year.is_some())));
            }
            // "September", "September 2026"
            let year = year_number(self.word(i + 1));
            return Some((Point::Month { year, month }, i + 1 + usize::from(year.is_some())));
        }
        // "5 September", "5th of September 2026"
        let day = day_of_month(word)?;
        let at = if self.word(i + 1) == "of" { i + 2 } else { i + 1 };
        let month = month_number(self.word(at))?;
        let year = year_number(self.word(at + 1));
        Some((Point::Day { year, month, day }, at + 1 + usize::from(year.is_some())))
    }

    /// `range` cut at the end of today; none if it starts after today.
    fn up_to_today(&self, range: DateRange) -> Option<Period> {
        let to = range.to.min(self.tomorrow());
        (range.from < to).then(|| Period::span(range.from, to))
    }

    /// The last resort: a count and a unit without "last" ("over 12 months").
    fn bare_count(&self) -> Option<Period> {
        (0..self.words.len()).find_map(|i| {
            let count = parse_count(self.word(i))?;
            Some(self.trailing(Unit::parse(self.word(i + 1))?, count))
        })
    }
}

/// The prompt's words, lower-case. ISO dates ("2026-09-01") and months
/// ("2026-09") stay whole; ".." and dashes between words are kept as words
/// because they join the ends of a range; other hyphenated words are split
/// ("12-month" → "12", "month").
fn words(prompt: &str) -> Vec<String> {
    let text = prompt.to_lowercase().replace("..", " .. ").replace(['–', '—'], " - ");
    let mut words = Vec::new();
    for raw in text.split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '.')) {
        if raw == ".." || raw == "-" {
            words.push(raw.to_owned());
            continue;
        }
        let raw = raw.trim_matches(|c: char| c == '-' || c == '.');
        if iso_day(raw).is_some() || year_month(raw).is_some() {
            words.push(raw.to_owned());
        } else {
            words.extend(raw.split(['-', '.']).filter(|w| !w.is_empty()).map(str::to_owned));
        }
    }
    words
}

/// "3", "three"; numbers too large for a `u32` saturate (and are capped later).
fn parse_count(word: &str) -> Option<u32> {
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit()) {
        return Some(word.parse().unwrap_or(u32::MAX));
    }
    COUNTS.iter().position(|n| *n == word).and_then(|i| u32::try_from(i + 1).ok())
}

/// A four-digit year near today.
fn year_number(word: &str) -> Option<i32> {
    if word.len() != 4 || !word.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    word.parse().ok().filter(|y| YEARS.contains(y))
}

/// "september", "sep", "sept" → 9.
fn month_number(word: &str) -> Option<u32> {
    if word.len() < 3 {
        return None;
    }
    let index = MONTH_NAMES.iter().position(|name| name.starts_with(word))?;
    u32::try_from(index + 1).ok()
}

/// "5", "05", "5th", "21st" → the day of the month.
fn day_of_month(word: &str) -> Option<u32> {
    let digits = word.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    if !matches!(word.get(digits.len()..)?, "" | "st" | "nd" | "rd" | "th") || !(1..=2).contains(&digits.len()) {
        return None;
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|d| (1..=31).contains(d))
}

/// "2026-09-01".
fn iso_day(word: &str) -> Option<NaiveDate> {
    let mut parts = word.split('-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !(1..=2).contains(&month.len()) || !(1..=2).contains(&day.len()) {
        return None;
    }
    NaiveDate::from_ymd_opt(year_number(year)?, month.parse().ok()?, day.parse().ok()?)
}

/// "2026-09" → (2026, 9).
fn year_month(word: &str) -> Option<(i32, u32)> {
    let (year, month) = word.split_once('-')?;
    if !(1..=2).contains(&month.len()) {
        return None;
    }
    let month: u32 = month.parse().ok()?;
    (1..=12).contains(&month).then_some((year_number(year)?, month))
}

fn first_of(year: i32, month: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, 1)
}

fn first_of_month(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// How many whole calendar months `[from, to)` is, if it is whole months.
fn months_between(from: NaiveDate, to: NaiveDate) -> Option<u32> {
    if from.day() != 1 || to.day() != 1 || to <= from {
        return None;
    }
    let months = (to.year() - from.year()) * 12 + to.month0() as i32 - from.month0() as i32;
    u32::try_from(months).ok()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    fn range(from: NaiveDate, to: NaiveDate) -> DateRange {
        DateRange { from, to }
    }

    /// The current and previous range `prompt` reads as on `as_of`.
    fn read(prompt: &str, as_of: NaiveDate) -> (DateRange, DateRange) {
        let p = Period::parse(prompt, as_of, 1);
        (p.current, p.previous)
    }

    #[test]
    fn periods_are_whole_months_before_the_current_one() {
        let p = Period::parse("revenue over the last 3 months", day(2026, 11, 22), 1);
        assert_eq!(p.current, range(day(2026, 8, 1), day(2026, 11, 1)));
        assert_eq!(p.previous, range(day(2026, 5, 1), day(2026, 8, 1)));
        assert_eq!(p.granularity, Granularity::Month);
        assert_eq!(p.label(), "Aug 2026 – Oct 2026");
        let w = Period::parse("sales last week", day(2026, 11, 22), 1);
        assert_eq!(w.current, range(day(2026, 11, 15), day(2026, 11, 22)));
        assert_eq!(w.previous, range(day(2026, 11, 8), day(2026, 11, 15)));
        assert_eq!(Period::parse("past two months", day(2026, 1, 5), 1).current.from, day(2025, 11, 1));
    }

    #[test]
    fn months_quarters_and_years_count_whole_months() {
        let as_of = day(2026, 11, 22);
        assert_eq!(
            read("last 2 years", as_of),
            (range(day(2024, 11, 1), day(2026, 11, 1)), range(day(2022, 11, 1), day(2024, 11, 1)))
        );
        assert_eq!(
            read("last quarter", as_of),
            (range(day(2026, 8, 1), day(2026, 11, 1)), range(day(2026, 5, 1), day(2026, 8, 1)))
        );
        assert_eq!(read("the previous two quarters", as_of).0, range(day(2026, 5, 1), day(2026, 11, 1)));
        assert_eq!(read("over the past year", as_of).0, range(day(2025, 11, 1), day(2026, 11, 1)));
        let last_month = Period::parse("last month", as_of, 3);
        assert_eq!(last_month.current, range(day(2026, 10, 1), day(2026, 11, 1)));
        assert_eq!(last_month.previous, range(day(2026, 9, 1), day(2026, 10, 1)));
        // One month in monthly buckets would be a single point.
        assert_eq!(last_month.granularity, Granularity::Day);
        assert_eq!(last_month.label(), "Oct 2026");
    }

    #[test]
    fn month_counts_cross_year_boundaries() {
        assert_eq!(
            read("last year", day(2026, 1, 5)),
            (range(day(2025, 1, 1), day(2026, 1, 1)), range(day(2024, 1, 1), day(2025, 1, 1)))
        );
        assert_eq!(
            read("last 3 months", day(2026, 1, 15)),
            (range(day(2025, 10, 1), day(2026, 1, 1)), range(day(2025, 7, 1), day(2025, 10, 1)))
        );
        assert_eq!(read("last month", day(2027, 1, 1)).0, range(day(2026, 12, 1), day(2027, 1, 1)));
    }

    #[test]
    fn days_and_weeks_count_days_before_today() {
        let as_of = day(2026, 11, 22);
        let p = Period::parse("unusual days in the last 30 days", as_of, 1);
        assert_eq!(p.current, range(day(2026, 10, 23), as_of));
        assert_eq!(p.previous, range(day(2026, 9, 23), day(2026, 10, 23)));
        assert_eq!(p.granularity, Granularity::Day);
        assert_eq!(read("past 3 days", as_of).0, range(day(2026, 11, 19), as_of));
        assert_eq!(read("last two weeks", as_of).0, range(day(2026, 11, 8), as_of));
        assert_eq!(read("a 12-week view, previous 12 weeks", as_of).0.days(), 84);
        assert_eq!(Period::parse("last 90 days", as_of, 1).granularity, Granularity::Week);
        assert_eq!(Period::parse("last 200 days", as_of, 1).granularity, Granularity::Month);
    }

    #[test]
    fn granularity_follows_the_length() {
        let as_of = day(2026, 11, 22);
        assert_eq!(Period::days(as_of, 31).granularity, Granularity::Day);
        assert_eq!(Period::days(as_of, 32).granularity, Granularity::Week);
        assert_eq!(Period::days(as_of, 190).granularity, Granularity::Week);
        assert_eq!(Period::days(as_of, 191).granularity, Granularity::Month);
        assert_eq!(Period::months(as_of, 2).granularity, Granularity::Month);
    }

    #[test]
    fn this_unit_runs_to_the_end_of_today() {
        let as_of = day(2026, 11, 22); // a Sunday
        let end = day(2026, 11, 23);
        let month = Period::parse("Which products sell best this month?", as_of, 1);
        assert_eq!(month.current, range(day(2026, 11, 1), end));
        assert_eq!(month.previous, range(day(2026, 10, 10), day(2026, 11, 1)));
        assert_eq!(month.granularity, Granularity::Day);
        assert_eq!(month.label(), "2026-11-01 – 2026-11-22");
        assert_eq!(read("month to date", as_of), (month.current, month.previous));
        assert_eq!(read("MTD", as_of).0, month.current);
        assert_eq!(
            read("this week", as_of),
            (range(day(2026, 11, 16), end), range(day(2026, 11, 9), day(2026, 11, 16)))
        );
        assert_eq!(read("this week", day(2026, 11, 30)).0, range(day(2026, 11, 30), day(2026, 12, 1)));
        let quarter = Period::parse("this quarter", as_of, 1);
        assert_eq!(quarter.current, range(day(2026, 10, 1), end));
        assert_eq!(quarter.previous, range(day(2026, 8, 9), day(2026, 10, 1)));
        assert_eq!(quarter.granularity, Granularity::Week);
        let year = Period::parse("revenue this year", as_of, 1);
        assert_eq!(year.current, range(day(2026, 1, 1), end));
        assert_eq!(year.previous, range(day(2025, 2, 9), day(2026, 1, 1)));
        assert_eq!(year.granularity, Granularity::Month);
        assert_eq!(read("ytd", as_of).0, year.current);
    }

    #[test]
    fn this_month_on_the_first_is_that_day() {
        let as_of = day(2026, 11, 1);
        assert_eq!(read("this month", as_of), (range(as_of, day(2026, 11, 2)), range(day(2026, 10, 31), as_of)));
        // On the last day the month is whole, so it is compared with the whole month before.
        assert_eq!(
            read("this month", day(2026, 11, 30)),
            (range(day(2026, 11, 1), day(2026, 12, 1)), range(day(2026, 10, 1), day(2026, 11, 1)))
        );
    }

    #[test]
    fn today_and_yesterday() {
        let as_of = day(2027, 1, 1);
        let today = Period::parse("how are sales today?", as_of, 1);
        assert_eq!(today.current, range(as_of, day(2027, 1, 2)));
        assert_eq!(today.previous, range(day(2026, 12, 31), as_of));
        assert_eq!(today.label(), "2027-01-01");
        assert_eq!(
            read("and yesterday?", as_of),
            (range(day(2026, 12, 31), as_of), range(day(2026, 12, 30), day(2026, 12, 31)))
        );
    }

    #[test]
    fn leap_day() {
        let as_of = day(2028, 2, 29);
        assert_eq!(
            read("this month", as_of),
            (range(day(2028, 2, 1), day(2028, 3, 1)), range(day(2028, 1, 1), day(2028, 2, 1)))
        );
        assert_eq!(read("last month", as_of).0, range(day(2028, 1, 1), day(2028, 2, 1)));
        assert_eq!(read("last year", as_of).0, range(day(2027, 2, 1), day(2028, 2, 1)));
        assert_eq!(read("yesterday", as_of).0, range(day(2028, 2, 28), as_of));
        assert_eq!(read("today", as_of).0, range(as_of, day(2028, 3, 1)));
        assert_eq!(read("last 365 days", as_of).0, range(day(2027, 3, 1), as_of));
        assert_eq!(read("on 2028-02-29", day(2028, 3, 5)).0, range(as_of, day(2028, 3, 1)));
        // Without a year, 29 February is the latest one.
        assert_eq!(read("on 29 February", day(2031, 6, 1)).0, range(as_of, day(2028, 3, 1)));
        assert_eq!(read("this year", as_of).0, range(day(2028, 1, 1), day(2028, 3, 1)));
    }

    #[test]
    fn named_days_and_months() {
        let as_of = day(2026, 11, 22);
        let sep = Period::parse("revenue in September 2026", as_of, 1);
        assert_eq!(sep.current, range(day(2026, 9, 1), day(2026, 10, 1)));
        assert_eq!(sep.previous, range(day(2026, 8, 1), day(2026, 9, 1)));
        assert_eq!(sep.label(), "Sep 2026");
        assert_eq!(read("Sep 2026 sales", as_of).0, sep.current);
        assert_eq!(read("sales for 2026-09", as_of).0, sep.current);
        assert_eq!(read("how was October?", as_of).0, range(day(2026, 10, 1), day(2026, 11, 1)));
        assert_eq!(read("sales in October", day(2026, 9, 10)).0, range(day(2025, 10, 1), day(2025, 11, 1)));
        // The current October so far, and after "last" the one before it.
        assert_eq!(read("sales in October", day(2026, 10, 10)).0, range(day(2026, 10, 1), day(2026, 10, 11)));
        assert_eq!(read("sales last October", day(2026, 10, 10)).0, range(day(2025, 10, 1), day(2025, 11, 1)));
        assert_eq!(read("in may", as_of).0, range(day(2026, 5, 1), day(2026, 6, 1)));
        assert_eq!(read("may I see my sales?", as_of), read("", as_of));
        let one = Period::parse("orders on 2026-09-01", as_of, 1);
        assert_eq!(one.current, range(day(2026, 9, 1), day(2026, 9, 2)));
        assert_eq!(one.previous, range(day(2026, 8, 31), day(2026, 9, 1)));
        assert_eq!(one.granularity, Granularity::Day);
        assert_eq!(read("on September 5", as_of).0, range(day(2026, 9, 5), day(2026, 9, 6)));
        assert_eq!(read("on the 5th of Dec", as_of).0, range(day(2025, 12, 5), day(2025, 12, 6)));
        let year = Period::parse("revenue in 2025", as_of, 1);
        assert_eq!(year.current, range(day(2025, 1, 1), day(2026, 1, 1)));
        assert_eq!(year.previous, range(day(2024, 1, 1), day(2025, 1, 1)));
        assert_eq!(year.label(), "Jan 2025 – Dec 2025");
    }

    #[test]
    fn explicit_ranges_include_their_last_day() {
        let as_of = day(2026, 11, 22);
        let september = (range(day(2026, 9, 1), day(2026, 10, 1)), range(day(2026, 8, 1), day(2026, 9, 1)));
        assert_eq!(read("from 2026-09-01 to 2026-09-30", as_of), september);
        assert_eq!(read("sales 2026-09-01..2026-09-30?", as_of), september);
        assert_eq!(read("sales 2026-09-01 – 2026-09-30", as_of), september);
        let december = day(2026, 12, 15);
        let autumn = Period::parse("from September to November 2026", december, 1);
        assert_eq!(autumn.current, range(day(2026, 9, 1), day(2026, 12, 1)));
        assert_eq!(autumn.previous, range(day(2026, 6, 1), day(2026, 9, 1)));
        assert_eq!(autumn.granularity, Granularity::Month);
        // Up to the current month: so far.
        assert_eq!(read("from September to November 2026", as_of).0, range(day(2026, 9, 1), day(2026, 11, 23)));
        assert_eq!(
            read("between 2026-09-05 and 2026-09-18", as_of),
            (range(day(2026, 9, 5), day(2026, 9, 19)), range(day(2026, 8, 22), day(2026, 9, 5)))
        );
        // Either order, and a start without a year comes before the end.
        assert_eq!(read("between 2026-09-18 and 2026-09-05", as_of).0, range(day(2026, 9, 5), day(2026, 9, 19)));
        assert_eq!(read("from November to February", as_of).0, range(day(2025, 11, 1), day(2026, 3, 1)));
        assert_eq!(read("since 2026-11-01", as_of).0, range(day(2026, 11, 1), day(2026, 11, 23)));
        assert_eq!(read("since September", as_of).0, range(day(2026, 9, 1), day(2026, 11, 23)));
    }

    #[test]
    fn nothing_ends_after_today() {
        let as_of = day(2026, 11, 22);
        assert_eq!(read("from 2026-11-01 to 2026-12-31", as_of).0, range(day(2026, 11, 1), day(2026, 11, 23)));
        // Wholly in the future: not a period, so the default applies.
        assert_eq!(read("September 2027", as_of), read("", as_of));
        assert_eq!(read("", as_of).0, range(day(2026, 10, 1), day(2026, 11, 1)));
    }

    #[test]
    fn black_friday_is_the_day_after_thanksgiving() {
        // 2026-11-22 is before this year's (27 November): the previous one.
        let bf = Period::parse("How did Black Friday go?", day(2026, 11, 22), 1);
        assert_eq!(bf.current, range(day(2025, 11, 28), day(2025, 11, 29)));
        assert_eq!(bf.previous, range(day(2025, 11, 27), day(2025, 11, 28)));
        assert_eq!(read("black friday", day(2026, 11, 30)).0, range(day(2026, 11, 27), day(2026, 11, 28)));
        // 1 November 2024 was a Friday: Black Friday was the fifth Friday.
        assert_eq!(read("black friday 2024", day(2026, 11, 22)).0, range(day(2024, 11, 29), day(2024, 11, 30)));
        assert_eq!(read("cyber monday", day(2026, 12, 5)).0, range(day(2026, 11, 30), day(2026, 12, 1)));
        assert_eq!(
            read("Black Friday weekend", day(2026, 12, 5)),
            (range(day(2026, 11, 27), day(2026, 12, 1)), range(day(2026, 11, 23), day(2026, 11, 27)))
        );
        // Under way: so far.
        assert_eq!(read("BFCM", day(2026, 11, 28)).0, range(day(2026, 11, 27), day(2026, 11, 29)));
        assert_eq!(read("black friday 2030", day(2026, 11, 22)), read("", day(2026, 11, 22)));
    }

    #[test]
    fn counts_are_capped_to_what_the_tools_read() {
        let as_of = day(2026, 11, 22);
        assert_eq!(read("last 5 years", as_of).0, range(day(2024, 11, 1), day(2026, 11, 1)));
        assert_eq!(read("last 36 months", as_of).0, range(day(2024, 11, 1), day(2026, 11, 1)));
        assert_eq!(read("last 1000 days", as_of).0, range(day(2024, 11, 21), as_of));
        assert_eq!(read("last 200 weeks", as_of).0, range(day(2024, 11, 24), as_of));
        assert_eq!(read("last 99999999999 days", as_of).0.days(), MAX_DAYS);
        assert_eq!(read("from 2020-01-01 to 2026-06-30", as_of).0, range(day(2024, 7, 1), day(2026, 7, 1)));
        assert_eq!(read("last 0 days", as_of).0, range(day(2026, 11, 21), as_of));
        assert_eq!(Period::months(as_of, 0).current, range(day(2026, 10, 1), day(2026, 11, 1)));
    }

    #[test]
    fn bare_counts_and_defaults() {
        let as_of = day(2026, 11, 22);
        assert_eq!(read("sales over 12 months", as_of).0, range(day(2025, 11, 1), day(2026, 11, 1)));
        assert_eq!(Period::parse("how is my shop doing?", as_of, 3), Period::months(as_of, 3));
        assert_eq!(Period::parse("compared with the previous period", as_of, 2), Period::months(as_of, 2));
    }

    const UNITS: [Unit; 5] = [Unit::Day, Unit::Week, Unit::Month, Unit::Quarter, Unit::Year];

    /// The largest count of a unit that is read as given.
    fn cap(unit: Unit) -> u32 {
        match unit {
            Unit::Day => MAX_DAYS as u32,
            Unit::Week => MAX_WEEKS,
            Unit::Month => MAX_MONTHS,
            Unit::Quarter => MAX_MONTHS / 3,
            Unit::Year => MAX_MONTHS / 12,
        }
    }

    fn unit_word(unit: Unit, plural: bool) -> String {
        let word = match unit {
            Unit::Day => "day",
            Unit::Week => "week",
            Unit::Month => "month",
            Unit::Quarter => "quarter",
            Unit::Year => "year",
        };
        if plural { format!("{word}s") } else { word.to_owned() }
    }

    fn any_day() -> impl Strategy<Value = NaiveDate> {
        // 2000-01-01 to 2100-12-31.
        (0i64..36_890).prop_map(|d| day(2000, 1, 1) + Duration::days(d))
    }

    /// (the phrase, its prefix, its count if it has one, its unit)
    fn phrase() -> impl Strategy<Value = (String, &'static str, Option<u32>, Unit)> {
        (prop::sample::select(UNITS.to_vec()), prop::sample::select(vec!["this", "last", "past", "previous"]))
            .prop_flat_map(|(unit, prefix)| {
                (Just(unit), Just(prefix), proptest::option::of(1..=cap(unit)), any::<bool>())
            })
            .prop_map(|(unit, prefix, count, spelled)| {
                let count_word = match count {
                    Some(n) if spelled && n <= 20 => format!("{} ", COUNTS[n as usize - 1]),
                    Some(n) => format!("{n} "),
                    None => String::new(),
                };
                let plural = count.is_some_and(|n| n > 1);
                let text = format!("How did sales go {prefix} {count_word}{}?", unit_word(unit, plural));
                (text, prefix, count, unit)
            })
    }

    /// Properties every period has, whatever the prompt.
    fn assert_well_formed(p: &Period, as_of: NaiveDate) -> Result<(), TestCaseError> {
        let (current, previous) = (p.current, p.previous);
        prop_assert!(current.from < current.to, "{p:?}");
        prop_assert_eq!(previous.to, current.from);
        prop_assert!(current.to <= as_of + Duration::days(1), "{p:?}");
        // As long in days, or (for a period of whole months) in whole months.
        let months = months_between(current.from, current.to);
        prop_assert!(
            previous.days() == current.days()
                || (months.is_some() && months_between(previous.from, previous.to) == months),
            "{p:?}"
        );
        prop_assert!(current.days() <= 800 && previous.days() <= 800, "{p:?}");
        Ok(())
    }

    proptest! {
        #[test]
        fn relative_periods_honour_their_count((text, prefix, count, unit) in phrase(), as_of in any_day()) {
            let p = Period::parse(&text, as_of, 1);
            assert_well_formed(&p, as_of)?;
            let current = p.current;
            let this_month = first_of_month(as_of);
            match (prefix, count) {
                ("this", None) => {
                    prop_assert_eq!(current.to, as_of + Duration::days(1));
                    let start = match unit {
                        Unit::Day => as_of,
                        Unit::Week => as_of - Duration::days(i64::from(as_of.weekday().num_days_from_monday())),
                        Unit::Month => this_month,
                        Unit::Quarter => day(as_of.year(), as_of.month0() / 3 * 3 + 1, 1),
                        Unit::Year => day(as_of.year(), 1, 1),
                    };
                    prop_assert_eq!(current.from, start, "{}", text);
                }
                (_, count) => {
                    let n = count.unwrap_or(1);
                    let months = match unit {
                        Unit::Day | Unit::Week => None,
                        Unit::Month => Some(n),
                        Unit::Quarter => Some(3 * n),
                        Unit::Year => Some(12 * n),
                    };
                    match months {
                        Some(months) => {
                            prop_assert_eq!(current.to, this_month, "{}", text);
                            prop_assert_eq!(months_between(current.from, current.to), Some(months), "{}", text);
                            prop_assert_eq!(months_between(p.previous.from, p.previous.to), Some(months), "{}", text);
                        }
                        None => {
                            prop_assert_eq!(current.to, as_of, "{}", text);
                            let days = if unit == Unit::Week { 7 * i64::from(n) } else { i64::from(n) };
                            prop_assert_eq!(current.days(), days, "{}", text);
                            prop_assert_eq!(p.previous.days(), days, "{}", text);
                        }
                    }
                }
            }
        }

        #[test]
        fn any_words_make_a_well_formed_period(
            words in proptest::collection::vec(prop::sample::select(vec![
                "last", "this", "past", "from", "between", "and", "to", "since", "in", "..", "-", "3", "two",
                "1000", "0", "5th", "of", "day", "weeks", "month", "quarter", "years", "today", "yesterday",
                "may", "october", "sep", "2026", "1900", "2200", "2026-09-01", "2028-02-29", "2031-11-30",
                "2026-09", "black", "friday", "weekend", "cyber", "monday", "bfcm", "ytd", "date",
            ]), 0..8),
            as_of in any_day()
        ) {
            let p = Period::parse(&words.join(" "), as_of, 3);
            assert_well_formed(&p, as_of)?;
        }
    }
}
