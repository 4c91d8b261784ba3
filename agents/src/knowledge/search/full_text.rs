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
//!   query compiled by [`TextQuery`] (every word quoted) and held to the
//!   collection by [`in_scope`], scored by `bm25()`, which is negative and
//!   lower for better matches: `s = -bm25` becomes `s / (s + 1)`.
//!
//! The two scores are alike in range and direction, not in value: they
//! rank within one engine and are not comparable across engines.
//!
//! Both run on `scope.on(db)` (row-level security on PostgreSQL) and filter
//! by the account themselves too, the only wall on SQLite.
//!
//! # Bounded cost: at most `max_ranked` matches are scored
//!
//! Neither engine can find the best `limit` matches without scoring every
//! match: a GIN index has no order, and FTS5's `ORDER BY rank` scores all
//! matches before it sorts. Scoring costs (`ts_rank_cd` walks a chunk's
//! positions: about 10 µs a chunk for a question of eight words; FTS5's
//! `bm25` 1 µs for one word, several for eight), and a query of common
//! words matches most of a large collection: over 100,000 generated
//! chunks, ranking every match took 0.1–0.2 s on either engine for a word
//! in every chunk, 0.5 s on PostgreSQL for chat's kind of `or` of twelve
//! words. So each engine scores at most `max_ranked` matches
//! ([`RANKED_MATCHES`] unless built otherwise): the first it reads, in
//! storage order (rowids ascending on SQLite, heap order on PostgreSQL)
//! once the collection and documents are filtered, and keeps the best
//! `limit` of those.
//!
//! When fewer match, the common case over real documents, all of them are
//! scored and the answer is exact. When more match, the answer is the best
//! `limit` of the first `max_ranked` matches, not of all of them: the
//! trade-off taken. On the benchmark's questions (about 2,100 matches each
//! of 100,000) the text top-10 keeps about half of the exact one. Such a
//! query's words are in most chunks, so their text rank says little (in
//! `HYBRID` the vector side still ranks the whole collection), and it now
//! costs about what a selective query does (2–18 ms over 100,000 chunks;
//! on SQLite no longer 20 s, below). Considered and not taken: ranking the
//! chunks holding every word first and falling back to any word (the
//! benchmark's questions are one conjunction already, chat's `or` of some
//! twenty words has no chunk holding them all, and on PostgreSQL a second
//! pass is a second scan); newest first (ordering every match by id costs
//! what ranking them does); an index that serves the ranked order (RUM on
//! PostgreSQL, impact-ordered postings), which exact top-k at bounded cost
//! needs and neither engine has here.
//!
//! # SQLite: the collection inside `MATCH`
//!
//! Migration 000014 gives `document_chunks_fts` a second column, `scope`,
//! holding `c<collection hex> d<document hex>`, so `MATCH` reads only the
//! collection's matches and, with `documentIds`, only those documents'
//! (tokens rather than a larger sample filtered afterwards, which could
//! lose every match of the documents asked for). `bm25(…, 1.0, 0.0)` weighs
//! the `scope` column 0, so its tokens add nothing to a score; they do add
//! two tokens to every chunk's length (a 256-token chunk's length
//! normalisation moves by under 1%). The sample is a `MATERIALIZED` CTE
//! joined by `CROSS JOIN`, so the planner reads FTS5 first and
//! `document_chunks` by rowid: given the choice, SQLite 3.51 drives from
//! `document_chunks` by collection and runs `MATCH`, with `bm25`'s set-up
//! over every phrase's whole doclist, once per chunk. That was the
//! benchmark's timeout: 0.95 s for a word in no chunk, 20 s for one in 29%
//! of 100,000.
//!
//! # PostgreSQL: a sample of the rows read, the same one every time
//!
//! The sample is a `LIMIT` subquery with `ts_rank_cd` outside it. It runs
//! in a transaction of its own with parallel workers and synchronised
//! sequential scans off: either would start reading elsewhere from one run
//! to the next and change the sample, and so the answer. It is planned for
//! each query's words (`plan_cache_mode = force_custom_plan`): the
//! statement is prepared once per connection, and from its sixth run
//! PostgreSQL may reuse a generic plan, made without knowing whether the
//! words are rare or common, which scans the collection by its index even
//! where the GIN index could serve (40–70 ms instead of 15–25 ms, measured).
//!
//! Under forced row security (every scoped statement) PostgreSQL never uses
//! the GIN index: `@@` (`ts_match_vq`) is not leakproof, and a condition
//! that is not may not run ahead of the policy, so it cannot be an index
//! condition. The rows come from a scan of the collection: a query of
//! common words stops after `max_ranked` matches (2–10 ms over 100,000
//! chunks), one of rare words reads the whole collection (80–130 ms over
//! 100,000 on a busy 2-core machine, serially). A superuser's
//! `ALTER FUNCTION pg_catalog.ts_match_vq(tsvector, tsquery) LEAKPROOF`,
//! once per database, lets the GIN index serve this very statement (0.1 ms
//! for a rare word, about 20 ms for an eight-word question matching 2%).

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait, Value};
use uuid::Uuid;

use alatar_entity::ScopeSession;

use super::SearchQuery;
use super::query::{TextQuery, in_scope};

/// Most matches a search scores unless an engine is built with another
/// `max_ranked` (see the module doc). For a question of eight words
/// matching 2% of 100,000 chunks, 500 / 1,000 / 2,000 took (median) 14 /
/// 15 / 23 ms on SQLite and 14 / 21 / 31 ms on PostgreSQL with the GIN
/// index usable; 1,000 is the most that kept SQLite's p95 near 20 ms.
pub const RANKED_MATCHES: usize = 1_000;

