//! The `Catalog` port: one account's uploaded datasets as the analyst team
//! reads them (the `Datasets` department and its `datasets.*` / `sql.query`
//! tools). Like the `Library` of documents it is bound to one account when
//! it is built, so nothing that holds it can reach another account's
//! tables, whatever a model, a prompt or a dataset's own cells ask for.
//!
//! Statements go through the same path as `askDataset` and `runSql`
//! ([`super::sql::DatasetSql`]: the validator, the result cache, the
//! read-only execution per engine): a statement the validator refuses is a
//! [`CatalogError::Refused`] and never runs.
//!
//! - [`DatabaseCatalog`]: the implementation over the pipeline's database.
//! - [`names`]: which datasets a question names (by name or file name).
//!
//! Cell text is the merchant's file: data, never instructions.

mod database;
pub mod names;

use async_trait::async_trait;
use uuid::Uuid;

use alatar_entity::dataset;

pub use database::{DatabaseCatalog, MAX_LISTED, TableLookup, ready_dataset, ready_names};
pub use names::{DatasetName, MAX_NAMED, mentioned, phrases, without_mentions};

use super::column::ColumnSpec;
use super::profile::Profile;
use super::sql::{Answer, Engine, ExecuteError, Refusal};

/// A `READY` dataset as the team sees it: what it is called and what its
/// table holds.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetEntry {
    /// Its id (what tools name it by).
    pub id: Uuid,
    /// The name the merchant gave it (unique in the account).
    pub name: String,
    /// The name its file was uploaded under.
    pub source_name: String,
    /// Rows in its table.
    pub row_count: i64,
    /// Columns in its table.
    pub column_count: i32,
    /// Its columns with their types, in table order.
    pub columns: Vec<ColumnSpec>,
    /// Its table's version (bumped on every reload).
    pub version: i32,
}

impl DatasetEntry {
    /// The dataset row as the team sees it.
    pub fn of(model: &dataset::Model) -> Self {
        Self {
            id: model.id,
            name: model.name.clone(),
            source_name: model.source_name.clone(),
            row_count: model.row_count,
            column_count: model.column_count,
            columns: ColumnSpec::list_from(&model.columns),
            version: model.version,
        }
    }
}

/// Why the catalog could not answer.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// Not one of the account's datasets (or none at all): the same answer
    /// either way, so nothing is learnt of other accounts.
    #[error("dataset {0} is not one of this account's datasets")]
    UnknownDataset(Uuid),
    /// The account's, but not loaded (yet, or any more).
    #[error("dataset {id} is {status}, not READY: it cannot be read")]
    NotReady {
        /// The dataset.
        id: Uuid,
        /// `PENDING` or `FAILED`.
        status: &'static str,
    },
    /// `READY` without a readable stored profile (a row from before
    /// profiles were stored, or one that no longer parses).
    #[error("dataset {0} has no stored profile")]
    NoProfile(Uuid),
    /// The statement broke a rule of the validator; it did not run.
    #[error("the statement was refused: {0}")]
    Refused(Refusal),
    /// It ran and failed (the engine refused it, or it ran too long), or
    /// the storage could not be reached.
    #[error(transparent)]
    Execute(ExecuteError),
    /// The database failed; worth retrying.
    #[error("the datasets could not be read: {0}")]
    Unavailable(String),
}

impl From<sea_orm::DbErr> for CatalogError {
    fn from(e: sea_orm::DbErr) -> Self {
        CatalogError::Unavailable(e.to_string())
    }
}

/// One account's datasets, for the analyst team.
#[async_trait]
pub trait Catalog: Send + Sync {
    /// The engine statements run on (the SQL dialect to write).
    fn engine(&self) -> Engine;
    /// The account's `READY` datasets, by name (at most [`MAX_LISTED`]).
    async fn datasets(&self) -> Result<Vec<DatasetEntry>, CatalogError>;
    /// One `READY` dataset of the account.
    async fn dataset(&self, id: Uuid) -> Result<DatasetEntry, CatalogError>;
    /// The profile stored with the dataset's current version.
    async fn profile(&self, id: Uuid) -> Result<Profile, CatalogError>;
    /// Checks `sql` against the validator's rules for dataset `id`, running
    /// nothing: the statement as it would run, normalised and naming `data`.
    async fn check(&self, id: Uuid, sql: &str) -> Result<String, CatalogError>;
    /// Validates and runs one statement over dataset `id`, read-only (or
    /// serves its cached result).
    async fn query(&self, id: Uuid, sql: &str) -> Result<Answer, CatalogError>;
}
