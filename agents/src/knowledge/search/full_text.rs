//! The `FullText` retriever port and its two engines, side by side, held
//! to one contract: the chunks of one collection of the scope's account
//! (and of the given documents only, when given) that match the query,
//! best first, at most `limit`, each with a score in `[0, 1)`, higher
//! better; ties broken by chunk id, so a ranking is reproducible.
//!
//! - [`PostgresFullText`]: `websearch_to_tsquery('simple', …)` against the
//!   generated `text_search` column (GIN index, migration 000009), scored by
//!   `ts_rank_cd` with normalization 32 (`rank / (rank + 1)`).
//! - [`SqliteFullText`]: FTS5 `MATCH` on `document_chunks_fts` with the
//!   query compiled by [`TextQuery`] (every word quoted), scored by
//!   `bm25()`, which is negative and lower for better matches: `s = -bm25`
//!   becomes `s / (s + 1)`.
//!
//! The two scores are alike in range and direction, not in value: they
//! rank within one engine and are not comparable across engines.
//!
//! Both run on `scope.on(db)` (row-level security on PostgreSQL) and filter
//! by the account themselves too, the only wall on SQLite.

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, Value};
use uuid::Uuid;

use super::SearchQuery;
use super::query::TextQuery;

/// A chunk one retriever found, with that retriever's score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// The chunk.
    pub chunk_id: Uuid,
    /// The retriever's score, higher better.
    pub score: f64,
}

/// Finds chunks by their words.
#[async_trait]
pub trait FullText: Send + Sync {
    /// The best `limit` chunks matching `query.text` (already cleaned),
    /// best first.
    async fn candidates(
        &self,
        db: &DatabaseConnection,
        query: &SearchQuery,
        limit: usize,
    ) -> Result<Vec<Candidate>, DbErr>;
}

/// The engine's full-text retriever.
pub fn for_backend(backend: DbBackend) -> &'static dyn FullText {
    match backend {
        DbBackend::Postgres => &PostgresFullText,
        _ => &SqliteFullText,
    }
}

/// `tsvector`/`tsquery` with a GIN index.
#[derive(Debug, Clone, Copy, Default)]
pub struct PostgresFullText;

/// FTS5 with external content.
#[derive(Debug, Clone, Copy, Default)]
pub struct SqliteFullText;

/// `AND c.document_id IN (…)`, its values pushed after those in `values`
/// (placeholders `$n` on PostgreSQL, `?` on SQLite).
fn documents_filter(backend: DbBackend, ids: &[Uuid], values: &mut Vec<Value>) -> String {
    let placeholders: Vec<String> = ids
        .iter()
        .map(|id| {
            values.push((*id).into());
            placeholder(backend, values.len())
        })
        .collect();
    format!(" AND c.document_id IN ({})", placeholders.join(", "))
}

fn placeholder(backend: DbBackend, n: usize) -> String {
    if backend == DbBackend::Postgres { format!("${n}") } else { "?".to_owned() }
}

fn limit_value(limit: usize) -> Value {
    i64::try_from(limit).unwrap_or(i64::MAX).into()
}

async fn run(db: &DatabaseConnection, query: &SearchQuery, statement: Statement) -> Result<Vec<Candidate>, DbErr> {
    let rows = query.scope.on(db).query_all_raw(statement).await?;
    rows.iter()
        .map(|row| {
            Ok::<_, DbErr>(Candidate { chunk_id: row.try_get("", "chunk_id")?, score: row.try_get("", "score")? })
        })
        .collect()
}

#[async_trait]
impl FullText for PostgresFullText {
    async fn candidates(
        &self,
        db: &DatabaseConnection,
        query: &SearchQuery,
        limit: usize,
    ) -> Result<Vec<Candidate>, DbErr> {
        // PostgreSQL parses the words itself; the parse here only tells a
        // query that can match something (words, not only exclusions, which
        // `websearch_to_tsquery` would answer with every other chunk) from
        // one that cannot, as on SQLite.
        if TextQuery::parse(&query.text).to_fts5().is_none()
            || limit == 0
            || query.document_ids.as_ref().is_some_and(Vec::is_empty)
        {
            return Ok(Vec::new());
        }
        let backend = DbBackend::Postgres;
        let mut values: Vec<Value> =
            vec![query.text.clone().into(), query.scope.account_id().into(), query.collection_id.into()];
        let mut sql = String::from(
            "SELECT c.id AS chunk_id, ts_rank_cd(c.text_search, q.tsq, 32)::float8 AS score \
             FROM document_chunks c, websearch_to_tsquery('simple'::regconfig, $1) AS q(tsq) \
             WHERE c.text_search @@ q.tsq AND c.account_id = $2 AND c.collection_id = $3",
        );
        if let Some(ids) = &query.document_ids {
            sql.push_str(&documents_filter(backend, ids, &mut values));
        }
        values.push(limit_value(limit));
        sql.push_str(&format!(" ORDER BY score DESC, c.id LIMIT {}", placeholder(backend, values.len())));
        run(db, query, Statement::from_sql_and_values(backend, sql, values)).await
    }
}

#[async_trait]
impl FullText for SqliteFullText {
    async fn candidates(
        &self,
        db: &DatabaseConnection,
        query: &SearchQuery,
        limit: usize,
    ) -> Result<Vec<Candidate>, DbErr> {
        let Some(expression) = TextQuery::parse(&query.text).to_fts5() else { return Ok(Vec::new()) };
        if limit == 0 || query.document_ids.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Vec::new());
        }
        let backend = DbBackend::Sqlite;
        let mut values: Vec<Value> =
            vec![expression.into(), query.scope.account_id().into(), query.collection_id.into()];
        // The FTS table is named, not aliased: `MATCH` and `bm25()` take its
        // name. `-bm25` is positive, higher better.
        let mut sql = String::from(
            "SELECT c.id AS chunk_id, -bm25(document_chunks_fts) AS score \
             FROM document_chunks_fts JOIN document_chunks c ON c.rowid = document_chunks_fts.rowid \
             WHERE document_chunks_fts MATCH ? AND c.account_id = ? AND c.collection_id = ?",
        );
        if let Some(ids) = &query.document_ids {
            sql.push_str(&documents_filter(backend, ids, &mut values));
        }
        values.push(limit_value(limit));
        sql.push_str(" ORDER BY score DESC, c.id LIMIT ?");
        let found = run(db, query, Statement::from_sql_and_values(backend, sql, values)).await?;
        Ok(found
            .into_iter()
            .map(|c| {
                let s = c.score.max(0.0);
                Candidate { score: s / (s + 1.0), ..c }
            })
            .collect())
    }
}
