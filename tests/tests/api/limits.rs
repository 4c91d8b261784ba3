//! Depth, complexity, aliases, body size, batch size, introspection and rate
//! limits: over-limit requests are refused before any resolver runs.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use serde_json::json;

use alatar_schema::service::accounts::{self, Tier};
use alatar_tests::{Backend, TestApp, on_both_backends};

#[tokio::test]
async fn query_shape_limits() {
    let app = TestApp::with_config(Backend::Sqlite, |c| {
        c.graphql.max_depth = 4;
        c.graphql.max_aliases = 3;
        c.graphql.max_complexity = 20;
        c.graphql.max_batch = 2;
        c.graphql.max_body_bytes = 2048;
    })
    .await;
    let (token, _, _) = app.register("limits@shop.example").await;
    let deep = app.gql("{ me { account { members { account { name } } } } }", json!({}), Some(&token)).await;
    assert_eq!(deep.status, 400, "{}", deep.body);
    assert_eq!(deep.code(), Some("BAD_USER_INPUT"));
    assert!(deep.body.get("data").is_none(), "no resolver ran");

    let aliases = app.gql("{ a: __typename b: __typename c: __typename d: __typename }", json!({}), None).await;
    assert_eq!(aliases.status, 400);
    assert!(aliases.body["errors"][0]["message"].as_str().unwrap_or_default().contains("aliases"));

    let fields = (0..25).map(|i| format!("f{i}: id")).collect::<Vec<_>>().join(" ");
    let wide = TestApp::with_config(Backend::Sqlite, |c| c.graphql.max_complexity = 20).await;
    let (wide_token, _, _) = wide.register("wide@shop.example").await;
    let complex = wide.gql(&format!("{{ account {{ {fields} }} }}"), json!({}), Some(&wide_token)).await;
    assert_eq!(complex.status, 400, "{}", complex.body);
    assert!(complex.body.get("data").is_none(), "no resolver ran");

    let big = "x".repeat(4096);
    let too_large = app.post(json!({ "query": format!("{{ __typename }} # {big}") }), None).await;
    assert_eq!(too_large.status, 413);

    let batch = app.post(json!([{ "query": "{ __typename }" }, { "query": "{ __typename }" }]), None).await;
    assert_eq!(batch.status, 200);
    assert_eq!(batch.body.as_array().map(Vec::len), Some(2));
    let too_many = app
        .post(
            json!([{ "query": "{ a: __typename }" }, { "query": "{ __typename }" }, { "query": "{ __typename }" }]),
            None,
        )
        .await;
    assert_eq!(too_many.status, 400);
}

/// Parses and validation outcomes are remembered per query text: a document
/// refused once is refused every time, and each operation of a document is
/// judged on its own.
#[tokio::test]
async fn remembered_documents_are_still_judged() {
    let app = TestApp::with_config(Backend::Sqlite, |c| c.graphql.max_depth = 4).await;
    let (token, _, _) = app.register("cached@shop.example").await;
    for _ in 0..3 {
        let me = app.gql("{ me { email } }", json!({}), Some(&token)).await;
        assert_eq!(me.body["data"]["me"]["email"], "cached@shop.example", "{}", me.body);
        let deep = app.gql("{ me { account { members { account { name } } } } }", json!({}), Some(&token)).await;
        assert_eq!(deep.status, 400, "{}", deep.body);
        assert!(deep.body.get("data").is_none(), "no resolver ran");
        let unknown = app.gql("{ me { nope } }", json!({}), Some(&token)).await;
        assert_eq!(unknown.status, 400, "{}", unknown.body);
    }
    let two = "query Good { me { email } } query Bad { me { nope } }";
    for _ in 0..2 {
        let good = app.post(json!({ "query": two, "operationName": "Good" }), Some(&token)).await;
        let bad = app.post(json!({ "query": two, "operationName": "Bad" }), Some(&token)).await;
        assert_eq!(bad.status, 400, "{}", bad.body);
        // The document as a whole is invalid (`nope`), whichever operation runs.
        assert_eq!(good.status, 400, "{}", good.body);
    }
}

#[tokio::test]
async fn introspection_and_suggestions_can_be_switched_off() {
    let app = TestApp::with_config(Backend::Sqlite, |c| {
        c.graphql.introspection = Some(false);
        c.graphql.suggestions = Some(false);
    })
    .await;
    let r = app.gql("{ __schema { types { name } } }", json!({}), None).await;
    assert_eq!(r.data("/__schema"), &json!(null), "{}", r.body);
    let typo = app.gql("{ mee { id } }", json!({}), None).await;
    let message = typo.body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(!message.contains("Did you mean"), "{message}");
    let on = TestApp::new(Backend::Sqlite).await;
    on.gql("{ __schema { queryType { name } } }", json!({}), None).await.ok();
}

