//! Trained models (seed 001 §5, P17–P21): `ml_models`, one row per model a
//! `TRAINING` job registered: what it predicts from which features, the
//! family that won cross-validation with its metrics, every family's
//! scores, and the fitted model itself as serde JSON text (`artifact`), so
//! any instance predicts with it after a restart.
//!
//! A model goes with its account and with its dataset (foreign keys,
//! `ON DELETE CASCADE`): unlike a job, which keeps its dataset's id after
//! the dataset is deleted, a model holds the dataset's values (a
//! k-nearest-neighbours model is its training rows; trees keep split
//! values), so deleting the dataset must delete them. One model per job
//! (unique `job_id`): a redelivered job cannot register a second.
//!
//! The table holds an `account_id`, so on PostgreSQL it gets row-level
//! security through `alatar_protect_tenant_table` (migration 000006), as
//! every tenant table does.

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
enum Datasets {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum MlModels {
    Table,
    Id,
    AccountId,
    DatasetId,
    DatasetVersion,
    JobId,
    Name,
    ProblemType,
    TargetColumn,
    Features,
    Classes,
    Family,
    Metrics,
    Candidates,
    Artifact,
    RowCount,
    TrainingMs,
    CreatedBy,
    CreatedAt,
}

/// The new tenant table, for row-level security.
const TENANT_TABLES: [&str; 1] = ["ml_models"];

/// A model goes with its account.
fn account_fk() -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(MlModels::Table, MlModels::AccountId)
        .to(Accounts::Table, Accounts::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

/// A model goes with its dataset (see the module documentation).
fn dataset_fk() -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(MlModels::Table, MlModels::DatasetId)
        .to(Datasets::Table, Datasets::Id)
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
                    .table(MlModels::Table)
                    .col(pk_uuid(MlModels::Id))
                    .col(uuid(MlModels::AccountId))
                    .col(uuid(MlModels::DatasetId))
                    .col(integer(MlModels::DatasetVersion))
                    .col(uuid(MlModels::JobId))
                    .col(string_len_null(MlModels::Name, 200))
                    .col(string_len(MlModels::ProblemType, 16))
                    .col(string_len(MlModels::TargetColumn, 255))
                    .col(json(MlModels::Features))
                    .col(json_null(MlModels::Classes))
                    .col(string_len(MlModels::Family, 32))
                    .col(json(MlModels::Metrics))
                    .col(json(MlModels::Candidates))
                    .col(text(MlModels::Artifact))
                    .col(big_integer(MlModels::RowCount))
                    .col(big_integer(MlModels::TrainingMs))
                    .col(uuid(MlModels::CreatedBy))
                    .col(timestamp_with_time_zone(MlModels::CreatedAt))
                    .foreign_key(&mut account_fk())
                    .foreign_key(&mut dataset_fk())
                    .to_owned(),
            )
            .await?;
        // Pages of the account's models (all, or of one dataset); the
        // cascade from a deleted dataset; one model per job.
        manager.create_index(index("idx_ml_models_account", MlModels::Table, &["account_id", "id"])).await?;
        manager
            .create_index(index("idx_ml_models_account_dataset", MlModels::Table, &["account_id", "dataset_id", "id"]))
            .await?;
        manager.create_index(index("idx_ml_models_dataset", MlModels::Table, &["dataset_id"])).await?;
        manager.create_index(index("idx_ml_models_job", MlModels::Table, &["job_id"]).unique().to_owned()).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            let sql: Vec<String> = TENANT_TABLES
                .iter()
                .map(|table| format!("SELECT alatar_protect_tenant_table('{table}'::regclass);"))
                .collect();
            manager.get_connection().execute_unprepared(&sql.join("\n")).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(MlModels::Table).to_owned()).await?;
        Ok(())
    }
}
