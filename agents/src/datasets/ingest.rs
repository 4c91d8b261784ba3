//! An ingestion job (`IngestDataset`, on the `Datasets` department's
//! queue): the dataset's source is read twice, as it streams.
//!
//! 1. Infer (progress 2 → 30): the encoding, the layout (delimiter,
//!    header), the columns and their types (`infer`; a Parquet file's are
//!    its schema's), on a blocking thread.
//! 2. Load and profile (30 → 95): each record converted to its columns'
//!    types (those set by the merchant, for a reload, else the inferred),
//!    counted by the profiler and sent in batches through a bounded channel
//!    (back-pressure: the reader waits while the database is behind) to
//!    the table being filled (`storage`).
//! 3. Finish (100): in one transaction the dataset becomes `READY` with its
//!    columns, counts, profile and version + 1, the job `COMPLETED`, and
//!    the new table takes the old one's place.
//!
//! Between batches (at most every 250 ms) the job's progress is stored
//! and its row read: cancelling stops the reader, undoes the load and ends
//! the job `CANCELLED`. A file at fault (ragged row, broken JSON, no
//! columns) ends it `FAILED` with a message naming the line or column. A
//! transient failure (the database, the disk) is an error: the delivery is
//! retried and starts over (a redelivered or resumed job reruns from the
//! start; nothing half-loaded was ever visible). A redelivery of a job
//! that ended does nothing.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, QueryFilter};
use uuid::Uuid;

use alatar_entity::dataset::{DatasetFormat, DatasetStatus};
use alatar_entity::job::JobStatus;
use alatar_entity::{AccountScope, dataset, job};

use super::column::{ColumnSpec, table_names};
use super::infer::{ColumnStats, Converter, Inference};
use super::jobs::{self, Control};
use super::parse::{self, Cell, Layout, ParseError, Progress};
use super::profile::{ColumnInput, Profile, Profiler};
use super::source::source_path;
use super::storage::{StorageError, TableLoad};
use super::value::Value;
use crate::pipeline::Pipeline;

/// How often, at most, progress is stored and cancellation looked for.
const CHECK_EVERY: Duration = Duration::from_millis(250);

/// Batches in flight between the reader and the table.
const CHANNEL_BATCHES: usize = 4;

/// What a job's run came to, short of an error to retry.
enum Outcome {
    /// Loaded; the job is `COMPLETED`.
    Done,
    /// Cancelling was asked for: the job is to end `CANCELLED`.
    Cancelled,
    /// The job (or its dataset) moved on without this run.
    Gone,
    /// The file is at fault: the job is to fail with this message.
    Refused(String),
}

/// Handles an `IngestDataset` message; `Ok` also when there was nothing to
/// do (ended already, or moved on by another delivery).
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
    if dataset.status() == DatasetStatus::Failed {
        // Its first load ended; nothing is there to reload.
        jobs::fail(p, scope, &found, "the dataset failed to load: upload the file again").await?;
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
    let outcome = match load(p, scope, &running, &dataset).await {
        Ok(outcome) => outcome,
        Err(Failure::Retry(e)) => return Err(e),
    };
    match outcome {
        Outcome::Done | Outcome::Gone => {}
        Outcome::Cancelled => {
            jobs::cancelled(p, scope, &running).await?;
        }
        Outcome::Refused(reason) => {
            tracing::info!(job_id = %running.id, dataset_id = %dataset.id, %reason, "dataset refused");
            jobs::fail(p, scope, &running, &reason).await?;
        }
    }
    Ok(())
}

/// A failure worth another delivery.
enum Failure {
    Retry(anyhow::Error),
}

impl From<StorageError> for Failure {
    fn from(e: StorageError) -> Self {
        Failure::Retry(e.into())
    }
}

impl From<sea_orm::DbErr> for Failure {
    fn from(e: sea_orm::DbErr) -> Self {
        Failure::Retry(e.into())
    }
}

/// Stores progress and looks for cancellation, at most every [`CHECK_EVERY`].
struct Watch<'a> {
    p: &'a Pipeline,
    scope: AccountScope,
    job_id: Uuid,
    last: Option<Instant>,
}

impl Watch<'_> {
    /// `Continue` unless the job is to stop; checks now when `force`d.
    async fn check(&mut self, progress: i32, force: bool) -> Result<Control, Failure> {
        if !force && self.last.is_some_and(|at| at.elapsed() < CHECK_EVERY) {
            return Ok(Control::Continue);
        }
        self.last = Some(Instant::now());
        Ok(jobs::report(self.p, self.scope, self.job_id, progress).await?)
    }
}

