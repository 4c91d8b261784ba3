//! `jobUpdates`: one job as it changes, ending with its one terminal
//! status (seed 001 P6). Changes travel on the pipeline's event bus (the
//! worker may be another process; with Redis, any instance hears it),
//! keyed by the job; as everywhere, the bus only wakes the watcher and the
//! database is the record. It subscribes first, yields the job as it is,
//! then re-reads it on every event for it, when the bus resubscribed, and
//! every 30 s when quiet, yielding it only when its status, progress,
//! error or cancel request changed. Once it has yielded a terminal status
//! the stream ends, so a subscriber sees exactly one terminal event (a job
//! that already ended yields it once and ends).

use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use alatar_agents::datasets::jobs::{self, JOB_UPDATED};
use alatar_agents::pipeline::{Event, Pipeline};
use alatar_entity::{AccountScope, job};

use crate::error::{ApiError, ApiResult};

/// How long a quiet watcher waits before it re-reads anyway.
const QUIET: Duration = Duration::from_secs(30);

/// What the job looked like when last yielded.
type Seen = (String, i32, Option<String>, bool);

struct Watcher {
    p: Pipeline,
    scope: AccountScope,
    job_id: Uuid,
    live: broadcast::Receiver<Arc<Event>>,
    resync: watch::Receiver<u64>,
    seen: Option<Seen>,
    started: bool,
    done: bool,
}

enum Wake {
    Live(Result<Arc<Event>, broadcast::error::RecvError>),
    Resync(bool),
    Quiet,
}

/// Job `job_id` (already checked to be the account's), now and as it changes.
pub fn job_updates(
    p: Pipeline,
    scope: AccountScope,
    job_id: Uuid,
) -> impl Stream<Item = ApiResult<job::Model>> + Send + 'static {
    let live = p.bus.hub().subscribe(job_id);
    let resync = p.bus.hub().resync_signal();
    let watcher = Watcher { p, scope, job_id, live, resync, seen: None, started: false, done: false };
    futures_util::stream::unfold(watcher, |mut watcher| async move {
        let item = watcher.next().await?;
        Some((item, watcher))
    })
}

impl Watcher {
    async fn next(&mut self) -> Option<ApiResult<job::Model>> {
        loop {
            if self.done {
                return None;
            }
            if !self.started {
                self.started = true;
                match self.reread().await {
                    Ok(Some(changed)) => return Some(Ok(changed)),
                    Ok(None) => continue,
                    Err(e) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
            }
            let wake = tokio::select! {
                received = self.live.recv() => Wake::Live(received),
                changed = self.resync.changed() => Wake::Resync(changed.is_ok()),
                () = tokio::time::sleep(QUIET) => Wake::Quiet,
            };
            let reread = match wake {
                Wake::Live(Ok(event)) => event.account_id == self.scope.account_id() && event.kind == JOB_UPDATED,
                Wake::Live(Err(broadcast::error::RecvError::Lagged(_))) => true,
                Wake::Live(Err(broadcast::error::RecvError::Closed)) => {
                    self.live = self.p.bus.hub().subscribe(self.job_id);
                    true
                }
                Wake::Resync(true) | Wake::Quiet => true,
                // The bus is gone with the process: nothing more will come.
                Wake::Resync(false) => {
                    self.done = true;
                    false
                }
            };
            if !reread {
                continue;
            }
            match self.reread().await {
                Ok(Some(changed)) => return Some(Ok(changed)),
                Ok(None) => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }

    /// The job, when it changed since it was last yielded; a terminal one
    /// ends the stream after it. A job that is gone ends it too.
    async fn reread(&mut self) -> ApiResult<Option<job::Model>> {
        let Some(found) = jobs::find(&self.p, self.scope, self.job_id).await.map_err(ApiError::internal)? else {
            self.done = true;
            return Ok(None);
        };
        let now: Seen = (found.status.clone(), found.progress, found.error.clone(), found.cancel_requested);
        if self.seen.as_ref() == Some(&now) {
            return Ok(None);
        }
        self.seen = Some(now);
        if found.status().is_terminal() {
            self.done = true;
        }
        Ok(Some(found))
    }
}
