//! Dataset insights through the API on both engines (seed 001 §6,
//! P22–P25): a year of days (revenue rising on a line with one spike
//! day, visits flat, returns falling) uploaded and loaded, `datasetInsights`
//! run as a job, and its stored result checked against figures computed
//! here from the same rows: the spike as a value anomaly with Tukey's
//! fences, its month as a period anomaly off the revenue line, trends up
//! and down (and no trend for the flat column, said honestly), at least
//! one recommendation, every figure carrying a statement that `runSql`
//! runs; a redelivered job doing nothing; roles and tenancy; and a table
//! without a date column getting anomalies and an honest "no trends".

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use chrono::{Datelike, NaiveDate};
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use uuid::Uuid;

use alatar_agents::datasets::insights;
use alatar_entity::{job, user};
use alatar_tests::{Backend, Gql, TestApp, on_both_backends};

const PASSWORD: &str = "correct horse battery";
const BOUNDARY: &str = "alatar-test-dataset-insights-boundary-3e7a";
/// The spike: day 160 of 2025 (June 10), revenue 5,000.
const SPIKE_DAY: i64 = 160;
const SPIKE: f64 = 5000.0;

const INSIGHTS: &str = "mutation($d: ID!) { datasetInsights(datasetId: $d) { id type status progress datasetId } }";
const JOB: &str = "query($id: ID!) { job(id: $id) { id type status progress error } }";
const EVIDENCE: &str = "evidence { label value sql derivation }";

fn result_query() -> String {
    format!(
        "query($id: ID!) {{ dataset(id: $id) {{ version insights {{
            version stale generatedAt rowCount dateColumn grain measures summary trendNote notes writtenBy
            statementCount elapsedMs
            anomalies {{ type column value expectedRange {{ low high }} direction severity score period at
                explanation {EVIDENCE} }}
            trends {{ column direction grain periods firstPeriod lastPeriod firstValue lastValue change slope
                rSquared nextValue explanation {EVIDENCE} }}
            recommendations {{ priority action rationale {EVIDENCE} }} }} }} }}"
    )
}

/// One day of the uploaded year.
struct Day {
    day: NaiveDate,
    revenue: f64,
    visits: f64,
    returns: f64,
}

/// 2025, day by day: revenue 100 + 2·i with a little noise and the spike;
/// visits 200–206 by weekday; returns falling by 0.75 a day (quarters, so
/// every figure is exact in binary).
fn year() -> Vec<Day> {
    let start = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default();
    (0..365i64)
        .map(|i| Day {
            day: start + chrono::Duration::days(i),
            revenue: if i == SPIKE_DAY { SPIKE } else { (100 + 2 * i + (i * 37) % 11 - 5) as f64 },
            visits: (200 + i % 7) as f64,
            returns: 400.0 - 0.75 * i as f64 + ((i * 13) % 7 - 3) as f64 * 0.5,
        })
        .collect()
}

fn year_csv() -> Vec<u8> {
    let mut text = String::from("day,revenue,visits,returns\n");
    for d in year() {
        text.push_str(&format!("{},{},{},{}\n", d.day, d.revenue, d.visits, d.returns));
    }
    text.into_bytes()
}

/// 50 rows, no date: `a` counts up with one far value, `b` cycles.
fn undated_csv() -> Vec<u8> {
    let mut text = String::from("a,b\n");
    for i in 0..50i64 {
        let a = if i == 20 { 1000 } else { i };
        text.push_str(&format!("{a},{}\n", (i * 7) % 13));
    }
    text.into_bytes()
}

/// Type-7 quantile, the textbook way.
fn quantile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let h = (sorted.len() - 1) as f64 * p;
    let below = h.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    sorted[below] + (h - below as f64) * (sorted[above] - sorted[below])
}

fn fences(values: &[f64]) -> (f64, f64) {
    let (q1, q3) = (quantile(values, 0.25), quantile(values, 0.75));
    (q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1))
}

/// Each month's average of `pick`, January first.
fn monthly(pick: impl Fn(&Day) -> f64) -> Vec<f64> {
    (1..=12u32)
        .map(|m| {
            let days: Vec<f64> = year().iter().filter(|d| d.day.month() == m).map(&pick).collect();
            days.iter().sum::<f64>() / days.len() as f64
        })
        .collect()
}

