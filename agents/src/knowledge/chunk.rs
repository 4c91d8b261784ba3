//! Chunks: a document's text cut into pieces of at most `max_tokens` tokens
//! of the embedding model, neighbours overlapping by up to `overlap` tokens
//! (defaults 256 and 32, seed 000 P9), cut at the largest semantic unit
//! that fits (paragraphs, lines, sentences, words) by `text-splitter`, with
//! our own [`ChunkSizer`] over the [`TokenCount`] port (so its C-backed
//! `tokenizers` feature stays off). Each chunk stays within one page and
//! keeps its page number and its character offsets into that page's text.

use text_splitter::{ChunkConfig, ChunkSizer, TextSplitter};

use super::extract::Page;

/// Counts tokens the way an embedding model's tokenizer does.
pub trait TokenCount: Send + Sync {
    /// Tokens `text` becomes (without special tokens such as `[CLS]`).
    fn count_tokens(&self, text: &str) -> usize;
}

/// An estimate for when no model is loaded: a word is a token per four
/// letters or digits (rounded up), every other visible character one, a
/// CJK ideograph one. It errs high for English with WordPiece (a word is
/// usually one token), so chunks cut by it fit a real model's window.
/// Counting a part of a text never gives more than the whole, which the
/// splitter's overlap search relies on.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApproxTokens;

impl TokenCount for ApproxTokens {
    fn count_tokens(&self, text: &str) -> usize {
        let (mut tokens, mut run) = (0, 0usize);
        for c in text.chars() {
            if c.is_alphanumeric() && !is_ideograph(c) {
                run += 1;
                continue;
            }
            tokens += run.div_ceil(4);
            run = 0;
            if !c.is_whitespace() {
                tokens += 1;
            }
        }
        tokens + run.div_ceil(4)
    }
}

/// CJK ideographs and kana, which tokenizers split per character.
fn is_ideograph(c: char) -> bool {
    matches!(c, '\u{3040}'..='\u{30ff}' | '\u{3400}'..='\u{4dbf}' | '\u{4e00}'..='\u{9fff}' | '\u{f900}'..='\u{faff}')
}

/// `text-splitter`'s view of a [`TokenCount`].
#[derive(Clone, Copy)]
pub struct TokenSizer<'a>(pub &'a dyn TokenCount);

impl ChunkSizer for TokenSizer<'_> {
    fn size(&self, chunk: &str) -> usize {
        self.0.count_tokens(chunk)
    }
}

/// Chunk size and overlap, in tokens; the overlap is below the size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkSettings {
    max_tokens: usize,
    overlap: usize,
}

impl ChunkSettings {
    /// `max_tokens` (at least 1) with `overlap` (below it), or `None`.
    pub fn new(max_tokens: usize, overlap: usize) -> Option<Self> {
        (max_tokens >= 1 && overlap < max_tokens).then_some(Self { max_tokens, overlap })
    }

    /// Most tokens in a chunk.
    pub fn max_tokens(self) -> usize {
        self.max_tokens
    }

    /// Most tokens two neighbouring chunks share.
    pub fn overlap(self) -> usize {
        self.overlap
    }
}

impl Default for ChunkSettings {
    fn default() -> Self {
        Self { max_tokens: 256, overlap: 32 }
    }
}

/// One piece of a document's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The page it is on (`None` for unpaginated text).
    pub page: Option<u32>,
    /// Its text, trimmed of surrounding whitespace.
    pub text: String,
    /// Offset of its first character in the page's text (Unicode scalar values).
    pub char_start: usize,
    /// Offset one past its last character.
    pub char_end: usize,
    /// Its tokens.
    pub token_count: usize,
}

