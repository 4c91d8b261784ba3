//! "database is locked" never reaches users (issue 13). On the embedded
//! default as `alatar serve` opens it (a SQLite file in WAL mode, the
//! server's pool of connections, the in-process worker), refresh-token
//! rotations, registrations and invitation sign-ups race each other while
//! the worker writes analyses: each succeeds, or loses its race cleanly
//! (one refresh token presented ten times at once: one rotation, nine
//! `UNAUTHENTICATED`), and no answer is `INTERNAL`.
//!
//! `TestApp` on SQLite runs on a single connection, where writers never
//! meet; this test builds the app on the database the binary opens.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use futures_util::future::join_all;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

use alatar_entity::{AnalysisStatus, analysis_request};
use alatar_server::Application;
use alatar_tests::{Backend, Gql, TestApp, on_both_backends};

use super::analysis::QUESTION;

const PASSWORD: &str = "correct horse battery";
const REGISTER: &str = "mutation($e: String!, $p: String!) { register(email: $e, password: $p) { accessToken } }";
const SIGN_UP: &str = "mutation($e: String!, $p: String!, $t: String!) {
    register(email: $e, password: $p, invitationToken: $t) { user { role } } }";
const LOGIN: &str = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { refreshToken } }";
const REFRESH: &str = "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }";
const INVITE: &str = "mutation($e: String!) { inviteMember(email: $e, role: ANALYST) { token } }";
const SUBMIT: &str = "mutation($p: String!, $s: ID!) { submitAnalysisRequest(prompt: $p, storeId: $s) { id } }";

/// The whole burst, setup aside, and the analyses settling after it.
const BUDGET: Duration = Duration::from_secs(30);

/// The embedded default on its own data directory, removed on drop.
struct Embedded {
    router: axum::Router,
    db: DatabaseConnection,
    /// Keeps the in-process worker running.
    _app: Application,
    dir: PathBuf,
}

impl Drop for Embedded {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn embedded() -> Embedded {
    let dir = alatar_tests::scratch_dir();
    let config = alatar_tests::test_config(&dir);
    assert!(!config.uses_postgres(), "the embedded default has no database_url");
    let db = alatar_server::open_database(&config).await.unwrap_or_else(|e| panic!("open the database: {e:#}"));
    let app = Application::build_with_database(config, db.clone()).await.unwrap_or_else(|e| panic!("build: {e:#}"));
    Embedded { router: app.router(), db, _app: app, dir }
}

async fn gql(router: &axum::Router, query: &str, variables: Value, token: Option<&str>) -> Gql {
    let mut request = Request::post("/graphql")
        .header("content-type", "application/json")
        .header("accept", "application/graphql-response+json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request
        .body(Body::from(json!({ "query": query, "variables": variables }).to_string()))
        .unwrap_or_else(|e| panic!("{e}"));
    let response = router.clone().oneshot(request).await.unwrap_or_else(|e| match e {});
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap_or_else(|e| panic!("{e}"));
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("non-JSON response ({status}): {e}: {}", String::from_utf8_lossy(&bytes)));
    Gql { status, headers, body }
}

/// Sends on its own task, so requests run in parallel on the runtime's threads.
fn spawn_gql(router: &axum::Router, query: &'static str, variables: Value) -> tokio::task::JoinHandle<Gql> {
    let router = router.clone();
    tokio::spawn(async move { gql(&router, query, variables, None).await })
}

async fn answers(handles: Vec<tokio::task::JoinHandle<Gql>>) -> Vec<Gql> {
    join_all(handles).await.into_iter().map(|joined| joined.unwrap_or_else(|e| panic!("request task: {e}"))).collect()
}

/// Every error's `extensions.code`.
fn codes(answer: &Gql) -> Vec<String> {
    answer.body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["extensions"]["code"].as_str())
        .map(str::to_owned)
        .collect()
}

