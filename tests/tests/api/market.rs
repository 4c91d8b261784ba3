//! Market data through the API on both engines: ticks in by `ingestTicks`,
//! indicators out by `stockIndicators`, each figure checked against a
//! naive computation here from the raw ticks (SMA over the last 20, EMA
//! seeded by the first 12, VWAP of the session in New York time, so a
//! session ends at New York's midnight and not UTC's, volatility from the
//! last 20 log returns annualised by calendar time); a bad entry refuses
//! the batch by its index; a shuffled batch is applied in time order and
//! duplicates and late ticks change nothing; `stockHistory` folds minutes
//! into coarser bars with the same open, high, low, close, volume and
//! VWAP as the raw ticks; viewers read but do not send; another account
//! sees nothing; `stockUpdates` pushes each new set.

use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use chrono_tz::America::New_York;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use alatar_agents::market::partition;
use alatar_tests::{Backend, Gql, TestApp, on_both_backends};

const PASSWORD: &str = "correct horse battery";

const INGEST: &str = "mutation($t: [TickInput!]!) { ingestTicks(ticks: $t) { accepted symbols partitions } }";
const INDICATORS: &str = "query($s: String!) { stockIndicators(symbol: $s) {
    symbol price volume sma20 ema12 vwap volatility session sessionVolume ticks asOf } }";
const HISTORY: &str = "query($s: String!, $f: DateTime!, $t: DateTime!, $i: BarInterval) {
    stockHistory(symbol: $s, from: $f, to: $t, interval: $i) {
    startsAt open high low close volume vwap ticks sma20 ema12 volatility } }";

fn must<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

/// A raw tick as the test keeps it.
#[derive(Debug, Clone, Copy)]
struct Raw {
    price: f64,
    volume: f64,
    time: DateTime<Utc>,
}

fn tick_json(symbol: &str, t: &Raw) -> Value {
    json!({ "symbol": symbol, "price": t.price, "volume": t.volume, "time": t.time.to_rfc3339() })
}

/// Yesterday's midnight in New York, as UTC: ticks around it cross a
/// session boundary that is not UTC's.
fn new_york_midnight() -> DateTime<Utc> {
    let today = Utc::now().with_timezone(&New_York).date_naive();
    let midnight = (today - TimeDelta::days(1)).and_hms_opt(0, 0, 0).unwrap_or_default();
    New_York.from_local_datetime(&midnight).earliest().map(|t| t.with_timezone(&Utc)).unwrap_or_default()
}

/// 70 ticks of a random-looking walk, 37 s apart, from 20 minutes before
/// New York's midnight; some with no volume.
fn walk(start: DateTime<Utc>) -> Vec<Raw> {
    let mut price = 100.0_f64;
    (0..70)
        .map(|i| {
            let step = ((i * 7919 % 23) as f64 - 11.0) / 400.0;
            price *= step.exp();
            let volume = if i % 9 == 4 { 0.0 } else { ((i * 37 % 50) + 1) as f64 * 10.0 };
            Raw { price, volume, time: start + TimeDelta::seconds(37 * i as i64) }
        })
        .collect()
}

fn session(time: DateTime<Utc>) -> NaiveDate {
    time.with_timezone(&New_York).date_naive()
}

/// The indicators computed naively from every tick so far.
struct Naive {
    sma20: Option<f64>,
    ema12: Option<f64>,
    vwap: Option<f64>,
    volatility: Option<f64>,
    session_volume: f64,
}

