//! Slow, idle and too many clients over real sockets (issue 13): the header,
//! body and idle timeouts, the connection caps' 503 (in all and per client
//! address), graceful shutdown, WebSocket keepalive, and where `/metrics` is
//! served. The application runs in-process on port 0 (`run_until`, so no
//! SIGINT handler), with timeouts of a second or two; every wait is bounded.
//! `Served` is shared with `slow_readers` (the write timeout) and
//! `client_gone` (work stopped when its client leaves); the descriptor limit
//! is `descriptors`, on the real binary.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use alatar_server::{Application, Config};
use alatar_tests::{Backend, TestApp, TestDb};

pub(super) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub(super) fn millis(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// An application served on port 0 until `stop`.
pub(super) struct Served {
    pub(super) address: SocketAddr,
    metrics: Option<SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    /// Its database, for tests that put rows in place.
    pub(super) db: TestDb,
}

impl Served {
    pub(super) async fn start(tweak: impl FnOnce(&mut Config)) -> Self {
        let db = TestDb::new(Backend::Sqlite).await;
        let mut config = alatar_tests::test_config(&db.dir);
        config.pipeline.worker = false;
        tweak(&mut config);
        let app = Application::build_with_database(config, db.conn.clone())
            .await
            .unwrap_or_else(|e| panic!("build app: {e:#}"));
        let address = SocketAddr::from(([127, 0, 0, 1], app.port()));
        let metrics = app.metrics_port().map(|port| SocketAddr::from(([127, 0, 0, 1], port)));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        Self { address, metrics, stop: Some(stop), task, db }
    }

    pub(super) async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.address).await.unwrap_or_else(|e| panic!("connect: {e}"))
    }

    /// Tells the server to shut down.
    fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Shuts down and waits until the server has drained.
    pub(super) async fn stop(mut self) {
        self.shut_down();
        match tokio::time::timeout(secs(10), &mut self.task).await {
            Ok(Ok(Ok(()))) => {}
            other => panic!("the server did not stop cleanly: {other:?}"),
        }
    }
}

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n";

/// A GraphQL request body and the head announcing it.
fn graphql_post() -> (String, &'static [u8]) {
    let body: &'static [u8] = br#"{"query":"{ __typename }"}"#;
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Accept: application/graphql-response+json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    (head, body)
}

pub(super) async fn write(stream: &mut TcpStream, bytes: &[u8]) {
    stream.write_all(bytes).await.unwrap_or_else(|e| panic!("write: {e}"));
}

/// One response (its head and `Content-Length` body), or what came before the end.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut chunk = [0_u8; 4096];
    loop {
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&received[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|value| value.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if received.len() >= end + 4 + length {
                return String::from_utf8_lossy(&received[..end + 4 + length]).into_owned();
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&received).into_owned(),
            Ok(n) => received.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn response_within(stream: &mut TcpStream, limit: Duration) -> String {
    tokio::time::timeout(limit, read_response(stream)).await.unwrap_or_else(|_| panic!("no response within {limit:?}"))
}

fn status(response: &str) -> u16 {
    response.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0)
}

/// Waits for the server to close `stream` (an end or a reset); how long it took.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Duration {
    let started = Instant::now();
    let mut rest = Vec::new();
    match tokio::time::timeout(limit, stream.read_to_end(&mut rest)).await {
        Ok(_) => started.elapsed(),
        Err(_) => panic!("still open after {limit:?}"),
    }
}

