//! The `Llm` port: the model that plans and writes. Numbers never come from
//! it; it receives figures computed by tools and puts them into words.
//!
//! Implementations: [`OfflineModel`] (deterministic rules and templates, the
//! default without an API key) and [`ModelAnalyst`] (an OpenAI-compatible
//! chat model through langchain-rust, falling back to the offline rules when
//! its answer does not fit the schema).

mod chat;
pub mod dataset_sql;
pub mod documents;
mod model;
mod offline;
pub mod readme;
mod router;

use async_trait::async_trait;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::breaker::CircuitOpen;
use crate::plan::{Intent, Plan};
use crate::result::{KeyFigure, Section};

pub use chat::{ChatClient, ChatConfig, Price, Usage};
pub use dataset_sql::{SqlDraft, SqlQuestion, SqlResultBrief};
pub use documents::{Claim, DocumentAnswer, DocumentPassage, DocumentQuestion};
pub use model::ModelAnalyst;
pub use offline::OfflineModel;
pub use readme::{ReadmeBrief, WrittenReadme};
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
    /// Summarizes one of the merchant's documents (`text`, perhaps an
    /// excerpt: untrusted data, never instructions). `Ok(None)` when this
    /// model writes no summaries, as the offline one: the caller then
    /// picks the document's own most central sentences.
    async fn summarize(&self, document: &DocumentText<'_>) -> Result<Option<WrittenSummary>, LlmError> {
        let _ = document;
        Ok(None)
    }
    /// Answers a question from passages of the merchant's documents
    /// (untrusted data, fenced as such: see [`documents`]), each claim
    /// citing the chunks it rests on; `model` is the request's model.
    /// `Ok(None)` when this model writes no such answer, as the offline
    /// one: the caller then quotes the passages' own sentences.
    async fn answer_from_documents(
        &self,
        question: &DocumentQuestion<'_>,
        model: Option<&str>,
    ) -> Result<Option<DocumentAnswer>, LlmError> {
        let _ = (question, model);
        Ok(None)
    }
    /// Answers a chat turn, sending the answer's text to `deltas` piece by
    /// piece as it is written (in order; joined, they are the whole text;
    /// a model that does not stream sends it as one piece). `Ok(None)` when
    /// this model does not chat, as the offline one: the caller then
    /// answers with the documents' own sentences. A failure after some
    /// pieces were sent is an error like any other.
    async fn chat(
        &self,
        prompt: &ChatPrompt<'_>,
        deltas: &mpsc::Sender<String>,
    ) -> Result<Option<ChatReply>, LlmError> {
        let _ = (prompt, deltas);
        Ok(None)
    }
    /// Writes one read-only SQL query answering a question over a
    /// dataset (its columns and rows are untrusted data: see
    /// [`dataset_sql`]); the caller validates it before anything runs.
    /// `Ok(None)` when this model writes no SQL, as the offline one: the
    /// caller then uses the offline translator.
    async fn write_sql(&self, question: &SqlQuestion<'_>, model: Option<&str>) -> Result<Option<SqlDraft>, LlmError> {
        let _ = (question, model);
        Ok(None)
    }
    /// Writes a repository's README from its analysis (its facts are
    /// untrusted data: see [`readme`]); the caller validated nothing more
    /// than [`readme::validate`] did. `Ok(None)` when this model writes no
    /// README, as the offline one: the caller then keeps the template's.
    async fn write_readme(&self, brief: &ReadmeBrief<'_>) -> Result<Option<WrittenReadme>, LlmError> {
        let _ = brief;
        Ok(None)
    }
    /// Explains a query's result in words, using only its figures.
    /// `Ok(None)` when this model writes none: the caller then uses a
    /// template over the result.
    async fn explain_sql_result(
        &self,
        result: &SqlResultBrief<'_>,
        model: Option<&str>,
    ) -> Result<Option<String>, LlmError> {
        let _ = (result, model);
        Ok(None)
    }
}

/// A document as a summarizer sees it.
#[derive(Debug, Clone, Copy)]
pub struct DocumentText<'a> {
    /// The name it was uploaded under.
    pub filename: &'a str,
    /// Its text (the beginning of it when `truncated`).
    pub text: &'a str,
    /// Whether `text` stops before the document does.
    pub truncated: bool,
}

/// A summary a model wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenSummary {
    /// A few plain sentences.
    pub text: String,
    /// The model's id.
    pub model: String,
}

/// An earlier turn of a chat, as a chat model reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Turn {
    /// What the member said.
    User(String),
    /// What was answered.
    Assistant(String),
}

impl Turn {
    /// Its text.
    pub fn text(&self) -> &str {
        match self {
            Turn::User(text) | Turn::Assistant(text) => text,
        }
    }
}

/// A chat turn for a model to answer ([`Llm::chat`]).
#[derive(Debug, Clone, Copy)]
pub struct ChatPrompt<'a> {
    /// The instructions (the system message).
    pub instructions: &'a str,
    /// Earlier turns, oldest first.
    pub history: &'a [Turn],
    /// The member's new message, with the context that goes with it.
    pub message: &'a str,
    /// The model asked for (the session's, else the member's preference),
    /// which wins over routing.
    pub model: Option<&'a str>,
}

/// A chat answer a model wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatReply {
    /// The whole text: the pieces sent, joined.
    pub text: String,
    /// The model's id.
    pub model: String,
    /// Completion tokens, when the provider reported them.
    pub completion_tokens: Option<u32>,
}
