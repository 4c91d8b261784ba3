//! The ticks' relay: `market_outbox` → the partitions' queues, in order.
//!
//! Rows are read oldest first and published one by one with confirms; the
//! first publish of a partition that fails stops that partition for this
//! round (its later rows wait), so a partition's queue receives its rows
//! in `id` order, with no gap. Published rows are deleted in the same
//! transaction; a crash between the confirm and the commit publishes a row
//! again, which the consumer drops tick by tick (each is then a duplicate
//! or late: [`super::indicators::Applied`]). On PostgreSQL the rows are
//! locked `FOR UPDATE`, waiting: two instances' relays take turns rather
//! than interleave a partition.
//!
//! While the broker is down, accepted ticks stay in the table (the
//! durable buffer) and the relay retries every half second, up to two.

use std::collections::HashSet;
use std::time::Duration;

use sea_orm::sea_query::LockType;
use sea_orm::{ColumnTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};
use tokio::task::JoinHandle;
use uuid::Uuid;

use alatar_entity::market_outbox;

use super::partition;
use crate::pipeline::Pipeline;

/// Rows per round.
const BATCH: u64 = 500;

/// Starts relaying in the background.
pub fn spawn(p: Pipeline) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut pause = Duration::from_millis(500);
        loop {
            let woken = p.market.outbox.notified();
            match relay_round(&p).await {
                Ok(n) if n as u64 == BATCH => continue,
                Ok(_) => pause = Duration::from_millis(500),
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), "market relay: ticks wait in the outbox");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                    continue;
                }
            }
            // Woken by a commit here; the sweep finds rows another
            // instance committed and could not relay.
            let _ = tokio::time::timeout(Duration::from_secs(1), woken).await;
        }
    })
}

/// Publishes one round of rows; how many went out, or an error when some
/// could not (they stay for the next round).
pub async fn relay_round(p: &Pipeline) -> anyhow::Result<usize> {
    let tx = p.db.begin().await?;
    let mut select = market_outbox::Entity::find().order_by_asc(market_outbox::Column::Id).limit(BATCH);
    if p.db.get_database_backend() == DbBackend::Postgres {
        select = select.lock(LockType::Update);
    }
    let rows = select.all(&tx).await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut stopped: HashSet<i32> = HashSet::new();
    let mut published = Vec::with_capacity(rows.len());
    let mut failure = None;
    for row in &rows {
        if stopped.contains(&row.partition) {
            continue;
        }
        let queue = partition::queue_name(u16::try_from(row.partition).unwrap_or(0));
        match p.queue.publish(&queue, Uuid::now_v7(), row.payload.as_bytes()).await {
            Ok(()) => published.push(row.id),
            Err(e) => {
                stopped.insert(row.partition);
                failure = Some(e);
            }
        }
    }
    if !published.is_empty() {
        market_outbox::Entity::delete_many()
            .filter(market_outbox::Column::Id.is_in(published.clone()))
            .exec(&tx)
            .await?;
    }
    tx.commit().await?;
    match failure {
        Some(e) => Err(e.context(format!("{} of {} tick batches published", published.len(), rows.len()))),
        None => Ok(published.len()),
    }
}
