//! Datasets as the API sees them: uploads (the file put in place, the
//! dataset `PENDING` and its `INGESTION` job `QUEUED` with its message in
//! one transaction, answered at once), the account's datasets and jobs, a
//! column's type set (a reload of the kept source, as a new job), deletion
//! and cancelling; validation, tenancy and roles here. The worker loads
//! (`alatar_agents::datasets::ingest`). Owners, admins and analysts upload,
//! change, delete and cancel; viewers read.

mod updates;

use chrono::Utc;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr};
use serde_json::json;
use uuid::Uuid;

use alatar_agents::datasets::column::{ColumnSpec, ColumnType};
use alatar_agents::datasets::jobs::{self, Cancel};
use alatar_agents::datasets::{erase, parse, source};
use alatar_agents::pipeline::Pipeline;
use alatar_agents::write::begin_write;
use alatar_entity::dataset::{DatasetFormat, DatasetStatus};
use alatar_entity::job::JobStatus;
use alatar_entity::{AccountScope, dataset, job};

use super::knowledge::may_edit;
use crate::auth::AccessClaims;
use crate::error::{ApiError, ApiResult};

pub use updates::job_updates;

/// Longest dataset name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest stored file name, in characters.
const MAX_SOURCE_NAME_CHARS: usize = 255;

/// A dataset name: trimmed, 1 to 200 characters, no control characters.
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

/// The last path component of what the client called the file, without
/// control characters, at most 255 characters; `upload` if nothing is left.
fn clean_filename(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let kept: String = last.chars().filter(|c| !c.is_control()).collect();
    let kept = kept.trim();
    if kept.is_empty() {
        return "upload".to_owned();
    }
    kept.chars().take(MAX_SOURCE_NAME_CHARS).collect()
}

fn name_taken(name: &str) -> ApiError {
    ApiError::Conflict(format!("a dataset named \"{name}\" already exists"))
}

