//! Questions answered by SQL through the API, on both engines: a CSV
//! uploaded and loaded, then `askDataset` offline (totals by a column, top
//! N, a filter, a date range, a monthly trend) checked against figures
//! computed here from the same rows; `runSql` aggregates; refused
//! statements that never ran (the rows are all still there); the row cap;
//! the cache; another account; a viewer; writes refused on every path,
//! the read-only execution included when validation is skipped; and a
//! model's SQL (validated, explained; a hostile one refused, the offline
//! translator answering instead).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use chrono::{Datelike, NaiveDate};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

use alatar_agents::datasets::sql::{DatasetSql, DatasetTable, Limits, MemoryCache, ValidatedQuery};
use alatar_agents::datasets::storage;
use alatar_tests::fake_llm::{FakeLlm, Reply, completion};
use alatar_tests::{Backend, Gql, TestApp, on_both_backends};

const PASSWORD: &str = "correct horse battery";
const BOUNDARY: &str = "alatar-test-dataset-sql-boundary-9c2f";
const ROW_CAP: usize = 40;
const CAMPAIGNS: [&str; 4] = ["Spring", "Summer", "Fall", "Winter"];
const CHANNELS: [&str; 3] = ["email", "search", "social"];

const ASK: &str = "query($d: ID!, $q: String!) { askDataset(datasetId: $d, question: $q) {
    sql columns { name type } rows rowCount truncated explanation writtenBy executionTimeMs cached } }";
const RUN: &str = "query($d: ID!, $s: String!) { runSql(datasetId: $d, sql: $s) {
    sql columns { name type } rows rowCount truncated explanation executionTimeMs cached } }";
const VALIDATE: &str = "query($d: ID!, $s: String!) { validateSql(datasetId: $d, sql: $s) { valid errors } }";

/// One row of the uploaded file.
struct Spend {
    day: NaiveDate,
    campaign: &'static str,
    channel: &'static str,
    spend: f64,
    clicks: i64,
}

/// 60 rows, every other day from 2025-12-01; spends end in .5, so every
/// sum is exact in binary floating point whatever the order.
fn rows() -> Vec<Spend> {
    let start = NaiveDate::from_ymd_opt(2025, 12, 1).unwrap_or_default();
    (0..60)
        .map(|i: i64| Spend {
            day: start + chrono::Duration::days(2 * i),
            campaign: CAMPAIGNS[(i % 4) as usize],
            channel: CHANNELS[(i % 3) as usize],
            spend: ((i * 37) % 200) as f64 + 0.5,
            clicks: (i * 13) % 50,
        })
        .collect()
}

fn csv() -> Vec<u8> {
    let mut text = String::from("day,campaign,channel,spend,clicks\n");
    for r in rows() {
        text.push_str(&format!("{},{},{},{},{}\n", r.day, r.campaign, r.channel, r.spend, r.clicks));
    }
    text.into_bytes()
}

