//! The question in pieces: words (quoted values kept whole), the dataset's
//! columns found among them, date ranges and filter conditions taken out,
//! and the rest as grammar symbols. Each step consumes what it understands;
//! a word no step understands is a refusal, never a guess.

use chrono::{Months, NaiveDate};

use super::Unanswerable;
use crate::datasets::column::{ColumnSpec, ColumnType};

/// A word of the question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Word {
    /// Lower case, for matching.
    pub(super) text: String,
    /// As written, for values.
    pub(super) raw: String,
    /// Written inside quotes: a value, never a column or a keyword.
    pub(super) quoted: bool,
}

/// A word, or a column of the dataset named by one or more words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Item {
    Word(Word),
    /// The column's index, the words as written, whether they were plural.
    Column(usize, String, bool),
}

impl Item {
    /// The unquoted word's lower-case text.
    fn word(&self) -> Option<&str> {
        match self {
            Item::Word(w) if !w.quoted => Some(&w.text),
            _ => None,
        }
    }

    fn raw(&self) -> &str {
        match self {
            Item::Word(w) => &w.raw,
            Item::Column(_, raw, _) => raw,
        }
    }
}

/// Splits a question into words: whitespace and punctuation separate,
/// `"…"`, `'…'` and curly quotes make one quoted word, `>=`-style
/// operators are words, `$` before and `,` inside numbers go.
pub(super) fn words(question: &str) -> Vec<Word> {
    fn flush(current: &mut String, out: &mut Vec<Word>) {
        let trimmed = current.trim_end_matches('.');
        if !trimmed.is_empty() {
            out.push(Word { text: trimmed.to_lowercase(), raw: trimmed.to_owned(), quoted: false });
        }
        current.clear();
    }
    let chars: Vec<char> = question.chars().collect();
    let (mut out, mut current, mut i) = (Vec::new(), String::new(), 0);
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if matches!(c, '"' | '“' | '‘') || (c == '\'' && current.is_empty()) {
            flush(&mut current, &mut out);
            let closes = |d: char| match c {
                '“' | '"' => d == '”' || d == '"',
                '‘' => d == '’',
                _ => d == '\'',
            };
            if let Some(end) = chars[i + 1..].iter().position(|&d| closes(d)) {
                let raw: String = chars[i + 1..i + 1 + end].iter().collect();
                out.push(Word { text: raw.to_lowercase(), raw, quoted: true });
                i += end + 2;
            } else {
                i += 1;
            }
            continue;
        }
        let digit_before = current.chars().last().is_some_and(|d| d.is_ascii_digit());
        if c == ',' && digit_before && next.is_some_and(|d| d.is_ascii_digit()) {
            i += 1;
            continue;
        }
        if matches!(c, '<' | '>' | '=') || (c == '!' && next == Some('=')) {
            flush(&mut current, &mut out);
            let mut op = c.to_string();
            if let Some(n @ ('=' | '>')) = next
                && !(c == '>' && n == '>')
            {
                op.push(n);
                i += 1;
            }
            out.push(Word { text: op.clone(), raw: op, quoted: false });
            i += 1;
            continue;
        }
        if c.is_whitespace() || matches!(c, ',' | '?' | '!' | ';' | ':' | '(' | ')') {
            flush(&mut current, &mut out);
        } else if !(c == '$' && current.is_empty()) {
            current.push(c);
        }
        i += 1;
    }
    flush(&mut current, &mut out);
    out
}

