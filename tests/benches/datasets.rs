//! Datasets benchmarks (issue 15), each against its target, on both
//! engines, side by side with pandas where the issue names it:
//!
//! - `ingest`: a generated 1,000,000-row, 12-column CSV (~110 MB: ids,
//!   dates, timestamps, campaigns, channels, countries, money, counts,
//!   booleans, sparse notes) uploaded through `uploadDataset` to an
//!   in-process server and followed to its job's end: the upload's answer
//!   (P3: within a second of its last byte), the job's start (P4: within a
//!   second) and ingest + profile end to end (target ≤ 10 s), then pandas
//!   (`read_csv` and the same profile figures, `scripts/datasets-bench.py`)
//!   on the same file in the same run, and the figures of both compared.
//! - `sql`: `runSql` aggregates over the 1M rows (target p95 ≤ 2 s), each
//!   statement distinct so none is served from the result cache.
//! - `ask`: `askDataset` answered offline (the deterministic translator),
//!   distinct questions so none is cached, over the 1M rows and over a
//!   10,000-row export (target p95 ≤ 50 ms).
//! - `insights`: `datasetInsights` over the 1M rows, from the mutation to
//!   its job's end with the insights stored (P26: within 5 s), counted.
//!
//! Run: `bash scripts/bench.sh datasets` (or `cargo bench -p alatar-tests
//! --bench datasets` with the services running; the pandas side runs when
//! `python3` can import pandas, or `ALATAR_BENCH_PYTHON` names one that
//! can). `ALATAR_BENCH_ROWS` changes the 1,000,000;
//! `ALATAR_BENCH_ENGINES=sqlite|postgres` runs one engine.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};

use alatar_tests::{Backend, Gql, TestApp, percentile};

/// The same allocator as the `alatar` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BOUNDARY: &str = "alatar-bench-dataset-boundary-7c2a";
const UPLOAD: &str = "mutation($n: String!, $f: Upload!) {
    uploadDataset(name: $n, file: $f, format: CSV) { id status datasetId } }";
const JOB: &str = "query($id: ID!) { job(id: $id) { status progress error } }";
const PROFILE: &str = "query($id: ID!) { dataset(id: $id) { rowCount byteSize
    profile { rowCount duplicateRowCount
        columns { name type count nullCount uniqueCount min max mean stdDev quartiles { q1 median q3 }
            topValues { value count } } } } }";
const RUN: &str = "query($d: ID!, $s: String!) { runSql(datasetId: $d, sql: $s) { rowCount cached executionTimeMs } }";
const INSIGHTS: &str = "mutation($d: ID!) { datasetInsights(datasetId: $d) { id status } }";
const STORED_INSIGHTS: &str = "query($id: ID!) { dataset(id: $id) { insights {
    anomalies { column } trends { column } recommendations { action } } } }";
const ASK: &str = "query($d: ID!, $q: String!) { askDataset(datasetId: $d, question: $q) { sql rowCount cached } }";

/// xorshift64*: the same file every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const CAMPAIGNS: [&str; 8] =
    ["Spring Sale", "Summer", "Back to School", "Black Friday", "Holiday", "Brand", "Retargeting", "Launch"];
const CHANNELS: [&str; 6] = ["search", "social", "email", "display", "video", "affiliate"];
const COUNTRIES: [&str; 12] = ["DE", "FR", "NL", "BE", "AT", "CH", "IT", "ES", "PL", "SE", "DK", "GB"];
const NOTES: [&str; 5] = ["paused briefly", "new creative", "budget raised", "landing page test", "holiday copy"];

