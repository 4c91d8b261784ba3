//! One accepted connection: hyper's HTTP/1.1 with upgrades, under a
//! watchdog for the deadlines hyper cannot tell apart. hyper's own
//! `header_read_timeout` starts whenever the connection waits for a head,
//! idle keep-alive included, so it cannot give a kept-alive connection 75 s
//! to start its next request and a started head 10 s to finish; the watchdog
//! can, from what the socket, the service and the bodies report to
//! [`Activity`]. hyper has no write timeout at all: the socket reports the
//! writes it refuses, and the watchdog closes a connection whose client
//! stopped taking its answer.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::{Body as HttpBody, Bytes, Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tower::ServiceExt as _;

use super::body::TimedBody;
use super::{ConnectionLimits, Place};

/// "Not yet" in `Activity`'s millisecond fields.
const NEVER: u64 = u64::MAX;

/// What one connection is doing, reported by its socket, its service and
/// its bodies, and read by its watchdog. Everything happens on the
/// connection's task (hyper polls the service and the bodies there), so the
/// atomics only make it shareable, not ordered. Times are milliseconds
/// since accept.
pub(super) struct Activity {
    accepted: Instant,
    /// Requests whose response has not been sent in full.
    open: AtomicUsize,
    /// Whether a response has been sent in full: until then the head is
    /// timed from accept.
    served: AtomicBool,
    /// When the last response was sent in full.
    idle_since: AtomicU64,
    /// When the first byte after it came, `NEVER` while none has.
    head_since: AtomicU64,
    /// Whether the request in flight had its body time out.
    body_timed_out: AtomicBool,
    /// Since when the socket has refused a write (full: the client is not
    /// reading), `NEVER` while the last write went through.
    write_blocked_since: AtomicU64,
    /// The first refused write of the request in flight: the client fell
    /// behind, and from here on its average rate counts. `NEVER` until then.
    behind_since: AtomicU64,
    /// Bytes the socket took since `behind_since`.
    taken_behind: AtomicU64,
    /// Wakes the watchdog when its deadline may have moved.
    changed: Notify,
}

impl Activity {
    fn new() -> Self {
        Self {
            accepted: Instant::now(),
            open: AtomicUsize::new(0),
            served: AtomicBool::new(false),
            idle_since: AtomicU64::new(0),
            head_since: AtomicU64::new(NEVER),
            body_timed_out: AtomicBool::new(false),
            write_blocked_since: AtomicU64::new(NEVER),
            behind_since: AtomicU64::new(NEVER),
            taken_behind: AtomicU64::new(0),
            changed: Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.accepted.elapsed().as_millis()).unwrap_or(NEVER - 1)
    }

    /// Bytes came in: between requests, they begin the next head.
    fn received(&self) {
        if self.open.load(Relaxed) == 0 && self.head_since.load(Relaxed) == NEVER {
            self.head_since.store(self.now(), Relaxed);
            self.changed.notify_one();
        }
    }

    fn request_started(&self) {
        self.open.fetch_add(1, Relaxed);
        self.head_since.store(NEVER, Relaxed);
        self.body_timed_out.store(false, Relaxed);
        // Each answer's rate is its own: the idle time before it is no one's slowness.
        self.behind_since.store(NEVER, Relaxed);
        self.taken_behind.store(0, Relaxed);
    }

    /// What a write to the socket came to.
    fn written(&self, result: &Poll<io::Result<usize>>) {
        match result {
            Poll::Pending => self.write_blocked(),
            Poll::Ready(Ok(bytes)) if *bytes > 0 => self.wrote(*bytes),
            Poll::Ready(_) => {}
        }
    }

    /// The socket is full: the client takes the answer slower than it comes.
    fn write_blocked(&self) {
        if self.write_blocked_since.load(Relaxed) != NEVER {
            return;
        }
        let now = self.now();
        self.write_blocked_since.store(now, Relaxed);
        if self.behind_since.load(Relaxed) == NEVER {
            self.behind_since.store(now, Relaxed);
        }
        // The write deadline may come before the timer is set for.
        self.changed.notify_one();
    }

