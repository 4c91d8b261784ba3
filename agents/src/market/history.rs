//! A symbol's history: the minute bars of a range folded into the interval
//! asked. Fixed intervals are aligned to the Unix epoch in UTC (a 5-minute
//! bar starts at :00, :05, …); a day is a trading session, the calendar day
//! in the exchange's time zone, starting at its local midnight. Open is the
//! first minute's open, close the last's, high and low the extremes,
//! volume the sum and VWAP Σ price·volume over Σ volume of the bar's own
//! ticks; the indicators are those after the bar's last tick.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use sea_orm::{ColumnTrait, DbErr, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};

use alatar_entity::{AccountScope, ScopeSession, stock_bar};

use super::bars::minute_of;

/// The most bars one read may return.
pub const MAX_BARS: i64 = 5_000;

/// How wide a bar is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Interval {
    /// One minute.
    Minute,
    /// Five minutes.
    FiveMinutes,
    /// Fifteen minutes.
    FifteenMinutes,
    /// One hour.
    Hour,
    /// One trading session.
    Day,
}

impl Interval {
    fn seconds(self) -> i64 {
        match self {
            Interval::Minute => 60,
            Interval::FiveMinutes => 300,
            Interval::FifteenMinutes => 900,
            Interval::Hour => 3_600,
            Interval::Day => 86_400,
        }
    }
}

/// One bar of a history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryBar {
    /// When the bar starts.
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
    /// The bar's own VWAP; none when it traded no volume.
    pub vwap: Option<f64>,
    /// Ticks in it.
    pub ticks: i64,
    /// SMA(20) after its last tick.
    pub sma20: Option<f64>,
    /// EMA(12) after its last tick.
    pub ema12: Option<f64>,
    /// Annualised volatility after its last tick.
    pub volatility: Option<f64>,
}

/// Why a history cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// `to` is not after `from`.
    #[error("`to` must be after `from`")]
    EmptyRange,
    /// The range holds more bars than [`MAX_BARS`].
    #[error("the range holds {bars} bars of this interval; at most {MAX_BARS} can be read at once")]
    TooManyBars {
        /// Bars the range would hold.
        bars: i64,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Where the bar holding `minute` starts.
fn bucket(minute: DateTime<Utc>, interval: Interval, zone: Tz) -> DateTime<Utc> {
    if interval == Interval::Day {
        let day: NaiveDate = minute.with_timezone(&zone).date_naive();
        let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
        // A midnight skipped by a DST change starts at the earliest time
        // that exists.
        return zone.from_local_datetime(&midnight).earliest().map(|t| t.with_timezone(&Utc)).unwrap_or(minute);
    }
    let width = interval.seconds();
    let start = minute.timestamp().div_euclid(width) * width;
    DateTime::from_timestamp(start, 0).unwrap_or(minute)
}

/// `symbol`'s bars of `interval` from `from` (inclusive) to `to`
/// (exclusive), oldest first.
pub async fn read<C: ScopeSession>(
    db: &C,
    scope: AccountScope,
    zone: Tz,
    symbol: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    interval: Interval,
) -> Result<Vec<HistoryBar>, HistoryError> {
    if to <= from {
        return Err(HistoryError::EmptyRange);
    }
    let bars = (to - from).num_seconds().div_euclid(interval.seconds()) + 1;
    if bars > MAX_BARS {
        return Err(HistoryError::TooManyBars { bars });
    }
    let minutes = scope
        .find::<stock_bar::Entity>()
        .filter(stock_bar::Column::Symbol.eq(symbol))
        .filter(stock_bar::Column::StartsAt.gte(minute_of(from)))
        .filter(stock_bar::Column::StartsAt.lt(to))
        .order_by_asc(stock_bar::Column::StartsAt)
        .all(&scope.on(db))
        .await?;
    Ok(fold(&minutes, interval, zone))
}

/// Minute rows (oldest first) folded into bars of `interval`.
pub fn fold(minutes: &[stock_bar::Model], interval: Interval, zone: Tz) -> Vec<HistoryBar> {
    let mut out: Vec<(HistoryBar, f64)> = Vec::new();
    for m in minutes {
        let starts_at = bucket(m.starts_at, interval, zone);
        match out.last_mut() {
            Some((bar, price_volume)) if bar.starts_at == starts_at => {
                bar.high = bar.high.max(m.high);
                bar.low = bar.low.min(m.low);
                bar.close = m.close;
                bar.volume += m.volume;
                *price_volume += m.price_volume;
                bar.ticks += m.ticks;
                (bar.sma20, bar.ema12, bar.volatility) = (m.sma20, m.ema12, m.volatility);
            }
            _ => out.push((
                HistoryBar {
                    starts_at,
                    open: m.open,
                    high: m.high,
                    low: m.low,
                    close: m.close,
                    volume: m.volume,
                    vwap: None,
                    ticks: m.ticks,
                    sma20: m.sma20,
                    ema12: m.ema12,
                    volatility: m.volatility,
                },
                m.price_volume,
            )),
        }
    }
    out.into_iter()
        .map(|(mut bar, price_volume)| {
            bar.vwap = (bar.volume > 0.0).then(|| price_volume / bar.volume);
            bar
        })
        .collect()
}
