//! Each test gets its own database. PostgreSQL: a template migrated once
//! (under an advisory lock, since test processes run in parallel) and a fresh
//! copy per test, dropped on `Drop`. SQLite: a file in a temp directory.
//!
//! The PostgreSQL databases belong to `alatar_owner`, a login role that is
//! no superuser and cannot bypass row security, as a production deployment's
//! should be: the suite runs under the row-level policies the migrations
//! install, so a tenant query that misses its scope, or a server session
//! without its system setting, fails here.

use std::path::PathBuf;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};
use sea_orm_migration::MigratorTrait;

use alatar_migration::Migrator;

/// Which engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default.
    Sqlite,
    /// Production.
    Postgres,
}

/// A database owned by one test.
pub struct TestDb {
    /// Connection to it.
    pub conn: DatabaseConnection,
    /// Its URL.
    pub url: String,
    /// Scratch directory (SQLite file, data dir), removed on drop.
    pub dir: PathBuf,
    postgres_name: Option<String>,
}

/// A fresh scratch directory under the system temp dir.
pub fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alatar-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    dir
}

fn with_database(admin_url: &str, name: &str) -> String {
    match admin_url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("bad postgres url {admin_url}"),
    }
}

/// The login role the test databases belong to (see the module comment).
pub const OWNER_ROLE: &str = "alatar_owner";

/// `admin_url`'s server, as [`OWNER_ROLE`], database `name`.
pub fn owner_url(admin_url: &str, name: &str) -> String {
    let url = with_database(admin_url, name);
    let (scheme, rest) = url.split_once("://").unwrap_or_else(|| panic!("bad postgres url {admin_url}"));
    let host = rest.split_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{OWNER_ROLE}:{OWNER_ROLE}@{host}")
}

/// Pooled like the server's (its default size, connections opened on
/// demand), with the server's own session setting.
async fn connect_as_server(url: &str) -> DatabaseConnection {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(alatar_server::Config::default().database_max_connections)
        .test_before_acquire_if_idle_for(alatar_server::POOL_PING_AFTER_IDLE)
        .map_sqlx_postgres_opts(|o| o.options(alatar_entity::SYSTEM_SESSION));
    Database::connect(options).await.unwrap_or_else(|e| panic!("connect {url}: {e}"))
}

/// The roles the databases need: the owner, the one scoped statements run
/// as, and the one read-only SQL over datasets runs as (the migrations
/// create those two too, when they may).
const ROLES: &str = "DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'alatar_owner') THEN
        CREATE ROLE alatar_owner LOGIN PASSWORD 'alatar_owner' NOSUPERUSER NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'alatar_app') THEN
        CREATE ROLE alatar_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
    END IF;
    IF NOT pg_has_role('alatar_owner', 'alatar_app', 'MEMBER') THEN
        GRANT alatar_app TO alatar_owner;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'alatar_dataset_reader') THEN
        CREATE ROLE alatar_dataset_reader NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
    END IF;
    IF NOT pg_has_role('alatar_owner', 'alatar_dataset_reader', 'MEMBER') THEN
        GRANT alatar_dataset_reader TO alatar_owner;
    END IF;
END $$";

/// Name of the template for the current migration set, so a new migration
/// never reuses a stale template.
fn template_name() -> String {
    let names: Vec<String> = Migrator::migrations().iter().map(|m| m.name().to_owned()).collect();
    let last = names.last().cloned().unwrap_or_default();
    format!(
        "alatar_tpl_{}_{}",
        names.len(),
        last.chars().filter(|c| c.is_ascii_alphanumeric()).take(24).collect::<String>()
    )
}

impl TestDb {
    /// A fresh, migrated database on `backend`.
    pub async fn new(backend: Backend) -> Self {
        let dir = scratch_dir();
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}?mode=rwc", dir.join("test.db").display());
                let conn = Database::connect(&url).await.unwrap_or_else(|e| panic!("sqlite: {e}"));
                Migrator::up(&conn, None).await.unwrap_or_else(|e| panic!("migrate: {e}"));
                Self { conn, url, dir, postgres_name: None }
            }
            Backend::Postgres => {
                let admin_url = crate::postgres_admin_url();
                let admin = Database::connect(&admin_url)
                    .await
                    .unwrap_or_else(|e| panic!("PostgreSQL at {admin_url} (run scripts/services.sh): {e}"));
                let template = template_name();
                ensure_template(&admin, &admin_url, &template).await;
                let name = format!("alatar_test_{}", uuid::Uuid::new_v4().simple());
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name} TEMPLATE {template} OWNER {OWNER_ROLE}"))
                    .await
                    .unwrap_or_else(|e| panic!("create test database: {e}"));
                let url = owner_url(&admin_url, &name);
                let conn = connect_as_server(&url).await;
                Self { conn, url, dir, postgres_name: Some(name) }
            }
        }
    }
}

async fn ensure_template(admin: &DatabaseConnection, admin_url: &str, template: &str) {
    let run = |sql: String| async move { admin.execute_unprepared(&sql).await };
    // Session-level lock: one process builds the template, the rest wait.
    run("SELECT pg_advisory_lock(727274)".into()).await.unwrap_or_else(|e| panic!("lock: {e}"));
    run(ROLES.into()).await.unwrap_or_else(|e| panic!("roles: {e}"));
    let exists = admin
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!("SELECT 1 AS one FROM pg_database WHERE datname = '{template}'"),
        ))
        .await
        .ok()
        .flatten()
        .is_some();
    if !exists {
        let building = format!("{template}_building");
        let _ = run(format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)")).await;
        run(format!("CREATE DATABASE {building} OWNER {OWNER_ROLE}"))
            .await
            .unwrap_or_else(|e| panic!("create template: {e}"));
        {
            // Extensions are a superuser's to create (as a production
            // database's administrator does); the migration then finds it.
            let superuser = Database::connect(with_database(admin_url, &building))
                .await
                .unwrap_or_else(|e| panic!("connect template: {e}"));
            superuser
                .execute_unprepared("CREATE EXTENSION IF NOT EXISTS vector")
                .await
                .unwrap_or_else(|e| panic!("pgvector (run scripts/services.sh): {e}"));
            let _ = superuser.close().await;
            let conn = connect_as_server(&owner_url(admin_url, &building)).await;
            Migrator::up(&conn, None).await.unwrap_or_else(|e| panic!("migrate template: {e}"));
            let _ = conn.close().await;
        }
        run(format!("ALTER DATABASE {building} RENAME TO {template}"))
            .await
            .unwrap_or_else(|e| panic!("rename template: {e}"));
    }
    let _ = run("SELECT pg_advisory_unlock(727274)".into()).await;
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let Some(name) = self.postgres_name.take() else { return };
        // Drop runs inside the test's runtime, which is blocked while we wait:
        // clean up from a fresh runtime on another thread, and do not touch
        // the test's pool (FORCE ends its connections).
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async move {
                if let Ok(admin) = Database::connect(crate::postgres_admin_url()).await {
                    let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}
