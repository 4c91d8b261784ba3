//! Per-user rate limits on heavy operations (seed 001 properties 39-43): a
//! fixed one-hour window counted in Redis when configured, in memory otherwise.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

/// Outcome of counting one hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// Within quota.
    Allowed,
    /// Over quota until `retry_after` seconds have passed.
    Limited {
        /// Seconds until the window resets.
        retry_after: u64,
    },
}

/// Port: counts hits against a quota per key and window.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Adds `cost` hits to `key` and says whether it stays within `limit`.
    async fn hit(&self, key: &str, cost: u64, limit: u64, window: Duration) -> anyhow::Result<RateDecision>;
}

/// Counts in this process (embedded mode, single instance).
#[derive(Default)]
pub struct InMemoryRateLimiter {
    windows: Mutex<HashMap<String, (Instant, u64)>>,
}

#[async_trait]
impl RateLimiter for InMemoryRateLimiter {
    async fn hit(&self, key: &str, cost: u64, limit: u64, window: Duration) -> anyhow::Result<RateDecision> {
        let now = Instant::now();
        let mut windows = self.windows.lock().map_err(|_| anyhow::anyhow!("rate limiter lock poisoned"))?;
        // Drop expired windows now and then so the map cannot grow unbounded.
        if windows.len() > 10_000 {
            windows.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = windows.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        entry.1 += cost;
        if entry.1 > limit {
            let left = window.saturating_sub(now.duration_since(entry.0));
            return Ok(RateDecision::Limited { retry_after: left.as_secs().max(1) });
        }
        Ok(RateDecision::Allowed)
    }
}

/// Counts in Redis so every instance shares one quota per user.
pub struct RedisRateLimiter {
    connection: redis::aio::ConnectionManager,
    script: redis::Script,
}

impl RedisRateLimiter {
    /// Uses an established connection manager (it reconnects by itself).
    pub fn new(connection: redis::aio::ConnectionManager) -> Self {
        // INCRBY and the first EXPIRE in one atomic step: a crash between the
        // two would otherwise leave a counter that never expires.
        let script = redis::Script::new(
            r"local n = redis.call('INCRBY', KEYS[1], ARGV[1])
              if n == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
              return {n, redis.call('TTL', KEYS[1])}",
        );
        Self { connection, script }
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn hit(&self, key: &str, cost: u64, limit: u64, window: Duration) -> anyhow::Result<RateDecision> {
        let mut conn = self.connection.clone();
        let (count, ttl): (u64, i64) = self
            .script
            .key(format!("alatar:ratelimit:{key}"))
            .arg(cost)
            .arg(window.as_secs().max(1))
            .invoke_async(&mut conn)
            .await?;
        if count > limit {
            let retry_after = u64::try_from(ttl).unwrap_or(window.as_secs()).max(1);
            return Ok(RateDecision::Limited { retry_after });
        }
        Ok(RateDecision::Allowed)
    }
}
