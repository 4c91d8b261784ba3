//! Class 1: reads the request, plans, dispatches tasks whose inputs are
//! ready, and reviews the departments' work into the `AnalysisResult`. It
//! knows departments only through the plan, so new ones need no change here.
//! A run of a saved workflow (`workflow.rs`) is planned from the workflow's
//! nodes instead of by the planner and reviewed node by node; dispatching,
//! waiting and failing are the same DAG machinery.

mod datasets;
mod sources;
mod workflow;

use std::collections::HashSet;

use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use alatar_entity::{
    ActionStatus, AnalysisStatus, TaskStatus, agent_task, analysis_request, analysis_result, proposed_action, tool_call,
};

use super::bus::kind;
use super::journal::{append, enqueue_all, status_event, transition};
use super::lifecycle::end;
use super::{Message, Pipeline};
use crate::Department;
use crate::actions::Actor;
use crate::breaker::Deferral;
use crate::llm::LlmError;
use crate::result::{AnalysisBody, Citation, KeyFigure, ProposalDraft, Recommendation, Section, Visualization};
use crate::write::begin_write;

/// Handles `Advance`.
pub(crate) async fn advance(p: &Pipeline, request_id: Uuid, redispatch: bool) -> anyhow::Result<()> {
    let Some(request) = analysis_request::Entity::find_by_id(request_id).one(&p.db).await? else {
        return Ok(());
    };
    match request.status {
        AnalysisStatus::Queued | AnalysisStatus::Planning => plan(p, &request).await,
        AnalysisStatus::Running => progress(p, &request, redispatch).await,
        _ => Ok(()),
    }
}

/// Commits `PLANNING` on its own (for planners slow enough to be watched).
async fn announce_planning(p: &Pipeline, request: &analysis_request::Model) -> anyhow::Result<bool> {
    let tx = begin_write(&p.db).await?;
    if !transition(&tx, request.id, &[AnalysisStatus::Queued], AnalysisStatus::Planning, None).await? {
        return Ok(false);
    }
    let events =
        append(&tx, request.account_id, request.id, vec![status_event(AnalysisStatus::Planning, None)]).await?;
    tx.commit().await?;
    p.committed(&events).await;
    Ok(true)
}

/// How long planning may take before `PLANNING` is committed on its own; a
/// fast planner's `PLANNING` commits together with the plan.
const ANNOUNCE_AFTER: std::time::Duration = std::time::Duration::from_millis(100);

/// "Today" for a request: the shop's calendar day it was submitted on. A
/// shop whose time zone cannot be read now plans on UTC's day (the plan
/// records the day, so every department uses the same one).
async fn shop_day(p: &Pipeline, request: &analysis_request::Model) -> anyhow::Result<chrono::NaiveDate> {
    let store = alatar_entity::store::Entity::find_by_id(request.store_id).one(&p.db).await?;
    let zone = match store {
        Some(store) => p.stores.time_zone(&store).await.unwrap_or_else(|e| {
            tracing::warn!(request_id = %request.id, error = %e, "shop time zone unavailable; planning on UTC days");
            crate::store::Tz::UTC
        }),
        None => crate::store::Tz::UTC,
    };
    Ok(crate::store::local_day(request.created_at, zone))
}

