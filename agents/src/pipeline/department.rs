//! Runs one department task: start (counted attempt), work through the
//! tools, then commit output, tool-call records, events and the follow-up
//! message in one transaction. A redelivery after that commit is a no-op.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, TransactionTrait};
use serde_json::{Value, json};
use uuid::Uuid;

use alatar_entity::{TaskStatus, agent_task, analysis_request, store, tool_call};

use super::bus::kind;
use super::journal::{append, enqueue};
use super::{Message, Pipeline, orchestrator};
use crate::Department;
use crate::departments::TaskContext;
use crate::plan::Plan;
use crate::tools::{ErrorBudget, TaskFailure, ToolRunner};

/// How long a task may work before its start is announced on its own. Fast
/// steps (most of them) record their start with their result: one
/// transaction instead of two. Slow ones (a model writing) show it live.
const ANNOUNCE_AFTER: Duration = Duration::from_millis(100);

/// The task's start (attempt count and `TASK_STARTED`), committed at most once.
struct Start {
    p: Pipeline,
    account_id: Uuid,
    request_id: Uuid,
    task_id: Uuid,
    department: Department,
    attempt: i32,
    committed: tokio::sync::Mutex<bool>,
}

impl Start {
    fn event(&self) -> (&'static str, Value) {
        (kind::TASK_STARTED, json!({ "taskId": self.task_id, "department": self.department, "attempt": self.attempt }))
    }

    async fn count_attempt<C: sea_orm::ConnectionTrait>(&self, db: &C) -> Result<(), sea_orm::DbErr> {
        agent_task::Entity::update_many()
            .col_expr(agent_task::Column::Attempts, Expr::col(agent_task::Column::Attempts).add(1))
            .filter(agent_task::Column::Id.eq(self.task_id))
            .exec(db)
            .await
            .map(|_| ())
    }

    /// Commits the start now unless it already was.
    async fn announce(&self) -> anyhow::Result<()> {
        let mut committed = self.committed.lock().await;
        if *committed {
            return Ok(());
        }
        let tx = self.p.db.begin().await?;
        self.count_attempt(&tx).await?;
        let events = append(&tx, self.account_id, self.request_id, vec![self.event()]).await?;
        tx.commit().await?;
        *committed = true;
        self.p.bus.publish(&events).await;
        Ok(())
    }
}

/// The task's error budget: tool errors counted on its row, with a
/// `TOOL_ERROR` event each.
#[async_trait]
impl ErrorBudget for Start {
    async fn record_error(&self, tool: &str, error: &str) -> anyhow::Result<u32> {
        // The start comes first in the event sequence.
        self.announce().await?;
        let tx = self.p.db.begin().await?;
        agent_task::Entity::update_many()
            .col_expr(agent_task::Column::ErrorCount, Expr::col(agent_task::Column::ErrorCount).add(1))
            .col_expr(agent_task::Column::LastError, Expr::value(format!("{tool}: {error}")))
            .filter(agent_task::Column::Id.eq(self.task_id))
            .exec(&tx)
            .await?;
        let count: i32 = agent_task::Entity::find_by_id(self.task_id)
            .select_only()
            .column(agent_task::Column::ErrorCount)
            .into_tuple()
            .one(&tx)
            .await?
            .unwrap_or(0);
        let payload = json!({ "taskId": self.task_id, "tool": tool, "error": error, "errorCount": count });
        let events = append(&tx, self.account_id, self.request_id, vec![(kind::TOOL_ERROR, payload)]).await?;
        tx.commit().await?;
        self.p.bus.publish(&events).await;
        Ok(u32::try_from(count).unwrap_or(0))
    }
}

