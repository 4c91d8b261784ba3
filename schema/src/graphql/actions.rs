//! Human-in-the-loop: `approveAction`, `rejectAction`, `revertAction`,
//! `proposedAction(s)`, `auditLog`, `complianceRequests` and the
//! `actionUpdates` subscription.

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Enum, ID, Json, Object, Result, Subscription};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use alatar_agents::actions::parameters_hash;
use alatar_agents::pipeline::{Event, Pipeline};
use alatar_entity::{AccountScope, audit_entry, compliance_request, proposed_action};

use crate::context::ContextExt;
use crate::error::ApiError;
use crate::service::{actions as service, analysis};

use super::parse_id;

/// A proposal's state.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "alatar_entity::ActionStatus")]
pub enum ActionStatus {
    /// Waiting for a person.
    Pending,
    /// Approved; its execution is queued.
    Approved,
    /// Rejected.
    Rejected,
    /// Running against the store.
    Executing,
    /// Ran; `outcome` holds the store's answer.
    Executed,
    /// Could not run; see `failureReason`.
    Failed,
    /// Nobody decided in time.
    Expired,
    /// Undone with `revertAction`.
    Reverted,
}

/// A proposed store change.
pub struct ProposedAction(pub proposed_action::Model);

#[Object]
impl ProposedAction {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The analysis that proposed it.
    async fn request_id(&self) -> ID {
        ID(self.0.request_id.to_string())
    }
    /// `CREATE_DISCOUNT`, `UPDATE_PRODUCT`.
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    /// Validated parameters.
    async fn parameters(&self) -> Json<Value> {
        Json(self.0.parameters.clone())
    }
    /// Quote this in `approveAction`: it proves which parameters you approve.
    async fn parameters_hash(&self) -> String {
        parameters_hash(&self.0.kind, &self.0.parameters)
    }
    /// What changes (a diff for text) and the expected effect.
    async fn preview(&self) -> Json<Value> {
        Json(self.0.preview.clone())
    }
    /// Shopify scopes the change needs.
    async fn required_scopes(&self) -> Vec<String> {
        serde_json::from_value(self.0.required_scopes.clone()).unwrap_or_default()
    }
    async fn status(&self) -> ActionStatus {
        self.0.status.into()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Undecided after this, it expires.
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }
    /// Last status change.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at.unwrap_or(self.0.created_at)
    }
    /// Who approved or rejected it.
    async fn decided_by(&self) -> Option<ID> {
        self.0.decided_by.map(|id| ID(id.to_string()))
    }
    async fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.0.decided_at
    }
    /// The rejection's reason.
    async fn decision_reason(&self) -> Option<&str> {
        self.0.decision_reason.as_deref()
    }
    /// The store's answers: `execution`, and `revert` after a revert.
    async fn outcome(&self) -> Option<Json<Value>> {
        self.0.outcome.clone().map(Json)
    }
    async fn executed_at(&self) -> Option<DateTime<Utc>> {
        self.0.executed_at
    }
    async fn failure_reason(&self) -> Option<&str> {
        self.0.failure_reason.as_deref()
    }
    /// Executed, with an inverse recorded: `revertAction` can undo it.
    async fn revertible(&self) -> bool {
        self.0.status == alatar_entity::ActionStatus::Executed && self.0.inverse.is_some()
    }
}

/// One audit record.
pub struct AuditEntry(audit_entry::Model);

