//! The vector retriever: the query embedded by the collection's model and
//! compared with the chunks' vectors by cosine similarity, through a
//! [`VectorIndex`] port with the production and the embedded engine side by
//! side:
//!
//! - [`PgVectorIndex`]: pgvector on PostgreSQL. 384-dimensional vectors
//!   (the embedded model's) are searched through the partial HNSW index of
//!   migration 000008, ordered by the raw cosine distance ascending (the
//!   only order the index serves), with iterative scans so a filter by
//!   collection or document still yields `limit` rows; other dimensions by
//!   an exact scan.
//! - [`EmbeddedIndex`]: on SQLite, each collection's vectors held in memory
//!   (loaded from `chunk_embeddings` on a collection's first search and
//!   again whenever its vectors changed) and scanned exactly. An exact scan
//!   of 100,000 × 384 takes a few milliseconds (BENCHMARKS.md), so an
//!   approximate index would trade recall for nothing at that size.
//!
//! Scores are cosine similarities in `[-1, 1]`, higher better, on both
//! engines, so `minScore` means the same on both.

mod embedded;
pub mod postgres;

use std::sync::Arc;

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};
use uuid::Uuid;

use alatar_entity::{AccountScope, collection};

use super::full_text::Candidate;
use super::{SearchQuery, VectorRetriever};
use crate::knowledge::embed::Embedder;
use crate::knowledge::vectors::Space;

pub use embedded::EmbeddedIndex;
pub use postgres::PgVectorIndex;

/// What a vector search looks for: the query's vector among one
/// collection's vectors of one space.
#[derive(Debug, Clone, Copy)]
pub struct Nearest<'a> {
    /// The account searching.
    pub scope: AccountScope,
    /// The collection searched.
    pub collection_id: Uuid,
    /// The space of the collection (and of `vector`).
    pub space: &'a Space,
    /// The query's vector.
    pub vector: &'a [f32],
    /// Only chunks of these documents, when given.
    pub document_ids: Option<&'a [Uuid]>,
    /// Most candidates.
    pub limit: usize,
}

/// Finds the stored vectors nearest to a query vector.
#[async_trait]
pub trait VectorIndex: Send + Sync {
    /// The `nearest.limit` chunks most similar to `nearest.vector`, best
    /// first, scored by cosine similarity; ties by chunk id.
    async fn nearest(&self, db: &DatabaseConnection, nearest: Nearest<'_>) -> Result<Vec<Candidate>, DbErr>;
}

/// The engine's index: pgvector on PostgreSQL, in memory elsewhere.
pub fn index_for(backend: DbBackend) -> Arc<dyn VectorIndex> {
    match backend {
        DbBackend::Postgres => Arc::new(PgVectorIndex),
        _ => Arc::new(EmbeddedIndex::default()),
    }
}

/// The vector retriever: an embedder for queries and an index of chunks.
pub struct Semantic {
    embedder: Arc<dyn Embedder>,
    index: Arc<dyn VectorIndex>,
}

impl Semantic {
    /// Queries embedded by `embedder`, compared in `index`.
    pub fn new(embedder: Arc<dyn Embedder>, index: Arc<dyn VectorIndex>) -> Self {
        Self { embedder, index }
    }

    fn space(&self) -> Space {
        Space::of(self.embedder.as_ref())
    }
}

/// The space `collection` is bound to, if any.
fn bound_space(collection: &collection::Model) -> Option<Space> {
    let model = collection.embedding_model.clone()?;
    let dimension = usize::try_from(collection.embedding_dimension?).ok()?;
    Some(Space { model, dimension })
}

#[async_trait]
impl VectorRetriever for Semantic {
    async fn ready(&self, db: &DatabaseConnection, collection: &collection::Model) -> anyhow::Result<bool> {
        let space = self.space();
        if bound_space(collection).as_ref() != Some(&space) {
            return Ok(false);
        }
        let scope = AccountScope::new(collection.account_id);
        let on = scope.on(db);
        let backend = on.get_database_backend();
        let sql = "SELECT 1 AS one FROM chunk_embeddings \
                   WHERE account_id = $1 AND collection_id = $2 AND model = $3 AND dimension = $4 LIMIT 1";
        let sql = if backend == DbBackend::Postgres { sql.to_owned() } else { sql.replace('$', "?") };
        let values = vec![
            collection.account_id.into(),
            collection.id.into(),
            space.model.clone().into(),
            i32::try_from(space.dimension).unwrap_or(i32::MAX).into(),
        ];
        Ok(on.query_one_raw(Statement::from_sql_and_values(backend, sql, values)).await?.is_some())
    }

    async fn candidates(
        &self,
        db: &DatabaseConnection,
        query: &SearchQuery,
        limit: usize,
    ) -> anyhow::Result<Vec<Candidate>> {
        if nothing_to_find(query, limit) {
            return Ok(Vec::new());
        }
        let vector = self.embed_query(&query.text).await?;
        self.nearest(db, query, &vector, limit).await
    }

    async fn candidates_if_ready(
        &self,
        db: &DatabaseConnection,
        collection: &collection::Model,
        query: &SearchQuery,
        limit: usize,
    ) -> anyhow::Result<Option<Vec<Candidate>>> {
        if nothing_to_find(query, limit) {
            return Ok(self.ready(db, collection).await?.then(Vec::new));
        }
        // The embedding (about 11 ms of CPU) runs while the database says
        // whether the collection has vectors; it is wasted only when it has none.
        let (ready, vector) = tokio::join!(self.ready(db, collection), self.embed_query(&query.text));
        if !ready? {
            return Ok(None);
        }
        Ok(Some(self.nearest(db, query, &vector?, limit).await?))
    }
}

/// A search that can find nothing: no rows asked for, no text, or an empty
/// list of documents to look in.
fn nothing_to_find(query: &SearchQuery, limit: usize) -> bool {
    limit == 0 || query.text.is_empty() || query.document_ids.as_ref().is_some_and(Vec::is_empty)
}

impl Semantic {
    async fn embed_query(&self, text: &str) -> anyhow::Result<Vec<f32>> {
        self.embedder
            .embed(&[text.to_owned()])
            .await?
            .pop()
            .ok_or_else(|| anyhow::anyhow!("the embedder returned no vector for the query"))
    }

    async fn nearest(
        &self,
        db: &DatabaseConnection,
        query: &SearchQuery,
        vector: &[f32],
        limit: usize,
    ) -> anyhow::Result<Vec<Candidate>> {
        let space = self.space();
        let nearest = Nearest {
            scope: query.scope,
            collection_id: query.collection_id,
            space: &space,
            vector,
            document_ids: query.document_ids.as_deref(),
            limit,
        };
        Ok(self.index.nearest(db, nearest).await?)
    }
}

/// `vector` scaled to length one (a zero vector stays zero), so a dot
/// product is the cosine similarity.
pub fn normalized(vector: &[f32]) -> Vec<f32> {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 && norm.is_finite() { vector.iter().map(|x| x / norm).collect() } else { vector.to_vec() }
}
