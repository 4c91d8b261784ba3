//! /health, /readyz, /metrics and x-request-id.

use axum::body::Body;
use axum::http::Request;
use serde_json::json;

use alatar_tests::{Backend, TestApp};

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn health_ready_metrics() {
    let app = TestApp::with_config(Backend::Postgres, |c| c.redis_url = Some(alatar_tests::redis_url().into())).await;
    let (status, _, body) = app.send(get("/health")).await;
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).unwrap_or_default()["status"], "ok");
    let (status, _, body) = app.send(get("/readyz")).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let ready: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    assert_eq!(ready["checks"], json!({ "database": true, "redis": true, "queue": null }));

    app.gql("{ __typename }", json!({}), None).await.ok();
    app.gql("{ me { id } }", json!({}), None).await;
    let (_, headers, body) = app.send(get("/metrics")).await;
    let text = String::from_utf8_lossy(&body);
    assert!(headers["content-type"].to_str().unwrap_or_default().contains("openmetrics"));
    assert!(text.contains("alatar_http_requests_total{method=\"POST\",route=\"/graphql\",status=\"200\"}"), "{text}");
    assert!(text.contains("alatar_http_request_duration_seconds_bucket"), "{text}");
    assert!(text.contains("alatar_graphql_operations_total{operation_type=\"query\"} 2"), "{text}");
    assert!(text.contains("alatar_graphql_errors_total{code=\"UNAUTHENTICATED\"} 1"), "{text}");
}

#[tokio::test]
async fn readyz_fails_when_the_database_is_gone() {
    let app = TestApp::new(Backend::Postgres).await;
    let _ = app.db.conn.clone().close().await;
    let (status, _, _) = app.send(get("/readyz")).await;
    assert_eq!(status, 503);
}

#[tokio::test]
async fn request_ids_are_kept_or_generated() {
    let app = TestApp::new(Backend::Sqlite).await;
    let request =
        Request::get("/health").header("x-request-id", "abc-123").body(Body::empty()).unwrap_or_else(|e| panic!("{e}"));
    let (_, headers, _) = app.send(request).await;
    assert_eq!(headers["x-request-id"], "abc-123");
    let (_, headers, _) = app.send(get("/health")).await;
    assert_eq!(headers["x-request-id"].len(), 36);
    let r = app.gql("{ me { id } }", json!({}), None).await;
    assert_eq!(r.body["errors"][0]["extensions"]["requestId"].as_str(), r.headers["x-request-id"].to_str().ok());
}
