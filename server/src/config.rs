//! Typed configuration: defaults, then an optional TOML file, then `ALATAR_*`
//! environment variables (`__` separates sections: `ALATAR_JWT__SECRET`).
//! Unknown keys and bad values stop startup with a message naming the key.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// Everything the server can be told.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The listener: timeouts, the connection cap, WebSocket keepalive, trusted proxies.
    pub http: HttpSection,
    /// Where `/metrics` is served and who may read it.
    pub metrics: MetricsSection,
    /// Where embedded state lives (SQLite file, generated JWT secret).
    pub data_dir: PathBuf,
    /// `postgres://…` for PostgreSQL; unset means SQLite in `data_dir`.
    #[serde(serialize_with = "serialize_secret_opt")]
    pub database_url: Option<SecretString>,
    /// Maximum database connections.
    pub database_max_connections: u32,
    /// `redis://…`; unset means in-memory rate limits.
    #[serde(serialize_with = "serialize_secret_opt")]
    pub redis_url: Option<SecretString>,
    /// `amqp://…` for RabbitMQ; unset means the in-process queue.
    #[serde(serialize_with = "serialize_secret_opt")]
    pub amqp_url: Option<SecretString>,
    /// The analysis pipeline.
    pub pipeline: PipelineSection,
    /// The language model; without `llm.api_key` the offline model answers.
    pub llm: LlmSection,
    /// The Shopify app; without `shopify.api_key` only demo stores can be linked.
    pub shopify: ShopifySection,
    /// Knowledge (RAG): how document chunks are embedded.
    pub knowledge: KnowledgeSection,
    /// Datasets: how large an uploaded file may be.
    pub datasets: DatasetsSection,
    /// Dashboards: how long an export's download link works.
    pub dashboards: DashboardsSection,
    /// Market data: tick partitions, batch size, the session's time zone.
    pub market: MarketSection,
    /// Repository analysis: allowed sources, clone limits.
    pub code: CodeSection,
    /// Mail: sign-ups confirmed by a mailed link.
    pub mail: MailSection,
    /// Access and refresh tokens.
    pub jwt: JwtConfig,
    /// GraphQL limits and features.
    pub graphql: GraphqlConfig,
    /// Rate limits.
    pub rate_limit: RateLimitConfig,
    /// Logging.
    pub log: LogConfig,
}

/// How long clients may take and how many may be connected (slow clients
/// must not hold connections, and with them file descriptors, for ever),
/// and which proxies may say who the client is.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSection {
    /// Seconds a client has to send a request head: from accept for the
    /// first request, from its first byte for later ones on a kept-alive connection.
    pub header_timeout_secs: u64,
    /// Seconds a request body may send nothing while it is being read (then 408).
    pub body_timeout_secs: u64,
    /// The slowest average a body may arrive at, in bytes a second, after
    /// a first `body_timeout_secs` of grace (then 408): a client trickling a
    /// byte just inside each timeout would otherwise hold its connection for
    /// ever. Apache's `mod_reqtimeout` `MinRate`, the same idea. 0: no minimum.
    pub body_min_bytes_per_sec: u64,
    /// Seconds the socket may take none of a response (a client that
    /// stopped reading) before the connection is closed, with the answer's
    /// buffers.
    pub write_timeout_secs: u64,
    /// The slowest average a response may be taken at, in bytes a second,
    /// from when the client first fell behind (the socket filled) and after
    /// a first `write_timeout_secs` of grace (then the connection is
    /// closed): a client reading a little just inside each timeout would
    /// otherwise hold its answer for ever. 0: no minimum.
    pub write_min_bytes_per_sec: u64,
    /// Seconds a kept-alive connection may wait for its next request.
    pub idle_timeout_secs: u64,
    /// Concurrent connections, WebSockets included; lowered at start-up to
    /// what the open-file limit leaves after the pools' descriptors.
    pub max_connections: usize,
    /// Concurrent connections from one client address (IP), WebSockets
    /// included, so that one client cannot take every place under
    /// `max_connections`. Clients behind one NAT or proxy share it.
    pub max_connections_per_address: usize,
    /// Seconds between the WebSocket Ping frames the server sends.
    pub websocket_ping_secs: u64,
    /// Seconds a WebSocket may send nothing (pongs count) before it is closed.
    pub websocket_timeout_secs: u64,
    /// Seconds a WebSocket has to complete `connection_init`.
    pub websocket_init_timeout_secs: u64,
    /// Reverse proxies whose `X-Forwarded-For` is believed: when the peer
    /// is one of them, the client is the right-most address in that header
    /// that is not itself one (the rest the client could have written).
    /// Empty (the default): the peer is the client, and the header is ignored.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for HttpSection {
    fn default() -> Self {
        Self {
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            // A 200 MB upload at this rate may take 2 days; a trickle of a
            // byte per timeout is cut after a minute.
            body_min_bytes_per_sec: 1024,
            // As long as a body may stall; a reader on the slowest link takes
            // something every few seconds.
            write_timeout_secs: 30,
            write_min_bytes_per_sec: 1024,
            // nginx's default: long enough for a browser's next request to reuse the connection.
            idle_timeout_secs: 75,
            max_connections: 10_000,
            // A browser opens 6 per host, a busy NAT or office some dozens.
            max_connections_per_address: 256,
            // Under the 60 s idle timeout of common proxies and load balancers.
            websocket_ping_secs: 20,
            websocket_timeout_secs: 45,
            websocket_init_timeout_secs: 10,
            trusted_proxies: Vec::new(),
        }
    }
}

