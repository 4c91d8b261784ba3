//! Datasets get their latest insights (seed 001 §6): `insights`, the JSON
//! an `INSIGHTS` job computed (anomalies, trends, recommendations, a
//! summary, each figure with its statement; it names the dataset version
//! it describes), and `insights_at`, when. Kept on the dataset rather than
//! on the job: `Dataset.insights` reads its own row, and a dataset has one
//! current answer, replaced by the next run.
//!
//! Both nullable, so existing rows need nothing (null: never computed).
//! SQLite takes one column per `ALTER TABLE`, hence one statement each on
//! both engines. The table's row-level security (migration 000015) covers
//! new columns as it does the rest of the row.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Datasets {
    Table,
    Insights,
    InsightsAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for mut column in [json_null(Datasets::Insights), timestamp_with_time_zone_null(Datasets::InsightsAt)] {
            manager.alter_table(Table::alter().table(Datasets::Table).add_column(&mut column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [Datasets::InsightsAt, Datasets::Insights] {
            manager.alter_table(Table::alter().table(Datasets::Table).drop_column(name).to_owned()).await?;
        }
        Ok(())
    }
}
