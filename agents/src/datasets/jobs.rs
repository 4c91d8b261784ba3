//! Jobs: `QUEUED → RUNNING → COMPLETED | FAILED | CANCELLED`, every move a
//! conditional update (`… WHERE status IN (expected)`), so of two writers
//! exactly one moves a job and each job reaches exactly one terminal
//! status, announced once (P6). A job's dataset moves with it: a first load
//! that fails or is cancelled fails its `PENDING` dataset (and its source
//! is removed), while a reload that fails leaves the `READY` dataset as it
//! was.
//!
//! Cancelling: a `QUEUED` job is `CANCELLED` at once; a `RUNNING` one is
//! asked to stop (`cancel_requested`) and its worker stops at its next
//! check between batches, undoing what it loaded. Every change is
//! published on the event bus as `JOB_UPDATED`, keyed by the job, for
//! `jobUpdates`; the row stays the record.
//!
//! Three kinds share all of this: `INGESTION` (`ingest`), `INSIGHTS`
//! (`insights::job`) and `TRAINING` (`models::job`), the last two on a
//! `READY` dataset, which they leave `READY`; each kind has its own queue
//! message ([`message`]).

use chrono::Utc;
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use alatar_entity::dataset::DatasetStatus;
use alatar_entity::job::{JobKind, JobStatus};
use alatar_entity::{AccountScope, ScopeSession, dataset, job};

use super::source;
use crate::pipeline::journal::{enqueue, enqueue_all};
use crate::pipeline::{Event, Message, Pipeline};
use crate::write::begin_write;

/// The event kind of a job's change; `request_id` carries the job's id,
/// `payload` `{jobId, datasetId, status, progress, error, cancelRequested}`.
pub const JOB_UPDATED: &str = "JOB_UPDATED";

/// The event kind of a dataset whose rows changed (a load committed a new
/// version, or it was deleted); `request_id` carries the dataset's id, so
/// dashboards showing it hear it (`dashboardUpdates`).
pub const DATASET_UPDATED: &str = "DATASET_UPDATED";

/// The bus event saying dataset `dataset_id` of `account_id` changed.
pub fn dataset_event(account_id: Uuid, dataset_id: Uuid, version: Option<i32>) -> Event {
    Event {
        id: Uuid::now_v7(),
        account_id,
        request_id: dataset_id,
        sequence: 0,
        kind: DATASET_UPDATED.to_owned(),
        payload: json!({ "datasetId": dataset_id, "version": version }),
        created_at: Utc::now(),
    }
}

/// The queue message that runs `job`, by its kind.
pub fn message(job: &job::Model) -> Message {
    match JobKind::parse(&job.kind) {
        Some(JobKind::Insights) => Message::DatasetInsights { account_id: job.account_id, job_id: job.id },
        Some(JobKind::Training) => Message::TrainModel { account_id: job.account_id, job_id: job.id },
        Some(JobKind::RepositoryAnalysis) => Message::AnalyzeRepository { account_id: job.account_id, job_id: job.id },
        Some(JobKind::Ingestion) | None => Message::IngestDataset { account_id: job.account_id, job_id: job.id },
    }
}

/// A new `QUEUED` ingestion of `dataset_id`; `input` as [`job::Model::input`].
pub fn queued(account_id: Uuid, created_by: Uuid, dataset_id: Uuid, input: Option<serde_json::Value>) -> job::Model {
    queued_of(JobKind::Ingestion, account_id, created_by, dataset_id, input)
}

/// A new `QUEUED` job of `kind` on `dataset_id`.
pub fn queued_of(
    kind: JobKind,
    account_id: Uuid,
    created_by: Uuid,
    dataset_id: Uuid,
    input: Option<serde_json::Value>,
) -> job::Model {
    job::Model {
        id: Uuid::now_v7(),
        account_id,
        kind: kind.as_str().to_owned(),
        status: JobStatus::Queued.as_str().to_owned(),
        progress: 0,
        error: None,
        dataset_id: Some(dataset_id),
        cancel_requested: false,
        input,
        created_by,
        created_at: Utc::now(),
        started_at: None,
        finished_at: None,
    }
}

/// Stores `job` and its queue message, in the caller's transaction.
pub async fn insert<C: ConnectionTrait>(tx: &C, job: &job::Model) -> Result<(), DbErr> {
    job::Entity::insert(job::ActiveModel::from(job.clone())).exec_without_returning(tx).await?;
    enqueue(tx, &message(job)).await
}

