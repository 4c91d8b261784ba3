//! Models trained on uploaded datasets, through the API on both engines:
//! a regression on rows where y = 3·x1 − 2·x2 + 5 (plus a little noise)
//! recovers the formula (R² over 0.95, a prediction at a new point within
//! tolerance of it, also on a second server started on the same database);
//! a classification where the class is whether x1 > x2 is learned
//! (accuracy over 0.9, probabilities summing to 1, clear points right);
//! bad feature names, wrong types and unknown or unfit targets are
//! `BAD_USER_INPUT`; a training cancelled while queued or running ends
//! `CANCELLED` and registers nothing; one past its time limit ends
//! `FAILED` saying so; a redelivered job trains nothing twice; another
//! account reads and predicts with nothing; viewers read and predict but
//! neither train nor delete; a model goes with its dataset.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

use alatar_agents::datasets::{ingest, models};
use alatar_entity::{job, ml_model, user};
use alatar_server::Application;
use alatar_tests::{Backend, Gql, TestApp, on_both_backends, test_config};

const PASSWORD: &str = "correct horse battery";
const BOUNDARY: &str = "alatar-test-dataset-models-boundary-41d7";

const UPLOAD: &str = "mutation($n: String!, $f: Upload!) { uploadDataset(name: $n, file: $f) { id datasetId } }";
const TRAIN: &str = "mutation($d: ID!, $t: String!, $p: ProblemType!, $f: [String!], $n: String) {
    trainModel(datasetId: $d, targetColumn: $t, problemType: $p, features: $f, name: $n) { id type status datasetId } }";
const JOB: &str = "query($id: ID!) { job(id: $id) { id type status progress error cancelRequested } }";
const MODELS: &str = "query($d: ID) { mlModels(datasetId: $d, first: 10) { edges { node {
    id name datasetId datasetVersion jobId problemType targetColumn family rowCount trainingMs classes
    features { name type }
    metrics { folds accuracy precision recall f1 rmse mae r2 }
    candidates { family status reason chosen foldScores metrics { f1 rmse } } } } } }";
const MODEL: &str = "query($id: ID!) { mlModel(id: $id) { id family problemType } }";
const PREDICT: &str = "query($m: ID!, $f: JSON!) { predict(modelId: $m, features: $f) {
    value label probabilities { label value probability } imputed } }";
const CANCEL: &str = "mutation($id: ID!) { cancelJob(id: $id) { id status cancelRequested } }";
const DELETE: &str = "mutation($id: ID!) { deleteMlModel(id: $id) }";

fn must<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

fn uuid(id: &str) -> Uuid {
    Uuid::parse_str(id).unwrap_or_else(|e| panic!("{id}: {e}"))
}

fn text(answer: &Gql, pointer: &str) -> String {
    answer.data(pointer).as_str().unwrap_or_else(|| panic!("no {pointer}: {}", answer.body)).to_owned()
}

fn number(value: &Value) -> f64 {
    value.as_f64().unwrap_or_else(|| panic!("not a number: {value}"))
}

/// A deterministic stream of numbers in [0, 1).
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// 300 rows: x1, x2 in [0, 10), a region, and y = 3·x1 − 2·x2 + 5 ± 0.05.
fn linear_csv() -> Vec<u8> {
    let mut noise = Noise(2026);
    let mut csv = String::from("x1,x2,region,y\n");
    for i in 0..300 {
        let (x1, x2) = (noise.next() * 10.0, noise.next() * 10.0);
        let y = 3.0 * x1 - 2.0 * x2 + 5.0 + (noise.next() - 0.5) * 0.1;
        let region = if i % 3 == 0 { "north" } else { "south" };
        csv.push_str(&format!("{x1:.6},{x2:.6},{region},{y:.6}\n"));
    }
    csv.into_bytes()
}

/// 300 rows: x1, x2 in [0, 10) and whether x1 is above or below x2.
fn comparison_csv() -> Vec<u8> {
    let mut noise = Noise(42);
    let mut csv = String::from("x1,x2,side\n");
    for _ in 0..300 {
        let (x1, x2) = (noise.next() * 10.0, noise.next() * 10.0);
        let side = if x1 > x2 { "above" } else { "below" };
        csv.push_str(&format!("{x1:.6},{x2:.6},{side}\n"));
    }
    csv.into_bytes()
}

