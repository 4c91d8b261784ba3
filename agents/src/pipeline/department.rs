//! Runs one department task: start (counted attempt), work through the
//! tools, then commit output, tool-call records, events and the follow-up
//! messages at once (`commit`). A redelivery after that commit is a no-op.
//! Failed attempts (`TOOL_ERROR`) and long calls' progress (`TOOL_PROGRESS`)
//! are committed as they happen, so watchers see them live. A provider whose
//! circuit is open is waited for (the runner's deferral), not counted; one
//! that stays down fails the task as unavailable.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, EntityTrait, JoinType, QueryFilter, QuerySelect};
use serde_json::{Value, json};
use uuid::Uuid;

use alatar_entity::{AccountScope, AnalysisStatus, TaskStatus, agent_task, analysis_request, store};

use super::Pipeline;
use super::bus::kind;
use super::journal::append;
use crate::Department;
use crate::code::repositories::{AccountRepositories, Repositories};
use crate::datasets::catalog::{Catalog, DatabaseCatalog};
use crate::departments::TaskContext;
use crate::knowledge::library::{DatabaseLibrary, Library};
use crate::market::quotes::{AccountQuotes, Quotes};
use crate::plan::Plan;
use crate::store::StoreError;
use crate::tools::{ErrorBudget, FailedAttempt, ProgressSink, TaskFailure, ToolProgress, ToolRunner};
use crate::workflows::{NodeContext, WorkflowPlan};
use crate::write::begin_write;

mod commit;

use commit::{Finish, commit};

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

    /// Whether the request still takes events, asked under its row lock so
    /// that a cancellation committing at the same time is either seen here
    /// or comes after what this transaction appends: a live event never
    /// follows the terminal one.
    async fn request_open<C: sea_orm::ConnectionTrait>(&self, db: &C) -> Result<bool, sea_orm::DbErr> {
        analysis_request::Entity::update_many()
            .col_expr(analysis_request::Column::LastSequence, Expr::col(analysis_request::Column::LastSequence))
            .filter(analysis_request::Column::Id.eq(self.request_id))
            .exec(db)
            .await?;
        let status: Option<AnalysisStatus> = analysis_request::Entity::find_by_id(self.request_id)
            .select_only()
            .column(analysis_request::Column::Status)
            .into_tuple()
            .one(db)
            .await?;
        Ok(matches!(status, Some(AnalysisStatus::Queued | AnalysisStatus::Planning | AnalysisStatus::Running)))
    }

    /// Commits the start now unless it already was.
    async fn announce(&self) -> anyhow::Result<()> {
        let mut committed = self.committed.lock().await;
        if *committed {
            return Ok(());
        }
        let tx = begin_write(&self.p.db).await?;
        self.count_attempt(&tx).await?;
        let events = if self.request_open(&tx).await? {
            append(&tx, self.account_id, self.request_id, vec![self.event()]).await?
        } else {
            Vec::new()
        };
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
    async fn record_error(&self, failed: FailedAttempt<'_>) -> anyhow::Result<u32> {
        let FailedAttempt { tool, input, error, attempt, duration } = failed;
        // The start comes first in the event sequence.
        self.announce().await?;
        let tx = begin_write(&self.p.db).await?;
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
        let payload = json!({ "taskId": self.task_id, "tool": tool, "input": input, "error": error, "attempt": attempt,
                              "durationMs": duration.as_secs_f64() * 1000.0, "errorCount": count });
        let events = if self.request_open(&tx).await? {
            append(&tx, self.account_id, self.request_id, vec![(kind::TOOL_ERROR, payload)]).await?
        } else {
            Vec::new()
        };
        tx.commit().await?;
        self.p.bus.publish(&events).await;
        Ok(u32::try_from(count).unwrap_or(0))
    }
}

