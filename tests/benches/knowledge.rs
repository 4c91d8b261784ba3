//! Knowledge benchmarks, each against its issue-14 target, side by side
//! where a peer is named:
//!
//! - `embed`: all-MiniLM-L6-v2 through our candle implementation and
//!   through the reference Python `sentence-transformers` on the same
//!   256-token chunks, batch 32, on this machine; chunks/s and the cosine
//!   agreement of every vector (target: ours at least as fast). Python runs
//!   when `ALATAR_BENCH_PYTHON` names an interpreter with
//!   sentence-transformers (see `scripts/embed-bench.py`).
//! - `ingest`: a 10-page PDF from upload to `INGESTED` with the local model
//!   and no LLM (target ≤ 2 s), then 100 uploads at once, all ingested.
//! - `search`: 100,000 chunks × 384 (MiniLM vectors of generated product
//!   texts; a chunk's vector is the normalised mean of its sentences'
//!   vectors) in one collection, on PostgreSQL (HNSW) and on SQLite (the
//!   embedded index): `searchDocuments` HYBRID top-10 through GraphQL,
//!   p50/p95 (target p95 ≤ 20 ms), the raw pgvector statement as the floor,
//!   and recall@10 of the vector retriever against an exact scan (target
//!   ≥ 0.95).
//!
//! - `chat`: an offline answer (no LLM: extractive, with citations) from
//!   `sendChatMessage` to its first streamed piece and to its end, read from
//!   the same stream `chatMessageUpdates` serves (target: first piece
//!   ≤ 200 ms); then the same documents answered by a second instance on
//!   the same database whose model is a scripted OpenAI-compatible server
//!   streaming its first token 500 ms after the request (then a piece every
//!   20 ms), read as a client reads it: the `chatMessageUpdates`
//!   subscription over a WebSocket (graphql-transport-ws), 20 answers after
//!   5 to warm up (target: first piece ≤ 2 s).
//!
//! Run: `bash scripts/bench.sh knowledge` (or `cargo bench -p alatar-tests
//! --bench knowledge` with the services running and the model fetched);
//! `ALATAR_BENCH_ONLY=embed|ingest|chat|search` runs one part,
//! `ALATAR_BENCH_CHUNKS` changes the 100,000.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, Statement, TransactionTrait, Value as DbValue,
};
use serde_json::{Value, json};
use uuid::Uuid;

use alatar_agents::knowledge::embed::{Embedder, MiniLm, MiniLmOptions};
use alatar_agents::knowledge::extract::samples::text_pdf;
use alatar_agents::knowledge::search::vector::{Nearest, normalized, postgres};
use alatar_agents::knowledge::vectors::{self, Space, Unembedded};
use alatar_entity::{AccountScope, user};
use alatar_server::Application;
use alatar_tests::fake_llm::{FakeLlm, Reply, chunks};
use alatar_tests::{Backend, TestApp, minilm_dir, percentile, with_local_embeddings};

/// The same allocator as the `alatar` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const QUERIES: usize = 200;

/// A small deterministic generator (xorshift64*), so every run and both
/// engines get the same texts.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
}

const ADJECTIVES: [&str; 16] = [
    "organic",
    "waterproof",
    "handmade",
    "lightweight",
    "recycled",
    "vintage",
    "insulated",
    "stretchy",
    "breathable",
    "durable",
    "soft",
    "rugged",
    "slim",
    "oversized",
    "washable",
    "compact",
];
const MATERIALS: [&str; 12] =
    ["cotton", "wool", "leather", "linen", "bamboo", "steel", "ceramic", "oak", "silk", "denim", "cork", "glass"];
const PRODUCTS: [&str; 16] = [
    "jacket", "mug", "backpack", "sweater", "lamp", "wallet", "scarf", "bottle", "sneakers", "blanket", "chair",
    "notebook", "candle", "teapot", "belt", "hat",
];
const CLAIMS: [&str; 12] = [
    "ships within two business days",
    "can be returned within thirty days",
    "is covered by a two year warranty",
    "should be washed cold and dried flat",
    "is made in Portugal by a family workshop",
    "comes in five colours and three sizes",
    "is restocked every month",
    "is dishwasher safe",
    "needs oiling twice a year",
    "is exchanged free of charge once",
    "is not eligible for discounts",
    "arrives in plastic-free packaging",
];

