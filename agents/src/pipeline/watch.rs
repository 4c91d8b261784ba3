//! Replay-then-live streams of a request's events: no gap, no duplicate,
//! ends after the terminal event.
//!
//! The watcher subscribes to the bus *before* reading the database, then
//! tracks the last sequence it emitted: a live event it has seen is skipped,
//! a live event past a gap triggers a read of the gap from the database, and
//! a bus resync (Redis came back) or a quiet spell triggers a read as well.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;
use sea_orm::{DatabaseConnection, EntityTrait};
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use alatar_entity::analysis_request;

use super::bus::{Event, EventBus};
use super::journal::events_after;

/// How long a quiet watcher waits before checking the database itself. The
/// bus resync covers outages; this only bounds the damage of a lost message,
/// and must stay rare: thousands of idle watchers poll with it.
const SAFETY_POLL: Duration = Duration::from_secs(30);

/// Events of `request_id` after `after`, then live ones, ending after the
/// terminal event. The caller checks the request belongs to the viewer.
pub fn watch(
    db: DatabaseConnection,
    bus: Arc<dyn EventBus>,
    request_id: Uuid,
    after: i64,
) -> impl Stream<Item = Result<Event, sea_orm::DbErr>> + Send + 'static {
    let live = bus.hub().subscribe(request_id);
    let resync = bus.hub().resync_signal();
    let state =
        State { db, request_id, last: after.max(0), live, resync, buffer: VecDeque::new(), read: true, done: false };
    futures_util::stream::unfold(state, |mut s| async move {
        let item = s.next().await?;
        Some((item, s))
    })
}

struct State {
    db: DatabaseConnection,
    request_id: Uuid,
    last: i64,
    live: tokio::sync::broadcast::Receiver<Arc<Event>>,
    resync: tokio::sync::watch::Receiver<u64>,
    buffer: VecDeque<Event>,
    read: bool,
    done: bool,
}

/// What a database read found.
enum CatchUp {
    /// Events to emit are in the buffer.
    Read,
    /// Nothing left to emit, and nothing more will come.
    Ended,
    /// Caught up with a request still going: wait for live events.
    Waiting,
}

/// Database reads in flight for watchers, per process. Thousands of
/// subscribers connecting at once then queue on a permit (a few bytes each)
/// instead of each holding a driver query future (~8 KiB) while it waits for
/// a pooled connection; the freed peaks would otherwise stay resident as
/// allocator fragmentation beside the idle watchers.
static READS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(8);

impl State {
    async fn catch_up(&mut self) -> Result<CatchUp, sea_orm::DbErr> {
        let _permit = READS.acquire().await.ok();
        let events = events_after(&self.db, self.request_id, self.last, 500).await?;
        if !events.is_empty() {
            self.buffer.extend(events);
            return Ok(CatchUp::Read);
        }
        // Caught up. A request that ended before we came needs no waiting.
        Ok(match analysis_request::Entity::find_by_id(self.request_id).one(&self.db).await? {
            Some(r) if r.status.is_terminal() && r.last_sequence <= self.last => CatchUp::Ended,
            None => CatchUp::Ended,
            Some(_) => CatchUp::Waiting,
        })
    }

    async fn next(&mut self) -> Option<Result<Event, sea_orm::DbErr>> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                if event.sequence != self.last + 1 {
                    continue;
                }
                self.last = event.sequence;
                self.done = event.is_terminal();
                return Some(Ok(event));
            }
            if self.done {
                return None;
            }
            if std::mem::take(&mut self.read) {
                // Boxed: the driver's query futures are large, and inlined
                // they would size every idle watcher's state for its whole life.
                match Box::pin(self.catch_up()).await {
                    Ok(CatchUp::Read) => continue,
                    Ok(CatchUp::Ended) => return None,
                    Ok(CatchUp::Waiting) => {}
                    Err(e) => return Some(Err(e)),
                }
            }
            tokio::select! {
                received = self.live.recv() => match received {
                    Ok(event) if event.sequence <= self.last => {}
                    Ok(event) if event.sequence == self.last + 1 => self.buffer.push_back((*event).clone()),
                    // A gap, or we fell behind: the database has everything.
                    Ok(_) | Err(RecvError::Lagged(_)) => self.read = true,
                    Err(RecvError::Closed) => {
                        self.read = true;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                },
                changed = self.resync.changed() => {
                    self.read = true;
                    if changed.is_err() {
                        tokio::time::sleep(SAFETY_POLL).await;
                    }
                }
                () = tokio::time::sleep(SAFETY_POLL) => self.read = true,
            }
        }
    }
}