/// One of the account's jobs.
pub async fn find(p: &Pipeline, scope: AccountScope, id: Uuid) -> Result<Option<job::Model>, DbErr> {
    scope.find::<job::Entity>().filter(job::Column::Id.eq(id)).one(&scope.on(&p.db)).await
}

/// The job a message names if it is still to be worked: `None` when it is
/// gone or ended, or when cancelling it was asked for (it is then
/// cancelled here). Every kind's handler starts with it.
pub async fn pending(p: &Pipeline, scope: AccountScope, job_id: Uuid) -> Result<Option<job::Model>, DbErr> {
    let Some(found) = find(p, scope, job_id).await? else { return Ok(None) };
    if found.status().is_terminal() {
        return Ok(None);
    }
    if found.cancel_requested {
        cancelled(p, scope, &found).await?;
        return Ok(None);
    }
    Ok(Some(found))
}

/// The bus event for `job` as it now is.
pub fn event(job: &job::Model) -> Event {
    Event {
        id: Uuid::now_v7(),
        account_id: job.account_id,
        request_id: job.id,
        sequence: 0,
        kind: JOB_UPDATED.to_owned(),
        payload: json!({
            "jobId": job.id,
            "datasetId": job.dataset_id,
            "status": job.status,
            "progress": job.progress,
            "error": job.error,
            "cancelRequested": job.cancel_requested,
        }),
        created_at: Utc::now(),
    }
}

/// Announces job `id` as it now is (best effort, like every bus publish:
/// watchers re-read the database).
pub async fn announce(p: &Pipeline, scope: AccountScope, id: Uuid) {
    match find(p, scope, id).await {
        Ok(Some(job)) => p.bus.publish(&[event(&job)]).await,
        Ok(None) => {}
        Err(e) => tracing::warn!(job_id = %id, error = %e, "could not re-read a job to announce it"),
    }
}

/// `QUEUED | RUNNING → RUNNING` (a redelivery restarts a running job), the
/// first start time kept; the job as it now is, or `None` when it moved on
/// or cancelling it was asked for meanwhile.
pub async fn start(p: &Pipeline, scope: AccountScope, job: &job::Model) -> Result<Option<job::Model>, DbErr> {
    let now = Utc::now();
    let started = Func::coalesce([Expr::col(job::Column::StartedAt), Expr::value(now)]);
    let moved = scope
        .update_many::<job::Entity>()
        .col_expr(job::Column::Status, Expr::value(JobStatus::Running.as_str()))
        .col_expr(job::Column::StartedAt, started.into())
        .filter(job::Column::Id.eq(job.id))
        .filter(job::Column::Status.is_in(JobStatus::unfinished_texts()))
        .filter(job::Column::CancelRequested.eq(false))
        .exec(&scope.on(&p.db))
        .await?;
    if moved.rows_affected != 1 {
        return Ok(None);
    }
    let running = find(p, scope, job.id).await?;
    if let Some(running) = &running {
        p.bus.publish(&[event(running)]).await;
    }
    Ok(running)
}

/// What a running job's worker is to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Carry on.
    Continue,
    /// Cancelling was asked for: undo and stop.
    Cancel,
    /// The job is no longer running (another worker finished it, or its
    /// dataset was deleted): undo and stop.
    Gone,
}

/// Records `progress` (when higher than the stored one) and says whether
/// the job still runs.
pub async fn report(p: &Pipeline, scope: AccountScope, job_id: Uuid, progress: i32) -> Result<Control, DbErr> {
    let Some(current) = find(p, scope, job_id).await? else { return Ok(Control::Gone) };
    if current.status() != JobStatus::Running {
        return Ok(Control::Gone);
    }
    if current.cancel_requested {
        return Ok(Control::Cancel);
    }
    if progress > current.progress {
        let moved = scope
            .update_many::<job::Entity>()
            .col_expr(job::Column::Progress, Expr::value(progress))
            .filter(job::Column::Id.eq(job_id))
            .filter(job::Column::Status.eq(JobStatus::Running.as_str()))
            .filter(job::Column::Progress.lt(progress))
            .exec(&scope.on(&p.db))
            .await?;
        if moved.rows_affected == 1 {
            p.bus.publish(&[event(&job::Model { progress, ..current })]).await;
        }
    }
    Ok(Control::Continue)
}

