//! Market data: `ingestTicks`, `stockIndicators`, `stockSymbols`,
//! `stockHistory` and the `stockUpdates` subscription.

use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject, Subscription};
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::{Stream, StreamExt};

use alatar_agents::market::history::{HistoryBar, Interval};
use alatar_agents::market::indicators::IndicatorSet;
use alatar_agents::market::tick::TickInput as AgentTick;

use crate::context::ContextExt;
use crate::service::market as service;

/// One trade.
#[derive(InputObject)]
pub struct TickInput {
    /// Ticker, case-insensitive (`AAPL`, `BRK.B`, `^GSPC`, `BTC-USD`).
    pub symbol: String,
    /// Price, above zero.
    pub price: f64,
    /// Volume, zero or more.
    pub volume: f64,
    /// When it traded; at most `market.max_future_secs` ahead of the server.
    pub time: DateTime<Utc>,
}

/// What `ingestTicks` accepted. Accepted ticks are durable: they reach
/// the indicators even if the broker is down when they arrive.
#[derive(SimpleObject)]
pub struct TickIngestion {
    /// Ticks accepted (the whole batch).
    pub accepted: i32,
    /// Their symbols, sorted.
    pub symbols: Vec<String>,
    /// The partitions they went to.
    pub partitions: Vec<i32>,
}

/// A symbol's indicators after its latest tick (seed 000 P30–P32).
pub struct StockIndicators(pub IndicatorSet);

#[Object]
impl StockIndicators {
    /// Upper-case symbol.
    async fn symbol(&self) -> &str {
        &self.0.symbol
    }
    /// The last price.
    async fn price(&self) -> f64 {
        self.0.price
    }
    /// The last tick's volume.
    async fn volume(&self) -> f64 {
        self.0.volume
    }
    /// Mean of the last 20 prices; null until there are 20.
    async fn sma20(&self) -> Option<f64> {
        self.0.sma20
    }
    /// EMA over 12 prices (α = 2/13), seeded with the mean of the first
    /// 12; null until there are 12.
    async fn ema12(&self) -> Option<f64> {
        self.0.ema12
    }
    /// Σ price·volume / Σ volume over this session's ticks; null while the
    /// session has no volume.
    async fn vwap(&self) -> Option<f64> {
        self.0.vwap
    }
    /// Standard deviation of the last 20 log returns, annualised by
    /// calendar time; null until there are 2 returns.
    async fn volatility(&self) -> Option<f64> {
        self.0.volatility
    }
    /// The trading session (a day in `market.session_time_zone`) VWAP covers.
    async fn session(&self) -> NaiveDate {
        self.0.session
    }
    /// The session's volume so far.
    async fn session_volume(&self) -> f64 {
        self.0.session_volume
    }
    /// Ticks applied to the symbol so far.
    async fn ticks(&self) -> i64 {
        i64::try_from(self.0.ticks).unwrap_or(i64::MAX)
    }
    /// The time of the tick these are as of.
    async fn as_of(&self) -> DateTime<Utc> {
        self.0.as_of
    }
}

/// How wide a history bar is.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "alatar_agents::market::history::Interval")]
pub enum BarInterval {
    /// One minute.
    Minute,
    /// Five minutes (aligned to :00, :05, … UTC).
    FiveMinutes,
    /// Fifteen minutes.
    FifteenMinutes,
    /// One hour.
    Hour,
    /// One trading session (a calendar day in `market.session_time_zone`).
    Day,
}

/// One bar of a symbol's history.
pub struct StockBar(pub HistoryBar);

