//! Market benchmark (issue 16, seed 000 P29–P32):
//!
//! - `math`: the incremental indicators alone (SMA(20), EMA(12), VWAP,
//!   volatility) applied to 5,000,000 ticks over 100 symbols on one core
//!   (target ≥ 1,000,000 ticks/s), and the same with each tick's session
//!   computed in New York time as the consumer does;
//! - `end to end`: 200,000 ticks sent by `ingestTicks` (GraphQL, in
//!   batches of 1,000 from 4 concurrent senders, each with its own 25
//!   symbols) through the outbox, RabbitMQ's partition queues, the
//!   consumers, Redis and PostgreSQL (minute bars), on the production
//!   engines. Throughput is ticks over the time from the first send to
//!   the last tick visible (target ≥ 20,000 ticks/s); the latency of a
//!   batch is from its `ingestTicks` answer to the moment every symbol of
//!   it shows its last tick (heard on the bus, which publishes after the
//!   Redis write), p50 and p99 (target p99 ≤ 50 ms).
//!
//! Run: `bash scripts/bench.sh market` (or `cargo bench -p alatar-tests
//! --bench market` with the services running).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use alatar_agents::market::indicators::{IndicatorSet, SymbolState};
use alatar_agents::market::symbol_key;
use alatar_agents::market::tick::Tick;
use alatar_tests::{TestApp, percentile};

/// The same allocator as the `alatar` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MATH_TICKS: usize = 5_000_000;
const SYMBOLS: usize = 100;
const SENDERS: usize = 4;
const BATCH: usize = 1_000;
const BATCHES_PER_SENDER: usize = 50;

const INGEST: &str = "mutation($t: [TickInput!]!) { ingestTicks(ticks: $t) { accepted } }";

fn price(i: usize) -> f64 {
    100.0 + ((i * 7919) % 1000) as f64 / 100.0
}

/// Ticks per second of the math alone, and with sessions computed.
fn math() -> (f64, f64) {
    let zone = chrono_tz::America::New_York;
    let base = Utc::now() - TimeDelta::days(1);
    let session = base.with_timezone(&zone).date_naive();
    let mut states: Vec<SymbolState> = (0..SYMBOLS).map(|s| SymbolState::new(&format!("S{s}"))).collect();
    let mut ticks: Vec<Tick> =
        (0..SYMBOLS).map(|s| Tick { symbol: format!("S{s}"), price: 100.0, volume: 1.0, time: base }).collect();
    let mut run = |with_sessions: bool| {
        let started = Instant::now();
        for i in 0..MATH_TICKS {
            let s = i % SYMBOLS;
            let tick = &mut ticks[s];
            tick.price = price(i);
            tick.volume = (i % 13) as f64;
            tick.time += TimeDelta::milliseconds(1);
            let day = if with_sessions { tick.time.with_timezone(&zone).date_naive() } else { session };
            std::hint::black_box(states[s].apply(tick, day));
        }
        MATH_TICKS as f64 / started.elapsed().as_secs_f64()
    };
    let alone = run(false);
    let with_sessions = run(true);
    std::hint::black_box(states.iter().filter_map(SymbolState::indicators).count());
    (alone, with_sessions)
}

/// When each symbol's indicators as of each time were first heard.
type Heard = Arc<Mutex<HashMap<String, Vec<(DateTime<Utc>, Instant)>>>>;

fn listen(bus: &dyn alatar_agents::pipeline::EventBus, account_id: uuid::Uuid) -> Heard {
    let heard: Heard = Arc::default();
    for s in 0..SYMBOLS {
        let symbol = format!("E{s}");
        let mut receiver = bus.hub().subscribe(symbol_key(account_id, &symbol));
        let heard = heard.clone();
        tokio::spawn(async move {
            while let Ok(event) = receiver.recv().await {
                let at = Instant::now();
                if let Ok(set) = serde_json::from_value::<IndicatorSet>(event.payload.clone())
                    && let Ok(mut map) = heard.lock()
                {
                    map.entry(set.symbol).or_default().push((set.as_of, at));
                }
            }
        });
    }
    heard
}

/// One sender's batches: its 25 symbols, 40 ticks each per batch, times
/// rising by a millisecond per tick of a symbol.
fn batches(sender: usize, base: DateTime<Utc>) -> Vec<(Vec<Value>, HashMap<String, DateTime<Utc>>)> {
    let own = SYMBOLS / SENDERS;
    let per_symbol = BATCH / own;
    (0..BATCHES_PER_SENDER)
        .map(|b| {
            let mut ticks = Vec::with_capacity(BATCH);
            let mut last = HashMap::new();
            for k in 0..per_symbol {
                for s in 0..own {
                    let symbol = format!("E{}", sender * own + s);
                    let time = base + TimeDelta::milliseconds((b * per_symbol + k) as i64);
                    let i = b * BATCH + k * own + s;
                    ticks.push(json!({ "symbol": symbol, "price": price(i), "volume": (i % 11) as f64,
                        "time": time.to_rfc3339() }));
                    last.insert(symbol, time);
                }
            }
            (ticks, last)
        })
        .collect()
}