/// Letters and digits only, lower case: `Ad Spend`, `ad_spend` and
/// `ad-spend` are one name.
pub(super) fn key(text: &str) -> String {
    text.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// Words that are grammar on their own: never a one-word column name.
const KEYWORDS: &[&str] = &[
    "total", "sum", "average", "avg", "mean", "min", "minimum", "max", "maximum", "count", "number", "top", "bottom",
    "best", "worst", "highest", "lowest", "most", "least", "by", "per", "each", "every", "day", "daily", "days",
    "week", "weekly", "weeks", "month", "monthly", "months", "year", "years", "trend", "last", "past", "in", "where",
    "with", "and", "or", "is", "not", "over", "under", "above", "below", "since", "before", "after", "between",
    "distinct", "unique", "rows", "records", "time", "how", "many", "of", "the", "for", "which",
];

/// Words after which a keyword that is also a column's name is the column.
const COLUMN_NEXT: &[&str] = &["where", "with", "whose", "when", "if", "and", "over"];

/// Whether words with `phrase` as key name the column keyed `column`
/// (a plural of it included).
fn names_column(phrase: &str, column: &str) -> bool {
    !phrase.is_empty()
        && (phrase == column
            || phrase.strip_suffix('s') == Some(column)
            || phrase.strip_suffix("es") == Some(column)
            || phrase.strip_suffix("ies").is_some_and(|stem| format!("{stem}y") == column)
            || column.strip_suffix('s') == Some(phrase))
}

/// Finds the dataset's columns among the words, longest names first.
pub(super) fn annotate(words: Vec<Word>, columns: &[ColumnSpec]) -> Vec<Item> {
    let keys: Vec<String> = columns.iter().map(|c| key(&c.name)).collect();
    let mut items = Vec::new();
    let mut i = 0;
    'words: while i < words.len() {
        for len in (1..=5.min(words.len() - i)).rev() {
            let span = &words[i..i + len];
            // A keyword alone is grammar, unless it follows a word that
            // can only be followed by a column (`where day is …`).
            let after_column_word = i > 0 && COLUMN_NEXT.contains(&words[i - 1].text.as_str());
            let keyword = len == 1 && KEYWORDS.contains(&span[0].text.as_str()) && !after_column_word;
            if span.iter().any(|w| w.quoted) || keyword {
                continue;
            }
            let phrase: String = span.iter().map(|w| key(&w.raw)).collect();
            let exact = keys.iter().position(|k| *k == phrase);
            if let Some(column) = exact.or_else(|| keys.iter().position(|k| names_column(&phrase, k))) {
                let raw = span.iter().map(|w| w.raw.as_str()).collect::<Vec<_>>().join(" ");
                items.push(Item::Column(column, raw, exact.is_none() && phrase.ends_with('s')));
                i += len;
                continue 'words;
            }
        }
        items.push(Item::Word(words[i].clone()));
        i += 1;
    }
    items
}

/// A unit of a trailing period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unit {
    Day,
    Week,
    Month,
    Year,
}

/// A date range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Period {
    /// `from <= day < until`.
    Fixed { from: NaiveDate, until: NaiveDate },
    /// The `amount` units up to the latest date in the data.
    Recent { amount: u32, unit: Unit },
}

/// A date range on a column (bound later when the question names none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DateRange {
    pub(super) column: Option<usize>,
    pub(super) period: Period,
    /// `in 2026`, `in the last 30 days`, as the explanation says it.
    pub(super) label: String,
}

const MONTHS: [&str; 12] = [
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

pub(super) fn number(text: &str) -> Option<u64> {
    const WORDS: [(&str, u64); 16] = [
        ("one", 1),
        ("two", 2),
        ("three", 3),
        ("four", 4),
        ("five", 5),
        ("six", 6),
        ("seven", 7),
        ("eight", 8),
        ("nine", 9),
        ("ten", 10),
        ("eleven", 11),
        ("twelve", 12),
        ("fifteen", 15),
        ("twenty", 20),
        ("thirty", 30),
        ("fifty", 50),
    ];
    if !text.is_empty() && text.len() <= 9 && text.chars().all(|c| c.is_ascii_digit()) {
        return text.parse().ok();
    }
    WORDS.iter().find(|(word, _)| *word == text).map(|(_, n)| *n)
}

fn year(text: &str) -> Option<i32> {
    let y: i32 = (text.len() == 4).then(|| text.parse().ok()).flatten()?;
    (1900..=2200).contains(&y).then_some(y)
}

fn month(text: &str) -> Option<u32> {
    let at = MONTHS.iter().position(|m| *m == text || (text.len() == 3 && m.starts_with(text)))?;
    u32::try_from(at + 1).ok()
}

fn first_of(y: i32, m: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, 1)
}

