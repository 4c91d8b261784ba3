//! Runs tools for a department: timeout, retry with backoff and jitter, an
//! error budget persisted on the task (seed 002 item 9), a record per call.
//!
//! The timeout is one of inactivity: a call that reports progress
//! ([`crate::progress`]: Shopify pages, bulk polls, cost-bucket waits) keeps
//! running while reports arrive within `timeout` of each other, up to a
//! ceiling; one that reports nothing times out at `timeout` as before. Its
//! progress goes to a [`ProgressSink`] at most once a second, and never in
//! its first second, so fast calls cost nothing extra.
//!
//! A call an open circuit refused ([`ToolError::CircuitOpen`]) was never
//! tried: it is no attempt and no error. The runner waits for the
//! breaker's hint and calls again, the wait reported as the call's progress
//! (as the Admin API client reports a wait for the cost bucket). The task's
//! waits together are bounded by the ceiling; past it the task fails as
//! [`TaskFailure::Unavailable`], naming the provider and its hint. The queue
//! cannot hold a message back for a while (a redelivery comes at once, and
//! each one spends one of the message's deliveries), so the step waits
//! in place, its delivery unacknowledged: a worker that dies meanwhile has
//! the message redelivered, and that delivery starts its bound afresh.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::Value;
use uuid::Uuid;

use super::{ToolError, TypedTool};
use crate::breaker::{CircuitOpen, Deferral};
use crate::progress::{self, DEFAULT_CALL_CEILING, Limits};
use crate::result::Provenance;

/// At this many errors a task fails and reports upward.
pub const MAX_TASK_ERRORS: u32 = 5;

/// A successful tool call, kept for provenance and the audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCallRecord {
    /// Cited by figures.
    pub id: Uuid,
    /// Tool name.
    pub tool: String,
    /// Validated input.
    pub input: Value,
    /// One-line output summary.
    pub output_summary: String,
    /// Attempts it took.
    pub attempts: u32,
    /// Duration of the successful attempt.
    pub duration: Duration,
    /// When it started.
    pub at: DateTime<Utc>,
}

impl ToolCallRecord {
    /// The provenance entry citing this call.
    pub fn provenance(&self) -> Provenance {
        Provenance { tool_call_id: self.id, tool: self.tool.clone(), query: self.input.clone() }
    }
}

/// One failed attempt of a tool call: recorded like a successful call
/// (input, what came out, how long it took), with the error as its outcome.
#[derive(Debug, Clone, Copy)]
pub struct FailedAttempt<'a> {
    /// Tool name.
    pub tool: &'a str,
    /// The input it was called with.
    pub input: &'a Value,
    /// What went wrong.
    pub error: &'a str,
    /// 1 for the first attempt of the call.
    pub attempt: u32,
    /// How long the attempt ran (the timeout, or more if it kept reporting
    /// progress before it fell silent or reached the ceiling).
    pub duration: Duration,
}

/// A running call's progress, as handed to a [`ProgressSink`].
#[derive(Debug, Clone, PartialEq)]
pub struct ToolProgress {
    /// The id the call is recorded under once it succeeds (the same for
    /// every attempt of the call).
    pub tool_call_id: Uuid,
    /// Tool name.
    pub tool: &'static str,
    /// 1 for the first attempt of the call.
    pub attempt: u32,
    /// Pages read so far by this attempt.
    pub pages: u64,
    /// Rows read so far by this attempt.
    pub rows: u64,
    /// What it is doing now (`orders page 12`).
    pub detail: String,
    /// How long the attempt has run.
    pub elapsed: Duration,
}

/// Where long calls' progress goes; the pipeline appends it to the
/// request's events (`TOOL_PROGRESS`).
#[async_trait]
pub trait ProgressSink: Send + Sync {
    /// Records one progress report. Best effort: a failure is logged, and
    /// the call goes on.
    async fn progress(&self, progress: ToolProgress) -> anyhow::Result<()>;
}

