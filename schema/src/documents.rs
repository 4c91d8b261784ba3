//! Parsed and validated documents by query text.
//!
//! Clients send the same few operations over and over (`me`, a list, a
//! poll), and parsing and validation were the largest costs of a small
//! query. Parsing yields syntax only (no variables, no viewer, no data), so
//! one parse can serve every caller. Validation depends only on the
//! document, the operation, the variables and the schema: for a request
//! without variables it gives the same answer every time. The limits and
//! rate limits still run on each request.

use std::collections::HashMap;
use std::sync::Mutex;

use async_graphql::ValidationResult;
use async_graphql::parser::types::ExecutableDocument;

use crate::bounded::make_room;

/// Longer queries are parsed and validated every time: the caches bound
/// their memory.
const MAX_QUERY_BYTES: usize = 8 * 1024;
/// Distinct operations remembered; past this a cache starts over, so a
/// client sending endless distinct queries cannot grow it.
const MAX_ENTRIES: usize = 1024;

/// Parsed documents, keyed by their exact text.
#[derive(Default)]
pub struct DocumentCache {
    entries: Mutex<HashMap<String, ExecutableDocument>>,
}

impl DocumentCache {
    /// Gives `request` its parsed document, from the cache or parsed now (and
    /// then remembered). A query that does not parse is left alone: execution
    /// reports the syntax error as usual.
    pub fn prepare(&self, request: &mut async_graphql::Request) {
        if request.query.len() > MAX_QUERY_BYTES {
            return;
        }
        let cached = self.lock().get(request.query.as_str()).cloned();
        if let Some(document) = cached {
            request.set_parsed_query(document);
            return;
        }
        let Ok(document) = request.parsed_query() else { return };
        let document = document.clone();
        let mut entries = self.lock();
        make_room(&mut entries, MAX_ENTRIES, |_| false);
        entries.insert(request.query.clone(), document);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ExecutableDocument>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
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

    #[test]
    fn a_query_is_parsed_once_and_shared() {
        let cache = DocumentCache::default();
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
        let cache = DocumentCache::default();
        cache.prepare(&mut async_graphql::Request::new("{ me { id "));
        cache.prepare(&mut async_graphql::Request::new(format!("{{ me {{ id }} }} #{}", "x".repeat(MAX_QUERY_BYTES))));
        assert_eq!(cache.lock().len(), 0);
    }
}
