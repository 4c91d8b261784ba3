//! The application in-process: requests go through the real router with
//! `oneshot`, no socket involved. A `TestApp` is also one browser: it keeps
//! the cookies the app sets and sends them back where their `Path` applies
//! (`send_from_elsewhere` is another browser, holding none).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

use alatar_server::{Application, Config};

use crate::{Backend, TestDb};

/// An app on its own database.
pub struct TestApp {
    /// The router.
    pub router: axum::Router,
    /// The application (keeps its in-process worker running).
    pub app: Application,
    /// Its database (kept alive for the test).
    pub db: TestDb,
    /// The browser's cookies: (name, path, value).
    cookies: std::sync::Mutex<Vec<(String, String, String)>>,
}

/// (name, path, value, deleted) of a `Set-Cookie` value.
fn parse_set_cookie(header: &str) -> Option<(String, String, String, bool)> {
    let mut parts = header.split(';');
    let (name, value) = parts.next()?.trim().split_once('=')?;
    let mut path = "/".to_owned();
    let mut deleted = false;
    for attribute in parts {
        let (key, val) = attribute.trim().split_once('=').unwrap_or((attribute.trim(), ""));
        if key.eq_ignore_ascii_case("path") {
            path = val.to_owned();
        } else if key.eq_ignore_ascii_case("max-age") {
            deleted = val.trim().parse::<i64>().is_ok_and(|age| age <= 0);
        }
    }
    Some((name.to_owned(), path, value.to_owned(), deleted))
}

/// A GraphQL answer with its HTTP status and headers.
#[derive(Debug)]
pub struct Gql {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: axum::http::HeaderMap,
    /// Parsed body.
    pub body: Value,
}

impl Gql {
    /// `data` at a JSON pointer such as `/me/email`.
    pub fn data(&self, pointer: &str) -> &Value {
        self.body.pointer(&format!("/data{pointer}")).unwrap_or(&Value::Null)
    }

    /// The first error's `extensions.code`, if any.
    pub fn code(&self) -> Option<&str> {
        self.body.pointer("/errors/0/extensions/code").and_then(Value::as_str)
    }

    /// Panics with the body if there are errors.
    pub fn ok(self) -> Self {
        assert!(self.body.get("errors").is_none(), "unexpected errors: {}", self.body);
        self
    }
}

impl TestApp {
    /// An app on `backend` with the test configuration.
    pub async fn new(backend: Backend) -> Self {
        Self::with_config(backend, |_| {}).await
    }

    /// An app on `backend` with configuration changed by `tweak`.
    pub async fn with_config(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let db = TestDb::new(backend).await;
        let mut config = crate::test_config(&db.dir);
        tweak(&mut config);
        let app = Application::build_with_database(config, db.conn.clone())
            .await
            .unwrap_or_else(|e| panic!("build app: {e:#}"));
        Self { router: app.router(), app, db, cookies: Default::default() }
    }

    /// An app on the production engines: PostgreSQL, RabbitMQ (in its own
    /// queue namespace, returned, so tests never share queues) and Redis;
    /// `worker` says whether it runs the in-process worker.
    pub async fn production(worker: bool) -> (Self, String) {
        let namespace = format!("test-{}.", uuid::Uuid::now_v7());
        let app = Self::with_config(Backend::Postgres, |c| {
            c.amqp_url = Some(crate::amqp_url().into());
            c.redis_url = Some(crate::redis_url().into());
            c.pipeline.queue_namespace = namespace.clone();
            c.pipeline.worker = worker;
            c.rate_limit.free_per_hour = 100_000;
        })
        .await;
        (app, namespace)
    }

    /// The analysis pipeline behind the app.
    pub fn pipeline(&self) -> &alatar_agents::pipeline::Pipeline {
        self.app.pipeline()
    }

    /// Sends an HTTP request through the router as this app's browser: with
    /// the cookies it holds for the path (unless the request brings its
    /// own), keeping those the response sets.
    pub async fn send(&self, mut request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        if !request.headers().contains_key(axum::http::header::COOKIE) {
            let path = request.uri().path().to_owned();
            let held = self.cookies.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let sent: Vec<String> = held
                .iter()
                .filter(|(_, scope, _)| {
                    path == *scope || path.starts_with(&format!("{}/", scope.trim_end_matches('/')))
                })
                .map(|(name, _, value)| format!("{name}={value}"))
                .collect();
            if !sent.is_empty()
                && let Ok(value) = axum::http::HeaderValue::from_str(&sent.join("; "))
            {
                request.headers_mut().insert(axum::http::header::COOKIE, value);
            }
        }
        let (status, headers, body) = self.send_from_elsewhere(request).await;
        let mut held = self.cookies.lock().unwrap_or_else(|p| p.into_inner());
        for set in headers.get_all(axum::http::header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()) {
            let Some((name, path, value, deleted)) = parse_set_cookie(set) else { continue };
            held.retain(|(n, p, _)| !(*n == name && *p == path));
            if !deleted {
                held.push((name, path, value));
            }
        }
        drop(held);
        (status, headers, body)
    }

    /// Sends an HTTP request through the router from another browser: no
    /// cookies but the request's own, and none kept.
    pub async fn send_from_elsewhere(&self, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let response = self.router.clone().oneshot(request).await.unwrap_or_else(|e| match e {});
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.map(|b| b.to_vec()).unwrap_or_default();
        (status, headers, body)
    }

