//! Knowledge, SQLite: the FTS5 index of chunks learns each chunk's
//! collection and document, so a search's `MATCH` reads only the matches
//! of the collection searched (and of the documents asked for) instead of
//! every account's, and can stop after the first few hundred of them.
//!
//! `document_chunks_fts` is rebuilt with a second column, `scope`, holding
//! `c<hex of collection_id> d<hex of document_id>` (the hex of the 16 bytes
//! a `Uuid` is stored as; the tokenizer folds case, so a query writes the
//! lowercase `Uuid::simple` form). A search matches `scope : "c…" AND
//! text : (…)` and weighs `scope` 0 in `bm25` (the `rank` setting below does
//! the same for `ORDER BY rank`). The table keeps external content, from the
//! view `document_chunks_search_source` (the chunks' rowid, text and scope
//! tokens), so `rebuild` and `integrity-check` still read the chunks
//! themselves; the view's name is not one of FTS5's shadow-table names.
//! The triggers of migration 000009 are recreated with the second column
//! and fire on a change of collection or document too. They are plain
//! inserts: inside a trigger the firing statement's conflict clause wins
//! (migration 000012), and no writer upserts chunks.
//!
//! PostgreSQL is unchanged: its collection filter is a column of the row
//! the text search reads (see `agents`' `search/full_text.rs`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const DROP_OLD: [&str; 4] = [
    "DROP TRIGGER IF EXISTS document_chunks_fts_update",
    "DROP TRIGGER IF EXISTS document_chunks_fts_delete",
    "DROP TRIGGER IF EXISTS document_chunks_fts_insert",
    "DROP TABLE IF EXISTS document_chunks_fts",
];

const UP: [&str; 7] = [
    "CREATE VIEW document_chunks_search_source AS
        SELECT rowid AS chunk_rowid, text, 'c' || hex(collection_id) || ' d' || hex(document_id) AS scope
        FROM document_chunks",
    "CREATE VIRTUAL TABLE document_chunks_fts USING fts5(
        text,
        scope,
        content = 'document_chunks_search_source',
        content_rowid = 'chunk_rowid',
        tokenize = 'unicode61 remove_diacritics 0'
    )",
    "INSERT INTO document_chunks_fts (document_chunks_fts, rank) VALUES ('rank', 'bm25(1.0, 0.0)')",
    "CREATE TRIGGER document_chunks_fts_insert AFTER INSERT ON document_chunks BEGIN
        INSERT INTO document_chunks_fts (rowid, text, scope)
            VALUES (new.rowid, new.text, 'c' || hex(new.collection_id) || ' d' || hex(new.document_id));
    END",
    "CREATE TRIGGER document_chunks_fts_delete AFTER DELETE ON document_chunks BEGIN
        INSERT INTO document_chunks_fts (document_chunks_fts, rowid, text, scope)
            VALUES ('delete', old.rowid, old.text, 'c' || hex(old.collection_id) || ' d' || hex(old.document_id));
    END",
    "CREATE TRIGGER document_chunks_fts_update AFTER UPDATE OF text, collection_id, document_id ON document_chunks
    BEGIN
        INSERT INTO document_chunks_fts (document_chunks_fts, rowid, text, scope)
            VALUES ('delete', old.rowid, old.text, 'c' || hex(old.collection_id) || ' d' || hex(old.document_id));
        INSERT INTO document_chunks_fts (rowid, text, scope)
            VALUES (new.rowid, new.text, 'c' || hex(new.collection_id) || ' d' || hex(new.document_id));
    END",
    // The chunks stored before this migration.
    "INSERT INTO document_chunks_fts (document_chunks_fts) VALUES ('rebuild')",
];

/// Migration 000009's index and triggers, as they were.
const DOWN: [&str; 6] = [
    "DROP VIEW IF EXISTS document_chunks_search_source",
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
    "INSERT INTO document_chunks_fts (document_chunks_fts) VALUES ('rebuild')",
];

async fn run(manager: &SchemaManager<'_>, steps: &[&[&str]]) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Sqlite {
        return Ok(());
    }
    // One script, so every statement runs on the same connection: dropped
    // triggers are gone for the `CREATE TRIGGER`s that follow (run one by
    // one on a pool, a `CREATE` once met a connection that still saw the
    // old trigger).
    let script: Vec<&str> = steps.iter().flat_map(|step| step.iter().copied()).collect();
    manager.get_connection().execute_unprepared(&script.join(";\n")).await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, &[&DROP_OLD, &UP]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, &[&DROP_OLD, &DOWN]).await
    }
}
