//! The HTTP/1.1 server in front of the router. It replaces `axum::serve`,
//! which has no timeouts and no cap: half a request head, or a body that
//! stalls, held its connection (and a file descriptor) for ever, and 1,100
//! of them ran the process out of descriptors.
//!
//! - Accepted sockets get `TCP_NODELAY` (`without_nagle`).
//! - At most `max_connections` at once, and `max_connections_per_address`
//!   from one client IP, WebSockets included: the places taken travel with
//!   the socket through the upgrade. One over either cap is answered `503`
//!   with `Retry-After: 1` and closed, so clients learn at once instead of
//!   waiting unseen in the kernel's backlog; and one client cannot take
//!   every place under the global cap.
//! - Per connection (`connection.rs`): the head must arrive within the
//!   header timeout, a kept-alive connection may wait the idle timeout for
//!   its next request, and a body being read may stall for the body timeout
//!   (`body.rs`; then 408). A response the client stops taking (the socket
//!   accepts nothing for the write timeout, or less than the minimum rate
//!   once it has fallen behind) closes the connection, and frees the
//!   answer's buffers.
//! - A client that goes away mid-request ends its connection: hyper notices
//!   the end while the answer is pending, and dropping the connection drops
//!   the request's future, whose work stops at its next await.
//! - Accept errors (EMFILE when descriptors run out) are logged and retried
//!   after a pause, never fatal and never a spin.
//! - On shutdown: stop accepting, close idle connections, let the requests
//!   in flight finish.

mod body;
mod connection;
mod descriptors;

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;

use crate::config::{Config, HttpSection};

pub use descriptors::raise_descriptor_limit;

/// Connections the metrics listener takes at once (a scraper or two).
pub(crate) const METRICS_CONNECTIONS: usize = 16;

/// Refusals answered at once; beyond them a connection over the cap is
/// closed unanswered, since each answer holds a descriptor for a while.
const REFUSALS_IN_FLIGHT: usize = 64;

/// How long a refusal may take to write its answer and see the client go.
const REFUSAL_TIME: Duration = Duration::from_secs(1);

/// The pause after an accept error such as EMFILE: the connection waits in
/// the backlog while others finish and free their descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Descriptors besides the database pool that connections must leave: Redis
/// and RabbitMQ connections, the outbound HTTP clients (Shopify, the model
/// API), the SQLite files, listeners, logs and the runtime's own.
const BASE_RESERVE: u64 = 256;

/// The answer over the cap. `Retry-After` because the cap is momentary;
/// `Connection: close` because the connection is closed after it.
const UNAVAILABLE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
Retry-After: 1\r\n\
Connection: close\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Length: 21\r\n\
\r\n\
too many connections\n";

/// What one listener's connections may take.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    /// From accept (or, on a kept-alive connection, the head's first byte) to a complete head.
    pub header_timeout: Duration,
    /// The longest a body being read may send nothing.
    pub body_timeout: Duration,
    /// The slowest average a body may come at after `body_timeout` (0: any).
    pub body_min_rate: u64,
    /// The longest the socket may take none of a response.
    pub write_timeout: Duration,
    /// The slowest average a response may be taken at once the client has
    /// fallen behind, after `write_timeout` (0: any).
    pub write_min_rate: u64,
    /// The longest a kept-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// Connections at once.
    pub max_connections: usize,
    /// Connections at once from one client address.
    pub max_per_address: usize,
}

impl ConnectionLimits {
    /// The configured limits, the cap lowered so that connections never
    /// take the `reserved` descriptors the rest of the process needs.
    pub(crate) fn new(http: &HttpSection, reserved: u64) -> Self {
        let nofile = descriptors::descriptor_limit();
        let allowed = connections_within(nofile, reserved);
        let max_connections = allowed.map_or(http.max_connections, |allowed| http.max_connections.min(allowed));
        if max_connections < http.max_connections {
            tracing::warn!(
                configured = http.max_connections,
                max_connections,
                open_file_limit = nofile,
                reserved,
                "http.max_connections lowered to what the open-file limit allows"
            );
        }
        Self {
            header_timeout: Duration::from_secs(http.header_timeout_secs),
            body_timeout: Duration::from_secs(http.body_timeout_secs),
            body_min_rate: http.body_min_bytes_per_sec,
            write_timeout: Duration::from_secs(http.write_timeout_secs),
            write_min_rate: http.write_min_bytes_per_sec,
            idle_timeout: Duration::from_secs(http.idle_timeout_secs),
            max_connections,
            max_per_address: http.max_connections_per_address,
        }
    }