fn upload_body(name: &str, bytes: &[u8]) -> Vec<u8> {
    let operations = json!({ "query": UPLOAD, "variables": { "n": name, "f": null } });
    let parts: [(String, Vec<u8>); 3] = [
        ("name=\"operations\"".into(), operations.to_string().into_bytes()),
        ("name=\"map\"".into(), json!({ "0": ["variables.f"] }).to_string().into_bytes()),
        ("name=\"0\"; filename=\"rows.csv\"\r\nContent-Type: text/csv".into(), bytes.to_vec()),
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

/// Uploads `bytes` as `name`; (job id, dataset id).
async fn upload(app: &TestApp, token: &str, name: &str, bytes: &[u8]) -> (String, String) {
    let request = Request::post("/graphql")
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .header("accept", "application/graphql-response+json")
        .header("apollo-require-preflight", "true")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(upload_body(name, bytes)));
    let (status, headers, body) = app.send(must(request)).await;
    let body: Value = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{status}: {e}"));
    let answer = Gql { status, headers, body }.ok();
    (text(&answer, "/uploadDataset/id"), text(&answer, "/uploadDataset/datasetId"))
}

async fn job_of(app: &TestApp, token: &str, id: &str) -> Value {
    app.gql(JOB, json!({ "id": id }), Some(token)).await.ok().data("/job").clone()
}

/// Polls until the job has ended; returns it.
async fn settled(app: &TestApp, token: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let found = job_of(app, token, id).await;
        if matches!(found["status"].as_str(), Some("COMPLETED" | "FAILED" | "CANCELLED")) {
            return found;
        }
        assert!(Instant::now() < deadline, "job {id} did not end: {found}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Uploads and waits for the load (the app's worker runs it); the dataset's id.
async fn loaded(app: &TestApp, token: &str, name: &str, bytes: &[u8]) -> String {
    let (job, dataset) = upload(app, token, name, bytes).await;
    let done = settled(app, token, &job).await;
    assert_eq!(done["status"], json!("COMPLETED"), "{done}");
    dataset
}

async fn train(app: &TestApp, token: &str, dataset: &str, target: &str, problem: &str, features: Value) -> Gql {
    let variables = json!({ "d": dataset, "t": target, "p": problem, "f": features, "n": format!("{target} model") });
    app.gql(TRAIN, variables, Some(token)).await
}

/// Queues a training; its job's id (answered `QUEUED`, of type `TRAINING`).
async fn queued(app: &TestApp, token: &str, dataset: &str, target: &str, problem: &str) -> String {
    let answer = train(app, token, dataset, target, problem, Value::Null).await.ok();
    assert_eq!(answer.data("/trainModel/status"), &json!("QUEUED"), "{}", answer.body);
    assert_eq!(answer.data("/trainModel/type"), &json!("TRAINING"));
    assert_eq!(answer.data("/trainModel/datasetId"), &json!(dataset));
    text(&answer, "/trainModel/id")
}

async fn models_of(app: &TestApp, token: &str, dataset: Option<&str>) -> Vec<Value> {
    let answer = app.gql(MODELS, json!({ "d": dataset }), Some(token)).await.ok();
    let edges = answer.data("/mlModels/edges").as_array().cloned().unwrap_or_default();
    edges.into_iter().map(|e| e["node"].clone()).collect()
}

async fn predict(app: &TestApp, token: &str, model: &str, features: Value) -> Gql {
    app.gql(PREDICT, json!({ "m": model, "f": features }), Some(token)).await
}

async fn account_of(app: &TestApp, user_id: &str) -> Uuid {
    let found = must(user::Entity::find_by_id(uuid(user_id)).one(&app.db.conn).await);
    found.unwrap_or_else(|| panic!("no user {user_id}")).account_id
}

async fn member(app: &TestApp, owner: &str, email: &str, role: &str) -> String {
    let invite = "mutation($e: String!, $r: Role!) { inviteMember(email: $e, role: $r) { token } }";
    let invited = app.gql(invite, json!({ "e": email, "r": role }), Some(owner)).await.ok();
    let token = text(&invited, "/inviteMember/token");
    let register = "mutation($e: String!, $t: String!, $p: String!) {
        register(email: $e, password: $p, invitationToken: $t) { accessToken } }";
    let joined = app.gql(register, json!({ "e": email, "t": token, "p": PASSWORD }), None).await.ok();
    text(&joined, "/register/accessToken")
}

/// A GraphQL query through another instance's router.
async fn gql_on(router: &axum::Router, query: &str, variables: Value, token: &str) -> Value {
    let request = Request::post("/graphql")
        .header("content-type", "application/json")
        .header("accept", "application/graphql-response+json")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(json!({ "query": query, "variables": variables }).to_string()));
    let response = router.clone().oneshot(must(request)).await.unwrap_or_else(|e| match e {});
    let bytes = must(axum::body::to_bytes(response.into_body(), usize::MAX).await);
    must(serde_json::from_slice(&bytes))
}

async fn stored_models(app: &TestApp) -> u64 {
    must(ml_model::Entity::find().count(&app.db.conn).await)
}

async fn a_regression_recovers_its_formula(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, user_id) = app.register("owner@regression.example").await;
    let dataset = loaded(&app, &owner, "Linear", &linear_csv()).await;

    let job = queued(&app, &owner, &dataset, "y", "REGRESSION").await;
    let done = settled(&app, &owner, &job).await;
    assert_eq!(done["status"], json!("COMPLETED"), "{done}");
    assert_eq!(done["progress"], json!(100));

    let found = models_of(&app, &owner, Some(&dataset)).await;
    assert_eq!(found.len(), 1, "{found:?}");
    let model = &found[0];
    assert_eq!(model["problemType"], json!("REGRESSION"));
    assert_eq!(model["targetColumn"], json!("y"));
    assert_eq!(model["name"], json!("y model"));
    assert_eq!(model["jobId"], json!(job));
    assert_eq!(model["datasetVersion"], json!(1));
    assert_eq!(model["rowCount"], json!(300));
    assert_eq!(model["classes"], json!([]));
    let features = json!([{ "name": "x1", "type": "FLOAT" }, { "name": "x2", "type": "FLOAT" }, { "name": "region", "type": "TEXT" }]);
    assert_eq!(model["features"], features);
    assert!(matches!(model["family"].as_str(), Some("LINEAR_REGRESSION" | "RIDGE_REGRESSION")), "{model}");
    let metrics = &model["metrics"];
    assert_eq!(metrics["folds"], json!(5));
    assert!(number(&metrics["r2"]) > 0.95, "{metrics}");
    assert!(number(&metrics["rmse"]) < 0.5, "{metrics}");
    assert!(number(&metrics["mae"]) < 0.5, "{metrics}");
    assert_eq!(metrics["accuracy"], Value::Null);
    let candidates = model["candidates"].as_array().cloned().unwrap_or_default();
    let families: Vec<&str> = candidates.iter().filter_map(|c| c["family"].as_str()).collect();
    assert_eq!(
        families,
        ["LINEAR_REGRESSION", "RIDGE_REGRESSION", "DECISION_TREE_REGRESSOR", "RANDOM_FOREST_REGRESSOR"]
    );
    assert_eq!(candidates.iter().filter(|c| c["chosen"] == json!(true)).count(), 1);
    assert!(
        candidates
            .iter()
            .all(|c| c["status"] == json!("SCORED") && c["foldScores"].as_array().map(Vec::len) == Some(5))
    );

    // A new point, the region left out (filled, and said so).
    let id = model["id"].as_str().unwrap_or_default().to_owned();
    let (x1, x2) = (4.25, 1.5);
    let at = predict(&app, &owner, &id, json!({ "x1": x1, "x2": x2 })).await.ok();
    let expected = 3.0 * x1 - 2.0 * x2 + 5.0;
    let value = number(at.data("/predict/value"));
    assert!((value - expected).abs() < 0.3, "{value} vs {expected}");
    assert_eq!(at.data("/predict/label"), &Value::Null);
    assert_eq!(at.data("/predict/probabilities"), &json!([]));
    assert_eq!(at.data("/predict/imputed"), &json!(["region"]));

    // Bad feature names and types; unknown and unfit targets.
    let unknown = predict(&app, &owner, &id, json!({ "x1": 1, "x3": 2 })).await;
    assert_eq!(unknown.code(), Some("BAD_USER_INPUT"), "{}", unknown.body);
    assert_eq!(unknown.body["errors"][0]["extensions"]["field"], json!("features"));
    assert!(unknown.body["errors"][0]["message"].as_str().is_some_and(|m| m.contains("\"x3\"")), "{}", unknown.body);
    let typed = predict(&app, &owner, &id, json!({ "x1": "four", "x2": 1 })).await;
    assert_eq!(typed.code(), Some("BAD_USER_INPUT"), "{}", typed.body);
    assert!(typed.body["errors"][0]["message"].as_str().is_some_and(|m| m.contains("\"x1\"")), "{}", typed.body);
    let shapeless = predict(&app, &owner, &id, json!([4.25, 1.5])).await;
    assert_eq!(shapeless.code(), Some("BAD_USER_INPUT"), "{}", shapeless.body);
    let no_target = train(&app, &owner, &dataset, "nope", "REGRESSION", Value::Null).await;
    assert_eq!(no_target.code(), Some("BAD_USER_INPUT"), "{}", no_target.body);
    assert_eq!(no_target.body["errors"][0]["extensions"]["field"], json!("targetColumn"));
    let text_target = train(&app, &owner, &dataset, "region", "REGRESSION", Value::Null).await;
    assert_eq!(text_target.code(), Some("BAD_USER_INPUT"), "{}", text_target.body);
    let no_feature = train(&app, &owner, &dataset, "y", "REGRESSION", json!(["x1", "x9"])).await;
    assert_eq!(no_feature.code(), Some("BAD_USER_INPUT"), "{}", no_feature.body);
    assert_eq!(no_feature.body["errors"][0]["extensions"]["field"], json!("features"));
    assert!(
        no_feature.body["errors"][0]["message"].as_str().is_some_and(|m| m.contains("\"x9\"")),
        "{}",
        no_feature.body
    );
    let target_as_feature = train(&app, &owner, &dataset, "y", "REGRESSION", json!(["x1", "y"])).await;
    assert_eq!(target_as_feature.code(), Some("BAD_USER_INPUT"), "{}", target_as_feature.body);
    let many_classes = train(&app, &owner, &dataset, "x1", "CLASSIFICATION", Value::Null).await;
    assert_eq!(many_classes.code(), Some("BAD_USER_INPUT"), "{}", many_classes.body);
    assert!(
        many_classes.body["errors"][0]["message"].as_str().is_some_and(|m| m.contains("50")),
        "{}",
        many_classes.body
    );

    // A redelivered message trains nothing twice.
    let account = account_of(&app, &user_id).await;
    must(models::job::run(app.pipeline(), account, uuid(&job)).await);
    assert_eq!(stored_models(&app).await, 1);

    // Another server on the same database predicts with the stored model.
    let restarted = must(Application::build_with_database(test_config(&app.db.dir), app.db.conn.clone()).await);
    let there = gql_on(
        &restarted.router(),
        PREDICT,
        json!({ "m": id, "f": { "x1": x1, "x2": x2, "region": "north" } }),
        &owner,
    )
    .await;
    let value = there.pointer("/data/predict/value").map(number).unwrap_or(f64::NAN);
    assert!((value - expected).abs() < 0.3, "{there}");
}

