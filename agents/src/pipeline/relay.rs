//! The outbox relay: publishes committed outbox rows with confirms, then
//! deletes them. A crash between the confirm and the delete publishes a row
//! again, which the idempotent consumers absorb; a crash before the publish
//! loses nothing, because the row is still there.

use std::time::Duration;

use futures_util::future::join_all;
use sea_orm::sea_query::LockBehavior;
use sea_orm::{
    ColumnTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait, sea_query::LockType,
};
use tokio::task::JoinHandle;

use alatar_entity::outbox_message;

use super::Pipeline;

const BATCH: u64 = 200;

/// Runs the relay.
pub struct Relay;

impl Relay {
    /// Starts relaying in the background.
    pub fn spawn(p: Pipeline) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let woken = p.outbox.notified();
                match relay_batch(&p).await {
                    Ok(n) if n as u64 == BATCH => continue,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox relay failed; retrying");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        continue;
                    }
                }
                // Woken by a commit, or a periodic sweep for rows committed by
                // another instance that died before relaying them.
                let _ = tokio::time::timeout(Duration::from_secs(1), woken).await;
            }
        })
    }
}

/// Publishes one batch; returns how many rows it relayed.
pub async fn relay_batch(p: &Pipeline) -> anyhow::Result<usize> {
    let tx = p.db.begin().await?;
    let mut select = outbox_message::Entity::find().order_by_asc(outbox_message::Column::Id).limit(BATCH);
    if p.db.get_database_backend() == DbBackend::Postgres {
        // Several relays (one per instance) share the table without waiting
        // on each other or publishing the same rows concurrently.
        select = select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let rows = select.all(&tx).await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let results = join_all(rows.iter().map(|row| p.queue.publish(&row.queue, row.id, row.payload.as_bytes()))).await;
    let published: Vec<_> = rows.iter().zip(&results).filter(|(_, r)| r.is_ok()).map(|(row, _)| row.id).collect();
    if let Some(Err(e)) = results.iter().find(|r| r.is_err()) {
        tracing::warn!(error = %e, failed = rows.len() - published.len(), "some outbox messages were not confirmed");
    }
    outbox_message::Entity::delete_many().filter(outbox_message::Column::Id.is_in(published.clone())).exec(&tx).await?;
    tx.commit().await?;
    anyhow::ensure!(published.len() == rows.len(), "the broker did not confirm every message");
    Ok(published.len())
}