/// The range a period is expected in: the least-squares line through the
/// averages, plus the residuals' median, ± 3.5 × 1.4826 × their MAD.
fn period_range(averages: &[f64], index: usize) -> (f64, f64) {
    let n = averages.len() as f64;
    let xs: Vec<f64> = (0..averages.len()).map(|i| i as f64).collect();
    let (mx, my) = (xs.iter().sum::<f64>() / n, averages.iter().sum::<f64>() / n);
    let sxy: f64 = xs.iter().zip(averages).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let residuals: Vec<f64> = xs.iter().zip(averages).map(|(x, y)| y - (intercept + slope * x)).collect();
    let center = quantile(&residuals, 0.5);
    let deviations: Vec<f64> = residuals.iter().map(|r| (r - center).abs()).collect();
    let scale = 1.4826 * quantile(&deviations, 0.5);
    let expected = intercept + slope * index as f64 + center;
    (expected - 3.5 * scale, expected + 3.5 * scale)
}

fn number(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn near(actual: &Value, expected: f64) {
    let got = number(actual);
    assert!((got - expected).abs() <= 1e-6 * (1.0 + expected.abs()), "{got} is not {expected}");
}

fn upload_body(name: &str, filename: &str, bytes: &[u8]) -> Vec<u8> {
    let query = "mutation($n: String!, $f: Upload!) { uploadDataset(name: $n, file: $f) { id datasetId } }";
    let operations = json!({ "query": query, "variables": { "n": name, "f": null } });
    let parts: [(String, Vec<u8>); 3] = [
        ("name=\"operations\"".into(), operations.to_string().into_bytes()),
        ("name=\"map\"".into(), json!({ "0": ["variables.f"] }).to_string().into_bytes()),
        (format!("name=\"0\"; filename=\"{filename}\"\r\nContent-Type: text/csv"), bytes.to_vec()),
    ];
    let mut body = Vec::new();
    for (disposition, content) in &parts {
        let head = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; {disposition}\r\n\r\n");
        body.extend_from_slice(head.as_bytes());
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// Uploads `bytes` as `name` and waits until the dataset is `READY`; its id.
async fn loaded(app: &TestApp, token: &str, name: &str, filename: &str, bytes: &[u8]) -> String {
    let request = Request::post("/graphql")
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .header("accept", "application/graphql-response+json")
        .header("apollo-require-preflight", "true")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(upload_body(name, filename, bytes)))
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, headers, bytes) = app.send(request).await;
    let body: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{status}: {e}"));
    let answer = Gql { status, headers, body }.ok();
    let id = answer.data("/uploadDataset/datasetId").as_str().unwrap_or_else(|| panic!("{}", answer.body)).to_owned();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let query = "query($id: ID!) { dataset(id: $id) { status } }";
        let status = app.gql(query, json!({ "id": id }), Some(token)).await.ok().data("/dataset/status").clone();
        if status == json!("READY") {
            return id;
        }
        assert_ne!(status, json!("FAILED"), "the dataset failed to load");
        assert!(Instant::now() < deadline, "dataset {id} is not READY: {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Asks for insights; the job's id (answered `QUEUED` or already running).
async fn ask(app: &TestApp, token: &str, dataset: &str) -> String {
    let answer = app.gql(INSIGHTS, json!({ "d": dataset }), Some(token)).await.ok();
    assert_eq!(answer.data("/datasetInsights/type"), &json!("INSIGHTS"), "{}", answer.body);
    assert_eq!(answer.data("/datasetInsights/datasetId"), &json!(dataset));
    answer.data("/datasetInsights/id").as_str().unwrap_or_default().to_owned()
}

/// Polls until the job has ended; returns it.
async fn settled(app: &TestApp, token: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let found = app.gql(JOB, json!({ "id": id }), Some(token)).await.ok().data("/job").clone();
        if matches!(found["status"].as_str(), Some("COMPLETED" | "FAILED" | "CANCELLED")) {
            return found;
        }
        assert!(Instant::now() < deadline, "job {id} did not end: {found}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs insights to completion and returns the dataset's stored insights.
async fn computed(app: &TestApp, token: &str, dataset: &str) -> (String, Value) {
    let job = ask(app, token, dataset).await;
    let done = settled(app, token, &job).await;
    assert_eq!((done["status"].clone(), done["progress"].clone()), (json!("COMPLETED"), json!(100)), "{done}");
    let found = app.gql(&result_query(), json!({ "id": dataset }), Some(token)).await.ok();
    (job, found.data("/dataset/insights").clone())
}

fn list<'a>(insights: &'a Value, key: &str) -> &'a Vec<Value> {
    insights[key].as_array().unwrap_or_else(|| panic!("no {key} in {insights}"))
}

/// Every figure names a statement over `data`, never the storage.
fn every_figure_has_its_statement(insights: &Value) {
    for key in ["anomalies", "trends", "recommendations"] {
        for finding in list(insights, key) {
            let evidence = finding["evidence"].as_array().unwrap_or_else(|| panic!("no evidence: {finding}"));
            assert!(!evidence.is_empty(), "{finding}");
            for e in evidence {
                let sql = e["sql"].as_str().unwrap_or_default();
                assert!(sql.contains("FROM data") && !sql.contains("ds_"), "{e}");
                assert!(e["value"].is_number(), "{e}");
            }
        }
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

async fn a_year_of_days_has_its_spike_and_trends(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, user_id) = app.register("owner@insights.example").await;
    let dataset = loaded(&app, &owner, "Daily sales", "daily.csv", &year_csv()).await;
    let before = app.gql(&result_query(), json!({ "id": dataset }), Some(&owner)).await.ok();
    assert_eq!(before.data("/dataset/insights"), &Value::Null, "no insights before a run");

    let (job_id, found) = computed(&app, &owner, &dataset).await;
    assert_eq!(found["version"], json!(1), "{found}");
    assert_eq!(found["stale"], json!(false));
    assert_eq!(found["rowCount"], json!(365));
    assert_eq!((found["dateColumn"].clone(), found["grain"].clone()), (json!("day"), json!("MONTH")));
    assert_eq!(found["measures"], json!(["revenue", "visits", "returns"]));
    assert_eq!(found["writtenBy"], json!("offline rules"));
    assert!(found["summary"].as_str().is_some_and(|s| s.contains("365 rows")), "{found}");
    every_figure_has_its_statement(&found);
    let days = year();

    // The spike day, beyond Tukey's fences computed here from every row.
    let anomalies = list(&found, "anomalies");
    let values: Vec<&Value> = anomalies.iter().filter(|a| a["type"] == json!("VALUE")).collect();
    assert_eq!(values.len(), 1, "only the spike lies outside its column's fences: {anomalies:#?}");
    let spike = values[0];
    let revenue: Vec<f64> = days.iter().map(|d| d.revenue).collect();
    let (low, high) = fences(&revenue);
    assert_eq!((spike["column"].clone(), spike["direction"].clone()), (json!("revenue"), json!("ABOVE")));
    near(&spike["value"], SPIKE);
    near(&spike["expectedRange"]["low"], low);
    near(&spike["expectedRange"]["high"], high);
    assert_eq!((spike["severity"].clone(), spike["at"].clone()), (json!("HIGH"), json!("2025-06-10")));
    assert!(spike["explanation"].as_str().is_some_and(|e| e.contains("5000")), "{spike}");
    // Its statement runs as the merchant's own and finds the same row.
    let statement = spike["evidence"][0]["sql"].as_str().unwrap_or_default();
    let run = "query($d: ID!, $s: String!) { runSql(datasetId: $d, sql: $s) { rows } }";
    let rerun = app.gql(run, json!({ "d": dataset, "s": statement }), Some(&owner)).await.ok();
    near(&rerun.data("/runSql/rows/0/0").clone(), SPIKE);

    // Its month, off the revenue line by more than 3.5 robust scales.
    let periods: Vec<&Value> = anomalies.iter().filter(|a| a["type"] == json!("PERIOD")).collect();
    assert_eq!(periods.len(), 1, "{anomalies:#?}");
    let june = periods[0];
    let averages = monthly(|d| d.revenue);
    let (low, high) = period_range(&averages, 5);
    assert_eq!((june["column"].clone(), june["period"].clone()), (json!("revenue"), json!("2025-06-01")));
    assert_eq!(june["direction"], json!("ABOVE"));
    near(&june["value"], averages[5]);
    near(&june["expectedRange"]["low"], low);
    near(&june["expectedRange"]["high"], high);
    assert!(averages[5] > high, "June is above its range");

    // Revenue up, returns down; visits flat, and the note says so.
    let trends = list(&found, "trends");
    let mut directions: Vec<(String, String)> = trends
        .iter()
        .map(|t| (t["column"].as_str().unwrap_or("").to_owned(), t["direction"].as_str().unwrap_or("").to_owned()))
        .collect();
    directions.sort();
    assert_eq!(directions, [("returns".to_owned(), "DOWN".to_owned()), ("revenue".to_owned(), "UP".to_owned())]);
    let up = trends.iter().find(|t| t["column"] == json!("revenue")).unwrap_or_else(|| panic!("{trends:#?}"));
    assert_eq!((up["firstPeriod"].clone(), up["lastPeriod"].clone()), (json!("2025-01-01"), json!("2025-12-01")));
    assert_eq!((up["periods"].clone(), up["grain"].clone()), (json!(12), json!("MONTH")));
    near(&up["firstValue"], averages[0]);
    near(&up["lastValue"], averages[11]);
    near(&up["change"], (averages[11] - averages[0]) / averages[0]);
    assert!(number(&up["slope"]) > 0.0);
    let down = trends.iter().find(|t| t["column"] == json!("returns")).unwrap_or_else(|| panic!("{trends:#?}"));
    let returns = monthly(|d| d.returns);
    near(&down["firstValue"], returns[0]);
    assert!(number(&down["slope"]) < 0.0 && number(&down["rSquared"]) > 0.99, "{down}");
    let note = found["trendNote"].as_str().unwrap_or_default();
    assert!(note.starts_with("Only 2 columns trend") && note.contains("`visits`"), "{note}");

    // At least one recommendation, the most urgent first.
    let recommendations = list(&found, "recommendations");
    assert!(!recommendations.is_empty());
    assert_eq!(recommendations[0]["priority"], json!("HIGH"), "{recommendations:#?}");

    // A redelivered message finds the job ended and changes nothing.
    let account = user::Entity::find_by_id(Uuid::parse_str(&user_id).unwrap_or_default())
        .one(&app.db.conn)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no user"))
        .account_id;
    let job_uuid = Uuid::parse_str(&job_id).unwrap_or_default();
    insights::job::run(app.pipeline(), account, job_uuid).await.unwrap_or_else(|e| panic!("{e:#}"));
    let again = app.gql(&result_query(), json!({ "id": dataset }), Some(&owner)).await.ok();
    assert_eq!(again.data("/dataset/insights/generatedAt"), &found["generatedAt"]);
    let row = job::Entity::find_by_id(job_uuid).one(&app.db.conn).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(row.map(|j| j.status), Some("COMPLETED".to_owned()));

    // Viewers read but start nothing; another account sees nothing.
    let viewer = member(&app, &owner, "viewer@insights.example", "VIEWER").await;
    assert_eq!(app.gql(INSIGHTS, json!({ "d": dataset }), Some(&viewer)).await.code(), Some("FORBIDDEN"));
    let read = app.gql(&result_query(), json!({ "id": dataset }), Some(&viewer)).await.ok();
    assert_eq!(read.data("/dataset/insights/rowCount"), &json!(365));
    let (stranger, _, _) = app.register("stranger@insights.example").await;
    assert_eq!(app.gql(INSIGHTS, json!({ "d": dataset }), Some(&stranger)).await.code(), Some("NOT_FOUND"));
}

async fn a_table_without_dates_has_anomalies_and_no_trends(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("owner@undated.example").await;
    let dataset = loaded(&app, &owner, "Undated", "undated.csv", &undated_csv()).await;
    let (_, found) = computed(&app, &owner, &dataset).await;
    every_figure_has_its_statement(&found);
    assert_eq!((found["dateColumn"].clone(), found["grain"].clone()), (Value::Null, Value::Null), "{found}");

    let anomalies = list(&found, "anomalies");
    assert_eq!(anomalies.len(), 1, "{anomalies:#?}");
    let far = &anomalies[0];
    let a: Vec<f64> = (0..50).map(|i| if i == 20 { 1000.0 } else { f64::from(i) }).collect();
    let (low, high) = fences(&a);
    let what = (far["type"].clone(), far["column"].clone(), far["at"].clone());
    assert_eq!(what, (json!("VALUE"), json!("a"), Value::Null));
    near(&far["value"], 1000.0);
    near(&far["expectedRange"]["low"], low);
    near(&far["expectedRange"]["high"], high);

    assert_eq!(list(&found, "trends").len(), 0);
    let note = found["trendNote"].as_str().unwrap_or_default();
    assert!(note.starts_with("No trends") && note.contains("no date or timestamp column"), "{note}");
    assert!(!list(&found, "recommendations").is_empty());
    assert!(found["summary"].as_str().is_some_and(|s| s.contains("No trends")), "{found}");
}

on_both_backends! {
    a_year_of_days_gets_its_spike_trends_and_recommendations => a_year_of_days_has_its_spike_and_trends;
    a_table_without_dates_gets_anomalies_and_an_honest_no_trend => a_table_without_dates_has_anomalies_and_no_trends;
}
