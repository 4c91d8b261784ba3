//! An upload's text, page by page. The kind comes from the bytes, not the
//! name ([`sniff`]); the name only tells Markdown from plain text. A PDF is
//! hostile until read: `lopdf` runs on a blocking thread (two at a time per
//! process), inside `catch_unwind`, under a time limit, with caps on pages,
//! decompressed bytes and extracted characters. Every refusal is an
//! [`ExtractError`] whose message a merchant understands.

mod html;
mod markdown;
mod pdf;
#[doc(hidden)]
pub mod samples;
mod sniff;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use tokio::sync::Semaphore;

pub use sniff::{DocumentKind, sniff};

/// One page of extracted text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// 1-based page number of a PDF; `None` for unpaginated text.
    pub number: Option<u32>,
    /// The page's text; chunk offsets point into it.
    pub text: String,
}

/// A document's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// What the bytes are.
    pub kind: DocumentKind,
    /// For a PDF one per page, empty pages included; else one.
    pub pages: Vec<Page>,
}

/// Bounds on the work one document may cost.
#[derive(Debug, Clone, Copy)]
pub struct ExtractLimits {
    /// Most pages a PDF may have.
    pub max_pages: usize,
    /// Most bytes a PDF's streams may expand to (decompression bombs).
    pub max_decompressed_bytes: usize,
    /// Most characters of text a document may yield.
    pub max_chars: usize,
    /// Longest a PDF may take to read.
    pub time_limit: Duration,
}

impl Default for ExtractLimits {
    fn default() -> Self {
        Self {
            max_pages: 500,
            max_decompressed_bytes: 64 * 1024 * 1024,
            max_chars: 5_000_000,
            time_limit: Duration::from_secs(30),
        }
    }
}

/// Why a document yields no text; the message is for the merchant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// Zero bytes.
    #[error("the file is empty")]
    Empty,
    /// Not a kind we read; `kind` names what it is.
    #[error("the file is {kind}, which cannot be read: upload a PDF, Markdown, HTML or plain-text file")]
    Unsupported {
        /// What the bytes are, e.g. `a PNG image`.
        kind: &'static str,
    },
    /// A user password protects it.
    #[error(
        "the PDF is password-protected: remove the password (for example by printing it to a new PDF) and upload it again"
    )]
    Encrypted,
    /// Not a readable PDF; `detail` is for the logs.
    #[error("the PDF could not be read: the file is damaged or incomplete")]
    Corrupt {
        /// What the parser said.
        detail: String,
    },
    /// Pages without text, as a scan is.
    #[error(
        "the PDF has no selectable text (it looks like a scan or pictures of pages): run it through text recognition (OCR) and upload the result"
    )]
    NoText,
    /// Text files, or PDFs, that hold nothing but whitespace or markup.
    #[error("the document contains no text")]
    NoContent,
    /// Over [`ExtractLimits::max_pages`].
    #[error("the PDF has {pages} pages; at most {limit} can be read: split it and upload the parts")]
    TooManyPages {
        /// Pages it has.
        pages: usize,
        /// The cap.
        limit: usize,
    },
    /// Over [`ExtractLimits::max_decompressed_bytes`] or
    /// [`ExtractLimits::max_chars`].
    #[error("the document expands to more text than can be read at once: split it and upload the parts")]
    TooLarge,
    /// Over [`ExtractLimits::time_limit`].
    #[error("reading the PDF took longer than {seconds} s: it is unusually complex; try saving it again as a new PDF")]
    TimedOut {
        /// The limit.
        seconds: u64,
    },
    /// The parser panicked: a malformed file.
    #[error("the PDF could not be read: its structure is malformed")]
    Malformed,
}

/// PDFs read at once per process; each holds its thread until done, even
/// after its time limit (a blocking thread cannot be stopped), so a few
/// hostile files cannot take every blocking thread.
const CONCURRENT_PDFS: usize = 2;

static PDF_SLOTS: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(CONCURRENT_PDFS)));

/// Sniffs and extracts `bytes` off the async runtime; PDFs within
/// `limits.time_limit` (waiting for a slot does not count).
pub async fn extract(bytes: Vec<u8>, filename: String, limits: ExtractLimits) -> Result<Extracted, ExtractError> {
    let kind = sniff(&bytes, &filename)?;
    if kind != DocumentKind::Pdf {
        return tokio::task::spawn_blocking(move || extract_text(kind, &bytes, &limits))
            .await
            .unwrap_or(Err(ExtractError::Malformed));
    }
    // The semaphore is never closed, so acquiring cannot fail; if it ever
    // did, reading without a slot is still bounded by the other limits.
    let slot = PDF_SLOTS.clone().acquire_owned().await.ok();
    let reading = tokio::task::spawn_blocking(move || {
        let pages = extract_pdf(&bytes, &limits);
        drop(slot);
        pages
    });
    match tokio::time::timeout(limits.time_limit, reading).await {
        Ok(Ok(pages)) => pages.map(|pages| Extracted { kind, pages }),
        // `extract_pdf` catches panics, so a join error is a cancelled runtime.
        Ok(Err(_)) => Err(ExtractError::Malformed),
        Err(_) => Err(ExtractError::TimedOut { seconds: limits.time_limit.as_secs() }),
    }
}

/// [`extract`] on the calling thread, without the time limit: for tests
/// and fuzzing.
pub fn extract_blocking(bytes: &[u8], filename: &str, limits: &ExtractLimits) -> Result<Extracted, ExtractError> {
    let kind = sniff(bytes, filename)?;
    match kind {
        DocumentKind::Pdf => extract_pdf(bytes, limits).map(|pages| Extracted { kind, pages }),
        _ => extract_text(kind, bytes, limits),
    }
}

/// A PDF's pages, any panic of the parser turned into [`ExtractError::Malformed`].
fn extract_pdf(bytes: &[u8], limits: &ExtractLimits) -> Result<Vec<Page>, ExtractError> {
    match catch_unwind(AssertUnwindSafe(|| pdf::read(bytes, limits))) {
        Ok(pages) => pages,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::warn!(panic = %message, "the PDF parser panicked; the document is refused as malformed");
            Err(ExtractError::Malformed)
        }
    }
}

/// Markdown, HTML and plain text: one unpaginated page.
fn extract_text(kind: DocumentKind, bytes: &[u8], limits: &ExtractLimits) -> Result<Extracted, ExtractError> {
    let source = sniff::text_of(bytes).ok_or(ExtractError::Unsupported { kind: "binary data" })?;
    let text = match kind {
        DocumentKind::Markdown => markdown::to_text(source),
        DocumentKind::Html => html::to_text(source),
        _ => normalize(source),
    };
    if !text.chars().any(char::is_alphanumeric) {
        return Err(ExtractError::NoContent);
    }
    if text.chars().count() > limits.max_chars {
        return Err(ExtractError::TooLarge);
    }
    Ok(Extracted { kind, pages: vec![Page { number: None, text }] })
}

/// Line ends as `\n`, control characters (but tabs and line ends) dropped,
/// trailing whitespace trimmed.
fn normalize(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut out: String = text.chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\t')).collect();
    out.truncate(out.trim_end().len());
    out
}

#[cfg(test)]
mod tests;
