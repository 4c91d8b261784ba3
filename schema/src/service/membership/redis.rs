//! Membership changes through Redis pub/sub, the way `RedisAccountEvents`
//! carries account events: published from a background task (pipelining
//! what queues up), received by one subscription per instance, which applies
//! them to its [`MemberCache`].
//!
//! All changes share one channel, `alatar:membership`: they are rare, and
//! every instance needs every one of them.
//!
//! A change applies to this instance's cache as it is published, not when
//! Redis echoes it back (the echo applies it again, which changes nothing):
//! the mutation's own answer and the caller's next request must see it.
//!
//! While the subscription is down, changes made elsewhere do not arrive, so
//! the cache keeps its entries only briefly ([`MemberCache::set_hearing`]);
//! once it is back, everything read meanwhile is forgotten and every open
//! subscription re-reads its caller ([`MembershipChange::Unknown`]).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use tokio::sync::mpsc;

use super::{MembershipChange, MembershipChanges};
use crate::service::MemberCache;

/// The one channel every instance publishes to and listens on.
const CHANNEL: &str = "alatar:membership";
/// Changes waiting to be published; past this, a change reaches other
/// instances only through their cache's TTL.
const BACKLOG: usize = 1024;
/// The most changes one pipelined round trip carries.
const BATCH: usize = 64;
/// How long a round trip may take before it counts as failed.
const PUBLISH_TIMEOUT: Duration = Duration::from_millis(500);
/// Round trips tried per batch: a lost change leaves a removed member in
/// other instances' caches until their entry expires.
const PUBLISH_ATTEMPTS: u32 = 3;
/// Pause between attempts to publish or to (re)subscribe.
const RETRY: Duration = Duration::from_millis(500);

/// Membership changes shared by every instance through Redis pub/sub.
pub struct RedisMembershipChanges {
    cache: Arc<MemberCache>,
    outgoing: mpsc::Sender<Vec<u8>>,
}

impl RedisMembershipChanges {
    /// Publishes through `connection` (shared with the other Redis users) and
    /// starts this instance's subscription, feeding `cache`, on a connection
    /// of its own from `client`.
    pub fn start(client: redis::Client, connection: ConnectionManager, cache: Arc<MemberCache>) -> Arc<Self> {
        // Until the subscription stands, other instances' changes do not arrive.
        cache.set_hearing(false);
        let (outgoing, queued) = mpsc::channel(BACKLOG);
        tokio::spawn(subscribe_forever(client, cache.clone()));
        tokio::spawn(publish_forever(connection, queued));
        Arc::new(Self { cache, outgoing })
    }
}

impl RedisMembershipChanges {
    /// Publishes `change` to every instance through `connection` and waits
    /// until Redis has taken it: for a process with no member cache of its
    /// own that exits next (`alatar account set-tier`), where a change queued
    /// by [`MembershipChanges::publish`] would die with the process.
    pub async fn publish_once(connection: &mut ConnectionManager, change: MembershipChange) -> redis::RedisResult<()> {
        let body = serde_json::to_vec(&change).map_err(std::io::Error::from)?;
        redis::cmd("PUBLISH").arg(CHANNEL).arg(body).query_async::<()>(connection).await
    }
}

impl MembershipChanges for RedisMembershipChanges {
    fn publish(&self, change: MembershipChange) {
        self.cache.apply(change);
        let body = match serde_json::to_vec(&change) {
            Ok(body) => body,
            Err(e) => {
                tracing::warn!(error = %e, ?change, "membership change not serialisable; other instances see it within their cache's TTL");
                return;
            }
        };
        if self.outgoing.try_send(body).is_err() {
            tracing::warn!(
                ?change,
                "membership change not queued for redis; other instances see it within their cache's TTL"
            );
        }
    }
}

/// Publishes queued changes, as many per round trip as are waiting.
async fn publish_forever(mut connection: ConnectionManager, mut queued: mpsc::Receiver<Vec<u8>>) {
    let mut batch = Vec::with_capacity(BATCH);
    while queued.recv_many(&mut batch, BATCH).await > 0 {
        let mut pipe = redis::pipe();
        for body in &batch {
            pipe.cmd("PUBLISH").arg(CHANNEL).arg(body).ignore();
        }
        // Changes are idempotent: one published twice (a round trip that
        // timed out but landed) costs a cache miss, nothing more.
        for attempt in 1..=PUBLISH_ATTEMPTS {
            let failure = match tokio::time::timeout(PUBLISH_TIMEOUT, pipe.query_async::<()>(&mut connection)).await {
                Ok(Ok(())) => break,
                Ok(Err(e)) => e.to_string(),
                Err(_) => "timed out".to_owned(),
            };
            tracing::warn!(error = %failure, attempt, changes = batch.len(), "membership changes not published to redis");
            if attempt < PUBLISH_ATTEMPTS {
                tokio::time::sleep(RETRY).await;
            }
        }
        batch.clear();
    }
}

/// Holds this instance's subscription, re-establishing it when it breaks.
async fn subscribe_forever(client: redis::Client, cache: Arc<MemberCache>) {
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(CHANNEL).await {
                Ok(()) => {
                    // What changed while nobody listened is unknown.
                    cache.apply(MembershipChange::Unknown);
                    cache.set_hearing(true);
                    forward(&mut pubsub, &cache).await;
                    cache.set_hearing(false);
                    tracing::warn!("membership changes lost their redis subscription");
                }
                Err(e) => tracing::warn!(error = %e, "membership changes cannot subscribe to redis"),
            },
            Err(e) => tracing::warn!(error = %e, "membership changes cannot reach redis"),
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// Applies what the subscription brings, until it breaks.
async fn forward(pubsub: &mut redis::aio::PubSub, cache: &MemberCache) {
    let mut messages = pubsub.on_message();
    while let Some(message) = messages.next().await {
        match serde_json::from_slice::<MembershipChange>(message.get_payload_bytes()) {
            Ok(change) => cache.apply(change),
            Err(e) => {
                // Someone changed a membership and we cannot tell whose.
                tracing::warn!(error = %e, "unreadable membership change on redis; forgetting every member");
                cache.apply(MembershipChange::Unknown);
            }
        }
    }
}
