//! End-to-end pipeline benchmark: analysis requests through the outbox,
//! RabbitMQ, the orchestrator and four departments on PostgreSQL, events on
//! Redis, the offline model on the demo store. One process holds the API side
//! (`lifecycle::submit`, the path `submitAnalysisRequest` takes after
//! validation) and the worker, as `alatar serve` does.
//!
//! Run: `bash scripts/bench.sh` (or `cargo bench -p alatar-tests --bench pipeline`
//! with the services running). Targets (issue 3): ≥ 100 requests/s sustained;
//! orchestration overhead per agent step (excluding tool time) p99 < 1 ms.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use alatar_agents::pipeline::lifecycle::{NewRequest, submit};
use alatar_agents::pipeline::{StepObserver, StepTiming, Worker};
use alatar_entity::{AnalysisStatus, analysis_request, tool_call};
use alatar_server::Application;
use alatar_tests::{Backend, TestDb, percentile};

const REQUESTS: usize = 2_000;
const SUBMITTERS: usize = 8;
const QUESTION: &str = "How did revenue develop over the last 3 months and what should I do?";

/// The same allocator as the `alatar` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let db = TestDb::new(Backend::Postgres).await;
    let mut config = alatar_tests::test_config(&db.dir);
    config.amqp_url = Some(alatar_tests::amqp_url().into());
    config.redis_url = Some(alatar_tests::redis_url().into());
    config.pipeline.queue_namespace = format!("bench-{}.", Uuid::now_v7());
    config.log.level = "error".into();
    config.pipeline.worker = false;
    let app = Application::build_with_database(config, db.conn.clone()).await.unwrap_or_else(|e| panic!("{e:#}"));
    // The same worker `serve` runs, with a stopwatch on every handled message.
    let timings = Arc::new(Timings::default());
    let mut p = app.pipeline().clone();
    p.observer = Some(timings.clone());
    let _worker = Worker::start(p.clone(), false).await.unwrap_or_else(|e| panic!("{e:#}"));
    let (account_id, user_id, store_id) = alatar_tests::demo_tenant(&p.db).await;
    let new = move |i: usize| NewRequest {
        account_id,
        user_id,
        store_id,
        prompt: format!("{QUESTION} #{i}"),
        model: "offline".into(),
    };

    // Warm-up: caches, connections, queues.
    let warm: Vec<Uuid> = {
        let mut ids = Vec::new();
        for i in 0..50 {
            ids.push(submit(&p, new(i)).await.unwrap_or_else(|e| panic!("{e}")).id);
        }
        ids
    };
    wait(&p.db, &warm).await;

    // Unloaded: one request at a time, to see a step's own cost.
    timings.take();
    let mut quiet = Vec::new();
    for i in 0..50 {
        let id = submit(&p, new(10_000 + i)).await.unwrap_or_else(|e| panic!("{e}")).id;
        wait(&p.db, &[id]).await;
        quiet.push(id);
    }
    let quiet_steps = timings.take();
    let quiet_requests = analysis_request::Entity::find()
        .filter(analysis_request::Column::Id.is_in(quiet.clone()))
        .all(&p.db)
        .await
        .unwrap_or_default();
    let mut quiet_latency: Vec<f64> = quiet_requests
        .iter()
        .filter_map(|r| r.finished_at.map(|f| (f - r.created_at).num_microseconds().unwrap_or(0) as f64 / 1000.0))
        .collect();
    quiet_latency.sort_by(f64::total_cmp);
    let timeline = timeline(&p.db, &quiet_requests).await;
    let floor = Floor::measure(&p.db).await;

    let started = Instant::now();
    let mut submitters = tokio::task::JoinSet::new();
    for s in 0..SUBMITTERS {
        let p = p.clone();
        submitters.spawn(async move {
            let mut ids = Vec::new();
            for i in (s..REQUESTS).step_by(SUBMITTERS) {
                ids.push(submit(&p, new(i + 100)).await.unwrap_or_else(|e| panic!("{e}")).id);
            }
            ids
        });
    }
    let mut ids = Vec::new();
    while let Some(batch) = submitters.join_next().await {
        ids.extend(batch.unwrap_or_default());
    }
    let submitted = started.elapsed();
    wait(&p.db, &ids).await;
    let elapsed = started.elapsed();

    let requests = analysis_request::Entity::find()
        .filter(analysis_request::Column::Id.is_in(ids.clone()))
        .all(&p.db)
        .await
        .unwrap_or_default();
    let completed = requests.iter().filter(|r| r.status.is_settled() && r.status != AnalysisStatus::Failed).count();
    let mut latency: Vec<f64> = requests
        .iter()
        .filter_map(|r| r.finished_at.map(|f| (f - r.created_at).num_microseconds().unwrap_or(0) as f64 / 1000.0))
        .collect();
    latency.sort_by(f64::total_cmp);

    let loaded_steps = timings.take();
    let calls = tool_call::Entity::find()
        .filter(tool_call::Column::RequestId.is_in(ids.clone()))
        .all(&p.db)
        .await
        .unwrap_or_default();
    let tool_ms: Vec<f64> = calls.iter().map(|c| c.duration_us as f64 / 1000.0).collect();

    println!("pipeline benchmark: {REQUESTS} requests, RabbitMQ + PostgreSQL + Redis, offline model, demo store");
    println!(
        "  unloaded, one at a time: request latency p50 {:.1} ms, p99 {:.1} ms",
        percentile(&quiet_latency, 0.5),
        percentile(&quiet_latency, 0.99),
    );
    report("unloaded", &quiet_steps);
    println!("  unloaded timeline, p50 ms after submission, by event (the {} quiet requests):", quiet_requests.len());
    for (what, ms) in timeline {
        println!("    {what:<40} {ms:>7.1}");
    }
    floor.print();
    println!("  saturated, {SUBMITTERS} concurrent submitters:");
    println!(
        "  submitted in          {:.2} s ({:.0} submits/s)",
        submitted.as_secs_f64(),
        REQUESTS as f64 / submitted.as_secs_f64()
    );
    println!("  all terminal after    {:.2} s", elapsed.as_secs_f64());
    println!("  completed             {completed}/{REQUESTS}");
    println!("  throughput            {:.1} requests/s (target >= 100)", REQUESTS as f64 / elapsed.as_secs_f64());
    println!(
        "  request latency       p50 {:.0} ms, p99 {:.0} ms",
        percentile(&latency, 0.5),
        percentile(&latency, 0.99)
    );
    report("saturated", &loaded_steps);
    println!(
        "  tool time per call    mean {:.3} ms over {} calls",
        tool_ms.iter().sum::<f64>() / tool_ms.len().max(1) as f64,
        tool_ms.len()
    );
    payload_sizes(&p.db).await;
}

