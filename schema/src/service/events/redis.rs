//! Account events through Redis pub/sub, the way the analysis pipeline's
//! `RedisBus` carries its events: every instance publishes to Redis from a
//! background task (pipelining what queues up) and holds one subscription,
//! which feeds an [`InProcessAccountEvents`] that local subscribers read.
//!
//! Each account has its channel, `alatar:account:{account_id}`; an instance
//! takes them all with one pattern subscription (`alatar:account:*`). Member
//! changes are rare, so one subscription per instance is cheaper than one
//! per watched account, and it needs no bookkeeping when Redis comes back.
//!
//! With Redis configured every event goes through Redis, also to this
//! instance's own subscribers, so each receives it exactly once. Only an
//! event Redis refused goes straight to the local subscribers (a publish that
//! timed out but landed after all reaches them twice).
//!
//! Unlike the pipeline's events, these are not recorded anywhere a
//! subscriber could re-read, so there is no resync: a subscriber's stream
//! ends when this instance loses its subscription, and clients subscribe
//! again. Streams that began while the subscription was down end when it is
//! back, since they missed what other instances published meanwhile.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

use super::{AccountEvent, AccountEventStream, AccountEvents, InProcessAccountEvents};

/// Every account's channel, in one pattern subscription.
const PATTERN: &str = "alatar:account:*";

/// Events waiting to be published; past this, an event goes to this
/// instance's subscribers only.
const BACKLOG: usize = 1024;
/// The most events one pipelined round trip carries.
const BATCH: usize = 64;
/// How long a round trip may take before its events count as not published.
const PUBLISH_TIMEOUT: Duration = Duration::from_millis(500);
/// Pause between attempts to (re)subscribe.
const RETRY: Duration = Duration::from_millis(500);

/// The channel of `account_id`'s events.
fn channel(account_id: Uuid) -> String {
    format!("alatar:account:{account_id}")
}

/// One event on its way to Redis.
struct Outgoing {
    channel: String,
    body: Vec<u8>,
    event: AccountEvent,
}

/// Account events shared by every instance through Redis pub/sub.
pub struct RedisAccountEvents {
    /// This instance's fan-out, fed by the subscription.
    local: Arc<InProcessAccountEvents>,
    outgoing: mpsc::Sender<Outgoing>,
    /// Bumped when subscribers may have missed events: their streams end.
    lost: Arc<watch::Sender<u64>>,
}

impl RedisAccountEvents {
    /// Publishes through `connection` (shared with the other Redis users) and
    /// starts this instance's subscription on a connection of its own from
    /// `client`.
    pub fn start(client: redis::Client, connection: ConnectionManager) -> Arc<Self> {
        let local = Arc::new(InProcessAccountEvents::default());
        let lost = Arc::new(watch::channel(0).0);
        let (outgoing, queued) = mpsc::channel(BACKLOG);
        tokio::spawn(subscribe_forever(client, local.clone(), lost.clone()));
        tokio::spawn(publish_forever(connection, queued, local.clone()));
        Arc::new(Self { local, outgoing, lost })
    }
}

impl AccountEvents for RedisAccountEvents {
    fn publish(&self, event: AccountEvent) {
        let body = match serde_json::to_vec(&event) {
            Ok(body) => body,
            Err(e) => {
                tracing::warn!(error = %e, "account event not serialisable; it goes to this instance only");
                self.local.publish(event);
                return;
            }
        };
        let outgoing = Outgoing { channel: channel(event.account_id), body, event };
        if let Err(full) = self.outgoing.try_send(outgoing) {
            tracing::warn!("account event not queued for redis; it goes to this instance's subscribers only");
            self.local.publish(full.into_inner().event);
        }
    }

    fn subscribe(&self, account_id: Uuid) -> AccountEventStream {
        // Sees the current generation as seen: only a later loss ends it.
        let mut lost = self.lost.subscribe();
        let ended = async move {
            let _ = lost.changed().await;
        };
        self.local.subscribe(account_id).take_until(ended).boxed()
    }
}

/// Publishes queued events in order, as many per round trip as are waiting.
async fn publish_forever(
    mut connection: ConnectionManager,
    mut queued: mpsc::Receiver<Outgoing>,
    local: Arc<InProcessAccountEvents>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while queued.recv_many(&mut batch, BATCH).await > 0 {
        let mut pipe = redis::pipe();
        for outgoing in &batch {
            pipe.cmd("PUBLISH").arg(&outgoing.channel).arg(&outgoing.body).ignore();
        }
        let failure = match tokio::time::timeout(PUBLISH_TIMEOUT, pipe.query_async::<()>(&mut connection)).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some("timed out".to_owned()),
        };
        match failure {
            Some(failure) => {
                // This instance's subscribers still get them; other instances'
                // lose their subscription too and end their streams.
                tracing::warn!(error = %failure, events = batch.len(), "account events not published to redis");
                batch.drain(..).for_each(|outgoing| local.publish(outgoing.event));
            }
            None => batch.clear(),
        }
    }
}

/// Holds this instance's subscription, re-establishing it when it breaks.
async fn subscribe_forever(client: redis::Client, local: Arc<InProcessAccountEvents>, lost: Arc<watch::Sender<u64>>) {
    // Whether subscribers may have missed events since the last bump.
    let mut missed = false;
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                let subscribed = pubsub.psubscribe(PATTERN).await;
                match subscribed {
                    Ok(()) => {
                        if missed {
                            tracing::info!("account events resubscribed to redis");
                            lost.send_modify(|generation| *generation += 1);
                        }
                        forward(&mut pubsub, &local).await;
                        tracing::warn!("account events lost their redis subscription");
                        lost.send_modify(|generation| *generation += 1);
                        missed = true;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "account events cannot subscribe to redis");
                        missed = true;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "account events cannot reach redis");
                missed = true;
            }
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// Hands what the subscription brings to this instance's subscribers, until
/// it breaks.
async fn forward(pubsub: &mut redis::aio::PubSub, local: &InProcessAccountEvents) {
    let mut messages = pubsub.on_message();
    while let Some(message) = messages.next().await {
        match serde_json::from_slice::<AccountEvent>(message.get_payload_bytes()) {
            // The channel names the account: an event never reaches another
            // account's subscribers.
            Ok(event) if message.get_channel_name() == channel(event.account_id) => local.publish(event),
            Ok(_) => tracing::warn!("account event on another account's channel; dropped"),
            Err(e) => tracing::warn!(error = %e, "unreadable account event on redis"),
        }
    }
}
