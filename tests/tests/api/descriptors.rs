//! The original report (issue 13): 1,100 connections that sent half a
//! request head, at the common open-file limit of 1,024, ran the server out
//! of descriptors, and `/health` stopped answering. The real binary under
//! that limit (soft and hard: it raises its soft limit to the hard one)
//! lowers its connection cap to leave the rest of the process its
//! descriptors; one client address is held to its own cap beneath it. So
//! while 1,100 stalled connections from one address and 500 from another
//! are open, `/health` is answered at once from a third, every connection
//! over a cap is refused rather than left to take a descriptor, accepting
//! never fails, and the header timeout closes the stalled ones. Linux: it
//! needs `127.0.0.2` and `127.0.0.3` on the loopback. About 10 s.
#![cfg(target_os = "linux")]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinHandle;

use alatar_tests::RunningBinary;

use super::connections::{millis, secs};

const OPEN_FILE_LIMIT: u64 = 1024;
const HEADER_TIMEOUT_SECS: u64 = 5;
/// From the first address, as in the report.
const FROM_ONE: usize = 1_100;
/// One address's cap: beneath the connection cap, so that others find room.
const PER_ADDRESS: usize = 600;
/// From a second address: more than the places the first one left.
const FROM_ANOTHER: usize = 500;
const HALF_A_HEAD: &[u8] = b"GET /health HTTP/1.1\r\nHost: localhost\r\n";

/// A connection from `source` (a loopback address) to `server`.
async fn connect_from(source: [u8; 4], server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap_or_else(|e| panic!("socket: {e}"));
    socket.bind(SocketAddr::from((source, 0))).unwrap_or_else(|e| panic!("bind {source:?}: {e}"));
    // This test holds some 1,700 sockets: its own open-file limit must allow them.
    socket.connect(server).await.unwrap_or_else(|e| panic!("connect from {source:?}: {e}"))
}

/// How a stalled connection ended: after how long, and whether it was answered 503.
struct Ended {
    after: Duration,
    refused: bool,
}

/// Sends half a head on `stream` and waits (up to `limit`) for the server to close it.
fn stall(mut stream: TcpStream, limit: Duration) -> JoinHandle<Option<Ended>> {
    let connected = Instant::now();
    tokio::spawn(async move {
        // A refused connection may be closed before this arrives.
        let _ = stream.write_all(HALF_A_HEAD).await;
        let mut received = Vec::new();
        // An end or a reset alike: the server closed it.
        tokio::time::timeout(limit, stream.read_to_end(&mut received))
            .await
            .ok()
            .map(|_| Ended { after: connected.elapsed(), refused: received.starts_with(b"HTTP/1.1 503") })
    })
}

/// `count` stalled connections from `source`, opened one after another.
async fn stall_many(source: [u8; 4], server: SocketAddr, count: usize) -> Vec<JoinHandle<Option<Ended>>> {
    let limit = secs(HEADER_TIMEOUT_SECS + 10);
    let mut stalled = Vec::with_capacity(count);
    for _ in 0..count {
        stalled.push(stall(connect_from(source, server).await, limit));
    }
    stalled
}

/// `/health` from `source` on a fresh connection: its status within 3 s
/// (0: closed unanswered).
async fn health_from(source: [u8; 4], server: SocketAddr) -> u16 {
    let mut stream = connect_from(source, server).await;
    let request = b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    // A refused connection may be closed before this arrives.
    let _ = stream.write_all(request).await;
    let mut response = Vec::new();
    let read = tokio::time::timeout(secs(3), stream.read_to_end(&mut response)).await;
    assert!(read.is_ok(), "/health from {source:?} was not answered within 3 s");
    let text = String::from_utf8_lossy(&response);
    text.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0)
}

/// The connection cap the server logged at start-up (just after "listening").
async fn logged_cap(server: &RunningBinary) -> usize {
    let started = Instant::now();
    loop {
        let cap = server.log_lines().iter().find_map(|line| {
            let event: Value = serde_json::from_str(line).ok()?;
            if event["message"] != "connection limits" {
                return None;
            }
            event["max_connections"].as_u64()
        });
        if let Some(cap) = cap {
            return usize::try_from(cap).unwrap_or(usize::MAX);
        }
        assert!(started.elapsed() < secs(5), "no \"connection limits\" line: {:?}", server.log_lines());
        tokio::time::sleep(millis(20)).await;
    }
}

