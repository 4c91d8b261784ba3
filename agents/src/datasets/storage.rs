//! A dataset's rows as a table the engine can query, one per dataset.
//!
//! - SQLite (embedded): a database file of its own,
//!   `<data_dir>/datasets/<dataset id, simple hex>.db`, holding one table,
//!   `data`. A load writes a new file beside it (`<hex>.<attempt>.loading`,
//!   rollback journal in memory, no syncs: a crash only loses the scratch
//!   file), syncs it to disk when complete, and renames it over the old one
//!   in the transaction that marks the dataset loaded; readers see the
//!   old file or the new one, never a part.
//! - PostgreSQL: the table `alatar_datasets."ds_<hex>"`, created by the
//!   server's own session, readable by the role `alatar_dataset_reader`
//!   (migration 000015) and by no tenant role. A load creates
//!   `"ds_<hex>_next"` and fills it in one transaction, which also marks the
//!   dataset loaded, drops the old table and renames the new one into place:
//!   until it commits nothing of it is visible, and a crash or a
//!   cancellation rolls it all back.
//!
//! Rows go in by multi-row `INSERT`s of bound values (at most 1,000 rows
//! and 30,000 values a statement, within both engines' limits) on one
//! transaction. Column names are always quoted.

use std::io;
use std::path::{Path, PathBuf};

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, Statement,
    TransactionTrait,
};
use uuid::Uuid;

use super::column::{ColumnSpec, ColumnType, quote};
use super::settings::root;
use super::value::Value;
use crate::write::begin_write;

/// The PostgreSQL schema of the dataset tables.
pub const SCHEMA: &str = "alatar_datasets";
/// The PostgreSQL role that may only read the dataset tables.
pub const READER_ROLE: &str = "alatar_dataset_reader";
/// The table inside a SQLite dataset file.
pub const SQLITE_TABLE: &str = "data";

/// Rows per `INSERT`, at most.
const MAX_ROWS_PER_STATEMENT: usize = 1_000;
/// Bound values per `INSERT`, at most (SQLite allows 32,766; PostgreSQL 65,535).
const MAX_VALUES_PER_STATEMENT: usize = 30_000;