#[Object]
impl AuditEntry {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// `PROPOSED`, `APPROVED`, `REJECTED`, `EXECUTION_STARTED`, `EXECUTED`,
    /// `EXECUTION_FAILED`, `EXPIRED`, `REVERTED`, `REVERT_FAILED`,
    /// `STORE_LINKED`, `STORE_DISCONNECTED`, `APP_UNINSTALLED`, `CUSTOMER_REDACTED`.
    async fn event(&self) -> &str {
        &self.0.event
    }
    /// `user`, `agent`, `system` or `shopify`.
    async fn actor(&self) -> &str {
        &self.0.actor
    }
    /// The person, when a person acted.
    async fn actor_user_id(&self) -> Option<ID> {
        self.0.actor_user_id.map(|id| ID(id.to_string()))
    }
    async fn action_id(&self) -> Option<ID> {
        self.0.action_id.map(|id| ID(id.to_string()))
    }
    async fn store_id(&self) -> Option<ID> {
        self.0.store_id.map(|id| ID(id.to_string()))
    }
    /// What exactly: parameters and hash, the store's response, the error.
    async fn detail(&self) -> Json<Value> {
        Json(self.0.detail.clone())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A privacy request Shopify sent.
pub struct ComplianceRequest(compliance_request::Model);

#[Object]
impl ComplianceRequest {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn topic(&self) -> &str {
        &self.0.topic
    }
    async fn store_id(&self) -> ID {
        ID(self.0.store_id.to_string())
    }
    /// The customer's Shopify id.
    async fn customer_id(&self) -> Option<String> {
        self.0.customer_id.map(|c| c.to_string())
    }
    /// Everything Alatar holds about the customer, to hand over.
    async fn export(&self) -> Json<Value> {
        Json(self.0.export.clone())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Action queries.
#[derive(Default)]
pub struct ActionQuery;

#[Object]
impl ActionQuery {
    /// One proposed action.
    async fn proposed_action(&self, ctx: &Context<'_>, id: ID) -> Result<ProposedAction> {
        let id = parse_id("id", &id)?;
        Ok(ProposedAction(service::get(&ctx.state().pipeline, ctx.scope()?, id).await?))
    }

    /// The actions of one request, or every pending one of the account.
    async fn proposed_actions(&self, ctx: &Context<'_>, request_id: Option<ID>) -> Result<Vec<ProposedAction>> {
        let request_id = request_id.map(|id| parse_id("requestId", &id)).transpose()?;
        let found = service::list(&ctx.state().pipeline, ctx.scope()?, request_id).await?;
        Ok(found.into_iter().map(ProposedAction).collect())
    }

    /// Who did what to which action, newest first (owners and admins).
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        action_id: Option<ID>,
        #[graphql(default = 50)] first: i32,
        after: Option<String>,
    ) -> Result<Connection<String, AuditEntry>> {
        if !(1..=200).contains(&first) {
            return Err(ApiError::bad_input("first", "must be between 1 and 200").into());
        }
        let action_id = action_id.map(|id| parse_id("actionId", &id)).transpose()?;
        let before = match after {
            Some(c) => Some(Uuid::parse_str(&c).map_err(|_| ApiError::bad_input("after", "is not a valid cursor"))?),
            None => None,
        };
        let viewer = ctx.viewer()?;
        let mut page =
            service::audit_log(&ctx.state().db, ctx.scope()?, viewer, action_id, before, first as u64 + 1).await?;
        let has_next = page.len() > first as usize;
        page.truncate(first as usize);
        let mut connection = Connection::new(before.is_some(), has_next);
        connection.edges.extend(page.into_iter().map(|e| Edge::new(e.id.to_string(), AuditEntry(e))));
        Ok(connection)
    }

    /// Shopify's privacy requests and the data exports produced (owners and admins).
    async fn compliance_requests(&self, ctx: &Context<'_>) -> Result<Vec<ComplianceRequest>> {
        let viewer = ctx.viewer()?;
        let found = service::compliance_requests(&ctx.state().db, ctx.scope()?, viewer).await?;
        Ok(found.into_iter().map(ComplianceRequest).collect())
    }
}

/// Action mutations.
#[derive(Default)]
pub struct ActionMutation;

#[Object]
impl ActionMutation {
    /// Approves a pending action (owners and admins). `parametersHash` must
    /// be the `parametersHash` you reviewed. The change runs once, however
    /// often the approval is sent.
    async fn approve_action(&self, ctx: &Context<'_>, id: ID, parameters_hash: String) -> Result<ProposedAction> {
        let viewer = ctx.viewer()?;
        let id = parse_id("id", &id)?;
        let p = &ctx.state().pipeline;
        Ok(ProposedAction(service::approve(p, ctx.scope()?, viewer, id, &parameters_hash).await?))
    }

    /// Rejects a pending action (owners and admins).
    async fn reject_action(&self, ctx: &Context<'_>, id: ID, reason: Option<String>) -> Result<ProposedAction> {
        let viewer = ctx.viewer()?;
        let id = parse_id("id", &id)?;
        let p = &ctx.state().pipeline;
        Ok(ProposedAction(service::reject(p, ctx.scope()?, viewer, id, reason.as_deref()).await?))
    }

    /// Undoes an executed action with the inverse recorded when it ran.
    async fn revert_action(&self, ctx: &Context<'_>, id: ID) -> Result<ProposedAction> {
        let viewer = ctx.viewer()?;
        let id = parse_id("id", &id)?;
        Ok(ProposedAction(service::revert(&ctx.state().pipeline, ctx.scope()?, viewer, id).await?))
    }
}

/// Action subscriptions.
#[derive(Default)]
pub struct ActionSubscription;

#[Subscription]
impl ActionSubscription {
    /// Every status change of the account's actions (of one request with
    /// `requestId`), live, as the changed action.
    async fn action_updates(
        &self,
        ctx: &Context<'_>,
        request_id: Option<ID>,
    ) -> Result<impl Stream<Item = Result<ProposedAction>> + use<>> {
        let scope = ctx.scope()?;
        let pipeline = ctx.state().pipeline.clone();
        let request_id = match request_id {
            Some(id) => {
                let id = parse_id("requestId", &id)?;
                analysis::request(&pipeline, scope, id).await?;
                Some(id)
            }
            None => None,
        };
        let live = pipeline.bus.hub().subscribe_actions(scope.account_id());
        let resync = pipeline.bus.hub().resync_signal();
        let state = Watch { pipeline, scope, request_id, live, resync, since: Utc::now(), pending: Vec::new() };
        Ok(futures_util::stream::unfold(state, |mut s| async move {
            let item = s.next().await;
            Some((item, s))
        }))
    }
}

struct Watch {
    pipeline: Pipeline,
    scope: AccountScope,
    request_id: Option<Uuid>,
    live: tokio::sync::broadcast::Receiver<Arc<Event>>,
    resync: tokio::sync::watch::Receiver<u64>,
    since: DateTime<Utc>,
    pending: Vec<proposed_action::Model>,
}

impl Watch {
    async fn next(&mut self) -> Result<ProposedAction> {
        loop {
            if let Some(action) = self.pending.pop() {
                return Ok(ProposedAction(action));
            }
            let missed = tokio::select! {
                received = self.live.recv() => match received {
                    Ok(event) => {
                        if self.request_id.is_some_and(|r| r != event.request_id) {
                            continue;
                        }
                        let Some(id) = event.payload.get("actionId").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok()) else { continue };
                        let mut action = service::get(&self.pipeline, self.scope, id).await?;
                        self.since = self.since.max(action.updated_at.unwrap_or(action.created_at));
                        // The row may have moved on (an approved action fails
                        // within milliseconds): report the change this event
                        // announced, so every step arrives once and in order.
                        if let Some(status) = event.payload.get("status").cloned().and_then(|s| serde_json::from_value(s).ok()) {
                            action.status = status;
                            action.failure_reason =
                                event.payload.get("reason").and_then(Value::as_str).map(str::to_owned);
                        }
                        return Ok(ProposedAction(action));
                    }
                    Err(RecvError::Lagged(_)) => true,
                    Err(RecvError::Closed) => return Err(ApiError::internal(anyhow::anyhow!("event hub closed")).into()),
                },
                changed = self.resync.changed() => {
                    if changed.is_err() {
                        std::future::pending::<()>().await;
                    }
                    true
                }
            };
            if missed {
                // Events may have been lost: the database has every change.
                let mut query = self
                    .scope
                    .find::<proposed_action::Entity>()
                    .filter(proposed_action::Column::UpdatedAt.gt(self.since));
                if let Some(r) = self.request_id {
                    query = query.filter(proposed_action::Column::RequestId.eq(r));
                }
                let changed = query
                    .order_by_desc(proposed_action::Column::UpdatedAt)
                    .all(&self.scope.on(&self.pipeline.db))
                    .await?;
                if let Some(latest) = changed.first().and_then(|a| a.updated_at) {
                    self.since = latest;
                }
                // Newest first: popped from the end, they come out oldest first.
                self.pending = changed;
            }
        }
    }
}
