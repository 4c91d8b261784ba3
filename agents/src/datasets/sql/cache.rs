//! Results cached per (dataset, version, statement) for a while (5 minutes
//! by default, seed 001 §4): the `ResultCache` port, with a small bounded
//! map in the process (embedded) and Redis (production, shared by every
//! instance) side by side. A new version of the dataset (a reload, a
//! retype) has new keys, so nothing stale is ever served; a deleted
//! dataset's entries are unreachable (its id is not found first) and
//! expire. A cache that fails is a miss, never an error.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::execute::QueryRows;

/// Default time an entry lives.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// What a result is cached under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    dataset_id: Uuid,
    version: i32,
    /// SHA-256 of the statement that ran (hex).
    statement: String,
}

impl CacheKey {
    /// The key of `executed` (the statement as it runs) on a version of a dataset.
    pub fn new(dataset_id: Uuid, version: i32, executed: &str) -> Self {
        Self { dataset_id, version, statement: hex::encode(Sha256::digest(executed.as_bytes())) }
    }

    fn redis_key(&self) -> String {
        format!("alatar:dataset-sql:{}:{}:{}", self.dataset_id, self.version, self.statement)
    }
}

/// Port: cached statement results.
#[async_trait]
pub trait ResultCache: Send + Sync {
    /// The result under `key`, if cached and fresh.
    async fn get(&self, key: &CacheKey) -> Option<Arc<QueryRows>>;
    /// Caches `rows` under `key` for the cache's time to live.
    async fn put(&self, key: CacheKey, rows: Arc<QueryRows>);
}

/// A rough size of a result in memory, to bound the map by bytes.
fn approximate_bytes(rows: &QueryRows) -> usize {
    fn value(v: &serde_json::Value) -> usize {
        match v {
            serde_json::Value::String(s) => 24 + s.len(),
            _ => 24,
        }
    }
    let columns: usize = rows.columns.iter().map(|c| 48 + c.name.len() + c.kind.len()).sum();
    let values: usize = rows.rows.iter().map(|row| 24 + row.iter().map(value).sum::<usize>()).sum();
    columns + values
}

/// The embedded cache: at most `max_entries` results and about `max_bytes`,
/// the oldest dropped first.
pub struct MemoryCache {
    ttl: Duration,
    max_entries: usize,
    max_bytes: usize,
    entries: Mutex<HashMap<CacheKey, MemoryEntry>>,
}

struct MemoryEntry {
    stored: Instant,
    bytes: usize,
    rows: Arc<QueryRows>,
}

impl MemoryCache {
    /// A cache whose entries live `ttl`, bounded as said.
    pub fn new(ttl: Duration, max_entries: usize, max_bytes: usize) -> Self {
        Self { ttl, max_entries, max_bytes, entries: Mutex::new(HashMap::new()) }
    }
}

impl Default for MemoryCache {
    /// Five minutes, 256 results, 64 MiB.
    fn default() -> Self {
        Self::new(DEFAULT_TTL, 256, 64 * 1024 * 1024)
    }
}

