//! Chunk vectors in the database (`chunk_embeddings`): one per chunk, each
//! with the model that made it and its dimension, its [`Space`]. Vectors of
//! two spaces are never compared: a collection is bound to one space (its
//! `embedding_model` and `embedding_dimension`), and a search compares a
//! query only with the vectors of its collection's space.
//!
//! The vector is a pgvector `vector` on PostgreSQL (bound as
//! `pgvector::Vector`, binary) and a BLOB of little-endian `f32`s on SQLite,
//! so these statements are written per engine rather than through the
//! sea-orm model (which has every column but the vector). Every statement
//! runs through the caller's [`AccountScope`] and names its account, so
//! row-level security holds it to the account on PostgreSQL as well.

use chrono::Utc;
use sea_orm::entity::prelude::PgVector;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, QueryFilter, Statement, Value};
use uuid::Uuid;

use alatar_entity::{AccountScope, DocumentStatus, ScopeSession, collection};

use super::embed::Embedder;

/// The space a vector lives in: the model that made it and its length.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Space {
    /// The model's id, as [`Embedder::model_id`] gives it.
    pub model: String,
    /// The vectors' length.
    pub dimension: usize,
}

impl Space {
    /// The space `embedder`'s vectors live in.
    pub fn of(embedder: &dyn Embedder) -> Self {
        Self { model: embedder.model_id().to_owned(), dimension: embedder.dimension() }
    }

    fn dimension_i32(&self) -> i32 {
        i32::try_from(self.dimension).unwrap_or(i32::MAX)
    }
}

impl std::fmt::Display for Space {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({} dimensions)", self.model, self.dimension)
    }
}

/// A chunk without a vector of the space asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unembedded {
    /// The chunk.
    pub chunk_id: Uuid,
    /// Its document.
    pub document_id: Uuid,
    /// Its collection.
    pub collection_id: Uuid,
    /// Its text, to embed.
    pub text: String,
}

/// A vector as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredVector {
    /// The chunk it is the vector of.
    pub chunk_id: Uuid,
    /// The chunk's document.
    pub document_id: Uuid,
    /// The chunk's collection.
    pub collection_id: Uuid,
    /// The space it lives in.
    pub space: Space,
    /// The vector itself.
    pub vector: Vec<f32>,
}

/// What binding a collection to a space found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    /// The collection is gone (deleted meanwhile).
    Gone,
    /// It was bound to this space already.
    Kept,
    /// It is bound now; `from` is the space it was bound to before, if any
    /// (then its other chunks are to be embedded again in the new one).
    Bound {
        /// The previous space.
        from: Option<Space>,
    },
}

