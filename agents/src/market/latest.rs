//! The latest indicators per symbol (seed 000 P31, P32): the
//! `LatestIndicators` port, with a map in the process (embedded) and a
//! Redis hash per symbol (production, shared by every instance) side by
//! side.
//!
//! Each symbol's entry holds its latest [`IndicatorSet`] and the
//! [`SymbolState`] that continues it: the partition's consumer reads the
//! state before it applies a batch and writes both after, so whichever
//! consumer is active for the partition (after a failover, another
//! process) continues where the last one stopped. The state is the record
//! of a symbol's indicators; the minute bars in the database are their
//! history.

mod memory;
mod redis;

use async_trait::async_trait;
use uuid::Uuid;

pub use memory::MemoryLatest;
pub use redis::RedisLatest;

use super::indicators::{IndicatorSet, SymbolState};

/// Where the latest indicators live.
#[async_trait]
pub trait LatestIndicators: Send + Sync {
    /// The states of `symbols` of `account_id` (`None` for a symbol never
    /// seen), in the order asked.
    async fn states(&self, account_id: Uuid, symbols: &[String]) -> anyhow::Result<Vec<Option<SymbolState>>>;
    /// Stores each state with its indicators, in one round trip.
    async fn save(&self, account_id: Uuid, states: &[SymbolState]) -> anyhow::Result<()>;
    /// The latest indicators of `symbols`, in the order asked.
    async fn latest(&self, account_id: Uuid, symbols: &[String]) -> anyhow::Result<Vec<Option<IndicatorSet>>>;
    /// Every symbol the account has ticks of, sorted.
    async fn symbols(&self, account_id: Uuid) -> anyhow::Result<Vec<String>>;
    /// Forgets the account's symbols (`shop/redact`, account deletion).
    async fn erase(&self, account_id: Uuid) -> anyhow::Result<()>;
}
