//! Write transactions, the way each engine takes concurrent writers best.
//!
//! SQLite (WAL) has one writer at a time. A transaction begun `DEFERRED`
//! (sqlx's plain `BEGIN`) that reads first and writes later cannot be saved
//! by `busy_timeout`: if another connection committed in between, its
//! snapshot is stale and the upgrade fails at once with `SQLITE_BUSY_SNAPSHOT`
//! ("database is locked"). `BEGIN IMMEDIATE` takes the write lock up front,
//! where the busy handler does wait, so a transaction that will write begins
//! with [`begin_write`]. PostgreSQL begins an ordinary (READ COMMITTED)
//! transaction; there the residue is serialization failures and deadlocks.
//! [`write_transaction`] runs a whole transaction again when it met one of
//! these, a bounded number of times: nothing of a failed attempt committed.

use std::future::Future;
use std::time::Duration;

use rand::Rng;
use sea_orm::sqlx::error::DatabaseError;
use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, RuntimeErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

/// Attempts of one [`write_transaction`], the first included.
pub const WRITE_ATTEMPTS: u32 = 4;

/// The first pause before a retry; doubled for each further one, jittered.
const FIRST_BACKOFF: Duration = Duration::from_millis(20);

/// Begins a transaction that will write: `BEGIN IMMEDIATE` on SQLite (the
/// write lock is taken, or waited for under `busy_timeout`, before the first
/// read), an ordinary `BEGIN` elsewhere.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    match db.get_database_backend() {
        DbBackend::Sqlite => {
            db.begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await
        }
        _ => db.begin().await,
    }
}

/// Runs `work` in a transaction from [`begin_write`], again (in a new
/// transaction, after a short jittered pause) while it fails with
/// [`Contention`], at most [`WRITE_ATTEMPTS`] times in all.
///
/// `work` owns its transaction and commits it; returning an error, or the
/// transaction unfinished, rolls it back (on drop). It may run more than
/// once, so it must not act outside the database (publish, send, spawn):
/// do that after this returns.
pub async fn write_transaction<T, E, F, Fut>(db: &DatabaseConnection, mut work: F) -> Result<T, E>
where
    F: FnMut(DatabaseTransaction) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: From<DbErr> + Contention,
{
    let mut attempt = 1;
    loop {
        let outcome = match begin_write(db).await {
            Ok(txn) => work(txn).await,
            Err(err) => Err(E::from(err)),
        };
        match outcome {
            Err(err) if err.is_contention() && attempt < WRITE_ATTEMPTS => {
                // Dropped before the pause: the future stays as `Send` as `work`'s.
                drop(err);
                let pause = backoff(attempt);
                tracing::debug!(attempt, pause_ms = pause.as_millis() as u64, "write transaction contended; retrying");
                tokio::time::sleep(pause).await;
                attempt += 1;
            }
            Err(err) if err.is_contention() => {
                tracing::warn!(attempts = attempt, "write transaction still contended after its retries");
                return Err(err);
            }
            done => return done,
        }
    }
}

/// The pause before retry `attempt + 1`: doubling from [`FIRST_BACKOFF`],
/// jittered ±50 % so racers that collided once do not collide again.
fn backoff(attempt: u32) -> Duration {
    let jitter: f64 = rand::rng().random_range(0.5..1.5);
    FIRST_BACKOFF.saturating_mul(1 << (attempt - 1).min(8)).mul_f64(jitter)
}

/// An error that says another writer was in the way, so running the same
/// transaction again may succeed.
pub trait Contention {
    /// `SQLITE_BUSY` / `SQLITE_LOCKED` (any extended code: "database is
    /// locked"), or PostgreSQL's serialization failure (40001) or deadlock
    /// (40P01).
    fn is_contention(&self) -> bool;
}

impl Contention for DbErr {
    fn is_contention(&self) -> bool {
        let (DbErr::Exec(RuntimeErr::SqlxError(err))
        | DbErr::Query(RuntimeErr::SqlxError(err))
        | DbErr::Conn(RuntimeErr::SqlxError(err))) = self
        else {
            return false;
        };
        let Some(database_error) = err.as_database_error() else { return false };
        if let Some(sqlite) = database_error.try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>() {
            // sqlx reports the extended result code; its low byte is the primary code.
            let code = DatabaseError::code(sqlite).and_then(|c| c.parse::<i32>().ok()).unwrap_or(0);
            const SQLITE_BUSY: i32 = 5;
            const SQLITE_LOCKED: i32 = 6;
            return matches!(code & 0xff, SQLITE_BUSY | SQLITE_LOCKED);
        }
        if let Some(postgres) = database_error.try_downcast_ref::<sea_orm::sqlx::postgres::PgDatabaseError>() {
            return matches!(postgres.code(), "40001" | "40P01");
        }
        false
    }
}

impl Contention for anyhow::Error {
    fn is_contention(&self) -> bool {
        self.chain().any(|cause| cause.downcast_ref::<DbErr>().is_some_and(DbErr::is_contention))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::ConnectionTrait;

    #[test]
    fn backoff_doubles_within_its_jitter() {
        for attempt in 1..WRITE_ATTEMPTS {
            let nominal = FIRST_BACKOFF * (1 << (attempt - 1));
            let pause = backoff(attempt);
            // A microsecond of slack for the float arithmetic of the jitter.
            let slack = Duration::from_micros(1);
            assert!(pause + slack >= nominal / 2 && pause <= nominal * 3 / 2 + slack, "attempt {attempt}: {pause:?}");
        }
    }

    #[test]
    fn other_errors_are_not_contention() {
        assert!(!DbErr::RecordNotFound("x".into()).is_contention());
        assert!(!DbErr::Custom("database is locked".into()).is_contention());
    }

    #[tokio::test]
    async fn a_busy_database_is_contention_and_the_transaction_is_run_again() {
        let dir = std::env::temp_dir().join(format!("alatar-write-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let url = format!("sqlite://{}?mode=rwc", dir.join("t.db").display());
        let mut options = sea_orm::ConnectOptions::new(url);
        // No busy timeout: a second writer is refused at once, so the
        // refusal and the retry are seen without waiting.
        options.max_connections(2).map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal).busy_timeout(Duration::ZERO)
        });
        let db = sea_orm::Database::connect(options).await.unwrap_or_else(|e| panic!("{e}"));
        db.execute_unprepared("CREATE TABLE t (n INTEGER)").await.unwrap_or_else(|e| panic!("{e}"));

        let holder = begin_write(&db).await.unwrap_or_else(|e| panic!("{e}"));
        let refused = begin_write(&db).await.err().unwrap_or_else(|| panic!("a second writer got the lock"));
        assert!(refused.is_contention(), "{refused}");
        assert!(anyhow::Error::from(refused).is_contention());

        // The holder lets go after 20 ms; the retries (10-30 ms, then
        // 20-60 ms later) find the lock free.
        let release = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            holder.commit().await.unwrap_or_else(|e| panic!("{e}"));
        });
        // The first begin meets the holder (no busy timeout: refused at
        // once); only a retry after the release can succeed.
        let n: i64 = write_transaction(&db, |txn| async move {
            txn.execute_unprepared("INSERT INTO t VALUES (2)").await?;
            txn.commit().await?;
            Ok::<_, DbErr>(2)
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        release.await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n, 2);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
