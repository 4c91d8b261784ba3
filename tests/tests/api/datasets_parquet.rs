//! Parquet uploads through the API on both engines: a file written here
//! with the `parquet` crate (three row groups; columns in Snappy, Zstandard,
//! gzip and LZ4; a decimal, a date, a timestamp, a struct and a list) told
//! by its magic, loaded with the schema's types, profiled, and aggregated
//! by `runSql` to the figures computed here from the same rows; a corrupt
//! file and one cut short failing their jobs with a message.

use std::collections::BTreeMap;
use std::fs::File;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DataType, DoubleType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::{SerializedFileWriter, SerializedRowGroupWriter};
use parquet::schema::parser::parse_message_type;
use parquet::schema::types::ColumnPath;
use serde_json::{Value, json};
use uuid::Uuid;

use alatar_agents::datasets::{source, storage};
use alatar_tests::{Backend, Gql, TestApp, on_both_backends};

const BOUNDARY: &str = "alatar-test-parquet-boundary-3b7e";
const ROWS: i64 = 600;
const PER_GROUP: usize = 200;
const CITIES: [&str; 4] = ["berlin", "lyon", "osaka", "quito"];

const UPLOAD: &str = "mutation($n: String!, $f: Upload!) { uploadDataset(name: $n, file: $f) { id status datasetId } }";
const JOB: &str = "query($id: ID!) { job(id: $id) { id status progress error } }";
const DATASET: &str = "query($id: ID!) { dataset(id: $id) {
    id format status error rowCount columnCount columns { name type }
    profile { rowCount columns { name nullCount min max } } } }";
const RUN: &str = "query($d: ID!, $s: String!) { runSql(datasetId: $d, sql: $s) { columns { name type } rows } }";

const SCHEMA: &str = "
message orders {
  required int64 order_id;
  optional int32 quantity;
  required double price;
  optional int32 discount (DECIMAL(9,2));
  required boolean paid;
  required int32 day (DATE);
  required int64 placed (TIMESTAMP(MICROS,true));
  required binary customer (STRING);
  optional group address {
    optional binary city (STRING);
  }
  optional group tags (LIST) {
    repeated group list {
      optional binary element (STRING);
    }
  }
}";

/// One row of the uploaded file.
struct Order {
    id: i64,
    quantity: Option<i32>,
    /// Ends in .5: every sum is exact whatever the order.
    price: f64,
    /// Cents.
    discount: Option<i32>,
    paid: bool,
    day: NaiveDate,
    placed: DateTime<Utc>,
    customer: String,
    city: &'static str,
    tags: Vec<String>,
}

fn orders() -> Vec<Order> {
    let first_day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
    let first = Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).single().unwrap_or_else(|| panic!("a time"));
    (0..ROWS)
        .map(|i| Order {
            id: 1_000 + i,
            quantity: (i % 7 != 0).then(|| i32::try_from(i * 13 % 9 + 1).unwrap_or_default()),
            price: ((i * 37) % 200) as f64 + 0.5,
            discount: (i % 5 != 0).then(|| i32::try_from(i * 17 % 1_000).unwrap_or_default()),
            paid: i % 3 != 0,
            day: first_day + chrono::Duration::days(i % 90),
            placed: first + chrono::Duration::seconds(i * 3_600) + chrono::Duration::milliseconds((i % 10) * 250),
            customer: format!("customer {}", i % 40),
            city: CITIES[(i % 4) as usize],
            tags: (0..i % 3).map(|k| format!("t{k}")).collect(),
        })
        .collect()
}

/// Writes the next column of `group`.
fn column<T: DataType>(
    group: &mut SerializedRowGroupWriter<'_, File>,
    values: &[T::T],
    defs: Option<&[i16]>,
    reps: Option<&[i16]>,
) {
    let mut writer = group.next_column().unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("no column left"));
    writer.typed::<T>().write_batch(values, defs, reps).unwrap_or_else(|e| panic!("{e}"));
    writer.close().unwrap_or_else(|e| panic!("{e}"));
}

