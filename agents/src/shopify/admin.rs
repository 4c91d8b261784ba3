//! The GraphQL Admin API client: one shop, one token.
//!
//! - Cost-based throttling: every answer's `extensions.cost.throttleStatus`
//!   updates a local model of the shop's leaky bucket; a query waits until
//!   the bucket holds its expected cost instead of being refused, and a
//!   `THROTTLED` answer waits exactly as long as the bucket needs to refill.
//! - Retries: 429 (honouring `Retry-After`), 5xx and timeouts, with
//!   exponential backoff and jitter, up to `max_retries`.
//! - A circuit breaker per shop, shared by the process's clients of that
//!   shop: a call that stays unavailable after its retries (429/5xx/timeouts,
//!   lasting throttling) counts once; refusals (4xx, GraphQL errors) are
//!   answers and do not. While it is open, calls fail at once with
//!   `StoreError::CircuitOpen` (the shop's Admin API, and how long until a
//!   probe may go), which callers wait out rather than count as a failure.
//! - Query costs (`requestedQueryCost`, `actualQueryCost`) and the waits for
//!   the bucket go to a [`ClientObserver`].
//! - Cursor pagination over `nodes` + `pageInfo`, and bulk operations for
//!   exports too large to page through.
//! - Progress ([`crate::progress`]): every page, bulk poll and answered call
//!   tells the tool call running it that it is moving, and a wait for the
//!   bucket counts as progress for as long as it lasts, so a long read on a
//!   slow plan is not mistaken for a stalled one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::{ShopDomain, ShopifyApp};
use crate::breaker::{Breaker, BreakerConfig, Breakers};
use crate::progress::{self, Progress};
use crate::store::StoreError;
use crate::telemetry::{ClientObserver, NoObserver};

/// Cost assumed for a query we have not seen the cost of.
const DEFAULT_COST: f64 = 50.0;
/// Waits for the bucket allowed per query before giving up.
const MAX_THROTTLE_WAITS: u32 = 20;
/// Longest a bulk operation may run.
const BULK_DEADLINE: Duration = Duration::from_secs(30 * 60);

#[derive(Debug, Clone, Copy)]
struct Bucket {
    available: f64,
    maximum: f64,
    restore_rate: f64,
    at: Instant,
}

impl Bucket {
    fn now_available(&self) -> f64 {
        (self.available + self.at.elapsed().as_secs_f64() * self.restore_rate).min(self.maximum)
    }

    /// How long until `cost` points are available.
    fn wait_for(&self, cost: f64) -> Duration {
        let missing = cost.min(self.maximum) - self.now_available();
        if missing <= 0.0 || self.restore_rate <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(missing / self.restore_rate)
        }
    }
}

/// A client of one shop's Admin API.
pub struct AdminClient {
    http: reqwest::Client,
    app: Arc<ShopifyApp>,
    shop: ShopDomain,
    token: SecretString,
    bucket: Mutex<Option<Bucket>>,
    last_cost: Mutex<f64>,
    breaker: Arc<Breaker>,
    observer: Arc<dyn ClientObserver>,
}

enum Attempt {
    Done(Value),
    Throttled(Duration),
    Retry(Option<Duration>, String),
}

impl AdminClient {
    /// A client for `shop` with its access token, a circuit breaker of its
    /// own and no observer (see [`AdminClient::with_breakers`]).
    pub fn new(http: reqwest::Client, app: Arc<ShopifyApp>, shop: ShopDomain, token: SecretString) -> Self {
        let breaker = Arc::new(Breaker::new(format!("shopify {shop}"), BreakerConfig::default()));
        Self {
            http,
            app,
            shop,
            token,
            bucket: Mutex::new(None),
            last_cost: Mutex::new(DEFAULT_COST),
            breaker,
            observer: Arc::new(NoObserver),
        }
    }

    /// Uses the shop's breaker from `breakers`, shared with every other
    /// client of the shop made from them.
    pub fn with_breakers(mut self, breakers: &Breakers<ShopDomain>) -> Self {
        self.breaker = breakers.get(&self.shop);
        self
    }

