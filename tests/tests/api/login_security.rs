//! Issue 13's authentication findings, kept as tests: login throttling
//! (progressive, per account, audited), the password policy beyond length,
//! one account per address whatever its Unicode form, `nbf`, registration
//! and invitations that do not tell who has an account, a refused OAuth
//! relay that leaves the installer's state alone, and security events that
//! carry the request id.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use alatar_agents::shopify::signature::sign_query;
use alatar_entity::{oauth_state, user};
use alatar_tests::fake_shopify::{APP_KEY, APP_SECRET, FakeShopify, GOOD_CODE};
use alatar_tests::{Backend, Gql, RunningBinary, TEST_JWT_SECRET, TestApp};

const PASSWORD: &str = "correct horse battery";
const LOGIN: &str = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken user { id } } }";
const REGISTER: &str = "mutation($e: String!, $p: String!, $t: String) { register(email: $e, password: $p, invitationToken: $t) { accessToken user { id email } } }";
const INVITE: &str =
    "mutation($e: String!) { inviteMember(email: $e, role: ADMIN) { token invitation { email role } } }";

async fn login(app: &TestApp, email: &str, password: &str) -> Gql {
    app.gql(LOGIN, json!({ "e": email, "p": password }), None).await
}

async fn register(app: &TestApp, email: &str, password: &str, invitation: Option<&str>) -> Gql {
    app.gql(REGISTER, json!({ "e": email, "p": password, "t": invitation }), None).await
}

fn retry_after(r: &Gql) -> u64 {
    r.body["errors"][0]["extensions"]["retryAfter"].as_u64().unwrap_or_else(|| panic!("no retryAfter: {}", r.body))
}

/// A throttled answer: `RATE_LIMITED`, 429 and a `Retry-After` equal to
/// `retryAfter`; returns the seconds to wait.
fn throttled(r: &Gql) -> u64 {
    assert_eq!(r.code(), Some("RATE_LIMITED"), "{}", r.body);
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    let header = r.headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let seconds = retry_after(r);
    assert_eq!(header, Some(seconds), "{:?}", r.headers);
    seconds
}

async fn wait(seconds: u64) {
    tokio::time::sleep(Duration::from_secs(seconds) + Duration::from_millis(150)).await;
}

/// The account's audit records, oldest first (read as its owner).
async fn audit_log(app: &TestApp, token: &str) -> Vec<Value> {
    let log = app
        .gql("{ auditLog(first: 200) { edges { node { event actorUserId detail } } } }", json!({}), Some(token))
        .await
        .ok();
    let mut nodes: Vec<Value> =
        log.data("/auditLog/edges").as_array().into_iter().flatten().map(|e| e["node"].clone()).collect();
    nodes.reverse();
    nodes
}