/// Progress `from` → `to` as `read` of `total` bytes went by.
fn span(from: i32, to: i32, read: u64, total: u64) -> i32 {
    if total == 0 {
        return to;
    }
    let done = (std::cmp::Ord::min(read, total) as f64 / total as f64 * f64::from(to - from)) as i32;
    from + done
}

/// What the first pass found.
struct Scan {
    layout: Layout,
    columns: Vec<String>,
    inferences: Vec<Inference>,
}

/// Reads the file once for its layout, columns and their types (those the
/// file declares, Parquet's, else inferred from the values).
fn scan(path: &Path, format: DatasetFormat, progress: &Progress) -> Result<Scan, ParseError> {
    let layout = parse::detect_layout(path, format)?;
    let declared = parse::declared_types(path, &layout)?;
    let mut columns = Vec::new();
    let mut stats: Vec<ColumnStats> = Vec::new();
    let mut count = |cells: &[Cell]| -> Result<(), ParseError> {
        if stats.len() < cells.len() {
            stats.resize_with(cells.len(), ColumnStats::default);
        }
        for (stat, cell) in stats.iter_mut().zip(cells) {
            stat.observe(cell);
        }
        Ok(())
    };
    parse::read_records(path, &layout, &mut columns, progress, &mut count)?;
    stats.resize_with(columns.len(), ColumnStats::default);
    let inferences = stats
        .iter()
        .enumerate()
        .map(|(i, stat)| match declared.as_ref().and_then(|kinds| kinds.get(i)) {
            Some(&kind) => parse::parquet::inference(kind, stat),
            None => stat.decide(),
        })
        .collect();
    Ok(Scan { layout, inferences, columns })
}

/// The columns to load: the scan's, with the types of `wanted` (a reload's
/// columns, by name) where they name one.
fn columns_of(scan: &Scan, wanted: Option<&[ColumnSpec]>) -> Vec<ColumnSpec> {
    table_names(&scan.columns)
        .into_iter()
        .zip(&scan.inferences)
        .map(|(name, inference)| {
            let kind = wanted.and_then(|w| w.iter().find(|c| c.name == name)).map_or(inference.kind, |c| c.kind);
            ColumnSpec { name, kind, inferred: inference.kind }
        })
        .collect()
}