    /// Reports query costs and throttle waits to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn ClientObserver>) -> Self {
        self.observer = observer;
        self
    }

    /// The shop.
    pub fn shop(&self) -> &ShopDomain {
        &self.shop
    }

    fn endpoint(&self) -> String {
        format!("{}/admin/api/{}/graphql.json", self.app.shop_url(&self.shop), self.app.api_version)
    }

    /// Runs one query or mutation; returns its `data`. Fails fast while the
    /// shop's circuit is open.
    pub async fn graphql(&self, query: &str, variables: Value) -> Result<Value, StoreError> {
        if let Err(open) = self.breaker.admit() {
            tracing::warn!(shop = %self.shop, retry_in_s = open.retry_in_secs(), "admin api circuit open; failing fast");
            let refusal = open.refusing(format!("Shopify Admin API of {}", self.shop));
            return Err(StoreError::CircuitOpen(refusal));
        }
        let outcome = self.graphql_retried(query, variables).await;
        match &outcome {
            Err(e) if e.is_transient() => self.breaker.failed(),
            _ => self.breaker.succeeded(),
        }
        outcome
    }

    async fn graphql_retried(&self, query: &str, variables: Value) -> Result<Value, StoreError> {
        let body = json!({ "query": query, "variables": variables });
        let mut retries = 0;
        let mut throttle_waits = 0;
        loop {
            self.wait_for_capacity().await;
            match self.attempt(&body).await? {
                Attempt::Done(data) => {
                    // A sign of life; pages and rows are counted by the readers.
                    progress::report(Progress::default());
                    return Ok(data);
                }
                Attempt::Throttled(wait) => {
                    throttle_waits += 1;
                    if throttle_waits > MAX_THROTTLE_WAITS {
                        return Err(StoreError::Unavailable(format!("{} stays throttled", self.shop)));
                    }
                    tracing::debug!(shop = %self.shop, wait_ms = wait.as_millis() as u64, "throttled; waiting for the bucket");
                    self.observer.shopify_throttle_wait(self.shop.as_str(), wait.as_secs_f64());
                    progress::waiting(wait, bucket_wait(wait));
                    tokio::time::sleep(wait).await;
                }
                Attempt::Retry(after, why) => {
                    retries += 1;
                    if retries > self.app.max_retries {
                        return Err(StoreError::Unavailable(format!("{}: {why}", self.shop)));
                    }
                    let wait = after.unwrap_or_else(|| backoff(self.app.backoff, retries));
                    tracing::warn!(shop = %self.shop, attempt = retries, wait_ms = wait.as_millis() as u64, reason = %why, "admin api call failed; retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn wait_for_capacity(&self) {
        let cost = *self.last_cost.lock().await;
        let wait = self.bucket.lock().await.map_or(Duration::ZERO, |b| b.wait_for(cost));
        if !wait.is_zero() {
            tracing::debug!(shop = %self.shop, wait_ms = wait.as_millis() as u64, "waiting for query cost capacity");
            self.observer.shopify_throttle_wait(self.shop.as_str(), wait.as_secs_f64());
            progress::waiting(wait, bucket_wait(wait));
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(&self, body: &Value) -> Result<Attempt, StoreError> {
        let sent = self
            .http
            .post(self.endpoint())
            .timeout(self.app.timeout)
            .header("X-Shopify-Access-Token", self.token.expose_secret())
            .json(body)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) if e.is_timeout() => return Ok(Attempt::Retry(None, "timed out".into())),
            Err(e) => return Ok(Attempt::Retry(None, format!("unreachable: {e}"))),
        };
        let status = response.status();
        if status.as_u16() == 429 {
            let after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .map(|s| Duration::from_secs_f64(s.clamp(0.0, 60.0)));
            return Ok(Attempt::Retry(after, "429 Too Many Requests".into()));
        }
        if status.is_server_error() {
            return Ok(Attempt::Retry(None, format!("answered {status}")));
        }
        if status.as_u16() == 401 || status.as_u16() == 403 {
            return Err(StoreError::Denied(format!("{} refused the token ({status})", self.shop)));
        }
        if !status.is_success() {
            return Err(StoreError::Rejected(format!("{} answered {status}", self.shop)));
        }
        let answer: Value = match response.json().await {
            Ok(v) => v,
            Err(e) => return Ok(Attempt::Retry(None, format!("unreadable answer: {e}"))),
        };
        let cost = answer.pointer("/extensions/cost");
        let requested = cost.and_then(|c| c.get("requestedQueryCost")).and_then(Value::as_f64);
        if let Some(requested) = requested {
            // A refused (throttled) query used nothing: Shopify sends no actual cost.
            let actual = cost.and_then(|c| c.get("actualQueryCost")).and_then(Value::as_f64).unwrap_or(0.0);
            self.observer.shopify_cost(self.shop.as_str(), requested, actual);
        }
        if let Some(throttle) = cost.and_then(|c| c.get("throttleStatus")) {
            let bucket = Bucket {
                available: throttle.get("currentlyAvailable").and_then(Value::as_f64).unwrap_or(0.0),
                maximum: throttle.get("maximumAvailable").and_then(Value::as_f64).unwrap_or(1000.0),
                restore_rate: throttle.get("restoreRate").and_then(Value::as_f64).unwrap_or(50.0),
                at: Instant::now(),
            };
            *self.bucket.lock().await = Some(bucket);
            if let Some(requested) = requested {
                *self.last_cost.lock().await = requested;
            }
        }
        let errors = answer.get("errors").and_then(Value::as_array).filter(|e| !e.is_empty());
        if let Some(errors) = errors {
            let throttled =
                errors.iter().any(|e| e.pointer("/extensions/code").and_then(Value::as_str) == Some("THROTTLED"));
            if throttled {
                let bucket = *self.bucket.lock().await;
                let wait = bucket
                    .map(|b| b.wait_for(requested.unwrap_or(DEFAULT_COST)))
                    .unwrap_or(self.app.backoff)
                    .max(Duration::from_millis(10));
                return Ok(Attempt::Throttled(wait));
            }
            let messages: Vec<&str> = errors.iter().filter_map(|e| e.get("message").and_then(Value::as_str)).collect();
            let too_costly = errors
                .iter()
                .any(|e| e.pointer("/extensions/code").and_then(Value::as_str) == Some("MAX_COST_EXCEEDED"));
            if too_costly {
                return Err(StoreError::TooCostly(messages.join("; ")));
            }
            return Err(StoreError::Rejected(messages.join("; ")));
        }
        Ok(Attempt::Done(answer.get("data").cloned().unwrap_or(Value::Null)))
    }

    /// Every node of the connection at `connection` (a JSON pointer into
    /// `data`, e.g. `/orders` or `/order/lineItems`), following
    /// `pageInfo.endCursor` from `variables.after`. The query takes `$first`
    /// and `$after`; pages are as large as Shopify allows (250) within the
    /// single-query cost limit, and a `MAX_COST_EXCEEDED` halves them.
    pub async fn paginate(&self, query: &str, variables: Value, connection: &str) -> Result<Vec<Value>, StoreError> {
        let mut page_size = super::cost::page_size(query, &variables, 250);
        let mut nodes = Vec::new();
        let mut after: Option<String> = variables.get("after").and_then(Value::as_str).map(str::to_owned);
        let name = connection.trim_start_matches('/');
        let mut pages = 0u64;
        loop {
            let mut vars = variables.clone();
            vars["first"] = json!(page_size);
            vars["after"] = json!(after);
            let data = match self.graphql(query, vars).await {
                Err(StoreError::TooCostly(why)) if page_size > 1 => {
                    page_size /= 2;
                    tracing::warn!(shop = %self.shop, page_size, reason = %why, "query cost refused; smaller pages");
                    continue;
                }
                other => other?,
            };
            let page = data
                .pointer(connection)
                .ok_or_else(|| StoreError::Rejected(format!("answer has no {connection} connection")))?;
            let batch = page.get("nodes").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
            nodes.extend(batch.iter().cloned());
            pages += 1;
            let detail = format!("{name} page {pages}");
            progress::report(Progress { pages: 1, rows: batch.len() as u64, detail });
            let next = page.pointer("/pageInfo/hasNextPage").and_then(Value::as_bool).unwrap_or(false);
            after = page.pointer("/pageInfo/endCursor").and_then(Value::as_str).map(str::to_owned);
            if !next || after.is_none() {
                return Ok(nodes);
            }
        }
    }

    /// Runs `query` as a bulk operation and returns its JSONL lines, parsed.
    /// Child objects come as separate lines carrying `__parentId`.
    pub async fn bulk_export(&self, query: &str) -> Result<Vec<Value>, StoreError> {
        // Ungrouped output (the 2026-01 default, asked for explicitly): it is
        // cheaper for Shopify to write, and the reader never relies on order.
        const RUN: &str = "mutation Run($query: String!, $group: Boolean!) { bulkOperationRunQuery(query: $query, groupObjects: $group) { bulkOperation { id status } userErrors { field message } } }";
        const POLL: &str = "query Poll($id: ID!) { bulkOperation(id: $id) { id status errorCode objectCount url } }";
        let started = self.graphql(RUN, json!({ "query": query, "group": false })).await?;
        let run = &started["bulkOperationRunQuery"];
        user_errors(run)?;
        let id = run
            .pointer("/bulkOperation/id")
            .and_then(Value::as_str)
            .ok_or_else(|| StoreError::Rejected("bulk operation was not started".into()))?
            .to_owned();
        let deadline = Instant::now() + BULK_DEADLINE;
        let mut objects = 0u64;
        let url = loop {
            let data = self.graphql(POLL, json!({ "id": id })).await?;
            let op = &data["bulkOperation"];
            // `objectCount` is an UnsignedInt64, which Shopify sends as a string.
            let count = op.get("objectCount").and_then(|c| c.as_u64().or_else(|| c.as_str()?.parse().ok()));
            if let Some(count) = count.filter(|c| *c > objects) {
                let status = op.get("status").and_then(Value::as_str).unwrap_or("RUNNING");
                let detail = format!("bulk export {status}: {count} objects");
                progress::report(Progress { pages: 0, rows: count - objects, detail });
                objects = count;
            }
            match op.get("status").and_then(Value::as_str) {
                Some("COMPLETED") => break op.get("url").and_then(Value::as_str).map(str::to_owned),
                Some("CREATED" | "RUNNING") => {}
                other => {
                    let code = op.get("errorCode").and_then(Value::as_str).unwrap_or("none");
                    return Err(StoreError::Unavailable(format!("bulk operation ended {other:?} (error {code})")));
                }
            }
            if Instant::now() > deadline {
                return Err(StoreError::Unavailable("bulk operation did not finish in time".into()));
            }
            tokio::time::sleep(self.app.bulk_poll).await;
        };
        // No url: the query matched nothing.
        let Some(url) = url else { return Ok(Vec::new()) };
        let download = |e: reqwest::Error| StoreError::Unavailable(format!("bulk result download: {e}"));
        let mut response = self
            .http
            .get(&url)
            .timeout(self.app.timeout * 10)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(download)?;
        // Chunk by chunk, so that a large file's download counts as progress.
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(download)? {
            body.extend_from_slice(&chunk);
            progress::report(Progress::default());
        }
        let text =
            String::from_utf8(body).map_err(|e| StoreError::Rejected(format!("bulk result is not UTF-8: {e}")))?;
        progress::report(Progress { pages: 1, rows: 0, detail: "bulk export downloaded".into() });
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).map_err(|e| StoreError::Rejected(format!("bad bulk result line: {e}"))))
            .collect()
    }
}

/// `userErrors` of a mutation payload as an error.
pub fn user_errors(payload: &Value) -> Result<(), StoreError> {
    let errors = payload.get("userErrors").and_then(Value::as_array).cloned().unwrap_or_default();
    if errors.is_empty() {
        return Ok(());
    }
    let messages: Vec<String> = errors
        .iter()
        .map(|e| {
            let field = e
                .get("field")
                .and_then(Value::as_array)
                .map(|f| f.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("."));
            let message = e.get("message").and_then(Value::as_str).unwrap_or("error");
            match field {
                Some(f) if !f.is_empty() => format!("{f}: {message}"),
                _ => message.to_owned(),
            }
        })
        .collect();
    Err(StoreError::Rejected(messages.join("; ")))
}

/// What a tool call waiting for the bucket is doing, for a person.
fn bucket_wait(wait: Duration) -> String {
    format!("waiting {:.1} s for Shopify's query cost bucket to refill", wait.as_secs_f64())
}

fn backoff(base: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1 << attempt.saturating_sub(1).min(6));
    let jitter = rand::rng().random_range(0.5..1.5);
    exp.mul_f64(jitter)
}