fn text(answer: &Gql, pointer: &str) -> String {
    answer.data(pointer).as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sign_ins_and_sign_ups_while_the_worker_writes_never_fail_internally() {
    let app = embedded().await;
    let r = &app.router;

    // Setup: an owner with a demo store, 61 refresh tokens of their own
    // families (60 to rotate, one to race), 20 invitations.
    let owner = gql(r, REGISTER, json!({ "e": "owner@busy.example", "p": PASSWORD }), None).await.ok();
    let owner = text(&owner, "/register/accessToken");
    let store = gql(r, "mutation { connectDemoStore(name: \"Demo\") { id } }", json!({}), Some(&owner)).await.ok();
    let store = text(&store, "/connectDemoStore/id");
    // One login at a time: concurrent ones of one account would be throttled.
    let mut tokens = Vec::new();
    for _ in 0..61 {
        let login = gql(r, LOGIN, json!({ "e": "owner@busy.example", "p": PASSWORD }), None).await.ok();
        tokens.push(text(&login, "/login/refreshToken"));
    }
    let mut invitations = Vec::new();
    for i in 0..20 {
        let email = format!("member{i}@busy.example");
        let invite = gql(r, INVITE, json!({ "e": email }), Some(&owner)).await.ok();
        invitations.push((email, text(&invite, "/inviteMember/token")));
    }

    let burst = async {
        // The worker gets analyses to write, and more arrive during the burst.
        let mut submitted = Vec::new();
        for _ in 0..4 {
            submitted.push(gql(r, SUBMIT, json!({ "p": QUESTION, "s": store }), Some(&owner)).await);
        }
        let more = {
            let (router, owner, store) = (r.clone(), owner.clone(), store.clone());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                for _ in 0..8 {
                    answers.push(gql(&router, SUBMIT, json!({ "p": QUESTION, "s": store }), Some(&owner)).await);
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                answers
            })
        };
        let rotations: Vec<_> = tokens[..60].iter().map(|t| spawn_gql(r, REFRESH, json!({ "t": t }))).collect();
        let racing: Vec<_> = (0..10).map(|_| spawn_gql(r, REFRESH, json!({ "t": tokens[60] }))).collect();
        let registrations: Vec<_> = (0..30)
            .map(|i| spawn_gql(r, REGISTER, json!({ "e": format!("new{i}@busy.example"), "p": PASSWORD })))
            .collect();
        let sign_ups: Vec<_> = invitations
            .iter()
            .map(|(email, token)| spawn_gql(r, SIGN_UP, json!({ "e": email, "p": PASSWORD, "t": token })))
            .collect();
        let (rotations, racing, registrations, sign_ups) =
            tokio::join!(answers(rotations), answers(racing), answers(registrations), answers(sign_ups));
        submitted.extend(more.await.unwrap_or_else(|e| panic!("submitter: {e}")));

        let everything = rotations.iter().chain(&racing).chain(&registrations).chain(&sign_ups).chain(&submitted);
        let internal: Vec<&Value> =
            everything.filter(|a| codes(a).iter().any(|c| c == "INTERNAL")).map(|a| &a.body).collect();
        assert!(internal.is_empty(), "{} answers were INTERNAL: {internal:?}", internal.len());

        for rotated in &rotations {
            let fresh = rotated.data("/refreshToken/refreshToken").is_string();
            assert!(codes(rotated).is_empty() && fresh, "{}", rotated.body);
        }
        let won: Vec<&Gql> = racing.iter().filter(|a| codes(a).is_empty()).collect();
        let bodies: Vec<&Value> = racing.iter().map(|a| &a.body).collect();
        assert_eq!(won.len(), 1, "exactly one rotation of one token: {bodies:?}");
        for lost in racing.iter().filter(|a| !codes(a).is_empty()) {
            assert_eq!(codes(lost), ["UNAUTHENTICATED"], "{}", lost.body);
        }
        for registered in &registrations {
            let signed_in = registered.data("/register/accessToken").is_string();
            assert!(codes(registered).is_empty() && signed_in, "{}", registered.body);
        }
        for joined in &sign_ups {
            assert_eq!(joined.data("/register/user/role"), &json!("ANALYST"), "{}", joined.body);
        }
        for answer in &submitted {
            assert!(codes(answer).is_empty(), "{}", answer.body);
        }

        // The worker's own writes went through as well: every analysis settles.
        let ids: Vec<Uuid> = submitted
            .iter()
            .map(|a| {
                Uuid::parse_str(&text(a, "/submitAnalysisRequest/id")).unwrap_or_else(|e| panic!("{e}: {}", a.body))
            })
            .collect();
        loop {
            let rows = analysis_request::Entity::find()
                .filter(analysis_request::Column::Id.is_in(ids.clone()))
                .all(&app.db)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(
                rows.iter().all(|row| row.status != AnalysisStatus::Failed),
                "an analysis failed: {:?}",
                rows.iter().map(|row| (row.status, row.failure_reason.clone())).collect::<Vec<_>>()
            );
            let settled = rows
                .iter()
                .filter(|row| matches!(row.status, AnalysisStatus::AwaitingApproval | AnalysisStatus::Completed))
                .count();
            if settled == ids.len() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let started = Instant::now();
    tokio::time::timeout(BUDGET, burst)
        .await
        .unwrap_or_else(|_| panic!("the burst and the analyses did not finish within {BUDGET:?}"));
    assert!(started.elapsed() < BUDGET);
}

/// The same refresh token presented several times at once is rotated once;
/// the other presentations are a reuse (`UNAUTHENTICATED`). On PostgreSQL
/// the transactions really overlap: the rotation is a conditional update.
async fn one_rotation_of_a_token_wins(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (_, refresh, _) = app.register("racer@busy.example").await;
    let racing = join_all((0..8).map(|_| app.gql(REFRESH, json!({ "t": refresh }), None))).await;
    let won = racing.iter().filter(|a| codes(a).is_empty()).count();
    assert_eq!(won, 1, "{:?}", racing.iter().map(|a| &a.body).collect::<Vec<_>>());
    for lost in racing.iter().filter(|a| !codes(a).is_empty()) {
        assert_eq!(codes(lost), ["UNAUTHENTICATED"], "{}", lost.body);
    }
}

on_both_backends! {
    one_rotation_of_a_refresh_token_wins_a_race => one_rotation_of_a_token_wins;
}