/// The first audit record `event` of the account, waiting for it: failed
/// and throttled logins are recorded off the request's path.
async fn audited(app: &TestApp, token: &str, event: &str) -> Value {
    for _ in 0..100 {
        if let Some(found) = audit_log(app, token).await.into_iter().find(|e| e["event"] == event) {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no {event}: {:?}", audit_log(app, token).await)
}

/// Five wrong passwords are answered as wrong; from the sixth every attempt,
/// right or wrong, waits (2 s here, doubling per failure) and is `RATE_LIMITED`
/// with `Retry-After`; the wait passes, the right password logs in and
/// forgets the failures. Other accounts are untouched, an email nobody has
/// is throttled the same way (so throttling tells nothing), and the
/// throttled attempts are audited. In-process requests carry no client
/// address, so what holds them is the account-wide limit (its free
/// failures lowered to 5 here; the per-address lanes are `throttle.rs`'s
/// unit tests).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_wait_progressively_and_a_success_resets() {
    let app = TestApp::with_config(Backend::Sqlite, |c| {
        c.rate_limit.auth.first_delay_secs = 2;
        c.rate_limit.auth.account_free_failures = 5;
    })
    .await;
    let (owner, _, owner_id) = app.register("victim@throttle.example").await;
    app.register("bystander@throttle.example").await;
    for attempt in 1..=5 {
        let wrong = login(&app, "victim@throttle.example", "not the password").await;
        assert_eq!(wrong.code(), Some("BAD_USER_INPUT"), "attempt {attempt}: {}", wrong.body);
        assert_eq!(wrong.status, StatusCode::OK);
    }
    let sixth = login(&app, "victim@throttle.example", "not the password").await;
    let first_wait = throttled(&sixth);
    assert!((1..=2).contains(&first_wait), "{first_wait}");
    // Throttled before the password is looked at: the right one waits too.
    throttled(&login(&app, "victim@throttle.example", PASSWORD).await);
    assert!(
        !sixth.body.to_string().contains("incorrect"),
        "a throttled answer says nothing of the password: {}",
        sixth.body
    );

    // Another account is not affected.
    login(&app, "bystander@throttle.example", PASSWORD).await.ok();
    let other = login(&app, "bystander@throttle.example", "not the password").await;
    assert_eq!(other.code(), Some("BAD_USER_INPUT"));
    // An email nobody has is throttled exactly alike.
    for _ in 1..=5 {
        assert_eq!(login(&app, "nobody@throttle.example", "not the password").await.code(), Some("BAD_USER_INPUT"));
    }
    throttled(&login(&app, "nobody@throttle.example", "not the password").await);

    // After the wait one more try; failing, the next wait is longer.
    wait(first_wait).await;
    let seventh = login(&app, "victim@throttle.example", "not the password").await;
    assert_eq!(seventh.code(), Some("BAD_USER_INPUT"), "{}", seventh.body);
    let second_wait = throttled(&login(&app, "victim@throttle.example", "not the password").await);
    assert!(second_wait > 2 && second_wait <= 4, "doubled: {second_wait}");
    wait(second_wait).await;
    let back = login(&app, "victim@throttle.example", PASSWORD).await.ok();
    assert_eq!(back.data("/login/user/id"), &json!(owner_id));
    // The success forgot the failures: five wrong answers again before any wait.
    for attempt in 1..=5 {
        let wrong = login(&app, "victim@throttle.example", "not the password").await;
        assert_eq!(wrong.code(), Some("BAD_USER_INPUT"), "after the reset, attempt {attempt}: {}", wrong.body);
    }
    throttled(&login(&app, "victim@throttle.example", "not the password").await);

    let record = audited(&app, &owner, "LOGIN_THROTTLED").await;
    assert_eq!(record["actorUserId"], json!(owner_id), "the account that was tried");
    assert_eq!(record["detail"]["limitedBy"], "account_all_addresses");
    assert!(record["detail"]["retryAfter"].as_u64().is_some_and(|s| s >= 1), "{record}");
    assert!(!record["detail"].to_string().contains("not the password"), "{record}");
    assert!(audit_log(&app, &owner).await.iter().any(|e| e["event"] == "LOGIN_FAILED"));
}

/// Common passwords, the address itself and blank or one-character
/// passwords are refused with a message saying what to do instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weak_passwords_are_refused_at_registration() {
    let app = TestApp::new(Backend::Sqlite).await;
    let email = "ann.smith@policy.example";
    let cases = [
        ("password12", "common"),
        ("Password12", "common"),
        ("p@ssw0rd2024", "common"),
        ("qwertyuiop", "common"),
        ("iloveyou123", "common"),
        ("          ", "spaces"),
        ("aaaaaaaaaa", "one character"),
        ("ann.smith@policy.example", "email"),
        ("ann.smith2024", "email"),
        ("1234567890", "common"),
    ];
    for (password, why) in cases {
        let refused = register(&app, email, password, None).await;
        assert_eq!(refused.code(), Some("BAD_USER_INPUT"), "{password:?}: {}", refused.body);
        assert_eq!(refused.body["errors"][0]["extensions"]["field"], json!("password"), "{password:?}");
        let message = refused.body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains(why), "{password:?}: {message}");
    }
    let users = user::Entity::find().filter(user::Column::Email.eq(email)).count(&app.db.conn).await;
    assert_eq!(users.unwrap_or(99), 0);
    register(&app, email, PASSWORD, None).await.ok();
}

