//! Per-symbol stock indicators, updated in O(1) per tick: a
//! [`SymbolState`] takes a symbol's ticks one by one and gives its
//! [`IndicatorSet`] after each. The state serialises, and is stored beside
//! the latest set, so whichever consumer takes a partition over continues
//! every symbol's indicators exactly where they were.
//!
//! Order: ticks are applied in time order, per symbol. A tick at the same
//! instant as the last applied one is [`Applied::Duplicate`] (the first
//! accepted wins), one before it [`Applied::Late`]; neither changes
//! anything, and the caller counts them. The caller orders each batch by
//! time before applying it, so only ticks older than what was already
//! applied are late.
//!
//! The indicators, after each applied tick:
//! - `sma20`: the arithmetic mean of the last 20 prices ([`SMA_WINDOW`]);
//!   none before the 20th.
//! - `ema12`: the exponential moving average with α = 2 / (12 + 1)
//!   ([`EMA_PERIOD`]), seeded the usual way: none before the 12th price,
//!   which sets it to the mean of the first 12; each later price p makes it
//!   α·p + (1 − α)·ema. It runs across sessions (no reset).
//! - `vwap`: Σ price·volume / Σ volume over the ticks of the current
//!   trading session, the date the caller computes in the market's time
//!   zone; a tick of another session starts the sums afresh before it is
//!   added. None while the session's volume is 0 (quotes without trades).
//!   `sessionVolume` is that Σ volume.
//! - `volatility`: the sample standard deviation (divisor n − 1) of the
//!   last up to 20 log returns ln(pₜ / pₜ₋₁) between consecutive applied
//!   ticks ([`VOLATILITY_WINDOW`]; across sessions), annualised by calendar
//!   time: σ · √([`SECONDS_PER_YEAR`] / Δ̄), where Δ̄ is the mean time, in
//!   seconds, between the ticks of those returns (their intervals' sum,
//!   kept in whole microseconds, over their count). None below two returns
//!   (three ticks); the window grows to 20 returns, then slides. None too
//!   if Δ̄ is 0, which only ticks under a microsecond apart can give.
//!
//! Numerics, each checked against a from-scratch computation after every
//! tick by the property tests:
//! - SMA: a running sum of the window, recomputed from its 20 prices each
//!   time the window has turned over (every 20 evictions; amortised O(1)).
//!   Rounding so never builds up beyond one window's 40 additions, however
//!   many ticks come: the error stays within about 40 ε (ε = 2⁻⁵²) of the
//!   largest window sum since the recomputation, around 10⁻¹⁴ of the mean
//!   unless prices move by orders of magnitude within 20 ticks. Chosen over
//!   compensated summation for being simpler with a bound that holds
//!   outright.
//! - VWAP: both sums compensated (Neumaier), because a session may have
//!   millions of ticks: a compensated sum of values ≥ 0 stays within a few
//!   ε of the exact one whatever their count, where plain summation's
//!   bound grows as n·ε.
//! - Volatility: Welford's update of the mean and M2 = Σ (r − mean)²
//!   (adding a return while the window grows, replacing the oldest once it
//!   is full), M2 clamped at 0, and both recomputed exactly (two passes)
//!   from the window every 20 updates, which bounds drift, and also
//!   whenever M2 falls below 1/1024 of its largest value since the last
//!   recomputation: that fall is cancellation (a large return leaving the
//!   window), and M2's rounding error, relative to the largest value,
//!   would otherwise dominate what is left. The intervals' sum is integer
//!   and exact. A log return is taken as ln of the ratio of the prices,
//!   exact to about an ε of the return; for prices so far apart that the
//!   ratio overflows or underflows, as the difference of their logarithms.
//! - Every number in the state stays finite, so it always serialises (JSON
//!   has no infinity): sums saturate at `f64::MAX`, which only absurd
//!   magnitudes reach (prices near 10³⁰⁷, price·volume beyond 10³⁰⁸).
//!
//! Cost: O(1) amortised per tick (a recomputation is one pass over at most
//! 20 values), and no allocation once the windows are full.

mod window;

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use self::window::{Prices, Returns, Sum};
use super::tick::Tick;

/// Prices in the simple moving average.
pub const SMA_WINDOW: usize = 20;
/// The exponential moving average's period: α = 2 / (period + 1).
pub const EMA_PERIOD: usize = 12;
/// Log returns in the volatility's window.
pub const VOLATILITY_WINDOW: usize = 20;
/// Seconds in a (calendar) year, for annualising volatility.
pub const SECONDS_PER_YEAR: f64 = 365.25 * 86_400.0;

/// The EMA's smoothing factor.
const ALPHA: f64 = 2.0 / (EMA_PERIOD as f64 + 1.0);

/// What applying one tick did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// It was the newest: the indicators include it.
    Updated,
    /// At the same time as the last applied tick: ignored.
    Duplicate,
    /// Before the last applied tick: ignored.
    Late,
}

