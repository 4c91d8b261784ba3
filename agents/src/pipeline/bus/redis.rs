//! Redis pub/sub: every instance publishes each commit's events as one
//! message to one channel, and one subscription per instance feeds the local [`Hub`]. When the
//! subscription breaks, it reconnects and asks watchers to re-read the
//! database, so events published meanwhile are not lost to them.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use redis::aio::ConnectionManager;

use super::{Event, EventBus, Hub};

const CHANNEL: &str = "alatar:analysis-events";

/// Redis pub/sub.
pub struct RedisBus {
    hub: Arc<Hub>,
    connection: ConnectionManager,
}

impl RedisBus {
    /// Publishes through `connection` and starts this instance's subscriber.
    pub fn start(client: redis::Client, connection: ConnectionManager) -> Arc<Self> {
        let hub = Arc::new(Hub::default());
        tokio::spawn(subscribe_forever(client, hub.clone()));
        Arc::new(Self { hub, connection })
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
        let mut connection = self.connection.clone();
        let mut command = redis::cmd("PUBLISH");
        command.arg(CHANNEL).arg(body);
        let publish = command.query_async::<i64>(&mut connection);
        let failure = match tokio::time::timeout(Duration::from_millis(500), publish).await {
            Ok(Ok(_)) => return,
            Ok(Err(e)) => e.to_string(),
            Err(_) => "timed out".to_owned(),
        };
        // Watchers here still get them; others re-read the database when the
        // subscription comes back (or on their periodic check).
        tracing::warn!(error = %failure, "events not published to redis");
        for event in events {
            self.hub.deliver(Arc::new(event.clone()));
        }
    }

    fn hub(&self) -> &Hub {
        &self.hub
    }
}