/// Whether `stream` is still open (nothing read, no end) after `wait`.
async fn open_after(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut probe = [0_u8; 16];
    tokio::time::timeout(wait, stream.read(&mut probe)).await.is_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_head_is_closed_after_the_header_timeout() {
    let server = Served::start(|c| {
        c.http.header_timeout_secs = 1;
        c.http.idle_timeout_secs = 10;
    })
    .await;
    let mut prompt = server.connect().await;
    write(&mut prompt, HEALTH).await;
    assert_eq!(status(&response_within(&mut prompt, secs(5)).await), 200);

    let mut slow = server.connect().await;
    write(&mut slow, b"GET /health HTTP/1.1\r\nHost: localhost\r\n").await;
    let took = closed_within(&mut slow, secs(5)).await;
    assert!(took >= millis(700) && took < secs(3), "a half-sent head was closed after {took:?}");

    // Sending nothing at all is no better.
    let mut silent = server.connect().await;
    let took = closed_within(&mut silent, secs(5)).await;
    assert!(took >= millis(700) && took < secs(3), "a silent connection was closed after {took:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let server = Served::start(|c| {
        c.http.header_timeout_secs = 3;
        c.http.idle_timeout_secs = 1;
    })
    .await;
    let mut client = server.connect().await;
    write(&mut client, HEALTH).await;
    assert_eq!(status(&response_within(&mut client, secs(5)).await), 200);
    // Within the idle timeout the connection serves the next request.
    tokio::time::sleep(millis(300)).await;
    write(&mut client, HEALTH).await;
    assert_eq!(status(&response_within(&mut client, secs(5)).await), 200);
    // Then, idle, it is closed after 1 s: the idle timeout, not the 3 s header one.
    let took = closed_within(&mut client, secs(5)).await;
    assert!(took >= millis(700) && took < millis(2500), "idle connection closed after {took:?}");

    // A next head begun in time has the header timeout from its first byte.
    let mut partial = server.connect().await;
    write(&mut partial, HEALTH).await;
    assert_eq!(status(&response_within(&mut partial, secs(5)).await), 200);
    write(&mut partial, b"GET /health HTTP/1.1\r\n").await;
    assert!(open_after(&mut partial, secs(2)).await, "a started head was cut at the idle timeout");
    let took = closed_within(&mut partial, secs(4)).await;
    assert!(took < secs(2), "a started head outlived the header timeout by {took:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_is_answered_408_after_the_body_timeout() {
    let server = Served::start(|c| {
        c.http.body_timeout_secs = 1;
        // The trickle below averages 20 bytes a second: allowed here.
        c.http.body_min_bytes_per_sec = 10;
    })
    .await;
    let (head, body) = graphql_post();
    let mut stalled = server.connect().await;
    write(&mut stalled, head.as_bytes()).await;
    write(&mut stalled, &body[..10]).await;
    let started = Instant::now();
    let response = response_within(&mut stalled, secs(5)).await;
    assert_eq!(status(&response), 408, "{response}");
    assert!(started.elapsed() >= millis(700), "answered after {:?}", started.elapsed());
    assert!(response.to_ascii_lowercase().contains("connection: close"), "{response}");
    closed_within(&mut stalled, secs(3)).await;

    // A body that trickles in, each piece within the timeout, is read in full
    // although the whole takes longer than the timeout.
    let mut trickle = server.connect().await;
    write(&mut trickle, head.as_bytes()).await;
    for piece in body.chunks(10) {
        tokio::time::sleep(millis(500)).await;
        write(&mut trickle, piece).await;
    }
    let response = response_within(&mut trickle, secs(5)).await;
    assert_eq!(status(&response), 200, "{response}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_slower_than_the_minimum_rate_is_cut_off() {
    // Every piece comes within the 1 s gap allowed, but at 20 bytes a second
    // against the 1,024 required once the first second of grace has passed.
    let server = Served::start(|c| c.http.body_timeout_secs = 1).await;
    let body = format!("{{\"query\":\"{{ __typename }}\"{}}}", " ".repeat(100));
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Accept: application/graphql-response+json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let body = body.as_bytes();
    let mut trickle = server.connect().await;
    write(&mut trickle, head.as_bytes()).await;
    let started = Instant::now();
    for piece in body.chunks(10) {
        tokio::time::sleep(millis(500)).await;
        if tokio::io::AsyncWriteExt::write_all(&mut trickle, piece).await.is_err() {
            break; // already answered and closed
        }
    }
    let response = response_within(&mut trickle, secs(5)).await;
    assert_eq!(status(&response), 408, "{response}");
    assert!(started.elapsed() < secs(5), "cut off after {:?}", started.elapsed());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_get_503_until_the_header_timeout_frees_them() {
    let server = Served::start(|c| {
        c.http.max_connections = 20;
        c.http.header_timeout_secs = 2;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(server.connect().await);
    }
    // The server takes all twenty before the next arrive.
    tokio::time::sleep(millis(200)).await;
    for _ in 0..5 {
        let mut refused = server.connect().await;
        let response = response_within(&mut refused, secs(3)).await;
        assert_eq!(status(&response), 503, "{response}");
        assert!(response.contains("Retry-After: 1"), "{response}");
        assert!(response.contains("Connection: close"), "{response}");
    }
    // While the idle ones hold every place, `/health` is refused as clearly.
    let mut health = server.connect().await;
    write(&mut health, HEALTH).await;
    assert_eq!(status(&response_within(&mut health, secs(3)).await), 503);

    // The header timeout closes the idle ones, and their places are free again.
    for stream in &mut held {
        closed_within(stream, secs(5)).await;
    }
    let mut health = server.connect().await;
    write(&mut health, HEALTH).await;
    assert_eq!(status(&response_within(&mut health, secs(3)).await), 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_over_its_own_cap_gets_503_while_the_global_cap_is_far() {
    let server = Served::start(|c| {
        c.http.max_connections_per_address = 5;
        c.http.header_timeout_secs = 10;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(server.connect().await);
    }
    tokio::time::sleep(millis(200)).await;
    // The sixth from 127.0.0.1, with thousands of places left under `max_connections`.
    let mut refused = server.connect().await;
    write(&mut refused, HEALTH).await;
    let response = response_within(&mut refused, secs(3)).await;
    assert_eq!(status(&response), 503, "{response}");
    assert!(response.contains("Retry-After: 1"), "{response}");
    assert!(response.contains("Connection: close"), "{response}");
    // The five are served.
    for stream in &mut held {
        write(stream, HEALTH).await;
        assert_eq!(status(&response_within(stream, secs(3)).await), 200);
    }

    // One of them closes, and its place is free again.
    drop(held.pop());
    let deadline = Instant::now() + secs(3);
    loop {
        let mut next = server.connect().await;
        write(&mut next, HEALTH).await;
        match status(&response_within(&mut next, secs(3)).await) {
            200 => break,
            503 => assert!(Instant::now() < deadline, "the closed connection's place was not given back"),
            other => panic!("answered {other}"),
        }
        tokio::time::sleep(millis(50)).await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_the_requests_in_flight_and_stops_accepting() {
    let mut server = Served::start(|c| c.http.body_timeout_secs = 10).await;
    let (head, body) = graphql_post();
    let mut in_flight = server.connect().await;
    write(&mut in_flight, head.as_bytes()).await;
    write(&mut in_flight, &body[..10]).await;
    let mut idle = server.connect().await;
    write(&mut idle, HEALTH).await;
    assert_eq!(status(&response_within(&mut idle, secs(3)).await), 200);
    tokio::time::sleep(millis(200)).await;

    server.shut_down();
    // An idle connection has nothing to finish: closed at once.
    let took = closed_within(&mut idle, secs(3)).await;
    assert!(took < secs(1), "idle connection closed {took:?} after shutdown");
    // New connections are refused.
    let deadline = Instant::now() + secs(3);
    while TcpStream::connect(server.address).await.is_ok() {
        assert!(Instant::now() < deadline, "still accepting after shutdown");
        tokio::time::sleep(millis(50)).await;
    }
    // The request in flight is answered, then its connection closes.
    write(&mut in_flight, &body[10..]).await;
    let response = response_within(&mut in_flight, secs(5)).await;
    assert_eq!(status(&response), 200, "{response}");
    assert!(response.to_ascii_lowercase().contains("connection: close"), "{response}");
    server.stop().await;
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

async fn websocket(address: SocketAddr) -> Socket {
    let mut request = format!("ws://{address}/graphql").into_client_request().unwrap_or_else(|e| panic!("{e}"));
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap_or_else(|e| panic!("{e}")));
    let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap_or_else(|e| panic!("{e}"));
    socket
}

/// The next GraphQL message (WebSocket pings are answered and skipped).
async fn next_json(socket: &mut Socket, limit: Duration) -> Value {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => panic!("no message within {limit:?}"),
            Ok(Some(Ok(Message::Text(text)))) => return serde_json::from_str(&text).unwrap_or_default(),
            Ok(Some(Ok(Message::Close(frame)))) => panic!("closed: {frame:?}"),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(e))) => panic!("{e}"),
            Ok(None) => panic!("ended"),
        }
    }
}

/// A WebSocket opened by hand over TCP: unlike a WebSocket client it
/// answers no pings, so it can fall silent.
async fn raw_websocket(address: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.unwrap_or_else(|e| panic!("connect: {e}"));
    let request = format!(
        "GET /graphql HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
    );
    write(&mut stream, request.as_bytes()).await;
    // The 101 head byte by byte, so that no frame after it is consumed.
    let mut head = Vec::new();
    let mut byte = [0_u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = tokio::time::timeout(secs(5), stream.read(&mut byte)).await;
        match read {
            Ok(Ok(1)) => head.push(byte[0]),
            _ => panic!("the handshake ended early: {}", String::from_utf8_lossy(&head)),
        }
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    stream
}

/// A masked text frame, as a client must send one.
fn client_text(text: &str) -> Vec<u8> {
    let payload = text.as_bytes();
    assert!(payload.len() < 126, "a short frame only");
    let mask = [0x12_u8, 0x34, 0x56, 0x78];
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, byte)| byte ^ mask[i % 4]));
    frame
}

/// The server's frames in `bytes` as (opcode, payload); a partial last frame is left out.
fn server_frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while bytes.len() >= 2 {
        let opcode = bytes[0] & 0x0f;
        let (length, header) = match bytes[1] & 0x7f {
            126 if bytes.len() >= 4 => (usize::from(u16::from_be_bytes([bytes[2], bytes[3]])), 4),
            126 | 127 => break,
            short => (usize::from(short), 2),
        };
        if bytes.len() < header + length {
            break;
        }
        frames.push((opcode, bytes[header..header + length].to_vec()));
        bytes = &bytes[header + length..];
    }
    frames
}

/// The close code among `frames`, if the server sent one.
fn close_code(frames: &[(u8, Vec<u8>)]) -> Option<u16> {
    frames.iter().find(|(opcode, _)| *opcode == 0x8).and_then(|(_, payload)| match payload.as_slice() {
        [high, low, ..] => Some(u16::from_be_bytes([*high, *low])),
        _ => None,
    })
}

/// Reads what the server sends on a raw WebSocket until it closes; its frames.
async fn frames_until_closed(stream: &mut TcpStream, limit: Duration) -> Vec<(u8, Vec<u8>)> {
    let mut received = Vec::new();
    match tokio::time::timeout(limit, stream.read_to_end(&mut received)).await {
        Ok(_) => server_frames(&received),
        Err(_) => panic!("still open after {limit:?}; received {:?}", server_frames(&received)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_that_falls_silent_is_closed_and_one_that_answers_pings_stays() {
    let server = Served::start(|c| {
        c.http.websocket_ping_secs = 1;
        c.http.websocket_timeout_secs = 2;
    })
    .await;
    let mut silent = raw_websocket(server.address).await;
    write(&mut silent, &client_text(r#"{"type":"connection_init"}"#)).await;
    let mut live = websocket(server.address).await;
    live.send(Message::Text(json!({ "type": "connection_init" }).to_string().into()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(next_json(&mut live, secs(5)).await["type"], "connection_ack");
    let opened = Instant::now();

    // Reading answers the server's pings (the client library does it unasked):
    // twice the timeout later the live socket still works.
    let mut pings = 0;
    let until = tokio::time::Instant::now() + secs(4);
    while let Ok(message) = tokio::time::timeout_at(until, live.next()).await {
        match message {
            Some(Ok(Message::Ping(_))) => pings += 1,
            Some(Ok(Message::Close(frame))) => panic!("a live socket was closed: {frame:?}"),
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("{e}"),
            None => panic!("a live socket ended"),
        }
    }
    assert!(pings >= 2, "{pings} pings in 4 s at one a second");
    live.send(Message::Text(json!({ "type": "ping" }).to_string().into())).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(next_json(&mut live, secs(3)).await["type"], "pong");

    // The raw one read nothing and so answered no ping: closed with 3008
    // two seconds after its last frame, long before now.
    let frames = frames_until_closed(&mut silent, secs(2)).await;
    let acknowledged =
        |(opcode, payload): &(u8, Vec<u8>)| *opcode == 0x1 && payload.starts_with(br#"{"type":"connection_ack""#);
    assert!(frames.iter().any(acknowledged), "no ack among {frames:?}");
    assert!(frames.iter().any(|(opcode, _)| *opcode == 0x9), "no ping among {frames:?}");
    assert_eq!(close_code(&frames), Some(3008), "{frames:?}");
    assert!(opened.elapsed() < secs(7));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_without_connection_init_is_closed_with_4408() {
    let server = Served::start(|c| {
        c.http.websocket_ping_secs = 1;
        c.http.websocket_timeout_secs = 10;
        c.http.websocket_init_timeout_secs = 1;
    })
    .await;
    let mut socket = raw_websocket(server.address).await;
    let started = Instant::now();
    let frames = frames_until_closed(&mut socket, secs(4)).await;
    assert_eq!(close_code(&frames), Some(4408), "{frames:?}");
    let took = started.elapsed();
    assert!(took >= millis(700) && took < secs(3), "closed after {took:?}");
    server.stop().await;
}

#[test]
fn connection_settings_that_cannot_work_stop_startup_naming_the_key() {
    let refused = |vars: &[(&str, &str)], key: &str| {
        let error = Config::from_env_vars(vars.iter().copied()).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains(key), "{vars:?} was not refused naming {key}: {error:?}");
    };
    refused(&[("ALATAR_HTTP__HEADER_TIMEOUT_SECS", "0")], "http.header_timeout_secs");
    refused(&[("ALATAR_HTTP__WRITE_TIMEOUT_SECS", "0")], "http.write_timeout_secs");
    refused(&[("ALATAR_HTTP__MAX_CONNECTIONS", "0")], "http.max_connections");
    refused(&[("ALATAR_HTTP__MAX_CONNECTIONS_PER_ADDRESS", "0")], "http.max_connections_per_address");
    // Pings every 30 s with 20 s of silence allowed would close live clients.
    refused(
        &[("ALATAR_HTTP__WEBSOCKET_PING_SECS", "30"), ("ALATAR_HTTP__WEBSOCKET_TIMEOUT_SECS", "20")],
        "http.websocket_timeout_secs",
    );
    refused(&[("ALATAR_METRICS__TOKEN", "short")], "metrics.token");
    refused(&[("ALATAR_HTTP__HEADER_TIMEOUT", "10")], "header_timeout");
    let config =
        Config::from_env_vars([("ALATAR_METRICS__LISTEN", "127.0.0.1:9090")]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.metrics.listen, Some(SocketAddr::from(([127, 0, 0, 1], 9090))));
}

const METRICS_TOKEN: &str = "metrics-token-0123456789";

fn get(path: &str, token: Option<&str>) -> Request<Body> {
    let mut request = Request::get(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.body(Body::empty()).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn metrics_behind_a_token_need_it() {
    let app = TestApp::with_config(Backend::Sqlite, |c| c.metrics.token = Some(METRICS_TOKEN.to_owned().into())).await;
    let (status, headers, _) = app.send(get("/metrics", None)).await;
    assert_eq!(status, 401);
    assert_eq!(headers["www-authenticate"], "Bearer");
    let (status, _, _) = app.send(get("/metrics", Some("metrics-token-0123456788"))).await;
    assert_eq!(status, 401);
    let (status, headers, body) = app.send(get("/metrics", Some(METRICS_TOKEN))).await;
    assert_eq!(status, 200);
    assert!(headers["content-type"].to_str().unwrap_or_default().contains("openmetrics"));
    assert!(String::from_utf8_lossy(&body).contains("# EOF"));
}

#[tokio::test]
async fn production_serves_no_metrics_without_a_listener_or_token() {
    let production = TestApp::with_config(Backend::Postgres, |c| {
        c.database_url = Some("postgres://production.invalid/alatar".to_owned().into());
    })
    .await;
    assert_eq!(production.send(get("/metrics", None)).await.0, 404);
    assert_eq!(production.send(get("/health", None)).await.0, 200);
    // A token turns it on there.
    let with_token = TestApp::with_config(Backend::Postgres, |c| {
        c.database_url = Some("postgres://production.invalid/alatar".to_owned().into());
        c.metrics.token = Some(METRICS_TOKEN.to_owned().into());
    })
    .await;
    assert_eq!(with_token.send(get("/metrics", Some(METRICS_TOKEN))).await.0, 200);
    // The embedded default keeps it open.
    let embedded = TestApp::new(Backend::Sqlite).await;
    assert_eq!(embedded.send(get("/metrics", None)).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_their_own_listener_are_served_only_there() {
    let server = Served::start(|c| c.metrics.listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)))).await;
    let metrics = server.metrics.unwrap_or_else(|| panic!("no metrics listener"));
    let status_of = |url: String| async move { reqwest::get(url).await.map(|r| r.status().as_u16()).unwrap_or(0) };
    assert_eq!(status_of(format!("http://{}/metrics", server.address)).await, 404);
    assert_eq!(status_of(format!("http://{}/health", server.address)).await, 200);
    assert_eq!(status_of(format!("http://{metrics}/metrics")).await, 200);
    assert_eq!(status_of(format!("http://{metrics}/health")).await, 404);
    server.stop().await;
}