/// Where a task's failed tool calls are recorded and counted; the pipeline
/// persists them so the count survives redelivery.
#[async_trait]
pub trait ErrorBudget: Send + Sync {
    /// Records one failed attempt; returns the task's error count after it.
    async fn record_error(&self, failed: FailedAttempt<'_>) -> anyhow::Result<u32>;
}

/// Why a department could not finish its task.
#[derive(Debug, thiserror::Error)]
pub enum TaskFailure {
    /// A tool kept failing; the task fails and the request hears of it.
    #[error("tool {tool} failed ({errors} errors on the task): {error}")]
    Tool {
        /// The tool.
        tool: String,
        /// Its last error.
        error: String,
        /// The task's error count.
        errors: u32,
    },
    /// A provider's circuit stayed open past the most a task waits for it
    /// (the ceiling, in all); no tool error was counted.
    #[error("unavailable: {refusal} (waited {secs} s for it in all, the most a task waits)", secs = .waited.as_secs())]
    Unavailable {
        /// The last refusal: the provider and its hint.
        refusal: CircuitOpen,
        /// How long the task had waited for open circuits.
        waited: Duration,
    },
    /// The department's own logic refused (e.g. no data to work with).
    #[error("{0}")]
    Rejected(String),
    /// The platform itself failed (database): the message is retried.
    #[error(transparent)]
    Infrastructure(#[from] anyhow::Error),
}

/// Runs tool calls for one task.
pub struct ToolRunner {
    budget: Arc<dyn ErrorBudget>,
    progress: Option<Arc<dyn ProgressSink>>,
    errors: u32,
    limits: Limits,
    backoff: Duration,
    /// Waits for open circuits so far, bounded by the ceiling.
    deferral: Deferral,
    calls: Vec<ToolCallRecord>,
}

impl ToolRunner {
    /// A runner for a task that already has `errors` errors. A call that
    /// reports nothing for `timeout` times out; one that keeps reporting
    /// may run to the ceiling ([`DEFAULT_CALL_CEILING`] unless
    /// [`ToolRunner::with_ceiling`]).
    pub fn new(budget: Arc<dyn ErrorBudget>, errors: u32, timeout: Duration, backoff: Duration) -> Self {
        let limits = Limits { idle: timeout, ceiling: DEFAULT_CALL_CEILING.max(timeout) };
        let deferral = Deferral::new(limits.ceiling);
        Self { budget, progress: None, errors, limits, backoff, deferral, calls: Vec::new() }
    }

    /// Caps a call that keeps reporting progress at `ceiling` (never below
    /// the timeout), and the task's waits for open circuits, in all.
    pub fn with_ceiling(mut self, ceiling: Duration) -> Self {
        self.limits.ceiling = ceiling.max(self.limits.idle);
        self.deferral = Deferral::new(self.limits.ceiling);
        self
    }

    /// Hands long calls' progress to `sink`.
    pub fn with_progress(mut self, sink: Arc<dyn ProgressSink>) -> Self {
        self.progress = Some(sink);
        self
    }

    /// Adds calls made elsewhere for this task (by a model through adapters).
    pub fn record(&mut self, calls: impl IntoIterator<Item = ToolCallRecord>) {
        self.calls.extend(calls);
    }

    /// Every successful call so far.
    pub fn into_calls(self) -> Vec<ToolCallRecord> {
        self.calls
    }

    /// Waits out a refusal met outside a tool call (opening the store, the
    /// model writing), within the same bound as the calls' waits; past it
    /// the task fails as unavailable. Counts no error.
    pub async fn defer(&mut self, refusal: CircuitOpen) -> Result<(), TaskFailure> {
        let waited = self.deferral.waited();
        self.deferral.wait(refusal).await.map_err(|refusal| TaskFailure::Unavailable { refusal, waited })
    }

    /// [`ToolRunner::defer`] for a refused tool call: the wait goes to the
    /// progress sink first, so that watchers see why the call stands still.
    async fn defer_call(&mut self, refusal: CircuitOpen, report: ToolProgress) -> Result<(), TaskFailure> {
        if let Some(sink) = &self.progress
            && self.deferral.allows(&refusal)
        {
            let tool = report.tool;
            if let Err(e) = sink.progress(report).await {
                tracing::warn!(tool, error = %e, "tool progress not recorded");
            }
        }
        self.defer(refusal).await
    }

