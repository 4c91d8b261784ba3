//! GraphQL multipart requests (uploads) held to their limits while the body
//! streams. async-graphql's parser caps each part alike, but neither the
//! request as a whole, nor the number of files, nor `operations` and `map`
//! apart from the files (they are read into memory and parsed as a JSON
//! body is, so they are held to a JSON body's limit). So a guard sits
//! between the socket and the parser, counting bytes and parts and reading
//! which part is which as multer frames them, and ends the body at the first
//! chunk over a limit; nothing after it is read. The parser is handed the
//! boundary the guard counts by, so the two cannot read one content type two
//! ways. Files stream to unnamed temporary files (async-graphql's `tempfile`
//! feature), so a request costs memory for its `operations` and `map` only.
//!
//! Dataset uploads may be larger than other files (`datasets.max_upload_bytes`
//! beside `graphql.max_upload_bytes`). Which field a file feeds is known
//! only once the query runs, so the guard reads `operations` (which comes
//! first, as the multipart spec orders it) as it passes: a request whose
//! operations name `uploadDataset` has its files held to the dataset
//! limit, any other to the file limit. Naming the field without calling it
//! gains a client nothing it could not have by calling it, and every
//! resolver still holds its file to its own cap; files sent before
//! `operations` keep the smaller limit.

use std::sync::{Arc, OnceLock};

use async_graphql::http::MultipartOptions;
use async_graphql::{BatchRequest, ParseRequestError};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use futures_util::{StreamExt, TryStreamExt};

use crate::config::GraphqlConfig;

/// Headers that make a multipart request one a browser must preflight: a
/// cross-site HTML form can post `multipart/form-data` but cannot add a
/// header, so requiring one (any value) shuts out cross-site form posts.
/// `apollo-require-preflight` is what Apollo clients send; `x-alatar-csrf`
/// is ours for other clients.
pub const PREFLIGHT_HEADERS: [&str; 2] = ["apollo-require-preflight", "x-alatar-csrf"];

/// Whether the request carries one of [`PREFLIGHT_HEADERS`].
pub fn preflighted(headers: &HeaderMap) -> bool {
    PREFLIGHT_HEADERS.iter().any(|name| headers.contains_key(*name))
}

/// The limits one multipart request is held to.
#[derive(Debug, Clone, Copy)]
pub struct UploadLimits {
    /// Bytes of the whole body, boundaries and part headers included.
    pub total_bytes: usize,
    /// Bytes of one part's content (a file; `operations` and `map` too).
    pub part_bytes: usize,
    /// Bytes of the content of `operations` and of `map`: what a JSON body may be.
    pub body_bytes: usize,
    /// Parts besides `operations` and `map`.
    pub files: usize,
}

impl UploadLimits {
    /// The limits `config` sets.
    pub fn new(config: &GraphqlConfig) -> Self {
        Self {
            total_bytes: config.multipart_limit(),
            part_bytes: config.max_upload_bytes,
            body_bytes: config.max_body_bytes,
            files: config.max_upload_files,
        }
    }
}

/// The limit a request went over; the message names its configuration key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Exceeded {
    /// The whole body.
    #[error("multipart request exceeds {0} bytes (graphql.max_multipart_bytes)")]
    Total(usize),
    /// The number of files.
    #[error("multipart request has more than {0} files (graphql.max_upload_files)")]
    Files(usize),
    /// One part.
    #[error("a file or part of the multipart request exceeds {0} bytes (graphql.max_upload_bytes)")]
    Part(usize),
    /// `operations` or `map`, held to what a JSON body may be.
    #[error("the operations or map part of the multipart request exceeds {0} bytes (graphql.max_body_bytes)")]
    BodyPart(usize),
    /// A file of a dataset upload.
    #[error("the uploaded dataset file exceeds {0} bytes (datasets.max_upload_bytes)")]
    DatasetPart(usize),
}

/// The limits of a request that uploads a dataset (its operations name
/// `uploadDataset`), in place of [`UploadLimits::part_bytes`] and
/// [`UploadLimits::total_bytes`].
#[derive(Debug, Clone, Copy)]
pub struct DatasetUploads {
    /// Bytes of one file (`datasets.max_upload_bytes`).
    pub part_bytes: usize,
    /// Bytes of the whole body: `graphql.max_multipart_bytes` when set,
    /// else room for one such file besides the usual request.
    pub total_bytes: usize,
}

impl DatasetUploads {
    /// The limits for dataset files of `max_upload_bytes` under `config`.
    pub fn new(config: &GraphqlConfig, max_upload_bytes: usize) -> Self {
        let total_bytes = config
            .max_multipart_bytes
            .unwrap_or_else(|| config.multipart_limit().max(max_upload_bytes.saturating_add(config.max_body_bytes)));
        Self { part_bytes: max_upload_bytes, total_bytes }
    }
}

/// Why a multipart request was not read.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// Over a limit (413).
    #[error(transparent)]
    Exceeded(#[from] Exceeded),
    /// Not a valid GraphQL multipart request (400).
    #[error("{0}")]
    Invalid(String),
}

