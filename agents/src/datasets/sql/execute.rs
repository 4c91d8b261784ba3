//! Read-only execution of a [`ValidatedQuery`], each engine walled off by
//! its own means as well as by the validator:
//!
//! - SQLite: the dataset's own file, opened read-only (`mode=ro`) with
//!   `PRAGMA query_only = ON`, a progress handler that interrupts the
//!   statement at its deadline, and nothing else attached.
//! - PostgreSQL: one transaction `BEGIN READ ONLY` that drops to the
//!   `alatar_dataset_reader` role (it may only `SELECT` dataset tables), with
//!   `statement_timeout`, `search_path = pg_catalog` (every function name
//!   resolves to a built-in) and UTC as the time zone; rolled back after.
//!
//! Both fetch at most the cap plus one row (the validator's `LIMIT`), so a
//! result is cut to the cap and said to be truncated. Values become JSON:
//! integers and floats as numbers (a whole `NUMERIC` as an integer), dates
//! `YYYY-MM-DD`, timestamps RFC 3339 in UTC, booleans as booleans.

mod decode;

use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteError};
use sea_orm::sqlx::{self, AssertSqlSafe, ConnectOptions, Connection, Executor, SqlSafeStr, Statement};
use sea_orm::{DatabaseConnection, DbBackend};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::validate::ValidatedQuery;
use crate::datasets::column::ColumnSpec;
use crate::datasets::storage::READER_ROLE;

/// Beyond the statement's own time limit, how long the whole call may take
/// (connecting, fetching) before it is abandoned.
const GRACE: Duration = Duration::from_secs(2);

/// How much a statement may return and how long it may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most rows returned.
    pub row_cap: usize,
    /// Longest a statement may run.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self { row_cap: 10_000, timeout: Duration::from_secs(10) }
    }
}

/// A result column: its name and type (`INTEGER`, `FLOAT`, `DECIMAL`,
/// `BOOLEAN`, `DATE`, `TIMESTAMP`, `TIME`, `INTERVAL`, `TEXT`, or `NULL`
/// when SQLite returned nothing but nulls for an expression).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultColumn {
    /// As the statement named it.
    pub name: String,
    /// See the type's doc.
    #[serde(rename = "type")]
    pub kind: String,
}

/// What a statement returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryRows {
    /// In order.
    pub columns: Vec<ResultColumn>,
    /// Each row's values, in column order.
    pub rows: Vec<Vec<Value>>,
    /// Whether there were more rows than the cap.
    pub truncated: bool,
}

/// Why a statement did not return rows.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    /// The engine refused the statement (an unknown column, a division by
    /// zero…): the merchant's to fix; the message names no storage.
    #[error("the query failed: {0}")]
    Query(String),
    /// It ran past its time limit and was stopped.
    #[error("the query ran past its time limit of {} ms and was stopped", .0.as_millis())]
    Timeout(Duration),
    /// A result column of a type that has no JSON form here.
    #[error("result column `{name}` is of type {kind}, which cannot be returned; cast it to text")]
    Unsupported {
        /// The column.
        name: String,
        /// Its engine type.
        kind: String,
    },
    /// The dataset's storage is missing or unreadable.
    #[error("the dataset's storage could not be opened")]
    Storage(#[source] sqlx::Error),
    /// Anything else (the connection, the reader role missing…).
    #[error("the dataset query could not be run")]
    Internal(#[source] sqlx::Error),
    /// The task running a PostgreSQL statement ended without an answer.
    #[error("the dataset query's task ended: {0}")]
    Task(String),
}

/// Where a dataset's rows are and what its columns are.
#[derive(Debug, Clone, Copy)]
pub struct Storage<'a> {
    /// The database (its backend picks the engine).
    pub db: &'a DatabaseConnection,
    /// SQLite: the dataset's own file.
    pub sqlite_file: &'a Path,
    /// The table reference the statement names (scrubbed from messages).
    pub physical: &'a str,
    /// The dataset's columns (types for SQLite's results).
    pub columns: &'a [ColumnSpec],
    /// The dataset's version: PostgreSQL's statement cache is per text, so
    /// the text names it (a reload may change the result's types, and a
    /// statement prepared before would fail on the new table).
    pub version: i32,
}

