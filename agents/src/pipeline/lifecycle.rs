//! Request lifecycle operations used by the API and the worker: submit,
//! cancel, fail. Each is one transaction: status, events, outbox.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

use alatar_entity::{ActionStatus, AnalysisStatus, TaskStatus, agent_task, analysis_request, proposed_action};

use super::journal::{append, enqueue, enqueue_all, status_event, transition};
use super::{Message, Pipeline};
use crate::write::begin_write;

/// A question to queue.
#[derive(Debug, Clone)]
pub struct NewRequest {
    /// Tenant.
    pub account_id: Uuid,
    /// Who asks.
    pub user_id: Uuid,
    /// The store (already checked to belong to the account).
    pub store_id: Uuid,
    /// The question.
    pub prompt: String,
    /// The model that will write.
    pub model: String,
}

/// A saved workflow to run: which one, and the inputs it was given
/// (checked against its definition by the caller).
#[derive(Debug, Clone)]
pub struct WorkflowRun {
    /// The workflow (already checked to belong to the account).
    pub workflow_id: Uuid,
    /// The inputs, a JSON object.
    pub inputs: serde_json::Value,
}

const UNFINISHED: [AnalysisStatus; 4] =
    [AnalysisStatus::Queued, AnalysisStatus::Planning, AnalysisStatus::Running, AnalysisStatus::AwaitingApproval];

/// Stores the request (`QUEUED`), its first event and its message together.
pub async fn submit(p: &Pipeline, new: NewRequest) -> Result<analysis_request::Model, DbErr> {
    queue(p, new, None).await
}

/// [`submit`] for a run of a saved workflow: the orchestrator plans it
/// from the workflow's nodes instead of asking the planner.
pub async fn submit_workflow(
    p: &Pipeline,
    new: NewRequest,
    run: WorkflowRun,
) -> Result<analysis_request::Model, DbErr> {
    queue(p, new, Some(run)).await
}

async fn queue(p: &Pipeline, new: NewRequest, run: Option<WorkflowRun>) -> Result<analysis_request::Model, DbErr> {
    let now = Utc::now();
    let (workflow_id, workflow_inputs) = match run {
        Some(run) => (Some(run.workflow_id), Some(run.inputs)),
        None => (None, None),
    };
    let id = Uuid::now_v7();
    let tx = begin_write(&p.db).await?;
    let model = analysis_request::Entity::insert(analysis_request::ActiveModel {
        id: Set(id),
        account_id: Set(new.account_id),
        user_id: Set(new.user_id),
        store_id: Set(new.store_id),
        prompt: Set(new.prompt),
        status: Set(AnalysisStatus::Queued),
        intent: Set(None),
        plan: Set(None),
        model: Set(new.model),
        failure_reason: Set(None),
        last_sequence: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        started_at: Set(None),
        finished_at: Set(None),
        workflow_id: Set(workflow_id),
        workflow_inputs: Set(workflow_inputs),
    })
    .exec_with_returning(&tx)
    .await?;
    let events = append(&tx, new.account_id, id, vec![status_event(AnalysisStatus::Queued, None)]).await?;
    enqueue(&tx, &Message::Advance { request_id: id, redispatch: false }).await?;
    tx.commit().await?;
    p.committed(&events).await;
    Ok(analysis_request::Model { last_sequence: 1, ..model })
}

/// Ends an unfinished request as `status` (`CANCELLED` or `FAILED`) and
/// cancels its unfinished tasks; `false` if it had already ended.
pub async fn end(
    p: &Pipeline,
    request: &analysis_request::Model,
    status: AnalysisStatus,
    reason: Option<&str>,
) -> Result<bool, DbErr> {
    let tx = begin_write(&p.db).await?;
    if !transition(&tx, request.id, &UNFINISHED, status, reason).await? {
        return Ok(false);
    }
    agent_task::Entity::update_many()
        .col_expr(agent_task::Column::Status, Expr::value(TaskStatus::Cancelled))
        .filter(agent_task::Column::RequestId.eq(request.id))
        .filter(agent_task::Column::Status.is_in([TaskStatus::Pending, TaskStatus::Dispatched]))
        .exec(&tx)
        .await?;
    let events = append(&tx, request.account_id, request.id, vec![status_event(status, reason)]).await?;
    tx.commit().await?;
    p.committed(&events).await;
    Ok(true)
}

/// Re-issues the work of every unfinished request (the embedded queue does
/// not survive a restart; handlers are idempotent, so extra messages are harmless).
pub async fn resume_unfinished(p: &Pipeline) -> Result<usize, DbErr> {
    let ids: Vec<Uuid> = analysis_request::Entity::find()
        .filter(analysis_request::Column::Status.is_in(UNFINISHED))
        .all(&p.db)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    // Approved actions whose execution message was lost with the queue.
    let approved = proposed_action::Entity::find()
        .filter(proposed_action::Column::Status.is_in([ActionStatus::Approved, ActionStatus::Executing]))
        .all(&p.db)
        .await?;
    let messages: Vec<Message> = ids
        .iter()
        .map(|id| Message::Advance { request_id: *id, redispatch: true })
        .chain(approved.iter().map(|a| Message::ExecuteAction { request_id: a.request_id, action_id: a.id }))
        .collect();
    let tx = begin_write(&p.db).await?;
    enqueue_all(&tx, &messages).await?;
    tx.commit().await?;
    p.outbox.notify_one();
    Ok(ids.len())
}