async fn plan(p: &Pipeline, request: &analysis_request::Model) -> anyhow::Result<()> {
    if let Some(workflow_id) = request.workflow_id {
        return workflow::plan(p, request, workflow_id).await;
    }
    let as_of = shop_day(p, request).await?;
    let planning = p.llm.plan(&request.prompt, as_of, Some(&request.model));
    tokio::pin!(planning);
    let mut announced = request.status == AnalysisStatus::Planning;
    let mut outcome = if announced {
        planning.await
    } else {
        match tokio::time::timeout(ANNOUNCE_AFTER, &mut planning).await {
            Ok(outcome) => outcome,
            Err(_) => {
                if !announce_planning(p, request).await? {
                    return Ok(());
                }
                announced = true;
                planning.await
            }
        }
    };
    // The model's circuit is open: wait for its hint, as a task does, within
    // the same bound. Failing the message would have it redelivered at once,
    // spending its deliveries within the cool-down.
    let mut deferral = Deferral::new(p.config.tool_max);
    loop {
        let refusal = match &outcome {
            Err(LlmError::CircuitOpen(refusal)) => refusal.clone(),
            _ => break,
        };
        if !announced {
            if !announce_planning(p, request).await? {
                return Ok(());
            }
            announced = true;
        }
        let waited = deferral.waited();
        if let Err(refusal) = deferral.wait(refusal).await {
            let reason = format!(
                "the planner is unavailable: {refusal} (waited {} s for it in all, the most a step waits)",
                waited.as_secs()
            );
            end(p, request, AnalysisStatus::Failed, Some(&reason)).await?;
            return Ok(());
        }
        outcome = p.llm.plan(&request.prompt, as_of, Some(&request.model)).await;
    }
    let plan = match outcome {
        Ok(plan) => crate::plan::Plan { as_of: Some(as_of), ..plan },
        Err(LlmError::Unavailable(e)) => anyhow::bail!("planner unavailable: {e}"),
        Err(LlmError::CircuitOpen(refusal)) => anyhow::bail!("planner unavailable: {refusal}"),
        Err(LlmError::Invalid(e)) => {
            end(p, request, AnalysisStatus::Failed, Some(&format!("the plan was rejected: {e}"))).await?;
            return Ok(());
        }
    };
    if let Err(e) = plan.validate() {
        end(p, request, AnalysisStatus::Failed, Some(&format!("the plan was rejected: {e}"))).await?;
        return Ok(());
    }
    // The documents are consulted only when the account has some to read.
    let plan = if plan.steps.iter().any(|s| s.department == Department::Knowledge) {
        let scope = alatar_entity::AccountScope::new(request.account_id);
        plan.fit_to_documents(crate::knowledge::library::has_ingested_documents(&p.db, scope).await?)
    } else {
        plan
    };
    // The uploaded datasets are read when the question names one of them.
    let plan = datasets::fit(p, request, plan).await?;
    // Share prices are read when the question asks how shares moved.
    let plan = sources::fit(p, request.account_id, &request.prompt, plan).await?;
    // The analysed repositories' code when the question is about it.
    let plan = sources::fit_code(p, request.account_id, &request.prompt, plan).await?;
    if let Err(e) = plan.validate() {
        end(p, request, AnalysisStatus::Failed, Some(&format!("the plan was rejected: {e}"))).await?;
        return Ok(());
    }
    let record = serde_json::to_value(&plan)?;
    let event = json!({ "intent": plan.intent, "period": plan.period, "periodLabel": plan.period.label() });
    let planned = Planned { intent: plan.intent.as_str().to_owned(), record, steps: plan.steps, event: object(event) };
    write_plan(p, request, announced, planned).await
}