    /// Calls `tool`, retrying failures until the task's error budget is spent.
    pub async fn call<T: TypedTool>(
        &mut self,
        tool: &T,
        input: T::Input,
    ) -> Result<(T::Output, Provenance), TaskFailure> {
        let input_json = serde_json::to_value(&input).map_err(|e| TaskFailure::Infrastructure(e.into()))?;
        // Chosen up front so that progress reports name the call they belong to.
        let id = Uuid::now_v7();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let at = Utc::now();
            let started = Instant::now();
            let mut publishing: Option<tokio::task::JoinHandle<()>> = None;
            let sink = self.progress.clone();
            let publish = |totals: &progress::Totals, elapsed: Duration| {
                let Some(sink) = &sink else { return true };
                // One write at a time; newer totals wait for the next tick.
                if publishing.as_ref().is_some_and(|h| !h.is_finished()) {
                    return false;
                }
                let report = ToolProgress {
                    tool_call_id: id,
                    tool: T::NAME,
                    attempt,
                    pages: totals.pages,
                    rows: totals.rows,
                    detail: totals.detail.clone(),
                    elapsed,
                };
                let sink = sink.clone();
                // Its own task: the call keeps being polled while the event commits.
                let tool_name = report.tool;
                publishing = Some(tokio::spawn(async move {
                    if let Err(e) = sink.progress(report).await {
                        tracing::warn!(tool = tool_name, error = %e, "tool progress not recorded");
                    }
                }));
                true
            };
            let watched = progress::watch(self.limits, tool.call(&input), publish).await;
            // Progress events come before the attempt's outcome in the request's events.
            if let Some(handle) = publishing.take() {
                let _ = handle.await;
            }
            let error = match watched {
                Ok(Ok(output)) => {
                    let record = ToolCallRecord {
                        id,
                        tool: T::NAME.to_owned(),
                        input: input_json,
                        output_summary: T::summarize(&output),
                        attempts: attempt,
                        duration: started.elapsed(),
                        at,
                    };
                    let provenance = record.provenance();
                    self.calls.push(record);
                    return Ok((output, provenance));
                }
                // Refused without being tried: no attempt, no error. Wait
                // for the breaker's hint, then call again.
                Ok(Err(ToolError::CircuitOpen(refusal))) => {
                    let report = ToolProgress {
                        tool_call_id: id,
                        tool: T::NAME,
                        attempt,
                        pages: 0,
                        rows: 0,
                        detail: format!("waiting for {refusal}"),
                        elapsed: started.elapsed(),
                    };
                    attempt -= 1;
                    self.defer_call(refusal, report).await?;
                    continue;
                }
                Ok(Err(error)) => error,
                Err(stopped) => ToolError::Transient(stopped.to_string()),
            };
            let message = error.to_string();
            let failed = FailedAttempt {
                tool: T::NAME,
                input: &input_json,
                error: &message,
                attempt,
                duration: started.elapsed(),
            };
            self.errors = self.budget.record_error(failed).await?;
            tracing::warn!(tool = T::NAME, attempt, errors = self.errors, error = message, "tool call failed");
            if self.errors >= MAX_TASK_ERRORS || matches!(error, ToolError::InvalidInput(_)) {
                return Err(TaskFailure::Tool { tool: T::NAME.to_owned(), error: message, errors: self.errors });
            }
            let base = self.backoff.saturating_mul(1 << (attempt - 1).min(6));
            let jitter = rand::rng().random_range(0.5..1.5);
            tokio::time::sleep(base.mul_f64(jitter)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Default)]
    struct Counter(AtomicU32, std::sync::Mutex<Vec<(u32, String)>>);

    #[async_trait]
    impl ErrorBudget for Counter {
        async fn record_error(&self, failed: FailedAttempt<'_>) -> anyhow::Result<u32> {
            if let Ok(mut seen) = self.1.lock() {
                seen.push((failed.attempt, failed.error.to_owned()));
            }
            Ok(self.0.fetch_add(1, Ordering::SeqCst) + 1)
        }
    }

    /// Fails its first `failures` calls.
    struct Flaky(AtomicU32, u32);

    #[derive(Serialize, Deserialize, JsonSchema)]
    struct Empty {}

    #[async_trait]
    impl TypedTool for Flaky {
        type Input = Empty;
        type Output = u32;
        const NAME: &'static str = "test.flaky";
        const DESCRIPTION: &'static str = "fails a few times";
        async fn call(&self, _: &Empty) -> Result<u32, ToolError> {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            if n < self.1 { Err(ToolError::Transient(format!("failure {n}"))) } else { Ok(n) }
        }
        fn summarize(output: &u32) -> String {
            output.to_string()
        }
    }

