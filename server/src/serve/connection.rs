//! One accepted connection: hyper's HTTP/1.1 with upgrades, under a
//! watchdog for the deadlines hyper cannot tell apart. hyper's own
//! `header_read_timeout` starts whenever the connection waits for a head,
//! idle keep-alive included, so it cannot give a kept-alive connection 75 s
//! to start its next request and a started head 10 s to finish; the watchdog
//! can, from what the socket, the service and the bodies report to
//! [`Activity`].

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
    /// (or since accept): the connection can close without cutting anyone off.
    fn between_requests(&self) -> bool {
        self.open.load(Relaxed) == 0 && self.head_since.load(Relaxed) == NEVER
    }

    /// When the connection closes if nothing changes; `None` while a request
    /// is in flight (its body has its own timeout; its handler, none of ours).
    fn deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        if self.open.load(Relaxed) > 0 {
            return None;
        }
        let (from, allowed) = if !self.served.load(Relaxed) {
            (0, limits.header_timeout)
        } else {
            match self.head_since.load(Relaxed) {
                NEVER => (self.idle_since.load(Relaxed), limits.idle_timeout),
                started => (started, limits.header_timeout),
            }
        };
        Some(later(self.accepted, Duration::from_millis(from).saturating_add(allowed)))
    }
}

/// `start + by`, or a year from now should that overflow.
pub(super) fn later(start: Instant, by: Duration) -> Instant {
    start.checked_add(by).unwrap_or_else(|| Instant::now() + Duration::from_secs(365 * 86_400))
}

/// The socket. It reports incoming bytes to `Activity` and carries the
/// connection's places (under the listener's cap and its address's), so a
/// WebSocket keeps them after the upgrade (hyper hands this socket over)
/// until it closes.
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
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
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
    let timer = tokio::time::sleep_until(activity.deadline(&limits).unwrap_or_else(|| later(Instant::now(), recheck)));
    let mut timer = std::pin::pin!(timer);
    loop {
        if let Some(deadline) = activity.deadline(&limits)
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
                    Some(deadline) if deadline <= now => {
                        tracing::debug!(%remote, "closing a connection past its deadline");
                        return;
                    }
                    Some(deadline) => timer.as_mut().reset(deadline),
                    None => timer.as_mut().reset(later(now, recheck)),
                }
            }
        }
    }
}