/// `/metrics`: on the main listener by default (embedded), on its own
/// address, or behind a bearer token.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSection {
    /// Serve `/metrics` only on this address (e.g. an internal interface);
    /// the main listener then answers 404 for it.
    pub listen: Option<SocketAddr>,
    /// A bearer token `/metrics` requires, wherever it is served (16+ bytes).
    #[serde(serialize_with = "serialize_secret_opt")]
    pub token: Option<SecretString>,
}

/// Mail: where sign-up confirmations go and what their links open.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailSection {
    /// New addresses are confirmed by mail: `signUp` answers the same for
    /// every address and mails a link, and `register` (which answers at
    /// once, and so tells a registered address from a new one) is refused.
    /// On by default; tests and single-user set-ups may turn it off.
    pub confirm_registrations: bool,
    /// `smtps://user:pass@host:465`, `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS) or `smtp://host:25`; unset: each message is written as an
    /// `.eml` file into `<data_dir>/mail`, and its path is logged.
    #[serde(serialize_with = "serialize_secret_opt")]
    pub smtp_url: Option<SecretString>,
    /// The sender, `Name <address>` or an address.
    pub from: String,
    /// The console's URL, which links in mail open. Empty:
    /// `<shopify.app_url>/console/` when that is set, else this server's
    /// `listen` address (`localhost` for an unspecified one).
    pub console_url: String,
    /// Seconds an SMTP delivery may take.
    pub timeout_secs: u64,
}

impl Default for MailSection {
    fn default() -> Self {
        Self {
            confirm_registrations: true,
            smtp_url: None,
            from: "Alatar <no-reply@alatar.localhost>".into(),
            console_url: String::new(),
            timeout_secs: 30,
        }
    }
}

impl Config {
    /// Where links in mail point, ending in `/`.
    pub fn console_url(&self) -> String {
        let url = if !self.mail.console_url.is_empty() {
            self.mail.console_url.clone()
        } else if !self.shopify.app_url.is_empty() {
            format!("{}/console/", self.shopify.app_url.trim_end_matches('/'))
        } else {
            let port = self.listen.port();
            match self.listen.ip() {
                ip if ip.is_unspecified() => format!("http://localhost:{port}/console/"),
                IpAddr::V6(ip) => format!("http://[{ip}]:{port}/console/"),
                IpAddr::V4(ip) => format!("http://{ip}:{port}/console/"),
            }
        };
        if url.ends_with('/') { url } else { format!("{url}/") }
    }
}

/// Knowledge (RAG).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KnowledgeSection {
    /// The embedding model document chunks (and search queries) go through.
    pub embeddings: EmbeddingsSection,
}

/// Datasets (uploaded tables).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatasetsSection {
    /// The most bytes one uploaded dataset file may have, held while the
    /// upload streams (a request naming `uploadDataset` gets this limit in
    /// place of `graphql.max_upload_bytes`); 200 MiB.
    pub max_upload_bytes: usize,
    /// Most rows `askDataset` and `runSql` return (one more is fetched to
    /// tell truncation); 10,000.
    pub sql_row_cap: usize,
    /// Longest one dataset statement may run, in milliseconds; 10,000.
    pub sql_timeout_ms: u64,
    /// Seconds a statement's result stays cached (per dataset version and
    /// statement; Redis when configured); 300.
    pub sql_cache_ttl_secs: u64,
    /// Seconds a `trainModel` job may run from its first start, reading
    /// included, before it fails saying so (seed 001 P18); 1,800.
    pub training_time_limit_secs: u64,
}

impl Default for DatasetsSection {
    fn default() -> Self {
        let bytes = alatar_agents::datasets::settings::DEFAULT_MAX_UPLOAD_BYTES;
        let sql = alatar_agents::datasets::sql::Limits::default();
        Self {
            max_upload_bytes: usize::try_from(bytes).unwrap_or(usize::MAX),
            sql_row_cap: sql.row_cap,
            sql_timeout_ms: u64::try_from(sql.timeout.as_millis()).unwrap_or(u64::MAX),
            sql_cache_ttl_secs: alatar_agents::datasets::sql::cache::DEFAULT_TTL.as_secs(),
            training_time_limit_secs: alatar_agents::datasets::settings::DEFAULT_TRAINING_TIME_LIMIT.as_secs(),
        }
    }
}

/// Dashboards.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DashboardsSection {
    /// Seconds an exported dashboard's signed download link works (and its
    /// file is kept); 900.
    pub export_ttl_secs: u64,
}

impl Default for DashboardsSection {
    fn default() -> Self {
        Self { export_ttl_secs: alatar_agents::dashboards::download::DEFAULT_EXPORT_TTL.as_secs() }
    }
}

/// Market data.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarketSection {
    /// Tick partitions (queues `alatar.market.ticks.N`); a symbol always
    /// goes to the same one. Change it only with the queues drained; 4.
    pub partitions: u16,
    /// Most ticks one `ingestTicks` call (or feed message) may carry; 5,000.
    pub max_batch: usize,
    /// How far past the server's clock a tick's time may be, in seconds; 60.
    pub max_future_secs: u64,
    /// IANA time zone of the exchange: a trading session (VWAP's reset, a
    /// day bar) is a calendar day there; `America/New_York`.
    pub session_time_zone: String,
}

impl Default for MarketSection {
    fn default() -> Self {
        let d = alatar_agents::market::settings::MarketSettings::default();
        Self {
            partitions: d.partitions,
            max_batch: d.max_batch,
            max_future_secs: d.max_future.as_secs(),
            session_time_zone: d.session_time_zone.name().to_owned(),
        }
    }
}