/// `pages` cut into chunks, page by page, in reading order.
pub fn chunk_pages(pages: &[Page], tokens: &dyn TokenCount, settings: ChunkSettings) -> Vec<Chunk> {
    let sizer = TokenSizer(tokens);
    let config = || ChunkConfig::new(settings.max_tokens).with_sizer(sizer);
    // `ChunkSettings` keeps the overlap below the size, so this holds.
    let config = config().with_overlap(settings.overlap).unwrap_or_else(|_| config());
    let splitter: TextSplitter<TokenSizer<'_>> = TextSplitter::new(config);
    let mut chunks = Vec::new();
    for page in pages {
        for piece in splitter.chunk_char_indices(&page.text) {
            let chars = piece.chunk.chars().count();
            chunks.push(Chunk {
                page: page.number,
                text: piece.chunk.to_owned(),
                char_start: piece.char_offset,
                char_end: piece.char_offset + chars,
                token_count: tokens.count_tokens(piece.chunk),
            });
        }
    }
    chunks
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The characters `start..end` of `text`.
    fn slice(text: &str, start: usize, end: usize) -> String {
        text.chars().skip(start).take(end - start).collect()
    }

    fn page(text: &str) -> Vec<Page> {
        vec![Page { number: Some(3), text: text.to_owned() }]
    }

    #[test]
    fn the_estimate_counts_words_and_punctuation() {
        assert_eq!(ApproxTokens.count_tokens(""), 0);
        assert_eq!(ApproxTokens.count_tokens("refund"), 2);
        assert_eq!(ApproxTokens.count_tokens("a b, c."), 5);
        assert_eq!(ApproxTokens.count_tokens("退货政策"), 4);
    }

    #[test]
    fn long_runs_of_words_overlap_within_the_bound() {
        let text = (0..2_000).map(|i| format!("w{}", i % 97)).collect::<Vec<_>>().join(" ");
        let settings = ChunkSettings::default();
        let chunks = chunk_pages(&page(&text), &ApproxTokens, settings);
        assert!(chunks.len() > 5, "{}", chunks.len());
        let mut overlapping = 0;
        for pair in chunks.windows(2) {
            if pair[1].char_start < pair[0].char_end {
                overlapping += 1;
                let shared = slice(&text, pair[1].char_start, pair[0].char_end);
                assert!(ApproxTokens.count_tokens(&shared) <= settings.overlap(), "{shared:?}");
            }
        }
        assert!(overlapping > 0, "no chunk overlaps its predecessor");
        assert!(chunks.iter().all(|c| c.page == Some(3)));
    }

    #[test]
    fn settings_keep_the_overlap_below_the_size() {
        assert!(ChunkSettings::new(256, 32).is_some());
        assert!(ChunkSettings::new(32, 32).is_none());
        assert!(ChunkSettings::new(0, 0).is_none());
    }

    fn text() -> impl Strategy<Value = String> {
        prop::string::string_regex("[a-zA-Z0-9 ,.;:!?'\\-\n\téüß漢字]{0,3000}").unwrap_or_else(|e| panic!("{e}"))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// Offsets slice back to the chunk, the cap holds, neighbours share
        /// at most the overlap, and nothing but whitespace is left out.
        #[test]
        fn chunks_cover_the_text_within_their_bounds(text in text(), max in 8usize..64, overlap_share in 0usize..4) {
            let overlap = max * overlap_share / 8;
            let settings = ChunkSettings::new(max, overlap).unwrap_or_default();
            let chunks = chunk_pages(&page(&text), &ApproxTokens, settings);
            let chars: Vec<char> = text.chars().collect();
            let mut covered = vec![false; chars.len()];
            for (i, chunk) in chunks.iter().enumerate() {
                prop_assert_eq!(slice(&text, chunk.char_start, chunk.char_end), chunk.text.clone());
                prop_assert!(chunk.token_count <= settings.max_tokens(), "{} tokens: {:?}", chunk.token_count, chunk.text);
                prop_assert!(!chunk.text.trim().is_empty());
                covered[chunk.char_start..chunk.char_end].iter_mut().for_each(|c| *c = true);
                if i > 0 {
                    let before = &chunks[i - 1];
                    prop_assert!(chunk.char_start >= before.char_start, "chunks out of order");
                    if chunk.char_start < before.char_end {
                        let shared = slice(&text, chunk.char_start, before.char_end);
                        prop_assert!(ApproxTokens.count_tokens(&shared) <= settings.overlap(), "{:?}", shared);
                    }
                }
            }
            for (c, covered) in chars.iter().zip(&covered) {
                prop_assert!(*covered || c.is_whitespace(), "{:?} is in no chunk", c);
            }
        }
    }
}
