//! Circuit breakers and client metrics through the real clients: a shop or
//! a model that keeps failing is failed fast, a probe after the cool-down
//! recovers it, and calls, tokens, cost and query cost reach the observer.
//! Through the pipeline: an analysis waits for a shop whose circuit is open
//! (counting no error) and goes on once it is back, or fails as unavailable
//! when it stays down.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::NaiveDate;
use serde_json::{Value, json};

use super::analysis::{QUESTION, assert_settled};
use alatar_agents::breaker::{Breaker, BreakerConfig, Breakers, CircuitOpen, Open};
use alatar_agents::llm::{ChatClient, ChatConfig, LlmError, Price};
use alatar_agents::pipeline::{Pipeline, StoreResolver, Worker};
use alatar_agents::shopify::{AdminClient, ShopDomain, ShopifyApp, oauth};
use alatar_agents::store::{Customer, DateRange, DemoStore, Order, Product, StoreData, StoreError, Tz};
use alatar_agents::telemetry::{ClientObserver, LlmCall};
use alatar_entity::store;
use alatar_tests::fake_llm::{FakeLlm, Reply, completion};
use alatar_tests::fake_shopify::{APP_KEY, APP_SECRET, FakeShopify, Fault, GOOD_CODE};
use alatar_tests::{Backend, TestApp, on_both_backends};
use langchain_rust::schemas::Message;

const SHOP: &str = "alatar-resilience.myshopify.com";
const SHOP_QUERY: &str = "{ shop { currencyCode } }";
const COOL_DOWN: Duration = Duration::from_millis(300);

fn breaker(failures: u32) -> BreakerConfig {
    BreakerConfig { failures, window: Duration::from_secs(60), cool_down: COOL_DOWN }
}

/// What the clients reported.
#[derive(Default)]
struct Recorder {
    llm: Mutex<Vec<(String, u64, u64, f64, bool)>>,
    costs: Mutex<Vec<(String, f64, f64)>>,
    waits: Mutex<Vec<f64>>,
}

impl ClientObserver for Recorder {
    fn llm_call(&self, call: &LlmCall<'_>) {
        if let Ok(mut calls) = self.llm.lock() {
            calls.push((call.model.to_owned(), call.tokens_in, call.tokens_out, call.cost_usd, call.ok));
        }
    }

    fn shopify_cost(&self, shop: &str, requested: f64, actual: f64) {
        if let Ok(mut costs) = self.costs.lock() {
            costs.push((shop.to_owned(), requested, actual));
        }
    }

    fn shopify_throttle_wait(&self, _shop: &str, seconds: f64) {
        if let Ok(mut waits) = self.waits.lock() {
            waits.push(seconds);
        }
    }
}

/// Tried, and failed after its retries.
fn unavailable<T: std::fmt::Debug>(outcome: Result<T, StoreError>) -> String {
    match outcome {
        Err(StoreError::Unavailable(why)) => why,
        other => panic!("expected unavailable, got {other:?}"),
    }
}

/// Not tried: refused by the open circuit.
fn refused<T: std::fmt::Debug>(outcome: Result<T, StoreError>) -> CircuitOpen {
    match outcome {
        Err(StoreError::CircuitOpen(refusal)) => refusal,
        other => panic!("expected a circuit-open refusal, got {other:?}"),
    }
}