/// Why a table could not be loaded or dropped.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database refused.
    #[error(transparent)]
    Db(#[from] DbErr),
    /// A dataset file could not be written, synced, renamed or removed.
    #[error("dataset file: {0}")]
    Io(#[from] io::Error),
}

/// The table reference SQL over dataset `dataset_id` uses: `data` (in the
/// dataset's own SQLite file) or `alatar_datasets."ds_<hex>"`.
pub fn physical_table(backend: DbBackend, dataset_id: Uuid) -> String {
    match backend {
        DbBackend::Postgres => format!("{SCHEMA}.{}", quote(&postgres_name(dataset_id))),
        _ => SQLITE_TABLE.to_owned(),
    }
}

/// The SQLite file of dataset `dataset_id`.
pub fn sqlite_path(data_dir: &Path, dataset_id: Uuid) -> PathBuf {
    root(data_dir).join(format!("{}.db", dataset_id.simple()))
}

fn postgres_name(dataset_id: Uuid) -> String {
    format!("ds_{}", dataset_id.simple())
}

fn postgres_next(dataset_id: Uuid) -> String {
    format!("ds_{}_next", dataset_id.simple())
}

/// `CREATE TABLE <table> ("a" bigint, …)`.
fn create_table(backend: DbBackend, table: &str, columns: &[ColumnSpec]) -> String {
    let columns: Vec<String> =
        columns.iter().map(|c| format!("{} {}", quote(&c.name), c.kind.physical(backend))).collect();
    format!("CREATE TABLE {table} ({})", columns.join(", "))
}

/// A table being filled; nothing of it is visible before [`Finishing::commit`].
pub struct TableLoad {
    backend: DbBackend,
    dataset_id: Uuid,
    /// Each column's type, and whether its timestamps have fractions.
    columns: Vec<(ColumnType, bool)>,
    rows_per_statement: usize,
    /// The `INSERT` of a full statement, built once.
    full_insert: String,
    target: Target,
}

enum Target {
    Postgres { tx: DatabaseTransaction },
    Sqlite { file: DatabaseConnection, tx: DatabaseTransaction, scratch: Scratch, path: PathBuf },
}

/// A scratch file, removed when dropped unless it was renamed away.
struct Scratch(Option<PathBuf>);

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl TableLoad {
    /// Starts loading dataset `dataset_id` with `columns` (and, per column,
    /// whether its timestamps have fractions), on `db`'s engine.
    pub async fn begin(
        db: &DatabaseConnection,
        data_dir: &Path,
        dataset_id: Uuid,
        columns: &[ColumnSpec],
        fractions: &[bool],
    ) -> Result<Self, StorageError> {
        let backend = db.get_database_backend();
        let width = columns.len().max(1);
        let rows_per_statement = (MAX_VALUES_PER_STATEMENT / width).clamp(1, MAX_ROWS_PER_STATEMENT);
        let target = match backend {
            DbBackend::Postgres => {
                let tx = db.begin().await?;
                let next = format!("{SCHEMA}.{}", quote(&postgres_next(dataset_id)));
                tx.execute_unprepared(&format!("DROP TABLE IF EXISTS {next}")).await?;
                tx.execute_unprepared(&create_table(backend, &next, columns)).await?;
                // Explicit, whoever owns the schema's default privileges.
                tx.execute_unprepared(&format!("GRANT SELECT ON {next} TO {READER_ROLE}")).await?;
                Target::Postgres { tx }
            }
            _ => {
                let dir = root(data_dir);
                tokio::fs::create_dir_all(&dir).await?;
                remove_scratch(&dir, dataset_id).await;
                let scratch = dir.join(format!("{}.{}.loading", dataset_id.simple(), Uuid::new_v4().simple()));
                let guard = Scratch(Some(scratch.clone()));
                let file = open_scratch(&scratch).await?;
                file.execute_unprepared(&create_table(backend, &quote(SQLITE_TABLE), columns)).await?;
                let tx = file.begin().await?;
                Target::Sqlite { file, tx, scratch: guard, path: sqlite_path(data_dir, dataset_id) }
            }
        };
        let types: Vec<(ColumnType, bool)> =
            columns.iter().zip(fractions.iter().chain(std::iter::repeat(&false))).map(|(c, &f)| (c.kind, f)).collect();
        let mut load =
            Self { backend, dataset_id, columns: types, rows_per_statement, full_insert: String::new(), target };
        load.full_insert = load.insert_sql(rows_per_statement);
        Ok(load)
    }

    /// The table rows go into.
    fn table(&self) -> String {
        match self.backend {
            DbBackend::Postgres => format!("{SCHEMA}.{}", quote(&postgres_next(self.dataset_id))),
            _ => quote(SQLITE_TABLE),
        }
    }

    /// `INSERT INTO … VALUES (…), …` for `rows` rows.
    fn insert_sql(&self, rows: usize) -> String {
        let width = self.columns.len();
        let mut sql = format!("INSERT INTO {} VALUES ", self.table());
        let mut n = 0;
        for row in 0..rows {
            if row > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for column in 0..width {
                if column > 0 {
                    sql.push_str(", ");
                }
                n += 1;
                match self.backend {
                    DbBackend::Postgres => sql.push_str(&format!("${n}")),
                    _ => sql.push('?'),
                }
            }
            sql.push(')');
        }
        sql
    }

    /// Rows to insert per call of [`TableLoad::insert`] for the fewest
    /// statements.
    pub fn batch_rows(&self) -> usize {
        self.rows_per_statement
    }

    /// Inserts `rows` (each with a value per column, in order).
    pub async fn insert(&mut self, rows: Vec<Vec<Value>>) -> Result<(), StorageError> {
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<Vec<Value>> = rows.by_ref().take(self.rows_per_statement).collect();
            let sql = if chunk.len() == self.rows_per_statement {
                self.full_insert.clone()
            } else {
                self.insert_sql(chunk.len())
            };
            let mut values = Vec::with_capacity(chunk.len() * self.columns.len());
            for row in chunk {
                let mut cells = row.into_iter();
                for &(kind, fraction) in &self.columns {
                    let value = cells.next().unwrap_or(Value::Null);
                    values.push(value.into_sql(kind, self.backend, fraction));
                }
            }
            let statement = Statement::from_sql_and_values(self.backend, sql, values);
            match &self.target {
                Target::Postgres { tx } => tx.execute_raw(statement).await?,
                Target::Sqlite { tx, .. } => tx.execute_raw(statement).await?,
            };
        }
        Ok(())
    }

    /// Every row is in: the table waits to take its place. The caller
    /// records the load on [`Finishing::tx`] (a transaction on `db`), then
    /// commits or discards.
    pub async fn finish(self, db: &DatabaseConnection) -> Result<Finishing, StorageError> {
        match self.target {
            Target::Postgres { tx } => Ok(Finishing { tx, swap: Swap::Postgres { dataset_id: self.dataset_id } }),
            Target::Sqlite { file, tx, scratch, path } => {
                tx.commit().await?;
                file.close().await?;
                let synced = scratch.0.clone();
                tokio::task::spawn_blocking(move || match synced {
                    Some(path) => std::fs::File::open(path)?.sync_all(),
                    None => Ok(()),
                })
                .await
                .map_err(io::Error::other)??;
                let tx = begin_write(db).await?;
                Ok(Finishing { tx, swap: Swap::Sqlite { scratch, path } })
            }
        }
    }

    /// Gives the load up: nothing of it stays.
    pub async fn abort(self) {
        match self.target {
            Target::Postgres { tx } => {
                let _ = tx.rollback().await;
            }
            Target::Sqlite { file, tx, scratch, .. } => {
                let _ = tx.rollback().await;
                let _ = file.close().await;
                drop(scratch);
            }
        }
    }
}