/// Repository analysis (`analyzeRepository`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CodeSection {
    /// Allow `file://` repository URLs (repositories on this machine); false.
    pub allow_local_repositories: bool,
    /// Allow hosts that resolve to loopback or private addresses (SSRF
    /// protection off); false.
    pub allow_private_addresses: bool,
    /// Longest a clone may take, in seconds; 120.
    pub clone_timeout_secs: u64,
    /// Largest checkout, in MB on disk; 500.
    pub max_repository_mb: u64,
    /// Most files read from a checkout; 20,000.
    pub max_files: usize,
    /// Largest file whose text is read, in KB; 1,024.
    pub max_file_kb: u64,
}

impl Default for CodeSection {
    fn default() -> Self {
        let d = alatar_agents::code::settings::CodeSettings::default();
        Self {
            allow_local_repositories: d.allow_local_repositories,
            allow_private_addresses: d.allow_private_addresses,
            clone_timeout_secs: d.clone_timeout.as_secs(),
            max_repository_mb: d.max_repository_bytes / (1024 * 1024),
            max_files: d.max_files,
            max_file_kb: d.max_file_bytes / 1024,
        }
    }
}

impl CodeSection {
    /// The agents' settings, checkouts made under `data_dir/repositories`.
    pub fn settings(&self, data_dir: &std::path::Path) -> alatar_agents::code::settings::CodeSettings {
        alatar_agents::code::settings::CodeSettings {
            allow_local_repositories: self.allow_local_repositories,
            allow_private_addresses: self.allow_private_addresses,
            clone_timeout: std::time::Duration::from_secs(self.clone_timeout_secs),
            max_repository_bytes: self.max_repository_mb.saturating_mul(1024 * 1024),
            max_files: self.max_files,
            max_file_bytes: self.max_file_kb.saturating_mul(1024),
            work_dir: data_dir.join("repositories"),
        }
    }
}

impl MarketSection {
    /// The agents' settings (the time zone checked by [`Config::validate`]).
    pub fn settings(&self) -> alatar_agents::market::settings::MarketSettings {
        let d = alatar_agents::market::settings::MarketSettings::default();
        alatar_agents::market::settings::MarketSettings {
            partitions: self.partitions,
            max_batch: self.max_batch,
            max_future: std::time::Duration::from_secs(self.max_future_secs),
            session_time_zone: self.session_time_zone.parse().unwrap_or(d.session_time_zone),
        }
    }
}

/// Which embedding model embeds.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub enum EmbeddingProvider {
    /// all-MiniLM-L6-v2 in-process, from `model_dir`; without its files the
    /// server runs without an embedder (full-text search only) and says so.
    #[default]
    #[serde(rename = "local")]
    Local,
    /// An OpenAI-compatible `POST {base_url}/embeddings`.
    #[serde(rename = "openai")]
    OpenAi,
    /// No embedding: documents are searchable by full text only.
    #[serde(rename = "none")]
    Off,
}

/// The embedding model. `provider` picks it; the other keys are those of
/// `local` (`model_dir`, `batch_size`) or of `openai` (the rest, and
/// `batch_size`), and are ignored for the other provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddingsSection {
    /// `local` (default), `openai` or `none`.
    pub provider: EmbeddingProvider,
    /// Texts per forward pass (`local`, default 32) or per request
    /// (`openai`, default 128).
    pub batch_size: Option<usize>,
    /// `local`: the sentence-transformers directory; unset means
    /// `<data_dir>/models/all-MiniLM-L6-v2` (where `bash scripts/model.sh` puts it).
    pub model_dir: Option<PathBuf>,
    /// `openai`: the OpenAI-compatible base URL, ending in `/v1`.
    pub base_url: String,
    /// `openai`: bearer key; unset for local servers that take none.
    #[serde(serialize_with = "serialize_secret_opt")]
    pub api_key: Option<SecretString>,
    /// `openai`: the model id, stored with every vector (`text-embedding-3-small`). Required.
    pub model: Option<String>,
    /// `openai`: the vectors' length, checked on every answer. Required.
    pub dimension: Option<usize>,
    /// `openai`: send `dimension` as the request's `dimensions` (models
    /// that can shorten their vectors, like `text-embedding-3-*`).
    pub request_dimensions: bool,
    /// `openai`: tokens per text the model reads.
    pub max_input_tokens: usize,
    /// `openai`: per attempt, in milliseconds.
    pub timeout_ms: u64,
    /// `openai`: retries of 429/5xx/timeouts after the first attempt.
    pub max_retries: u32,
    /// `openai`: first retry delay in milliseconds (doubles, with jitter).
    pub backoff_ms: u64,
    /// `openai`: the longest `Retry-After` waited in place, in
    /// milliseconds; a longer one gives the document back to the queue.
    pub max_retry_wait_ms: u64,
}

impl Default for EmbeddingsSection {
    fn default() -> Self {
        Self {
            provider: EmbeddingProvider::Local,
            batch_size: None,
            model_dir: None,
            base_url: "https://api.openai.com/v1".into(),
            api_key: None,
            model: None,
            dimension: None,
            request_dimensions: false,
            max_input_tokens: 8191,
            timeout_ms: 30_000,
            max_retries: 4,
            backoff_ms: 500,
            max_retry_wait_ms: 60_000,
        }
    }
}

impl EmbeddingsSection {
    /// Where the `local` model is read from.
    pub fn local_model_dir(&self, data_dir: &std::path::Path) -> PathBuf {
        self.model_dir.clone().unwrap_or_else(|| data_dir.join(alatar_agents::knowledge::embed::MINILM_DIR))
    }

