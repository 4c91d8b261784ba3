//! Delimited text through the `csv` crate (RFC 4180 quoting, `""` for a
//! quote inside a quoted field, blank lines skipped).
//!
//! - Delimiter: of `,` `;` tab and `|`, the one that cuts the first rows of
//!   the file into the same number of fields (more than one) most often;
//!   on a tie the one with more fields, then the earlier in that list.
//!   None does: one column, cut at `,`.
//! - Header: the first row names the columns unless the rows below say it
//!   is data, by votes per column as Python's `csv.Sniffer` takes them: in
//!   a column whose values below are of a type other than text, a first
//!   cell of that type votes "data", any other votes "header"; in a text
//!   column, a first cell repeated below votes "data", and one whose length
//!   differs from a length every value below shares votes "header". More
//!   "data" votes than "header" votes mean no header (columns are then
//!   `column_1`, `column_2`, …). A file of one row is a header when none of
//!   its cells is a number, a boolean, a date or empty.
//! - Rows: every row must have as many fields as the first; one that does
//!   not fails the file, naming its line and both counts.

use std::io::Read;

use super::{Cell, MAX_COLUMNS, ParseError, Progress};
use crate::datasets::column::ColumnType;
use crate::datasets::infer::{self, ColumnStats};

/// The candidate delimiters, in order of preference.
pub const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// Rows of the sample the delimiter and header are told from.
const SAMPLE_ROWS: usize = 100;

/// The first rows of `sample` cut at `delimiter`, as fields; the last row
/// is left out when the sample may have cut it short.
fn sample_rows(sample: &str, delimiter: u8) -> Vec<Vec<String>> {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(sample.as_bytes());
    let mut rows: Vec<Vec<String>> = Vec::new();
    for record in reader.records().take(SAMPLE_ROWS + 2) {
        let Ok(record) = record else { break };
        rows.push(record.iter().map(str::to_owned).collect());
    }
    if rows.len() > 1 && !sample.ends_with('\n') {
        rows.pop();
    }
    rows
}

/// The delimiter of the text that starts with `sample` (see the module
/// documentation).
pub fn sniff_delimiter(sample: &str) -> u8 {
    let mut best: Option<(usize, usize, u8)> = None;
    for delimiter in DELIMITERS {
        let rows = sample_rows(sample, delimiter);
        let counts: Vec<usize> = rows.iter().map(Vec::len).collect();
        let Some(modal) = mode(&counts) else { continue };
        if modal < 2 {
            continue;
        }
        let agreeing = counts.iter().filter(|&&n| n == modal).count();
        // Better: more rows agreeing, then more fields; ties keep the earlier.
        if best.is_none_or(|(a, m, _)| (agreeing, modal) > (a, m)) {
            best = Some((agreeing, modal, delimiter));
        }
    }
    best.map_or(b',', |(_, _, delimiter)| delimiter)
}

/// The most frequent value of `counts` (the largest among equals).
fn mode(counts: &[usize]) -> Option<usize> {
    let mut sorted = counts.to_vec();
    sorted.sort_unstable();
    let mut best: Option<(usize, usize)> = None;
    for run in sorted.chunk_by(|a, b| a == b) {
        let candidate = (run.len(), run[0]);
        if best.is_none_or(|b| candidate >= b) {
            best = Some(candidate);
        }
    }
    best.map(|(_, value)| value)
}

/// Whether the first row of `sample` (cut at `delimiter`) names the
/// columns (see the module documentation).
pub fn sniff_header(sample: &str, delimiter: u8) -> bool {
    let rows = sample_rows(sample, delimiter);
    let Some((first, below)) = rows.split_first() else { return true };
    let first: Vec<Cell> = first.iter().map(|s| cell(s)).collect();
    if below.is_empty() {
        return first.iter().all(|c| matches!(c, Cell::Text(_)) && infer::only_text(c));
    }
    let mut votes: i64 = 0;
    for (j, head) in first.iter().enumerate() {
        let column: Vec<Cell> = below.iter().filter_map(|row| row.get(j)).map(|s| cell(s)).collect();
        let mut stats = ColumnStats::default();
        for value in &column {
            stats.observe(value);
        }
        if stats.non_null() == 0 || head == &Cell::Null {
            continue;
        }
        let kind = stats.decide().kind;
        if kind != ColumnType::Text {
            votes += if infer::fits(head, kind) { -1 } else { 1 };
            continue;
        }
        if column.contains(head) {
            votes -= 1;
            continue;
        }
        let length = |c: &Cell| if let Cell::Text(s) = c { s.chars().count() } else { 0 };
        let lengths: Vec<usize> = column.iter().filter(|c| **c != Cell::Null).map(length).collect();
        if lengths.windows(2).all(|w| w[0] == w[1]) && lengths.first().is_some_and(|&n| n != length(head)) {
            votes += 1;
        }
    }
    votes >= 0
}

/// A field as a cell: a null token (see `infer::is_null_token`) is null.
fn cell(field: &str) -> Cell {
    if infer::is_null_token(field) { Cell::Null } else { Cell::Text(field.to_owned()) }
}

