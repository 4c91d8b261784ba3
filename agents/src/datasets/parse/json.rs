//! JSON records: a JSON array of objects (read element by element), or
//! NDJSON (one object a line; blank lines skipped), parsed with
//! `serde_json` straight into cells, one record in memory at a time. An
//! error names its line and column.
//!
//! Nested objects are flattened into dotted column names
//! (`{"customer": {"city": "Lyon"}}` is the column `customer.city`);
//! arrays (and empty objects) are kept as their JSON text. Strings,
//! numbers, booleans and `null` are cells of those kinds (a string that is
//! a null token, like an empty CSV field, is null); integers beyond 64 bits
//! are kept as text. Columns come in the order their keys first appear.

use std::collections::HashMap;
use std::fmt;
use std::io::{BufRead, BufReader, Read};

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use super::{Cell, MAX_COLUMNS, ParseError, Progress};
use crate::datasets::infer;

/// Reads every record of `text` (see the module documentation). `columns`
/// empty: filled as keys appear; given: those columns, and every row has
/// them all.
pub fn read(
    text: Box<dyn Read + Send>,
    columns: &mut Vec<String>,
    progress: &Progress,
    each: &mut dyn FnMut(&[Cell]) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    let mut text = BufReader::with_capacity(256 * 1024, text);
    let array = starts_with_bracket(&mut text)?;
    let mut records = Records {
        index: columns.iter().enumerate().map(|(i, name)| (name.clone(), i)).collect(),
        columns,
        cells: Vec::new(),
        count: 0,
        progress,
        each,
        failure: None,
    };
    if array {
        let mut deserializer = serde_json::Deserializer::from_reader(text);
        let outcome = serde::Deserializer::deserialize_seq(&mut deserializer, Elements { records: &mut records })
            .and_then(|()| deserializer.end());
        return match (records.failure.take(), outcome) {
            (Some(failure), _) => Err(failure),
            (None, Ok(())) => Ok(()),
            (None, Err(e)) => Err(syntax(&e, None)),
        };
    }
    let mut line = String::new();
    let mut number = 0u64;
    loop {
        line.clear();
        if text.read_line(&mut line)? == 0 {
            return Ok(());
        }
        number += 1;
        if line.trim().is_empty() {
            continue;
        }
        let mut deserializer = serde_json::Deserializer::from_str(&line);
        let outcome =
            RecordSeed { records: &mut records }.deserialize(&mut deserializer).and_then(|()| deserializer.end());
        match (records.failure.take(), outcome) {
            (Some(failure), _) => return Err(failure),
            (None, Ok(())) => {}
            (None, Err(e)) => return Err(syntax(&e, Some(number))),
        }
    }
}

/// Whether the first non-blank byte is `[`, without consuming it (a byte
/// order mark is already gone).
fn starts_with_bracket(text: &mut BufReader<Box<dyn Read + Send>>) -> Result<bool, ParseError> {
    loop {
        let buffered = text.fill_buf()?;
        if buffered.is_empty() {
            return Ok(false);
        }
        match buffered.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(at) => {
                let bracket = buffered[at] == b'[';
                text.consume(at);
                return Ok(bracket);
            }
            None => {
                let n = buffered.len();
                text.consume(n);
            }
        }
    }
}

/// A `serde_json` error as the merchant reads it; `line` is the file's
/// line when the error's text was that line alone (NDJSON).
fn syntax(e: &serde_json::Error, line: Option<u64>) -> ParseError {
    if e.is_io() {
        return ParseError::Invalid(format!("the file could not be read: {e}"));
    }
    let what = match e.classify() {
        serde_json::error::Category::Eof => "the JSON ends early",
        serde_json::error::Category::Data => "not a record",
        _ => "invalid JSON",
    };
    // serde_json's own message ends with its position; ours leads with it.
    let detail = e.to_string();
    let detail = detail.split(" at line ").next().unwrap_or(&detail);
    let line = line.unwrap_or(e.line() as u64);
    ParseError::Invalid(format!("line {line} column {}: {what}: {detail}", e.column()))
}

/// The records read so far and where their cells go.
struct Records<'a, 'e> {
    columns: &'a mut Vec<String>,
    index: HashMap<String, usize>,
    cells: Vec<Cell>,
    count: u64,
    progress: &'a Progress,
    each: &'e mut dyn FnMut(&[Cell]) -> Result<(), ParseError>,
    /// Why a record stopped the reading when the JSON itself was fine.
    failure: Option<ParseError>,
}

impl Records<'_, '_> {
    /// Starts a record: every known column null.
    fn begin(&mut self) -> Result<(), ParseError> {
        if self.progress.stopped() {
            return Err(ParseError::Stopped);
        }
        self.count += 1;
        self.cells.clear();
        self.cells.resize(self.columns.len(), Cell::Null);
        Ok(())
    }

    /// Sets column `name` of the record being read, adding the column when new.
    fn set(&mut self, name: String, cell: Cell) -> Result<(), ParseError> {
        let at = match self.index.get(&name) {
            Some(&at) => at,
            None => {
                if self.columns.len() >= MAX_COLUMNS {
                    return Err(ParseError::Invalid(format!(
                        "record {} brings a column beyond the {MAX_COLUMNS} a dataset may have",
                        self.count
                    )));
                }
                let at = self.columns.len();
                self.columns.push(name.clone());
                self.index.insert(name, at);
                self.cells.push(Cell::Null);
                at
            }
        };
        self.cells[at] = cell;
        Ok(())
    }