/// Reads the GraphQL multipart request in `body` (of `content_type`, which
/// names the boundary) within `limits`.
pub async fn receive(
    headers: &HeaderMap,
    content_type: &str,
    body: Body,
    limits: UploadLimits,
) -> Result<BatchRequest, UploadError> {
    receive_with(headers, content_type, body, limits, None).await
}

/// [`receive`], with the larger limits of `datasets` for the files of a
/// request that uploads a dataset (see the module documentation).
pub async fn receive_with(
    headers: &HeaderMap,
    content_type: &str,
    body: Body,
    limits: UploadLimits,
    datasets: Option<DatasetUploads>,
) -> Result<BatchRequest, UploadError> {
    // A declared length over the limit is refused before a byte is read;
    // whether the request uploads a dataset is not known yet.
    let ceiling = datasets.map_or(limits.total_bytes, |d| d.total_bytes.max(limits.total_bytes));
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > ceiling as u64) {
        return Err(Exceeded::Total(ceiling).into());
    }
    let Some(boundary) = boundary(content_type) else {
        return Err(UploadError::Invalid(
            "multipart/form-data needs a boundary of 1 to 70 characters (RFC 2046: letters, digits, \
             space and '()+_,-./:=?)"
                .into(),
        ));
    };
    // Rebuilt from the boundary the guard counts: async-graphql parses the
    // header with `mime`, which reads quoting and `;` otherwise than
    // `boundary` does (`boundary="a;b"`), and a guard matching another
    // delimiter than multer splits at would count no parts at all. A bchar
    // boundary quoted is read back verbatim.
    let content_type = format!("multipart/form-data; boundary=\"{boundary}\"");
    let verdict = Arc::new(OnceLock::new());
    let mut guard = Guard::new(limits, datasets, boundary.as_bytes(), verdict.clone());
    let reader = body
        .into_data_stream()
        .map(move |chunk| -> std::io::Result<Bytes> {
            let chunk = chunk.map_err(|e| std::io::Error::other(e.to_string()))?;
            guard.admit(&chunk).map_err(|exceeded| std::io::Error::other(exceeded.to_string()))?;
            Ok(chunk)
        })
        .into_async_read();
    // The per-part cap is multer's, counted exactly as a part streams in;
    // the guard holds `operations` and `map` to the smaller body limit, and
    // files to the file limit unless the request uploads a dataset.
    let largest = datasets.map_or(limits.part_bytes, |d| d.part_bytes.max(limits.part_bytes));
    let options = MultipartOptions::default().max_file_size(largest);
    let parsed = async_graphql::http::receive_batch_body(Some(&content_type), reader, options).await;
    // The guard's refusal reaches the parser as a read error: say which limit it was.
    if let Some(exceeded) = verdict.get() {
        return Err((*exceeded).into());
    }
    match parsed {
        Ok(batch) => Ok(batch),
        Err(ParseRequestError::PayloadTooLarge) => Err(Exceeded::Part(limits.part_bytes).into()),
        Err(ParseRequestError::InvalidMultipart(e)) => {
            Err(UploadError::Invalid(format!("invalid multipart request: {e}")))
        }
        Err(e) => Err(UploadError::Invalid(format!("invalid multipart request: {e}"))),
    }
}

/// Reads the multipart request that `chunks` make up, of `content_type`, as
/// [`receive`] reads a request body (no `Content-Length`): the number of
/// operations, or why it was refused. For fuzzing (`fuzz/`) and tests: no
/// server, no database.
#[doc(hidden)]
pub async fn receive_chunks(content_type: &str, chunks: Vec<Vec<u8>>, limits: UploadLimits) -> Result<usize, String> {
    let chunks = chunks.into_iter().map(|chunk| Ok::<_, std::io::Error>(Bytes::from(chunk)));
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    match receive(&HeaderMap::new(), content_type, body, limits).await {
        Ok(BatchRequest::Single(_)) => Ok(1),
        Ok(BatchRequest::Batch(requests)) => Ok(requests.len()),
        Err(e) => Err(e.to_string()),
    }
}

/// The `boundary` parameter of a `multipart/form-data` content type, unquoted,
/// if it is one RFC 2046 allows: 1 to 70 of its `bchars`, not ending in a
/// space. Anything else (a quote, a backslash, a `;` inside quotes) is
/// refused rather than read one way here and another by the parser.
fn boundary(content_type: &str) -> Option<String> {
    let value = content_type.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim().eq_ignore_ascii_case("boundary").then(|| value.trim())
    })?;
    let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
    let bchar = |b: u8| b.is_ascii_alphanumeric() || b" '()+_,-./:=?".contains(&b);
    // Longer ones only make the scan dearer.
    let allowed = (1..=70).contains(&value.len()) && value.bytes().all(bchar) && !value.ends_with(' ');
    allowed.then(|| value.to_owned())
}

/// Counts the bytes and parts of a body as its chunks pass.
struct Guard {
    limits: UploadLimits,
    datasets: Option<DatasetUploads>,
    read: usize,
    parts: PartCounter,
    framing: PartFraming,
    verdict: Arc<OnceLock<Exceeded>>,
}

