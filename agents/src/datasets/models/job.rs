//! A `TRAINING` job (`TrainModel`, on the `Datasets` department's queue).
//!
//! 1. Check (progress 2): the spec again, against the dataset as it now is.
//! 2. Read (→ 10): the target and feature columns, sampled (`read`).
//! 3. Train (10 → 98), on a blocking thread: rows without a target left
//!    out, the classes counted, the features encoded, every family
//!    cross-validated, the best refitted, the artifact serialized and read
//!    back (a model that cannot be loaded, or that predicts its first
//!    training rows otherwise once loaded, is never registered).
//! 4. Register (100), in one transaction: the `ml_models` row, then the
//!    job `COMPLETED` (only if still running with no cancel asked for).
//!
//! While the thread works, every 500 ms the job stores its progress (one
//! step per fold) and reads its row: a cancel request (or the job ended
//! elsewhere) tells the thread to stop at its next fold and ends the job
//! `CANCELLED` at once, without waiting for the fold in hand.
//!
//! The time limit (`datasets.training_time_limit_secs`, 30 minutes, P18)
//! runs from the job's first start (a redelivery does not get a fresh
//! one), reading included. Past it the job ends `FAILED`, saying so, and
//! the thread is told to stop: a model is registered only when every family
//! has been scored, so a partial search never passes for a complete one.
//! (RabbitMQ's own `consumer_timeout`, 30 minutes by default, must be
//! longer than the limit: the delivery is acknowledged when the job ends.
//! `scripts/services.sh` and `docker/compose.yaml` set it to an hour; were
//! it shorter, the broker would close the channel and redeliver, and the
//! redelivery would find the job past its limit and fail it.)
//!
//! The data or the request at fault (too few rows, too many classes, every
//! family failing) ends the job `FAILED` with the reason (P21). A transient
//! failure (the database, the storage) is an error: the delivery is
//! retried and starts over. A redelivery of a job that ended does nothing:
//! a completed job's model is there, and is never trained twice.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use alatar_entity::dataset::DatasetStatus;
use alatar_entity::job::{JobKind, JobStatus};
use alatar_entity::ml_model::ProblemType;
use alatar_entity::{AccountScope, dataset, job, ml_model};

use super::families::{Family, Fitted};
use super::features::{Encoder, FeatureColumn, Rows, stored_number, stored_text};
use super::predict::{ARTIFACT_FORMAT, Artifact, ClassLabel, TargetCodec};
use super::read::{self, ReadError};
use super::spec::TrainSpec;
use super::train::{self, Target, TrainError, TrainingSet, Watch};
use super::{MAX_CLASSES, MIN_ROWS};
use crate::datasets::column::{ColumnSpec, ColumnType};
use crate::datasets::jobs::{self, Control};
use crate::datasets::profile::Profile;
use crate::datasets::sql::execute::ExecuteError;
use crate::pipeline::Pipeline;
use crate::write::begin_write;

/// How often progress is stored and cancellation looked for.
const CHECK_EVERY: Duration = Duration::from_millis(500);
/// Longest the read may take (within the time limit).
const READ_TIMEOUT: Duration = Duration::from_secs(300);
/// The largest artifact stored.
const MAX_ARTIFACT_BYTES: usize = 64 * 1024 * 1024;
/// Training rows predicted before and after storing, to compare.
const PROBE_ROWS: usize = 20;

/// A new `QUEUED` training of `dataset_id` as `spec` says.
pub fn queued(
    account_id: Uuid,
    created_by: Uuid,
    dataset_id: Uuid,
    spec: &TrainSpec,
) -> Result<job::Model, serde_json::Error> {
    let input = serde_json::to_value(spec)?;
    Ok(jobs::queued_of(JobKind::Training, account_id, created_by, dataset_id, Some(input)))
}