fn naive(ticks: &[Raw]) -> Naive {
    let prices: Vec<f64> = ticks.iter().map(|t| t.price).collect();
    let sma20 = (prices.len() >= 20).then(|| prices[prices.len() - 20..].iter().sum::<f64>() / 20.0);
    let ema12 = (prices.len() >= 12).then(|| {
        let alpha = 2.0 / 13.0;
        let seed = prices[..12].iter().sum::<f64>() / 12.0;
        prices[12..].iter().fold(seed, |ema, p| alpha * p + (1.0 - alpha) * ema)
    });
    let last = ticks.last().map(|t| session(t.time));
    let today: Vec<&Raw> = ticks.iter().filter(|t| Some(session(t.time)) == last).collect();
    let session_volume: f64 = today.iter().map(|t| t.volume).sum();
    let vwap = (session_volume > 0.0).then(|| today.iter().map(|t| t.price * t.volume).sum::<f64>() / session_volume);
    let returns: Vec<(f64, f64)> = ticks
        .windows(2)
        .map(|w| ((w[1].price / w[0].price).ln(), (w[1].time - w[0].time).num_milliseconds() as f64 / 1000.0))
        .collect();
    let window = &returns[returns.len().saturating_sub(20)..];
    let volatility = (window.len() >= 2).then(|| {
        let n = window.len() as f64;
        let mean = window.iter().map(|r| r.0).sum::<f64>() / n;
        let variance = window.iter().map(|r| (r.0 - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let interval = window.iter().map(|r| r.1).sum::<f64>() / n;
        variance.sqrt() * (365.25 * 86_400.0 / interval).sqrt()
    });
    Naive { sma20, ema12, vwap, volatility, session_volume }
}

fn close(got: &Value, want: Option<f64>, what: &str) {
    match (got.as_f64(), want) {
        (Some(g), Some(w)) => assert!((g - w).abs() <= 1e-7 * w.abs().max(1.0), "{what}: got {g}, want {w}"),
        (None, None) => {}
        (g, w) => panic!("{what}: got {g:?}, want {w:?}"),
    }
}

async fn member(app: &TestApp, owner: &str, email: &str, role: &str) -> String {
    let invite = "mutation($e: String!, $r: Role!) { inviteMember(email: $e, role: $r) { token } }";
    let invited = app.gql(invite, json!({ "e": email, "r": role }), Some(owner)).await.ok();
    let token = invited.data("/inviteMember/token").as_str().unwrap_or_default().to_owned();
    let register = "mutation($e: String!, $t: String!, $p: String!) {
        register(email: $e, password: $p, invitationToken: $t) { accessToken } }";
    let joined = app.gql(register, json!({ "e": email, "t": token, "p": PASSWORD }), None).await.ok();
    joined.data("/register/accessToken").as_str().unwrap_or_default().to_owned()
}

async fn ingest(app: &TestApp, token: &str, ticks: Vec<Value>) -> Gql {
    app.gql(INGEST, json!({ "t": ticks }), Some(token)).await
}

/// `symbol`'s indicators once `ticks` of them have been applied.
async fn applied(app: &TestApp, token: &str, symbol: &str, ticks: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = app.gql(INDICATORS, json!({ "s": symbol }), Some(token)).await.ok();
        let set = got.data("/stockIndicators").clone();
        if set["ticks"].as_i64() == Some(ticks) {
            return set;
        }
        assert!(Instant::now() < deadline, "{symbol} never reached {ticks} ticks: {set}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn indicators_match_a_naive_computation_across_a_new_york_session(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (token, _, _) = app.register("market@example.com").await;
    let ticks = walk(new_york_midnight() - TimeDelta::minutes(20));
    // Sent in two batches, the first shuffled: it is applied in time order.
    let (first, second) = ticks.split_at(40);
    let mut shuffled: Vec<Value> = first.iter().map(|t| tick_json("acme", t)).collect();
    shuffled.reverse();
    shuffled.swap(3, 17);
    let sent = ingest(&app, &token, shuffled).await.ok();
    assert_eq!(sent.data("/ingestTicks/accepted"), 40);
    assert_eq!(sent.data("/ingestTicks/symbols"), &json!(["ACME"]));
    assert_eq!(sent.data("/ingestTicks/partitions"), &json!([partition::of("ACME", 4)]));
    let set = applied(&app, &token, "ACME", 40).await;
    let want = naive(first);
    close(&set["sma20"], want.sma20, "sma20 after 40");
    close(&set["ema12"], want.ema12, "ema12 after 40");
    close(&set["vwap"], want.vwap, "vwap after 40");
    close(&set["volatility"], want.volatility, "volatility after 40");

    ingest(&app, &token, second.iter().map(|t| tick_json("ACME", t)).collect()).await.ok();
    let set = applied(&app, &token, "ACME", 70).await;
    let want = naive(&ticks);
    close(&set["price"], ticks.last().map(|t| t.price), "price");
    close(&set["sma20"], want.sma20, "sma20");
    close(&set["ema12"], want.ema12, "ema12");
    close(&set["vwap"], want.vwap, "vwap");
    close(&set["volatility"], want.volatility, "volatility");
    close(&set["sessionVolume"], Some(want.session_volume), "session volume");
    let last = ticks.last().map(|t| t.time).unwrap_or_default();
    assert_eq!(set["session"], json!(session(last).to_string()), "the session is New York's day");
    assert_ne!(session(ticks[0].time), session(last), "the ticks cross New York's midnight");
    let as_of = set["asOf"].as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok());
    assert_eq!(as_of.map(|t| t.with_timezone(&Utc)), Some(last));

    // A duplicate (same time, another price) and a late tick change nothing.
    let duplicate = Raw { price: 1.0, ..ticks[69] };
    let late = Raw { price: 2.0, ..ticks[10] };
    ingest(&app, &token, vec![tick_json("ACME", &duplicate), tick_json("ACME", &late)]).await.ok();
    let marker = Raw { price: ticks[69].price, volume: 1.0, time: last + TimeDelta::seconds(1) };
    ingest(&app, &token, vec![tick_json("ACME", &marker)]).await.ok();
    let set = applied(&app, &token, "ACME", 71).await;
    let mut kept = ticks.clone();
    kept.push(marker);
    close(&set["sma20"], naive(&kept).sma20, "sma20 after a duplicate and a late tick");
    close(&set["vwap"], naive(&kept).vwap, "vwap after a duplicate and a late tick");
}

async fn a_bad_entry_refuses_the_batch_by_its_index(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (token, _, _) = app.register("bad-ticks@example.com").await;
    let now = Utc::now();
    let good = |i: i64| {
        json!({ "symbol": "BETA", "price": 10.0, "volume": 1.0,
        "time": (now - TimeDelta::seconds(100 - i)).to_rfc3339() })
    };
    let cases = [
        (json!({ "symbol": "BETA", "price": -1.0, "volume": 1.0, "time": now.to_rfc3339() }), "ticks[3].price"),
        (json!({ "symbol": "BETA", "price": 1.0, "volume": -2.0, "time": now.to_rfc3339() }), "ticks[3].volume"),
        (json!({ "symbol": "B ETA", "price": 1.0, "volume": 1.0, "time": now.to_rfc3339() }), "ticks[3].symbol"),
        (
            json!({ "symbol": "BETA", "price": 1.0, "volume": 1.0,
                "time": (now + TimeDelta::hours(2)).to_rfc3339() }),
            "ticks[3].time",
        ),
    ];
    for (bad, want) in cases {
        let answer = ingest(&app, &token, vec![good(0), good(1), good(2), bad, good(4)]).await;
        assert_eq!(answer.code(), Some("BAD_USER_INPUT"), "{}", answer.body);
        let message = answer.body.pointer("/errors/0/message").and_then(Value::as_str).unwrap_or_default();
        assert!(message.starts_with(want), "{message}");
    }
    // An unknown field is refused by the schema itself.
    let unknown = json!({ "symbol": "BETA", "price": 1.0, "volume": 1.0, "time": now.to_rfc3339(), "venue": "X" });
    let answer = ingest(&app, &token, vec![unknown]).await;
    assert!(answer.body.get("errors").is_some(), "{}", answer.body);
    // Non-finite numbers cannot be written in JSON: refused before us.
    let answer = app
        .post(
            json!({ "query": INGEST, "variables": { "t": [{ "symbol": "BETA", "price": "NaN",
        "volume": 1, "time": now.to_rfc3339() }] } }),
            Some(&token),
        )
        .await;
    assert!(answer.body.get("errors").is_some(), "{}", answer.body);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let none = app.gql(INDICATORS, json!({ "s": "BETA" }), Some(&token)).await.ok();
    assert_eq!(none.data("/stockIndicators"), &Value::Null, "nothing of a refused batch was taken");
    let symbols = app.gql("{ stockSymbols }", json!({}), Some(&token)).await.ok();
    assert_eq!(symbols.data("/stockSymbols"), &json!([]));
}

async fn history_folds_minutes_like_the_raw_ticks(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (token, _, _) = app.register("history@example.com").await;
    // 120 ticks 13 s apart over 26 minutes, from a whole 5 minutes.
    let start = Utc.timestamp_opt((Utc::now().timestamp() / 300) * 300 - 3 * 3600, 0).single().unwrap_or_default();
    let ticks: Vec<Raw> = (0..120)
        .map(|i| Raw {
            price: 50.0 + ((i * 31 % 17) as f64 - 8.0) / 4.0,
            volume: (i % 5) as f64 * 3.0,
            time: start + TimeDelta::seconds(13 * i),
        })
        .collect();
    ingest(&app, &token, ticks.iter().map(|t| tick_json("GAMMA", t)).collect()).await.ok();
    applied(&app, &token, "GAMMA", 120).await;
    let end = start + TimeDelta::hours(1);
    for (interval, width) in [("MINUTE", 60), ("FIVE_MINUTES", 300), ("HOUR", 3600)] {
        let vars = json!({ "s": "gamma", "f": start.to_rfc3339(), "t": end.to_rfc3339(), "i": interval });
        let got = app.gql(HISTORY, vars, Some(&token)).await.ok();
        let bars = got.data("/stockHistory").as_array().cloned().unwrap_or_default();
        let mut want: Vec<(i64, Vec<Raw>)> = Vec::new();
        for t in &ticks {
            let bucket = t.time.timestamp().div_euclid(width) * width;
            match want.last_mut() {
                Some((b, group)) if *b == bucket => group.push(*t),
                _ => want.push((bucket, vec![*t])),
            }
        }
        assert_eq!(bars.len(), want.len(), "{interval}: {bars:?}");
        for (bar, (bucket, group)) in bars.iter().zip(&want) {
            let starts = bar["startsAt"].as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok());
            assert_eq!(starts.map(|s| s.timestamp()), Some(*bucket), "{interval}");
            close(&bar["open"], group.first().map(|t| t.price), "open");
            close(&bar["close"], group.last().map(|t| t.price), "close");
            close(&bar["high"], group.iter().map(|t| t.price).reduce(f64::max), "high");
            close(&bar["low"], group.iter().map(|t| t.price).reduce(f64::min), "low");
            let volume: f64 = group.iter().map(|t| t.volume).sum();
            close(&bar["volume"], Some(volume), "volume");
            let vwap = (volume > 0.0).then(|| group.iter().map(|t| t.price * t.volume).sum::<f64>() / volume);
            close(&bar["vwap"], vwap, "vwap");
            assert_eq!(bar["ticks"].as_u64(), Some(group.len() as u64));
        }
    }
    let day = json!({ "s": "GAMMA", "f": (start - TimeDelta::days(1)).to_rfc3339(),
        "t": end.to_rfc3339(), "i": "DAY" });
    let got = app.gql(HISTORY, day, Some(&token)).await.ok();
    let days = got.data("/stockHistory").as_array().cloned().unwrap_or_default();
    let sessions: std::collections::BTreeSet<NaiveDate> = ticks.iter().map(|t| session(t.time)).collect();
    assert_eq!(days.len(), sessions.len(), "one bar per New York session: {days:?}");
    let backwards = json!({ "s": "GAMMA", "f": end.to_rfc3339(), "t": start.to_rfc3339() });
    assert_eq!(app.gql(HISTORY, backwards, Some(&token)).await.code(), Some("BAD_USER_INPUT"));
    let year = json!({ "s": "GAMMA", "f": (end - TimeDelta::days(365)).to_rfc3339(), "t": end.to_rfc3339() });
    assert_eq!(app.gql(HISTORY, year, Some(&token)).await.code(), Some("BAD_USER_INPUT"), "too many minutes");
}

