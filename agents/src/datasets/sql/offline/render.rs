//! A plan written as SQL for one engine, and the sentence that says what
//! it computes.

use super::phrases::{Condition, DateRange, Op, Period, Unit};
use super::{Agg, Grain, Plan, Translation, boolean, name, number_literal};
use crate::datasets::column::{ColumnSpec, ColumnType, quote};
use crate::datasets::sql::validate::Engine;

fn text_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// The day of a date or timestamp column, per engine.
fn day_of(column: &str, engine: Engine) -> String {
    match engine {
        Engine::Sqlite => format!("date({column})"),
        Engine::Postgres => format!("CAST({column} AS DATE)"),
    }
}

fn bucket(column: &str, grain: Grain, engine: Engine) -> String {
    match (engine, grain) {
        (Engine::Sqlite, Grain::Day) => format!("date({column})"),
        (Engine::Sqlite, Grain::Week) => format!("date({column}, 'weekday 0', '-6 days')"),
        (Engine::Sqlite, Grain::Month) => format!("strftime('%Y-%m', {column})"),
        (Engine::Postgres, Grain::Day) => format!("CAST({column} AS DATE)"),
        (Engine::Postgres, Grain::Week) => format!("CAST(date_trunc('week', {column}) AS DATE)"),
        (Engine::Postgres, Grain::Month) => format!("to_char({column}, 'YYYY-MM')"),
    }
}

fn condition_sql(condition: &Condition, columns: &[ColumnSpec], engine: Engine) -> String {
    let spec = &columns[condition.column.min(columns.len().saturating_sub(1))];
    let column = quote(&spec.name);
    let op = match condition.op {
        Op::Eq => "=",
        Op::Ne => "<>",
        Op::Gt => ">",
        Op::Lt => "<",
        Op::Ge => ">=",
        Op::Le => "<=",
        Op::Contains => "",
    };
    match spec.kind {
        ColumnType::Integer | ColumnType::Float => {
            format!("{column} {op} {}", number_literal(&condition.value).unwrap_or_else(|| "NULL".into()))
        }
        ColumnType::Boolean => {
            let truth = boolean(&condition.value).unwrap_or(false);
            let value = match engine {
                Engine::Sqlite => {
                    if truth {
                        "1"
                    } else {
                        "0"
                    }
                }
                Engine::Postgres => {
                    if truth {
                        "TRUE"
                    } else {
                        "FALSE"
                    }
                }
            };
            format!("{column} {op} {value}")
        }
        ColumnType::Date | ColumnType::Timestamp => {
            format!("{} {op} {}", day_of(&column, engine), text_literal(&condition.value))
        }
        ColumnType::Text if condition.op == Op::Contains => {
            let find = match engine {
                Engine::Sqlite => "instr",
                Engine::Postgres => "strpos",
            };
            format!("{find}(lower({column}), lower({})) > 0", text_literal(&condition.value))
        }
        ColumnType::Text => format!("lower({column}) {op} lower({})", text_literal(&condition.value)),
    }
}

fn range_sql(range: &DateRange, columns: &[ColumnSpec], engine: Engine) -> String {
    let column = quote(name(columns, range.column.unwrap_or(0)));
    let day = day_of(&column, engine);
    match &range.period {
        Period::Fixed { from, until } => {
            format!("{day} >= '{}' AND {day} < '{}'", from.format("%Y-%m-%d"), until.format("%Y-%m-%d"))
        }
        Period::Recent { amount, unit } => {
            let latest = format!("(SELECT max({day}) FROM data)");
            let (n, unit) = match unit {
                Unit::Day => (*amount, "days"),
                Unit::Week => (amount.saturating_mul(7), "days"),
                Unit::Month => (*amount, "months"),
                Unit::Year => (*amount, "years"),
            };
            match (engine, unit) {
                (Engine::Sqlite, _) => format!("{day} > date({latest}, '-{n} {unit}')"),
                (Engine::Postgres, "days") => format!("{day} > {latest} - {n}"),
                (Engine::Postgres, _) => format!("{day} > {latest} - INTERVAL '{n} {unit}'"),
            }
        }
    }
}

/// A name for the computed column.
fn alias(plan: &Plan, columns: &[ColumnSpec]) -> String {
    let base = plan.measure.map(|c| name(columns, c).to_lowercase()).unwrap_or_default();
    let base: String = base.chars().map(|c| if c.is_alphanumeric() { c } else { '_' }).collect();
    match plan.agg {
        Agg::Sum => format!("total_{base}"),
        Agg::Avg => format!("average_{base}"),
        Agg::Min => format!("min_{base}"),
        Agg::Max => format!("max_{base}"),
        Agg::Rows => "row_count".into(),
        Agg::Distinct => format!("distinct_{base}"),
    }
}

