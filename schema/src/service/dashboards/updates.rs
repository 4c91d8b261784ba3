//! `dashboardUpdates` (seed 001 P27–P30): a dashboard as it changes. A
//! chart of a dataset gets its new rows when the dataset changes (a load
//! committed a new version, a reload with new column types, a deletion,
//! from any instance's worker: `DATASET_UPDATED` on the event bus, keyed by
//! the dataset); an edit of the dashboard or of one of its charts is
//! announced as `DASHBOARD_UPDATED`, keyed by the dashboard. The watcher
//! listens on the dashboard's key and on the key of every dataset its
//! charts read, re-reading its charts (and so which datasets to hear)
//! after every edit. As everywhere, the bus only wakes the watcher and the
//! database is the record: after a lag or a resubscription it says the
//! whole dashboard changed. Dropping the stream (the client went away)
//! drops its receivers, and with them the bus's interest.

use std::collections::VecDeque;
use std::sync::Arc;

use chrono::Utc;
use futures_util::Stream;
use futures_util::future::select_all;
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use alatar_agents::datasets::jobs::DATASET_UPDATED;
use alatar_agents::pipeline::{Event, Pipeline};
use alatar_entity::{AccountScope, visualization};

use super::{get_dashboard, visualizations_of};
use crate::error::{ApiError, ApiResult};

/// The event kind of an edit of a dashboard or one of its charts;
/// `request_id` carries the dashboard's id, `payload` `{reason, visualizationId}`.
pub const DASHBOARD_UPDATED: &str = "DASHBOARD_UPDATED";

/// Why an update was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A chart's dataset changed: the chart has new rows.
    DataChanged,
    /// A chart was added or changed.
    VisualizationChanged,
    /// A chart was removed.
    VisualizationRemoved,
    /// The dashboard itself changed (or may have: read it again).
    DashboardChanged,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Self::DataChanged => "DATA_CHANGED",
            Self::VisualizationChanged => "VISUALIZATION_CHANGED",
            Self::VisualizationRemoved => "VISUALIZATION_REMOVED",
            Self::DashboardChanged => "DASHBOARD_CHANGED",
        }
    }

    fn parse(text: &str) -> Self {
        [Self::DataChanged, Self::VisualizationChanged, Self::VisualizationRemoved]
            .into_iter()
            .find(|r| r.as_str() == text)
            .unwrap_or(Self::DashboardChanged)
    }
}

/// One change of a dashboard.
#[derive(Debug, Clone)]
pub struct DashboardUpdate {
    /// The dashboard.
    pub dashboard_id: Uuid,
    /// Why.
    pub reason: Reason,
    /// The chart that changed or has new rows, as it now is.
    pub visualization: Option<visualization::Model>,
    /// The chart removed.
    pub removed_visualization_id: Option<Uuid>,
    /// When the change was heard.
    pub at: chrono::DateTime<Utc>,
}

/// Announces an edit of dashboard `dashboard_id` (best effort, like every
/// bus publish).
pub async fn announce(p: &Pipeline, scope: AccountScope, dashboard_id: Uuid, reason: Reason, chart: Option<Uuid>) {
    p.bus
        .publish(&[Event {
            id: Uuid::now_v7(),
            account_id: scope.account_id(),
            request_id: dashboard_id,
            sequence: 0,
            kind: DASHBOARD_UPDATED.to_owned(),
            payload: json!({ "reason": reason.as_str(), "visualizationId": chart }),
            created_at: Utc::now(),
        }])
        .await;
}

type Received = Result<Arc<Event>, broadcast::error::RecvError>;

struct Watcher {
    p: Pipeline,
    scope: AccountScope,
    dashboard_id: Uuid,
    own: broadcast::Receiver<Arc<Event>>,
    datasets: Vec<(Uuid, broadcast::Receiver<Arc<Event>>)>,
    charts: Vec<visualization::Model>,
    resync: watch::Receiver<u64>,
    pending: VecDeque<DashboardUpdate>,
    done: bool,
}

enum Wake {
    Own(Received),
    Dataset(Uuid, Received),
    Resync(bool),
}

/// Dashboard `dashboard_id` (already checked to be the account's) as it
/// changes: nothing at first (the client has just read it), then one update
/// per change. Ends when the dashboard is deleted.
pub async fn dashboard_updates(
    p: Pipeline,
    scope: AccountScope,
    dashboard_id: Uuid,
) -> ApiResult<impl Stream<Item = ApiResult<DashboardUpdate>> + Send + 'static> {
    let own = p.bus.hub().subscribe(dashboard_id);
    let resync = p.bus.hub().resync_signal();
    let mut watcher = Watcher {
        p,
        scope,
        dashboard_id,
        own,
        datasets: Vec::new(),
        charts: Vec::new(),
        resync,
        pending: VecDeque::new(),
        done: false,
    };
    // Subscribed before reading, so no change between the two is missed.
    watcher.reread_charts().await?;
    Ok(futures_util::stream::unfold(watcher, |mut watcher| async move {
        let item = watcher.next().await?;
        Some((item, watcher))
    }))
}

