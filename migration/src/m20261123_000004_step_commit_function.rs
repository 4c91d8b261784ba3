//! `alatar_finish_task`: a department step's whole commit in one call on
//! PostgreSQL. The step's statements (its task, its tool calls, its numbered
//! events, the next tasks' dispatch and their messages) each cost a round
//! trip from the worker; run server-side they cost one, and the call's own
//! implicit transaction replaces `BEGIN` and `COMMIT`. SQLite runs the same
//! steps in a transaction from Rust (`agents::pipeline::department`), where a
//! statement costs no round trip.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Arguments, all supplied by the worker:
/// - `p_status`, `p_output`, `p_error`, `p_count_attempt`: the finish (the
///   task must still be `DISPATCHED`, else nothing is written and the result
///   is NULLs: a concurrent duplicate finished it first);
/// - `p_calls`: tool-call records `[{id, tool, input, output_summary,
///   attempts, duration_us, created_at}]`;
/// - `p_events`: `[{id, kind, payload}]`, numbered here in order after the
///   request's last sequence (the counter update locks the request row, so
///   concurrent finishers of one request queue up and each sees the others'
///   tasks below);
/// - `p_runs`: `[{id, task_id, queue, payload}]`, a prepared message for every
///   task that was pending; sent for those this call moves to `DISPATCHED`
///   (pending, every dependency completed);
/// - `p_advance`: `{id, queue, payload}`, the orchestrator's message, sent when
///   the task failed, another one has, or every task is completed.
///
/// Returns the last sequence number written and the commit's time (the
/// events' `created_at` and the task's `finished_at`: when the database ran
/// the step's commit, not when the worker began preparing it).
const CREATE: &str = r#"
CREATE OR REPLACE FUNCTION alatar_finish_task(
    p_request uuid, p_task uuid, p_status text, p_output json, p_error text,
    p_count_attempt boolean,
    p_calls json, p_events json, p_runs json, p_advance json,
    OUT o_last bigint, OUT o_at timestamptz
) LANGUAGE plpgsql AS $$
DECLARE
    v_account uuid;
    v_last bigint;
    v_count bigint := json_array_length(p_events);
    v_now timestamptz := now();
BEGIN
    UPDATE agent_tasks
       SET status = p_status,
           finished_at = v_now,
           attempts = attempts + CASE WHEN p_count_attempt THEN 1 ELSE 0 END,
           output = COALESCE(p_output, output),
           last_error = COALESCE(p_error, last_error)
     WHERE id = p_task AND request_id = p_request AND status = 'DISPATCHED';
    IF NOT FOUND THEN
        RETURN;
    END IF;
    o_at := v_now;

    UPDATE analysis_requests SET last_sequence = last_sequence + v_count
     WHERE id = p_request
    RETURNING last_sequence, account_id INTO v_last, v_account;

    INSERT INTO tool_calls (id, account_id, request_id, task_id, tool, input, output_summary, attempts, duration_us, created_at)
    SELECT c.id, v_account, p_request, p_task, c.tool, c.input, c.output_summary, c.attempts, c.duration_us, c.created_at
      FROM json_to_recordset(p_calls)
           AS c(id uuid, tool text, input json, output_summary text, attempts integer, duration_us bigint, created_at timestamptz);

    INSERT INTO analysis_events (id, account_id, request_id, sequence, kind, payload, created_at)
    SELECT (e.value->>'id')::uuid, v_account, p_request, v_last - v_count + e.n, e.value->>'kind', e.value->'payload', v_now
      FROM json_array_elements(p_events) WITH ORDINALITY AS e(value, n);

    IF p_status <> 'COMPLETED'
       OR EXISTS (SELECT 1 FROM agent_tasks WHERE request_id = p_request AND status = 'FAILED')
       OR NOT EXISTS (SELECT 1 FROM agent_tasks WHERE request_id = p_request AND status <> 'COMPLETED') THEN
        INSERT INTO outbox_messages (id, queue, payload, created_at)
        VALUES ((p_advance->>'id')::uuid, p_advance->>'queue', p_advance->>'payload', v_now);
        o_last := v_last;
        RETURN;
    END IF;

    WITH moved AS (
        UPDATE agent_tasks t SET status = 'DISPATCHED'
         WHERE t.request_id = p_request AND t.status = 'PENDING'
           AND NOT EXISTS (
               SELECT 1 FROM json_array_elements_text(t.depends_on) AS d(step)
                WHERE NOT EXISTS (
                    SELECT 1 FROM agent_tasks u
                     WHERE u.request_id = p_request AND u.step = d.step::integer AND u.status = 'COMPLETED'))
        RETURNING t.id
    )
    INSERT INTO outbox_messages (id, queue, payload, created_at)
    SELECT (r.value->>'id')::uuid, r.value->>'queue', r.value->>'payload', v_now
      FROM json_array_elements(p_runs) AS r(value)
     WHERE (r.value->>'task_id')::uuid IN (SELECT id FROM moved);
    o_last := v_last;
END
$$;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager.get_connection().execute_unprepared(CREATE).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager.get_connection().execute_unprepared("DROP FUNCTION IF EXISTS alatar_finish_task").await?;
        }
        Ok(())
    }
}
