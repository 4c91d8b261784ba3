//! `OpenAiEmbedder`: embeddings from an OpenAI-compatible
//! `POST {base_url}/embeddings` (OpenAI, OpenRouter, Azure's v1 surface,
//! vLLM, Ollama, TEI…). The base URL ends in `/v1` like the chat client's.
//!
//! Texts go in batches; each batch is one request, tried again after a
//! 429, a 5xx, a broken connection or a timeout, with exponential backoff
//! and jitter, or after exactly the wait the provider's `Retry-After` asks
//! for (when that is longer than we wait in place, the batch fails as
//! `Unavailable` carrying the hint, for the queue to retry later). An answer
//! with the wrong number of vectors or vectors of the wrong dimension is a
//! provider error, never stored.

mod wire;

#[cfg(test)]
mod tests;

use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};

use super::{EmbedError, Embedder};
use wire::{EmbeddingRequest, EmbeddingResponse};

/// Where and how to call the embedding model.
#[derive(Debug, Clone)]
pub struct OpenAiEmbedConfig {
    /// `https://api.openai.com/v1` or any OpenAI-compatible base URL.
    pub base_url: String,
    /// Bearer key; `None` for local servers that take none.
    pub api_key: Option<SecretString>,
    /// The model id, also stored with every vector (`text-embedding-3-small`).
    pub model: String,
    /// The vectors' length, checked on every answer.
    pub dimension: usize,
    /// Send `dimension` as the request's `dimensions` (models that can
    /// shorten their vectors, like `text-embedding-3-*`); off for models
    /// and servers that refuse the parameter.
    pub request_dimensions: bool,
    /// Texts per request.
    pub batch_size: usize,
    /// Tokens per text the model reads (8191 for OpenAI's models).
    pub max_input_tokens: usize,
    /// Per attempt, from connecting to the last byte of the answer.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First retry delay (doubles, with jitter).
    pub backoff: Duration,
    /// The longest `Retry-After` waited in place; a longer one fails the
    /// batch as `Unavailable` with the hint.
    pub max_retry_wait: Duration,
}

impl OpenAiEmbedConfig {
    /// OpenAI's defaults for `model` and `dimension` at `base_url`.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>, dimension: usize) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: None,
            model: model.into(),
            dimension,
            request_dimensions: false,
            batch_size: 128,
            max_input_tokens: 8191,
            timeout: Duration::from_secs(30),
            max_retries: 4,
            backoff: Duration::from_millis(500),
            max_retry_wait: Duration::from_secs(60),
        }
    }
}

/// Embeds through an OpenAI-compatible API.
#[derive(Debug, Clone)]
pub struct OpenAiEmbedder {
    config: OpenAiEmbedConfig,
    url: String,
    client: reqwest::Client,
}

/// How one attempt ended, when not with vectors.
enum Failure {
    /// Worth another attempt, after `retry_after` if the provider said.
    Retry { reason: String, retry_after: Option<Duration> },
    /// Another attempt would end the same way.
    Final(EmbedError),
}

impl OpenAiEmbedder {
    /// A client for `config`.
    pub fn new(config: OpenAiEmbedConfig) -> Result<Self, EmbedError> {
        let client = reqwest::Client::builder()
            .connect_timeout(config.timeout)
            .build()
            .map_err(|e| EmbedError::Provider(format!("http client: {e}")))?;
        let url = format!("{}/embeddings", config.base_url.trim_end_matches('/'));
        Ok(Self { config: OpenAiEmbedConfig { batch_size: config.batch_size.max(1), ..config }, url, client })
    }

    async fn embed_batch(&self, batch: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut attempt = 0;
        loop {
            let (reason, retry_after) = match self.attempt(batch).await {
                Ok(vectors) => return Ok(vectors),
                Err(Failure::Final(error)) => return Err(error),
                Err(Failure::Retry { reason, retry_after }) => (reason, retry_after),
            };
            if attempt >= self.config.max_retries {
                return Err(EmbedError::Unavailable { reason, retry_after });
            }
            let wait = retry_after.unwrap_or_else(|| self.backoff(attempt));
            if wait > self.config.max_retry_wait {
                return Err(EmbedError::Unavailable { reason, retry_after: Some(wait) });
            }
            tracing::warn!(
                model = %self.config.model,
                attempt = attempt + 1,
                wait_ms = wait.as_millis() as u64,
                reason = %reason,
                "embedding request failed; retrying"
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let jitter: f64 = rand::rng().random_range(0.5..1.5);
        self.config.backoff.saturating_mul(1 << attempt.min(6)).mul_f64(jitter)
    }

    async fn attempt(&self, batch: &[String]) -> Result<Vec<Vec<f32>>, Failure> {
        let body = EmbeddingRequest {
            model: &self.config.model,
            input: batch,
            dimensions: self.config.request_dimensions.then_some(self.config.dimension),
            encoding_format: "float",
        };
        let mut request = self.client.post(&self.url).timeout(self.config.timeout).json(&body);
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key.expose_secret());
        }
        let unreachable = |e: reqwest::Error| Failure::Retry { reason: wire::describe(&e), retry_after: None };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let retry_after = wire::retry_after(response.headers(), chrono::Utc::now());
        let bytes = response.bytes().await.map_err(unreachable)?;
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            return Err(Failure::Retry { reason: format!("{status}: {}", wire::error_message(&bytes)), retry_after });
        }
        if !status.is_success() {
            let message = format!("{status}: {}", wire::error_message(&bytes));
            return Err(Failure::Final(match status.as_u16() {
                400 | 413 | 422 => EmbedError::BadInput(message),
                _ => EmbedError::Provider(message),
            }));
        }
        let answer: EmbeddingResponse = serde_json::from_slice(&bytes)
            .map_err(|e| Failure::Final(EmbedError::Provider(format!("unreadable answer: {e}"))))?;
        answer.into_vectors(batch.len(), self.config.dimension).map_err(|e| Failure::Final(EmbedError::Provider(e)))
    }
}

#[async_trait]
impl Embedder for OpenAiEmbedder {
    fn model_id(&self) -> &str {
        &self.config.model
    }

    fn dimension(&self) -> usize {
        self.config.dimension
    }

    fn max_input_tokens(&self) -> usize {
        self.config.max_input_tokens
    }

    fn count_tokens(&self, text: &str) -> usize {
        estimate_tokens(text)
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        // Providers refuse an empty string outright (OpenAI: 400); say which.
        if let Some(index) = texts.iter().position(String::is_empty) {
            return Err(EmbedError::BadInput(format!("text {index} is empty")));
        }
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.config.batch_size) {
            vectors.extend(self.embed_batch(batch).await?);
        }
        Ok(vectors)
    }
}

/// The provider's tokenizer is not ours to run, so this estimates: a token
/// per 3 bytes is more than BPE tokenizers make of English (about 4
/// characters a token) and about one per CJK character (3 bytes in UTF-8).
/// Where it counts low, chunks of a few hundred tokens still stay far below
/// the model's limit (8191 for OpenAI's).
fn estimate_tokens(text: &str) -> usize {
    text.len().div_ceil(3)
}

impl crate::knowledge::chunk::TokenCount for OpenAiEmbedder {
    fn count_tokens(&self, text: &str) -> usize {
        estimate_tokens(text)
    }
}