/// What a job's run came to, short of an error to retry.
enum Outcome {
    /// Registered; the job is `COMPLETED`.
    Done,
    /// Cancelling was asked for: the job is to end `CANCELLED`.
    Cancelled,
    /// The job (or its dataset) moved on without this run.
    Gone,
    /// The data or the request is at fault, or the time ran out: the job
    /// is to fail with this message.
    Refused(String),
}

/// A stop the job's row asked for, as an outcome.
fn stopped(control: Control) -> Outcome {
    if control == Control::Cancel { Outcome::Cancelled } else { Outcome::Gone }
}

/// Handles a `TrainModel` message; `Ok` also when there was nothing to do.
pub async fn run(p: &Pipeline, account_id: Uuid, job_id: Uuid) -> anyhow::Result<()> {
    let scope = AccountScope::new(account_id);
    let Some(found) = jobs::pending(p, scope, job_id).await? else { return Ok(()) };
    let Some(spec) = found.input.clone().and_then(|input| serde_json::from_value::<TrainSpec>(input).ok()) else {
        jobs::fail(p, scope, &found, "the training's settings are unreadable: train the model again").await?;
        return Ok(());
    };
    let dataset = match found.dataset_id {
        Some(id) => scope.find::<dataset::Entity>().filter(dataset::Column::Id.eq(id)).one(&scope.on(&p.db)).await?,
        None => None,
    };
    let Some(dataset) = dataset else {
        jobs::stop(p, scope, &found, JobStatus::Cancelled, Some("the dataset was deleted"), "deleted").await?;
        return Ok(());
    };
    if dataset.status() != DatasetStatus::Ready {
        jobs::fail(p, scope, &found, "the dataset is not loaded: train once it is READY").await?;
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
    match attempt(p, scope, &running, &dataset, &spec).await? {
        Outcome::Done | Outcome::Gone => {}
        Outcome::Cancelled => {
            jobs::cancelled(p, scope, &running).await?;
        }
        Outcome::Refused(reason) => {
            tracing::info!(job_id = %running.id, dataset_id = %dataset.id, %reason, "training refused");
            jobs::fail(p, scope, &running, &reason).await?;
        }
    }
    Ok(())
}

/// A message that kept failing: its job fails, saying so.
pub async fn give_up(p: &Pipeline, account_id: Uuid, job_id: Uuid) -> anyhow::Result<()> {
    let scope = AccountScope::new(account_id);
    if let Some(found) = jobs::find(p, scope, job_id).await? {
        let reason =
            format!("the training failed {} times and was stopped: train the model again", p.config.max_deliveries);
        tracing::error!(%job_id, %reason, "dead letter");
        jobs::fail(p, scope, &found, &reason).await?;
    }
    Ok(())
}

/// What is left of `limit` since `job` first started.
fn remaining(job: &job::Model, limit: Duration) -> Duration {
    let started = job.started_at.unwrap_or_else(Utc::now);
    let elapsed = (Utc::now() - started).to_std().unwrap_or(Duration::ZERO);
    limit.saturating_sub(elapsed)
}

/// The message of a job stopped at its time limit.
pub fn over_limit(limit: Duration) -> String {
    let secs = limit.as_secs();
    let shown = if secs % 60 == 0 { format!("{} min", secs / 60) } else { format!("{secs} s") };
    format!("the training ran past its time limit of {shown} (datasets.training_time_limit_secs) and was stopped")
}

/// One run of the job's steps (see the module documentation).
async fn attempt(
    p: &Pipeline,
    scope: AccountScope,
    job: &job::Model,
    dataset: &dataset::Model,
    spec: &TrainSpec,
) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let limit = p.datasets.training_time_limit;
    let left = remaining(job, limit);
    if left.is_zero() {
        return Ok(Outcome::Refused(over_limit(limit)));
    }
    let deadline = tokio::time::Instant::now() + left;
    let columns = ColumnSpec::list_from(&dataset.columns);
    let profile: Option<Profile> = dataset.profile.clone().and_then(|v| serde_json::from_value(v).ok());
    let spec = match spec.recheck(&columns, profile.as_ref()) {
        Ok(spec) => spec,
        Err(e) => return Ok(Outcome::Refused(format!("the dataset changed since the training was asked for: {e}"))),
    };
    match jobs::report(p, scope, job.id, 2).await? {
        Control::Continue => {}
        control => return Ok(stopped(control)),
    }

    let mut wanted = spec.features.clone();
    wanted.push(spec.target_column.clone());
    let timeout = left.min(READ_TIMEOUT);
    let sample = match read::read(p, dataset, &wanted, timeout).await {
        Ok(sample) => sample,
        Err(ReadError::Execute(ExecuteError::Timeout(_))) if timeout == left => {
            return Ok(Outcome::Refused(over_limit(limit)));
        }
        Err(ReadError::Execute(ExecuteError::Timeout(t))) => {
            return Ok(Outcome::Refused(format!("reading the dataset took longer than {} s", t.as_secs())));
        }
        Err(ReadError::Execute(e @ (ExecuteError::Query(_) | ExecuteError::Unsupported { .. }))) => {
            return Ok(Outcome::Refused(format!("the dataset could not be read: {e}")));
        }
        Err(ReadError::Refused(refusal)) => {
            return Ok(Outcome::Refused(format!("the dataset could not be read: {refusal}")));
        }
        // The storage or the database: another delivery may succeed.
        Err(ReadError::Execute(e)) => return Err(e.into()),
    };
    // A reload cannot start while this job runs (a dataset with an
    // unfinished job takes none), but one may have finished just before.
    let now = scope.find::<dataset::Entity>().filter(dataset::Column::Id.eq(dataset.id)).one(&scope.on(&p.db)).await?;
    match now {
        // Deleted: the deletion cancelled this job.
        None => return Ok(Outcome::Gone),
        Some(now) if now.version != dataset.version => {
            return Ok(Outcome::Refused("the dataset was reloaded while the model trained: train it again".into()));
        }
        Some(_) => {}
    }
    tracing::debug!(job_id = %job.id, rows = sample.rows.len(), every = sample.step, "training rows read");
    match jobs::report(p, scope, job.id, 10).await? {
        Control::Continue => {}
        control => return Ok(stopped(control)),
    }

    let features: Vec<FeatureColumn> = spec
        .features
        .iter()
        .filter_map(|name| columns.iter().find(|c| &c.name == name))
        .map(|c| FeatureColumn { name: c.name.clone(), kind: c.kind })
        .collect();
    let target_kind = columns.iter().find(|c| c.name == spec.target_column).map_or(ColumnType::Text, |c| c.kind);
    let progress = Arc::new(Progress::default());
    // A training thread told to stop finishes the fit in hand first, after
    // its job has ended and its delivery been settled: the permit it holds
    // to its end keeps such threads from piling up beside new trainings.
    let Ok(Ok(permit)) = tokio::time::timeout_at(deadline, training_threads().acquire_owned()).await else {
        return Ok(Outcome::Refused(over_limit(limit)));
    };
    let task = {
        let (progress, target) = (progress.clone(), spec.target_column.clone());
        let problem = spec.problem_type;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            build(sample.rows, &features, &target, target_kind, problem, &*progress)
        })
    };
    let built = match follow(p, scope, job.id, &progress, task, deadline).await? {
        Followed::Finished(Ok(built)) => built,
        Followed::Finished(Err(Refused(reason))) => return Ok(Outcome::Refused(reason)),
        Followed::Stopped(control) => return Ok(stopped(control)),
        Followed::TimedOut => return Ok(Outcome::Refused(over_limit(limit))),
    };
    register(p, scope, job, dataset, &spec, built, started).await
}

