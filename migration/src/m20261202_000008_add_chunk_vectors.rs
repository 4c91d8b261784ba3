//! Knowledge: the vectors of document chunks, one per chunk, each stored
//! with the model that made it and its dimension (`chunk_embeddings`).
//!
//! PostgreSQL keeps them in a pgvector `vector` column without a fixed
//! dimension, so collections bound to models of different sizes share the
//! table; an HNSW index (cosine) covers the 384-dimensional ones, those of
//! the embedded all-MiniLM-L6-v2, through the expression and partial index
//! pgvector documents for mixed dimensions (queries must say
//! `embedding::vector(384)` and `dimension = 384` to use it). SQLite keeps
//! them as a BLOB of little-endian `f32`s (searched by a scan). A chunk's
//! vector goes with the chunk (`ON DELETE CASCADE`), so replacing or
//! deleting chunks removes their vectors on both engines. The table holds an
//! `account_id`: row-level security on PostgreSQL, as every tenant table.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// One statement each (run one by one on both engines).
const POSTGRES_UP: [&str; 5] = [
    "CREATE TABLE chunk_embeddings (
        chunk_id uuid PRIMARY KEY REFERENCES document_chunks (id) ON DELETE CASCADE,
        account_id uuid NOT NULL,
        collection_id uuid NOT NULL,
        document_id uuid NOT NULL,
        model varchar(200) NOT NULL,
        dimension integer NOT NULL CHECK (dimension > 0),
        embedding vector NOT NULL,
        CHECK (vector_dims(embedding) = dimension)
    )",
    "CREATE INDEX idx_chunk_embeddings_document ON chunk_embeddings (document_id)",
    "CREATE INDEX idx_chunk_embeddings_collection ON chunk_embeddings (collection_id, model, dimension)",
    "CREATE INDEX idx_chunk_embeddings_hnsw_384 ON chunk_embeddings
        USING hnsw ((embedding::vector(384)) vector_cosine_ops) WHERE dimension = 384",
    "SELECT alatar_protect_tenant_table('chunk_embeddings'::regclass)",
];

const SQLITE_UP: [&str; 3] = [
    "CREATE TABLE chunk_embeddings (
        chunk_id uuid_text NOT NULL PRIMARY KEY REFERENCES document_chunks (id) ON DELETE CASCADE,
        account_id uuid_text NOT NULL,
        collection_id uuid_text NOT NULL,
        document_id uuid_text NOT NULL,
        model varchar(200) NOT NULL,
        dimension integer NOT NULL CHECK (dimension > 0),
        embedding blob NOT NULL CHECK (length(embedding) = 4 * dimension)
    )",
    "CREATE INDEX idx_chunk_embeddings_document ON chunk_embeddings (document_id)",
    "CREATE INDEX idx_chunk_embeddings_collection ON chunk_embeddings (collection_id, model, dimension)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements: &[&str] = match manager.get_database_backend() {
            DbBackend::Postgres => &POSTGRES_UP,
            _ => &SQLITE_UP,
        };
        for sql in statements {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("DROP TABLE IF EXISTS chunk_embeddings").await.map(|_| ())
    }
}
