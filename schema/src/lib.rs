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
mod membership_check;
pub mod rate_limit;
pub mod service;

use std::sync::Arc;
use std::time::Duration;

use async_graphql::Schema;

pub use context::{AppState, Caller, ContextExt, Viewer};
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
    /// Maximum number of aliases in a document, counted through fragments
    /// with multiplicity.
    pub max_aliases: usize,
    /// Maximum lexical tokens in a query text, counted before it is parsed.
    pub max_tokens: usize,
    /// Maximum selections (fields, fragment spreads, inline fragments) the
    /// operations of a document expand to, computed without expanding them.
    pub max_selections: usize,
    /// Maximum directives at one location (field, fragment, operation,
    /// variable); a non-repeatable directive twice is refused too.
    pub max_directives: usize,
    /// Maximum errors in one response; one more error says how many were left out.
    pub max_errors: usize,
    /// Time budget of one query or mutation (`None`: unbounded). Subscriptions have none.
    pub operation_timeout: Option<Duration>,
    /// Serve `__schema` / `__type`.
    pub introspection: bool,
    /// "Did you mean …" hints in validation errors.
    pub suggestions: bool,
}

impl QueryLimits {
    /// How deep async-graphql's own walk of a document (fragment spreads
    /// included) may nest before it refuses it: at least its default of 32.
    pub(crate) fn recursive_depth(&self) -> usize {
        self.max_depth.max(32)
    }
}

/// Assembles the schema with its state, limits and rate limiter.
///
/// async-graphql's own `limit_directives` is not used: its check follows
/// every fragment spread path by path, and the guard's bound covers it.
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
        .limit_recursive_depth(limits.recursive_depth())
        .extension(guard::RequestGuardFactory {
            bounds: guard::DocumentLimits::from(limits),
            max_errors: limits.max_errors,
            operation_timeout: limits.operation_timeout,
            limits: Arc::new(rate_limits),
            limiter,
            validated: Arc::default(),
        })
        // After the guard, whose error annotation then covers what it ends
        // subscriptions with.
        .extension(membership_check::MembershipCheckFactory);
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
