//! The model's tokenizer (`tokenizer.json`, pure Rust: `tokenizers` built
//! with `fancy-regex`, not the C `onig`), set up twice: once to count a
//! text's tokens for chunking, once to feed the model.
//!
//! The tokenizer.json of all-MiniLM-L6-v2 bakes in truncation at 128 tokens
//! and padding of every text to 128, which is not how sentence-transformers
//! runs the model (truncation at `max_seq_length`, 256; padding to the
//! longest text of the batch); both are replaced here.

use std::path::Path;
use std::sync::Arc;

use tokenizers::{PaddingDirection, PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::super::EmbedError;

/// Counts tokens the way the model sees them (without its special tokens,
/// without truncation). Cheap to clone.
#[derive(Clone)]
pub struct ModelTokenizer {
    tokenizer: Arc<Tokenizer>,
}

impl std::fmt::Debug for ModelTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelTokenizer").finish_non_exhaustive()
    }
}

impl ModelTokenizer {
    /// The tokenizer in `path` (a `tokenizer.json`), set up for counting.
    pub fn load(path: &Path) -> Result<Self, EmbedError> {
        Self::counting(read(path)?, path)
    }

    fn counting(mut tokenizer: Tokenizer, path: &Path) -> Result<Self, EmbedError> {
        tokenizer.with_truncation(None).map_err(|e| load_error(path, &*e))?;
        tokenizer.with_padding(None);
        Ok(Self { tokenizer: Arc::new(tokenizer) })
    }

    /// `text`'s length in tokens, without special tokens or truncation.
    pub fn count(&self, text: &str) -> usize {
        // The BERT pipeline has no failing step for a `&str`; should one
        // fail, the byte length is an upper bound (WordPiece never makes
        // more tokens than bytes), so a chunk sized by it still fits.
        self.tokenizer.encode_fast(text, false).map_or(text.len(), |encoding| encoding.len())
    }

    /// The special tokens the model adds to every text ([CLS] and [SEP]).
    fn special_tokens(&self, path: &Path) -> Result<usize, EmbedError> {
        let with = self.tokenizer.encode_fast("", true).map_err(|e| load_error(path, &*e))?;
        Ok(with.len())
    }
}

/// Both set-ups of the tokenizer in `path`.
pub(super) struct Tokenizers {
    /// For counting.
    pub counting: ModelTokenizer,
    /// For the model: truncated at `max_seq_length`, padded per batch.
    pub encoding: Tokenizer,
    /// Special tokens per text.
    pub special_tokens: usize,
}

impl Tokenizers {
    /// Reads `path` and sets it up to truncate at `max_seq_length` tokens
    /// (special tokens included), padding with `pad_id`.
    pub fn load(path: &Path, max_seq_length: usize, pad_id: u32) -> Result<Self, EmbedError> {
        let mut encoding = read(path)?;
        let counting = ModelTokenizer::counting(encoding.clone(), path)?;
        let special_tokens = counting.special_tokens(path)?;
        if max_seq_length <= special_tokens {
            let reason = format!("max_seq_length {max_seq_length} leaves no room beside the special tokens");
            return Err(EmbedError::Load { path: path.to_path_buf(), reason });
        }
        let pad_token = encoding
            .get_padding()
            .map(|padding| padding.pad_token.clone())
            .or_else(|| encoding.id_to_token(pad_id))
            .unwrap_or_else(|| "[PAD]".to_owned());
        encoding
            .with_truncation(Some(TruncationParams { max_length: max_seq_length, ..TruncationParams::default() }))
            .map_err(|e| load_error(path, &*e))?;
        encoding.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            // On the right: BERT numbers positions from the first token, so
            // padding on the left would shift every real token's position
            // and change its vector.
            direction: PaddingDirection::Right,
            pad_to_multiple_of: None,
            pad_id,
            pad_type_id: 0,
            pad_token,
        }));
        Ok(Self { counting, encoding, special_tokens })
    }
}

fn read(path: &Path) -> Result<Tokenizer, EmbedError> {
    Tokenizer::from_file(path).map_err(|e| load_error(path, &*e))
}

fn load_error(path: &Path, error: &(dyn std::error::Error + Send + Sync)) -> EmbedError {
    EmbedError::Load { path: path.to_path_buf(), reason: error.to_string() }
}

impl crate::knowledge::chunk::TokenCount for ModelTokenizer {
    fn count_tokens(&self, text: &str) -> usize {
        self.count(text)
    }
}
