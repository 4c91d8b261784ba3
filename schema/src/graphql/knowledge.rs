//! Knowledge: `createCollection`, `collections`, `collection`,
//! `renameCollection`, `deleteCollection`, `uploadDocument`, `document`,
//! `deleteDocument`, `regenerateSummary`, `searchDocuments` and the
//! `documentUpdates` subscription.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject, Subscription, Upload};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use uuid::Uuid;

use alatar_agents::knowledge::search;
use alatar_entity::{AccountScope, collection, document, document_chunk};

use crate::context::ContextExt;
use crate::error::ApiError;
use crate::service::knowledge;

use super::parse_id;

/// Where a document's ingestion is.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "alatar_entity::DocumentStatus")]
pub enum DocumentStatus {
    /// Stored and queued.
    Pending,
    /// Its text is being read and cut into chunks.
    Extracting,
    /// Its chunks are stored; their vectors are being computed.
    Embedding,
    /// Searchable.
    Ingested,
    /// Could not be ingested; see `failureReason`.
    Failed,
}

/// `first` within 1..=`max`, and the `after` cursor as an id.
pub(super) fn page(first: i32, max: i32, after: Option<&str>) -> Result<(u64, Option<Uuid>), ApiError> {
    if !(1..=max).contains(&first) {
        return Err(ApiError::bad_input("first", format!("must be between 1 and {max}")));
    }
    let after = after
        .map(|cursor| Uuid::parse_str(cursor).map_err(|_| ApiError::bad_input("after", "is not a valid cursor")))
        .transpose()?;
    Ok((u64::try_from(first).unwrap_or(1), after))
}

/// A page of `rows` fetched one longer than `first`, as a connection.
pub(super) fn connection<M, T: async_graphql::OutputType>(
    mut rows: Vec<M>,
    first: u64,
    has_previous: bool,
    cursor: impl Fn(&M) -> String,
    wrap: impl Fn(M) -> T,
) -> Connection<String, T> {
    let first = usize::try_from(first).unwrap_or(usize::MAX);
    let has_next = rows.len() > first;
    rows.truncate(first);
    let mut page = Connection::new(has_previous, has_next);
    page.edges.extend(rows.into_iter().map(|row| Edge::new(cursor(&row), wrap(row))));
    page
}

/// A named set of the merchant's documents.
pub struct Collection(pub collection::Model);

