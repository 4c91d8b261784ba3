//! Apache Parquet through the `parquet` crate's record reader, one row
//! group at a time: a row group's column chunks are read page by page as
//! its rows are assembled, so memory holds a few pages per column, never
//! the file (nor the whole row group).
//!
//! Columns and their types come from the file's schema, not from its
//! values (a `STRING` column of digits stays `TEXT`):
//!
//! | Parquet | column |
//! |---|---|
//! | `BOOLEAN` | `BOOLEAN` |
//! | `INT32`, `INT64`, any `INTEGER(bits, signed)` | `INTEGER` (an unsigned 64-bit value beyond 2⁶³ − 1 fails the file, naming the column) |
//! | `FLOAT`, `DOUBLE`, `FLOAT16`, `DECIMAL` | `FLOAT` (a decimal as the nearest double; NaN and infinities are null) |
//! | `DATE` | `DATE` |
//! | `TIMESTAMP` (milli-, micro-, nanoseconds), legacy `INT96` | `TIMESTAMP`, in UTC (one not adjusted to UTC is read as UTC, as the text formats read a time without an offset) |
//! | `TIME` | `TEXT`, `HH:MM:SS[.ffffff]` |
//! | `STRING`, `ENUM`, `JSON`, `BSON`, other byte arrays | `TEXT` as written (bytes that are not UTF-8 in hexadecimal; a `UUID` hyphenated) |
//! | a struct (group) | flattened like nested JSON: a column per member, `parent.member`, null where the struct is |
//! | `LIST`, `MAP`, a repeated field | `TEXT`: the value as JSON (like a JSON array in an upload) |
//!
//! Parquet has real nulls, so no string is taken for one (`NA` is text).
//! Codecs: uncompressed, `SNAPPY`, `GZIP`, `ZSTD`, `LZ4` and `LZ4_RAW`;
//! `BROTLI` and `LZO` are refused before anything is read, naming the
//! column.
//!
//! A file at fault fails with a message naming what: not Parquet or cut
//! short (it must start and end with `PAR1`, and every column chunk must
//! lie inside it), an unreadable footer, a type the reader cannot convert
//! (`plan`), or a row group whose data does not decode (the column whose
//! pages fail, when one does). Sizes the file declares are bounded before
//! the crate sees them (`bounds`: a lying footer or page header would make
//! it allocate what it cannot, which aborts). Some malformed input trips the crate's
//! assertions instead of its errors: every call into it runs under
//! `catch_unwind`, and such a panic fails the file like an error.

mod bounds;
mod cells;
mod plan;

use std::any::Any;
use std::fs::File;
use std::io::{Read as _, Seek, SeekFrom};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use ::parquet::basic::Compression;
use ::parquet::errors::ParquetError;
// Row groups and page readers come as trait objects: their methods need no import.
use ::parquet::file::reader::{FileReader, SerializedFileReader};

use super::{Cell, PARQUET_MAGIC, ParseError, Progress};
use crate::datasets::column::ColumnType;
use crate::datasets::infer::{ColumnStats, DATE_FORMATS, Format, Inference};
use plan::Plan;

/// Rows between two progress reports within a row group.
const REPORT_EVERY: u64 = 1_024;

