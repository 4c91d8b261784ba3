//! Datasets through the API on both engines: CSV (quoted fields, a Latin-1
//! file cut at `;` with decimal commas), JSON and NDJSON (nested) uploads
//! loaded as typed, profiled tables by their jobs; bad files failing with
//! the line; the size limit held while the upload streams; cancelling a
//! queued, a running and a loading job; `jobUpdates` with exactly one
//! terminal event; deletion removing the table, file and source;
//! `setColumnType` as a reload; tenancy and roles.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use futures_util::StreamExt;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, Database, DbBackend, EntityTrait, QueryFilter, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

use alatar_agents::datasets::{ingest, source, storage};
use alatar_entity::{AccountScope, job, user};
use alatar_tests::{Backend, Gql, TestApp, on_both_backends};

const PASSWORD: &str = "correct horse battery";
const BOUNDARY: &str = "alatar-test-dataset-boundary-5d1e";

const UPLOAD: &str = "mutation($n: String!, $f: Upload!, $fmt: DatasetFormat) {
    uploadDataset(name: $n, file: $f, format: $fmt) { id type status progress datasetId } }";
const JOB: &str = "query($id: ID!) { job(id: $id) { id type status progress error cancelRequested datasetId
    dataset { id status } } }";
const DATASET: &str = "query($id: ID!) { dataset(id: $id) {
    id name format status error rowCount columnCount byteSize sourceName version
    columns { name type inferred }
    profile { version rowCount columnCount duplicateRowCount qualityScore lowQualityColumns
        issues { column type severity count description }
        columns { name type count nullCount nullPercentage uniqueCount invalidCount min max mean stdDev
            quartiles { q1 median q3 } outlierCount topValues { value count } lowQuality } } } }";

