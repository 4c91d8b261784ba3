//! The `Llm` port: the model that plans and writes. Numbers never come from
//! it; it receives figures computed by tools and puts them into words.
//!
//! Implementations: [`OfflineModel`] (deterministic rules and templates, the
//! default without an API key) and [`ModelAnalyst`] (an OpenAI-compatible
//! chat model through langchain-rust, falling back to the offline rules when
//! its answer does not fit the schema).

mod chat;
mod model;
mod offline;
mod router;

use async_trait::async_trait;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::breaker::CircuitOpen;
use crate::plan::{Intent, Plan};
use crate::result::{KeyFigure, Section};

pub use chat::{ChatClient, ChatConfig, Price, Usage};
pub use model::ModelAnalyst;
pub use offline::OfflineModel;
pub use router::{ModelRouter, Task};

/// Why the model could not answer.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// Worth retrying later (429, 5xx, timeout).
    #[error("model unavailable: {0}")]
    Unavailable(String),
    /// Not tried: the model's circuit is open after repeated failures; wait
    /// for its `retry_in`.
    #[error("model unavailable: {0}")]
    CircuitOpen(CircuitOpen),
    /// The answer did not fit the required structure.
    #[error("model answer rejected: {0}")]
    Invalid(String),
}

/// What the writer gets: the question, the period and the computed figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Brief {
    /// The question as asked.
    pub prompt: String,
    /// Classified intent.
    pub intent: Intent,
    /// "Aug 2026 – Oct 2026".
    pub period_label: String,
    /// ISO 4217.
    pub currency: String,
    /// Figures with provenance.
    pub figures: Vec<KeyFigure>,
    /// Labels and other non-numeric findings (best month, top product…).
    pub facts: Map<String, Value>,
    /// What the data could not support (e.g. history the grant withholds).
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl Brief {
    /// A figure's value by key.
    pub fn figure(&self, key: &str) -> Option<f64> {
        self.figures.iter().find(|f| f.key == key).map(|f| f.value)
    }

    /// A fact as text.
    pub fn fact(&self, key: &str) -> String {
        match self.facts.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        }
    }
}

/// Who wrote a narrative the offline templates produced.
pub const OFFLINE_AUTHOR: &str = "offline rules";

/// The words of an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Narrative {
    /// Two or three sentences.
    pub summary: String,
    /// Titled paragraphs.
    pub sections: Vec<Section>,
    /// Tools the model called while writing (recorded with the task).
    #[serde(skip)]
    pub tool_calls: Vec<crate::tools::ToolCallRecord>,
    /// Who wrote it: the model's name, or the offline rules (also when a
    /// model's narrative failed validation and the rules wrote instead).
    #[serde(default)]
    pub written_by: Option<String>,
}

/// The model behind the orchestrator's plan and the narrative.
#[async_trait]
pub trait Llm: Send + Sync {
    /// Model id, recorded on the request (`offline` for the offline model).
    fn model(&self) -> &str;
    /// Classifies the question and writes a plan; `model` is the request's
    /// model (the user's preference), which wins over routing.
    async fn plan(&self, prompt: &str, as_of: NaiveDate, model: Option<&str>) -> Result<Plan, LlmError>;
    /// Writes the narrative from the brief.
    async fn write(&self, brief: &Brief, model: Option<&str>) -> Result<Narrative, LlmError>;
}
