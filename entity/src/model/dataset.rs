//! `datasets`: a merchant's uploaded file (CSV, JSON, NDJSON, Parquet) loaded as a
//! table the engine can query, its columns and its stored profile
//! (`PENDING → READY | FAILED`). The rows are not here: on SQLite they are
//! a file of their own per dataset, on PostgreSQL a table of their own in
//! the `alatar_datasets` schema (`alatar_agents::datasets::storage`).

use sea_orm::entity::prelude::*;

/// Where a dataset stands. Stored as its text form in `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatasetStatus {
    /// Uploaded; its first load has not finished.
    Pending,
    /// Its table is loaded and its profile stored: queryable.
    Ready,
    /// Its first load failed or was cancelled; `error` says why.
    Failed,
}

impl DatasetStatus {
    /// Stable text form, as stored and as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Ready => "READY",
            Self::Failed => "FAILED",
        }
    }

    /// The status stored as `text`.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Ready, Self::Failed].into_iter().find(|s| s.as_str() == text)
    }
}

/// What an upload is. Stored as its text form in `format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatasetFormat {
    /// Delimited text (`,` `;` tab or `|`), with or without a header row.
    Csv,
    /// A JSON array of objects.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// Apache Parquet: typed columns in row groups.
    Parquet,
}

impl DatasetFormat {
    /// Stable text form, as stored and as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Csv => "CSV",
            Self::Json => "JSON",
            Self::Ndjson => "NDJSON",
            Self::Parquet => "PARQUET",
        }
    }

    /// The format stored as `text`.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Csv, Self::Json, Self::Ndjson, Self::Parquet].into_iter().find(|f| f.as_str() == text)
    }
}

/// An uploaded dataset; its name is unique within the account.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "datasets")]
pub struct Model {
    /// Primary key (UUIDv7, so ids sort by creation); names its table.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning account (tenant).
    pub account_id: Uuid,
    /// Display name, unique per account.
    pub name: String,
    /// [`DatasetFormat`] as text: `CSV`, `JSON`, `NDJSON` or `PARQUET`.
    pub format: String,
    /// [`DatasetStatus`] as text: `PENDING`, `READY` or `FAILED`.
    pub status: String,
    /// Why it failed, in words a merchant understands (naming the line or
    /// column when the file was at fault).
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    /// Rows in its table.
    pub row_count: i64,
    /// Columns in its table.
    pub column_count: i32,
    /// Size of the uploaded file in bytes.
    pub byte_size: i64,
    /// The name the file was uploaded under (last path component only).
    pub source_name: String,
    /// `Vec<ColumnSpec>` (`alatar_agents::datasets::column`): each column's
    /// name, type and inferred type, in table order; empty until loaded.
    pub columns: Json,
    /// Bumped each time its table is (re)loaded: 0 until the first load,
    /// then 1, 2, …; the profile and cached query results are of a version.
    pub version: i32,
    /// The data profile of the current version
    /// (`alatar_agents::datasets::profile::Profile`), once loaded.
    pub profile: Option<Json>,
    /// When `profile` was computed.
    pub profiled_at: Option<ChronoDateTimeUtc>,
    /// The latest insights (`alatar_agents::datasets::insights::DatasetInsights`),
    /// once an `INSIGHTS` job completed; they name the version they describe.
    pub insights: Option<Json>,
    /// When `insights` were computed.
    pub insights_at: Option<ChronoDateTimeUtc>,
    /// The member who uploaded it.
    pub created_by: Uuid,
    /// Upload time.
    pub created_at: ChronoDateTimeUtc,
    /// Last status, table or profile change.
    pub updated_at: ChronoDateTimeUtc,
}

impl Model {
    /// `status` as a [`DatasetStatus`]; an unknown text counts as `FAILED`.
    pub fn status(&self) -> DatasetStatus {
        DatasetStatus::parse(&self.status).unwrap_or(DatasetStatus::Failed)
    }
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

// As `workflow` does: the one-line mapping every tenant table has, beside its model.
impl crate::TenantOwned for Entity {
    fn account_column() -> Self::Column {
        Column::AccountId
    }
}