/// `vector` as SQLite stores it: little-endian `f32`s.
pub fn to_le_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The vector in `bytes` as [`to_le_bytes`] wrote it; `None` if the length
/// is not a multiple of four.
pub fn from_le_bytes(bytes: &[u8]) -> Option<Vec<f32>> {
    if bytes.len() % 4 != 0 {
        return None;
    }
    Some(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}

/// `sql` (written with PostgreSQL's `$1`, `$2`…) for `backend`: SQLite
/// takes the same numbered parameters as `?1`, `?2`….
fn for_backend(backend: DbBackend, sql: &str) -> String {
    match backend {
        DbBackend::Postgres => sql.to_owned(),
        _ => sql.replace('$', "?"),
    }
}

fn statement(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(backend, for_backend(backend, sql), values)
}

fn vector_value(backend: DbBackend, vector: &[f32]) -> Value {
    match backend {
        DbBackend::Postgres => PgVector::from(vector.to_vec()).into(),
        _ => to_le_bytes(vector).into(),
    }
}

/// Binds the collection to `space` when it is bound to none or another
/// one (one conditional update: two deliveries at once bind it once).
pub async fn bind_collection<C: ScopeSession>(
    db: &C,
    scope: AccountScope,
    collection_id: Uuid,
    space: &Space,
) -> Result<Binding, DbErr> {
    let found =
        scope.find::<collection::Entity>().filter(collection::Column::Id.eq(collection_id)).one(&scope.on(db)).await?;
    let Some(found) = found else { return Ok(Binding::Gone) };
    let before = match (found.embedding_model, found.embedding_dimension) {
        (Some(model), Some(dimension)) => {
            Some(Space { model, dimension: usize::try_from(dimension).unwrap_or_default() })
        }
        _ => None,
    };
    if before.as_ref() == Some(space) {
        return Ok(Binding::Kept);
    }
    let elsewhere = Condition::any()
        .add(collection::Column::EmbeddingModel.is_null())
        .add(collection::Column::EmbeddingModel.ne(space.model.clone()))
        .add(collection::Column::EmbeddingDimension.is_null())
        .add(collection::Column::EmbeddingDimension.ne(space.dimension_i32()));
    let moved = scope
        .update_many::<collection::Entity>()
        .col_expr(collection::Column::EmbeddingModel, Expr::value(space.model.clone()))
        .col_expr(collection::Column::EmbeddingDimension, Expr::value(space.dimension_i32()))
        .col_expr(collection::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(collection::Column::Id.eq(collection_id))
        .filter(elsewhere)
        .exec(&scope.on(db))
        .await?;
    // Nothing moved: another delivery bound it to this space meanwhile.
    Ok(if moved.rows_affected == 0 { Binding::Kept } else { Binding::Bound { from: before } })
}

/// Which chunks [`unembedded`] looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Among {
    /// One document's.
    Document(Uuid),
    /// Those of a collection's `INGESTED` documents (the others are still
    /// being ingested, by a delivery of their own).
    IngestedOf(Uuid),
}

/// Up to `limit` chunks after `after` (by id; `Uuid::nil()` to start)
/// that have no vector of `space`, in id order: pages through a document
/// or a collection without holding it all in memory.
pub async fn unembedded<C: ScopeSession>(
    db: &C,
    scope: AccountScope,
    among: Among,
    space: &Space,
    after: Uuid,
    limit: usize,
) -> Result<Vec<Unembedded>, DbErr> {
    let on = scope.on(db);
    let backend = on.get_database_backend();
    let missing = "NOT EXISTS (SELECT 1 FROM chunk_embeddings e \
                   WHERE e.chunk_id = c.id AND e.model = $3 AND e.dimension = $4)";
    let mut values: Vec<Value> =
        vec![scope.account_id().into(), after.into(), space.model.clone().into(), space.dimension_i32().into()];
    let sql = match among {
        Among::Document(document_id) => {
            values.push(document_id.into());
            format!(
                "SELECT c.id AS chunk_id, c.document_id, c.collection_id, c.text FROM document_chunks c \
                 WHERE c.account_id = $1 AND c.id > $2 AND c.document_id = $5 AND {missing} \
                 ORDER BY c.id LIMIT {limit}"
            )
        }
        Among::IngestedOf(collection_id) => {
            values.push(collection_id.into());
            values.push(DocumentStatus::Ingested.as_str().into());
            format!(
                "SELECT c.id AS chunk_id, c.document_id, c.collection_id, c.text FROM document_chunks c \
                 JOIN documents d ON d.id = c.document_id \
                 WHERE c.account_id = $1 AND c.id > $2 AND c.collection_id = $5 AND d.status = $6 AND {missing} \
                 ORDER BY c.id LIMIT {limit}"
            )
        }
    };
    let rows = on.query_all_raw(statement(backend, &sql, values)).await?;
    rows.iter()
        .map(|row| -> Result<Unembedded, DbErr> {
            Ok(Unembedded {
                chunk_id: row.try_get("", "chunk_id")?,
                document_id: row.try_get("", "document_id")?,
                collection_id: row.try_get("", "collection_id")?,
                text: row.try_get("", "text")?,
            })
        })
        .collect()
}

/// How many of the document's chunks have a vector of `space`.
pub async fn count_embedded<C: ScopeSession>(
    db: &C,
    scope: AccountScope,
    document_id: Uuid,
    space: &Space,
) -> Result<u64, DbErr> {
    let on = scope.on(db);
    let backend = on.get_database_backend();
    let sql = "SELECT count(*) AS n FROM chunk_embeddings \
               WHERE account_id = $1 AND document_id = $2 AND model = $3 AND dimension = $4";
    let values =
        vec![scope.account_id().into(), document_id.into(), space.model.clone().into(), space.dimension_i32().into()];
    let row = on.query_one_raw(statement(backend, sql, values)).await?;
    let n: i64 = match row {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or_default())
}

/// Stores the vectors of `chunks` (in order, one each), all of `space`,
/// replacing whatever vector a chunk had (of another model), in one
/// statement. A chunk deleted meanwhile makes it fail (foreign key).
pub async fn store<C: ScopeSession>(
    db: &C,
    scope: AccountScope,
    space: &Space,
    chunks: &[Unembedded],
    vectors: &[Vec<f32>],
) -> Result<(), DbErr> {
    if chunks.len() != vectors.len() {
        return Err(DbErr::Custom(format!("{} vectors for {} chunks", vectors.len(), chunks.len())));
    }
    if chunks.is_empty() {
        return Ok(());
    }
    let on = scope.on(db);
    let backend = on.get_database_backend();
    let mut rows = Vec::with_capacity(chunks.len());
    let mut values: Vec<Value> = Vec::with_capacity(chunks.len() * 7);
    for (i, (chunk, vector)) in chunks.iter().zip(vectors).enumerate() {
        let n = i * 7;
        rows.push(format!("(${}, ${}, ${}, ${}, ${}, ${}, ${})", n + 1, n + 2, n + 3, n + 4, n + 5, n + 6, n + 7));
        values.extend([
            chunk.chunk_id.into(),
            scope.account_id().into(),
            chunk.collection_id.into(),
            chunk.document_id.into(),
            space.model.clone().into(),
            space.dimension_i32().into(),
            vector_value(backend, vector),
        ]);
    }
    let sql = format!(
        "INSERT INTO chunk_embeddings (chunk_id, account_id, collection_id, document_id, model, dimension, embedding) \
         VALUES {} ON CONFLICT (chunk_id) DO UPDATE SET \
         model = excluded.model, dimension = excluded.dimension, embedding = excluded.embedding",
        rows.join(", ")
    );
    on.execute_raw(statement(backend, &sql, values)).await?;
    Ok(())
}

/// The document's vectors, by chunk id.
pub async fn of_document<C: ScopeSession>(
    db: &C,
    scope: AccountScope,
    document_id: Uuid,
) -> Result<Vec<StoredVector>, DbErr> {
    let on = scope.on(db);
    let backend = on.get_database_backend();
    let sql = "SELECT chunk_id, document_id, collection_id, model, dimension, embedding FROM chunk_embeddings \
               WHERE account_id = $1 AND document_id = $2 ORDER BY chunk_id";
    let rows = on.query_all_raw(statement(backend, sql, vec![scope.account_id().into(), document_id.into()])).await?;
    rows.iter()
        .map(|row| -> Result<StoredVector, DbErr> {
            let vector = match backend {
                DbBackend::Postgres => row.try_get::<PgVector>("", "embedding")?.to_vec(),
                _ => {
                    let bytes: Vec<u8> = row.try_get("", "embedding")?;
                    from_le_bytes(&bytes).ok_or_else(|| DbErr::Custom("a stored vector is truncated".to_owned()))?
                }
            };
            let dimension: i32 = row.try_get("", "dimension")?;
            Ok(StoredVector {
                chunk_id: row.try_get("", "chunk_id")?,
                document_id: row.try_get("", "document_id")?,
                collection_id: row.try_get("", "collection_id")?,
                space: Space { model: row.try_get("", "model")?, dimension: usize::try_from(dimension).unwrap_or(0) },
                vector,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_round_trip_and_are_little_endian() {
        let vector = vec![1.0f32, -0.5, f32::MIN_POSITIVE, 0.123_456_79];
        let bytes = to_le_bytes(&vector);
        assert_eq!(bytes.len(), 16);
        assert_eq!(&bytes[..4], &1.0f32.to_le_bytes());
        assert_eq!(from_le_bytes(&bytes), Some(vector));
        assert_eq!(from_le_bytes(&bytes[..5]), None);
    }

    #[test]
    fn sqlite_takes_numbered_parameters() {
        assert_eq!(for_backend(DbBackend::Sqlite, "a = $1 AND b = $12"), "a = ?1 AND b = ?12");
        assert_eq!(for_backend(DbBackend::Postgres, "a = $1"), "a = $1");
    }
}
