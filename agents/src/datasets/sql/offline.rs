//! The offline translator: common questions over the dataset's own
//! columns turned into SQL by fixed rules, so that without a model the
//! answer is still real, and the same question always gives the same
//! query. What it does not understand it refuses ("can't answer that
//! offline"); it never guesses. The SQL goes through the same validator as
//! anyone's.
//!
//! Columns are named as the dataset has them, ignoring case, spaces,
//! underscores and hyphens, singular or plural (`ad spend` is `ad_spend`,
//! `campaigns` is `campaign`). Values in quotes are taken whole. The
//! grammar (words in brackets optional, filler words such as "what is the",
//! "show me" ignored):
//!
//! ```text
//! question   = [measure] [by-column] [trend] [filters] [ranges]
//!            | top-n [filters] [ranges]
//!            | column superlative measure            -- "which campaign had the most clicks"
//! measure    = (total | sum | average | avg | mean) [of] numeric-column
//!            | (max | maximum | highest | largest | min | minimum | lowest | smallest) [of] column
//!            | (count | number of | how many) [distinct | unique] [column | rows]
//!            | numeric-column                        -- its total
//! by-column  = (by | per | for each | each) column
//! top-n      = (top | best | bottom | worst) [N] column by measure   -- N: 10 for a plural, else 1
//! trend      = (trend | over time | daily | weekly | monthly | by day | per week | each month …)
//!              [over date-column]                     -- the only date column when none is named
//! filters    = (where | with | whose | when | for | if) condition (and condition)*
//! condition  = column (is | = | is not | != | over | above | more than | > | under | below
//!              | less than | < | at least | >= | at most | <= | contains | like) value
//! ranges     = [date-column [is]] (in YEAR | in MONTH YEAR | in YYYY-MM
//!              | last|past [N] days|weeks|months|years
//!              | since|after|before|from DATE [to DATE] | between DATE and DATE)
//! ```
//!
//! "last 30 days" means the 30 days up to the latest date in that column
//! (the data's own end, not today: an export is history). Text values are
//! compared ignoring case; numbers, booleans (`true`/`yes`/`false`/`no`)
//! and dates (`YYYY-MM-DD`) must be written as such. A total by column is
//! ordered largest first; a trend by period. Weeks start on Monday; months
//! read `YYYY-MM`.

mod phrases;
mod render;
#[cfg(test)]
mod tests;

use phrases::{Condition, DateRange, Item, Op};

use super::validate::Engine;
use crate::datasets::column::{ColumnSpec, ColumnType};

/// A question the translator answered: the SQL and what it computes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translation {
    /// Over the table `data`.
    pub sql: String,
    /// One sentence saying what the query computes.
    pub explanation: String,
}

/// A question outside the grammar, and what was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("can't answer that offline: {0}")]
pub struct Unanswerable(pub String);

