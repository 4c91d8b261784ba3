//! Reading an uploaded file as records: its text encoding and format told
//! from its bytes, then [`csv`], [`json`] or [`parquet`] turns it into rows
//! of [`Cell`]s in column order, handed one at a time to a callback (the
//! file is read as it streams, or a Parquet row group at a time, never
//! whole into memory).
//!
//! Encoding (text formats): a byte-order mark decides (UTF-8, UTF-16 LE or
//! BE); without one, a file that is valid UTF-8 throughout is UTF-8, and
//! any other is read as Latin-1 (windows-1252, what spreadsheet exports in
//! Western Europe write and what the web reads "latin1" as). Either way
//! the parsers see UTF-8.
//!
//! Format, when the upload does not say: a file that starts with Parquet's
//! magic `PAR1` and ends with it too is Parquet, and so is one that starts
//! with it followed by binary bytes (a NUL among the first bytes: a
//! Parquet file cut short, which then fails saying so, rather than a CSV
//! whose first header happens to be `PAR1`); otherwise the first non-blank
//! character `[` is a JSON array, `{` JSON objects one after another
//! (NDJSON), and anything else delimited text (CSV).

pub mod csv;
pub mod json;
pub mod parquet;

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use alatar_entity::dataset::DatasetFormat;
use encoding_rs::{Decoder, Encoding, UTF_8, WINDOWS_1252};

use super::column::ColumnType;

/// The most columns a dataset may have (PostgreSQL allows 1,600 a table).
pub const MAX_COLUMNS: usize = 1_000;

/// How many bytes of the start of a file decide its format.
pub const SNIFF_BYTES: usize = 64 * 1024;

/// The four bytes a Parquet file starts and ends with.
pub const PARQUET_MAGIC: &[u8; 4] = b"PAR1";

/// One cell as the source wrote it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Empty, or a JSON `null` (or a missing key).
    Null,
    /// Text: every CSV cell, every JSON string; nested arrays as JSON text.
    Text(String),
    /// A JSON integer.
    Integer(i64),
    /// A JSON number with a fraction or exponent.
    Float(f64),
    /// A JSON `true` or `false`.
    Boolean(bool),
}

/// Why a file could not be read; the message names the line (and column)
/// or the record where it went wrong.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The file's content is at fault.
    #[error("{0}")]
    Invalid(String),
    /// The file could not be read.
    #[error("the uploaded file could not be read: {0}")]
    Io(#[from] io::Error),
    /// The reader was told to stop (cancelled, or the next stage is gone).
    #[error("stopped")]
    Stopped,
}

/// Where the text comes from and how far the reader got, shared with the
/// job that watches it: bytes of the file read so far, and a flag that
/// stops the reader at its next record.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    read: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Progress {
    /// Bytes of the file read so far.
    pub fn bytes_read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    /// Asks the reader to stop at its next record.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Whether [`Progress::stop`] was called.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Starts a new pass over the file (the byte count from zero).
    pub fn restart(&self) {
        self.read.store(0, Ordering::Relaxed);
    }

    /// Sets how far the pass got, for readers that seek rather than
    /// stream (Parquet's row groups), so that no byte counter sees them.
    fn reached(&self, bytes: u64) {
        self.read.store(bytes, Ordering::Relaxed);
    }
}

