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
        });
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    if !limits.suggestions {
        builder = builder.disable_suggestions();
    }
    builder.finish()
}

/// Runs the document limits on `query` as a request meets them, without a
/// schema or database: the token count, async-graphql's parse, then the
/// expansion bound (selections, aliases, directives, nesting, cycles). As in
/// [`DocumentCache`], every directive counts as defined and none as
/// repeatable. For fuzzing (`fuzz/`) and tests; the error is the refusal's
/// message.
#[doc(hidden)]
pub fn check_document_limits(query: &str, limits: &QueryLimits) -> Result<(), String> {
    let bounds = guard::DocumentLimits::from(limits);
    bounds.check_text(query).map_err(|e| e.message)?;
    // What `Request::parsed_query` runs in the guard.
    let document = async_graphql::parser::parse_query(query).map_err(|e| e.to_string())?;
    bounds.check_document(&document, &|_: &str| Some(false)).map_err(|e| e.message)
}

/// The SDL, as checked in at `schema/schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), Subscription::default()).finish().sdl()
}

pub use rate_limit::RateLimiter;

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{QueryLimits, check_document_limits};

    fn limits(max_selections: usize) -> QueryLimits {
        QueryLimits {
            max_depth: 12,
            max_complexity: 1000,
            max_aliases: 30,
            max_tokens: 5_000,
            max_selections,
            max_directives: 10,
            max_errors: 100,
            operation_timeout: None,
            introspection: true,
            suggestions: true,
        }
    }

    #[test]
    fn selections_hold_at_the_limit_and_one_more_is_refused() {
        // `me`, `id`, the spread, `email`: four selections.
        let query = "{ me { id ...F } } fragment F on User { email }";
        assert_eq!(check_document_limits(query, &limits(4)), Ok(()));
        let over = check_document_limits(query, &limits(3));
        assert!(over.as_ref().is_err_and(|m| m.contains("max_selections")), "{over:?}");
    }

    #[test]
    fn a_fragment_bomb_is_refused_without_expanding_it() {
        // 10^30 paths in about 1 KB.
        let mut bomb = String::from("{ ...F0 }");
        for level in 0..30 {
            bomb.push_str(&format!(" fragment F{level} on Query {{ {} }}", format!("...F{} ", level + 1).repeat(10)));
        }
        bomb.push_str(" fragment F30 on Query { __typename }");
        let started = Instant::now();
        let refused = check_document_limits(&bomb, &limits(2_000));
        assert!(refused.as_ref().is_err_and(|m| m.contains("max_selections")), "{refused:?}");
        assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    }

    #[test]
    fn long_texts_and_syntax_errors_are_refused() {
        let long = format!("{{ {} }}", "a ".repeat(5_000));
        let refused = check_document_limits(&long, &limits(2_000));
        assert!(refused.as_ref().is_err_and(|m| m.contains("max_tokens")), "{refused:?}");
        assert!(check_document_limits("{ me { id ", &limits(2_000)).is_err());
        let cycle = check_document_limits("{ ...A } fragment A on Query { ...A }", &limits(2_000));
        assert!(cycle.as_ref().is_err_and(|m| m.contains("cycle")), "{cycle:?}");
    }
}