    fn runner(budget: Arc<Counter>) -> ToolRunner {
        ToolRunner::new(budget, 0, Duration::from_secs(1), Duration::from_millis(1))
    }

    #[tokio::test]
    async fn retries_until_success_and_records_one_call() {
        let budget = Arc::new(Counter::default());
        let mut runner = runner(budget.clone());
        let Ok((out, provenance)) = runner.call(&Flaky(AtomicU32::new(0), 3), Empty {}).await else {
            panic!("the fourth attempt succeeds");
        };
        assert_eq!(out, 3);
        assert_eq!(budget.0.load(Ordering::SeqCst), 3);
        let failed = budget.1.lock().map(|s| s.clone()).unwrap_or_default();
        let expected: Vec<(u32, String)> = (0..3).map(|n| (n + 1, format!("failure {n}"))).collect();
        assert_eq!(failed, expected, "every failed attempt recorded, in order");
        let calls = runner.into_calls();
        assert_eq!(calls.len(), 1);
        assert_eq!((calls[0].attempts, calls[0].id), (4, provenance.tool_call_id));
    }

    /// Refused by an open circuit (hint `retry_in`) its first `refusals`
    /// times, then answers.
    struct Guarded {
        calls: AtomicU32,
        refusals: u32,
        retry_in: Duration,
    }

    fn guarded(refusals: u32, retry_in_ms: u64) -> Guarded {
        Guarded { calls: AtomicU32::new(0), refusals, retry_in: Duration::from_millis(retry_in_ms) }
    }

    #[async_trait]
    impl TypedTool for Guarded {
        type Input = Empty;
        type Output = u32;
        const NAME: &'static str = "test.guarded";
        const DESCRIPTION: &'static str = "behind a circuit breaker";
        async fn call(&self, _: &Empty) -> Result<u32, ToolError> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            if n < self.refusals {
                let refusal = CircuitOpen { provider: "Shopify Admin API of test".into(), retry_in: self.retry_in };
                Err(ToolError::CircuitOpen(refusal))
            } else {
                Ok(n)
            }
        }
        fn summarize(output: &u32) -> String {
            output.to_string()
        }
    }

    /// (1) refusals cost the budget nothing, (2) each is waited out for its
    /// hint (not retried in a loop), and watchers hear of the wait, (3) once
    /// the provider is back the call, and the task, go on.
    #[tokio::test]
    async fn a_call_refused_by_an_open_circuit_waits_for_the_hint_and_counts_no_error() {
        let (budget, sink) = (Arc::new(Counter::default()), Arc::new(Sink::default()));
        let mut runner = ToolRunner::new(budget.clone(), 0, TIMEOUT, Duration::from_millis(1))
            .with_ceiling(Duration::from_secs(5))
            .with_progress(sink.clone());
        let tool = guarded(2, 100);
        let started = Instant::now();
        let Ok((out, provenance)) = runner.call(&tool, Empty {}).await else {
            panic!("the call after the circuit closed succeeds");
        };
        let took = started.elapsed();
        assert_eq!(out, 2);
        let counted = budget.1.lock().map(|s| s.clone()).unwrap_or_default();
        assert_eq!(budget.0.load(Ordering::SeqCst), 0, "no error counted: {counted:?}");
        assert!(took >= Duration::from_millis(200), "waited out both hints: {took:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
        assert_eq!(tool.calls.load(Ordering::SeqCst), 3, "called again only after each wait");
        let waits = sink.seen();
        assert_eq!(waits.len(), 2, "{waits:?}");
        for wait in &waits {
            assert_eq!((wait.tool_call_id, wait.tool, wait.attempt), (provenance.tool_call_id, "test.guarded", 1));
            assert_eq!(wait.detail, "waiting for Shopify Admin API of test: circuit open; retry in 1s");
        }
        // The task goes on: the provider is back, later calls pass at once.
        assert!(runner.call(&guarded(0, 100), Empty {}).await.is_ok());
        let calls = runner.into_calls();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].attempts, 1, "refusals are no attempts");
    }