/// What planning decided, ready to be written.
struct Planned {
    /// `analysis_requests.intent`.
    intent: String,
    /// `analysis_requests.plan`.
    record: Value,
    /// One task each, in an order that respects their dependencies.
    steps: Vec<crate::plan::PlanStep>,
    /// The `PLAN` event's payload, but for its `steps`.
    event: Map<String, Value>,
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Commits a plan: `RUNNING`, its tasks, the first tasks' messages and the
/// `PLAN` event, in one transaction (with `PLANNING` when it was not
/// announced on its own).
async fn write_plan(
    p: &Pipeline,
    request: &analysis_request::Model,
    announced: bool,
    planned: Planned,
) -> anyhow::Result<()> {
    let Planned { intent, record, steps: plan_steps, event } = planned;
    let tx = begin_write(&p.db).await?;
    let from = if announced { AnalysisStatus::Planning } else { AnalysisStatus::Queued };
    if !transition(&tx, request.id, &[from], AnalysisStatus::Running, None).await? {
        return Ok(());
    }
    let mut update = analysis_request::Entity::update_many();
    if !announced {
        update = update.col_expr(analysis_request::Column::StartedAt, Expr::value(Utc::now()));
    }
    update
        .col_expr(analysis_request::Column::Intent, Expr::value(intent))
        .col_expr(analysis_request::Column::Plan, Expr::value(record))
        .filter(analysis_request::Column::Id.eq(request.id))
        .exec(&tx)
        .await?;
    let now = Utc::now();
    let tasks: Vec<agent_task::Model> = plan_steps
        .iter()
        .enumerate()
        .map(|(i, step)| agent_task::Model {
            id: Uuid::now_v7(),
            account_id: request.account_id,
            request_id: request.id,
            step: i as i32,
            department: step.department.name().to_owned(),
            objective: step.objective.clone(),
            depends_on: json!(step.depends_on),
            status: if step.depends_on.is_empty() { TaskStatus::Dispatched } else { TaskStatus::Pending },
            attempts: 0,
            error_count: 0,
            last_error: None,
            output: None,
            created_at: now,
            finished_at: None,
        })
        .collect();
    agent_task::Entity::insert_many(tasks.iter().cloned().map(agent_task::ActiveModel::from))
        .exec_without_returning(&tx)
        .await?;
    let first: Vec<Message> = tasks
        .iter()
        .zip(&plan_steps)
        .filter(|(t, _)| t.status == TaskStatus::Dispatched)
        .map(|(t, s)| Message::RunTask { request_id: request.id, task_id: t.id, department: s.department })
        .collect();
    enqueue_all(&tx, &first).await?;
    let steps: Vec<_> = tasks
        .iter()
        .zip(&plan_steps)
        .map(|(t, s)| json!({ "step": t.step, "taskId": t.id, "department": s.department, "objective": s.objective, "dependsOn": s.depends_on }))
        .collect();
    let mut events = Vec::new();
    if !announced {
        events.push(status_event(AnalysisStatus::Planning, None));
    }
    let mut payload = event;
    payload.insert("steps".to_owned(), json!(steps));
    events.push((kind::PLAN, Value::Object(payload)));
    events.push(status_event(AnalysisStatus::Running, None));
    let events = append(&tx, request.account_id, request.id, events).await?;
    tx.commit().await?;
    p.committed(&events).await;
    Ok(())
}

/// A task without its output: what progress decisions need. Outputs (the
/// departments' datasets and findings) are read once, when the result is written.
#[derive(Debug, FromQueryResult)]
struct TaskHead {
    id: Uuid,
    step: i32,
    department: String,
    depends_on: serde_json::Value,
    status: TaskStatus,
    error_count: i32,
    last_error: Option<String>,
}

/// What the orchestrator still has to do after a dispatch round.
#[derive(Debug)]
pub(crate) enum Next {
    /// Tasks are running or were just dispatched; their completion advances.
    Waiting,
    /// Every task completed: write the result.
    Finish,
    /// A task failed for good.
    Fail(String),
}

/// Dispatches the tasks whose inputs are ready (conditionally: of two
/// concurrent rounds only one sends a task), inside the caller's
/// transaction. A department finishing its task calls this in its own
/// commit, after the event append has locked the request row, so that of
/// two tasks finishing at once the second sees the first.
pub(crate) async fn dispatch_ready<C: ConnectionTrait>(
    db: &C,
    request: &analysis_request::Model,
    redispatch: bool,
) -> Result<Next, DbErr> {
    use agent_task::Column as C;
    let tasks: Vec<TaskHead> = agent_task::Entity::find()
        .select_only()
        .columns([C::Id, C::Step, C::Department, C::DependsOn, C::Status, C::ErrorCount, C::LastError])
        .filter(C::RequestId.eq(request.id))
        .order_by_asc(C::Step)
        .into_model()
        .all(db)
        .await?;
    if let Some(failed) = tasks.iter().find(|t| t.status == TaskStatus::Failed) {
        let why = failed.last_error.as_deref().unwrap_or("unknown error");
        return Ok(Next::Fail(match failed.error_count {
            // Failed with no tool error: refused, or its provider stayed unavailable.
            0 => format!("{} failed: {why}", failed.department),
            errors => format!("{} failed after {errors} errors: {why}", failed.department),
        }));
    }
    if tasks.iter().all(|t| t.status == TaskStatus::Completed) {
        return Ok(Next::Finish);
    }
    let done: HashSet<i32> = tasks.iter().filter(|t| t.status == TaskStatus::Completed).map(|t| t.step).collect();
    let ready: Vec<Uuid> = tasks
        .iter()
        .filter(|t| {
            t.status == TaskStatus::Pending
                && serde_json::from_value::<Vec<i32>>(t.depends_on.clone())
                    .unwrap_or_default()
                    .iter()
                    .all(|d| done.contains(d))
        })
        .map(|t| t.id)
        .collect();
    // One conditional update for all ready tasks; it returns the ones this
    // round moved, so of two concurrent rounds only one sends each task.
    let mut send: HashSet<Uuid> = HashSet::new();
    if !ready.is_empty() {
        send.extend(
            agent_task::Entity::update_many()
                .col_expr(C::Status, Expr::value(TaskStatus::Dispatched))
                .filter(C::Id.is_in(ready))
                .filter(C::Status.eq(TaskStatus::Pending))
                .exec_with_returning(db)
                .await?
                .into_iter()
                .map(|t| t.id),
        );
    }
    if redispatch {
        send.extend(tasks.iter().filter(|t| t.status == TaskStatus::Dispatched).map(|t| t.id));
    }
    let messages: Vec<Message> = tasks
        .iter()
        .filter(|t| send.contains(&t.id))
        .filter_map(|t| {
            let department = Department::from_name(&t.department)?;
            Some(Message::RunTask { request_id: request.id, task_id: t.id, department })
        })
        .collect();
    enqueue_all(db, &messages).await?;
    Ok(Next::Waiting)
}

async fn progress(p: &Pipeline, request: &analysis_request::Model, redispatch: bool) -> anyhow::Result<()> {
    let tx = begin_write(&p.db).await?;
    let next = dispatch_ready(&tx, request, redispatch).await?;
    tx.commit().await?;
    p.outbox.notify_one();
    match next {
        Next::Waiting => Ok(()),
        Next::Fail(reason) => {
            end(p, request, AnalysisStatus::Failed, Some(&reason)).await?;
            Ok(())
        }
        Next::Finish => {
            let tasks = agent_task::Entity::find()
                .filter(agent_task::Column::RequestId.eq(request.id))
                .order_by_asc(agent_task::Column::Step)
                .all(&p.db)
                .await?;
            finish(p, request, &tasks).await
        }
    }
}

/// What any department may contribute to the answer, by shape.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Contribution {
    figures: Vec<KeyFigure>,
    visualizations: Vec<Visualization>,
    summary: Option<String>,
    sections: Vec<Section>,
    recommendations: Vec<Recommendation>,
    actions: Vec<ProposalDraft>,
    warnings: Vec<String>,
    written_by: Option<String>,
    /// A department's answer in words when no narrative is written
    /// (`Knowledge` alone), and who stated it.
    answer: Option<String>,
    answered_by: Option<String>,
    citations: Vec<Citation>,
}

