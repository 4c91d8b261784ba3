//! Repository analyses (seed 000 §9, P40–P45): `repository_analyses`, one
//! row per `analyzeRepository`, run as a `REPOSITORY_ANALYSIS` job (the
//! `jobs` table's, migration 000015), holding what the analysis found
//! (the report as JSON), the generated README and the licence
//! recommendation, so both stay retrievable (P45). The account owns it
//! (row-level security through `alatar_protect_tenant_table`).

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
    AccountId,
    JobId,
    Url,
    Reference,
    Goal,
    CommitSha,
    Report,
    Readme,
    Licence,
    Error,
    CreatedBy,
    CreatedAt,
    CompletedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RepositoryAnalyses::Table)
                    .col(pk_uuid(RepositoryAnalyses::Id))
                    .col(uuid(RepositoryAnalyses::AccountId))
                    .col(uuid(RepositoryAnalyses::JobId))
                    .col(text(RepositoryAnalyses::Url))
                    .col(string_len_null(RepositoryAnalyses::Reference, 200))
                    .col(string_len_null(RepositoryAnalyses::Goal, 32))
                    .col(string_len_null(RepositoryAnalyses::CommitSha, 64))
                    .col(json_null(RepositoryAnalyses::Report))
                    .col(text_null(RepositoryAnalyses::Readme))
                    .col(json_null(RepositoryAnalyses::Licence))
                    .col(text_null(RepositoryAnalyses::Error))
                    .col(uuid(RepositoryAnalyses::CreatedBy))
                    .col(timestamp_with_time_zone(RepositoryAnalyses::CreatedAt))
                    .col(timestamp_with_time_zone_null(RepositoryAnalyses::CompletedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(RepositoryAnalyses::Table, RepositoryAnalyses::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("repository_analyses_account_created")
                    .table(RepositoryAnalyses::Table)
                    .col(RepositoryAnalyses::AccountId)
                    .col(RepositoryAnalyses::CreatedAt)
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("SELECT alatar_protect_tenant_table('repository_analyses'::regclass);")
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(RepositoryAnalyses::Table).to_owned()).await?;
        Ok(())
    }
}
