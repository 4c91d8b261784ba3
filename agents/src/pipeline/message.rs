//! What travels on the queues. Messages carry ids only; the database holds
//! the state, so a redelivered message re-reads it and cannot double up.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Department;

/// The orchestrator's queue.
pub const ORCHESTRATOR_QUEUE: &str = "alatar.orchestrator";
/// Approved store changes, executed one by one.
pub const ACTIONS_QUEUE: &str = "alatar.actions";
/// Where messages go after the delivery limit.
pub const DEAD_LETTER_QUEUE: &str = "alatar.dead_letters";

/// A unit of work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Message {
    /// Orchestrator: look at the request and do the next thing (plan,
    /// dispatch ready tasks, fail, or write the result).
    Advance {
        /// The request.
        request_id: Uuid,
        /// Re-send tasks already dispatched (after a restart lost them).
        #[serde(default)]
        redispatch: bool,
    },
    /// Department: work one task.
    RunTask {
        /// The request.
        request_id: Uuid,
        /// The task.
        task_id: Uuid,
        /// Its department (selects the queue).
        department: Department,
    },
    /// Run an approved action against its store.
    ExecuteAction {
        /// The request that proposed it.
        request_id: Uuid,
        /// The action.
        action_id: Uuid,
    },
    /// Knowledge: read, chunk and embed an uploaded document
    /// (`knowledge::ingest`). Its own work, not a request's task, on the
    /// `Knowledge` department's queue.
    IngestDocument {
        /// The document's account.
        account_id: Uuid,
        /// The document.
        document_id: Uuid,
    },
    /// Knowledge: write an ingested document's summary
    /// (`knowledge::summary`), on the `Knowledge` department's queue. Does
    /// nothing unless the document still waits for this very job (its
    /// `summary_job_id`), so a redelivery or a superseded job writes nothing.
    SummarizeDocument {
        /// The document's account.
        account_id: Uuid,
        /// The document.
        document_id: Uuid,
        /// The job, as the document records it.
        job_id: Uuid,
    },
    /// Datasets: run an ingestion job (`datasets::ingest`): parse, infer,
    /// load and profile a dataset's upload. Its own work, not a request's
    /// task, on the `Datasets` department's queue; does nothing once the
    /// job has ended.
    IngestDataset {
        /// The job's account.
        account_id: Uuid,
        /// The job.
        job_id: Uuid,
    },
    /// Datasets: run an insights job (`datasets::insights::job`): anomalies,
    /// trends and recommendations over a loaded dataset, stored on it. On
    /// the `Datasets` department's queue; does nothing once the job has
    /// ended.
    DatasetInsights {
        /// The job's account.
        account_id: Uuid,
        /// The job.
        job_id: Uuid,
    },
    /// Datasets: run a training job (`datasets::models::job`): several
    /// model families cross-validated on a dataset, the best registered.
    /// On the `Datasets` department's queue; does nothing once the job has
    /// ended (a completed job's model is never trained twice).
    TrainModel {
        /// The job's account.
        account_id: Uuid,
        /// The job.
        job_id: Uuid,
    },
    /// Code: clone and analyse a repository (`code::job`). On the `Code`
    /// department's queue; does nothing once the job has ended.
    AnalyzeRepository {
        /// The job's account.
        account_id: Uuid,
        /// The job.
        job_id: Uuid,
    },
}

impl Message {
    /// The queue this message goes to.
    pub fn queue(&self) -> &'static str {
        match self {
            Message::Advance { .. } => ORCHESTRATOR_QUEUE,
            Message::RunTask { department, .. } => department.queue_name(),
            Message::ExecuteAction { .. } => ACTIONS_QUEUE,
            Message::IngestDocument { .. } | Message::SummarizeDocument { .. } => Department::Knowledge.queue_name(),
            Message::IngestDataset { .. } | Message::DatasetInsights { .. } | Message::TrainModel { .. } => {
                Department::Datasets.queue_name()
            }
            Message::AnalyzeRepository { .. } => Department::Code.queue_name(),
        }
    }

    /// The request it concerns; `None` for a document's ingestion or
    /// summary and for a dataset's job.
    pub fn request_id(&self) -> Option<Uuid> {
        match self {
            Message::Advance { request_id, .. }
            | Message::RunTask { request_id, .. }
            | Message::ExecuteAction { request_id, .. } => Some(*request_id),
            Message::IngestDocument { .. }
            | Message::SummarizeDocument { .. }
            | Message::IngestDataset { .. }
            | Message::DatasetInsights { .. }
            | Message::TrainModel { .. }
            | Message::AnalyzeRepository { .. } => None,
        }
    }

    /// The row it is about: the request, the document or the job (for logs).
    pub fn subject(&self) -> Uuid {
        match self {
            Message::IngestDocument { document_id, .. } | Message::SummarizeDocument { document_id, .. } => {
                *document_id
            }
            Message::IngestDataset { job_id, .. }
            | Message::DatasetInsights { job_id, .. }
            | Message::TrainModel { job_id, .. }
            | Message::AnalyzeRepository { job_id, .. } => *job_id,
            other => other.request_id().unwrap_or_default(),
        }
    }
}