    /// `provider`'s required keys and sensible values.
    fn check(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError::Invalid(format!("knowledge.embeddings.{key}: {why}")));
        if self.batch_size == Some(0) {
            return bad("batch_size", "must be at least 1");
        }
        if self.provider != EmbeddingProvider::OpenAi {
            return Ok(());
        }
        if !(self.base_url.starts_with("http://") || self.base_url.starts_with("https://")) {
            return bad("base_url", "must be an http:// or https:// URL");
        }
        if self.model.as_deref().is_none_or(|model| model.trim().is_empty()) {
            return bad("model", "is required with provider = \"openai\"");
        }
        match self.dimension {
            None => return bad("dimension", "is required with provider = \"openai\""),
            // pgvector stores up to 16000 dimensions.
            Some(dimension) if !(1..=16_000).contains(&dimension) => {
                return bad("dimension", "must be between 1 and 16000");
            }
            Some(_) => {}
        }
        if self.max_input_tokens == 0 {
            return bad("max_input_tokens", "must be at least 1");
        }
        if !(1..=600_000).contains(&self.timeout_ms) {
            return bad("timeout_ms", "must be between 1 and 600000 (ten minutes)");
        }
        Ok(())
    }
}

/// Token settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JwtConfig {
    /// HS256 key (32+ bytes). Required with PostgreSQL; embedded mode
    /// generates one into `data_dir/jwt-secret` when unset.
    #[serde(serialize_with = "serialize_secret_opt")]
    pub secret: Option<SecretString>,
    /// `iss` claim.
    pub issuer: String,
    /// `aud` claim.
    pub audience: String,
    /// Access token lifetime in seconds (seed 001: 24 h).
    pub access_ttl_secs: u64,
    /// Refresh token lifetime in seconds.
    pub refresh_ttl_secs: u64,
}

/// The analysis pipeline.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineSection {
    /// `alatar serve` also runs a worker in-process (turn off when separate
    /// `alatar worker` processes do the work).
    pub worker: bool,
    /// Unacknowledged deliveries per consumer.
    pub prefetch: u16,
    /// Deliveries before a message is dead-lettered.
    pub max_deliveries: u32,
    /// Timeout per tool call, in milliseconds: the longest a call may go
    /// without reporting progress (long Shopify reads report every page).
    pub tool_timeout_ms: u64,
    /// Longest a tool call may run while it keeps reporting progress, in
    /// milliseconds (at least `tool_timeout_ms`).
    pub tool_max_ms: u64,
    /// First retry delay of a failing tool, in milliseconds (doubles, with jitter).
    pub tool_backoff_ms: u64,
    /// Prefix for RabbitMQ queue and exchange names (deployments sharing a broker).
    pub queue_namespace: String,
    /// How long a proposed store change waits for a decision, in hours.
    pub proposal_ttl_hours: u64,
}

impl Default for PipelineSection {
    fn default() -> Self {
        Self {
            worker: true,
            prefetch: 16,
            max_deliveries: 5,
            tool_timeout_ms: 30_000,
            tool_max_ms: 600_000,
            tool_backoff_ms: 200,
            queue_namespace: String::new(),
            proposal_ttl_hours: 72,
        }
    }
}

/// The language model (OpenAI-compatible chat API; OpenRouter by default).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmSection {
    /// API key; unset means the offline model.
    #[serde(serialize_with = "serialize_secret_opt")]
    pub api_key: Option<SecretString>,
    /// OpenAI-compatible base URL.
    pub base_url: String,
    /// Model used when neither the user nor routing picks one.
    pub default_model: String,
    /// Model for planning (defaults to `default_model`).
    pub planning_model: Option<String>,
    /// Model for writing (defaults to `default_model`).
    pub writing_model: Option<String>,
    /// Model for document summaries (defaults to `planning_model`, then `default_model`).
    pub summary_model: Option<String>,
    /// Model for inputs over `long_context_tokens`.
    pub long_context_model: Option<String>,
    /// Threshold for `long_context_model`.
    pub long_context_tokens: usize,
    /// Per attempt, in milliseconds.
    pub timeout_ms: u64,
    /// Retries of 429/5xx/timeouts.
    pub max_retries: u32,
    /// First retry delay in milliseconds (doubles, with jitter).
    pub backoff_ms: u64,
    /// Stream plain completions.
    pub stream: bool,
    /// USD per million tokens by model, for the cost log: `{ "m" = { input = 0.15, output = 0.6 } }`.
    pub prices: std::collections::HashMap<String, alatar_agents::llm::Price>,
}

impl Default for LlmSection {
    fn default() -> Self {
        Self {
            api_key: None,
            base_url: "https://openrouter.ai/api/v1".into(),
            default_model: "openai/gpt-4o-mini".into(),
            planning_model: None,
            writing_model: None,
            summary_model: None,
            long_context_model: None,
            long_context_tokens: 100_000,
            timeout_ms: 60_000,
            max_retries: 3,
            backoff_ms: 500,
            stream: true,
            prices: [("openai/gpt-4o-mini".to_owned(), alatar_agents::llm::Price { input: 0.15, output: 0.6 })]
                .into_iter()
                .collect(),
        }
    }
}

