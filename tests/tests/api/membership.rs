//! Membership as it is now, not as the token says: a removed member's
//! still-unexpired access token is `UNAUTHENTICATED` on every field at once
//! (as `me` always was), a demoted admin loses admin powers at once, their
//! open subscriptions end (a removed member's with an `UNAUTHENTICATED`
//! error, a demoted one's by completing), and a change on one instance
//! reaches another through Redis within 2 s.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use alatar_entity::analysis_request;
use alatar_server::Application;
use alatar_tests::{Backend, TestApp, on_both_backends};

use super::analysis::QUESTION;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const INVITE: &str = "mutation($e: String!, $r: Role!) { inviteMember(email: $e, role: $r) { token } }";
const JOIN: &str = "mutation($e: String!, $t: String!) { register(email: $e, password: \"correct horse battery\", invitationToken: $t) { accessToken refreshToken user { id } } }";
const REMOVE: &str = "mutation($u: ID!) { removeMember(userId: $u) { id } }";
const CHANGE_ROLE: &str = "mutation($u: ID!, $r: Role!) { changeMemberRole(userId: $u, role: $r) { role } }";
const SUBMIT: &str = "mutation($p: String!, $s: ID!) { submitAnalysisRequest(prompt: $p, storeId: $s) { id } }";
const REFRESH: &str = "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }";
const ACCOUNT_EVENTS: &str = "subscription { accountEvents { kind email } }";
/// How soon a change must be seen everywhere.
const AT_ONCE: Duration = Duration::from_secs(2);

/// A member who joined by invitation.
struct Joined {
    access: String,
    refresh: String,
    id: String,
}

/// Invites `email` as `role` (as `inviter`) and registers them with the invitation.
async fn join(app: &TestApp, inviter: &str, email: &str, role: &str) -> Joined {
    let invited = app.gql(INVITE, json!({ "e": email, "r": role }), Some(inviter)).await.ok();
    let token = invited.data("/inviteMember/token").clone();
    let joined = app.gql(JOIN, json!({ "e": email, "t": token }), None).await.ok();
    let s = |p: &str| joined.data(p).as_str().unwrap_or_default().to_owned();
    Joined { access: s("/register/accessToken"), refresh: s("/register/refreshToken"), id: s("/register/user/id") }
}

/// Links the demo store as `token`'s user; returns its id.
async fn demo_store(app: &TestApp, token: &str) -> String {
    let linked = app.gql("mutation { connectDemoStore(name: \"Demo\") { id } }", json!({}), Some(token)).await.ok();
    linked.data("/connectDemoStore/id").as_str().unwrap_or_default().to_owned()
}