async fn a_classification_learns_its_rule(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("owner@classification.example").await;
    let dataset = loaded(&app, &owner, "Sides", &comparison_csv()).await;

    let job = queued(&app, &owner, &dataset, "side", "CLASSIFICATION").await;
    let done = settled(&app, &owner, &job).await;
    assert_eq!(done["status"], json!("COMPLETED"), "{done}");
    let found = models_of(&app, &owner, None).await;
    assert_eq!(found.len(), 1, "{found:?}");
    let model = &found[0];
    assert_eq!(model["problemType"], json!("CLASSIFICATION"));
    assert_eq!(model["classes"], json!(["above", "below"]));
    let metrics = &model["metrics"];
    assert!(number(&metrics["accuracy"]) > 0.9, "{metrics}");
    for key in ["precision", "recall", "f1"] {
        assert!(number(&metrics[key]) > 0.85, "{key}: {metrics}");
    }
    assert_eq!(metrics["rmse"], Value::Null);
    let candidates = model["candidates"].as_array().cloned().unwrap_or_default();
    let families: Vec<&str> = candidates.iter().filter_map(|c| c["family"].as_str()).collect();
    assert_eq!(
        families,
        ["LOGISTIC_REGRESSION", "DECISION_TREE_CLASSIFIER", "RANDOM_FOREST_CLASSIFIER", "K_NEAREST_NEIGHBORS"]
    );

    let id = model["id"].as_str().unwrap_or_default().to_owned();
    for (x1, x2, side) in [(9.0, 1.0, "above"), (1.0, 9.0, "below"), (7.5, 2.0, "above"), (0.5, 5.5, "below")] {
        let at = predict(&app, &owner, &id, json!({ "x1": x1, "x2": x2 })).await.ok();
        assert_eq!(at.data("/predict/label"), &json!(side), "({x1}, {x2}): {}", at.body);
        assert_eq!(at.data("/predict/value"), &json!(side));
        let probabilities = at.data("/predict/probabilities").as_array().cloned().unwrap_or_default();
        assert_eq!(probabilities.len(), 2, "{}", at.body);
        let sum: f64 = probabilities.iter().map(|p| number(&p["probability"])).sum();
        assert!((sum - 1.0).abs() < 1e-9, "{}", at.body);
        assert_eq!(probabilities[0]["label"], json!(side), "most probable first: {}", at.body);
        assert!(number(&probabilities[0]["probability"]) >= 0.5);
        assert_eq!(at.data("/predict/imputed"), &json!([]));
    }
    let typed = predict(&app, &owner, &id, json!({ "x1": true })).await;
    assert_eq!(typed.code(), Some("BAD_USER_INPUT"), "{}", typed.body);
    let one = app.gql(MODEL, json!({ "id": id }), Some(&owner)).await.ok();
    assert_eq!(one.data("/mlModel/problemType"), &json!("CLASSIFICATION"));
}

