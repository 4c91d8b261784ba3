//! GraphQL multipart requests (uploads) held to their limits while the body
//! streams. async-graphql's parser caps each part, but neither the request as
//! a whole nor the number of files, and it holds every file in memory: a
//! request of many parts under the per-part cap was read in full. So a guard
//! sits between the socket and the parser, counting bytes and parts, and ends
//! the body at the first chunk over a limit; nothing after it is read. The
//! parser is handed the boundary the guard counts by, so the two cannot read
//! one content type two ways.

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
    /// Bytes of one part's content (a file, `operations` or `map`).
    pub part_bytes: usize,
    /// Parts besides `operations` and `map`.
    pub files: usize,
}

impl UploadLimits {
    /// The limits `config` sets.
    pub fn new(config: &GraphqlConfig) -> Self {
        Self {
            total_bytes: config.multipart_limit(),
            part_bytes: config.max_upload_bytes,
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
    // A declared length over the limit is refused before a byte is read.
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.total_bytes as u64) {
        return Err(Exceeded::Total(limits.total_bytes).into());
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
    let mut guard = Guard::new(limits, boundary.as_bytes(), verdict.clone());
    let reader = body
        .into_data_stream()
        .map(move |chunk| -> std::io::Result<Bytes> {
            let chunk = chunk.map_err(|e| std::io::Error::other(e.to_string()))?;
            guard.admit(&chunk).map_err(|exceeded| std::io::Error::other(exceeded.to_string()))?;
            Ok(chunk)
        })
        .into_async_read();
    // The per-part cap is multer's, counted exactly as a part streams in.
    let options = MultipartOptions::default().max_file_size(limits.part_bytes);
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
    read: usize,
    parts: PartCounter,
    verdict: Arc<OnceLock<Exceeded>>,
}

impl Guard {
    fn new(limits: UploadLimits, boundary: &[u8], verdict: Arc<OnceLock<Exceeded>>) -> Self {
        Self { limits, read: 0, parts: PartCounter::new(boundary), verdict }
    }

    /// Lets `chunk` through, or names the limit it breaks (and remembers it).
    fn admit(&mut self, chunk: &[u8]) -> Result<(), Exceeded> {
        self.read = self.read.saturating_add(chunk.len());
        let verdict = if self.read > self.limits.total_bytes {
            Exceeded::Total(self.limits.total_bytes)
        } else if self.parts.feed(chunk) > self.limits.files.saturating_add(2) {
            // `operations` and `map` are parts too.
            Exceeded::Files(self.limits.files)
        } else {
            return Ok(());
        };
        let _ = self.verdict.set(verdict);
        Err(verdict)
    }
}

/// Counts the parts a multipart body opens, by the delimiters (`--boundary`)
/// multer splits it at, across chunk edges: a Knuth–Morris–Pratt matcher, so
/// a hostile boundary and body cost one pass over the bytes.
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
    delimiter: Vec<u8>,
    /// KMP failure function: the longest proper prefix of `delimiter[..=i]`
    /// that is also its suffix.
    fallback: Vec<usize>,
    /// Bytes of `delimiter` matched so far.
    matched: usize,
    /// After a delimiter, the dashes of a closing `--` seen so far.
    after: Option<u8>,
    /// Parts opened.
    opened: usize,
}

impl PartCounter {
    fn new(boundary: &[u8]) -> Self {
        let mut delimiter = b"--".to_vec();
        delimiter.extend_from_slice(boundary);
        let mut fallback = vec![0; delimiter.len()];
        let mut k = 0;
        for i in 1..delimiter.len() {
            while k > 0 && delimiter[i] != delimiter[k] {
                k = fallback[k - 1];
            }
            if delimiter[i] == delimiter[k] {
                k += 1;
            }
            fallback[i] = k;
        }
        Self { delimiter, fallback, matched: 0, after: None, opened: 0 }
    }

    /// Scans `chunk`; returns the parts opened so far.
    fn feed(&mut self, chunk: &[u8]) -> usize {
        let mut i = 0;
        while i < chunk.len() {
            // Between delimiters, skip to the next byte that could start one.
            if self.matched == 0 && self.after.is_none() {
                match chunk[i..].iter().position(|&b| b == b'-') {
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
            while self.matched > 0 && self.delimiter[self.matched] != byte {
                self.matched = self.fallback[self.matched - 1];
            }
            if self.delimiter[self.matched] == byte {
                self.matched += 1;
            }
            if self.matched == self.delimiter.len() {
                self.matched = self.fallback[self.matched - 1];
                self.after = Some(0);
            }
        }
        self.opened
    }
}

#[cfg(test)]
mod tests {
    use super::{PartCounter, UploadLimits, receive_chunks};

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

    const LIMITS: UploadLimits = UploadLimits { total_bytes: 64 * 1024, part_bytes: 1024, files: 2 };
    const CONTENT_TYPE: &str = "multipart/form-data; boundary=X-BOUNDARY";

    /// A GraphQL multipart request: `operations`, an empty `map` (files it
    /// does not name are read and dropped), then one file of each content.
    fn request(boundary: &str, files: &[&str]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut part = |disposition: &str, content: &[u8]| {
            let head = format!("--{boundary}\r\nContent-Disposition: form-data; {disposition}\r\n\r\n");
            body.extend_from_slice(head.as_bytes());
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        };
        part("name=\"operations\"", br#"{"query":"{ __typename }"}"#);
        part("name=\"map\"", b"{}");
        for (n, content) in files.iter().enumerate() {
            part(&format!("name=\"{n}\"; filename=\"f{n}\""), content.as_bytes());
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        body
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
}
