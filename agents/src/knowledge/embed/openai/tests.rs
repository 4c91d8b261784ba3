//! [`OpenAiEmbedder`] against a scripted server: batching, order, the
//! request it sends, retries (429 honouring `Retry-After`, 5xx, timeouts)
//! and the answers it refuses.

mod server;

use std::time::{Duration, Instant};

use secrecy::SecretString;
use server::{Reply, Scripted};

use super::{OpenAiEmbedConfig, OpenAiEmbedder};
use crate::knowledge::embed::{EmbedError, Embedder};

const DIMENSION: usize = 4;

fn config(server: &Scripted) -> OpenAiEmbedConfig {
    OpenAiEmbedConfig {
        api_key: Some(SecretString::from("test-key")),
        batch_size: 2,
        timeout: Duration::from_secs(5),
        max_retries: 2,
        // Short, so that a test waiting a second shows `Retry-After` won.
        backoff: Duration::from_millis(10),
        ..OpenAiEmbedConfig::new(server.base_url.clone(), "text-embedding-3-small", DIMENSION)
    }
}

fn embedder(config: OpenAiEmbedConfig) -> OpenAiEmbedder {
    OpenAiEmbedder::new(config).unwrap_or_else(|e| panic!("{e}"))
}

fn texts(items: &[&str]) -> Vec<String> {
    items.iter().map(|t| (*t).to_owned()).collect()
}

