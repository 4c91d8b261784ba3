//! The embedded vector index: on SQLite, each searched collection's vectors
//! of one space in memory, normalised, in one flat array, and an exact scan
//! (a dot product per chunk, off the async runtime) for the nearest.
//!
//! A collection's vectors are loaded on its first search and kept while
//! they are current: SQLite triggers (migration 000012) count every insert,
//! update and delete of a collection's vectors in
//! `chunk_embedding_versions`, one primary-key read per search tells
//! whether the copy here is still that version, and a changed collection is
//! loaded again. Copies are dropped least recently used first when they
//! would hold more than [`MAX_FLOATS`] numbers.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};
use uuid::Uuid;

use super::{Nearest, VectorIndex, normalized};
use crate::knowledge::search::full_text::Candidate;
use crate::knowledge::vectors::{Space, from_le_bytes};

/// Most numbers the copies hold in all (256 MiB of `f32`s: 170,000 chunks
/// of 384 dimensions).
pub const MAX_FLOATS: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    account_id: Uuid,
    collection_id: Uuid,
    space: Space,
}

/// One collection's vectors of one space, as of `version`.
struct Loaded {
    version: i64,
    chunk_ids: Vec<Uuid>,
    document_ids: Vec<Uuid>,
    dimension: usize,
    /// `chunk_ids.len() × dimension` numbers, each vector of length one.
    data: Vec<f32>,
    last_used: AtomicU64,
}

/// The in-memory index over vectors persisted in SQLite.
#[derive(Default)]
pub struct EmbeddedIndex {
    loaded: Mutex<HashMap<Key, Arc<Loaded>>>,
    /// One load at a time: concurrent first searches of a collection wait
    /// for one copy instead of each reading it.
    loading: tokio::sync::Mutex<()>,
    clock: AtomicU64,
}

impl EmbeddedIndex {
    /// The copies (a panic elsewhere while holding them leaves them usable).
    fn copies(&self) -> MutexGuard<'_, HashMap<Key, Arc<Loaded>>> {
        self.loaded.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The collection's vector version (0 when it never had any).
    async fn version(db: &DatabaseConnection, collection_id: Uuid) -> Result<i64, DbErr> {
        let sql = "SELECT version FROM chunk_embedding_versions WHERE collection_id = ?";
        let row =
            db.query_one_raw(Statement::from_sql_and_values(DbBackend::Sqlite, sql, [collection_id.into()])).await?;
        match row {
            Some(row) => row.try_get("", "version"),
            None => Ok(0),
        }
    }

