//! Ingestion, one queue message per document (`IngestDocument`, on the
//! `Knowledge` department's queue): `PENDING → EXTRACTING` (read the text),
//! chunks stored with `→ EMBEDDING` in one transaction, the chunks' vectors
//! computed and stored in batches, then `→ INGESTED`; an unreadable
//! document ends `FAILED` with a reason the merchant understands.
//!
//! Exactly-once effects on redelivery, as in the rest of the pipeline:
//! every step is a conditional update (`… WHERE status = expected`). A
//! crash while extracting leaves `EXTRACTING` and no chunks (they are
//! written only with the move to `EMBEDDING`, replacing any there were), so
//! the redelivery extracts again; a crash while embedding leaves
//! `EMBEDDING` with the chunks stored and the vectors of the batches that
//! finished, so the redelivery resumes at the embedding with the chunks that
//! have no vector of the current model yet: nothing is extracted, stored or
//! embedded twice. Of two deliveries at once, one moves the document on and
//! the other's commit finds nothing to do and rolls back.
//!
//! Embedding (with an [`Embedder`] configured): the collection is bound to
//! the embedder's model and dimension on its first embedded document; the
//! document's chunks are embedded in batches of [`EMBED_BATCH`], each batch's
//! vectors stored with the document's progress (60 → 95) in one
//! transaction; then the chunks of the collection's other `INGESTED`
//! documents that have no vector of this model are embedded too. So when
//! the configured model changes, the next document ingested into a
//! collection re-embeds the collection in the new model (replacing each
//! chunk's old vector) instead of mixing two spaces; until then searches
//! compare only vectors of the collection's bound model. A transient
//! embedder failure (rate limited, unavailable) is an `Err`: the delivery is
//! retried, and resumes. A permanent one (input refused, a model that
//! answers the wrong dimension) ends the document `FAILED` with the reason.
//! Without an embedder, documents are `INGESTED` without vectors: searchable
//! by full text only.
//!
//! The move to `INGESTED` queues the document's summary job in the same
//! transaction (`super::summary`).
//!
//! Every status change is published on the pipeline's event bus (Redis
//! across instances) as a `DOCUMENT_STATUS_CHANGED` event keyed by the
//! collection, for `documentUpdates`; the document row stays the record.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use alatar_entity::{AccountScope, DocumentStatus, document, document_chunk, document_file};

use super::chunk::{ApproxTokens, Chunk, ChunkSettings, TokenCount, chunk_pages};
use super::embed::{EmbedError, Embedder};
use super::extract::{DocumentKind, ExtractError, ExtractLimits, extract};
use super::summary;
use super::vectors::{self, Among, Binding, Space, Unembedded};
use crate::pipeline::journal::{enqueue, enqueue_all};
use crate::pipeline::{Event, Message, Pipeline};
use crate::write::begin_write;

/// The event kind of a document's status change; `request_id` carries the
/// collection's id, `payload` `{documentId, collectionId, status, progress, reason}`.
pub const DOCUMENT_STATUS_CHANGED: &str = "DOCUMENT_STATUS_CHANGED";
/// A document was deleted: `{documentId, collectionId}`, keyed by the collection.
pub const DOCUMENT_DELETED: &str = "DOCUMENT_DELETED";
/// A collection was deleted: `{collectionId}`, keyed by it.
pub const COLLECTION_DELETED: &str = "COLLECTION_DELETED";

/// Progress once extraction has started.
const PROGRESS_EXTRACTING: i32 = 10;
/// Progress once the chunks are stored.
const PROGRESS_CHUNKED: i32 = 60;
/// Progress once every chunk of the document has its vector.
const PROGRESS_EMBEDDED: i32 = 95;

/// Chunk rows per insert statement (10 values each: within SQLite's and
/// PostgreSQL's bind limits).
const INSERT_BATCH: usize = 500;

/// Chunks embedded and stored together (7 values a row in the insert): the
/// unit of progress and of what a redelivery redoes at most.
pub const EMBED_BATCH: usize = 64;

/// The longest a provider's `Retry-After` is waited before the delivery is
/// given back for retrying (beyond it the queue's redelivery paces it).
const MAX_WAIT_BEFORE_RETRY: Duration = Duration::from_secs(30);

/// How documents are cut into chunks: a token counter and the chunks' size
/// and overlap in its tokens.
#[derive(Clone)]
pub struct Chunking {
    /// Counts tokens: the embedding model's tokenizer, or [`ApproxTokens`].
    pub tokens: Arc<dyn TokenCount>,
    /// Chunk size and overlap.
    pub settings: ChunkSettings,
}

