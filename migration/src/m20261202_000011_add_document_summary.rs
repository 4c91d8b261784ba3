//! Documents get a summary (`summary`, the `summary_model` that wrote it,
//! `summarized_at`) and `summary_job_id`, the summary job queued for them
//! (null when none waits): a job whose id is no longer there is stale and
//! does nothing, so a redelivered or superseded job never writes twice.
//!
//! And what a privacy erasure did to a document (`redacted_at`,
//! `redaction_note`): Shopify's `customers/redact` removes the chunks that
//! name the customer and the original file, and the merchant sees why.
//!
//! All nullable, so existing rows need nothing. SQLite takes one column per
//! `ALTER TABLE`, hence one statement each on both engines.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Documents {
    Table,
    Summary,
    SummaryModel,
    SummarizedAt,
    SummaryJobId,
    RedactedAt,
    RedactionNote,
}

fn columns() -> [ColumnDef; 6] {
    [
        text_null(Documents::Summary),
        string_len_null(Documents::SummaryModel, 200),
        timestamp_with_time_zone_null(Documents::SummarizedAt),
        uuid_null(Documents::SummaryJobId),
        timestamp_with_time_zone_null(Documents::RedactedAt),
        text_null(Documents::RedactionNote),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for mut column in columns() {
            manager.alter_table(Table::alter().table(Documents::Table).add_column(&mut column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let names = [
            Documents::RedactionNote,
            Documents::RedactedAt,
            Documents::SummaryJobId,
            Documents::SummarizedAt,
            Documents::SummaryModel,
            Documents::Summary,
        ];
        for name in names {
            manager.alter_table(Table::alter().table(Documents::Table).drop_column(name).to_owned()).await?;
        }
        Ok(())
    }
}
