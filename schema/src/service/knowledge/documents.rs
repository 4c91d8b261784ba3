//! Documents: upload (sniffed, hashed, stored with its bytes and its
//! ingestion message in one transaction), reading, a new summary, deletion.

use std::io::{Read, Seek, SeekFrom};

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use alatar_agents::knowledge::extract::sniff;
use alatar_agents::knowledge::{ingest, summary};
use alatar_agents::pipeline::{Pipeline, journal};
use alatar_agents::write::begin_write;
use alatar_entity::{AccountScope, DocumentStatus, document, document_chunk, document_file};

use super::{collection, may_edit};
use crate::auth::AccessClaims;
use crate::error::{ApiError, ApiResult};

/// The most bytes a document may have, whatever the transport allows
/// (`graphql.max_upload_bytes`, 10 MB by default, caps it first while the
/// body streams): the bytes are kept in the database.
pub const MAX_DOCUMENT_BYTES: usize = 32 * 1024 * 1024;

/// Longest stored file name, in characters.
const MAX_FILENAME_CHARS: usize = 255;

/// An upload's temporary file read into memory, at most `limit` bytes
/// (one more means too large), off the async runtime.
pub async fn read_upload(mut file: std::fs::File, limit: usize) -> ApiResult<Vec<u8>> {
    let read = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        file.seek(SeekFrom::Start(0))?;
        let mut bytes = Vec::new();
        file.take(limit as u64 + 1).read_to_end(&mut bytes)?;
        Ok(bytes)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    if read.len() > limit {
        return Err(ApiError::bad_input("file", format!("is larger than {} MB", limit / (1024 * 1024))));
    }
    Ok(read)
}

/// The last path component of what the client called the file, without
/// control characters, at most 255 characters; `document` if nothing is left.
fn clean_filename(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let kept: String = last.chars().filter(|c| !c.is_control()).collect();
    let kept = kept.trim();
    if kept.is_empty() {
        return "document".to_owned();
    }
    kept.chars().take(MAX_FILENAME_CHARS).collect()
}

/// Stores an upload in a collection as `PENDING` and queues its ingestion;
/// answers at once. The kind comes from the bytes: an unsupported one is
/// `BAD_USER_INPUT` naming it; the same bytes twice in one collection are
/// `CONFLICT`.
pub async fn upload_document(
    p: &Pipeline,
    scope: AccountScope,
    viewer: &AccessClaims,
    collection_id: Uuid,
    filename: &str,
    file: std::fs::File,
) -> ApiResult<document::Model> {
    may_edit(viewer, "viewers cannot upload documents")?;
    let target = collection(p, scope, collection_id).await?;
    let bytes = read_upload(file, MAX_DOCUMENT_BYTES).await?;
    let filename = clean_filename(filename);
    let kind = sniff(&bytes, &filename).map_err(|refusal| ApiError::bad_input("file", refusal.to_string()))?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let duplicate = scope
        .find::<document::Entity>()
        .filter(document::Column::CollectionId.eq(target.id))
        .filter(document::Column::Sha256.eq(sha256.clone()))
        .one(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?;
    if let Some(existing) = duplicate {
        return Err(already_there(&existing.filename));
    }
    let now = Utc::now();
    let stored = document::Model {
        id: Uuid::now_v7(),
        account_id: scope.account_id(),
        collection_id: target.id,
        filename,
        content_type: kind.content_type().to_owned(),
        byte_size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
        sha256,
        status: DocumentStatus::Pending,
        progress: 0,
        failure_reason: None,
        page_count: None,
        chunk_count: None,
        created_at: now,
        updated_at: now,
        summary: None,
        summary_model: None,
        summarized_at: None,
        summary_job_id: None,
        redacted_at: None,
        redaction_note: None,
    };
    let tx = begin_write(&p.db).await.map_err(ApiError::internal)?;
    let inserted =
        document::Entity::insert(document::ActiveModel::from(stored.clone())).exec_without_returning(&tx).await;
    match inserted {
        Ok(_) => {}
        // Two uploads of the same file at once: one wins.
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            return Err(already_there(&stored.filename));
        }
        Err(e) => return Err(ApiError::internal(e)),
    }
    document_file::Entity::insert(document_file::ActiveModel {
        document_id: Set(stored.id),
        account_id: Set(stored.account_id),
        content: Set(bytes),
    })
    .exec_without_returning(&tx)
    .await
    .map_err(ApiError::internal)?;
    journal::enqueue(&tx, &ingest::message(&stored)).await.map_err(ApiError::internal)?;
    tx.commit().await.map_err(ApiError::internal)?;
    p.outbox.notify_one();
    ingest::publish(p, &stored).await;
    Ok(stored)
}

