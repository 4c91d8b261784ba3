//! A finished department step's commit: its task, tool-call records,
//! numbered events, the next tasks' dispatch and the messages they cause,
//! all or nothing. The embedded and the production implementation side by
//! side: SQLite runs the statements in a transaction from here, where a
//! statement costs no round trip; PostgreSQL runs the same statements in one
//! call to `alatar_finish_task` (migration 000004), one round trip and its
//! own implicit transaction instead of about ten round trips.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, Statement};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use alatar_entity::{TaskStatus, agent_task, analysis_request, tool_call};

use super::super::bus::Event;
use super::super::journal::{append, enqueue, numbered};
use super::super::{Message, Pipeline, orchestrator};
use crate::Department;
use crate::tools::ToolCallRecord;
use crate::write::begin_write;

/// How a task finished.
pub(super) struct Finish {
    pub status: TaskStatus,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub calls: Vec<ToolCallRecord>,
    pub events: Vec<(&'static str, Value)>,
    /// The attempt was not counted by a start committed on its own.
    pub count_attempt: bool,
}

/// Commits `finish`. Only the first finisher of a task commits: `None` when a
/// concurrent duplicate did first (nothing is written).
pub(super) async fn commit(
    p: &Pipeline,
    request: &analysis_request::Model,
    task: &agent_task::Model,
    tasks: &[agent_task::Model],
    finish: Finish,
) -> Result<Option<Vec<Event>>, DbErr> {
    match p.db.get_database_backend() {
        DbBackend::Postgres => in_one_call(p, request, task, tasks, finish).await,
        _ => in_transaction(p, request, task, finish).await,
    }
}

async fn in_transaction(
    p: &Pipeline,
    request: &analysis_request::Model,
    task: &agent_task::Model,
    finish: Finish,
) -> Result<Option<Vec<Event>>, DbErr> {
    let tx = begin_write(&p.db).await?;
    let mut update = agent_task::Entity::update_many()
        .col_expr(agent_task::Column::Status, Expr::value(finish.status))
        .col_expr(agent_task::Column::FinishedAt, Expr::value(Utc::now()));
    if finish.count_attempt {
        update = update.col_expr(agent_task::Column::Attempts, Expr::col(agent_task::Column::Attempts).add(1));
    }
    if let Some(output) = finish.output {
        update = update.col_expr(agent_task::Column::Output, Expr::value(output));
    }
    if let Some(error) = finish.error {
        update = update.col_expr(agent_task::Column::LastError, Expr::value(error));
    }
    let changed = update
        .filter(agent_task::Column::Id.eq(task.id))
        .filter(agent_task::Column::Status.eq(TaskStatus::Dispatched))
        .exec(&tx)
        .await?
        .rows_affected;
    if changed != 1 {
        return Ok(None);
    }
    if !finish.calls.is_empty() {
        tool_call::Entity::insert_many(finish.calls.iter().map(|c| tool_call::ActiveModel {
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
    let events = append(&tx, request.account_id, request.id, finish.events).await?;
    // Dispatch the next tasks in this same commit; only writing the result
    // or failing the request is left to the orchestrator's queue.
    let next = match finish.status {
        TaskStatus::Completed => orchestrator::dispatch_ready(&tx, request, false).await?,
        _ => orchestrator::Next::Fail(String::new()),
    };
    if !matches!(next, orchestrator::Next::Waiting) {
        enqueue(&tx, &Message::Advance { request_id: request.id, redispatch: false }).await?;
    }
    tx.commit().await?;
    Ok(Some(events))
}

#[derive(Serialize)]
struct CallRow<'a> {
    id: Uuid,
    tool: &'a str,
    input: &'a Value,
    output_summary: &'a str,
    attempts: u32,
    duration_us: i64,
    created_at: DateTime<Utc>,
}

#[derive(Serialize)]
struct EventRow<'a> {
    id: Uuid,
    kind: &'a str,
    payload: &'a Value,
}

/// An outbox row, prepared; `task_id` says which dispatch sends it.
#[derive(Serialize)]
struct MessageRow {
    id: Uuid,
    task_id: Option<Uuid>,
    queue: &'static str,
    payload: String,
}

impl MessageRow {
    fn new(message: &Message, task_id: Option<Uuid>) -> Result<Self, DbErr> {
        Ok(Self { id: Uuid::now_v7(), task_id, queue: message.queue(), payload: to_json(message)? })
    }
}

fn to_json(value: &impl Serialize) -> Result<String, DbErr> {
    serde_json::to_string(value).map_err(|e| DbErr::Custom(e.to_string()))
}

async fn in_one_call(
    p: &Pipeline,
    request: &analysis_request::Model,
    task: &agent_task::Model,
    tasks: &[agent_task::Model],
    finish: Finish,
) -> Result<Option<Vec<Event>>, DbErr> {
    let calls: Vec<CallRow> = finish
        .calls
        .iter()
        .map(|c| CallRow {
            id: c.id,
            tool: &c.tool,
            input: &c.input,
            output_summary: &c.output_summary,
            attempts: c.attempts,
            duration_us: c.duration.as_micros() as i64,
            created_at: c.at,
        })
        .collect();
    let ids: Vec<Uuid> = finish.events.iter().map(|_| Uuid::now_v7()).collect();
    let events: Vec<EventRow> =
        finish.events.iter().zip(&ids).map(|((kind, payload), id)| EventRow { id: *id, kind, payload }).collect();
    // A message for every task that was pending when the step began: the
    // call sends those it finds ready under the request's lock.
    let runs = tasks
        .iter()
        .filter(|t| t.status == TaskStatus::Pending)
        .filter_map(|t| Some((t.id, Department::from_name(&t.department)?)))
        .map(|(task_id, department)| {
            MessageRow::new(&Message::RunTask { request_id: request.id, task_id, department }, Some(task_id))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let advance = MessageRow::new(&Message::Advance { request_id: request.id, redispatch: false }, None)?;
    let output = finish.output.as_ref().map(to_json).transpose()?;

    let sql = "SELECT o_last, o_at FROM alatar_finish_task($1, $2, $3, $4::json, $5, $6, $7::json, $8::json, $9::json, $10::json)";
    let values: [sea_orm::Value; 10] = [
        request.id.into(),
        task.id.into(),
        finish.status.into(),
        output.into(),
        finish.error.into(),
        finish.count_attempt.into(),
        to_json(&calls)?.into(),
        to_json(&events)?.into(),
        to_json(&runs)?.into(),
        to_json(&advance)?.into(),
    ];
    let Some(row) = p.db.query_one_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values)).await? else {
        return Ok(None);
    };
    let (Some(last), Some(now)) =
        (row.try_get_by_index::<Option<i64>>(0)?, row.try_get_by_index::<Option<DateTime<Utc>>>(1)?)
    else {
        return Ok(None);
    };
    let events = ids.into_iter().zip(finish.events).map(|(id, (kind, payload))| (id, kind, payload)).collect();
    Ok(Some(numbered(request.account_id, request.id, last, events, now).into_iter().map(Event::from).collect()))
}
