//! `jobs`: long work run on a department's queue (`Datasets`', `Code`'s), one row per
//! job (`QUEUED → RUNNING → COMPLETED | FAILED | CANCELLED`), with its
//! progress, its error and whether cancelling it was asked for.

use sea_orm::entity::prelude::*;

/// What a job does. Stored as its text form in `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Parses an uploaded file, infers its column types, loads its table
    /// and computes its profile (also a reload with changed column types).
    Ingestion,
    /// Computes a loaded dataset's insights (anomalies, trends,
    /// recommendations) and stores them on it.
    Insights,
    /// Trains models of several families on a dataset with k-fold
    /// cross-validation and registers the best (`ml_models`).
    Training,
    /// Clones a repository and analyses it: files, languages, manifests,
    /// licences, the code graph and its index, README and licence advice
    /// (`repository_analyses`; no dataset).
    RepositoryAnalysis,
}

impl JobKind {
    /// Stable text form, as stored and as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ingestion => "INGESTION",
            Self::Insights => "INSIGHTS",
            Self::Training => "TRAINING",
            Self::RepositoryAnalysis => "REPOSITORY_ANALYSIS",
        }
    }

    /// The kind stored as `text`.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Ingestion, Self::Insights, Self::Training, Self::RepositoryAnalysis]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// Where a job stands. Stored as its text form in `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    /// Waiting for a worker.
    Queued,
    /// A worker is on it.
    Running,
    /// Done.
    Completed,
    /// Stopped by an error; `error` says why.
    Failed,
    /// Stopped because it was asked to (or its dataset was deleted).
    Cancelled,
}

impl JobStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [JobStatus; 5] = [Self::Queued, Self::Running, Self::Completed, Self::Failed, Self::Cancelled];

    /// The statuses a job can still move on from.
    pub const UNFINISHED: [JobStatus; 2] = [Self::Queued, Self::Running];

    /// Stable text form, as stored and as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "QUEUED",
            Self::Running => "RUNNING",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
        }
    }

    /// The status stored as `text`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// No further change happens.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }

    /// [`JobStatus::UNFINISHED`] as stored.
    pub fn unfinished_texts() -> [&'static str; 2] {
        Self::UNFINISHED.map(Self::as_str)
    }
}

/// One job of an account.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    /// Primary key (UUIDv7, so ids sort by creation).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// [`JobKind`] as text: `INGESTION`, `INSIGHTS`, `TRAINING` or
    /// `REPOSITORY_ANALYSIS`.
    pub kind: String,
    /// [`JobStatus`] as text.
    pub status: String,
    /// 0–100.
    pub progress: i32,
    /// Why it failed, in words a merchant understands.
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    /// The dataset it works on; kept after the dataset is deleted.
    pub dataset_id: Option<Uuid>,
    /// `cancelJob` asked a running job to stop; the worker stops at its
    /// next check between batches.
    pub cancel_requested: bool,
    /// What the job was asked beyond its dataset: for a reload with
    /// changed column types, `{"columns": [ColumnSpec…]}`; for a training,
    /// `{targetColumn, problemType, features, name}`; `None` for a first
    /// load (types inferred).
    pub input: Option<Json>,
    /// The member who started it.
    pub created_by: Uuid,
    /// When it was queued.
    pub created_at: ChronoDateTimeUtc,
    /// When a worker first started it.
    pub started_at: Option<ChronoDateTimeUtc>,
    /// When it reached a terminal status.
    pub finished_at: Option<ChronoDateTimeUtc>,
}

impl Model {
    /// `status` as a [`JobStatus`]; an unknown text counts as `FAILED`.
    pub fn status(&self) -> JobStatus {
        JobStatus::parse(&self.status).unwrap_or(JobStatus::Failed)
    }
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

// As `workflow` does: the one-line mapping every tenant table has, beside its model.
impl crate::TenantOwned for Entity {
    fn account_column() -> Self::Column {
        Column::AccountId
    }
}