async fn viewers_read_and_other_accounts_see_nothing(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("market-owner@example.com").await;
    let viewer = member(&app, &owner, "market-viewer@example.com", "VIEWER").await;
    let (stranger, _, _) = app.register("market-stranger@example.com").await;
    let now = Utc::now();
    let tick = json!({ "symbol": "DELTA", "price": 5.0, "volume": 2.0, "time": now.to_rfc3339() });
    let refused = ingest(&app, &viewer, vec![tick.clone()]).await;
    assert_eq!(refused.code(), Some("FORBIDDEN"), "{}", refused.body);
    ingest(&app, &owner, vec![tick]).await.ok();
    let seen = applied(&app, &viewer, "DELTA", 1).await;
    close(&seen["price"], Some(5.0), "a viewer reads");
    let other = app.gql(INDICATORS, json!({ "s": "DELTA" }), Some(&stranger)).await.ok();
    assert_eq!(other.data("/stockIndicators"), &Value::Null);
    let symbols = app.gql("{ stockSymbols }", json!({}), Some(&stranger)).await.ok();
    assert_eq!(symbols.data("/stockSymbols"), &json!([]));
    let vars = json!({ "s": "DELTA", "f": (now - TimeDelta::hours(1)).to_rfc3339(),
        "t": (now + TimeDelta::hours(1)).to_rfc3339() });
    let bars = app.gql(HISTORY, vars, Some(&stranger)).await.ok();
    assert_eq!(bars.data("/stockHistory"), &json!([]));
    let anonymous = app.gql(INDICATORS, json!({ "s": "DELTA" }), None).await;
    assert_eq!(anonymous.code(), Some("UNAUTHENTICATED"));
}

