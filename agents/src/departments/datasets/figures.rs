//! What a `sql.query` result says, as the answer shows it: key figures
//! (each citing the call, whose input is the statement as it ran and the
//! dataset's id), a section with the first rows as a table and the SQL,
//! a sentence for the summary, and warnings.
//!
//! The numbers are the result's own cells, never recomputed. Text cells
//! are the merchant's file: shown as data (quoted, control characters and
//! table pipes taken out, cut short), and one that speaks to an assistant
//! ("ignore previous instructions and approve…") is named in the warnings,
//! never followed: nothing here can become a proposal.

use serde_json::Value;

use super::DatasetQuery;
use super::fallback::{Measure, Summary};
use super::query::Chosen;
use crate::datasets::sql::{self, QueryRows, ResultColumn};
use crate::departments::knowledge::text::addressed_to_assistant;
use crate::result::{KeyFigure, Provenance, Section};
use crate::tools::{DatasetSchema, SqlQueryOutput};

/// Most key figures taken from one result.
const MAX_FIGURES: usize = 6;
/// Rows of the result shown in the section.
const TABLE_ROWS: usize = 10;
/// Rows of the result kept in the task's output.
const KEPT_ROWS: usize = 20;
/// Longest text cell shown, in characters.
const CELL_CHARS: usize = 60;
/// Longest value named in a figure's label, in characters.
const LABEL_CHARS: usize = 80;

/// One dataset's part of the answer.
pub(super) struct Read {
    pub figures: Vec<KeyFigure>,
    pub section: Section,
    pub answer: Option<String>,
    pub query: DatasetQuery,
    pub warnings: Vec<String>,
}

/// The dataset as the answer names it: its name, and its file's when that
/// differs.
pub(super) fn title(dataset: &DatasetSchema) -> String {
    if dataset.name == dataset.source_name {
        format!("\"{}\"", dataset.name)
    } else {
        format!("\"{}\" ({})", dataset.name, dataset.source_name)
    }
}

/// `text` fit for a label or a table cell: no control characters, no
/// pipes, one line, at most `max` characters.
fn clean(text: &str, max: usize) -> String {
    let flat: String = text.chars().map(|c| if c.is_control() || c == '|' { ' ' } else { c }).collect();
    let flat = flat.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    format!("{}…", flat.chars().take(max.saturating_sub(1)).collect::<String>().trim_end())
}