/// The Shopify app (Partner dashboard credentials) and its Admin API client.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShopifySection {
    /// The app's API key (client id); unset turns Shopify off.
    pub api_key: Option<String>,
    /// The app's API secret: verifies OAuth callbacks, webhooks and session tokens.
    #[serde(serialize_with = "serialize_secret_opt")]
    pub api_secret: Option<SecretString>,
    /// Access scopes requested at install.
    pub scopes: Vec<String>,
    /// This server's public URL; the OAuth redirect is `<app_url>/shopify/callback`.
    pub app_url: String,
    /// Admin API version.
    pub api_version: String,
    /// URL of a shop with `{shop}` for its domain (tests point it at a fake Admin API).
    pub admin_base_url: String,
    /// AES-256-GCM keys for tokens at rest, by key id: base64 of 32 random
    /// bytes. Several keys allow rotation. Required with PostgreSQL; embedded
    /// mode generates one into `data_dir/token-key` when empty.
    #[serde(serialize_with = "serialize_secret_map")]
    pub token_keys: std::collections::BTreeMap<String, SecretString>,
    /// The key id new ciphertexts use (defaults to the only key).
    pub active_token_key: Option<String>,
    /// How long raw Admin API answers are cached, in seconds.
    pub cache_ttl_secs: u64,
    /// Per Admin API attempt, in milliseconds.
    pub timeout_ms: u64,
    /// Retries of 429/5xx/timeouts/`THROTTLED`.
    pub max_retries: u32,
    /// First retry delay in milliseconds (doubles, with jitter).
    pub backoff_ms: u64,
    /// Order ranges longer than this many days are exported with a bulk operation.
    pub bulk_threshold_days: i64,
    /// Bulk operation polling interval in milliseconds.
    pub bulk_poll_ms: u64,
    /// How long an install's `state` nonce is valid, in seconds.
    pub state_ttl_secs: u64,
    /// How far an OAuth callback's `timestamp` may be from now, in seconds.
    pub timestamp_tolerance_secs: u64,
}

impl Default for ShopifySection {
    fn default() -> Self {
        Self {
            api_key: None,
            api_secret: None,
            scopes: [
                "read_orders",
                // Without it Shopify serves only the last 60 days of orders.
                "read_all_orders",
                "read_products",
                "read_customers",
                "read_inventory",
                "write_discounts",
                "write_products",
            ]
            .map(String::from)
            .to_vec(),
            app_url: "http://127.0.0.1:8080".into(),
            api_version: "2026-10".into(),
            admin_base_url: "https://{shop}".into(),
            token_keys: Default::default(),
            active_token_key: None,
            cache_ttl_secs: 300,
            timeout_ms: 10_000,
            max_retries: 4,
            backoff_ms: 500,
            // A page of a few orders costs ~180 points each; at the Standard
            // plan's 100 points/s, more than a week of orders reads faster in bulk.
            bulk_threshold_days: 7,
            bulk_poll_ms: 1_000,
            state_ttl_secs: 600,
            timestamp_tolerance_secs: 300,
        }
    }
}

/// GraphQL limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GraphqlConfig {
    /// Maximum selection depth.
    pub max_depth: usize,
    /// Maximum complexity.
    pub max_complexity: usize,
    /// Maximum aliases per document, counted through fragments with multiplicity.
    pub max_aliases: usize,
    /// Maximum lexical tokens in a query text, counted before it is parsed
    /// (the GraphiQL introspection query has about 200, our clients' largest
    /// document under 100).
    pub max_tokens: usize,
    /// Maximum selections (fields, fragment spreads, inline fragments) a
    /// document expands to through its fragments, computed without expanding
    /// them (the introspection query expands to about 240).
    pub max_selections: usize,
    /// Maximum directives at one location (field, fragment, operation, variable).
    pub max_directives: usize,
    /// Maximum errors in one response; a last error says how many were left out.
    pub max_errors: usize,
    /// Time budget of one query or mutation in milliseconds, after which it is
    /// stopped with `TIMEOUT` (0: none). Subscriptions have no budget.
    pub operation_timeout_ms: u64,
    /// Maximum operations in one batched request.
    pub max_batch: usize,
    /// Maximum JSON request body in bytes; also bounds a multipart request's
    /// `operations` and `map` parts (the whole of it: `max_multipart_bytes`).
    pub max_body_bytes: usize,
    /// Maximum bytes of one uploaded file (and of any one multipart part).
    pub max_upload_bytes: usize,
    /// Maximum files in one multipart request.
    pub max_upload_files: usize,
    /// Maximum multipart request in bytes, framing included; unset leaves
    /// room for `max_upload_files` files of `max_upload_bytes` plus
    /// `max_body_bytes` (see [`GraphqlConfig::multipart_limit`]).
    pub max_multipart_bytes: Option<usize>,
    /// Serve introspection; unset: on embedded, off with PostgreSQL.
    pub introspection: Option<bool>,
    /// Field suggestions in validation errors; unset: on embedded, off with PostgreSQL.
    pub suggestions: Option<bool>,
    /// Serve GraphiQL on `GET /graphql` to browsers; unset: on embedded, off with PostgreSQL.
    pub playground: Option<bool>,
}

impl GraphqlConfig {
    /// This configuration with the unset development aids (introspection,
    /// suggestions, GraphiQL) decided by the deployment: on in embedded mode,
    /// off in `production` (PostgreSQL), where they map the API for an
    /// attacker; explicit settings stay as they are.
    pub fn for_deployment(mut self, production: bool) -> Self {
        let aid = |setting: Option<bool>| Some(setting.unwrap_or(!production));
        self.introspection = aid(self.introspection);
        self.suggestions = aid(self.suggestions);
        self.playground = aid(self.playground);
        self
    }

    /// Whether introspection is served (unset counts as off: startup
    /// resolves it with [`GraphqlConfig::for_deployment`]).
    pub fn serves_introspection(&self) -> bool {
        self.introspection.unwrap_or(false)
    }

    /// Whether validation errors carry "did you mean" suggestions (unset counts as off).
    pub fn serves_suggestions(&self) -> bool {
        self.suggestions.unwrap_or(false)
    }

    /// Whether browsers get GraphiQL (unset counts as off).
    pub fn serves_playground(&self) -> bool {
        self.playground.unwrap_or(false)
    }

    /// The cap on a whole multipart request in bytes.
    pub fn multipart_limit(&self) -> usize {
        self.max_multipart_bytes.unwrap_or_else(|| {
            self.max_upload_bytes.saturating_mul(self.max_upload_files).saturating_add(self.max_body_bytes)
        })
    }
}