/// Three Admin API calls that stay unavailable through their retries open
/// the shop's circuit: the next call fails at once, without reaching the
/// shop, with a retry hint. After the cool-down one probe goes through; a
/// failed probe opens the circuit again, a successful one closes it.
/// Refusals (GraphQL errors) do not count. Costs and throttle waits are
/// reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_shop_is_failed_fast_until_a_probe_succeeds() {
    let fake = FakeShopify::start().await;
    let app = Arc::new(ShopifyApp {
        api_key: APP_KEY.into(),
        api_secret: APP_SECRET.to_owned().into(),
        scopes: vec!["read_products".into()],
        redirect_uri: "http://127.0.0.1/shopify/callback".into(),
        api_version: "2026-10".into(),
        base_url: fake.base_url.clone(),
        timeout: Duration::from_secs(2),
        max_retries: 1,
        backoff: Duration::from_millis(5),
        cache_ttl: Duration::from_secs(60),
        bulk_threshold_days: 60,
        bulk_poll: Duration::from_millis(10),
    });
    let http = reqwest::Client::new();
    let shop = ShopDomain::parse(SHOP).unwrap_or_else(|e| panic!("{e}"));
    let grant = oauth::exchange_code(&app, &http, &shop, GOOD_CODE).await.unwrap_or_else(|e| panic!("{e}"));
    let breakers = Breakers::new("shopify", breaker(3));
    let recorder = Arc::new(Recorder::default());
    let client = || {
        AdminClient::new(http.clone(), app.clone(), shop.clone(), grant.access_token.clone())
            .with_breakers(&breakers)
            .with_observer(recorder.clone())
    };
    let (first, second) = (client(), client());

    // Answers, even refusals, keep the circuit closed.
    fake.fail_next([Fault::Throttled]);
    assert!(first.graphql(SHOP_QUERY, json!({})).await.is_ok(), "a throttled query waits, then runs");
    for _ in 0..3 {
        fake.fail_next([Fault::Error("Field 'nope' doesn't exist on type 'QueryRoot'")]);
        assert!(matches!(first.graphql("{ nope }", json!({})).await, Err(StoreError::Rejected(_))));
    }

    // Three calls out of retries (two attempts each), split over two clients
    // of the shop: they share its breaker.
    fake.fail_next(std::iter::repeat_n(Fault::Status(503), 6));
    for each in [&first, &second, &first] {
        unavailable(each.graphql(SHOP_QUERY, json!({})).await);
    }
    let calls = fake.calls();
    let refusal = refused(second.graphql(SHOP_QUERY, json!({})).await);
    assert_eq!(refusal.provider, format!("Shopify Admin API of {SHOP}"));
    assert!(refusal.retry_in > Duration::ZERO && refusal.retry_in <= COOL_DOWN, "{refusal:?}");
    assert_eq!(refusal.to_string(), format!("Shopify Admin API of {SHOP}: circuit open; retry in 1s"));
    let fresh = client();
    refused(fresh.graphql(SHOP_QUERY, json!({})).await); // a new client too
    assert_eq!(fake.calls(), calls, "failed fast: the shop was not called");

    // A failed probe opens it again.
    tokio::time::sleep(COOL_DOWN + Duration::from_millis(50)).await;
    fake.fail_next([Fault::Status(502), Fault::Status(502)]);
    unavailable(first.graphql(SHOP_QUERY, json!({})).await); // the probe ran, and failed
    assert_eq!(fake.calls(), calls + 2, "one probe, with its retry");
    refused(first.graphql(SHOP_QUERY, json!({})).await);
    assert_eq!(fake.calls(), calls + 2);

    // A successful probe closes it.
    tokio::time::sleep(COOL_DOWN + Duration::from_millis(50)).await;
    for each in [&second, &first, &second] {
        assert!(each.graphql(SHOP_QUERY, json!({})).await.is_ok(), "closed again");
    }
    assert_eq!(fake.calls(), calls + 5);

    let costs = recorder.costs.lock().map(|c| c.clone()).unwrap_or_default();
    assert!(costs.len() >= 5, "every answer with a cost is reported: {costs:?}");
    assert!(costs.iter().all(|(s, requested, actual)| s == SHOP && *requested > 0.0 && *actual <= *requested));
    let waits = recorder.waits.lock().map(|w| w.clone()).unwrap_or_default();
    assert!(!waits.is_empty() && waits.iter().all(|w| *w > 0.0), "the throttled query waited: {waits:?}");
}

