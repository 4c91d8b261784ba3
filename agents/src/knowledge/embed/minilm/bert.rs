//! The blocking half of [`super::MiniLm`]: loading a sentence-transformers
//! BERT directory, and one batch through tokenizer, model and pooling.

use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config, DTYPE};
use serde::Deserialize;
use tokenizers::Tokenizer;

use super::super::EmbedError;
use super::pooling::mean_pool_normalized;
use super::tokens::{ModelTokenizer, Tokenizers};

/// gemm runs a product on one thread below this much work (rows × columns ×
/// depth of a block). Its default (48 × 48 × 256) splits even a question's
/// products (12 × 1,536 × 384) over the cores, where waking the other
/// thread costs more than it saves and the other core is often busy with
/// the search's full-text statement: with AVX-512 a 12-token question took
/// p50 16.1–16.8 ms on one thread against 19.1–19.3 ms on two, while a
/// batch of 32 × 256 tokens (far above this) ran as fast as before
/// (BENCHMARKS.md, "Embedding, session 17").
const ONE_THREAD_BELOW: usize = 50_000_000;

/// The part of `sentence_bert_config.json` that matters here.
#[derive(Deserialize)]
struct SentenceBertConfig {
    max_seq_length: usize,
}

/// A loaded model with its tokenizers.
pub(super) struct Bert {
    model: BertModel,
    encoding: Tokenizer,
    counting: ModelTokenizer,
    device: Device,
    dimension: usize,
    max_seq_length: usize,
    special_tokens: usize,
}

/// The ids, token types and attention mask of one padded batch.
pub(super) struct Batch {
    /// Token ids, `(texts, tokens)`.
    pub ids: Tensor,
    /// Token types (all 0: one sequence per text).
    pub type_ids: Tensor,
    /// 1 for a real token, 0 for padding.
    pub mask: Tensor,
}

impl Bert {
    /// The model in `dir`; `max_seq_length` overrides the directory's.
    pub fn load(dir: &Path, max_seq_length: Option<usize>) -> Result<Self, EmbedError> {
        let config_path = dir.join("config.json");
        let config: Config = read_json(&config_path)?;
        let max_seq_length = match max_seq_length {
            Some(tokens) => tokens,
            None => sentence_bert_max_seq_length(dir)?.unwrap_or(config.max_position_embeddings),
        }
        // Positions past the table do not exist: the model cannot read more.
        .min(config.max_position_embeddings);
        let pad_id = u32::try_from(config.pad_token_id).map_err(|_| EmbedError::Load {
            path: config_path.clone(),
            reason: format!("pad_token_id {} is out of range", config.pad_token_id),
        })?;
        let tokenizers = Tokenizers::load(&dir.join("tokenizer.json"), max_seq_length, pad_id)?;

        let weights_path = dir.join("model.safetensors");
        // Read into memory rather than memory-mapped: mapping is `unsafe`,
        // which this workspace forbids, and the buffer is dropped once the
        // tensors are built.
        let weights = std::fs::read(&weights_path)
            .map_err(|e| EmbedError::Load { path: weights_path.clone(), reason: e.to_string() })?;
        let device = Device::Cpu;
        // Process-wide, but gemm's only user here is this model.
        gemm::set_threading_threshold(ONE_THREAD_BELOW);
        let model = VarBuilder::from_buffered_safetensors(weights, DTYPE, &device)
            .and_then(|vb| BertModel::load(vb, &config))
            .map_err(|e| EmbedError::Load { path: weights_path, reason: e.to_string() })?;
        Ok(Self {
            model,
            encoding: tokenizers.encoding,
            counting: tokenizers.counting,
            device,
            dimension: config.hidden_size,
            max_seq_length,
            special_tokens: tokenizers.special_tokens,
        })
    }

    /// The vectors' length.
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// Tokens per text the model reads, special tokens included.
    pub fn max_seq_length(&self) -> usize {
        self.max_seq_length
    }

    /// Tokens per text the model reads, special tokens excluded.
    pub fn max_input_tokens(&self) -> usize {
        self.max_seq_length - self.special_tokens
    }

    /// The counting tokenizer.
    pub fn tokenizer(&self) -> &ModelTokenizer {
        &self.counting
    }

    /// `texts` tokenized, truncated and padded to the longest of them.
    pub fn encode(&self, texts: &[String]) -> Result<Batch, EmbedError> {
        let inputs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let encodings = self
            .encoding
            .encode_batch_fast(inputs, true)
            .map_err(|e| EmbedError::BadInput(format!("tokenizing failed: {e}")))?;
        let rows = encodings.len();
        let columns = encodings.first().map_or(0, |encoding| encoding.len());
        let mut ids = Vec::with_capacity(rows * columns);
        let mut type_ids = Vec::with_capacity(rows * columns);
        let mut mask = Vec::with_capacity(rows * columns);
        for encoding in &encodings {
            ids.extend_from_slice(encoding.get_ids());
            type_ids.extend_from_slice(encoding.get_type_ids());
            mask.extend_from_slice(encoding.get_attention_mask());
        }
        let tensor = |values: Vec<u32>| Tensor::from_vec(values, (rows, columns), &self.device).map_err(model_error);
        Ok(Batch { ids: tensor(ids)?, type_ids: tensor(type_ids)?, mask: tensor(mask)? })
    }

    /// One unit vector per text.
    pub fn embed_batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let batch = self.encode(texts)?;
        let hidden = self.model.forward(&batch.ids, &batch.type_ids, Some(&batch.mask)).map_err(model_error)?;
        mean_pool_normalized(&hidden, &batch.mask).and_then(|pooled| pooled.to_vec2::<f32>()).map_err(model_error)
    }
}

fn model_error(error: candle_core::Error) -> EmbedError {
    EmbedError::Model(error.to_string())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, EmbedError> {
    let failed = |reason: String| EmbedError::Load { path: path.to_path_buf(), reason };
    let text = std::fs::read_to_string(path).map_err(|e| failed(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| failed(e.to_string()))
}

/// sentence-transformers' own limit for the model, when the directory says.
fn sentence_bert_max_seq_length(dir: &Path) -> Result<Option<usize>, EmbedError> {
    let path = dir.join("sentence_bert_config.json");
    if !path.is_file() {
        return Ok(None);
    }
    Ok(Some(read_json::<SentenceBertConfig>(&path)?.max_seq_length))
}
