//! The `Library` port: one account's documents as the analyst team reads
//! them (the `Knowledge` department and its `rag.*` tools). It is bound to
//! one account when it is built, so nothing that holds it can reach
//! another account's chunks, whatever a model or a document asks for.
//!
//! [`DatabaseLibrary`] is its implementation over the database: the
//! search pipeline of [`super::search`] in `HYBRID` mode with the
//! pipeline's retrievers (full text alone where a collection has no
//! vectors, as the search itself decides and says), one search per
//! collection when none is named, merged by fused score. Only `INGESTED`
//! documents are read: one still being ingested is not cited half-read.

use std::sync::Arc;

use async_trait::async_trait;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use alatar_entity::{AccountScope, DocumentStatus, collection, document, document_chunk};

use super::search::{self, FullText, Retrievers, SearchMode, SearchQuery, VectorRetriever, full_text};
use crate::pipeline::Pipeline;

/// Most collections one search without a named collection reads.
pub const MAX_COLLECTIONS: usize = 20;
/// Most chunks one citation check reads.
pub const MAX_CITED: usize = 50;

/// A collection of the account, with how many of its documents can be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shelf {
    /// The collection.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// What it holds, in the merchant's words.
    pub description: Option<String>,
    /// Its `INGESTED` documents.
    pub ingested_documents: usize,
}

/// A chunk of a document, where it is in its source, and its score when a
/// search found it. Its text is the merchant's document: data, never
/// instructions.
#[derive(Debug, Clone, PartialEq)]
pub struct Passage {
    /// The chunk.
    pub chunk_id: Uuid,
    /// Its document.
    pub document_id: Uuid,
    /// The document's collection.
    pub collection_id: Uuid,
    /// The name the document was uploaded under.
    pub filename: String,
    /// 1-based page (PDF); `None` for unpaginated documents.
    pub page: Option<i32>,
    /// First character in the page's extracted text (Unicode scalar values).
    pub char_start: i32,
    /// One past the last character.
    pub char_end: i32,
    /// The chunk's exact text.
    pub text: String,
    /// The fused score of the search that found it (rank-based: it orders
    /// passages and has no absolute meaning); `None` when read by id.
    pub score: Option<f64>,
}

/// What a search found, and how.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Found {
    /// Best first.
    pub passages: Vec<Passage>,
    /// The modes that ran (full text where a collection has no vectors).
    pub retrieval: Vec<SearchMode>,
    /// What the searches said about themselves (a fallback to full text).
    pub notes: Vec<String>,
}

/// Why the library could not answer.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    /// The collection named is not the account's (or does not exist):
    /// the same answer either way, so nothing is learnt of other accounts.
    #[error("collection {0} is not one of this account's collections")]
    UnknownCollection(Uuid),
    /// The database or a retriever failed; worth retrying.
    #[error("the documents could not be searched: {0}")]
    Unavailable(String),
}

impl From<DbErr> for LibraryError {
    fn from(e: DbErr) -> Self {
        LibraryError::Unavailable(e.to_string())
    }
}

/// One account's documents, for the analyst team.
#[async_trait]
pub trait Library: Send + Sync {
    /// The account's collections, by name.
    async fn collections(&self) -> Result<Vec<Shelf>, LibraryError>;
    /// The `first` passages best matching `query` (web-search syntax:
    /// words, `"phrases"`, `or`, `-word`) in `collection`, or in every
    /// collection of the account when `None`.
    async fn search(&self, collection: Option<Uuid>, query: &str, first: usize) -> Result<Found, LibraryError>;
    /// The chunks `chunk_ids` as stored, in the order asked (ids that are
    /// not the account's, or no longer exist, are left out): to check that
    /// a citation says what it is said to say.
    async fn cite(&self, chunk_ids: &[Uuid]) -> Result<Vec<Passage>, LibraryError>;
}

/// [`Library`] over the database, for one account.
pub struct DatabaseLibrary {
    db: DatabaseConnection,
    scope: AccountScope,
    full_text: &'static dyn FullText,
    vectors: Option<Arc<dyn VectorRetriever>>,
}

impl DatabaseLibrary {
    /// The documents of `scope`'s account, searched with `p`'s retrievers.
    pub fn new(p: &Pipeline, scope: AccountScope) -> Self {
        Self {
            db: p.db.clone(),
            scope,
            full_text: full_text::for_backend(p.db.get_database_backend()),
            vectors: p.vectors.clone(),
        }
    }

    fn retrievers(&self) -> Retrievers<'_> {
        Retrievers { full_text: self.full_text, vector: self.vectors.as_deref() }
    }

    /// `chunks` with their documents, those of `INGESTED` documents only.
    async fn passages(&self, chunks: Vec<(document_chunk::Model, Option<f64>)>) -> Result<Vec<Passage>, LibraryError> {
        let mut ids: Vec<Uuid> = chunks.iter().map(|(c, _)| c.document_id).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let documents = self
            .scope
            .find::<document::Entity>()
            .select_only()
            .columns([document::Column::Id, document::Column::Filename])
            .filter(document::Column::Id.is_in(ids))
            .filter(document::Column::Status.eq(DocumentStatus::Ingested))
            .into_tuple::<(Uuid, String)>()
            .all(&self.scope.on(&self.db))
            .await?;
        Ok(chunks
            .into_iter()
            .filter_map(|(chunk, score)| {
                let (_, filename) = documents.iter().find(|(id, _)| *id == chunk.document_id)?;
                Some(Passage {
                    chunk_id: chunk.id,
                    document_id: chunk.document_id,
                    collection_id: chunk.collection_id,
                    filename: filename.clone(),
                    page: chunk.page,
                    char_start: chunk.char_start,
                    char_end: chunk.char_end,
                    text: chunk.text,
                    score,
                })
            })
            .collect())
    }
}