/// The indicators of one symbol after its latest applied tick (see the
/// module documentation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IndicatorSet {
    /// The symbol.
    pub symbol: String,
    /// The last price.
    pub price: f64,
    /// The last tick's volume.
    pub volume: f64,
    /// Mean of the last 20 prices; none before 20.
    pub sma20: Option<f64>,
    /// Exponential moving average over 12 periods; none before 12 prices.
    pub ema12: Option<f64>,
    /// The session's volume-weighted average price; none while its volume
    /// is 0.
    pub vwap: Option<f64>,
    /// Annualised volatility of the last 20 log returns; none below two.
    pub volatility: Option<f64>,
    /// The trading session the VWAP covers.
    pub session: NaiveDate,
    /// The session's volume.
    pub session_volume: f64,
    /// Ticks applied to this symbol so far.
    pub ticks: u64,
    /// The time of the last applied tick.
    pub as_of: DateTime<Utc>,
}

/// Everything needed to continue a symbol's indicators; serialisable, to
/// be stored beside the latest [`IndicatorSet`] so another consumer can
/// take over. Its JSON form is its own: only this module reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SymbolState {
    symbol: String,
    ticks: u64,
    last: Option<Last>,
    prices: Prices,
    /// Σ of the first prices, until the EMA is seeded.
    ema_seed: f64,
    ema: Option<f64>,
    session: Option<Session>,
    returns: Returns,
}

/// The last applied tick.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Last {
    price: f64,
    volume: f64,
    time: DateTime<Utc>,
}

/// The current trading session's sums, for the VWAP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Session {
    date: NaiveDate,
    price_volume: Sum,
    volume: Sum,
}

impl SymbolState {
    /// The state of `symbol` before any tick.
    pub fn new(symbol: &str) -> Self {
        Self {
            symbol: symbol.to_owned(),
            ticks: 0,
            last: None,
            prices: Prices::new(),
            ema_seed: 0.0,
            ema: None,
            session: None,
            returns: Returns::new(),
        }
    }

    /// The symbol.
    pub fn symbol(&self) -> &str {
        &self.symbol
    }

    /// Applies `tick` whose trading session (in the market's time zone,
    /// computed by the caller) is `session`. The caller applies only this
    /// symbol's ticks: the tick's own symbol is not looked at.
    pub fn apply(&mut self, tick: &Tick, session: NaiveDate) -> Applied {
        if let Some(last) = self.last {
            match tick.time.cmp(&last.time) {
                Ordering::Less => return Applied::Late,
                Ordering::Equal => return Applied::Duplicate,
                Ordering::Greater => {}
            }
            self.returns.push(log_return(last.price, tick.price), micros_between(last.time, tick.time));
        }
        self.ticks = self.ticks.saturating_add(1);
        self.prices.push(tick.price);
        match self.ema {
            Some(ema) => self.ema = Some((ALPHA * tick.price + (1.0 - ALPHA) * ema).min(f64::MAX)),
            None => {
                self.ema_seed = (self.ema_seed + tick.price).min(f64::MAX);
                if self.ticks >= EMA_PERIOD as u64 {
                    self.ema = Some(self.ema_seed / EMA_PERIOD as f64);
                }
            }
        }
        if self.session.as_ref().is_some_and(|s| s.date != session) {
            self.session = None;
        }
        let current = self.session.get_or_insert_with(|| Session {
            date: session,
            price_volume: Sum::default(),
            volume: Sum::default(),
        });
        current.price_volume.add(tick.price * tick.volume);
        current.volume.add(tick.volume);
        self.last = Some(Last { price: tick.price, volume: tick.volume, time: tick.time });
        Applied::Updated
    }

    /// The indicators now; `None` before the first applied tick.
    pub fn indicators(&self) -> Option<IndicatorSet> {
        let last = self.last?;
        let session = self.session.as_ref()?;
        let volume = session.volume.total();
        Some(IndicatorSet {
            symbol: self.symbol.clone(),
            price: last.price,
            volume: last.volume,
            sma20: self.prices.mean(),
            ema12: self.ema,
            vwap: (volume > 0.0).then_some(session.price_volume.total() / volume),
            volatility: self.returns.volatility(),
            session: session.date,
            session_volume: volume,
            ticks: self.ticks,
            as_of: last.time,
        })
    }

    /// The time of the last applied tick.
    pub fn last_time(&self) -> Option<DateTime<Utc>> {
        self.last.map(|l| l.time)
    }
}

/// ln(`price` / `previous`), both finite and above zero: the ratio's
/// logarithm where the ratio is a normal number, else (prices some 10³⁰⁸
/// times apart) the difference of the logarithms, which is always finite.
fn log_return(previous: f64, price: f64) -> f64 {
    let ratio = price / previous;
    if ratio.is_normal() { ratio.ln() } else { price.ln() - previous.ln() }
}

/// Whole microseconds from `earlier` to `later` (saturating: the window
/// clamps intervals far beyond any real one).
fn micros_between(earlier: DateTime<Utc>, later: DateTime<Utc>) -> i64 {
    (later - earlier).num_microseconds().unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
