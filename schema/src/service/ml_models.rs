//! Trained models as the API sees them: `trainModel` (the request checked
//! against the dataset, then a `TRAINING` job `QUEUED` with its message in
//! one transaction, answered at once; the worker trains,
//! `alatar_agents::datasets::models::job`), the account's models, one
//! model, `predict` and deletion. Owners, admins and analysts train and
//! delete; every member, viewers included, reads and predicts (as with
//! `runSql`). Every row is reached through the caller's `AccountScope`:
//! another account's model is `NOT_FOUND`, for reading and predicting
//! alike.

use std::sync::{Arc, Mutex, OnceLock};

use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;
use uuid::Uuid;

use alatar_agents::datasets::column::ColumnSpec;
use alatar_agents::datasets::jobs;
use alatar_agents::datasets::models::{self, Artifact, PredictError, Prediction, TrainSpec};
use alatar_agents::datasets::profile::Profile;
use alatar_agents::pipeline::Pipeline;
use alatar_agents::write::begin_write;
use alatar_entity::dataset::DatasetStatus;
use alatar_entity::job::{JobKind, JobStatus};
use alatar_entity::ml_model::{self, ProblemType, Summary};
use alatar_entity::{AccountScope, job};

use super::datasets::get_dataset;
use super::knowledge::may_edit;
use crate::auth::AccessClaims;
use crate::error::{ApiError, ApiResult};

/// What `trainModel` is asked.
#[derive(Debug, Clone)]
pub struct TrainRequest<'a> {
    /// The dataset.
    pub dataset_id: Uuid,
    /// The column to predict.
    pub target_column: &'a str,
    /// Classification or regression.
    pub problem_type: ProblemType,
    /// The columns to predict from; every other column when `None`.
    pub features: Option<&'a [String]>,
    /// What to call the model.
    pub name: Option<&'a str>,
}

/// Whether dataset `dataset_id` has an unfinished load (its table may be
/// about to change under a training).
async fn loading(p: &Pipeline, scope: AccountScope, dataset_id: Uuid) -> ApiResult<bool> {
    let found = scope
        .find::<job::Entity>()
        .filter(job::Column::DatasetId.eq(dataset_id))
        .filter(job::Column::Kind.eq(JobKind::Ingestion.as_str()))
        .filter(job::Column::Status.is_in(JobStatus::unfinished_texts()))
        .one(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?;
    Ok(found.is_some())
}

/// Checks a training against its dataset (which must be `READY`, with no
/// load running) and queues it; answers at once with the `QUEUED` job.
/// A target or feature that is no column, a text target for a
/// regression, or more than 50 classes is `BAD_USER_INPUT` naming it.
pub async fn train_model(
    p: &Pipeline,
    scope: AccountScope,
    viewer: &AccessClaims,
    request: TrainRequest<'_>,
) -> ApiResult<job::Model> {
    may_edit(viewer, "viewers cannot train models")?;
    let dataset = get_dataset(p, scope, request.dataset_id).await?;
    if dataset.status() != DatasetStatus::Ready {
        return Err(ApiError::bad_input(
            "datasetId",
            format!("is {}: models can be trained once the dataset is READY", dataset.status),
        ));
    }
    let columns = ColumnSpec::list_from(&dataset.columns);
    let profile: Option<Profile> = dataset.profile.clone().and_then(|v| serde_json::from_value(v).ok());
    let spec = TrainSpec::check(
        &columns,
        profile.as_ref(),
        request.target_column,
        request.problem_type,
        request.features,
        request.name,
    )
    .map_err(|e| ApiError::bad_input(e.field, e.message))?;
    if loading(p, scope, dataset.id).await? {
        return Err(ApiError::Conflict("the dataset is being loaded: train once its job has ended".into()));
    }
    let job = models::job::queued(scope.account_id(), viewer.sub, dataset.id, &spec).map_err(ApiError::internal)?;
    let tx = begin_write(&p.db).await.map_err(ApiError::internal)?;
    jobs::insert(&tx, &job).await.map_err(ApiError::internal)?;
    tx.commit().await.map_err(ApiError::internal)?;
    p.outbox.notify_one();
    p.bus.publish(&[jobs::event(&job)]).await;
    Ok(job)
}

/// A page of the account's models (of `dataset_id`, when given), newest
/// first, after the cursor `before_id`; artifacts are not read.
pub async fn list_models(
    p: &Pipeline,
    scope: AccountScope,
    dataset_id: Option<Uuid>,
    before_id: Option<Uuid>,
    limit: u64,
) -> ApiResult<Vec<Summary>> {
    let mut query = scope.find::<ml_model::Entity>().select_only().columns(Summary::COLUMNS);
    if let Some(dataset_id) = dataset_id {
        query = query.filter(ml_model::Column::DatasetId.eq(dataset_id));
    }
    if let Some(before) = before_id {
        query = query.filter(ml_model::Column::Id.lt(before));
    }
    query
        .order_by_desc(ml_model::Column::Id)
        .limit(limit)
        .into_model::<Summary>()
        .all(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)
}

/// One of the account's models, without its artifact.
pub async fn get_model(p: &Pipeline, scope: AccountScope, id: Uuid) -> ApiResult<Summary> {
    scope
        .find::<ml_model::Entity>()
        .select_only()
        .columns(Summary::COLUMNS)
        .filter(ml_model::Column::Id.eq(id))
        .into_model::<Summary>()
        .one(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?
        .ok_or(ApiError::NotFound("model"))
}

/// Loaded models, by id: a model never changes once registered, and
/// reading and parsing its artifact (up to tens of megabytes of JSON) on
/// every `predict` made each call cost what a load costs. Bounded to a few
/// models; an id is only looked up here after the caller's scoped query
/// found it, so a deleted or foreign model is never served from it.
struct Loaded {
    models: std::collections::HashMap<Uuid, Arc<Artifact>>,
    order: std::collections::VecDeque<Uuid>,
}

/// Models kept loaded at most.
const LOADED_MODELS: usize = 16;

fn loaded() -> &'static Mutex<Loaded> {
    static LOADED: OnceLock<Mutex<Loaded>> = OnceLock::new();
    LOADED.get_or_init(|| {
        Mutex::new(Loaded { models: std::collections::HashMap::new(), order: std::collections::VecDeque::new() })
    })
}

/// One load at a time: parsing a large artifact is memory and CPU, and
/// many callers of one new model should wait for the first load.
fn loading_slot() -> &'static tokio::sync::Mutex<()> {
    static SLOT: OnceLock<tokio::sync::Mutex<()>> = OnceLock::new();
    SLOT.get_or_init(|| tokio::sync::Mutex::new(()))
}

