//! The Shopify grant's life against the fake Shopify: the install bound to
//! the browser that started it (state cookie), relays bound to the user who
//! started it, App Bridge session tokens acting as their Shopify user, and
//! disconnecting, which uninstalls the app at Shopify too.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use serde_json::{Value, json};
use uuid::Uuid;

use alatar_agents::shopify::oauth;
use alatar_agents::shopify::signature::sign_query;
use alatar_entity::{Role, audit_entry, shopify_credential, store, user};
use alatar_server::Config;
use alatar_tests::fake_shopify::{APP_KEY, APP_SECRET, FakeShopify, Fault, GOOD_CODE};
use alatar_tests::{Backend, Gql, TestApp};

const SHOP: &str = "alatar-oauth.myshopify.com";
const START: &str = "mutation($s: String!) { startShopifyOAuth(shopDomain: $s) { state expiresAt } }";
const DISCONNECT: &str = "mutation($id: ID!) { disconnectStore(id: $id) { tokenStatus } }";

async fn shopify_app(tweak: impl FnOnce(&mut Config)) -> (TestApp, FakeShopify) {
    let fake = FakeShopify::start().await;
    let app = TestApp::with_config(Backend::Sqlite, |c| {
        c.shopify.api_key = Some(APP_KEY.into());
        c.shopify.api_secret = Some(APP_SECRET.to_owned().into());
        c.shopify.admin_base_url = fake.base_url.clone();
        c.shopify.backoff_ms = 5;
        c.shopify.timeout_ms = 2_000;
        tweak(c);
    })
    .await;
    (app, fake)
}

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

fn callback_request(query: &str, cookie: Option<&str>) -> Request<Body> {
    let mut request = Request::get(format!("/shopify/callback?{query}"));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.body(Body::empty()).unwrap_or_else(|e| panic!("{e}"))
}

/// The state cookie a response sets, as `name=value`, with its attributes.
fn state_cookie(response: &Gql) -> (String, String) {
    let set = response
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("alatar_shopify_state="))
        .unwrap_or_else(|| panic!("no state cookie: {:?}", response.headers))
        .to_owned();
    let pair = set.split(';').next().unwrap_or_default().trim().to_owned();
    (pair, set)
}

async fn start(app: &TestApp, token: &str) -> (String, Gql) {
    let started = app.gql(START, json!({ "s": SHOP }), Some(token)).await.ok();
    (started.data("/startShopifyOAuth/state").as_str().unwrap_or_default().to_owned(), started)
}

async fn stores(app: &TestApp) -> u64 {
    store::Entity::find().filter(store::Column::ShopDomain.eq(SHOP)).count(&app.db.conn).await.unwrap_or(99)
}