fn upload_body(name: &str, bytes: &[u8]) -> Vec<u8> {
    let query = "mutation($n: String!, $f: Upload!) { uploadDataset(name: $n, file: $f) { id datasetId } }";
    let operations = json!({ "query": query, "variables": { "n": name, "f": null } });
    let parts: [(String, Vec<u8>); 3] = [
        ("name=\"operations\"".into(), operations.to_string().into_bytes()),
        ("name=\"map\"".into(), json!({ "0": ["variables.f"] }).to_string().into_bytes()),
        ("name=\"0\"; filename=\"spend.csv\"\r\nContent-Type: text/csv".into(), bytes.to_vec()),
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

/// Uploads the CSV as `name` and waits until the dataset is `READY`; its id.
async fn loaded(app: &TestApp, token: &str, name: &str) -> String {
    let request = Request::post("/graphql")
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .header("accept", "application/graphql-response+json")
        .header("apollo-require-preflight", "true")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(upload_body(name, &csv())))
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, headers, bytes) = app.send(request).await;
    let body: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{status}: {e}"));
    let answer = Gql { status, headers, body }.ok();
    let id = answer.data("/uploadDataset/datasetId").as_str().unwrap_or_else(|| panic!("{}", answer.body)).to_owned();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let query = "query($id: ID!) { dataset(id: $id) { status error } }";
        let found = app.gql(query, json!({ "id": id }), Some(token)).await;
        let status = found.ok().data("/dataset/status").clone();
        if status == json!("READY") {
            return id;
        }
        assert_ne!(status, json!("FAILED"), "the dataset failed to load");
        assert!(Instant::now() < deadline, "dataset {id} is not READY: {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn ask(app: &TestApp, token: &str, dataset: &str, question: &str) -> Gql {
    app.gql(ASK, json!({ "d": dataset, "q": question }), Some(token)).await
}

async fn asked(app: &TestApp, token: &str, dataset: &str, question: &str) -> Value {
    ask(app, token, dataset, question).await.ok().data("/askDataset").clone()
}

async fn run(app: &TestApp, token: &str, dataset: &str, sql: &str) -> Gql {
    app.gql(RUN, json!({ "d": dataset, "s": sql }), Some(token)).await
}

fn number(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// The answer's rows as (label, figure) pairs.
fn pairs(answer: &Value) -> Vec<(String, f64)> {
    let rows = answer["rows"].as_array().cloned().unwrap_or_default();
    rows.iter().map(|row| (row[0].as_str().unwrap_or_default().to_owned(), number(&row[1]))).collect()
}

fn close(got: &[(String, f64)], want: &[(String, f64)]) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for ((g, gv), (w, wv)) in got.iter().zip(want) {
        assert_eq!(g, w, "{got:?} vs {want:?}");
        assert!((gv - wv).abs() < 1e-9, "{got:?} vs {want:?}");
    }
}

/// Totals by a key, largest first, ties by key (the translator's order).
fn ranked(sums: BTreeMap<String, f64>) -> Vec<(String, f64)> {
    let mut ranked: Vec<(String, f64)> = sums.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked
}

/// The rows the dataset's own storage holds, read past the API.
async fn stored_rows(app: &TestApp, dataset: &str) -> i64 {
    let id = Uuid::parse_str(dataset).unwrap_or_else(|e| panic!("{e}"));
    let backend = app.db.conn.get_database_backend();
    let table = storage::physical_table(backend, id);
    let sql = Statement::from_string(backend, format!("SELECT count(*) AS n FROM {table}"));
    let found = if backend == DbBackend::Postgres {
        app.db.conn.query_one_raw(sql).await
    } else {
        let url = format!("sqlite://{}?mode=ro", storage::sqlite_path(&app.db.dir, id).display());
        let file = Database::connect(&url).await.unwrap_or_else(|e| panic!("{e}"));
        file.query_one_raw(sql).await
    };
    let row = found.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("no count"));
    row.try_get::<i64>("", "n").unwrap_or_else(|e| panic!("{e}"))
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

async fn questions_are_answered_from_the_rows(backend: Backend) {
    let app = TestApp::with_config(backend, |c| c.datasets.sql_row_cap = ROW_CAP).await;
    let (owner, _, _) = app.register("owner@spend.example").await;
    let dataset = loaded(&app, &owner, "Ad spend").await;
    let data = rows();

    // Totals by a column, largest first; then the same question is cached.
    let mut by_campaign = BTreeMap::new();
    for r in &data {
        *by_campaign.entry(r.campaign.to_owned()).or_insert(0.0) += r.spend;
    }
    let first = asked(&app, &owner, &dataset, "What is the total spend by campaign?").await;
    close(&pairs(&first), &ranked(by_campaign));
    assert_eq!(first["cached"], json!(false), "{first}");
    assert_eq!(first["writtenBy"], json!("offline rules"));
    assert_eq!(first["columns"][0], json!({ "name": "campaign", "type": "TEXT" }));
    assert!(first["sql"].as_str().is_some_and(|s| s.contains("FROM data") && !s.contains("ds_")), "{first}");
    assert!(first["explanation"].as_str().is_some_and(|e| e.contains("\"spend\"")), "{first}");
    let again = asked(&app, &owner, &dataset, "What is the total spend by campaign?").await;
    assert_eq!(again["cached"], json!(true), "{again}");
    assert_eq!(again["rows"], first["rows"]);

    // Top N by a measure.
    let mut clicks = BTreeMap::new();
    for r in &data {
        *clicks.entry(r.campaign.to_owned()).or_insert(0.0) += r.clicks as f64;
    }
    let top: Vec<(String, f64)> = ranked(clicks).into_iter().take(2).collect();
    close(&pairs(&asked(&app, &owner, &dataset, "top 2 campaigns by clicks").await), &top);

    // A filter and a date range.
    let emails = data.iter().filter(|r| r.channel == "email").count();
    let counted = asked(&app, &owner, &dataset, "how many rows where channel is Email").await;
    assert_eq!(counted["rows"], json!([[emails]]), "{counted}");
    let search_2026: f64 = data.iter().filter(|r| r.channel == "search" && r.day.year() == 2026).map(|r| r.spend).sum();
    let filtered = asked(&app, &owner, &dataset, "total spend where channel is 'search' in 2026").await;
    assert!((number(&filtered["rows"][0][0]) - search_2026).abs() < 1e-9, "{filtered} vs {search_2026}");
    let latest = data.iter().map(|r| r.day).max().unwrap_or_default();
    let recent: f64 = data.iter().filter(|r| r.day > latest - chrono::Duration::days(30)).map(|r| r.spend).sum();
    let last = asked(&app, &owner, &dataset, "total spend in the last 30 days").await;
    assert!((number(&last["rows"][0][0]) - recent).abs() < 1e-9, "{last} vs {recent}");

    // A monthly trend, in month order.
    let mut months = BTreeMap::new();
    for r in &data {
        *months.entry(r.day.format("%Y-%m").to_string()).or_insert(0.0) += r.spend;
    }
    let trend = asked(&app, &owner, &dataset, "monthly trend of spend").await;
    close(&pairs(&trend), &months.into_iter().collect::<Vec<_>>());
    assert_eq!(trend["columns"][0]["name"], json!("month"));

    // Outside the grammar: a refusal, not a guess.
    let unknown = ask(&app, &owner, &dataset, "why did spend drop?").await;
    assert_eq!(unknown.code(), Some("BAD_USER_INPUT"), "{}", unknown.body);
    let message = unknown.body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("can't answer that offline"), "{message}");

    // The merchant's own aggregate.
    let aggregate = "SELECT channel, count(*) AS n, sum(clicks) AS clicks FROM data GROUP BY channel ORDER BY channel";
    let own = run(&app, &owner, &dataset, aggregate).await.ok();
    let expected: Vec<Value> = CHANNELS
        .iter()
        .map(|ch| {
            let of: Vec<&Spend> = data.iter().filter(|r| r.channel == *ch).collect();
            json!([ch, of.len(), of.iter().map(|r| r.clicks).sum::<i64>()])
        })
        .collect();
    assert_eq!(own.data("/runSql/rows"), &json!(expected), "{}", own.body);
    assert_eq!(own.data("/runSql/columns/1"), &json!({ "name": "n", "type": "INTEGER" }));
    let named = run(&app, &owner, &dataset, "SELECT max(spend) FROM \"Ad spend\"").await.ok();
    let max = data.iter().map(|r| r.spend).fold(f64::MIN, f64::max);
    assert!((number(named.data("/runSql/rows/0/0")) - max).abs() < 1e-9, "{}", named.body);

    // The row cap: one more row fetched tells truncation.
    let all = run(&app, &owner, &dataset, "SELECT * FROM data").await.ok();
    assert_eq!(all.data("/runSql/rowCount"), &json!(ROW_CAP));
    assert_eq!(all.data("/runSql/truncated"), &json!(true));
    let exact = run(&app, &owner, &dataset, &format!("SELECT * FROM data LIMIT {ROW_CAP}")).await.ok();
    assert_eq!(exact.data("/runSql/rowCount"), &json!(ROW_CAP));
    assert_eq!(exact.data("/runSql/truncated"), &json!(false));
    let few = run(&app, &owner, &dataset, "SELECT day FROM data ORDER BY day LIMIT 3").await.ok();
    assert_eq!(few.data("/runSql/rows"), &json!([["2025-12-01"], ["2025-12-03"], ["2025-12-05"]]));
    assert_eq!(few.data("/runSql/columns/0/type"), &json!("DATE"));
}

