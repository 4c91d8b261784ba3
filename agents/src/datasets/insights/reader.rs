//! The statements insights run over a dataset's table: each one goes
//! through the same validator and read-only execution as the merchant's
//! own `runSql` (the table named `data`, rewritten to the physical one; a
//! time limit per statement; the reader role on PostgreSQL, a read-only
//! file on SQLite), and its answer keeps the statement as the merchant
//! reads it, so every figure computed from it can name it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use sea_orm::{DatabaseConnection, DbErr};
use serde_json::Value;

use super::super::jobs::Control;
use crate::datasets::sql::DatasetTable;
use crate::datasets::sql::execute::{self, ExecuteError, Limits, QueryRows};
use crate::datasets::sql::validate::{self, Engine, Refusal, Target};
use crate::datasets::storage::{physical_table, sqlite_path};

/// Why insights could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum InsightsError {
    /// A statement insights wrote broke a rule of the validator (a bug
    /// here, or a column name the validator cannot quote); it did not run.
    #[error("an insights statement was refused: {0}")]
    Refused(#[from] Refusal),
    /// A statement failed or ran too long.
    #[error(transparent)]
    Execute(#[from] ExecuteError),
    /// The job is to stop: cancelled, or ended elsewhere.
    #[error("the insights job was stopped")]
    Stopped(Control),
    /// The job's row could not be read or written.
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl InsightsError {
    /// Whether another delivery may succeed (the database, the storage).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            InsightsError::Db(_)
                | InsightsError::Execute(ExecuteError::Storage(_) | ExecuteError::Internal(_) | ExecuteError::Task(_))
        )
    }
}

/// A statement's result with the statement, as the merchant reads it.
#[derive(Debug, Clone)]
pub struct Answered {
    /// Normalised, over `data`.
    pub sql: String,
    /// What it returned.
    pub rows: QueryRows,
}

impl Answered {
    /// The number in row `row`, column `column`; `None` for a null, a
    /// non-number or a non-finite number.
    pub fn number(&self, row: usize, column: usize) -> Option<f64> {
        number(self.rows.rows.get(row)?.get(column)?)
    }

    /// The text in row `row`, column `column`.
    pub fn text(&self, row: usize, column: usize) -> Option<String> {
        match self.rows.rows.get(row)?.get(column)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }
}

/// A finite number out of a result cell.
pub fn number(value: &Value) -> Option<f64> {
    value.as_f64().filter(|x| x.is_finite())
}

/// `x` as an SQL literal both engines and the validator read back as it
/// is: the shortest decimal that round-trips (never an exponent), a
/// negative one in parentheses.
pub fn literal(x: f64) -> String {
    let x = if x.is_finite() { x } else { 0.0 };
    if x < 0.0 { format!("({x})") } else { format!("{x}") }
}

/// Runs insights' statements over one dataset's table.
pub struct TableReader<'a> {
    db: &'a DatabaseConnection,
    sqlite_file: PathBuf,
    physical: String,
    table: &'a DatasetTable,
    limits: Limits,
    ran: AtomicU32,
}

impl<'a> TableReader<'a> {
    /// Over `table` on `db`'s engine (SQLite files under `data_dir`), each
    /// statement held to `limits`.
    pub fn new(db: &'a DatabaseConnection, data_dir: &Path, table: &'a DatasetTable, limits: Limits) -> Self {
        Self {
            db,
            sqlite_file: sqlite_path(data_dir, table.id),
            physical: physical_table(db.get_database_backend(), table.id),
            table,
            limits,
            ran: AtomicU32::new(0),
        }
    }

    /// The engine statements run on.
    pub fn engine(&self) -> Engine {
        Engine::of(self.db.get_database_backend())
    }

    /// The dataset.
    pub fn table(&self) -> &DatasetTable {
        self.table
    }

    /// Most rows a statement returns.
    pub fn row_cap(&self) -> usize {
        self.limits.row_cap
    }

    /// Statements run so far.
    pub fn statements(&self) -> u32 {
        self.ran.load(Ordering::Relaxed)
    }

    /// Validates and runs `sql` (over `data`).
    pub async fn query(&self, sql: &str) -> Result<Answered, InsightsError> {
        let target = Target {
            engine: self.engine(),
            dataset_name: &self.table.name,
            physical: &self.physical,
            row_cap: self.limits.row_cap,
        };
        let checked = validate::validate(sql, &target)?;
        let storage = execute::Storage {
            db: self.db,
            sqlite_file: &self.sqlite_file,
            physical: &self.physical,
            columns: &self.table.columns,
            version: self.table.version,
        };
        self.ran.fetch_add(1, Ordering::Relaxed);
        let rows = execute::run(storage, &checked, self.limits).await?;
        Ok(Answered { sql: checked.sql().to_owned(), rows })
    }
}
