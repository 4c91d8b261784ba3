//! `stock_bars`: a symbol's history, one row per minute (seed 000 P31),
//! written by its partition's consumer, read by `stockHistory` and the
//! `stocks.history` tool (which fold minutes into coarser bars).

use sea_orm::entity::prelude::*;

/// One symbol's trading in one minute, and its indicators at the close.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "stock_bars")]
pub struct Model {
    /// Owning account (tenant).
    #[sea_orm(primary_key, auto_increment = false)]
    pub account_id: Uuid,
    /// Upper-case symbol.
    #[sea_orm(primary_key, auto_increment = false)]
    pub symbol: String,
    /// The minute's start (UTC, whole minute).
    #[sea_orm(primary_key, auto_increment = false)]
    pub starts_at: ChronoDateTimeUtc,
    /// First price of the minute.
    pub open: f64,
    /// Highest price.
    pub high: f64,
    /// Lowest price.
    pub low: f64,
    /// Last price.
    pub close: f64,
    /// Σ volume.
    pub volume: f64,
    /// Σ price·volume: a coarser bar's VWAP is Σ of these over Σ volume.
    pub price_volume: f64,
    /// Ticks folded in.
    pub ticks: i64,
    /// The first tick's time.
    pub first_tick_at: ChronoDateTimeUtc,
    /// The last tick's time; a batch starting at or before it is not
    /// folded in again.
    pub last_tick_at: ChronoDateTimeUtc,
    /// SMA(20) at the last tick.
    pub sma20: Option<f64>,
    /// EMA(12) at the last tick.
    pub ema12: Option<f64>,
    /// The session's VWAP at the last tick.
    pub vwap: Option<f64>,
    /// Annualised volatility at the last tick.
    pub volatility: Option<f64>,
}

/// Relations are expressed by foreign keys in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl crate::TenantOwned for Entity {
    fn account_column() -> Self::Column {
        Column::AccountId
    }
}
