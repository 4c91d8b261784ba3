//! Builds the application from configuration and runs it until a signal.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use sea_orm_migration::MigratorTrait;
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;

use alatar_migration::Migrator;
use alatar_schema::auth::{TokenConfig, TokenKeys};
use alatar_schema::rate_limit::{InMemoryRateLimiter, RateLimiter, RedisRateLimiter};
use alatar_schema::service::InProcessAccountEvents;
use alatar_schema::{AppState, QueryLimits, RateLimits, build_schema};

use crate::config::Config;
use crate::http::{self, HttpState};
use crate::metrics::Metrics;

/// A bound, ready-to-serve application.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
}

/// Opens the configured database: PostgreSQL, or SQLite under `data_dir`.
pub async fn connect_database(config: &Config) -> anyhow::Result<DatabaseConnection> {
    let url = match &config.database_url {
        Some(url) => url.expose_secret().to_owned(),
        None => {
            std::fs::create_dir_all(&config.data_dir)
                .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
            format!("sqlite://{}?mode=rwc", config.data_dir.join("alatar.db").display())
        }
    };
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(config.database_max_connections)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            // WAL lets readers proceed during a write; the busy timeout makes
            // concurrent writers wait instead of failing with SQLITE_BUSY.
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    // The error may echo the URL, credentials included: say only what failed.
    Database::connect(options)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to the database: {}", redact(&e.to_string())))
}

fn redact(message: &str) -> String {
    message.split_whitespace().map(|w| if w.contains("://") { "[url]" } else { w }).collect::<Vec<_>>().join(" ")
}

/// The embedded default: a secret generated once and kept in `data_dir`.
fn embedded_jwt_secret(config: &Config) -> anyhow::Result<SecretString> {
    let path = config.data_dir.join("jwt-secret");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        return Ok(SecretString::from(existing.trim().to_owned()));
    }
    std::fs::create_dir_all(&config.data_dir)?;
    let secret = alatar_schema::auth::secret::generate();
    std::fs::write(&path, &secret).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(SecretString::from(secret))
}

impl Application {
    /// Connects, migrates (embedded) or checks migrations (PostgreSQL), binds.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let db = connect_database(&config).await?;
        if config.uses_postgres() {
            let pending = Migrator::get_pending_migrations(&db).await?.len();
            anyhow::ensure!(pending == 0, "the database has {pending} pending migrations: run `alatar migrate`");
        } else {
            Migrator::up(&db, None).await.context("migrating the embedded database")?;
        }
        Self::build_with_database(config, db).await
    }

    /// Builds on an already migrated database (tests give each their own).
    pub async fn build_with_database(config: Config, db: DatabaseConnection) -> anyhow::Result<Self> {
        let secret = match &config.jwt.secret {
            Some(secret) => secret.clone(),
            None => embedded_jwt_secret(&config)?,
        };
        let tokens = TokenKeys::new(TokenConfig {
            secret,
            issuer: config.jwt.issuer.clone(),
            audience: config.jwt.audience.clone(),
            access_ttl: Duration::from_secs(config.jwt.access_ttl_secs),
            refresh_ttl: Duration::from_secs(config.jwt.refresh_ttl_secs),
        })
        .map_err(|e| anyhow::anyhow!("jwt: {e}"))?;
        let redis = match &config.redis_url {
            Some(url) => {
                let client = redis::Client::open(url.expose_secret()).context("invalid redis_url")?;
                Some(redis::aio::ConnectionManager::new(client).await.context("cannot connect to redis")?)
            }
            None => None,
        };
        let limiter: Arc<dyn RateLimiter> = match &redis {
            Some(conn) => Arc::new(RedisRateLimiter::new(conn.clone())),
            None => Arc::new(InMemoryRateLimiter::default()),
        };
        let state =
            AppState { db: db.clone(), tokens: tokens.clone(), events: Arc::new(InProcessAccountEvents::default()) };
        let limits = QueryLimits {
            max_depth: config.graphql.max_depth,
            max_complexity: config.graphql.max_complexity,
            max_aliases: config.graphql.max_aliases,
            introspection: config.graphql.introspection,
            suggestions: config.graphql.suggestions,
        };
        let rate_limits = RateLimits {
            free_per_window: config.rate_limit.free_per_hour,
            premium_per_window: config.rate_limit.premium_per_hour,
            window: Duration::from_secs(3600),
            heavy_fields: config.rate_limit.heavy_operations.iter().cloned().collect(),
        };
        let schema = build_schema(state, &limits, rate_limits, limiter);
        let router = http::router(HttpState {
            schema,
            tokens,
            db,
            redis,
            metrics: Arc::new(Metrics::default()),
            graphql: Arc::new(config.graphql.clone()),
        });
        let listener = TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
        Ok(Self { listener, router })
    }

    /// The bound port (useful with port 0).
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or_default()
    }

    /// The router, for in-process tests (`oneshot`).
    pub fn router(&self) -> axum::Router {
        self.router.clone()
    }

    /// Serves until SIGINT or SIGTERM, then drains in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        tracing::info!(address = %self.listener.local_addr()?, "listening");
        axum::serve(self.listener, self.router).with_graceful_shutdown(shutdown_signal()).await
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = terminate => {} }
    tracing::info!("shutting down");
}
