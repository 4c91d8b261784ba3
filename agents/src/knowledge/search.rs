//! Search over a collection's chunks, in small named steps (in the manner
//! of Meilisearch's milli): the query ([`query`]: cleaned, and for FTS5
//! compiled so nothing typed is syntax), the [`plan`] (which retrievers
//! run for the mode asked: a retriever that cannot run is left out and
//! said so, never faked), candidates per retriever ([`full_text`]'s
//! `FullText` port; a [`VectorRetriever`] when vectors are stored),
//! [`fusion`] by reciprocal rank, then the hits: the chunks with their
//! documents, in fused order.
//!
//! `FULL_TEXT` runs on both engines; `VECTOR` and `HYBRID` use the
//! [`VectorRetriever`] in [`Retrievers`] ([`vector`]'s `Semantic`, when an
//! embedder is loaded), and without one (or when the collection has no
//! vectors of its model) they search by full text and the answer says so
//! (`requested` vs `used`, with a `note`).
//!
//! `min_score` applies per retriever, to that retriever's own score (a
//! text score in `[0, 1)`, a cosine similarity), before fusion; the fused
//! score is rank-based and has no absolute meaning.

pub mod full_text;
pub mod fusion;
pub mod query;
pub mod vector;

use async_trait::async_trait;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, QueryFilter};
use uuid::Uuid;

use alatar_entity::{AccountScope, collection, document, document_chunk};

pub use full_text::{Candidate, FullText, PostgresFullText, SqliteFullText};
pub use fusion::{Fused, RRF_K, Retriever, reciprocal_rank_fusion};
pub use vector::{EmbeddedIndex, Nearest, PgVectorIndex, Semantic, VectorIndex};

/// Most hits one search returns.
pub const MAX_FIRST: usize = 50;
/// Longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 1_000;
/// Most documents a search may be limited to.
pub const MAX_DOCUMENT_IDS: usize = 100;
/// Candidates each retriever contributes when several are fused, at least:
/// a chunk ranked low by one and high by another still reaches the fusion.
const FUSION_DEPTH: usize = 50;

/// How a search finds chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchMode {
    /// By their words.
    FullText,
    /// By the meaning of their vectors.
    Vector,
    /// Both, fused by reciprocal rank.
    Hybrid,
}

/// What to search for, where.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    /// The account searching.
    pub scope: AccountScope,
    /// The collection searched.
    pub collection_id: Uuid,
    /// The user's words (`websearch_to_tsquery` syntax: words, "phrases",
    /// `or`, `-word`); cleaned by [`search`].
    pub text: String,
    /// Most hits, 1 to [`MAX_FIRST`] (clamped).
    pub first: usize,
    /// The mode asked for.
    pub mode: SearchMode,
    /// The least score a retriever's candidate needs (see the module doc).
    pub min_score: Option<f64>,
    /// Only chunks of these documents, when given.
    pub document_ids: Option<Vec<Uuid>>,
}

/// Finds chunks by the meaning of the query: the vector retriever's port,
/// implemented where vectors are stored.
#[async_trait]
pub trait VectorRetriever: Send + Sync {
    /// Whether `collection` has vectors this retriever can compare the
    /// query with (an embedder loaded, vectors of its model stored).
    async fn ready(&self, db: &DatabaseConnection, collection: &collection::Model) -> anyhow::Result<bool>;

    /// The `limit` chunks nearest to `query.text`, best first, scored by
    /// cosine similarity, with the same filters as [`FullText`].
    async fn candidates(
        &self,
        db: &DatabaseConnection,
        query: &SearchQuery,
        limit: usize,
    ) -> anyhow::Result<Vec<Candidate>>;

    /// [`candidates`](Self::candidates) if `collection` is
    /// [`ready`](Self::ready), else `None`. An implementation may overlap
    /// the check with the query's embedding, which does not depend on it.
    async fn candidates_if_ready(
        &self,
        db: &DatabaseConnection,
        collection: &collection::Model,
        query: &SearchQuery,
        limit: usize,
    ) -> anyhow::Result<Option<Vec<Candidate>>> {
        if self.ready(db, collection).await? { self.candidates(db, query, limit).await.map(Some) } else { Ok(None) }
    }
}

/// The retrievers a search may use.
#[derive(Clone, Copy)]
pub struct Retrievers<'a> {
    /// The engine's full-text retriever.
    pub full_text: &'a dyn FullText,
    /// The vector retriever, once there is one.
    pub vector: Option<&'a dyn VectorRetriever>,
}

impl crate::pipeline::Pipeline {
    /// The retrievers searches use here: the engine's full text, and the
    /// vector index when an embedder is loaded.
    pub fn retrievers(&self) -> Retrievers<'_> {
        Retrievers {
            full_text: full_text::for_backend(self.db.get_database_backend()),
            vector: self.vectors.as_deref(),
        }
    }
}