/// Runs one job's two passes and its finish.
async fn load(
    p: &Pipeline,
    scope: AccountScope,
    job: &job::Model,
    dataset: &dataset::Model,
) -> Result<Outcome, Failure> {
    let path = source_path(&p.datasets.data_dir, dataset.id);
    let total = match tokio::fs::metadata(&path).await {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Outcome::Refused("the uploaded file is missing: upload it again".to_owned()));
        }
        Err(e) => return Err(Failure::Retry(e.into())),
    };
    let format = DatasetFormat::parse(&dataset.format).unwrap_or(DatasetFormat::Csv);
    let mut watch = Watch { p, scope, job_id: job.id, last: None };
    let progress = Progress::default();

    let scanning = {
        let (path, progress) = (path.clone(), progress.clone());
        tokio::task::spawn_blocking(move || scan(&path, format, &progress))
    };
    let scanned = match follow(&mut watch, &progress, scanning, 2, 30, total).await? {
        Followed::Finished(scanned) => scanned,
        Followed::Stopped(control) => return Ok(stopped(control)),
    };
    let scan = match scanned {
        Ok(scan) => scan,
        Err(ParseError::Invalid(message)) => return Ok(Outcome::Refused(message)),
        Err(ParseError::Stopped) => return Ok(Outcome::Gone),
        Err(ParseError::Io(e)) => return Err(Failure::Retry(e.into())),
    };
    if scan.columns.is_empty() {
        let message = match format {
            DatasetFormat::Csv => "the file is empty: it has no header and no rows",
            DatasetFormat::Json | DatasetFormat::Ndjson => "the file holds no records with any keys",
            DatasetFormat::Parquet => "the Parquet file has no columns",
        };
        return Ok(Outcome::Refused(message.to_owned()));
    }
    let wanted: Option<Vec<ColumnSpec>> =
        job.input.as_ref().and_then(|input| input.get("columns")).map(ColumnSpec::list_from);
    let specs = columns_of(&scan, wanted.as_deref());
    let converters: Vec<Converter> =
        specs.iter().zip(&scan.inferences).map(|(spec, inference)| Converter::new(spec.kind, inference)).collect();
    let fractions: Vec<bool> = converters.iter().map(Converter::fraction).collect();
    let inputs: Vec<ColumnInput> = specs
        .iter()
        .zip(&scan.inferences)
        .map(|(spec, inference)| ColumnInput { spec: spec.clone(), mixed: inference.mixed })
        .collect();

    let mut table = TableLoad::begin(&p.db, &p.datasets.data_dir, dataset.id, &specs, &fractions).await?;
    let version = dataset.version + 1;
    let (sender, mut batches) = tokio::sync::mpsc::channel::<Vec<Vec<Value>>>(CHANNEL_BATCHES);
    let reading = {
        let (path, progress, layout, mut columns) = (path.clone(), progress.clone(), scan.layout.clone(), scan.columns);
        let batch_rows = table.batch_rows();
        tokio::task::spawn_blocking(move || {
            read_typed(&path, &layout, &mut columns, &progress, &converters, inputs, batch_rows, &sender, version)
        })
    };
    let mut stop = None;
    while let Some(batch) = batches.recv().await {
        if let Err(e) = table.insert(batch).await {
            progress.stop();
            drop(batches);
            let _ = reading.await;
            table.abort().await;
            return Err(e.into());
        }
        match watch.check(span(30, 95, progress.bytes_read(), total), false).await {
            Ok(Control::Continue) => {}
            Ok(control) => {
                stop = Some(control);
                break;
            }
            Err(e) => {
                progress.stop();
                drop(batches);
                let _ = reading.await;
                table.abort().await;
                return Err(e);
            }
        }
    }
    if let Some(control) = stop {
        progress.stop();
        drop(batches);
        let _ = reading.await;
        table.abort().await;
        return Ok(stopped(control));
    }
    let profile = match reading.await {
        Ok(Ok(profile)) => profile,
        Ok(Err(ParseError::Invalid(message))) => {
            table.abort().await;
            return Ok(Outcome::Refused(message));
        }
        Ok(Err(ParseError::Stopped)) => {
            table.abort().await;
            return Ok(Outcome::Gone);
        }
        Ok(Err(ParseError::Io(e))) => {
            table.abort().await;
            return Err(Failure::Retry(e.into()));
        }
        Err(e) => {
            table.abort().await;
            return Err(Failure::Retry(e.into()));
        }
    };
    match watch.check(95, true).await {
        Ok(Control::Continue) => {}
        Ok(control) => {
            table.abort().await;
            return Ok(stopped(control));
        }
        Err(e) => {
            table.abort().await;
            return Err(e);
        }
    }
    finish(p, scope, job, dataset, table, &specs, profile).await
}

/// A stop the job's row asked for, as an outcome.
fn stopped(control: Control) -> Outcome {
    if control == Control::Cancel { Outcome::Cancelled } else { Outcome::Gone }
}

/// A blocking pass, followed from the runtime.
enum Followed<T> {
    Finished(T),
    Stopped(Control),
}

/// Waits for `pass`, storing progress `from` → `to` by bytes read of
/// `total` meanwhile; stops it when the job is to stop.
async fn follow<T: Send + 'static>(
    watch: &mut Watch<'_>,
    progress: &Progress,
    mut pass: tokio::task::JoinHandle<T>,
    from: i32,
    to: i32,
    total: u64,
) -> Result<Followed<T>, Failure> {
    let mut ticker = tokio::time::interval(CHECK_EVERY);
    loop {
        tokio::select! {
            done = &mut pass => return done.map(Followed::Finished).map_err(|e| Failure::Retry(e.into())),
            _ = ticker.tick() => {
                let control = match watch.check(span(from, to, progress.bytes_read(), total), true).await {
                    Ok(control) => control,
                    Err(e) => {
                        progress.stop();
                        let _ = pass.await;
                        return Err(e);
                    }
                };
                if control != Control::Continue {
                    progress.stop();
                    let _ = pass.await;
                    return Ok(Followed::Stopped(control));
                }
            }
        }
    }
}