async fn set_job(app: &TestApp, id: &str, status: &str, started_hours_ago: Option<i64>) {
    let mut update = job::Entity::update_many().col_expr(job::Column::Status, Expr::value(status));
    if let Some(hours) = started_hours_ago {
        let started = chrono::Utc::now() - chrono::Duration::hours(hours);
        update = update.col_expr(job::Column::StartedAt, Expr::value(Some(started)));
    }
    must(update.filter(job::Column::Id.eq(uuid(id))).exec(&app.db.conn).await);
}

async fn trainings_end_once_cancelled_or_late(backend: Backend) {
    // No worker: jobs wait until the test runs them.
    let app = TestApp::with_config(backend, |c| c.pipeline.worker = false).await;
    let (owner, _, user_id) = app.register("owner@cancel-training.example").await;
    let account = account_of(&app, &user_id).await;
    let p = app.pipeline().clone();
    let (load, dataset) = upload(&app, &owner, "Linear", &linear_csv()).await;
    must(ingest::run(&p, account, uuid(&load)).await);
    assert_eq!(job_of(&app, &owner, &load).await["status"], json!("COMPLETED"));

    // Queued: cancelled at once; its message, delivered late, does nothing.
    let job = queued(&app, &owner, &dataset, "y", "REGRESSION").await;
    let cancelled = app.gql(CANCEL, json!({ "id": job }), Some(&owner)).await.ok();
    assert_eq!(cancelled.data("/cancelJob/status"), &json!("CANCELLED"));
    must(models::job::run(&p, account, uuid(&job)).await);
    assert_eq!(job_of(&app, &owner, &job).await["status"], json!("CANCELLED"));

    // Running (a worker took it): asked to stop, and the worker stops.
    let job = queued(&app, &owner, &dataset, "y", "REGRESSION").await;
    set_job(&app, &job, "RUNNING", None).await;
    let asked = app.gql(CANCEL, json!({ "id": job }), Some(&owner)).await.ok();
    assert_eq!(asked.data("/cancelJob/cancelRequested"), &json!(true));
    must(models::job::run(&p, account, uuid(&job)).await);
    assert_eq!(job_of(&app, &owner, &job).await["status"], json!("CANCELLED"));
    assert_eq!(stored_models(&app).await, 0, "a cancelled training registered a model");

    // Started two hours ago (a redelivery does not get a fresh limit): failed, saying so.
    let job = queued(&app, &owner, &dataset, "y", "REGRESSION").await;
    set_job(&app, &job, "RUNNING", Some(2)).await;
    must(models::job::run(&p, account, uuid(&job)).await);
    let late = job_of(&app, &owner, &job).await;
    assert_eq!(late["status"], json!("FAILED"), "{late}");
    let error = late["error"].as_str().unwrap_or_default();
    assert!(error.contains("time limit of 30 min (datasets.training_time_limit_secs)"), "{error}");
    assert_eq!(stored_models(&app).await, 0);

    // Run to its end: completed once; a second delivery changes nothing.
    let job = queued(&app, &owner, &dataset, "y", "REGRESSION").await;
    must(models::job::run(&p, account, uuid(&job)).await);
    assert_eq!(job_of(&app, &owner, &job).await["status"], json!("COMPLETED"));
    must(models::job::run(&p, account, uuid(&job)).await);
    assert_eq!(stored_models(&app).await, 1);
    // Cancelling a completed training is a conflict.
    assert_eq!(app.gql(CANCEL, json!({ "id": job }), Some(&owner)).await.code(), Some("CONFLICT"));
}

