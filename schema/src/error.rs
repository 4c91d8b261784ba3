//! The one API error type. Every variant maps to a stable `extensions.code`;
//! internal causes are logged with their chain and never sent to clients.
//! A database too busy to answer (a write still contended after its
//! retries, the pool exhausted) is `UNAVAILABLE` with `retryAfter`, not
//! `INTERNAL`: nothing is wrong but the moment.

use alatar_agents::write::Contention;
use sea_orm::{ConnAcquireErr, DbErr};

/// Seconds a client is told to wait when the database was too busy.
const BUSY_RETRY_AFTER: u64 = 1;

/// An error a client may see.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No valid credentials.
    #[error("authentication required")]
    Unauthenticated,
    /// Authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(&'static str),
    /// No such thing in the caller's account.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// An argument is invalid; `field` names it.
    #[error("{message}")]
    BadUserInput {
        /// The offending argument or input field.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The request clashes with existing state.
    #[error("{0}")]
    Conflict(String),
    /// Quota used up; try again after `retry_after` seconds.
    #[error("rate limit exceeded, retry in {retry_after} s")]
    RateLimited {
        /// Seconds until the window resets.
        retry_after: u64,
    },
    /// The database was too busy to answer; the same request may succeed
    /// after `retry_after` seconds. The cause is logged, not shown.
    #[error("the service is busy, retry in {retry_after} s")]
    Unavailable {
        /// Seconds to wait before retrying.
        retry_after: u64,
        /// What was busy.
        #[source]
        cause: anyhow::Error,
    },
    /// A query or mutation ran past its time budget and was stopped.
    #[error("the operation ran past its time budget of {budget_ms} ms and was stopped")]
    Timeout {
        /// The budget, in milliseconds.
        budget_ms: u64,
    },
    /// Anything else; the cause is logged, not shown.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// The stable code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::BadUserInput { .. } => "BAD_USER_INPUT",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::RateLimited { .. } => "RATE_LIMITED",
            ApiError::Timeout { .. } => "TIMEOUT",
            ApiError::Unavailable { .. } => "UNAVAILABLE",
            ApiError::Internal(_) => "INTERNAL",
        }
    }

    /// Shorthand for [`ApiError::BadUserInput`].
    pub fn bad_input(field: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadUserInput { field, message: message.into() }
    }

    /// Wraps any error as internal, or as [`ApiError::Unavailable`] when
    /// the database was only busy ("database is locked", a serialization
    /// failure or deadlock, no pooled connection free in time).
    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        let err = err.into();
        if database_busy(&err) {
            ApiError::Unavailable { retry_after: BUSY_RETRY_AFTER, cause: err }
        } else {
            ApiError::Internal(err)
        }
    }
}

/// Contention, or a pool that had no connection to give within its timeout.
fn database_busy(err: &anyhow::Error) -> bool {
    err.is_contention()
        || err.chain().any(|cause| {
            matches!(cause.downcast_ref::<DbErr>(), Some(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)))
        })
}

impl From<DbErr> for ApiError {
    fn from(err: DbErr) -> Self {
        ApiError::internal(err)
    }
}

/// Only contention is worth running a write transaction again for: a pool
/// timeout has already waited its full time.
impl Contention for ApiError {
    fn is_contention(&self) -> bool {
        matches!(self, ApiError::Unavailable { cause, .. } if cause.is_contention())
    }
}

impl ApiError {
    /// The `extensions` entries for this error: `code`, plus `field` or
    /// `retryAfter`. Logs an internal cause with its chain, and a refusal
    /// (`FORBIDDEN`) as a security event (once, here).
    pub fn extensions(&self) -> Vec<(&'static str, async_graphql::Value)> {
        match self {
            ApiError::Internal(cause) => tracing::error!(error = format!("{cause:#}"), "internal error"),
            ApiError::Unavailable { cause, .. } => {
                tracing::warn!(error = format!("{cause:#}"), "database busy; client told to retry");
            }
            // A security event; the request's span names the request, user and account.
            ApiError::Forbidden(why) => tracing::warn!(reason = *why, "forbidden"),
            _ => {}
        }
        let mut values = vec![("code", async_graphql::Value::from(self.code()))];
        match self {
            ApiError::BadUserInput { field, .. } => values.push(("field", (*field).into())),
            ApiError::RateLimited { retry_after } | ApiError::Unavailable { retry_after, .. } => {
                values.push(("retryAfter", (*retry_after).into()));
            }
            _ => {}
        }
        values
    }

    /// Writes [`ApiError::extensions`] into a GraphQL error.
    pub fn annotate(&self, error: &mut async_graphql::ServerError) {
        let values = self.extensions();
        let ext = error.extensions.get_or_insert_with(Default::default);
        for (key, value) in values {
            ext.set(key, value);
        }
    }
}

/// Result alias for services.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_timeout_is_unavailable_but_not_retried() {
        let err = ApiError::from(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout));
        assert_eq!(err.code(), "UNAVAILABLE");
        assert!(!err.is_contention());
        assert!(err.extensions().iter().any(|(key, _)| *key == "retryAfter"));
    }

    #[test]
    fn other_database_errors_stay_internal() {
        let err = ApiError::from(DbErr::Custom("database is locked".into()));
        assert_eq!(err.code(), "INTERNAL");
        assert!(!err.is_contention());
    }
}
