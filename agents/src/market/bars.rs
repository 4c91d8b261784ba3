//! One-minute bars: a batch's applied ticks folded per symbol and minute,
//! then merged into `stock_bars` by one upsert per batch.
//!
//! The merge keeps the row's open, takes the higher high and the lower
//! low, the new close and indicators, and adds volume, Σ price·volume and
//! the tick count, but only when the batch's first tick in that minute is
//! after the row's last (`WHERE stock_bars.last_tick_at <
//! excluded.first_tick_at`): a batch delivered again after its bars were
//! written but before its states were saved re-applies its ticks to the
//! old states, and must not count them twice here.

use std::collections::BTreeMap;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};
use uuid::Uuid;

use alatar_entity::{AccountScope, ScopeSession};

use super::indicators::IndicatorSet;
use super::tick::Tick;

/// Bars per statement (16 values each, well under either engine's cap on
/// bound parameters).
const ROWS_PER_STATEMENT: usize = 500;

/// One symbol's minute, as folded from a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Upper-case symbol.
    pub symbol: String,
    /// The minute's start.
    pub starts_at: DateTime<Utc>,
    /// First price.
    pub open: f64,
    /// Highest price.
    pub high: f64,
    /// Lowest price.
    pub low: f64,
    /// Last price.
    pub close: f64,
    /// Σ volume.
    pub volume: f64,
    /// Σ price·volume.
    pub price_volume: f64,
    /// Ticks.
    pub ticks: i64,
    /// First tick's time.
    pub first_tick_at: DateTime<Utc>,
    /// Last tick's time.
    pub last_tick_at: DateTime<Utc>,
    /// Indicators after the last tick.
    pub indicators: Option<IndicatorSet>,
}

/// The minute `time` falls in.
pub fn minute_of(time: DateTime<Utc>) -> DateTime<Utc> {
    time.duration_trunc(TimeDelta::minutes(1)).unwrap_or(time)
}

/// Folds applied ticks into bars.
#[derive(Debug, Default)]
pub struct Folder {
    bars: BTreeMap<(String, DateTime<Utc>), Bar>,
}

impl Folder {
    /// Folds in `tick`, after which the symbol's indicators are `after`.
    pub fn fold(&mut self, tick: &Tick, after: Option<IndicatorSet>) {
        let starts_at = minute_of(tick.time);
        let bar = self.bars.entry((tick.symbol.clone(), starts_at)).or_insert_with(|| Bar {
            symbol: tick.symbol.clone(),
            starts_at,
            open: tick.price,
            high: tick.price,
            low: tick.price,
            close: tick.price,
            volume: 0.0,
            price_volume: 0.0,
            ticks: 0,
            first_tick_at: tick.time,
            last_tick_at: tick.time,
            indicators: None,
        });
        bar.high = bar.high.max(tick.price);
        bar.low = bar.low.min(tick.price);
        bar.close = tick.price;
        bar.volume += tick.volume;
        bar.price_volume += tick.price * tick.volume;
        bar.ticks += 1;
        bar.last_tick_at = tick.time;
        bar.indicators = after;
    }

    /// The bars folded, by symbol and minute.
    pub fn finish(self) -> Vec<Bar> {
        self.bars.into_values().collect()
    }
}

/// Merges `bars` of `scope`'s account into `stock_bars`.
pub async fn merge<C: ScopeSession>(db: &C, scope: AccountScope, bars: &[Bar]) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    for chunk in bars.chunks(ROWS_PER_STATEMENT) {
        db_run(db, scope, statement(backend, scope.account_id(), chunk)).await?;
    }
    Ok(())
}

async fn db_run<C: ScopeSession>(db: &C, scope: AccountScope, statement: Statement) -> Result<(), DbErr> {
    scope.on(db).execute_raw(statement).await.map(|_| ())
}

fn statement(backend: DbBackend, account_id: Uuid, bars: &[Bar]) -> Statement {
    let (greatest, least) = match backend {
        DbBackend::Postgres => ("GREATEST", "LEAST"),
        _ => ("max", "min"),
    };
    let mut values: Vec<Value> = Vec::with_capacity(bars.len() * 16);
    let mut rows = Vec::with_capacity(bars.len());
    for bar in bars {
        let at = values.len();
        let placeholders: Vec<String> = (1..=16)
            .map(|i| match backend {
                DbBackend::Postgres => format!("${}", at + i),
                _ => "?".to_owned(),
            })
            .collect();
        rows.push(format!("({})", placeholders.join(", ")));
        let set = bar.indicators.as_ref();
        values.extend([
            account_id.into(),
            bar.symbol.clone().into(),
            bar.starts_at.into(),
            bar.open.into(),
            bar.high.into(),
            bar.low.into(),
            bar.close.into(),
            bar.volume.into(),
            bar.price_volume.into(),
            bar.ticks.into(),
            bar.first_tick_at.into(),
            bar.last_tick_at.into(),
            set.and_then(|s| s.sma20).into(),
            set.and_then(|s| s.ema12).into(),
            set.and_then(|s| s.vwap).into(),
            set.and_then(|s| s.volatility).into(),
        ]);
    }
    let sql = format!(
        "INSERT INTO stock_bars (account_id, symbol, starts_at, open, high, low, close, volume, price_volume, \
         ticks, first_tick_at, last_tick_at, sma20, ema12, vwap, volatility) VALUES {} \
         ON CONFLICT (account_id, symbol, starts_at) DO UPDATE SET \
         high = {greatest}(stock_bars.high, excluded.high), low = {least}(stock_bars.low, excluded.low), \
         close = excluded.close, volume = stock_bars.volume + excluded.volume, \
         price_volume = stock_bars.price_volume + excluded.price_volume, ticks = stock_bars.ticks + excluded.ticks, \
         last_tick_at = excluded.last_tick_at, sma20 = excluded.sma20, ema12 = excluded.ema12, \
         vwap = excluded.vwap, volatility = excluded.volatility \
         WHERE stock_bars.last_tick_at < excluded.first_tick_at",
        rows.join(", ")
    );
    Statement::from_sql_and_values(backend, sql, values)
}
