//! The summary query the department writes itself when neither a model nor
//! the offline translator answers: a question asking for the best (top,
//! highest, most…) or the worst (lowest, least…) of something, over a
//! dataset with a text column to rank and numbers to rank it by. The rule:
//!
//! 1. The clause of the question (cut at `,` `;` `?` `!` and full stops)
//!    that holds the superlative is read; the others are not.
//! 2. What is ranked: the text column that clause names (one to three
//!    words, spaces and underscores aside, plurals too), else the
//!    dataset's only text column.
//! 3. By what: a return ("best return", ROAS, ROI) when the dataset has a
//!    cost column (spend, cost, budget) and a value column (revenue,
//!    sales, value, income): the total value divided by the total cost;
//!    else the numeric column the clause names (the first after the
//!    superlative, else the first); else the dataset's only numeric one.
//! 4. The query: per value of the ranked column (nulls left out), the
//!    total of every numeric column (the first six, and the measure's),
//!    and the return when that is the measure; groups without a measure
//!    left out; best first (ties by name); five rows.
//!
//! Anything else (no superlative, no text column, several of them or
//! several numbers and none named) is no query: the answer says why
//! instead of guessing.

use crate::datasets::column::{ColumnSpec, ColumnType, quote};

/// Rows the summary query returns.
pub(super) const SUMMARY_ROWS: usize = 5;
/// Most numeric columns totalled besides the measure's.
const MAX_TOTALS: usize = 6;

const HIGHEST: &[&str] = &["best", "top", "highest", "most", "largest", "biggest", "greatest", "maximum", "max"];
const LOWEST: &[&str] = &["worst", "bottom", "lowest", "least", "smallest", "fewest", "minimum", "min"];
const RETURN_WORDS: &[&str] =
    &["return", "returns", "roas", "roi", "payback", "efficient", "efficiency", "profitable", "profitability"];
const COST_WORDS: &[&str] = &["spend", "spent", "cost", "budget"];
const VALUE_WORDS: &[&str] = &["revenue", "sales", "value", "income", "return"];

/// What a group is ranked by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Measure {
    /// The total of a numeric column.
    Total(String),
    /// The total of `value` divided by the total of `cost`.
    Return {
        /// The value column (revenue…).
        value: String,
        /// The cost column (spend…).
        cost: String,
        /// The result column's name.
        alias: String,
    },
}

/// The summary query and what it ranks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Summary {
    /// The text column ranked (the result's first column).
    pub group: String,
    /// The numeric columns totalled, in result order after the group.
    pub totals: Vec<String>,
    /// What decides the rank.
    pub measure: Measure,
    /// Highest first.
    pub descending: bool,
    /// Over `data`.
    pub sql: String,
    /// What it computes, in a sentence.
    pub explanation: String,
}

impl Summary {
    /// Where the measure is in a result row.
    pub fn measure_column(&self) -> usize {
        match &self.measure {
            Measure::Total(c) => 1 + self.totals.iter().position(|t| t == c).unwrap_or(0),
            Measure::Return { .. } => 1 + self.totals.len(),
        }
    }

    /// The measure's result column.
    pub fn measure_name(&self) -> &str {
        match &self.measure {
            Measure::Total(c) => c,
            Measure::Return { alias, .. } => alias,
        }
    }

    /// The measure in words.
    pub fn measure_label(&self) -> String {
        match &self.measure {
            Measure::Total(c) => format!("total {c}"),
            Measure::Return { .. } => "return on spend".to_owned(),
        }
    }

    /// The measure's unit.
    pub fn measure_unit(&self) -> &'static str {
        match &self.measure {
            Measure::Total(_) => "",
            Measure::Return { .. } => "ratio",
        }
    }
}