    /// The socket took `bytes`. No wake-up: the deadline only moves later.
    fn wrote(&self, bytes: usize) {
        self.write_blocked_since.store(NEVER, Relaxed);
        if self.behind_since.load(Relaxed) != NEVER {
            self.taken_behind.fetch_add(u64::try_from(bytes).unwrap_or(u64::MAX), Relaxed);
        }
        // hyper lets go of a body once it holds the last of it, and may still
        // be writing that out: the connection idles from its last byte.
        if self.open.load(Relaxed) == 0 {
            self.idle_since.store(self.now(), Relaxed);
        }
    }

    /// No wake-up: the deadline only moves later here, and the watchdog,
    /// re-checking when its timer fires, finds it (see `serve`'s loop).
    fn response_sent(&self) {
        if self.open.fetch_sub(1, Relaxed) == 1 {
            self.idle_since.store(self.now(), Relaxed);
            self.head_since.store(NEVER, Relaxed);
            self.served.store(true, Relaxed);
        }
    }

    /// The body of the request in flight waited past the body timeout.
    pub(super) fn body_timed_out(&self) {
        self.body_timed_out.store(true, Relaxed);
    }

    /// Whether nothing of a next request has come since the last response
    /// (or since accept), and none of the last is waiting for the client to
    /// take it: the connection can close without cutting anyone off.
    fn between_requests(&self) -> bool {
        self.open.load(Relaxed) == 0
            && self.head_since.load(Relaxed) == NEVER
            && self.write_blocked_since.load(Relaxed) == NEVER
    }

    /// When the connection closes if nothing changes, and what it waits for
    /// (for the log); `None` while a request is in flight and its answer
    /// goes out (its body has its own timeout; its handler, none of ours).
    fn deadline(&self, limits: &ConnectionLimits) -> Option<(Instant, &'static str)> {
        // Request open or not (hyper may hold the rest of an answer whose
        // body it is done with), an answer the client does not take is
        // timed alone: the connection is not idle while it waits.
        if let Some(writing) = self.write_deadline(limits) {
            return Some((writing, "the client to take the response"));
        }
        if self.open.load(Relaxed) > 0 {
            return None;
        }
        let (from, allowed, waiting) = if !self.served.load(Relaxed) {
            (0, limits.header_timeout, "the request head")
        } else {
            match self.head_since.load(Relaxed) {
                NEVER => (self.idle_since.load(Relaxed), limits.idle_timeout, "a next request"),
                started => (started, limits.header_timeout, "the request head"),
            }
        };
        Some((later(self.accepted, Duration::from_millis(from).saturating_add(allowed)), waiting))
    }

    /// While a write waits: `write_timeout` after it began, and no later
    /// than the minimum rate allows since the client fell behind (each
    /// `write_min_rate` bytes it took since buy a second more). Checked only
    /// while the socket is full, when the client is what holds the answer
    /// up; and our answers are whole bodies, so once it fell behind nothing
    /// else does.
    fn write_deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        let blocked = self.write_blocked_since.load(Relaxed);
        if blocked == NEVER {
            return None;
        }
        let stalled = Duration::from_millis(blocked).saturating_add(limits.write_timeout);
        let behind = self.behind_since.load(Relaxed);
        let allowed = if limits.write_min_rate == 0 || behind == NEVER {
            stalled
        } else {
            let seconds = self.taken_behind.load(Relaxed) as f64 / limits.write_min_rate as f64;
            let earned = Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX);
            stalled.min(Duration::from_millis(behind).saturating_add(limits.write_timeout).saturating_add(earned))
        };
        Some(later(self.accepted, allowed))
    }
}

/// `start + by`, or a year from now should that overflow.
pub(super) fn later(start: Instant, by: Duration) -> Instant {
    start.checked_add(by).unwrap_or_else(|| Instant::now() + Duration::from_secs(365 * 86_400))
}

/// The socket. It reports incoming bytes and refused and accepted writes
/// to `Activity`, and carries the connection's places (under the
/// listener's cap and its address's), so a WebSocket keeps them after the
/// upgrade (hyper hands this socket over) until it closes.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
    _place: Place,
}

impl AsyncRead for Watched {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(read, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.received();
        }
        read
    }
}

