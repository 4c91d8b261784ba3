//! The code graph of an analysed repository (seed 003): `code_nodes`
//! (files, modules, types and functions with their qualified names, spans,
//! signatures and source) and `code_edges` (`CONTAINS`, `IMPORTS`, `CALLS`,
//! `INHERITS`, `IMPLEMENTS`; `to_node` null when the target could not be
//! resolved within the repository), both owned by the account (row-level
//! security) and deleted with their analysis.
//!
//! The nodes' text is searched through the Knowledge index, not a second
//! one: each analysis gets a collection of its own (`collections.
//! repository_id`, deleted with the analysis, hidden from the merchant's
//! document collections) whose chunks are the nodes' text, so full text
//! and vectors come from the same tables, engines and retrievers as
//! documents'. `code_nodes.chunk_id` ties a node to its chunk.

use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum RepositoryAnalyses {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum CodeNodes {
    Table,
    Id,
    AccountId,
    RepositoryId,
    ChunkId,
    Kind,
    Name,
    QualifiedName,
    Path,
    Language,
    StartLine,
    EndLine,
    Signature,
    Doc,
    Source,
}

#[derive(DeriveIden)]
enum CodeEdges {
    Table,
    Id,
    AccountId,
    RepositoryId,
    FromNode,
    ToNode,
    Kind,
    Target,
    Line,
}

const POSTGRES_COLLECTION: &str = r#"ALTER TABLE "collections" ADD COLUMN "repository_id" uuid NULL
    REFERENCES "repository_analyses" ("id") ON DELETE CASCADE"#;
const SQLITE_COLLECTION: &str = r#"ALTER TABLE "collections" ADD COLUMN "repository_id" uuid_text NULL
    REFERENCES "repository_analyses" ("id") ON DELETE CASCADE"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CodeNodes::Table)
                    .col(pk_uuid(CodeNodes::Id))
                    .col(uuid(CodeNodes::AccountId))
                    .col(uuid(CodeNodes::RepositoryId))
                    .col(uuid_null(CodeNodes::ChunkId))
                    .col(string_len(CodeNodes::Kind, 16))
                    .col(text(CodeNodes::Name))
                    .col(text(CodeNodes::QualifiedName))
                    .col(text(CodeNodes::Path))
                    .col(string_len(CodeNodes::Language, 32))
                    .col(integer(CodeNodes::StartLine))
                    .col(integer(CodeNodes::EndLine))
                    .col(text_null(CodeNodes::Signature))
                    .col(text_null(CodeNodes::Doc))
                    .col(text_null(CodeNodes::Source))
                    .foreign_key(
                        ForeignKey::create()
                            .from(CodeNodes::Table, CodeNodes::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(CodeNodes::Table, CodeNodes::RepositoryId)
                            .to(RepositoryAnalyses::Table, RepositoryAnalyses::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in
            [("code_nodes_repository_name", CodeNodes::Name), ("code_nodes_chunk", CodeNodes::ChunkId)]
        {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(CodeNodes::Table)
                        .col(CodeNodes::RepositoryId)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(CodeEdges::Table)
                    .col(big_pk_auto(CodeEdges::Id))
                    .col(uuid(CodeEdges::AccountId))
                    .col(uuid(CodeEdges::RepositoryId))
                    .col(uuid(CodeEdges::FromNode))
                    .col(uuid_null(CodeEdges::ToNode))
                    .col(string_len(CodeEdges::Kind, 16))
                    .col(text(CodeEdges::Target))
                    .col(integer(CodeEdges::Line))
                    .foreign_key(
                        ForeignKey::create()
                            .from(CodeEdges::Table, CodeEdges::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(CodeEdges::Table, CodeEdges::RepositoryId)
                            .to(RepositoryAnalyses::Table, RepositoryAnalyses::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [("code_edges_from", CodeEdges::FromNode), ("code_edges_to", CodeEdges::ToNode)] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(CodeEdges::Table)
                        .col(CodeEdges::RepositoryId)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        if manager.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared(POSTGRES_COLLECTION).await?;
            // `REPOSITORY_ANALYSIS` is longer than the 16 characters the
            // first job kinds needed (SQLite does not enforce the length).
            db.execute_unprepared(r#"ALTER TABLE "jobs" ALTER COLUMN "kind" TYPE varchar(32)"#).await?;
            db.execute_unprepared("SELECT alatar_protect_tenant_table('code_nodes'::regclass);").await?;
            db.execute_unprepared("SELECT alatar_protect_tenant_table('code_edges'::regclass);").await?;
        } else {
            db.execute_unprepared(SQLITE_COLLECTION).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(CodeEdges::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(CodeNodes::Table).to_owned()).await?;
        manager.get_connection().execute_unprepared(r#"ALTER TABLE "collections" DROP COLUMN "repository_id""#).await?;
        Ok(())
    }
}
