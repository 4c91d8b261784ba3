//! Mixed-intent benchmark: the six intents in equal shares against the
//! revenue question alone, on the embedded default (SQLite, in-process
//! queue and bus) and on PostgreSQL + RabbitMQ + Redis, in one run. One slow
//! intent used to hold the whole queue (customer segments copied every
//! customer's row into outputs and events); target (issue 12): the mixed
//! throughput within 20 % of the revenue-only throughput on each engine.
//!
//! Run: `cargo bench -p alatar-tests --bench mixed` with the services
//! running (`bash scripts/bench.sh` runs it).

use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use alatar_agents::pipeline::lifecycle::{NewRequest, submit};
use alatar_agents::pipeline::{Pipeline, Worker};
use alatar_entity::{AnalysisStatus, analysis_request};
use alatar_server::Application;
use alatar_tests::{Backend, TestDb, percentile};

const REQUESTS: usize = 300;
const SUBMITTERS: usize = 8;
const REVENUE: &str = "How did revenue develop over the last 3 months and what should I do?";
const MIXED: [&str; 6] = [
    REVENUE,
    "Which products sold best last month?",
    "Who are my loyal customers?",
    "What will sell out soon in stock?",
    "Should I run a discount?",
    "Any unusual days in the last 30 days?",
];

/// The same allocator as the `alatar` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!("mixed-intent benchmark: {REQUESTS} requests per run, {SUBMITTERS} submitters, offline model, demo store");
    for production in [false, true] {
        let backend = if production { Backend::Postgres } else { Backend::Sqlite };
        let db = TestDb::new(backend).await;
        let mut config = alatar_tests::test_config(&db.dir);
        if production {
            config.amqp_url = Some(alatar_tests::amqp_url().into());
            config.redis_url = Some(alatar_tests::redis_url().into());
            config.pipeline.queue_namespace = format!("bench-{}.", Uuid::now_v7());
        }
        config.log.level = "error".into();
        config.pipeline.worker = false;
        let app = Application::build_with_database(config, db.conn.clone()).await.unwrap_or_else(|e| panic!("{e:#}"));
        let p = app.pipeline().clone();
        let _worker = Worker::start(p.clone(), false).await.unwrap_or_else(|e| panic!("{e:#}"));
        let engine = if production { "PostgreSQL + RabbitMQ + Redis" } else { "embedded (SQLite, in-process)" };
        // Warm-up: every intent once, caches and connections.
        run(&p, &MIXED, 24).await;
        let revenue = run(&p, &[REVENUE], REQUESTS).await;
        let mixed = run(&p, &MIXED, REQUESTS).await;
        println!("  {engine}:");
        revenue.print("revenue only");
        mixed.print("six intents");
        println!(
            "    mixed / revenue-only throughput: {:.0}% (target >= 80%)",
            mixed.throughput() / revenue.throughput() * 100.0
        );
    }
}

struct Run {
    elapsed: Duration,
    completed: usize,
    requests: usize,
    latency: Vec<f64>,
    by_intent: Vec<(String, f64)>,
}

impl Run {
    fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn print(&self, what: &str) {
        println!(
            "    {what:<13} {:>6.1} requests/s, {}/{} settled without failure, latency p50 {:.0} ms, p99 {:.0} ms",
            self.throughput(),
            self.completed,
            self.requests,
            percentile(&self.latency, 0.5),
            percentile(&self.latency, 0.99),
        );
        if self.by_intent.len() > 1 {
            let parts: Vec<String> = self.by_intent.iter().map(|(i, ms)| format!("{i} {ms:.0}")).collect();
            println!("      p50 latency by intent (ms): {}", parts.join(", "));
        }
    }
}

/// Submits `count` questions cycling through `prompts`, waits for all to
/// settle and reads their latencies back.
async fn run(p: &Pipeline, prompts: &'static [&'static str], count: usize) -> Run {
    let (account_id, user_id, store_id) = alatar_tests::demo_tenant(&p.db).await;
    let started = Instant::now();
    let mut submitters = tokio::task::JoinSet::new();
    for s in 0..SUBMITTERS {
        let p = p.clone();
        submitters.spawn(async move {
            let mut ids = Vec::new();
            for i in (s..count).step_by(SUBMITTERS) {
                let new = NewRequest {
                    account_id,
                    user_id,
                    store_id,
                    prompt: format!("{} #{i}", prompts[i % prompts.len()]),
                    model: "offline".into(),
                };
                ids.push(submit(&p, new).await.unwrap_or_else(|e| panic!("{e}")).id);
            }
            ids
        });
    }
    let mut ids = Vec::new();
    while let Some(batch) = submitters.join_next().await {
        ids.extend(batch.unwrap_or_default());
    }
    let requests = wait(&p.db, &ids).await;
    let elapsed = started.elapsed();
    let ms = |r: &analysis_request::Model| {
        r.finished_at.map(|f| (f - r.created_at).num_microseconds().unwrap_or(0) as f64 / 1000.0)
    };
    let mut latency: Vec<f64> = requests.iter().filter_map(ms).collect();
    latency.sort_by(f64::total_cmp);
    let mut by_intent: Vec<(String, f64)> = Vec::new();
    let mut intents: Vec<String> = requests.iter().filter_map(|r| r.intent.clone()).collect();
    intents.sort();
    intents.dedup();
    for intent in intents {
        let mut v: Vec<f64> = requests.iter().filter(|r| r.intent.as_deref() == Some(&intent)).filter_map(ms).collect();
        v.sort_by(f64::total_cmp);
        by_intent.push((intent, percentile(&v, 0.5)));
    }
    Run {
        elapsed,
        completed: requests.iter().filter(|r| r.status.is_settled() && r.status != AnalysisStatus::Failed).count(),
        requests: count,
        latency,
        by_intent,
    }
}

async fn wait(db: &sea_orm::DatabaseConnection, ids: &[Uuid]) -> Vec<analysis_request::Model> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let rows = analysis_request::Entity::find()
            .filter(analysis_request::Column::Id.is_in(ids.to_vec()))
            .all(db)
            .await
            .unwrap_or_default();
        if rows.iter().all(|r| r.status.is_settled()) || Instant::now() > deadline {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