/// Per-user quotas on heavy operations.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Free tier, per hour.
    pub free_per_hour: u64,
    /// Premium tier, per hour.
    pub premium_per_hour: u64,
    /// Root fields counted (analysis and query-heavy operations).
    pub heavy_operations: Vec<String>,
    /// Logins, registrations and invitations (`rate_limit.auth.*`).
    pub auth: AuthLimitConfig,
}

/// Throttling of password guessing and account probing: past a limit's
/// free failures each login waits `first_delay_secs`, doubling per further
/// failure up to the limit's cap; `window_secs` of quiet after the wait
/// forgets them. Three limits: an account from one client address (strict,
/// up to `max_delay_secs`), an account from all addresses (more free
/// failures, capped at `account_max_delay_secs`) and an address over all
/// accounts. Never a hard lock: a guesser elsewhere can delay a user by at
/// most `account_max_delay_secs` a guess.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthLimitConfig {
    /// Failed logins on one account (email) from one client address before attempts from there wait.
    pub login_free_failures: u32,
    /// Failed logins on one account from all addresses together (or from
    /// an unknown one) before attempts wait.
    pub account_free_failures: u32,
    /// Failed logins per client address, over all accounts, before attempts wait.
    pub address_free_failures: u32,
    /// The first wait in seconds; it doubles with each further failure.
    pub first_delay_secs: u64,
    /// The longest wait in seconds of an account from one address, and of an address.
    pub max_delay_secs: u64,
    /// The longest wait in seconds of an account over all addresses: what a
    /// guesser elsewhere can make the real user wait.
    pub account_max_delay_secs: u64,
    /// Seconds of quiet after a wait that forget the failures.
    pub window_secs: u64,
    /// Registrations per client address per hour.
    pub registrations_per_address_per_hour: u64,
    /// Invitations per account per hour.
    pub invitations_per_account_per_hour: u64,
}

impl Default for AuthLimitConfig {
    fn default() -> Self {
        let schema = alatar_schema::auth::ThrottleConfig::default();
        Self {
            login_free_failures: schema.login_free_failures,
            account_free_failures: schema.account_free_failures,
            address_free_failures: schema.address_free_failures,
            first_delay_secs: schema.first_delay.as_secs(),
            max_delay_secs: schema.max_delay.as_secs(),
            account_max_delay_secs: schema.account_max_delay.as_secs(),
            window_secs: schema.window.as_secs(),
            registrations_per_address_per_hour: schema.registrations_per_address,
            invitations_per_account_per_hour: schema.invitations_per_account,
        }
    }
}

impl AuthLimitConfig {
    /// The schema's form of these limits.
    pub fn throttle(&self) -> alatar_schema::auth::ThrottleConfig {
        use std::time::Duration;
        alatar_schema::auth::ThrottleConfig {
            login_free_failures: self.login_free_failures,
            account_free_failures: self.account_free_failures,
            address_free_failures: self.address_free_failures,
            first_delay: Duration::from_secs(self.first_delay_secs),
            max_delay: Duration::from_secs(self.max_delay_secs),
            account_max_delay: Duration::from_secs(self.account_max_delay_secs),
            window: Duration::from_secs(self.window_secs),
            registrations_per_address: self.registrations_per_address_per_hour,
            invitations_per_account: self.invitations_per_account_per_hour,
        }
    }
}

/// Log output.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `tracing` filter, e.g. `info,alatar=debug`.
    pub level: String,
    /// `json` (default) or `pretty`.
    pub format: LogFormat,
}

/// Log line format.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable.
    Pretty,
}

fn serialize_secret_map<S: serde::Serializer>(
    value: &std::collections::BTreeMap<String, SecretString>,
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(value.len()))?;
    for key in value.keys() {
        map.serialize_entry(key, "[redacted]")?;
    }
    map.end()
}

fn serialize_secret_opt<S: serde::Serializer>(value: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    // Defaults never hold secrets; a set one must not round-trip into output.
    match value {
        Some(_) => s.serialize_some("[redacted]"),
        None => s.serialize_none(),
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            http: HttpSection::default(),
            metrics: MetricsSection::default(),
            data_dir: PathBuf::from("data"),
            database_url: None,
            database_max_connections: 16,
            redis_url: None,
            amqp_url: None,
            pipeline: PipelineSection::default(),
            llm: LlmSection::default(),
            shopify: ShopifySection::default(),
            knowledge: KnowledgeSection::default(),
            datasets: DatasetsSection::default(),
            dashboards: DashboardsSection::default(),
            market: MarketSection::default(),
            code: CodeSection::default(),
            mail: MailSection::default(),
            jwt: JwtConfig::default(),
            graphql: GraphqlConfig::default(),
            rate_limit: RateLimitConfig::default(),
            log: LogConfig::default(),
        }
    }
}

impl Default for JwtConfig {
    fn default() -> Self {
        Self {
            secret: None,
            issuer: "alatar".into(),
            audience: "alatar-api".into(),
            access_ttl_secs: 24 * 3600,
            refresh_ttl_secs: 30 * 24 * 3600,
        }
    }
}