/// One address is one account whatever its Unicode form: the decomposed
/// spelling of a registered address registers nothing and logs into it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn composed_and_decomposed_addresses_are_one_account() {
    let app = TestApp::new(Backend::Sqlite).await;
    let composed = "jos\u{e9}@unicode.example";
    let decomposed = "jose\u{301}@unicode.example";
    assert_ne!(composed, decomposed);
    let first = register(&app, composed, PASSWORD, None).await.ok();
    let id = first.data("/register/user/id").clone();
    assert_eq!(first.data("/register/user/email"), &json!(composed));
    let second = register(&app, decomposed, "tulip ledger orbit 7", None).await;
    assert_eq!(second.code(), Some("BAD_USER_INPUT"), "{}", second.body);
    assert_eq!(second.body["errors"][0]["extensions"]["field"], json!("email"));
    assert_eq!(user::Entity::find().count(&app.db.conn).await.unwrap_or(99), 1, "no second account");
    let logged_in = login(&app, decomposed, PASSWORD).await.ok();
    assert_eq!(logged_in.data("/login/user/id"), &id);
    let upper = login(&app, "JOSE\u{301}@UNICODE.EXAMPLE", PASSWORD).await.ok();
    assert_eq!(upper.data("/login/user/id"), &id);
}

/// A token whose `nbf` is still ahead is refused, with the same 5 s of
/// leeway as `exp`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_not_yet_valid_is_refused() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (valid, _, _) = app.register("nbf@jwt.example").await;
    let payload = valid.split('.').nth(1).unwrap_or_default();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let with_nbf = |offset: i64| {
        let mut c = claims.clone();
        c["nbf"] = json!(Utc::now().timestamp() + offset);
        c["jti"] = json!(uuid::Uuid::new_v4());
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &c, &EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes()))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let future = app.gql("{ me { id } }", json!({}), Some(&with_nbf(3600))).await;
    assert_eq!(future.status, StatusCode::UNAUTHORIZED, "{}", future.body);
    assert_eq!(future.code(), Some("UNAUTHENTICATED"));
    let barely = app.gql("{ me { id } }", json!({}), Some(&with_nbf(60))).await;
    assert_eq!(barely.status, StatusCode::UNAUTHORIZED, "past the leeway: {}", barely.body);
    app.gql("{ me { id } }", json!({}), Some(&with_nbf(2))).await.ok();
    app.gql("{ me { id } }", json!({}), Some(&with_nbf(-60))).await.ok();
}

/// Registering a registered address answers exactly as registering any
/// address that cannot be registered (a reserved one here): no `CONFLICT`,
/// no "exists", the same words and status, with or without an invitation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_does_not_tell_who_has_an_account() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (owner, _, _) = app.register("taken@reveal.example").await;
    let taken = register(&app, "taken@reveal.example", "tulip ledger orbit 7", None).await;
    let reserved = register(&app, "someone@shop.invalid", "tulip ledger orbit 7", None).await;
    for r in [&taken, &reserved] {
        assert_eq!(r.code(), Some("BAD_USER_INPUT"), "{}", r.body);
        let text = r.body["errors"][0]["message"].as_str().unwrap_or_default().to_lowercase();
        assert!(!text.contains("exist") && !text.contains("already"), "{text}");
    }
    assert_eq!(taken.status, reserved.status);
    assert_eq!(taken.body["errors"][0]["message"], reserved.body["errors"][0]["message"]);
    assert_eq!(taken.body["errors"][0]["extensions"]["field"], reserved.body["errors"][0]["extensions"]["field"]);

    // With an invitation for the registered address: the same answer again.
    let invited = app.gql(INVITE, json!({ "e": "elsewhere@reveal.example" }), Some(&owner)).await.ok();
    let (stranger, _, _) = app.register("elsewhere@reveal.example").await;
    assert!(!stranger.is_empty());
    let token = invited.data("/inviteMember/token").as_str().unwrap_or_default().to_owned();
    let joined = register(&app, "elsewhere@reveal.example", "tulip ledger orbit 7", Some(&token)).await;
    assert_eq!(joined.body["errors"][0]["message"], taken.body["errors"][0]["message"], "{}", joined.body);
}