/// Asks `QUESTION` as `token`'s user and waits for the proposals it ends
/// with; returns the request's id and its proposals (`id`, `parametersHash`).
async fn analysed(app: &TestApp, token: &str, store: &str) -> (String, Vec<Value>) {
    let submitted = app.gql(SUBMIT, json!({ "p": QUESTION, "s": store }), Some(token)).await.ok();
    let id = submitted.data("/submitAnalysisRequest/id").as_str().unwrap_or_default().to_owned();
    let query = "query($id: ID!) { analysisRequest(id: $id) { status } proposedActions(requestId: $id) { id parametersHash status } }";
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = app.gql(query, json!({ "id": id }), Some(token)).await.ok();
        let status = r.data("/analysisRequest/status").as_str().unwrap_or_default().to_owned();
        if matches!(status.as_str(), "AWAITING_APPROVAL" | "COMPLETED" | "FAILED" | "CANCELLED") {
            let proposals = r.data("/proposedActions").as_array().cloned().unwrap_or_default();
            assert!(!proposals.is_empty(), "the demo question proposes changes: {}", r.body);
            return (id, proposals);
        }
        assert!(Instant::now() < deadline, "request {id} did not finish: {}", r.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn analysis_requests(app: &TestApp) -> u64 {
    analysis_request::Entity::find().count(&app.db.conn).await.unwrap_or_else(|e| panic!("{e}"))
}

/// What a member reads: (name, query, variables).
fn reads(store: &str, request: &str, proposal: &str) -> Vec<(&'static str, &'static str, Value)> {
    vec![
        ("me", "{ me { id role } }", json!({})),
        ("account", "{ account { name members { email } } }", json!({})),
        ("stores", "{ stores { id name } }", json!({})),
        ("listAnalysisRequests", "{ listAnalysisRequests { edges { node { id prompt } } } }", json!({})),
        ("analysisRequest", "query($id: ID!) { analysisRequest(id: $id) { prompt status } }", json!({ "id": request })),
        (
            "proposedActions",
            "query($r: ID) { proposedActions(requestId: $r) { id parameters parametersHash } }",
            json!({ "r": request }),
        ),
        (
            "proposedAction",
            "query($id: ID!) { proposedAction(id: $id) { kind parameters } }",
            json!({ "id": proposal }),
        ),
        ("submitAnalysisRequest", SUBMIT, json!({ "p": "How did revenue develop last month?", "s": store })),
    ]
}

async fn removed_member_is_refused_everywhere_at_once(backend: Backend) {
    let app = TestApp::with_config(backend, |c| c.rate_limit.free_per_hour = 100_000).await;
    let (owner, _, _) = app.register("owner@removal.example").await;
    let store = demo_store(&app, &owner).await;
    let (request, proposals) = analysed(&app, &owner, &store).await;
    let proposal = proposals[0]["id"].as_str().unwrap_or_default().to_owned();
    let member = join(&app, &owner, "member@removal.example", "ANALYST").await;

    // A member reads the account's stores, analyses (prompts included) and
    // proposals (parameters included), and asks questions.
    for (name, query, variables) in reads(&store, &request, &proposal) {
        let r = app.gql(query, variables, Some(&member.access)).await;
        assert!(r.body.get("errors").is_none(), "{name} as a member: {}", r.body);
    }

    app.gql(REMOVE, json!({ "u": member.id }), Some(&owner)).await.ok();
    let queued = analysis_requests(&app).await;

    // The same, unexpired token gets nothing any more, whatever it asks.
    for (name, query, variables) in reads(&store, &request, &proposal) {
        let r = app.gql(query, variables, Some(&member.access)).await;
        assert_eq!(r.code(), Some("UNAUTHENTICATED"), "{name} after removal: {}", r.body);
        assert!(r.body["data"].is_null(), "{name} after removal answered data: {}", r.body);
    }
    assert_eq!(analysis_requests(&app).await, queued, "a removed member's question was queued");
    // Its refresh token went with it.
    let refreshed = app.gql(REFRESH, json!({ "t": member.refresh }), None).await;
    assert_eq!(refreshed.code(), Some("UNAUTHENTICATED"), "{}", refreshed.body);
    // The owner is untouched.
    for (name, query, variables) in reads(&store, &request, &proposal) {
        let r = app.gql(query, variables, Some(&owner)).await;
        assert!(r.body.get("errors").is_none(), "{name} as the owner: {}", r.body);
    }
}

async fn demoted_admin_loses_admin_powers_at_once(backend: Backend) {
    let app = TestApp::with_config(backend, |c| c.rate_limit.free_per_hour = 100_000).await;
    let (owner, _, _) = app.register("owner@demotion.example").await;
    let store = demo_store(&app, &owner).await;
    let (request, proposals) = analysed(&app, &owner, &store).await;
    let (proposal, hash) = (proposals[0]["id"].clone(), proposals[0]["parametersHash"].clone());
    let admin = join(&app, &owner, "admin@demotion.example", "ADMIN").await;
    // An admin manages members.
    app.gql(INVITE, json!({ "e": "first@demotion.example", "r": "VIEWER" }), Some(&admin.access)).await.ok();

    app.gql(CHANGE_ROLE, json!({ "u": admin.id, "r": "ANALYST" }), Some(&owner)).await.ok();
    // The token still says ADMIN; the membership says ANALYST, at once.
    let me = app.gql("{ me { role } }", json!({}), Some(&admin.access)).await.ok();
    assert_eq!(me.data("/me/role"), &json!("ANALYST"));
    let invite = app.gql(INVITE, json!({ "e": "second@demotion.example", "r": "VIEWER" }), Some(&admin.access)).await;
    assert_eq!(invite.code(), Some("FORBIDDEN"), "invite: {}", invite.body);
    let approve = app
        .gql(
            "mutation($id: ID!, $h: String!) { approveAction(id: $id, parametersHash: $h) { status } }",
            json!({ "id": proposal, "h": hash }),
            Some(&admin.access),
        )
        .await;
    assert_eq!(approve.code(), Some("FORBIDDEN"), "approve: {}", approve.body);
    let reject = app
        .gql("mutation($id: ID!) { rejectAction(id: $id) { status } }", json!({ "id": proposal }), Some(&admin.access))
        .await;
    assert_eq!(reject.code(), Some("FORBIDDEN"), "reject: {}", reject.body);
    // Cancelling someone else's analysis is for owners and admins, judged by
    // the role in hand (not re-read by the service): the membership's.
    let cancel = app
        .gql(
            "mutation($id: ID!) { cancelAnalysisRequest(id: $id) { status } }",
            json!({ "id": request }),
            Some(&admin.access),
        )
        .await;
    assert_eq!(cancel.code(), Some("FORBIDDEN"), "cancel: {}", cancel.body);
    let pending = app
        .gql("query($id: ID!) { proposedAction(id: $id) { status } }", json!({ "id": proposal }), Some(&owner))
        .await;
    assert_eq!(pending.ok().data("/proposedAction/status"), &json!("PENDING"), "still for a person to decide");

    // Down to VIEWER: no more questions, and nothing queued.
    app.gql(CHANGE_ROLE, json!({ "u": admin.id, "r": "VIEWER" }), Some(&owner)).await.ok();
    let queued = analysis_requests(&app).await;
    let asked = app.gql(SUBMIT, json!({ "p": QUESTION, "s": store }), Some(&admin.access)).await;
    assert_eq!(asked.code(), Some("FORBIDDEN"), "submit as a viewer: {}", asked.body);
    assert_eq!(analysis_requests(&app).await, queued);
}

on_both_backends! {
    removed_member => removed_member_is_refused_everywhere_at_once;
    demoted_admin => demoted_admin_loses_admin_powers_at_once;
}

/// Serves `router` on a port of its own (WebSocket clients need one);
/// returns the port.
async fn serve(router: axum::Router) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    // Served here rather than by `run_until_stopped`, which would take the
    // test process's SIGINT.
    tokio::spawn(async move { axum::serve(listener, router).await });
    port
}

fn text(value: Value) -> Message {
    Message::Text(value.to_string().into())
}

/// A graphql-transport-ws connection to `port` as `token`'s user, with
/// subscription `"1"` to `query` sent.
async fn subscribe(port: u16, token: &str, query: &str) -> Socket {
    let mut request = format!("ws://127.0.0.1:{port}/graphql").into_client_request().unwrap_or_else(|e| panic!("{e}"));
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap_or_else(|e| panic!("{e}")));
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap_or_else(|e| panic!("{e}"));
    let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } });
    socket.send(text(init)).await.unwrap_or_else(|e| panic!("{e}"));
    let ack = tokio::time::timeout(Duration::from_secs(10), socket.next()).await.ok().flatten();
    assert!(matches!(&ack, Some(Ok(Message::Text(t))) if t.contains("connection_ack")), "{ack:?}");
    subscribe_again(&mut socket, "1", query).await;
    socket
}

