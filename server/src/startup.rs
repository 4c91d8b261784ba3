//! Builds the application from configuration and runs it until a signal.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use sea_orm_migration::MigratorTrait;
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;
use tokio::sync::Notify;

use alatar_agents::breaker::{BreakerConfig, Breakers};
use alatar_agents::datasets::settings::DatasetSettings;
use alatar_agents::departments::Departments;
use alatar_agents::knowledge::embed::{
    Embedder, FETCH_COMMAND, MiniLm, MiniLmOptions, OpenAiEmbedConfig, OpenAiEmbedder,
};
use alatar_agents::knowledge::ingest::Chunking;
use alatar_agents::knowledge::search::vector::index_for;
use alatar_agents::knowledge::search::{Semantic, VectorRetriever};
use alatar_agents::llm::{ChatClient, ChatConfig, Llm, ModelAnalyst, ModelRouter, OfflineModel};
use alatar_agents::market::Market;
use alatar_agents::market::latest::{LatestIndicators, MemoryLatest, RedisLatest};
use alatar_agents::pipeline::{
    EventBus, LinkedStores, MemoryBus, MemoryQueue, Pipeline, PipelineConfig, Queue, RabbitQueue, RedisBus,
    StoreResolver, Worker,
};
use alatar_agents::shopify::{Credentials, Shopify, ShopifyApp, TokenCipher};
use alatar_agents::telemetry::{ClientObserver, NoObserver};
use alatar_migration::Migrator;
use alatar_schema::auth::throttle::{AttemptLog, InMemoryAttemptLog, RedisAttemptLog};
use alatar_schema::auth::{AuthThrottle, SessionTokens, TokenConfig, TokenKeys};
use alatar_schema::rate_limit::{InMemoryRateLimiter, RateLimiter, RedisRateLimiter};
use alatar_schema::service::events::RedisAccountEvents;
use alatar_schema::service::members::UNHEARD_TTL;
use alatar_schema::service::shopify::ShopifyService;
use alatar_schema::service::sign_ups::Registrations;
use alatar_schema::service::{
    AccountEvents, InProcessAccountEvents, InProcessMembershipChanges, MemberCache, MembershipChanges,
    RedisMembershipChanges,
};
use alatar_schema::{AppState, QueryLimits, RateLimits, build_schema};

use crate::config::{Config, EmbeddingProvider};
use crate::http::{self, Authenticator, HttpState, MetricsAccess, Shared, WebSocketLimits};
use crate::metrics::Metrics;
use crate::serve::{self, ConnectionLimits};

/// A bound, ready-to-serve application.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    /// What connections to `listener` may take (timeouts, the cap).
    connections: ConnectionLimits,
    /// `metrics.listen`'s listener and its router, when configured.
    metrics: Option<(TcpListener, axum::Router)>,
    pipeline: Pipeline,
    worker: Option<Worker>,
}

/// Connects Redis when configured (also for `alatar account set-tier`).
pub(crate) async fn connect_redis(
    config: &Config,
) -> anyhow::Result<Option<(redis::Client, redis::aio::ConnectionManager)>> {
    let Some(url) = &config.redis_url else { return Ok(None) };
    let client = redis::Client::open(url.expose_secret()).context("invalid redis_url")?;
    let settings = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Duration::from_secs(2))
        .set_response_timeout(Duration::from_secs(2))
        .set_number_of_retries(2);
    let manager = redis::aio::ConnectionManager::new_with_config(client.clone(), settings)
        .await
        .context("cannot connect to redis")?;
    Ok(Some((client, manager)))
}

/// The embedding model as configured (`knowledge.embeddings`) and how
/// documents are cut into chunks for it.
#[derive(Clone, Default)]
pub struct Embedding {
    /// `None`: documents are ingested without vectors (full-text search only).
    pub embedder: Option<Arc<dyn Embedder>>,
    /// The local model's tokenizer and window, else approximate counts.
    pub chunking: Chunking,
}