fn row_group(group: &mut SerializedRowGroupWriter<'_, File>, rows: &[Order]) {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    column::<Int64Type>(group, &ids, None, None);
    let quantities: Vec<i32> = rows.iter().filter_map(|r| r.quantity).collect();
    let defs: Vec<i16> = rows.iter().map(|r| i16::from(r.quantity.is_some())).collect();
    column::<Int32Type>(group, &quantities, Some(&defs), None);
    let prices: Vec<f64> = rows.iter().map(|r| r.price).collect();
    column::<DoubleType>(group, &prices, None, None);
    let discounts: Vec<i32> = rows.iter().filter_map(|r| r.discount).collect();
    let defs: Vec<i16> = rows.iter().map(|r| i16::from(r.discount.is_some())).collect();
    column::<Int32Type>(group, &discounts, Some(&defs), None);
    let paid: Vec<bool> = rows.iter().map(|r| r.paid).collect();
    column::<BoolType>(group, &paid, None, None);
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let days: Vec<i32> = rows.iter().map(|r| i32::try_from((r.day - epoch).num_days()).unwrap_or_default()).collect();
    column::<Int32Type>(group, &days, None, None);
    let placed: Vec<i64> = rows.iter().map(|r| r.placed.timestamp_micros()).collect();
    column::<Int64Type>(group, &placed, None, None);
    let customers: Vec<ByteArray> = rows.iter().map(|r| ByteArray::from(r.customer.as_str())).collect();
    column::<ByteArrayType>(group, &customers, None, None);
    // address.city: the struct and its member always there (definition level 2).
    let cities: Vec<ByteArray> = rows.iter().map(|r| ByteArray::from(r.city)).collect();
    column::<ByteArrayType>(group, &cities, Some(&vec![2; rows.len()]), None);
    // tags: 1 = an empty list, 3 = an element; a repetition level 1 continues a list.
    let (mut tags, mut defs, mut reps) = (Vec::new(), Vec::new(), Vec::new());
    for r in rows {
        if r.tags.is_empty() {
            defs.push(1);
            reps.push(0);
        }
        for (k, tag) in r.tags.iter().enumerate() {
            tags.push(ByteArray::from(tag.as_str()));
            defs.push(3);
            reps.push(i16::from(k > 0));
        }
    }
    column::<ByteArrayType>(group, &tags, Some(&defs), Some(&reps));
}