impl Default for Chunking {
    /// Approximate counts, the default size (256 tokens, 32 overlapping).
    fn default() -> Self {
        Self { tokens: Arc::new(ApproxTokens), settings: ChunkSettings::default() }
    }
}

impl std::fmt::Debug for Chunking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chunking").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Chunking {
    /// Counted by a model's own tokenizer (`tokens`), each chunk within the
    /// `max_input_tokens` the model reads (so none is truncated): the
    /// default size or the model's window if smaller, the default overlap
    /// or less.
    pub fn for_model(tokens: Arc<dyn TokenCount>, max_input_tokens: usize) -> Self {
        let default = ChunkSettings::default();
        let max_tokens = default.max_tokens().min(max_input_tokens).max(1);
        let overlap = default.overlap().min(max_tokens - 1);
        Self { tokens, settings: ChunkSettings::new(max_tokens, overlap).unwrap_or(default) }
    }
}

/// How documents are ingested here.
#[derive(Clone)]
pub struct Ingestion {
    /// Counts tokens for chunking: the embedding model's tokenizer, or
    /// [`ApproxTokens`] without one.
    pub tokens: Arc<dyn TokenCount>,
    /// Chunk size and overlap.
    pub settings: ChunkSettings,
    /// What one document may cost to read.
    pub limits: ExtractLimits,
    /// Embeds the stored chunks; `None` when no model is configured, and
    /// then documents are searchable by full text only.
    pub embedder: Option<Arc<dyn Embedder>>,
    /// Chunks embedded and stored together.
    pub embed_batch: usize,
}

impl Default for Ingestion {
    /// Approximate token counts, no embedder.
    fn default() -> Self {
        let chunking = Chunking::default();
        Self {
            tokens: chunking.tokens,
            settings: chunking.settings,
            limits: ExtractLimits::default(),
            embedder: None,
            embed_batch: EMBED_BATCH,
        }
    }
}

impl Ingestion {
    /// As the pipeline is configured: its chunking and its embedder.
    pub fn of(p: &Pipeline) -> Self {
        Self {
            tokens: p.chunking.tokens.clone(),
            settings: p.chunking.settings,
            limits: ExtractLimits::default(),
            embedder: p.embedder.clone(),
            embed_batch: EMBED_BATCH,
        }
    }
}

/// The queue message that ingests `document`.
pub fn message(document: &document::Model) -> Message {
    Message::IngestDocument { account_id: document.account_id, document_id: document.id }
}

/// Handles an `IngestDocument` message as the pipeline is configured
/// ([`Ingestion::of`]).
pub async fn run(p: &Pipeline, account_id: Uuid, document_id: Uuid) -> anyhow::Result<()> {
    ingest(p, account_id, document_id, &Ingestion::of(p)).await
}

/// Moves `document_id` as far as it goes; `Ok` also when there was nothing
/// to do (deleted, already finished, moved on by another delivery).
pub async fn ingest(p: &Pipeline, account_id: Uuid, document_id: Uuid, with: &Ingestion) -> anyhow::Result<()> {
    let scope = AccountScope::new(account_id);
    let found =
        scope.find::<document::Entity>().filter(document::Column::Id.eq(document_id)).one(&scope.on(&p.db)).await?;
    let Some(found) = found else { return Ok(()) };
    let chunked = match found.status {
        status if status.is_terminal() => return Ok(()),
        DocumentStatus::Embedding => found,
        _ => match extract_and_chunk(p, scope, found, with).await? {
            Some(chunked) => chunked,
            None => return Ok(()),
        },
    };
    embed_and_finish(p, scope, chunked, with).await
}

