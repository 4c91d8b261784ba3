//! `documentUpdates`: a collection's documents as they change. Status
//! changes travel on the pipeline's event bus (the worker that ingests may
//! be another process; with Redis, any instance hears it), keyed by the
//! collection. As everywhere in the pipeline, the bus only wakes the
//! watcher and the database is the record: it subscribes first, then
//! yields every document of the collection as it is, then each document
//! that changed, re-read; it re-reads the whole collection when it fell
//! behind, when the bus resubscribed (Redis came back) and every 30 s when
//! quiet, yielding only what changed. It ends when the collection is gone
//! (at once when its deletion is published, else at the next re-read).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::Stream;
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
use serde_json::Value;
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use alatar_agents::knowledge::ingest::{COLLECTION_DELETED, DOCUMENT_DELETED, DOCUMENT_STATUS_CHANGED};
use alatar_agents::pipeline::{Event, Pipeline};
use alatar_entity::{AccountScope, DocumentStatus, collection, document};

use crate::error::{ApiError, ApiResult};

/// How long a quiet watcher waits before it re-reads anyway.
const QUIET: Duration = Duration::from_secs(30);

/// What a document looked like when last yielded.
type Seen = (DocumentStatus, i32, DateTime<Utc>);

struct Watcher {
    p: Pipeline,
    scope: AccountScope,
    collection_id: Uuid,
    live: broadcast::Receiver<Arc<Event>>,
    resync: watch::Receiver<u64>,
    seen: HashMap<Uuid, Seen>,
    ready: VecDeque<document::Model>,
    started: bool,
    done: bool,
}

enum Wake {
    Live(Result<Arc<Event>, broadcast::error::RecvError>),
    Resync(bool),
    Quiet,
}

/// The documents of `collection_id` (already checked to be the account's),
/// now and as they change.
pub fn document_updates(
    p: Pipeline,
    scope: AccountScope,
    collection_id: Uuid,
) -> impl Stream<Item = ApiResult<document::Model>> + Send + 'static {
    let live = p.bus.hub().subscribe(collection_id);
    let resync = p.bus.hub().resync_signal();
    let watcher = Watcher {
        p,
        scope,
        collection_id,
        live,
        resync,
        seen: HashMap::new(),
        ready: VecDeque::new(),
        started: false,
        done: false,
    };
    futures_util::stream::unfold(watcher, |mut watcher| async move {
        let item = watcher.next().await?;
        Some((item, watcher))
    })
}

impl Watcher {
    async fn next(&mut self) -> Option<ApiResult<document::Model>> {
        loop {
            if let Some(next) = self.ready.pop_front() {
                return Some(Ok(next));
            }
            if self.done {
                return None;
            }
            if !self.started {
                self.started = true;
                if let Err(e) = self.reread().await {
                    self.done = true;
                    return Some(Err(e));
                }
                continue;
            }
            let wake = tokio::select! {
                received = self.live.recv() => Wake::Live(received),
                changed = self.resync.changed() => Wake::Resync(changed.is_ok()),
                () = tokio::time::sleep(QUIET) => Wake::Quiet,
            };
            let outcome = match wake {
                Wake::Live(Ok(event)) => self.one(&event).await,
                Wake::Live(Err(broadcast::error::RecvError::Lagged(_))) => self.reread().await,
                Wake::Live(Err(broadcast::error::RecvError::Closed)) => {
                    self.live = self.p.bus.hub().subscribe(self.collection_id);
                    self.reread().await
                }
                Wake::Resync(true) | Wake::Quiet => self.reread().await,
                // The bus is gone with the process: nothing more will come.
                Wake::Resync(false) => {
                    self.done = true;
                    Ok(())
                }
            };
            if let Err(e) = outcome {
                self.done = true;
                return Some(Err(e));
            }
        }
    }

    /// The document an event names, if it changed.
    async fn one(&mut self, event: &Event) -> ApiResult<()> {
        if event.account_id != self.scope.account_id() {
            return Ok(());
        }
        if event.kind == COLLECTION_DELETED {
            return self.reread().await;
        }
        if event.kind != DOCUMENT_STATUS_CHANGED && event.kind != DOCUMENT_DELETED {
            return Ok(());
        }
        let Some(id) = event.payload.get("documentId").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok())
        else {
            return Ok(());
        };
        let found = self
            .scope
            .find::<document::Entity>()
            .filter(document::Column::Id.eq(id))
            .filter(document::Column::CollectionId.eq(self.collection_id))
            .one(&self.scope.on(&self.p.db))
            .await
            .map_err(ApiError::internal)?;
        match found {
            Some(found) => self.offer(found),
            None => {
                self.seen.remove(&id);
            }
        }
        Ok(())
    }

    /// Every document of the collection; those that changed are yielded.
    async fn reread(&mut self) -> ApiResult<()> {
        let on = self.scope.on(&self.p.db);
        let exists = self
            .scope
            .find::<collection::Entity>()
            .filter(collection::Column::Id.eq(self.collection_id))
            .one(&on)
            .await
            .map_err(ApiError::internal)?;
        if exists.is_none() {
            self.done = true;
            return Ok(());
        }
        let all = self
            .scope
            .find::<document::Entity>()
            .filter(document::Column::CollectionId.eq(self.collection_id))
            .order_by_asc(document::Column::Id)
            .all(&on)
            .await
            .map_err(ApiError::internal)?;
        let present: HashSet<Uuid> = all.iter().map(|d| d.id).collect();
        self.seen.retain(|id, _| present.contains(id));
        for found in all {
            self.offer(found);
        }
        Ok(())
    }

    /// Queues `found` unless it was yielded as it is.
    fn offer(&mut self, found: document::Model) {
        let now: Seen = (found.status, found.progress, found.updated_at);
        if self.seen.get(&found.id) != Some(&now) {
            self.seen.insert(found.id, now);
            self.ready.push_back(found);
        }
    }
}