/// Handles `RunTask`; returns the time its tools took.
pub(crate) async fn run_task(p: &Pipeline, request_id: Uuid, task_id: Uuid) -> anyhow::Result<Duration> {
    // The message names both rows: read them side by side, not one after the other.
    let (task, request) = tokio::try_join!(
        agent_task::Entity::find_by_id(task_id).one(&p.db),
        analysis_request::Entity::find_by_id(request_id).one(&p.db),
    )?;
    let (Some(task), Some(request)) = (task, request) else { return Ok(Duration::ZERO) };
    anyhow::ensure!(task.request_id == request.id, "task {task_id} does not belong to request {request_id}");
    if task.status != TaskStatus::Dispatched {
        return Ok(Duration::ZERO); // done already (a redelivery), or cancelled
    }
    if request.status.is_terminal() {
        return Ok(Duration::ZERO);
    }
    let Some(department) = Department::from_name(&task.department) else {
        anyhow::bail!("unknown department {:?}", task.department);
    };
    let Some(agent) = p.departments.get(department).cloned() else {
        anyhow::bail!("no {department:?} agent on this worker");
    };

    let start = Arc::new(Start {
        p: p.clone(),
        account_id: request.account_id,
        request_id: request.id,
        task_id: task.id,
        department,
        attempt: task.attempts + 1,
        committed: tokio::sync::Mutex::new(false),
    });
    // The work runs on its own task so that announcing the start never waits
    // on a connection the suspended work still holds.
    let mut working = tokio::spawn({
        let (p, request, task, start) = (p.clone(), request.clone(), task.clone(), start.clone());
        async move { work(&p, &request, &task, department, agent, start).await }
    });
    let joined = match tokio::time::timeout(ANNOUNCE_AFTER, &mut working).await {
        Ok(joined) => joined,
        Err(_) => {
            start.announce().await?;
            working.await
        }
    };
    let outcome = joined.map_err(|e| anyhow::anyhow!("department task panicked: {e}"))?;
    if let Err(TaskFailure::Infrastructure(_)) = &outcome {
        // The attempt counts even though nothing else can be committed.
        start.announce().await?;
    }
    let (status, output, calls, mut events, error) = match outcome {
        Ok((output, calls)) => {
            let partial = partial(department, &output);
            let mut events = Vec::new();
            for call in &calls {
                events.push((
                    kind::TOOL_CALL,
                    json!({ "taskId": task.id, "toolCallId": call.id, "tool": call.tool, "input": call.input }),
                ));
                events.push((
                    kind::TOOL_RESULT,
                    json!({ "taskId": task.id, "toolCallId": call.id, "tool": call.tool, "summary": call.output_summary,
                            "durationMs": call.duration.as_secs_f64() * 1000.0, "attempts": call.attempts }),
                ));
            }
            events.push((
                kind::PARTIAL_RESULT,
                json!({ "taskId": task.id, "department": department, "output": partial }),
            ));
            events.push((kind::TASK_COMPLETED, json!({ "taskId": task.id, "department": department })));
            (TaskStatus::Completed, Some(output), calls, events, None)
        }
        Err(TaskFailure::Infrastructure(e)) => return Err(e),
        Err(failure) => {
            let error = failure.to_string();
            let event = (kind::TASK_FAILED, json!({ "taskId": task.id, "department": department, "error": error }));
            (TaskStatus::Failed, None, Vec::new(), vec![event], Some(error))
        }
    };

    // Finish: only the first finisher commits; a concurrent duplicate rolls back.
    // A start not committed on its own counts its attempt in this same update.
    let count_attempt = !*start.committed.lock().await;
    let tx = p.db.begin().await?;
    let mut update = agent_task::Entity::update_many()
        .col_expr(agent_task::Column::Status, Expr::value(status))
        .col_expr(agent_task::Column::FinishedAt, Expr::value(Utc::now()));
    if count_attempt {
        update = update.col_expr(agent_task::Column::Attempts, Expr::col(agent_task::Column::Attempts).add(1));
    }
    if let Some(output) = output {
        update = update.col_expr(agent_task::Column::Output, Expr::value(output));
    }
    if let Some(error) = &error {
        update = update.col_expr(agent_task::Column::LastError, Expr::value(error.clone()));
    }
    let changed = update
        .filter(agent_task::Column::Id.eq(task.id))
        .filter(agent_task::Column::Status.eq(TaskStatus::Dispatched))
        .exec(&tx)
        .await?
        .rows_affected;
    let tool_time = calls.iter().map(|c| c.duration).sum();
    if changed != 1 {
        return Ok(tool_time);
    }
    if count_attempt {
        events.insert(0, start.event());
    }
    if !calls.is_empty() {
        tool_call::Entity::insert_many(calls.iter().map(|c| tool_call::ActiveModel {
            id: Set(c.id),
            account_id: Set(request.account_id),
            request_id: Set(request.id),
            task_id: Set(task.id),
            tool: Set(c.tool.clone()),
            input: Set(c.input.clone()),
            output_summary: Set(c.output_summary.clone()),
            attempts: Set(c.attempts as i32),
            duration_us: Set(c.duration.as_micros() as i64),
            created_at: Set(c.at),
        }))
        .exec_without_returning(&tx)
        .await?;
    }
    // The append locks the request row: concurrent finishers of one request
    // queue up here, and each dispatch round below sees the tasks the
    // others committed.
    let committed = append(&tx, request.account_id, request.id, std::mem::take(&mut events)).await?;
    // Dispatch the next tasks in this same commit; only writing the result
    // or failing the request is left to the orchestrator's queue.
    let next = match status {
        TaskStatus::Completed => orchestrator::dispatch_ready(&tx, &request, false).await?,
        _ => orchestrator::Next::Fail(String::new()),
    };
    if !matches!(next, orchestrator::Next::Waiting) {
        enqueue(&tx, &Message::Advance { request_id: request.id, redispatch: false }).await?;
    }
    tx.commit().await?;
    p.committed(&committed).await;
    Ok(tool_time)
}