/// Installs on `SHOP` in this app's browser; returns the store id.
async fn install(app: &TestApp, token: &str) -> String {
    let (state, _) = start(app, token).await;
    let (status, _, body) = app.send(callback_request(&callback_query(&state), None)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{}", String::from_utf8_lossy(&body));
    let listed = app.gql("{ stores { id kind } }", json!({}), Some(token)).await.ok();
    let found = listed.data("/stores").as_array().and_then(|s| s.iter().find(|s| s["kind"] == "SHOPIFY")).cloned();
    found.unwrap_or_else(|| panic!("not linked: {}", listed.body))["id"].as_str().unwrap_or_default().to_owned()
}

/// Only the browser that started an install finishes it: the callback from
/// any other (no cookie, a forged one, another install's) is 403, links
/// nothing and leaves the state usable; the right one links and clears it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installs_are_bound_to_the_browser_that_started_them() {
    let (app, _fake) = shopify_app(|_| {}).await;
    let (owner, _, _) = app.register("owner@bound.example").await;
    let (state, started) = start(&app, &owner).await;
    let (mine, attributes) = state_cookie(&started);
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/shopify", "Max-Age="] {
        assert!(attributes.contains(attribute), "{attribute} missing: {attributes}");
    }
    assert!(!attributes.contains("Secure"), "the test app_url is http: {attributes}");
    assert!(!attributes.contains(&state), "the cookie holds a signature, not the state: {attributes}");

    // Someone else's install (another account), with its own cookie.
    let (stranger, _, _) = app.register("stranger@bound.example").await;
    let (theirs_state, theirs) = start(&app, &stranger).await;
    let (theirs_cookie, _) = state_cookie(&theirs);

    let query = callback_query(&state);
    let forged = format!("alatar_shopify_state={state}");
    let cookies = [("no cookie", None), ("forged", Some(forged.as_str())), ("another's", Some(theirs_cookie.as_str()))];
    for (what, cookie) in cookies {
        let (status, _, body) = app.send_from_elsewhere(callback_request(&query, cookie)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{what}: {}", String::from_utf8_lossy(&body));
    }
    // The victim's browser carrying the stranger's link (for the same shop).
    let (status, _, _) =
        app.send_from_elsewhere(callback_request(&callback_query(&theirs_state), Some(mine.as_str()))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(stores(&app).await, 0, "nothing linked");

    let (status, headers, body) = app.send_from_elsewhere(callback_request(&query, Some(mine.as_str()))).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{}", String::from_utf8_lossy(&body));
    let cleared = headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.starts_with("alatar_shopify_state=;") && v.contains("Max-Age=0") && v.contains("Path=/shopify"));
    assert!(cleared, "the cookie is cleared: {headers:?}");
    assert_eq!(stores(&app).await, 1);
    let linked = app.gql("{ stores { shopDomain } }", json!({}), Some(&owner)).await.ok();
    assert_eq!(linked.data("/stores/0/shopDomain"), &json!(SHOP), "linked to the account that started it");

    // Used: the same redirect again is refused, cookie or not.
    let (status, _, _) = app.send_from_elsewhere(callback_request(&query, Some(mine.as_str()))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// Over https the state cookie is `Secure`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_cookie_is_secure_over_https() {
    let (app, _fake) = shopify_app(|c| c.shopify.app_url = "https://alatar.example".into()).await;
    let (owner, _, _) = app.register("owner@secure.example").await;
    let (_, started) = start(&app, &owner).await;
    let (_, attributes) = state_cookie(&started);
    assert!(attributes.contains("; Secure"), "{attributes}");
}

/// A relayed completion (`completeShopifyOAuth`) holds no cookie: only the
/// user who started the install may relay, and a refusal leaves the state
/// usable for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_are_bound_to_the_user_who_started() {
    let (app, _fake) = shopify_app(|_| {}).await;
    let (owner, _, _) = app.register("owner@relay.example").await;
    let (other, _, _) = app.register("other@relay.example").await;
    let (state, _) = start(&app, &owner).await;
    let complete = "mutation($q: String!) { completeShopifyOAuth(query: $q) { shopDomain tokenStatus } }";
    let query = callback_query(&state);
    let refused = app.gql(complete, json!({ "q": query }), Some(&other)).await;
    assert_eq!(refused.code(), Some("FORBIDDEN"), "{}", refused.body);
    assert_eq!(stores(&app).await, 0);
    let done = app.gql(complete, json!({ "q": query }), Some(&owner)).await.ok();
    assert_eq!(done.data("/completeShopifyOAuth/tokenStatus"), &json!("ACTIVE"));
}

/// An App Bridge session token as Shopify issues it, for Shopify user `sub`.
fn session_token(sub: Option<&str>) -> String {
    let now = Utc::now().timestamp();
    let mut claims = json!({
        "iss": format!("https://{SHOP}/admin"), "dest": format!("https://{SHOP}"), "aud": APP_KEY,
        "exp": now + 60, "nbf": now - 1, "iat": now - 1, "jti": Uuid::new_v4().to_string(), "sid": "s",
    });
    if let Some(sub) = sub {
        claims["sub"] = json!(sub);
    }
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(APP_SECRET.as_bytes()))
        .unwrap_or_default()
}

async fn me(app: &TestApp, token: &str) -> Value {
    app.gql("{ me { id email role } }", json!({}), Some(token)).await.ok().data("/me").clone()
}

