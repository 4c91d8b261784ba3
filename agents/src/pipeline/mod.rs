//! The analysis pipeline: requests flow through a transactional outbox onto
//! the queue, the orchestrator plans and dispatches, departments work their
//! tasks, and every step is a numbered, persisted event.
//!
//! Exactly-once effects on at-least-once delivery: every handler re-reads
//! the state, changes it only through conditional updates, and writes the
//! change, its events and its follow-up messages in one transaction. A
//! redelivered message finds the work done and is acknowledged.

pub mod bus;
mod department;
pub mod journal;
pub mod lifecycle;
pub mod message;
mod orchestrator;
pub mod queue;
mod relay;
mod stores;
mod watch;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;
use tokio::sync::Notify;

pub use bus::{Event, EventBus, MemoryBus, RedisBus};
pub use message::Message;
pub use queue::{MemoryQueue, Queue, RabbitQueue};
pub use relay::Relay;
pub use stores::{LinkedStores, StoreResolver};
pub use watch::watch;
pub use worker::Worker;

use crate::datasets::settings::DatasetSettings;
use crate::datasets::sql::DatasetSql;
use crate::departments::Departments;
use crate::knowledge::embed::Embedder;
use crate::knowledge::ingest::Chunking;
use crate::knowledge::search::VectorRetriever;
use crate::llm::Llm;
use crate::market::Market;

/// Tunables, from configuration.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Unacknowledged deliveries per consumer.
    pub prefetch: u16,
    /// Deliveries before a message is dead-lettered.
    pub max_deliveries: u32,
    /// Per tool call: the longest it may go without reporting progress.
    pub tool_timeout: Duration,
    /// Longest a tool call may run while it keeps reporting progress.
    pub tool_max: Duration,
    /// First retry delay of a failing tool (doubles each time, with jitter).
    pub tool_backoff: Duration,
    /// How long a proposal waits for a decision before it expires.
    pub proposal_ttl: Duration,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            prefetch: 16,
            max_deliveries: 5,
            tool_timeout: Duration::from_secs(30),
            tool_max: crate::progress::DEFAULT_CALL_CEILING,
            tool_backoff: Duration::from_millis(200),
            proposal_ttl: Duration::from_secs(72 * 3600),
        }
    }
}

/// Everything the pipeline's handlers share.
#[derive(Clone)]
pub struct Pipeline {
    /// Database.
    pub db: DatabaseConnection,
    /// Broker.
    pub queue: Arc<dyn Queue>,
    /// Event fan-out.
    pub bus: Arc<dyn EventBus>,
    /// The model.
    pub llm: Arc<dyn Llm>,
    /// The departments staffed here.
    pub departments: Departments,
    /// Store data by store.
    pub stores: Arc<dyn StoreResolver>,
    /// Wakes the outbox relay after a commit.
    pub outbox: Arc<Notify>,
    /// Tunables.
    pub config: PipelineConfig,
    /// Told how long each handled message took (metrics, benchmarks).
    pub observer: Option<Arc<dyn StepObserver>>,
    /// Embeds document chunks (and, for search, queries); `None` when no
    /// model is configured or the local one is missing: documents are then
    /// ingested without vectors and searchable by full text only.
    pub embedder: Option<Arc<dyn Embedder>>,
    /// Searches chunks by meaning: queries embedded by `embedder`, compared
    /// in the engine's vector index; `None` without an embedder.
    pub vectors: Option<Arc<dyn VectorRetriever>>,
    /// How documents are cut into chunks: with the local model's tokenizer
    /// and sized to its input window when that model embeds, else with
    /// approximate token counts.
    pub chunking: Chunking,
    /// Where datasets' files live and how large an upload may be.
    pub datasets: DatasetSettings,
    /// Read-only SQL over datasets (validation, result cache, execution):
    /// the one path for the API's `askDataset`/`runSql` and the analyst
    /// team's `sql.query` alike.
    pub dataset_sql: Arc<DatasetSql>,
    /// Market data: tick partitions, the latest indicators, the relay's
    /// wake-up.
    pub market: Arc<Market>,
    /// Where repositories may be cloned from and how much of one is read.
    pub code: crate::code::settings::CodeSettings,
}

/// How long one handled message took.
#[derive(Debug, Clone, Copy)]
pub struct StepTiming {
    /// `advance`, `run_task` or `dead_letter`.
    pub step: &'static str,
    /// Wall time of the handler, from delivery to commit.
    pub total: Duration,
    /// Of which the tools ran (the rest is the pipeline's own overhead).
    pub tools: Duration,
}

/// Receives step timings.
pub trait StepObserver: Send + Sync {
    /// One message was handled successfully.
    fn observe(&self, timing: StepTiming);
}

impl Pipeline {
    /// After a commit: wake the relay and broadcast the events.
    pub async fn committed(&self, events: &[Event]) {
        self.outbox.notify_one();
        self.bus.publish(events).await;
    }
}
