//! What an upload is, from its bytes. Magic numbers first (so a PNG named
//! `notes.txt` is still a PNG), then text: valid UTF-8 without NULs is
//! Markdown when its name or its lines say so, HTML when its markup does,
//! plain text otherwise. Everything else is refused, naming what it is.

use super::ExtractError;

/// A kind of document we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentKind {
    /// `%PDF-`.
    Pdf,
    /// CommonMark (and GitHub's tables, task lists, strikethrough).
    Markdown,
    /// HTML, stripped to its text.
    Html,
    /// Anything else that is UTF-8 text.
    PlainText,
}

impl DocumentKind {
    /// The media type stored on the document.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Markdown => "text/markdown",
            Self::Html => "text/html",
            Self::PlainText => "text/plain",
        }
    }

    /// The kind stored as `content_type`.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        [Self::Pdf, Self::Markdown, Self::Html, Self::PlainText].into_iter().find(|k| k.content_type() == content_type)
    }
}

/// Binary formats people upload by mistake, by their leading bytes.
static MAGIC: [(&[u8], &str); 16] = [
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"PK\x03\x04", "a ZIP archive (as Word, Excel and PowerPoint files are)"),
    (b"PK\x05\x06", "a ZIP archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Office document (.doc, .xls, .ppt)"),
    (b"{\\rtf", "an RTF document"),
    (b"%!PS", "a PostScript document"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x7fELF", "an executable program"),
];

/// The kind of `bytes`, uploaded as `filename`.
pub fn sniff(bytes: &[u8], filename: &str) -> Result<DocumentKind, ExtractError> {
    if bytes.is_empty() {
        return Err(ExtractError::Empty);
    }
    // PDF readers accept the header anywhere in the first kilobyte.
    if bytes[..bytes.len().min(1024)].windows(5).any(|w| w == b"%PDF-") {
        return Ok(DocumentKind::Pdf);
    }
    if let Some(&(_, kind)) = MAGIC.iter().find(|(magic, _)| bytes.starts_with(magic)) {
        return Err(ExtractError::Unsupported { kind });
    }
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Err(ExtractError::Unsupported { kind: "a WebP image" });
    }
    if bytes.starts_with(b"\xff\xfe") || bytes.starts_with(b"\xfe\xff") {
        return Err(ExtractError::Unsupported { kind: "UTF-16 text (save it as UTF-8)" });
    }
    let Some(text) = text_of(bytes) else {
        return Err(ExtractError::Unsupported { kind: "binary data" });
    };
    let extension = filename.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    Ok(match extension.as_str() {
        "md" | "markdown" | "mdown" | "mkd" => DocumentKind::Markdown,
        "html" | "htm" | "xhtml" => DocumentKind::Html,
        _ if looks_like_html(text) => DocumentKind::Html,
        _ if looks_like_markdown(text) => DocumentKind::Markdown,
        _ => DocumentKind::PlainText,
    })
}

/// `bytes` as text: UTF-8 (a byte-order mark dropped) without NULs and with
/// few other control characters.
pub(super) fn text_of(bytes: &[u8]) -> Option<&str> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).ok()?;
    let controls = text.chars().filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\x0c')).count();
    (!text.contains('\0') && controls * 100 <= text.len()).then_some(text)
}

/// Markup at the start, or the tags a page is made of.
fn looks_like_html(text: &str) -> bool {
    let head: String = text.trim_start().chars().take(2048).collect::<String>().to_ascii_lowercase();
    if head.starts_with("<!doctype html") || head.starts_with("<html") {
        return true;
    }
    head.starts_with('<')
        && ["<head", "<body", "<div", "<p>", "<p ", "<table", "<h1", "<ul"].iter().any(|tag| head.contains(tag))
        && head.contains("</")
}

/// A heading, a code fence, or at least two other Markdown constructs.
fn looks_like_markdown(text: &str) -> bool {
    let mut signals = 0;
    for line in text.lines().take(400) {
        let line = line.trim_start();
        let heading = line.starts_with('#') && line.trim_start_matches('#').starts_with(' ') && line.len() > 2;
        if heading || line.starts_with("```") || line.starts_with("~~~") {
            return true;
        }
        let list = ["- ", "* ", "+ "].iter().any(|m| line.starts_with(m));
        let quote = line.starts_with("> ");
        let link = line.contains("](");
        let strong = line.matches("**").count() >= 2;
        signals += usize::from(list) + usize::from(quote) + usize::from(link) * 2 + usize::from(strong) * 2;
        if signals >= 4 {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_the_content() {
        assert_eq!(sniff(b"%PDF-1.7\n...", "notes.txt"), Ok(DocumentKind::Pdf));
        assert_eq!(sniff(b"# Returns\n\nWithin 30 days.", "policy.txt"), Ok(DocumentKind::Markdown));
        assert_eq!(sniff(b"Returns within 30 days.", "policy.md"), Ok(DocumentKind::Markdown));
        assert_eq!(sniff(b"<!DOCTYPE html><html><body><p>Hi</p></body></html>", "x"), Ok(DocumentKind::Html));
        assert_eq!(sniff(b"Returns within 30 days.\nNo questions asked.", "policy"), Ok(DocumentKind::PlainText));
        assert_eq!(sniff("Rückgabe binnen 30 Tagen".as_bytes(), "a.txt"), Ok(DocumentKind::PlainText));
    }

    #[test]
    fn other_kinds_are_refused_by_name() {
        let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR";
        assert_eq!(sniff(png, "policy.pdf"), Err(ExtractError::Unsupported { kind: "a PNG image" }));
        let refused = sniff(b"PK\x03\x04rest", "contract.docx").map_err(|e| e.to_string());
        assert!(refused.as_ref().is_err_and(|m| m.contains("a ZIP archive")), "{refused:?}");
        assert_eq!(sniff(&[0x00, 0x9f, 0x92, 0x96], "x"), Err(ExtractError::Unsupported { kind: "binary data" }));
        assert_eq!(sniff(b"", "x"), Err(ExtractError::Empty));
    }
}