#[Object]
impl StockBar {
    /// When the bar starts.
    async fn starts_at(&self) -> DateTime<Utc> {
        self.0.starts_at
    }
    /// First price.
    async fn open(&self) -> f64 {
        self.0.open
    }
    /// Highest price.
    async fn high(&self) -> f64 {
        self.0.high
    }
    /// Lowest price.
    async fn low(&self) -> f64 {
        self.0.low
    }
    /// Last price.
    async fn close(&self) -> f64 {
        self.0.close
    }
    /// Σ volume.
    async fn volume(&self) -> f64 {
        self.0.volume
    }
    /// The bar's own VWAP; null when it traded no volume.
    async fn vwap(&self) -> Option<f64> {
        self.0.vwap
    }
    /// Ticks in it.
    async fn ticks(&self) -> i64 {
        self.0.ticks
    }
    /// SMA(20) after its last tick.
    async fn sma20(&self) -> Option<f64> {
        self.0.sma20
    }
    /// EMA(12) after its last tick.
    async fn ema12(&self) -> Option<f64> {
        self.0.ema12
    }
    /// Annualised volatility after its last tick.
    async fn volatility(&self) -> Option<f64> {
        self.0.volatility
    }
}

/// Market queries.
#[derive(Default)]
pub struct MarketQuery;

#[Object]
impl MarketQuery {
    /// The latest indicators of `symbol` (null when it has no ticks).
    async fn stock_indicators(&self, ctx: &Context<'_>, symbol: String) -> Result<Option<StockIndicators>> {
        let found = service::indicators(&ctx.state().pipeline, ctx.scope()?, &symbol).await?;
        Ok(found.map(StockIndicators))
    }

    /// The account's symbols, sorted.
    async fn stock_symbols(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        Ok(service::symbols(&ctx.state().pipeline, ctx.scope()?).await?)
    }

    /// `symbol`'s bars of `interval` from `from` (inclusive) to `to`
    /// (exclusive), oldest first; at most 5,000 bars. `interval` is
    /// `MINUTE` when absent or null.
    async fn stock_history(
        &self,
        ctx: &Context<'_>,
        symbol: String,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        interval: Option<BarInterval>,
    ) -> Result<Vec<StockBar>> {
        let interval = interval.map_or(Interval::Minute, Interval::from);
        let bars = service::stock_history(&ctx.state().pipeline, ctx.scope()?, &symbol, from, to, interval).await?;
        Ok(bars.into_iter().map(StockBar).collect())
    }
}

/// Market mutations.
#[derive(Default)]
pub struct MarketMutation;

#[Object]
impl MarketMutation {
    /// Sends a batch of ticks (at most `market.max_batch`), taken whole or
    /// refused whole: a bad entry is `BAD_USER_INPUT` naming its index and
    /// field (`ticks[3].price: …`). Ticks are applied per symbol in time
    /// order; one at the time of the symbol's last applied tick is a
    /// duplicate and one before it is late, and both are dropped.
    async fn ingest_ticks(&self, ctx: &Context<'_>, ticks: Vec<TickInput>) -> Result<TickIngestion> {
        let viewer = ctx.viewer()?;
        let ticks = ticks
            .into_iter()
            .map(|t| AgentTick { symbol: t.symbol, price: t.price, volume: t.volume, time: t.time })
            .collect();
        let accepted = service::ingest_ticks(&ctx.state().pipeline, ctx.scope()?, viewer, ticks).await?;
        Ok(TickIngestion {
            accepted: i32::try_from(accepted.ticks).unwrap_or(i32::MAX),
            symbols: accepted.symbols,
            partitions: accepted.partitions.into_iter().map(i32::from).collect(),
        })
    }
}

/// Market subscriptions.
#[derive(Default)]
pub struct MarketSubscription;

#[Subscription]
impl MarketSubscription {
    /// Each new indicator set of `symbols` (1 to 50), one per symbol and
    /// applied batch, as the partitions' consumers publish them.
    async fn stock_updates(
        &self,
        ctx: &Context<'_>,
        symbols: Vec<String>,
    ) -> Result<impl Stream<Item = Result<StockIndicators>> + use<>> {
        let scope = ctx.scope()?;
        let symbols = service::subscribed_symbols(&symbols)?;
        let pipeline = ctx.state().pipeline.clone();
        Ok(service::stock_updates(pipeline, scope, symbols)
            .map(|item| item.map(StockIndicators).map_err(async_graphql::Error::from)))
    }
}