/// The machine's floor, measured the way the unloaded steps run (one thing
/// at a time, the cores idle in between) through the same pool: a bare
/// round trip, and the smallest durable commit. A step that reads its inputs
/// and commits its output pays at least one of each.
struct Floor {
    round_trip: Vec<f64>,
    commit: Vec<f64>,
}

impl Floor {
    const SAMPLES: usize = 200;

    async fn measure(db: &sea_orm::DatabaseConnection) -> Self {
        use sea_orm::{ConnectionTrait, Statement};
        let backend = db.get_database_backend();
        let run = |sql: &'static str| Statement::from_string(backend, sql);
        db.execute_raw(run("CREATE TABLE bench_floor (id BIGSERIAL PRIMARY KEY, at TIMESTAMPTZ NOT NULL)"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut floor = Self { round_trip: Vec::new(), commit: Vec::new() };
        for _ in 0..Self::SAMPLES {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let started = Instant::now();
            db.query_one_raw(run("SELECT 1")).await.unwrap_or_else(|e| panic!("{e}"));
            floor.round_trip.push(started.elapsed().as_secs_f64() * 1000.0);
            tokio::time::sleep(Duration::from_millis(5)).await;
            let started = Instant::now();
            db.execute_raw(run("INSERT INTO bench_floor (at) VALUES (now())")).await.unwrap_or_else(|e| panic!("{e}"));
            floor.commit.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        floor.round_trip.sort_by(f64::total_cmp);
        floor.commit.sort_by(f64::total_cmp);
        floor
    }

    fn print(&self) {
        for (what, v) in [("SELECT 1", &self.round_trip), ("one-row INSERT, committed", &self.commit)] {
            println!(
                "  floor     {what:<26} p50 {:.2} ms, p99 {:.2} ms over {} (paced, same pool)",
                percentile(v, 0.5),
                percentile(v, 0.99),
                v.len()
            );
        }
    }
}

/// When each of a request's events was committed, relative to its
/// submission (p50 over `requests`), in order: where unloaded latency goes.
async fn timeline(db: &sea_orm::DatabaseConnection, requests: &[analysis_request::Model]) -> Vec<(String, f64)> {
    use alatar_entity::analysis_event;
    let ids: Vec<Uuid> = requests.iter().map(|r| r.id).collect();
    let events = analysis_event::Entity::find()
        .filter(analysis_event::Column::RequestId.is_in(ids))
        .all(db)
        .await
        .unwrap_or_default();
    let mut by_step: std::collections::BTreeMap<i64, (String, Vec<f64>)> = Default::default();
    for e in &events {
        let Some(request) = requests.iter().find(|r| r.id == e.request_id) else { continue };
        let ms = (e.created_at - request.created_at).num_microseconds().unwrap_or(0) as f64 / 1000.0;
        let department = e.payload.get("department").and_then(|d| d.as_str()).unwrap_or("");
        let status = e.payload.get("status").and_then(|d| d.as_str()).unwrap_or("");
        let entry = by_step
            .entry(e.sequence)
            .or_insert_with(|| (format!("#{} {} {department}{status}", e.sequence, e.kind), Vec::new()));
        entry.1.push(ms);
    }
    by_step
        .into_values()
        .map(|(what, mut v)| {
            v.sort_by(f64::total_cmp);
            (what, percentile(&v, 0.5))
        })
        .collect()
}

/// What a step writes: the JSON a task's output and each kind of event carry
/// (bytes, mean per row), since the statements that carry JSON cost most.
async fn payload_sizes(db: &sea_orm::DatabaseConnection) {
    use sea_orm::{ConnectionTrait, Statement};
    let sql = "SELECT 'output of ' || department, AVG(OCTET_LENGTH(output::text))::float8, COUNT(*) FROM agent_tasks GROUP BY 1 \
               UNION ALL SELECT 'event ' || kind, AVG(OCTET_LENGTH(payload::text))::float8, COUNT(*) FROM analysis_events GROUP BY 1 \
               ORDER BY 1";
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap_or_default();
    println!("  JSON written per row (mean bytes):");
    for row in rows {
        let (what, bytes, n): (String, f64, i64) = row.try_get_many_by_index().unwrap_or_default();
        println!("    {what:<36} {bytes:>8.0}  ({n} rows)");
    }
}

async fn wait(db: &sea_orm::DatabaseConnection, ids: &[Uuid]) {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let open = analysis_request::Entity::find()
            .filter(analysis_request::Column::Id.is_in(ids.to_vec()))
            .all(db)
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| !r.status.is_settled())
            .count();
        if open == 0 || Instant::now() > deadline {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Handler timings, by step.
#[derive(Default)]
struct Timings(Mutex<Vec<StepTiming>>);

impl Timings {
    fn take(&self) -> Vec<StepTiming> {
        self.0.lock().map(|mut t| std::mem::take(&mut *t)).unwrap_or_default()
    }
}

impl StepObserver for Timings {
    fn observe(&self, timing: StepTiming) {
        if let Ok(mut t) = self.0.lock() {
            t.push(timing);
        }
    }
}

/// Per step kind: the handler's time minus its tools' time (the pipeline's
/// own work: reads, transactions, events, outbox), p50 and p99.
fn report(phase: &str, steps: &[StepTiming]) {
    for step in ["run_task", "advance"] {
        let mut overhead: Vec<f64> = steps
            .iter()
            .filter(|t| t.step == step)
            .map(|t| t.total.saturating_sub(t.tools).as_secs_f64() * 1000.0)
            .collect();
        overhead.sort_by(f64::total_cmp);
        println!(
            "  {phase:<9} {step:<8} overhead p50 {:.2} ms, p99 {:.2} ms over {} steps (target p99 < 1 ms)",
            percentile(&overhead, 0.5),
            percentile(&overhead, 0.99),
            overhead.len()
        );
    }
}