    /// (4) a provider that stays down past the ceiling fails the task as
    /// unavailable, naming the provider and its hint, still without a tool
    /// error; waits outside calls share the bound.
    #[tokio::test]
    async fn a_circuit_open_past_the_bound_fails_the_task_as_unavailable() {
        let budget = Arc::new(Counter::default());
        let mut runner = ToolRunner::new(budget.clone(), 0, Duration::from_millis(100), Duration::from_millis(1))
            .with_ceiling(Duration::from_millis(350));
        let tool = guarded(u32::MAX, 100);
        let started = Instant::now();
        let failure = runner.call(&tool, Empty {}).await.err();
        let Some(TaskFailure::Unavailable { refusal, waited }) = &failure else {
            panic!("unavailable, not a tool failure: {failure:?}");
        };
        assert_eq!(refusal.provider, "Shopify Admin API of test");
        assert_eq!(refusal.retry_in, Duration::from_millis(100));
        // Three waits of 100-110 ms; a fourth would pass 350 ms.
        assert!(*waited >= Duration::from_millis(300) && *waited <= Duration::from_millis(350), "{waited:?}");
        assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
        assert_eq!(tool.calls.load(Ordering::SeqCst), 4);
        assert_eq!(budget.0.load(Ordering::SeqCst), 0, "no error counted");
        let reason = failure.map(|f| f.to_string()).unwrap_or_default();
        assert!(reason.starts_with("unavailable: Shopify Admin API of test: circuit open; retry in 1s"), "{reason}");
        // What is left of the bound is the task's, not the call's.
        let refusal = CircuitOpen { provider: "model acme/m".into(), retry_in: Duration::from_millis(100) };
        let later = runner.defer(refusal).await.err();
        assert!(matches!(&later, Some(TaskFailure::Unavailable { refusal, .. }) if refusal.provider == "model acme/m"));
    }

    #[tokio::test]
    async fn fails_the_task_at_five_errors() {
        let budget = Arc::new(Counter::default());
        let mut runner = runner(budget.clone());
        let failure = runner.call(&Flaky(AtomicU32::new(0), 100), Empty {}).await.err();
        assert!(matches!(failure, Some(TaskFailure::Tool { errors: 5, .. })), "{failure:?}");
        assert_eq!(budget.0.load(Ordering::SeqCst), 5);
    }

    /// Reports a page every `every`, `pages` times, then answers (or, when
    /// `then_stall`, falls silent).
    struct Reading {
        every: Duration,
        pages: u32,
        then_stall: bool,
    }

    #[async_trait]
    impl TypedTool for Reading {
        type Input = Empty;
        type Output = u32;
        const NAME: &'static str = "test.reading";
        const DESCRIPTION: &'static str = "reads page after page";
        async fn call(&self, _: &Empty) -> Result<u32, ToolError> {
            for page in 1..=self.pages {
                tokio::time::sleep(self.every).await;
                let detail = format!("orders page {page}");
                crate::progress::report(crate::progress::Progress { pages: 1, rows: 50, detail });
            }
            if self.then_stall {
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
            Ok(self.pages)
        }
        fn summarize(output: &u32) -> String {
            output.to_string()
        }
    }

    fn reading(every_ms: u64, pages: u32) -> Reading {
        Reading { every: Duration::from_millis(every_ms), pages, then_stall: false }
    }

    /// Records failed attempts; the first one spends the whole budget.
    #[derive(Default)]
    struct Fatal(std::sync::Mutex<Vec<(String, Duration)>>);

    #[async_trait]
    impl ErrorBudget for Fatal {
        async fn record_error(&self, failed: FailedAttempt<'_>) -> anyhow::Result<u32> {
            if let Ok(mut seen) = self.0.lock() {
                seen.push((failed.error.to_owned(), failed.duration));
            }
            Ok(MAX_TASK_ERRORS)
        }
    }

    impl Fatal {
        fn seen(&self) -> Vec<(String, Duration)> {
            self.0.lock().map(|s| s.clone()).unwrap_or_default()
        }
    }

    #[derive(Default)]
    struct Sink(std::sync::Mutex<Vec<ToolProgress>>);

    #[async_trait]
    impl ProgressSink for Sink {
        async fn progress(&self, progress: ToolProgress) -> anyhow::Result<()> {
            if let Ok(mut seen) = self.0.lock() {
                seen.push(progress);
            }
            Ok(())
        }
    }

