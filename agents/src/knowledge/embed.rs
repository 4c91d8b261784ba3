//! The `Embedder` port: texts in, one vector each out, all of one model.
//!
//! Two implementations side by side, held to the same contract:
//! - [`MiniLm`]: the embedded default, all-MiniLM-L6-v2 (384 dimensions)
//!   running in-process through candle, loaded from the data directory
//!   (`scripts/model.sh` fetches it; nothing is fetched at run time).
//! - [`OpenAiEmbedder`]: an OpenAI-compatible `POST {base_url}/embeddings`
//!   with batching, retries (429/5xx, honouring `Retry-After`) and timeouts.
//!
//! Every vector is stored with the [`Embedder::model_id`] and
//! [`Embedder::dimension`] that made it: vectors of two models live in two
//! spaces and are never compared, so a collection bound to one model is
//! re-embedded, not mixed, when the model changes.

mod error;
mod minilm;
mod openai;

use async_trait::async_trait;

pub use error::EmbedError;
pub use minilm::{FETCH_COMMAND, MINILM_DIR, MINILM_MODEL_ID, MiniLm, MiniLmOptions, ModelTokenizer};
pub use openai::{OpenAiEmbedConfig, OpenAiEmbedder};

/// Turns texts into vectors of one model.
#[async_trait]
pub trait Embedder: Send + Sync {
    /// The model that made the vectors, stored with every one of them
    /// (`sentence-transformers/all-MiniLM-L6-v2`, `text-embedding-3-small`).
    fn model_id(&self) -> &str;

    /// The length of every vector [`Embedder::embed`] returns.
    fn dimension(&self) -> usize;

    /// The most tokens (as [`Embedder::count_tokens`] counts them) a text
    /// may have before the model ignores the rest: chunks are cut to fit.
    fn max_input_tokens(&self) -> usize;

    /// The text's length in the model's tokens, without the special tokens
    /// the model adds and without truncation; what chunks are sized by.
    fn count_tokens(&self, text: &str) -> usize;

    /// One vector per text, in order, each [`Embedder::dimension`] long.
    /// Texts longer than [`Embedder::max_input_tokens`] are embedded by
    /// their beginning.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;
}