/// Which retrievers run, and what the caller is told about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The mode asked for.
    pub requested: SearchMode,
    /// The mode that runs.
    pub used: SearchMode,
    /// Why they differ, in words for the caller.
    pub note: Option<String>,
}

/// The plan for `requested` when vectors are (or are not) `available`.
pub fn plan(requested: SearchMode, vectors_available: bool) -> Plan {
    match requested {
        SearchMode::Vector | SearchMode::Hybrid if !vectors_available => Plan {
            requested,
            used: SearchMode::FullText,
            note: Some(
                "this collection has no stored vectors (no embedding model is configured, or its documents \
                 are not embedded yet): searched by full text only"
                    .to_owned(),
            ),
        },
        _ => Plan { requested, used: requested, note: None },
    }
}

/// One chunk found, with its document and its scores.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// The chunk (text, page, offsets).
    pub chunk: document_chunk::Model,
    /// Its document.
    pub document: document::Model,
    /// The full-text score, when full text found it.
    pub text_score: Option<f64>,
    /// The vector score, when the vector retriever found it.
    pub vector_score: Option<f64>,
    /// The fused score (reciprocal rank), higher better.
    pub score: f64,
}

/// A search's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentSearch {
    /// What ran, and what was asked.
    pub plan: Plan,
    /// Best first.
    pub hits: Vec<SearchHit>,
}

/// Runs `query` (the collection already known to be the scope's) with
/// `retrievers`: plan, candidates, fusion, hits.
pub async fn search(
    db: &DatabaseConnection,
    retrievers: Retrievers<'_>,
    collection: &collection::Model,
    query: SearchQuery,
) -> anyhow::Result<DocumentSearch> {
    let meaning = query.text.clone();
    search_with_meaning(db, retrievers, collection, query, &meaning).await
}

/// [`search`] with the vector retriever embedding `meaning` instead of
/// the full-text query (code search reads identifiers as `or`-ed words,
/// which mean less to a model than the question as asked).
pub async fn search_with_meaning(
    db: &DatabaseConnection,
    retrievers: Retrievers<'_>,
    collection: &collection::Model,
    query: SearchQuery,
    meaning: &str,
) -> anyhow::Result<DocumentSearch> {
    let (query, plan, fused) = fuse(db, retrievers, collection, query, meaning).await?;
    let hits = hits(db, &query, &fused).await?;
    Ok(DocumentSearch { plan, hits })
}

/// The steps of [`search_with_meaning`] short of reading the hits: the
/// query as cleaned, the plan and the fused ranking (chunk ids and
/// scores, best first). Code search reads its nodes from these ids.
pub async fn fuse(
    db: &DatabaseConnection,
    retrievers: Retrievers<'_>,
    collection: &collection::Model,
    query: SearchQuery,
    meaning: &str,
) -> anyhow::Result<(SearchQuery, Plan, Vec<Fused>)> {
    let query = SearchQuery {
        text: query::clean(&query.text.chars().take(MAX_QUERY_CHARS).collect::<String>()),
        first: query.first.clamp(1, MAX_FIRST),
        ..query
    };
    let meaning =
        SearchQuery { text: query::clean(&meaning.chars().take(MAX_QUERY_CHARS).collect::<String>()), ..query.clone() };
    if query.mode == SearchMode::Hybrid
        && let Some(vector) = retrievers.vector
    {
        return fuse_hybrid(db, &retrievers, vector, collection, query, &meaning).await;
    }
    let mut vector = None;
    if let Some(ready) = retrievers.vector
        && query.mode != SearchMode::FullText
        && ready.ready(db, collection).await?
    {
        vector = Some(ready);
    }
    let plan = plan(query.mode, vector.is_some());
    let lists = candidates(db, &retrievers, vector, &plan, (&query, &meaning)).await?;
    let mut fused = reciprocal_rank_fusion(&lists, RRF_K);
    fused.truncate(query.first);
    Ok((query, plan, fused))
}