/// Inviting an address that belongs to a member of another account answers
/// as inviting a fresh one (the invitation cannot be accepted); only the
/// inviter's own members are said to be members.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_do_not_tell_who_is_a_member_elsewhere() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (inviter, _, _) = app.register("owner@one.example").await;
    let (other, _, _) = app.register("owner@two.example").await;
    let elsewhere = app.gql(INVITE, json!({ "e": "owner@two.example" }), Some(&inviter)).await.ok();
    let fresh = app.gql(INVITE, json!({ "e": "nobody@two.example" }), Some(&inviter)).await.ok();
    assert_eq!(elsewhere.status, fresh.status);
    assert_eq!(elsewhere.data("/inviteMember/invitation/role"), fresh.data("/inviteMember/invitation/role"));
    assert!(elsewhere.data("/inviteMember/token").is_string());
    // Accepting it would need registering the address, which has an account.
    let token = elsewhere.data("/inviteMember/token").as_str().unwrap_or_default().to_owned();
    let accept = register(&app, "owner@two.example", PASSWORD, Some(&token)).await;
    assert_eq!(accept.code(), Some("BAD_USER_INPUT"), "{}", accept.body);
    let members = app.gql("{ account { members { email } } }", json!({}), Some(&other)).await.ok();
    assert_eq!(members.data("/account/members"), &json!([{ "email": "owner@two.example" }]), "untouched");
    // One's own member is one's own business.
    let own = app.gql(INVITE, json!({ "e": "owner@one.example" }), Some(&inviter)).await;
    assert_eq!(own.code(), Some("CONFLICT"), "{}", own.body);
}

/// Invitations are throttled per account (registrations per client
/// address: `throttle.rs`'s unit tests, as in-process requests have none).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_are_throttled_per_account() {
    let app = TestApp::with_config(Backend::Sqlite, |c| c.rate_limit.auth.invitations_per_account_per_hour = 3).await;
    let (owner, _, _) = app.register("owner@quota.example").await;
    let (neighbour, _, _) = app.register("owner@neighbour.example").await;
    for n in 0..3 {
        app.gql(INVITE, json!({ "e": format!("invitee{n}@quota.example") }), Some(&owner)).await.ok();
    }
    throttled(&app.gql(INVITE, json!({ "e": "invitee9@quota.example" }), Some(&owner)).await);
    app.gql(INVITE, json!({ "e": "invitee@neighbour.example" }), Some(&neighbour)).await.ok();
}

const START: &str = "mutation($s: String!) { startShopifyOAuth(shopDomain: $s) { state } }";
const COMPLETE: &str = "mutation($q: String!) { completeShopifyOAuth(query: $q) { shopDomain tokenStatus } }";
const SHOP: &str = "alatar-relay.myshopify.com";

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
    params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

async fn state_used(app: &TestApp, state: &str) -> bool {
    let row =
        oauth_state::Entity::find_by_id(state.to_owned()).one(&app.db.conn).await.unwrap_or_else(|e| panic!("{e}"));
    row.unwrap_or_else(|| panic!("no state {state}")).used_at.is_some()
}