fn refuse<T>(why: impl Into<String>) -> Result<T, Unanswerable> {
    Err(Unanswerable(why.into()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Agg {
    Sum,
    Avg,
    Min,
    Max,
    Rows,
    Distinct,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grain {
    Day,
    Week,
    Month,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sym {
    Col(usize, bool),
    Agg(Agg),
    Extreme(bool),
    Count,
    Distinct,
    Rows,
    Top(bool),
    Number(u64),
    By,
    Trend,
    Grain(Grain),
    Over,
    Which,
}

/// Words that carry nothing here.
const FILLER: &[&str] = &[
    "the",
    "a",
    "an",
    "of",
    "what",
    "what's",
    "whats",
    "is",
    "are",
    "was",
    "were",
    "show",
    "me",
    "give",
    "list",
    "tell",
    "calculate",
    "compute",
    "find",
    "get",
    "display",
    "please",
    "can",
    "could",
    "you",
    "i",
    "we",
    "want",
    "to",
    "see",
    "know",
    "our",
    "my",
    "all",
    "there",
    "do",
    "does",
    "did",
    "have",
    "has",
    "had",
    "overall",
    "how",
    "for",
    "grouped",
    "broken",
    "down",
    "split",
    "in",
    "data",
    "dataset",
    "table",
    "file",
    "values",
    "value",
    "s",
    "it",
    "its",
    "each",
    "ordered",
    "sorted",
    "so",
    "far",
    "got",
    "made",
    "spent",
    "much",
];

fn symbol(item: &Item, next: Option<&Item>) -> Result<Option<(Sym, usize)>, Unanswerable> {
    let word = match item {
        Item::Column(c, _, plural) => return Ok(Some((Sym::Col(*c, *plural), 1))),
        Item::Word(w) if w.quoted => return refuse(format!("\"{}\" is not a column; say which column it is", w.raw)),
        Item::Word(w) => w.text.as_str(),
    };
    let next_word = match next {
        Some(Item::Word(w)) if !w.quoted => Some(w.text.as_str()),
        _ => None,
    };
    let sym = match word {
        "total" | "sum" | "sums" | "totals" => Sym::Agg(Agg::Sum),
        "average" | "avg" | "mean" => Sym::Agg(Agg::Avg),
        "highest" | "max" | "maximum" | "largest" | "biggest" | "most" | "greatest" => Sym::Extreme(true),
        "lowest" | "min" | "minimum" | "smallest" | "least" | "fewest" => Sym::Extreme(false),
        "count" | "number" | "many" | "counts" => Sym::Count,
        "distinct" | "unique" | "different" => Sym::Distinct,
        "rows" | "row" | "records" | "record" | "entries" | "entry" | "lines" | "line" => Sym::Rows,
        "top" | "best" => Sym::Top(true),
        "bottom" | "worst" => Sym::Top(false),
        "by" | "per" | "every" | "across" => Sym::By,
        "each" if matches!(next, Some(Item::Column(..))) => Sym::By,
        "trend" | "trends" | "evolution" | "trajectory" => Sym::Trend,
        "over" if next_word == Some("time") => return Ok(Some((Sym::Trend, 2))),
        "over" => Sym::Over,
        "day" | "days" | "daily" => Sym::Grain(Grain::Day),
        "week" | "weeks" | "weekly" => Sym::Grain(Grain::Week),
        "month" | "months" | "monthly" => Sym::Grain(Grain::Month),
        "which" => Sym::Which,
        _ => match phrases::number(word) {
            Some(n) => Sym::Number(n),
            None if FILLER.contains(&word) => return Ok(None),
            None => return refuse(format!("\"{word}\" is not a column of this dataset nor a word of the grammar")),
        },
    };
    Ok(Some((sym, 1)))
}

/// What the question asks, before it is written as SQL.
#[derive(Debug)]
struct Plan {
    agg: Agg,
    measure: Option<usize>,
    group: Option<usize>,
    trend: Option<(usize, Grain)>,
    top: Option<(bool, u64)>,
    conditions: Vec<Condition>,
    ranges: Vec<DateRange>,
}

/// Translates `question` over `columns` for `engine`; see the module doc.
pub fn translate(question: &str, columns: &[ColumnSpec], engine: Engine) -> Result<Translation, Unanswerable> {
    if question.trim().is_empty() {
        return refuse("ask a question about the dataset's columns");
    }
    let mut items = phrases::annotate(phrases::words(question), columns);
    let ranges = phrases::take_ranges(&mut items, columns);
    let conditions = phrases::take_conditions(&mut items)?;
    let mut syms = Vec::new();
    let mut at = 0;
    while at < items.len() {
        match symbol(&items[at], items.get(at + 1))? {
            Some((sym, used)) => {
                syms.push(sym);
                at += used;
            }
            None => at += 1,
        }
    }
    let plan = interpret(syms, conditions, ranges, columns)?;
    Ok(render::render(&plan, columns, engine))
}

fn is_numeric(columns: &[ColumnSpec], c: usize) -> bool {
    columns.get(c).is_some_and(|spec| spec.kind.is_numeric())
}

fn is_date(columns: &[ColumnSpec], c: usize) -> bool {
    columns.get(c).is_some_and(|spec| matches!(spec.kind, ColumnType::Date | ColumnType::Timestamp))
}

fn name(columns: &[ColumnSpec], c: usize) -> &str {
    columns.get(c).map_or("?", |spec| spec.name.as_str())
}

/// The only date column, if there is exactly one.
fn sole_date(columns: &[ColumnSpec]) -> Result<usize, Unanswerable> {
    let dates: Vec<usize> = (0..columns.len()).filter(|&c| is_date(columns, c)).collect();
    match dates.as_slice() {
        [only] => Ok(*only),
        [] => refuse("the dataset has no date column"),
        _ => refuse("the dataset has several date columns; say which one (\"over <column>\", \"<column> in 2026\")"),
    }
}

fn interpret(
    mut syms: Vec<Sym>,
    conditions: Vec<Condition>,
    mut ranges: Vec<DateRange>,
    columns: &[ColumnSpec],
) -> Result<Plan, Unanswerable> {
    // The trend: a grain (with its `by`/`per`), `trend`, `over <date column>`.
    let mut grain = None;
    let mut trend_word = false;
    let mut over = None;
    let mut at = 0;
    while at < syms.len() {
        let sym = syms[at];
        match sym {
            Sym::Grain(g) => {
                grain.get_or_insert(g);
                syms.remove(at);
                if at > 0 && syms[at - 1] == Sym::By {
                    syms.remove(at - 1);
                    at -= 1;
                }
            }
            Sym::Trend => {
                trend_word = true;
                syms.remove(at);
            }
            Sym::Over => match syms.get(at + 1).copied() {
                Some(Sym::Col(c, _)) if is_date(columns, c) => {
                    over = Some(c);
                    syms.drain(at..at + 2);
                }
                _ => return refuse("\"over\" must name a date column"),
            },
            _ => at += 1,
        }
    }
    let trend = match (grain, trend_word || over.is_some()) {
        (None, false) => None,
        (g, _) => Some((over.map_or_else(|| sole_date(columns), Ok)?, g.unwrap_or(Grain::Month))),
    };
    // Top N, or the superlative after a column: "which campaign had the most clicks".
    let mut top = None;
    if let Some(at) = syms.iter().position(|s| matches!(s, Sym::Top(_))) {
        let Sym::Top(descending) = syms.remove(at) else { return refuse("unreachable") };
        let n = match syms.get(at) {
            Some(Sym::Number(n)) => {
                let n = *n;
                syms.remove(at);
                Some(n)
            }
            _ => None,
        };
        top = Some((descending, n));
    }
    if syms.first() == Some(&Sym::Which) {
        syms.remove(0);
    }
    let (group, measure_syms): (Option<(usize, bool)>, Vec<Sym>) = if top.is_some() {
        match syms.as_slice() {
            [Sym::Col(g, plural), Sym::By, rest @ ..] | [Sym::Col(g, plural), rest @ ..] if !rest.is_empty() => {
                (Some((*g, *plural)), rest.to_vec())
            }
            _ => return refuse("say what to rank and by what: \"top 5 campaigns by revenue\""),
        }
    } else if let [Sym::Col(g, _), Sym::Extreme(d), rest @ ..] = syms.as_slice()
        && !rest.is_empty()
        && !is_numeric(columns, *g)
    {
        top = Some((*d, Some(1)));
        (Some((*g, false)), rest.to_vec())
    } else {
        match syms.iter().position(|s| *s == Sym::By) {
            Some(by) => match &syms[by + 1..] {
                [Sym::Col(g, _)] => (Some((*g, false)), syms[..by].to_vec()),
                [] => return refuse("\"by\" must name a column"),
                _ => return refuse("group by one column at a time"),
            },
            None => (None, syms.clone()),
        }
    };
    let (agg, measure) = measure(&measure_syms, columns, group.is_some() || trend.is_some())?;
    if let Some((descending, n)) = top {
        let plural = group.is_some_and(|(_, plural)| plural);
        let limit = n.unwrap_or(if plural { 10 } else { 1 });
        if !(1..=1_000).contains(&limit) {
            return refuse("ask for between 1 and 1,000 of them");
        }
        top = Some((descending, Some(limit)));
    }
    for range in &mut ranges {
        if range.column.is_none() {
            range.column = Some(match trend {
                Some((c, _)) => c,
                None => sole_date(columns)?,
            });
        }
    }
    for condition in &conditions {
        check_value(condition, columns)?;
    }
    Ok(Plan {
        agg,
        measure,
        group: group.map(|(g, _)| g),
        trend,
        top: top.map(|(d, n)| (d, n.unwrap_or(1))),
        conditions,
        ranges,
    })
}

fn measure(syms: &[Sym], columns: &[ColumnSpec], grouped: bool) -> Result<(Agg, Option<usize>), Unanswerable> {
    let total = |c: usize, agg: Agg| {
        if is_numeric(columns, c) {
            Ok((agg, Some(c)))
        } else {
            refuse(format!("\"{}\" is not a number; it has no total or average", name(columns, c)))
        }
    };
    match syms {
        [] if grouped => Ok((Agg::Rows, None)),
        [] => refuse("say what to compute: a total, an average, a count…"),
        [Sym::Agg(agg), Sym::Col(c, _)] => total(*c, *agg),
        [Sym::Extreme(true), Sym::Col(c, _)] => Ok((Agg::Max, Some(*c))),
        [Sym::Extreme(false), Sym::Col(c, _)] => Ok((Agg::Min, Some(*c))),
        [Sym::Col(c, _)] => total(*c, Agg::Sum),
        [Sym::Count] | [Sym::Count, Sym::Rows] | [Sym::Rows] | [Sym::Agg(Agg::Sum), Sym::Rows] => Ok((Agg::Rows, None)),
        [Sym::Count, Sym::Distinct, Sym::Col(c, _)]
        | [Sym::Distinct, Sym::Col(c, _)]
        | [Sym::Distinct, Sym::Count, Sym::Col(c, _)] => Ok((Agg::Distinct, Some(*c))),
        [Sym::Count, Sym::Col(c, _)] if is_numeric(columns, *c) => Ok((Agg::Sum, Some(*c))),
        [Sym::Count, Sym::Col(c, _)] => Ok((Agg::Distinct, Some(*c))),
        _ => refuse("the measure is not one of: total, average, min, max or count of a column"),
    }
}

fn check_value(condition: &Condition, columns: &[ColumnSpec]) -> Result<(), Unanswerable> {
    let column = name(columns, condition.column);
    let kind = columns.get(condition.column).map_or(ColumnType::Text, |c| c.kind);
    let ordered = matches!(condition.op, Op::Gt | Op::Lt | Op::Ge | Op::Le);
    let ok = match kind {
        ColumnType::Integer | ColumnType::Float => {
            condition.op != Op::Contains && number_literal(&condition.value).is_some()
        }
        ColumnType::Boolean => matches!(condition.op, Op::Eq | Op::Ne) && boolean(&condition.value).is_some(),
        ColumnType::Date | ColumnType::Timestamp => {
            condition.op != Op::Contains && chrono::NaiveDate::parse_from_str(&condition.value, "%Y-%m-%d").is_ok()
        }
        ColumnType::Text => !ordered,
    };
    if ok { Ok(()) } else { refuse(format!("\"{}\" does not compare with \"{column}\" ({kind})", condition.value)) }
}

fn number_literal(value: &str) -> Option<String> {
    let cleaned = value.trim().trim_end_matches('%').replace(',', "");
    let digits = cleaned.strip_prefix('-').unwrap_or(&cleaned);
    let plain = !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.matches('.').count() <= 1
        && digits.chars().any(|c| c.is_ascii_digit());
    plain.then_some(cleaned)
}

fn boolean(value: &str) -> Option<bool> {
    match value.to_lowercase().as_str() {
        "true" | "yes" | "1" => Some(true),
        "false" | "no" | "0" => Some(false),
        _ => None,
    }
}