/// `EXTRACTING`, the text, the chunks stored with `EMBEDDING`; `None` when
/// the document failed or someone else moved it.
async fn extract_and_chunk(
    p: &Pipeline,
    scope: AccountScope,
    found: document::Model,
    with: &Ingestion,
) -> anyhow::Result<Option<document::Model>> {
    let Some(extracting) = move_to(
        p,
        scope,
        &found,
        &[DocumentStatus::Pending, DocumentStatus::Extracting],
        DocumentStatus::Extracting,
        PROGRESS_EXTRACTING,
        None,
    )
    .await?
    else {
        return Ok(None);
    };
    let file = scope
        .find::<document_file::Entity>()
        .filter(document_file::Column::DocumentId.eq(extracting.id))
        .one(&scope.on(&p.db))
        .await?;
    let Some(file) = file else {
        fail(p, scope, &extracting, "the uploaded file is missing: upload it again").await?;
        return Ok(None);
    };
    let extracted = match extract(file.content, extracting.filename.clone(), with.limits).await {
        Ok(extracted) => extracted,
        Err(refusal) => {
            if let ExtractError::Corrupt { detail } = &refusal {
                tracing::info!(document_id = %extracting.id, %detail, "unreadable PDF");
            }
            fail(p, scope, &extracting, &refusal.to_string()).await?;
            return Ok(None);
        }
    };
    let page_count =
        (extracted.kind == DocumentKind::Pdf).then(|| i32::try_from(extracted.pages.len()).unwrap_or(i32::MAX));
    let (tokens, settings, pages) = (with.tokens.clone(), with.settings, extracted.pages);
    // Token counting over a long document is CPU work: off the runtime.
    let chunks = tokio::task::spawn_blocking(move || chunk_pages(&pages, tokens.as_ref(), settings)).await?;
    if chunks.is_empty() {
        fail(p, scope, &extracting, &ExtractError::NoContent.to_string()).await?;
        return Ok(None);
    }
    store_chunks(p, scope, extracting, page_count, &chunks).await
}

/// Replaces the document's chunks and moves it `EXTRACTING → EMBEDDING`,
/// in one transaction, the status first (it locks the row on PostgreSQL),
/// so a duplicate delivery or a deleted document rolls back.
async fn store_chunks(
    p: &Pipeline,
    scope: AccountScope,
    extracting: document::Model,
    page_count: Option<i32>,
    chunks: &[Chunk],
) -> anyhow::Result<Option<document::Model>> {
    let now = Utc::now();
    let chunk_count = i32::try_from(chunks.len()).unwrap_or(i32::MAX);
    let tx = begin_write(&p.db).await?;
    let moved = scope
        .update_many::<document::Entity>()
        .col_expr(document::Column::Status, Expr::value(DocumentStatus::Embedding))
        .col_expr(document::Column::Progress, Expr::value(PROGRESS_CHUNKED))
        .col_expr(document::Column::PageCount, Expr::value(page_count))
        .col_expr(document::Column::ChunkCount, Expr::value(Some(chunk_count)))
        .col_expr(document::Column::UpdatedAt, Expr::value(now))
        .filter(document::Column::Id.eq(extracting.id))
        .filter(document::Column::Status.eq(DocumentStatus::Extracting))
        .exec(&scope.on(&tx))
        .await?;
    if moved.rows_affected != 1 {
        tx.rollback().await?;
        return Ok(None);
    }
    scope
        .delete_many::<document_chunk::Entity>()
        .filter(document_chunk::Column::DocumentId.eq(extracting.id))
        .exec(&scope.on(&tx))
        .await?;
    for (batch_index, batch) in chunks.chunks(INSERT_BATCH).enumerate() {
        let rows = batch.iter().enumerate().map(|(i, chunk)| {
            let ordinal = batch_index * INSERT_BATCH + i;
            chunk_row(&extracting, ordinal, chunk)
        });
        document_chunk::Entity::insert_many(rows).exec_without_returning(&tx).await?;
    }
    tx.commit().await?;
    let embedding = document::Model {
        status: DocumentStatus::Embedding,
        progress: PROGRESS_CHUNKED,
        page_count,
        chunk_count: Some(chunk_count),
        updated_at: now,
        ..extracting
    };
    publish(p, &embedding).await;
    Ok(Some(embedding))
}

fn chunk_row(of: &document::Model, ordinal: usize, chunk: &Chunk) -> document_chunk::ActiveModel {
    let int = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    document_chunk::ActiveModel {
        id: Set(Uuid::now_v7()),
        account_id: Set(of.account_id),
        document_id: Set(of.id),
        collection_id: Set(of.collection_id),
        ordinal: Set(int(ordinal)),
        text: Set(chunk.text.clone()),
        page: Set(chunk.page.map(|n| i32::try_from(n).unwrap_or(i32::MAX))),
        char_start: Set(int(chunk.char_start)),
        char_end: Set(int(chunk.char_end)),
        token_count: Set(int(chunk.token_count)),
    }
}