/// Reads every row of the Parquet file at `path` (see the module
/// documentation). `columns` empty: filled from the schema; given (the
/// second pass): they must be the schema's still.
pub fn read(
    path: &Path,
    columns: &mut Vec<String>,
    progress: &Progress,
    each: &mut dyn FnMut(&[Cell]) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    progress.restart();
    let opened = Opened::open(path)?;
    let names = opened.plan.names();
    if columns.is_empty() {
        *columns = names;
    } else if *columns != names {
        return Err(ParseError::Invalid("the Parquet file's columns changed between reads: upload it again".into()));
    }
    let mut cells = vec![Cell::Null; opened.plan.columns.len()];
    let mut before = 0u64;
    for g in 0..opened.reader.num_row_groups() {
        let meta = opened.reader.metadata().row_group(g);
        let bytes = u64::try_from(meta.compressed_size()).unwrap_or(0);
        let total = u64::try_from(meta.num_rows()).unwrap_or(0).max(1);
        let group = match guarded(|| opened.reader.get_row_group(g)) {
            Ok(Ok(group)) => group,
            Ok(Err(e)) => return Err(opened.failed(g, &e.to_string())),
            Err(panic) => return Err(opened.failed(g, &panic)),
        };
        let mut rows = match guarded(|| group.get_row_iter(None)) {
            Ok(Ok(rows)) => rows,
            Ok(Err(e)) => return Err(opened.failed(g, &e.to_string())),
            Err(panic) => return Err(opened.failed(g, &panic)),
        };
        let mut done = 0u64;
        loop {
            if progress.stopped() {
                return Err(ParseError::Stopped);
            }
            let next = guarded(|| {
                let row = rows.next()?;
                Some(match row {
                    Ok(row) => opened.plan.fill(&row, &mut cells).map_err(|bad| Failure::Value(bad.0)),
                    Err(e) => Err(Failure::Read(e.to_string())),
                })
            });
            match next {
                Ok(None) => break,
                Ok(Some(Ok(()))) => each(&cells)?,
                Ok(Some(Err(Failure::Value(why)))) => {
                    let at = format!("row group {} of {}, row {}", g + 1, opened.groups(), done + 1);
                    return Err(ParseError::Invalid(format!("{at}: {why}")));
                }
                Ok(Some(Err(Failure::Read(why)))) | Err(why) => return Err(opened.failed(g, &why)),
            }
            done += 1;
            if done % REPORT_EVERY == 0 {
                progress.reached(before + bytes.saturating_mul(done) / total);
            }
        }
        before += bytes;
        progress.reached(before);
    }
    progress.reached(opened.size);
    Ok(())
}

/// The types of the file's columns, in column order (see the module
/// documentation); only its footer is read.
pub fn column_types(path: &Path) -> Result<Vec<ColumnType>, ParseError> {
    Ok(Opened::open(path)?.plan.kinds())
}

/// What the load reads a column of `kind`, declared by the file, with: that
/// type, its values in the forms `cells` writes (dates `YYYY-MM-DD`,
/// instants RFC 3339), never mixed; `stats` tell whether its instants have
/// fractions of a second.
pub fn inference(kind: ColumnType, stats: &ColumnStats) -> Inference {
    let counted = stats.decide();
    let date = (kind == ColumnType::Date).then_some(DATE_FORMATS[0]);
    Inference { kind, format: Format { date, decimal_comma: false, fraction: counted.format.fraction }, mixed: None }
}

/// Why a row could not be taken.
enum Failure {
    /// The reader failed on the file's data.
    Read(String),
    /// A value does not fit its column (the message names it).
    Value(String),
}

/// A Parquet file with its footer read and its schema planned.
struct Opened {
    reader: SerializedFileReader<File>,
    plan: Plan,
    /// Its size in bytes.
    size: u64,
}

impl Opened {
    /// Opens the file, reads its footer and plans its columns, refusing
    /// what the module documentation says before any row is read.
    fn open(path: &Path) -> Result<Self, ParseError> {
        let mut file = File::open(path)?;
        let size = file.metadata()?.len();
        if !framed(&mut file, size)? {
            return Err(ParseError::Invalid(
                "the file is not Parquet, or it was cut short: a Parquet file starts and ends with PAR1".into(),
            ));
        }
        let footer = |why: &str| ParseError::Invalid(format!("the Parquet file's footer could not be read: {why}"));
        // Bounds first: the crate trusts the sizes the file declares.
        bounds::read_footer(&mut file, size)
            .and_then(|bytes| bounds::check_footer(&bytes))
            .map_err(|why| footer(&why))?;
        let reader = match guarded(|| SerializedFileReader::new(file)) {
            Ok(Ok(reader)) => reader,
            Ok(Err(e)) => return Err(footer(&e.to_string())),
            Err(panic) => return Err(footer(&panic)),
        };
        let plan = match guarded(|| Plan::of(reader.metadata().file_metadata().schema_descr())) {
            Ok(Ok(plan)) => plan,
            Ok(Err(why)) => return Err(ParseError::Invalid(why)),
            Err(panic) => return Err(footer(&panic)),
        };
        let opened = Self { reader, plan, size };
        opened.check_chunks()?;
        let mut headers = File::open(path)?;
        bounds::check_pages(&mut headers, opened.reader.metadata()).map_err(ParseError::Invalid)?;
        Ok(opened)
    }