/// The second pass: every record in its columns' types, profiled, sent in
/// batches of `batch_rows`; the profile of version `version`.
#[expect(clippy::too_many_arguments, reason = "one pass's inputs, moved onto its thread")]
fn read_typed(
    path: &Path,
    layout: &Layout,
    columns: &mut Vec<String>,
    progress: &Progress,
    converters: &[Converter],
    inputs: Vec<ColumnInput>,
    batch_rows: usize,
    sender: &tokio::sync::mpsc::Sender<Vec<Vec<Value>>>,
    version: i32,
) -> Result<Profile, ParseError> {
    let mut profiler = Profiler::new(inputs);
    let mut batch: Vec<Vec<Value>> = Vec::with_capacity(batch_rows);
    let mut take = |cells: &[Cell]| -> Result<(), ParseError> {
        let mut row = Vec::with_capacity(converters.len());
        for (i, converter) in converters.iter().enumerate() {
            let (value, invalid) = converter.convert(cells.get(i).unwrap_or(&Cell::Null));
            if invalid {
                profiler.invalid(i);
            }
            row.push(value);
        }
        profiler.push(&row);
        batch.push(row);
        if batch.len() >= batch_rows {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_rows));
            sender.blocking_send(full).map_err(|_| ParseError::Stopped)?;
        }
        Ok(())
    };
    parse::read_records(path, layout, columns, progress, &mut take)?;
    if !batch.is_empty() {
        sender.blocking_send(batch).map_err(|_| ParseError::Stopped)?;
    }
    Ok(profiler.finish(version, Utc::now()))
}

/// Records the load and puts the table in place, in one transaction; a
/// dataset or job that moved on meanwhile discards it.
async fn finish(
    p: &Pipeline,
    scope: AccountScope,
    job: &job::Model,
    dataset: &dataset::Model,
    table: TableLoad,
    specs: &[ColumnSpec],
    profile: Profile,
) -> Result<Outcome, Failure> {
    let finishing = table.finish(&p.db).await?;
    let now = Utc::now();
    let profile_json = serde_json::to_value(&profile).map_err(|e| Failure::Retry(e.into()))?;
    let recorded = scope
        .update_many::<dataset::Entity>()
        .col_expr(dataset::Column::Status, Expr::value(DatasetStatus::Ready.as_str()))
        .col_expr(dataset::Column::Error, Expr::value(Option::<String>::None))
        .col_expr(dataset::Column::RowCount, Expr::value(i64::try_from(profile.row_count).unwrap_or(i64::MAX)))
        .col_expr(dataset::Column::ColumnCount, Expr::value(i32::try_from(specs.len()).unwrap_or(i32::MAX)))
        .col_expr(dataset::Column::Columns, Expr::value(ColumnSpec::list_to_json(specs)))
        .col_expr(dataset::Column::Version, Expr::col(dataset::Column::Version).add(1))
        .col_expr(dataset::Column::Profile, Expr::value(Some(profile_json)))
        .col_expr(dataset::Column::ProfiledAt, Expr::value(Some(now)))
        .col_expr(dataset::Column::UpdatedAt, Expr::value(now))
        .filter(dataset::Column::Id.eq(dataset.id))
        .filter(dataset::Column::Version.eq(dataset.version))
        .filter(dataset::Column::Status.is_in([DatasetStatus::Pending.as_str(), DatasetStatus::Ready.as_str()]))
        .exec(&scope.on(finishing.tx()))
        .await;
    let recorded = match recorded {
        Ok(done) => done.rows_affected == 1,
        Err(e) => {
            finishing.discard().await;
            return Err(e.into());
        }
    };
    if !recorded {
        finishing.discard().await;
        // Deleted (its jobs are cancelled then), or reloaded by another job.
        jobs::fail(p, scope, job, "the dataset changed while this job ran: try again").await?;
        return Ok(Outcome::Gone);
    }
    match jobs::end_in(finishing.tx(), scope, job.id, JobStatus::Completed, None).await {
        Ok(true) => {}
        Ok(false) => {
            finishing.discard().await;
            // Cancelled at the last moment, or ended by another delivery.
            let now = jobs::find(p, scope, job.id).await?;
            return Ok(if now.is_some_and(|j| j.cancel_requested && !j.status().is_terminal()) {
                Outcome::Cancelled
            } else {
                Outcome::Gone
            });
        }
        Err(e) => {
            finishing.discard().await;
            return Err(e.into());
        }
    }
    finishing.commit().await?;
    tracing::info!(
        job_id = %job.id,
        dataset_id = %dataset.id,
        rows = profile.row_count,
        columns = specs.len(),
        version = profile.version,
        "dataset loaded"
    );
    // Dashboards first: their charts re-read the rows now visible.
    p.bus.publish(&[jobs::dataset_event(scope.account_id(), dataset.id, Some(dataset.version + 1))]).await;
    jobs::announce(p, scope, job.id).await;
    Ok(Outcome::Done)
}