/// The vectors (with an embedder), then `EMBEDDING → INGESTED`.
async fn embed_and_finish(
    p: &Pipeline,
    scope: AccountScope,
    embedding: document::Model,
    with: &Ingestion,
) -> anyhow::Result<()> {
    let embedded = match &with.embedder {
        Some(embedder) => match embed_chunks(p, scope, embedding, embedder.as_ref(), with.embed_batch).await? {
            Some(embedded) => embedded,
            None => return Ok(()),
        },
        None => embedding,
    };
    finish(p, scope, &embedded).await
}

/// `EMBEDDING → INGESTED` with the summary job queued (its id on the
/// document, its message in the outbox), one transaction; a document moved
/// on or deleted meanwhile rolls both back.
async fn finish(p: &Pipeline, scope: AccountScope, embedded: &document::Model) -> anyhow::Result<()> {
    let (now, job_id) = (Utc::now(), Uuid::now_v7());
    let tx = begin_write(&p.db).await?;
    let moved = scope
        .update_many::<document::Entity>()
        .col_expr(document::Column::Status, Expr::value(DocumentStatus::Ingested))
        .col_expr(document::Column::Progress, Expr::value(100))
        .col_expr(document::Column::SummaryJobId, Expr::value(Some(job_id)))
        .col_expr(document::Column::UpdatedAt, Expr::value(now))
        .filter(document::Column::Id.eq(embedded.id))
        .filter(document::Column::Status.eq(DocumentStatus::Embedding))
        .exec(&scope.on(&tx))
        .await?;
    if moved.rows_affected != 1 {
        tx.rollback().await?;
        return Ok(());
    }
    enqueue(&tx, &summary::message(embedded, job_id)).await?;
    tx.commit().await?;
    p.outbox.notify_one();
    let ingested = document::Model {
        status: DocumentStatus::Ingested,
        progress: 100,
        summary_job_id: Some(job_id),
        updated_at: now,
        ..embedded.clone()
    };
    publish(p, &ingested).await;
    Ok(())
}

/// Binds the collection, embeds the document's chunks that have no vector
/// of the embedder's model yet, batch by batch, then the collection's other
/// chunks without one. The document as it now is, or `None` when it is
/// gone, was moved on by another delivery, or failed.
async fn embed_chunks(
    p: &Pipeline,
    scope: AccountScope,
    document: document::Model,
    embedder: &dyn Embedder,
    batch: usize,
) -> anyhow::Result<Option<document::Model>> {
    let space = Space::of(embedder);
    match vectors::bind_collection(&p.db, scope, document.collection_id, &space).await? {
        Binding::Gone => return Ok(None),
        Binding::Kept => {}
        Binding::Bound { from: None } => {
            tracing::info!(collection_id = %document.collection_id, %space, "collection bound to an embedding model");
        }
        Binding::Bound { from: Some(before) } => tracing::info!(
            collection_id = %document.collection_id,
            %before,
            %space,
            "the collection's embedding model changed: its chunks are embedded again in the new one"
        ),
    }
    let total = document.chunk_count.and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
    let mut done = vectors::count_embedded(&p.db, scope, document.id, &space).await?;
    let (mut current, mut after) = (document, Uuid::nil());
    loop {
        let pending =
            vectors::unembedded(&p.db, scope, Among::Document(current.id), &space, after, batch.max(1)).await?;
        let Some(last) = pending.last() else { break };
        after = last.chunk_id;
        let computed = match embed_checked(embedder, &space, &pending).await {
            Ok(computed) => computed,
            Err(e) if e.is_transient() => return Err(retry_later(e).await),
            Err(e) => {
                tracing::warn!(document_id = %current.id, %space, error = %e, "the document could not be embedded");
                fail(p, scope, &current, &format!("the document could not be embedded: {e}")).await?;
                return Ok(None);
            }
        };
        done += pending.len() as u64;
        match store_batch(p, scope, &current, &space, &pending, &computed, embedding_progress(done, total)).await? {
            Some(now) => current = now,
            None => return Ok(None),
        }
    }
    embed_rest_of_collection(p, scope, &current, embedder, &space, batch.max(1)).await?;
    Ok(Some(current))
}