/// The ends of `stalled`, held ones (closed by the header timeout) apart
/// from refused ones (answered 503, or closed at once: held ones cannot
/// close before the header timeout).
async fn ended(stalled: Vec<JoinHandle<Option<Ended>>>) -> (usize, usize) {
    let (mut held, mut refused) = (0, 0);
    for handle in stalled {
        match handle.await.unwrap_or_else(|e| panic!("{e}")) {
            None => panic!("a stalled connection outlived the header timeout by 10 s"),
            Some(end) if end.refused || end.after < secs(HEADER_TIMEOUT_SECS) - millis(500) => refused += 1,
            Some(end) => {
                let limit = secs(HEADER_TIMEOUT_SECS + 5);
                assert!(end.after < limit, "a stalled connection was closed after {:?}", end.after);
                held += 1;
            }
        }
    }
    (held, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_connections_at_the_common_descriptor_limit_leave_health_answering() {
    // This process holds some 1,700 sockets: its soft limit may be 1,024 too.
    alatar_server::raise_descriptor_limit();
    let dir = alatar_tests::scratch_dir();
    let header_timeout = HEADER_TIMEOUT_SECS.to_string();
    let per_address = PER_ADDRESS.to_string();
    let server = RunningBinary::start_with_open_file_limit(
        &dir,
        &[
            ("ALATAR_HTTP__HEADER_TIMEOUT_SECS", header_timeout.as_str()),
            ("ALATAR_HTTP__MAX_CONNECTIONS_PER_ADDRESS", per_address.as_str()),
        ],
        OPEN_FILE_LIMIT,
    );
    let address = SocketAddr::from(([127, 0, 0, 1], server.port));
    let cap = logged_cap(&server).await;
    assert!(cap + 256 <= 1024, "a cap of {cap} leaves the rest of the process too few of 1,024 descriptors");
    assert!(cap > PER_ADDRESS, "a cap of {cap}: no room beside one address's {PER_ADDRESS}");

    let started = Instant::now();
    let first = stall_many([127, 0, 0, 1], address, FROM_ONE).await;
    // One address holds at most its 600: a fresh client elsewhere is served.
    assert_eq!(health_from([127, 0, 0, 2], address).await, 200, "/health while one address stalls 1,100");
    let second = stall_many([127, 0, 0, 3], address, FROM_ANOTHER).await;
    // Every place is taken now: refused at once (503, or closed unanswered
    // while 64 refusals are under way), not left unseen in the backlog.
    let status = health_from([127, 0, 0, 2], address).await;
    assert!(matches!(status, 0 | 503), "/health answered {status} while every place was taken");
    assert!(
        started.elapsed() < secs(HEADER_TIMEOUT_SECS) - millis(500),
        "opening the connections took {:?}, as long as the header timeout: the counts below would not hold",
        started.elapsed()
    );

    let (held_first, refused_first) = ended(first).await;
    let (held_second, refused_second) = ended(second).await;
    assert_eq!(held_first, PER_ADDRESS, "held from the first address ({refused_first} refused)");
    assert!(refused_second > 0, "the connection cap never refused the second address: {held_second} held");
    assert!(
        held_first + held_second <= cap && held_first + held_second + 2 >= cap,
        "{held_first} + {held_second} held under a cap of {cap}"
    );
    let lines = server.log_lines();
    let failed: Vec<&String> = lines.iter().filter(|line| line.contains("accept failed")).collect();
    assert!(failed.is_empty(), "accepting failed (out of descriptors?): {failed:?}");

    // The header timeout freed every place.
    let freed = Instant::now();
    while health_from([127, 0, 0, 1], address).await != 200 {
        assert!(freed.elapsed() < secs(3), "/health still refused after the stalled connections closed");
        tokio::time::sleep(millis(50)).await;
    }
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}