/// Relays of someone else's install, by another account or by a colleague
/// in the same one, and a browser without the state's cookie are refused
/// and leave the state unused: the installer still completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_relay_leaves_the_state_for_the_installer() {
    let fake = FakeShopify::start().await;
    let app = TestApp::with_config(Backend::Sqlite, |c| {
        c.shopify.api_key = Some(APP_KEY.into());
        c.shopify.api_secret = Some(APP_SECRET.to_owned().into());
        c.shopify.admin_base_url = fake.base_url.clone();
        c.shopify.backoff_ms = 5;
        c.shopify.timeout_ms = 2_000;
    })
    .await;
    let (owner, _, _) = app.register("owner@relay-state.example").await;
    let (stranger, _, _) = app.register("stranger@relay-state.example").await;
    let invite = app.gql(INVITE, json!({ "e": "admin@relay-state.example" }), Some(&owner)).await.ok();
    let token = invite.data("/inviteMember/token").as_str().unwrap_or_default().to_owned();
    let colleague = register(&app, "admin@relay-state.example", PASSWORD, Some(&token)).await.ok();
    let colleague = colleague.data("/register/accessToken").as_str().unwrap_or_default().to_owned();

    let started = app.gql(START, json!({ "s": SHOP }), Some(&owner)).await.ok();
    let state = started.data("/startShopifyOAuth/state").as_str().unwrap_or_default().to_owned();
    let query = callback_query(&state);
    for (who, token) in [("another account", &stranger), ("a colleague", &colleague)] {
        let refused = app.gql(COMPLETE, json!({ "q": query }), Some(token)).await;
        assert_eq!(refused.code(), Some("FORBIDDEN"), "{who}: {}", refused.body);
        assert!(!state_used(&app, &state).await, "{who} burnt the state");
    }
    let request =
        Request::get(format!("/shopify/callback?{query}")).body(Body::empty()).unwrap_or_else(|e| panic!("{e}"));
    let (status, _, _) = app.send_from_elsewhere(request).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!state_used(&app, &state).await, "a cookieless browser burnt the state");

    let done = app.gql(COMPLETE, json!({ "q": query }), Some(&owner)).await.ok();
    assert_eq!(done.data("/completeShopifyOAuth/tokenStatus"), &json!("ACTIVE"));
    assert!(state_used(&app, &state).await);
}

/// The real binary, its JSON log lines kept for the test.
struct LoggingBinary {
    server: RunningBinary,
    base_url: String,
}

impl LoggingBinary {
    fn start(dir: &std::path::Path, env: &[(&str, &str)]) -> Self {
        let server = RunningBinary::start(dir, env);
        let base_url = server.base_url.clone();
        Self { server, base_url }
    }