/// Builds `knowledge.embeddings`: all-MiniLM-L6-v2 loaded from its
/// directory (`local`; when its files are missing the server runs without
/// an embedder and says how to fetch them), an OpenAI-compatible client
/// (`openai`), or nothing (`none`). A model that is there but cannot be
/// loaded stops startup.
pub async fn build_embedding(config: &Config) -> anyhow::Result<Embedding> {
    let settings = &config.knowledge.embeddings;
    match settings.provider {
        EmbeddingProvider::Off => {
            tracing::info!("knowledge.embeddings.provider is none: documents are searchable by full text only");
            Ok(Embedding::default())
        }
        EmbeddingProvider::Local => {
            let dir = settings.local_model_dir(&config.data_dir);
            if !MiniLm::is_present(&dir) {
                tracing::warn!(
                    model_dir = %dir.display(),
                    "the embedding model all-MiniLM-L6-v2 is missing: fetch it with `{}`; until then documents \
                     are ingested without vectors and searched by full text only",
                    FETCH_COMMAND
                );
                return Ok(Embedding::default());
            }
            let defaults = MiniLmOptions::default();
            let options = MiniLmOptions { batch_size: settings.batch_size.unwrap_or(defaults.batch_size), ..defaults };
            let model = MiniLm::open(dir.clone(), options)
                .await
                .with_context(|| format!("knowledge.embeddings: loading the model in {}", dir.display()))?;
            let chunking = Chunking::for_model(Arc::new(model.clone()), model.max_input_tokens());
            tracing::info!(
                model = model.model_id(),
                dimension = model.dimension(),
                max_chunk_tokens = chunking.settings.max_tokens(),
                "embedding model loaded"
            );
            Ok(Embedding { embedder: Some(Arc::new(model)), chunking })
        }
        EmbeddingProvider::OpenAi => {
            let model = settings.model.clone().unwrap_or_default();
            let mut embed = OpenAiEmbedConfig::new(settings.base_url.clone(), model, settings.dimension.unwrap_or(0));
            embed.api_key = settings.api_key.clone();
            embed.request_dimensions = settings.request_dimensions;
            if let Some(batch_size) = settings.batch_size {
                embed.batch_size = batch_size;
            }
            embed.max_input_tokens = settings.max_input_tokens;
            embed.timeout = Duration::from_millis(settings.timeout_ms);
            embed.max_retries = settings.max_retries;
            embed.backoff = Duration::from_millis(settings.backoff_ms);
            embed.max_retry_wait = Duration::from_millis(settings.max_retry_wait_ms);
            let client = OpenAiEmbedder::new(embed).map_err(|e| anyhow::anyhow!("knowledge.embeddings: {e}"))?;
            // The provider's tokenizer is not ours: chunks are cut by the
            // approximate count, far below its window.
            Ok(Embedding { embedder: Some(Arc::new(client)), chunking: Chunking::default() })
        }
    }
}

/// The pipeline's engines as configured: RabbitMQ or the in-process queue,
/// Redis pub/sub or the in-process bus, the offline model (or a chat model
/// reporting its calls to `clients`), the embedding model.
pub fn build_pipeline(
    config: &Config,
    db: DatabaseConnection,
    redis: Option<&(redis::Client, redis::aio::ConnectionManager)>,
    shopify: Option<&ShopifyService>,
    clients: Arc<dyn ClientObserver>,
    embedding: Embedding,
) -> Pipeline {
    let settings = &config.pipeline;
    let queue: Arc<dyn Queue> = match &config.amqp_url {
        Some(url) => Arc::new(
            RabbitQueue::new(url.expose_secret(), settings.max_deliveries).with_namespace(&settings.queue_namespace),
        ),
        None => MemoryQueue::new(settings.max_deliveries),
    };
    let bus: Arc<dyn EventBus> = match redis {
        Some((client, manager)) => RedisBus::start(client.clone(), manager.clone()),
        None => Arc::new(MemoryBus::default()),
    };
    let stores: Arc<dyn StoreResolver> = match shopify {
        Some(svc) => Arc::new(LinkedStores::with_shopify(db.clone(), svc.shopify.clone())),
        None => Arc::new(LinkedStores::demo(db.clone())),
    };
    let vectors = embedding.embedder.clone().map(|embedder| -> Arc<dyn VectorRetriever> {
        Arc::new(Semantic::new(embedder, index_for(db.get_database_backend())))
    });
    let dataset_sql = build_dataset_sql(config, &db, redis.map(|(_, manager)| manager));
    Pipeline {
        db,
        queue,
        bus,
        llm: build_llm(config, clients),
        departments: Departments::standard(),
        stores,
        outbox: Arc::new(Notify::new()),
        config: PipelineConfig {
            prefetch: settings.prefetch,
            max_deliveries: settings.max_deliveries,
            tool_timeout: Duration::from_millis(settings.tool_timeout_ms),
            tool_max: Duration::from_millis(settings.tool_max_ms),
            tool_backoff: Duration::from_millis(settings.tool_backoff_ms),
            proposal_ttl: Duration::from_secs(settings.proposal_ttl_hours.saturating_mul(3600)),
        },
        observer: None,
        embedder: embedding.embedder,
        vectors,
        chunking: embedding.chunking,
        datasets: DatasetSettings {
            data_dir: config.data_dir.clone(),
            max_upload_bytes: config.datasets.max_upload_bytes as u64,
            training_time_limit: Duration::from_secs(config.datasets.training_time_limit_secs),
        },
        dataset_sql,
        market: build_market(config, redis.map(|(_, manager)| manager)),
        code: config.code.settings(&config.data_dir),
    }
}

