//! Datasets: `uploadDataset`, `datasets`, `dataset`, `setColumnType`,
//! `deleteDataset`, `job`, `jobs`, `cancelJob` and the `jobUpdates`
//! subscription.

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, Json, Object, Result, SimpleObject, Subscription, Upload};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};

use alatar_agents::datasets::column::ColumnSpec;
use alatar_agents::datasets::profile;
use alatar_entity::dataset::DatasetFormat as EntityFormat;
use alatar_entity::job::{JobKind, JobStatus as EntityJobStatus};
use alatar_entity::{AccountScope, dataset, job};

use crate::context::ContextExt;
use crate::error::ApiError;
use crate::service::datasets as service;

use super::knowledge::{connection, page};
use super::parse_id;

/// What an uploaded file is.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "alatar_entity::dataset::DatasetFormat")]
pub enum DatasetFormat {
    /// Delimited text: `,` `;` tab or `|`, with or without a header row,
    /// UTF-8 or Latin-1.
    Csv,
    /// A JSON array of objects (nested objects become dotted columns).
    Json,
    /// One JSON object per line.
    Ndjson,
    /// Apache Parquet (uncompressed, Snappy, gzip, Zstandard or LZ4): typed
    /// columns; structs become dotted columns, lists and maps JSON text.
    Parquet,
}

/// Where a dataset stands.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "alatar_entity::dataset::DatasetStatus")]
pub enum DatasetStatus {
    /// Uploaded; its first load is queued or running.
    Pending,
    /// Loaded and profiled: queryable.
    Ready,
    /// Its first load failed or was cancelled; see `error`.
    Failed,
}

/// A column's type.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "alatar_agents::datasets::column::ColumnType")]
pub enum ColumnType {
    /// 64-bit integers.
    Integer,
    /// Floating point numbers.
    Float,
    /// true / false.
    Boolean,
    /// Calendar dates.
    Date,
    /// Instants, in UTC.
    Timestamp,
    /// Anything else.
    Text,
}

/// What a job does.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "alatar_entity::job::JobKind")]
pub enum JobType {
    /// Parses an upload, infers its column types, loads its table and
    /// profiles it (also a reload after `setColumnType`).
    Ingestion,
    /// Computes a loaded dataset's insights (`datasetInsights`), stored as
    /// `Dataset.insights`.
    Insights,
    /// Trains several model families on a dataset with cross-validation
    /// and registers the best (`trainModel`, then `mlModels`).
    Training,
    /// Clones and analyses a repository (`analyzeRepository`, then
    /// `repositoryAnalysis`).
    RepositoryAnalysis,
}

/// Where a job stands.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "alatar_entity::job::JobStatus")]
pub enum JobStatus {
    /// Waiting for a worker.
    Queued,
    /// A worker is on it; see `progress`.
    Running,
    /// Done.
    Completed,
    /// Stopped by an error; see `error`.
    Failed,
    /// Stopped as asked (or its dataset was deleted).
    Cancelled,
}

/// What kind of data quality problem an issue is.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "alatar_agents::datasets::profile::IssueKind")]
pub enum QualityIssueType {
    /// Over half of a column is missing (the column is low quality).
    HighNulls,
    /// Rows repeat exactly.
    Duplicates,
    /// Numbers outside 1.5 interquartile ranges of the quartiles.
    Outliers,
    /// Values of more than one type in a column.
    MixedTypes,
}