/// Runs `query` read-only; see the module doc.
pub async fn run(storage: Storage<'_>, query: &ValidatedQuery, limits: Limits) -> Result<QueryRows, ExecuteError> {
    let sql = query.executed();
    let outcome = match storage.db.get_database_backend() {
        DbBackend::Postgres => {
            // Our own constant text after the checked statement.
            let versioned = format!("{sql} /* dataset version {} */", storage.version);
            let work = run_postgres(storage.db, &versioned, limits);
            tokio::time::timeout(limits.timeout + GRACE, work).await
        }
        _ => {
            let work = run_sqlite(storage.sqlite_file, sql, storage.columns, limits);
            tokio::time::timeout(limits.timeout + GRACE, work).await
        }
    };
    match outcome {
        Ok(Ok(rows)) => Ok(rows),
        Ok(Err(ExecuteError::Query(message))) => Err(ExecuteError::Query(scrub(&message, storage.physical))),
        Ok(Err(other)) => Err(other),
        Err(_) => Err(ExecuteError::Timeout(limits.timeout)),
    }
}

async fn run_sqlite(file: &Path, sql: &str, columns: &[ColumnSpec], limits: Limits) -> Result<QueryRows, ExecuteError> {
    let options = SqliteConnectOptions::new()
        .filename(file)
        .read_only(true)
        .create_if_missing(false)
        .pragma("query_only", "ON")
        .busy_timeout(limits.timeout);
    let mut conn: SqliteConnection = options.connect().await.map_err(ExecuteError::Storage)?;
    let deadline = Instant::now() + limits.timeout;
    {
        let mut handle = conn.lock_handle().await.map_err(ExecuteError::Internal)?;
        // Checked every thousand virtual-machine steps: returning false
        // interrupts the statement (SQLITE_INTERRUPT, read as a timeout).
        handle.set_progress_handler(1_000, move || Instant::now() < deadline);
    }
    let outcome = fetch_sqlite(&mut conn, sql, columns, limits).await;
    let _ = conn.close().await;
    outcome
}

async fn fetch_sqlite(
    conn: &mut SqliteConnection,
    sql: &str,
    columns: &[ColumnSpec],
    limits: Limits,
) -> Result<QueryRows, ExecuteError> {
    let statement =
        (&mut *conn).prepare(AssertSqlSafe(sql.to_owned()).into_sql_str()).await.map_err(|e| classify(e, limits))?;
    let mut plan = decode::SqlitePlan::of(statement.columns(), columns);
    let mut rows = Vec::new();
    let mut truncated = false;
    let mut stream = statement.query().fetch(&mut *conn);
    while let Some(row) = stream.try_next().await.map_err(|e| classify(e, limits))? {
        if rows.len() == limits.row_cap {
            truncated = true;
            break;
        }
        rows.push(plan.row(&row)?);
    }
    drop(stream);
    Ok(QueryRows { columns: plan.columns(), rows, truncated })
}

async fn run_postgres(db: &DatabaseConnection, sql: &str, limits: Limits) -> Result<QueryRows, ExecuteError> {
    let pool = db.get_postgres_connection_pool().clone();
    let sql = sql.to_owned();
    // A task of its own, run to its end even when the caller stops waiting
    // (its own time limit, a client gone): sqlx cannot roll back a `BEGIN`
    // cancelled before its answer arrived, and would pool the connection
    // inside the read-only transaction and the reader role. The statement's
    // timeout bounds the task.
    match tokio::spawn(fetch_postgres(pool, sql, limits)).await {
        Ok(outcome) => outcome,
        Err(e) => Err(ExecuteError::Task(e.to_string())),
    }
}

