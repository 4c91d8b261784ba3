//! Multipart requests (uploads) are held to a whole-request, a per-file and a
//! number-of-files limit while they stream, and their `operations` and `map`
//! to the JSON body limit; they need a header a cross-site form cannot send,
//! and are refused before anything executes; form content types are refused.
//! Also the production profile: on PostgreSQL, introspection, suggestions and
//! GraphiQL are off unless turned on.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use alatar_entity::user;
use alatar_tests::{Backend, TestApp};

const BOUNDARY: &str = "alatar-test-boundary-7f3c";
const MIB: usize = 1024 * 1024;

/// An anonymous mutation that leaves a trace (a user) if it runs.
fn register(email: &str) -> Value {
    json!({
        "query": "mutation($e: String!) { register(email: $e, password: \"correct horse battery\") { __typename } }",
        "variables": { "e": email },
    })
}

fn typename() -> Value {
    json!({ "query": "{ __typename }" })
}

/// A GraphQL multipart body: `operations`, a `map` naming every file, then
/// one file of each size in `files`.
fn multipart_body(operations: &Value, files: &[usize]) -> Vec<u8> {
    multipart_raw(operations.to_string().as_bytes(), files)
}

/// [`multipart_body`] with `operations` as it is sent.
fn multipart_raw(operations: &[u8], files: &[usize]) -> Vec<u8> {
    let map: serde_json::Map<String, Value> =
        (0..files.len()).map(|n| (n.to_string(), json!([format!("variables.file{n}")]))).collect();
    let mut parts = vec![
        ("name=\"operations\"".to_owned(), operations.to_vec()),
        ("name=\"map\"".to_owned(), Value::Object(map).to_string().into_bytes()),
    ];
    for (n, size) in files.iter().enumerate() {
        parts.push((format!("name=\"{n}\"; filename=\"f{n}.txt\"\r\nContent-Type: text/plain"), vec![b'a'; *size]));
    }
    parts_body(&parts)
}