async fn rate_limited(app: TestApp) {
    let (token, _, _) = app.register(&format!("rl-{}@shop.example", uuid::Uuid::new_v4().simple())).await;
    for _ in 0..3 {
        app.gql("{ me { id } }", json!({}), Some(&token)).await.ok();
    }
    let over = app.gql("{ me { id } }", json!({}), Some(&token)).await;
    assert_eq!(over.status, 429, "{}", over.body);
    assert_eq!(over.code(), Some("RATE_LIMITED"));
    let retry = over.body["errors"][0]["extensions"]["retryAfter"].as_u64().unwrap_or(0);
    assert!((1..=3600).contains(&retry), "retryAfter {retry}");
    assert_eq!(over.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some(retry.to_string().as_str()));
    // Operations outside the heavy set are not counted.
    app.gql("{ account { id } }", json!({}), Some(&token)).await.ok();
}

async fn rate_limit_in_memory(backend: Backend) {
    rate_limited(
        TestApp::with_config(backend, |c| {
            c.rate_limit.free_per_hour = 3;
            c.rate_limit.heavy_operations = vec!["me".into()];
        })
        .await,
    )
    .await;
}

async fn rate_limit_in_redis(backend: Backend) {
    rate_limited(
        TestApp::with_config(backend, |c| {
            c.rate_limit.free_per_hour = 3;
            c.rate_limit.heavy_operations = vec!["me".into()];
            c.redis_url = Some(alatar_tests::redis_url().into());
        })
        .await,
    )
    .await;
}

/// Logs `email` in again: a new access token carries the account's current tier.
async fn login(app: &TestApp, email: &str) -> String {
    let r = app
        .gql(
            "mutation($e: String!) { login(email: $e, password: \"correct horse battery\") { accessToken } }",
            json!({ "e": email }),
            None,
        )
        .await
        .ok();
    r.data("/login/accessToken").as_str().unwrap_or_default().to_owned()
}

/// How many heavy requests `token` gets before the first 429 (at most `cap`).
async fn allowed(app: &TestApp, token: &str, cap: usize) -> usize {
    for n in 0..cap {
        let r = app.gql("{ me { id } }", json!({}), Some(token)).await;
        if r.status == 429 {
            return n;
        }
        assert!(r.body.get("errors").is_none(), "{}", r.body);
    }
    cap
}