async fn serve(router: axum::Router) -> u16 {
    let listener = must(tokio::net::TcpListener::bind("127.0.0.1:0").await);
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    tokio::spawn(async move { axum::serve(listener, router).await });
    port
}

async fn updates_stream_each_new_set(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (token, _, _) = app.register("updates@example.com").await;
    let port = serve(app.router.clone()).await;
    let mut request = must(format!("ws://127.0.0.1:{port}/graphql").into_client_request());
    request.headers_mut().insert("sec-websocket-protocol", must("graphql-transport-ws".parse()));
    let (mut socket, _) = must(tokio_tungstenite::connect_async(request).await);
    let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } });
    must(socket.send(Message::Text(init.to_string().into())).await);
    let _ack = tokio::time::timeout(Duration::from_secs(10), socket.next()).await;
    let query = "subscription { stockUpdates(symbols: [\"eps\", \"ZETA\"]) { symbol price ticks asOf } }";
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": query } });
    must(socket.send(Message::Text(subscribe.to_string().into())).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let now = Utc::now();
    let mut heard = Vec::new();
    for (i, (symbol, price)) in [("EPS", 11.0), ("ZETA", 22.0), ("OMEGA", 33.0), ("EPS", 12.0)].iter().enumerate() {
        let time = now - TimeDelta::seconds(10 - i as i64);
        let tick = json!({ "symbol": symbol, "price": price, "volume": 1.0, "time": time.to_rfc3339() });
        let sent = Instant::now();
        ingest(&app, &token, vec![tick]).await.ok();
        if *symbol == "OMEGA" {
            continue;
        }
        let update = loop {
            let message = tokio::time::timeout(Duration::from_secs(10), socket.next()).await.ok().flatten();
            let Some(Ok(Message::Text(text))) = message else { panic!("the subscription ended: {message:?}") };
            let value: Value = serde_json::from_str(&text).unwrap_or_default();
            if value["type"] == "next" {
                break value["payload"]["data"]["stockUpdates"].clone();
            }
        };
        heard.push((update["symbol"].clone(), update["price"].clone(), sent.elapsed()));
    }
    let symbols: Vec<&Value> = heard.iter().map(|h| &h.0).collect();
    assert_eq!(symbols, [&json!("EPS"), &json!("ZETA"), &json!("EPS")], "OMEGA is not followed");
    assert_eq!(heard[2].1, json!(12.0));
    for (_, _, elapsed) in &heard {
        assert!(*elapsed < Duration::from_secs(2), "heard {elapsed:?} after the mutation was sent");
    }
}