/// A multipart body of `parts` in that order: each a `Content-Disposition`'s
/// parameters (and any further header lines) and the content.
fn parts_body(parts: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (disposition, content) in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; {disposition}\r\n").as_bytes());
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// A multipart `POST /graphql` with `headers` added.
fn request(body: Body, headers: &[(&str, &str)]) -> Request<Body> {
    let mut request = Request::post("/graphql")
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .header("accept", "application/graphql-response+json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(body).unwrap_or_else(|e| panic!("{e}"))
}

const PREFLIGHT: (&str, &str) = ("apollo-require-preflight", "true");

async fn send(app: &TestApp, request: Request<Body>) -> (StatusCode, Value) {
    let (status, _, bytes) = app.send(request).await;
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("non-JSON response ({status}): {e}: {}", String::from_utf8_lossy(&bytes)));
    (status, body)
}

/// Sends `body` in 64 KiB chunks; returns the answer and how many bytes the
/// server pulled from the stream.
async fn send_streamed(app: &TestApp, body: Vec<u8>) -> (StatusCode, Value, usize) {
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = pulled.clone();
    let chunks: Vec<Vec<u8>> = body.chunks(64 * 1024).map(<[u8]>::to_vec).collect();
    let stream = futures_util::stream::iter(chunks.into_iter().map(move |chunk| {
        counter.fetch_add(chunk.len(), Ordering::SeqCst);
        Ok::<_, std::io::Error>(chunk)
    }));
    let (status, body) = send(app, request(Body::from_stream(stream), &[PREFLIGHT])).await;
    (status, body, pulled.load(Ordering::SeqCst))
}

fn message(body: &Value) -> &str {
    body["errors"][0]["message"].as_str().unwrap_or_default()
}

async fn users(app: &TestApp) -> u64 {
    user::Entity::find().count(&app.db.conn).await.unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn fifteen_one_megabyte_parts_are_refused_before_the_mutation_runs() {
    let files = [MIB; 15];
    let body = multipart_body(&register("parts@shop.example"), &files);

    // Defaults (5 files): refused at the sixth file, long before the 15 MB are read.
    let app = TestApp::new(Backend::Sqlite).await;
    let (status, answer, pulled) = send_streamed(&app, body.clone()).await;
    assert_eq!(status, 413, "{answer}");
    assert!(message(&answer).contains("graphql.max_upload_files"), "{answer}");
    assert!(answer.get("data").is_none(), "{answer}");
    assert!(pulled < 7 * MIB, "read {pulled} bytes of {}", body.len());
    assert_eq!(users(&app).await, 0, "the mutation ran");

    // Enough files allowed but an 11 MiB request cap: refused at the cap.
    let app = TestApp::with_config(Backend::Sqlite, |c| {
        c.graphql.max_upload_files = 20;
        c.graphql.max_multipart_bytes = Some(11 * MIB);
    })
    .await;
    let (status, answer, pulled) = send_streamed(&app, body.clone()).await;
    assert_eq!(status, 413, "{answer}");
    assert!(message(&answer).contains("graphql.max_multipart_bytes"), "{answer}");
    assert!(pulled <= 11 * MIB + 64 * 1024, "read {pulled} bytes past the cap");
    assert_eq!(users(&app).await, 0, "the mutation ran");

    // The same request within the limits runs: the checks above would have seen it.
    let app = TestApp::with_config(Backend::Sqlite, |c| c.graphql.max_upload_files = 20).await;
    let (status, answer, _) = send_streamed(&app, body).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(users(&app).await, 1);
}

#[tokio::test]
async fn whole_request_limit_at_the_threshold_and_one_byte_over() {
    let at = multipart_body(&typename(), &[1000, 1000]);
    let over = multipart_body(&typename(), &[1000, 1001]);
    assert_eq!(over.len(), at.len() + 1);
    let limit = at.len();
    let app = TestApp::with_config(Backend::Sqlite, |c| c.graphql.max_multipart_bytes = Some(limit)).await;

    let (status, answer) = send(&app, request(Body::from(at), &[PREFLIGHT])).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({ "data": { "__typename": "Query" } }));

    let (status, answer, _) = send_streamed(&app, over.clone()).await;
    assert_eq!(status, 413, "{answer}");
    assert!(message(&answer).contains(&format!("exceeds {limit} bytes (graphql.max_multipart_bytes)")), "{answer}");

    // A declared length over the limit is refused without reading the body.
    let length = over.len().to_string();
    let declared = request(Body::from(over), &[PREFLIGHT, ("content-length", length.as_str())]);
    let (status, answer) = send(&app, declared).await;
    assert_eq!(status, 413, "{answer}");
    assert!(message(&answer).contains("graphql.max_multipart_bytes"), "{answer}");
}

#[tokio::test]
async fn number_of_files_at_the_threshold_and_one_over() {
    let app = TestApp::with_config(Backend::Sqlite, |c| c.graphql.max_upload_files = 3).await;
    let (status, answer) =
        send(&app, request(Body::from(multipart_body(&typename(), &[10, 10, 10])), &[PREFLIGHT])).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["__typename"], "Query");

    let (status, answer) =
        send(&app, request(Body::from(multipart_body(&register("four@shop.example"), &[10; 4])), &[PREFLIGHT])).await;
    assert_eq!(status, 413, "{answer}");
    assert!(message(&answer).contains("more than 3 files (graphql.max_upload_files)"), "{answer}");
    assert_eq!(users(&app).await, 0, "the mutation ran");
}

#[tokio::test]
async fn file_size_at_the_threshold_and_one_byte_over() {
    let app = TestApp::with_config(Backend::Sqlite, |c| c.graphql.max_upload_bytes = 4096).await;
    let (status, answer) =
        send(&app, request(Body::from(multipart_body(&typename(), &[4096, 4096])), &[PREFLIGHT])).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["__typename"], "Query");

    let big = multipart_body(&register("big@shop.example"), &[10, 4097]);
    let (status, answer, _) = send_streamed(&app, big).await;
    assert_eq!(status, 413, "{answer}");
    assert!(message(&answer).contains("exceeds 4096 bytes (graphql.max_upload_bytes)"), "{answer}");
    assert_eq!(users(&app).await, 0, "the mutation ran");
}