/// Writes the CSV: 12 columns, `rows` rows.
fn generate(path: &Path, rows: usize) -> u64 {
    let file = std::fs::File::create(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut line = String::with_capacity(256);
    writeln!(out, "order_id,day,placed_at,campaign,channel,country,spend,clicks,impressions,revenue,converted,note")
        .unwrap_or_else(|e| panic!("{e}"));
    let start = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default();
    for i in 0..rows {
        line.clear();
        let day = start + chrono::Duration::days((i % 730) as i64);
        let seconds = rng.below(86_400);
        let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
        let clicks = rng.below(500);
        let impressions = clicks * 20 + rng.below(5_000);
        let spend = (rng.below(100_000) as f64) / 100.0;
        let _ = write!(
            line,
            "{},{day},{day}T{h:02}:{m:02}:{s:02}Z,{},{},{},{spend:.2},{clicks},{impressions},",
            100_000 + i,
            CAMPAIGNS[rng.below(8) as usize],
            CHANNELS[rng.below(6) as usize],
            COUNTRIES[rng.below(12) as usize],
        );
        // About 5 % of revenues missing.
        if rng.below(20) != 0 {
            let _ = write!(line, "{:.2}", spend * (rng.below(400) as f64) / 100.0);
        }
        let _ = write!(line, ",{},", if rng.below(3) == 0 { "true" } else { "false" });
        // About 60 % of notes empty.
        if rng.below(5) < 2 {
            line.push_str(NOTES[rng.below(5) as usize]);
        }
        line.push('\n');
        out.write_all(line.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    }
    out.flush().unwrap_or_else(|e| panic!("{e}"));
    std::fs::metadata(path).map(|m| m.len()).unwrap_or_default()
}

fn upload_request(token: &str, name: &str, bytes: Vec<u8>) -> Request<Body> {
    let operations = json!({ "query": UPLOAD, "variables": { "n": name, "f": null } });
    let mut body = Vec::with_capacity(bytes.len() + 1024);
    for (disposition, content) in [
        ("name=\"operations\"".to_owned(), operations.to_string().into_bytes()),
        ("name=\"map\"".to_owned(), json!({ "0": ["variables.f"] }).to_string().into_bytes()),
        (format!("name=\"0\"; filename=\"{name}.csv\"\r\nContent-Type: text/csv"), bytes),
    ] {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; {disposition}\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(&content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    Request::post("/graphql")
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .header("accept", "application/graphql-response+json")
        .header("apollo-require-preflight", "true")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(body))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn stats(label: &str, mut ms: Vec<f64>, target: Option<f64>) {
    ms.sort_by(f64::total_cmp);
    let (p50, p95) = (percentile(&ms, 0.5), percentile(&ms, 0.95));
    let verdict = target.map(|t| if p95 <= t { " (within target)" } else { " (OVER target)" }).unwrap_or_default();
    println!("{label}: n={} p50 {p50:.1} ms, p95 {p95:.1} ms, max {:.1} ms{verdict}", ms.len(), ms[ms.len() - 1]);
}

/// Uploads `path` and follows its job: (dataset id, answered, started, ended).
async fn ingest(app: &TestApp, token: &str, name: &str, path: &Path) -> (String, Duration, Duration, Duration) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{e}"));
    let sent = Instant::now();
    let (status, _, body) = app.send(upload_request(token, name, bytes)).await;
    let answered = sent.elapsed();
    let answer: Value = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{status}: {e}"));
    let job = answer.pointer("/data/uploadDataset/id").and_then(Value::as_str);
    let job = job.unwrap_or_else(|| panic!("no job: {answer}")).to_owned();
    let dataset = answer.pointer("/data/uploadDataset/datasetId").and_then(Value::as_str).unwrap_or_default();
    let mut started = None;
    loop {
        let found = app.gql(JOB, json!({ "id": job }), Some(token)).await.ok();
        let status = found.data("/job/status").as_str().unwrap_or_default().to_owned();
        if started.is_none() && status != "QUEUED" {
            started = Some(sent.elapsed());
        }
        match status.as_str() {
            "COMPLETED" => break,
            "FAILED" | "CANCELLED" => panic!("the ingestion ended {status}: {}", found.body),
            _ => {}
        }
        assert!(sent.elapsed() < Duration::from_secs(600), "not ingested after 10 minutes");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (dataset.to_owned(), answered, started.unwrap_or_default(), sent.elapsed())
}

/// Runs pandas on `path`, if a Python with it is at hand.
fn pandas(path: &Path) -> Option<Value> {
    let python = std::env::var("ALATAR_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/datasets-bench.py");
    let output = std::process::Command::new(&python).arg(script).arg(path).output().ok()?;
    if !output.status.success() {
        println!("pandas: not run ({})", String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or_default());
        return None;
    }
    serde_json::from_slice(&output.stdout).ok()
}

fn number(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// Our profile's figures against pandas': how many agree (relative 1e-9;
/// quartiles within one value's step, as the two interpolate differently
/// only when the rank falls between values).
fn compare(ours: &Value, theirs: &Value) {
    let mut agree = 0;
    let mut differ = Vec::new();
    let mut check = |what: String, a: Option<f64>, b: Option<f64>, tolerance: f64| match (a, b) {
        (Some(a), Some(b)) if (a - b).abs() <= tolerance.max(1e-9 * b.abs()) => agree += 1,
        (a, b) => differ.push(format!("{what}: ours {a:?}, pandas {b:?}")),
    };
    check("rows".into(), number(&ours["rowCount"]), number(&theirs["rowCount"]), 0.0);
    check("duplicates".into(), number(&ours["duplicateRowCount"]), number(&theirs["duplicateRowCount"]), 0.0);
    for column in ours["columns"].as_array().into_iter().flatten() {
        let name = column["name"].as_str().unwrap_or_default();
        let Some(peer) = theirs["columns"].get(name) else { continue };
        for key in ["count", "nullCount", "uniqueCount"] {
            check(format!("{name}.{key}"), number(&column[key]), number(&peer[key]), 0.0);
        }
        if peer.get("mean").is_some() && column["type"] != json!("DATE") && column["type"] != json!("TIMESTAMP") {
            for key in ["min", "max", "mean"] {
                check(format!("{name}.{key}"), number(&column[key]), number(&peer[key]), 1e-6);
            }
            check(format!("{name}.stdDev"), number(&column["stdDev"]), number(&peer["stdDev"]), 1e-6);
            for key in ["q1", "median", "q3"] {
                check(format!("{name}.{key}"), number(&column["quartiles"][key]), number(&peer[key]), 1.0);
            }
        }
    }
    println!("profile vs pandas: {agree} figures agree, {} differ", differ.len());
    for d in differ {
        println!("  {d}");
    }
}

async fn timed(app: &TestApp, token: &str, query: &str, variables: Value) -> (f64, Gql) {
    let started = Instant::now();
    let answer = app.gql(query, variables, Some(token)).await;
    (started.elapsed().as_secs_f64() * 1000.0, answer)
}

/// Distinct aggregates over the whole table.
async fn run_sql(app: &TestApp, token: &str, dataset: &str, label: &str) {
    let mut ms = Vec::new();
    for i in 0..20 {
        let sql = match i % 4 {
            0 => format!(
                "SELECT campaign, sum(spend) AS spend, sum(revenue) AS revenue, avg(clicks) AS clicks FROM data \
                 WHERE clicks >= {i} GROUP BY campaign ORDER BY 2 DESC"
            ),
            1 => format!("SELECT channel, country, count(*) AS n FROM data WHERE spend > {i} GROUP BY 1, 2"),
            2 => format!("SELECT count(*), sum(impressions), max(revenue) FROM data WHERE order_id > {}", 100_000 + i),
            _ => format!(
                "SELECT day, sum(revenue) - sum(spend) AS margin FROM data WHERE clicks > {i} GROUP BY day \
                 ORDER BY day"
            ),
        };
        let (took, answer) = timed(app, token, RUN, json!({ "d": dataset, "s": sql })).await;
        let answer = answer.ok();
        assert_eq!(answer.data("/runSql/cached"), &json!(false), "{}", answer.body);
        ms.push(took);
    }
    stats(&format!("{label} runSql aggregate"), ms, Some(2_000.0));
}

/// `datasetInsights` to its job's end, with what it found.
async fn insights(app: &TestApp, token: &str, dataset: &str, label: &str) {
    let started = Instant::now();
    let queued = app.gql(INSIGHTS, json!({ "d": dataset }), Some(token)).await.ok();
    let job =
        queued.data("/datasetInsights/id").as_str().unwrap_or_else(|| panic!("no job: {}", queued.body)).to_owned();
    loop {
        let found = app.gql(JOB, json!({ "id": job }), Some(token)).await.ok();
        match found.data("/job/status").as_str().unwrap_or_default() {
            "COMPLETED" => break,
            "FAILED" | "CANCELLED" => panic!("the insights job ended: {}", found.body),
            _ => {}
        }
        assert!(started.elapsed() < Duration::from_secs(600), "no insights after 10 minutes");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let took = started.elapsed();
    let stored = app.gql(STORED_INSIGHTS, json!({ "id": dataset }), Some(token)).await.ok();
    let count = |key: &str| stored.data(&format!("/dataset/insights/{key}")).as_array().map_or(0, Vec::len);
    println!(
        "{label} datasetInsights: {:.2} s to the job's end (P26 target ≤ 5 s): {} anomalies, {} trends, {} recommendations",
        took.as_secs_f64(),
        count("anomalies"),
        count("trends"),
        count("recommendations")
    );
}

/// Distinct questions in the offline grammar.
async fn ask(app: &TestApp, token: &str, dataset: &str, label: &str) {
    let mut ms = Vec::new();
    let by = ["campaign", "channel", "country"];
    let measures = ["spend", "clicks", "revenue", "impressions"];
    for i in 0..40usize {
        let question = match i % 4 {
            0 => format!("What is the total {} by {}?", measures[i / 4 % 4], by[i / 16 % 3]),
            1 => format!("top {} {}s by {}", 1 + i / 4, by[i % 3], measures[i / 4 % 4]),
            2 => format!("average {} by {} where channel is {}", measures[i / 4 % 4], by[i % 3], CHANNELS[i / 4 % 6]),
            _ => {
                format!("monthly trend of {} over day where country is {}", measures[i / 4 % 4], COUNTRIES[i / 4 % 12])
            }
        };
        let (took, answer) = timed(app, token, ASK, json!({ "d": dataset, "q": question })).await;
        let answer = answer.ok();
        if answer.data("/askDataset/cached") == &json!(true) {
            continue;
        }
        ms.push(took);
    }
    stats(&format!("{label} askDataset offline"), ms, Some(50.0));
}

async fn engine(backend: Backend, big: &Path, small: &Path, bytes: u64, rows: usize) {
    let label = format!("{backend:?}");
    let app = TestApp::with_config(backend, |c| {
        c.datasets.max_upload_bytes = 400 << 20;
        // Past the free tier's 100 an hour: this measures speed, not quotas.
        c.rate_limit.free_per_hour = 100_000;
    })
    .await;
    let (token, _, _) = app.register(&format!("bench@datasets-{}.example", label.to_lowercase())).await;
    let (dataset, answered, started, ended) = ingest(&app, &token, "Spend", big).await;
    println!(
        "{label} ingest + profile: {rows} rows × 12 ({:.1} MB): answered {:.0} ms after sending, job running \
         after {:.0} ms, done in {:.2} s (target ≤ 10 s)",
        bytes as f64 / 1e6,
        answered.as_secs_f64() * 1000.0,
        started.as_secs_f64() * 1000.0,
        ended.as_secs_f64()
    );
    let profile = app.gql(PROFILE, json!({ "id": dataset }), Some(&token)).await.ok();
    let (took, again) = timed(&app, &token, PROFILE, json!({ "id": dataset })).await;
    println!("{label} stored profile served in {took:.1} ms (target ≤ 200 ms)");
    let _ = again;
    if let Some(theirs) = pandas(big) {
        println!(
            "pandas {} read_csv {:.2} s, read + profile {:.2} s (same file, same run)",
            theirs["pandas"].as_str().unwrap_or("?"),
            number(&theirs["readSeconds"]).unwrap_or(f64::NAN),
            number(&theirs["totalSeconds"]).unwrap_or(f64::NAN)
        );
        compare(&profile.data("/dataset/profile").clone(), &theirs);
    }
    run_sql(&app, &token, &dataset, &label).await;
    insights(&app, &token, &dataset, &format!("{label} {rows} rows")).await;
    ask(&app, &token, &dataset, &format!("{label} {rows} rows")).await;
    let (small_dataset, ..) = ingest(&app, &token, "Export", small).await;
    ask(&app, &token, &small_dataset, &format!("{label} 10k rows")).await;
}

#[tokio::main]
async fn main() {
    let rows: usize = std::env::var("ALATAR_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("alatar-datasets-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let (big, small) = (dir.join("spend.csv"), dir.join("export.csv"));
    let made = Instant::now();
    let bytes = generate(&big, rows);
    generate(&small, 10_000);
    println!("generated {rows} rows ({:.1} MB) in {:.1} s", bytes as f64 / 1e6, made.elapsed().as_secs_f64());
    let only = std::env::var("ALATAR_BENCH_ENGINES").unwrap_or_default();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        if only.is_empty() || only.eq_ignore_ascii_case(&format!("{backend:?}")) {
            engine(backend, &big, &small, bytes, rows).await;
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}
