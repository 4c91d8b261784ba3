//! `searchDocuments`: the bounds of a search (query length, `first`, the
//! documents filter) and the collection's ownership here, the search
//! pipeline in `alatar_agents::knowledge::search`. Every role may search,
//! viewers included; another account's collection is `NOT_FOUND`.

use uuid::Uuid;

use alatar_agents::knowledge::search::{
    self, DocumentSearch, MAX_DOCUMENT_IDS, MAX_FIRST, MAX_QUERY_CHARS, SearchMode, SearchQuery,
};
use alatar_agents::pipeline::Pipeline;
use alatar_entity::AccountScope;

use super::collection;
use crate::error::{ApiError, ApiResult};

/// A search as the API asks for it.
#[derive(Debug, Clone)]
pub struct SearchInput {
    /// The collection searched.
    pub collection_id: Uuid,
    /// The user's words.
    pub query: String,
    /// Most hits, 1 to 50.
    pub first: i32,
    /// The mode asked for.
    pub mode: SearchMode,
    /// The least retriever score a hit needs.
    pub min_score: Option<f64>,
    /// Only these documents' chunks.
    pub document_ids: Option<Vec<Uuid>>,
}

/// `BAD_USER_INPUT` for a search out of bounds; `first` as a count.
fn check(input: &SearchInput) -> ApiResult<usize> {
    if input.query.trim().is_empty() {
        return Err(ApiError::bad_input("query", "must not be empty"));
    }
    if input.query.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::bad_input("query", format!("must be at most {MAX_QUERY_CHARS} characters")));
    }
    let first = usize::try_from(input.first).ok().filter(|n| (1..=MAX_FIRST).contains(n));
    let Some(first) = first else {
        return Err(ApiError::bad_input("first", format!("must be between 1 and {MAX_FIRST}")));
    };
    if input.min_score.is_some_and(|s| !s.is_finite()) {
        return Err(ApiError::bad_input("minScore", "must be a number"));
    }
    if input.document_ids.as_ref().is_some_and(|ids| ids.len() > MAX_DOCUMENT_IDS) {
        return Err(ApiError::bad_input("documentIds", format!("may name at most {MAX_DOCUMENT_IDS} documents")));
    }
    Ok(first)
}

/// Searches one of the account's collections.
pub async fn search_documents(p: &Pipeline, scope: AccountScope, input: SearchInput) -> ApiResult<DocumentSearch> {
    let first = check(&input)?;
    let target = collection(p, scope, input.collection_id).await?;
    let query = SearchQuery {
        scope,
        collection_id: target.id,
        text: input.query,
        first,
        mode: input.mode,
        min_score: input.min_score,
        document_ids: input.document_ids,
    };
    search::search(&p.db, p.retrievers(), &target, query).await.map_err(ApiError::internal)
}