/// The next event on any of `receivers`; never, when there are none.
async fn any_dataset(receivers: &mut [(Uuid, broadcast::Receiver<Arc<Event>>)]) -> (Uuid, Received) {
    if receivers.is_empty() {
        return std::future::pending().await;
    }
    let waits = receivers.iter_mut().map(|(id, rx)| {
        let id = *id;
        Box::pin(async move { (id, rx.recv().await) })
    });
    select_all(waits).await.0
}

impl Watcher {
    async fn next(&mut self) -> Option<ApiResult<DashboardUpdate>> {
        loop {
            if let Some(update) = self.pending.pop_front() {
                return Some(Ok(update));
            }
            if self.done {
                return None;
            }
            let wake = tokio::select! {
                received = self.own.recv() => Wake::Own(received),
                (dataset, received) = any_dataset(&mut self.datasets) => Wake::Dataset(dataset, received),
                changed = self.resync.changed() => Wake::Resync(changed.is_ok()),
            };
            if let Err(e) = self.heard(wake).await {
                self.done = true;
                return Some(Err(e));
            }
        }
    }

    /// Queues what `wake` means for the subscriber.
    async fn heard(&mut self, wake: Wake) -> ApiResult<()> {
        let account = self.scope.account_id();
        match wake {
            Wake::Own(Ok(event)) if event.account_id == account && event.kind == DASHBOARD_UPDATED => {
                self.edited(&event.payload).await
            }
            Wake::Own(Ok(_)) => Ok(()),
            Wake::Dataset(dataset, Ok(event)) if event.account_id == account && event.kind == DATASET_UPDATED => {
                let now = Utc::now();
                for chart in self.charts.iter().filter(|c| c.dataset_id == Some(dataset)) {
                    self.pending.push_back(DashboardUpdate {
                        dashboard_id: self.dashboard_id,
                        reason: Reason::DataChanged,
                        visualization: Some(chart.clone()),
                        removed_visualization_id: None,
                        at: now,
                    });
                }
                Ok(())
            }
            Wake::Dataset(_, Ok(_)) => Ok(()),
            Wake::Own(Err(broadcast::error::RecvError::Closed)) => {
                self.own = self.p.bus.hub().subscribe(self.dashboard_id);
                self.whole().await
            }
            Wake::Dataset(_, Err(broadcast::error::RecvError::Closed)) => {
                self.reread_charts().await?;
                self.whole().await
            }
            Wake::Own(Err(broadcast::error::RecvError::Lagged(_)))
            | Wake::Dataset(_, Err(broadcast::error::RecvError::Lagged(_)))
            | Wake::Resync(true) => self.whole().await,
            // The bus is gone with the process: nothing more will come.
            Wake::Resync(false) => {
                self.done = true;
                Ok(())
            }
        }
    }

    /// An edit announced on the dashboard's key.
    async fn edited(&mut self, payload: &Value) -> ApiResult<()> {
        let reason = Reason::parse(payload.get("reason").and_then(Value::as_str).unwrap_or_default());
        let chart = payload.get("visualizationId").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok());
        match reason {
            Reason::DashboardChanged | Reason::DataChanged => self.whole().await,
            Reason::VisualizationRemoved => {
                self.reread_charts().await?;
                self.push(Reason::VisualizationRemoved, None, chart);
                Ok(())
            }
            Reason::VisualizationChanged => {
                self.reread_charts().await?;
                let now = chart.and_then(|id| self.charts.iter().find(|c| c.id == id).cloned());
                match now {
                    Some(found) => self.push(Reason::VisualizationChanged, Some(found), None),
                    // Removed again since: the dashboard as a whole.
                    None => self.push(Reason::DashboardChanged, None, None),
                }
                Ok(())
            }
        }
    }

    /// "Read the whole dashboard again"; the end, when it is gone.
    async fn whole(&mut self) -> ApiResult<()> {
        match get_dashboard(&self.p, self.scope, self.dashboard_id).await {
            Ok(_) => {
                self.reread_charts().await?;
                self.push(Reason::DashboardChanged, None, None);
                Ok(())
            }
            Err(ApiError::NotFound(_)) => {
                self.done = true;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn push(&mut self, reason: Reason, visualization: Option<visualization::Model>, removed: Option<Uuid>) {
        self.pending.push_back(DashboardUpdate {
            dashboard_id: self.dashboard_id,
            reason,
            visualization,
            removed_visualization_id: removed,
            at: Utc::now(),
        });
    }

    /// The dashboard's charts as they are now, listening on the key of
    /// every dataset they read (and no other).
    async fn reread_charts(&mut self) -> ApiResult<()> {
        self.charts = visualizations_of(&self.p, self.scope, self.dashboard_id).await?;
        let mut wanted: Vec<Uuid> = self.charts.iter().filter_map(|c| c.dataset_id).collect();
        wanted.sort_unstable();
        wanted.dedup();
        self.datasets.retain(|(id, _)| wanted.binary_search(id).is_ok());
        for id in wanted {
            if !self.datasets.iter().any(|(have, _)| *have == id) {
                self.datasets.push((id, self.p.bus.hub().subscribe(id)));
            }
        }
        Ok(())
    }
}