    /// Sends a GraphQL request with `x-request-id: id`.
    async fn graphql(&self, id: &str, query: &str, variables: Value, token: Option<&str>) -> Value {
        let mut request = reqwest::Client::new()
            .post(format!("{}/graphql", self.base_url))
            .header("x-request-id", id)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// The log event `message` logged while serving request `id`, waiting for it.
    async fn event(&self, message: &str, id: &str) -> Value {
        for _ in 0..100 {
            let found = self
                .server
                .log_lines()
                .iter()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|e| e["message"] == message && e["span"]["request_id"] == id);
            if let Some(found) = found {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let lines = self.server.log_lines().join("\n");
        panic!("no {message:?} for request {id}; the log:\n{lines}")
    }
}

fn is_id(value: &Value) -> bool {
    value.as_str().is_some_and(|s| uuid::Uuid::parse_str(s).is_ok())
}

/// Every security event is logged in its request's span (`request_id`),
/// naming the account and user it concerns where known: a wrong password,
/// a throttled login, refresh-token reuse, a refusal (`FORBIDDEN`), a
/// webhook with a bad HMAC and a bad OAuth callback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_events_carry_the_request_id() {
    let dir = alatar_tests::scratch_dir();
    let server = LoggingBinary::start(
        &dir,
        &[
            // Long enough that the sixth attempt is throttled however slow the machine.
            ("ALATAR_RATE_LIMIT__AUTH__FIRST_DELAY_SECS", "60"),
            ("ALATAR_SHOPIFY__API_KEY", APP_KEY),
            ("ALATAR_SHOPIFY__API_SECRET", APP_SECRET),
        ],
    );
    let registered = server
        .graphql(
            "sec-register",
            "mutation($p: String!) { register(email: \"owner@events.example\", password: $p) { accessToken refreshToken user { id } } }",
            json!({ "p": PASSWORD }),
            None,
        )
        .await;
    let owner = registered["data"]["register"]["accessToken"].as_str().unwrap_or_default().to_owned();
    let owner_id = registered["data"]["register"]["user"]["id"].clone();
    let refresh = registered["data"]["register"]["refreshToken"].as_str().unwrap_or_default().to_owned();
    assert!(!owner.is_empty(), "{registered}");

    let wrong = json!({ "e": "owner@events.example", "p": "not the password" });
    server.graphql("sec-wrong-password", LOGIN, wrong.clone(), None).await;
    let event = server.event("login failed: wrong password", "sec-wrong-password").await;
    assert_eq!(event["user_id"], owner_id, "{event}");
    assert!(is_id(&event["account_id"]), "{event}");
    for n in 2..=5 {
        server.graphql(&format!("sec-wrong-{n}"), LOGIN, wrong.clone(), None).await;
    }
    let limited = server.graphql("sec-throttled", LOGIN, wrong, None).await;
    assert_eq!(limited["errors"][0]["extensions"]["code"], "RATE_LIMITED", "{limited}");
    let event = server.event("login throttled", "sec-throttled").await;
    assert_eq!(event["user_id"], owner_id, "{event}");
    assert_eq!(event["limited_by"], "account", "{event}");

    let rotate = "mutation($t: String!) { refreshToken(refreshToken: $t) { refreshToken } }";
    server.graphql("sec-rotate", rotate, json!({ "t": refresh }), None).await;
    server.graphql("sec-reuse", rotate, json!({ "t": refresh }), None).await;
    let event = server.event("refresh token reuse; family revoked", "sec-reuse").await;
    assert_eq!(event["user_id"], owner_id, "{event}");
    assert!(is_id(&event["account_id"]), "{event}");

    // A viewer trying to manage members.
    let invite = "mutation { inviteMember(email: \"viewer@events.example\", role: VIEWER) { token } }";
    let invited = server.graphql("sec-invite", invite, json!({}), Some(&owner)).await;
    let token = invited["data"]["inviteMember"]["token"].as_str().unwrap_or_default().to_owned();
    let joined = server
        .graphql(
            "sec-join",
            "mutation($t: String!, $p: String!) { register(email: \"viewer@events.example\", password: $p, invitationToken: $t) { accessToken user { id } } }",
            json!({ "t": token, "p": PASSWORD }),
            None,
        )
        .await;
    let viewer = joined["data"]["register"]["accessToken"].as_str().unwrap_or_default().to_owned();
    let refused = server
        .graphql(
            "sec-forbidden",
            "mutation { inviteMember(email: \"x@events.example\", role: VIEWER) { token } }",
            json!({}),
            Some(&viewer),
        )
        .await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN", "{refused}");
    let event = server.event("forbidden", "sec-forbidden").await;
    assert_eq!(event["span"]["user_id"], joined["data"]["register"]["user"]["id"], "{event}");
    assert!(is_id(&event["span"]["account_id"]), "{event}");

    let client = reqwest::Client::new();
    let webhook = client
        .post(format!("{}/shopify/webhooks", server.base_url))
        .header("x-request-id", "sec-webhook")
        .header("x-shopify-topic", "app/uninstalled")
        .header("x-shopify-shop-domain", SHOP)
        .header("x-shopify-webhook-id", "w-1")
        .header("x-shopify-hmac-sha256", "bm90IHRoZSBobWFj")
        .body("{}")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(webhook.status(), 401);
    let event = server.event("webhook refused: invalid HMAC", "sec-webhook").await;
    assert_eq!(event["claimed_shop"], SHOP, "{event}");

    let callback = client
        .get(format!(
            "{}/shopify/callback?code=c&shop={SHOP}&state=s&timestamp={}&hmac=00",
            server.base_url,
            Utc::now().timestamp()
        ))
        .header("x-request-id", "sec-callback")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(callback.status(), 400);
    let event = server.event("shopify oauth callback refused", "sec-callback").await;
    assert_eq!(event["reason"], "bad hmac", "{event}");
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}