#[async_trait]
impl ResultCache for MemoryCache {
    async fn get(&self, key: &CacheKey) -> Option<Arc<QueryRows>> {
        let mut entries = self.entries.lock().ok()?;
        match entries.get(key) {
            Some(entry) if entry.stored.elapsed() < self.ttl => Some(entry.rows.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    async fn put(&self, key: CacheKey, rows: Arc<QueryRows>) {
        let bytes = approximate_bytes(&rows);
        if bytes > self.max_bytes / 4 || self.max_entries == 0 {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else { return };
        entries.retain(|_, e| e.stored.elapsed() < self.ttl);
        entries.remove(&key);
        let mut total: usize = entries.values().map(|e| e.bytes).sum();
        while !entries.is_empty() && (entries.len() >= self.max_entries || total + bytes > self.max_bytes) {
            let Some(oldest) = entries.iter().min_by_key(|(_, e)| e.stored).map(|(k, _)| k.clone()) else { break };
            if let Some(gone) = entries.remove(&oldest) {
                total = total.saturating_sub(gone.bytes);
            }
        }
        entries.insert(key, MemoryEntry { stored: Instant::now(), bytes, rows });
    }
}

/// The production cache: JSON in Redis with an expiry, shared by every
/// instance.
pub struct RedisCache {
    connection: redis::aio::ConnectionManager,
    ttl: Duration,
}

impl RedisCache {
    /// Uses an established connection manager (it reconnects by itself).
    pub fn new(connection: redis::aio::ConnectionManager, ttl: Duration) -> Self {
        Self { connection, ttl }
    }
}

#[async_trait]
impl ResultCache for RedisCache {
    async fn get(&self, key: &CacheKey) -> Option<Arc<QueryRows>> {
        let mut conn = self.connection.clone();
        let found: redis::RedisResult<Option<Vec<u8>>> =
            redis::cmd("GET").arg(key.redis_key()).query_async(&mut conn).await;
        match found {
            Ok(Some(bytes)) => match serde_json::from_slice::<QueryRows>(&bytes) {
                Ok(rows) => Some(Arc::new(rows)),
                Err(e) => {
                    tracing::warn!(error = %e, "unreadable cached dataset result ignored");
                    None
                }
            },
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "dataset result cache unavailable; running the query");
                None
            }
        }
    }

    async fn put(&self, key: CacheKey, rows: Arc<QueryRows>) {
        let Ok(bytes) = serde_json::to_vec(&*rows) else { return };
        let mut conn = self.connection.clone();
        let stored: redis::RedisResult<()> = redis::cmd("SET")
            .arg(key.redis_key())
            .arg(bytes)
            .arg("EX")
            .arg(self.ttl.as_secs().max(1))
            .query_async(&mut conn)
            .await;
        if let Err(e) = stored {
            tracing::warn!(error = %e, "dataset result not cached");
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::datasets::sql::execute::ResultColumn;

    fn rows(n: i64) -> Arc<QueryRows> {
        Arc::new(QueryRows {
            columns: vec![ResultColumn { name: "n".into(), kind: "INTEGER".into() }],
            rows: vec![vec![json!(n)]],
            truncated: false,
        })
    }

    #[tokio::test]
    async fn keys_hold_dataset_version_and_statement() {
        let cache = MemoryCache::default();
        let id = Uuid::from_u128(7);
        cache.put(CacheKey::new(id, 1, "SELECT 1"), rows(1)).await;
        assert_eq!(cache.get(&CacheKey::new(id, 1, "SELECT 1")).await, Some(rows(1)));
        assert_eq!(cache.get(&CacheKey::new(id, 2, "SELECT 1")).await, None);
        assert_eq!(cache.get(&CacheKey::new(id, 1, "SELECT 2")).await, None);
        assert_eq!(cache.get(&CacheKey::new(Uuid::from_u128(8), 1, "SELECT 1")).await, None);
    }

    #[tokio::test]
    async fn entries_expire_and_the_map_stays_bounded() {
        let short = MemoryCache::new(Duration::from_millis(20), 10, 1 << 20);
        let key = CacheKey::new(Uuid::from_u128(1), 1, "SELECT 1");
        short.put(key.clone(), rows(1)).await;
        assert!(short.get(&key).await.is_some());
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert!(short.get(&key).await.is_none());

        let small = MemoryCache::new(DEFAULT_TTL, 3, 1 << 20);
        for n in 0..5 {
            small.put(CacheKey::new(Uuid::from_u128(1), 1, &format!("SELECT {n}")), rows(n)).await;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let mut kept = Vec::new();
        for n in 0..5 {
            kept.push(small.get(&CacheKey::new(Uuid::from_u128(1), 1, &format!("SELECT {n}"))).await.is_some());
        }
        // The three newest stay.
        assert_eq!(kept, [false, false, true, true, true]);
    }
}
