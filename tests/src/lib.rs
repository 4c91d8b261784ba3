//! Test support: per-test databases on SQLite and PostgreSQL, an in-process
//! app, the real binary on port 0, and GraphQL helpers.

mod app;
mod binary;
mod database;
pub mod fake_llm;
pub mod fake_shopify;
pub mod fake_smtp;
pub mod shopify_schema;
mod tenant;

pub use app::{Gql, TestApp};
pub use binary::{RunningBinary, binary_path, post_graphql, register_over_http};
pub use database::{Backend, TestDb, scratch_dir};
pub use tenant::demo_tenant;

/// The `p` quantile (0.0–1.0) of an ascending sample; NaN when empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// The sequence numbers `watch` yields for `request` after `after`, until
/// the stream ends or the analysis is over with proposals waiting
/// (`AWAITING_APPROVAL`, where the stream stays open); -1 marks an error.
pub async fn event_sequences(p: &alatar_agents::pipeline::Pipeline, request: uuid::Uuid, after: i64) -> Vec<i64> {
    use futures_util::StreamExt;
    let mut stream = Box::pin(alatar_agents::pipeline::watch(p.db.clone(), p.bus.clone(), request, after));
    let mut sequences = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(event) => {
                sequences.push(event.sequence);
                if event.payload["status"] == "AWAITING_APPROVAL" {
                    break;
                }
            }
            Err(_) => sequences.push(-1),
        }
    }
    sequences
}

/// Runs an async test body once per backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident => $body:ident;)*) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body($crate::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$body($crate::Backend::Postgres).await;
            }
        }
    )*};
}

/// Where the test PostgreSQL server is (`ALATAR_TEST_POSTGRES_URL`).
pub fn postgres_admin_url() -> String {
    std::env::var("ALATAR_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Where the test Redis server is (`ALATAR_TEST_REDIS_URL`).
pub fn redis_url() -> String {
    std::env::var("ALATAR_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Where the test RabbitMQ server is (`ALATAR_TEST_AMQP_URL`).
pub fn amqp_url() -> String {
    std::env::var("ALATAR_TEST_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A configuration for tests: port 0, a fixed secret, data in `dir`, no
/// embedding model (documents are ingested without vectors; tests that
/// need them opt in with [`with_local_embeddings`]).
pub fn test_config(dir: &std::path::Path) -> alatar_server::Config {
    let mut config = alatar_server::Config::default();
    config.listen = "127.0.0.1:0".parse().unwrap_or(config.listen);
    config.data_dir = dir.to_path_buf();
    config.jwt.secret = Some(TEST_JWT_SECRET.to_owned().into());
    config.knowledge.embeddings.provider = alatar_server::config::EmbeddingProvider::Off;
    // Tests make their users with `register`, at once; the mailed
    // confirmation (the default) has tests of its own (`api::sign_up`).
    config.mail.confirm_registrations = false;
    config
}

/// Where `scripts/model.sh` puts all-MiniLM-L6-v2:
/// `${ALATAR_DATA_DIR:-data}/models/all-MiniLM-L6-v2`, a relative data
/// directory taken from the workspace root.
pub fn minilm_dir() -> std::path::PathBuf {
    let data = std::env::var_os("ALATAR_DATA_DIR").map_or_else(|| std::path::PathBuf::from("data"), Into::into);
    let data =
        if data.is_relative() { std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(data) } else { data };
    data.join(alatar_agents::knowledge::embed::MINILM_DIR)
}

/// Whether all-MiniLM-L6-v2 is there; without it a test that needs it
/// says so and passes, except under CI (`CI` set), where `scripts/test.sh`
/// fetched it first and its absence is a broken install step.
pub fn minilm_present() -> bool {
    let dir = minilm_dir();
    if alatar_agents::knowledge::embed::MiniLm::is_present(&dir) {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "all-MiniLM-L6-v2 is missing from {} under CI: run `bash scripts/model.sh` first",
        dir.display()
    );
    println!("skipped: all-MiniLM-L6-v2 is not in {}; fetch it with `bash scripts/model.sh`", dir.display());
    false
}

/// `config` embedding with the local all-MiniLM-L6-v2 from [`minilm_dir`].
pub fn with_local_embeddings(config: &mut alatar_server::Config) {
    config.knowledge.embeddings.provider = alatar_server::config::EmbeddingProvider::Local;
    config.knowledge.embeddings.model_dir = Some(minilm_dir());
}

/// The HS256 key tests sign with.
pub const TEST_JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123456789";
