//! Insights as the API sees them (seed 001 §6): `datasetInsights` queues
//! an `INSIGHTS` job on one of the account's datasets (another account's
//! is `NOT_FOUND`) that is `READY` (else `CONFLICT`), and answers at once
//! with it; while an insights job of that dataset is unfinished, that job
//! is the answer (no second one); while a reload runs, `CONFLICT` (other
//! jobs, which only read the table, do not hold it up). Owners,
//! admins and analysts ask, as they upload; viewers read the stored result
//! (`Dataset.insights`) but start no jobs, since they could not cancel one.
//! The work is `alatar_agents::datasets::insights`.

use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use alatar_agents::datasets::jobs;
use alatar_agents::pipeline::Pipeline;
use alatar_agents::write::begin_write;
use alatar_entity::dataset::DatasetStatus;
use alatar_entity::job::{JobKind, JobStatus};
use alatar_entity::{AccountScope, job};

use super::datasets::get_dataset;
use super::knowledge::may_edit;
use crate::auth::AccessClaims;
use crate::error::{ApiError, ApiResult};

/// Queues the insights of dataset `dataset_id` (see the module doc); the job.
#[tracing::instrument(skip_all, fields(dataset = %dataset_id))]
pub async fn request(
    p: &Pipeline,
    scope: AccountScope,
    viewer: &AccessClaims,
    dataset_id: Uuid,
) -> ApiResult<job::Model> {
    may_edit(viewer, "viewers cannot start insights jobs; they read a dataset's insights")?;
    let found = get_dataset(p, scope, dataset_id).await?;
    if found.status() != DatasetStatus::Ready {
        return Err(ApiError::Conflict(format!(
            "the dataset is {}, not READY: insights need a loaded table",
            found.status().as_str()
        )));
    }
    // Newest first: an insights job already on its way is the answer; a
    // reload would swap the table under the statements; other jobs (they
    // only read the table) do not matter.
    let unfinished = scope
        .find::<job::Entity>()
        .filter(job::Column::DatasetId.eq(dataset_id))
        .filter(job::Column::Status.is_in(JobStatus::unfinished_texts()))
        .order_by_desc(job::Column::Id)
        .all(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?;
    let kind_of = |j: &job::Model| JobKind::parse(&j.kind);
    if let Some(running) = unfinished.iter().find(|j| kind_of(*j) == Some(JobKind::Insights)) {
        return Ok(running.clone());
    }
    if unfinished.iter().any(|j| kind_of(j) == Some(JobKind::Ingestion)) {
        return Err(ApiError::Conflict(
            "the dataset is being loaded again: ask for insights once its job has ended".into(),
        ));
    }
    let queued = jobs::queued_of(JobKind::Insights, scope.account_id(), viewer.sub, dataset_id, None);
    let tx = begin_write(&p.db).await.map_err(ApiError::internal)?;
    jobs::insert(&tx, &queued).await.map_err(ApiError::internal)?;
    tx.commit().await.map_err(ApiError::internal)?;
    p.outbox.notify_one();
    p.bus.publish(&[jobs::event(&queued)]).await;
    Ok(queued)
}