/// Reads every row of `text` cut at `delimiter`; with `header`, the first
/// row names the columns. `columns` empty: they are filled from the header
/// (or `column_1`…); given: the header, if any, is skipped and every row
/// must have that many fields.
pub fn read(
    text: Box<dyn Read + Send>,
    delimiter: u8,
    header: bool,
    columns: &mut Vec<String>,
    progress: &Progress,
    each: &mut dyn FnMut(&[Cell]) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .buffer_capacity(256 * 1024)
        .from_reader(text);
    let mut record = ::csv::StringRecord::new();
    let mut cells: Vec<Cell> = Vec::new();
    let mut first = true;
    loop {
        if progress.stopped() {
            return Err(ParseError::Stopped);
        }
        let more = reader.read_record(&mut record).map_err(csv_error)?;
        if !more {
            return Ok(());
        }
        let line = record.position().map_or(0, ::csv::Position::line);
        if first {
            first = false;
            if record.len() > MAX_COLUMNS {
                return Err(ParseError::Invalid(format!(
                    "line {line} has {} fields; a dataset may have at most {MAX_COLUMNS} columns",
                    record.len()
                )));
            }
            if columns.is_empty() {
                *columns = if header {
                    record.iter().map(str::to_owned).collect()
                } else {
                    (1..=record.len()).map(|n| format!("column_{n}")).collect()
                };
            }
            if header {
                continue;
            }
        }
        if record.len() != columns.len() {
            // A line of blanks alone is no row.
            if record.len() == 1 && record.get(0).is_some_and(|f| f.trim().is_empty()) {
                continue;
            }
            let unit = if columns.len() == 1 { "column" } else { "columns" };
            return Err(ParseError::Invalid(format!(
                "line {line} has {} fields, but the file has {} {unit}: check the quoting and the delimiter there",
                record.len(),
                columns.len()
            )));
        }
        cells.clear();
        cells.extend(record.iter().map(cell));
        each(&cells)?;
    }
}

/// A `csv` error, naming the line where the crate saw it.
fn csv_error(e: ::csv::Error) -> ParseError {
    let line = e.position().map(::csv::Position::line);
    match e.into_kind() {
        ::csv::ErrorKind::Io(io) => ParseError::Io(io),
        other => {
            let detail = match other {
                ::csv::ErrorKind::Utf8 { err, .. } => format!("text that is not UTF-8 ({err})"),
                _ => "a field the CSV reader could not read".to_owned(),
            };
            match line {
                Some(line) => ParseError::Invalid(format!("line {line}: {detail}")),
                None => ParseError::Invalid(detail),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_are_found() {
        assert_eq!(sniff_delimiter("a,b,c\n1,2,3\n4,5,6\n"), b',');
        assert_eq!(sniff_delimiter("name;price\nCafé;3,5\nThé;2,25\n"), b';');
        assert_eq!(sniff_delimiter("a\tb\n1\t2\n"), b'\t');
        assert_eq!(sniff_delimiter("a|b|c\n\"x|y\"|2|3\n"), b'|');
        assert_eq!(sniff_delimiter("just one column\nof words\n"), b',');
        // Commas inside quotes do not make more fields.
        assert_eq!(sniff_delimiter("title;note\n\"Hello, world\";\"a, b, c\"\nx;y\n"), b';');
    }

    #[test]
    fn headers_are_told_from_data() {
        assert!(sniff_header("id,price\n1,2.5\n2,3.5\n", b','));
        assert!(!sniff_header("1,2.5\n2,3.5\n3,4\n", b','));
        assert!(sniff_header("name,city\nAlice,Paris\nBob,London\n", b','));
        assert!(!sniff_header("Alice,Paris\nBob,London\nAlice,Rome\n", b','));
        assert!(sniff_header("name,city\n", b','));
        assert!(!sniff_header("1,2\n", b','));
    }

    fn rows(text: &str, header: bool) -> Result<(Vec<String>, Vec<Vec<Cell>>), ParseError> {
        let mut columns = Vec::new();
        let mut rows = Vec::new();
        let reader: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(text.as_bytes().to_vec()));
        let mut keep = |cells: &[Cell]| -> Result<(), ParseError> {
            rows.push(cells.to_vec());
            Ok(())
        };
        read(reader, b',', header, &mut columns, &Progress::default(), &mut keep)?;
        Ok((columns, rows))
    }

    #[test]
    fn quoted_fields_keep_delimiters_quotes_and_newlines() {
        let text = "id,note\n1,\"a, \"\"quoted\"\"\nline\"\n2,\n";
        let (columns, rows) = rows(text, true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(columns, ["id", "note"]);
        assert_eq!(rows[0], [Cell::Text("1".into()), Cell::Text("a, \"quoted\"\nline".into())]);
        assert_eq!(rows[1], [Cell::Text("2".into()), Cell::Null]);
    }

    #[test]
    fn a_ragged_row_names_its_line() {
        let failed = rows("a,b\n1,2\n3,4,5\n", true);
        let message = failed.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.starts_with("line 3 has 3 fields, but the file has 2 columns"), "{message}");
    }

    #[test]
    fn without_a_header_columns_are_numbered() {
        let (columns, rows) = rows("1,2\n3,4\n", false).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(columns, ["column_1", "column_2"]);
        assert_eq!(rows.len(), 2);
    }
}
