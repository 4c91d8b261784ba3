//! Extraction of real (generated) PDFs, refusals a merchant can act on, and
//! mutated PDFs: whatever the bytes, the extractor answers, never panics.

use proptest::prelude::*;

use super::samples::{encrypted_pdf, image_only_pdf, text_pdf};
use super::*;

fn limits() -> ExtractLimits {
    ExtractLimits::default()
}

#[test]
fn a_text_pdf_yields_its_pages_in_order() {
    let bytes = text_pdf(&["Return policy\nItems within 30 days.", "Exchanges\nSizes only."]);
    let extracted = extract_blocking(&bytes, "returns.pdf", &limits()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(extracted.kind, DocumentKind::Pdf);
    assert_eq!(extracted.pages.len(), 2);
    assert_eq!(extracted.pages[0].number, Some(1));
    assert_eq!(extracted.pages[1].number, Some(2));
    assert!(extracted.pages[0].text.contains("Items within 30 days."), "{:?}", extracted.pages);
    assert!(extracted.pages[1].text.contains("Sizes only."), "{:?}", extracted.pages);
    assert!(!extracted.pages[0].text.contains("Sizes"), "{:?}", extracted.pages);
}

#[test]
fn protected_scanned_and_broken_pdfs_are_refused_with_reasons() {
    let encrypted = extract_blocking(&encrypted_pdf(&["Secret terms"]), "x.pdf", &limits());
    assert_eq!(encrypted, Err(ExtractError::Encrypted));
    assert!(ExtractError::Encrypted.to_string().contains("password"));

    assert_eq!(extract_blocking(&image_only_pdf(), "scan.pdf", &limits()), Err(ExtractError::NoText));

    let corrupt = extract_blocking(b"%PDF-1.4\nthis is not a PDF body at all\n", "x.pdf", &limits());
    assert!(matches!(corrupt, Err(ExtractError::Corrupt { .. } | ExtractError::Malformed)), "{corrupt:?}");
    let reason = ExtractError::Corrupt { detail: "xref".into() }.to_string();
    assert!(reason.contains("damaged") && !reason.contains("xref"), "{reason}");
}

#[test]
fn the_page_cap_holds() {
    let bytes = text_pdf(&["one", "two", "three"]);
    let capped = ExtractLimits { max_pages: 2, ..limits() };
    assert_eq!(extract_blocking(&bytes, "x.pdf", &capped), Err(ExtractError::TooManyPages { pages: 3, limit: 2 }));
}

#[test]
fn text_kinds_come_out_as_one_page() {
    let plain = extract_blocking(b"Returns within 30 days.\r\nNo receipt needed.", "a.txt", &limits());
    let plain = plain.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plain.kind, DocumentKind::PlainText);
    assert_eq!(plain.pages, vec![Page { number: None, text: "Returns within 30 days.\nNo receipt needed.".into() }]);
    assert_eq!(extract_blocking(b"<p> </p>", "a.html", &limits()), Err(ExtractError::NoContent));
}

#[tokio::test]
async fn the_async_entry_point_reads_off_the_runtime() {
    let bytes = text_pdf(&["Warranty: two years."]);
    let extracted = extract(bytes, "w.pdf".into(), limits()).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(extracted.pages[0].text.contains("two years"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random bytes flipped, cut or spliced into a valid PDF: an answer,
    /// never a panic escaping (the parser's own are caught).
    #[test]
    fn mutated_pdfs_never_escape(
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..16),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = text_pdf(&["Return policy\nItems within 30 days.", "Exchanges"]);
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if truncate {
            let keep = cut.index(bytes.len());
            bytes.truncate(keep.max(6));
        }
        if let Ok(extracted) = extract_blocking(&bytes, "fuzz.pdf", &limits()) {
            prop_assert!(!extracted.pages.is_empty());
        }
    }

    /// Arbitrary bytes: sniffing and extraction answer without panicking.
    #[test]
    fn arbitrary_bytes_never_escape(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = extract_blocking(&bytes, "anything", &limits());
    }
}
