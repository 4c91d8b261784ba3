//! Dashboards (seed 001 §7, P31–P34): `dashboards` (a name and a grid
//! layout), `visualizations` (a chart on a dashboard: its type, where its
//! data comes from and where it sits), `dashboard_shares` (public
//! read-only links, by the SHA-256 of their token) and `dashboard_exports`
//! (PNG and PDF files made for download, until they expire).
//!
//! A visualization's `dataset_id` and `analysis_request_id` have no
//! foreign key on purpose: deleting a dataset must not delete the charts
//! that showed it, which the dashboard then reports as broken (issue 15).
//! Everything else goes with its dashboard, and dashboards with their
//! account (`ON DELETE CASCADE`).
//!
//! Every table holds an `account_id`, so on PostgreSQL each gets row-level
//! security through `alatar_protect_tenant_table` (migration 000006).

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
enum Dashboards {
    Table,
    Id,
    AccountId,
    Name,
    Layout,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Visualizations {
    Table,
    Id,
    AccountId,
    DashboardId,
    Title,
    ChartType,
    DatasetId,
    AnalysisRequestId,
    Sql,
    Spec,
    Encoding,
    Position,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DashboardShares {
    Table,
    Id,
    AccountId,
    DashboardId,
    TokenHash,
    CreatedBy,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum DashboardExports {
    Table,
    Id,
    AccountId,
    DashboardId,
    Format,
    Bytes,
    Path,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
}

/// The new tenant tables, for row-level security.
const TENANT_TABLES: [&str; 4] = ["dashboards", "visualizations", "dashboard_shares", "dashboard_exports"];

/// `from.column` goes with the row of `to` it names.
fn cascade<F: IntoIden + 'static, T: IntoIden + 'static>(
    from: F,
    column: impl IntoIden + 'static,
    to: T,
    to_column: impl IntoIden + 'static,
) -> ForeignKeyCreateStatement {
    ForeignKey::create().from(from, column).to(to, to_column).on_delete(ForeignKeyAction::Cascade).to_owned()
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
                    .table(Dashboards::Table)
                    .col(pk_uuid(Dashboards::Id))
                    .col(uuid(Dashboards::AccountId))
                    .col(string_len(Dashboards::Name, 200))
                    .col(json(Dashboards::Layout))
                    .col(uuid(Dashboards::CreatedBy))
                    .col(timestamp_with_time_zone(Dashboards::CreatedAt))
                    .col(timestamp_with_time_zone(Dashboards::UpdatedAt))
                    .foreign_key(&mut cascade(Dashboards::Table, Dashboards::AccountId, Accounts::Table, Accounts::Id))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Visualizations::Table)
                    .col(pk_uuid(Visualizations::Id))
                    .col(uuid(Visualizations::AccountId))
                    .col(uuid(Visualizations::DashboardId))
                    .col(string_len(Visualizations::Title, 200))
                    .col(string_len(Visualizations::ChartType, 16))
                    .col(uuid_null(Visualizations::DatasetId))
                    .col(uuid_null(Visualizations::AnalysisRequestId))
                    .col(text_null(Visualizations::Sql))
                    .col(json_null(Visualizations::Spec))
                    .col(json(Visualizations::Encoding))
                    .col(json(Visualizations::Position))
                    .col(timestamp_with_time_zone(Visualizations::CreatedAt))
                    .col(timestamp_with_time_zone(Visualizations::UpdatedAt))
                    .foreign_key(&mut cascade(
                        Visualizations::Table,
                        Visualizations::AccountId,
                        Accounts::Table,
                        Accounts::Id,
                    ))
                    .foreign_key(&mut cascade(
                        Visualizations::Table,
                        Visualizations::DashboardId,
                        Dashboards::Table,
                        Dashboards::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DashboardShares::Table)
                    .col(pk_uuid(DashboardShares::Id))
                    .col(uuid(DashboardShares::AccountId))
                    .col(uuid(DashboardShares::DashboardId))
                    .col(string_len(DashboardShares::TokenHash, 64))
                    .col(uuid(DashboardShares::CreatedBy))
                    .col(timestamp_with_time_zone(DashboardShares::CreatedAt))
                    .col(timestamp_with_time_zone_null(DashboardShares::RevokedAt))
                    .foreign_key(&mut cascade(
                        DashboardShares::Table,
                        DashboardShares::AccountId,
                        Accounts::Table,
                        Accounts::Id,
                    ))
                    .foreign_key(&mut cascade(
                        DashboardShares::Table,
                        DashboardShares::DashboardId,
                        Dashboards::Table,
                        Dashboards::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DashboardExports::Table)
                    .col(pk_uuid(DashboardExports::Id))
                    .col(uuid(DashboardExports::AccountId))
                    .col(uuid(DashboardExports::DashboardId))
                    .col(string_len(DashboardExports::Format, 8))
                    .col(big_integer(DashboardExports::Bytes))
                    .col(text(DashboardExports::Path))
                    .col(uuid(DashboardExports::CreatedBy))
                    .col(timestamp_with_time_zone(DashboardExports::CreatedAt))
                    .col(timestamp_with_time_zone(DashboardExports::ExpiresAt))
                    .foreign_key(&mut cascade(
                        DashboardExports::Table,
                        DashboardExports::AccountId,
                        Accounts::Table,
                        Accounts::Id,
                    ))
                    .foreign_key(&mut cascade(
                        DashboardExports::Table,
                        DashboardExports::DashboardId,
                        Dashboards::Table,
                        Dashboards::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        // Pages of the account's dashboards; a dashboard's charts, shares
        // and exports (and their cascades); the charts showing a dataset;
        // a share by its token's hash (unique: one row answers a link).
        manager.create_index(index("idx_dashboards_account", Dashboards::Table, &["account_id", "id"])).await?;
        manager
            .create_index(index("idx_visualizations_dashboard", Visualizations::Table, &["dashboard_id", "id"]))
            .await?;
        manager
            .create_index(index("idx_visualizations_dataset", Visualizations::Table, &["account_id", "dataset_id"]))
            .await?;
        manager
            .create_index(
                index("idx_dashboard_shares_token", DashboardShares::Table, &["token_hash"]).unique().to_owned(),
            )
            .await?;
        manager
            .create_index(index("idx_dashboard_shares_dashboard", DashboardShares::Table, &["dashboard_id"]))
            .await?;
        manager
            .create_index(index("idx_dashboard_exports_dashboard", DashboardExports::Table, &["dashboard_id"]))
            .await?;
        manager
            .create_index(index("idx_dashboard_exports_expiry", DashboardExports::Table, &["account_id", "expires_at"]))
            .await?;
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
        for table in [
            DashboardExports::Table.into_iden(),
            DashboardShares::Table.into_iden(),
            Visualizations::Table.into_iden(),
            Dashboards::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