async fn finish(p: &Pipeline, request: &analysis_request::Model, tasks: &[agent_task::Model]) -> anyhow::Result<()> {
    let recorded: HashSet<Uuid> = tool_call::Entity::find()
        .select_only()
        .column(tool_call::Column::Id)
        .filter(tool_call::Column::RequestId.eq(request.id))
        .into_tuple()
        .all(&p.db)
        .await?
        .into_iter()
        .collect();
    let (summary, body, actions) = if request.workflow_id.is_some() {
        let Some(reviewed) = workflow::review(request, tasks, &recorded) else {
            end(p, request, AnalysisStatus::Failed, Some("the workflow's plan could not be read")).await?;
            return Ok(());
        };
        (reviewed.summary, reviewed.body, reviewed.actions)
    } else {
        review(request, tasks, &recorded)
    };
    write_result(p, request, summary, body, actions).await
}

/// The figures with recorded tool calls behind them; the others are no
/// facts and are dropped (and logged).
fn reviewed(request: &analysis_request::Model, figures: Vec<KeyFigure>, recorded: &HashSet<Uuid>) -> Vec<KeyFigure> {
    let (kept, dropped): (Vec<_>, Vec<_>) = figures
        .into_iter()
        .partition(|f| !f.provenance.is_empty() && f.provenance.iter().all(|pr| recorded.contains(&pr.tool_call_id)));
    for figure in dropped {
        tracing::warn!(request_id = %request.id, figure = %figure.key, "figure without provenance dropped in review");
    }
    kept
}