/// Training threads at once in this process (each uses every core its
/// fits can; two keep one training from waiting behind a long one).
const TRAINING_THREADS: usize = 2;

fn training_threads() -> Arc<tokio::sync::Semaphore> {
    static PERMITS: std::sync::OnceLock<Arc<tokio::sync::Semaphore>> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| Arc::new(tokio::sync::Semaphore::new(TRAINING_THREADS))).clone()
}

/// Shared between the training thread and the job: whether to stop, and
/// how far it is.
#[derive(Default)]
struct Progress {
    stop: AtomicBool,
    done: AtomicUsize,
    total: AtomicUsize,
}

impl Watch for Progress {
    fn proceed(&self) -> bool {
        !self.stop.load(Ordering::Relaxed)
    }

    fn advanced(&self, done: usize, total: usize) {
        self.total.store(total, Ordering::Relaxed);
        self.done.store(done, Ordering::Relaxed);
    }
}

impl Progress {
    /// 10 → 98 as the fits go by.
    fn percent(&self) -> i32 {
        let total = self.total.load(Ordering::Relaxed).max(1);
        let done = self.done.load(Ordering::Relaxed).min(total);
        10 + i32::try_from(done * 88 / total).unwrap_or(88)
    }

    fn halt(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The thread's outcome short of a model.
struct Refused(String);

/// A model ready to register.
struct Built {
    artifact: String,
    family: Family,
    metrics: Value,
    candidates: Value,
    features: Value,
    classes: Option<Value>,
    rows: usize,
}

/// The training thread, followed from the runtime.
enum Followed {
    Finished(Result<Built, Refused>),
    Stopped(Control),
    TimedOut,
}

/// Waits for the training thread, storing progress meanwhile; tells it to
/// stop when the job is to stop or the time is up.
async fn follow(
    p: &Pipeline,
    scope: AccountScope,
    job_id: Uuid,
    progress: &Progress,
    mut task: tokio::task::JoinHandle<Result<Built, Refused>>,
    deadline: tokio::time::Instant,
) -> anyhow::Result<Followed> {
    let mut ticker = tokio::time::interval(CHECK_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            done = &mut task => {
                return match done {
                    Ok(outcome) => Ok(Followed::Finished(outcome)),
                    Err(e) if e.is_panic() => {
                        tracing::error!(%job_id, error = %e, "the training thread panicked");
                        Ok(Followed::Finished(Err(Refused("the training stopped on an internal error".into()))))
                    }
                    Err(e) => Err(e.into()),
                };
            }
            () = tokio::time::sleep_until(deadline) => {
                progress.halt();
                return Ok(Followed::TimedOut);
            }
            _ = ticker.tick() => {
                match jobs::report(p, scope, job_id, progress.percent()).await {
                    Ok(Control::Continue) => {}
                    Ok(control) => {
                        progress.halt();
                        return Ok(Followed::Stopped(control));
                    }
                    Err(e) => {
                        progress.halt();
                        return Err(e.into());
                    }
                }
            }
        }
    }
}

/// A class value's text.
fn label_of(value: &Value) -> String {
    stored_text(value).unwrap_or_default()
}

/// Classes in a stable order: numbers by value, booleans false first,
/// anything else by text.
fn class_order(a: &ClassLabel, b: &ClassLabel) -> std::cmp::Ordering {
    match (&a.value, &b.value) {
        (Value::Number(x), Value::Number(y)) => {
            x.as_f64().unwrap_or(0.0).total_cmp(&y.as_f64().unwrap_or(0.0)).then_with(|| a.label.cmp(&b.label))
        }
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => a.label.cmp(&b.label),
    }
}

/// The rows with a target, what the target becomes, and each kept row's target.
fn targets(
    rows: Vec<Vec<Value>>,
    at: usize,
    target: &str,
    kind: ColumnType,
    problem: ProblemType,
) -> Result<(Vec<Vec<Value>>, TargetCodec, Target), Refused> {
    match problem {
        ProblemType::Regression => {
            let mut kept = Vec::with_capacity(rows.len());
            let mut y = Vec::with_capacity(rows.len());
            for row in rows {
                if let Some(value) = row.get(at).and_then(|v| stored_number(kind, v)) {
                    y.push(value);
                    kept.push(row);
                }
            }
            Ok((kept, TargetCodec::Number, Target::Numbers(y)))
        }
        ProblemType::Classification => {
            let mut kept = Vec::with_capacity(rows.len());
            let mut labels = Vec::with_capacity(rows.len());
            let mut seen: HashMap<String, Value> = HashMap::new();
            for row in rows {
                let Some(value) = row.get(at).filter(|v| !v.is_null()).cloned() else { continue };
                let label = label_of(&value);
                seen.entry(label.clone()).or_insert(value);
                labels.push(label);
                kept.push(row);
            }
            if seen.len() > MAX_CLASSES {
                return Err(Refused(format!(
                    "\"{target}\" has {} distinct values in the rows read: a CLASSIFICATION target may have at most {MAX_CLASSES}",
                    seen.len()
                )));
            }
            if seen.len() < 2 {
                return Err(Refused(format!(
                    "\"{target}\" has fewer than two distinct values in the rows read: there is nothing to classify"
                )));
            }
            let mut classes: Vec<ClassLabel> =
                seen.into_iter().map(|(label, value)| ClassLabel { value, label }).collect();
            classes.sort_by(class_order);
            let position: HashMap<&str, u32> = classes
                .iter()
                .enumerate()
                .map(|(i, c)| (c.label.as_str(), u32::try_from(i).unwrap_or(u32::MAX)))
                .collect();
            let index: Vec<u32> = labels.iter().map(|l| position.get(l.as_str()).copied().unwrap_or(0)).collect();
            let count = classes.len();
            Ok((kept, TargetCodec::Classes { classes }, Target::Classes { index, count }))
        }
    }
}

/// What `fitted` predicts for `rows`, flattened: numbers, or each row's
/// class probabilities.
fn outputs(fitted: &Fitted, rows: &Rows, classes: Option<usize>) -> Result<Vec<f64>, Refused> {
    let outcome = match classes {
        None => fitted.predict_numbers(rows),
        Some(count) => fitted.probabilities(rows, count).map(|p| p.into_iter().flatten().collect()),
    };
    outcome.map_err(|e| Refused(format!("the trained model could not predict: {e}")))
}

/// Step 3, on its own thread: from the rows read to a serialized model
/// (see the module documentation).
fn build(
    rows: Vec<Vec<Value>>,
    features: &[FeatureColumn],
    target: &str,
    target_kind: ColumnType,
    problem: ProblemType,
    watch: &dyn Watch,
) -> Result<Built, Refused> {
    let (kept, codec, labels) = targets(rows, features.len(), target, target_kind, problem)?;
    if kept.len() < MIN_ROWS {
        return Err(Refused(format!(
            "only {} rows have a value in \"{target}\": a training needs at least {MIN_ROWS}",
            kept.len()
        )));
    }
    let (encoder, x) = Encoder::fit(features, &kept);
    let rows = kept.len();
    drop(kept);
    if x.p == 0 {
        return Err(Refused("no feature varies: every one is empty, or text with a single value".into()));
    }
    let set = TrainingSet { x, target: labels };
    let trained = train::train(&set, Family::for_problem(problem), watch).map_err(|e| match e {
        TrainError::Stopped => Refused("stopped".into()),
        TrainError::NoFamily(_) => Refused(e.to_string()),
    })?;
    let classes_count = match &set.target {
        Target::Classes { count, .. } => Some(*count),
        Target::Numbers(_) => None,
    };
    let probe = set.x.select(&(0..set.x.n.min(PROBE_ROWS)).collect::<Vec<_>>());
    drop(set);
    let before = outputs(&trained.fitted, &probe, classes_count)?;
    let mut metrics = serde_json::to_value(trained.metrics).map_err(|e| Refused(e.to_string()))?;
    if let Value::Object(fields) = &mut metrics {
        fields.insert("folds".into(), json!(trained.folds));
    }
    let candidates = serde_json::to_value(&trained.candidates).map_err(|e| Refused(e.to_string()))?;
    let family = trained.fitted.family();
    let features_json =
        Value::Array(encoder.features.iter().map(|f| json!({ "name": f.name, "type": f.kind.as_str() })).collect());
    let classes = match &codec {
        TargetCodec::Classes { classes } => Some(Value::Array(classes.iter().map(|c| json!(c.label)).collect())),
        TargetCodec::Number => None,
    };
    let artifact = Artifact { format: ARTIFACT_FORMAT, encoder, target: codec, model: trained.fitted };
    let text =
        serde_json::to_string(&artifact).map_err(|e| Refused(format!("the trained model could not be stored: {e}")))?;
    if text.len() > MAX_ARTIFACT_BYTES {
        return Err(Refused(format!(
            "the trained model is too large to store ({} MiB; at most {} MiB)",
            text.len() / (1024 * 1024),
            MAX_ARTIFACT_BYTES / (1024 * 1024)
        )));
    }
    // What predictions will load: never register a model that cannot be,
    // or that predicts otherwise once read back (a value JSON cannot hold).
    let loaded =
        Artifact::load(&text).map_err(|e| Refused(format!("the trained model could not be read back: {e}")))?;
    if outputs(&loaded.model, &probe, classes_count)? != before {
        return Err(Refused("the trained model predicts otherwise once stored: it was not registered".into()));
    }
    Ok(Built { artifact: text, family, metrics, candidates, features: features_json, classes, rows })
}

/// Step 4: the model and the job's completion, in one transaction.
async fn register(
    p: &Pipeline,
    scope: AccountScope,
    job: &job::Model,
    dataset: &dataset::Model,
    spec: &TrainSpec,
    built: Built,
    started: Instant,
) -> anyhow::Result<Outcome> {
    let model = ml_model::Model {
        id: Uuid::now_v7(),
        account_id: scope.account_id(),
        dataset_id: dataset.id,
        dataset_version: dataset.version,
        job_id: job.id,
        name: spec.name.clone(),
        problem_type: spec.problem_type.as_str().to_owned(),
        target_column: spec.target_column.clone(),
        features: built.features,
        classes: built.classes,
        family: built.family.as_str().to_owned(),
        metrics: built.metrics,
        candidates: built.candidates,
        artifact: built.artifact,
        row_count: i64::try_from(built.rows).unwrap_or(i64::MAX),
        training_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        created_by: job.created_by,
        created_at: Utc::now(),
    };
    let model_id = model.id;
    let tx = begin_write(&p.db).await?;
    // The model first (its foreign key takes the dataset row), then the
    // job: the order a deletion takes them in.
    if let Err(e) = ml_model::Entity::insert(ml_model::ActiveModel::from(model)).exec_without_returning(&tx).await {
        let _ = tx.rollback().await;
        // The dataset was deleted meanwhile (which cancelled this job), or
        // another delivery registered this job's model (unique job id).
        if jobs::find(p, scope, job.id).await?.is_some_and(|j| j.status().is_terminal()) {
            return Ok(Outcome::Gone);
        }
        return Err(e.into());
    }
    if !jobs::end_in(&tx, scope, job.id, JobStatus::Completed, None).await? {
        tx.rollback().await?;
        // Cancelled at the last moment, or ended by another delivery.
        let now = jobs::find(p, scope, job.id).await?;
        return Ok(if now.is_some_and(|j| j.cancel_requested && !j.status().is_terminal()) {
            Outcome::Cancelled
        } else {
            Outcome::Gone
        });
    }
    tx.commit().await?;
    tracing::info!(
        job_id = %job.id,
        dataset_id = %dataset.id,
        model_id = %model_id,
        family = built.family.as_str(),
        rows = built.rows,
        "model registered"
    );
    jobs::announce(p, scope, job.id).await;
    Ok(Outcome::Done)
}
