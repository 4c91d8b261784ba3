//! Knowledge: on SQLite, a version per collection that every insert,
//! update and delete of its chunk vectors counts up (triggers, so vectors
//! deleted with their chunk by a cascade count too). The embedded vector
//! index keeps collections' vectors in memory and reads this one row per
//! search to know whether its copy is current. PostgreSQL searches with
//! pgvector in the database and needs none of it.
//!
//! The triggers avoid `INSERT OR IGNORE`: inside a trigger, the conflict
//! clause of the statement that fired it (an upsert of vectors) wins.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_UP: [&str; 5] = [
    "CREATE TABLE chunk_embedding_versions (
        collection_id uuid_text NOT NULL PRIMARY KEY,
        version integer NOT NULL
    )",
    "INSERT INTO chunk_embedding_versions (collection_id, version)
        SELECT collection_id, 1 FROM chunk_embeddings GROUP BY collection_id",
    "CREATE TRIGGER chunk_embeddings_version_insert AFTER INSERT ON chunk_embeddings BEGIN
        INSERT INTO chunk_embedding_versions (collection_id, version) SELECT new.collection_id, 0
            WHERE NOT EXISTS (SELECT 1 FROM chunk_embedding_versions WHERE collection_id = new.collection_id);
        UPDATE chunk_embedding_versions SET version = version + 1 WHERE collection_id = new.collection_id;
    END",
    "CREATE TRIGGER chunk_embeddings_version_update AFTER UPDATE ON chunk_embeddings BEGIN
        INSERT INTO chunk_embedding_versions (collection_id, version) SELECT new.collection_id, 0
            WHERE NOT EXISTS (SELECT 1 FROM chunk_embedding_versions WHERE collection_id = new.collection_id);
        UPDATE chunk_embedding_versions SET version = version + 1
            WHERE collection_id IN (new.collection_id, old.collection_id);
    END",
    "CREATE TRIGGER chunk_embeddings_version_delete AFTER DELETE ON chunk_embeddings BEGIN
        UPDATE chunk_embedding_versions SET version = version + 1 WHERE collection_id = old.collection_id;
    END",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            return Ok(());
        }
        for sql in SQLITE_UP {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            return Ok(());
        }
        for name in ["insert", "update", "delete"] {
            let sql = format!("DROP TRIGGER IF EXISTS chunk_embeddings_version_{name}");
            manager.get_connection().execute_unprepared(&sql).await?;
        }
        manager.get_connection().execute_unprepared("DROP TABLE IF EXISTS chunk_embedding_versions").await.map(|_| ())
    }
}