async fn refused_statements_never_run(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("owner@refused.example").await;
    let dataset = loaded(&app, &owner, "spend").await;
    let hostile = [
        ("DROP TABLE data", "NOT_A_QUERY"),
        ("DELETE FROM data", "DATA_MODIFYING"),
        ("UPDATE data SET spend = 0", "DATA_MODIFYING"),
        ("INSERT INTO data (spend) VALUES (1)", "DATA_MODIFYING"),
        ("SELECT 1; DELETE FROM data", "MULTIPLE_STATEMENTS"),
        ("SELECT * FROM data /* x */; DROP TABLE data", "MULTIPLE_STATEMENTS"),
        ("SELECT * FROM users", "OTHER_TABLE"),
        ("SELECT * FROM sqlite_master", "SYSTEM_CATALOG"),
        ("SELECT * FROM pg_catalog.pg_tables", "SYSTEM_CATALOG"),
        ("SELECT pg_sleep(5)", "FUNCTION"),
    ];
    for (sql, code) in hostile {
        let refused = run(&app, &owner, &dataset, sql).await;
        assert_eq!(refused.code(), Some("BAD_USER_INPUT"), "{sql}: {}", refused.body);
        let message = refused.body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with(code), "{sql}: {message}");
        let checked = app.gql(VALIDATE, json!({ "d": dataset, "s": sql }), Some(&owner)).await.ok();
        assert_eq!(checked.data("/validateSql/valid"), &json!(false));
        let first = checked.data("/validateSql/errors/0").as_str().unwrap_or_default();
        assert!(first.starts_with(code), "{}", checked.body);
    }
    // A data-modifying CTE: refused (or unreadable to the parser), never run.
    let cte = run(&app, &owner, &dataset, "WITH gone AS (DELETE FROM data RETURNING *) SELECT * FROM gone").await;
    assert_eq!(cte.code(), Some("BAD_USER_INPUT"), "{}", cte.body);
    let quoted = json!({ "d": dataset, "s": "SELECT ';DROP TABLE data' FROM data" });
    let fine = app.gql(VALIDATE, quoted, Some(&owner)).await.ok();
    assert_eq!(fine.data("/validateSql"), &json!({ "valid": true, "errors": [] }));
    // A question that reads as a write is not understood.
    assert_eq!(ask(&app, &owner, &dataset, "delete all rows").await.code(), Some("BAD_USER_INPUT"));
    // Nothing changed.
    assert_eq!(stored_rows(&app, &dataset).await, 60);
    let count = run(&app, &owner, &dataset, "SELECT count(*) FROM data").await.ok();
    assert_eq!(count.data("/runSql/rows"), &json!([[60]]));

    // Even with validation skipped, the execution is read-only by itself.
    let id = Uuid::parse_str(&dataset).unwrap_or_else(|e| panic!("{e}"));
    let table = DatasetTable { id, name: "spend".into(), version: 1, columns: Vec::new() };
    let cache = Arc::new(MemoryCache::default());
    let sql = DatasetSql::new(app.db.conn.clone(), app.db.dir.clone(), Limits::default(), cache);
    let physical = storage::physical_table(app.db.conn.get_database_backend(), id);
    for write in [
        format!("DELETE FROM {physical}"),
        format!("UPDATE {physical} SET clicks = 0"),
        format!("INSERT INTO {physical} (clicks) VALUES (1)"),
        format!("DROP TABLE {physical}"),
        "CREATE TABLE stolen (x INTEGER)".to_owned(),
    ] {
        let outcome = sql.run(&table, &ValidatedQuery::unchecked_for_tests(write.clone())).await;
        assert!(outcome.is_err(), "{write} ran: {outcome:?}");
    }
    assert_eq!(stored_rows(&app, &dataset).await, 60);
    let recount = run(&app, &owner, &dataset, "SELECT count(*) FROM data").await.ok();
    assert_eq!(recount.data("/runSql/rows"), &json!([[60]]));
}