fn question() -> Vec<Message> {
    vec![Message::new_human_message("How much did revenue change?")]
}

/// Two model calls that stay unavailable open that model's circuit (not
/// another model's): the next call fails at once with a retry hint; after
/// the cool-down a probe recovers it. Every call is reported with its
/// tokens and estimated cost.
#[tokio::test]
async fn a_failing_model_is_failed_fast_until_a_probe_succeeds() {
    let fake = FakeLlm::start(vec![
        // Hanging answers (our per-attempt timeout): 429s and 5xx are retried
        // inside the OpenAI client langchain uses, out of our count.
        Reply::Slow(Duration::from_secs(3), Box::new(Reply::Json(200, completion("too late")))),
        Reply::Slow(Duration::from_secs(3), Box::new(Reply::Json(200, completion("too late")))),
        Reply::Json(200, completion("the other model answers")),
        Reply::Json(200, completion("recovered")),
    ])
    .await;
    let recorder = Arc::new(Recorder::default());
    let client = ChatClient::new(ChatConfig {
        base_url: fake.base_url.clone(),
        api_key: "test-key".to_owned().into(),
        timeout: Duration::from_millis(300),
        max_retries: 0,
        backoff: Duration::from_millis(10),
        prices: HashMap::from([("acme/other".to_owned(), Price { input: 1.0, output: 2.0 })]),
    })
    .with_breaker(breaker(2))
    .with_observer(recorder.clone());

    for _ in 0..2 {
        let answer = client.complete("acme/m", &question(), &[]).await;
        assert!(matches!(&answer, Err(LlmError::Unavailable(_))), "tried, and failed: {answer:?}");
    }
    let refused = client.stream_text("acme/m", &question()).await;
    let Err(LlmError::CircuitOpen(refusal)) = &refused else { panic!("not tried: {refused:?}") };
    assert_eq!(refusal.to_string(), "model acme/m: circuit open; retry in 1s");
    assert_eq!(fake.requests().len(), 2, "failed fast: the model was not called");

    let other = client.complete("acme/other", &question(), &[]).await;
    assert_eq!(other.ok().map(|r| r.generation).as_deref(), Some("the other model answers"));

    tokio::time::sleep(COOL_DOWN + Duration::from_millis(50)).await;
    let probe = client.complete("acme/m", &question(), &[]).await;
    assert_eq!(probe.ok().map(|r| r.generation).as_deref(), Some("recovered"));
    assert_eq!(fake.requests().len(), 4);

    let calls = recorder.llm.lock().map(|c| c.clone()).unwrap_or_default();
    let failed: Vec<_> = calls.iter().filter(|c| !c.4).collect();
    assert_eq!(failed.len(), 2, "the two failures; the call failed fast was no call: {calls:?}");
    assert!(failed.iter().all(|c| c.0 == "acme/m" && c.1 == 0 && c.2 == 0));
    let priced = calls.iter().find(|c| c.0 == "acme/other").unwrap_or_else(|| panic!("{calls:?}"));
    assert_eq!((priced.1, priced.2), (120, 30));
    assert!((priced.3 - (120.0 + 60.0) / 1_000_000.0).abs() < 1e-12, "{priced:?}");
    assert!(calls.iter().any(|c| c.0 == "acme/m" && c.4 && c.1 == 120), "{calls:?}");
}

const GUARDED_SHOP: &str = "guarded.myshopify.com";

/// The demo shop behind a circuit breaker, as the Admin API client puts a
/// shop: a read the open circuit refuses is not tried, and says when to come
/// back. The first read finds the shop just gone down (another caller's
/// failures opened its circuit); the probe after the cool-down reaches it,
/// and it is back. A `stuck` shop refuses every read: its probes, made
/// elsewhere, keep failing.
struct Guard {
    breaker: Breaker,
    stuck: bool,
    reads: AtomicU32,
    refusals: AtomicU32,
}

