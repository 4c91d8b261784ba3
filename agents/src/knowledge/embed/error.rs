//! Why texts could not be embedded, typed so that callers can tell "try
//! later" (the ingestion step waits or requeues) from "never" (the document
//! fails with a reason).

use std::path::PathBuf;
use std::time::Duration;

/// Why an embedding failed.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// Worth trying again later: rate limited, the provider failing (5xx),
    /// unreachable or too slow. `retry_after` is the provider's hint when it
    /// gave one (or the wait it asked for was longer than we wait in place).
    #[error("embedding model unavailable: {reason}")]
    Unavailable {
        /// What happened, for the logs and a document's failure reason.
        reason: String,
        /// When to try again, if known.
        retry_after: Option<Duration>,
    },
    /// The texts themselves were refused (empty, too long for the provider,
    /// not valid input); sending them again will not help.
    #[error("embedding input rejected: {0}")]
    BadInput(String),
    /// The provider answered, but not with usable vectors: refused the key or
    /// the model, or answered vectors of the wrong count or dimension (a
    /// configuration that does not match the model).
    #[error("embedding provider error: {0}")]
    Provider(String),
    /// The in-process model failed while running.
    #[error("embedding model failed: {0}")]
    Model(String),
    /// The in-process model could not be loaded from its directory.
    #[error("embedding model could not be loaded from {}: {reason}", path.display())]
    Load {
        /// The file or directory that was read.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
}

impl EmbedError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    /// The provider's hint of when to try again, if it gave one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