    /// The same timeouts under another cap.
    pub(crate) fn with_max_connections(self, max_connections: usize) -> Self {
        Self { max_connections, ..self }
    }
}

/// Descriptors kept from the connection cap: `BASE_RESERVE`, the database
/// pool, the refusals in flight and the metrics listener's connections.
pub(crate) fn reserved_descriptors(config: &Config) -> u64 {
    let metrics = if config.metrics.listen.is_some() { METRICS_CONNECTIONS } else { 0 };
    BASE_RESERVE
        + u64::from(config.database_max_connections)
        + u64::try_from(REFUSALS_IN_FLIGHT + metrics).unwrap_or(u64::MAX / 2)
}

/// Connections an open-file limit of `nofile` leaves room for beside
/// `reserved`; `None` when the limit is unknown or unlimited.
fn connections_within(nofile: Option<u64>, reserved: u64) -> Option<usize> {
    let nofile = nofile?;
    // A limit under the reserve: the reserve is a guess too big for this
    // host, and half the descriptors still beat refusing everyone.
    let room = nofile.saturating_sub(reserved).max(nofile / 2).max(1);
    Some(usize::try_from(room).unwrap_or(usize::MAX))
}

/// Serves `router` on `listener` until `shutdown` completes, then stops
/// accepting and returns once every connection has finished.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send,
) {
    let connections = Arc::new(Semaphore::new(limits.max_connections.min(Semaphore::MAX_PERMITS)));
    let addresses = OpenByAddress::new(limits.max_per_address);
    let refusals = Arc::new(Semaphore::new(REFUSALS_IN_FLIGHT));
    // Each connection holds a receiver: `closed` is when the last has ended.
    let (stop, _) = watch::channel(());
    let mut warned = Warned::default();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, remote) = match accepted {
            Ok(accepted) => accepted,
            // The client gave up before we took it: nothing to do.
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed; pausing before the next");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        without_nagle(&stream);
        let Some(address) = addresses.take(remote.ip()) else {
            if Warned::due(&mut warned.address) {
                tracing::warn!(
                    address = %remote.ip(),
                    max_connections_per_address = limits.max_per_address,
                    "connection cap of one client address reached: answering 503"
                );
            }
            refuse(stream, &refusals);
            continue;
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            if Warned::due(&mut warned.global) {
                tracing::warn!(max_connections = limits.max_connections, "connection cap reached: answering 503");
            }
            refuse(stream, &refusals);
            continue;
        };
        let place = Place { _connection: permit, _address: address };
        tokio::spawn(connection::serve(stream, remote, place, router.clone(), limits, stop.subscribe()));
    }
    // From here the kernel refuses new connections.
    drop(listener);
    let _ = stop.send(());
    stop.closed().await;
}

/// What an accepted connection holds while it lives, a WebSocket's after the
/// upgrade too: its place under the listener's cap and under its address's.
pub(super) struct Place {
    _connection: OwnedSemaphorePermit,
    _address: AddressPlace,
}

/// When each cap last said it was reached: once every 10 s is enough.
#[derive(Default)]
struct Warned {
    global: Option<Instant>,
    address: Option<Instant>,
}

impl Warned {
    /// Whether a warning last given at `at` may be given again (and notes it now).
    fn due(at: &mut Option<Instant>) -> bool {
        if at.is_some_and(|last| last.elapsed() < Duration::from_secs(10)) {
            return false;
        }
        *at = Some(Instant::now());
        true
    }
}