fn sentence(rng: &mut Rng) -> String {
    format!("The {} {} {} {}.", rng.pick(&ADJECTIVES), rng.pick(&MATERIALS), rng.pick(&PRODUCTS), rng.pick(&CLAIMS))
}

/// A chunk of a product sheet: three to five sentences.
fn chunk_text(rng: &mut Rng) -> String {
    let n = 3 + (rng.next() % 3) as usize;
    (0..n).map(|_| sentence(rng)).collect::<Vec<_>>().join(" ")
}

fn only(part: &str) -> bool {
    std::env::var("ALATAR_BENCH_ONLY").map_or(true, |o| o == part)
}

fn stats(label: &str, mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    let (p50, p95, p99) = (percentile(&ms, 0.50), percentile(&ms, 0.95), percentile(&ms, 0.99));
    println!("{label}: n={} p50 {p50:.2} ms, p95 {p95:.2} ms, p99 {p99:.2} ms", ms.len());
    (p50, p95)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    assert!(MiniLm::is_present(&minilm_dir()), "run `bash scripts/model.sh` first");
    // `ALATAR_BENCH_BATCH` tries another batch size than the default.
    let mut options = MiniLmOptions::default();
    if let Some(batch) = std::env::var("ALATAR_BENCH_BATCH").ok().and_then(|b| b.parse().ok()) {
        options.batch_size = batch;
    }
    let model = Arc::new(MiniLm::open(minilm_dir(), options).await.unwrap_or_else(|e| panic!("{e}")));
    if only("embed") {
        embed(&model).await;
    }
    if only("ingest") {
        ingest().await;
    }
    if only("chat") {
        chat().await;
    }
    if only("search") {
        let chunks: usize = std::env::var("ALATAR_BENCH_CHUNKS").ok().and_then(|n| n.parse().ok()).unwrap_or(100_000);
        let corpus = Corpus::load_or_embed(&model, chunks).await;
        for backend in [Backend::Postgres, Backend::Sqlite] {
            search(backend, &corpus, &model).await;
        }
    }
}

// ---- embedding throughput ------------------------------------------------