    impl Sink {
        fn seen(&self) -> Vec<ToolProgress> {
            self.0.lock().map(|s| s.clone()).unwrap_or_default()
        }
    }

    const TIMEOUT: Duration = Duration::from_millis(200);

    fn watched(budget: Arc<Fatal>, sink: Arc<Sink>, ceiling: Duration) -> ToolRunner {
        ToolRunner::new(budget, 0, TIMEOUT, Duration::from_millis(1)).with_ceiling(ceiling).with_progress(sink)
    }

    #[tokio::test]
    async fn a_call_reporting_progress_outlives_the_timeout() {
        let (budget, sink) = (Arc::new(Fatal::default()), Arc::new(Sink::default()));
        let mut runner = watched(budget.clone(), sink.clone(), Duration::from_secs(5));
        // A page every 50 ms for 1.2 s: six times the timeout.
        let Ok((pages, provenance)) = runner.call(&reading(50, 24), Empty {}).await else {
            panic!("a call that keeps reporting runs on: {:?}", budget.seen());
        };
        assert_eq!(pages, 24);
        assert!(budget.seen().is_empty(), "{:?}", budget.seen());
        let calls = runner.into_calls();
        assert!(calls[0].duration >= TIMEOUT * 5, "{:?}", calls[0].duration);
        // Published once (after its first second), naming the call it belongs to.
        let seen = sink.seen();
        assert_eq!(seen.len(), 1, "{seen:?}");
        let progress = &seen[0];
        assert_eq!(
            (progress.tool_call_id, progress.tool, progress.attempt),
            (provenance.tool_call_id, "test.reading", 1)
        );
        assert!(progress.pages >= 5 && progress.rows == progress.pages * 50, "{progress:?}");
        assert!(progress.detail.starts_with("orders page "), "{progress:?}");
        assert!(progress.elapsed >= Duration::from_secs(1), "{progress:?}");
    }

    #[tokio::test]
    async fn a_fast_call_publishes_nothing() {
        let (budget, sink) = (Arc::new(Fatal::default()), Arc::new(Sink::default()));
        let mut runner = watched(budget.clone(), sink.clone(), Duration::from_secs(5));
        assert!(runner.call(&reading(10, 5), Empty {}).await.is_ok());
        assert!(sink.seen().is_empty(), "{:?}", sink.seen());
    }

    #[tokio::test]
    async fn a_silent_call_times_out_at_the_timeout() {
        let (budget, sink) = (Arc::new(Fatal::default()), Arc::new(Sink::default()));
        let mut runner = watched(budget.clone(), sink.clone(), Duration::from_secs(5));
        let failure = runner.call(&reading(30_000, 1), Empty {}).await.err();
        assert!(matches!(failure, Some(TaskFailure::Tool { .. })), "{failure:?}");
        let seen = budget.seen();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0].0, "timed out after 200 ms", "worded as before");
        assert!(seen[0].1 >= TIMEOUT && seen[0].1 < TIMEOUT * 3, "{seen:?}");
    }

    #[tokio::test]
    async fn a_call_that_falls_silent_times_out_a_timeout_after_its_last_report() {
        let (budget, sink) = (Arc::new(Fatal::default()), Arc::new(Sink::default()));
        let mut runner = watched(budget.clone(), sink.clone(), Duration::from_secs(5));
        // Four pages in 200 ms, then nothing.
        let stalling = Reading { then_stall: true, ..reading(50, 4) };
        assert!(runner.call(&stalling, Empty {}).await.is_err());
        let seen = budget.seen();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(seen[0].0.contains("without progress"), "{seen:?}");
        assert!(seen[0].1 >= TIMEOUT * 2 && seen[0].1 < TIMEOUT * 5, "{seen:?}");
    }

    #[tokio::test]
    async fn the_ceiling_stops_a_call_that_never_ends() {
        let (budget, sink) = (Arc::new(Fatal::default()), Arc::new(Sink::default()));
        let ceiling = Duration::from_millis(500);
        let mut runner = watched(budget.clone(), sink.clone(), ceiling);
        assert!(runner.call(&reading(20, u32::MAX), Empty {}).await.is_err());
        let seen = budget.seen();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(seen[0].0.contains("500 ms limit"), "{seen:?}");
        assert!(seen[0].1 >= ceiling && seen[0].1 < ceiling * 3, "{seen:?}");
    }
}
