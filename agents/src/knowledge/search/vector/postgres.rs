//! pgvector: `<=>` (cosine distance) ordered ascending, which is what the
//! HNSW index (`vector_cosine_ops`) serves. The index of migration 000008 is
//! partial and on an expression (the column has no fixed dimension, so
//! models of different sizes share it): a query uses it only when it says
//! `dimension = 384` and orders by `embedding::vector(384) <=> …`, as the
//! 384-dimensional statement here does. Other dimensions are scanned
//! exactly.
//!
//! HNSW finds `hnsw.ef_search` neighbours and the filters (account,
//! collection, model, documents) apply after: with many collections in one
//! index, a plain scan would return fewer than `limit` rows. pgvector 0.8's
//! iterative scan (`strict_order`) keeps scanning until `limit` rows pass
//! the filters, in exact distance order, so results do not depend on how
//! many other collections share the index. Both settings are `SET LOCAL`,
//! in the search's own transaction.

use async_trait::async_trait;
use sea_orm::entity::prelude::PgVector;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait, Value};

use super::{Nearest, VectorIndex};
use crate::knowledge::search::full_text::Candidate;

/// The dimension the HNSW index covers (all-MiniLM-L6-v2's).
pub const INDEXED_DIMENSION: usize = 384;

/// Candidates HNSW keeps per search, at least: pgvector's default (40) is
/// tuned for top-10; fusion asks for 50.
const EF_SEARCH: usize = 100;

/// pgvector on PostgreSQL.
#[derive(Debug, Clone, Copy, Default)]
pub struct PgVectorIndex;

/// The statement for `nearest` and its values.
pub fn statement(nearest: &Nearest<'_>) -> Statement {
    let dimension = nearest.space.dimension;
    let distance = if dimension == INDEXED_DIMENSION {
        format!("embedding::vector({INDEXED_DIMENSION}) <=> $1::vector({INDEXED_DIMENSION})")
    } else {
        "embedding <=> $1".to_owned()
    };
    let mut values: Vec<Value> = vec![
        PgVector::from(nearest.vector.to_vec()).into(),
        nearest.scope.account_id().into(),
        nearest.collection_id.into(),
        nearest.space.model.clone().into(),
    ];
    // The dimension as a literal (a `usize`, nothing to escape) lets the
    // planner match the partial index's `WHERE dimension = 384`.
    let mut sql = format!(
        "SELECT chunk_id, (1 - ({distance}))::float8 AS score FROM chunk_embeddings \
         WHERE dimension = {dimension} AND account_id = $2 AND collection_id = $3 AND model = $4"
    );
    if let Some(ids) = nearest.document_ids {
        let placeholders: Vec<String> = ids
            .iter()
            .map(|id| {
                values.push((*id).into());
                format!("${}", values.len())
            })
            .collect();
        sql.push_str(&format!(" AND document_id IN ({})", placeholders.join(", ")));
    }
    values.push(i64::try_from(nearest.limit).unwrap_or(i64::MAX).into());
    // The distance alone: a second sort key would stop the index serving the order.
    sql.push_str(&format!(" ORDER BY {distance} LIMIT ${}", values.len()));
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// The settings each search runs with (see the module doc).
pub fn settings(limit: usize) -> String {
    format!(
        "SET LOCAL hnsw.ef_search = {}; SET LOCAL hnsw.iterative_scan = strict_order",
        limit.clamp(EF_SEARCH, 1_000)
    )
}

#[async_trait]
impl VectorIndex for PgVectorIndex {
    async fn nearest(&self, db: &DatabaseConnection, nearest: Nearest<'_>) -> Result<Vec<Candidate>, DbErr> {
        let txn = db.begin().await?;
        txn.execute_unprepared(&settings(nearest.limit)).await?;
        let rows = nearest.scope.on(&txn).query_all_raw(statement(&nearest)).await?;
        txn.commit().await?;
        let mut found = rows
            .iter()
            .map(|row| Ok(Candidate { chunk_id: row.try_get("", "chunk_id")?, score: row.try_get("", "score")? }))
            .collect::<Result<Vec<_>, DbErr>>()?;
        // Equal distances come back by chunk id already; keep the contract
        // explicit should the index return near-equal floats out of order.
        found.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.chunk_id.cmp(&b.chunk_id)));
        Ok(found)
    }
}
