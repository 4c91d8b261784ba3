//! PDF text per page through `lopdf` (pure Rust). Called only inside
//! `catch_unwind` on a blocking thread (see `extract.rs`); here the caps:
//! decompression bounded at load and per page, pages and characters
//! counted. A document protected by a user password loads, but stays
//! encrypted (`lopdf` tries the empty password itself); one whose pages hold
//! no letters or digits at all is a scan.

use lopdf::{DecompressError, Document, Error, LoadOptions};

use super::{ExtractError, ExtractLimits, Page};

/// The pages of the PDF in `bytes`, in order, empty ones included.
pub(super) fn read(bytes: &[u8], limits: &ExtractLimits) -> Result<Vec<Page>, ExtractError> {
    let options = LoadOptions::with_max_decompressed_size(limits.max_decompressed_bytes);
    let document = Document::load_mem_with_options(bytes, options).map_err(refusal)?;
    if document.is_encrypted() {
        return Err(ExtractError::Encrypted);
    }
    let pages = document.get_pages();
    if pages.is_empty() {
        return Err(ExtractError::Corrupt { detail: "no pages".into() });
    }
    if pages.len() > limits.max_pages {
        return Err(ExtractError::TooManyPages { pages: pages.len(), limit: limits.max_pages });
    }
    let mut out = Vec::with_capacity(pages.len());
    let (mut chars, mut unreadable) = (0usize, 0usize);
    for &number in pages.keys() {
        let mut raw = String::new();
        for piece in document.extract_text_chunks_with_limit(&[number], limits.max_decompressed_bytes) {
            match piece {
                Ok(text) => raw.push_str(&text),
                Err(Error::Decompress(DecompressError::MemoryLimitExceeded { .. })) => {
                    return Err(ExtractError::TooLarge);
                }
                // A font without a usable encoding, a broken content stream:
                // that part of the page is lost, the rest is kept.
                Err(_) => unreadable += 1,
            }
        }
        let text = super::normalize(&raw);
        chars += text.chars().count();
        if chars > limits.max_chars {
            return Err(ExtractError::TooLarge);
        }
        out.push(Page { number: Some(number), text });
    }
    if unreadable > 0 {
        tracing::debug!(parts = unreadable, "parts of the PDF's pages could not be decoded");
    }
    if !out.iter().any(|page| page.text.chars().any(char::is_alphanumeric)) {
        return Err(ExtractError::NoText);
    }
    Ok(out)
}

/// What a failed load means to the merchant.
fn refusal(error: Error) -> ExtractError {
    match error {
        Error::Decryption(_) | Error::InvalidPassword | Error::UnsupportedSecurityHandler(_) => ExtractError::Encrypted,
        Error::Decompress(DecompressError::MemoryLimitExceeded { .. }) => ExtractError::TooLarge,
        other => ExtractError::Corrupt { detail: other.to_string() },
    }
}