/// Counts the bytes read through it into a [`Progress`].
struct Counting<R> {
    inner: R,
    progress: Progress,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Text in another encoding, decoded to UTF-8 as it is read.
struct Decoding<R> {
    inner: R,
    decoder: Decoder,
    raw: Vec<u8>,
    decoded: Vec<u8>,
    at: usize,
    finished: bool,
}

impl<R: Read> Read for Decoding<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at == self.decoded.len() {
            if self.finished {
                return Ok(0);
            }
            let n = self.inner.read(&mut self.raw)?;
            let last = n == 0;
            // Room for the worst case: the decoder then takes all the input.
            let room = self.decoder.max_utf8_buffer_length(n).unwrap_or(n.saturating_mul(3).saturating_add(16));
            self.decoded.resize(room, 0);
            let (_, _, written, _) = self.decoder.decode_to_utf8(&self.raw[..n], &mut self.decoded, last);
            self.decoded.truncate(written);
            self.at = 0;
            self.finished = last;
        }
        let n = out.len().min(self.decoded.len() - self.at);
        out[..n].copy_from_slice(&self.decoded[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The file's text encoding: its byte-order mark's, else UTF-8 when every
/// byte sequence is valid UTF-8, else windows-1252 (see the module
/// documentation). Reads the whole file once when it has no mark.
pub fn detect_encoding(path: &Path) -> io::Result<&'static Encoding> {
    let mut file = BufReader::with_capacity(256 * 1024, File::open(path)?);
    let mut head = [0u8; 3];
    let mut got = 0;
    while got < head.len() {
        let n = file.read(&mut head[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    if let Some((encoding, _)) = Encoding::for_bom(&head[..got]) {
        return Ok(encoding);
    }
    let mut validator = Utf8Check::default();
    if !validator.feed(&head[..got]) {
        return Ok(WINDOWS_1252);
    }
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if !validator.feed(&buf[..n]) {
            return Ok(WINDOWS_1252);
        }
    }
    Ok(if validator.finish() { UTF_8 } else { WINDOWS_1252 })
}

/// UTF-8 validation over chunks whose edges may split a character.
#[derive(Default)]
struct Utf8Check {
    carry: Vec<u8>,
}

impl Utf8Check {
    /// Whether everything fed so far can still be valid UTF-8.
    fn feed(&mut self, chunk: &[u8]) -> bool {
        let mut joined = std::mem::take(&mut self.carry);
        joined.extend_from_slice(chunk);
        match std::str::from_utf8(&joined) {
            Ok(_) => true,
            // An incomplete character at the end may be completed by the next chunk.
            Err(e) if e.error_len().is_none() => {
                self.carry = joined[e.valid_up_to()..].to_vec();
                true
            }
            Err(_) => false,
        }
    }

    /// Whether the whole input was valid (nothing left incomplete).
    fn finish(&self) -> bool {
        self.carry.is_empty()
    }
}

/// The file at `path` as UTF-8 text in `encoding`, without its byte-order
/// mark, counting the bytes it reads into `progress`.
pub fn open_text(path: &Path, encoding: &'static Encoding, progress: &Progress) -> io::Result<Box<dyn Read + Send>> {
    progress.restart();
    let counting = Counting { inner: File::open(path)?, progress: progress.clone() };
    let raw = BufReader::with_capacity(256 * 1024, counting);
    if encoding == UTF_8 {
        // Valid UTF-8 already: only a mark to skip.
        let mut raw = raw;
        let mut bom = [0u8; 3];
        let mut got = 0;
        while got < bom.len() {
            let n = raw.read(&mut bom[got..])?;
            if n == 0 {
                break;
            }
            got += n;
        }
        let head = if bom[..got] == [0xEF, 0xBB, 0xBF] { Vec::new() } else { bom[..got].to_vec() };
        return Ok(Box::new(io::Cursor::new(head).chain(raw)));
    }
    Ok(Box::new(Decoding {
        inner: raw,
        decoder: encoding.new_decoder_with_bom_removal(),
        raw: vec![0u8; 64 * 1024],
        decoded: Vec::new(),
        at: 0,
        finished: false,
    }))
}

/// The format of a file starting with `head` and ending with `tail` (see
/// the module documentation).
pub fn sniff_format(head: &[u8], tail: &[u8]) -> DatasetFormat {
    if head.starts_with(PARQUET_MAGIC) && (tail.ends_with(PARQUET_MAGIC) || head.contains(&0)) {
        return DatasetFormat::Parquet;
    }
    let head = head.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(head);
    match head.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => DatasetFormat::Json,
        Some(b'{') => DatasetFormat::Ndjson,
        _ => DatasetFormat::Csv,
    }
}

/// How a file is read, found on the first pass and used on the second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Its text encoding.
    pub encoding: &'static Encoding,
    /// Its shape.
    pub shape: Shape,
}

/// The shape of a file's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Delimited text.
    Csv {
        /// `,` `;` tab or `|`.
        delimiter: u8,
        /// Whether the first row names the columns.
        header: bool,
    },
    /// A JSON array of objects, or JSON objects one after another.
    Json,
    /// Parquet: typed columns in row groups (no text encoding).
    Parquet,
}

/// Reads every record of the file at `path`, in `layout`, calling `each`
/// with its cells; stops when `each` fails or `progress` is stopped.
/// `columns` are the source's column names: on the first pass empty and
/// filled as the file names them (a JSON key first seen in a later record
/// adds a column, and earlier rows are shorter), on the second pass those
/// the first found, so that every row has them all.
pub fn read_records(
    path: &Path,
    layout: &Layout,
    columns: &mut Vec<String>,
    progress: &Progress,
    each: &mut dyn FnMut(&[Cell]) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    match layout.shape {
        Shape::Csv { delimiter, header } => {
            csv::read(open_text(path, layout.encoding, progress)?, delimiter, header, columns, progress, each)
        }
        Shape::Json => json::read(open_text(path, layout.encoding, progress)?, columns, progress, each),
        Shape::Parquet => parquet::read(path, columns, progress, each),
    }
}

/// The column types the file itself declares, in column order: Parquet's
/// (see [`parquet`]); `None` for text, whose types are inferred from the
/// values.
pub fn declared_types(path: &Path, layout: &Layout) -> Result<Option<Vec<ColumnType>>, ParseError> {
    match layout.shape {
        Shape::Parquet => parquet::column_types(path).map(Some),
        Shape::Csv { .. } | Shape::Json => Ok(None),
    }
}

/// The layout of the file at `path`, uploaded as `format`: its encoding
/// and, for CSV, the delimiter and whether it has a header row.
pub fn detect_layout(path: &Path, format: DatasetFormat) -> Result<Layout, ParseError> {
    if format == DatasetFormat::Parquet {
        // Binary: its strings are UTF-8 by the format's rules, nothing to detect.
        return Ok(Layout { encoding: UTF_8, shape: Shape::Parquet });
    }
    let encoding = detect_encoding(path)?;
    let shape = match format {
        DatasetFormat::Json | DatasetFormat::Ndjson => Shape::Json,
        DatasetFormat::Parquet => Shape::Parquet,
        DatasetFormat::Csv => {
            let mut bytes = Vec::new();
            open_text(path, encoding, &Progress::default())?.take(SNIFF_BYTES as u64).read_to_end(&mut bytes)?;
            // The sample may end inside a character: that one is replaced, nothing else is lost.
            let sample = String::from_utf8_lossy(&bytes);
            let delimiter = csv::sniff_delimiter(&sample);
            Shape::Csv { delimiter, header: csv::sniff_header(&sample, delimiter) }
        }
    };
    Ok(Layout { encoding, shape })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_is_checked_across_chunk_edges() {
        let text = "prix: 12 €, café".as_bytes();
        for size in 1..text.len() {
            let mut check = Utf8Check::default();
            assert!(text.chunks(size).all(|c| check.feed(c)) && check.finish(), "chunks of {size}");
        }
        let mut latin1 = Utf8Check::default();
        assert!(!latin1.feed(b"caf\xe9 au lait"));
        let mut cut = Utf8Check::default();
        assert!(cut.feed(b"caf\xc3") && !cut.finish());
    }

    #[test]
    fn formats_are_told_by_their_first_character() {
        let json = b"  \n[{\"a\": 1}]";
        assert_eq!(sniff_format(json, json), DatasetFormat::Json);
        let ndjson = b"\xEF\xBB\xBF{\"a\": 1}\n{\"a\": 2}";
        assert_eq!(sniff_format(ndjson, ndjson), DatasetFormat::Ndjson);
        assert_eq!(sniff_format(b"a,b\n1,2", b"1,2"), DatasetFormat::Csv);
        assert_eq!(sniff_format(b"", b""), DatasetFormat::Csv);
    }

    #[test]
    fn parquet_is_told_by_its_magic() {
        assert_eq!(sniff_format(b"PAR1\x15\x04\x15\x00", b"PAR1"), DatasetFormat::Parquet);
        // Cut short: binary after the magic still says Parquet (and fails as one).
        assert_eq!(sniff_format(b"PAR1\x15\x00\x15", b"\x15\x00\x15"), DatasetFormat::Parquet);
        // A CSV whose first header is `PAR1` stays a CSV.
        assert_eq!(sniff_format(b"PAR1,PAR2\n1,2\n", b"1,2\n"), DatasetFormat::Csv);
    }

    #[test]
    fn latin1_is_decoded_to_utf8() {
        let dir = std::env::temp_dir().join(format!("alatar-parse-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let path = dir.join("latin1.csv");
        std::fs::write(&path, b"name;price\nCaf\xe9 cr\xe8me;3,5\n").unwrap_or_else(|e| panic!("{e}"));
        let encoding = detect_encoding(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(encoding, WINDOWS_1252);
        let mut text = String::new();
        open_text(&path, encoding, &Progress::default())
            .and_then(|mut r| r.read_to_string(&mut text))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(text, "name;price\nCafé crème;3,5\n");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