impl Default for GraphqlConfig {
    fn default() -> Self {
        Self {
            max_depth: 12,
            max_complexity: 1000,
            max_aliases: 30,
            max_tokens: 5_000,
            max_selections: 2_000,
            max_directives: 10,
            max_errors: 100,
            operation_timeout_ms: 30_000,
            max_batch: 10,
            max_body_bytes: 1024 * 1024,
            // What a Knowledge upload may be (issue 14): 10 MiB a file, 5 a request.
            max_upload_bytes: 10 * 1024 * 1024,
            max_upload_files: 5,
            max_multipart_bytes: None,
            introspection: None,
            suggestions: None,
            playground: None,
        }
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            free_per_hour: 100,
            premium_per_hour: 1000,
            heavy_operations: vec![
                "submitAnalysisRequest".into(),
                "analysisRequest".into(),
                "listAnalysisRequests".into(),
                "sendChatMessage".into(),
                "runWorkflow".into(),
                "uploadDataset".into(),
                "askDataset".into(),
                "runSql".into(),
                "trainModel".into(),
                "predict".into(),
                "exportDashboard".into(),
                "analyzeRepository".into(),
            ],
            auth: AuthLimitConfig::default(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { level: "info".into(), format: LogFormat::Json }
    }
}

/// Why configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A key is unknown or a value does not parse; the message names it.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Environment variables are `ALATAR_<KEY>`…
const ENV_PREFIX: &str = "ALATAR_";
/// …with this between section and key (`ALATAR_JWT__SECRET` is `jwt.secret`)…
const ENV_SPLIT: &str = "__";
/// …except these keys, which are not `Config` fields (`ALATAR_CONFIG` names the file).
const ENV_IGNORE: &[&str] = &["config"];

/// The `Config` key path an environment variable sets, if any: what
/// `Env::prefixed(ENV_PREFIX).split(ENV_SPLIT).ignore(ENV_IGNORE)` makes of it.
fn env_key(name: &str) -> Option<String> {
    let name = name.trim();
    let prefix = name.get(..ENV_PREFIX.len())?;
    if !prefix.eq_ignore_ascii_case(ENV_PREFIX) {
        return None;
    }
    let key = name[ENV_PREFIX.len()..].replace(ENV_SPLIT, ".");
    if ENV_IGNORE.iter().any(|ignored| ignored.eq_ignore_ascii_case(&key)) {
        return None;
    }
    let key = key.trim();
    if key.split('.').any(str::is_empty) {
        return None;
    }
    Some(key.to_ascii_lowercase())
}

impl Config {
    /// Loads defaults, then `file` (if given), then the environment.
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, ConfigError> {
        let figment = Self::base(file)?.merge(Env::prefixed(ENV_PREFIX).split(ENV_SPLIT).ignore(ENV_IGNORE));
        Self::from_figment(figment)
    }

    /// Like [`Config::load`] without a file, with the `ALATAR_*` variables
    /// given as name/value pairs instead of read from the process environment
    /// (tests run in parallel and must not share it). Names and values are
    /// read as the environment's are; names without the prefix are skipped.
    pub fn from_env_vars<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> Result<Self, ConfigError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut figment = Self::base(None)?;
        for (name, value) in vars {
            let Some(key) = env_key(name.as_ref()) else { continue };
            // As `Env` does: `true`, `10`, `[1, 2]`, `{k = "v"}` are typed, anything else is a string.
            let value: figment::value::Value = value.as_ref().parse().unwrap_or_else(|never| match never {});
            figment = figment.merge(Serialized::default(&key, value));
        }
        Self::from_figment(figment)
    }

