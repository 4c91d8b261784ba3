//! The GraphQL schema of Alatar and the account services behind it.
//!
//! Architecture invariant: this crate knows async-graphql but not HTTP; the
//! transport (`alatar-server`) hands it requests with a verified [`Viewer`].

pub mod auth;
mod bounded;
mod context;
mod documents;
pub mod error;
mod graphql;
mod guard;
pub mod rate_limit;
pub mod service;

use std::sync::Arc;

use async_graphql::Schema;

pub use context::{AppState, ContextExt, Viewer};
pub use documents::DocumentCache;
pub use error::{ApiError, ApiResult};
pub use graphql::{Mutation, Query, Subscription, form_pairs};
pub use guard::RateLimits;

/// The executable schema.
pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// Query limits, checked before any resolver runs.
#[derive(Debug, Clone)]
pub struct QueryLimits {
    /// Maximum selection depth.
    pub max_depth: usize,
    /// Maximum complexity (one per field by default).
    pub max_complexity: usize,
    /// Maximum number of aliases in a document.
    pub max_aliases: usize,
    /// Serve `__schema` / `__type`.
    pub introspection: bool,
    /// "Did you mean …" hints in validation errors.
    pub suggestions: bool,
}

/// Assembles the schema with its state, limits and rate limiter.
pub fn build_schema(
    state: AppState,
    limits: &QueryLimits,
    rate_limits: RateLimits,
    limiter: Arc<dyn RateLimiter>,
) -> AppSchema {
    let mut builder = Schema::build(Query::default(), Mutation::default(), Subscription::default())
        .data(state)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .limit_recursive_depth(limits.max_depth.max(32))
        .extension(guard::RequestGuardFactory {
            max_aliases: limits.max_aliases,
            limits: Arc::new(rate_limits),
            limiter,
            validated: Arc::default(),
        });
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    if !limits.suggestions {
        builder = builder.disable_suggestions();
    }
    builder.finish()
}

/// The SDL, as checked in at `schema/schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), Subscription::default()).finish().sdl()
}

pub use rate_limit::RateLimiter;