async fn embed(model: &MiniLm) {
    let mut rng = Rng(7);
    // Long enough that every text fills the 256-token window.
    let chunks: Vec<String> =
        (0..320).map(|_| (0..24).map(|_| sentence(&mut rng)).collect::<Vec<_>>().join(" ")).collect();
    let tokens = model.count_tokens(&chunks[0]);
    model.embed(&chunks[..32]).await.unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let mut ours = Vec::new();
    for batch in chunks.chunks(32) {
        ours.extend(model.embed(batch).await.unwrap_or_else(|e| panic!("{e}")));
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "embed, candle: {} chunks of >= 256 tokens ({tokens} before truncation), batch 32: {:.1} chunks/s ({elapsed:.2} s)",
        chunks.len(),
        chunks.len() as f64 / elapsed
    );
    // What every search pays first: one short question.
    let questions: Vec<String> =
        (0..200).map(|i| format!("which mugs ship to Berlin in {} days?", i % 9 + 2)).collect();
    let mut ms = Vec::with_capacity(questions.len());
    for question in &questions {
        let started = Instant::now();
        model.embed(std::slice::from_ref(question)).await.unwrap_or_else(|e| panic!("{e}"));
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    stats("embed, one short question", ms);
    let Ok(python) = std::env::var("ALATAR_BENCH_PYTHON") else {
        println!("embed, sentence-transformers: skipped (set ALATAR_BENCH_PYTHON)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("alatar-embed-bench-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let (input, output) = (dir.join("chunks.json"), dir.join("vectors.json"));
    std::fs::write(&input, serde_json::to_vec(&chunks).unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/embed-bench.py");
    let status = std::process::Command::new(python)
        .arg(script)
        .arg(&input)
        .arg(&output)
        .arg(minilm_dir())
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "embed-bench.py failed");
    let theirs: Vec<Vec<f32>> =
        serde_json::from_slice(&std::fs::read(&output).unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    let cosines: Vec<f32> =
        ours.iter().zip(&theirs).map(|(a, b)| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>()).collect();
    let worst = cosines.iter().copied().fold(f32::INFINITY, f32::min);
    println!("embed, agreement: {} vectors, least cosine {worst:.7}", cosines.len());
    let _ = std::fs::remove_dir_all(dir);
}

// ---- ingestion -------------------------------------------------------------

async fn uploaded(app: &TestApp, token: &str, collection: &str, name: &str, bytes: &[u8]) -> String {
    let answer = app.upload_document(token, collection, name, bytes, "id").await.ok();
    answer.data("/uploadDocument/id").as_str().unwrap_or_default().to_owned()
}

async fn wait_ingested(app: &TestApp, token: &str, ids: &[String], limit: Duration) -> Duration {
    let started = Instant::now();
    let query = "query($id: ID!) { document(id: $id) { status failureReason } }";
    let mut left: Vec<&String> = ids.iter().collect();
    while !left.is_empty() {
        let mut still = Vec::new();
        for id in left {
            let found = app.gql(query, json!({ "id": id }), Some(token)).await;
            match found.data("/document/status").as_str() {
                Some("INGESTED") => {}
                Some("FAILED") => panic!("{id} failed: {}", found.body),
                _ => still.push(id),
            }
        }
        left = still;
        assert!(started.elapsed() < limit, "{} documents not ingested after {limit:?}", left.len());
        if !left.is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    started.elapsed()
}

async fn ingest() {
    let app = TestApp::with_config(Backend::Sqlite, with_local_embeddings).await;
    let (token, _, _) = app.register("bench@ingest.example").await;
    let create = "mutation($n: String!) { createCollection(name: $n) { id } }";
    let collection = app.gql(create, json!({ "n": "Sheets" }), Some(&token)).await.ok();
    let collection = collection.data("/createCollection/id").as_str().unwrap_or_default().to_owned();
    let mut rng = Rng(11);
    let pages: Vec<String> =
        (0..10).map(|_| (0..24).map(|_| sentence(&mut rng)).collect::<Vec<_>>().join("\n")).collect();
    let refs: Vec<&str> = pages.iter().map(String::as_str).collect();
    let pdf_bytes = text_pdf(&refs).len();
    // Warm the model and the database once.
    let warm = uploaded(&app, &token, &collection, "warm.pdf", &text_pdf(&refs[..1])).await;
    wait_ingested(&app, &token, &[warm], Duration::from_secs(60)).await;
    let mut runs = Vec::new();
    for i in 0..5 {
        let started = Instant::now();
        // Each upload its own bytes (the same file twice is a CONFLICT).
        let mut numbered = refs.clone();
        let cover = format!("Product sheet, edition {i}");
        numbered[0] = &cover;
        let pdf = text_pdf(&numbered);
        let id = uploaded(&app, &token, &collection, &format!("sheet-{i}.pdf"), &pdf).await;
        wait_ingested(&app, &token, &[id], Duration::from_secs(60)).await;
        runs.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    println!("ingest: 10-page PDF (~{pdf_bytes} bytes) upload to INGESTED, local model, SQLite:");
    stats("ingest, one PDF", runs);

    let started = Instant::now();
    let uploads = (0..100).map(|i| {
        let (app, token, collection) = (&app, &token, &collection);
        let body = format!("Note {i}. {}", chunk_text(&mut Rng(100 + i)));
        async move { uploaded(app, token, collection, &format!("note-{i}.txt"), body.as_bytes()).await }
    });
    let ids: Vec<String> = futures_util::future::join_all(uploads).await;
    let accepted = started.elapsed();
    assert_eq!(ids.iter().filter(|id| !id.is_empty()).count(), 100, "an upload was refused");
    wait_ingested(&app, &token, &ids, Duration::from_secs(600)).await;
    println!(
        "ingest, 100 concurrent uploads: accepted in {:.2} s, all 100 INGESTED in {:.2} s",
        accepted.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

// ---- chat ------------------------------------------------------------------

async fn chat() {
    use alatar_schema::service::knowledge::chat::{ChatUpdateKind, chat_message_updates};
    use futures_util::StreamExt;

    let app = TestApp::with_config(Backend::Sqlite, with_local_embeddings).await;
    let (token, _, user_id) = app.register("bench@chat.example").await;
    let scope = AccountScope::new(account_of(&app.db.conn, &user_id).await);
    let create = "mutation($n: String!) { createCollection(name: $n) { id } }";
    let collection = app.gql(create, json!({ "n": "Policies" }), Some(&token)).await.ok();
    let collection = collection.data("/createCollection/id").as_str().unwrap_or_default().to_owned();
    let pdf = text_pdf(&[
        "Return policy\nItems can be returned within thirty days of delivery.\nThey must be unworn.",
        "Exchanges\nSizes can be exchanged once, free of charge.",
    ]);
    let id = uploaded(&app, &token, &collection, "returns.pdf", &pdf).await;
    wait_ingested(&app, &token, &[id], Duration::from_secs(60)).await;
    let session = "mutation($c: ID!) { createChatSession(collectionId: $c) { id } }";
    let send = "mutation($s: ID!, $t: String!) { sendChatMessage(sessionId: $s, content: $t) { id } }";
    let (mut first, mut end) = (Vec::new(), Vec::new());
    for i in 0..30 {
        let created = app.gql(session, json!({ "c": collection }), Some(&token)).await.ok();
        let session_id = created.data("/createChatSession/id").as_str().unwrap_or_default().to_owned();
        let mut stream = Box::pin(chat_message_updates(
            app.pipeline().clone(),
            scope,
            Uuid::parse_str(&session_id).unwrap_or_default(),
            None,
        ));
        let started = Instant::now();
        app.gql(send, json!({ "s": session_id, "t": "Can I exchange a size?" }), Some(&token)).await.ok();
        let mut first_piece = None;
        loop {
            let update = tokio::time::timeout(Duration::from_secs(30), stream.next()).await;
            let update = update.ok().flatten().unwrap_or_else(|| panic!("no end")).unwrap_or_else(|e| panic!("{e}"));
            match update.kind {
                ChatUpdateKind::Delta => {
                    first_piece.get_or_insert(started.elapsed());
                }
                ChatUpdateKind::Completed => break,
                other => panic!("{other:?}: {update:?}"),
            }
        }
        // The first answers warm the model and the caches.
        if i >= 5 {
            first.push(first_piece.unwrap_or_else(|| panic!("no piece")).as_secs_f64() * 1000.0);
            end.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    stats("chat, offline: sendChatMessage to the first streamed piece", first);
    stats("chat, offline: sendChatMessage to the completed answer", end);
    chat_behind_a_slow_model(&app, &token, &collection).await;
}

/// The scripted model's time to its first token.
const MODEL_LATENCY: Duration = Duration::from_millis(500);
/// Answers measured behind it, after [`WARM_ANSWERS`].
const SLOW_ANSWERS: usize = 20;
/// Answers not measured: the first warm the model client and the caches.
const WARM_ANSWERS: usize = 5;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A GraphQL request through `router` as `token`'s user.
async fn gql_on(router: &axum::Router, query: &str, variables: Value, token: &str) -> Value {
    use tower::ServiceExt;
    let request = axum::http::Request::post("/graphql")
        .header("content-type", "application/json")
        .header("accept", "application/graphql-response+json")
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::from(json!({ "query": query, "variables": variables }).to_string()))
        .unwrap_or_else(|e| panic!("{e}"));
    let response = router.clone().oneshot(request).await.unwrap_or_else(|e| match e {});
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}"))
}

/// A graphql-transport-ws connection to `port` as `token`'s user,
/// subscribed (as `"1"`) to `chatMessageUpdates` of `session`.
async fn subscribe(port: u16, token: &str, session: &str) -> Socket {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://127.0.0.1:{port}/graphql").into_client_request().unwrap_or_else(|e| panic!("{e}"));
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap_or_else(|e| panic!("{e}")));
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap_or_else(|e| panic!("{e}"));
    let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } });
    socket.send(Message::Text(init.to_string().into())).await.unwrap_or_else(|e| panic!("{e}"));
    let ack = next_message(&mut socket).await;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    let query = "subscription($s: ID!) { chatMessageUpdates(sessionId: $s) { kind messageId delta } }";
    let payload = json!({ "query": query, "variables": { "s": session } });
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": payload });
    socket.send(Message::Text(subscribe.to_string().into())).await.unwrap_or_else(|e| panic!("{e}"));
    socket
}

/// The next protocol message on `socket` other than a keep-alive.
async fn next_message(socket: &mut Socket) -> Value {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .unwrap_or_else(|_| panic!("nothing on the socket within 30 s"));
        match message {
            Some(Ok(Message::Text(text))) => {
                let value: Value = serde_json::from_str(&text).unwrap_or_default();
                if !matches!(value["type"].as_str(), Some("ka" | "ping" | "pong")) {
                    return value;
                }
            }
            Some(Ok(Message::Close(frame))) => panic!("closed: {frame:?}"),
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("{e}"),
            None => panic!("the socket ended"),
        }
    }
}

/// The same collection answered by another instance on the same database
/// whose model is a scripted OpenAI-compatible server that streams its
/// first token [`MODEL_LATENCY`] after the request: `sendChatMessage` to
/// the first `DELTA` and to `COMPLETED` on the `chatMessageUpdates`
/// subscription, over a WebSocket as a client reads it.
async fn chat_behind_a_slow_model(app: &TestApp, token: &str, collection: &str) {
    let fake = FakeLlm::repeating(Reply::Streamed {
        first_after: MODEL_LATENCY,
        between: Duration::from_millis(20),
        events: chunks(&["Sizes can be exchanged ", "once, ", "free of charge [1]."]),
    })
    .await;
    let mut config = alatar_tests::test_config(&app.db.dir);
    with_local_embeddings(&mut config);
    config.llm.api_key = Some("bench-key".to_owned().into());
    config.llm.base_url = fake.base_url.clone();
    config.llm.max_retries = 0;
    config.log.level = "error".into();
    // The first instance's worker did the documents' work already.
    config.pipeline.worker = false;
    let slow = Application::build_with_database(config, app.db.conn.clone())
        .await
        .unwrap_or_else(|e| panic!("build the second instance: {e:#}"));
    let router = slow.router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    let served = router.clone();
    tokio::spawn(async move { axum::serve(listener, served).await });

    let create = "mutation($c: ID!) { createChatSession(collectionId: $c) { id } }";
    let created = gql_on(&router, create, json!({ "c": collection }), token).await;
    let session = created["data"]["createChatSession"]["id"].as_str().unwrap_or_else(|| panic!("{created}")).to_owned();
    let mut socket = subscribe(port, token, &session).await;
    // The subscription is set up before the first message goes (pieces are
    // live only).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let send = "mutation($s: ID!, $t: String!) { sendChatMessage(sessionId: $s, content: $t) { id } }";
    let (mut first, mut end) = (Vec::new(), Vec::new());
    for i in 0..WARM_ANSWERS + SLOW_ANSWERS {
        let started = Instant::now();
        let sent = gql_on(&router, send, json!({ "s": session, "t": "Can I exchange a size?" }), token).await;
        assert!(sent.get("errors").is_none(), "{sent}");
        let mut first_piece = None;
        loop {
            let message = next_message(&mut socket).await;
            assert_eq!(message["type"], "next", "{message}");
            let update = &message["payload"]["data"]["chatMessageUpdates"];
            match update["kind"].as_str() {
                Some("DELTA") => {
                    first_piece.get_or_insert(started.elapsed());
                }
                Some("COMPLETED") => break,
                _ => panic!("unexpected update: {message}"),
            }
        }
        if i >= WARM_ANSWERS {
            first.push(first_piece.unwrap_or_else(|| panic!("no piece")).as_secs_f64() * 1000.0);
            end.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    // Every answer was the model's (nothing retrieved would not ask it).
    assert_eq!(fake.requests().len(), WARM_ANSWERS + SLOW_ANSWERS, "answers not written by the model");
    let label = format!("chat, scripted model ({} ms to its first token)", MODEL_LATENCY.as_millis());
    stats(&format!("{label}: sendChatMessage to the first piece on the subscription"), first);
    stats(&format!("{label}: sendChatMessage to the completed answer"), end);
}

// ---- search ----------------------------------------------------------------

/// The generated chunks and their MiniLM vectors, cached on disk (the
/// embedding takes minutes and is the same every run).
struct Corpus {
    texts: Vec<String>,
    vectors: Vec<Vec<f32>>,
    queries: Vec<String>,
}

impl Corpus {
    async fn load_or_embed(model: &MiniLm, n: usize) -> Self {
        let mut rng = Rng(42);
        // Each chunk as its sentences' indices into the sentence vocabulary.
        let mut vocabulary: Vec<String> = Vec::new();
        let mut known: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        let mut chunks: Vec<Vec<usize>> = Vec::with_capacity(n);
        for _ in 0..n {
            let count = 3 + (rng.next() % 3) as usize;
            let ids = (0..count)
                .map(|_| {
                    let text = sentence(&mut rng);
                    let next = vocabulary.len();
                    *known.entry(text.clone()).or_insert_with(|| {
                        vocabulary.push(text);
                        next
                    })
                })
                .collect();
            chunks.push(ids);
        }
        let texts: Vec<String> = chunks
            .iter()
            .map(|ids| ids.iter().map(|&i| vocabulary[i].as_str()).collect::<Vec<_>>().join(" "))
            .collect();
        let queries: Vec<String> = (0..QUERIES)
            .map(|_| format!("{} {} {}", rng.pick(&MATERIALS), rng.pick(&PRODUCTS), rng.pick(&CLAIMS)))
            .collect();
        let dimension = model.dimension();
        let cache = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../target/bench-sentences-{}.f32", vocabulary.len()));
        let sentence_vectors: Vec<Vec<f32>> = match std::fs::read(&cache) {
            Ok(bytes) if bytes.len() == vocabulary.len() * dimension * 4 => {
                let all = vectors::from_le_bytes(&bytes).unwrap_or_default();
                all.chunks_exact(dimension).map(<[f32]>::to_vec).collect()
            }
            _ => {
                let started = Instant::now();
                let mut found = Vec::with_capacity(vocabulary.len());
                for batch in vocabulary.chunks(256) {
                    found.extend(model.embed(batch).await.unwrap_or_else(|e| panic!("{e}")));
                }
                println!(
                    "search: embedded {} distinct sentences in {:.0} s",
                    vocabulary.len(),
                    started.elapsed().as_secs_f64()
                );
                let bytes: Vec<u8> = found.iter().flat_map(|v| vectors::to_le_bytes(v)).collect();
                let _ = std::fs::write(&cache, bytes);
                found
            }
        };
        // A chunk's vector: the normalised mean of its sentences' MiniLM
        // vectors (embedding 100,000 whole chunks takes half an hour here;
        // the index is measured on vectors of the model's own space).
        let vectors = chunks
            .iter()
            .map(|ids| {
                let mut sum = vec![0.0f32; dimension];
                for &i in ids {
                    for (s, x) in sum.iter_mut().zip(&sentence_vectors[i]) {
                        *s += x;
                    }
                }
                normalized(&sum)
            })
            .collect();
        println!("search: {n} chunks over {} distinct sentences", vocabulary.len());
        Self { texts, vectors, queries }
    }
}

async fn account_of(db: &DatabaseConnection, user_id: &str) -> Uuid {
    let id = Uuid::parse_str(user_id).unwrap_or_default();
    user::Entity::find_by_id(id).one(db).await.ok().flatten().map(|u| u.account_id).unwrap_or_else(|| panic!("no user"))
}

fn sql(backend: DbBackend, text: &str) -> String {
    if backend == DbBackend::Postgres { text.to_owned() } else { text.replace('$', "?") }
}

/// Loads the corpus into one collection of `account`: documents of 1,000
/// chunks, the chunks (full-text rows by the engine's own means), the
/// vectors, the collection bound to MiniLM.
async fn load(db: &DatabaseConnection, account: Uuid, collection: Uuid, corpus: &Corpus, space: &Space) {
    let backend = db.get_database_backend();
    let scope = AccountScope::new(account);
    let started = Instant::now();
    let now = chrono::Utc::now();
    for (d, texts) in corpus.texts.chunks(1_000).enumerate() {
        let document = Uuid::now_v7();
        let txn = db.begin().await.unwrap_or_else(|e| panic!("{e}"));
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            sql(
                backend,
                "INSERT INTO documents (id, account_id, collection_id, filename, content_type, byte_size, sha256, \
                 status, progress, chunk_count, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 'text/plain', $5, $6, 'INGESTED', 100, $7, $8, $8)",
            ),
            [
                document.into(),
                account.into(),
                collection.into(),
                format!("sheet-{d}.txt").into(),
                (texts.len() as i64 * 200).into(),
                format!("{d:064}").into(),
                (texts.len() as i32).into(),
                now.into(),
            ],
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let mut chunks = Vec::new();
        for rows in texts.chunks(250) {
            let mut values: Vec<DbValue> = Vec::new();
            let mut tuples = Vec::new();
            for text in rows {
                let id = Uuid::now_v7();
                let n = values.len();
                tuples.push(format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, 0, ${}, ${})",
                    n + 1,
                    n + 2,
                    n + 3,
                    n + 4,
                    n + 5,
                    n + 6,
                    n + 7,
                    n + 8
                ));
                let ordinal = chunks.len() as i32;
                values.extend([
                    id.into(),
                    account.into(),
                    document.into(),
                    collection.into(),
                    ordinal.into(),
                    text.clone().into(),
                    (text.chars().count() as i32).into(),
                    60i32.into(),
                ]);
                chunks.push(Unembedded {
                    chunk_id: id,
                    document_id: document,
                    collection_id: collection,
                    text: text.clone(),
                });
            }
            let statement = format!(
                "INSERT INTO document_chunks (id, account_id, document_id, collection_id, ordinal, text, char_start, \
                 char_end, token_count) VALUES {}",
                tuples.join(", ")
            );
            txn.execute_raw(Statement::from_sql_and_values(backend, sql(backend, &statement), values))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let first = d * 1_000;
        for (i, batch) in chunks.chunks(250).enumerate() {
            let from = first + i * 250;
            vectors::store(&txn, scope, space, batch, &corpus.vectors[from..from + batch.len()])
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        txn.commit().await.unwrap_or_else(|e| panic!("{e}"));
    }
    vectors::bind_collection(db, scope, collection, space).await.unwrap_or_else(|e| panic!("{e}"));
    if backend == DbBackend::Postgres {
        db.execute_unprepared("ANALYZE document_chunks; ANALYZE chunk_embeddings")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    println!("search, {backend:?}: loaded {} chunks in {:.0} s", corpus.texts.len(), started.elapsed().as_secs_f64());
}

/// The exact top-10 of `query` over the corpus.
fn exact_top10(corpus: &Corpus, query: &[f32]) -> Vec<usize> {
    let q = normalized(query);
    let mut scored: Vec<(f32, usize)> = corpus
        .vectors
        .iter()
        .enumerate()
        .map(|(i, v)| (v.iter().zip(&q).map(|(a, b)| a * b).sum::<f32>(), i))
        .collect();
    scored.select_nth_unstable_by(10, |a, b| b.0.total_cmp(&a.0));
    scored.truncate(10);
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().map(|(_, i)| i).collect()
}

async fn search(backend: Backend, corpus: &Corpus, model: &MiniLm) {
    let app = TestApp::with_config(backend, |config| {
        with_local_embeddings(config);
        config.log.level = "error".into();
    })
    .await;
    let db = app.db.conn.clone();
    let engine = db.get_database_backend();
    let (token, _, user_id) = app.register("bench@search.example").await;
    let account = account_of(&db, &user_id).await;
    let create = "mutation($n: String!) { createCollection(name: $n) { id } }";
    let collection = app.gql(create, json!({ "n": "Catalogue" }), Some(&token)).await.ok();
    let collection_id = collection.data("/createCollection/id").as_str().unwrap_or_default().to_owned();
    let collection = Uuid::parse_str(&collection_id).unwrap_or_default();
    let space = Space::of(model);
    load(&db, account, collection, corpus, &space).await;

    // Chunk ids by corpus position, for recall.
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            engine,
            sql(engine, "SELECT id, text FROM document_chunks WHERE collection_id = $1"),
            [collection.into()],
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut by_text: std::collections::HashMap<String, Vec<Uuid>> = std::collections::HashMap::new();
    for row in &rows {
        let id: Uuid = row.try_get("", "id").unwrap_or_default();
        let text: String = row.try_get("", "text").unwrap_or_default();
        by_text.entry(text).or_default().push(id);
    }

    let query_vectors = model.embed(&corpus.queries).await.unwrap_or_else(|e| panic!("{e}"));
    let graphql = "query($c: ID!, $q: String!, $mode: SearchMode!) {
        searchDocuments(collectionId: $c, query: $q, first: 10, mode: $mode) { retrieval hits { chunkId } } }";
    // Warm: the embedded index loads the collection on its first search.
    let warm_started = Instant::now();
    let warm =
        app.gql(graphql, json!({ "c": collection_id, "q": corpus.queries[0], "mode": "VECTOR" }), Some(&token)).await;
    assert_eq!(warm.data("/searchDocuments/retrieval"), &json!("VECTOR"), "{}", warm.body);
    println!(
        "search, {engine:?}: first search (loads the embedded index on SQLite) {:.0} ms",
        warm_started.elapsed().as_secs_f64() * 1000.0
    );

    let mut recalls = Vec::new();
    for mode in ["VECTOR", "HYBRID"] {
        let mut latencies = Vec::new();
        for (i, query) in corpus.queries.iter().enumerate() {
            let started = Instant::now();
            let answer = app.gql(graphql, json!({ "c": collection_id, "q": query, "mode": mode }), Some(&token)).await;
            latencies.push(started.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(answer.data("/searchDocuments/retrieval"), &json!(mode), "{}", answer.body);
            if mode == "VECTOR" {
                let found: HashSet<Uuid> = answer
                    .data("/searchDocuments/hits")
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|h| h["chunkId"].as_str().and_then(|s| Uuid::parse_str(s).ok()))
                    .collect();
                let exact = exact_top10(corpus, &query_vectors[i]);
                // Generated texts repeat: any chunk with an exact neighbour's text is as near.
                let hit = exact
                    .iter()
                    .filter(|&&j| {
                        by_text.get(&corpus.texts[j]).is_some_and(|ids| ids.iter().any(|id| found.contains(id)))
                    })
                    .count();
                recalls.push(hit as f64 / exact.len() as f64);
            }
        }
        stats(
            &format!("search, {engine:?}, GraphQL searchDocuments {mode} top-10 over {} chunks", corpus.texts.len()),
            latencies,
        );
    }
    println!(
        "search, {engine:?}: recall@10 of the vector retriever against an exact scan: {:.4}",
        recalls.iter().sum::<f64>() / recalls.len() as f64
    );

    if engine == DbBackend::Postgres {
        let mut latencies = Vec::new();
        for vector in &query_vectors {
            let nearest = Nearest {
                scope: AccountScope::new(account),
                collection_id: collection,
                space: &space,
                vector,
                document_ids: None,
                limit: 10,
            };
            let started = Instant::now();
            let txn = db.begin().await.unwrap_or_else(|e| panic!("{e}"));
            txn.execute_unprepared(&postgres::settings(10)).await.unwrap_or_else(|e| panic!("{e}"));
            let rows = txn.query_all_raw(postgres::statement(&nearest)).await.unwrap_or_else(|e| panic!("{e}"));
            txn.commit().await.unwrap_or_else(|e| panic!("{e}"));
            latencies.push(started.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(rows.len(), 10);
        }
        stats("search, raw pgvector statement (HNSW, no embedding, no GraphQL)", latencies);
        let explain = db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                format!(
                    "EXPLAIN {}",
                    postgres::statement(&Nearest {
                        scope: AccountScope::new(account),
                        collection_id: collection,
                        space: &space,
                        vector: &query_vectors[0],
                        document_ids: None,
                        limit: 10
                    })
                    .sql
                ),
                postgres::statement(&Nearest {
                    scope: AccountScope::new(account),
                    collection_id: collection,
                    space: &space,
                    vector: &query_vectors[0],
                    document_ids: None,
                    limit: 10,
                })
                .values
                .map(|v| v.0)
                .unwrap_or_default(),
            ))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let plan: Vec<String> = explain.iter().filter_map(|r| r.try_get_by_index::<String>(0).ok()).collect();
        println!("search, plan: {}", plan.join(" | "));
    }
    let mut embed_ms = Vec::new();
    for query in corpus.queries.iter().take(100) {
        let started = Instant::now();
        model.embed(std::slice::from_ref(query)).await.unwrap_or_else(|e| panic!("{e}"));
        embed_ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    stats("search, of which embedding one query", embed_ms);
    let _: Option<Value> = None;
}
