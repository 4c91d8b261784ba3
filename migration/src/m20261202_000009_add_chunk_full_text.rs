//! Full-text search over document chunks, one index per engine, each kept
//! in step with `document_chunks` by the database itself (no code path that
//! writes chunks needs to know about it).
//!
//! - PostgreSQL: a generated column `text_search tsvector GENERATED ALWAYS
//!   AS (to_tsvector('simple', text)) STORED` with a GIN index. The text
//!   search configuration is `simple` on purpose: merchants write in many
//!   languages, often several in one collection, and a stemming
//!   configuration (`english`, `french`, …) would mangle every other
//!   language's words and drop its stop words; `simple` lowercases and
//!   keeps every word as written (no stemming, no stop words, accents kept).
//!   A per-collection language can come later as a second column; the
//!   generated column needs an immutable expression, which a configuration
//!   read from another table is not.
//! - SQLite: an FTS5 table `document_chunks_fts` with external content
//!   (`content='document_chunks'`, keyed by the chunks' implicit `rowid`:
//!   the table has a UUID primary key and is not `WITHOUT ROWID`, so it has
//!   one), tokenized by `unicode61` with `remove_diacritics 0` so that it
//!   folds case and keeps accents like PostgreSQL's `simple`. Triggers on
//!   insert, delete and update of `document_chunks` keep the index in step
//!   within the writing transaction (foreign-key cascades fire them too).
//!   The bundled SQLite of `libsqlite3-sys` is compiled with
//!   `SQLITE_ENABLE_FTS5`. An implicit rowid survives everything this
//!   server does to the table, but a `VACUUM` may renumber it: whoever
//!   adds one follows it with `INSERT INTO document_chunks_fts
//!   (document_chunks_fts) VALUES ('rebuild')`, as this migration does for
//!   the chunks stored before it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES_UP: [&str; 2] = [
    r#"ALTER TABLE document_chunks ADD COLUMN text_search tsvector
        GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, "text")) STORED"#,
    "CREATE INDEX idx_document_chunks_text_search ON document_chunks USING GIN (text_search)",
];

const POSTGRES_DOWN: [&str; 2] = [
    "DROP INDEX IF EXISTS idx_document_chunks_text_search",
    "ALTER TABLE document_chunks DROP COLUMN IF EXISTS text_search",
];

const SQLITE_UP: [&str; 5] = [
    "CREATE VIRTUAL TABLE document_chunks_fts USING fts5(
        text,
        content = 'document_chunks',
        tokenize = 'unicode61 remove_diacritics 0'
    )",
    "CREATE TRIGGER document_chunks_fts_insert AFTER INSERT ON document_chunks BEGIN
        INSERT INTO document_chunks_fts (rowid, text) VALUES (new.rowid, new.text);
    END",
    "CREATE TRIGGER document_chunks_fts_delete AFTER DELETE ON document_chunks BEGIN
        INSERT INTO document_chunks_fts (document_chunks_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
    END",
    "CREATE TRIGGER document_chunks_fts_update AFTER UPDATE OF text ON document_chunks BEGIN
        INSERT INTO document_chunks_fts (document_chunks_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
        INSERT INTO document_chunks_fts (rowid, text) VALUES (new.rowid, new.text);
    END",
    // The chunks stored before this migration.
    "INSERT INTO document_chunks_fts (document_chunks_fts) VALUES ('rebuild')",
];

const SQLITE_DOWN: [&str; 4] = [
    "DROP TRIGGER IF EXISTS document_chunks_fts_update",
    "DROP TRIGGER IF EXISTS document_chunks_fts_delete",
    "DROP TRIGGER IF EXISTS document_chunks_fts_insert",
    "DROP TABLE IF EXISTS document_chunks_fts",
];

async fn run(manager: &SchemaManager<'_>, postgres: &[&str], sqlite: &[&str]) -> Result<(), DbErr> {
    let statements = match manager.get_database_backend() {
        DbBackend::Postgres => postgres,
        DbBackend::Sqlite => sqlite,
        _ => return Ok(()),
    };
    for statement in statements {
        manager.get_connection().execute_unprepared(statement).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, &POSTGRES_UP, &SQLITE_UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, &POSTGRES_DOWN, &SQLITE_DOWN).await
    }
}
