//! Subscription benchmark: 5,000 concurrent WebSocket subscribers
//! (`analysisRequestUpdates`, graphql-transport-ws) on one `alatar serve`
//! instance; memory per idle subscription and event-to-client latency.
//!
//! Run: `bash scripts/bench.sh` (builds the release binary; needs
//! PostgreSQL, RabbitMQ and Redis). Targets (issue 3): event-to-client p99
//! < 50 ms; memory per idle subscription < 32 KB.
//!
//! Set-up: the server runs with its in-process worker off, so 5,000 submitted
//! requests wait in RabbitMQ while 5,000 subscribers (one per request, as
//! merchants watching their own questions) connect and sit idle; the
//! server's RSS is read before and after. Then an `alatar worker` process
//! starts and works the requests at its own pace, and every event's
//! `createdAt` (set by the worker just before its commit) is compared with
//! the moment a subscriber receives it. Same machine, same clock.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use uuid::Uuid;

use alatar_tests::{Backend, RunningBinary, TestDb, percentile};

const SUBSCRIBERS: usize = 5_000;
const REQUESTS: usize = SUBSCRIBERS;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:").and_then(|v| v.split_whitespace().next()).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

async fn post(base: &str, token: Option<&str>, query: &str, variables: Value) -> Value {
    alatar_tests::post_graphql(base, json!({ "query": query, "variables": variables }), token).await
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let db = TestDb::new(Backend::Postgres).await;
    let namespace = format!("bench-{}.", Uuid::now_v7());
    let env = [
        ("ALATAR_DATABASE_URL", db.url.as_str()),
        ("ALATAR_JWT__SECRET", alatar_tests::TEST_JWT_SECRET),
        ("ALATAR_PIPELINE__QUEUE_NAMESPACE", namespace.as_str()),
        ("ALATAR_LOG__LEVEL", "warn,alatar_server::startup=info"),
        ("ALATAR_RATE_LIMIT__FREE_PER_HOUR", "100000"),
        // All 5,000 subscribers come from one address.
        ("ALATAR_HTTP__MAX_CONNECTIONS_PER_ADDRESS", "100000"),
    ];
    let amqp = alatar_tests::amqp_url();
    let redis = alatar_tests::redis_url();
    let mut server_env: Vec<(&str, &str)> = env.to_vec();
    server_env.extend([
        ("ALATAR_AMQP_URL", amqp.as_str()),
        ("ALATAR_REDIS_URL", redis.as_str()),
        ("ALATAR_PIPELINE__WORKER", "false"),
    ]);
    let server = RunningBinary::start(&db.dir, &server_env);
    let pid = server.pid();

    let token = alatar_tests::register_over_http(&server.base_url, "bench@subscriptions.example").await;
    let store = post(&server.base_url, Some(&token), "mutation { connectDemoStore { id } }", json!({})).await;
    let store = store["data"]["connectDemoStore"]["id"].clone();
    let mut ids = Vec::new();
    for i in 0..REQUESTS {
        let r = post(
            &server.base_url,
            Some(&token),
            "mutation($p: String!, $s: ID!) { submitAnalysisRequest(prompt: $p, storeId: $s) { id } }",
            json!({ "p": format!("How did revenue develop over the last 3 months? #{i}"), "s": store }),
        )
        .await;
        ids.push(r["data"]["submitAnalysisRequest"]["id"].as_str().unwrap_or_default().to_owned());
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rss_kib(pid);

    // Connect and subscribe; every subscriber then waits for events.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, f64)>();
    let (subscribed_tx, mut subscribed_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let started = Instant::now();
    for n in 0..SUBSCRIBERS {
        let url = format!("ws://127.0.0.1:{}/graphql", server.port);
        let token = token.clone();
        let id = ids[n % REQUESTS].clone();
        let tx = tx.clone();
        let subscribed = subscribed_tx.clone();
        tokio::spawn(async move {
            let mut request = url.into_client_request().unwrap_or_else(|e| panic!("{e}"));
            request
                .headers_mut()
                .insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap_or_else(|e| panic!("{e}")));
            let Ok((mut socket, _)) = tokio_tungstenite::connect_async(request).await else { return };
            let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } });
            let _ = socket.send(Message::Text(init.to_string().into())).await;
            let _ = socket.next().await; // connection_ack
            let query = "subscription($id: ID!) { analysisRequestUpdates(requestId: $id, afterSequence: 1) { sequence kind createdAt status } }";
            let subscribe =
                json!({ "id": "1", "type": "subscribe", "payload": { "query": query, "variables": { "id": id } } });
            let _ = socket.send(Message::Text(subscribe.to_string().into())).await;
            let _ = subscribed.send(());
            while let Some(Ok(message)) = socket.next().await {
                let Message::Text(text) = message else { continue };
                let value: Value = serde_json::from_str(&text).unwrap_or_default();
                match value["type"].as_str() {
                    Some("next") => {
                        let event = &value["payload"]["data"]["analysisRequestUpdates"];
                        let at = &event["createdAt"];
                        if let Some(at) = at.as_str().and_then(|s| s.parse::<DateTime<Utc>>().ok()) {
                            let ms = (Utc::now() - at).num_microseconds().unwrap_or(0) as f64 / 1000.0;
                            let _ = tx.send((event["kind"].as_str().unwrap_or_default().to_owned(), ms));
                        }
                        // Proposals wait for a person: the analysis itself is over.
                        if event["status"] == "AWAITING_APPROVAL" {
                            break;
                        }
                    }
                    Some("complete") => break,
                    _ => {}
                }
            }
        });
        if n % 500 == 499 {
            tokio::task::yield_now().await;
        }
    }
    drop(subscribed_tx);
    let mut connected = 0;
    while connected < SUBSCRIBERS
        && tokio::time::timeout(Duration::from_secs(60), subscribed_rx.recv()).await.ok().flatten().is_some()
    {
        connected += 1;
    }
    let connect_time = started.elapsed();
    // Let the server finish setting up every subscription before measuring.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss_kib(pid);

    // Now the work: a separate worker process.
    let mut worker_env: Vec<(&str, &str)> = env.to_vec();
    worker_env.extend([("ALATAR_AMQP_URL", amqp.as_str()), ("ALATAR_REDIS_URL", redis.as_str())]);
    let mut worker = Command::new(alatar_tests::binary_path());
    worker.arg("worker").current_dir(&db.dir).stdout(Stdio::null()).stderr(Stdio::null());
    for (k, v) in &worker_env {
        worker.env(k, v);
    }
    let mut worker = worker.spawn().unwrap_or_else(|e| panic!("{e}"));

    drop(tx);
    let working = Instant::now();
    let mut latencies = Vec::new();
    let mut by_kind = std::collections::BTreeMap::<String, Vec<f64>>::new();
    let deadline = Instant::now() + Duration::from_secs(600);
    while let Ok(Some((kind, ms))) =
        tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), rx.recv()).await
    {
        latencies.push(ms);
        by_kind.entry(kind).or_default().push(ms);
    }
    let worked = working.elapsed();
    let _ = worker.kill();
    let _ = worker.wait();
    latencies.sort_by(f64::total_cmp);

    println!(
        "subscription benchmark: {SUBSCRIBERS} graphql-transport-ws subscribers on one instance, {REQUESTS} requests"
    );
    println!("  subscribed            {connected}/{SUBSCRIBERS} in {:.1} s", connect_time.as_secs_f64());
    println!(
        "  server RSS            {:.1} MiB idle before, {:.1} MiB with the subscribers",
        before as f64 / 1024.0,
        after as f64 / 1024.0
    );
    println!(
        "  per idle subscription {:.1} KiB (connection + subscription; target < 32 KB)",
        (after.saturating_sub(before)) as f64 / connected.max(1) as f64
    );
    println!(
        "  event-to-client       p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} deliveries (target p99 < 50 ms)",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
        latencies.len()
    );
    println!(
        "  event rate            {:.0} deliveries/s ({:.1} s from the worker's start to the last delivery)",
        latencies.len() as f64 / worked.as_secs_f64(),
        worked.as_secs_f64()
    );
    for (kind, mut ms) in by_kind {
        ms.sort_by(f64::total_cmp);
        println!(
            "    {kind:<16} p50 {:5.1} ms, p99 {:5.1} ms over {} deliveries",
            percentile(&ms, 0.5),
            percentile(&ms, 0.99),
            ms.len()
        );
    }
}
