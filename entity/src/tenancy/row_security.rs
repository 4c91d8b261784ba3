//! The database's own wall under [`AccountScope`]: PostgreSQL row-level
//! security.
//!
//! Every table with an `account_id` has two policies (migration
//! `m20261202_000006_row_level_security`), and `FORCE ROW LEVEL SECURITY`, so
//! they bind the tables' owner too:
//!
//! - `alatar_tenant`: the row's `account_id` is the transaction's
//!   `alatar.account_id` setting;
//! - `alatar_system`: the session says `alatar.system = on`.
//!
//! A session without either sees no tenant row and can write none. The
//! server's pool opens its sessions with `alatar.system = on` ([`SYSTEM_SESSION`]):
//! the worker, webhooks and the lookups that precede a scope (a login by
//! email, a shop's account) act across accounts by design. What an
//! [`AccountScope`] builds runs through a [`Scoped`] connection instead: in a
//! transaction that drops to the `alatar_app` role (not the tables' owner),
//! turns `alatar.system` off and sets `alatar.account_id`, so a query that
//! forgot its account filter still reaches only that account's rows. On
//! SQLite, which has no row security, a [`Scoped`] connection is the
//! connection itself and the scope's filters are the only wall.

use sea_orm::sqlx::{self, PgPool, Postgres};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr,
    Statement, TransactionSession, TransactionTrait,
};
use sea_query_sqlx::SqlxValues;

use super::AccountScope;

/// The role scoped statements run as: it owns nothing, bypasses nothing and
/// may only read and write the tenant tables.
pub const TENANT_ROLE: &str = "alatar_app";

/// The session setting that lets the server's own sessions act across
/// accounts, as startup options of every pooled PostgreSQL connection.
pub const SYSTEM_SESSION: [(&str, &str); 1] = [("alatar.system", "on")];

/// A connection whose statements act for one account only, built by
/// [`AccountScope::on`]. On a pool each statement runs in a transaction of
/// its own, begun with the settings in one round trip; inside a caller's transaction, the session's settings are
/// restored after each statement, so the rest of that transaction acts as
/// before.
pub struct Scoped<'a, C> {
    scope: AccountScope,
    conn: &'a C,
}

/// What a [`Scoped`] connection can run on: the pool or a transaction.
pub trait ScopeSession: ConnectionTrait + TransactionTrait + Sync {
    /// Whether its statements run inside a transaction that outlives them.
    const IN_TRANSACTION: bool;

    /// The PostgreSQL pool underneath, when this is one: a scoped statement
    /// on it begins its own transaction with the settings in the same
    /// round trip as `BEGIN` (sea-orm's `begin` sends `BEGIN` alone).
    fn postgres_pool(&self) -> Option<&PgPool> {
        None
    }
}

impl ScopeSession for DatabaseConnection {
    const IN_TRANSACTION: bool = false;

    fn postgres_pool(&self) -> Option<&PgPool> {
        (self.get_database_backend() == DbBackend::Postgres).then(|| self.get_postgres_connection_pool())
    }
}

impl ScopeSession for DatabaseTransaction {
    const IN_TRANSACTION: bool = true;
}

impl AccountScope {
    /// Runs statements on `conn` as this account (see [`Scoped`]).
    pub fn on<'a, C: ScopeSession>(&self, conn: &'a C) -> Scoped<'a, C> {
        Scoped { scope: *self, conn }
    }
}

impl<C> Scoped<'_, C> {
    /// The transaction-local settings the policies read. The id is a
    /// formatted UUID (hex and dashes), so it needs no escaping.
    fn enter(&self) -> String {
        format!(
            "SET LOCAL ROLE {TENANT_ROLE}; SET LOCAL alatar.system = 'off'; SET LOCAL alatar.account_id = '{}'",
            self.scope.account_id()
        )
    }
}