/// Market data: the latest indicators in Redis when there is one (every
/// instance reads the same), else in this process.
fn build_market(config: &Config, redis: Option<&redis::aio::ConnectionManager>) -> Arc<Market> {
    let latest: Arc<dyn LatestIndicators> = match redis {
        Some(connection) => Arc::new(RedisLatest::new(connection.clone())),
        None => Arc::new(MemoryLatest::default()),
    };
    Market::new(config.market.settings(), latest)
}

/// The member cache every authenticated operation reads its caller through,
/// and how changes reach it: through Redis pub/sub on every instance when
/// `redis_url` is set, else in this process. PostgreSQL without Redis may be
/// several instances that cannot tell each other: entries live 1 s there.
pub fn build_membership(
    config: &Config,
    redis: Option<&(redis::Client, redis::aio::ConnectionManager)>,
) -> (Arc<MemberCache>, Arc<dyn MembershipChanges>) {
    let ttl = if redis.is_none() && config.uses_postgres() { UNHEARD_TTL } else { MemberCache::DEFAULT_TTL };
    let members = Arc::new(MemberCache::new(ttl));
    let changes: Arc<dyn MembershipChanges> = match redis {
        Some((client, manager)) => RedisMembershipChanges::start(client.clone(), manager.clone(), members.clone()),
        None => Arc::new(InProcessMembershipChanges::new(members.clone())),
    };
    (members, changes)
}

/// Shopify when `shopify.api_key` is set: the app, the token keyring,
/// one HTTP client and a circuit breaker per shop, reporting query costs
/// and throttle waits to `clients`.
pub fn build_shopify(
    config: &Config,
    db: &DatabaseConnection,
    clients: Arc<dyn ClientObserver>,
) -> anyhow::Result<Option<ShopifyService>> {
    let s = &config.shopify;
    let (Some(api_key), Some(api_secret)) = (&s.api_key, &s.api_secret) else { return Ok(None) };
    let cipher = if s.token_keys.is_empty() {
        TokenCipher::from_base64([("local", embedded_token_key(config)?.as_str())], "local")
    } else {
        let active = s.active_token_key.clone().or_else(|| s.token_keys.keys().next().cloned()).unwrap_or_default();
        TokenCipher::from_base64(s.token_keys.iter().map(|(id, key)| (id.as_str(), key.expose_secret())), &active)
    }
    .map_err(|e| anyhow::anyhow!("shopify.token_keys: {e}"))?;
    let app = Arc::new(ShopifyApp {
        api_key: api_key.clone(),
        api_secret: api_secret.clone(),
        scopes: s.scopes.clone(),
        redirect_uri: format!("{}/shopify/callback", s.app_url.trim_end_matches('/')),
        api_version: s.api_version.clone(),
        base_url: s.admin_base_url.clone(),
        timeout: Duration::from_millis(s.timeout_ms),
        max_retries: s.max_retries,
        backoff: Duration::from_millis(s.backoff_ms),
        cache_ttl: Duration::from_secs(s.cache_ttl_secs),
        bulk_threshold_days: s.bulk_threshold_days,
        bulk_poll: Duration::from_millis(s.bulk_poll_ms),
    });
    let http = reqwest::Client::builder().build().context("building the Shopify HTTP client")?;
    let credentials = Credentials::new(db.clone(), Arc::new(cipher), app.clone(), http.clone());
    Ok(Some(ShopifyService {
        sessions: SessionTokens::new(api_key, api_secret),
        shopify: Shopify {
            app,
            http,
            credentials,
            breakers: Arc::new(Breakers::new("shopify", BreakerConfig::default())),
            observer: clients,
        },
        state_ttl: Duration::from_secs(s.state_ttl_secs),
        timestamp_tolerance: Duration::from_secs(s.timestamp_tolerance_secs),
        data_dir: config.data_dir.clone(),
        market: None,
    }))
}

