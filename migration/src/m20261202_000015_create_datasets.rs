//! Datasets (seed 001 §1, §3): `datasets` (an uploaded file loaded as a
//! queryable table, its columns and its profile; names unique within the
//! account) and `jobs` (long work on the `Datasets` queue: an ingestion,
//! with its status and progress). Both hold an `account_id`, so on
//! PostgreSQL each gets row-level security through
//! `alatar_protect_tenant_table` (migration 000006). A job keeps the id of
//! its dataset after the dataset is deleted (no foreign key), so the
//! account's job history stays readable.
//!
//! The rows themselves live outside these tables: on SQLite one file per
//! dataset under the data directory; on PostgreSQL one table per dataset in
//! the schema `alatar_datasets`, created here with the role
//! `alatar_dataset_reader` (no login, no row of any tenant table: `USAGE`
//! on that schema and `SELECT` on its tables only), which read-only SQL over
//! a dataset runs as. The role is created when the migrating role may
//! (`CREATEROLE`); a deployment without that right creates it once
//! (`CREATE ROLE alatar_dataset_reader NOLOGIN`) and grants it to the login
//! role, as for `alatar_app`.

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
    AccountId,
    Name,
    Format,
    Status,
    Error,
    RowCount,
    ColumnCount,
    ByteSize,
    SourceName,
    Columns,
    Version,
    Profile,
    ProfiledAt,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    AccountId,
    Kind,
    Status,
    Progress,
    Error,
    DatasetId,
    CancelRequested,
    Input,
    CreatedBy,
    CreatedAt,
    StartedAt,
    FinishedAt,
}

/// The new tenant tables, for row-level security.
const TENANT_TABLES: [&str; 2] = ["datasets", "jobs"];

/// The schema of the dataset tables and the role that may only read them.
/// The role is the cluster's (shared by every database in it); the schema
/// is this database's.
const POSTGRES_UP: &str = r#"
CREATE SCHEMA IF NOT EXISTS alatar_datasets;
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'alatar_dataset_reader') THEN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = current_user AND (rolcreaterole OR rolsuper)) THEN
            RAISE EXCEPTION 'the role alatar_dataset_reader is missing and % may not create it: run CREATE ROLE alatar_dataset_reader NOLOGIN; GRANT alatar_dataset_reader TO %; once, then migrate again',
                current_user, current_user;
        END IF;
        -- Migrations of several databases in one cluster may race to create it.
        BEGIN
            CREATE ROLE alatar_dataset_reader NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT NOCREATEDB NOCREATEROLE;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;
    IF NOT pg_has_role(current_user, 'alatar_dataset_reader', 'MEMBER') THEN
        EXECUTE format('GRANT alatar_dataset_reader TO %I', current_user);
    END IF;
END
$$;
GRANT USAGE ON SCHEMA alatar_datasets TO alatar_dataset_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA alatar_datasets GRANT SELECT ON TABLES TO alatar_dataset_reader;
"#;

const POSTGRES_DOWN: &str = r#"
ALTER DEFAULT PRIVILEGES IN SCHEMA alatar_datasets REVOKE SELECT ON TABLES FROM alatar_dataset_reader;
DROP SCHEMA IF EXISTS alatar_datasets CASCADE;
"#;

fn account_fk(table: Datasets) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, Alias::new("account_id"))
        .to(Accounts::Table, Accounts::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn jobs_account_fk() -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(Jobs::Table, Jobs::AccountId)
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
                    .table(Datasets::Table)
                    .col(pk_uuid(Datasets::Id))
                    .col(uuid(Datasets::AccountId))
                    .col(string_len(Datasets::Name, 200))
                    .col(string_len(Datasets::Format, 16))
                    .col(string_len(Datasets::Status, 16))
                    .col(text_null(Datasets::Error))
                    .col(big_integer(Datasets::RowCount))
                    .col(integer(Datasets::ColumnCount))
                    .col(big_integer(Datasets::ByteSize))
                    .col(string_len(Datasets::SourceName, 255))
                    .col(json(Datasets::Columns))
                    .col(integer(Datasets::Version))
                    .col(json_null(Datasets::Profile))
                    .col(timestamp_with_time_zone_null(Datasets::ProfiledAt))
                    .col(uuid(Datasets::CreatedBy))
                    .col(timestamp_with_time_zone(Datasets::CreatedAt))
                    .col(timestamp_with_time_zone(Datasets::UpdatedAt))
                    .foreign_key(&mut account_fk(Datasets::Table))
                    .to_owned(),
            )
            .await?;
        // Names are unique per account (`CONFLICT`); listing pages by id
        // within the account.
        manager
            .create_index(
                index("idx_datasets_account_name", Datasets::Table, &["account_id", "name"]).unique().to_owned(),
            )
            .await?;
        manager.create_index(index("idx_datasets_account", Datasets::Table, &["account_id", "id"])).await?;
        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .col(pk_uuid(Jobs::Id))
                    .col(uuid(Jobs::AccountId))
                    .col(string_len(Jobs::Kind, 16))
                    .col(string_len(Jobs::Status, 16))
                    .col(integer(Jobs::Progress))
                    .col(text_null(Jobs::Error))
                    .col(uuid_null(Jobs::DatasetId))
                    .col(boolean(Jobs::CancelRequested))
                    .col(json_null(Jobs::Input))
                    .col(uuid(Jobs::CreatedBy))
                    .col(timestamp_with_time_zone(Jobs::CreatedAt))
                    .col(timestamp_with_time_zone_null(Jobs::StartedAt))
                    .col(timestamp_with_time_zone_null(Jobs::FinishedAt))
                    .foreign_key(&mut jobs_account_fk())
                    .to_owned(),
            )
            .await?;
        // Pages of the account's jobs (all, or of one status); a dataset's
        // unfinished jobs (a retype waits for none, a deletion cancels
        // them); the worker's resume of every unfinished job.
        manager.create_index(index("idx_jobs_account", Jobs::Table, &["account_id", "id"])).await?;
        manager.create_index(index("idx_jobs_account_status", Jobs::Table, &["account_id", "status", "id"])).await?;
        manager.create_index(index("idx_jobs_dataset", Jobs::Table, &["dataset_id"])).await?;
        manager.create_index(index("idx_jobs_status", Jobs::Table, &["status"])).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            let mut sql: Vec<String> = TENANT_TABLES
                .iter()
                .map(|table| format!("SELECT alatar_protect_tenant_table('{table}'::regclass);"))
                .collect();
            sql.push(POSTGRES_UP.to_owned());
            manager.get_connection().execute_unprepared(&sql.join("\n")).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager.get_connection().execute_unprepared(POSTGRES_DOWN).await?;
        }
        for table in [Jobs::Table.into_iden(), Datasets::Table.into_iden()] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
