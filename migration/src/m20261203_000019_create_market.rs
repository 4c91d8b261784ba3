//! Market data (seed 000 §8): `market_outbox`, the durable buffer of
//! accepted ticks on their way to their partition's queue, and
//! `stock_bars`, each symbol's history as one-minute bars.
//!
//! `market_outbox` is the pipeline's, like `outbox_messages`: its rows
//! carry their account inside the payload and are read by the relay only,
//! so it has no row-level security. Its key is a sequence, because the
//! relay publishes a partition's rows in that order.
//!
//! `stock_bars` is the account's (row-level security through
//! `alatar_protect_tenant_table`, migration 000006): one row per symbol and
//! minute with open, high, low, close, volume, Σ price·volume (so any
//! coarser bar's VWAP is exact), the tick count, the first and last tick's
//! times (an upsert folds a batch in only when it starts after the row's
//! last tick, so a redelivered batch is not counted twice) and the
//! indicators as of the bar's last tick.

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
enum MarketOutbox {
    Table,
    Id,
    Partition,
    Payload,
    CreatedAt,
}

#[derive(DeriveIden)]
enum StockBars {
    Table,
    AccountId,
    Symbol,
    StartsAt,
    Open,
    High,
    Low,
    Close,
    Volume,
    PriceVolume,
    Ticks,
    FirstTickAt,
    LastTickAt,
    Sma20,
    Ema12,
    Vwap,
    Volatility,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MarketOutbox::Table)
                    .col(big_pk_auto(MarketOutbox::Id))
                    .col(integer(MarketOutbox::Partition))
                    .col(text(MarketOutbox::Payload))
                    .col(timestamp_with_time_zone(MarketOutbox::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(StockBars::Table)
                    .col(uuid(StockBars::AccountId))
                    .col(string_len(StockBars::Symbol, 32))
                    .col(timestamp_with_time_zone(StockBars::StartsAt))
                    .col(double(StockBars::Open))
                    .col(double(StockBars::High))
                    .col(double(StockBars::Low))
                    .col(double(StockBars::Close))
                    .col(double(StockBars::Volume))
                    .col(double(StockBars::PriceVolume))
                    .col(big_integer(StockBars::Ticks))
                    .col(timestamp_with_time_zone(StockBars::FirstTickAt))
                    .col(timestamp_with_time_zone(StockBars::LastTickAt))
                    .col(double_null(StockBars::Sma20))
                    .col(double_null(StockBars::Ema12))
                    .col(double_null(StockBars::Vwap))
                    .col(double_null(StockBars::Volatility))
                    .primary_key(
                        Index::create().col(StockBars::AccountId).col(StockBars::Symbol).col(StockBars::StartsAt),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(StockBars::Table, StockBars::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("SELECT alatar_protect_tenant_table('stock_bars'::regclass);")
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(StockBars::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(MarketOutbox::Table).to_owned()).await?;
        Ok(())
    }
}