async fn models_stay_in_their_account(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("owner@model-tenancy.example").await;
    let viewer = member(&app, &owner, "viewer@model-tenancy.example", "VIEWER").await;
    let dataset = loaded(&app, &owner, "Linear", &linear_csv()).await;
    let job = queued(&app, &owner, &dataset, "y", "REGRESSION").await;
    assert_eq!(settled(&app, &owner, &job).await["status"], json!("COMPLETED"));
    let id = models_of(&app, &owner, Some(&dataset)).await[0]["id"].as_str().unwrap_or_default().to_owned();
    let point = json!({ "x1": 1.0, "x2": 2.0 });

    // Another account: nothing to read, predict with, delete or train on.
    let (stranger, _, _) = app.register("stranger@model-tenancy.example").await;
    assert_eq!(app.gql(MODEL, json!({ "id": id }), Some(&stranger)).await.code(), Some("NOT_FOUND"));
    assert_eq!(predict(&app, &stranger, &id, point.clone()).await.code(), Some("NOT_FOUND"));
    assert_eq!(app.gql(DELETE, json!({ "id": id }), Some(&stranger)).await.code(), Some("NOT_FOUND"));
    assert_eq!(train(&app, &stranger, &dataset, "y", "REGRESSION", Value::Null).await.code(), Some("NOT_FOUND"));
    assert_eq!(models_of(&app, &stranger, None).await, Vec::<Value>::new());
    assert_eq!(models_of(&app, &stranger, Some(&dataset)).await, Vec::<Value>::new());

    // A viewer reads and predicts, and neither trains nor deletes.
    assert_eq!(models_of(&app, &viewer, None).await.len(), 1);
    predict(&app, &viewer, &id, point.clone()).await.ok();
    assert_eq!(train(&app, &viewer, &dataset, "y", "REGRESSION", Value::Null).await.code(), Some("FORBIDDEN"));
    assert_eq!(app.gql(DELETE, json!({ "id": id }), Some(&viewer)).await.code(), Some("FORBIDDEN"));

    // The owner deletes it; a model also goes with its dataset.
    let deleted = app.gql(DELETE, json!({ "id": id }), Some(&owner)).await.ok();
    assert_eq!(deleted.data("/deleteMlModel"), &json!(id));
    assert_eq!(app.gql(MODEL, json!({ "id": id }), Some(&owner)).await.code(), Some("NOT_FOUND"));
    let job = queued(&app, &owner, &dataset, "y", "REGRESSION").await;
    assert_eq!(settled(&app, &owner, &job).await["status"], json!("COMPLETED"));
    assert_eq!(models_of(&app, &owner, None).await.len(), 1);
    let gone = app.gql("mutation($id: ID!) { deleteDataset(id: $id) }", json!({ "id": dataset }), Some(&owner)).await;
    gone.ok();
    assert_eq!(models_of(&app, &owner, None).await, Vec::<Value>::new());
    assert_eq!(stored_models(&app).await, 0);
}

on_both_backends! {
    a_regression_recovers_y_equals_3x1_minus_2x2_plus_5 => a_regression_recovers_its_formula;
    a_classification_learns_x1_above_x2 => a_classification_learns_its_rule;
    trainings_end_once_when_cancelled_or_past_their_limit => trainings_end_once_cancelled_or_late;
    models_stay_in_their_account_and_go_with_their_dataset => models_stay_in_their_account;
}
