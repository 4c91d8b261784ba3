//! Progress of a running tool call. Long reads (Shopify pages, a bulk
//! operation being polled, waits for the shop's cost bucket) say they are
//! still moving, so the tool runner's timeout measures silence rather than
//! total time, and a client sees `TOOL_PROGRESS` instead of a call that
//! looks stuck.
//!
//! The reporter travels as a task-local that the runner sets around each
//! call (`watch`), so no `StoreData` signature carries it. Outside a tool
//! call (an action executing, a test reading the store directly) [`report`]
//! and [`waiting`] do nothing.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// Longest a tool call may run while it keeps reporting progress, unless
/// configured (`pipeline.tool_max_ms`).
pub const DEFAULT_CALL_CEILING: Duration = Duration::from_secs(10 * 60);

/// How often a call's progress is handed on, at most; and how long a call
/// runs before the first hand-off, so fast calls never publish anything.
pub(crate) const PUBLISH_EVERY: Duration = Duration::from_secs(1);

/// Deadlines are capped this far ahead: a misconfigured huge timeout must
/// not overflow an `Instant`.
const FAR: Duration = Duration::from_secs(365 * 24 * 3600);

tokio::task_local! {
    /// The reporter of the tool call being polled, if any.
    static REPORTER: Arc<Reporter>;
}

/// One step of a long read, added to its call's running totals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Pages read by this step.
    pub pages: u64,
    /// Rows (objects) read by this step.
    pub rows: u64,
    /// What the read is doing now, for a person (`orders page 12`); empty
    /// keeps the previous one.
    pub detail: String,
}

/// Records `step` on the current tool call: it is alive now, and its totals
/// grow. Does nothing outside a tool call.
pub fn report(step: Progress) {
    // Outside a scope there is nobody to tell; that is not an error.
    let _ = REPORTER.try_with(|r| r.add(step, Instant::now()));
}

/// Records that the current tool call is about to wait `wait` on purpose
/// (the shop's cost bucket refilling): the wait is progress, not silence.
/// Does nothing outside a tool call.
pub fn waiting(wait: Duration, detail: String) {
    let _ = REPORTER.try_with(|r| r.add(Progress { pages: 0, rows: 0, detail }, later(Instant::now(), wait)));
}

/// `at + d`, with `d` capped at [`FAR`].
fn later(at: Instant, d: Duration) -> Instant {
    at + d.min(FAR)
}

/// A call's progress so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    /// Pages read.
    pub(crate) pages: u64,
    /// Rows read.
    pub(crate) rows: u64,
    /// The latest detail.
    pub(crate) detail: String,
    /// Bumped by every report that changed the figures above: the watcher
    /// hands on only what is new.
    pub(crate) version: u64,
}

/// Collects the reports of one tool call.
#[derive(Debug)]
struct Reporter {
    started: Instant,
    /// Milliseconds after `started` until which the call counts as active:
    /// its latest report, or the end of a wait it announced.
    active_until: AtomicU64,
    totals: Mutex<Totals>,
}

impl Reporter {
    fn new() -> Self {
        Self { started: Instant::now(), active_until: AtomicU64::new(0), totals: Mutex::default() }
    }

    fn add(&self, step: Progress, active_until: Instant) {
        let ms = u64::try_from(active_until.saturating_duration_since(self.started).as_millis()).unwrap_or(u64::MAX);
        self.active_until.fetch_max(ms, Ordering::Relaxed);
        if step.pages == 0 && step.rows == 0 && step.detail.is_empty() {
            return; // a sign of life only: nothing new to publish
        }
        let mut totals = self.totals.lock().unwrap_or_else(|p| p.into_inner());
        totals.pages = totals.pages.saturating_add(step.pages);
        totals.rows = totals.rows.saturating_add(step.rows);
        if !step.detail.is_empty() {
            totals.detail = step.detail;
        }
        totals.version += 1;
    }

    fn active_until(&self) -> Instant {
        later(self.started, Duration::from_millis(self.active_until.load(Ordering::Relaxed)))
    }

