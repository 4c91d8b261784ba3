//! The multipart reader behind `POST /graphql` (the streaming guard in front
//! of async-graphql's multipart parser) on any body, arriving in chunks of
//! any size. It must never panic or stall (run with `-timeout`), and what it
//! reads must be within the file limit: counted as multer splits the body,
//! a request it accepts has at most `files` parts besides `operations` and
//! `map`.
//!
//! The first input byte steers the rest:
//! - bits 0–2: the chunk size, from [`CHUNK_SIZES`];
//! - bit 4: put [`PREFIX`] (a valid `operations` and `map`) before the body,
//!   so that mutations start where a file part may follow;
//! - bit 5: the content type is the input up to its first newline (at most
//!   128 bytes), and the body what follows; the file count is not checked,
//!   as its boundary is not known here;
//! - bit 6: otherwise, `boundary="X-BOUNDARY"` quoted rather than bare.

#![no_main]

use std::sync::OnceLock;

use alatar_server::{receive_chunks, UploadLimits};
use libfuzzer_sys::fuzz_target;
use tokio::runtime::{Builder, Runtime};

const BOUNDARY: &str = "X-BOUNDARY";

/// Small, so that inputs of libFuzzer's default length (4 KiB) reach each limit.
const LIMITS: UploadLimits = UploadLimits { total_bytes: 3 * 1024, part_bytes: 512, files: 2, body_bytes: 256 };

const CHUNK_SIZES: [usize; 8] = [1, 2, 3, 7, 16, 64, 512, usize::MAX];

/// `operations` (one query) and a `map` that names no file: any file parts
/// after it are read and dropped, and a closing delimiter makes it valid.
const PREFIX: &[u8] = b"--X-BOUNDARY\r\n\
Content-Disposition: form-data; name=\"operations\"\r\n\r\n\
{\"query\":\"{ __typename }\"}\r\n\
--X-BOUNDARY\r\n\
Content-Disposition: form-data; name=\"map\"\r\n\r\n\
{}\r\n";

/// One runtime for every input: `receive_chunks` needs no timer or I/O driver.
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Builder::new_current_thread().build().expect("a current-thread runtime"))
}

/// Where `needle` first occurs in `haystack` at or after `from`.
fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack.get(from..)?.windows(needle.len()).position(|window| window == needle).map(|at| from + at)
}

/// The parts of `body` as multer splits it: the first `--boundary` anywhere,
/// then each one after a CRLF, until one is followed by `--` (the close).
/// Never fewer than multer finds (it also passes over delimiters inside a
/// part's headers), which is the direction the assertion needs: every
/// delimiter counted here the guard counts too, and it has seen them all
/// once multer has read the close.
fn parts_as_multer_splits(body: &[u8], boundary: &[u8]) -> usize {
    let delimiter = [&b"--"[..], boundary].concat();
    let after_line = [&b"\r\n--"[..], boundary].concat();
    let Some(first) = find(body, &delimiter, 0) else { return 0 };
    let mut at = first + delimiter.len();
    let mut parts = 0;
    loop {
        if body.get(at..at + 2) == Some(&b"--"[..]) {
            return parts;
        }
        parts += 1;
        match find(body, &after_line, at) {
            Some(next) => at = next + after_line.len(),
            None => return parts,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else { return };
    let chunk_size = CHUNK_SIZES[usize::from(control & 0x07)];
    let fuzzed_type = control & 0x20 != 0;
    let (content_type, rest) = if fuzzed_type {
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len()).min(128);
        let content_type = String::from_utf8_lossy(&rest[..end]).into_owned();
        (content_type, rest.get(end + 1..).unwrap_or_default())
    } else if control & 0x40 != 0 {
        (format!("multipart/form-data; boundary=\"{BOUNDARY}\""), rest)
    } else {
        (format!("multipart/form-data; boundary={BOUNDARY}"), rest)
    };
    let mut body = Vec::with_capacity(PREFIX.len() + rest.len());
    if control & 0x10 != 0 {
        body.extend_from_slice(PREFIX);
    }
    body.extend_from_slice(rest);
    let chunks: Vec<Vec<u8>> = body.chunks(chunk_size).map(<[u8]>::to_vec).collect();
    let read = runtime().block_on(receive_chunks(&content_type, chunks, LIMITS));
    if read.is_ok() && !fuzzed_type {
        let parts = parts_as_multer_splits(&body, BOUNDARY.as_bytes());
        assert!(
            parts <= LIMITS.files + 2,
            "read a request of {parts} parts; at most {} files and `operations` and `map` may pass",
            LIMITS.files
        );
    }
});