impl AsyncWrite for Watched {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.activity.written(&written);
        written
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.activity.written(&written);
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// A request from its head to the end of its response: while one is open
/// the watchdog leaves the connection alone.
struct OpenRequest {
    activity: Arc<Activity>,
}

impl OpenRequest {
    fn start(activity: Arc<Activity>) -> Self {
        activity.request_started();
        Self { activity }
    }
}

impl Drop for OpenRequest {
    fn drop(&mut self) {
        self.activity.response_sent();
    }
}

/// A response body; its request is open until hyper is done with it.
struct Tracked {
    body: axum::body::Body,
    _open: OpenRequest,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The router as hyper calls it on this connection.
struct ConnectionService {
    router: Router,
    activity: Arc<Activity>,
    remote: SocketAddr,
    body_timeout: Duration,
    body_min_rate: u64,
}

impl hyper::service::Service<Request<Incoming>> for ConnectionService {
    type Response = Response<Tracked>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Tracked>, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let open = OpenRequest::start(self.activity.clone());
        let (activity, timeout, min_rate) = (self.activity.clone(), self.body_timeout, self.body_min_rate);
        let mut request = request.map(|body| TimedBody::new(body, timeout, min_rate, activity));
        // Handlers that need the client's address read it as axum's `ConnectInfo`.
        request.extensions_mut().insert(ConnectInfo(self.remote));
        let router = self.router.clone();
        Box::pin(async move {
            let response = match router.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            let response =
                if open.activity.body_timed_out.load(Relaxed) { request_timeout(&response) } else { response };
            Ok(response.map(|body| Tracked { body, _open: open }))
        })
    }
}

/// What a request whose body stalled gets, whatever its handler made of the
/// failed read (a JSON read answers 413): 408, and the connection closes,
/// since the rest of the body never came.
fn request_timeout(handled: &axum::response::Response) -> axum::response::Response {
    let mut response = axum::response::Response::new(axum::body::Body::from("request body timed out\n"));
    *response.status_mut() = StatusCode::REQUEST_TIMEOUT;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    if let Some(id) = handled.headers().get("x-request-id") {
        headers.insert("x-request-id", id.clone());
    }
    response
}

/// Serves one accepted connection until it ends, misses a deadline, or,
/// once `stop` fires, has answered the request in flight.
pub(super) async fn serve(
    stream: TcpStream,
    remote: SocketAddr,
    place: Place,
    router: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<()>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched { stream, activity: activity.clone(), _place: place });
    let service = ConnectionService {
        router,
        activity: activity.clone(),
        remote,
        body_timeout: limits.body_timeout,
        body_min_rate: limits.body_min_rate,
    };
    let mut http = hyper::server::conn::http1::Builder::new();
    // The watchdog times heads (see the module's note): hyper's timer off.
    http.header_read_timeout(None::<Duration>);
    let connection = http.serve_connection(io, service).with_upgrades();
    let mut connection = std::pin::pin!(connection);
    let mut stopping = false;
    // One timer for the connection's life, moved only when the deadline
    // comes earlier than it is set for. A later deadline (each response sent
    // moves it) is found when the timer fires and checks: re-arming the timer
    // on every request cost the `me` benchmark about a fifth of its throughput.
    // While a request is in flight there is no deadline; the timer then
    // re-checks every header timeout, so a response sent is noticed by then.
    let recheck = limits.header_timeout.min(limits.idle_timeout);
    let first = activity.deadline(&limits).map_or_else(|| later(Instant::now(), recheck), |(deadline, _)| deadline);
    let timer = tokio::time::sleep_until(first);
    let mut timer = std::pin::pin!(timer);
    loop {
        if let Some((deadline, _)) = activity.deadline(&limits)
            && deadline < timer.deadline()
        {
            timer.as_mut().reset(deadline);
        }
        tokio::select! {
            ended = connection.as_mut() => {
                if let Err(e) = ended {
                    tracing::debug!(%remote, error = %e, "connection ended with an error");
                }
                return;
            }
            _ = stop.changed(), if !stopping => {
                if activity.between_requests() {
                    return;
                }
                stopping = true;
                // Finishes the response in flight, then closes.
                connection.as_mut().graceful_shutdown();
            }
            () = activity.changed.notified() => {}
            () = timer.as_mut() => {
                let now = Instant::now();
                match activity.deadline(&limits) {
                    Some((deadline, waiting)) if deadline <= now => {
                        tracing::debug!(%remote, waiting, "closing a connection past its deadline");
                        return;
                    }
                    Some((deadline, _)) => timer.as_mut().reset(deadline),
                    None => timer.as_mut().reset(later(now, recheck)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_min_rate(write_min_rate: u64) -> ConnectionLimits {
        ConnectionLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            body_min_rate: 1024,
            write_timeout: Duration::from_secs(30),
            write_min_rate,
            idle_timeout: Duration::from_secs(75),
            max_connections: 1,
            max_per_address: 1,
        }
    }

    /// The deadline as milliseconds since accept, and what it waits for.
    fn deadline(activity: &Activity, limits: &ConnectionLimits) -> Option<(u64, &'static str)> {
        activity.deadline(limits).map(|(at, waiting)| {
            (u64::try_from(at.duration_since(activity.accepted).as_millis()).unwrap_or(u64::MAX), waiting)
        })
    }

    #[test]
    fn an_answer_the_client_does_not_take_is_timed_request_open_or_not() {
        let activity = Activity::new();
        let limits = with_min_rate(0);
        activity.request_started();
        assert_eq!(deadline(&activity, &limits), None, "an answer going out has no deadline");
        activity.write_blocked_since.store(1_000, Relaxed);
        activity.behind_since.store(1_000, Relaxed);
        assert_eq!(deadline(&activity, &limits), Some((31_000, "the client to take the response")));
        // hyper is done with the body but still holds its end: not idle yet.
        activity.response_sent();
        assert_eq!(deadline(&activity, &limits).map(|(at, _)| at), Some(31_000));
        assert!(!activity.between_requests(), "shutdown would cut the answer off");
        // The client takes the rest: idle from then.
        activity.wrote(4096);
        let (at, waiting) = deadline(&activity, &limits).unwrap_or((0, ""));
        assert_eq!(waiting, "a next request");
        assert!(at >= 75_000, "idle from the last byte written: {at}");
        assert!(activity.between_requests());
    }

    #[test]
    fn a_client_behind_the_minimum_rate_is_cut_off_before_the_write_timeout() {
        let activity = Activity::new();
        let limits = with_min_rate(1024);
        activity.request_started();
        // Behind from 1 s; 10 KiB taken since buy 10 s beyond the 30 s of grace.
        activity.behind_since.store(1_000, Relaxed);
        activity.taken_behind.store(10 * 1024, Relaxed);
        activity.write_blocked_since.store(35_000, Relaxed);
        assert_eq!(deadline(&activity, &limits).map(|(at, _)| at), Some(41_000));
        // Taking plenty, the write timeout is what is left.
        activity.taken_behind.store(1 << 30, Relaxed);
        assert_eq!(deadline(&activity, &limits).map(|(at, _)| at), Some(65_000));
        // Without a minimum, only the write timeout.
        activity.taken_behind.store(0, Relaxed);
        assert_eq!(deadline(&activity, &with_min_rate(0)).map(|(at, _)| at), Some(65_000));
        // The next request's answer starts its own average.
        activity.wrote(1);
        activity.request_started();
        assert_eq!(activity.behind_since.load(Relaxed), NEVER);
        assert_eq!(activity.taken_behind.load(Relaxed), 0);
    }

    #[test]
    fn a_stall_is_timed_from_the_first_refused_write() {
        let activity = Activity::new();
        activity.request_started();
        activity.written(&Poll::Pending);
        let since = activity.write_blocked_since.load(Relaxed);
        assert_ne!(since, NEVER);
        assert_eq!(activity.behind_since.load(Relaxed), since);
        // Refused again: the stall is still timed from the first refusal.
        activity.write_blocked_since.store(5, Relaxed);
        activity.written(&Poll::Pending);
        assert_eq!(activity.write_blocked_since.load(Relaxed), 5);
        activity.written(&Poll::Ready(Ok(100)));
        assert_eq!(activity.write_blocked_since.load(Relaxed), NEVER);
        assert_eq!(activity.taken_behind.load(Relaxed), 100);
        // A zero-byte write or an error says nothing about the client's pace.
        activity.written(&Poll::Ready(Ok(0)));
        activity.written(&Poll::Ready(Err(io::Error::other("gone"))));
        assert_eq!(activity.write_blocked_since.load(Relaxed), NEVER);
    }
}