async fn subscribe_again(socket: &mut Socket, id: &str, query: &str) {
    let message = json!({ "id": id, "type": "subscribe", "payload": { "query": query } });
    socket.send(text(message)).await.unwrap_or_else(|e| panic!("{e}"));
}

/// What became of a subscription.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// It yielded data.
    Data(Value),
    /// It yielded an error with this code (the stream ends after it).
    Error(String),
    /// The server completed it.
    Complete,
    /// The socket closed.
    Closed,
    /// Nothing within the wait.
    Quiet,
}

/// The next thing that happens to subscription `id` on `socket` within `wait`.
async fn outcome(socket: &mut Socket, id: &str, wait: Duration) -> Outcome {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let Ok(message) = tokio::time::timeout_at(deadline, socket.next()).await else { return Outcome::Quiet };
        let value: Value = match message {
            Some(Ok(Message::Text(t))) => serde_json::from_str(&t).unwrap_or_default(),
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return Outcome::Closed,
            Some(Ok(_)) => continue,
        };
        if value["id"] != json!(id) {
            continue; // keep-alives, pings, other subscriptions
        }
        match value["type"].as_str() {
            Some("complete") => return Outcome::Complete,
            Some("next") if value["payload"].get("errors").is_some() => {
                return Outcome::Error(
                    value["payload"]["errors"][0]["extensions"]["code"].as_str().unwrap_or("").into(),
                );
            }
            Some("next") => return Outcome::Data(value["payload"]["data"].clone()),
            Some("error") => {
                return Outcome::Error(value["payload"][0]["extensions"]["code"].as_str().unwrap_or("").into());
            }
            _ => panic!("unexpected message: {value}"),
        }
    }
}

