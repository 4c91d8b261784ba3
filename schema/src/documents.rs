//! Parsed and validated documents by query text.
//!
//! Clients send the same few operations over and over (`me`, a list, a
//! poll), and parsing and validation were the largest costs of a small
//! query. Parsing yields syntax only (no variables, no viewer, no data), so
//! one parse can serve every caller. Validation depends only on the
//! document, the operation, the variables and the schema: for a request
//! without variables it gives the same answer every time. The limits and
//! rate limits still run on each request.
//!
//! This runs in the transport before the schema sees the request, so it
//! holds to the same document limits as the guard: a text over the token cap
//! is not parsed here at all, and a document over the other limits is parsed
//! for its one request but never remembered. Every entry is then a bounded
//! document, and the guard checks each request again whatever this gave it.

use std::collections::HashMap;
use std::sync::Mutex;

use async_graphql::ValidationResult;
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument};

use crate::QueryLimits;
use crate::bounded::make_room;
use crate::guard::DocumentLimits;

/// Longer queries are parsed and validated every time: the caches bound
/// their memory.
const MAX_QUERY_BYTES: usize = 8 * 1024;
/// Distinct operations remembered; past this a cache starts over, so a
/// client sending endless distinct queries cannot grow it.
const MAX_ENTRIES: usize = 1024;

/// Parsed documents, keyed by their exact text.
pub struct DocumentCache {
    entries: Mutex<HashMap<String, ExecutableDocument>>,
    /// The schema's document limits: no default, so that the cache can never
    /// hold to other limits than the guard that checks after it.
    limits: DocumentLimits,
}

impl DocumentCache {
    /// An empty cache holding documents to `limits` (those the schema was built with).
    pub fn new(limits: &QueryLimits) -> Self {
        Self { entries: Mutex::default(), limits: DocumentLimits::from(limits) }
    }

    /// Gives `request` its parsed document, from the cache or parsed now (and
    /// then remembered if within the limits). A query that does not parse is
    /// left alone: execution reports the syntax error as usual. A text over
    /// the token cap gets an empty document instead of a parse, so that
    /// nothing before the guard (the transport's look at the operation type)
    /// parses it; the guard refuses it by its text before reading that.
    pub fn prepare(&self, request: &mut async_graphql::Request) {
        let cacheable = request.query.len() <= MAX_QUERY_BYTES;
        if cacheable {
            let cached = self.lock().get(request.query.as_str()).cloned();
            if let Some(document) = cached {
                request.set_parsed_query(document);
                return;
            }
        }
        if self.limits.check_text(&request.query).is_err() {
            request.set_parsed_query(unparsed());
            return;
        }
        if !cacheable {
            return;
        }
        let Ok(document) = request.parsed_query() else { return };
        // Without the schema at hand no directive counts as repeatable: a
        // document repeating one is parsed for this request, not remembered.
        if self.limits.check_document(document, &|_: &str| Some(false)).is_err() {
            return;
        }
        let document = document.clone();
        let mut entries = self.lock();
        make_room(&mut entries, MAX_ENTRIES, |_| false);
        entries.insert(request.query.clone(), document);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ExecutableDocument>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A document with no operations and no fragments: what a text too long to
/// parse carries until the guard refuses it.
fn unparsed() -> ExecutableDocument {
    ExecutableDocument { operations: DocumentOperations::Multiple(HashMap::new()), fragments: HashMap::new() }
}

/// Which operation of which document: the query text and operation name.
pub(crate) type DocumentKey = (String, Option<String>);

/// Validation outcomes of documents that passed. Only passing outcomes are
/// kept: an invalid document is checked (and refused) again each time.
#[derive(Default)]
pub(crate) struct ValidatedDocuments(Mutex<HashMap<DocumentKey, ValidationResult>>);

impl ValidatedDocuments {
    /// The key of `request`, if its validation may be remembered: no
    /// variables, no uploads, a bounded text.
    pub(crate) fn key(request: &async_graphql::Request) -> Option<DocumentKey> {
        (request.variables.is_empty() && request.uploads.is_empty() && request.query.len() <= MAX_QUERY_BYTES)
            .then(|| (request.query.clone(), request.operation_name.clone()))
    }

    pub(crate) fn get(&self, key: &DocumentKey) -> Option<ValidationResult> {
        self.0.lock().ok()?.get(key).copied()
    }

    pub(crate) fn put(&self, key: DocumentKey, result: ValidationResult) {
        if let Ok(mut map) = self.0.lock() {
            make_room(&mut map, MAX_ENTRIES, |_| false);
            map.insert(key, result);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> DocumentCache {
        DocumentCache::new(&QueryLimits {
            max_depth: 12,
            max_complexity: 1000,
            max_aliases: 30,
            max_tokens: 5_000,
            max_selections: 2_000,
            max_directives: 10,
            max_errors: 100,
            operation_timeout: None,
            introspection: true,
            suggestions: true,
        })
    }

    #[test]
    fn a_query_is_parsed_once_and_shared() {
        let cache = cache();
        let mut first = async_graphql::Request::new("{ me { id } }");
        cache.prepare(&mut first);
        assert_eq!(cache.lock().len(), 1);
        let mut second = async_graphql::Request::new("{ me { id } }");
        cache.prepare(&mut second);
        assert_eq!(cache.lock().len(), 1);
        let doc = second.parsed_query().map(|d| d.operations.iter().count()).ok();
        assert_eq!(doc, Some(1));
    }

    #[test]
    fn syntax_errors_and_huge_queries_are_not_kept() {
        let cache = cache();
        cache.prepare(&mut async_graphql::Request::new("{ me { id "));
        cache.prepare(&mut async_graphql::Request::new(format!("{{ me {{ id }} }} #{}", "x".repeat(MAX_QUERY_BYTES))));
        assert_eq!(cache.lock().len(), 0);
    }

    #[test]
    fn documents_over_the_limits_are_not_parsed_or_kept() {
        let cache = cache();
        // Too many tokens: not parsed at all, an empty document instead.
        let mut long = async_graphql::Request::new(format!("{{ {} }}", "a ".repeat(6_000)));
        cache.prepare(&mut long);
        assert_eq!(long.parsed_query().map(|d| d.operations.iter().count()).ok(), Some(0));
        // Few tokens, many selections: parsed for the request, not kept.
        let mut bomb = String::from("{ ...F0 }");
        for level in 0..12 {
            bomb.push_str(&format!(" fragment F{level} on Query {{ {} }}", format!("...F{} ", level + 1).repeat(4)));
        }
        bomb.push_str(" fragment F12 on Query { __typename }");
        let mut request = async_graphql::Request::new(bomb);
        cache.prepare(&mut request);
        assert_eq!(request.parsed_query().map(|d| d.fragments.len()).ok(), Some(13));
        assert_eq!(cache.lock().len(), 0);
    }
}