/// The question's clauses, in order.
pub(super) fn clauses(question: &str) -> Vec<String> {
    let chars: Vec<char> = question.chars().collect();
    let mut out = Vec::new();
    let mut current = String::new();
    for (i, c) in chars.iter().enumerate() {
        let full_stop = *c == '.' && chars.get(i + 1).is_none_or(|n| n.is_whitespace());
        if matches!(c, ',' | ';' | '?' | '!') || full_stop {
            if !current.trim().is_empty() {
                out.push(current.trim().to_owned());
            }
            current.clear();
        } else {
            current.push(*c);
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_owned());
    }
    out
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

/// Letters and digits, lower case.
fn key(text: &str) -> String {
    text.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// Whether words keyed `phrase` name the column keyed `column`, plurals too.
fn names(phrase: &str, column: &str) -> bool {
    phrase == column
        || phrase.strip_suffix('s') == Some(column)
        || phrase.strip_suffix("es") == Some(column)
        || phrase.strip_suffix("ies").is_some_and(|stem| format!("{stem}y") == column)
        || column.strip_suffix('s') == Some(phrase)
}

/// The first word of the clause that names `column` (by one to three words).
fn named_at(words: &[String], column: &str) -> Option<usize> {
    let column = key(column);
    if column.is_empty() {
        return None;
    }
    (0..words.len()).find(|&i| (1..=3).any(|n| i + n <= words.len() && names(&words[i..i + n].concat(), &column)))
}

/// The superlative's word and whether it asks for the highest.
fn superlative(words: &[String]) -> Option<(usize, bool)> {
    words.iter().enumerate().find_map(|(i, w)| {
        if HIGHEST.contains(&w.as_str()) {
            Some((i, true))
        } else if LOWEST.contains(&w.as_str()) {
            Some((i, false))
        } else {
            None
        }
    })
}

fn is_cost(name: &str) -> bool {
    let k = key(name);
    COST_WORDS.iter().any(|w| k.contains(w))
}

fn is_value(name: &str) -> bool {
    let k = key(name);
    !is_cost(name) && VALUE_WORDS.iter().any(|w| k.contains(w))
}

fn listed(columns: &[&ColumnSpec]) -> String {
    columns.iter().map(|c| format!("\"{}\"", c.name)).collect::<Vec<_>>().join(", ")
}

/// The column the clause names first among `candidates`.
fn first_named<'a>(words: &[String], candidates: &[&'a ColumnSpec], after: Option<usize>) -> Option<&'a ColumnSpec> {
    candidates
        .iter()
        .filter_map(|c| named_at(words, &c.name).map(|at| (at, *c)))
        .filter(|(at, _)| after.is_none_or(|a| *at > a))
        .min_by_key(|(at, _)| *at)
        .map(|(_, c)| c)
}