fn cached(id: Uuid) -> Option<Arc<Artifact>> {
    loaded().lock().unwrap_or_else(|p| p.into_inner()).models.get(&id).cloned()
}

fn remember(id: Uuid, artifact: Arc<Artifact>) {
    let mut kept = loaded().lock().unwrap_or_else(|p| p.into_inner());
    if kept.models.insert(id, artifact).is_none() {
        kept.order.push_back(id);
    }
    while kept.order.len() > LOADED_MODELS {
        if let Some(oldest) = kept.order.pop_front() {
            kept.models.remove(&oldest);
        }
    }
}

/// Model `id` of the account, loaded (from memory when it was lately).
async fn artifact(p: &Pipeline, scope: AccountScope, id: Uuid) -> ApiResult<Arc<Artifact>> {
    let found: Option<Uuid> = scope
        .find::<ml_model::Entity>()
        .select_only()
        .column(ml_model::Column::Id)
        .filter(ml_model::Column::Id.eq(id))
        .into_tuple()
        .one(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?;
    if found.is_none() {
        return Err(ApiError::NotFound("model"));
    }
    if let Some(artifact) = cached(id) {
        return Ok(artifact);
    }
    let _slot = loading_slot().lock().await;
    if let Some(artifact) = cached(id) {
        return Ok(artifact);
    }
    let text: Option<String> = scope
        .find::<ml_model::Entity>()
        .select_only()
        .column(ml_model::Column::Artifact)
        .filter(ml_model::Column::Id.eq(id))
        .into_tuple()
        .one(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?;
    let Some(text) = text else { return Err(ApiError::NotFound("model")) };
    // Reading a large model (a forest's trees) is work: off the runtime.
    let artifact = tokio::task::spawn_blocking(move || Artifact::load(&text))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let artifact = Arc::new(artifact);
    remember(id, artifact.clone());
    Ok(artifact)
}

/// Predicts with one of the account's models for `features`, a JSON object
/// of feature names and values: an unknown name or a value not of its
/// feature's type is `BAD_USER_INPUT` (field `features`) naming it; a
/// missing or null feature is filled as training filled nulls and listed.
pub async fn predict(p: &Pipeline, scope: AccountScope, id: Uuid, features: Value) -> ApiResult<Prediction> {
    let artifact = artifact(p, scope, id).await?;
    let outcome = tokio::task::spawn_blocking(move || artifact.predict(&features)).await.map_err(ApiError::internal)?;
    match outcome {
        Ok(prediction) => Ok(prediction),
        Err(PredictError::Input(e)) => Err(ApiError::bad_input("features", e.to_string())),
        Err(e @ PredictError::Model(_)) => Err(ApiError::internal(e)),
    }
}

/// Deletes one of the account's models.
pub async fn delete_model(p: &Pipeline, scope: AccountScope, viewer: &AccessClaims, id: Uuid) -> ApiResult<()> {
    may_edit(viewer, "viewers cannot delete models")?;
    let gone = scope
        .delete_many::<ml_model::Entity>()
        .filter(ml_model::Column::Id.eq(id))
        .exec(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?;
    if gone.rows_affected == 0 {
        // Nothing of another account's was touched: the statement was scoped.
        return Err(ApiError::NotFound("model"));
    }
    Ok(())
}