/// `operations` and `map` are read into memory and parsed like a JSON body,
/// so they are held to a JSON body's limit, not a file's.
#[tokio::test]
async fn operations_part_at_the_body_limit_and_one_byte_over() {
    const LIMIT: usize = 4096;
    let app = TestApp::with_config(Backend::Sqlite, |c| c.graphql.max_body_bytes = LIMIT).await;
    // JSON whitespace pads the operations to size.
    let padded = |size: usize| {
        let mut operations = register("padded@shop.example").to_string().into_bytes();
        operations.resize(size, b' ');
        operations
    };

    // At the limit, beside a file twice its size (files keep their own limit).
    let (status, answer) =
        send(&app, request(Body::from(multipart_raw(&padded(LIMIT), &[2 * LIMIT])), &[PREFLIGHT])).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(users(&app).await, 1);

    let over = |email: &str| {
        let mut operations = register(email).to_string().into_bytes();
        operations.resize(LIMIT + 1, b' ');
        operations
    };
    let (status, answer, _) = send_streamed(&app, multipart_raw(&over("over@shop.example"), &[10])).await;
    assert_eq!(status, 413, "{answer}");
    assert!(message(&answer).contains(&format!("exceeds {LIMIT} bytes (graphql.max_body_bytes)")), "{answer}");
    assert!(answer.get("data").is_none(), "{answer}");

    // Where it comes in the body, or how its name is written, changes nothing.
    for name in ["name=\"operations\"", "name=operations", "name = \"operations\""] {
        let parts = [
            ("name=\"0\"; filename=\"f0.txt\"".to_owned(), vec![b'a'; 10]),
            ("name=\"map\"".to_owned(), br#"{"0":["variables.file0"]}"#.to_vec()),
            (name.to_owned(), over("late@shop.example")),
        ];
        let (status, answer) = send(&app, request(Body::from(parts_body(&parts)), &[PREFLIGHT])).await;
        assert_eq!(status, 413, "{name}: {answer}");
        assert!(message(&answer).contains("graphql.max_body_bytes"), "{name}: {answer}");
    }
    // `map` too.
    let mut map = b"{}".to_vec();
    map.resize(LIMIT + 1, b' ');
    let parts =
        [("name=\"operations\"".to_owned(), typename().to_string().into_bytes()), ("name=\"map\"".to_owned(), map)];
    let (status, answer) = send(&app, request(Body::from(parts_body(&parts)), &[PREFLIGHT])).await;
    assert_eq!(status, 413, "{answer}");
    assert!(message(&answer).contains("graphql.max_body_bytes"), "{answer}");
    assert_eq!(users(&app).await, 1, "a refused mutation ran");
}

/// A cross-site HTML form can post `multipart/form-data` without a
/// preflight, but it cannot add a header: without one nothing runs.
#[tokio::test]
async fn multipart_needs_a_header_a_form_cannot_send() {
    let app = TestApp::new(Backend::Sqlite).await;
    let form = multipart_body(&register("csrf@shop.example"), &[]);
    let (status, answer) = send(&app, request(Body::from(form.clone()), &[])).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert!(message(&answer).contains("apollo-require-preflight"), "{answer}");
    assert!(message(&answer).contains("x-alatar-csrf"), "{answer}");
    assert!(answer.get("data").is_none(), "{answer}");
    assert_eq!(users(&app).await, 0, "the mutation ran");

    for header in [PREFLIGHT, ("x-alatar-csrf", "1")] {
        let (status, answer) = send(&app, request(Body::from(multipart_body(&typename(), &[5])), &[header])).await;
        assert_eq!(status, 200, "{}: {answer}", header.0);
        assert_eq!(answer["data"]["__typename"], "Query");
    }
    let (status, answer) = send(&app, request(Body::from(form), &[PREFLIGHT])).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(users(&app).await, 1);
}

/// The other two content types a form can send are not GraphQL requests here.
#[tokio::test]
async fn form_urlencoded_and_text_plain_bodies_are_refused() {
    let app = TestApp::new(Backend::Sqlite).await;
    let mutation = register("form@shop.example");
    let query = mutation["query"].as_str().unwrap_or_default();
    // What a browser makes of `<input name="query">`.
    let encoded: String = std::iter::once("query=".to_owned())
        .chain(query.bytes().map(|b| match b {
            b' ' => "+".to_owned(),
            b if b.is_ascii_alphanumeric() => char::from(b).to_string(),
            b => format!("%{b:02X}"),
        }))
        .collect();
    let bodies = [("application/x-www-form-urlencoded", encoded), ("text/plain", mutation.to_string())];
    for (content_type, body) in bodies {
        let form = Request::post("/graphql")
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap_or_else(|e| panic!("{e}"));
        let (status, _, _) = app.send(form).await;
        assert_eq!(status, 415, "{content_type}");
    }
    assert_eq!(users(&app).await, 0, "the mutation ran");
}

/// A configuration that says PostgreSQL (what a production deployment sets).
fn on_postgres(c: &mut alatar_server::Config) {
    c.database_url = Some(alatar_tests::postgres_admin_url().into());
}

async fn graphiql(app: &TestApp) -> (StatusCode, String) {
    let page =
        Request::get("/graphql").header("accept", "text/html").body(Body::empty()).unwrap_or_else(|e| panic!("{e}"));
    let (status, _, body) = app.send(page).await;
    (status, String::from_utf8_lossy(&body).to_lowercase())
}

#[tokio::test]
async fn production_profile_hides_introspection_suggestions_and_graphiql_unless_asked() {
    let app = TestApp::with_config(Backend::Postgres, on_postgres).await;
    let schema = app.gql("{ __schema { queryType { name } } }", json!({}), None).await;
    assert_eq!(schema.data("/__schema/queryType/name"), &Value::Null, "{}", schema.body);
    let typo = app.gql("{ acount { id } }", json!({}), None).await;
    assert!(!message(&typo.body).contains("Did you mean"), "{}", typo.body);
    let (status, page) = graphiql(&app).await;
    assert!(!(status == 200 && page.contains("graphiql")), "GraphiQL served in production");

    let on = TestApp::with_config(Backend::Postgres, |c| {
        on_postgres(c);
        c.graphql.introspection = Some(true);
        c.graphql.suggestions = Some(true);
        c.graphql.playground = Some(true);
    })
    .await;
    let schema = on.gql("{ __schema { queryType { name } } }", json!({}), None).await;
    assert_eq!(schema.data("/__schema/queryType/name"), "Query", "{}", schema.body);
    let typo = on.gql("{ acount { id } }", json!({}), None).await;
    assert!(message(&typo.body).contains("Did you mean"), "{}", typo.body);
    let (status, page) = graphiql(&on).await;
    assert_eq!(status, 200);
    assert!(page.contains("graphiql"), "no GraphiQL");

    // Embedded mode keeps them on by default; an explicit `false` is honoured there.
    let embedded = TestApp::with_config(Backend::Sqlite, |c| c.graphql.playground = Some(false)).await;
    let schema = embedded.gql("{ __schema { queryType { name } } }", json!({}), None).await;
    assert_eq!(schema.data("/__schema/queryType/name"), "Query", "{}", schema.body);
    let (status, page) = graphiql(&embedded).await;
    assert!(!(status == 200 && page.contains("graphiql")), "GraphiQL served though turned off");
}

#[test]
fn development_aids_are_unset_by_default_and_read_from_the_environment() {
    let secret = alatar_tests::TEST_JWT_SECRET;
    let url = "postgres://alatar@db.internal/alatar";
    let config = alatar_server::Config::from_env_vars([("ALATAR_DATABASE_URL", url), ("ALATAR_JWT__SECRET", secret)])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.graphql.introspection, None);
    let resolved = config.graphql.clone().for_deployment(config.uses_postgres());
    assert!(!resolved.serves_introspection() && !resolved.serves_suggestions() && !resolved.serves_playground());

    let config = alatar_server::Config::from_env_vars([
        ("ALATAR_DATABASE_URL", url),
        ("ALATAR_JWT__SECRET", secret),
        ("ALATAR_GRAPHQL__INTROSPECTION", "true"),
        ("ALATAR_GRAPHQL__MAX_UPLOAD_FILES", "2"),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    let resolved = config.graphql.clone().for_deployment(config.uses_postgres());
    assert!(resolved.serves_introspection() && !resolved.serves_playground());
    assert_eq!(resolved.max_upload_files, 2);
    assert_eq!(resolved.multipart_limit(), 2 * 10 * MIB + MIB);

    let embedded = alatar_server::Config::default().graphql.for_deployment(false);
    assert!(embedded.serves_introspection() && embedded.serves_suggestions() && embedded.serves_playground());
    assert_eq!(embedded.multipart_limit(), 5 * 10 * MIB + MIB);
}
