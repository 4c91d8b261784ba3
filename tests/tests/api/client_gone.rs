//! A request's work stops when its client goes away (issue 13): hyper
//! notices the connection's end while the answer is pending, the serve loop
//! drops the connection and the request's future with it, and the
//! operation stops at the await it is in. Here that is the OAuth code
//! exchange with a Shopify that takes a minute to answer; the Shopify
//! timeout and the operation budget are longer still, so only the client's
//! leaving can end it within the test. About 2 s.

use std::time::Instant;

use chrono::Utc;
use serde_json::json;

use alatar_agents::shopify::signature::sign_query;
use alatar_tests::fake_shopify::{APP_KEY, APP_SECRET, FakeShopify, GOOD_CODE};

use super::connections::{Served, millis, secs, write};

const SHOP: &str = "alatar-gone.myshopify.com";
const START: &str = "mutation($s: String!) { startShopifyOAuth(shopDomain: $s) { state } }";
const COMPLETE: &str = "mutation($q: String!) { completeShopifyOAuth(query: $q) { id } }";
const IN_FLIGHT: &str = "alatar_graphql_requests_in_flight";
const ABANDONED: &str = "alatar_graphql_requests_abandoned_total";

/// The callback's query for `state`, signed the way Shopify signs it.
fn callback_query(state: &str) -> String {
    let timestamp = Utc::now().timestamp().to_string();
    let mut params: Vec<(String, String)> =
        [("code", GOOD_CODE), ("shop", SHOP), ("state", state), ("timestamp", timestamp.as_str())]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
    let hmac = sign_query(APP_SECRET.as_bytes(), &params);
    params.push(("hmac".into(), hmac));
    // Every value is URL-safe as it is (the state is URL-safe base64).
    params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// An unlabelled metric's value on `/metrics`.
async fn metric(base_url: &str, name: &str) -> f64 {
    let text = reqwest::get(format!("{base_url}/metrics"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_stops_when_its_client_goes_away() {
    let fake = FakeShopify::start().await;
    fake.delay_token_exchange(secs(60));
    let admin_base_url = fake.base_url.clone();
    let server = Served::start(move |c| {
        c.shopify.api_key = Some(APP_KEY.into());
        c.shopify.api_secret = Some(APP_SECRET.to_owned().into());
        c.shopify.admin_base_url = admin_base_url;
        c.shopify.timeout_ms = 120_000;
        c.graphql.operation_timeout_ms = 120_000;
    })
    .await;
    let base_url = format!("http://{}", server.address);
    let token = alatar_tests::register_over_http(&base_url, "owner@gone.example").await;
    let started =
        alatar_tests::post_graphql(&base_url, json!({ "query": START, "variables": { "s": SHOP } }), Some(&token))
            .await;
    let state = started["data"]["startShopifyOAuth"]["state"].as_str().unwrap_or_else(|| panic!("{started}"));

    let body = json!({ "query": COMPLETE, "variables": { "q": callback_query(state) } }).to_string();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Accept: application/graphql-response+json\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    let mut client = server.connect().await;
    write(&mut client, head.as_bytes()).await;
    write(&mut client, body.as_bytes()).await;

    // The operation is under way, waiting on Shopify.
    let asked = Instant::now();
    while fake.token_requests() == 0 {
        assert!(asked.elapsed() < secs(10), "the code exchange never reached Shopify");
        tokio::time::sleep(millis(20)).await;
    }
    assert_eq!(metric(&base_url, IN_FLIGHT).await, 1.0);
    assert_eq!(metric(&base_url, ABANDONED).await, 0.0);

    drop(client);
    let left = Instant::now();
    // Its work stops: the call to Shopify is dropped (its connection
    // closed, so the fake's handler is dropped too), and the request is no
    // longer in flight, a minute before Shopify would have answered.
    loop {
        if fake.token_requests_dropped() == 1 && metric(&base_url, IN_FLIGHT).await == 0.0 {
            break;
        }
        assert!(left.elapsed() < secs(5), "still at work {:?} after the client left", left.elapsed());
        tokio::time::sleep(millis(50)).await;
    }
    assert_eq!(metric(&base_url, ABANDONED).await, 1.0, "the request was not counted as abandoned");
    assert_eq!(fake.token_requests(), 1, "the code exchange was tried again");
    server.stop().await;
}