/// [`fuse`] for `HYBRID` with a vector retriever: full text is needed
/// whether or not the collection has vectors (without them hybrid is full
/// text), so it runs at once, beside the check for vectors and the vector
/// search (the query's embedding), instead of after the check. Without
/// vectors its list is cut to `first`, as a full-text search's is.
async fn fuse_hybrid(
    db: &DatabaseConnection,
    retrievers: &Retrievers<'_>,
    vector: &dyn VectorRetriever,
    collection: &collection::Model,
    query: SearchQuery,
    meaning: &SearchQuery,
) -> anyhow::Result<(SearchQuery, Plan, Vec<Fused>)> {
    let depth = query.first.max(FUSION_DEPTH);
    let by_words = retrievers.full_text.candidates(db, &query, depth);
    let by_meaning = vector.candidates_if_ready(db, collection, meaning, depth);
    let (by_words, by_meaning) = tokio::join!(by_words, by_meaning);
    let (mut words, by_meaning) = (by_words?, by_meaning?);
    let keep = |found: Vec<Candidate>| -> Vec<Candidate> {
        match query.min_score {
            Some(min) => found.into_iter().filter(|c| c.score >= min).collect(),
            None => found,
        }
    };
    let plan = plan(SearchMode::Hybrid, by_meaning.is_some());
    let lists = match by_meaning {
        Some(found) => vec![(Retriever::FullText, keep(words)), (Retriever::Vector, keep(found))],
        None => {
            words.truncate(query.first);
            vec![(Retriever::FullText, keep(words))]
        }
    };
    let mut fused = reciprocal_rank_fusion(&lists, RRF_K);
    fused.truncate(query.first);
    Ok((query, plan, fused))
}

/// Each planned retriever's candidates, at or above `min_score`.
async fn candidates(
    db: &DatabaseConnection,
    retrievers: &Retrievers<'_>,
    vector: Option<&dyn VectorRetriever>,
    plan: &Plan,
    (query, meaning): (&SearchQuery, &SearchQuery),
) -> anyhow::Result<Vec<(Retriever, Vec<Candidate>)>> {
    let fusing = plan.used == SearchMode::Hybrid;
    let depth = if fusing { query.first.max(FUSION_DEPTH) } else { query.first };
    let keep = |found: Vec<Candidate>| -> Vec<Candidate> {
        match query.min_score {
            Some(min) => found.into_iter().filter(|c| c.score >= min).collect(),
            None => found,
        }
    };
    let by_words = async {
        match plan.used {
            SearchMode::FullText | SearchMode::Hybrid => {
                retrievers.full_text.candidates(db, query, depth).await.map(Some)
            }
            SearchMode::Vector => Ok(None),
        }
    };
    let by_meaning = async {
        match vector.filter(|_| matches!(plan.used, SearchMode::Vector | SearchMode::Hybrid)) {
            Some(vector) => vector.candidates(db, meaning, depth).await.map(Some),
            None => Ok(None),
        }
    };
    // Both at once: embedding the query and the full-text scan overlap.
    let (by_words, by_meaning) = tokio::join!(by_words, by_meaning);
    let mut lists = Vec::new();
    if let Some(found) = by_words? {
        lists.push((Retriever::FullText, keep(found)));
    }
    if let Some(found) = by_meaning? {
        lists.push((Retriever::Vector, keep(found)));
    }
    Ok(lists)
}

/// The fused chunks with their documents, in fused order (a chunk deleted
/// since it was found is left out).
async fn hits(db: &DatabaseConnection, query: &SearchQuery, fused: &[Fused]) -> Result<Vec<SearchHit>, DbErr> {
    if fused.is_empty() {
        return Ok(Vec::new());
    }
    let scope = query.scope;
    let ids: Vec<Uuid> = fused.iter().map(|f| f.chunk_id).collect();
    let chunks = scope
        .find::<document_chunk::Entity>()
        .filter(document_chunk::Column::Id.is_in(ids))
        .filter(document_chunk::Column::CollectionId.eq(query.collection_id))
        .all(&scope.on(db))
        .await?;
    let mut document_ids: Vec<Uuid> = chunks.iter().map(|c| c.document_id).collect();
    document_ids.sort_unstable();
    document_ids.dedup();
    let documents =
        scope.find::<document::Entity>().filter(document::Column::Id.is_in(document_ids)).all(&scope.on(db)).await?;
    Ok(fused
        .iter()
        .filter_map(|f| {
            let chunk = chunks.iter().find(|c| c.id == f.chunk_id)?;
            let document = documents.iter().find(|d| d.id == chunk.document_id)?;
            Some(SearchHit {
                chunk: chunk.clone(),
                document: document.clone(),
                text_score: f.text_score,
                vector_score: f.vector_score,
                score: f.score,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_vectors_every_mode_is_full_text_and_says_so() {
        for requested in [SearchMode::Vector, SearchMode::Hybrid] {
            let plan = plan(requested, false);
            assert_eq!((plan.requested, plan.used), (requested, SearchMode::FullText));
            assert!(plan.note.is_some_and(|n| n.contains("full text")));
        }
        assert_eq!(plan(SearchMode::FullText, false).note, None);
        assert_eq!(plan(SearchMode::Hybrid, true).used, SearchMode::Hybrid);
    }
}