async fn fetch_postgres(pool: sqlx::PgPool, sql: String, limits: Limits) -> Result<QueryRows, ExecuteError> {
    let begin = format!(
        "BEGIN READ ONLY; SET LOCAL ROLE {READER_ROLE}; SET LOCAL statement_timeout = {}; \
         SET LOCAL search_path = pg_catalog; SET LOCAL TIME ZONE 'UTC'",
        limits.timeout.as_millis().max(1)
    );
    let mut tx = pool.begin_with(AssertSqlSafe(begin)).await.map_err(ExecuteError::Internal)?;
    let statement = (&mut *tx).prepare(AssertSqlSafe(sql).into_sql_str()).await.map_err(|e| classify(e, limits))?;
    let plan = decode::PgPlan::of(statement.columns())?;
    let mut rows = Vec::new();
    let mut truncated = false;
    {
        let mut stream = statement.query().fetch(&mut *tx);
        while let Some(row) = stream.try_next().await.map_err(|e| classify(e, limits))? {
            if rows.len() == limits.row_cap {
                truncated = true;
                break;
            }
            rows.push(plan.row(&row).map_err(ExecuteError::Internal)?);
        }
    }
    // Read only: nothing to keep.
    tx.rollback().await.map_err(ExecuteError::Internal)?;
    Ok(QueryRows { columns: plan.columns(), rows, truncated })
}

/// The merchant's errors (the statement's) apart from the system's.
fn classify(err: sqlx::Error, limits: Limits) -> ExecuteError {
    enum Verdict {
        Timeout,
        Query(String),
        Storage,
        Internal,
    }
    let verdict = match err.as_database_error() {
        None => Verdict::Internal,
        Some(database) => {
            if let Some(pg) = database.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                let code = pg.code();
                // Syntax or access (42), data (22), cardinality (21), not
                // supported (0A), read-only transaction (25), too complex
                // (54), out of resources for this statement (53).
                if code == "57014" {
                    Verdict::Timeout
                } else if ["42", "22", "21", "0A", "25", "54", "53"].iter().any(|class| code.starts_with(class)) {
                    Verdict::Query(pg.message().to_owned())
                } else {
                    Verdict::Internal
                }
            } else if let Some(sqlite) = database.try_downcast_ref::<SqliteError>() {
                // sqlx reports the extended result code; its low byte is the primary code.
                let code = sqlx::error::DatabaseError::code(sqlite).and_then(|c| c.parse::<i32>().ok()).unwrap_or(0);
                const SQLITE_ERROR: i32 = 1;
                const SQLITE_READONLY: i32 = 8;
                const SQLITE_INTERRUPT: i32 = 9;
                const SQLITE_CANTOPEN: i32 = 14;
                const SQLITE_TOOBIG: i32 = 18;
                const SQLITE_MISMATCH: i32 = 20;
                const SQLITE_RANGE: i32 = 25;
                match code & 0xff {
                    SQLITE_INTERRUPT => Verdict::Timeout,
                    SQLITE_ERROR | SQLITE_READONLY | SQLITE_TOOBIG | SQLITE_MISMATCH | SQLITE_RANGE => {
                        Verdict::Query(sqlx::error::DatabaseError::message(sqlite).to_owned())
                    }
                    SQLITE_CANTOPEN => Verdict::Storage,
                    _ => Verdict::Internal,
                }
            } else {
                Verdict::Internal
            }
        }
    };
    match verdict {
        Verdict::Timeout => ExecuteError::Timeout(limits.timeout),
        Verdict::Query(message) => ExecuteError::Query(message),
        Verdict::Storage => ExecuteError::Storage(err),
        Verdict::Internal => ExecuteError::Internal(err),
    }
}

/// `message` without the physical table's name (`alatar_datasets."ds_…"`).
fn scrub(message: &str, physical: &str) -> String {
    let mut out = message.replace(physical, "data");
    if let Some(bare) = physical.rsplit('.').next().map(|t| t.trim_matches('"')).filter(|t| t.starts_with("ds_")) {
        out = out.replace(bare, "data");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::scrub;

    #[test]
    fn messages_do_not_name_the_storage() {
        let physical = "alatar_datasets.\"ds_0123abcd\"";
        let locked = scrub("relation \"alatar_datasets.\"ds_0123abcd\"\" is locked", physical);
        assert_eq!(locked, "relation \"data\" is locked");
        assert_eq!(scrub("permission denied for table ds_0123abcd", physical), "permission denied for table data");
        assert_eq!(scrub("no such column: x", "data"), "no such column: x");
    }
}
