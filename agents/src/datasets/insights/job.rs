//! An insights job (`DatasetInsights`, on the `Datasets` department's
//! queue): the dataset's insights computed over its current table and
//! stored on it.
//!
//! Like an ingestion (`jobs`): `QUEUED → RUNNING` by a conditional update
//! (a redelivery of a running job runs it again from the start, which is
//! harmless: it only reads, and the result is the same), progress stored
//! and the job's row read between statements (a cancel request ends it
//! `CANCELLED`, a job ended elsewhere stops it), and one transaction that
//! stores the insights on the dataset (only while it is still `READY` at
//! the version read) and marks the job `COMPLETED` (only while it runs
//! with no cancel asked for), so it ends exactly once. A failing statement
//! fails the job naming it; a database or storage failure is an error, so
//! the delivery is retried; dead-lettered, the job fails saying so.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, QueryFilter};
use uuid::Uuid;

use alatar_entity::dataset::DatasetStatus;
use alatar_entity::job::JobStatus;
use alatar_entity::{AccountScope, dataset, job};

use super::reader::{InsightsError, TableReader};
use super::{Checkpoint, DatasetInsights, SAMPLE_ROWS, analyze};
use crate::datasets::jobs::{self, Control};
use crate::datasets::sql::DatasetTable;
use crate::datasets::sql::execute::{ExecuteError, Limits};
use crate::pipeline::Pipeline;
use crate::write::begin_write;

/// Longest one statement of an insights job may run. P26 wants the whole
/// job within five seconds at a million rows; this only stops a runaway.
const STATEMENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Progress storage and cancel checks between statements.
struct Watch<'a> {
    p: &'a Pipeline,
    scope: AccountScope,
    job_id: Uuid,
}

#[async_trait::async_trait]
impl Checkpoint for Watch<'_> {
    async fn reached(&mut self, progress: i32) -> Result<(), InsightsError> {
        match jobs::report(self.p, self.scope, self.job_id, progress).await? {
            Control::Continue => Ok(()),
            stop => Err(InsightsError::Stopped(stop)),
        }
    }
}

/// Handles a `DatasetInsights` message; `Ok` also when there was nothing
/// to do (ended already, or moved on by another delivery).
pub async fn run(p: &Pipeline, account_id: Uuid, job_id: Uuid) -> anyhow::Result<()> {
    let scope = AccountScope::new(account_id);
    let Some(found) = jobs::pending(p, scope, job_id).await? else { return Ok(()) };
    let dataset = match found.dataset_id {
        Some(id) => scope.find::<dataset::Entity>().filter(dataset::Column::Id.eq(id)).one(&scope.on(&p.db)).await?,
        None => None,
    };
    let Some(dataset) = dataset else {
        jobs::stop(p, scope, &found, JobStatus::Cancelled, Some("the dataset was deleted"), "deleted").await?;
        return Ok(());
    };
    if dataset.status() != DatasetStatus::Ready {
        let reason = format!("the dataset is {}, not READY: insights need a loaded table", dataset.status);
        jobs::fail(p, scope, &found, &reason).await?;
        return Ok(());
    }
    let Some(running) = jobs::start(p, scope, &found).await? else {
        // Ended by another delivery, or cancelling was asked for meanwhile.
        if let Some(now) = jobs::find(p, scope, job_id).await?
            && now.cancel_requested
            && !now.status().is_terminal()
        {
            jobs::cancelled(p, scope, &now).await?;
        }
        return Ok(());
    };
    let table = DatasetTable::of(&dataset);
    let limits = Limits { row_cap: SAMPLE_ROWS, timeout: STATEMENT_TIMEOUT };
    let reader = TableReader::new(&p.db, &p.datasets.data_dir, &table, limits);
    let mut watch = Watch { p, scope, job_id };
    match analyze(&reader, &mut watch).await {
        Ok(insights) => finish(p, scope, &running, &dataset, &insights).await,
        Err(InsightsError::Stopped(Control::Cancel)) => {
            jobs::cancelled(p, scope, &running).await?;
            Ok(())
        }
        Err(InsightsError::Stopped(_)) => Ok(()),
        Err(e) if e.is_transient() => Err(e.into()),
        Err(e) => {
            let reason = refusal(&e);
            tracing::warn!(job_id = %running.id, dataset_id = %dataset.id, error = %e, "insights failed");
            jobs::fail(p, scope, &running, &reason).await?;
            Ok(())
        }
    }
}

/// What a merchant reads when a statement failed for good.
fn refusal(e: &InsightsError) -> String {
    match e {
        InsightsError::Execute(ExecuteError::Timeout(limit)) => format!(
            "a statement over the dataset ran past {} ms and was stopped: the table is too large for insights",
            limit.as_millis()
        ),
        other => format!("insights could not be computed: {other}"),
    }
}

/// Stores `insights` on the dataset and completes the job, in one
/// transaction; a dataset or job that moved on meanwhile discards them.
async fn finish(
    p: &Pipeline,
    scope: AccountScope,
    job: &job::Model,
    dataset: &dataset::Model,
    insights: &DatasetInsights,
) -> anyhow::Result<()> {
    let stored = serde_json::to_value(insights)?;
    let tx = begin_write(&p.db).await?;
    // The dataset's row first, then the job: the lock order of a load.
    let recorded = scope
        .update_many::<dataset::Entity>()
        .col_expr(dataset::Column::Insights, Expr::value(Some(stored)))
        .col_expr(dataset::Column::InsightsAt, Expr::value(Some(insights.generated_at)))
        .filter(dataset::Column::Id.eq(dataset.id))
        .filter(dataset::Column::Version.eq(dataset.version))
        .filter(dataset::Column::Status.eq(DatasetStatus::Ready.as_str()))
        .exec(&scope.on(&tx))
        .await?;
    if recorded.rows_affected != 1 {
        tx.rollback().await?;
        // Reloaded (a new version) or deleted (its jobs are cancelled then).
        jobs::fail(p, scope, job, "the dataset changed while its insights were computed: ask again").await?;
        return Ok(());
    }
    if !jobs::end_in(&tx, scope, job.id, JobStatus::Completed, None).await? {
        tx.rollback().await?;
        // Cancelled at the last moment, or ended by another delivery.
        if let Some(now) = jobs::find(p, scope, job.id).await?
            && now.cancel_requested
            && !now.status().is_terminal()
        {
            jobs::cancelled(p, scope, &now).await?;
        }
        return Ok(());
    }
    tx.commit().await?;
    tracing::info!(
        job_id = %job.id,
        dataset_id = %dataset.id,
        anomalies = insights.anomalies.len(),
        trends = insights.trends.len(),
        statements = insights.statements,
        elapsed_ms = insights.elapsed_ms,
        "dataset insights computed"
    );
    jobs::announce(p, scope, job.id).await;
    Ok(())
}

/// A message that kept failing: its job fails, saying so.
pub async fn give_up(p: &Pipeline, account_id: Uuid, job_id: Uuid) -> anyhow::Result<()> {
    let scope = AccountScope::new(account_id);
    if let Some(found) = jobs::find(p, scope, job_id).await? {
        let reason =
            format!("insights failed {} times and were stopped: ask for them again later", p.config.max_deliveries);
        tracing::error!(%job_id, %reason, "dead letter");
        jobs::fail(p, scope, &found, &reason).await?;
    }
    Ok(())
}
