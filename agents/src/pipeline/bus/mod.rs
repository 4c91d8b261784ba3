//! Progress events and the bus that carries them between instances.
//! Events are persisted first (the database is the record); the bus only
//! makes them arrive sooner. [`MemoryBus`] serves one process, [`RedisBus`]
//! fans out through Redis pub/sub so a subscriber on any instance sees what
//! a worker on any other did.

mod redis;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use alatar_entity::analysis_event;

pub use self::redis::RedisBus;

/// Event kinds, as stored and sent.
pub mod kind {
    /// `{status, reason?}`
    pub const STATUS_CHANGED: &str = "STATUS_CHANGED";
    /// `{intent, period, steps}`
    pub const PLAN: &str = "PLAN";
    /// `{taskId, department, attempt}`
    pub const TASK_STARTED: &str = "TASK_STARTED";
    /// `{taskId, toolCallId, tool, input}`
    pub const TOOL_CALL: &str = "TOOL_CALL";
    /// `{taskId, toolCallId, tool, attempt, pages, rows, detail, elapsedMs}`: a
    /// long call still working (at most one a second per call, none in its
    /// first second; `toolCallId` is the one its `TOOL_CALL` will carry), or
    /// one waiting for an open circuit (`detail`: `waiting for <provider>:
    /// circuit open; retry in Ns`, one per wait).
    pub const TOOL_PROGRESS: &str = "TOOL_PROGRESS";
    /// `{taskId, toolCallId, tool, summary, durationMs, attempts}`
    pub const TOOL_RESULT: &str = "TOOL_RESULT";
    /// `{taskId, tool, input, error, attempt, durationMs, errorCount}`: a failed attempt
    pub const TOOL_ERROR: &str = "TOOL_ERROR";
    /// `{taskId, department}`
    pub const TASK_COMPLETED: &str = "TASK_COMPLETED";
    /// `{taskId, department, error}`
    pub const TASK_FAILED: &str = "TASK_FAILED";
    /// `{taskId, department, output}`: a department's share of the answer.
    pub const PARTIAL_RESULT: &str = "PARTIAL_RESULT";
    /// `{summary}`: the result is written.
    pub const RESULT: &str = "RESULT";
    /// `{actionId, kind, status, reason?}`: a proposed action moved.
    pub const ACTION_STATUS_CHANGED: &str = "ACTION_STATUS_CHANGED";
}

/// One progress event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Event id.
    pub id: Uuid,
    /// Owning account.
    pub account_id: Uuid,
    /// The request.
    pub request_id: Uuid,
    /// 1, 2, 3, … per request.
    pub sequence: i64,
    /// See [`kind`].
    pub kind: String,
    /// Kind-specific data.
    pub payload: Value,
    /// When it happened.
    pub created_at: DateTime<Utc>,
}

impl Event {
    /// The request's last event: a terminal status.
    pub fn is_terminal(&self) -> bool {
        self.kind == kind::STATUS_CHANGED
            && matches!(self.payload.get("status").and_then(Value::as_str), Some("COMPLETED" | "FAILED" | "CANCELLED"))
    }
}

impl From<analysis_event::Model> for Event {
    fn from(m: analysis_event::Model) -> Self {
        Self {
            id: m.id,
            account_id: m.account_id,
            request_id: m.request_id,
            sequence: m.sequence,
            kind: m.kind,
            payload: m.payload,
            created_at: m.created_at,
        }
    }
}

/// Per-request fan-out inside one process, and per-account fan-out of
/// action status changes (the approval console watches a whole account).
pub struct Hub {
    channels: Mutex<HashMap<Uuid, broadcast::Sender<Arc<Event>>>>,
    accounts: Mutex<HashMap<Uuid, broadcast::Sender<Arc<Event>>>>,
    resync: watch::Sender<u64>,
}

impl Default for Hub {
    fn default() -> Self {
        Self { channels: Mutex::default(), accounts: Mutex::default(), resync: watch::channel(0).0 }
    }
}

impl Hub {
    /// Live events of one request.
    pub fn subscribe(&self, request_id: Uuid) -> broadcast::Receiver<Arc<Event>> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        // A watcher that falls behind re-reads the database, which holds
        // every analysis event but not a chat answer's pieces (they are
        // live only): room for a whole answer's pieces, so a watcher first
        // polled after a fast (offline) answer still sees them.
        channels.entry(request_id).or_insert_with(|| broadcast::channel(256).0).subscribe()
    }

    /// How many live receivers this process has for `key` (a request, a
    /// job, a dataset, a dashboard): a client gone must leave none behind.
    pub fn watchers(&self, key: Uuid) -> usize {
        let channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        channels.get(&key).map_or(0, broadcast::Sender::receiver_count)
    }

    /// Live action status changes of one account.
    pub fn subscribe_actions(&self, account_id: Uuid) -> broadcast::Receiver<Arc<Event>> {
        let mut accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        accounts.retain(|_, sender| sender.receiver_count() > 0);
        accounts.entry(account_id).or_insert_with(|| broadcast::channel(64).0).subscribe()
    }

    /// Bumped when events may have been missed (the bus reconnected):
    /// watchers re-read the database.
    pub fn resync_signal(&self) -> watch::Receiver<u64> {
        self.resync.subscribe()
    }

    /// Tells every watcher to re-read the database.
    pub fn resync(&self) {
        self.resync.send_modify(|g| *g += 1);
    }

    /// Hands an event to this process's watchers of its request.
    pub fn deliver(&self, event: Arc<Event>) {
        if event.kind == kind::ACTION_STATUS_CHANGED {
            let accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(sender) = accounts.get(&event.account_id) {
                let _ = sender.send(event.clone());
            }
        }
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sender) = channels.get(&event.request_id) {
            let terminal = event.is_terminal();
            let _ = sender.send(event.clone());
            if terminal || sender.receiver_count() == 0 {
                channels.remove(&event.request_id);
            }
        }
    }
}

/// Carries committed events to watchers on every instance.
#[async_trait]
pub trait EventBus: Send + Sync {
    /// Best effort: a failure here loses nothing, watchers re-read the database.
    async fn publish(&self, events: &[Event]);
    /// This process's fan-out.
    fn hub(&self) -> &Hub;
}

/// The in-process bus.
#[derive(Default)]
pub struct MemoryBus {
    hub: Hub,
}

#[async_trait]
impl EventBus for MemoryBus {
    async fn publish(&self, events: &[Event]) {
        for event in events {
            self.hub.deliver(Arc::new(event.clone()));
        }
    }

    fn hub(&self) -> &Hub {
        &self.hub
    }
}