/// Long calls' progress: one `TOOL_PROGRESS` event each time the runner
/// hands it on (at most once a second per call, never for a call shorter
/// than a second), so fast reads write nothing extra.
#[async_trait]
impl ProgressSink for Start {
    async fn progress(&self, progress: ToolProgress) -> anyhow::Result<()> {
        let ToolProgress { tool_call_id, tool, attempt, pages, rows, detail, elapsed } = progress;
        // The start comes first in the event sequence.
        self.announce().await?;
        let payload = json!({ "taskId": self.task_id, "toolCallId": tool_call_id, "tool": tool, "attempt": attempt,
                              "pages": pages, "rows": rows, "detail": detail,
                              "elapsedMs": elapsed.as_secs_f64() * 1000.0 });
        let tx = begin_write(&self.p.db).await?;
        if !self.request_open(&tx).await? {
            return Ok(());
        }
        let events = append(&tx, self.account_id, self.request_id, vec![(kind::TOOL_PROGRESS, payload)]).await?;
        tx.commit().await?;
        self.p.bus.publish(&events).await;
        Ok(())
    }
}

/// Handles `RunTask`; returns the time its tools took.
pub(crate) async fn run_task(p: &Pipeline, request_id: Uuid, task_id: Uuid) -> anyhow::Result<Duration> {
    // One round of reads, side by side: the request with all its tasks (this
    // one, the upstream outputs it works from, and the pending ones its
    // finish may dispatch) in one statement, and its store.
    let store = store::Entity::find().filter(
        store::Column::Id.in_subquery(
            Query::select()
                .column(analysis_request::Column::StoreId)
                .from(analysis_request::Entity)
                .and_where(analysis_request::Column::Id.eq(request_id))
                .to_owned(),
        ),
    );
    let with_request = agent_task::Entity::find()
        .join(
            JoinType::InnerJoin,
            agent_task::Entity::belongs_to(analysis_request::Entity)
                .from(agent_task::Column::RequestId)
                .to(analysis_request::Column::Id)
                .into(),
        )
        .select_also(analysis_request::Entity)
        .filter(agent_task::Column::RequestId.eq(request_id));
    let (rows, store) = tokio::try_join!(with_request.all(&p.db), store.one(&p.db))?;
    let request = rows.first().and_then(|(_, request)| request.clone());
    let tasks: Vec<agent_task::Model> = rows.into_iter().map(|(task, _)| task).collect();
    let (Some(request), Some(task)) = (request, tasks.iter().find(|t| t.id == task_id).cloned()) else {
        anyhow::ensure!(
            agent_task::Entity::find_by_id(task_id).one(&p.db).await?.is_none(),
            "task {task_id} does not belong to request {request_id}"
        );
        return Ok(Duration::ZERO);
    };
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
    // A workflow's node may read any node that ran before it, not only
    // the ones its edges come from.
    let depends_on: Vec<i32> = if request.workflow_id.is_some() {
        ancestors(&tasks, &task)
    } else {
        serde_json::from_value(task.depends_on.clone()).unwrap_or_default()
    };
    let upstream = tasks
        .iter()
        .filter(|t| depends_on.contains(&t.step))
        .filter_map(|t| Some((Department::from_name(&t.department)?, t.output.clone()?)))
        .collect();

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
        async move { work(&p, &request, store, &task, upstream, agent, start).await }
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
    let mut finish = match outcome {
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
            Finish {
                status: TaskStatus::Completed,
                output: Some(output),
                error: None,
                calls,
                events,
                count_attempt: false,
            }
        }
        Err(TaskFailure::Infrastructure(e)) => return Err(e),
        Err(failure) => {
            let error = failure.to_string();
            let event = (kind::TASK_FAILED, json!({ "taskId": task.id, "department": department, "error": error }));
            Finish {
                status: TaskStatus::Failed,
                output: None,
                error: Some(error),
                calls: Vec::new(),
                events: vec![event],
                count_attempt: false,
            }
        }
    };
    let tool_time = finish.calls.iter().map(|c| c.duration).sum();
    // A start not committed on its own counts its attempt with the finish.
    if !*start.committed.lock().await {
        finish.count_attempt = true;
        finish.events.insert(0, start.event());
    }
    if let Some(events) = commit(p, &request, &task, &tasks, finish).await? {
        p.committed(&events).await;
    }
    Ok(tool_time)
}

type Worked = (Value, Vec<crate::tools::ToolCallRecord>);