impl Guard {
    fn new(
        limits: UploadLimits,
        datasets: Option<DatasetUploads>,
        boundary: &[u8],
        verdict: Arc<OnceLock<Exceeded>>,
    ) -> Self {
        let framing = PartFraming::new(boundary, limits.body_bytes)
            .with_file_limits(limits.part_bytes, datasets.map(|d| d.part_bytes));
        Self { limits, datasets, read: 0, parts: PartCounter::new(boundary), framing, verdict }
    }

    /// Lets `chunk` through, or names the limit it breaks (and remembers it).
    fn admit(&mut self, chunk: &[u8]) -> Result<(), Exceeded> {
        self.read = self.read.saturating_add(chunk.len());
        let parts = self.parts.feed(chunk);
        // The framing reads the chunk before the total is judged: one chunk
        // may hold both the operations naming `uploadDataset` and the file
        // after them (a body that arrives in one piece).
        let body_part_over = self.framing.feed(chunk);
        // As far as the operations read so far tell.
        let total = match self.datasets {
            Some(datasets) if self.framing.uploads_a_dataset() => datasets.total_bytes.max(self.limits.total_bytes),
            _ => self.limits.total_bytes,
        };
        let verdict = if self.read > total {
            Exceeded::Total(total)
        } else if parts > self.limits.files.saturating_add(2) {
            // `operations` and `map` are parts too.
            Exceeded::Files(self.limits.files)
        } else if body_part_over {
            Exceeded::BodyPart(self.limits.body_bytes)
        } else if let Some(file) = self.framing.file_over {
            file
        } else {
            return Ok(());
        };
        let _ = self.verdict.set(verdict);
        Err(verdict)
    }
}

/// Finds a delimiter in a stream of bytes, across chunk edges: a
/// Knuth–Morris–Pratt matcher, so a hostile boundary and body cost one pass.
struct Matcher {
    /// What is looked for; never empty (it holds `--` and the boundary).
    pattern: Vec<u8>,
    /// The longest proper prefix of `pattern[..=i]` that is also its suffix.
    fallback: Vec<usize>,
    /// Bytes of `pattern` matched so far.
    matched: usize,
}

impl Matcher {
    fn new(pattern: Vec<u8>) -> Self {
        let mut fallback = vec![0; pattern.len()];
        let mut k = 0;
        for i in 1..pattern.len() {
            while k > 0 && pattern[i] != pattern[k] {
                k = fallback[k - 1];
            }
            if pattern[i] == pattern[k] {
                k += 1;
            }
            fallback[i] = k;
        }
        Self { pattern, fallback, matched: 0 }
    }

    /// The byte a match starts with: while nothing is matched, the bytes
    /// before the next one of these can be skipped.
    fn first(&self) -> u8 {
        self.pattern[0]
    }

    /// Takes `byte`; whether it completes a match. The match may overlap the
    /// next one; [`Matcher::reset`] when the bytes matched are used up.
    fn step(&mut self, byte: u8) -> bool {
        while self.matched > 0 && self.pattern[self.matched] != byte {
            self.matched = self.fallback[self.matched - 1];
        }
        if self.pattern[self.matched] == byte {
            self.matched += 1;
        }
        if self.matched == self.pattern.len() {
            self.matched = self.fallback[self.matched - 1];
            return true;
        }
        false
    }

    fn reset(&mut self) {
        self.matched = 0;
    }
}

/// Counts the parts a multipart body opens, by the delimiters (`--boundary`)
/// multer splits it at, across chunk edges.
///
/// It over-counts rather than under-counts: every `--boundary` not followed
/// by `--` counts as a part, wherever it is, although multer splits only at
/// the first one and at those after a CRLF once a part's headers have ended.
/// And a closing `--boundary--` does not stop the count: one inside a part's
/// headers or content (no CRLF before it) ends nothing for multer, and a
/// count stopped there let any number of parts after it through. The cost is
/// that delimiters in an epilogue read with the close count too; no client
/// sends one.
struct PartCounter {
    /// `--` and the boundary.
    delimiter: Matcher,
    /// After a delimiter, the dashes of a closing `--` seen so far.
    after: Option<u8>,
    /// Parts opened.
    opened: usize,
}

impl PartCounter {
    fn new(boundary: &[u8]) -> Self {
        Self { delimiter: Matcher::new([&b"--"[..], boundary].concat()), after: None, opened: 0 }
    }

    /// Scans `chunk`; returns the parts opened so far.
    fn feed(&mut self, chunk: &[u8]) -> usize {
        let mut i = 0;
        while i < chunk.len() {
            // Between delimiters, skip to the next byte that could start one.
            if self.delimiter.matched == 0 && self.after.is_none() {
                let first = self.delimiter.first();
                match chunk[i..].iter().position(|&b| b == first) {
                    Some(offset) => i += offset,
                    None => break,
                }
            }
            let byte = chunk[i];
            i += 1;
            if let Some(dashes) = self.after.take() {
                if byte != b'-' {
                    self.opened += 1;
                } else if dashes == 0 {
                    self.after = Some(1);
                }
                // `--boundary--`: a close, or text that looks like one; the
                // count goes on either way (see the type's documentation).
            }
            if self.delimiter.step(byte) {
                self.after = Some(0);
            }
        }
        self.opened
    }
}

