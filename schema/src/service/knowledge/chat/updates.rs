//! `chatMessageUpdates`: a session's answers as they are written. The
//! pieces of text (`DELTA`) travel on the pipeline's event bus only, keyed
//! by the session, so a subscriber on any instance hears them live; they
//! are never replayed (the finished message holds the whole text). The end
//! of an answer (`COMPLETED`, `FAILED`) is re-read from the database, the
//! record, when the bus announces it, and also when the watcher fell
//! behind, when the bus resubscribed and every 10 s when quiet, so a lost
//! event delays an end but never loses it. With `after` (a message id,
//! say the one `sendChatMessage` returned), answers that ended after it
//! before the subscription began are yielded first: subscribing after
//! sending still sees the end. Without it, only answers that were still
//! being written, or began later, are followed. Ends when the session is
//! deleted.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;
use sea_orm::{ColumnTrait, Condition, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use alatar_agents::knowledge::chat::{CHAT_COMPLETED, CHAT_DELTA, CHAT_FAILED, CHAT_SESSION_DELETED};
use alatar_agents::pipeline::{Event, Pipeline};
use alatar_entity::{AccountScope, ChatMessageStatus, ChatRole, chat_message, chat_session};

use crate::error::{ApiError, ApiResult};

/// How long a quiet watcher waits before it re-reads anyway.
const QUIET: Duration = Duration::from_secs(10);
/// Ended answers one re-read yields at most.
const REREAD_LIMIT: u64 = 100;

/// What happened to an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatUpdateKind {
    /// A piece of its text.
    Delta,
    /// Stored in full, with its citations.
    Completed,
    /// Could not be written; the message's `error` says why.
    Failed,
}

/// One update of an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatUpdate {
    /// What happened.
    pub kind: ChatUpdateKind,
    /// The answer (an assistant message).
    pub message_id: Uuid,
    /// The piece of text, for `Delta`.
    pub delta: Option<String>,
    /// Characters of the answer before the piece, for `Delta`.
    pub offset: Option<i64>,
    /// The stored message, for `Completed` and `Failed`.
    pub message: Option<chat_message::Model>,
}

struct Watcher {
    p: Pipeline,
    scope: AccountScope,
    session_id: Uuid,
    live: broadcast::Receiver<Arc<Event>>,
    resync: watch::Receiver<u64>,
    /// Answers after this id are followed (with `after`, it is `after`;
    /// without, the session's newest message when the watcher started).
    low: Option<Uuid>,
    /// Answers at or before `low` still being written when it started.
    streaming: HashSet<Uuid>,
    /// Answers whose end was yielded (or, without `after`, had come before).
    ended: HashSet<Uuid>,
    after: Option<Uuid>,
    ready: VecDeque<ChatUpdate>,
    started: bool,
    done: bool,
}

enum Wake {
    Live(Result<Arc<Event>, broadcast::error::RecvError>),
    Resync(bool),
    Quiet,
}

/// The answers of `session_id` (already checked to be the account's) as
/// they are written; with `after`, first those that ended after it.
pub fn chat_message_updates(
    p: Pipeline,
    scope: AccountScope,
    session_id: Uuid,
    after: Option<Uuid>,
) -> impl Stream<Item = ApiResult<ChatUpdate>> + Send + 'static {
    let live = p.bus.hub().subscribe(session_id);
    let resync = p.bus.hub().resync_signal();
    let watcher = Watcher {
        p,
        scope,
        session_id,
        live,
        resync,
        low: after,
        streaming: HashSet::new(),
        ended: HashSet::new(),
        after,
        ready: VecDeque::new(),
        started: false,
        done: false,
    };
    futures_util::stream::unfold(watcher, |mut watcher| async move {
        let item = watcher.next().await?;
        Some((item, watcher))
    })
}

fn id_in(payload: &Value, key: &str) -> Option<Uuid> {
    payload.get(key).and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok())
}

impl Watcher {
    async fn next(&mut self) -> Option<ApiResult<ChatUpdate>> {
        loop {
            if let Some(next) = self.ready.pop_front() {
                return Some(Ok(next));
            }
            if self.done {
                return None;
            }
            let outcome = if self.started {
                let wake = tokio::select! {
                    received = self.live.recv() => Wake::Live(received),
                    changed = self.resync.changed() => Wake::Resync(changed.is_ok()),
                    () = tokio::time::sleep(QUIET) => Wake::Quiet,
                };
                match wake {
                    Wake::Live(Ok(event)) => self.one(&event).await,
                    Wake::Live(Err(broadcast::error::RecvError::Lagged(_))) => self.reread().await,
                    Wake::Live(Err(broadcast::error::RecvError::Closed)) => {
                        self.live = self.p.bus.hub().subscribe(self.session_id);
                        self.reread().await
                    }
                    Wake::Resync(true) | Wake::Quiet => self.reread().await,
                    // The bus is gone with the process: nothing more will come.
                    Wake::Resync(false) => {
                        self.done = true;
                        Ok(())
                    }
                }
            } else {
                self.started = true;
                self.start().await
            };
            if let Err(e) = outcome {
                self.done = true;
                return Some(Err(e));
            }
        }
    }