fn already_there(filename: &str) -> ApiError {
    ApiError::Conflict(format!("this file is already in the collection (as \"{filename}\")"))
}

/// One of the account's documents.
pub async fn get_document(p: &Pipeline, scope: AccountScope, id: Uuid) -> ApiResult<document::Model> {
    scope
        .find::<document::Entity>()
        .filter(document::Column::Id.eq(id))
        .one(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?
        .ok_or(ApiError::NotFound("document"))
}

/// A page of a collection's documents, newest first, after `before_id`.
pub async fn documents(
    p: &Pipeline,
    scope: AccountScope,
    collection_id: Uuid,
    before_id: Option<Uuid>,
    limit: u64,
) -> ApiResult<Vec<document::Model>> {
    let mut query = scope.find::<document::Entity>().filter(document::Column::CollectionId.eq(collection_id));
    if let Some(before) = before_id {
        query = query.filter(document::Column::Id.lt(before));
    }
    query.order_by_desc(document::Column::Id).limit(limit).all(&scope.on(&p.db)).await.map_err(ApiError::internal)
}

/// A page of a document's chunks in reading order, after ordinal `after`.
pub async fn chunks(
    p: &Pipeline,
    scope: AccountScope,
    document_id: Uuid,
    after: Option<i32>,
    limit: u64,
) -> ApiResult<Vec<document_chunk::Model>> {
    let mut query = scope.find::<document_chunk::Entity>().filter(document_chunk::Column::DocumentId.eq(document_id));
    if let Some(after) = after {
        query = query.filter(document_chunk::Column::Ordinal.gt(after));
    }
    query
        .order_by_asc(document_chunk::Column::Ordinal)
        .limit(limit)
        .all(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)
}

/// Queues a new summary of an `INGESTED` document (the job and its
/// message in one transaction) and answers at once with the document as it
/// now is; the summary job writes it. Viewers are `FORBIDDEN`; a document
/// not yet (or never) ingested is `BAD_USER_INPUT`, having no text to
/// summarize.
pub async fn regenerate_summary(
    p: &Pipeline,
    scope: AccountScope,
    viewer: &AccessClaims,
    id: Uuid,
) -> ApiResult<document::Model> {
    may_edit(viewer, "viewers cannot regenerate summaries")?;
    let found = get_document(p, scope, id).await?;
    let not_ingested = |status: DocumentStatus| {
        ApiError::bad_input(
            "documentId",
            format!("is {}: a document is summarized once it is INGESTED", status.as_str()),
        )
    };
    if found.status != DocumentStatus::Ingested {
        return Err(not_ingested(found.status));
    }
    let now = Utc::now();
    let tx = begin_write(&p.db).await.map_err(ApiError::internal)?;
    let Some(job_id) = summary::request(&tx, scope, id, now).await.map_err(ApiError::internal)? else {
        // Deleted or re-ingested since it was read.
        tx.rollback().await.map_err(ApiError::internal)?;
        let current = get_document(p, scope, id).await?;
        return Err(not_ingested(current.status));
    };
    tx.commit().await.map_err(ApiError::internal)?;
    p.outbox.notify_one();
    // As committed, not re-read: the job may have written the new summary
    // already, and the answer says a new one was asked for.
    let queued = document::Model { summary_job_id: Some(job_id), updated_at: now, ..found };
    ingest::publish(p, &queued).await;
    Ok(queued)
}

/// Deletes a document with its file and chunks; an ingestion still running
/// finds it gone and stops.
pub async fn delete_document(p: &Pipeline, scope: AccountScope, viewer: &AccessClaims, id: Uuid) -> ApiResult<()> {
    may_edit(viewer, "viewers cannot delete documents")?;
    let tx = begin_write(&p.db).await.map_err(ApiError::internal)?;
    let on = scope.on(&tx);
    scope
        .delete_many::<document_chunk::Entity>()
        .filter(document_chunk::Column::DocumentId.eq(id))
        .exec(&on)
        .await
        .map_err(ApiError::internal)?;
    let found = scope
        .find::<document::Entity>()
        .filter(document::Column::Id.eq(id))
        .one(&on)
        .await
        .map_err(ApiError::internal)?
        .ok_or(ApiError::NotFound("document"))?;
    let gone = scope
        .delete_many::<document::Entity>()
        .filter(document::Column::Id.eq(id))
        .exec(&on)
        .await
        .map_err(ApiError::internal)?;
    if gone.rows_affected == 0 {
        return Err(ApiError::NotFound("document"));
    }
    tx.commit().await.map_err(ApiError::internal)?;
    ingest::publish_deletion(p, found.account_id, found.collection_id, Some(found.id)).await;
    Ok(())
}