async fn only_the_account_queries_its_datasets(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("owner@tenancy-sql.example").await;
    let dataset = loaded(&app, &owner, "spend").await;
    let (stranger, _, _) = app.register("stranger@elsewhere.example").await;
    assert_eq!(ask(&app, &stranger, &dataset, "how many rows").await.code(), Some("NOT_FOUND"));
    assert_eq!(run(&app, &stranger, &dataset, "SELECT count(*) FROM data").await.code(), Some("NOT_FOUND"));
    let peek = app.gql(VALIDATE, json!({ "d": dataset, "s": "SELECT 1" }), Some(&stranger)).await;
    assert_eq!(peek.code(), Some("NOT_FOUND"));
    // Naming the storage of the owner's dataset does not reach it either.
    let theirs = loaded(&app, &stranger, "theirs").await;
    let id = Uuid::parse_str(&dataset).unwrap_or_else(|e| panic!("{e}"));
    let physical = storage::physical_table(DbBackend::Postgres, id);
    let cross = run(&app, &stranger, &theirs, &format!("SELECT * FROM {physical}")).await;
    assert_eq!(cross.code(), Some("BAD_USER_INPUT"), "{}", cross.body);
    // Every member may ask, viewers included.
    let viewer = member(&app, &owner, "viewer@tenancy-sql.example", "VIEWER").await;
    let viewed = asked(&app, &viewer, &dataset, "how many rows").await;
    assert_eq!(viewed["rows"], json!([[60]]), "{viewed}");
    assert_eq!(ask(&app, &owner, "not-an-id", "how many rows").await.code(), Some("BAD_USER_INPUT"));
}