/// Runs one scoped statement on the pool in a transaction of its own whose
/// `BEGIN` carries the settings: three round trips (`BEGIN` with the
/// settings, the statement, `COMMIT`) instead of four.
///
/// It runs as a task of its own, to its end even when the caller stops
/// waiting (a client gone, a time budget spent): sqlx cannot roll back a
/// `BEGIN` cancelled before its answer arrived, and would return the
/// connection to the pool inside the tenant's transaction, role and account
/// still set, for the next system statement to fail on.
async fn on_pool<T, W, F>(pool: &PgPool, enter: String, work: W) -> Result<T, DbErr>
where
    T: Send + 'static,
    W: FnOnce(sqlx::Transaction<'static, Postgres>) -> F + Send + 'static,
    F: std::future::Future<Output = Result<T, DbErr>> + Send,
{
    let pool = pool.clone();
    tokio::spawn(async move {
        let txn = pool.begin_with(sqlx::AssertSqlSafe(format!("BEGIN; {enter}"))).await.map_err(query_err)?;
        work(txn).await
    })
    .await
    .map_err(|e| DbErr::Custom(format!("a scoped statement's task ended: {e}")))?
}

fn query_err(e: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(std::sync::Arc::new(e)))
}

fn exec_err(e: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(std::sync::Arc::new(e)))
}

/// The statement as sqlx runs it, with sea-orm's values bound as sea-orm
/// binds them.
fn bound(stmt: &Statement) -> sqlx::query::Query<'_, Postgres, SqlxValues> {
    let values = stmt.values.clone().unwrap_or(sea_orm::sea_query::Values(Vec::new()));
    sqlx::query_with(sqlx::AssertSqlSafe(stmt.sql.as_str()), SqlxValues(values))
}

/// Back to what the session started with (its own role, its startup
/// options), for the rest of a caller's transaction.
const LEAVE: &str = "SET LOCAL ROLE NONE; SET LOCAL alatar.system TO DEFAULT; SET LOCAL alatar.account_id TO DEFAULT";

/// Runs `$method` as the scope: on the PostgreSQL pool, as `$on_pool` (a
/// transaction of its own begun with the settings); in the caller's
/// transaction, between entering the scope and leaving it (a failed
/// statement aborts that transaction on PostgreSQL, so there is nothing to
/// leave then); otherwise in a transaction of its own. SQLite has no row
/// security: straight through.
macro_rules! as_scope {
    ($self:ident, $method:ident($($arg:expr),*), $pool:ident => $on_pool:expr) => {{
        if let Some($pool) = $self.conn.postgres_pool() {
            return $on_pool;
        }
        if $self.conn.get_database_backend() != DbBackend::Postgres {
            return ConnectionTrait::$method($self.conn, $($arg),*).await;
        }
        if C::IN_TRANSACTION {
            $self.conn.execute_unprepared(&$self.enter()).await?;
            let out = ConnectionTrait::$method($self.conn, $($arg),*).await?;
            $self.conn.execute_unprepared(LEAVE).await?;
            return Ok(out);
        }
        let txn = $self.conn.begin().await?;
        txn.execute_unprepared(&$self.enter()).await?;
        let out = ConnectionTrait::$method(&txn, $($arg),*).await?;
        txn.commit().await?;
        Ok(out)
    }};
}

#[async_trait::async_trait]
impl<C: ScopeSession> ConnectionTrait for Scoped<'_, C> {
    fn get_database_backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        as_scope!(self, execute_raw(stmt), pool => on_pool(pool, self.enter(), |mut txn| async move {
            let done = bound(&stmt).execute(&mut *txn).await.map_err(exec_err)?;
            txn.commit().await.map_err(exec_err)?;
            Ok(done.into())
        }).await)
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        as_scope!(self, execute_unprepared(sql), pool => {
            let sql = sql.to_owned();
            on_pool(pool, self.enter(), |mut txn| async move {
                let done = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut *txn).await.map_err(exec_err)?;
                txn.commit().await.map_err(exec_err)?;
                Ok(done.into())
            }).await
        })
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        as_scope!(self, query_one_raw(stmt), pool => on_pool(pool, self.enter(), |mut txn| async move {
            let row = bound(&stmt).fetch_optional(&mut *txn).await.map_err(query_err)?;
            txn.commit().await.map_err(query_err)?;
            Ok(row.map(QueryResult::from))
        }).await)
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        as_scope!(self, query_all_raw(stmt), pool => on_pool(pool, self.enter(), |mut txn| async move {
            let rows = bound(&stmt).fetch_all(&mut *txn).await.map_err(query_err)?;
            txn.commit().await.map_err(query_err)?;
            Ok(rows.into_iter().map(QueryResult::from).collect())
        }).await)
    }
}
