//! Market data (seed 000 §8, P29–P32): share prices in, indicators out.
//!
//! The design, as stages with a durable buffer between them:
//!
//! 1. Ticks arrive through the API (`ingestTicks`) or a feed exchange
//!    ([`feed`]); a batch is validated whole ([`tick`]), ordered by time,
//!    split by partition ([`partition`]: a stable hash of the symbol) and
//!    committed to `market_outbox`, one row per partition ([`ingest`]).
//!    From then on it is accepted: nothing is lost if the broker is down.
//! 2. The [`relay`] publishes each partition's rows in order to that
//!    partition's queue (`alatar.market.ticks.N`, one active consumer per
//!    queue on RabbitMQ; in-process lanes embedded), stopping a partition
//!    at its first unconfirmed publish so order holds, and resuming when
//!    the broker returns.
//! 3. The partition's consumer ([`consume`]) applies each batch: the
//!    symbols' states read from the latest store ([`latest`]), every tick
//!    applied in O(1) ([`indicators`]), the minute bars folded in
//!    ([`bars`]), the new states and indicators saved, and a
//!    `STOCK_UPDATED` event per symbol published for `stockUpdates`.
//!
//! Reading: `stockIndicators` is the latest store's entry; `stockHistory`
//! the minute bars folded into the interval asked ([`history`]); the
//! analyst team reads both through [`quotes`], one account's port.
//!
//! Every tick belongs to the account that sent it: symbols, states, bars
//! and events are per account, like everything else.
//!
//! Architecture invariant: it knows neither HTTP nor GraphQL.

pub mod bars;
pub mod consume;
pub mod feed;
pub mod history;
pub mod indicators;
pub mod ingest;
pub mod latest;
pub mod partition;
pub mod quotes;
pub mod relay;
pub mod settings;
pub mod tick;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use uuid::Uuid;

use self::latest::LatestIndicators;
use self::settings::MarketSettings;

/// The event kind of a symbol's new indicators; `request_id` is
/// [`symbol_key`], `payload` the [`indicators::IndicatorSet`].
pub const STOCK_UPDATED: &str = "STOCK_UPDATED";

/// What the market stages share.
pub struct Market {
    /// Partitions, batch cap, session time zone.
    pub settings: MarketSettings,
    /// Latest indicators and the states that continue them.
    pub latest: Arc<dyn LatestIndicators>,
    /// Wakes the relay after a batch is committed.
    pub outbox: Notify,
}

impl Market {
    /// Market stages over `latest`.
    pub fn new(settings: MarketSettings, latest: Arc<dyn LatestIndicators>) -> Arc<Self> {
        Arc::new(Self { settings, latest, outbox: Notify::new() })
    }

    /// The trading session `time` falls in: its date in the exchange's
    /// time zone.
    pub fn session_of(&self, time: DateTime<Utc>) -> NaiveDate {
        time.with_timezone(&self.settings.session_time_zone).date_naive()
    }

    /// Every partition's queue.
    pub fn queues(&self) -> Vec<String> {
        (0..self.settings.partitions).map(partition::queue_name).collect()
    }
}

/// The event-bus key of `symbol` of `account_id`: stable, and distinct per
/// account, so a subscriber hears its own account's symbol only.
pub fn symbol_key(account_id: Uuid, symbol: &str) -> Uuid {
    let digest = Sha256::new().chain_update(account_id.as_bytes()).chain_update(symbol.as_bytes()).finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}