/// A day, month or year at `items[at..]`: its first day, the day after it
/// ends, and how many items it took.
fn moment(items: &[Item], at: usize) -> Option<(NaiveDate, NaiveDate, usize, String)> {
    let text = items.get(at)?.word()?;
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some((day, day.succ_opt()?, 1, text.to_owned()));
    }
    if let Some((y, m)) = text.split_once('-')
        && let (Some(y), Ok(m)) = (year(y), m.parse::<u32>())
    {
        let from = first_of(y, m)?;
        return Some((from, from.checked_add_months(Months::new(1))?, 1, text.to_owned()));
    }
    if let Some(y) = year(text) {
        return Some((first_of(y, 1)?, first_of(y + 1, 1)?, 1, text.to_owned()));
    }
    let m = month(text)?;
    let y = year(items.get(at + 1)?.word()?)?;
    let from = first_of(y, m)?;
    let label = format!("{} {y}", items.get(at)?.raw());
    Some((from, from.checked_add_months(Months::new(1))?, 2, label))
}

fn unit(text: &str) -> Option<Unit> {
    match text {
        "day" | "days" => Some(Unit::Day),
        "week" | "weeks" => Some(Unit::Week),
        "month" | "months" => Some(Unit::Month),
        "year" | "years" => Some(Unit::Year),
        _ => None,
    }
}

/// A period starting at `items[at]`, with how many items it took.
fn period(items: &[Item], at: usize) -> Option<(Period, String, usize)> {
    let first = items.get(at)?.word()?;
    let far = NaiveDate::from_ymd_opt(9999, 12, 31)?;
    match first {
        "in" | "during" => {
            let (from, until, used, label) = moment(items, at + 1)?;
            Some((Period::Fixed { from, until }, format!("in {label}"), used + 1))
        }
        "last" | "past" | "previous" | "trailing" => {
            let (amount, at_unit) = match items.get(at + 1)?.word().and_then(number) {
                Some(n) => (u32::try_from(n).ok().filter(|n| (1..=10_000).contains(n))?, at + 2),
                None => (1, at + 1),
            };
            let text = items.get(at_unit)?.word()?;
            let unit = unit(text)?;
            let label = if amount == 1 {
                format!("in the last {}", text.trim_end_matches('s'))
            } else {
                format!("in the last {amount} {text}")
            };
            Some((Period::Recent { amount, unit }, label, at_unit + 1 - at))
        }
        "since" | "from" | "after" | "before" | "until" => {
            let (from, until, used, label) = moment(items, at + 1)?;
            if first == "from"
                && let Some("to" | "until" | "through") = items.get(at + 1 + used).and_then(Item::word)
            {
                let (_, end, more, last) = moment(items, at + 2 + used)?;
                let label = format!("from {label} to {last}");
                return Some((Period::Fixed { from, until: end }, label, used + more + 2));
            }
            let period = match first {
                "since" | "from" => Period::Fixed { from, until: far },
                "after" => Period::Fixed { from: until, until: far },
                _ => Period::Fixed { from: NaiveDate::from_ymd_opt(1, 1, 1)?, until: from },
            };
            Some((period, format!("{first} {label}"), used + 1))
        }
        "between" => {
            let (from, _, used, label) = moment(items, at + 1)?;
            if items.get(at + 1 + used).and_then(Item::word) != Some("and") {
                return None;
            }
            let (_, until, more, last) = moment(items, at + 2 + used)?;
            Some((Period::Fixed { from, until }, format!("between {label} and {last}"), used + more + 2))
        }
        _ => None,
    }
}

fn is_date(columns: &[ColumnSpec], column: usize) -> bool {
    columns.get(column).is_some_and(|c| matches!(c.kind, ColumnType::Date | ColumnType::Timestamp))
}

/// Takes the date ranges out, each with the date column written before it
/// (`where day is in 2026`, `order date since 2026-03-01`) when there is one.
pub(super) fn take_ranges(items: &mut Vec<Item>, columns: &[ColumnSpec]) -> Vec<DateRange> {
    let mut ranges = Vec::new();
    let mut at = 0;
    while at < items.len() {
        let Some((period, label, used)) = period(items, at) else {
            at += 1;
            continue;
        };
        let mut start = at;
        if start > 0 && matches!(items[start - 1].word(), Some("is" | "was" | "are" | "were")) {
            start -= 1;
        }
        let mut column = None;
        if let Some(Item::Column(c, _, _)) = start.checked_sub(1).map(|s| &items[s])
            && is_date(columns, *c)
        {
            column = Some(*c);
            start -= 1;
            if start > 0 && matches!(items[start - 1].word(), Some("where" | "with" | "when" | "for" | "on" | "and")) {
                start -= 1;
            }
        } else {
            start = at;
        }
        items.drain(start..at + used);
        ranges.push(DateRange { column, period, label });
        at = start;
    }
    ranges
}