    /// POSTs a GraphQL request body.
    pub async fn post(&self, body: Value, token: Option<&str>) -> Gql {
        let mut request = Request::post("/graphql")
            .header("content-type", "application/json")
            .header("accept", "application/graphql-response+json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(Body::from(body.to_string())).unwrap_or_else(|e| panic!("{e}"));
        let (status, headers, bytes) = self.send(request).await;
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("non-JSON response ({status}): {e}: {}", String::from_utf8_lossy(&bytes)));
        Gql { status, headers, body }
    }

    /// Runs `query` with `variables` as `token`'s user (or anonymously).
    pub async fn gql(&self, query: &str, variables: Value, token: Option<&str>) -> Gql {
        self.post(json!({ "query": query, "variables": variables }), token).await
    }

    /// `uploadDocument` into `collection` as a GraphQL multipart request
    /// (with the preflight header), `bytes` as `filename`; `selection` is
    /// what the mutation asks of the document.
    pub async fn upload_document(
        &self,
        token: &str,
        collection: &str,
        filename: &str,
        bytes: &[u8],
        selection: &str,
    ) -> Gql {
        let query = format!(
            "mutation($c: ID!, $f: Upload!) {{ uploadDocument(collectionId: $c, file: $f) {{ {selection} }} }}"
        );
        self.upload(token, &query, json!({ "c": collection, "f": null }), filename, bytes).await
    }

    /// `uploadDataset` named `name` as a GraphQL multipart request, `bytes`
    /// as `filename`; `selection` is what the mutation asks of the job.
    pub async fn upload_dataset(&self, token: &str, name: &str, filename: &str, bytes: &[u8], selection: &str) -> Gql {
        let query =
            format!("mutation($n: String!, $f: Upload!) {{ uploadDataset(name: $n, file: $f) {{ {selection} }} }}");
        self.upload(token, &query, json!({ "n": name, "f": null }), filename, bytes).await
    }

    /// A GraphQL multipart request of `query` with `variables`, whose
    /// `f` is the file `bytes` named `filename`.
    async fn upload(&self, token: &str, query: &str, variables: Value, filename: &str, bytes: &[u8]) -> Gql {
        const BOUNDARY: &str = "alatar-test-upload-boundary-41b7";
        let operations = json!({ "query": query, "variables": variables });
        let parts: [(String, Vec<u8>); 3] = [
            ("name=\"operations\"".into(), operations.to_string().into_bytes()),
            ("name=\"map\"".into(), json!({ "0": ["variables.f"] }).to_string().into_bytes()),
            (format!("name=\"0\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream"), bytes.to_vec()),
        ];
        let mut body = Vec::new();
        for (disposition, content) in &parts {
            body.extend_from_slice(
                format!("--{BOUNDARY}\r\nContent-Disposition: form-data; {disposition}\r\n\r\n").as_bytes(),
            );
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        let request = Request::post("/graphql")
            .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
            .header("accept", "application/graphql-response+json")
            .header("apollo-require-preflight", "true")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::from(body))
            .unwrap_or_else(|e| panic!("{e}"));
        let (status, headers, bytes) = self.send(request).await;
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("non-JSON response ({status}): {e}: {}", String::from_utf8_lossy(&bytes)));
        Gql { status, headers, body }
    }

    /// Connects a demo store, asks `prompt` on it and waits (60 s at most)
    /// until the analysis is `COMPLETED` or `AWAITING_APPROVAL`; the
    /// request as `query` (taking `$id`) reads it. Panics if it fails.
    pub async fn ask_demo_store(&self, token: &str, prompt: &str, query: &str) -> Value {
        let store = self.gql("mutation { connectDemoStore(name: \"Demo\") { id } }", json!({}), Some(token)).await.ok();
        let store = store.data("/connectDemoStore/id").clone();
        let submit = "mutation($p: String!, $s: ID!) { submitAnalysisRequest(prompt: $p, storeId: $s) { id } }";
        let submitted = self.gql(submit, json!({ "p": prompt, "s": store }), Some(token)).await.ok();
        let id = submitted.data("/submitAnalysisRequest/id").clone();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let request = self.gql(query, json!({ "id": id }), Some(token)).await.ok().data("/analysisRequest").clone();
            match request["status"].as_str() {
                Some("AWAITING_APPROVAL" | "COMPLETED") => return request,
                Some("FAILED" | "CANCELLED") => panic!("{prompt:?} did not settle: {request}"),
                _ => {}
            }
            assert!(std::time::Instant::now() < deadline, "{prompt:?} did not finish: {request}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Registers a new owner; returns (access token, refresh token, user id).
    pub async fn register(&self, email: &str) -> (String, String, String) {
        let r = self
            .gql(
                "mutation($e: String!) { register(email: $e, password: \"correct horse battery\") { accessToken refreshToken user { id } } }",
                json!({ "e": email }),
                None,
            )
            .await
            .ok();
        let s = |p: &str| r.data(p).as_str().unwrap_or_default().to_owned();
        (s("/register/accessToken"), s("/register/refreshToken"), s("/register/user/id"))
    }
}