type Worked = (Value, Vec<crate::tools::ToolCallRecord>);

async fn work(
    p: &Pipeline,
    request: &analysis_request::Model,
    task: &agent_task::Model,
    department: Department,
    agent: Arc<dyn crate::departments::DepartmentAgent>,
    start: Arc<Start>,
) -> Result<Worked, TaskFailure> {
    let infra = |e: sea_orm::DbErr| TaskFailure::Infrastructure(e.into());
    let plan: Plan = request
        .plan
        .clone()
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or_else(|| TaskFailure::Rejected("the request has no plan".into()))?;
    let depends_on: Vec<i32> = serde_json::from_value(task.depends_on.clone()).unwrap_or_default();
    let upstream = async {
        if depends_on.is_empty() {
            return Ok(Vec::new());
        }
        agent_task::Entity::find()
            .filter(agent_task::Column::RequestId.eq(request.id))
            .filter(agent_task::Column::Step.is_in(depends_on.iter().copied()))
            .all(&p.db)
            .await
    };
    // Independent reads, side by side.
    let (upstream, store) =
        tokio::try_join!(upstream, store::Entity::find_by_id(request.store_id).one(&p.db)).map_err(infra)?;
    let upstream =
        upstream.into_iter().filter_map(|t| Some((Department::from_name(&t.department)?, t.output?))).collect();
    let store = store.ok_or_else(|| TaskFailure::Rejected("the store was disconnected".into()))?;
    let as_of = request.created_at.date_naive();
    // Shopify briefly unreachable: retry the message; refused: fail the task.
    let data = p.stores.resolve(&store, as_of).await.map_err(|e| match e {
        e if e.is_transient() => TaskFailure::Infrastructure(e.into()),
        e => TaskFailure::Rejected(e.to_string()),
    })?;
    let context = TaskContext {
        prompt: request.prompt.clone(),
        intent: plan.intent,
        period: plan.period,
        as_of,
        objective: task.objective.clone(),
        upstream,
        store: data,
        llm: p.llm.clone(),
        model: Some(request.model.clone()),
    };
    let mut runner = ToolRunner::new(
        start,
        u32::try_from(task.error_count).unwrap_or(0),
        p.config.tool_timeout,
        p.config.tool_backoff,
    );
    tracing::debug!(task_id = %task.id, ?department, "working");
    let output = agent.work(&context, &mut runner).await?;
    Ok((output, runner.into_calls()))
}

/// The part of a department's output worth streaming (datasets are not).
fn partial(department: Department, output: &Value) -> Value {
    match department {
        Department::DataRetrieval => {
            let names: Vec<_> = output.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
            json!({ "datasets": names })
        }
        _ => {
            let mut out = output.clone();
            if let Some(o) = out.as_object_mut() {
                o.remove("visualizations");
            }
            out
        }
    }
}
