//! Circuit breakers and client metrics through the real clients: a shop or
//! a model that keeps failing is failed fast, a probe after the cool-down
//! recovers it, and calls, tokens, cost and query cost reach the observer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use alatar_agents::breaker::{BreakerConfig, Breakers};
use alatar_agents::llm::{ChatClient, ChatConfig, LlmError, Price};
use alatar_agents::shopify::{AdminClient, ShopDomain, ShopifyApp, oauth};
use alatar_agents::store::StoreError;
use alatar_agents::telemetry::{ClientObserver, LlmCall};
use alatar_tests::fake_llm::{FakeLlm, Reply, completion};
use alatar_tests::fake_shopify::{APP_KEY, APP_SECRET, FakeShopify, Fault, GOOD_CODE};
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

fn unavailable<T: std::fmt::Debug>(outcome: Result<T, StoreError>) -> String {
    match outcome {
        Err(StoreError::Unavailable(why)) => why,
        other => panic!("expected unavailable, got {other:?}"),
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
        let why = unavailable(each.graphql(SHOP_QUERY, json!({})).await);
        assert!(!why.contains("circuit open"), "{why}");
    }
    let calls = fake.calls();
    let why = unavailable(second.graphql(SHOP_QUERY, json!({})).await);
    assert!(why.contains("circuit open; retry in 1s"), "{why}");
    assert!(why.contains(SHOP), "{why}");
    let fresh = client();
    assert!(unavailable(fresh.graphql(SHOP_QUERY, json!({})).await).contains("circuit open"), "a new client too");
    assert_eq!(fake.calls(), calls, "failed fast: the shop was not called");

    // A failed probe opens it again.
    tokio::time::sleep(COOL_DOWN + Duration::from_millis(50)).await;
    fake.fail_next([Fault::Status(502), Fault::Status(502)]);
    assert!(!unavailable(first.graphql(SHOP_QUERY, json!({})).await).contains("circuit open"), "the probe ran");
    assert_eq!(fake.calls(), calls + 2, "one probe, with its retry");
    assert!(unavailable(first.graphql(SHOP_QUERY, json!({})).await).contains("circuit open"));
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
        assert!(matches!(&answer, Err(LlmError::Unavailable(why)) if !why.contains("circuit open")), "{answer:?}");
    }
    let refused = client.stream_text("acme/m", &question()).await;
    assert!(
        matches!(&refused, Err(LlmError::Unavailable(why)) if why.contains("acme/m: circuit open; retry in 1s")),
        "{refused:?}"
    );
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