/// The chunks of the collection's other `INGESTED` documents that have no
/// vector of `space`: ingested without an embedder, or in the model the
/// collection was bound to before. A chunk the model refuses keeps its old
/// vector (or none) and is logged; it does not fail this document.
async fn embed_rest_of_collection(
    p: &Pipeline,
    scope: AccountScope,
    document: &document::Model,
    embedder: &dyn Embedder,
    space: &Space,
    batch: usize,
) -> anyhow::Result<()> {
    let (mut after, mut embedded, mut refused) = (Uuid::nil(), 0usize, 0usize);
    loop {
        let among = Among::IngestedOf(document.collection_id);
        let pending = vectors::unembedded(&p.db, scope, among, space, after, batch).await?;
        let Some(last) = pending.last() else { break };
        after = last.chunk_id;
        match embed_checked(embedder, space, &pending).await {
            Ok(computed) => {
                vectors::store(&p.db, scope, space, &pending, &computed).await?;
                embedded += pending.len();
            }
            Err(e) if e.is_transient() => return Err(retry_later(e).await),
            Err(e) => {
                let collection_id = document.collection_id;
                tracing::warn!(%collection_id, %space, error = %e, "chunks left without a vector");
                refused += pending.len();
            }
        }
    }
    if embedded + refused > 0 {
        tracing::info!(collection_id = %document.collection_id, %space, embedded, refused, "collection re-embedded");
    }
    Ok(())
}

/// The vectors of `chunks`, one each of `space`'s dimension, all finite;
/// anything else is the model's error, never stored.
async fn embed_checked(
    embedder: &dyn Embedder,
    space: &Space,
    chunks: &[Unembedded],
) -> Result<Vec<Vec<f32>>, EmbedError> {
    let texts: Vec<String> = chunks.iter().map(|chunk| chunk.text.clone()).collect();
    let computed = embedder.embed(&texts).await?;
    let fits = |v: &Vec<f32>| v.len() == space.dimension && v.iter().all(|x| x.is_finite());
    if computed.len() != texts.len() || !computed.iter().all(fits) {
        let dimensions: Vec<usize> = computed.iter().map(Vec::len).take(3).collect();
        return Err(EmbedError::Provider(format!(
            "{} vectors (of {dimensions:?}… dimensions, or not finite) for {} texts; {space} was expected",
            computed.len(),
            texts.len(),
        )));
    }
    Ok(computed)
}

/// A transient failure, for the delivery to be retried: after the wait the
/// provider asked for (up to [`MAX_WAIT_BEFORE_RETRY`]), as the delivery is
/// otherwise redelivered at once.
async fn retry_later(e: EmbedError) -> anyhow::Error {
    if let Some(wait) = e.retry_after() {
        tokio::time::sleep(wait.min(MAX_WAIT_BEFORE_RETRY)).await;
    }
    anyhow::Error::new(e).context("embedding is unavailable for now; the delivery is retried")
}

/// Progress with `done` of `total` chunks embedded: 60 → 95.
fn embedding_progress(done: u64, total: u64) -> i32 {
    if total == 0 {
        return PROGRESS_EMBEDDED;
    }
    let span = u64::try_from(PROGRESS_EMBEDDED - PROGRESS_CHUNKED).unwrap_or(0);
    let step = i32::try_from(span * done.min(total) / total).unwrap_or(0);
    PROGRESS_CHUNKED + step
}

/// One batch's vectors and the document's progress, in one transaction:
/// the vectors first (on PostgreSQL their foreign keys lock the chunks
/// before the document row, in the order a deletion takes them), then the
/// progress, conditional on `EMBEDDING`; a document deleted or moved on
/// meanwhile rolls both back (`None`).
async fn store_batch(
    p: &Pipeline,
    scope: AccountScope,
    current: &document::Model,
    space: &Space,
    chunks: &[Unembedded],
    computed: &[Vec<f32>],
    progress: i32,
) -> anyhow::Result<Option<document::Model>> {
    let now = Utc::now();
    let tx = begin_write(&p.db).await?;
    vectors::store(&tx, scope, space, chunks, computed).await?;
    let moved = scope
        .update_many::<document::Entity>()
        .col_expr(document::Column::Progress, Expr::value(progress))
        .col_expr(document::Column::UpdatedAt, Expr::value(now))
        .filter(document::Column::Id.eq(current.id))
        .filter(document::Column::Status.eq(DocumentStatus::Embedding))
        .exec(&scope.on(&tx))
        .await?;
    if moved.rows_affected != 1 {
        tx.rollback().await?;
        return Ok(None);
    }
    tx.commit().await?;
    let updated = document::Model { progress, updated_at: now, ..current.clone() };
    publish(p, &updated).await;
    Ok(Some(updated))
}