/// What a subscription ends with within `wait`, passing over the data it
/// yields before (a removed member may first hear of their own removal).
async fn ending(socket: &mut Socket, id: &str, wait: Duration) -> Outcome {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match outcome(socket, id, left).await {
            Outcome::Data(_) => continue,
            other => return other,
        }
    }
}

/// Invites fresh addresses as `owner` until `socket`'s `accountEvents`
/// subscription `"1"` hears of one: it is live (on another instance, once
/// that instance's Redis subscription stands).
async fn live(app: &TestApp, owner: &str, socket: &mut Socket) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let email = format!("probe-{}@members.example", uuid::Uuid::now_v7());
        app.gql(INVITE, json!({ "e": email, "r": "VIEWER" }), Some(owner)).await.ok();
        let heard = json!({ "accountEvents": { "kind": "MEMBER_INVITED", "email": email } });
        let wait = tokio::time::Instant::now() + Duration::from_millis(500);
        loop {
            let left = wait.saturating_duration_since(tokio::time::Instant::now());
            match outcome(socket, "1", left).await {
                Outcome::Data(data) if data == heard => return,
                Outcome::Data(_) => continue, // an earlier probe, heard late
                Outcome::Quiet => break,
                other => panic!("the subscription ended: {other:?}"),
            }
        }
        assert!(Instant::now() < deadline, "the subscription heard nothing within 10 s");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_members_subscriptions_end_and_a_demoted_ones_complete() {
    let app = TestApp::new(Backend::Sqlite).await;
    let port = serve(app.router.clone()).await;
    let (owner, _, _) = app.register("owner@ws-members.example").await;
    let removed = join(&app, &owner, "removed@ws-members.example", "ANALYST").await;
    let demoted = join(&app, &owner, "demoted@ws-members.example", "ADMIN").await;
    let mut removed_events = subscribe(port, &removed.access, ACCOUNT_EVENTS).await;
    let mut removed_actions = subscribe(port, &removed.access, "subscription { actionUpdates { id status } }").await;
    let mut demoted_events = subscribe(port, &demoted.access, ACCOUNT_EVENTS).await;
    live(&app, &owner, &mut removed_events).await;
    live(&app, &owner, &mut demoted_events).await;

    // A role change completes that member's subscriptions (they subscribe
    // again under the new role), and no one else's.
    app.gql(CHANGE_ROLE, json!({ "u": demoted.id, "r": "ANALYST" }), Some(&owner)).await.ok();
    let started = Instant::now();
    assert_eq!(ending(&mut demoted_events, "1", AT_ONCE).await, Outcome::Complete, "after {:?}", started.elapsed());
    live(&app, &owner, &mut removed_events).await;
    subscribe_again(&mut demoted_events, "2", ACCOUNT_EVENTS).await;
    assert_eq!(outcome(&mut demoted_events, "2", Duration::from_millis(300)).await, Outcome::Quiet, "resubscribed");

    // A removal ends the member's subscriptions with UNAUTHENTICATED.
    app.gql(REMOVE, json!({ "u": removed.id }), Some(&owner)).await.ok();
    let started = Instant::now();
    let unauthenticated = Outcome::Error("UNAUTHENTICATED".into());
    assert_eq!(ending(&mut removed_events, "1", AT_ONCE).await, unauthenticated, "after {:?}", started.elapsed());
    assert_eq!(ending(&mut removed_actions, "1", AT_ONCE).await, unauthenticated, "after {:?}", started.elapsed());
    // The connection stays, but nothing new begins on it.
    subscribe_again(&mut removed_events, "2", ACCOUNT_EVENTS).await;
    assert_eq!(ending(&mut removed_events, "2", AT_ONCE).await, unauthenticated);
    let query = json!({ "id": "3", "type": "subscribe", "payload": { "query": "{ stores { id } }" } });
    removed_events.send(text(query)).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome(&mut removed_events, "3", AT_ONCE).await, unauthenticated, "a query over the socket");
}