/// The most bytes of one part's headers kept to read its name; a part with
/// more is held to the body limit, whatever its name.
const HEADER_BLOCK_CAP: usize = 8 * 1024;

/// Follows a multipart body as multer frames it, to hold the content of
/// `operations` and `map` to the body limit (multer's one per-part limit is
/// the files'). multer skips a preamble up to the first `--boundary`; after
/// each delimiter, `--` ends the body, else spaces or tabs and a CRLF open a
/// part, whose headers end at the first CRLF CRLF and whose content ends at
/// the first CRLF `--boundary`. Those are the rules followed here, byte by
/// byte across chunk edges.
///
/// It errs towards the body limit, never away from it: a part counts as
/// `operations` or `map` if any header line could name it so as multer reads
/// a `Content-Disposition` ([`may_name_a_body_part`]), or if its headers are
/// longer than [`HEADER_BLOCK_CAP`]; and whatever follows what multer would
/// refuse as malformed is held to the body limit as if it were such a part.
struct PartFraming {
    /// `--boundary`: the first one ends the preamble.
    opening: Matcher,
    /// CRLF `--boundary`: ends a part's content.
    closing: Matcher,
    stage: Stage,
    /// The headers of the part being opened, up to [`HEADER_BLOCK_CAP`] and one byte.
    headers: Vec<u8>,
    /// Bytes of the CRLF CRLF that ends the headers matched so far.
    header_end: usize,
    body_bytes: usize,
    /// What a file may have, and a dataset upload's file (when the caller
    /// allows dataset uploads).
    file_bytes: usize,
    dataset_file_bytes: Option<usize>,
    /// The content of the part held to the body limit being read (to look
    /// for `uploadDataset` in `operations`), when dataset uploads are allowed.
    held_content: Vec<u8>,
    /// A part held to the body limit named `uploadDataset`.
    dataset: bool,
    /// The limit a file went over.
    file_over: Option<Exceeded>,
}

/// Where in the body [`PartFraming`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Before the first `--boundary`.
    Preamble,
    /// Just after a delimiter; `dash` if a first `-` of a close came.
    Delimited { dash: bool },
    /// Transport padding (spaces, tabs) before the CRLF that opens a part;
    /// `cr` once its CR came.
    Padding { cr: bool },
    /// A part's headers.
    Headers,
    /// A part's content: bytes taken so far (the closing delimiter's partial
    /// match included), and whether it is held to the body limit.
    Content { held: bool, taken: usize },
    /// After the close: multer reads no further.
    Closed,
    /// After what multer refuses: bytes since, all held to the body limit.
    Malformed { taken: usize },
}

impl PartFraming {
    fn new(boundary: &[u8], body_bytes: usize) -> Self {
        Self {
            opening: Matcher::new([&b"--"[..], boundary].concat()),
            closing: Matcher::new([&b"\r\n--"[..], boundary].concat()),
            stage: Stage::Preamble,
            headers: Vec::new(),
            header_end: 0,
            body_bytes,
            file_bytes: usize::MAX,
            dataset_file_bytes: None,
            held_content: Vec::new(),
            dataset: false,
            file_over: None,
        }
    }

    /// Holds files to `file_bytes`, or to `dataset_file_bytes` once a part
    /// held to the body limit (`operations`) named `uploadDataset`.
    fn with_file_limits(mut self, file_bytes: usize, dataset_file_bytes: Option<usize>) -> Self {
        self.file_bytes = file_bytes;
        self.dataset_file_bytes = dataset_file_bytes;
        self
    }

    /// Whether the request's operations, as far as read, upload a dataset.
    fn uploads_a_dataset(&self) -> bool {
        self.dataset
    }

    /// What a file may have now, and the refusal when it has more.
    fn file_limit(&self) -> (usize, Exceeded) {
        match self.dataset_file_bytes {
            Some(limit) if self.dataset => (limit, Exceeded::DatasetPart(limit)),
            _ => (self.file_bytes, Exceeded::Part(self.file_bytes)),
        }
    }

    /// Keeps `bytes` of a held part's content (bounded: such a part over
    /// the body limit is refused).
    fn keep(&mut self, bytes: &[u8]) {
        if self.dataset_file_bytes.is_some() && self.held_content.len() <= self.body_bytes.saturating_add(256) {
            self.held_content.extend_from_slice(bytes);
        }
    }

    /// A held part ended: did it name `uploadDataset`?
    fn held_part_ended(&mut self) {
        const FIELD: &[u8] = b"uploadDataset";
        if self.held_content.windows(FIELD.len()).any(|w| w == FIELD) {
            self.dataset = true;
        }
        self.held_content.clear();
    }