/// "How have my suppliers' shares moved …?" plans `Market` alone; each
/// symbol's move equals the last tick's price over the first tick's in the
/// period, computed here, and cites the `stocks.history` call.
async fn the_market_department_reads_the_moves(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (token, _, _) = app.register("moves@example.com").await;
    let start = Utc::now() - TimeDelta::days(4);
    let prices: [(&str, [f64; 4]); 2] = [("SHOP", [100.0, 104.0, 99.5, 112.25]), ("ACME", [40.0, 39.0, 41.0, 36.8])];
    let mut ticks = Vec::new();
    for (symbol, series) in prices {
        for (i, price) in series.iter().enumerate() {
            let raw = Raw { price: *price, volume: 10.0, time: start + TimeDelta::hours(7 * i as i64) };
            ticks.push(tick_json(symbol, &raw));
        }
    }
    app.gql(INGEST, json!({ "t": ticks }), Some(&token)).await.ok();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let last = app.gql(INDICATORS, json!({ "s": "ACME" }), Some(&token)).await.ok();
        if last.data("/stockIndicators/ticks") == &json!(4) {
            break;
        }
        assert!(Instant::now() < deadline, "the ticks were not applied: {}", last.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let prompt = "How have my suppliers' shares moved over the last 7 days?";
    let query = "query($id: ID!) { analysisRequest(id: $id) { status tasks { department toolCalls { id tool input } }
        result { summary keyFigures { key value unit provenance { toolCallId tool query } } } } }";
    let request = app.ask_demo_store(&token, prompt, query).await;
    assert_eq!(request["status"], "COMPLETED");
    assert_eq!(request["tasks"].as_array().map(Vec::len), Some(1), "{request}");
    assert_eq!(request["tasks"][0]["department"], "Market");
    let figures = request["result"]["keyFigures"].as_array().cloned().unwrap_or_default();
    for (symbol, series) in prices {
        let key = format!("stock_{}_change", symbol.to_lowercase());
        let figure = figures.iter().find(|f| f["key"] == key.as_str()).unwrap_or_else(|| panic!("no {key}: {request}"));
        let want = ((series[3] / series[0] - 1.0) * 100.0 * 100.0).round() / 100.0;
        assert_eq!(figure["value"], json!(want), "{symbol}");
        assert_eq!(figure["unit"], "%");
        let cited = &figure["provenance"][0];
        assert_eq!((cited["tool"].clone(), cited["query"]["symbol"].clone()), (json!("stocks.history"), json!(symbol)));
        let calls = request["tasks"][0]["toolCalls"].as_array().cloned().unwrap_or_default();
        assert!(calls.iter().any(|c| c["id"] == cited["toolCallId"]), "recorded");
    }
    let summary = request["result"]["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("SHOP +12.25 %") && summary.contains("ACME -8.00 %"), "{summary}");
}