/// Moves job `id` from an unfinished status to `to` (terminal) with
/// `error`, in `tx`; whether it moved. `COMPLETED` also needs it running
/// with no cancel asked for, and sets the progress to 100.
pub async fn end_in<C: ScopeSession>(
    tx: &C,
    scope: AccountScope,
    id: Uuid,
    to: JobStatus,
    error: Option<&str>,
) -> Result<bool, DbErr> {
    let mut update = scope
        .update_many::<job::Entity>()
        .col_expr(job::Column::Status, Expr::value(to.as_str()))
        .col_expr(job::Column::Error, Expr::value(error.map(str::to_owned)))
        .col_expr(job::Column::FinishedAt, Expr::value(Some(Utc::now())))
        .filter(job::Column::Id.eq(id));
    update = if to == JobStatus::Completed {
        update
            .col_expr(job::Column::Progress, Expr::value(100))
            .filter(job::Column::Status.eq(JobStatus::Running.as_str()))
            .filter(job::Column::CancelRequested.eq(false))
    } else {
        update.filter(job::Column::Status.is_in(JobStatus::unfinished_texts()))
    };
    Ok(update.exec(&scope.on(tx)).await?.rows_affected == 1)
}

/// Fails dataset `id` with `reason` in `tx` if it is still `PENDING` (its
/// first load never finished); whether it did.
async fn fail_pending_dataset<C: ScopeSession>(
    tx: &C,
    scope: AccountScope,
    id: Uuid,
    reason: &str,
) -> Result<bool, DbErr> {
    let moved = scope
        .update_many::<dataset::Entity>()
        .col_expr(dataset::Column::Status, Expr::value(DatasetStatus::Failed.as_str()))
        .col_expr(dataset::Column::Error, Expr::value(Some(reason.to_owned())))
        .col_expr(dataset::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(dataset::Column::Id.eq(id))
        .filter(dataset::Column::Status.eq(DatasetStatus::Pending.as_str()))
        .exec(&scope.on(tx))
        .await?;
    Ok(moved.rows_affected == 1)
}

/// Ends `job` as `to` (`FAILED` or `CANCELLED`) with `error`, failing its
/// dataset with `dataset_error` when that was its first load, in one
/// transaction; then removes the failed dataset's source and announces the
/// job. Whether the job moved (it had not ended already).
pub async fn stop(
    p: &Pipeline,
    scope: AccountScope,
    job: &job::Model,
    to: JobStatus,
    error: Option<&str>,
    dataset_error: &str,
) -> Result<bool, DbErr> {
    let tx = begin_write(&p.db).await?;
    if !end_in(&tx, scope, job.id, to, error).await? {
        tx.rollback().await?;
        return Ok(false);
    }
    let failed = match job.dataset_id {
        Some(dataset_id) => fail_pending_dataset(&tx, scope, dataset_id, dataset_error).await?,
        None => false,
    };
    tx.commit().await?;
    if let (true, Some(dataset_id)) = (failed, job.dataset_id) {
        source::remove(&p.datasets.data_dir, dataset_id).await;
    }
    announce(p, scope, job.id).await;
    Ok(true)
}

/// Fails `job` with `reason` (see [`stop`]).
pub async fn fail(p: &Pipeline, scope: AccountScope, job: &job::Model, reason: &str) -> Result<bool, DbErr> {
    stop(p, scope, job, JobStatus::Failed, Some(reason), reason).await
}

/// Cancels `job` as asked (see [`stop`]).
pub async fn cancelled(p: &Pipeline, scope: AccountScope, job: &job::Model) -> Result<bool, DbErr> {
    stop(p, scope, job, JobStatus::Cancelled, None, "the upload was cancelled before it was loaded").await
}

/// What `cancelJob` did.
#[derive(Debug, Clone)]
pub enum Cancel {
    /// It was queued: now `CANCELLED`.
    Cancelled(job::Model),
    /// It is running: its worker was asked to stop.
    Requested(job::Model),
    /// It had ended already, as it is.
    Ended(job::Model),
}

/// Cancels the account's job `id` (see the module documentation); `None`
/// when there is no such job.
pub async fn cancel(p: &Pipeline, scope: AccountScope, id: Uuid) -> Result<Option<Cancel>, DbErr> {
    let Some(found) = find(p, scope, id).await? else { return Ok(None) };
    if found.status() == JobStatus::Queued {
        let tx = begin_write(&p.db).await?;
        let moved = scope
            .update_many::<job::Entity>()
            .col_expr(job::Column::Status, Expr::value(JobStatus::Cancelled.as_str()))
            .col_expr(job::Column::CancelRequested, Expr::value(true))
            .col_expr(job::Column::FinishedAt, Expr::value(Some(Utc::now())))
            .filter(job::Column::Id.eq(id))
            .filter(job::Column::Status.eq(JobStatus::Queued.as_str()))
            .exec(&scope.on(&tx))
            .await?;
        if moved.rows_affected == 1 {
            let failed = match found.dataset_id {
                Some(dataset_id) => {
                    fail_pending_dataset(&tx, scope, dataset_id, "the upload was cancelled before it was loaded")
                        .await?
                }
                None => false,
            };
            tx.commit().await?;
            if let (true, Some(dataset_id)) = (failed, found.dataset_id) {
                source::remove(&p.datasets.data_dir, dataset_id).await;
            }
            announce(p, scope, id).await;
            let now = find(p, scope, id).await?.unwrap_or(found);
            return Ok(Some(Cancel::Cancelled(now)));
        }
        // A worker took it meanwhile: ask that one.
        tx.rollback().await?;
    }
    let asked = scope
        .update_many::<job::Entity>()
        .col_expr(job::Column::CancelRequested, Expr::value(true))
        .filter(job::Column::Id.eq(id))
        .filter(job::Column::Status.eq(JobStatus::Running.as_str()))
        .exec(&scope.on(&p.db))
        .await?;
    let now = find(p, scope, id).await?;
    Ok(match now {
        None => None,
        Some(now) if asked.rows_affected == 1 => {
            p.bus.publish(&[event(&now)]).await;
            Some(Cancel::Requested(now))
        }
        Some(now) => Some(Cancel::Ended(now)),
    })
}

/// Cancels every unfinished job of dataset `dataset_id` in `tx` (it is
/// being deleted); their ids, to announce once committed.
pub async fn cancel_for_deleted_dataset<C: ScopeSession>(
    tx: &C,
    scope: AccountScope,
    dataset_id: Uuid,
) -> Result<Vec<Uuid>, DbErr> {
    let unfinished: Vec<Uuid> = scope
        .find::<job::Entity>()
        .filter(job::Column::DatasetId.eq(dataset_id))
        .filter(job::Column::Status.is_in(JobStatus::unfinished_texts()))
        .all(&scope.on(tx))
        .await?
        .into_iter()
        .map(|j| j.id)
        .collect();
    let mut ended = Vec::new();
    for id in unfinished {
        if end_in(tx, scope, id, JobStatus::Cancelled, Some("the dataset was deleted")).await? {
            ended.push(id);
        }
    }
    Ok(ended)
}

/// Whether dataset `dataset_id` has an unfinished job.
pub async fn busy(p: &Pipeline, scope: AccountScope, dataset_id: Uuid) -> Result<bool, DbErr> {
    let found = scope
        .find::<job::Entity>()
        .filter(job::Column::DatasetId.eq(dataset_id))
        .filter(job::Column::Status.is_in(JobStatus::unfinished_texts()))
        .one(&scope.on(&p.db))
        .await?;
    Ok(found.is_some())
}

/// A message that kept failing: its job fails, saying so.
pub async fn give_up(p: &Pipeline, account_id: Uuid, job_id: Uuid) -> anyhow::Result<()> {
    let scope = AccountScope::new(account_id);
    if let Some(found) = find(p, scope, job_id).await? {
        let reason = format!(
            "the job failed {} times and was stopped: delete the dataset and upload the file again",
            p.config.max_deliveries
        );
        tracing::error!(%job_id, %reason, "dead letter");
        fail(p, scope, &found, &reason).await?;
    }
    Ok(())
}

/// Re-queues every unfinished job (the embedded queue forgets its messages
/// on restart; jobs are idempotent, so extra messages are harmless).
pub async fn resume_unfinished(p: &Pipeline) -> anyhow::Result<usize> {
    // The worker acts across accounts here, as the other resumes do; each
    // message carries its job's account.
    let unfinished =
        job::Entity::find().filter(job::Column::Status.is_in(JobStatus::unfinished_texts())).all(&p.db).await?;
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