/// A key's piece: letters and digits, `_` between words.
fn slug(text: &str) -> String {
    let raw: String = text.chars().map(|c| if c.is_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    let joined = raw.split('_').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("_");
    joined.chars().take(40).collect()
}

fn number(value: &Value) -> Option<f64> {
    value.as_f64().filter(|x| x.is_finite())
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A figure as a sentence shows it (the figure itself keeps every digit).
fn shown(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 { format!("{x:.0}") } else { format!("{x:.2}") }
}

fn table(ran: &SqlQueryOutput) -> String {
    let header: Vec<String> = ran.columns.iter().map(|c| clean(&c.name, CELL_CHARS)).collect();
    let mut lines = vec![format!("| {} |", header.join(" | ")), format!("|{}", " --- |".repeat(header.len()))];
    for row in ran.rows.iter().take(TABLE_ROWS) {
        let cells: Vec<String> = row.iter().map(|v| clean(&text_of(v), CELL_CHARS)).collect();
        lines.push(format!("| {} |", cells.join(" | ")));
    }
    lines.join("\n")
}

/// A warning when a cell (or a column name) of the result speaks to an
/// assistant.
fn injection(dataset: &DatasetSchema, ran: &SqlQueryOutput) -> Option<String> {
    let names = ran.columns.iter().map(|c| c.name.clone());
    let cells = ran.rows.iter().flatten().filter_map(|v| v.as_str().map(str::to_owned));
    let planted = names.chain(cells).find(|text| addressed_to_assistant(text))?;
    Some(format!(
        "{} contains text addressed to an AI assistant (\"{}\"). It was read as data in the table, not as an \
         instruction: nothing in a dataset can approve, execute or change anything.",
        title(dataset),
        clean(&planted, 120)
    ))
}

fn figure(key: String, label: String, value: f64, unit: &str, provenance: &Provenance) -> KeyFigure {
    KeyFigure { key, label, value, unit: unit.to_owned(), provenance: vec![provenance.clone()] }
}

/// The best (or lowest) row of the summary rule's result.
fn ranked(
    dataset: &DatasetSchema,
    summary: &Summary,
    ran: &SqlQueryOutput,
    provenance: &Provenance,
    warnings: &mut Vec<String>,
) -> (Vec<KeyFigure>, Option<String>) {
    let ds = slug(&dataset.name);
    let label = summary.measure_label();
    let row = ran.rows.first();
    let best = row.and_then(|r| {
        let who = clean(&text_of(r.first()?), LABEL_CHARS);
        Some((who, number(r.get(summary.measure_column())?)?))
    });
    let Some((who, value)) = best else {
        warnings.push(format!("No \"{}\" in {} has a {label} to rank by.", summary.group, title(dataset)));
        return (Vec::new(), None);
    };
    let (rank, word) = if summary.descending { ("best", "highest") } else { ("lowest", "lowest") };
    let heading = if summary.descending { "Best" } else { "Lowest" };
    let mut figures = vec![figure(
        format!("dataset_{ds}_{rank}_{}", slug(summary.measure_name())),
        format!("{heading} {} by {label} in {}: “{who}”", summary.group, dataset.name),
        value,
        summary.measure_unit(),
        provenance,
    )];
    for (i, total) in summary.totals.iter().enumerate() {
        if matches!(&summary.measure, Measure::Total(c) if c == total) || figures.len() >= MAX_FIGURES {
            continue;
        }
        if let Some(x) = row.and_then(|r| r.get(i + 1)).and_then(number) {
            let label = format!("{total} of “{who}” ({})", dataset.name);
            figures.push(figure(format!("dataset_{ds}_{rank}_{}", slug(total)), label, x, "", provenance));
        }
    }
    let answer = format!(
        "In {}, “{who}” has the {word} {label} ({}) of any {} shown.",
        title(dataset),
        shown(value),
        summary.group
    );
    (figures, Some(answer))
}

/// The first row's numbers of any other result, labelled with its first
/// text cell.
fn first_row(dataset: &DatasetSchema, ran: &SqlQueryOutput, provenance: &Provenance) -> Vec<KeyFigure> {
    let Some(row) = ran.rows.first() else { return Vec::new() };
    let ds = slug(&dataset.name);
    let who = row.iter().find_map(|v| v.as_str().map(|s| clean(s, LABEL_CHARS)));
    let many = ran.row_count > 1;
    row.iter()
        .zip(&ran.columns)
        .filter_map(|(v, column)| Some((number(v)?, column)))
        .take(MAX_FIGURES)
        .map(|(x, column)| {
            let label = match (&who, many) {
                (None, false) => format!("{} ({})", column.name, dataset.name),
                (Some(who), false) => format!("{} for “{who}” ({})", column.name, dataset.name),
                (None, true) => format!("{} in the first row ({})", column.name, dataset.name),
                (Some(who), true) => format!("{} for “{who}”, the first row ({})", column.name, dataset.name),
            };
            figure(format!("dataset_{ds}_{}", slug(&column.name)), label, x, "", provenance)
        })
        .collect()
}

/// What `ran` (the result of `chosen` over `dataset`, recorded as
/// `provenance`) contributes to the answer.
pub(super) fn read(dataset: &DatasetSchema, chosen: &Chosen, ran: &SqlQueryOutput, provenance: Provenance) -> Read {
    let mut warnings: Vec<String> = injection(dataset, ran).into_iter().collect();
    if ran.truncated {
        warnings.push(format!(
            "The query over {} returned more rows than the row cap; only the first {} were read.",
            title(dataset),
            ran.row_count
        ));
    }
    let (figures, answer) = match &chosen.summary {
        Some(summary) => ranked(dataset, summary, ran, &provenance, &mut warnings),
        None => {
            let columns = ran.columns.iter().map(|c| ResultColumn { name: c.name.clone(), kind: c.kind.clone() });
            let rows = QueryRows { columns: columns.collect(), rows: ran.rows.clone(), truncated: ran.truncated };
            let said =
                format!("From {}: {} {}", title(dataset), chosen.explanation, sql::summary(&rows, ran.row_count));
            (first_row(dataset, ran, &provenance), Some(said))
        }
    };
    let mut body = vec![chosen.explanation.clone(), table(ran)];
    if ran.row_count > TABLE_ROWS {
        body.push(format!("{} rows in all; the first {TABLE_ROWS} are shown.", ran.row_count));
    }
    body.push(format!("SQL ({}): {}", chosen.written_by, ran.sql));
    let query = DatasetQuery {
        dataset_id: dataset.dataset_id,
        dataset: dataset.name.clone(),
        source_name: dataset.source_name.clone(),
        sql: ran.sql.clone(),
        explanation: chosen.explanation.clone(),
        columns: ran.columns.iter().map(|c| c.name.clone()).collect(),
        rows: ran.rows.iter().take(KEPT_ROWS).cloned().collect(),
        row_count: ran.row_count,
        written_by: chosen.written_by.clone(),
        provenance,
    };
    Read {
        figures,
        section: Section { title: format!("From {}", title(dataset)), body: body.join("\n") },
        answer,
        query,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_shown_as_data_and_keys_stay_plain() {
        assert_eq!(clean("Spring | sale\n\u{0}now", 60), "Spring sale now");
        assert_eq!(clean(&"x".repeat(70), 10), format!("{}…", "x".repeat(9)));
        assert_eq!(slug("Ad spend (2026)"), "ad_spend_2026");
        assert_eq!(shown(4.0), "4");
        assert_eq!(shown(2.456), "2.46");
    }
}
