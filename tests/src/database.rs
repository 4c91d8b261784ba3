//! Each test gets its own database. PostgreSQL: a template migrated once
//! (under an advisory lock, since test processes run in parallel) and a fresh
//! copy per test, dropped on `Drop`. SQLite: a file in a temp directory.

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
                    .execute_unprepared(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
                    .await
                    .unwrap_or_else(|e| panic!("create test database: {e}"));
                let url = with_database(&admin_url, &name);
                // Pooled like the server's (its default size; connections open on demand).
                let mut options = ConnectOptions::new(url.clone());
                options
                    .max_connections(alatar_server::Config::default().database_max_connections)
                    .test_before_acquire_if_idle_for(alatar_server::POOL_PING_AFTER_IDLE);
                let conn = Database::connect(options).await.unwrap_or_else(|e| panic!("connect {name}: {e}"));
                Self { conn, url, dir, postgres_name: Some(name) }
            }
        }
    }
}

async fn ensure_template(admin: &DatabaseConnection, admin_url: &str, template: &str) {
    let run = |sql: String| async move { admin.execute_unprepared(&sql).await };
    // Session-level lock: one process builds the template, the rest wait.
    run("SELECT pg_advisory_lock(727274)".into()).await.unwrap_or_else(|e| panic!("lock: {e}"));
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
        run(format!("CREATE DATABASE {building}")).await.unwrap_or_else(|e| panic!("create template: {e}"));
        {
            let conn = Database::connect(with_database(admin_url, &building))
                .await
                .unwrap_or_else(|e| panic!("connect template: {e}"));
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
