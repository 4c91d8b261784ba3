//! Knowledge as the API sees it: collections (names unique per account)
//! and their documents, validation, tenancy and roles here; the worker
//! ingests (`alatar_agents::knowledge::ingest`). Seed 004's roles: owners,
//! admins and analysts create, upload and delete; viewers read.

pub mod chat;
mod documents;
pub mod search;
mod updates;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr,
};
use uuid::Uuid;

use alatar_agents::knowledge::ingest;
use alatar_agents::pipeline::Pipeline;
use alatar_agents::write::begin_write;
use alatar_entity::{AccountScope, Role, collection, document, document_chunk};

use crate::auth::AccessClaims;
use crate::error::{ApiError, ApiResult};

pub use documents::{
    MAX_DOCUMENT_BYTES, chunks, delete_document, documents, get_document, read_upload, regenerate_summary,
    upload_document,
};
pub use updates::document_updates;

/// Longest collection name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest collection description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 2_000;

/// `FORBIDDEN` for viewers, who may read and search only.
pub(crate) fn may_edit(viewer: &AccessClaims, refusal: &'static str) -> ApiResult<()> {
    if viewer.role == Role::Viewer { Err(ApiError::Forbidden(refusal)) } else { Ok(()) }
}

/// A collection name: trimmed, 1 to 200 characters, no control characters.
fn parse_name(raw: &str) -> ApiResult<String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(ApiError::bad_input("name", "must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::bad_input("name", format!("must be at most {MAX_NAME_CHARS} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::bad_input("name", "must not contain control characters"));
    }
    Ok(name.to_owned())
}

fn parse_description(raw: Option<String>) -> ApiResult<Option<String>> {
    let Some(description) = raw.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty()) else { return Ok(None) };
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(ApiError::bad_input("description", format!("must be at most {MAX_DESCRIPTION_CHARS} characters")));
    }
    Ok(Some(description))
}

/// A unique violation on the name is `CONFLICT`; anything else internal.
fn name_taken(err: DbErr, name: &str) -> ApiError {
    if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
        ApiError::Conflict(format!("a collection named \"{name}\" already exists"))
    } else {
        ApiError::internal(err)
    }
}

/// Creates an empty collection.
pub async fn create_collection(
    p: &Pipeline,
    scope: AccountScope,
    viewer: &AccessClaims,
    name: &str,
    description: Option<String>,
) -> ApiResult<collection::Model> {
    may_edit(viewer, "viewers cannot create collections")?;
    let name = parse_name(name)?;
    let description = parse_description(description)?;
    let now = Utc::now();
    collection::Entity::insert(collection::ActiveModel {
        id: Set(Uuid::now_v7()),
        account_id: Set(scope.account_id()),
        name: Set(name.clone()),
        description: Set(description),
        embedding_model: Set(None),
        embedding_dimension: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        repository_id: Set(None),
    })
    .exec_with_returning(&p.db)
    .await
    .map_err(|e| name_taken(e, &name))
}

/// One of the account's collections (a repository analysis's code index
/// is none of them).
pub async fn collection(p: &Pipeline, scope: AccountScope, id: Uuid) -> ApiResult<collection::Model> {
    scope
        .find::<collection::Entity>()
        .filter(collection::Column::Id.eq(id))
        .filter(collection::Column::RepositoryId.is_null())
        .one(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?
        .ok_or(ApiError::NotFound("collection"))
}

/// A page of the account's collections, newest first, after the cursor `before_id`.
pub async fn collections(
    p: &Pipeline,
    scope: AccountScope,
    before_id: Option<Uuid>,
    limit: u64,
) -> ApiResult<Vec<collection::Model>> {
    let mut query = scope.find::<collection::Entity>().filter(collection::Column::RepositoryId.is_null());
    if let Some(before) = before_id {
        query = query.filter(collection::Column::Id.lt(before));
    }
    query.order_by_desc(collection::Column::Id).limit(limit).all(&scope.on(&p.db)).await.map_err(ApiError::internal)
}

/// How many documents a collection holds.
pub async fn document_count(p: &Pipeline, scope: AccountScope, collection_id: Uuid) -> ApiResult<u64> {
    scope
        .find::<document::Entity>()
        .filter(document::Column::CollectionId.eq(collection_id))
        .count(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)
}

/// Renames a collection; the new name is unique in the account too.
pub async fn rename_collection(
    p: &Pipeline,
    scope: AccountScope,
    viewer: &AccessClaims,
    id: Uuid,
    name: &str,
) -> ApiResult<collection::Model> {
    may_edit(viewer, "viewers cannot rename collections")?;
    let name = parse_name(name)?;
    let renamed = scope
        .update_many::<collection::Entity>()
        .col_expr(collection::Column::Name, Expr::value(name.clone()))
        .col_expr(collection::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(collection::Column::Id.eq(id))
        .exec(&scope.on(&p.db))
        .await
        .map_err(|e| name_taken(e, &name))?;
    if renamed.rows_affected == 0 {
        return Err(ApiError::NotFound("collection"));
    }
    collection(p, scope, id).await
}

/// Deletes a collection with its documents, their files and chunks, in
/// one transaction (the foreign keys cascade as well).
pub async fn delete_collection(p: &Pipeline, scope: AccountScope, viewer: &AccessClaims, id: Uuid) -> ApiResult<()> {
    may_edit(viewer, "viewers cannot delete collections")?;
    let tx = begin_write(&p.db).await.map_err(ApiError::internal)?;
    let on = scope.on(&tx);
    scope
        .delete_many::<document_chunk::Entity>()
        .filter(document_chunk::Column::CollectionId.eq(id))
        .exec(&on)
        .await
        .map_err(ApiError::internal)?;
    // Files go with their documents (foreign key, cascading).
    scope
        .delete_many::<document::Entity>()
        .filter(document::Column::CollectionId.eq(id))
        .exec(&on)
        .await
        .map_err(ApiError::internal)?;
    let gone = scope
        .delete_many::<collection::Entity>()
        .filter(collection::Column::Id.eq(id))
        .exec(&on)
        .await
        .map_err(ApiError::internal)?;
    if gone.rows_affected == 0 {
        // Nothing of another account's was touched: every statement was scoped.
        return Err(ApiError::NotFound("collection"));
    }
    tx.commit().await.map_err(ApiError::internal)?;
    ingest::publish_deletion(p, scope.account_id(), id, None).await;
    Ok(())
}
