//! Fault tests against the real RabbitMQ, PostgreSQL and Redis: a broker
//! restart with 200 requests in flight, a worker killed mid-work, Redis
//! unreachable for a while, ticks accepted while the broker is down. They
//! run one at a time (their own test binary, serialised by a lock) and
//! restore every service they disturb, also when they fail, through guards
//! that act on drop.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

use alatar_agents::market::indicators::IndicatorSet;
use alatar_agents::market::tick::Tick;
use alatar_agents::pipeline::Pipeline;
use alatar_agents::pipeline::bus::kind;
use alatar_agents::pipeline::lifecycle::{NewRequest, submit};
use alatar_entity::{AnalysisStatus, analysis_event, analysis_request, market_outbox};
use alatar_tests::{TestApp, TestDb, event_sequences};

/// One fault test at a time: they stop and slow the machine's shared services.
/// Async-aware, since each test holds it across its awaits.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const QUESTION: &str = "How did revenue develop over the last 3 months and what should I do?";

/// Runs a command, reporting failures without panicking (guards use it in drop).
fn run(program: &str, args: &[&str]) -> bool {
    Command::new(program).args(args).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// Stops the RabbitMQ application; starts it again on drop.
struct BrokerOutage;

impl BrokerOutage {
    fn begin() -> Self {
        assert!(run("rabbitmqctl", &["stop_app"]), "rabbitmqctl stop_app");
        Self
    }
}

impl Drop for BrokerOutage {
    fn drop(&mut self) {
        if !run("rabbitmqctl", &["start_app"]) {
            eprintln!("WARNING: could not restart RabbitMQ; run `rabbitmqctl start_app`");
        }
        let _ = run("rabbitmqctl", &["await_startup"]);
    }
}

/// Makes Redis unresponsive (every client paused) and drops its pub/sub
/// connections; unpauses on drop.
struct RedisOutage;

impl RedisOutage {
    fn begin(millis: u64) -> Self {
        assert!(run("redis-cli", &["CLIENT", "KILL", "TYPE", "pubsub"]), "redis-cli CLIENT KILL");
        assert!(run("redis-cli", &["CLIENT", "PAUSE", &millis.to_string(), "ALL"]), "redis-cli CLIENT PAUSE");
        Self
    }
}

impl Drop for RedisOutage {
    fn drop(&mut self) {
        let _ = run("redis-cli", &["CLIENT", "UNPAUSE"]);
    }
}

/// Kills a child process on drop.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn submit_many(p: &Pipeline, n: usize) -> Vec<Uuid> {
    let (account_id, user_id, store_id) = alatar_tests::demo_tenant(&p.db).await;
    let mut ids = Vec::new();
    for i in 0..n {
        let new =
            NewRequest { account_id, user_id, store_id, prompt: format!("{QUESTION} #{i}"), model: "offline".into() };
        ids.push(submit(p, new).await.unwrap_or_else(|e| panic!("{e}")).id);
    }
    ids
}

