//! Request bodies that may not stall: a client that announces a body and
//! then sends it slowly, or not at all, must not keep a handler (and its
//! connection) waiting for ever.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::BoxError;
use hyper::body::{Body as HttpBody, Bytes, Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};

use super::connection::{Activity, later};

/// A request body whose read fails with [`BodyTimeout`] when its next frame
/// takes longer than `timeout` to come, or when it arrives slower on average
/// than `min_rate` bytes a second once `timeout` has passed since its first
/// read (each `min_rate` bytes received buy one more second). The gap clock
/// runs only while the body is being read: a handler busy elsewhere does not
/// count against the client.
pub(super) struct TimedBody {
    inner: Incoming,
    timeout: Duration,
    /// Armed by the first read that has to wait, re-armed after each frame.
    timer: Option<Pin<Box<Sleep>>>,
    /// Whether the timer runs for the frame awaited now.
    waiting: bool,
    /// Told when the body times out, so the answer becomes 408.
    activity: Arc<Activity>,
    /// Bytes a second the body must average after the grace (0: any).
    min_rate: u64,
    /// The first read, from which the average is taken.
    started: Option<Instant>,
    /// Bytes received so far.
    received: u64,
}

/// The error a stalled body's read fails with.
#[derive(Debug, thiserror::Error)]
#[error("the request body sent nothing for {0:?}")]
pub(super) struct BodyTimeout(Duration);

impl TimedBody {
    pub(super) fn new(inner: Incoming, timeout: Duration, min_rate: u64, activity: Arc<Activity>) -> Self {
        Self { inner, timeout, timer: None, waiting: false, activity, min_rate, started: None, received: 0 }
    }

    /// When the next frame must have come: `timeout` from now, and no later
    /// than the average rate allows.
    fn deadline(&self, now: Instant) -> Instant {
        let gap = later(now, self.timeout);
        match (self.started, self.rate_deadline()) {
            (Some(started), Some(allowed)) => gap.min(later(started, allowed)),
            _ => gap,
        }
    }

    /// How long after the first read the bytes received so far may take.
    fn rate_deadline(&self) -> Option<Duration> {
        (self.min_rate > 0).then(|| {
            let earned = Duration::from_secs_f64(self.received as f64 / self.min_rate as f64);
            self.timeout.saturating_add(earned)
        })
    }

    fn behind_rate(&self, started: Instant, now: Instant) -> bool {
        self.rate_deadline().is_some_and(|allowed| now > later(started, allowed))
    }
}

impl HttpBody for TimedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let now = Instant::now();
        let started = *this.started.get_or_insert(now);
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            this.waiting = false;
            if let Some(Ok(data)) = frame.as_ref().map(|f| f.as_ref().map(|f| f.data_ref().map_or(0, Bytes::len))) {
                this.received = this.received.saturating_add(u64::try_from(data).unwrap_or(u64::MAX));
            }
            // A body behind its minimum rate fails even while data comes.
            if this.behind_rate(started, now) {
                this.activity.body_timed_out();
                return Poll::Ready(Some(Err(Box::new(BodyTimeout(this.timeout)))));
            }
            return Poll::Ready(frame.map(|frame| frame.map_err(|e| -> BoxError { Box::new(e) })));
        }
        if !this.waiting {
            this.waiting = true;
            let deadline = this.deadline(now);
            // One timer per body, re-armed: most bodies never wait at all.
            let timer = this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
            timer.as_mut().reset(deadline);
        }
        let expired = this.timer.as_mut().is_some_and(|timer| timer.as_mut().poll(cx).is_ready());
        if expired {
            this.activity.body_timed_out();
            return Poll::Ready(Some(Err(Box::new(BodyTimeout(this.timeout)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