#[Object]
impl Collection {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Unique within the account.
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// The embedding model its vectors come from; null until one is bound.
    async fn embedding_model(&self) -> Option<&str> {
        self.0.embedding_model.as_deref()
    }
    /// That model's vector dimension.
    async fn embedding_dimension(&self) -> Option<i32> {
        self.0.embedding_dimension
    }
    /// How many documents it holds.
    async fn document_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let scope = AccountScope::new(self.0.account_id);
        let count = knowledge::document_count(&ctx.state().pipeline, scope, self.0.id).await?;
        Ok(i64::try_from(count).unwrap_or(i64::MAX))
    }
    /// Its documents, newest first.
    async fn documents(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<Connection<String, Document>> {
        let (first, before) = page(first, 100, after.as_deref())?;
        let scope = AccountScope::new(self.0.account_id);
        let rows = knowledge::documents(&ctx.state().pipeline, scope, self.0.id, before, first + 1).await?;
        Ok(connection(rows, first, before.is_some(), |d| d.id.to_string(), Document))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// An uploaded document and where its ingestion stands.
pub struct Document(pub document::Model);

#[Object]
impl Document {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn collection_id(&self) -> ID {
        ID(self.0.collection_id.to_string())
    }
    /// The name it was uploaded under.
    async fn filename(&self) -> &str {
        &self.0.filename
    }
    /// What its bytes are: `application/pdf`, `text/markdown`, `text/html`
    /// or `text/plain` (sniffed from the content, not the name).
    async fn content_type(&self) -> &str {
        &self.0.content_type
    }
    async fn byte_size(&self) -> i64 {
        self.0.byte_size
    }
    /// SHA-256 of the upload, hex.
    async fn sha256(&self) -> &str {
        &self.0.sha256
    }
    async fn status(&self) -> DocumentStatus {
        self.0.status.into()
    }
    /// 0–100.
    async fn progress(&self) -> i32 {
        self.0.progress
    }
    /// Why ingestion failed, in plain words.
    async fn failure_reason(&self) -> Option<&str> {
        self.0.failure_reason.as_deref()
    }
    /// Pages of a PDF, once read.
    async fn page_count(&self) -> Option<i32> {
        self.0.page_count
    }
    /// Chunks stored, once read.
    async fn chunk_count(&self) -> Option<i32> {
        self.0.chunk_count
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Its chunks in reading order; the cursor is the ordinal.
    async fn chunks(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 100)] first: i32,
        after: Option<String>,
    ) -> Result<Connection<String, DocumentChunk>> {
        if !(1..=500).contains(&first) {
            return Err(ApiError::bad_input("first", "must be between 1 and 500").into());
        }
        let after = match after {
            Some(cursor) => {
                Some(cursor.parse::<i32>().map_err(|_| ApiError::bad_input("after", "is not a valid cursor"))?)
            }
            None => None,
        };
        let first = u64::try_from(first).unwrap_or(1);
        let scope = AccountScope::new(self.0.account_id);
        let rows = knowledge::chunks(&ctx.state().pipeline, scope, self.0.id, after, first + 1).await?;
        Ok(connection(rows, first, after.is_some(), |c| c.ordinal.to_string(), DocumentChunk))
    }
    /// What it says, in a few sentences: written after it is `INGESTED`
    /// (null until then) by the cheap model, or offline from its own most
    /// central sentences.
    async fn summary(&self) -> Option<DocumentSummary> {
        let (Some(text), Some(created_at)) = (&self.0.summary, self.0.summarized_at) else { return None };
        let model = self.0.summary_model.clone().unwrap_or_default();
        Some(DocumentSummary { text: text.clone(), model, created_at })
    }
    /// A summary is being written (after ingestion or `regenerateSummary`);
    /// `summary` is the previous one, if any, until it is.
    async fn summary_pending(&self) -> bool {
        self.0.summary_job_id.is_some()
    }
    /// When a privacy erasure (Shopify's `customers/redact`) last removed
    /// passages naming a customer; null if none did.
    async fn redacted_at(&self) -> Option<DateTime<Utc>> {
        self.0.redacted_at
    }
    /// What that erasure removed, in plain words.
    async fn redaction_note(&self) -> Option<&str> {
        self.0.redaction_note.as_deref()
    }
}

/// A document's summary.
#[derive(SimpleObject)]
pub struct DocumentSummary {
    /// A few plain sentences.
    pub text: String,
    /// Who wrote it: a model's id, or `extractive` (sentences of the
    /// document itself, chosen offline).
    pub model: String,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

/// A piece of a document's text, with where it sits in the source.
pub struct DocumentChunk(pub document_chunk::Model);

#[Object]
impl DocumentChunk {
    /// What citations name.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn document_id(&self) -> ID {
        ID(self.0.document_id.to_string())
    }
    /// 0, 1, 2, … in reading order.
    async fn ordinal(&self) -> i32 {
        self.0.ordinal
    }
    async fn text(&self) -> &str {
        &self.0.text
    }
    /// 1-based page of a PDF; null for unpaginated documents.
    async fn page(&self) -> Option<i32> {
        self.0.page
    }
    /// Offset of its first character in the page's extracted text
    /// (Unicode scalar values).
    async fn char_start(&self) -> i32 {
        self.0.char_start
    }
    /// Offset one past its last character.
    async fn char_end(&self) -> i32 {
        self.0.char_end
    }
    /// Tokens of the model that cut it.
    async fn token_count(&self) -> i32 {
        self.0.token_count
    }
}

/// How a search finds chunks.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "alatar_agents::knowledge::search::SearchMode")]
pub enum SearchMode {
    /// By their words: every word must occur; "quoted phrases", `or` and
    /// `-word` as in a web search. No stemming: words match as written,
    /// in any language, case aside.
    FullText,
    /// By meaning: the chunks whose vectors are nearest the query's.
    Vector,
    /// Both, fused by reciprocal rank.
    Hybrid,
}

/// A search's answer: the mode that ran, the one asked for, and the hits.
pub struct DocumentSearch(pub search::DocumentSearch);

#[Object]
impl DocumentSearch {
    /// The mode that ran: `FULL_TEXT` when `VECTOR` or `HYBRID` was asked
    /// for but the collection has no vectors (see `note`).
    async fn retrieval(&self) -> SearchMode {
        self.0.plan.used.into()
    }
    /// The mode asked for.
    async fn requested(&self) -> SearchMode {
        self.0.plan.requested.into()
    }
    /// Why `retrieval` is not `requested`, when it is not.
    async fn note(&self) -> Option<&str> {
        self.0.plan.note.as_deref()
    }
    /// Best first.
    async fn hits(&self) -> Vec<DocumentHit> {
        self.0.hits.iter().cloned().map(DocumentHit).collect()
    }
}

/// A chunk a search found, with where it is in its document.
pub struct DocumentHit(pub search::SearchHit);

#[Object]
impl DocumentHit {
    /// The chunk, as citations name it.
    async fn chunk_id(&self) -> ID {
        ID(self.0.chunk.id.to_string())
    }
    async fn text(&self) -> &str {
        &self.0.chunk.text
    }
    /// The document it was cut from.
    async fn document(&self) -> Document {
        Document(self.0.document.clone())
    }
    /// 1-based page of a PDF; null for unpaginated documents.
    async fn page(&self) -> Option<i32> {
        self.0.chunk.page
    }
    /// Offset of its first character in the page's extracted text
    /// (Unicode scalar values).
    async fn char_start(&self) -> i32 {
        self.0.chunk.char_start
    }
    /// Offset one past its last character.
    async fn char_end(&self) -> i32 {
        self.0.chunk.char_end
    }
    /// Cosine similarity to the query, when the vector search found it.
    async fn vector_score(&self) -> Option<f64> {
        self.0.vector_score
    }
    /// Full-text relevance in [0, 1), higher better, when the full-text
    /// search found it (ranks within one engine; not comparable across).
    async fn text_score(&self) -> Option<f64> {
        self.0.text_score
    }
    /// The fused score (reciprocal rank fusion, k = 60), higher better:
    /// it orders the hits and has no absolute meaning.
    async fn score(&self) -> f64 {
        self.0.score
    }
}

/// Knowledge queries.
#[derive(Default)]
pub struct KnowledgeQuery;

#[Object]
impl KnowledgeQuery {
    /// The account's collections, newest first.
    async fn collections(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<Connection<String, Collection>> {
        let (first, before) = page(first, 100, after.as_deref())?;
        let rows = knowledge::collections(&ctx.state().pipeline, ctx.scope()?, before, first + 1).await?;
        Ok(connection(rows, first, before.is_some(), |c| c.id.to_string(), Collection))
    }

    /// One of the account's collections.
    async fn collection(&self, ctx: &Context<'_>, id: ID) -> Result<Collection> {
        let id = parse_id("id", &id)?;
        Ok(Collection(knowledge::collection(&ctx.state().pipeline, ctx.scope()?, id).await?))
    }

    /// One of the account's documents.
    async fn document(&self, ctx: &Context<'_>, id: ID) -> Result<Document> {
        let id = parse_id("id", &id)?;
        Ok(Document(knowledge::get_document(&ctx.state().pipeline, ctx.scope()?, id).await?))
    }

    /// Searches a collection's chunks: at most `first` (1 to 50) hits, best
    /// first. `query` is at most 1,000 characters; `minScore` drops what a
    /// retriever scored below it (`textScore`, `vectorScore`);
    /// `documentIds` (at most 100) keeps to those documents. Every role
    /// may search.
    #[allow(clippy::too_many_arguments)]
    async fn search_documents(
        &self,
        ctx: &Context<'_>,
        collection_id: ID,
        query: String,
        #[graphql(default = 10)] first: i32,
        #[graphql(default_with = "SearchMode::Hybrid")] mode: SearchMode,
        min_score: Option<f64>,
        document_ids: Option<Vec<ID>>,
    ) -> Result<DocumentSearch> {
        let collection_id = parse_id("collectionId", &collection_id)?;
        let document_ids = document_ids
            .map(|ids| ids.iter().map(|id| parse_id("documentIds", id)).collect::<Result<Vec<_>, _>>())
            .transpose()?;
        let input =
            knowledge::search::SearchInput { collection_id, query, first, mode: mode.into(), min_score, document_ids };
        let found = knowledge::search::search_documents(&ctx.state().pipeline, ctx.scope()?, input).await?;
        Ok(DocumentSearch(found))
    }
}

/// Knowledge mutations.
#[derive(Default)]
pub struct KnowledgeMutation;

#[Object]
impl KnowledgeMutation {
    /// Creates an empty collection; the name is unique in the account.
    async fn create_collection(
        &self,
        ctx: &Context<'_>,
        name: String,
        description: Option<String>,
    ) -> Result<Collection> {
        let viewer = ctx.viewer()?;
        let created =
            knowledge::create_collection(&ctx.state().pipeline, ctx.scope()?, viewer, &name, description).await?;
        Ok(Collection(created))
    }

    /// Renames a collection.
    async fn rename_collection(&self, ctx: &Context<'_>, id: ID, name: String) -> Result<Collection> {
        let viewer = ctx.viewer()?;
        let id = parse_id("id", &id)?;
        Ok(Collection(knowledge::rename_collection(&ctx.state().pipeline, ctx.scope()?, viewer, id, &name).await?))
    }

    /// Deletes a collection with all its documents and their chunks; the
    /// deleted collection's id.
    async fn delete_collection(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let viewer = ctx.viewer()?;
        let parsed = parse_id("id", &id)?;
        knowledge::delete_collection(&ctx.state().pipeline, ctx.scope()?, viewer, parsed).await?;
        Ok(id)
    }

    /// Uploads a file (GraphQL multipart request) into a collection and
    /// queues its ingestion; answers at once with the `PENDING` document.
    /// PDF, Markdown, HTML and plain text, told by content.
    async fn upload_document(&self, ctx: &Context<'_>, collection_id: ID, file: Upload) -> Result<Document> {
        let viewer = ctx.viewer()?;
        let scope = ctx.scope()?;
        let collection_id = parse_id("collectionId", &collection_id)?;
        // `Upload::value` indexes the request's files without a check.
        if file.0 >= ctx.query_env.uploads.len() {
            return Err(ApiError::bad_input("file", "is not a file of this multipart request").into());
        }
        let upload = file.value(ctx).map_err(ApiError::internal)?;
        let stored = knowledge::upload_document(
            &ctx.state().pipeline,
            scope,
            viewer,
            collection_id,
            &upload.filename,
            upload.content,
        )
        .await?;
        Ok(Document(stored))
    }

    /// Deletes a document with its chunks; the deleted document's id.
    async fn delete_document(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let viewer = ctx.viewer()?;
        let parsed = parse_id("id", &id)?;
        knowledge::delete_document(&ctx.state().pipeline, ctx.scope()?, viewer, parsed).await?;
        Ok(id)
    }

    /// Queues a new summary of an `INGESTED` document and answers at once:
    /// `summaryPending` is true, and `summary` the previous one, until the
    /// new one is written (`documentUpdates` shows it). Viewers may not.
    async fn regenerate_summary(&self, ctx: &Context<'_>, document_id: ID) -> Result<Document> {
        let viewer = ctx.viewer()?;
        let id = parse_id("documentId", &document_id)?;
        Ok(Document(knowledge::regenerate_summary(&ctx.state().pipeline, ctx.scope()?, viewer, id).await?))
    }
}

/// Knowledge subscriptions.
#[derive(Default)]
pub struct KnowledgeSubscription;

#[Subscription]
impl KnowledgeSubscription {
    /// The collection's documents: first each as it is, then each time its
    /// status or progress changes (from any instance's worker). Ends when
    /// the collection is deleted.
    async fn document_updates(
        &self,
        ctx: &Context<'_>,
        collection_id: ID,
    ) -> Result<impl Stream<Item = Result<Document>> + use<>> {
        let id = parse_id("collectionId", &collection_id)?;
        let scope = ctx.scope()?;
        let pipeline = ctx.state().pipeline.clone();
        knowledge::collection(&pipeline, scope, id).await?;
        Ok(knowledge::document_updates(pipeline, scope, id)
            .map(|item| item.map(Document).map_err(async_graphql::Error::from)))
    }
}