/// The settings PostgreSQL's search runs with (see the module doc): one
/// worker and scans from the start of the table, so the rows sampled are
/// the same each time; a plan made for the query's own words.
const POSTGRES_SETTINGS: &str = "SET LOCAL max_parallel_workers_per_gather = 0; \
    SET LOCAL synchronize_seqscans = off; SET LOCAL plan_cache_mode = force_custom_plan";

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
    static POSTGRES: PostgresFullText = PostgresFullText { max_ranked: RANKED_MATCHES };
    static SQLITE: SqliteFullText = SqliteFullText { max_ranked: RANKED_MATCHES };
    match backend {
        DbBackend::Postgres => &POSTGRES,
        _ => &SQLITE,
    }
}

/// `tsvector`/`tsquery` with a GIN index.
#[derive(Debug, Clone, Copy)]
pub struct PostgresFullText {
    /// Most matches scored per search.
    pub max_ranked: usize,
}

impl Default for PostgresFullText {
    fn default() -> Self {
        Self { max_ranked: RANKED_MATCHES }
    }
}

/// FTS5 with external content and the collection in the index.
#[derive(Debug, Clone, Copy)]
pub struct SqliteFullText {
    /// Most matches scored per search.
    pub max_ranked: usize,
}

impl Default for SqliteFullText {
    fn default() -> Self {
        Self { max_ranked: RANKED_MATCHES }
    }
}

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

fn count_value(n: usize) -> Value {
    i64::try_from(n).unwrap_or(i64::MAX).into()
}

async fn run<C: ScopeSession>(conn: &C, query: &SearchQuery, statement: Statement) -> Result<Vec<Candidate>, DbErr> {
    let rows = query.scope.on(conn).query_all_raw(statement).await?;
    rows.iter()
        .map(|row| {
            Ok::<_, DbErr>(Candidate { chunk_id: row.try_get("", "chunk_id")?, score: row.try_get("", "score")? })
        })
        .collect()
}

impl PostgresFullText {
    /// The statement for `query` (with `document_ids`, if any, not empty):
    /// at most `max_ranked` matching chunks of the collection (and
    /// documents) in the order the scan reads them, ranked, the best
    /// `limit` kept. It runs after `POSTGRES_SETTINGS`.
    pub fn statement(&self, query: &SearchQuery, limit: usize) -> Statement {
        let backend = DbBackend::Postgres;
        let mut values: Vec<Value> =
            vec![query.text.clone().into(), query.scope.account_id().into(), query.collection_id.into()];
        let mut sample = String::from(
            "SELECT c.id, c.text_search FROM document_chunks c \
             WHERE c.text_search @@ q.tsq AND c.account_id = $2 AND c.collection_id = $3",
        );
        if let Some(ids) = &query.document_ids {
            sample.push_str(&documents_filter(backend, ids, &mut values));
        }
        values.push(count_value(self.max_ranked.max(limit)));
        sample.push_str(&format!(" LIMIT {}", placeholder(backend, values.len())));
        values.push(count_value(limit));
        let sql = format!(
            "SELECT s.id AS chunk_id, ts_rank_cd(s.text_search, q.tsq, 32)::float8 AS score \
             FROM websearch_to_tsquery('simple'::regconfig, $1) AS q(tsq), LATERAL ({sample}) AS s \
             ORDER BY score DESC, s.id LIMIT {}",
            placeholder(backend, values.len())
        );
        Statement::from_sql_and_values(backend, sql, values)
    }
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
        let txn = db.begin().await?;
        txn.execute_unprepared(POSTGRES_SETTINGS).await?;
        let found = run(&txn, query, self.statement(query, limit)).await?;
        txn.commit().await?;
        Ok(found)
    }
}

impl SqliteFullText {
    /// The statement for `query`, or `None` when nothing can match: at most
    /// `max_ranked` of the collection's (and documents') matches in rowid
    /// order, scored by FTS5, then checked against the chunks' own account,
    /// collection and document, the best `limit` kept.
    pub fn statement(&self, query: &SearchQuery, limit: usize) -> Option<Statement> {
        let expression = TextQuery::parse(&query.text).to_fts5()?;
        let matching = in_scope(&expression, query.collection_id, query.document_ids.as_deref())?;
        let backend = DbBackend::Sqlite;
        let mut values: Vec<Value> = vec![
            matching.into(),
            count_value(self.max_ranked.max(limit)),
            query.scope.account_id().into(),
            query.collection_id.into(),
        ];
        // The FTS table is named, not aliased: `MATCH` and `bm25()` take its
        // name. `-bm25` is positive, higher better; the `scope` column
        // weighs nothing.
        let mut sql = String::from(
            "WITH sample AS MATERIALIZED (\
                 SELECT rowid AS chunk_rowid, -bm25(document_chunks_fts, 1.0, 0.0) AS relevance \
                 FROM document_chunks_fts WHERE document_chunks_fts MATCH ? LIMIT ?) \
             SELECT c.id AS chunk_id, sample.relevance AS score \
             FROM sample CROSS JOIN document_chunks c ON c.rowid = sample.chunk_rowid \
             WHERE c.account_id = ? AND c.collection_id = ?",
        );
        if let Some(ids) = &query.document_ids {
            sql.push_str(&documents_filter(backend, ids, &mut values));
        }
        values.push(count_value(limit));
        sql.push_str(" ORDER BY score DESC, c.id LIMIT ?");
        Some(Statement::from_sql_and_values(backend, sql, values))
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
        if limit == 0 {
            return Ok(Vec::new());
        }
        let Some(statement) = self.statement(query, limit) else { return Ok(Vec::new()) };
        let found = run(db, query, statement).await?;
        Ok(found
            .into_iter()
            .map(|c| {
                let s = c.score.max(0.0);
                Candidate { score: s / (s + 1.0), ..c }
            })
            .collect())
    }
}