async fn end_to_end() -> String {
    let (app, _) = TestApp::production(true).await;
    let app = Arc::new(app);
    let (token, _, _) = app.register("market-bench@example.com").await;
    let me = app.gql("{ account { id } }", json!({}), Some(&token)).await.ok();
    let account_id: uuid::Uuid = me.data("/account/id").as_str().and_then(|s| s.parse().ok()).unwrap_or_default();
    let p = app.pipeline().clone();
    let heard = listen(p.bus.as_ref(), account_id);
    let base = Utc::now() - TimeDelta::hours(1);
    // Warm up: one tick per symbol, so connections and partitions are open.
    let warm: Vec<Value> = (0..SYMBOLS)
        .map(|s| {
            json!({ "symbol": format!("E{s}"), "price": 1.0, "volume": 1.0,
            "time": (base - TimeDelta::seconds(1)).to_rfc3339() })
        })
        .collect();
    app.gql(INGEST, json!({ "t": warm }), Some(&token)).await.ok();
    tokio::time::sleep(Duration::from_secs(2)).await;

    let started = Instant::now();
    let mut senders = Vec::new();
    for sender in 0..SENDERS {
        let (app, token) = (app.clone(), token.clone());
        let work = batches(sender, base);
        // `ALATAR_BENCH_RATE` ticks/s in all (paced per sender), or as
        // fast as the senders go when unset: the latter measures
        // throughput, the former latency below saturation.
        let pace = std::env::var("ALATAR_BENCH_RATE")
            .ok()
            .and_then(|r| r.parse::<f64>().ok())
            .map(|rate| Duration::from_secs_f64((BATCH * SENDERS) as f64 / rate));
        senders.push(tokio::spawn(async move {
            let mut answered = Vec::new();
            let mut next = tokio::time::Instant::now();
            for (ticks, last) in work {
                if let Some(pace) = pace {
                    tokio::time::sleep_until(next).await;
                    next += pace;
                }
                app.gql(INGEST, json!({ "t": ticks }), Some(&token)).await.ok();
                answered.push((Instant::now(), last));
            }
            answered
        }));
    }
    let mut answered = Vec::new();
    for sender in senders {
        answered.extend(sender.await.unwrap_or_default());
    }
    let sent = started.elapsed();
    // Until every symbol shows its last tick.
    let deadline = Instant::now() + Duration::from_secs(120);
    let total_per_symbol = (BATCH / (SYMBOLS / SENDERS)) * BATCHES_PER_SENDER;
    let final_time = base + TimeDelta::milliseconds(total_per_symbol as i64 - 1);
    let visible = loop {
        let done = heard.lock().map(|map| {
            (0..SYMBOLS)
                .filter_map(|s| map.get(&format!("E{s}"))?.iter().find(|(t, _)| *t >= final_time).map(|h| h.1))
                .collect::<Vec<_>>()
        });
        if let Ok(done) = done
            && done.len() == SYMBOLS
        {
            break done.into_iter().max().unwrap_or_else(Instant::now);
        }
        if Instant::now() > deadline {
            return "end to end: not every tick became visible within 120 s".to_owned();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let ticks = SENDERS * BATCHES_PER_SENDER * BATCH;
    let throughput = ticks as f64 / (visible - started).as_secs_f64();
    let map = heard.lock().map(|m| m.clone()).unwrap_or_default();
    let mut latencies: Vec<f64> = answered
        .iter()
        .filter_map(|(at, last)| {
            let seen = last.iter().map(|(symbol, time)| map.get(symbol)?.iter().find(|(t, _)| t >= time).map(|h| h.1));
            let seen: Option<Vec<Instant>> = seen.collect();
            let latest = seen?.into_iter().max()?;
            Some(latest.saturating_duration_since(*at).as_secs_f64() * 1000.0)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let latest =
        p.market.latest.latest(account_id, &["E0".to_owned()]).await.ok().into_iter().flatten().flatten().next();
    format!(
        "end to end (PostgreSQL + RabbitMQ + Redis, {} partitions): {ticks} ticks sent in {:.2} s, all visible after {:.2} s: \
         {throughput:.0} ticks/s; batch visible after its answer: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms \
         ({} of {} batches measured); E0 applied {} ticks",
        p.market.settings.partitions,
        sent.as_secs_f64(),
        (visible - started).as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
        latencies.len(),
        answered.len(),
        latest.map(|s| s.ticks).unwrap_or_default(),
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (alone, with_sessions) = tokio::task::spawn_blocking(math).await.unwrap_or((f64::NAN, f64::NAN));
    println!("math: {alone:.0} ticks/s on one core ({with_sessions:.0} ticks/s with New York sessions computed)");
    println!("{}", end_to_end().await);
}