    /// Defaults, then `file` (if given).
    fn base(file: Option<&std::path::Path>) -> Result<Figment, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Invalid(format!("config file {} does not exist", path.display())));
            }
            figment = figment.merge(Toml::file(path));
        }
        Ok(figment)
    }

    /// Extracts and checks the configuration `figment` holds.
    fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let config: Config = figment.extract().map_err(|e| {
            let messages: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
            ConfigError::Invalid(messages.join("; "))
        })?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError::Invalid(format!("{key}: {why}")));
        if self.pipeline.prefetch == 0 {
            return bad("pipeline.prefetch", "must be at least 1");
        }
        if self.pipeline.max_deliveries == 0 {
            return bad("pipeline.max_deliveries", "must be at least 1");
        }
        self.check_http()?;
        if self.pipeline.tool_max_ms < self.pipeline.tool_timeout_ms {
            return bad("pipeline.tool_max_ms", "must be at least pipeline.tool_timeout_ms");
        }
        // A proposal is a judgement on the store as it was: a year is plenty.
        if !(1..=24 * 366).contains(&self.pipeline.proposal_ttl_hours) {
            return bad("pipeline.proposal_ttl_hours", "must be between 1 and 8784 (a year)");
        }
        if self.graphql.max_batch == 0 {
            return bad("graphql.max_batch", "must be at least 1");
        }
        // Below these not even `{ __typename }` is served, nor its error shown.
        if self.graphql.max_tokens < 3 {
            return bad("graphql.max_tokens", "must be at least 3");
        }
        if self.graphql.max_selections == 0 {
            return bad("graphql.max_selections", "must be at least 1");
        }
        if self.graphql.max_errors == 0 {
            return bad("graphql.max_errors", "must be at least 1");
        }
        if self.graphql.max_body_bytes < 1024 {
            return bad("graphql.max_body_bytes", "must be at least 1024");
        }
        // Every part is held to it, `operations` too: below a JSON body's floor no upload fits.
        if self.graphql.max_upload_bytes < 1024 {
            return bad("graphql.max_upload_bytes", "must be at least 1024");
        }
        if self.graphql.max_multipart_bytes.is_some_and(|n| n < 1024) {
            return bad("graphql.max_multipart_bytes", "must be at least 1024");
        }
        if self.datasets.max_upload_bytes < 1024 {
            return bad("datasets.max_upload_bytes", "must be at least 1024");
        }
        if !(1..=1_000_000).contains(&self.datasets.sql_row_cap) {
            return bad("datasets.sql_row_cap", "must be between 1 and 1000000");
        }
        if !(100..=600_000).contains(&self.datasets.sql_timeout_ms) {
            return bad("datasets.sql_timeout_ms", "must be between 100 and 600000");
        }
        if !(1..=86_400).contains(&self.datasets.training_time_limit_secs) {
            return bad("datasets.training_time_limit_secs", "must be between 1 and 86400");
        }
        if !(10..=604_800).contains(&self.dashboards.export_ttl_secs) {
            return bad("dashboards.export_ttl_secs", "must be between 10 and 604800");
        }
        if !(1..=3_600).contains(&self.code.clone_timeout_secs) {
            return bad("code.clone_timeout_secs", "must be between 1 and 3600");
        }
        if self.code.max_repository_mb == 0 || self.code.max_files == 0 || self.code.max_file_kb == 0 {
            return bad("code", "max_repository_mb, max_files and max_file_kb must be positive");
        }
        if !(1..=256).contains(&self.market.partitions) {
            return bad("market.partitions", "must be between 1 and 256");
        }
        if !(1..=100_000).contains(&self.market.max_batch) {
            return bad("market.max_batch", "must be between 1 and 100000");
        }
        if self.market.max_future_secs > 86_400 {
            return bad("market.max_future_secs", "must be at most 86400");
        }
        if self.market.session_time_zone.parse::<chrono_tz::Tz>().is_err() {
            return bad("market.session_time_zone", "must be an IANA time zone such as America/New_York");
        }
        if alatar_agents::mail::sender(&self.mail.from).is_err() {
            return bad("mail.from", "must be an address or Name <address>");
        }
        if let Some(url) = &self.mail.smtp_url {
            let url = secrecy::ExposeSecret::expose_secret(url);
            if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                return bad("mail.smtp_url", "must be an smtp:// or smtps:// URL");
            }
        }
        if !(self.mail.console_url.is_empty()
            || self.mail.console_url.starts_with("http://")
            || self.mail.console_url.starts_with("https://"))
        {
            return bad("mail.console_url", "must be an http:// or https:// URL");
        }
        if !(1..=600).contains(&self.mail.timeout_secs) {
            return bad("mail.timeout_secs", "must be between 1 and 600");
        }
        if self.jwt.access_ttl_secs == 0 || self.jwt.refresh_ttl_secs == 0 {
            return bad("jwt.access_ttl_secs", "token lifetimes must be positive");
        }
        if let Some(secret) = &self.jwt.secret
            && secrecy::ExposeSecret::expose_secret(secret).len() < 32
        {
            return bad("jwt.secret", "must be at least 32 bytes");
        }
        let shopify = &self.shopify;
        if shopify.api_key.is_some() {
            if shopify.api_secret.is_none() {
                return bad("shopify.api_secret", "is required with shopify.api_key");
            }
            if !shopify.admin_base_url.contains("{shop}") {
                return bad("shopify.admin_base_url", "must contain {shop}");
            }
            if self.uses_postgres() && shopify.token_keys.is_empty() {
                return bad(
                    "shopify.token_keys",
                    "is required with a PostgreSQL database_url (instances must share it)",
                );
            }
            if shopify.token_keys.len() > 1 && shopify.active_token_key.is_none() {
                return bad("shopify.active_token_key", "must name the key new tokens use when several are configured");
            }
            if let Some(active) = &shopify.active_token_key
                && !shopify.token_keys.contains_key(active)
            {
                return bad("shopify.active_token_key", "names no key in shopify.token_keys");
            }
        }
        if self.uses_postgres() && self.jwt.secret.is_none() {
            return bad("jwt.secret", "is required with a PostgreSQL database_url (instances must share it)");
        }
        self.knowledge.embeddings.check()?;
        Ok(())
    }

    /// The `http` and `metrics` sections: timers that fire, a WebSocket
    /// keepalive that a live client can meet, a token hard to guess.
    fn check_http(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError::Invalid(format!("{key}: {why}")));
        let http = &self.http;
        // A day bounds every timer: longer is no timeout, and deadlines must not overflow.
        let timers = [
            ("http.header_timeout_secs", http.header_timeout_secs),
            ("http.body_timeout_secs", http.body_timeout_secs),
            ("http.write_timeout_secs", http.write_timeout_secs),
            ("http.idle_timeout_secs", http.idle_timeout_secs),
            ("http.websocket_ping_secs", http.websocket_ping_secs),
            ("http.websocket_timeout_secs", http.websocket_timeout_secs),
            ("http.websocket_init_timeout_secs", http.websocket_init_timeout_secs),
        ];
        for (key, secs) in timers {
            if !(1..=86_400).contains(&secs) {
                return bad(key, "must be between 1 and 86400 (a day)");
            }
        }
        // A client answers a ping within its round trip: the silence allowed must outlast the interval.
        if http.websocket_timeout_secs <= http.websocket_ping_secs {
            return bad("http.websocket_timeout_secs", "must be longer than http.websocket_ping_secs");
        }
        if http.max_connections == 0 {
            return bad("http.max_connections", "must be at least 1");
        }
        if http.max_connections_per_address == 0 {
            return bad("http.max_connections_per_address", "must be at least 1");
        }
        if let Some(token) = &self.metrics.token
            && secrecy::ExposeSecret::expose_secret(token).len() < 16
        {
            return bad("metrics.token", "must be at least 16 bytes");
        }
        if self.metrics.listen.is_some_and(|address| address == self.listen && address.port() != 0) {
            return bad("metrics.listen", "must differ from listen");
        }
        Ok(())
    }

    /// Whether `database_url` points at PostgreSQL.
    pub fn uses_postgres(&self) -> bool {
        self.database_url.as_ref().is_some_and(|u| secrecy::ExposeSecret::expose_secret(u).starts_with("postgres"))
    }
}
