//! `alatar_finish_task`, PostgreSQL's one-call commit of a department step
//! (migration 000004): only the first of two concurrent finishers writes,
//! events are numbered after the request's last sequence, the next task is
//! dispatched once its dependencies completed, and the orchestrator is told
//! when every task has.

use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter, QueryOrder, Statement,
};
use serde_json::json;
use uuid::Uuid;

use alatar_entity::{AnalysisStatus, TaskStatus, agent_task, analysis_event, analysis_request, outbox_message};
use alatar_tests::{Backend, TestDb, demo_tenant};

fn task(account_id: Uuid, request_id: Uuid, step: i32, department: &str, depends_on: &[i32]) -> agent_task::Model {
    agent_task::Model {
        id: Uuid::now_v7(),
        account_id,
        request_id,
        step,
        department: department.into(),
        objective: "work".into(),
        depends_on: json!(depends_on),
        status: if depends_on.is_empty() { TaskStatus::Dispatched } else { TaskStatus::Pending },
        attempts: 0,
        error_count: 0,
        last_error: None,
        output: None,
        created_at: chrono::Utc::now(),
        finished_at: None,
    }
}

/// Finishes `task` as `COMPLETED` with two events; the last sequence, or
/// `None` when the task was no longer dispatched.
async fn finish(db: &DatabaseConnection, request_id: Uuid, task: Uuid, pending: &[Uuid]) -> Option<i64> {
    let events = json!([
        { "id": Uuid::now_v7(), "kind": "PARTIAL_RESULT", "payload": { "taskId": task } },
        { "id": Uuid::now_v7(), "kind": "TASK_COMPLETED", "payload": { "taskId": task } },
    ]);
    let calls = json!([{ "id": Uuid::now_v7(), "tool": "revenue", "input": {}, "output_summary": "ok",
                         "attempts": 1, "duration_us": 10, "created_at": chrono::Utc::now() }]);
    let runs: Vec<_> = pending
        .iter()
        .map(|t| json!({ "id": Uuid::now_v7(), "task_id": t, "queue": "department", "payload": format!("run {t}") }))
        .collect();
    let advance = json!({ "id": Uuid::now_v7(), "queue": "orchestrator", "payload": "advance" });
    let sql = "SELECT o_last FROM alatar_finish_task($1, $2, 'COMPLETED', $3::json, NULL, true, $4::json, $5::json, $6::json, $7::json)";
    let values: [sea_orm::Value; 7] = [
        request_id.into(),
        task.into(),
        json!({ "rows": 3 }).to_string().into(),
        calls.to_string().into(),
        events.to_string().into(),
        json!(runs).to_string().into(),
        advance.to_string().into(),
    ];
    let row = db
        .query_one_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values))
        .await
        .unwrap_or_else(|e| panic!("{e}"))?;
    row.try_get_by_index::<Option<i64>>(0).unwrap_or_else(|e| panic!("{e}"))
}

async fn outbox(db: &DatabaseConnection) -> Vec<String> {
    outbox_message::Entity::find()
        .order_by_asc(outbox_message::Column::Id)
        .all(db)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|m| m.payload)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_call_commits_a_step_once_and_dispatches_what_is_ready() {
    let db = TestDb::new(Backend::Postgres).await;
    let db = &db.conn;
    let (account_id, user_id, store_id) = demo_tenant(db).await;
    let now = chrono::Utc::now();
    let request_id = Uuid::now_v7();
    analysis_request::Entity::insert(analysis_request::ActiveModel {
        id: Set(request_id),
        account_id: Set(account_id),
        user_id: Set(user_id),
        store_id: Set(store_id),
        prompt: Set("How is revenue?".into()),
        status: Set(AnalysisStatus::Running),
        intent: Set(None),
        plan: Set(None),
        model: Set("offline".into()),
        failure_reason: Set(None),
        last_sequence: Set(5),
        created_at: Set(now),
        updated_at: Set(now),
        started_at: Set(Some(now)),
        finished_at: Set(None),
        workflow_id: Set(None),
        workflow_inputs: Set(None),
    })
    .exec_without_returning(db)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let first = task(account_id, request_id, 0, "DataRetrieval", &[]);
    let second = task(account_id, request_id, 1, "QuantitativeAnalysis", &[0]);
    agent_task::Entity::insert_many([first.clone(), second.clone()].map(agent_task::ActiveModel::from))
        .exec_without_returning(db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // Two deliveries of the first task finish at once: one commits.
    let pending = [second.id];
    let (a, b) = tokio::join!(finish(db, request_id, first.id, &pending), finish(db, request_id, first.id, &pending));
    assert_eq!(a.into_iter().chain(b).collect::<Vec<_>>(), vec![7], "exactly one finisher commits");
    let sequences: Vec<i64> = analysis_event::Entity::find()
        .filter(analysis_event::Column::RequestId.eq(request_id))
        .all(db)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.sequence)
        .collect();
    assert_eq!(sequences, vec![6, 7]);
    let tasks = agent_task::Entity::find().filter(agent_task::Column::RequestId.eq(request_id));
    let done = tasks.clone().filter(agent_task::Column::Id.eq(first.id)).one(db).await.ok().flatten();
    assert!(done.is_some_and(|t| t.status == TaskStatus::Completed && t.attempts == 1 && t.output.is_some()));
    let next = tasks.filter(agent_task::Column::Id.eq(second.id)).one(db).await.ok().flatten();
    assert!(next.is_some_and(|t| t.status == TaskStatus::Dispatched), "the dependent task is dispatched");
    assert_eq!(outbox(db).await, vec![format!("run {}", second.id)]);

    // The last task: every task completed, so the orchestrator is told.
    assert_eq!(finish(db, request_id, second.id, &[]).await, Some(9));
    assert_eq!(outbox(db).await, vec![format!("run {}", second.id), "advance".to_owned()]);
}