    /// Follows `chunk`; whether a part held to the body limit went over it.
    fn feed(&mut self, chunk: &[u8]) -> bool {
        const HEADER_END: &[u8; 4] = b"\r\n\r\n";
        let mut i = 0;
        while i < chunk.len() {
            match self.stage {
                Stage::Preamble => {
                    if self.opening.matched == 0 {
                        let first = self.opening.first();
                        match chunk[i..].iter().position(|&b| b == first) {
                            Some(offset) => i += offset,
                            None => return false,
                        }
                    }
                    let byte = chunk[i];
                    i += 1;
                    if self.opening.step(byte) {
                        self.opening.reset();
                        self.stage = Stage::Delimited { dash: false };
                    }
                }
                // multer peeks at two bytes: `--` closes, anything else is padding.
                Stage::Delimited { dash } => match (dash, chunk[i]) {
                    (false, b'-') => {
                        i += 1;
                        self.stage = Stage::Delimited { dash: true };
                    }
                    // Not taken: the padding reads it.
                    (false, _) => self.stage = Stage::Padding { cr: false },
                    (true, b'-') => self.stage = Stage::Closed,
                    // `-x` is padding that is not followed by a CRLF.
                    (true, _) => self.stage = Stage::Malformed { taken: 0 },
                },
                Stage::Padding { cr } => {
                    let byte = chunk[i];
                    i += 1;
                    self.stage = match (cr, byte) {
                        (false, b' ' | b'\t') => Stage::Padding { cr: false },
                        (false, b'\r') => Stage::Padding { cr: true },
                        (true, b'\n') => {
                            self.headers.clear();
                            self.header_end = 0;
                            Stage::Headers
                        }
                        _ => Stage::Malformed { taken: 0 },
                    };
                }
                Stage::Headers => {
                    let byte = chunk[i];
                    i += 1;
                    if self.headers.len() <= HEADER_BLOCK_CAP {
                        self.headers.push(byte);
                    }
                    self.header_end = if byte == HEADER_END[self.header_end] {
                        self.header_end + 1
                    } else {
                        usize::from(byte == b'\r')
                    };
                    if self.header_end == HEADER_END.len() {
                        let held = self.headers.len() > HEADER_BLOCK_CAP || may_name_a_body_part(&self.headers);
                        self.closing.reset();
                        self.held_content.clear();
                        self.stage = Stage::Content { held, taken: 0 };
                    }
                }
                Stage::Content { held, mut taken } => {
                    if self.closing.matched == 0 {
                        // Content up to the next byte that could start the delimiter.
                        let first = self.closing.first();
                        let skipped = chunk[i..].iter().position(|&b| b == first).unwrap_or(chunk.len() - i);
                        if held {
                            self.keep(&chunk[i..i + skipped]);
                        }
                        i += skipped;
                        taken = taken.saturating_add(skipped);
                    }
                    if let Some(&byte) = chunk.get(i) {
                        i += 1;
                        taken = taken.saturating_add(1);
                        if held {
                            self.keep(&[byte]);
                        }
                        if self.closing.step(byte) {
                            // Its content was counted before the delimiter's last byte.
                            self.closing.reset();
                            if held {
                                self.held_part_ended();
                            }
                            self.stage = Stage::Delimited { dash: false };
                            continue;
                        }
                    }
                    // Bytes of a partial delimiter may still turn out to be content.
                    let content = taken.saturating_sub(self.closing.matched);
                    if held && content > self.body_bytes {
                        return true;
                    }
                    let (file_limit, over) = self.file_limit();
                    if !held && content > file_limit {
                        self.file_over = Some(over);
                        return false;
                    }
                    self.stage = Stage::Content { held, taken };
                }
                Stage::Closed => return false,
                Stage::Malformed { taken } => {
                    let taken = taken.saturating_add(chunk.len() - i);
                    self.stage = Stage::Malformed { taken };
                    return taken > self.body_bytes;
                }
            }
        }
        false
    }
}

