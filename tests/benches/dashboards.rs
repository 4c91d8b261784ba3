//! Dashboards benchmark (issue 15, seed 001 P32–P33), on both engines: a
//! 6-chart dashboard (bar, grouped bar, line of two measures, scatter,
//! pie, table) over a generated 20,000-row sales dataset, each chart its
//! own aggregate statement, then
//!
//! - `load`: the dashboard read with every chart's rows, spec and SVG
//!   (P32: within 1 s); statements repeat, so after the first read their
//!   rows come from the result cache and the time is mostly drawing;
//! - `export`: `exportDashboard` as PNG and as PDF and the file fetched by
//!   its signed link (P33 and issue 15: ≤ 3 s each).
//!
//! Run: `bash scripts/bench.sh dashboards` (or `cargo bench -p
//! alatar-tests --bench dashboards` with the services running).
//! `ALATAR_BENCH_ENGINES=sqlite|postgres` runs one engine.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};

use alatar_tests::{Backend, TestApp, percentile};

/// The same allocator as the `alatar` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ROWS: usize = 20_000;
const RUNS: usize = 10;

const CHARTS: [(&str, &str, &str, [u32; 4]); 6] = [
    (
        "Revenue by channel",
        "BAR",
        "SELECT channel, SUM(revenue) AS revenue FROM data GROUP BY channel ORDER BY channel",
        [0, 0, 6, 4],
    ),
    (
        "Spend and revenue by country",
        "BAR",
        "SELECT country, SUM(spend) AS spend, SUM(revenue) AS revenue FROM data GROUP BY country ORDER BY country",
        [6, 0, 6, 4],
    ),
    (
        "Daily spend and revenue",
        "LINE",
        "SELECT day, SUM(spend) AS spend, SUM(revenue) AS revenue FROM data GROUP BY day ORDER BY day",
        [0, 4, 12, 4],
    ),
    (
        "Spend against revenue",
        "SCATTER",
        "SELECT spend, revenue FROM data WHERE revenue IS NOT NULL LIMIT 2000",
        [0, 8, 6, 4],
    ),
    (
        "Orders by channel",
        "PIE",
        "SELECT channel, COUNT(*) AS orders FROM data GROUP BY channel ORDER BY channel",
        [6, 8, 6, 4],
    ),
    (
        "Top campaigns",
        "TABLE",
        "SELECT campaign, COUNT(*) AS orders, SUM(revenue) AS revenue FROM data GROUP BY campaign ORDER BY revenue DESC",
        [0, 12, 12, 4],
    ),
];

const LOAD: &str = "query($id: ID!) { dashboard(id: $id) { name visualizations { id rows spec svg error } } }";
const EXPORT: &str = "mutation($id: ID!, $f: ExportFormat!) { exportDashboard(id: $id, format: $f) { url bytes } }";

/// xorshift64*: the same file every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

fn sales() -> Vec<u8> {
    let channels = ["search", "social", "email", "display", "video", "affiliate"];
    let countries = ["DE", "FR", "NL", "BE", "AT", "CH", "IT", "ES", "PL", "SE", "DK", "GB"];
    let campaigns = ["Spring Sale", "Summer", "Back to School", "Black Friday", "Holiday", "Brand"];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut csv = String::from("day,channel,country,campaign,spend,revenue\n");
    let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
    for i in 0..ROWS {
        let day = start + chrono::Duration::days((i % 180) as i64);
        let spend = rng.below(100_000) as f64 / 100.0;
        let _ = write!(
            csv,
            "{day},{},{},{},{spend:.2},",
            channels[rng.below(6) as usize],
            countries[rng.below(12) as usize],
            campaigns[rng.below(6) as usize]
        );
        if rng.below(20) != 0 {
            let _ = write!(csv, "{:.2}", spend * rng.below(400) as f64 / 100.0);
        }
        csv.push('\n');
    }
    csv.into_bytes()
}