pub(super) fn render(plan: &Plan, columns: &[ColumnSpec], engine: Engine) -> Translation {
    let measure = plan.measure.map(|c| quote(name(columns, c))).unwrap_or_default();
    let computed = match plan.agg {
        Agg::Sum => format!("SUM({measure})"),
        Agg::Avg => format!("AVG({measure})"),
        Agg::Min => format!("MIN({measure})"),
        Agg::Max => format!("MAX({measure})"),
        Agg::Rows => "COUNT(*)".into(),
        Agg::Distinct => format!("COUNT(DISTINCT {measure})"),
    };
    let alias = quote(&alias(plan, columns));
    let mut select = Vec::new();
    if let Some((c, grain)) = plan.trend {
        let period = match grain {
            Grain::Day => "day",
            Grain::Week => "week",
            Grain::Month => "month",
        };
        select.push(format!("{} AS {}", bucket(&quote(name(columns, c)), grain, engine), quote(period)));
    }
    if let Some(g) = plan.group {
        select.push(quote(name(columns, g)));
    }
    // Grouped and ordered by position: an output name could also be an
    // input column's, which PostgreSQL's GROUP BY would take instead.
    let keys: Vec<String> = (1..=select.len()).map(|k| k.to_string()).collect();
    let measured = select.len() + 1;
    select.push(format!("{computed} AS {alias}"));
    let mut sql = format!("SELECT {} FROM data", select.join(", "));
    let filters: Vec<String> = plan
        .conditions
        .iter()
        .map(|c| condition_sql(c, columns, engine))
        .chain(plan.ranges.iter().map(|r| range_sql(r, columns, engine)))
        .collect();
    if !filters.is_empty() {
        sql.push_str(&format!(" WHERE {}", filters.join(" AND ")));
    }
    if !keys.is_empty() {
        sql.push_str(&format!(" GROUP BY {}", keys.join(", ")));
        let order = match (plan.top, plan.trend) {
            (Some((descending, _)), _) => {
                format!("{measured} {}, {}", if descending { "DESC" } else { "ASC" }, keys.join(", "))
            }
            (None, Some(_)) => keys.join(", "),
            (None, None) => format!("{measured} DESC, {}", keys.join(", ")),
        };
        sql.push_str(&format!(" ORDER BY {order}"));
    }
    if let Some((_, n)) = plan.top {
        sql.push_str(&format!(" LIMIT {n}"));
    }
    Translation { sql, explanation: explain(plan, columns) }
}

fn explain(plan: &Plan, columns: &[ColumnSpec]) -> String {
    let named = |c: usize| format!("\"{}\"", name(columns, c));
    let measure = plan.measure.map(named).unwrap_or_default();
    let mut text = match plan.agg {
        Agg::Sum => format!("The total of {measure}"),
        Agg::Avg => format!("The average {measure}"),
        Agg::Min => format!("The smallest {measure}"),
        Agg::Max => format!("The largest {measure}"),
        Agg::Rows => "The number of rows".into(),
        Agg::Distinct => format!("The number of distinct {measure} values"),
    };
    if let Some((c, grain)) = plan.trend {
        let per = match grain {
            Grain::Day => "day",
            Grain::Week => "week (from Monday)",
            Grain::Month => "month",
        };
        text.push_str(&format!(" per {per} of {}", named(c)));
    }
    if let Some(g) = plan.group {
        text.push_str(&format!(" for each {}", named(g)));
    }
    match plan.top {
        Some((true, 1)) => text.push_str(", only the highest"),
        Some((false, 1)) => text.push_str(", only the lowest"),
        Some((true, n)) => text.push_str(&format!(", the {n} highest")),
        Some((false, n)) => text.push_str(&format!(", the {n} lowest")),
        None if plan.group.is_some() && plan.trend.is_none() => text.push_str(", highest first"),
        None => {}
    }
    let mut only: Vec<String> = plan
        .conditions
        .iter()
        .map(|c| {
            let op = match c.op {
                Op::Eq => "is",
                Op::Ne => "is not",
                Op::Gt => "is over",
                Op::Lt => "is under",
                Op::Ge => "is at least",
                Op::Le => "is at most",
                Op::Contains => "contains",
            };
            format!("{} {op} \"{}\"", named(c.column), c.value)
        })
        .collect();
    only.extend(plan.ranges.iter().map(|r| {
        let up_to = if matches!(r.period, Period::Recent { .. }) { " up to its latest date" } else { "" };
        format!("{} is {}{up_to}", named(r.column.unwrap_or(0)), r.label)
    }));
    if !only.is_empty() {
        text.push_str(&format!(", over the rows where {}", only.join(" and ")));
    }
    text.push('.');
    text
}
