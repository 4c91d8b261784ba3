//! `accountEvents` across instances: two apps on one PostgreSQL database and
//! one Redis, a subscriber on one seeing what members did on either, each
//! event once. And the Redis implementation of the port on its own: a
//! subscriber's stream ends when its instance loses Redis, and events flow
//! again once Redis is back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use uuid::Uuid;

use alatar_schema::service::events::{AccountEventStream, RedisAccountEvents};
use alatar_schema::service::{AccountEvent, AccountEventKind, AccountEvents};
use alatar_server::Application;
use alatar_tests::TestApp;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const INVITE: &str = "mutation($e: String!) { inviteMember(email: $e, role: ANALYST) { token } }";

/// Another instance of `first`'s deployment: the same database, Redis,
/// RabbitMQ namespace and secrets, its own process state.
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

/// A graphql-transport-ws connection to the app on `port`, subscribed to
/// `accountEvents` as `token`'s user.
async fn subscribe(port: u16, token: &str) -> Socket {
    let mut request = format!("ws://127.0.0.1:{port}/graphql").into_client_request().unwrap_or_else(|e| panic!("{e}"));
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap_or_else(|e| panic!("{e}")));
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap_or_else(|e| panic!("{e}"));
    let send = |value: Value| Message::Text(value.to_string().into());
    let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } });
    socket.send(send(init)).await.unwrap_or_else(|e| panic!("{e}"));
    let ack = tokio::time::timeout(Duration::from_secs(10), socket.next()).await.ok().flatten();
    assert!(matches!(&ack, Some(Ok(Message::Text(t))) if t.contains("connection_ack")), "{ack:?}");
    let query = "subscription { accountEvents { kind email } }";
    socket
        .send(send(json!({ "id": "1", "type": "subscribe", "payload": { "query": query } })))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    socket
}

/// The next `accountEvents` item within `wait`, or `None` when none came.
async fn next_event(socket: &mut Socket, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next()).await.ok()?;
        match message {
            Some(Ok(Message::Text(text))) => {
                let value: Value = serde_json::from_str(&text).unwrap_or_default();
                match value["type"].as_str() {
                    Some("ka" | "ping" | "pong") => continue,
                    Some("next") => return Some(value["payload"]["data"]["accountEvents"].clone()),
                    _ => panic!("unexpected message: {value}"),
                }
            }
            Some(Ok(Message::Close(frame))) => panic!("the socket closed: {frame:?}"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("{e}"),
            None => panic!("the socket ended"),
        }
    }
}

fn invited(email: &str) -> Option<Value> {
    Some(json!({ "kind": "MEMBER_INVITED", "email": email }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_events_reach_subscribers_on_every_instance() {
    let (b, namespace) = TestApp::production(false).await;
    let a = second_instance(&b, &namespace).await;
    // Served here rather than by `run_until_stopped`, which would take the
    // test process's SIGINT.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
    let a_port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    let a_url = format!("http://127.0.0.1:{a_port}");
    let router = a.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let (owner, _, _) = b.register("owner@shared.example").await;
    let (stranger, _, _) = b.register("stranger@elsewhere.example").await;

    let mut socket = subscribe(a_port, &owner).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Another account's activity must not reach this subscriber.
    b.gql(INVITE, json!({ "e": "someone@elsewhere.example" }), Some(&stranger)).await.ok();
    // A member invited on B: the subscriber on A hears of it.
    b.gql(INVITE, json!({ "e": "from-b@shared.example" }), Some(&owner)).await.ok();
    let wait = Duration::from_secs(10);
    assert_eq!(next_event(&mut socket, wait).await, invited("from-b@shared.example"), "B's event on A");

    // A member invited on A itself: heard once (through Redis, not also
    // in-process), so the next event is B's next one.
    let on_a = alatar_tests::post_graphql(
        &a_url,
        json!({ "query": INVITE, "variables": { "e": "from-a@shared.example" } }),
        Some(&owner),
    )
    .await;
    assert!(on_a.get("errors").is_none(), "{on_a}");
    assert_eq!(next_event(&mut socket, wait).await, invited("from-a@shared.example"), "A's own event");
    b.gql(INVITE, json!({ "e": "last@shared.example" }), Some(&owner)).await.ok();
    assert_eq!(next_event(&mut socket, wait).await, invited("last@shared.example"), "each event exactly once");
    assert_eq!(next_event(&mut socket, Duration::from_millis(500)).await, None, "nothing more");
}

/// A TCP proxy in front of the test Redis that can drop every connection
/// through it and refuse new ones, so one instance loses Redis while the
/// shared server (and every other test using it) carries on.
struct RedisProxy {
    /// A Redis URL that goes through the proxy.
    url: String,
    up: Arc<AtomicBool>,
    cuts: Arc<watch::Sender<u64>>,
}

impl RedisProxy {
    async fn start() -> Self {
        let real = alatar_tests::redis_url();
        let rest = real.split_once("://").map_or(real.as_str(), |(_, rest)| rest);
        let host = rest.split(['/', '?']).next().unwrap_or(rest);
        let authority = host.rsplit_once('@').map_or(host, |(_, host)| host).to_owned();
        let target = if authority.contains(':') { authority.clone() } else { format!("{authority}:6379") };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        let up = Arc::new(AtomicBool::new(true));
        let cuts = Arc::new(watch::channel(0_u64).0);
        tokio::spawn({
            let (up, cuts) = (up.clone(), cuts.clone());
            async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        continue; // dropped: Redis is "down"
                    }
                    let (target, mut cut) = (target.clone(), cuts.subscribe());
                    tokio::spawn(async move {
                        let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else { return };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                            _ = cut.changed() => {}
                        }
                    });
                }
            }
        });
        Self { url: real.replacen(&authority, &format!("127.0.0.1:{port}"), 1), up, cuts }
    }

    /// Drops every connection and refuses new ones.
    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    /// Accepts connections again.
    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// An instance's account events on the Redis at `url`.