/// An analysis's answer from its departments' outputs: figures and
/// citations only with recorded tool calls behind them; from the
/// `Knowledge` task nothing but its sections, citations and warnings, and
/// from the `Datasets`, `Market` and `Code` tasks nothing but their figures,
/// sections, warnings and their sentences added to the summary.
fn review(
    request: &analysis_request::Model,
    tasks: &[agent_task::Model],
    recorded: &HashSet<Uuid>,
) -> (String, AnalysisBody, Vec<ProposalDraft>) {
    let mut body = AnalysisBody::default();
    let mut summary = None;
    let mut actions = Vec::new();
    let (mut answer, mut answered_by, mut document_sections) = (None, None, Vec::new());
    let (mut dataset_answers, mut dataset_sections) = (Vec::new(), Vec::new());
    for task in tasks {
        let Some(output) = &task.output else { continue };
        let c: Contribution = serde_json::from_value(output.clone()).unwrap_or_default();
        let read_only = [Department::Datasets, Department::Market, Department::Code];
        if read_only.iter().any(|d| d.name() == task.department) {
            // Figures computed by SQL over the merchant's own table (each
            // citing its `sql.query` call), or read from the share prices
            // they follow (each citing its `stocks.*` call), or found in
            // their analysed code (citing its `code.search` call), their
            // tables and warnings. Cells, symbols and code are the
            // merchant's input: no advice, chart or proposal is taken from
            // these tasks.
            body.key_figures.extend(reviewed(request, c.figures, recorded));
            dataset_sections.extend(c.sections);
            body.warnings.extend(c.warnings);
            dataset_answers.extend(c.answer);
            answered_by = answered_by.or(c.answered_by);
            continue;
        }
        if task.department == Department::Knowledge.name() {
            // Words drawn from untrusted documents: their claims (after the
            // narrative) and citations are kept, nothing else. No document
            // can put a figure, advice or a proposal into the answer.
            let (kept, dropped): (Vec<_>, Vec<_>) = c.citations.into_iter().partition(|cite| {
                !cite.provenance.is_empty() && cite.provenance.iter().all(|pr| recorded.contains(&pr.tool_call_id))
            });
            for citation in dropped {
                let chunk = citation.chunk_id;
                tracing::warn!(request_id = %request.id, %chunk, "citation without provenance dropped in review");
            }
            body.citations.extend(kept);
            document_sections.extend(c.sections);
            body.warnings.extend(c.warnings);
            answer = answer.or(c.answer);
            answered_by = answered_by.or(c.answered_by);
            continue;
        }
        // Review: a figure without a recorded tool call behind it is not a fact.
        body.key_figures.extend(reviewed(request, c.figures, recorded));
        body.visualizations.extend(c.visualizations);
        body.sections.extend(c.sections);
        body.recommendations.extend(c.recommendations);
        summary = summary.or(c.summary);
        body.warnings.extend(c.warnings);
        body.written_by = body.written_by.or(c.written_by);
        actions.extend(c.actions);
    }
    body.sections.extend(document_sections);
    body.sections.extend(dataset_sections);
    body.written_by = body.written_by.or(answered_by);
    let mut summary = summary.or(answer);
    // What the datasets say follows the narrative (or stands alone).
    if !dataset_answers.is_empty() {
        let datasets = dataset_answers.join(" ");
        summary = Some(match summary {
            Some(words) => format!("{words} {datasets}"),
            None => datasets,
        });
    }
    let summary = summary.unwrap_or_else(|| {
        body.key_figures
            .iter()
            .take(3)
            .map(|f| format!("{}: {} {}", f.label, f.value, f.unit))
            .collect::<Vec<_>>()
            .join("; ")
    });
    (summary, body, actions)
}