async fn account_id(app: &TestApp, token: &str) -> uuid::Uuid {
    let r = app.gql("{ account { id tier } }", json!({}), Some(token)).await.ok();
    uuid::Uuid::parse_str(r.data("/account/id").as_str().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"))
}

async fn premium_tier_lifts_the_limit(backend: Backend) {
    let app = TestApp::with_config(backend, |c| {
        c.rate_limit.free_per_hour = 3;
        c.rate_limit.premium_per_hour = 6;
        c.rate_limit.heavy_operations = vec!["me".into()];
    })
    .await;
    // A free account: three, then 429.
    let (free, _, _) = app.register("free@tier.example").await;
    assert_eq!(allowed(&app, &free, 10).await, 3);
    let free_account = account_id(&app, &free).await;

    // An account put on premium (what `alatar account set-tier` calls): six,
    // from the members' next token on.
    let (token, _, _) = app.register("premium@tier.example").await;
    let premium_account = account_id(&app, &token).await;
    let updated = accounts::set_tier(&app.db.conn, premium_account, Tier::Premium)
        .await
        .unwrap_or_else(|e| panic!("set_tier: {e}"));
    assert_eq!(updated.tier, Tier::Premium);
    let token = login(&app, "premium@tier.example").await;
    let shown = app.gql("{ account { tier } }", json!({}), Some(&token)).await.ok();
    assert_eq!(shown.data("/account/tier"), &json!("PREMIUM"));
    assert_eq!(allowed(&app, &token, 10).await, 6);

    // The limited free account, upgraded, gets further at once on its next token.
    accounts::set_tier(&app.db.conn, free_account, Tier::Premium).await.unwrap_or_else(|e| panic!("set_tier: {e}"));
    let free = login(&app, "free@tier.example").await;
    let r = app.gql("{ me { id } }", json!({}), Some(&free)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // And back: the free limit again (the window's count is already over it).
    accounts::set_tier(&app.db.conn, free_account, Tier::Free).await.unwrap_or_else(|e| panic!("set_tier: {e}"));
    let free = login(&app, "free@tier.example").await;
    assert_eq!(app.gql("{ me { id } }", json!({}), Some(&free)).await.status, 429);

    // Each change is in the account's audit log; setting the same tier again records nothing.
    accounts::set_tier(&app.db.conn, free_account, Tier::Free).await.unwrap_or_else(|e| panic!("set_tier: {e}"));
    let log = app
        .gql("{ auditLog { edges { node { event actor actorUserId detail } } } }", json!({}), Some(&free))
        .await
        .ok();
    let changes: Vec<serde_json::Value> = log
        .data("/auditLog/edges")
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["node"].clone())
        .filter(|n| n["event"] == "TIER_CHANGED")
        .collect();
    assert_eq!(
        changes,
        [
            json!({ "event": "TIER_CHANGED", "actor": "system", "actorUserId": null, "detail": { "from": "PREMIUM", "to": "FREE" } }),
            json!({ "event": "TIER_CHANGED", "actor": "system", "actorUserId": null, "detail": { "from": "FREE", "to": "PREMIUM" } }),
        ]
    );
    let missing = accounts::set_tier(&app.db.conn, uuid::Uuid::now_v7(), Tier::Premium).await;
    assert!(matches!(missing, Err(alatar_schema::ApiError::NotFound(_))), "{missing:?}");
}

/// `alatar account set-tier` runs in a process of its own; with Redis it
/// tells the running servers, whose member caches would otherwise charge
/// every member by the old tier for up to 30 s.
#[tokio::test]
async fn a_tier_set_from_the_command_line_applies_at_once_with_redis() {
    let app = TestApp::with_config(Backend::Sqlite, |c| {
        c.rate_limit.free_per_hour = 2;
        c.rate_limit.premium_per_hour = 50;
        c.rate_limit.heavy_operations = vec!["me".into()];
        c.redis_url = Some(alatar_tests::redis_url().into());
    })
    .await;
    let (token, _, _) = app.register("cli-tier@shop.example").await;
    let account = account_id(&app, &token).await;
    assert_eq!(allowed(&app, &token, 10).await, 2);

    // What the command changes in the database; the server's cache still says free.
    accounts::set_tier(&app.db.conn, account, Tier::Premium).await.unwrap_or_else(|e| panic!("set_tier: {e}"));
    assert_eq!(app.gql("{ me { id } }", json!({}), Some(&token)).await.status, 429);

    // What the command then tells the servers through Redis.
    let config = alatar_server::Config { redis_url: Some(alatar_tests::redis_url().into()), ..Default::default() };
    let told = alatar_server::cli::announce_account_change(&config, account).await.unwrap_or_else(|e| panic!("{e:#}"));
    assert!(told, "no redis_url");
    let started = Instant::now();
    loop {
        let r = app.gql("{ me { id } }", json!({}), Some(&token)).await;
        if r.status == 200 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(2), "still on the free tier: {}", r.body);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Without Redis there is no one to tell.
    let told = alatar_server::cli::announce_account_change(&alatar_server::Config::default(), account).await;
    assert!(matches!(told, Ok(false)), "{told:?}");
}

on_both_backends! {
    premium_accounts_get_the_premium_limit => premium_tier_lifts_the_limit;
    rate_limits_in_memory => rate_limit_in_memory;
    rate_limits_in_redis => rate_limit_in_redis;
}

#[tokio::test]
async fn redis_counter_has_one_hour_ttl_and_is_shared() {
    let config = |c: &mut alatar_server::Config| {
        c.rate_limit.free_per_hour = 2;
        c.rate_limit.heavy_operations = vec!["me".into()];
        c.redis_url = Some(alatar_tests::redis_url().into());
    };
    let one = TestApp::with_config(Backend::Sqlite, config).await;
    let (token, _, user_id) = one.register("shared@shop.example").await;
    one.gql("{ me { id } }", json!({}), Some(&token)).await.ok();
    let client = redis::Client::open(alatar_tests::redis_url()).unwrap_or_else(|e| panic!("{e}"));
    let mut conn = client.get_multiplexed_async_connection().await.unwrap_or_else(|e| panic!("{e}"));
    let ttl: i64 =
        redis::cmd("TTL").arg(format!("alatar:ratelimit:{user_id}")).query_async(&mut conn).await.unwrap_or(-2);
    assert!((3500..=3600).contains(&ttl), "ttl {ttl}");
    // A second instance sharing Redis (same secret, so the token is valid there) sees the same count.
    let two = TestApp::with_config(Backend::Sqlite, config).await;
    let request = Request::post("/graphql")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(json!({ "query": "{ __typename }" }).to_string()))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(two.send(request).await.0, 200);
    one.gql("{ me { id } }", json!({}), Some(&token)).await.ok();
    assert_eq!(one.gql("{ me { id } }", json!({}), Some(&token)).await.status, 429);
}