/// A loaded table waiting to replace the dataset's, and the transaction
/// that records it.
pub struct Finishing {
    tx: DatabaseTransaction,
    swap: Swap,
}

enum Swap {
    Postgres { dataset_id: Uuid },
    Sqlite { scratch: Scratch, path: PathBuf },
}

impl Finishing {
    /// The transaction the load is recorded in (PostgreSQL: the one that
    /// filled the table).
    pub fn tx(&self) -> &DatabaseTransaction {
        &self.tx
    }

    /// Puts the new table in place of the old and commits.
    pub async fn commit(self) -> Result<(), StorageError> {
        match self.swap {
            Swap::Postgres { dataset_id } => {
                let old = format!("{SCHEMA}.{}", quote(&postgres_name(dataset_id)));
                let next = format!("{SCHEMA}.{}", quote(&postgres_next(dataset_id)));
                self.tx.execute_unprepared(&format!("DROP TABLE IF EXISTS {old}")).await?;
                self.tx
                    .execute_unprepared(&format!("ALTER TABLE {next} RENAME TO {}", quote(&postgres_name(dataset_id))))
                    .await?;
                self.tx.commit().await?;
            }
            Swap::Sqlite { mut scratch, path } => {
                if let Some(loaded) = scratch.0.take() {
                    // Before the commit: should the commit fail, the job is
                    // run again and writes the file again.
                    if let Err(e) = tokio::fs::rename(&loaded, &path).await {
                        scratch.0 = Some(loaded);
                        return Err(e.into());
                    }
                    sync_dir(path.parent()).await;
                }
                self.tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Gives the loaded table up.
    pub async fn discard(self) {
        let _ = self.tx.rollback().await;
        drop(self.swap);
    }
}

/// Drops dataset `dataset_id`'s table inside `tx` (PostgreSQL; a no-op on
/// SQLite, whose file goes with [`remove_files`] once the deletion committed).
pub async fn drop_table<C: ConnectionTrait>(tx: &C, dataset_id: Uuid) -> Result<(), DbErr> {
    if tx.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    for name in [postgres_name(dataset_id), postgres_next(dataset_id)] {
        tx.execute_unprepared(&format!("DROP TABLE IF EXISTS {SCHEMA}.{}", quote(&name))).await?;
    }
    Ok(())
}

/// Removes dataset `dataset_id`'s SQLite file and any scratch file of a
/// load (best effort, logged).
pub async fn remove_files(data_dir: &Path, dataset_id: Uuid) {
    let path = sqlite_path(data_dir, dataset_id);
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        match tokio::fs::remove_file(&file).await {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(%dataset_id, path = %file.display(), error = %e, "could not remove a dataset file");
            }
        }
    }
    remove_scratch(&root(data_dir), dataset_id).await;
}

/// Removes scratch files left by earlier loads of `dataset_id` (a crashed
/// worker's).
async fn remove_scratch(dir: &Path, dataset_id: Uuid) {
    let prefix = format!("{}.", dataset_id.simple());
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else { return };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&prefix) && name.ends_with(".loading") {
            let _ = tokio::fs::remove_file(entry.path()).await;
        }
    }
}

/// A SQLite file for loading: created, one connection, its rollback
/// journal in memory and no syncs until the load syncs the file itself.
async fn open_scratch(path: &Path) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(format!("sqlite://{}?mode=rwc", path.display()));
    options.max_connections(1).min_connections(1).sqlx_logging(false).map_sqlx_sqlite_opts(|o| {
        o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Memory)
            .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Off)
            .foreign_keys(false)
    });
    Database::connect(options).await
}

/// Syncs a directory so that a rename in it survives a power loss (best
/// effort; not every platform can).
async fn sync_dir(dir: Option<&Path>) {
    let Some(dir) = dir.map(Path::to_path_buf) else { return };
    let _ = tokio::task::spawn_blocking(move || std::fs::File::open(dir).and_then(|d| d.sync_all())).await;
}
