//! Test support: per-test databases on SQLite and PostgreSQL, an in-process
//! app, the real binary on port 0, and GraphQL helpers.

mod app;
mod binary;
mod database;
pub mod fake_llm;
pub mod fake_shopify;
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

/// A configuration for tests: port 0, a fixed secret, data in `dir`.
pub fn test_config(dir: &std::path::Path) -> alatar_server::Config {
    let mut config = alatar_server::Config::default();
    config.listen = "127.0.0.1:0".parse().unwrap_or(config.listen);
    config.data_dir = dir.to_path_buf();
    config.jwt.secret = Some(TEST_JWT_SECRET.to_owned().into());
    config
}

/// The HS256 key tests sign with.
pub const TEST_JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123456789";