/// Writes the reviewed answer: the result, its proposals (`PENDING`, each
/// audited) and `AWAITING_APPROVAL` (proposals wait for a person) or
/// `COMPLETED`, in one transaction.
async fn write_result(
    p: &Pipeline,
    request: &analysis_request::Model,
    summary: String,
    body: AnalysisBody,
    actions: Vec<ProposalDraft>,
) -> anyhow::Result<()> {
    let now = Utc::now();
    // Configuration bounds the lifetime (a year at most), so it converts.
    let expires_at = now + Duration::from_std(p.config.proposal_ttl).unwrap_or_else(|_| Duration::hours(72));
    // Proposals wait for a person; the request completes when all are decided.
    let status = if actions.is_empty() { AnalysisStatus::Completed } else { AnalysisStatus::AwaitingApproval };
    let tx = begin_write(&p.db).await?;
    if !transition(&tx, request.id, &[AnalysisStatus::Running], status, None).await? {
        return Ok(());
    }
    analysis_result::Entity::insert(analysis_result::ActiveModel {
        request_id: Set(request.id),
        account_id: Set(request.account_id),
        summary: Set(summary.clone()),
        body: Set(serde_json::to_value(&body)?),
        created_at: Set(now),
    })
    .exec_without_returning(&tx)
    .await?;
    let mut action_ids = Vec::new();
    for action in actions {
        let id = Uuid::now_v7();
        action_ids.push(id);
        let proposed = json!({
            "kind": action.kind,
            "parameters": action.parameters,
            "parametersHash": crate::actions::parameters_hash(&action.kind, &action.parameters),
        });
        crate::actions::audit(
            &tx,
            request.account_id,
            Actor::Agent,
            "PROPOSED",
            Some(id),
            Some(request.store_id),
            proposed,
        )
        .await?;
        proposed_action::Entity::insert(proposed_action::ActiveModel {
            id: Set(id),
            account_id: Set(request.account_id),
            request_id: Set(request.id),
            kind: Set(action.kind),
            parameters: Set(action.parameters),
            preview: Set(action.preview),
            required_scopes: Set(json!(action.required_scopes)),
            status: Set(ActionStatus::Pending),
            created_at: Set(now),
            expires_at: Set(expires_at),
            updated_at: Set(Some(now)),
            decided_by: Set(None),
            decided_at: Set(None),
            decision_reason: Set(None),
            outcome: Set(None),
            inverse: Set(None),
            executed_at: Set(None),
            failure_reason: Set(None),
            reverting_at: Set(None),
        })
        .exec_without_returning(&tx)
        .await?;
    }
    let events = append(
        &tx,
        request.account_id,
        request.id,
        vec![
            (
                kind::RESULT,
                json!({ "summary": summary, "keyFigures": body.key_figures.len(), "proposedActions": action_ids }),
            ),
            status_event(status, None),
        ],
    )
    .await?;
    tx.commit().await?;
    p.committed(&events).await;
    Ok(())
}
