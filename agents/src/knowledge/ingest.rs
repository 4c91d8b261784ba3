//! Ingestion, one queue message per document (`IngestDocument`, on the
//! `Knowledge` department's queue): `PENDING → EXTRACTING` (read the text),
//! chunks stored with `→ EMBEDDING` in one transaction, then the embedding
//! seam and `→ INGESTED`; an unreadable document ends `FAILED` with a reason
//! the merchant understands.
//!
//! Exactly-once effects on redelivery, as in the rest of the pipeline:
//! every step is a conditional update (`… WHERE status = expected`). A
//! crash while extracting leaves `EXTRACTING` and no chunks (they are
//! written only with the move to `EMBEDDING`, replacing any there were), so
//! the redelivery extracts again; a crash while embedding leaves
//! `EMBEDDING` with the chunks stored, so the redelivery resumes at the
//! embedding and nothing is extracted or stored twice. Of two deliveries
//! at once, one moves the document on and the other's commit finds
//! nothing to do and rolls back.
//!
//! Every status change is published on the pipeline's event bus (Redis
//! across instances) as a `DOCUMENT_STATUS_CHANGED` event keyed by the
//! collection, for `documentUpdates`; the document row stays the record.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;
use uuid::Uuid;

use alatar_entity::{AccountScope, DocumentStatus, document, document_chunk, document_file};

use super::chunk::{ApproxTokens, Chunk, ChunkSettings, TokenCount, chunk_pages};
use super::extract::{DocumentKind, ExtractError, ExtractLimits, extract};
use crate::pipeline::journal::enqueue_all;
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

/// Chunk rows per insert statement (10 values each: within SQLite's and
/// PostgreSQL's bind limits).
const INSERT_BATCH: usize = 500;

/// The embedding seam: computes and stores the vectors of a document's
/// chunks. Called with all of the document's chunks, in order, while it is
/// `EMBEDDING`; a redelivery after a crash calls it again with the same
/// chunks, so it must skip vectors already stored rather than add them
/// twice. An error is retried by redelivery (and dead-lettered at the limit).
#[async_trait]
pub trait ChunkEmbedding: Send + Sync {
    /// Embeds `chunks` of `document`.
    async fn embed(&self, document: &document::Model, chunks: &[document_chunk::Model]) -> anyhow::Result<()>;
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
    /// Embeds the stored chunks; `None` until an embedding model is
    /// configured, and then documents are searchable by full text only.
    pub embedding: Option<Arc<dyn ChunkEmbedding>>,
}

impl Default for Ingestion {
    fn default() -> Self {
        Self {
            tokens: Arc::new(ApproxTokens),
            settings: ChunkSettings::default(),
            limits: ExtractLimits::default(),
            embedding: None,
        }
    }
}

/// The queue message that ingests `document`.
pub fn message(document: &document::Model) -> Message {
    Message::IngestDocument { account_id: document.account_id, document_id: document.id }
}

/// Handles an `IngestDocument` message with the default [`Ingestion`].
pub async fn run(p: &Pipeline, account_id: Uuid, document_id: Uuid) -> anyhow::Result<()> {
    ingest(p, account_id, document_id, &Ingestion::default()).await
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

/// The embedding seam, then `EMBEDDING → INGESTED`.
async fn embed_and_finish(
    p: &Pipeline,
    scope: AccountScope,
    embedding: document::Model,
    with: &Ingestion,
) -> anyhow::Result<()> {
    if let Some(embedder) = &with.embedding {
        let chunks = scope
            .find::<document_chunk::Entity>()
            .filter(document_chunk::Column::DocumentId.eq(embedding.id))
            .order_by_asc(document_chunk::Column::Ordinal)
            .all(&scope.on(&p.db))
            .await?;
        embedder.embed(&embedding, &chunks).await?;
    }
    move_to(p, scope, &embedding, &[DocumentStatus::Embedding], DocumentStatus::Ingested, 100, None).await?;
    Ok(())
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