    fn cached(&self, key: &Key, version: i64) -> Option<Arc<Loaded>> {
        let loaded = self.copies().get(key).filter(|l| l.version == version).cloned()?;
        loaded.last_used.store(self.clock.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
        Some(loaded)
    }

    /// The copy of `key`'s vectors as of `version`, loaded if needed.
    async fn current(&self, db: &DatabaseConnection, key: Key, nearest: &Nearest<'_>) -> Result<Arc<Loaded>, DbErr> {
        let version = Self::version(db, key.collection_id).await?;
        if let Some(loaded) = self.cached(&key, version) {
            return Ok(loaded);
        }
        let _one_load = self.loading.lock().await;
        if let Some(loaded) = self.cached(&key, version) {
            return Ok(loaded);
        }
        // The version was read before the vectors: a change in between is
        // in the copy, or makes the next search load again; never missed.
        let loaded = Arc::new(load(db, nearest, version).await?);
        loaded.last_used.store(self.clock.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
        let mut all = self.copies();
        all.insert(key, loaded.clone());
        evict(&mut all);
        Ok(loaded)
    }
}

/// Drops the least recently used copies while they hold too much (never
/// the last one: a collection larger than the cap still searches).
fn evict(all: &mut HashMap<Key, Arc<Loaded>>) {
    while all.len() > 1 && all.values().map(|l| l.data.len()).sum::<usize>() > MAX_FLOATS {
        let oldest = all.iter().min_by_key(|(_, l)| l.last_used.load(Ordering::Relaxed)).map(|(k, _)| k.clone());
        match oldest {
            Some(key) => all.remove(&key),
            None => break,
        };
    }
}

async fn load(db: &DatabaseConnection, nearest: &Nearest<'_>, version: i64) -> Result<Loaded, DbErr> {
    let dimension = nearest.space.dimension;
    let sql = "SELECT chunk_id, document_id, embedding FROM chunk_embeddings \
               WHERE account_id = ? AND collection_id = ? AND model = ? AND dimension = ? ORDER BY chunk_id";
    let values = vec![
        nearest.scope.account_id().into(),
        nearest.collection_id.into(),
        nearest.space.model.clone().into(),
        i32::try_from(dimension).unwrap_or(i32::MAX).into(),
    ];
    let rows =
        nearest.scope.on(db).query_all_raw(Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)).await?;
    let mut loaded = Loaded {
        version,
        chunk_ids: Vec::with_capacity(rows.len()),
        document_ids: Vec::with_capacity(rows.len()),
        dimension,
        data: Vec::with_capacity(rows.len() * dimension),
        last_used: AtomicU64::new(0),
    };
    for row in &rows {
        let bytes: Vec<u8> = row.try_get("", "embedding")?;
        let vector = from_le_bytes(&bytes).filter(|v| v.len() == dimension);
        let Some(vector) = vector else { return Err(DbErr::Custom("a stored vector has the wrong length".to_owned())) };
        loaded.chunk_ids.push(row.try_get("", "chunk_id")?);
        loaded.document_ids.push(row.try_get("", "document_id")?);
        loaded.data.extend(normalized(&vector));
    }
    Ok(loaded)
}

/// The `limit` best rows of `loaded` for the unit vector `query`, among
/// `documents` when given: best first, ties by chunk id.
fn scan(loaded: &Loaded, query: &[f32], documents: Option<&HashSet<Uuid>>, limit: usize) -> Vec<Candidate> {
    let mut scored: Vec<(f32, usize)> = loaded
        .data
        .chunks_exact(loaded.dimension)
        .enumerate()
        .filter(|(i, _)| documents.is_none_or(|d| d.contains(&loaded.document_ids[*i])))
        .map(|(i, vector)| (dot(vector, query), i))
        .collect();
    let better = |a: &(f32, usize), b: &(f32, usize)| {
        b.0.total_cmp(&a.0).then(loaded.chunk_ids[a.1].cmp(&loaded.chunk_ids[b.1]))
    };
    if scored.len() > limit {
        scored.select_nth_unstable_by(limit, better);
        scored.truncate(limit);
    }
    scored.sort_unstable_by(better);
    scored.into_iter().map(|(score, i)| Candidate { chunk_id: loaded.chunk_ids[i], score: f64::from(score) }).collect()
}

/// The dot product in eight lanes, which the compiler vectorises.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a_chunks.remainder().iter().zip(b_chunks.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..8 {
            lanes[lane] += x[lane] * y[lane];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[async_trait]
impl VectorIndex for EmbeddedIndex {
    async fn nearest(&self, db: &DatabaseConnection, nearest: Nearest<'_>) -> Result<Vec<Candidate>, DbErr> {
        if nearest.vector.len() != nearest.space.dimension {
            return Err(DbErr::Custom(format!(
                "a query vector of {} dimensions for {}",
                nearest.vector.len(),
                nearest.space
            )));
        }
        let key = Key {
            account_id: nearest.scope.account_id(),
            collection_id: nearest.collection_id,
            space: nearest.space.clone(),
        };
        let loaded = self.current(db, key, &nearest).await?;
        let query = normalized(nearest.vector);
        let documents: Option<HashSet<Uuid>> = nearest.document_ids.map(|ids| ids.iter().copied().collect());
        let limit = nearest.limit;
        tokio::task::spawn_blocking(move || scan(&loaded, &query, documents.as_ref(), limit))
            .await
            .map_err(|e| DbErr::Custom(format!("the vector scan stopped: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(vectors: &[(u128, u128, [f32; 3])]) -> Loaded {
        Loaded {
            version: 1,
            chunk_ids: vectors.iter().map(|v| Uuid::from_u128(v.0)).collect(),
            document_ids: vectors.iter().map(|v| Uuid::from_u128(v.1)).collect(),
            dimension: 3,
            data: vectors.iter().flat_map(|v| normalized(&v.2)).collect(),
            last_used: AtomicU64::new(0),
        }
    }

    #[test]
    fn the_scan_ranks_by_cosine_and_filters_by_document() {
        let index = loaded(&[(1, 10, [1.0, 0.0, 0.0]), (2, 10, [0.0, 1.0, 0.0]), (3, 20, [1.0, 1.0, 0.0])]);
        let query = normalized(&[1.0, 0.2, 0.0]);
        let found = scan(&index, &query, None, 2);
        assert_eq!(found.iter().map(|c| c.chunk_id.as_u128()).collect::<Vec<_>>(), [1, 3]);
        assert!((found[0].score - f64::from(1.0 / 1.04f32.sqrt())).abs() < 1e-6);
        let only_20: HashSet<Uuid> = [Uuid::from_u128(20)].into();
        let found = scan(&index, &query, Some(&only_20), 5);
        assert_eq!(found.iter().map(|c| c.chunk_id.as_u128()).collect::<Vec<_>>(), [3]);
    }

    #[test]
    fn equal_scores_are_ordered_by_chunk_id() {
        let index = loaded(&[(3, 1, [1.0, 0.0, 0.0]), (1, 1, [2.0, 0.0, 0.0]), (2, 1, [0.5, 0.0, 0.0])]);
        let found = scan(&index, &[1.0, 0.0, 0.0], None, 2);
        assert_eq!(found.iter().map(|c| c.chunk_id.as_u128()).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn the_dot_product_matches_the_plain_sum() {
        let a: Vec<f32> = (0..389).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..389).map(|i| (i as f32 * 0.11).cos()).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-3);
    }
}
