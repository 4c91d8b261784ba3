//! Clients that ask for a large answer and then do not read it (issue 13):
//! the write timeout closes the connection, and with it the answer's
//! buffers; one that reads, or pauses for less than the timeout, gets all of
//! it. The answer is 16 MiB of audit records, several times what the
//! kernels' socket buffers hold, sent to clients whose receive buffer is
//! 4 KiB. About 10 s.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::Utc;
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};
use uuid::Uuid;

use alatar_entity::{audit_entry, user};

use super::connections::{Served, millis, secs, write};

const WRITE_TIMEOUT_SECS: u64 = 2;
/// Audit records in the answer, each `FILLER` bytes of detail.
const RECORDS: usize = 32;
const FILLER: usize = 512 * 1024;
const AUDIT_LOG: &str = "{ auditLog(first: 32) { edges { node { detail } } } }";

/// The server, with an owner whose audit log is large, and the request
/// (as that owner) that reads it.
async fn served_with_a_large_answer() -> (Served, Vec<u8>) {
    let server = Served::start(|c| c.http.write_timeout_secs = WRITE_TIMEOUT_SECS).await;
    let token = alatar_tests::register_over_http(&format!("http://{}", server.address), "reader@slow.example").await;
    assert!(!token.is_empty(), "registration failed");
    let db = &server.db.conn;
    let owner = user::Entity::find()
        .one(db)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no user registered"));
    let filler = "x".repeat(FILLER);
    for _ in 0..RECORDS {
        audit_entry::Entity::insert(audit_entry::ActiveModel {
            id: Set(Uuid::now_v7()),
            account_id: Set(owner.account_id),
            actor_user_id: Set(Some(owner.id)),
            actor: Set("user".to_owned()),
            event: Set("FILLER".to_owned()),
            action_id: Set(None),
            store_id: Set(None),
            detail: Set(json!({ "filler": filler.as_str() })),
            created_at: Set(Utc::now()),
        })
        .exec_without_returning(db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    }
    let body = json!({ "query": AUDIT_LOG }).to_string();
    let request = format!(
        "POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Accept: application/graphql-response+json\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    (server, request.into_bytes())
}

/// A client with a 4 KiB receive buffer, set before connecting: the window
/// it offers is agreed then, and the server's socket fills after a few MB.
async fn small_window_client(address: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap_or_else(|e| panic!("socket: {e}"));
    socket.set_recv_buffer_size(4096).unwrap_or_else(|e| panic!("SO_RCVBUF: {e}"));
    socket.connect(address).await.unwrap_or_else(|e| panic!("connect: {e}"))
}

/// Sends `request`; returns once the answer has begun to arrive, unread.
async fn ask(address: SocketAddr, request: &[u8]) -> TcpStream {
    let mut stream = small_window_client(address).await;
    write(&mut stream, request).await;
    // `peek` leaves the bytes in the kernel: the window stays as full.
    let mut first = [0_u8; 1];
    let peeked = tokio::time::timeout(secs(30), stream.peek(&mut first)).await;
    assert!(matches!(peeked, Ok(Ok(1))), "no answer began: {peeked:?}");
    stream
}

/// What arrived of one answer: its status, its `Content-Length`, and the
/// body bytes received before it was complete or the connection ended.
struct Received {
    status: u16,
    length: usize,
    body: usize,
}

/// Reads one answer until it is complete or the connection ends (within `limit`).
async fn read_answer(stream: &mut TcpStream, limit: Duration) -> Received {
    let deadline = tokio::time::Instant::now() + limit;
    let mut head = Vec::new();
    let mut chunk = vec![0_u8; 64 * 1024];
    let mut received = Received { status: 0, length: usize::MAX, body: 0 };
    let mut in_body = false;
    while received.body < received.length {
        let read = match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => panic!("the answer neither ended nor was complete within {limit:?}"),
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => n,
        };
        if in_body {
            received.body += read;
            continue;
        }
        head.extend_from_slice(&chunk[..read]);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            in_body = true;
            received.body = head.len() - end - 4;
            let text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
            received.status = text.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
            received.length = text
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|value| value.trim().parse().ok())
                .unwrap_or_else(|| panic!("no Content-Length in {text}"));
        }
    }
    if !in_body {
        received.length = 0;
    }
    received
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_a_large_answer_is_cut_off_after_the_write_timeout() {
    let (server, request) = served_with_a_large_answer().await;
    let whole = async {
        let mut reader = ask(server.address, &request).await;
        read_answer(&mut reader, secs(60)).await
    };
    let paused = async {
        let mut pausing = ask(server.address, &request).await;
        // Less than the timeout: the socket is full meanwhile, but not for long enough.
        tokio::time::sleep(millis(700)).await;
        read_answer(&mut pausing, secs(60)).await
    };
    let unread = secs(WRITE_TIMEOUT_SECS) + millis(1500);
    let stalled = async {
        let mut stalled = ask(server.address, &request).await;
        // The answer began; the socket filled within milliseconds and took
        // nothing since. Past the timeout, the server has closed the connection.
        tokio::time::sleep(unread).await;
        // What still comes is what the kernels had buffered, then the end.
        read_answer(&mut stalled, secs(30)).await
    };
    let (whole, paused, stalled) = tokio::join!(whole, paused, stalled);

    assert_eq!(whole.status, 200);
    assert!(whole.length >= RECORDS * FILLER, "a {}-byte answer is no large one", whole.length);
    assert_eq!(whole.body, whole.length, "a client that reads got {} of {} bytes", whole.body, whole.length);
    assert_eq!((paused.status, paused.body), (200, paused.length), "a pause shorter than the timeout cut the answer");
    assert_eq!(stalled.status, 200);
    assert_eq!(stalled.length, whole.length);
    assert!(
        stalled.body < stalled.length / 2,
        "a client that read nothing for {unread:?} still got {} of {} bytes: its connection was not closed",
        stalled.body,
        stalled.length
    );
    server.stop().await;
}
