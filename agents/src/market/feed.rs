//! The feed: other systems publish ticks to the `alatar.market.feed`
//! exchange (fanout, durable; bound to the `alatar.market.feed` queue),
//! each message one JSON batch:
//!
//! ```json
//! {"accountId": "…", "ticks": [{"symbol": "AAPL", "price": 190.1,
//!   "volume": 300, "time": "2026-12-01T15:30:00.125Z"}]}
//! ```
//!
//! A batch is validated exactly as `ingestTicks` validates one (unknown
//! fields refuse it too) and accepted into the same outbox, so both paths
//! share order, partitioning and durability. A refused batch is logged with
//! the index and field of its first bad tick and dropped (acknowledged):
//! sending it again would be refused again. The queue has one active
//! consumer, so batches are accepted in the order they were published. The
//! embedded queue has no exchange: there, `ingestTicks` is the way in.

use std::time::Duration;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ingest::accept;
use super::tick::{TickInput, validate};
use crate::pipeline::Pipeline;
use crate::pipeline::queue::Delivery;

/// The exchange and queue feeds publish to.
pub const FEED: &str = "alatar.market.feed";

/// One published batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FeedBatch {
    /// The account the ticks are for.
    pub account_id: Uuid,
    /// The ticks.
    pub ticks: Vec<TickInput>,
}

/// Consumes the feed for as long as the process runs.
pub async fn consume_forever(p: Pipeline) {
    loop {
        match p.queue.consume(FEED, 16).await {
            Ok(mut consumer) => {
                while let Some(delivery) = consumer.next().await {
                    handle(&p, delivery).await;
                }
                tracing::warn!("tick feed consumer ended; reconnecting");
            }
            Err(e) => tracing::warn!(error = %e, "cannot consume the tick feed; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn handle(p: &Pipeline, delivery: Delivery) {
    let batch = match serde_json::from_slice::<FeedBatch>(&delivery.body) {
        Ok(batch) => batch,
        Err(e) => {
            tracing::warn!(error = %e, "tick feed: unreadable batch refused");
            let _ = delivery.ack().await;
            return;
        }
    };
    let ticks = match validate(batch.ticks, Utc::now(), &p.market.settings) {
        Ok(ticks) => ticks,
        Err(e) => {
            tracing::warn!(account_id = %batch.account_id, error = %e, "tick feed: batch refused");
            let _ = delivery.ack().await;
            return;
        }
    };
    if !account_exists(p, batch.account_id).await {
        tracing::warn!(account_id = %batch.account_id, "tick feed: batch for an unknown account refused");
        let _ = delivery.ack().await;
        return;
    }
    // The database away: retried in place, not handed back, so a later
    // batch cannot overtake this one.
    let mut pause = Duration::from_millis(50);
    while let Err(e) = accept(p, batch.account_id, ticks.clone()).await {
        tracing::warn!(error = %e, "tick feed: batch not accepted yet; retrying");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
    let _ = delivery.ack().await;
}

async fn account_exists(p: &Pipeline, account_id: Uuid) -> bool {
    use sea_orm::EntityTrait;
    matches!(alatar_entity::account::Entity::find_by_id(account_id).one(&p.db).await, Ok(Some(_)))
}
