//! `/health` (the process is up), `/readyz` (its dependencies answer) and
//! `/metrics` (Prometheus; where and to whom is `metrics.*`, see `router`).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use subtle::ConstantTimeEq;

use super::HttpState;

pub async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn ready(State(state): State<HttpState>) -> Response {
    let database = state.db.ping().await.is_ok();
    let redis = match &state.redis {
        None => None,
        Some(manager) => {
            let mut conn = manager.clone();
            let pong: Result<String, _> = redis::cmd("PING").query_async(&mut conn).await;
            Some(pong.is_ok())
        }
    };
    let queue = match &state.queue {
        None => None,
        Some(queue) => Some(queue.ping().await.is_ok()),
    };
    let ready = database && redis.unwrap_or(true) && queue.unwrap_or(true);
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "checks": { "database": database, "redis": redis, "queue": queue },
    });
    (status, Json(body)).into_response()
}

pub async fn metrics(State(state): State<HttpState>) -> Response {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], state.metrics.render())
        .into_response()
}

/// Lets through requests bearing `Authorization: Bearer <token>`; others get
/// 401. Compared in constant time: the token guards what the API costs and fails.
pub async fn require_token(State(token): State<Arc<SecretString>>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")));
    let expected = token.expose_secret().as_bytes();
    let valid = presented.is_some_and(|presented| bool::from(presented.as_bytes().ct_eq(expected)));
    if valid {
        return next.run(request).await;
    }
    (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))]).into_response()
}