/// A `uploadDataset` multipart body: `bytes` as `filename`.
fn upload_body(name: &str, filename: &str, bytes: &[u8], format: Option<&str>) -> Vec<u8> {
    let operations = json!({ "query": UPLOAD, "variables": { "n": name, "f": null, "fmt": format } });
    let parts: [(String, Vec<u8>); 3] = [
        ("name=\"operations\"".into(), operations.to_string().into_bytes()),
        ("name=\"map\"".into(), json!({ "0": ["variables.f"] }).to_string().into_bytes()),
        (format!("name=\"0\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream"), bytes.to_vec()),
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

fn multipart(token: &str, body: Body) -> Request<Body> {
    Request::post("/graphql")
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .header("accept", "application/graphql-response+json")
        .header("apollo-require-preflight", "true")
        .header("authorization", format!("Bearer {token}"))
        .body(body)
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn send(app: &TestApp, request: Request<Body>) -> Gql {
    let (status, headers, bytes) = app.send(request).await;
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("non-JSON response ({status}): {e}: {}", String::from_utf8_lossy(&bytes)));
    Gql { status, headers, body }
}

async fn upload(app: &TestApp, token: &str, name: &str, filename: &str, bytes: &[u8], format: Option<&str>) -> Gql {
    send(app, multipart(token, Body::from(upload_body(name, filename, bytes, format)))).await
}

fn text(answer: &Gql, pointer: &str) -> String {
    answer.data(pointer).as_str().unwrap_or_else(|| panic!("no {pointer}: {}", answer.body)).to_owned()
}

/// Uploads and returns (job id, dataset id); the job answered `QUEUED`.
async fn queued(
    app: &TestApp,
    token: &str,
    name: &str,
    filename: &str,
    bytes: &[u8],
    format: Option<&str>,
) -> (String, String) {
    let answer = upload(app, token, name, filename, bytes, format).await.ok();
    assert_eq!(answer.data("/uploadDataset/status"), &json!("QUEUED"), "{}", answer.body);
    assert_eq!(answer.data("/uploadDataset/type"), &json!("INGESTION"));
    (text(&answer, "/uploadDataset/id"), text(&answer, "/uploadDataset/datasetId"))
}

async fn job_of(app: &TestApp, token: &str, id: &str) -> Value {
    app.gql(JOB, json!({ "id": id }), Some(token)).await.ok().data("/job").clone()
}

/// Polls until the job has ended; returns it.
async fn settled(app: &TestApp, token: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let found = job_of(app, token, id).await;
        if matches!(found["status"].as_str(), Some("COMPLETED" | "FAILED" | "CANCELLED")) {
            return found;
        }
        assert!(Instant::now() < deadline, "job {id} did not end: {found}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn dataset_of(app: &TestApp, token: &str, id: &str) -> Value {
    app.gql(DATASET, json!({ "id": id }), Some(token)).await.ok().data("/dataset").clone()
}

/// Uploads, waits for the job and returns the loaded dataset.
async fn loaded(app: &TestApp, token: &str, name: &str, filename: &str, bytes: &[u8], format: Option<&str>) -> Value {
    let (job, dataset) = queued(app, token, name, filename, bytes, format).await;
    let done = settled(app, token, &job).await;
    assert_eq!(done["status"], json!("COMPLETED"), "{done}");
    assert_eq!(done["progress"], json!(100));
    let found = dataset_of(app, token, &dataset).await;
    assert_eq!(found["status"], json!("READY"), "{found}");
    found
}

fn types(dataset: &Value) -> Vec<(String, String)> {
    dataset["columns"]
        .as_array()
        .map(|columns| {
            columns
                .iter()
                .map(|c| (c["name"].as_str().unwrap_or("").to_owned(), c["type"].as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn named(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(n, t)| ((*n).to_owned(), (*t).to_owned())).collect()
}

/// The profile of column `name`.
fn column<'a>(dataset: &'a Value, name: &str) -> &'a Value {
    dataset["profile"]["columns"]
        .as_array()
        .and_then(|columns| columns.iter().find(|c| c["name"] == json!(name)))
        .unwrap_or_else(|| panic!("no column {name} in {dataset}"))
}

fn close(value: &Value, expected: f64) {
    let actual = value.as_f64().unwrap_or(f64::NAN);
    assert!((actual - expected).abs() < 1e-9, "{actual} is not {expected}");
}

fn uuid(id: &str) -> Uuid {
    Uuid::parse_str(id).unwrap_or_else(|e| panic!("{id}: {e}"))
}

async fn scalar(db: &impl ConnectionTrait, backend: DbBackend, sql: String) -> Option<i64> {
    let statement = Statement::from_string(backend, sql.clone());
    let row = db.query_one_raw(statement).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    row.and_then(|r| r.try_get::<Option<i64>>("", "n").ok()).flatten()
}

/// `SELECT <expression> AS n` over the dataset's table; `None` when the table does not exist.
async fn over_table(app: &TestApp, backend: Backend, dataset_id: &str, expression: &str) -> Option<Option<i64>> {
    let id = uuid(dataset_id);
    match backend {
        Backend::Sqlite => {
            let path = storage::sqlite_path(&app.db.dir, id);
            if !path.exists() {
                return None;
            }
            let db = Database::connect(format!("sqlite://{}?mode=ro", path.display()))
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let n = scalar(&db, DbBackend::Sqlite, format!("SELECT {expression} AS n FROM data")).await;
            let _ = db.close().await;
            Some(n)
        }
        Backend::Postgres => {
            let table = storage::physical_table(DbBackend::Postgres, id);
            let present =
                format!("SELECT CAST(count(*) AS BIGINT) AS n FROM pg_class WHERE oid = to_regclass('{table}')");
            if scalar(&app.db.conn, DbBackend::Postgres, present).await != Some(1) {
                return None;
            }
            Some(scalar(&app.db.conn, DbBackend::Postgres, format!("SELECT {expression} AS n FROM {table}")).await)
        }
    }
}

async fn table_rows(app: &TestApp, backend: Backend, dataset_id: &str) -> Option<i64> {
    over_table(app, backend, dataset_id, "CAST(count(*) AS BIGINT)").await.map(|n| n.unwrap_or(0))
}

async fn account_of(app: &TestApp, user_id: &str) -> Uuid {
    let found = user::Entity::find_by_id(uuid(user_id)).one(&app.db.conn).await.unwrap_or_else(|e| panic!("{e}"));
    found.unwrap_or_else(|| panic!("no user {user_id}")).account_id
}

/// A member of the owner's account with `role`; returns their access token.
async fn member(app: &TestApp, owner: &str, email: &str, role: &str) -> String {
    let invite = "mutation($e: String!, $r: Role!) { inviteMember(email: $e, role: $r) { token } }";
    let invited = app.gql(invite, json!({ "e": email, "r": role }), Some(owner)).await.ok();
    let token = text(&invited, "/inviteMember/token");
    let joined = app
        .gql(
            "mutation($e: String!, $t: String!, $p: String!) { register(email: $e, password: $p, invitationToken: $t) { accessToken } }",
            json!({ "e": email, "t": token, "p": PASSWORD }),
            None,
        )
        .await
        .ok();
    text(&joined, "/register/accessToken")
}

const QUOTED_CSV: &str = "id,name,price,in_stock,launched,note\n\
    1,\"Mug, large\",12.50,true,2024-01-05,\"said \"\"hi\"\"\"\n\
    2,Plate,7,false,2024-02-10,\n\
    3,\"Bowl\",7,yes,2024-03-15,\"two\nlines\"\n\
    4,Cup,,no,2024-04-20,plain\n";

/// Latin-1 (é è ê as single bytes), `;` between fields, decimal commas.
const LATIN1_CSV: &[u8] = b"produit;prix;quantit\xe9\nCaf\xe9 cr\xe8me;3,5;10\nTh\xe9;2,25;4\nCr\xeape;4;\n";

const NESTED_JSON: &str = r#"[
  {"order": 1001, "total": 25.5, "customer": {"city": "Lyon", "vip": true}, "items": ["a", "b"], "placed": "2024-05-01T10:00:00Z"},
  {"order": 1002, "total": 10, "customer": {"city": "Paris", "vip": false}, "items": [], "placed": "2024-05-02T11:30:00+02:00"},
  {"order": 1003, "total": null, "customer": {"city": "Lyon"}, "placed": "2024-05-03T08:00:00Z"}
]"#;

const NESTED_NDJSON: &str = "{\"sku\": \"A-1\", \"stock\": {\"warehouse\": 5, \"store\": 2}}\n\
    {\"sku\": \"B-2\", \"stock\": {\"warehouse\": 0}}\n";

async fn uploads_are_loaded_typed_and_profiled(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("owner@datasets.example").await;

    let csv = loaded(&app, &owner, "Products", "products.csv", QUOTED_CSV.as_bytes(), None).await;
    assert_eq!(pick(&csv, &["format", "rowCount", "columnCount"]), [json!("CSV"), json!(4), json!(6)]);
    assert_eq!(csv["sourceName"], json!("products.csv"));
    assert_eq!(csv["byteSize"], json!(QUOTED_CSV.len()));
    assert_eq!(csv["version"], json!(1));
    assert_eq!(
        types(&csv),
        named(&[
            ("id", "INTEGER"),
            ("name", "TEXT"),
            ("price", "FLOAT"),
            ("in_stock", "BOOLEAN"),
            ("launched", "DATE"),
            ("note", "TEXT")
        ])
    );
    let price = column(&csv, "price");
    assert_eq!(pick(price, &["count", "nullCount", "uniqueCount"]), [json!(3), json!(1), json!(2)]);
    close(&price["nullPercentage"], 25.0);
    close(&price["min"], 7.0);
    close(&price["max"], 12.5);
    close(&price["mean"], 26.5 / 3.0);
    close(&price["quartiles"]["median"], 7.0);
    let note = column(&csv, "note");
    let notes = each(&note["topValues"], "value");
    assert!(notes.contains(&json!("said \"hi\"")) && notes.contains(&json!("two\nlines")), "{note}");
    assert_eq!(column(&csv, "launched")["min"], json!("2024-01-05"));
    assert_eq!(csv["profile"]["rowCount"], json!(4));
    assert_eq!(csv["profile"]["duplicateRowCount"], json!(0));
    let id = text_of(&csv, "id");
    assert_eq!(table_rows(&app, backend, &id).await, Some(4));
    assert_eq!(over_table(&app, backend, &id, "CAST(sum(\"id\") AS BIGINT)").await, Some(Some(10)));

    let latin1 = loaded(&app, &owner, "Prix", "prix.csv", LATIN1_CSV, None).await;
    assert_eq!(types(&latin1), named(&[("produit", "TEXT"), ("prix", "FLOAT"), ("quantité", "INTEGER")]));
    assert_eq!(latin1["rowCount"], json!(3));
    let products = column(&latin1, "produit")["topValues"].to_string();
    assert!(products.contains("Café crème") && products.contains("Crêpe"), "{products}");
    close(&column(&latin1, "prix")["mean"], (3.5 + 2.25 + 4.0) / 3.0);
    assert_eq!(column(&latin1, "quantité")["nullCount"], json!(1));

    let json = loaded(&app, &owner, "Orders", "orders.json", NESTED_JSON.as_bytes(), None).await;
    assert_eq!(json["format"], json!("JSON"));
    assert_eq!(
        types(&json),
        named(&[
            ("order", "INTEGER"),
            ("total", "FLOAT"),
            ("customer.city", "TEXT"),
            ("customer.vip", "BOOLEAN"),
            ("items", "TEXT"),
            ("placed", "TIMESTAMP")
        ])
    );
    assert_eq!(json["rowCount"], json!(3));
    let cities = json!([{ "value": "Lyon", "count": 2 }, { "value": "Paris", "count": 1 }]);
    assert_eq!(column(&json, "customer.city")["topValues"], cities);
    assert_eq!(column(&json, "customer.vip")["nullCount"], json!(1));
    assert_eq!(column(&json, "placed")["max"], json!("2024-05-03T08:00:00Z"));
    assert_eq!(column(&json, "placed")["min"], json!("2024-05-01T10:00:00Z"));
    assert_eq!(table_rows(&app, backend, &text_of(&json, "id")).await, Some(3));

    let ndjson = loaded(&app, &owner, "Stock", "stock.ndjson", NESTED_NDJSON.as_bytes(), Some("NDJSON")).await;
    assert_eq!(ndjson["format"], json!("NDJSON"));
    assert_eq!(types(&ndjson), named(&[("sku", "TEXT"), ("stock.warehouse", "INTEGER"), ("stock.store", "INTEGER")]));
    assert_eq!(column(&ndjson, "stock.store")["nullCount"], json!(1));
    let ndjson_id = text_of(&ndjson, "id");
    assert_eq!(over_table(&app, backend, &ndjson_id, "CAST(sum(\"stock.warehouse\") AS BIGINT)").await, Some(Some(5)));

    // Newest first, all four.
    let list = "{ datasets(first: 10) { edges { node { name status } } } }";
    let list = app.gql(list, json!({}), Some(&owner)).await.ok();
    let nodes: Vec<Value> = each(list.data("/datasets/edges"), "node");
    let names: Vec<Value> = nodes.iter().map(|n| n["name"].clone()).collect();
    assert_eq!(names, [json!("Stock"), json!("Orders"), json!("Prix"), json!("Products")]);
    // A name is unique in the account.
    let again = upload(&app, &owner, "Products", "again.csv", b"a\n1\n", None).await;
    assert_eq!(again.code(), Some("CONFLICT"), "{}", again.body);
}

/// The values of `keys` in `value`, in order.
fn pick(value: &Value, keys: &[&str]) -> Vec<Value> {
    keys.iter().map(|key| value[*key].clone()).collect()
}

/// `key` of each element of the array `list`.
fn each(list: &Value, key: &str) -> Vec<Value> {
    list.as_array().map(|items| items.iter().map(|item| item[key].clone()).collect()).unwrap_or_default()
}

fn text_of(value: &Value, key: &str) -> String {
    value[key].as_str().unwrap_or_else(|| panic!("no {key} in {value}")).to_owned()
}

async fn bad_files_fail_naming_the_line(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("owner@ragged.example").await;

    let (job, dataset) = queued(&app, &owner, "Ragged", "ragged.csv", b"a,b\n1,2\n3,4,5\n6,7\n", None).await;
    let failed = settled(&app, &owner, &job).await;
    assert_eq!(failed["status"], json!("FAILED"), "{failed}");
    let error = failed["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("line 3 has 3 fields"), "{error}");
    let found = dataset_of(&app, &owner, &dataset).await;
    assert_eq!(found["status"], json!("FAILED"));
    assert_eq!(found["error"], json!(error));
    assert_eq!(found["profile"], Value::Null);
    assert_eq!(table_rows(&app, backend, &dataset).await, None, "a failed load left a table");
    assert!(!source::source_path(&app.db.dir, uuid(&dataset)).exists(), "a failed upload kept its file");

    let (job, _) = queued(&app, &owner, "Broken", "broken.json", b"[{\"a\": 1},\n {\"a\": }]", None).await;
    let failed = settled(&app, &owner, &job).await;
    assert!(failed["error"].as_str().is_some_and(|e| e.starts_with("line 2 column")), "{failed}");

    let (job, _) = queued(&app, &owner, "Scalars", "scalars.ndjson", b"{\"a\": 1}\n7\n", Some("NDJSON")).await;
    let failed = settled(&app, &owner, &job).await;
    assert!(failed["error"].as_str().is_some_and(|e| e.starts_with("line 2 column 1")), "{failed}");

    let empty = upload(&app, &owner, "Empty", "empty.csv", b"", None).await;
    assert_eq!(empty.code(), Some("BAD_USER_INPUT"), "{}", empty.body);
    assert_eq!(empty.body["errors"][0]["extensions"]["field"], json!("file"));
}

#[tokio::test]
async fn the_size_limit_holds_while_the_upload_streams() {
    const LIMIT: usize = 64 * 1024;
    let app = TestApp::with_config(Backend::Sqlite, |c| {
        c.datasets.max_upload_bytes = LIMIT;
        c.graphql.max_upload_bytes = 16 * 1024;
    })
    .await;
    let (owner, _, _) = app.register("owner@limits.example").await;
    let row = "1234567,some text of a row,12.5\n";

    // Over the general file limit, within the datasets': accepted.
    let within: String = format!("n,label,amount\n{}", row.repeat(40 * 1024 / row.len()));
    let (job, _) = queued(&app, &owner, "Within", "within.csv", within.as_bytes(), None).await;
    assert_eq!(settled(&app, &owner, &job).await["status"], json!("COMPLETED"));

    // 10 MB, streamed: refused at the limit, long before the end is read.
    let huge: String = format!("n,label,amount\n{}", row.repeat(10 * 1024 * 1024 / row.len()));
    let body = upload_body("Huge", "huge.csv", huge.as_bytes(), None);
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = pulled.clone();
    let chunks: Vec<Vec<u8>> = body.chunks(64 * 1024).map(<[u8]>::to_vec).collect();
    let stream = futures_util::stream::iter(chunks.into_iter().map(move |chunk| {
        counter.fetch_add(chunk.len(), Ordering::SeqCst);
        Ok::<_, std::io::Error>(chunk)
    }));
    let refused = send(&app, multipart(&owner, Body::from_stream(stream))).await;
    assert_eq!(refused.status, 413, "{}", refused.body);
    let message = refused.body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains(&format!("exceeds {LIMIT} bytes (datasets.max_upload_bytes)")), "{message}");
    assert!(pulled.load(Ordering::SeqCst) < 1024 * 1024, "read {} bytes", pulled.load(Ordering::SeqCst));
    let list = app.gql("{ datasets { edges { node { name } } } }", json!({}), Some(&owner)).await.ok();
    assert_eq!(list.data("/datasets/edges"), &json!([{ "node": { "name": "Within" } }]));

    // Other uploads keep the general limit.
    let create = "mutation { createCollection(name: \"Docs\") { id } }";
    let collection = text(&app.gql(create, json!({}), Some(&owner)).await.ok(), "/createCollection/id");
    let document = app.upload_document(&owner, &collection, "big.txt", &vec![b'a'; 20 * 1024], "id").await;
    assert_eq!(document.status, 413, "{}", document.body);
    assert!(document.body.to_string().contains("graphql.max_upload_bytes"), "{}", document.body);
}

async fn set_status(app: &TestApp, id: &str, status: &str) {
    job::Entity::update_many()
        .col_expr(job::Column::Status, Expr::value(status))
        .filter(job::Column::Id.eq(uuid(id)))
        .exec(&app.db.conn)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

const CANCEL: &str = "mutation($id: ID!) { cancelJob(id: $id) { id status cancelRequested } }";

async fn cancelling_leaves_nothing_queryable(backend: Backend) {
    // No worker: jobs wait until the test runs them.
    let app = TestApp::with_config(backend, |c| c.pipeline.worker = false).await;
    let (owner, _, user_id) = app.register("owner@cancel.example").await;
    let account = account_of(&app, &user_id).await;
    let p = app.pipeline().clone();

    // Queued: cancelled at once; the dataset fails; a second cancel is a conflict.
    let (job, dataset) = queued(&app, &owner, "Queued", "q.csv", b"a\n1\n", None).await;
    let cancelled = app.gql(CANCEL, json!({ "id": job }), Some(&owner)).await.ok();
    assert_eq!(cancelled.data("/cancelJob/status"), &json!("CANCELLED"));
    assert_eq!(app.gql(CANCEL, json!({ "id": job }), Some(&owner)).await.code(), Some("CONFLICT"));
    assert_eq!(dataset_of(&app, &owner, &dataset).await["status"], json!("FAILED"));
    // Its message, delivered late, does nothing.
    ingest::run(&p, account, uuid(&job)).await.unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(job_of(&app, &owner, &job).await["status"], json!("CANCELLED"));
    assert_eq!(table_rows(&app, backend, &dataset).await, None);

    // Running (a worker took it): asked to stop, and the worker stops.
    let (job, dataset) = queued(&app, &owner, "Running", "r.csv", b"a\n1\n", None).await;
    set_status(&app, &job, "RUNNING").await;
    let asked = app.gql(CANCEL, json!({ "id": job }), Some(&owner)).await.ok();
    assert_eq!(asked.data("/cancelJob/status"), &json!("RUNNING"));
    assert_eq!(asked.data("/cancelJob/cancelRequested"), &json!(true));
    ingest::run(&p, account, uuid(&job)).await.unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(job_of(&app, &owner, &job).await["status"], json!("CANCELLED"));
    assert_eq!(dataset_of(&app, &owner, &dataset).await["status"], json!("FAILED"));
    assert_eq!(table_rows(&app, backend, &dataset).await, None);

    // Loading: stopped between batches, and nothing it loaded stays.
    let mut big = String::from("id,amount,label,day\n");
    for i in 0..150_000u32 {
        big.push_str(&format!("{i},{}.5,label {},2024-01-{:02}\n", i % 1000, i % 7, 1 + i % 28));
    }
    let (job, dataset) = queued(&app, &owner, "Loading", "big.csv", big.as_bytes(), None).await;
    let running = {
        let p = p.clone();
        let job = uuid(&job);
        tokio::spawn(async move { ingest::run(&p, account, job).await })
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let found = job_of(&app, &owner, &job).await;
        let status = found["status"].as_str().unwrap_or_default().to_owned();
        assert!(matches!(status.as_str(), "QUEUED" | "RUNNING"), "not loading any more: {found}");
        // Past the first pass (2–30): rows are going into the table.
        if status == "RUNNING" && found["progress"].as_i64().is_some_and(|n| n > 30) {
            break;
        }
        assert!(Instant::now() < deadline, "not loading: {found}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.gql(CANCEL, json!({ "id": job }), Some(&owner)).await.ok();
    running.await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|e| panic!("{e:#}"));
    let ended = job_of(&app, &owner, &job).await;
    assert_eq!(ended["status"], json!("CANCELLED"), "{ended}");
    assert_eq!(dataset_of(&app, &owner, &dataset).await["status"], json!("FAILED"));
    assert_eq!(table_rows(&app, backend, &dataset).await, None, "a cancelled load left rows");
}

async fn job_updates_end_with_one_terminal_event(backend: Backend) {
    let app = TestApp::with_config(backend, |c| c.pipeline.worker = false).await;
    let (owner, _, user_id) = app.register("owner@updates.example").await;
    let account = account_of(&app, &user_id).await;
    let p = app.pipeline().clone();
    let (job, dataset) = queued(&app, &owner, "Updates", "u.csv", QUOTED_CSV.as_bytes(), None).await;
    let job_id = uuid(&job);
    let scope = AccountScope::new(account);
    let mut updates = Box::pin(alatar_schema::service::datasets::job_updates(p.clone(), scope, job_id));
    let first = updates.next().await.unwrap_or_else(|| panic!("no first update")).unwrap_or_else(|e| panic!("{e}"));
    let mut seen: Vec<(String, i32)> = vec![(first.status.clone(), first.progress)];

    let worker = {
        let p = p.clone();
        tokio::spawn(async move { ingest::run(&p, account, job_id).await })
    };
    let collected = tokio::time::timeout(Duration::from_secs(90), async {
        while let Some(item) = updates.next().await {
            let found = item.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(found.id, job_id);
            seen.push((found.status.clone(), found.progress));
        }
    })
    .await;
    assert!(collected.is_ok(), "the stream did not end: {seen:?}");
    worker.await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|e| panic!("{e:#}"));
    let terminal: Vec<&(String, i32)> =
        seen.iter().filter(|(s, _)| matches!(s.as_str(), "COMPLETED" | "FAILED" | "CANCELLED")).collect();
    assert_eq!(terminal, [&("COMPLETED".to_owned(), 100)], "{seen:?}");
    assert_eq!(seen.first().map(|s| s.0.as_str()), Some("QUEUED"), "{seen:?}");
    assert_eq!(seen.last().map(|s| s.0.as_str()), Some("COMPLETED"), "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0].1 <= w[1].1), "progress went back: {seen:?}");

    // A redelivery changes nothing; a late subscriber sees the end once.
    ingest::run(&p, account, job_id).await.unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(dataset_of(&app, &owner, &dataset).await["version"], json!(1));
    let late: Vec<_> = alatar_schema::service::datasets::job_updates(p.clone(), scope, job_id).collect().await;
    assert_eq!(late.len(), 1);
    assert!(late[0].as_ref().is_ok_and(|j| j.status == "COMPLETED"));
}

async fn deletion_removes_the_table_and_the_upload(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("owner@delete.example").await;
    let (job, _) = queued(&app, &owner, "Doomed", "doomed.csv", QUOTED_CSV.as_bytes(), None).await;
    settled(&app, &owner, &job).await;
    let dataset = text_of(&job_of(&app, &owner, &job).await, "datasetId");
    assert_eq!(table_rows(&app, backend, &dataset).await, Some(4));
    assert!(source::source_path(&app.db.dir, uuid(&dataset)).exists());

    let delete = "mutation($id: ID!) { deleteDataset(id: $id) }";
    let deleted = app.gql(delete, json!({ "id": dataset }), Some(&owner)).await.ok();
    assert_eq!(deleted.data("/deleteDataset"), &json!(dataset));
    assert_eq!(app.gql(DATASET, json!({ "id": dataset }), Some(&owner)).await.code(), Some("NOT_FOUND"));
    assert_eq!(table_rows(&app, backend, &dataset).await, None, "the table outlived its dataset");
    if backend == Backend::Sqlite {
        assert!(!storage::sqlite_path(&app.db.dir, uuid(&dataset)).exists());
    }
    assert!(!source::source_path(&app.db.dir, uuid(&dataset)).exists(), "the upload outlived its dataset");
    // The job stays, naming the dataset it loaded.
    let kept = job_of(&app, &owner, &job).await;
    assert_eq!(pick(&kept, &["status", "datasetId", "dataset"]), [json!("COMPLETED"), json!(dataset), Value::Null]);
    assert_eq!(app.gql(delete, json!({ "id": dataset }), Some(&owner)).await.code(), Some("NOT_FOUND"));
}

async fn set_column_type_reloads_a_new_version(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("owner@retype.example").await;
    let csv = b"code,amount\n00123,10\n00456,x\n789,30\n";
    let first = loaded(&app, &owner, "Codes", "codes.csv", csv, None).await;
    let dataset = text_of(&first, "id");
    assert_eq!(types(&first), named(&[("code", "TEXT"), ("amount", "TEXT")]));
    let issues = first["profile"]["issues"].to_string();
    assert!(issues.contains("MIXED_TYPES") && issues.contains("amount"), "{issues}");

    let retype = "mutation($d: ID!, $c: String!, $t: ColumnType!) {
        setColumnType(datasetId: $d, column: $c, type: $t) { id type status } }";
    let answer = app.gql(retype, json!({ "d": dataset, "c": "amount", "t": "INTEGER" }), Some(&owner)).await.ok();
    assert_eq!(answer.data("/setColumnType/type"), &json!("INGESTION"));
    let job = text(&answer, "/setColumnType/id");
    assert_eq!(settled(&app, &owner, &job).await["status"], json!("COMPLETED"));
    let second = dataset_of(&app, &owner, &dataset).await;
    assert_eq!(second["version"], json!(2));
    assert_eq!(second["profile"]["version"], json!(2));
    assert_eq!(second["columns"][1], json!({ "name": "amount", "type": "INTEGER", "inferred": "TEXT" }));
    let amount = column(&second, "amount");
    assert_eq!(pick(amount, &["count", "invalidCount", "nullCount"]), [json!(2), json!(1), json!(1)]);
    assert_eq!(pick(amount, &["min", "max"]), [json!(10), json!(30)]);
    let issues: Vec<Value> = second["profile"]["issues"].as_array().cloned().unwrap_or_default();
    let mixed: Vec<&Value> = issues.iter().filter(|i| i["type"] == json!("MIXED_TYPES")).collect();
    assert_eq!(mixed.len(), 1, "{second}");
    assert_eq!(pick(mixed[0], &["column", "count"]), [json!("amount"), json!(1)]);
    assert_eq!(over_table(&app, backend, &dataset, "CAST(sum(\"amount\") AS BIGINT)").await, Some(Some(40)));
    // The codes keep their leading zeros.
    assert!(column(&second, "code")["topValues"].to_string().contains("00123"));

    let same = app.gql(retype, json!({ "d": dataset, "c": "amount", "t": "INTEGER" }), Some(&owner)).await;
    assert_eq!(same.code(), Some("BAD_USER_INPUT"));
    let unknown = app.gql(retype, json!({ "d": dataset, "c": "nope", "t": "TEXT" }), Some(&owner)).await;
    assert_eq!(unknown.code(), Some("BAD_USER_INPUT"));
    assert_eq!(unknown.body["errors"][0]["extensions"]["field"], json!("column"));
}

async fn other_accounts_see_nothing_and_viewers_only_read(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("owner@tenancy.example").await;
    let viewer = member(&app, &owner, "viewer@tenancy.example", "VIEWER").await;
    let analyst = member(&app, &owner, "analyst@tenancy.example", "ANALYST").await;
    let shared = loaded(&app, &analyst, "Shared", "s.csv", QUOTED_CSV.as_bytes(), None).await;
    let dataset = text_of(&shared, "id");
    let jobs = "query($s: JobStatus) { jobs(first: 5, status: $s) { edges { node { id status } } } }";
    let all = app.gql(jobs, json!({ "s": "COMPLETED" }), Some(&owner)).await.ok();
    let job = text(&all, "/jobs/edges/0/node/id");
    let none = app.gql(jobs, json!({ "s": "RUNNING" }), Some(&owner)).await.ok();
    assert_eq!(none.data("/jobs/edges"), &json!([]));

    let retype = "mutation($d: ID!) { setColumnType(datasetId: $d, column: \"name\", type: INTEGER) { id } }";
    let delete = "mutation($id: ID!) { deleteDataset(id: $id) }";

    // The viewer reads, and changes nothing.
    assert_eq!(dataset_of(&app, &viewer, &dataset).await["status"], json!("READY"));
    assert_eq!(job_of(&app, &viewer, &job).await["status"], json!("COMPLETED"));
    assert_eq!(upload(&app, &viewer, "Mine", "m.csv", b"a\n1\n", None).await.code(), Some("FORBIDDEN"));
    assert_eq!(app.gql(retype, json!({ "d": dataset }), Some(&viewer)).await.code(), Some("FORBIDDEN"));
    assert_eq!(app.gql(delete, json!({ "id": dataset }), Some(&viewer)).await.code(), Some("FORBIDDEN"));
    assert_eq!(app.gql(CANCEL, json!({ "id": job }), Some(&viewer)).await.code(), Some("FORBIDDEN"));

    // Another account: nothing found, nothing touched.
    let (stranger, _, _) = app.register("stranger@tenancy.example").await;
    assert_eq!(app.gql(DATASET, json!({ "id": dataset }), Some(&stranger)).await.code(), Some("NOT_FOUND"));
    assert_eq!(app.gql(JOB, json!({ "id": job }), Some(&stranger)).await.code(), Some("NOT_FOUND"));
    assert_eq!(app.gql(retype, json!({ "d": dataset }), Some(&stranger)).await.code(), Some("NOT_FOUND"));
    assert_eq!(app.gql(delete, json!({ "id": dataset }), Some(&stranger)).await.code(), Some("NOT_FOUND"));
    assert_eq!(app.gql(CANCEL, json!({ "id": job }), Some(&stranger)).await.code(), Some("NOT_FOUND"));
    let everything = "{ datasets { edges { node { id } } } jobs { edges { node { id } } } }";
    let theirs = app.gql(everything, json!({}), Some(&stranger)).await.ok();
    assert_eq!((theirs.data("/datasets/edges"), theirs.data("/jobs/edges")), (&json!([]), &json!([])));
    // The same name is theirs to use.
    let own = loaded(&app, &stranger, "Shared", "s.csv", b"x\n1\n", None).await;
    assert_eq!(own["rowCount"], json!(1));
    assert_eq!(dataset_of(&app, &owner, &dataset).await["rowCount"], json!(4));
    assert_eq!(table_rows(&app, backend, &dataset).await, Some(4));
    // Anonymous callers upload nothing.
    let anonymous = send(
        &app,
        Request::post("/graphql")
            .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
            .header("accept", "application/graphql-response+json")
            .header("apollo-require-preflight", "true")
            .body(Body::from(upload_body("Anon", "a.csv", b"a\n1\n", None)))
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .await;
    assert_eq!(anonymous.code(), Some("UNAUTHENTICATED"), "{}", anonymous.body);
}

on_both_backends! {
    csv_json_and_ndjson_are_loaded_typed_and_profiled => uploads_are_loaded_typed_and_profiled;
    ragged_rows_and_broken_json_fail_naming_the_line => bad_files_fail_naming_the_line;
    cancelled_jobs_leave_nothing_queryable => cancelling_leaves_nothing_queryable;
    job_updates_have_exactly_one_terminal_event => job_updates_end_with_one_terminal_event;
    deleting_a_dataset_removes_its_table_and_upload => deletion_removes_the_table_and_the_upload;
    set_column_type_reloads_as_a_new_version => set_column_type_reloads_a_new_version;
    tenancy_and_roles => other_accounts_see_nothing_and_viewers_only_read;
}