/// A session token acts as its Shopify user: an `ANALYST` member of the
/// shop's account created on first use (never the owner), the same member
/// on every later token, with the role an owner gives it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_tokens_act_as_their_shopify_user() {
    let (app, _fake) = shopify_app(|_| {}).await;
    let (owner, _, owner_id) = app.register("owner@members.example").await;
    install(&app, &owner).await;

    let staff = me(&app, &session_token(Some("42"))).await;
    assert_ne!(staff["id"], json!(owner_id), "not the owner: {staff}");
    assert_eq!(staff["role"], "ANALYST");
    let email = staff["email"].as_str().unwrap_or_default();
    assert!(email.starts_with("shopify-user-42@") && email.ends_with(".invalid"), "{email}");
    assert_eq!(me(&app, &session_token(Some("42"))).await["id"], staff["id"], "linked on first use");
    let colleague = me(&app, &session_token(Some("43"))).await;
    assert_ne!(colleague["id"], staff["id"]);
    let members = app.gql("{ me { account { members { email } } } }", json!({}), Some(&owner)).await.ok();
    assert_eq!(members.data("/me/account/members").as_array().map(Vec::len), Some(3), "{}", members.body);

    // An analyst cannot manage the account's stores.
    let refused = app.gql(START, json!({ "s": SHOP }), Some(&session_token(Some("42")))).await;
    assert_eq!(refused.code(), Some("FORBIDDEN"), "{}", refused.body);
    // Given a role, the linked member acts with it.
    let linked = user::Entity::find()
        .filter(user::Column::ShopifyUserId.eq("42"))
        .one(&app.db.conn)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no member is Shopify user 42"));
    let mut promoted = linked.into_active_model();
    promoted.role = Set(Role::Admin);
    promoted.update(&app.db.conn).await.unwrap_or_else(|e| panic!("{e}"));
    app.gql(START, json!({ "s": SHOP }), Some(&session_token(Some("42")))).await.ok();

    // A token naming no user is refused; the placeholder email logs nobody in.
    let anonymous = app.gql("{ me { id } }", json!({}), Some(&session_token(None))).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{}", anonymous.body);
    let login = app
        .gql(
            "mutation($e: String!) { login(email: $e, password: \"correct horse battery\") { accessToken } }",
            json!({ "e": email }),
            None,
        )
        .await;
    assert_eq!(login.code(), Some("BAD_USER_INPUT"), "{}", login.body);
}

async fn disconnect_details(app: &TestApp) -> Vec<Value> {
    audit_entry::Entity::find()
        .filter(audit_entry::Column::Event.eq("STORE_DISCONNECTED"))
        .order_by_asc(audit_entry::Column::CreatedAt)
        .all(&app.db.conn)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|e| e.detail)
        .collect()
}

/// `disconnectStore` uninstalls the app at Shopify (`appUninstall`, a
/// document Shopify's schema accepts), and unlinks the store even when
/// Shopify refuses, recording why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnecting_revokes_the_grant_at_shopify() {
    let (app, fake) = shopify_app(|_| {}).await;
    let (owner, _, _) = app.register("owner@revoke.example").await;
    let store = install(&app, &owner).await;
    let unlinked = app.gql(DISCONNECT, json!({ "id": store }), Some(&owner)).await.ok();
    assert_eq!(unlinked.data("/disconnectStore/tokenStatus"), &json!("DISCONNECTED"));
    assert_eq!(fake.mutations(), vec!["appUninstall".to_owned()]);
    let sent: Vec<String> = fake.queries().into_iter().map(|(q, _)| q).filter(|q| q.contains("appUninstall")).collect();
    assert_eq!(sent, vec![oauth::UNINSTALL.to_owned()]);
    if let Err(problems) =
        alatar_tests::shopify_schema::validate(&[json!({ "name": "Uninstall", "query": oauth::UNINSTALL })])
    {
        panic!("{problems}");
    }
    assert_eq!(disconnect_details(&app).await[0]["revokedAtShopify"], json!(true));

    // Shopify refuses this time: the store is unlinked all the same.
    let store = install(&app, &owner).await;
    fake.fail_next([Fault::Error("Access denied for appUninstall field.")]);
    let unlinked = app.gql(DISCONNECT, json!({ "id": store }), Some(&owner)).await.ok();
    assert_eq!(unlinked.data("/disconnectStore/tokenStatus"), &json!("DISCONNECTED"));
    assert_eq!(shopify_credential::Entity::find().count(&app.db.conn).await.unwrap_or(9), 0, "the token is gone");
    let details = disconnect_details(&app).await;
    let failed = details[1]["revokedAtShopify"]["failed"].as_str().unwrap_or_default();
    assert!(failed.contains("Access denied"), "{details:?}");
}
