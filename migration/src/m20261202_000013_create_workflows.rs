//! Saved workflows (seed 000 §7): `workflows` (a named DAG of nodes as
//! JSON, unique by name within the account) and, on `analysis_requests`,
//! the workflow a request runs (`workflow_id`, null for a question) and
//! the inputs it was run with (`workflow_inputs`). A run keeps its
//! `workflow_id` when the workflow is deleted (no foreign key: the run's
//! plan holds the definition it ran), so past runs stay readable.
//!
//! `workflows` holds an `account_id`, so on PostgreSQL it gets row-level
//! security through `alatar_protect_tenant_table` (migration 000006).
//! SQLite takes one column per `ALTER TABLE`, hence one statement each.

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
enum Workflows {
    Table,
    Id,
    AccountId,
    Name,
    Description,
    Definition,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AnalysisRequests {
    Table,
    WorkflowId,
    WorkflowInputs,
}

/// A workflow goes with its account.
fn account_fk() -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(Workflows::Table, Workflows::AccountId)
        .to(Accounts::Table, Accounts::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn index<T: IntoIden + 'static>(name: &str, table: T, columns: &[&str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for column in columns {
        index.col(Alias::new(*column));
    }
    index.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Workflows::Table)
                    .col(pk_uuid(Workflows::Id))
                    .col(uuid(Workflows::AccountId))
                    .col(string_len(Workflows::Name, 200))
                    .col(text_null(Workflows::Description))
                    .col(json(Workflows::Definition))
                    .col(uuid(Workflows::CreatedBy))
                    .col(timestamp_with_time_zone(Workflows::CreatedAt))
                    .col(timestamp_with_time_zone(Workflows::UpdatedAt))
                    .foreign_key(&mut account_fk())
                    .to_owned(),
            )
            .await?;
        // Names are unique per account (`CONFLICT`); listing pages by id
        // within the account.
        manager
            .create_index(
                index("idx_workflows_account_name", Workflows::Table, &["account_id", "name"]).unique().to_owned(),
            )
            .await?;
        manager.create_index(index("idx_workflows_account", Workflows::Table, &["account_id", "id"])).await?;
        for mut column in [uuid_null(AnalysisRequests::WorkflowId), json_null(AnalysisRequests::WorkflowInputs)] {
            manager
                .alter_table(Table::alter().table(AnalysisRequests::Table).add_column(&mut column).to_owned())
                .await?;
        }
        // A workflow's runs, newest first (`Workflow.runs`).
        manager
            .create_index(index("idx_analysis_requests_workflow", AnalysisRequests::Table, &["workflow_id", "id"]))
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("SELECT alatar_protect_tenant_table('workflows'::regclass);")
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("idx_analysis_requests_workflow").table(AnalysisRequests::Table).to_owned())
            .await?;
        for name in [AnalysisRequests::WorkflowInputs, AnalysisRequests::WorkflowId] {
            manager.alter_table(Table::alter().table(AnalysisRequests::Table).drop_column(name).to_owned()).await?;
        }
        manager.drop_table(Table::drop().table(Workflows::Table).to_owned()).await?;
        Ok(())
    }
}