/// Moves the document from one of `from` to `to` and publishes it; the
/// document as it now is, or `None` if it was not in `from` (or is gone).
async fn move_to(
    p: &Pipeline,
    scope: AccountScope,
    current: &document::Model,
    from: &[DocumentStatus],
    to: DocumentStatus,
    progress: i32,
    reason: Option<&str>,
) -> anyhow::Result<Option<document::Model>> {
    let now = Utc::now();
    let mut update = scope
        .update_many::<document::Entity>()
        .col_expr(document::Column::Status, Expr::value(to))
        .col_expr(document::Column::Progress, Expr::value(progress))
        .col_expr(document::Column::UpdatedAt, Expr::value(now));
    if let Some(reason) = reason {
        update = update.col_expr(document::Column::FailureReason, Expr::value(reason));
    }
    let moved = update
        .filter(document::Column::Id.eq(current.id))
        .filter(document::Column::Status.is_in(from.iter().copied()))
        .exec(&scope.on(&p.db))
        .await?;
    if moved.rows_affected != 1 {
        return Ok(None);
    }
    let now_is = document::Model {
        status: to,
        progress,
        failure_reason: reason.map(str::to_owned).or_else(|| current.failure_reason.clone()),
        updated_at: now,
        ..current.clone()
    };
    publish(p, &now_is).await;
    Ok(Some(now_is))
}

/// Ends an unfinished document as `FAILED` with `reason`.
async fn fail(p: &Pipeline, scope: AccountScope, current: &document::Model, reason: &str) -> anyhow::Result<()> {
    move_to(p, scope, current, &DocumentStatus::UNFINISHED, DocumentStatus::Failed, current.progress, Some(reason))
        .await?;
    Ok(())
}

/// A message that kept failing: the document fails, saying so.
pub async fn give_up(p: &Pipeline, account_id: Uuid, document_id: Uuid) -> anyhow::Result<()> {
    let scope = AccountScope::new(account_id);
    let found =
        scope.find::<document::Entity>().filter(document::Column::Id.eq(document_id)).one(&scope.on(&p.db)).await?;
    if let Some(found) = found {
        let reason = format!(
            "ingestion failed {} times and was stopped: delete the document and upload it again",
            p.config.max_deliveries
        );
        tracing::error!(%document_id, %reason, "dead letter");
        fail(p, scope, &found, &reason).await?;
    }
    Ok(())
}

/// Re-queues every unfinished document (the embedded queue forgets its
/// messages on restart; ingestion is idempotent, so extra ones are harmless).
pub async fn resume_unfinished(p: &Pipeline) -> anyhow::Result<usize> {
    // The worker acts across accounts here, as in the request lifecycle's
    // resume; each message carries its document's account.
    let unfinished =
        document::Entity::find().filter(document::Column::Status.is_in(DocumentStatus::UNFINISHED)).all(&p.db).await?;
    if unfinished.is_empty() {
        return Ok(0);
    }
    let messages: Vec<Message> = unfinished.iter().map(message).collect();
    let tx = begin_write(&p.db).await?;
    enqueue_all(&tx, &messages).await?;
    tx.commit().await?;
    p.outbox.notify_one();
    Ok(messages.len())
}

/// The bus event for `document` as it now is.
pub fn status_event(document: &document::Model) -> Event {
    Event {
        id: Uuid::now_v7(),
        account_id: document.account_id,
        request_id: document.collection_id,
        sequence: 0,
        kind: DOCUMENT_STATUS_CHANGED.to_owned(),
        payload: json!({
            "documentId": document.id,
            "collectionId": document.collection_id,
            "status": document.status.as_str(),
            "progress": document.progress,
            "reason": document.failure_reason,
        }),
        created_at: document.updated_at,
    }
}

/// Best effort, like every bus publish: watchers re-read the database.
pub async fn publish(p: &Pipeline, document: &document::Model) {
    p.bus.publish(&[status_event(document)]).await;
}

/// Tells the collection's watchers that `document_id` (or, without one, the
/// collection itself) was deleted.
pub async fn publish_deletion(p: &Pipeline, account_id: Uuid, collection_id: Uuid, document_id: Option<Uuid>) {
    let (kind, payload) = match document_id {
        Some(id) => (DOCUMENT_DELETED, json!({ "documentId": id, "collectionId": collection_id })),
        None => (COLLECTION_DELETED, json!({ "collectionId": collection_id })),
    };
    let event = Event {
        id: Uuid::now_v7(),
        account_id,
        request_id: collection_id,
        sequence: 0,
        kind: kind.to_owned(),
        payload,
        created_at: Utc::now(),
    };
    p.bus.publish(&[event]).await;
}