/// Waits until every request is terminal; returns their statuses.
async fn settle(db: &sea_orm::DatabaseConnection, ids: &[Uuid], within: Duration) -> Vec<AnalysisStatus> {
    let deadline = Instant::now() + within;
    loop {
        let rows = analysis_request::Entity::find()
            .filter(analysis_request::Column::Id.is_in(ids.to_vec()))
            .all(db)
            .await
            .unwrap_or_default();
        if rows.len() == ids.len() && rows.iter().all(|r| r.status.is_settled()) {
            return rows.into_iter().map(|r| r.status).collect();
        }
        let open = rows.iter().filter(|r| !r.status.is_settled()).count();
        assert!(Instant::now() < deadline, "{open} of {} requests never finished", ids.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One result and one settled status per request, no status entered twice,
/// events numbered without gaps: nothing duplicated, nothing lost.
async fn assert_exactly_once(db: &sea_orm::DatabaseConnection, ids: &[Uuid]) {
    for id in ids {
        let statuses: Vec<String> = analysis_event::Entity::find()
            .filter(analysis_event::Column::RequestId.eq(*id))
            .filter(analysis_event::Column::Kind.eq(kind::STATUS_CHANGED))
            .all(db)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter_map(|e| e.payload["status"].as_str().map(str::to_owned))
            .collect();
        let mut distinct = statuses.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), statuses.len(), "request {id} entered a status twice: {statuses:?}");
        let settled = ["AWAITING_APPROVAL", "COMPLETED", "FAILED", "CANCELLED"];
        let ends = statuses.iter().filter(|s| settled.contains(&s.as_str())).count();
        assert_eq!(ends, 1, "request {id} settled {ends} times: {statuses:?}");
        let results = analysis_event::Entity::find()
            .filter(analysis_event::Column::RequestId.eq(*id))
            .filter(analysis_event::Column::Kind.eq(kind::RESULT))
            .count(db)
            .await
            .unwrap_or(0);
        assert_eq!(results, 1, "request {id} has {results} results");
        let request = analysis_request::Entity::find_by_id(*id).one(db).await.ok().flatten();
        let events = analysis_event::Entity::find()
            .filter(analysis_event::Column::RequestId.eq(*id))
            .count(db)
            .await
            .unwrap_or(0);
        assert_eq!(request.map(|r| r.last_sequence as u64), Some(events), "events of {id} are numbered without gaps");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_restart_with_200_requests_in_flight() {
    let _serial = SERIAL.lock().await;
    let (app, _) = TestApp::production(true).await;
    let p = app.pipeline().clone();
    let ids = submit_many(&p, 200).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    {
        let _outage = BrokerOutage::begin();
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let statuses = settle(&p.db, &ids, Duration::from_secs(240)).await;
    assert!(statuses.iter().all(|s| *s == AnalysisStatus::AwaitingApproval), "{statuses:?}");
    assert_exactly_once(&p.db, &ids).await;
}

fn spawn(db: &TestDb, namespace: &str, args: &[&str]) -> Process {
    let child = Command::new(alatar_tests::binary_path())
        .args(args)
        .current_dir(&db.dir)
        .env("ALATAR_DATABASE_URL", &db.url)
        .env("ALATAR_AMQP_URL", alatar_tests::amqp_url())
        .env("ALATAR_REDIS_URL", alatar_tests::redis_url())
        .env("ALATAR_JWT__SECRET", alatar_tests::TEST_JWT_SECRET)
        .env("ALATAR_PIPELINE__QUEUE_NAMESPACE", namespace)
        .env("ALATAR_LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn alatar: {e}"));
    Process(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_loses_nothing() {
    let _serial = SERIAL.lock().await;
    // The API side: publishes through the outbox, runs no worker.
    let (app, namespace) = TestApp::production(false).await;
    let p = app.pipeline().clone();
    // Two workers share the queues (scale-out); one dies mid-way.
    let first = spawn(&app.db, &namespace, &["worker"]);
    let _second = spawn(&app.db, &namespace, &["worker"]);
    let ids = submit_many(&p, 60).await;
    // Kill -9 once work is under way, with deliveries unacknowledged.
    let deadline = Instant::now() + Duration::from_secs(30);
    while analysis_request::Entity::find()
        .filter(analysis_request::Column::Status.eq(AnalysisStatus::AwaitingApproval))
        .count(&p.db)
        .await
        .unwrap_or(0)
        < 3
    {
        assert!(Instant::now() < deadline, "the first worker never got going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(first);
    let statuses = settle(&p.db, &ids, Duration::from_secs(120)).await;
    assert!(statuses.iter().all(|s| *s == AnalysisStatus::AwaitingApproval), "{statuses:?}");
    assert_exactly_once(&p.db, &ids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_loses_no_events_for_subscribers() {
    let _serial = SERIAL.lock().await;
    let (app, _) = TestApp::production(true).await;
    let p = app.pipeline().clone();
    let ids = submit_many(&p, 1).await;
    // A live subscriber from before the outage.
    let live = tokio::spawn({
        let (p, id) = (p.clone(), ids[0]);
        async move { event_sequences(&p, id, 0).await }
    });
    let more = {
        let _outage = RedisOutage::begin(3_000);
        // Work keeps going while Redis is away; its events go to the database.
        let more = submit_many(&p, 5).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        more
    };
    let all: Vec<Uuid> = ids.iter().chain(&more).copied().collect();
    settle(&p.db, &all, Duration::from_secs(60)).await;
    let live = tokio::time::timeout(Duration::from_secs(30), live).await.ok().and_then(Result::ok).unwrap_or_default();
    let total = analysis_request::Entity::find_by_id(ids[0])
        .one(&p.db)
        .await
        .ok()
        .flatten()
        .map(|r| r.last_sequence)
        .unwrap_or(0);
    assert_eq!(live, (1..=total).collect::<Vec<_>>(), "the live subscriber saw every event once");
    // Late subscribers replay everything, including what happened during the outage.
    for id in &more {
        let replay: Vec<i64> =
            tokio::time::timeout(Duration::from_secs(30), event_sequences(&p, *id, 0)).await.unwrap_or_default();
        let total = analysis_request::Entity::find_by_id(*id)
            .one(&p.db)
            .await
            .ok()
            .flatten()
            .map(|r| r.last_sequence)
            .unwrap_or(0);
        assert_eq!(replay, (1..=total).collect::<Vec<_>>());
    }
    assert_exactly_once(&p.db, &all).await;
}

/// The latest indicators of `symbol` once `ticks` of its ticks are applied.
async fn ticks_applied(p: &Pipeline, account_id: Uuid, symbol: &str, ticks: u64, within: Duration) -> IndicatorSet {
    let deadline = Instant::now() + within;
    loop {
        let latest = p.market.latest.latest(account_id, &[symbol.to_owned()]).await.ok();
        if let Some(set) = latest.into_iter().flatten().flatten().next()
            && set.ticks == ticks
        {
            return set;
        }
        assert!(Instant::now() < deadline, "{symbol} never reached {ticks} applied ticks");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticks_accepted_while_the_broker_is_down_arrive_in_order() {
    let _serial = SERIAL.lock().await;
    let (app, _) = TestApp::production(true).await;
    let p = app.pipeline().clone();
    let (account_id, _, _) = alatar_tests::demo_tenant(&p.db).await;
    let start = chrono::Utc::now() - chrono::TimeDelta::hours(1);
    let ticks: Vec<Tick> = (0..200)
        .map(|i| Tick {
            symbol: "OUTAGE".into(),
            price: 100.0 + ((i * 13 % 29) as f64 - 14.0) / 10.0,
            volume: (i % 7 + 1) as f64,
            time: start + chrono::TimeDelta::seconds(5 * i),
        })
        .collect();
    let accept = |batch: &[Tick]| {
        let (p, batch) = (p.clone(), batch.to_vec());
        async move { must_accept(&p, account_id, batch).await }
    };
    accept(&ticks[..50]).await;
    ticks_applied(&p, account_id, "OUTAGE", 50, Duration::from_secs(30)).await;
    {
        let _outage = BrokerOutage::begin();
        for batch in ticks[50..].chunks(50) {
            accept(batch).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let waiting = market_outbox::Entity::find().count(&p.db).await.unwrap_or_default();
        assert!(waiting >= 3, "accepted ticks wait in the outbox while the broker is down ({waiting} rows)");
    }
    let set = ticks_applied(&p, account_id, "OUTAGE", 200, Duration::from_secs(90)).await;
    // In order: the SMA and VWAP of every tick in time order, computed here.
    let last: Vec<f64> = ticks[180..].iter().map(|t| t.price).collect();
    let sma = last.iter().sum::<f64>() / 20.0;
    assert!(set.sma20.is_some_and(|s| (s - sma).abs() < 1e-9), "{:?} vs {sma}", set.sma20);
    assert_eq!(set.as_of, ticks[199].time);
    let waiting = market_outbox::Entity::find().count(&p.db).await.unwrap_or_default();
    assert_eq!(waiting, 0, "the outbox drained");
}

async fn must_accept(p: &Pipeline, account_id: Uuid, ticks: Vec<Tick>) {
    alatar_agents::market::ingest::accept(p, account_id, ticks).await.unwrap_or_else(|e| panic!("accept: {e}"));
}