/// Read-only SQL over datasets, its results cached in Redis when there is
/// one (shared by every instance), else in this process.
fn build_dataset_sql(
    config: &Config,
    db: &DatabaseConnection,
    redis: Option<&redis::aio::ConnectionManager>,
) -> Arc<alatar_agents::datasets::sql::DatasetSql> {
    use alatar_agents::datasets::sql::{DatasetSql, Limits, MemoryCache, RedisCache, ResultCache};
    let ttl = Duration::from_secs(config.datasets.sql_cache_ttl_secs);
    let cache: Arc<dyn ResultCache> = match redis {
        Some(connection) => Arc::new(RedisCache::new(connection.clone(), ttl)),
        None => Arc::new(MemoryCache::new(ttl, 256, 64 * 1024 * 1024)),
    };
    let limits =
        Limits { row_cap: config.datasets.sql_row_cap, timeout: Duration::from_millis(config.datasets.sql_timeout_ms) };
    Arc::new(DatasetSql::new(db.clone(), config.data_dir.clone(), limits, cache))
}

/// The embedded default: a token key generated once and kept in `data_dir`.
/// SMTP when `mail.smtp_url` is set, else `.eml` files in `<data_dir>/mail`.
fn build_mailer(config: &Config) -> anyhow::Result<Arc<dyn alatar_agents::mail::Mailer>> {
    use alatar_agents::mail::{files::FileMailer, sender, smtp::SmtpMailer};
    let from = sender(&config.mail.from).map_err(|e| anyhow::anyhow!("mail.from: {e}"))?;
    Ok(match &config.mail.smtp_url {
        Some(url) => Arc::new(
            SmtpMailer::new(
                secrecy::ExposeSecret::expose_secret(url),
                from,
                Duration::from_secs(config.mail.timeout_secs),
            )
            .map_err(|e| anyhow::anyhow!("mail.smtp_url: {}", redact(&e.to_string())))?,
        ),
        None => {
            let dir = config.data_dir.join("mail");
            tracing::info!(dir = %dir.display(), "no mail.smtp_url: mail is written as .eml files");
            Arc::new(FileMailer::new(dir, from))
        }
    })
}

fn embedded_token_key(config: &Config) -> anyhow::Result<String> {
    read_or_create_secret(config, "token-key", TokenCipher::generate_key)
}

/// The offline model, or a chat model when `llm.api_key` is set.
fn build_llm(config: &Config, clients: Arc<dyn ClientObserver>) -> Arc<dyn Llm> {
    let settings = &config.llm;
    let Some(api_key) = &settings.api_key else { return Arc::new(OfflineModel) };
    let client = ChatClient::new(ChatConfig {
        base_url: settings.base_url.clone(),
        api_key: api_key.clone(),
        timeout: Duration::from_millis(settings.timeout_ms),
        max_retries: settings.max_retries,
        backoff: Duration::from_millis(settings.backoff_ms),
        prices: settings.prices.clone(),
    })
    .with_observer(clients);
    let router = ModelRouter {
        default_model: settings.default_model.clone(),
        planning_model: settings.planning_model.clone(),
        writing_model: settings.writing_model.clone(),
        summary_model: settings.summary_model.clone(),
        long_context_model: settings.long_context_model.clone(),
        long_context_tokens: settings.long_context_tokens,
    };
    Arc::new(ModelAnalyst::new(client, router, settings.stream))
}

/// Connects and checks the database the way `serve` does: migrates SQLite,
/// refuses PostgreSQL with pending migrations.
pub async fn open_database(config: &Config) -> anyhow::Result<DatabaseConnection> {
    let db = connect_database(config).await?;
    if config.uses_postgres() {
        let pending = Migrator::get_pending_migrations(&db).await?.len();
        anyhow::ensure!(pending == 0, "the database has {pending} pending migrations: run `alatar migrate`");
    } else {
        Migrator::up(&db, None).await.context("migrating the embedded database")?;
    }
    Ok(db)
}

