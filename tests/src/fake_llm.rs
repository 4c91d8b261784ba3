//! A scripted OpenAI-compatible chat server for tests (there is no network
//! here): it answers `POST /v1/chat/completions` with the next scripted
//! reply (or, once the script is done, the reply it repeats, if any) and
//! records every request body. [`Reply::Streamed`] is a model's latency:
//! the headers at once, the first event after a delay, the rest paced.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use futures_util::StreamExt;
use serde_json::{Value, json};

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A JSON body with a status.
    Json(u16, Value),
    /// Server-sent events, then `[DONE]`.
    Sse(Vec<Value>),
    /// Waits, then answers.
    Slow(Duration, Box<Reply>),
    /// Server-sent events written as a streaming model writes them: the
    /// response's headers at once, the first event after `first_after`
    /// (the time to the first token), each next one `between` later, then
    /// `[DONE]`.
    Streamed {
        /// Before the first event.
        first_after: Duration,
        /// Between events.
        between: Duration,
        /// The events (see [`chunks`]).
        events: Vec<Value>,
    },
}

#[derive(Clone, Default)]
struct Script {
    replies: Arc<Mutex<VecDeque<Reply>>>,
    /// Answered once `replies` is empty.
    always: Option<Reply>,
    requests: Arc<Mutex<Vec<Value>>>,
}

/// The running fake.
pub struct FakeLlm {
    /// `http://127.0.0.1:PORT/v1`.
    pub base_url: String,
    script: Script,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn respond(reply: Reply) -> std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>> {
    Box::pin(async move {
        match reply {
            Reply::Json(status, body) => {
                (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), Json(body)).into_response()
            }
            Reply::Sse(events) => {
                let mut text: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
                text.push_str("data: [DONE]\n\n");
                ([(header::CONTENT_TYPE, "text/event-stream")], Body::from(text)).into_response()
            }
            Reply::Slow(delay, reply) => {
                tokio::time::sleep(delay).await;
                respond(*reply).await
            }
            Reply::Streamed { first_after, between, events } => {
                let mut lines: Vec<String> = events.iter().map(|e| format!("data: {e}\n\n")).collect();
                lines.push("data: [DONE]\n\n".to_owned());
                let timed = lines.into_iter().enumerate().map(move |(n, line)| {
                    let delay = if n == 0 { first_after } else { between };
                    (delay, line)
                });
                let paced = futures_util::stream::iter(timed).then(|(delay, line)| async move {
                    tokio::time::sleep(delay).await;
                    Ok::<_, std::convert::Infallible>(line)
                });
                ([(header::CONTENT_TYPE, "text/event-stream")], Body::from_stream(paced)).into_response()
            }
        }
    })
}

async fn completions(State(script): State<Script>, Json(body): Json<Value>) -> Response {
    if let Ok(mut requests) = script.requests.lock() {
        requests.push(body);
    }
    let next = script.replies.lock().ok().and_then(|mut r| r.pop_front()).or_else(|| script.always.clone());
    match next {
        Some(reply) => respond(reply).await,
        None => (StatusCode::INTERNAL_SERVER_ERROR, "script exhausted").into_response(),
    }
}

impl FakeLlm {
    /// Starts the server with `replies`, answered in order.
    pub async fn start(replies: Vec<Reply>) -> Self {
        Self::serve(Script { replies: Arc::new(Mutex::new(replies.into())), ..Script::default() }).await
    }

    /// Starts the server answering every request with `reply`.
    pub async fn repeating(reply: Reply) -> Self {
        Self::serve(Script { always: Some(reply), ..Script::default() }).await
    }

    async fn serve(script: Script) -> Self {
        let app = Router::new().route("/v1/chat/completions", post(completions)).with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base_url: format!("http://127.0.0.1:{port}/v1"), script, task }
    }

    /// Request bodies received so far.
    pub fn requests(&self) -> Vec<Value> {
        self.script.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

fn usage() -> Value {
    json!({ "prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150 })
}

/// A final answer.
pub fn completion(content: &str) -> Value {
    json!({
        "id": "chatcmpl-test", "object": "chat.completion", "created": 1, "model": "scripted",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": content }, "finish_reason": "stop" }],
        "usage": usage(),
    })
}

/// A request to call one tool.
pub fn tool_call(name: &str, arguments: Value) -> Value {
    json!({
        "id": "chatcmpl-test", "object": "chat.completion", "created": 1, "model": "scripted",
        "choices": [{ "index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": null,
            "tool_calls": [{ "id": "call_1", "type": "function", "function": { "name": name, "arguments": arguments.to_string() } }],
        } }],
        "usage": usage(),
    })
}

/// A streamed answer in `parts`.
pub fn chunks(parts: &[&str]) -> Vec<Value> {
    let chunk = |delta: Value, finish: Value| {
        json!({ "id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1, "model": "scripted",
                "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }] })
    };
    let mut events: Vec<Value> =
        parts.iter().map(|p| chunk(json!({ "role": "assistant", "content": p }), Value::Null)).collect();
    events.push(chunk(json!({}), json!("stop")));
    events.push(json!({ "id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1, "model": "scripted", "choices": [], "usage": usage() }));
    events
}

/// An OpenAI error body.
pub fn error(message: &str) -> Value {
    json!({ "error": { "message": message, "type": "rate_limit_error", "param": null, "code": null } })
}
