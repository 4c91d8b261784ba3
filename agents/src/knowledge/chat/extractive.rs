//! The answer without a model: the retrieved chunks' own sentences that
//! hold at least [`MIN_RELEVANCE`] of the question's terms, the best
//! [`MAX_QUOTES`] of them, each quoted as written with its citation
//! (`“…” [returns.pdf p. 2]`), one per line; or, when none does,
//! [`NOTHING_FOUND`](super::NOTHING_FOUND) and no citation. Never a word
//! of its own beyond the quotes' frame.

use super::{Citation, NOTHING_FOUND};
use crate::knowledge::search::SearchHit;
use crate::knowledge::sentences::{self, Sentence};

/// The least share of the question's terms a quoted sentence holds.
pub const MIN_RELEVANCE: f64 = 0.5;
/// Most sentences quoted.
pub const MAX_QUOTES: usize = 3;

/// An extractive answer, as the pieces it streams in.
#[derive(Debug, Clone, PartialEq)]
pub struct Extract {
    /// The text, a quote per piece (joined, the whole answer).
    pub parts: Vec<String>,
    /// The quotes' citations, numbered in order.
    pub citations: Vec<Citation>,
}

/// A sentence worth quoting, and what ranks it.
struct Candidate<'a> {
    score: f64,
    rank: usize,
    hit: &'a SearchHit,
    sentence: Sentence<'a>,
}

/// `text` with every run of whitespace one space (a wrapped line reads as
/// one); the citation keeps the source's own.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A heading or fragment, not worth quoting alone: under three words
/// and no end punctuation (`Return policy`, `Exchanges`).
fn heading(text: &str) -> bool {
    let ended =
        text.trim_end_matches(['"', '\'', '”', '’', ')', ']']).ends_with(['.', '!', '?', '…', '。', '！', '？']);
    text.split_whitespace().count() < 3 && !ended
}

/// The extractive answer to `question` from `hits` (best first).
pub fn answer(question: &str, hits: &[SearchHit]) -> Extract {
    let terms = sentences::terms(question);
    let mut candidates: Vec<Candidate<'_>> = Vec::new();
    if !terms.is_empty() {
        for (rank, hit) in hits.iter().enumerate() {
            for sentence in sentences::split(&hit.chunk.text).into_iter().filter(|s| !heading(s.text)) {
                let score = sentences::relevance(&terms, sentence.text);
                if score >= MIN_RELEVANCE {
                    candidates.push(Candidate { score, rank, hit, sentence });
                }
            }
        }
    }
    candidates.sort_by(|a, b| {
        b.score.total_cmp(&a.score).then(a.rank.cmp(&b.rank)).then(a.sentence.char_start.cmp(&b.sentence.char_start))
    });
    let mut parts: Vec<String> = Vec::new();
    let mut citations: Vec<Citation> = Vec::new();
    let mut quoted: Vec<(String, uuid::Uuid)> = Vec::new();
    for candidate in candidates {
        if citations.len() == MAX_QUOTES {
            break;
        }
        // Chunks overlap: the same sentence may be found twice.
        let line = one_line(candidate.sentence.text);
        let key = (line.to_lowercase(), candidate.hit.document.id);
        if quoted.contains(&key) {
            continue;
        }
        quoted.push(key);
        let index = u32::try_from(citations.len() + 1).unwrap_or(u32::MAX);
        let citation = Citation::of_sentence(index, candidate.hit, &candidate.sentence);
        let separator = if parts.is_empty() { "" } else { "\n" };
        parts.push(format!("{separator}“{line}” [{}]", citation.label()));
        citations.push(citation);
    }
    if parts.is_empty() {
        parts.push(NOTHING_FOUND.to_owned());
    }
    Extract { parts, citations }
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use alatar_entity::{DocumentStatus, document, document_chunk};

    use super::*;

    /// A hit on a chunk of `filename` (its id derived from the name)
    /// starting at character 100 of its page.
    pub(crate) fn hit(filename: &str, page: Option<i32>, text: &str) -> SearchHit {
        let seed = filename.bytes().fold(7u128, |h, b| h.wrapping_mul(31).wrapping_add(u128::from(b)));
        let document_id = Uuid::from_u128(seed);
        let now = Utc::now();
        SearchHit {
            chunk: document_chunk::Model {
                id: Uuid::now_v7(),
                account_id: Uuid::nil(),
                document_id,
                collection_id: Uuid::nil(),
                ordinal: 0,
                text: text.to_owned(),
                page,
                char_start: 100,
                char_end: 100 + i32::try_from(text.chars().count()).unwrap_or(0),
                token_count: 1,
            },
            document: document::Model {
                id: document_id,
                account_id: Uuid::nil(),
                collection_id: Uuid::nil(),
                filename: filename.to_owned(),
                content_type: "text/plain".into(),
                byte_size: 1,
                sha256: String::new(),
                status: DocumentStatus::Ingested,
                progress: 100,
                failure_reason: None,
                page_count: None,
                chunk_count: None,
                created_at: now,
                updated_at: now,
                summary: None,
                summary_model: None,
                summarized_at: None,
                summary_job_id: None,
                redacted_at: None,
                redaction_note: None,
            },
            text_score: Some(0.5),
            vector_score: None,
            score: 0.1,
        }
    }

    fn returns() -> Vec<SearchHit> {
        vec![
            hit(
                "returns.pdf",
                Some(2),
                "Return policy\nItems can be returned within thirty days of delivery.\nThey must be unworn.",
            ),
            hit("care.md", None, "Wash cold and dry flat. Returned items are inspected."),
        ]
    }

    #[test]
    fn the_most_relevant_sentences_are_quoted_with_their_citations() {
        let extract = answer("How many days do I have to return an item?", &returns());
        let text = extract.parts.concat();
        assert_eq!(
            text,
            "“Items can be returned within thirty days of delivery.” [returns.pdf p. 2]\n\
             “Returned items are inspected.” [care.md]"
        );
        assert_eq!(extract.parts.len(), 2, "streamed a quote at a time");
        let first = &extract.citations[0];
        assert_eq!((first.index, first.page, first.document_filename.as_str()), (1, Some(2), "returns.pdf"));
        assert_eq!(first.quote, "Items can be returned within thirty days of delivery.");
        // The page's offsets: the chunk starts at 100, the sentence at 14.
        assert_eq!((first.char_start, first.char_end), (114, 114 + 53));
        assert_eq!(extract.citations[1].index, 2);
    }

    #[test]
    fn nothing_relevant_is_said_honestly_without_citations() {
        for question in ["What is the capital of France?", "How do I?", ""] {
            let extract = answer(question, &returns());
            assert_eq!(extract.parts, [NOTHING_FOUND], "{question:?}");
            assert!(extract.citations.is_empty());
        }
        assert_eq!(answer("return days", &[]).parts, [NOTHING_FOUND]);
    }

    #[test]
    fn a_sentence_found_in_two_overlapping_chunks_is_quoted_once() {
        let same = "Items can be returned within thirty days.";
        let hits = [hit("returns.pdf", Some(1), same), hit("returns.pdf", Some(1), &format!("Intro. {same}"))];
        let extract = answer("return days", &hits);
        assert_eq!(extract.citations.len(), 1, "{:?}", extract.parts);
    }
}