impl Guard {
    fn new(stuck: bool) -> Arc<Self> {
        let breaker = Breaker::new(format!("shopify {GUARDED_SHOP}"), breaker(1));
        Arc::new(Self { breaker, stuck, reads: AtomicU32::new(0), refusals: AtomicU32::new(0) })
    }

    fn admit(&self) -> Result<(), StoreError> {
        if self.reads.fetch_add(1, Ordering::SeqCst) == 0 {
            self.breaker.failed();
        }
        let admitted = if self.stuck { Err(Open { retry_in: COOL_DOWN }) } else { self.breaker.admit() };
        if let Err(open) = admitted {
            self.refusals.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::CircuitOpen(open.refusing(format!("Shopify Admin API of {GUARDED_SHOP}"))));
        }
        self.breaker.succeeded();
        Ok(())
    }

    fn refusals(&self) -> u32 {
        self.refusals.load(Ordering::SeqCst)
    }
}

struct GuardedStore {
    shop: DemoStore,
    guard: Arc<Guard>,
}

#[async_trait]
impl StoreData for GuardedStore {
    fn currency(&self) -> &str {
        self.shop.currency()
    }
    fn time_zone(&self) -> Tz {
        self.shop.time_zone()
    }
    async fn orders(&self, range: DateRange) -> Result<Vec<Order>, StoreError> {
        self.guard.admit()?;
        self.shop.orders(range).await
    }
    async fn refunded_in(&self, range: DateRange) -> Result<Vec<Order>, StoreError> {
        self.guard.admit()?;
        self.shop.refunded_in(range).await
    }
    async fn products(&self) -> Result<Vec<Product>, StoreError> {
        self.guard.admit()?;
        self.shop.products().await
    }
    async fn customers(&self) -> Result<Vec<Customer>, StoreError> {
        self.guard.admit()?;
        self.shop.customers().await
    }
}

/// Every store as the guarded demo shop; it opens from its cached shop row,
/// so only the reads meet the circuit.
struct GuardedStores(Arc<Guard>);

#[async_trait]
impl StoreResolver for GuardedStores {
    async fn resolve(&self, store: &store::Model, as_of: NaiveDate) -> Result<Arc<dyn StoreData>, StoreError> {
        let shop = DemoStore::new(store.demo_seed.unwrap_or(1) as u64, as_of);
        Ok(Arc::new(GuardedStore { shop, guard: self.0.clone() }))
    }
    async fn writer(&self, _: &store::Model) -> Result<Arc<dyn alatar_agents::actions::StoreWriter>, StoreError> {
        Ok(Arc::new(alatar_agents::actions::ReadOnlyStore))
    }
}

const REQUEST: &str = "query($id: ID!) { analysisRequest(id: $id) {
    status failureReason tasks { department status attempts errorCount } events { kind payload } } }";

/// The revenue question on a demo store, worked by a worker on `p`; the
/// request once its analysis is over.
async fn analysed(app: &TestApp, p: Pipeline, email: &str) -> Value {
    let worker = Worker::start(p, false).await.unwrap_or_else(|e| panic!("{e}"));
    let (token, _, _) = app.register(email).await;
    let store = app.gql("mutation { connectDemoStore(name: \"Demo\") { id } }", json!({}), Some(&token)).await.ok();
    let submitted = app
        .gql(
            "mutation($p: String!, $s: ID!) { submitAnalysisRequest(prompt: $p, storeId: $s) { id } }",
            json!({ "p": QUESTION, "s": store.data("/connectDemoStore/id") }),
            Some(&token),
        )
        .await
        .ok();
    let id = submitted.data("/submitAnalysisRequest/id").clone();
    let deadline = Instant::now() + Duration::from_secs(60);
    let request = loop {
        let request = app.gql(REQUEST, json!({ "id": id }), Some(&token)).await.ok().data("/analysisRequest").clone();
        if matches!(request["status"].as_str(), Some("AWAITING_APPROVAL" | "COMPLETED" | "FAILED" | "CANCELLED")) {
            break request;
        }
        assert!(Instant::now() < deadline, "the analysis did not finish: {request}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    worker.stop().await;
    request
}

fn events<'a>(request: &'a Value, kind: &str) -> Vec<&'a Value> {
    request["events"].as_array().into_iter().flatten().filter(|e| e["kind"] == kind).map(|e| &e["payload"]).collect()
}