/// `alatar worker`: consumers only, until a signal.
pub async fn run_worker(config: Config) -> anyhow::Result<()> {
    anyhow::ensure!(
        config.amqp_url.is_some(),
        "`alatar worker` needs amqp_url (RabbitMQ): the in-process queue only serves `alatar serve`'s own worker"
    );
    let db = open_database(&config).await?;
    let redis = connect_redis(&config).await?;
    // No metrics endpoint here to report to.
    let shopify = build_shopify(&config, &db, Arc::new(NoObserver))?;
    let embedding = build_embedding(&config).await?;
    let pipeline = build_pipeline(&config, db, redis.as_ref(), shopify.as_ref(), Arc::new(NoObserver), embedding);
    let worker = Worker::start(pipeline, false).await?;
    tracing::info!("worker running");
    shutdown_signal().await;
    worker.stop().await;
    Ok(())
}

/// How long a pooled connection may sit idle before it is checked when
/// taken from the pool. sqlx checks on every acquire by default: one more
/// round trip per query, and a pipeline step makes a dozen queries. A
/// connection used within this window is taken as alive; should it have died
/// anyway, its query fails and the work is retried like any other failure.
pub const POOL_PING_AFTER_IDLE: Duration = Duration::from_secs(30);

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
        .test_before_acquire_if_idle_for(POOL_PING_AFTER_IDLE)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            // Applied by sqlx to every connection the pool opens (pragmas and
            // `sqlite3_busy_timeout` run on connect). WAL lets readers proceed
            // during a write; the busy timeout makes a writer wait for the
            // lock (taken up front: write transactions begin IMMEDIATE, see
            // `alatar_agents::write`) instead of failing with SQLITE_BUSY.
            // `synchronous = NORMAL` is what SQLite recommends with WAL: the
            // database cannot be corrupted, only the last commits before a
            // power loss (not a crash of the process) may be lost, and a
            // commit no longer waits for an fsync, so the write lock is held
            // for less time.
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10))
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .foreign_keys(true)
        })
        // The server's own sessions act across accounts (the worker, webhooks,
        // the lookups before a scope); what a scope builds drops this per
        // transaction. See `alatar_entity::tenancy::row_security`.
        .map_sqlx_postgres_opts(|o| o.options(alatar_entity::SYSTEM_SESSION));
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
    read_or_create_secret(config, "jwt-secret", alatar_schema::auth::secret::generate).map(SecretString::from)
}

/// `data_dir/<name>`, created with `generate()` (mode 0600) the first time.
fn read_or_create_secret(config: &Config, name: &str, generate: impl FnOnce() -> String) -> anyhow::Result<String> {
    let path = config.data_dir.join(name);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        return Ok(existing.trim().to_owned());
    }
    std::fs::create_dir_all(&config.data_dir)?;
    let secret = generate();
    std::fs::write(&path, &secret).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(secret)
}

