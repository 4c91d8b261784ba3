//! Runs tools for a department: timeout, retry with backoff and jitter, an
//! error budget persisted on the task (seed 002 item 9), a record per call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::Value;
use uuid::Uuid;

use super::{ToolError, TypedTool};
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
    /// How long the attempt ran (the timeout, if it timed out).
    pub duration: Duration,
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
    errors: u32,
    timeout: Duration,
    backoff: Duration,
    calls: Vec<ToolCallRecord>,
}

impl ToolRunner {
    /// A runner for a task that already has `errors` errors.
    pub fn new(budget: Arc<dyn ErrorBudget>, errors: u32, timeout: Duration, backoff: Duration) -> Self {
        Self { budget, errors, timeout, backoff, calls: Vec::new() }
    }

    /// Adds calls made elsewhere for this task (by a model through adapters).
    pub fn record(&mut self, calls: impl IntoIterator<Item = ToolCallRecord>) {
        self.calls.extend(calls);
    }

    /// Every successful call so far.
    pub fn into_calls(self) -> Vec<ToolCallRecord> {
        self.calls
    }

    /// Calls `tool`, retrying failures until the task's error budget is spent.
    pub async fn call<T: TypedTool>(
        &mut self,
        tool: &T,
        input: T::Input,
    ) -> Result<(T::Output, Provenance), TaskFailure> {
        let input_json = serde_json::to_value(&input).map_err(|e| TaskFailure::Infrastructure(e.into()))?;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let at = Utc::now();
            let started = Instant::now();
            let error = match tokio::time::timeout(self.timeout, tool.call(&input)).await {
                Ok(Ok(output)) => {
                    let record = ToolCallRecord {
                        id: Uuid::now_v7(),
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
                Ok(Err(error)) => error,
                Err(_) => ToolError::Transient(format!("timed out after {} ms", self.timeout.as_millis())),
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

    #[tokio::test]
    async fn fails_the_task_at_five_errors() {
        let budget = Arc::new(Counter::default());
        let mut runner = runner(budget.clone());
        let failure = runner.call(&Flaky(AtomicU32::new(0), 100), Empty {}).await.err();
        assert!(matches!(failure, Some(TaskFailure::Tool { errors: 5, .. })), "{failure:?}");
        assert_eq!(budget.0.load(Ordering::SeqCst), 5);
    }
}