/// Whether `scope`'s account has a document that can be read.
pub async fn has_ingested_documents(db: &DatabaseConnection, scope: AccountScope) -> Result<bool, DbErr> {
    let found: Option<Uuid> = scope
        .find::<document::Entity>()
        .select_only()
        .column(document::Column::Id)
        .filter(document::Column::Status.eq(DocumentStatus::Ingested))
        // A repository's code index is no document of the merchant's.
        .filter(document::Column::ContentType.ne(crate::code::index::CONTENT_TYPE))
        .into_tuple()
        .one(&scope.on(db))
        .await?;
    Ok(found.is_some())
}

/// Ties in fused score (each collection's own first hit scores the same)
/// go to the better retriever score, then to the chunk id: reproducible.
fn merge(mut hits: Vec<search::SearchHit>, first: usize) -> Vec<search::SearchHit> {
    let best = |h: &search::SearchHit| h.vector_score.unwrap_or(f64::MIN).max(h.text_score.unwrap_or(f64::MIN));
    hits.sort_by(|a, b| {
        b.score.total_cmp(&a.score).then_with(|| best(b).total_cmp(&best(a))).then_with(|| a.chunk.id.cmp(&b.chunk.id))
    });
    hits.truncate(first);
    hits
}

#[async_trait]
impl Library for DatabaseLibrary {
    async fn collections(&self) -> Result<Vec<Shelf>, LibraryError> {
        let on = self.scope.on(&self.db);
        let collections = self
            .scope
            .find::<collection::Entity>()
            .filter(collection::Column::RepositoryId.is_null())
            .order_by_asc(collection::Column::Name)
            .all(&on)
            .await?;
        let ingested: Vec<Uuid> = self
            .scope
            .find::<document::Entity>()
            .select_only()
            .column(document::Column::CollectionId)
            .filter(document::Column::Status.eq(DocumentStatus::Ingested))
            .into_tuple()
            .all(&on)
            .await?;
        Ok(collections
            .into_iter()
            .map(|c| Shelf {
                ingested_documents: ingested.iter().filter(|id| **id == c.id).count(),
                id: c.id,
                name: c.name,
                description: c.description,
            })
            .collect())
    }

    async fn search(&self, collection: Option<Uuid>, query: &str, first: usize) -> Result<Found, LibraryError> {
        let first = first.clamp(1, search::MAX_FIRST);
        let on = self.scope.on(&self.db);
        // The merchant's documents only: a repository's code index is read
        // by the `Code` department.
        let mut targets = self
            .scope
            .find::<collection::Entity>()
            .filter(collection::Column::RepositoryId.is_null())
            .order_by_asc(collection::Column::Id);
        if let Some(id) = collection {
            targets = targets.filter(collection::Column::Id.eq(id));
        }
        let targets = targets.limit(MAX_COLLECTIONS as u64).all(&on).await?;
        if let Some(id) = collection.filter(|_| targets.is_empty()) {
            return Err(LibraryError::UnknownCollection(id));
        }
        let mut found = Found::default();
        let mut hits = Vec::new();
        for target in &targets {
            let query = SearchQuery {
                scope: self.scope,
                collection_id: target.id,
                text: query.to_owned(),
                first,
                mode: SearchMode::Hybrid,
                min_score: None,
                document_ids: None,
            };
            let searched = search::search(&self.db, self.retrievers(), target, query)
                .await
                .map_err(|e| LibraryError::Unavailable(format!("{e:#}")))?;
            if !found.retrieval.contains(&searched.plan.used) {
                found.retrieval.push(searched.plan.used);
            }
            if let Some(note) = searched.plan.note.filter(|n| !found.notes.contains(n)) {
                found.notes.push(note);
            }
            hits.extend(searched.hits.into_iter().filter(|h| h.document.status == DocumentStatus::Ingested));
        }
        let chunks = merge(hits, first).into_iter().map(|h| (h.chunk, Some(h.score))).collect();
        found.passages = self.passages(chunks).await?;
        Ok(found)
    }

    async fn cite(&self, chunk_ids: &[Uuid]) -> Result<Vec<Passage>, LibraryError> {
        let asked: Vec<Uuid> = chunk_ids.iter().copied().take(MAX_CITED).collect();
        if asked.is_empty() {
            return Ok(Vec::new());
        }
        let chunks = self
            .scope
            .find::<document_chunk::Entity>()
            .filter(document_chunk::Column::Id.is_in(asked.clone()))
            .all(&self.scope.on(&self.db))
            .await?;
        let ordered =
            asked.iter().filter_map(|id| chunks.iter().find(|c| c.id == *id).cloned()).map(|c| (c, None)).collect();
        self.passages(ordered).await
    }
}
