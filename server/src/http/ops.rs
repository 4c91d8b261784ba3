//! `/health` (the process is up), `/readyz` (its dependencies answer) and
//! `/metrics` (Prometheus).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

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