async fn events_on(url: &str) -> Arc<RedisAccountEvents> {
    let client = redis::Client::open(url).unwrap_or_else(|e| panic!("{e}"));
    let connection = redis::aio::ConnectionManager::new(client.clone()).await.unwrap_or_else(|e| panic!("{e}"));
    RedisAccountEvents::start(client, connection)
}

/// Publishes an invitation event on `from`; whether `stream` hears of it
/// within `wait` (`false` also when the stream ended).
async fn heard(from: &RedisAccountEvents, stream: &mut AccountEventStream, account_id: Uuid, wait: Duration) -> bool {
    let email = format!("{}@probe.example", Uuid::now_v7());
    let at = chrono::Utc::now();
    from.publish(AccountEvent { account_id, kind: AccountEventKind::MemberInvited, email: email.clone(), at });
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, stream.next()).await {
        if event.email == email {
            return true;
        }
    }
    false
}

/// A stream of `account_id`'s events on `here` that hears what `elsewhere`
/// publishes: streams begun before `here` is subscribed miss probes (or end
/// once it is, after an outage), so this subscribes again until one hears.
async fn hearing(
    here: &RedisAccountEvents,
    elsewhere: &RedisAccountEvents,
    account_id: Uuid,
    within: Duration,
) -> AccountEventStream {
    let deadline = Instant::now() + within;
    loop {
        let mut stream = here.subscribe(account_id);
        if heard(elsewhere, &mut stream, account_id, Duration::from_millis(300)).await {
            return stream;
        }
        assert!(Instant::now() < deadline, "no event from the other instance within {within:?}");
    }
}

/// Whether `stream` ends within `wait` (whatever it yields before).
async fn ends(stream: &mut AccountEventStream, wait: Duration) -> bool {
    tokio::time::timeout(wait, async { while stream.next().await.is_some() {} }).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_end_when_redis_drops_and_hear_again_once_it_is_back() {
    let proxy = RedisProxy::start().await;
    let here = events_on(&proxy.url).await;
    let elsewhere = events_on(&alatar_tests::redis_url()).await;
    let account = Uuid::now_v7();
    let mut live = hearing(&here, &elsewhere, account, Duration::from_secs(10)).await;

    proxy.cut();
    assert!(ends(&mut live, Duration::from_secs(10)).await, "the stream did not end when Redis dropped");
    // Begun while Redis is away: it misses the other instance's events, so it
    // ends once the subscription is back.
    let mut during = here.subscribe(account);
    proxy.restore();
    assert!(ends(&mut during, Duration::from_secs(10)).await, "the outage's stream did not end after it");
    let mut after = hearing(&here, &elsewhere, account, Duration::from_secs(10)).await;
    assert!(heard(&elsewhere, &mut after, account, Duration::from_secs(5)).await, "events flow again");
}