    /// Where following starts: without `after`, past the session's newest
    /// message, keeping the answers still being written.
    async fn start(&mut self) -> ApiResult<()> {
        if self.after.is_none() {
            let on = self.scope.on(&self.p.db);
            let newest: Option<Uuid> = self
                .scope
                .find::<chat_message::Entity>()
                .select_only()
                .column(chat_message::Column::Id)
                .filter(chat_message::Column::SessionId.eq(self.session_id))
                .order_by_desc(chat_message::Column::Id)
                .into_tuple()
                .one(&on)
                .await
                .map_err(ApiError::internal)?;
            let streaming: Vec<Uuid> = self
                .scope
                .find::<chat_message::Entity>()
                .select_only()
                .column(chat_message::Column::Id)
                .filter(chat_message::Column::SessionId.eq(self.session_id))
                .filter(chat_message::Column::Status.eq(ChatMessageStatus::Streaming))
                .into_tuple()
                .all(&on)
                .await
                .map_err(ApiError::internal)?;
            self.low = newest;
            self.streaming = streaming.into_iter().collect();
        }
        self.reread().await
    }

    /// The update an event brings, if any.
    async fn one(&mut self, event: &Event) -> ApiResult<()> {
        if event.account_id != self.scope.account_id() {
            return Ok(());
        }
        match event.kind.as_str() {
            CHAT_SESSION_DELETED => {
                self.done = true;
                Ok(())
            }
            CHAT_DELTA => {
                let Some(id) = id_in(&event.payload, "messageId") else { return Ok(()) };
                let text = event.payload.get("text").and_then(Value::as_str).unwrap_or_default();
                if !self.ended.contains(&id) && !text.is_empty() {
                    self.ready.push_back(ChatUpdate {
                        kind: ChatUpdateKind::Delta,
                        message_id: id,
                        delta: Some(text.to_owned()),
                        offset: event.payload.get("offset").and_then(Value::as_i64),
                        message: None,
                    });
                }
                Ok(())
            }
            CHAT_COMPLETED | CHAT_FAILED => {
                let Some(id) = id_in(&event.payload, "messageId") else { return Ok(()) };
                let found = self
                    .scope
                    .find::<chat_message::Entity>()
                    .filter(chat_message::Column::Id.eq(id))
                    .filter(chat_message::Column::SessionId.eq(self.session_id))
                    .one(&self.scope.on(&self.p.db))
                    .await
                    .map_err(ApiError::internal)?;
                if let Some(found) = found {
                    self.offer(found);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The session's ended answers this watcher follows; those not yet
    /// yielded are. Ends the stream when the session is gone.
    async fn reread(&mut self) -> ApiResult<()> {
        let on = self.scope.on(&self.p.db);
        let exists = self
            .scope
            .find::<chat_session::Entity>()
            .filter(chat_session::Column::Id.eq(self.session_id))
            .one(&on)
            .await
            .map_err(ApiError::internal)?;
        if exists.is_none() {
            self.done = true;
            return Ok(());
        }
        let mut followed = Condition::any().add(chat_message::Column::Id.is_in(self.streaming.iter().copied()));
        followed = match self.low {
            Some(low) => followed.add(chat_message::Column::Id.gt(low)),
            None => followed.add(chat_message::Column::Id.is_not_null()),
        };
        let ended = self
            .scope
            .find::<chat_message::Entity>()
            .filter(chat_message::Column::SessionId.eq(self.session_id))
            .filter(chat_message::Column::Role.eq(ChatRole::Assistant))
            .filter(chat_message::Column::Status.ne(ChatMessageStatus::Streaming))
            .filter(followed)
            .order_by_asc(chat_message::Column::Id)
            .limit(REREAD_LIMIT)
            .all(&on)
            .await
            .map_err(ApiError::internal)?;
        for found in ended {
            self.offer(found);
        }
        Ok(())
    }

    /// Queues the end of `found` unless it is no answer, still being
    /// written, or yielded already.
    fn offer(&mut self, found: chat_message::Model) {
        if found.role != ChatRole::Assistant || !found.status.is_terminal() || !self.ended.insert(found.id) {
            return;
        }
        let kind =
            if found.status == ChatMessageStatus::Failed { ChatUpdateKind::Failed } else { ChatUpdateKind::Completed };
        self.ready.push_back(ChatUpdate {
            kind,
            message_id: found.id,
            delta: None,
            offset: None,
            message: Some(found),
        });
    }
}