impl Application {
    /// Connects, migrates (embedded) or checks migrations (PostgreSQL), binds.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let db = open_database(&config).await?;
        Self::build_with_database(config, db).await
    }

    /// Builds on an already migrated database (tests give each their own).
    pub async fn build_with_database(config: Config, db: DatabaseConnection) -> anyhow::Result<Self> {
        // Before anything slow (the embedding model loads below): chat
        // answers begun before this instant are not this process's.
        let started = std::time::SystemTime::now();
        let secret = match &config.jwt.secret {
            Some(secret) => secret.clone(),
            None => embedded_jwt_secret(&config)?,
        };
        let downloads = alatar_agents::dashboards::download::DownloadSigner::new(
            secrecy::ExposeSecret::expose_secret(&secret).as_bytes(),
            Duration::from_secs(config.dashboards.export_ttl_secs),
        );
        let tokens = TokenKeys::new(TokenConfig {
            secret,
            issuer: config.jwt.issuer.clone(),
            audience: config.jwt.audience.clone(),
            access_ttl: Duration::from_secs(config.jwt.access_ttl_secs),
            refresh_ttl: Duration::from_secs(config.jwt.refresh_ttl_secs),
        })
        .map_err(|e| anyhow::anyhow!("jwt: {e}"))?;
        let redis_connection = connect_redis(&config).await?;
        let redis = redis_connection.as_ref().map(|(_, manager)| manager.clone());
        let limiter: Arc<dyn RateLimiter> = match &redis {
            Some(conn) => Arc::new(RedisRateLimiter::new(conn.clone())),
            None => Arc::new(InMemoryRateLimiter::default()),
        };
        // Login failures counted where every instance sees them when Redis is there.
        let attempts: Arc<dyn AttemptLog> = match &redis {
            Some(conn) => Arc::new(RedisAttemptLog::new(conn.clone())),
            None => Arc::new(InMemoryAttemptLog::default()),
        };
        let throttle = Arc::new(AuthThrottle::new(attempts, limiter.clone(), config.rate_limit.auth.throttle()));
        let metrics = Arc::new(Metrics::default());
        let shopify = build_shopify(&config, &db, metrics.clone())?;
        let embedding = build_embedding(&config).await?;
        let mut pipeline = build_pipeline(
            &config,
            db.clone(),
            redis_connection.as_ref(),
            shopify.as_ref(),
            metrics.clone(),
            embedding,
        );
        pipeline.observer = Some(metrics.clone());
        let shopify = shopify.map(|s| ShopifyService { market: Some(pipeline.market.clone()), ..s });
        // Chat answers are written by the `serve` process that took their
        // message, never by a worker, so this runs here whether or not a
        // worker does: an answer still `STREAMING` from before this process
        // lost its writer, and its session takes no message until it ends.
        match alatar_agents::knowledge::chat::fail_interrupted_by_restart(&pipeline, started).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(answers = n, "chat answers cut short by the restart stored as failed"),
            Err(e) => tracing::warn!(
                error = %e,
                "could not fail the chat answers cut short by the restart; their sessions recover after 15 minutes"
            ),
        }
        let worker = if config.pipeline.worker {
            // The embedded queue forgets on restart: resume from the database.
            Some(Worker::start(pipeline.clone(), config.amqp_url.is_none()).await?)
        } else if config.amqp_url.is_some() {
            // No consumers here, but what this instance commits is relayed
            // by it at once to the broker the workers consume.
            Some(Worker::relays(pipeline.clone()).await?)
        } else {
            // The in-process queue has no consumer in this process and
            // reaches no other: relaying into it would take messages from
            // the outbox that a worker sharing the database (or this
            // server's next start) must deliver.
            None
        };
        // With Redis, account events reach subscribers on every instance.
        let events: Arc<dyn AccountEvents> = match &redis_connection {
            Some((client, manager)) => RedisAccountEvents::start(client.clone(), manager.clone()),
            None => Arc::new(InProcessAccountEvents::default()),
        };
        let (members, membership) = build_membership(&config, redis_connection.as_ref());
        // The API's SQL over datasets is the pipeline's: one cache, one set of limits.
        let dataset_sql = pipeline.dataset_sql.clone();
        let registrations = Registrations {
            mailer: build_mailer(&config)?,
            console_url: config.console_url(),
            confirm: config.mail.confirm_registrations,
        };
        let state = AppState {
            registrations,
            db: db.clone(),
            tokens: tokens.clone(),
            events,
            pipeline: pipeline.clone(),
            shopify: shopify.clone(),
            members,
            membership,
            throttle,
            dataset_sql,
            downloads: downloads.clone(),
        };
        // A PostgreSQL deployment is production: development aids off unless asked for.
        let graphql = config.graphql.clone().for_deployment(config.uses_postgres());
        let limits = QueryLimits {
            max_depth: graphql.max_depth,
            max_complexity: graphql.max_complexity,
            max_aliases: graphql.max_aliases,
            max_tokens: graphql.max_tokens,
            max_selections: graphql.max_selections,
            max_directives: graphql.max_directives,
            max_errors: graphql.max_errors,
            operation_timeout: (graphql.operation_timeout_ms > 0)
                .then(|| Duration::from_millis(graphql.operation_timeout_ms)),
            introspection: graphql.serves_introspection(),
            suggestions: graphql.serves_suggestions(),
        };
        let rate_limits = RateLimits {
            free_per_window: config.rate_limit.free_per_hour,
            premium_per_window: config.rate_limit.premium_per_hour,
            window: Duration::from_secs(3600),
            heavy_fields: config.rate_limit.heavy_operations.iter().cloned().collect(),
        };
        let schema = build_schema(state, &limits, rate_limits, limiter);
        let state = HttpState::new(Shared {
            websocket: websocket_limits(&config),
            schema,
            auth: Arc::new(Authenticator { keys: tokens, shopify: shopify.clone(), db: db.clone() }),
            shopify: shopify.map(Arc::new),
            db,
            redis,
            queue: config.amqp_url.is_some().then(|| pipeline.queue.clone()),
            metrics,
            graphql: Arc::new(graphql),
            dataset_upload_bytes: config.datasets.max_upload_bytes,
            downloads,
            // The same limits as the schema's guard, which checks after it.
            documents: Arc::new(alatar_schema::DocumentCache::new(&limits)),
            trusted_proxies: config.http.trusted_proxies.clone(),
        });
        let metrics = match config.metrics.listen {
            Some(address) => {
                let listener =
                    TcpListener::bind(address).await.with_context(|| format!("binding metrics.listen {address}"))?;
                Some((listener, http::metrics_router(state.clone(), config.metrics.token.clone())))
            }
            None => None,
        };
        let router = http::router(state, metrics_access(&config));
        let listener = TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
        let connections = ConnectionLimits::new(&config.http, serve::reserved_descriptors(&config));
        Ok(Self { listener, router, connections, metrics, pipeline, worker })
    }

    /// The bound port (useful with port 0).
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or_default()
    }

    /// The port `metrics.listen` bound, when set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().and_then(|(listener, _)| listener.local_addr().ok()).map(|a| a.port())
    }

    /// The router, for in-process tests (`oneshot`).
    pub fn router(&self) -> axum::Router {
        self.router.clone()
    }

    /// The pipeline (tests drive and inspect it).
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// Serves until SIGINT or SIGTERM, then drains in-flight requests and
    /// stops the in-process worker.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes: then stops accepting, closes idle
    /// connections, lets requests in flight finish and stops the in-process
    /// worker (tests stop it without a signal).
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) -> std::io::Result<()> {
        let Self { listener, router, connections: limits, metrics, pipeline: _pipeline, worker } = self;
        tracing::info!(address = %listener.local_addr()?, "listening");
        tracing::info!(
            max_connections = limits.max_connections,
            header_timeout_secs = limits.header_timeout.as_secs(),
            body_timeout_secs = limits.body_timeout.as_secs(),
            idle_timeout_secs = limits.idle_timeout.as_secs(),
            "connection limits"
        );
        // One signal, watched by both listeners.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let signal = async move {
            shutdown.await;
            let _ = stop.send(true);
        };
        let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
            // `Err` means the sender is gone, which it is only once it has sent.
            let _ = stopped.changed().await;
        };
        let metrics_stopped = until_stopped(stopped.clone());
        let main_stopped = until_stopped(stopped);
        let metrics = async move {
            if let Some((listener, router)) = metrics {
                tracing::info!(address = %listener.local_addr()?, "serving metrics");
                let limits = limits.with_max_connections(serve::METRICS_CONNECTIONS);
                serve::serve(listener, router, limits, metrics_stopped).await;
            }
            Ok::<_, std::io::Error>(())
        };
        let main = serve::serve(listener, router, limits, main_stopped);
        let ((), (), metrics) = tokio::join!(signal, main, metrics);
        if let Some(worker) = worker {
            worker.stop().await;
        }
        metrics
    }
}

/// The WebSocket keepalive of `http.*`.
fn websocket_limits(config: &Config) -> WebSocketLimits {
    let http = &config.http;
    WebSocketLimits {
        ping_interval: Duration::from_secs(http.websocket_ping_secs),
        timeout: Duration::from_secs(http.websocket_timeout_secs),
        init_timeout: Duration::from_secs(http.websocket_init_timeout_secs),
    }
}

/// Who may read `/metrics` on the main listener: nobody when it has a
/// listener of its own; token holders when a token is set; otherwise
/// anyone on the embedded default, nobody in production (PostgreSQL), where
/// it would show the world the traffic, errors and model spend.
fn metrics_access(config: &Config) -> MetricsAccess {
    match (&config.metrics.listen, &config.metrics.token) {
        (Some(_), _) => MetricsAccess::Hidden,
        (None, Some(token)) => MetricsAccess::Token(Arc::new(token.clone())),
        (None, None) if config.uses_postgres() => {
            tracing::info!("/metrics is not served: set metrics.listen or metrics.token to serve it in production");
            MetricsAccess::Hidden
        }
        (None, None) => MetricsAccess::Open,
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
