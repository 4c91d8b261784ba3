//! Account events (members joining, leaving), the port they travel through,
//! and its two implementations side by side: [`InProcessAccountEvents`] for
//! one process, [`RedisAccountEvents`] for instances sharing a Redis.

mod redis;

use std::pin::Pin;

use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use uuid::Uuid;

pub use self::redis::RedisAccountEvents;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccountEventKind {
    /// A member registered through an invitation.
    MemberJoined,
    /// A member was removed.
    MemberRemoved,
    /// A member was invited.
    MemberInvited,
}

/// One event within an account; travels between instances as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountEvent {
    /// The account it happened in; subscribers only see their own.
    pub account_id: Uuid,
    /// What happened.
    pub kind: AccountEventKind,
    /// Email of the member concerned.
    pub email: String,
    /// When.
    pub at: chrono::DateTime<chrono::Utc>,
}

/// A stream of events for one account.
pub type AccountEventStream = Pin<Box<dyn Stream<Item = AccountEvent> + Send>>;

/// Port: fan-out of account events to live subscribers.
pub trait AccountEvents: Send + Sync {
    /// Delivers to current subscribers; never blocks the caller.
    fn publish(&self, event: AccountEvent);
    /// Events of `account_id` from now on.
    fn subscribe(&self, account_id: Uuid) -> AccountEventStream;
}

/// Single-process fan-out over a broadcast channel.
pub struct InProcessAccountEvents {
    sender: broadcast::Sender<AccountEvent>,
}

impl Default for InProcessAccountEvents {
    fn default() -> Self {
        Self { sender: broadcast::channel(1024).0 }
    }
}

impl AccountEvents for InProcessAccountEvents {
    fn publish(&self, event: AccountEvent) {
        // No subscribers is not an error: events are notifications.
        let _ = self.sender.send(event);
    }

    fn subscribe(&self, account_id: Uuid) -> AccountEventStream {
        BroadcastStream::new(self.sender.subscribe())
            .filter_map(move |event| async move { event.ok().filter(|e| e.account_id == account_id) })
            .boxed()
    }
}