/// Puts an upload in place as a new `PENDING` dataset and queues its
/// ingestion; answers at once with the `QUEUED` job. The format is told by
/// content when not given; the file is held to `datasets.max_upload_bytes`
/// (the transport held it while it streamed); a name the account uses is
/// `CONFLICT`.
pub async fn upload_dataset(
    p: &Pipeline,
    scope: AccountScope,
    viewer: &AccessClaims,
    name: &str,
    format: Option<DatasetFormat>,
    filename: &str,
    file: std::fs::File,
) -> ApiResult<job::Model> {
    may_edit(viewer, "viewers cannot upload datasets")?;
    let name = parse_name(name)?;
    let size = file.metadata().map_err(ApiError::internal)?.len();
    if size == 0 {
        return Err(ApiError::bad_input("file", "is empty"));
    }
    let limit = p.datasets.max_upload_bytes;
    if size > limit {
        return Err(ApiError::bad_input("file", format!("is larger than {limit} bytes (datasets.max_upload_bytes)")));
    }
    let taken = scope
        .find::<dataset::Entity>()
        .filter(dataset::Column::Name.eq(name.clone()))
        .one(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?;
    if taken.is_some() {
        return Err(name_taken(&name));
    }
    let id = Uuid::now_v7();
    let staged = source::stage(&p.datasets.data_dir, id, file).await.map_err(ApiError::internal)?;
    let format = format.unwrap_or_else(|| parse::sniff_format(&staged.head, &staged.tail));
    let now = Utc::now();
    let stored = dataset::Model {
        id,
        account_id: scope.account_id(),
        name,
        format: format.as_str().to_owned(),
        status: DatasetStatus::Pending.as_str().to_owned(),
        error: None,
        row_count: 0,
        column_count: 0,
        byte_size: i64::try_from(staged.byte_size).unwrap_or(i64::MAX),
        source_name: clean_filename(filename),
        columns: json!([]),
        version: 0,
        profile: None,
        profiled_at: None,
        insights: None,
        insights_at: None,
        created_by: viewer.sub,
        created_at: now,
        updated_at: now,
    };
    let job = jobs::queued(scope.account_id(), viewer.sub, id, None);
    match store_upload(p, &stored, &job).await {
        Ok(()) => {}
        Err(e) => {
            source::remove(&p.datasets.data_dir, id).await;
            return Err(match e.sql_err() {
                // Two uploads under one name at once: one wins.
                Some(SqlErr::UniqueConstraintViolation(_)) => name_taken(&stored.name),
                _ => ApiError::internal(e),
            });
        }
    }
    p.outbox.notify_one();
    p.bus.publish(&[jobs::event(&job)]).await;
    Ok(job)
}

/// The dataset, its job and the job's message, in one transaction.
async fn store_upload(p: &Pipeline, stored: &dataset::Model, job: &job::Model) -> Result<(), DbErr> {
    let tx = begin_write(&p.db).await?;
    dataset::Entity::insert(dataset::ActiveModel::from(stored.clone())).exec_without_returning(&tx).await?;
    jobs::insert(&tx, job).await?;
    tx.commit().await
}

/// One of the account's datasets.
pub async fn get_dataset(p: &Pipeline, scope: AccountScope, id: Uuid) -> ApiResult<dataset::Model> {
    scope
        .find::<dataset::Entity>()
        .filter(dataset::Column::Id.eq(id))
        .one(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?
        .ok_or(ApiError::NotFound("dataset"))
}

/// A page of the account's datasets, newest first, after the cursor `before_id`.
pub async fn datasets(
    p: &Pipeline,
    scope: AccountScope,
    before_id: Option<Uuid>,
    limit: u64,
) -> ApiResult<Vec<dataset::Model>> {
    let mut query = scope.find::<dataset::Entity>();
    if let Some(before) = before_id {
        query = query.filter(dataset::Column::Id.lt(before));
    }
    query.order_by_desc(dataset::Column::Id).limit(limit).all(&scope.on(&p.db)).await.map_err(ApiError::internal)
}

/// Sets `column`'s type to `kind` by loading the dataset again from its
/// kept source, as a new `INGESTION` job (answered at once; the dataset's
/// version goes up when it is done). The dataset must be `READY` and have
/// no job running; the column must exist and be of another type.
pub async fn set_column_type(
    p: &Pipeline,
    scope: AccountScope,
    viewer: &AccessClaims,
    dataset_id: Uuid,
    column: &str,
    kind: ColumnType,
) -> ApiResult<job::Model> {
    may_edit(viewer, "viewers cannot change column types")?;
    let found = get_dataset(p, scope, dataset_id).await?;
    if found.status() != DatasetStatus::Ready {
        return Err(ApiError::bad_input(
            "datasetId",
            format!("is {}: column types can be set once the dataset is READY", found.status),
        ));
    }
    let mut columns = ColumnSpec::list_from(&found.columns);
    let Some(target) = columns.iter_mut().find(|c| c.name == column) else {
        return Err(ApiError::bad_input("column", format!("names no column of the dataset \"{}\"", found.name)));
    };
    if target.kind == kind {
        return Err(ApiError::bad_input("type", format!("the column \"{column}\" is already {kind}")));
    }
    target.kind = kind;
    if jobs::busy(p, scope, dataset_id).await.map_err(ApiError::internal)? {
        return Err(ApiError::Conflict("a job is still working on this dataset: wait for it or cancel it".into()));
    }
    let input = json!({ "columns": ColumnSpec::list_to_json(&columns) });
    let job = jobs::queued(scope.account_id(), viewer.sub, dataset_id, Some(input));
    let tx = begin_write(&p.db).await.map_err(ApiError::internal)?;
    jobs::insert(&tx, &job).await.map_err(ApiError::internal)?;
    tx.commit().await.map_err(ApiError::internal)?;
    p.outbox.notify_one();
    p.bus.publish(&[jobs::event(&job)]).await;
    Ok(job)
}

/// Deletes a dataset with its table (or file), its profile and its source;
/// its unfinished jobs end `CANCELLED` (the job rows stay, naming it).
pub async fn delete_dataset(p: &Pipeline, scope: AccountScope, viewer: &AccessClaims, id: Uuid) -> ApiResult<()> {
    may_edit(viewer, "viewers cannot delete datasets")?;
    let tx = begin_write(&p.db).await.map_err(ApiError::internal)?;
    let Some(cancelled) = erase::delete_in(&tx, scope, id).await.map_err(ApiError::internal)? else {
        // Nothing of another account's was touched: every statement was scoped.
        return Err(ApiError::NotFound("dataset"));
    };
    tx.commit().await.map_err(ApiError::internal)?;
    erase::remove_files(&p.datasets.data_dir, id).await;
    for job_id in cancelled {
        jobs::announce(p, scope, job_id).await;
    }
    // Dashboards showing it now show it missing.
    p.bus.publish(&[jobs::dataset_event(scope.account_id(), id, None)]).await;
    Ok(())
}

/// One of the account's jobs.
pub async fn get_job(p: &Pipeline, scope: AccountScope, id: Uuid) -> ApiResult<job::Model> {
    jobs::find(p, scope, id).await.map_err(ApiError::internal)?.ok_or(ApiError::NotFound("job"))
}

/// A page of the account's jobs (of `status`, when given), newest first,
/// after the cursor `before_id`.
pub async fn list_jobs(
    p: &Pipeline,
    scope: AccountScope,
    before_id: Option<Uuid>,
    limit: u64,
    status: Option<JobStatus>,
) -> ApiResult<Vec<job::Model>> {
    let mut query = scope.find::<job::Entity>();
    if let Some(status) = status {
        query = query.filter(job::Column::Status.eq(status.as_str()));
    }
    if let Some(before) = before_id {
        query = query.filter(job::Column::Id.lt(before));
    }
    query.order_by_desc(job::Column::Id).limit(limit).all(&scope.on(&p.db)).await.map_err(ApiError::internal)
}

/// Cancels a job: a queued one ends `CANCELLED` at once, a running one is
/// asked to stop (`cancelRequested`) and ends `CANCELLED` at its worker's
/// next check. One that ended already is `CONFLICT`.
pub async fn cancel_job(p: &Pipeline, scope: AccountScope, viewer: &AccessClaims, id: Uuid) -> ApiResult<job::Model> {
    may_edit(viewer, "viewers cannot cancel jobs")?;
    match jobs::cancel(p, scope, id).await.map_err(ApiError::internal)? {
        None => Err(ApiError::NotFound("job")),
        Some(Cancel::Cancelled(now) | Cancel::Requested(now)) => Ok(now),
        Some(Cancel::Ended(now)) => Err(ApiError::Conflict(format!("the job is {}: it has ended", now.status))),
    }
}