fn stats(label: &str, mut ms: Vec<f64>, target_ms: f64) {
    ms.sort_by(f64::total_cmp);
    let (p50, p95, max) = (percentile(&ms, 0.5), percentile(&ms, 0.95), ms[ms.len() - 1]);
    let verdict = if max <= target_ms { "within" } else { "OVER" };
    println!(
        "{label}: n={} p50 {p50:.0} ms, p95 {p95:.0} ms, max {max:.0} ms ({verdict} the {target_ms:.0} ms target)",
        ms.len()
    );
}

fn text(value: &Value, pointer: &str) -> String {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or_else(|| panic!("no {pointer}: {value}")).to_owned()
}

async fn bench(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (token, _, _) = app.register("bench@dashboards.example").await;
    let job = app.upload_dataset(&token, "Sales", "sales.csv", &sales(), "id datasetId").await.ok();
    let (job_id, dataset) =
        (text(&job.body, "/data/uploadDataset/id"), text(&job.body, "/data/uploadDataset/datasetId"));
    loop {
        let found =
            app.gql("query($id: ID!) { job(id: $id) { status error } }", json!({ "id": job_id }), Some(&token)).await;
        match found.data("/job/status").as_str() {
            Some("COMPLETED") => break,
            Some("FAILED" | "CANCELLED") => panic!("the load ended: {}", found.body),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let made = app.gql("mutation { createDashboard(name: \"Marketing\") { id } }", json!({}), Some(&token)).await.ok();
    let dashboard = text(&made.body, "/data/createDashboard/id");
    for (title, chart_type, sql, [x, y, w, h]) in CHARTS {
        let input = json!({ "title": title, "chartType": chart_type, "datasetId": dataset, "sql": sql,
            "position": { "x": x, "y": y, "w": w, "h": h } });
        app.gql(
            "mutation($d: ID!, $i: VisualizationInput!) { addVisualization(dashboardId: $d, input: $i) { id } }",
            json!({ "d": dashboard, "i": input }),
            Some(&token),
        )
        .await
        .ok();
    }
    let engine = match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    };
    let mut load = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let read = app.gql(LOAD, json!({ "id": dashboard }), Some(&token)).await.ok();
        load.push(started.elapsed().as_secs_f64() * 1000.0);
        let charts = read.data("/dashboard/visualizations").as_array().cloned().unwrap_or_default();
        assert_eq!(charts.len(), 6);
        assert!(charts.iter().all(|c| c["error"].is_null() && c["svg"].as_str().is_some()), "{charts:?}");
    }
    stats(&format!("{engine}: dashboard of 6 charts read with rows, specs and SVG"), load, 1000.0);
    for format in ["PNG", "PDF"] {
        let mut took = Vec::new();
        let mut bytes = 0;
        for _ in 0..RUNS {
            let started = Instant::now();
            let made = app.gql(EXPORT, json!({ "id": dashboard, "f": format }), Some(&token)).await.ok();
            let url = text(&made.body, "/data/exportDashboard/url");
            let request = Request::get(&url).body(Body::empty()).unwrap_or_else(|e| panic!("{e}"));
            let (status, _, body) = app.send_from_elsewhere(request).await;
            took.push(started.elapsed().as_secs_f64() * 1000.0);
            assert!(status.is_success(), "{status}");
            bytes = body.len();
        }
        stats(&format!("{engine}: export of 6 charts as {format} ({} KiB), downloaded", bytes / 1024), took, 3000.0);
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let engines = std::env::var("ALATAR_BENCH_ENGINES").unwrap_or_else(|_| "sqlite,postgres".into());
    println!("dashboards: {ROWS} rows, 6 charts, {RUNS} runs each");
    if engines.contains("sqlite") {
        bench(Backend::Sqlite).await;
    }
    if engines.contains("postgres") {
        bench(Backend::Postgres).await;
    }
}