/// A condition's comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Contains,
}

/// `column op value`, the value as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Condition {
    pub(super) column: usize,
    pub(super) op: Op,
    pub(super) value: String,
}

/// The comparison at `items[at..]` and how many items it took.
fn comparison(items: &[Item], at: usize) -> Option<(Op, usize)> {
    let word = |k: usize| items.get(at + k).and_then(Item::word);
    let (lead, k) = match word(0) {
        Some("is" | "was" | "are" | "were") => (true, 1),
        Some("isn't" | "wasn't" | "aren't") => return Some((Op::Ne, 1)),
        _ => (false, 0),
    };
    let two = |op: Op, second: &str| (word(k + 1) == Some(second)).then_some((op, k + 2));
    let found = match word(k) {
        Some("not" | "!=" | "<>") => Some((Op::Ne, k + 1)),
        Some("=" | "equals") => Some((Op::Eq, k + 1)),
        Some("equal") => two(Op::Eq, "to"),
        Some("greater" | "more" | "higher" | "bigger" | "larger") => two(Op::Gt, "than"),
        Some("less" | "fewer" | "lower" | "smaller") => two(Op::Lt, "than"),
        Some("over" | "above" | "exceeds" | "exceeding" | ">") => Some((Op::Gt, k + 1)),
        Some("under" | "below" | "<") => Some((Op::Lt, k + 1)),
        Some(">=") => Some((Op::Ge, k + 1)),
        Some("<=") => Some((Op::Le, k + 1)),
        Some("at") => two(Op::Ge, "least").or_else(|| two(Op::Le, "most")),
        Some("contains" | "containing" | "includes" | "including" | "like") => Some((Op::Contains, k + 1)),
        _ => None,
    };
    found.or(lead.then_some((Op::Eq, k)))
}

/// Words that end a value written without quotes.
const VALUE_STOPS: &[&str] = &[
    "and", "or", "by", "per", "each", "every", "grouped", "broken", "split", "sorted", "ordered", "order", "top",
    "where", "with", "whose", "when", "for", "over", "in", "during", "last", "past", "since", "before", "after",
    "between",
];

/// Takes the conditions out: `where|with|whose|when|for|if <column> <op>
/// <value>`, more joined by `and`.
pub(super) fn take_conditions(items: &mut Vec<Item>) -> Result<Vec<Condition>, Unanswerable> {
    let mut conditions = Vec::new();
    let mut at = 0;
    while at < items.len() {
        let opens = matches!(items[at].word(), Some("where" | "with" | "whose" | "when" | "for" | "if"));
        let Some(first) = opens.then(|| condition(items, at + 1)).flatten() else {
            at += 1;
            continue;
        };
        let mut end = at + 1 + first.1;
        conditions.push(first.0);
        loop {
            match items.get(end).and_then(Item::word) {
                Some("and") => match condition(items, end + 1) {
                    Some((next, used)) => {
                        conditions.push(next);
                        end += 1 + used;
                    }
                    None => break,
                },
                Some("or") => {
                    return Err(Unanswerable("conditions joined by \"or\" are not understood offline".into()));
                }
                _ => break,
            }
        }
        items.drain(at..end);
    }
    Ok(conditions)
}

fn condition(items: &[Item], at: usize) -> Option<(Condition, usize)> {
    let Some(Item::Column(column, _, _)) = items.get(at) else { return None };
    let (op, used) = comparison(items, at + 1)?;
    let start = at + 1 + used;
    let mut end = start;
    if let Some(Item::Word(w)) = items.get(start)
        && w.quoted
    {
        end += 1;
    } else {
        while let Some(item) = items.get(end) {
            let quoted = matches!(item, Item::Word(w) if w.quoted);
            if quoted || item.word().is_some_and(|w| VALUE_STOPS.contains(&w)) {
                break;
            }
            end += 1;
        }
    }
    if end == start {
        return None;
    }
    let value = items[start..end].iter().map(Item::raw).collect::<Vec<_>>().join(" ");
    Some((Condition { column: *column, op, value }, end - at))
}
