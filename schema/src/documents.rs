//! Parsed documents by query text.
//!
//! Clients send the same few operations over and over (`me`, a list, a
//! poll), and parsing is the largest single cost of a small query. Parsing
//! yields syntax only (no variables, no viewer, no data), so one parse can
//! serve every caller; validation and the limits still run on each request.

use std::collections::HashMap;
use std::sync::Mutex;

use async_graphql::parser::types::ExecutableDocument;

/// Longer queries are parsed every time: the cache bounds its memory.
const MAX_QUERY_BYTES: usize = 8 * 1024;
/// Distinct operations remembered; past this the cache starts over, so a
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
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(request.query.clone(), document);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ExecutableDocument>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
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