/// Open connections by client address, held to `limit` each. An address
/// appears only while it has connections open, so the table is as large as
/// the connections are many.
struct OpenByAddress {
    limit: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl OpenByAddress {
    fn new(limit: usize) -> Arc<Self> {
        // At least 1 (config checks it): a first connection never leaves a 0 behind.
        Arc::new(Self { limit: limit.max(1), open: Mutex::new(HashMap::new()) })
    }

    /// A place for one more connection from `address`, unless it has `limit` open.
    fn take(self: &Arc<Self>, address: IpAddr) -> Option<AddressPlace> {
        // An IPv4 client of a dual-stack listener arrives as `::ffff:a.b.c.d`.
        let address = address.to_canonical();
        // Counting cannot panic half-way, so a poisoned table is still right.
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(address).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(AddressPlace { table: self.clone(), address })
    }
}

/// One connection's place under its address's cap, given back on drop.
struct AddressPlace {
    table: Arc<OpenByAddress>,
    address: IpAddr,
}

impl Drop for AddressPlace {
    fn drop(&mut self) {
        let mut open = self.table.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.address) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.address);
            }
        }
    }
}

/// Accept errors that concern one connection, not the listener.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// `TCP_NODELAY`. With Nagle's algorithm on, the second event of a burst (a
/// commit's events leave back to back as small WebSocket frames) waits for
/// the client's delayed ACK of the first: 40 ms on Linux, which was most of
/// the subscription benchmark's p99.
fn without_nagle(stream: &TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::warn!(error = %e, "could not set TCP_NODELAY");
    }
}

/// Answers a connection over the cap with `UNAVAILABLE` in a task of its
/// own, bounded by `REFUSAL_TIME`; beyond `REFUSALS_IN_FLIGHT` at once the
/// connection is closed unanswered.
fn refuse(stream: TcpStream, refusals: &Arc<Semaphore>) {
    let Ok(permit) = refusals.clone().try_acquire_owned() else {
        drop(stream);
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let _ = tokio::time::timeout(REFUSAL_TIME, answer_unavailable(stream)).await;
    });
}

async fn answer_unavailable(mut stream: TcpStream) -> io::Result<()> {
    stream.write_all(UNAVAILABLE).await?;
    stream.shutdown().await?;
    // Closing with the request unread would send a reset, which can destroy
    // the answer before the client has read it: read until the client closes.
    let mut discarded = [0_u8; 512];
    while stream.read(&mut discarded).await? > 0 {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepted_connections_send_small_frames_at_once() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
        let address = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let _client = TcpStream::connect(address).await.unwrap_or_else(|e| panic!("{e}"));
        let (stream, _) = listener.accept().await.unwrap_or_else(|e| panic!("{e}"));
        without_nagle(&stream);
        assert!(stream.nodelay().unwrap_or_else(|e| panic!("{e}")));
    }

    #[test]
    fn the_refusal_is_well_formed() {
        let text = std::str::from_utf8(UNAVAILABLE).unwrap_or_else(|e| panic!("{e}"));
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no head"));
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains(&format!("Content-Length: {}", body.len())), "{head}");
    }

    #[test]
    fn the_cap_leaves_the_reserve_to_the_rest_of_the_process() {
        assert_eq!(connections_within(Some(1024), 336), Some(688));
        assert_eq!(connections_within(Some(256), 336), Some(128));
        assert_eq!(connections_within(None, 336), None);
    }

    #[test]
    fn each_address_is_held_to_its_cap_and_gets_its_places_back() {
        let table = OpenByAddress::new(2);
        let here = IpAddr::from([127, 0, 0, 1]);
        let there = IpAddr::from([10, 0, 0, 7]);
        let first = table.take(here);
        let second = table.take(here);
        assert!(first.is_some() && second.is_some());
        assert!(table.take(here).is_none(), "a third from one address");
        // The same address over IPv6-mapped IPv4 is the same client.
        assert!(table.take("::ffff:127.0.0.1".parse().unwrap_or(here)).is_none());
        assert!(table.take(there).is_some(), "another address is not held to this one's cap");
        drop(first);
        let again = table.take(here);
        assert!(again.is_some(), "a closed connection's place is free again");
        drop((second, again));
        assert!(
            table.open.lock().unwrap_or_else(PoisonError::into_inner).is_empty(),
            "addresses without connections stay"
        );
    }
}