/// How much an issue matters.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "alatar_agents::datasets::profile::Severity")]
pub enum IssueSeverity {
    /// Worth knowing.
    Low,
    /// Skews results.
    Medium,
    /// Makes the column or dataset unreliable as it is.
    High,
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A merchant's uploaded table.
pub struct Dataset(pub dataset::Model);

#[Object]
impl Dataset {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Unique within the account.
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn format(&self) -> DatasetFormat {
        EntityFormat::parse(&self.0.format).unwrap_or(EntityFormat::Csv).into()
    }
    async fn status(&self) -> DatasetStatus {
        self.0.status().into()
    }
    /// Why it failed, naming the line or column when the file was at fault.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    async fn row_count(&self) -> i64 {
        self.0.row_count
    }
    async fn column_count(&self) -> i32 {
        self.0.column_count
    }
    /// Size of the uploaded file.
    async fn byte_size(&self) -> i64 {
        self.0.byte_size
    }
    /// The name the file was uploaded under.
    async fn source_name(&self) -> &str {
        &self.0.source_name
    }
    /// In table order; empty until loaded. SQL names the table `data` and
    /// these columns, double-quoted.
    async fn columns(&self) -> Vec<DatasetColumn> {
        ColumnSpec::list_from(&self.0.columns)
            .into_iter()
            .map(|c| DatasetColumn { name: c.name, kind: c.kind.into(), inferred: c.inferred.into() })
            .collect()
    }
    /// 0 until the first load, then 1, 2, … with every reload.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// The data profile of the current version, once loaded (stored).
    async fn profile(&self) -> Option<DataProfile> {
        let stored = self.0.profile.as_ref()?;
        serde_json::from_value(stored.clone()).ok().map(DataProfile)
    }
    /// When the profile was computed.
    async fn profiled_at(&self) -> Option<DateTime<Utc>> {
        self.0.profiled_at
    }
    /// The insights of the latest completed `datasetInsights` job
    /// (anomalies, trends, recommendations, a summary); null before any.
    async fn insights(&self) -> Option<super::dataset_insights::DatasetInsights> {
        super::dataset_insights::stored(&self.0)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// One column of a dataset's table.
#[derive(SimpleObject)]
pub struct DatasetColumn {
    /// As the table has it.
    pub name: String,
    /// The type it is stored as.
    #[graphql(name = "type")]
    pub kind: ColumnType,
    /// The type inference chose from the values.
    pub inferred: ColumnType,
}

/// A dataset version's data profile.
pub struct DataProfile(pub profile::Profile);

#[Object]
impl DataProfile {
    /// The dataset version it describes.
    async fn version(&self) -> i32 {
        self.0.version
    }
    async fn row_count(&self) -> i64 {
        count(self.0.row_count)
    }
    async fn column_count(&self) -> i64 {
        count(self.0.column_count)
    }
    /// Rows equal to an earlier row in every column.
    async fn duplicate_row_count(&self) -> i64 {
        count(self.0.duplicate_row_count)
    }
    /// 0–1: completeness × uniqueness × validity.
    async fn quality_score(&self) -> f64 {
        self.0.quality_score
    }
    /// 1 − null cells / cells.
    async fn completeness(&self) -> f64 {
        self.0.completeness
    }
    /// 1 − duplicate rows / rows.
    async fn uniqueness(&self) -> f64 {
        self.0.uniqueness
    }
    /// 1 − (invalid, outlier and mixed-type cells) / cells.
    async fn validity(&self) -> f64 {
        self.0.validity
    }
    async fn columns(&self) -> Vec<ColumnProfile> {
        self.0.columns.iter().cloned().map(ColumnProfile).collect()
    }
    async fn issues(&self) -> Vec<QualityIssue> {
        self.0
            .issues
            .iter()
            .map(|i| QualityIssue {
                column: i.column.clone(),
                kind: i.kind.into(),
                severity: i.severity.into(),
                count: count(i.count),
                description: i.description.clone(),
            })
            .collect()
    }
    /// Columns over 50 % null.
    async fn low_quality_columns(&self) -> Vec<String> {
        self.0.low_quality_columns.clone()
    }
    async fn generated_at(&self) -> DateTime<Utc> {
        self.0.generated_at
    }
}

/// One column's figures.
pub struct ColumnProfile(pub profile::ColumnProfile);

#[Object]
impl ColumnProfile {
    async fn name(&self) -> &str {
        &self.0.name
    }
    #[graphql(name = "type")]
    async fn kind(&self) -> ColumnType {
        self.0.kind.into()
    }
    /// Non-null values.
    async fn count(&self) -> i64 {
        count(self.0.count)
    }
    async fn null_count(&self) -> i64 {
        count(self.0.null_count)
    }
    /// 0–100, of all rows.
    async fn null_percentage(&self) -> f64 {
        self.0.null_percentage
    }
    /// Distinct non-null values.
    async fn unique_count(&self) -> i64 {
        count(self.0.unique_count)
    }
    /// Values not of a type set by hand (stored as null).
    async fn invalid_count(&self) -> i64 {
        count(self.0.invalid_count)
    }
    /// The smallest value: a number, a boolean, or a string (dates
    /// `YYYY-MM-DD`, timestamps RFC 3339).
    async fn min(&self) -> Option<Json<serde_json::Value>> {
        self.0.min.clone().map(Json)
    }
    /// The largest value, as `min`.
    async fn max(&self) -> Option<Json<serde_json::Value>> {
        self.0.max.clone().map(Json)
    }
    /// Numbers.
    async fn mean(&self) -> Option<f64> {
        self.0.mean
    }
    /// Numbers: the sample standard deviation (n − 1).
    async fn std_dev(&self) -> Option<f64> {
        self.0.std_dev
    }
    /// Numbers: linear interpolation between closest ranks (numpy's default).
    async fn quartiles(&self) -> Option<Quartiles> {
        self.0.quartiles.map(|q| Quartiles { q1: q.q1, median: q.median, q3: q.q3 })
    }
    /// Numbers: values outside 1.5 interquartile ranges of the quartiles.
    async fn outlier_count(&self) -> Option<i64> {
        self.0.outlier_count.map(count)
    }
    /// Text and booleans: the five most frequent values.
    async fn top_values(&self) -> Vec<TopValue> {
        self.0.top_values.iter().map(|t| TopValue { value: Json(t.value.clone()), count: count(t.count) }).collect()
    }
    /// Over 50 % null.
    async fn low_quality(&self) -> bool {
        self.0.low_quality
    }
}

/// The quartiles of a numeric column.
#[derive(SimpleObject)]
pub struct Quartiles {
    /// 25 %.
    pub q1: f64,
    /// 50 %.
    pub median: f64,
    /// 75 %.
    pub q3: f64,
}

/// A frequent value.
#[derive(SimpleObject)]
pub struct TopValue {
    /// Text or a boolean.
    pub value: Json<serde_json::Value>,
    /// Occurrences.
    pub count: i64,
}

/// A data quality issue.
#[derive(SimpleObject)]
pub struct QualityIssue {
    /// The column; null for the dataset as a whole.
    pub column: Option<String>,
    /// What it is.
    #[graphql(name = "type")]
    pub kind: QualityIssueType,
    /// How much it matters.
    pub severity: IssueSeverity,
    /// The cells (or rows) it concerns.
    pub count: i64,
    /// In plain words.
    pub description: String,
}

/// Long work on a dataset.
pub struct Job(pub job::Model);

#[Object]
impl Job {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    #[graphql(name = "type")]
    async fn kind(&self) -> JobType {
        JobKind::parse(&self.0.kind).unwrap_or(JobKind::Ingestion).into()
    }
    async fn status(&self) -> JobStatus {
        self.0.status().into()
    }
    /// 0–100.
    async fn progress(&self) -> i32 {
        self.0.progress
    }
    /// Why it failed, naming the line or column when the file was at fault.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// Cancelling was asked for; a running job stops at its next check.
    async fn cancel_requested(&self) -> bool {
        self.0.cancel_requested
    }
    /// The dataset it works on (its id stays after the dataset is deleted).
    async fn dataset_id(&self) -> Option<ID> {
        self.0.dataset_id.map(|id| ID(id.to_string()))
    }
    /// The dataset it works on; null once deleted.
    async fn dataset(&self, ctx: &Context<'_>) -> Result<Option<Dataset>> {
        let Some(id) = self.0.dataset_id else { return Ok(None) };
        let scope = AccountScope::new(self.0.account_id);
        match service::get_dataset(&ctx.state().pipeline, scope, id).await {
            Ok(found) => Ok(Some(Dataset(found))),
            Err(ApiError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at
    }
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }
}

/// Dataset queries.
#[derive(Default)]
pub struct DatasetQuery;

#[Object]
impl DatasetQuery {
    /// The account's datasets, newest first.
    async fn datasets(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<Connection<String, Dataset>> {
        let (first, before) = page(first, 100, after.as_deref())?;
        let rows = service::datasets(&ctx.state().pipeline, ctx.scope()?, before, first + 1).await?;
        Ok(connection(rows, first, before.is_some(), |d| d.id.to_string(), Dataset))
    }

    /// One of the account's datasets, with its profile.
    async fn dataset(&self, ctx: &Context<'_>, id: ID) -> Result<Dataset> {
        let id = parse_id("id", &id)?;
        Ok(Dataset(service::get_dataset(&ctx.state().pipeline, ctx.scope()?, id).await?))
    }

    /// One of the account's jobs.
    async fn job(&self, ctx: &Context<'_>, id: ID) -> Result<Job> {
        let id = parse_id("id", &id)?;
        Ok(Job(service::get_job(&ctx.state().pipeline, ctx.scope()?, id).await?))
    }

    /// The account's jobs (of `status`, when given), newest first.
    async fn jobs(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
        status: Option<JobStatus>,
    ) -> Result<Connection<String, Job>> {
        let (first, before) = page(first, 100, after.as_deref())?;
        let status = status.map(EntityJobStatus::from);
        let rows = service::list_jobs(&ctx.state().pipeline, ctx.scope()?, before, first + 1, status).await?;
        Ok(connection(rows, first, before.is_some(), |j| j.id.to_string(), Job))
    }
}

/// Dataset mutations.
#[derive(Default)]
pub struct DatasetMutation;

#[Object]
impl DatasetMutation {
    /// Uploads a file (GraphQL multipart request) as a new dataset and
    /// queues its ingestion; answers at once with the `QUEUED` job (follow
    /// it with `job` or `jobUpdates`). CSV, JSON, NDJSON or Parquet, told by content
    /// when `format` is not given; at most `datasets.max_upload_bytes`
    /// (200 MiB by default). Viewers may not.
    async fn upload_dataset(
        &self,
        ctx: &Context<'_>,
        name: String,
        file: Upload,
        format: Option<DatasetFormat>,
    ) -> Result<Job> {
        let viewer = ctx.viewer()?;
        let scope = ctx.scope()?;
        // `Upload::value` indexes the request's files without a check.
        if file.0 >= ctx.query_env.uploads.len() {
            return Err(ApiError::bad_input("file", "is not a file of this multipart request").into());
        }
        let upload = file.value(ctx).map_err(ApiError::internal)?;
        let format = format.map(EntityFormat::from);
        let queued = service::upload_dataset(
            &ctx.state().pipeline,
            scope,
            viewer,
            &name,
            format,
            &upload.filename,
            upload.content,
        )
        .await?;
        Ok(Job(queued))
    }

    /// Sets a column's type and loads the dataset again from its upload, as
    /// a new `INGESTION` job (answered at once; the dataset's version goes
    /// up when it completes). Values not of the type are stored as null and
    /// counted in the profile. The dataset must be `READY` with no job
    /// running. Viewers may not.
    async fn set_column_type(
        &self,
        ctx: &Context<'_>,
        dataset_id: ID,
        column: String,
        #[graphql(name = "type")] kind: ColumnType,
    ) -> Result<Job> {
        let viewer = ctx.viewer()?;
        let id = parse_id("datasetId", &dataset_id)?;
        let pipeline = &ctx.state().pipeline;
        Ok(Job(service::set_column_type(pipeline, ctx.scope()?, viewer, id, &column, kind.into()).await?))
    }

    /// Deletes a dataset with its table, profile and upload; its unfinished
    /// jobs end `CANCELLED`. The deleted dataset's id.
    async fn delete_dataset(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let viewer = ctx.viewer()?;
        let parsed = parse_id("id", &id)?;
        service::delete_dataset(&ctx.state().pipeline, ctx.scope()?, viewer, parsed).await?;
        Ok(id)
    }

    /// Cancels a job: a queued one at once, a running one at its next
    /// check between batches (`cancelRequested` meanwhile). One that ended
    /// already is `CONFLICT`. Viewers may not.
    async fn cancel_job(&self, ctx: &Context<'_>, id: ID) -> Result<Job> {
        let viewer = ctx.viewer()?;
        let id = parse_id("id", &id)?;
        Ok(Job(service::cancel_job(&ctx.state().pipeline, ctx.scope()?, viewer, id).await?))
    }
}

/// Dataset subscriptions.
#[derive(Default)]
pub struct DatasetSubscription;

#[Subscription]
impl DatasetSubscription {
    /// A job as it changes: first as it is, then at each change of status
    /// or progress (from any instance's worker); ends after its one
    /// terminal status (`COMPLETED`, `FAILED` or `CANCELLED`).
    async fn job_updates(&self, ctx: &Context<'_>, job_id: ID) -> Result<impl Stream<Item = Result<Job>> + use<>> {
        let id = parse_id("jobId", &job_id)?;
        let scope = ctx.scope()?;
        let pipeline = ctx.state().pipeline.clone();
        service::get_job(&pipeline, scope, id).await?;
        Ok(service::job_updates(pipeline, scope, id).map(|item| item.map(Job).map_err(async_graphql::Error::from)))
    }
}