/// The file's bytes: Snappy by default, some columns in other codecs.
fn parquet_file(rows: &[Order]) -> Vec<u8> {
    let path = std::env::temp_dir().join(format!("alatar-upload-{}.parquet", Uuid::new_v4()));
    let schema = Arc::new(parse_message_type(SCHEMA).unwrap_or_else(|e| panic!("{e}")));
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_column_compression(ColumnPath::from("price"), Compression::ZSTD(ZstdLevel::default()))
        .set_column_compression(ColumnPath::from("customer"), Compression::GZIP(GzipLevel::default()))
        .set_column_compression(ColumnPath::from("placed"), Compression::LZ4_RAW)
        .build();
    let file = File::create(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut writer = SerializedFileWriter::new(file, schema, Arc::new(props)).unwrap_or_else(|e| panic!("{e}"));
    for chunk in rows.chunks(PER_GROUP) {
        let mut group = writer.next_row_group().unwrap_or_else(|e| panic!("{e}"));
        row_group(&mut group, chunk);
        group.close().unwrap_or_else(|e| panic!("{e}"));
    }
    writer.close().unwrap_or_else(|e| panic!("{e}"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
    let _ = std::fs::remove_file(&path);
    bytes
}

/// A `uploadDataset` multipart request for `bytes`, its format left to the server.
fn upload_request(token: &str, name: &str, bytes: &[u8]) -> Request<Body> {
    let operations = json!({ "query": UPLOAD, "variables": { "n": name, "f": null } });
    let parts: [(String, Vec<u8>); 3] = [
        ("name=\"operations\"".into(), operations.to_string().into_bytes()),
        ("name=\"map\"".into(), json!({ "0": ["variables.f"] }).to_string().into_bytes()),
        (format!("name=\"0\"; filename=\"{name}.parquet\"\r\nContent-Type: application/octet-stream"), bytes.to_vec()),
    ];
    let mut body = Vec::new();
    for (disposition, content) in &parts {
        let head = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; {disposition}\r\n\r\n");
        body.extend_from_slice(head.as_bytes());
        body.extend_from_slice(content);
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

fn text(value: &Value, pointer: &str) -> String {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or_else(|| panic!("no {pointer}: {value}")).to_owned()
}

/// Uploads `bytes`; (job id, dataset id) of the `QUEUED` job.
async fn queued(app: &TestApp, token: &str, name: &str, bytes: &[u8]) -> (String, String) {
    let (status, _, body) = app.send(upload_request(token, name, bytes)).await;
    let answer: Value = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("non-JSON response ({status}): {e}: {}", String::from_utf8_lossy(&body)));
    assert_eq!(answer.pointer("/data/uploadDataset/status"), Some(&json!("QUEUED")), "{answer}");
    (text(&answer, "/data/uploadDataset/id"), text(&answer, "/data/uploadDataset/datasetId"))
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

async fn dataset_of(app: &TestApp, token: &str, id: &str) -> Value {
    app.gql(DATASET, json!({ "id": id }), Some(token)).await.ok().data("/dataset").clone()
}

async fn run(app: &TestApp, token: &str, dataset: &str, sql: &str) -> Gql {
    app.gql(RUN, json!({ "d": dataset, "s": sql }), Some(token)).await.ok()
}

fn number(value: &Value) -> f64 {
    value.as_f64().unwrap_or_else(|| panic!("not a number: {value}"))
}

fn close(actual: &Value, expected: f64) {
    let actual = number(actual);
    assert!((actual - expected).abs() < 1e-6, "{actual} is not {expected}");
}

/// The profile of column `name`.
fn profiled<'a>(dataset: &'a Value, name: &str) -> &'a Value {
    dataset["profile"]["columns"]
        .as_array()
        .and_then(|columns| columns.iter().find(|c| c["name"] == json!(name)))
        .unwrap_or_else(|| panic!("no column {name} in {dataset}"))
}

async fn a_parquet_upload_loads_typed_and_answers_sql(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("owner@parquet.example").await;
    let data = orders();
    let (job, dataset) = queued(&app, &owner, "Orders", &parquet_file(&data)).await;
    let done = settled(&app, &owner, &job).await;
    assert_eq!(done["status"], json!("COMPLETED"), "{done}");
    assert_eq!(done["progress"], json!(100));

    let found = dataset_of(&app, &owner, &dataset).await;
    assert_eq!(found["status"], json!("READY"), "{found}");
    assert_eq!(found["format"], json!("PARQUET"));
    assert_eq!(found["rowCount"], json!(ROWS));
    assert_eq!(found["columnCount"], json!(10));
    let types: Vec<(String, String)> = found["columns"]
        .as_array()
        .map(|columns| columns.iter().map(|c| (text(c, "/name"), text(c, "/type"))).collect())
        .unwrap_or_default();
    let expected: Vec<(String, String)> = [
        ("order_id", "INTEGER"),
        ("quantity", "INTEGER"),
        ("price", "FLOAT"),
        ("discount", "FLOAT"),
        ("paid", "BOOLEAN"),
        ("day", "DATE"),
        ("placed", "TIMESTAMP"),
        ("customer", "TEXT"),
        ("address.city", "TEXT"),
        ("tags", "TEXT"),
    ]
    .iter()
    .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
    .collect();
    assert_eq!(types, expected);

    // The profile, against the rows.
    assert_eq!(found["profile"]["rowCount"], json!(ROWS));
    let missing = data.iter().filter(|o| o.quantity.is_none()).count();
    assert_eq!(profiled(&found, "quantity")["nullCount"], json!(missing));
    let first_day = data.iter().map(|o| o.day).min().map(|d| d.to_string());
    let last_day = data.iter().map(|o| o.day).max().map(|d| d.to_string());
    assert_eq!(profiled(&found, "day")["min"], json!(first_day));
    assert_eq!(profiled(&found, "day")["max"], json!(last_day));
    let last = data.iter().map(|o| o.placed).max().map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
    assert_eq!(profiled(&found, "placed")["max"], json!(last));

    // An aggregate by the struct's member, against the same computation here.
    let by_city = "SELECT \"address.city\" AS city, count(*) AS n, sum(quantity) AS q, sum(price) AS p \
                   FROM data GROUP BY \"address.city\" ORDER BY \"address.city\"";
    let answer = run(&app, &owner, &dataset, by_city).await;
    let rows = answer.data("/runSql/rows").as_array().cloned().unwrap_or_default();
    let mut expected: BTreeMap<&str, (i64, i64, f64)> = BTreeMap::new();
    for o in &data {
        let entry = expected.entry(o.city).or_default();
        entry.0 += 1;
        entry.1 += i64::from(o.quantity.unwrap_or(0));
        entry.2 += o.price;
    }
    assert_eq!(rows.len(), expected.len(), "{}", answer.body);
    for (row, (city, (n, q, p))) in rows.iter().zip(&expected) {
        assert_eq!(row[0], json!(city), "{}", answer.body);
        assert_eq!(row[1].as_i64(), Some(*n), "{}", answer.body);
        assert_eq!(row[2].as_i64(), Some(*q), "{}", answer.body);
        close(&row[3], *p);
    }
    // The decimal as a float, the booleans, and the lists as JSON text.
    let figures = "SELECT sum(discount) AS d, count(discount) AS k FROM data";
    let answer = run(&app, &owner, &dataset, figures).await;
    let cents: i64 = data.iter().filter_map(|o| o.discount).map(i64::from).sum();
    close(answer.data("/runSql/rows/0/0"), cents as f64 / 100.0);
    let counted = data.iter().filter(|o| o.discount.is_some()).count();
    assert_eq!(answer.data("/runSql/rows/0/1").as_u64(), Some(counted as u64), "{}", answer.body);
    let paid = run(&app, &owner, &dataset, "SELECT count(*) AS n FROM data WHERE paid = TRUE").await;
    let expected_paid = data.iter().filter(|o| o.paid).count() as u64;
    assert_eq!(paid.data("/runSql/rows/0/0").as_u64(), Some(expected_paid), "{}", paid.body);
    let empty = run(&app, &owner, &dataset, "SELECT count(*) AS n FROM data WHERE tags = '[]'").await;
    let expected_empty = data.iter().filter(|o| o.tags.is_empty()).count() as u64;
    assert_eq!(empty.data("/runSql/rows/0/0").as_u64(), Some(expected_empty), "{}", empty.body);
    let pairs = run(&app, &owner, &dataset, "SELECT count(*) AS n FROM data WHERE tags = '[\"t0\",\"t1\"]'").await;
    let expected_pairs = data.iter().filter(|o| o.tags.len() == 2).count() as u64;
    assert_eq!(pairs.data("/runSql/rows/0/0").as_u64(), Some(expected_pairs), "{}", pairs.body);
}

async fn corrupt_parquet_fails_its_job(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("owner@bad-parquet.example").await;

    // The magic at both ends, garbage between: a footer that cannot be read.
    let mut garbage = b"PAR1".to_vec();
    garbage.extend(std::iter::repeat_n(0x11u8, 256));
    garbage.extend_from_slice(b"PAR1");
    let (job, dataset) = queued(&app, &owner, "Garbage", &garbage).await;
    let failed = settled(&app, &owner, &job).await;
    assert_eq!(failed["status"], json!("FAILED"), "{failed}");
    let error = failed["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("the Parquet file's footer could not be read"), "{error}");
    let found = dataset_of(&app, &owner, &dataset).await;
    assert_eq!(found["format"], json!("PARQUET"));
    assert_eq!(found["status"], json!("FAILED"));
    assert!(!source::source_path(&app.db.dir, Uuid::parse_str(&dataset).unwrap_or_default()).exists());

    // A real file cut in half: still told Parquet, and failing as one.
    let whole = parquet_file(&orders());
    let (job, dataset) = queued(&app, &owner, "Cut", &whole[..whole.len() / 2]).await;
    let failed = settled(&app, &owner, &job).await;
    assert_eq!(failed["status"], json!("FAILED"), "{failed}");
    let error = failed["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("the file is not Parquet, or it was cut short"), "{error}");
    assert_eq!(dataset_of(&app, &owner, &dataset).await["format"], json!("PARQUET"));
    if backend == Backend::Sqlite {
        let id = Uuid::parse_str(&dataset).unwrap_or_default();
        assert!(!storage::sqlite_path(&app.db.dir, id).exists(), "a failed load left a table file");
    }
}

on_both_backends! {
    a_parquet_upload_loads_typed_and_answers_sql => a_parquet_upload_loads_typed_and_answers_sql;
    corrupt_parquet_fails_its_job => corrupt_parquet_fails_its_job;
}