/// Another instance of `first`'s deployment: the same database, Redis,
/// RabbitMQ namespace and secrets, its own process state (and member cache).
async fn second_instance(first: &TestApp, namespace: &str) -> Application {
    let mut config = alatar_tests::test_config(&first.db.dir);
    config.amqp_url = Some(alatar_tests::amqp_url().into());
    config.redis_url = Some(alatar_tests::redis_url().into());
    config.pipeline.queue_namespace = namespace.to_owned();
    config.pipeline.worker = false;
    config.rate_limit.free_per_hour = 100_000;
    Application::build_with_database(config, first.db.conn.clone())
        .await
        .unwrap_or_else(|e| panic!("build the second instance: {e:#}"))
}

/// Posts `query` to the instance at `url` as `token`'s user until
/// `done(answer)`, at most [`AT_ONCE`]; returns how long it took.
async fn until(url: &str, query: &str, token: &str, done: impl Fn(&Value) -> bool) -> Duration {
    let started = Instant::now();
    loop {
        let answer = alatar_tests::post_graphql(url, json!({ "query": query }), Some(token)).await;
        if done(&answer) {
            return started.elapsed();
        }
        assert!(started.elapsed() < AT_ONCE, "not within {AT_ONCE:?}: {answer}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_on_one_instance_reach_another_at_once() {
    let (b, namespace) = TestApp::production(false).await;
    let a = second_instance(&b, &namespace).await;
    let a_port = serve(a.router()).await;
    let a_url = format!("http://127.0.0.1:{a_port}");
    let (owner, _, _) = b.register("owner@instances.example").await;
    let member = join(&b, &owner, "member@instances.example", "ADMIN").await;

    // A has read the member (its cache keeps them for 30 s) and streams
    // their account's events, live.
    let me = alatar_tests::post_graphql(&a_url, json!({ "query": "{ me { role } }" }), Some(&member.access)).await;
    assert_eq!(me["data"]["me"]["role"], "ADMIN", "{me}");
    let mut events = subscribe(a_port, &member.access, ACCOUNT_EVENTS).await;
    live(&b, &owner, &mut events).await;

    // Demoted on B: A acts with the new role, and completes the subscription.
    b.gql(CHANGE_ROLE, json!({ "u": member.id, "r": "ANALYST" }), Some(&owner)).await.ok();
    until(&a_url, "{ me { role } }", &member.access, |r| r["data"]["me"]["role"] == "ANALYST").await;
    assert_eq!(ending(&mut events, "1", AT_ONCE).await, Outcome::Complete);
    let mut events = subscribe(a_port, &member.access, ACCOUNT_EVENTS).await;
    live(&b, &owner, &mut events).await;

    // Removed on B: A refuses the token and ends the subscription.
    let stores = "{ stores { id } }";
    until(&a_url, stores, &member.access, |r| r.get("errors").is_none()).await;
    b.gql(REMOVE, json!({ "u": member.id }), Some(&owner)).await.ok();
    until(&a_url, stores, &member.access, |r| r["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED").await;
    assert_eq!(ending(&mut events, "1", AT_ONCE).await, Outcome::Error("UNAUTHENTICATED".into()));
    drop(a);
}