/// A shop whose circuit is open when the data is read: the tool call waits
/// for the breaker's hint (watchers see the wait), the probe goes through,
/// and the analysis completes with no error counted and no redelivery.
async fn a_shop_down_for_a_moment_is_waited_for(backend: Backend) {
    let app = TestApp::with_config(backend, |c| c.pipeline.worker = false).await;
    let guard = Guard::new(false);
    let mut p = app.pipeline().clone();
    p.stores = Arc::new(GuardedStores(guard.clone()));
    let request = analysed(&app, p, "owner@waited.example").await;
    assert_settled(&request);
    assert_eq!(guard.refusals(), 1, "refused once, then the probe went through");
    let retrieval = &request["tasks"][0];
    assert_eq!(
        [&retrieval["department"], &retrieval["status"], &retrieval["errorCount"], &retrieval["attempts"]],
        [&json!("DataRetrieval"), &json!("COMPLETED"), &json!(0), &json!(1)],
        "no error counted, no redelivery: {request}"
    );
    assert!(events(&request, "TOOL_ERROR").is_empty(), "{request}");
    let waits: Vec<&Value> = events(&request, "TOOL_PROGRESS")
        .into_iter()
        .filter(|p| p["detail"].as_str().is_some_and(|d| d.starts_with("waiting for ")))
        .collect();
    assert_eq!(waits.len(), 1, "{request}");
    let expected = format!("waiting for Shopify Admin API of {GUARDED_SHOP}: circuit open; retry in 1s");
    assert_eq!(waits[0]["detail"], json!(expected));
}

/// A shop whose circuit stays open: the task waits out hint after hint up to
/// its bound (the ceiling, here 1 s), then fails, and the analysis with it,
/// as unavailable, naming the shop and the hint; still no error counted.
async fn a_shop_that_stays_down_fails_the_analysis_as_unavailable(backend: Backend) {
    let app = TestApp::with_config(backend, |c| c.pipeline.worker = false).await;
    let guard = Guard::new(true);
    let mut p = app.pipeline().clone();
    p.stores = Arc::new(GuardedStores(guard.clone()));
    p.config.tool_timeout = Duration::from_millis(300);
    p.config.tool_max = Duration::from_secs(1);
    let started = Instant::now();
    let request = analysed(&app, p, "owner@unavailable.example").await;
    assert_eq!(request["status"], "FAILED", "{request}");
    let reason = request["failureReason"].as_str().unwrap_or_default();
    let expected =
        format!("DataRetrieval failed: unavailable: Shopify Admin API of {GUARDED_SHOP}: circuit open; retry in 1s");
    assert!(reason.starts_with(&expected), "{reason}");
    assert_eq!(guard.refusals(), 4, "three hints of 300 ms waited out; a fourth would pass the bound");
    assert!(started.elapsed() >= Duration::from_millis(900), "{:?}", started.elapsed());
    let retrieval = &request["tasks"][0];
    assert_eq!(
        [&retrieval["status"], &retrieval["errorCount"], &retrieval["attempts"]],
        [&json!("FAILED"), &json!(0), &json!(1)],
        "{request}"
    );
    assert!(events(&request, "TOOL_ERROR").is_empty(), "{request}");
}

on_both_backends! {
    an_open_circuit_is_waited_for => a_shop_down_for_a_moment_is_waited_for;
    a_circuit_that_stays_open_fails_as_unavailable => a_shop_that_stays_down_fails_the_analysis_as_unavailable;
}
