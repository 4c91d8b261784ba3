//! `MiniLm`: the embedded default embedder, sentence-transformers'
//! all-MiniLM-L6-v2 (a 6-layer BERT, 384 dimensions) running in-process
//! through candle on the CPU, as sentence-transformers runs it: WordPiece
//! tokens truncated at the model's `max_seq_length` (256), BERT, mean
//! pooling over the real tokens (the attention mask), L2 normalisation.
//!
//! It loads any BERT in a sentence-transformers directory
//! (`model.safetensors`, `config.json`, `tokenizer.json`, optionally
//! `sentence_bert_config.json`); the unit tests load a tiny one.
//!
//! Inference runs on tokio's blocking pool, one batch at a time by default:
//! candle already spreads one batch's matrix products over the cores, so
//! batches side by side would only compete for them, and the async runtime
//! never waits on a forward pass.

mod bert;
mod pooling;
mod tokens;

#[cfg(test)]
mod reference_tests;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::Semaphore;

use super::{EmbedError, Embedder};
use bert::Bert;
pub use tokens::ModelTokenizer;

/// The id stored with every vector all-MiniLM-L6-v2 made.
pub const MINILM_MODEL_ID: &str = "sentence-transformers/all-MiniLM-L6-v2";

/// Where the model lives under the data directory.
pub const MINILM_DIR: &str = "models/all-MiniLM-L6-v2";

/// The command that fetches the model into the data directory, for the
/// warning a server without it logs.
pub const FETCH_COMMAND: &str = "bash scripts/model.sh";

/// The files a model directory must have.
const REQUIRED_FILES: [&str; 3] = ["model.safetensors", "config.json", "tokenizer.json"];

/// How to run the model.
#[derive(Debug, Clone)]
pub struct MiniLmOptions {
    /// The id stored with the vectors.
    pub model_id: String,
    /// Texts per forward pass.
    pub batch_size: usize,
    /// Tokens per text, special tokens included; `None` takes the
    /// directory's `sentence_bert_config.json` (256 for all-MiniLM-L6-v2),
    /// else the model's position limit.
    pub max_seq_length: Option<usize>,
    /// Batches run at once (each on a blocking thread).
    pub concurrent_batches: usize,
}

impl Default for MiniLmOptions {
    fn default() -> Self {
        Self { model_id: MINILM_MODEL_ID.to_owned(), batch_size: 32, max_seq_length: None, concurrent_batches: 1 }
    }
}

/// A sentence-transformers BERT embedder running in-process.
#[derive(Clone)]
pub struct MiniLm {
    bert: Arc<Bert>,
    model_id: String,
    batch_size: usize,
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for MiniLm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniLm")
            .field("model_id", &self.model_id)
            .field("dimension", &self.bert.dimension())
            .field("max_seq_length", &self.bert.max_seq_length())
            .finish_non_exhaustive()
    }
}

impl MiniLm {
    /// Whether `dir` has the files a model needs (checked before loading,
    /// so a server without the model can say so and run on).
    pub fn is_present(dir: &Path) -> bool {
        REQUIRED_FILES.iter().all(|name| dir.join(name).is_file())
    }

    /// The model in `dir` with the default options. Reads the weights (90 MB
    /// for all-MiniLM-L6-v2): call it at startup or on a blocking thread.
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        Self::load_with(dir, MiniLmOptions::default())
    }

    /// The model in `dir`, run as `options` say.
    pub fn load_with(dir: &Path, options: MiniLmOptions) -> Result<Self, EmbedError> {
        if let Some(missing) = REQUIRED_FILES.iter().map(|name| dir.join(name)).find(|path| !path.is_file()) {
            return Err(EmbedError::Load {
                path: missing,
                reason: format!("missing; fetch the model with `{FETCH_COMMAND}`"),
            });
        }
        let bert = Bert::load(dir, options.max_seq_length)?;
        Ok(Self {
            bert: Arc::new(bert),
            model_id: options.model_id,
            batch_size: options.batch_size.max(1),
            permits: Arc::new(Semaphore::new(options.concurrent_batches.max(1))),
        })
    }

    /// [`MiniLm::load`] on tokio's blocking pool.
    pub async fn open(dir: PathBuf, options: MiniLmOptions) -> Result<Self, EmbedError> {
        tokio::task::spawn_blocking(move || Self::load_with(&dir, options))
            .await
            .map_err(|e| EmbedError::Model(format!("loading the model stopped: {e}")))?
    }

    /// The model's own tokenizer, to count tokens with (the chunker's).
    pub fn tokenizer(&self) -> &ModelTokenizer {
        self.bert.tokenizer()
    }

    /// One batch on a blocking thread. The permit moves into the closure:
    /// a caller that gives up does not free the slot while the pass runs.
    async fn run(&self, batch: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| EmbedError::Model("the model was shut down".to_owned()))?;
        let bert = Arc::clone(&self.bert);
        tokio::task::spawn_blocking(move || {
            let vectors = bert.embed_batch(&batch);
            drop(permit);
            vectors
        })
        .await
        .map_err(|e| EmbedError::Model(format!("inference stopped: {e}")))?
    }
}

#[async_trait]
impl Embedder for MiniLm {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dimension(&self) -> usize {
        self.bert.dimension()
    }

    fn max_input_tokens(&self) -> usize {
        self.bert.max_input_tokens()
    }

    fn count_tokens(&self, text: &str) -> usize {
        self.bert.tokenizer().count(text)
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        // Longest first, as sentence-transformers does: each batch is padded
        // to its own longest text, so similar lengths together pad least.
        // Padding never changes a vector (pooling skips it); the original
        // order is restored below.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(texts[i].len()));
        let mut vectors: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
        for indices in order.chunks(self.batch_size) {
            let batch = indices.iter().map(|&i| texts[i].clone()).collect();
            let embedded = self.run(batch).await?;
            if embedded.len() != indices.len() {
                return Err(EmbedError::Model(format!("{} vectors for {} texts", embedded.len(), indices.len())));
            }
            for (&i, vector) in indices.iter().zip(embedded) {
                vectors[i] = Some(vector);
            }
        }
        vectors
            .into_iter()
            .map(|vector| vector.ok_or_else(|| EmbedError::Model("a text was left unembedded".to_owned())))
            .collect()
    }
}

impl crate::knowledge::chunk::TokenCount for MiniLm {
    fn count_tokens(&self, text: &str) -> usize {
        self.bert.tokenizer().count(text)
    }
}