/// Whether multer could read a part with the header block `headers` as
/// named `operations` or `map`, the two parts async-graphql reads into
/// memory. multer takes the `name` parameter of the last
/// `Content-Disposition` header: the first `name` (case-sensitive) at the
/// value's start or after whitespace or `;`, then `=`, then a quoted string
/// (to the first unescaped `"`) or a token (to a `;` or space), whitespace
/// trimmed around `=`. This looks wider, so that it can only say yes more
/// often: at every `name` in any header (any case, also after a `:`), and
/// it ends a token at any whitespace too.
fn may_name_a_body_part(headers: &[u8]) -> bool {
    const KEY: &[u8] = b"name";
    fn trimmed(bytes: &[u8]) -> &[u8] {
        let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
        &bytes[start..]
    }
    let mut from = 0;
    while let Some(offset) = headers[from..].windows(KEY.len()).position(|w| w.eq_ignore_ascii_case(KEY)) {
        let at = from + offset;
        from = at + 1;
        let starts_a_word = at == 0 || matches!(headers[at - 1], b';' | b':') || headers[at - 1].is_ascii_whitespace();
        if !starts_a_word {
            continue;
        }
        let Some(value) = trimmed(&headers[at + KEY.len()..]).strip_prefix(b"=") else { continue };
        let value = trimmed(value);
        let (value, quoted) = match value.strip_prefix(b"\"") {
            Some(value) => (value, true),
            None => (value, false),
        };
        for name in [&b"operations"[..], b"map"] {
            let Some(after) = value.strip_prefix(name) else { continue };
            let ends = match after.first() {
                None => true,
                Some(&byte) if quoted => byte == b'"',
                Some(&byte) => byte == b';' || byte.is_ascii_whitespace(),
            };
            if ends {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::{
        DatasetUploads, PartCounter, PartFraming, UploadError, UploadLimits, may_name_a_body_part, receive_chunks,
        receive_with,
    };

    fn body(parts: usize) -> Vec<u8> {
        let mut body = Vec::new();
        for n in 0..parts {
            body.extend_from_slice(
                format!("--xyz\r\nContent-Disposition: form-data; name=\"{n}\"\r\n\r\n--x-y--\r\n").as_bytes(),
            );
        }
        body.extend_from_slice(b"--xyz--\r\n");
        body
    }

    #[test]
    fn counts_parts_across_chunk_edges() {
        let whole = body(4);
        for size in [1, 2, 3, 7, whole.len()] {
            let mut counter = PartCounter::new(b"xyz");
            let mut opened = 0;
            for chunk in whole.chunks(size) {
                opened = counter.feed(chunk);
            }
            assert_eq!(opened, 4, "chunks of {size}");
        }
    }

    #[test]
    fn a_close_inside_a_part_does_not_end_the_count() {
        // multer ends the body only at a CRLF and `--xyz--`; in a header or
        // a file's content it is text, and the parts after it are parts.
        let body = b"--xyz\r\nX: --xyz--\r\n\r\na--xyz--\r\n--xyz\r\n\r\nb\r\n--xyz\r\n\r\nc\r\n--xyz--\r\n";
        assert_eq!(PartCounter::new(b"xyz").feed(body), 3);
    }

    #[test]
    fn a_self_overlapping_boundary_is_matched() {
        let mut counter = PartCounter::new(b"-a-");
        assert_eq!(counter.feed(b"----a-\r\nx\r\n----a-\r\ny\r\n----a---"), 2);
    }

    const LIMITS: UploadLimits = UploadLimits { total_bytes: 64 * 1024, part_bytes: 1024, body_bytes: 256, files: 2 };
    const CONTENT_TYPE: &str = "multipart/form-data; boundary=X-BOUNDARY";

    /// A GraphQL multipart request: `operations`, an empty `map` (files it
    /// does not name are read and dropped), then one file of each content.
    fn request(boundary: &str, files: &[&str]) -> Vec<u8> {
        let files: Vec<(String, &[u8])> = files
            .iter()
            .enumerate()
            .map(|(n, content)| (format!("name=\"{n}\"; filename=\"f{n}\""), content.as_bytes()))
            .collect();
        let mut parts = vec![("name=\"operations\"".to_owned(), OPERATIONS), ("name=\"map\"".to_owned(), &b"{}"[..])];
        parts.extend(files);
        parts_body(boundary, &parts)
    }

    /// `{ __typename }` as a JSON body.
    const OPERATIONS: &[u8] = br#"{"query":"{ __typename }"}"#;

    /// A multipart body of `parts` (a `Content-Disposition`'s parameters and
    /// the content), in that order.
    fn parts_body(boundary: &str, parts: &[(String, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (disposition, content) in parts {
            let head = format!("--{boundary}\r\nContent-Disposition: form-data; {disposition}\r\n\r\n");
            body.extend_from_slice(head.as_bytes());
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        body
    }

    /// `{ __typename }` padded with JSON whitespace to `size` bytes.
    fn operations_of(size: usize) -> Vec<u8> {
        let mut operations = OPERATIONS.to_vec();
        operations.resize(size, b' ');
        operations
    }

    fn chunks(body: &[u8], size: usize) -> Vec<Vec<u8>> {
        body.chunks(size).map(<[u8]>::to_vec).collect()
    }

    #[tokio::test]
    async fn a_valid_request_is_one_operation_however_it_is_chunked() {
        let body = request("X-BOUNDARY", &["a file"]);
        for size in [1, 2, 7, 64, body.len()] {
            assert_eq!(receive_chunks(CONTENT_TYPE, chunks(&body, size), LIMITS).await, Ok(1), "chunks of {size}");
        }
        let quoted = "multipart/form-data; boundary=\"X-BOUNDARY\"";
        assert_eq!(receive_chunks(quoted, vec![body], LIMITS).await, Ok(1));
    }

    #[tokio::test]
    async fn garbage_is_refused_without_a_panic() {
        let body = request("X-BOUNDARY", &[]);
        let half = body.get(..body.len() / 2).unwrap_or_default().to_vec();
        let closed_at_once = vec![vec![0xff; 300], b"--X-BOUNDARY--".to_vec()];
        for sent in [vec![], vec![b"garbage".to_vec()], vec![half], closed_at_once] {
            let refused = receive_chunks(CONTENT_TYPE, sent.clone(), LIMITS).await;
            assert!(refused.is_err(), "{sent:?}: {refused:?}");
        }
        for content_type in ["text/plain", "multipart/form-data", "multipart/form-data; boundary=", "a;boundary=\"\""] {
            let refused = receive_chunks(content_type, vec![body.clone()], LIMITS).await;
            assert!(refused.is_err(), "{content_type}: {refused:?}");
        }
    }

    #[tokio::test]
    async fn files_after_a_close_inside_a_part_still_count() {
        // Counted as far as the first file's content only, this passed.
        let body = request("X-BOUNDARY", &["a--X-BOUNDARY--", "b", "c", "d"]);
        let refused = receive_chunks(CONTENT_TYPE, vec![body], LIMITS).await;
        assert!(refused.as_ref().is_err_and(|m| m.contains("graphql.max_upload_files")), "{refused:?}");
    }

    #[tokio::test]
    async fn a_boundary_the_parser_would_read_otherwise_is_refused() {
        // async-graphql reads `a;b` here, and the guard read `"a`: it
        // counted no parts at all.
        let body = request("a;b", &["a", "b", "c", "d"]);
        let refused = receive_chunks("multipart/form-data; boundary=\"a;b\"", vec![body], LIMITS).await;
        assert!(refused.is_err(), "{refused:?}");
        // async-graphql reads `a` here, and the guard `b`; now both read `b`.
        let body = request("a", &["a", "b", "c", "d"]);
        let refused = receive_chunks("multipart/form-data; x=\"q;boundary=b;\"; boundary=a", vec![body], LIMITS).await;
        assert!(refused.is_err(), "{refused:?}");
    }

    #[tokio::test]
    async fn operations_and_map_are_held_to_the_body_limit_however_they_are_chunked() {
        let limit = LIMITS.body_bytes;
        let file = "f".repeat(LIMITS.part_bytes);
        for (name, content) in [
            ("operations", operations_of(limit)),
            ("map", b"{}".iter().copied().chain(std::iter::repeat_n(b' ', limit - 2)).collect::<Vec<u8>>()),
        ] {
            let mut over = content.clone();
            over.push(b' ');
            for (content, accepted) in [(content, true), (over, false)] {
                let (operations, map) =
                    if name == "operations" { (content, b"{}".to_vec()) } else { (OPERATIONS.to_vec(), content) };
                // A file over the body limit (within its own) passes.
                let parts = [
                    ("name=\"operations\"".to_owned(), &operations[..]),
                    ("name=\"map\"".to_owned(), &map[..]),
                    ("name=\"0\"; filename=\"f\"".to_owned(), file.as_bytes()),
                ];
                let body = parts_body("X-BOUNDARY", &parts);
                for size in [1, 3, 64, body.len()] {
                    let read = receive_chunks(CONTENT_TYPE, chunks(&body, size), LIMITS).await;
                    if accepted {
                        assert_eq!(read, Ok(1), "{name} at the limit, chunks of {size}");
                    } else {
                        let expected = format!("exceeds {limit} bytes (graphql.max_body_bytes)");
                        assert!(
                            read.as_ref().is_err_and(|m| m.contains(&expected)),
                            "{name} over, chunks of {size}: {read:?}"
                        );
                    }
                }
            }
        }
    }

    #[tokio::test]
    async fn operations_after_the_files_or_oddly_named_are_held_too() {
        let over = operations_of(LIMITS.body_bytes + 1);
        let file = &b"a file"[..];
        for disposition in
            ["name=operations", "name = \"operations\"", "x=1;name=operations; filename=\"o\"", "NAME=operations"]
        {
            let parts = [
                ("name=\"0\"; filename=\"f\"".to_owned(), file),
                ("name=\"map\"".to_owned(), &b"{}"[..]),
                (disposition.to_owned(), &over[..]),
            ];
            let read = receive_chunks(CONTENT_TYPE, vec![parts_body("X-BOUNDARY", &parts)], LIMITS).await;
            assert!(read.as_ref().is_err_and(|m| m.contains("graphql.max_body_bytes")), "{disposition}: {read:?}");
        }
        // A delimiter inside `operations` without the CRLF before it opens
        // no part for multer, however like a file part what follows looks:
        // all of it is still `operations`.
        let mut smuggled = OPERATIONS.to_vec();
        smuggled
            .extend_from_slice(b"--X-BOUNDARY\r\nContent-Disposition: form-data; name=\"0\"; filename=\"f\"\r\n\r\n");
        smuggled.resize(LIMITS.body_bytes + 1, b' ');
        let parts = [("name=\"operations\"".to_owned(), &smuggled[..]), ("name=\"map\"".to_owned(), &b"{}"[..])];
        let read = receive_chunks(CONTENT_TYPE, vec![parts_body("X-BOUNDARY", &parts)], LIMITS).await;
        assert!(read.as_ref().is_err_and(|m| m.contains("graphql.max_body_bytes")), "{read:?}");
    }

    #[test]
    fn a_name_is_read_at_least_as_multer_reads_it() {
        let body_parts = [
            "Content-Disposition: form-data; name=\"operations\"\r\n\r\n",
            "Content-Disposition: form-data; name=map\r\n\r\n",
            "content-disposition:name=map;filename=x\r\n\r\n",
            "Content-Disposition: form-data; filename=\"a\"; name  =  \"map\"\r\n\r\n",
            "Content-Disposition: form-data; name=\"0\"\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n",
        ];
        for headers in body_parts {
            assert!(may_name_a_body_part(headers.as_bytes()), "{headers:?}");
        }
        let files = [
            "Content-Disposition: form-data; name=\"0\"; filename=\"map\"\r\n\r\n",
            "Content-Disposition: form-data; name=\"mapping\"; filename=\"operations.json\"\r\n\r\n",
            "Content-Disposition: form-data; name=\"map\\\"\"; filename=\"x\"\r\n\r\n",
            "Content-Disposition: form-data; name=maps\r\n\r\n",
        ];
        for headers in files {
            assert!(!may_name_a_body_part(headers.as_bytes()), "{headers:?}");
        }
    }

    /// A request whose operations name `uploadDataset`, one file of `size`.
    fn dataset_request(query: &str, size: usize) -> Vec<u8> {
        let operations = format!(r#"{{"query":"{query}","variables":{{"f":null}}}}"#);
        let file = vec![b'a'; size];
        let parts = [
            ("name=\"operations\"".to_owned(), operations.as_bytes()),
            ("name=\"map\"".to_owned(), &br#"{"0":["variables.f"]}"#[..]),
            ("name=\"0\"; filename=\"d.csv\"".to_owned(), &file[..]),
        ];
        parts_body("X-BOUNDARY", &parts)
    }

    async fn receive_dataset(body: Vec<u8>, chunk: usize) -> Result<(), String> {
        let datasets = DatasetUploads { part_bytes: 4096, total_bytes: 64 * 1024 };
        let chunks = chunks(&body, chunk).into_iter().map(|c| Ok::<_, std::io::Error>(axum::body::Bytes::from(c)));
        let body = axum::body::Body::from_stream(futures_util::stream::iter(chunks));
        let headers = axum::http::HeaderMap::new();
        match receive_with(&headers, CONTENT_TYPE, body, LIMITS, Some(datasets)).await {
            Ok(_) => Ok(()),
            Err(UploadError::Exceeded(e)) => Err(e.to_string()),
            Err(UploadError::Invalid(e)) => Err(format!("invalid: {e}")),
        }
    }

    #[tokio::test]
    async fn a_dataset_upload_has_the_dataset_limit_and_other_requests_keep_theirs() {
        let upload = "mutation($f: Upload!) { uploadDataset(name: \\\"d\\\", file: $f) { id } }";
        let other = "mutation($f: Upload!) { uploadDocument(collectionId: \\\"c\\\", file: $f) { id } }";
        for chunk in [7, 512, 64 * 1024] {
            // Over the file limit (1024), within the dataset limit (4096): only a dataset upload passes.
            assert_eq!(receive_dataset(dataset_request(upload, 4096), chunk).await, Ok(()), "chunks of {chunk}");
            let refused = receive_dataset(dataset_request(other, 1025), chunk).await;
            assert!(refused.as_ref().is_err_and(|m| m.contains("graphql.max_upload_bytes")), "{refused:?}");
            let over = receive_dataset(dataset_request(upload, 4097), chunk).await;
            let expected = "exceeds 4096 bytes (datasets.max_upload_bytes)";
            assert!(over.as_ref().is_err_and(|m| m.contains(expected)), "chunks of {chunk}: {over:?}");
        }
        // Without the dataset limits (the fuzzed path), files keep the file limit.
        let plain = receive_chunks(CONTENT_TYPE, vec![dataset_request(upload, 1025)], LIMITS).await;
        assert!(plain.as_ref().is_err_and(|m| m.contains("graphql.max_upload_bytes")), "{plain:?}");
    }

    #[tokio::test]
    async fn a_dataset_upload_in_one_chunk_has_the_dataset_total() {
        // Over the usual whole-request limit (64 KiB), in a single chunk
        // that holds the operations and the file both.
        let upload = "mutation($f: Upload!) { uploadDataset(name: \\\"d\\\", file: $f) { id } }";
        let datasets = DatasetUploads { part_bytes: 200 * 1024, total_bytes: 256 * 1024 };
        let body = dataset_request(upload, 100 * 1024);
        let headers = axum::http::HeaderMap::new();
        let received = receive_with(&headers, CONTENT_TYPE, axum::body::Body::from(body), LIMITS, Some(datasets)).await;
        assert!(received.is_ok(), "{:?}", received.err().map(|e| e.to_string()));
    }

    #[test]
    fn headers_longer_than_the_cap_are_held_to_the_body_limit() {
        let mut framing = PartFraming::new(b"B", 8);
        let long = format!(
            "--B\r\nX-Pad: {}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"f\"\r\n\r\n",
            "p".repeat(super::HEADER_BLOCK_CAP)
        );
        assert!(!framing.feed(long.as_bytes()));
        assert!(!framing.feed(b"12345678"));
        assert!(framing.feed(b"9"));
        // A part named a file is not.
        let mut framing = PartFraming::new(b"B", 8);
        assert!(
            !framing
                .feed(b"--B\r\nContent-Disposition: form-data; name=\"0\"; filename=\"f\"\r\n\r\n123456789\r\n--B--")
        );
    }
}
