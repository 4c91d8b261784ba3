//! Market settings, from configuration (`market.*`).

use std::time::Duration;

use chrono_tz::Tz;

/// The default number of tick partitions (queues), `market.partitions`.
pub const DEFAULT_PARTITIONS: u16 = 4;
/// The default cap on one `ingestTicks` batch, `market.max_batch`.
pub const DEFAULT_MAX_BATCH: usize = 5_000;
/// How far past the server's clock a tick may be stamped (clock skew
/// between a feed and us), `market.max_future_secs`.
pub const DEFAULT_MAX_FUTURE: Duration = Duration::from_secs(60);

/// How ticks are taken in and where sessions begin.
#[derive(Debug, Clone)]
pub struct MarketSettings {
    /// Tick queues; a symbol always goes to the same one
    /// ([`super::partition::of`]). Changing it re-homes symbols, so it is
    /// changed only with the queues drained.
    pub partitions: u16,
    /// The most ticks one batch may carry.
    pub max_batch: usize,
    /// How far in the future a tick's time may be.
    pub max_future: Duration,
    /// The exchange's time zone: a trading session (VWAP's reset) is one
    /// calendar day there (`market.session_time_zone`, default
    /// `America/New_York`).
    pub session_time_zone: Tz,
}

impl Default for MarketSettings {
    fn default() -> Self {
        Self {
            partitions: DEFAULT_PARTITIONS,
            max_batch: DEFAULT_MAX_BATCH,
            max_future: DEFAULT_MAX_FUTURE,
            session_time_zone: chrono_tz::America::New_York,
        }
    }
}