/// The steps `task` waits for, directly or through the steps it waits for.
fn ancestors(tasks: &[agent_task::Model], task: &agent_task::Model) -> Vec<i32> {
    let waits_for =
        |t: &agent_task::Model| serde_json::from_value::<Vec<i32>>(t.depends_on.clone()).unwrap_or_default();
    let mut found: Vec<i32> = Vec::new();
    let mut next = waits_for(task);
    while let Some(step) = next.pop() {
        if found.contains(&step) {
            continue;
        }
        found.push(step);
        if let Some(upstream) = tasks.iter().find(|t| t.step == step) {
            next.extend(waits_for(upstream));
        }
    }
    found
}

/// What the request's plan asks of its tasks: an analysis's steps, or the
/// nodes of a saved workflow's run.
enum Assignment {
    Analysis(Plan),
    Workflow(WorkflowPlan),
}

impl Assignment {
    fn of(request: &analysis_request::Model) -> Result<Self, TaskFailure> {
        let no_plan = || TaskFailure::Rejected("the request has no plan".into());
        let plan = request.plan.clone().ok_or_else(no_plan)?;
        if request.workflow_id.is_some() {
            serde_json::from_value(plan).map(Assignment::Workflow).map_err(|_| no_plan())
        } else {
            serde_json::from_value(plan).map(Assignment::Analysis).map_err(|_| no_plan())
        }
    }

    /// The shop's day the request was planned on (older plans: none).
    fn as_of(&self) -> Option<chrono::NaiveDate> {
        match self {
            Assignment::Analysis(plan) => plan.as_of,
            Assignment::Workflow(run) => Some(run.as_of),
        }
    }
}

async fn work(
    p: &Pipeline,
    request: &analysis_request::Model,
    store: Option<store::Model>,
    task: &agent_task::Model,
    upstream: Vec<(Department, Value)>,
    agent: Arc<dyn crate::departments::DepartmentAgent>,
    start: Arc<Start>,
) -> Result<Worked, TaskFailure> {
    let assignment = Assignment::of(request)?;
    let store = store.ok_or_else(|| TaskFailure::Rejected("the store was disconnected".into()))?;
    // The shop's day the request was planned on (older plans: UTC's).
    let as_of = assignment.as_of().unwrap_or_else(|| request.created_at.date_naive());
    let mut runner = ToolRunner::new(
        start.clone(),
        u32::try_from(task.error_count).unwrap_or(0),
        p.config.tool_timeout,
        p.config.tool_backoff,
    )
    .with_ceiling(p.config.tool_max)
    .with_progress(start);
    let data = loop {
        match p.stores.resolve(&store, as_of).await {
            Ok(data) => break data,
            // The shop's circuit is open: wait for it as a tool call would.
            Err(StoreError::CircuitOpen(refusal)) => runner.defer(refusal).await?,
            // Shopify briefly unreachable: retry the message; refused: fail the task.
            Err(e) if e.is_transient() => return Err(TaskFailure::Infrastructure(e.into())),
            Err(e) => return Err(TaskFailure::Rejected(e.to_string())),
        }
    };
    // Bound to the request's account: whatever a model, a document or a
    // dataset's cells ask for, no other account's chunks or tables can be
    // read through them.
    let scope = AccountScope::new(request.account_id);
    let library: Arc<dyn Library> = Arc::new(DatabaseLibrary::new(p, scope));
    tracing::debug!(task_id = %task.id, department = ?task.department, "working");
    let output = match assignment {
        Assignment::Analysis(plan) => {
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
                library: Some(library),
                datasets: Some(Arc::new(DatabaseCatalog::new(p, scope)) as Arc<dyn Catalog>),
                market: Some(Arc::new(AccountQuotes::new(p.db.clone(), scope, p.market.clone())) as Arc<dyn Quotes>),
                code: Some(
                    Arc::new(AccountRepositories::new(p.clone(), scope, request.user_id)) as Arc<dyn Repositories>
                ),
            };
            agent.work(&context, &mut runner).await?
        }
        Assignment::Workflow(run) => {
            let model = Some(request.model.clone());
            let context = NodeContext::for_step(&run, task.step, upstream, data, library, p.llm.clone(), model)?;
            agent.work_node(&context, &mut runner).await?
        }
    };
    Ok((output, runner.into_calls()))
}

/// The part of a department's output worth streaming (datasets are not).
fn partial(department: Department, output: &Value) -> Value {
    match department {
        Department::Workflow => crate::workflows::partial(output),
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