async fn embedded(embedder: &OpenAiEmbedder, items: &[&str]) -> Vec<Vec<f32>> {
    embedder.embed(&texts(items)).await.unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn texts_go_in_batches_and_come_back_in_order() {
    let server = Scripted::start(vec![Reply::Vectors(DIMENSION); 3]).await;
    let embedder = embedder(config(&server));
    assert_eq!(embedder.model_id(), "text-embedding-3-small");
    assert_eq!(embedder.dimension(), DIMENSION);
    let items = ["a", "bb", "ccc", "dddd", "eeeee"];
    let vectors = embedded(&embedder, &items).await;
    assert_eq!(vectors.len(), items.len());
    for (text, vector) in items.iter().zip(&vectors) {
        assert_eq!(vector.len(), DIMENSION);
        // The scripted server puts the input's length first.
        assert_eq!(vector[0], text.len() as f32, "{text}");
    }
    let seen = server.seen();
    assert_eq!(seen.iter().map(|s| s.inputs()).collect::<Vec<_>>(), vec![2, 2, 1]);
    let first = &seen[0];
    assert_eq!(first.path, "/v1/embeddings");
    assert_eq!(first.header("authorization"), Some("Bearer test-key"));
    assert_eq!(first.body["model"], "text-embedding-3-small");
    assert_eq!(first.body["encoding_format"], "float");
    assert!(first.body.get("dimensions").is_none(), "not asked for unless configured");
}

#[tokio::test]
async fn the_dimension_is_requested_when_configured() {
    let server = Scripted::start(vec![Reply::Vectors(DIMENSION)]).await;
    let embedder = embedder(OpenAiEmbedConfig { request_dimensions: true, api_key: None, ..config(&server) });
    embedded(&embedder, &["a"]).await;
    let seen = server.seen();
    assert_eq!(seen[0].body["dimensions"], DIMENSION);
    assert_eq!(seen[0].header("authorization"), None, "no key, no header");
}

#[tokio::test]
async fn a_429_is_retried_after_the_wait_it_asks_for() {
    let server = Scripted::start(vec![
        Reply::Status(429, vec![("retry-after", "1")], r#"{"error":{"message":"rate limited"}}"#),
        Reply::Vectors(DIMENSION),
    ])
    .await;
    let embedder = embedder(config(&server));
    let started = Instant::now();
    let vectors = embedded(&embedder, &["a"]).await;
    assert_eq!(vectors.len(), 1);
    assert!(started.elapsed() >= Duration::from_millis(950), "waited {:?}", started.elapsed());
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn a_wait_longer_than_we_hold_is_handed_back_as_the_hint() {
    let server =
        Scripted::start(vec![Reply::Status(429, vec![("retry-after", "120")], r#"{"error":"slow down"}"#)]).await;
    let embedder = embedder(config(&server));
    match embedder.embed(&texts(&["a"])).await {
        Err(error @ EmbedError::Unavailable { .. }) => {
            assert!(error.is_transient());
            assert_eq!(error.retry_after(), Some(Duration::from_secs(120)));
            assert!(error.to_string().contains("slow down"), "{error}");
        }
        other => panic!("expected unavailable, got {other:?}"),
    }
    assert_eq!(server.seen().len(), 1, "not retried in place");
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff() {
    let server = Scripted::start(vec![
        Reply::Status(500, Vec::new(), "oops"),
        Reply::Status(503, Vec::new(), r#"{"error":{"message":"overloaded"}}"#),
        Reply::Vectors(DIMENSION),
    ])
    .await;
    let embedder = embedder(config(&server));
    assert_eq!(embedded(&embedder, &["a", "b"]).await.len(), 2);
    assert_eq!(server.seen().len(), 3);
}

#[tokio::test]
async fn retries_run_out_as_unavailable() {
    let server = Scripted::start(vec![Reply::Status(502, Vec::new(), "bad gateway"); 3]).await;
    let embedder = embedder(config(&server));
    match embedder.embed(&texts(&["a"])).await {
        Err(EmbedError::Unavailable { reason, retry_after: None }) => assert!(reason.contains("502"), "{reason}"),
        other => panic!("expected unavailable, got {other:?}"),
    }
    // The first attempt and `max_retries` more.
    assert_eq!(server.seen().len(), 3);
}

#[tokio::test]
async fn a_slow_answer_times_out_and_is_tried_again() {
    let server = Scripted::start(vec![
        Reply::Slow(Duration::from_secs(3), Box::new(Reply::Vectors(DIMENSION))),
        Reply::Vectors(DIMENSION),
    ])
    .await;
    let embedder = embedder(OpenAiEmbedConfig { timeout: Duration::from_millis(300), ..config(&server) });
    let started = Instant::now();
    assert_eq!(embedded(&embedder, &["a"]).await.len(), 1);
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn timeouts_without_end_are_unavailable() {
    let slow = Reply::Slow(Duration::from_secs(3), Box::new(Reply::Vectors(DIMENSION)));
    let server = Scripted::start(vec![slow]).await;
    let embedder =
        embedder(OpenAiEmbedConfig { timeout: Duration::from_millis(200), max_retries: 0, ..config(&server) });
    match embedder.embed(&texts(&["a"])).await {
        Err(EmbedError::Unavailable { reason, .. }) => assert!(reason.contains("timed out"), "{reason}"),
        other => panic!("expected unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn vectors_of_the_wrong_dimension_are_refused_without_retry() {
    let server = Scripted::start(vec![Reply::Vectors(DIMENSION + 1); 3]).await;
    let embedder = embedder(config(&server));
    match embedder.embed(&texts(&["a"])).await {
        Err(EmbedError::Provider(message)) => assert!(message.contains("5 dimensions where 4"), "{message}"),
        other => panic!("expected a provider error, got {other:?}"),
    }
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn the_wrong_number_of_vectors_is_refused() {
    let server = Scripted::start(vec![Reply::Fixed { count: 1, dimension: DIMENSION }]).await;
    let embedder = embedder(config(&server));
    match embedder.embed(&texts(&["a", "b"])).await {
        Err(EmbedError::Provider(message)) => assert!(message.contains("1 vectors for 2 texts"), "{message}"),
        other => panic!("expected a provider error, got {other:?}"),
    }
}

#[tokio::test]
async fn refusals_are_final() {
    let server = Scripted::start(vec![
        Reply::Status(400, Vec::new(), r#"{"error":{"message":"input too long"}}"#),
        Reply::Status(401, Vec::new(), r#"{"error":{"message":"invalid api key"}}"#),
    ])
    .await;
    let embedder = embedder(config(&server));
    match embedder.embed(&texts(&["a"])).await {
        Err(EmbedError::BadInput(message)) => assert!(message.contains("input too long"), "{message}"),
        other => panic!("expected bad input, got {other:?}"),
    }
    match embedder.embed(&texts(&["a"])).await {
        Err(error @ EmbedError::Provider(_)) => {
            assert!(!error.is_transient());
            assert!(error.to_string().contains("invalid api key"), "{error}");
        }
        other => panic!("expected a provider error, got {other:?}"),
    }
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn empty_texts_are_refused_before_any_request() {
    let server = Scripted::start(Vec::new()).await;
    let embedder = embedder(config(&server));
    assert!(matches!(embedder.embed(&texts(&["a", ""])).await, Err(EmbedError::BadInput(_))));
    assert!(embedded(&embedder, &[]).await.is_empty());
    assert!(server.seen().is_empty());
}

#[test]
fn token_estimates_err_high_for_english() {
    let embedder =
        OpenAiEmbedder::new(OpenAiEmbedConfig::new("http://127.0.0.1:9/v1", "m", 8)).unwrap_or_else(|e| panic!("{e}"));
    // "What is the return policy?" is 6 tokens for OpenAI's tokenizers.
    assert!(embedder.count_tokens("What is the return policy?") >= 6);
    assert_eq!(embedder.count_tokens(""), 0);
    assert_eq!(embedder.max_input_tokens(), 8191);
}
