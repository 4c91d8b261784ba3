//! Redis pub/sub: every instance publishes each commit's events as one
//! message to one channel, and one subscription per instance feeds the local [`Hub`]. When the
//! subscription breaks, it reconnects and asks watchers to re-read the
//! database, so events published meanwhile are not lost to them.
//!
//! Publishing happens on a background task, in commit order: a step that
//! committed does not wait for Redis before it takes its next message, and
//! commits that queue up meanwhile go out in one pipelined round trip.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use redis::aio::ConnectionManager;

use super::{Event, EventBus, Hub};

const CHANNEL: &str = "alatar:analysis-events";

/// Commits waiting to be published; past this, a commit's events go to this
/// instance's watchers only (others re-read them from the database).
const BACKLOG: usize = 4096;
/// The most commits one pipelined round trip carries.
const BATCH: usize = 256;

/// One commit's events, serialised: what goes on the channel.
struct Outgoing(Vec<u8>);

impl Outgoing {
    /// Hands the events to this instance's watchers when Redis cannot.
    fn deliver_here(&self, hub: &Hub) {
        if let Ok(events) = serde_json::from_slice::<Vec<Event>>(&self.0) {
            events.into_iter().for_each(|e| hub.deliver(Arc::new(e)));
        }
    }
}

/// Redis pub/sub.
pub struct RedisBus {
    hub: Arc<Hub>,
    outgoing: tokio::sync::mpsc::Sender<Outgoing>,
}

impl RedisBus {
    /// Publishes through `connection` and starts this instance's subscriber.
    pub fn start(client: redis::Client, connection: ConnectionManager) -> Arc<Self> {
        let hub = Arc::new(Hub::default());
        let (outgoing, queued) = tokio::sync::mpsc::channel(BACKLOG);
        tokio::spawn(subscribe_forever(client, hub.clone()));
        tokio::spawn(publish_forever(connection, queued, hub.clone()));
        Arc::new(Self { hub, outgoing })
    }
}

/// Publishes queued commits in order, as many per round trip as are waiting.
async fn publish_forever(
    mut connection: ConnectionManager,
    mut queued: tokio::sync::mpsc::Receiver<Outgoing>,
    hub: Arc<Hub>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while queued.recv_many(&mut batch, BATCH).await > 0 {
        let mut pipe = redis::pipe();
        for commit in &batch {
            pipe.cmd("PUBLISH").arg(CHANNEL).arg(&commit.0).ignore();
        }
        let failure =
            match tokio::time::timeout(Duration::from_millis(500), pipe.query_async::<()>(&mut connection)).await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(_) => Some("timed out".to_owned()),
            };
        if let Some(failure) = failure {
            // Watchers here still get them; others re-read the database when
            // the subscription comes back (or on their periodic check).
            tracing::warn!(error = %failure, commits = batch.len(), "events not published to redis");
            batch.iter().for_each(|commit| commit.deliver_here(&hub));
        }
        batch.clear();
    }
}

async fn subscribe_forever(client: redis::Client, hub: Arc<Hub>) {
    let mut first = true;
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                if pubsub.subscribe(CHANNEL).await.is_ok() {
                    if !first {
                        tracing::info!("event bus resubscribed to redis");
                    }
                    // Anything published while we were away is in the database.
                    hub.resync();
                    first = false;
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        let Ok(payload) = message.get_payload::<Vec<u8>>() else { continue };
                        // One message per commit: the events it wrote, in order.
                        match serde_json::from_slice::<Vec<Event>>(&payload) {
                            Ok(events) => events.into_iter().for_each(|e| hub.deliver(Arc::new(e))),
                            Err(e) => tracing::warn!(error = %e, "unreadable events on the bus"),
                        }
                    }
                }
                tracing::warn!("event bus lost its redis subscription");
            }
            Err(e) => tracing::warn!(error = %e, "event bus cannot reach redis"),
        }
        hub.resync();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[async_trait]
impl EventBus for RedisBus {
    async fn publish(&self, events: &[Event]) {
        if events.is_empty() {
            return;
        }
        let Ok(body) = serde_json::to_vec(events) else { return };
        if let Err(full) = self.outgoing.try_send(Outgoing(body)) {
            tracing::warn!("events not queued for redis; they go to this instance's watchers only");
            full.into_inner().deliver_here(&self.hub);
        }
    }

    fn hub(&self) -> &Hub {
        &self.hub
    }
}
