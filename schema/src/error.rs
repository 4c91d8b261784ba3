//! The one API error type. Every variant maps to a stable `extensions.code`;
//! internal causes are logged with their chain and never sent to clients.

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
            ApiError::Internal(_) => "INTERNAL",
        }
    }

    /// Shorthand for [`ApiError::BadUserInput`].
    pub fn bad_input(field: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadUserInput { field, message: message.into() }
    }

    /// Wraps any error as internal.
    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(err.into())
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        ApiError::Internal(err.into())
    }
}

impl ApiError {
    /// The `extensions` entries for this error: `code`, plus `field` or
    /// `retryAfter`. Logs an internal cause with its chain (once, here).
    pub fn extensions(&self) -> Vec<(&'static str, async_graphql::Value)> {
        if let ApiError::Internal(cause) = self {
            tracing::error!(error = format!("{cause:#}"), "internal error");
        }
        let mut values = vec![("code", async_graphql::Value::from(self.code()))];
        match self {
            ApiError::BadUserInput { field, .. } => values.push(("field", (*field).into())),
            ApiError::RateLimited { retry_after } => values.push(("retryAfter", (*retry_after).into())),
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