    fn totals(&self) -> Totals {
        self.totals.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// How long a watched call may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest silence: a call that reports nothing for this long (from its
    /// start, or its latest report) is stopped.
    pub idle: Duration,
    /// Longest run, progress or not.
    pub ceiling: Duration,
}

/// Why a watched call was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stopped {
    /// Nothing reported for `idle`.
    Silent {
        /// The limit.
        idle: Duration,
        /// How long the call ran.
        ran: Duration,
        /// Whether it had reported anything before it fell silent.
        progressed: bool,
    },
    /// Still reporting when it reached the ceiling.
    Ceiling {
        /// The limit.
        ceiling: Duration,
    },
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // Worded as before progress existed: a call that never reported
            // anything timed out exactly as it used to.
            Self::Silent { idle, progressed: false, .. } => write!(f, "timed out after {} ms", idle.as_millis()),
            Self::Silent { idle, ran, progressed: true } => {
                write!(f, "timed out after {} ms without progress (ran {} ms)", idle.as_millis(), ran.as_millis())
            }
            Self::Ceiling { ceiling } => {
                write!(f, "timed out at the {} ms limit for one call, still progressing", ceiling.as_millis())
            }
        }
    }
}

/// Runs `call` with a reporter in scope, stopping it after `limits.idle`
/// without a report or at `limits.ceiling`. At most every [`PUBLISH_EVERY`],
/// and not before the first has passed, new totals go to `publish` (with the
/// time run so far); it returns whether it took them (`false`: it was busy,
/// offer them again next time).
pub(crate) async fn watch<F, P>(limits: Limits, call: F, mut publish: P) -> Result<F::Output, Stopped>
where
    F: Future,
    P: FnMut(&Totals, Duration) -> bool,
{
    let reporter = Arc::new(Reporter::new());
    let started = reporter.started;
    let ceiling_after = limits.ceiling.max(limits.idle);
    let ceiling = later(started, ceiling_after);
    let mut call = std::pin::pin!(REPORTER.scope(reporter.clone(), call));
    let mut next_publish = later(started, PUBLISH_EVERY);
    let mut published = 0u64;
    loop {
        let silent_at = later(reporter.active_until(), limits.idle);
        let wake = silent_at.min(ceiling).min(next_publish);
        tokio::select! {
            // A call that finishes as a deadline passes has finished.
            biased;
            output = &mut call => return Ok(output),
            () = tokio::time::sleep_until(wake) => {}
        }
        let now = Instant::now();
        if now >= next_publish {
            let totals = reporter.totals();
            if totals.version > published && publish(&totals, now.saturating_duration_since(started)) {
                published = totals.version;
            }
            next_publish = later(now, PUBLISH_EVERY);
        }
        if now >= ceiling {
            return Err(Stopped::Ceiling { ceiling: ceiling_after });
        }
        // Re-read: a report may have come in while this woke.
        if now >= later(reporter.active_until(), limits.idle) {
            let progressed = reporter.active_until.load(Ordering::Relaxed) > 0 || reporter.totals().version > 0;
            return Err(Stopped::Silent { idle: limits.idle, ran: now.saturating_duration_since(started), progressed });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reporting_outside_a_call_does_nothing() {
        report(Progress { pages: 1, rows: 2, detail: "page 1".into() });
        waiting(Duration::from_secs(1), "bucket".into());
    }

    #[tokio::test]
    async fn reports_add_up_and_signs_of_life_publish_nothing() {
        let limits = Limits { idle: Duration::from_millis(400), ceiling: Duration::from_secs(5) };
        let mut seen = Vec::new();
        let out = watch(
            limits,
            async {
                for page in 1..=5u64 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    report(Progress { pages: 1, rows: 5, detail: format!("orders page {page}") });
                }
                // Alive but with nothing new: the second tick publishes nothing.
                for _ in 0..20 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    report(Progress::default());
                }
                7
            },
            |totals, ran| {
                seen.push((totals.clone(), ran));
                true
            },
        )
        .await;
        assert_eq!(out, Ok(7));
        assert_eq!(seen.len(), 1, "{seen:?}");
        let (totals, ran) = &seen[0];
        assert_eq!((totals.pages, totals.rows, totals.detail.as_str()), (5, 25, "orders page 5"));
        assert!(*ran >= PUBLISH_EVERY, "nothing in the first second: {ran:?}");
    }

    #[tokio::test]
    async fn an_announced_wait_is_not_silence() {
        let limits = Limits { idle: Duration::from_millis(100), ceiling: Duration::from_secs(5) };
        let out = watch(
            limits,
            async {
                waiting(Duration::from_millis(300), "waiting for the cost bucket".into());
                tokio::time::sleep(Duration::from_millis(300)).await;
                1
            },
            |_, _| true,
        )
        .await;
        assert_eq!(out, Ok(1));
    }
}