/// The summary query for `question` over `columns`; the reason there is
/// none otherwise. See the module doc.
pub(super) fn summary_query(question: &str, columns: &[ColumnSpec]) -> Result<Summary, String> {
    let found =
        clauses(question).iter().map(|c| words(c)).find_map(|w| superlative(&w).map(|(at, high)| (w, at, high)));
    let Some((words, at, descending)) = found else {
        return Err("it asks for no best, top, highest or lowest value".into());
    };
    let texts: Vec<&ColumnSpec> = columns.iter().filter(|c| c.kind == ColumnType::Text).collect();
    let numbers: Vec<&ColumnSpec> = columns.iter().filter(|c| c.kind.is_numeric()).collect();
    let group = match (first_named(&words, &texts, None), texts.as_slice()) {
        (Some(named), _) => named,
        (None, [only]) => *only,
        (None, []) => return Err("it has no text column to rank".into()),
        (None, _) => return Err(format!("say which of its columns to rank: {}", listed(&texts))),
    };
    if numbers.is_empty() {
        return Err("it has no numeric column to rank by".into());
    }
    let asks_return = words.iter().any(|w| RETURN_WORDS.contains(&w.as_str()));
    let cost = numbers.iter().find(|c| is_cost(&c.name));
    let value = numbers.iter().find(|c| is_value(&c.name));
    let measure = match (asks_return, cost, value) {
        (true, Some(cost), Some(value)) => {
            let taken = columns.iter().any(|c| key(&c.name) == "returnonspend");
            let alias = if taken { "computed_return_on_spend" } else { "return_on_spend" };
            Measure::Return { value: value.name.clone(), cost: cost.name.clone(), alias: alias.to_owned() }
        }
        _ => match first_named(&words, &numbers, Some(at)).or_else(|| first_named(&words, &numbers, None)) {
            Some(named) => Measure::Total(named.name.clone()),
            None => match numbers.as_slice() {
                [only] => Measure::Total(only.name.clone()),
                _ => return Err(format!("say which number decides it: {}", listed(&numbers))),
            },
        },
    };
    let mut totals: Vec<String> = numbers.iter().take(MAX_TOTALS).map(|c| c.name.clone()).collect();
    let needed = match &measure {
        Measure::Total(c) => vec![c.clone()],
        Measure::Return { value, cost, .. } => vec![cost.clone(), value.clone()],
    };
    for column in needed {
        if !totals.contains(&column) {
            totals.push(column);
        }
    }
    let mut select = vec![quote(&group.name)];
    select.extend(totals.iter().map(|c| format!("SUM({q}) AS {q}", q = quote(c))));
    let ranked = match &measure {
        Measure::Total(c) => format!("SUM({})", quote(c)),
        Measure::Return { value, cost, alias } => {
            // Times 1.0: SQLite divides integers as integers.
            let ratio = format!("SUM({}) * 1.0 / NULLIF(SUM({}), 0)", quote(value), quote(cost));
            select.push(format!("{ratio} AS {}", quote(alias)));
            ratio
        }
    };
    let mut summary = Summary {
        group: group.name.clone(),
        totals,
        measure,
        descending,
        sql: String::new(),
        explanation: String::new(),
    };
    // Grouped and ordered by position: an output name is also an input
    // column's, which PostgreSQL's GROUP BY would take instead.
    summary.sql = format!(
        "SELECT {} FROM data WHERE {group} IS NOT NULL GROUP BY 1 HAVING {ranked} IS NOT NULL \
         ORDER BY {} {}, 1 LIMIT {SUMMARY_ROWS}",
        select.join(", "),
        summary.measure_column() + 1,
        if descending { "DESC" } else { "ASC" },
        group = quote(&group.name),
    );
    let totalled: Vec<String> = summary.totals.iter().map(|t| format!("\"{t}\"")).collect();
    let by = match &summary.measure {
        Measure::Total(c) => format!("the total of \"{c}\""),
        Measure::Return { value, cost, .. } => {
            format!("return on spend (the total of \"{value}\" divided by the total of \"{cost}\")")
        }
    };
    summary.explanation = format!(
        "The total of {} for each \"{}\", ranked by {by}, {} first; the first {SUMMARY_ROWS}.",
        totalled.join(", "),
        summary.group,
        if descending { "highest" } else { "lowest" },
    );
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use sea_orm::DbBackend;
    use uuid::Uuid;

    use super::*;
    use crate::datasets::sql::validate::{Engine, Target, validate};
    use crate::datasets::storage::physical_table;

    fn columns(spec: &[(&str, ColumnType)]) -> Vec<ColumnSpec> {
        spec.iter().map(|(name, kind)| ColumnSpec { name: (*name).into(), kind: *kind, inferred: *kind }).collect()
    }

    fn spend() -> Vec<ColumnSpec> {
        columns(&[
            ("date", ColumnType::Date),
            ("campaign", ColumnType::Text),
            ("channel", ColumnType::Text),
            ("spend", ColumnType::Float),
            ("revenue", ColumnType::Float),
            ("clicks", ColumnType::Integer),
        ])
    }

    /// The statement passes the validator on both engines.
    fn passes(sql: &str) {
        let id = Uuid::from_u128(5);
        for (engine, backend) in [(Engine::Sqlite, DbBackend::Sqlite), (Engine::Postgres, DbBackend::Postgres)] {
            let physical = physical_table(backend, id);
            let target = Target { engine, dataset_name: "spend", physical: &physical, row_cap: 100 };
            assert!(validate(sql, &target).is_ok(), "{engine:?}: {sql}: {:?}", validate(sql, &target));
        }
    }

    #[test]
    fn the_best_return_is_value_over_cost_per_ranked_column() {
        let question = "Which ad campaign in my had the best return, and how does that compare with last month's \
                        store revenue?";
        let summary = summary_query(question, &spend()).unwrap_or_else(|why| panic!("{why}"));
        assert_eq!(summary.group, "campaign", "the column the clause names, not the other text column");
        assert_eq!(
            summary.sql,
            "SELECT \"campaign\", SUM(\"spend\") AS \"spend\", SUM(\"revenue\") AS \"revenue\", SUM(\"clicks\") AS \
             \"clicks\", SUM(\"revenue\") * 1.0 / NULLIF(SUM(\"spend\"), 0) AS \"return_on_spend\" FROM data WHERE \
             \"campaign\" IS NOT NULL GROUP BY 1 HAVING SUM(\"revenue\") * 1.0 / NULLIF(SUM(\"spend\"), 0) IS NOT \
             NULL ORDER BY 5 DESC, 1 LIMIT 5"
        );
        assert_eq!((summary.measure_column(), summary.measure_name()), (4, "return_on_spend"));
        assert_eq!(summary.measure_unit(), "ratio");
        passes(&summary.sql);
    }

    #[test]
    fn a_named_number_ranks_and_the_lowest_comes_first_when_asked() {
        let most = summary_query("Which channel got the most clicks?", &spend()).unwrap_or_else(|why| panic!("{why}"));
        assert_eq!((most.group.as_str(), most.measure_name()), ("channel", "clicks"));
        assert!(most.sql.ends_with("ORDER BY 4 DESC, 1 LIMIT 5"), "{}", most.sql);
        passes(&most.sql);
        let least = summary_query("lowest spend per campaign", &spend()).unwrap_or_else(|why| panic!("{why}"));
        assert_eq!((least.measure_name(), least.descending), ("spend", false));
        assert!(least.sql.ends_with("ORDER BY 2 ASC, 1 LIMIT 5"), "{}", least.sql);
        passes(&least.sql);
        // The only text and the only number need no naming.
        let simple = columns(&[("supplier", ColumnType::Text), ("price", ColumnType::Integer)]);
        let top = summary_query("Who is the top one?", &simple).unwrap_or_else(|why| panic!("{why}"));
        assert_eq!((top.group.as_str(), top.measure_name()), ("supplier", "price"));
        passes(&top.sql);
    }

    #[test]
    fn nothing_fits_and_it_says_why() {
        let none = summary_query("What is in it?", &spend());
        assert!(none.is_err_and(|why| why.contains("no best")));
        let two_texts = summary_query("Which had the most clicks?", &spend());
        assert!(two_texts.is_err_and(|why| why.contains("\"campaign\", \"channel\"")));
        let two_numbers = summary_query("Which campaign did best?", &spend());
        assert!(two_numbers.is_err_and(|why| why.contains("which number")));
        let numbers_only = columns(&[("day", ColumnType::Date), ("total", ColumnType::Float)]);
        assert!(summary_query("best day?", &numbers_only).is_err_and(|why| why.contains("no text column")));
    }
}