    fn groups(&self) -> usize {
        self.reader.num_row_groups()
    }

    /// Every column chunk is compressed with a codec this build reads and
    /// lies inside the file (a file cut short loses its chunks' ends).
    fn check_chunks(&self) -> Result<(), ParseError> {
        for (g, group) in self.reader.metadata().row_groups().iter().enumerate() {
            for chunk in group.columns() {
                let column = chunk.column_path().string();
                let at = format!("row group {} of {}, column \"{column}\"", g + 1, self.groups());
                let codec = match chunk.compression() {
                    Compression::BROTLI(_) => Some("BROTLI"),
                    Compression::LZO => Some("LZO"),
                    _ => None,
                };
                if let Some(codec) = codec {
                    return Err(ParseError::Invalid(format!(
                        "{at}: compressed with {codec}, which is not supported: \
                         write the file with SNAPPY, GZIP, ZSTD, LZ4 or no compression"
                    )));
                }
                let start = chunk.dictionary_page_offset().unwrap_or_else(|| chunk.data_page_offset());
                let inside = u64::try_from(start)
                    .ok()
                    .zip(u64::try_from(chunk.compressed_size()).ok())
                    .and_then(|(start, length)| start.checked_add(length))
                    .is_some_and(|end| end <= self.size);
                if !inside {
                    return Err(ParseError::Invalid(format!(
                        "{at}: its data lies beyond the end of the file: the file was cut short or is corrupt"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The failure of row group `g` (0-based) with `detail`, naming the
    /// column whose pages fail to decode when one does.
    fn failed(&self, g: usize, detail: &str) -> ParseError {
        let group = format!("row group {} of {}", g + 1, self.groups());
        ParseError::Invalid(match self.failing_column(g) {
            Some((column, why)) => format!("{group}, column \"{column}\" could not be read: {why}"),
            None => format!("{group} could not be read: {detail}"),
        })
    }

    /// The first column of row group `g` whose pages do not read or
    /// decompress, and why (read again only once something failed).
    fn failing_column(&self, g: usize) -> Option<(String, String)> {
        let group = guarded(|| self.reader.get_row_group(g)).ok()?.ok()?;
        for i in 0..group.num_columns() {
            let outcome = guarded(|| -> Result<(), ParquetError> {
                let mut pages = group.get_column_page_reader(i)?;
                while pages.get_next_page()?.is_some() {}
                Ok(())
            });
            let why = match outcome {
                Ok(Ok(())) => continue,
                Ok(Err(e)) => e.to_string(),
                Err(panic) => panic,
            };
            return Some((group.metadata().column(i).column_path().string(), why));
        }
        None
    }
}

/// Whether the file starts and ends with `PAR1` (and is long enough to
/// hold both and the footer's length between them).
fn framed(file: &mut File, size: u64) -> std::io::Result<bool> {
    let magic = PARQUET_MAGIC.len() as u64;
    if size < 2 * magic + 4 {
        return Ok(false);
    }
    let mut head = [0u8; 4];
    let mut tail = [0u8; 4];
    file.read_exact(&mut head)?;
    file.seek(SeekFrom::Start(size - magic))?;
    file.read_exact(&mut tail)?;
    file.seek(SeekFrom::Start(0))?;
    Ok(&head == PARQUET_MAGIC && &tail == PARQUET_MAGIC)
}

/// Runs a call into the crate, a panic in it as its message: some
/// malformed files trip its assertions rather than its error paths, and a
/// merchant's file must fail its job, never the worker.
fn guarded<T>(call: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(call)).map_err(|panic| format!("the Parquet reader failed on it ({})", said(&*panic)))
}

/// A panic's message, when it has one.
fn said(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message")
}

#[cfg(test)]
mod tests;
