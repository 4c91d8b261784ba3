//! Accepting a validated batch: ordered by time, split by partition, and
//! committed to `market_outbox` in one transaction (one row per
//! partition), which is the moment the ticks are accepted. The relay is
//! woken to publish them.

use std::collections::BTreeMap;

use chrono::Utc;
use sea_orm::{ActiveValue::NotSet, DbErr, EntityTrait, Set, TransactionTrait};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use alatar_entity::market_outbox;

use super::partition;
use super::tick::Tick;
use crate::pipeline::Pipeline;

/// What a partition's queue carries: one account's ticks of one batch, in
/// time order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TickBatch {
    /// Whose ticks they are.
    pub account_id: Uuid,
    /// The ticks, oldest first.
    pub ticks: Vec<Tick>,
}

/// What was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// Ticks taken.
    pub ticks: usize,
    /// Their symbols, sorted.
    pub symbols: Vec<String>,
    /// The partitions they went to.
    pub partitions: Vec<u16>,
}

/// Commits `ticks` of `account_id` to the outbox and wakes the relay.
///
/// The sort is stable, so of two ticks of one symbol with the same time
/// the first sent is the one applied (the second is a duplicate); a batch
/// sent out of order is applied as if it had come in order.
pub async fn accept(p: &Pipeline, account_id: Uuid, mut ticks: Vec<Tick>) -> Result<Accepted, DbErr> {
    ticks.sort_by_key(|t| t.time);
    let count = ticks.len();
    let partitions = p.market.settings.partitions;
    let mut by_partition: BTreeMap<u16, Vec<Tick>> = BTreeMap::new();
    for tick in ticks {
        by_partition.entry(partition::of(&tick.symbol, partitions)).or_default().push(tick);
    }
    let mut symbols: Vec<String> = by_partition.values().flatten().map(|t| t.symbol.clone()).collect();
    symbols.sort();
    symbols.dedup();
    let now = Utc::now();
    let mut rows = Vec::with_capacity(by_partition.len());
    for (index, ticks) in &by_partition {
        let batch = TickBatch { account_id, ticks: ticks.clone() };
        let payload = serde_json::to_string(&batch).map_err(|e| DbErr::Custom(e.to_string()))?;
        rows.push(market_outbox::ActiveModel {
            id: NotSet,
            partition: Set(i32::from(*index)),
            payload: Set(payload),
            created_at: Set(now),
        });
    }
    if !rows.is_empty() {
        let tx = p.db.begin().await?;
        market_outbox::Entity::insert_many(rows).exec_without_returning(&tx).await?;
        tx.commit().await?;
        p.market.outbox.notify_one();
    }
    Ok(Accepted { ticks: count, symbols, partitions: by_partition.into_keys().collect() })
}