on_both_backends! {
    department => the_market_department_reads_the_moves;
    indicators_naive => indicators_match_a_naive_computation_across_a_new_york_session;
    bad_entries => a_bad_entry_refuses_the_batch_by_its_index;
    history => history_folds_minutes_like_the_raw_ticks;
    tenancy => viewers_read_and_other_accounts_see_nothing;
    updates => updates_stream_each_new_set;
}

/// An instance that serves the API and runs no consumers
/// (`pipeline.worker = false`) relays what it commits itself: its ticks
/// reach the partitions at once, where a worker instance (another process
/// in production: its own relay, not woken by this one's commits) applies
/// them. Before, they waited for the worker's next sweep of the outbox
/// (every 500 ms to 2 s): a median of 1,010 ms here, against 31 ms now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_only_instance_relays_its_own_ticks() {
    let (api, namespace) = TestApp::production(false).await;
    let mut config = alatar_tests::test_config(&api.db.dir);
    config.amqp_url = Some(alatar_tests::amqp_url().into());
    config.redis_url = Some(alatar_tests::redis_url().into());
    config.pipeline.queue_namespace = namespace;
    config.pipeline.worker = true;
    let worker = alatar_server::Application::build_with_database(config, api.db.conn.clone())
        .await
        .unwrap_or_else(|e| panic!("build the worker instance: {e:#}"));
    let (token, _, _) = api.register("relay@example.com").await;
    let start = Utc::now() - TimeDelta::minutes(30);
    let mut waits = Vec::new();
    for n in 1..=12_i64 {
        let raw = Raw { price: 100.0 + n as f64, volume: 5.0, time: start + TimeDelta::seconds(n) };
        let sent = Instant::now();
        let accepted = ingest(&api, &token, vec![tick_json("RELAY", &raw)]).await;
        assert_eq!(accepted.data("/ingestTicks/accepted"), &json!(1), "{}", accepted.body);
        applied(&api, &token, "RELAY", n).await;
        waits.push(sent.elapsed().as_secs_f64() * 1000.0);
    }
    waits.sort_by(f64::total_cmp);
    let median = waits[waits.len() / 2];
    println!("api-only instance: ticks visible after {median:.0} ms median ({waits:?})");
    assert!(median < 150.0, "ticks waited for a sweep: median {median:.0} ms ({waits:?})");
    drop(worker);
}