on_both_backends! {
    questions_are_answered => questions_are_answered_from_the_rows;
    refused_statements => refused_statements_never_run;
    tenancy => only_the_account_queries_its_datasets;
}

/// With a model: its SQL, validated, runs and it explains the result; a
/// statement of its that breaks a rule never runs, and the offline
/// translator answers instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_models_sql_is_validated_before_it_runs() {
    let draft = json!({
        "sql": "SELECT channel, SUM(clicks) AS clicks FROM data GROUP BY channel ORDER BY channel",
        "explanation": "Clicks per channel.",
    });
    let hostile = json!({ "sql": "DROP TABLE data", "explanation": "Cleans up." });
    let fake = FakeLlm::start(vec![
        Reply::Json(200, completion(&draft.to_string())),
        Reply::Json(200, completion("Search brought the most clicks.")),
        Reply::Json(200, completion(&hostile.to_string())),
    ])
    .await;
    let base_url = fake.base_url.clone();
    let app = TestApp::with_config(Backend::Sqlite, |c| {
        c.llm.api_key = Some("test-key".to_owned().into());
        c.llm.base_url = base_url;
        c.llm.backoff_ms = 10;
        c.llm.max_retries = 0;
    })
    .await;
    let (owner, _, _) = app.register("owner@model-sql.example").await;
    let dataset = loaded(&app, &owner, "spend").await;

    let answer = asked(&app, &owner, &dataset, "Which channel brings clicks?").await;
    assert_eq!(answer["explanation"], json!("Search brought the most clicks."), "{answer}");
    assert!(answer["sql"].as_str().is_some_and(|s| s.contains("SUM(clicks)")), "{answer}");
    assert!(answer["writtenBy"].as_str().is_some_and(|w| w != "offline rules"), "{answer}");
    let data = rows();
    let email_clicks: i64 = data.iter().filter(|r| r.channel == "email").map(|r| r.clicks).sum();
    assert_eq!(answer["rows"][0], json!(["email", email_clicks]), "{answer}");
    // The model saw the columns and sample rows, fenced, and then the result.
    let requests = fake.requests();
    assert!(requests[0].to_string().contains("untrusted_dataset"), "{}", requests[0]);
    assert!(requests[1].to_string().contains(&email_clicks.to_string()), "{}", requests[1]);

    let fallback = asked(&app, &owner, &dataset, "total spend by campaign").await;
    assert_eq!(fallback["writtenBy"], json!("offline rules"), "{fallback}");
    assert_eq!(stored_rows(&app, &dataset).await, 60);
}