    /// Hands the finished record on.
    fn end(&mut self) -> Result<(), ParseError> {
        (self.each)(&self.cells)
    }

    /// Keeps `failure` for the reader and gives serde an error to stop with.
    fn fail<E: de::Error>(&mut self, failure: ParseError) -> E {
        self.failure = Some(failure);
        E::custom("stopped")
    }
}

/// The elements of the top-level array, each a record.
struct Elements<'r, 'a, 'e> {
    records: &'r mut Records<'a, 'e>,
}

impl<'de> Visitor<'de> for Elements<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of JSON objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(RecordSeed { records: &mut *self.records })?.is_some() {}
        Ok(())
    }
}

/// One record: a JSON object, flattened.
struct RecordSeed<'r, 'a, 'e> {
    records: &'r mut Records<'a, 'e>,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object (every record must be one)")
    }

    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<(), M::Error> {
        if let Err(failure) = self.records.begin() {
            return Err(self.records.fail(failure));
        }
        // `{}` is a row of nulls, not a column.
        flatten(self.records, "", map)?;
        if let Err(failure) = self.records.end() {
            return Err(self.records.fail(failure));
        }
        Ok(())
    }
}

/// Reads the members of an object into the record under `prefix`; whether
/// the object had none.
fn flatten<'de, M: MapAccess<'de>>(records: &mut Records<'_, '_>, prefix: &str, mut map: M) -> Result<bool, M::Error> {
    let mut empty = true;
    while let Some(key) = map.next_key::<String>()? {
        empty = false;
        let name = if prefix.is_empty() { key } else { format!("{prefix}.{key}") };
        map.next_value_seed(Member { records: &mut *records, name })?;
    }
    Ok(empty)
}

/// One member's value: a cell of the column `name`, or (an object) more
/// columns under it.
struct Member<'r, 'a, 'e> {
    records: &'r mut Records<'a, 'e>,
    name: String,
}

impl Member<'_, '_, '_> {
    fn put<E: de::Error>(self, cell: Cell) -> Result<(), E> {
        match self.records.set(self.name, cell) {
            Ok(()) => Ok(()),
            Err(failure) => Err(self.records.fail(failure)),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Member<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Member<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.put(Cell::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.put(Cell::Null)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<(), E> {
        self.put(Cell::Boolean(b))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<(), E> {
        self.put(Cell::Integer(n))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<(), E> {
        match i64::try_from(n) {
            Ok(n) => self.put(Cell::Integer(n)),
            Err(_) => self.put(Cell::Text(n.to_string())),
        }
    }

    fn visit_f64<E: de::Error>(self, x: f64) -> Result<(), E> {
        self.put(Cell::Float(x))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        if infer::is_null_token(s) { self.put(Cell::Null) } else { self.put(Cell::Text(s.to_owned())) }
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<(), E> {
        if infer::is_null_token(&s) { self.put(Cell::Null) } else { self.put(Cell::Text(s)) }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<serde_json::Value>()? {
            items.push(item);
        }
        self.put(Cell::Text(serde_json::Value::Array(items).to_string()))
    }

    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<(), M::Error> {
        let Member { records, name } = self;
        if flatten(records, &name, map)? {
            return Member { records, name }.put(Cell::Text("{}".to_owned()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> Result<(Vec<String>, Vec<Vec<Cell>>), ParseError> {
        let mut columns = Vec::new();
        let mut rows = Vec::new();
        let reader: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(text.as_bytes().to_vec()));
        let mut keep = |cells: &[Cell]| -> Result<(), ParseError> {
            rows.push(cells.to_vec());
            Ok(())
        };
        read(reader, &mut columns, &Progress::default(), &mut keep)?;
        Ok((columns, rows))
    }

    #[test]
    fn an_array_and_ndjson_read_alike_with_nested_keys_flattened_in_order() {
        let array = r#" [{"id": 1, "customer": {"city": "Lyon", "tags": ["a", "b"]}}, {"id": 2, "extra": true}]"#;
        let ndjson = concat!(
            "{\"id\": 1, \"customer\": {\"city\": \"Lyon\", \"tags\": [\"a\", \"b\"]}}\n",
            "\n",
            "{\"id\": 2, \"extra\": true}\n"
        );
        for text in [array, ndjson] {
            let (columns, rows) = rows(text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(columns, ["id", "customer.city", "customer.tags", "extra"]);
            assert_eq!(rows[0], [Cell::Integer(1), Cell::Text("Lyon".into()), Cell::Text("[\"a\",\"b\"]".into())]);
            assert_eq!(rows[1], [Cell::Integer(2), Cell::Null, Cell::Null, Cell::Boolean(true)]);
        }
    }

    #[test]
    fn errors_name_the_line_and_column() {
        let broken = rows("[{\"a\": 1},\n {\"a\": }]").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(broken.starts_with("line 2 column"), "{broken}");
        let scalar = rows("{\"a\": 1}\n7\n").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(scalar.starts_with("line 2 column 1: not a record"), "{scalar}");
        let in_array = rows("[{\"a\": 1},\n \"x\"]").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(in_array.starts_with("line 2 column"), "{in_array}");
        let cut = rows("{\"a\": 1}\n{\"a\": \n").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(cut.starts_with("line 2 column"), "{cut}");
    }
}
