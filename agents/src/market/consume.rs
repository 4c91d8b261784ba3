//! A partition's consumer: its batches one at a time, in queue order.
//!
//! For each batch: the states of its symbols are read from the latest
//! store (so whichever process is the partition's active consumer
//! continues the same states), each tick applied in time order, the minute
//! bars merged (idempotently, see [`super::bars`]), the states saved, and a
//! `STOCK_UPDATED` event per symbol published with its new indicators
//! (one per batch and symbol: a subscriber gets every batch's outcome, not
//! every tick's, which keeps a 20,000-ticks-a-second feed from flooding
//! the bus).
//!
//! A batch that cannot be applied (the database or Redis away) is retried
//! in place with a growing pause, never handed back: a nack would let the
//! next batch of the partition overtake it. Its delivery stays
//! unacknowledged, so a consumer that dies meanwhile has it delivered again
//! to the next one, in order.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use alatar_entity::AccountScope;

use super::bars::{self, Folder};
use super::indicators::{Applied, SymbolState};
use super::ingest::TickBatch;
use super::{STOCK_UPDATED, partition, symbol_key};
use crate::pipeline::queue::Delivery;
use crate::pipeline::{Event, Pipeline};

/// Batches delivered ahead of the one being applied.
const PREFETCH: u16 = 32;

/// What one batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Ticks applied.
    pub applied: usize,
    /// Ticks at the time of the symbol's last applied tick, dropped.
    pub duplicates: usize,
    /// Ticks older than it, dropped.
    pub late: usize,
}

/// Consumes partition `index` for as long as the process runs.
pub async fn consume_forever(p: Pipeline, index: u16) {
    let queue = partition::queue_name(index);
    loop {
        match p.queue.consume(&queue, PREFETCH).await {
            Ok(mut consumer) => {
                while let Some(delivery) = consumer.next().await {
                    handle(&p, &queue, delivery).await;
                }
                tracing::warn!(queue, "tick consumer ended; reconnecting");
            }
            Err(e) => tracing::warn!(queue, error = %e, "cannot consume ticks; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn handle(p: &Pipeline, queue: &str, delivery: Delivery) {
    let batch: TickBatch = match serde_json::from_slice(&delivery.body) {
        Ok(batch) => batch,
        Err(e) => {
            // Only our relay publishes here; nothing could ever apply it.
            tracing::error!(queue, error = %e, "unreadable tick batch dropped");
            let _ = delivery.ack().await;
            return;
        }
    };
    let mut pause = Duration::from_millis(50);
    loop {
        match apply(p, &batch).await {
            Ok(outcome) => {
                if outcome.duplicates + outcome.late > 0 {
                    tracing::debug!(queue, ?outcome, "ticks dropped as duplicate or late");
                }
                break;
            }
            Err(e) => {
                tracing::warn!(queue, error = format!("{e:#}"), "tick batch not applied; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
    }
    if let Err(e) = delivery.ack().await {
        tracing::warn!(queue, error = %e, "could not acknowledge a tick batch; it will come again");
    }
}

/// Applies one batch (see the module doc).
pub async fn apply(p: &Pipeline, batch: &TickBatch) -> anyhow::Result<Outcome> {
    let market = &p.market;
    let mut symbols: Vec<String> = Vec::new();
    for tick in &batch.ticks {
        if !symbols.contains(&tick.symbol) {
            symbols.push(tick.symbol.clone());
        }
    }
    let loaded = market.latest.states(batch.account_id, &symbols).await?;
    let mut states: HashMap<String, SymbolState> = symbols
        .iter()
        .zip(loaded)
        .map(|(symbol, state)| (symbol.clone(), state.unwrap_or_else(|| SymbolState::new(symbol))))
        .collect();
    let mut outcome = Outcome::default();
    let mut folder = Folder::default();
    let mut changed: Vec<String> = Vec::new();
    for tick in &batch.ticks {
        let Some(state) = states.get_mut(&tick.symbol) else { continue };
        match state.apply(tick, market.session_of(tick.time)) {
            Applied::Updated => {
                outcome.applied += 1;
                folder.fold(tick, state.indicators());
                if !changed.contains(&tick.symbol) {
                    changed.push(tick.symbol.clone());
                }
            }
            Applied::Duplicate => outcome.duplicates += 1,
            Applied::Late => outcome.late += 1,
        }
    }
    if changed.is_empty() {
        return Ok(outcome);
    }
    bars::merge(&p.db, AccountScope::new(batch.account_id), &folder.finish()).await?;
    let saved: Vec<SymbolState> = changed.iter().filter_map(|s| states.remove(s)).collect();
    market.latest.save(batch.account_id, &saved).await?;
    let events: Vec<Event> = saved.iter().filter_map(|s| event(batch.account_id, s)).collect();
    p.bus.publish(&events).await;
    Ok(outcome)
}

/// The bus event announcing `state`'s indicators.
fn event(account_id: Uuid, state: &SymbolState) -> Option<Event> {
    let set = state.indicators()?;
    Some(Event {
        id: Uuid::now_v7(),
        account_id,
        request_id: symbol_key(account_id, state.symbol()),
        sequence: 0,
        kind: STOCK_UPDATED.to_owned(),
        payload: serde_json::to_value(&set).unwrap_or_else(|_| json!({ "symbol": state.symbol() })),
        created_at: Utc::now(),
    })
}
