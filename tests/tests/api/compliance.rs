//! Privacy: expired Shopify cache entries are purged; `customers/data_request`
//! exports, and `customers/redact` removes, every copy of a customer's rows
//! (task outputs, tool inputs, events, result bodies, proposals, audit
//! records) while another customer's rows stay; `shop/redact` erases the
//! shop's accounts' datasets (rows, jobs, tables, files) and workflows.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    Statement,
};
use serde_json::{Value, json};
use uuid::Uuid;

use alatar_agents::actions::{Actor, audit, parameters_hash};
use alatar_agents::datasets::{source, storage};
use alatar_agents::shopify::cache;
use alatar_agents::shopify::signature::{sign_body, sign_query};
use alatar_entity::{
    ActionStatus, AnalysisStatus, TaskStatus, agent_task, analysis_event, analysis_request, analysis_result,
    audit_entry, compliance_request, dataset, job, proposed_action, repository_analysis, shopify_cache, stock_bar,
    store, tool_call, workflow,
};
use alatar_tests::fake_shopify::{APP_KEY, APP_SECRET, FakeShopify, GOOD_CODE};
use alatar_tests::{Backend, TestApp, TestDb, demo_tenant, on_both_backends};

pub(super) const SHOP: &str = "alatar-privacy.myshopify.com";

fn must<T>(result: Result<T, DbErr>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

on_both_backends! {
    expired_cache_entries_are_purged => expired_cache_entries_are_purged;
    customer_requests_reach_every_copy => customer_requests_reach_every_copy;
    shop_redact_erases_datasets_and_workflows => shop_redact_erases_datasets_and_workflows;
}

/// `purge_expired` deletes what expired, in any account, and nothing fresh.
async fn expired_cache_entries_are_purged(backend: Backend) {
    // A bare database: no worker whose own sweep could purge first.
    let db = TestDb::new(backend).await;
    let (account_id, _, store_id) = demo_tenant(&db.conn).await;
    let now = Utc::now();
    for (key, expires_at) in
        [("customers", now - chrono::Duration::seconds(1)), ("products", now + chrono::Duration::hours(1))]
    {
        must(
            shopify_cache::Entity::insert(shopify_cache::ActiveModel {
                store_id: Set(store_id),
                key: Set(key.to_owned()),
                account_id: Set(account_id),
                body: Set(json!([{ "id": "gid://shopify/Customer/501", "email": "customer1@example.com" }])),
                expires_at: Set(expires_at),
            })
            .exec_without_returning(&db.conn)
            .await,
        );
    }
    assert_eq!(must(cache::purge_expired(&db.conn).await), 1);
    let keys: Vec<String> =
        must(shopify_cache::Entity::find().all(&db.conn).await).into_iter().map(|row| row.key).collect();
    assert_eq!(keys, ["products"]);
    assert_eq!(must(cache::purge_expired(&db.conn).await), 0);
}

pub(super) async fn shopify_app(backend: Backend) -> (TestApp, FakeShopify) {
    let fake = FakeShopify::start().await;
    let base_url = fake.base_url.clone();
    let app = TestApp::with_config(backend, move |c| {
        c.shopify.api_key = Some(APP_KEY.into());
        c.shopify.api_secret = Some(APP_SECRET.to_owned().into());
        c.shopify.admin_base_url = base_url;
        c.shopify.backoff_ms = 5;
        c.shopify.timeout_ms = 2_000;
    })
    .await;
    (app, fake)
}

/// Links `SHOP` to `token`'s account through the real OAuth callback; returns the store.
pub(super) async fn install(app: &TestApp, token: &str) -> store::Model {
    let start = app
        .gql("mutation($s: String!) { startShopifyOAuth(shopDomain: $s) { state } }", json!({ "s": SHOP }), Some(token))
        .await
        .ok();
    let state = start.data("/startShopifyOAuth/state").as_str().unwrap_or_default().to_owned();
    let mut params: Vec<(String, String)> = [
        ("code", GOOD_CODE.to_owned()),
        ("shop", SHOP.to_owned()),
        ("state", state),
        ("timestamp", Utc::now().timestamp().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let hmac = sign_query(APP_SECRET.as_bytes(), &params);
    params.push(("hmac".into(), hmac));
    let query = params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let request =
        Request::get(format!("/shopify/callback?{query}")).body(Body::empty()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(app.send(request).await.0, StatusCode::SEE_OTHER);
    let stores = must(store::Entity::find().all(&app.db.conn).await);
    stores
        .into_iter()
        .find(|s| s.shop_domain.as_deref() == Some(SHOP))
        .unwrap_or_else(|| panic!("the shop was not linked"))
}

/// Posts a webhook for `SHOP`, signed with the app's secret.
pub(super) async fn webhook(app: &TestApp, topic: &str, id: &str, body: &Value) -> StatusCode {
    let raw = body.to_string();
    let request = Request::post("/shopify/webhooks")
        .header("content-type", "application/json")
        .header("x-shopify-topic", topic)
        .header("x-shopify-shop-domain", SHOP)
        .header("x-shopify-webhook-id", id)
        .header("x-shopify-hmac-sha256", sign_body(APP_SECRET.as_bytes(), raw.as_bytes()))
        .body(Body::from(raw))
        .unwrap_or_else(|e| panic!("{e}"));
    app.send(request).await.0
}

/// Customers 501 and 502, each a row marked with where it was put.
fn rows(place: &str) -> Value {
    json!([
        { "customer_id": 501, "email": "customer501@example.com", "place": place },
        { "customer_id": 502, "email": "customer502@example.com", "place": place }
    ])
}

/// The `place` of every object in `value` that is `customer`'s row.
fn places(value: &Value, customer: u64, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if map.get("customer_id") == Some(&json!(customer)) {
                found.push(map.get("place").and_then(Value::as_str).unwrap_or("?").to_owned());
            }
            map.values().for_each(|v| places(v, customer, found));
        }
        Value::Array(items) => items.iter().for_each(|v| places(v, customer, found)),
        _ => {}
    }
}

/// Where the database holds `customer`'s rows, sorted.
async fn held(app: &TestApp, customer: u64) -> Vec<String> {
    let db = &app.db.conn;
    let mut found = Vec::new();
    for task in must(agent_task::Entity::find().all(db).await) {
        if let Some(output) = &task.output {
            places(output, customer, &mut found);
        }
    }
    for call in must(tool_call::Entity::find().all(db).await) {
        places(&call.input, customer, &mut found);
    }
    for event in must(analysis_event::Entity::find().all(db).await) {
        places(&event.payload, customer, &mut found);
    }
    for result in must(analysis_result::Entity::find().all(db).await) {
        places(&result.body, customer, &mut found);
    }
    for action in must(proposed_action::Entity::find().all(db).await) {
        places(&action.parameters, customer, &mut found);
        places(&action.preview, customer, &mut found);
    }
    for entry in must(audit_entry::Entity::find().all(db).await) {
        places(&entry.detail, customer, &mut found);
    }
    found.sort();
    found
}

fn sorted(places: &[&str]) -> Vec<String> {
    let mut places: Vec<String> = places.iter().map(|p| (*p).to_owned()).collect();
    places.sort();
    places
}

/// A finished analysis of `store` holding both customers' rows everywhere
/// an analysis can; returns its proposal's id, kind and parameters.
async fn seed_analysis(app: &TestApp, store: &store::Model, user_id: Uuid) -> (Uuid, &'static str, Value) {
    let db = &app.db.conn;
    let (account_id, now) = (store.account_id, Utc::now());
    let (request_id, task_id, action_id) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    must(
        analysis_request::Entity::insert(analysis_request::ActiveModel {
            id: Set(request_id),
            account_id: Set(account_id),
            user_id: Set(user_id),
            store_id: Set(store.id),
            prompt: Set("Who are my best customers?".into()),
            status: Set(AnalysisStatus::Completed),
            intent: Set(Some("customer_segments".into())),
            plan: Set(None),
            model: Set("offline".into()),
            failure_reason: Set(None),
            last_sequence: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
            started_at: Set(Some(now)),
            finished_at: Set(Some(now)),
            workflow_id: Set(None),
            workflow_inputs: Set(None),
        })
        .exec_without_returning(db)
        .await,
    );
    must(
        agent_task::Entity::insert(agent_task::ActiveModel {
            id: Set(task_id),
            account_id: Set(account_id),
            request_id: Set(request_id),
            step: Set(1),
            department: Set("DataRetrieval".into()),
            objective: Set("customer activity".into()),
            depends_on: Set(json!([])),
            status: Set(TaskStatus::Completed),
            attempts: Set(1),
            error_count: Set(0),
            last_error: Set(None),
            output: Set(Some(json!({ "customers": rows("task"), "customerCount": 2 }))),
            created_at: Set(now),
            finished_at: Set(Some(now)),
        })
        .exec_without_returning(db)
        .await,
    );
    must(
        tool_call::Entity::insert(tool_call::ActiveModel {
            id: Set(Uuid::now_v7()),
            account_id: Set(account_id),
            request_id: Set(request_id),
            task_id: Set(task_id),
            tool: Set("stats.rank".into()),
            input: Set(json!({ "items": rows("tool"), "limit": 5 })),
            output_summary: Set("2 ranked".into()),
            attempts: Set(1),
            duration_us: Set(10),
            created_at: Set(now),
        })
        .exec_without_returning(db)
        .await,
    );
    must(
        analysis_event::Entity::insert(analysis_event::ActiveModel {
            id: Set(Uuid::now_v7()),
            account_id: Set(account_id),
            request_id: Set(request_id),
            sequence: Set(1),
            kind: Set("TASK_COMPLETED".into()),
            payload: Set(json!({ "output": { "customers": rows("event") } })),
            created_at: Set(now),
        })
        .exec_without_returning(db)
        .await,
    );
    must(
        analysis_result::Entity::insert(analysis_result::ActiveModel {
            request_id: Set(request_id),
            account_id: Set(account_id),
            summary: Set("Two customers bought most.".into()),
            body: Set(json!({
                "sections": [{ "title": "Best customers", "table": rows("result") }],
                "topCustomer": { "customer_id": 501, "spend": 1200, "place": "result-member" }
            })),
            created_at: Set(now),
        })
        .exec_without_returning(db)
        .await,
    );
    let kind = "CREATE_DISCOUNT";
    let parameters = json!({
        "title": "Thank you", "code": "THANKS10", "percentage": 10, "productIds": [],
        "startsOn": "2026-12-01", "endsOn": "2026-12-31", "oncePerCustomer": true,
        "audience": rows("parameters")
    });
    must(
        proposed_action::Entity::insert(proposed_action::ActiveModel {
            id: Set(action_id),
            account_id: Set(account_id),
            request_id: Set(request_id),
            kind: Set(kind.into()),
            parameters: Set(parameters.clone()),
            preview: Set(json!({ "reach": rows("preview") })),
            required_scopes: Set(json!(["write_discounts"])),
            status: Set(ActionStatus::Pending),
            created_at: Set(now),
            expires_at: Set(now + chrono::Duration::days(1)),
            updated_at: Set(None),
            decided_by: Set(None),
            decided_at: Set(None),
            decision_reason: Set(None),
            outcome: Set(None),
            inverse: Set(None),
            executed_at: Set(None),
            failure_reason: Set(None),
            reverting_at: Set(None),
        })
        .exec_without_returning(db)
        .await,
    );
    let detail = json!({ "kind": kind, "audience": rows("audit") });
    must(audit(db, account_id, Actor::Agent, "PROPOSED", Some(action_id), Some(store.id), detail).await);
    (action_id, kind, parameters)
}

/// `customers/data_request` exports each copy of the customer's rows with
/// the cache's record and orders; `customers/redact` then removes every one
/// of them, another customer's rows stay, and the redacted proposal can no
/// longer be approved with the hash its approver saw.
async fn customer_requests_reach_every_copy(backend: Backend) {
    let (app, _fake) = shopify_app(backend).await;
    let (token, _, user) = app.register("owner@privacy.example").await;
    let store = install(&app, &token).await;
    let user_id: Uuid = user.parse().unwrap_or_else(|e| panic!("user id {user}: {e}"));
    let (action_id, kind, parameters) = seed_analysis(&app, &store, user_id).await;
    let db = &app.db.conn;
    let customers = json!([
        { "id": "gid://shopify/Customer/501", "email": "customer501@example.com" },
        { "id": "gid://shopify/Customer/502", "email": "customer502@example.com" }
    ]);
    let orders = json!([
        { "id": "gid://shopify/Order/1", "customer": { "id": "gid://shopify/Customer/501" } },
        { "id": "gid://shopify/Order/2", "customer": { "id": "gid://shopify/Customer/502" } }
    ]);
    let hour = Duration::from_secs(3_600);
    must(cache::put(db, &store, cache::key::CUSTOMERS, customers, hour).await);
    must(cache::put(db, &store, "orders:2026-11-01:2026-12-01", orders, hour).await);

    let everywhere = ["audit", "event", "parameters", "preview", "result", "task", "tool"];
    let mut with_member = everywhere.to_vec();
    with_member.push("result-member");
    assert_eq!(held(&app, 501).await, sorted(&with_member));
    assert_eq!(held(&app, 502).await, sorted(&everywhere));

    // customers/data_request: every copy of 501's rows, and nothing of 502.
    let request = json!({ "shop_id": 1, "shop_domain": SHOP,
        "customer": { "id": 501, "email": "customer501@example.com" }, "orders_requested": [], "data_request": { "id": 9 } });
    assert_eq!(webhook(&app, "customers/data_request", "p-1", &request).await, StatusCode::OK);
    let export = must(compliance_request::Entity::find().one(db).await)
        .unwrap_or_else(|| panic!("no compliance request"))
        .export;
    let mut exported = Vec::new();
    places(&export, 501, &mut exported);
    exported.sort();
    assert_eq!(exported, sorted(&with_member), "{export}");
    for key in ["analysisRows", "toolInputs", "events", "results", "proposals", "auditLog"] {
        assert!(export[key].as_array().is_some_and(|found| !found.is_empty()), "{key} missing: {export}");
    }
    assert_eq!(export["customer"]["email"], "customer501@example.com", "{export}");
    let first = json!([{ "id": "gid://shopify/Order/1", "customer": { "id": "gid://shopify/Customer/501" } }]);
    assert_eq!(export["orders"], first, "{export}");
    assert!(!export.to_string().contains("customer502@example.com"), "{export}");

    // customers/redact: no copy of 501's rows remains; 502's all do.
    assert_eq!(webhook(&app, "customers/redact", "p-2", &request).await, StatusCode::OK);
    assert_eq!(held(&app, 501).await, Vec::<String>::new());
    assert_eq!(held(&app, 502).await, sorted(&everywhere));
    // The exports went; what is left is the redaction's own record, in counts.
    let left = must(compliance_request::Entity::find().all(db).await);
    assert_eq!(left.iter().map(|r| r.topic.as_str()).collect::<Vec<_>>(), ["customers/redact"]);
    assert_eq!(left[0].export["proposalsChanged"], json!(1), "{}", left[0].export);
    assert!(!left[0].export.to_string().contains("example.com"), "{}", left[0].export);
    for row in must(shopify_cache::Entity::find().all(db).await) {
        assert!(!row.body.to_string().contains("Customer/501"), "{}: {}", row.key, row.body);
    }

    // The approver saw the old parameters: their hash no longer approves.
    let approve = app
        .gql(
            "mutation($id: ID!, $h: String!) { approveAction(id: $id, parametersHash: $h) { id status } }",
            json!({ "id": action_id.to_string(), "h": parameters_hash(kind, &parameters) }),
            Some(&token),
        )
        .await;
    assert_eq!(approve.code(), Some("CONFLICT"), "{}", approve.body);
    assert!(approve.body.to_string().contains("parametersHash does not match"), "{}", approve.body);
    let action = must(proposed_action::Entity::find_by_id(action_id).one(db).await)
        .unwrap_or_else(|| panic!("the proposal is gone"));
    assert_eq!(action.status, ActionStatus::Pending);
    assert_eq!(action.parameters["code"], "THANKS10");
}

const UPLOAD_BOUNDARY: &str = "alatar-test-redact-boundary-7a41";

/// Uploads `csv` as a dataset through the GraphQL multipart request and
/// waits (reading the database) until it is loaded; its id.
async fn loaded_dataset(app: &TestApp, token: &str, name: &str, csv: &str) -> Uuid {
    let query = "mutation($n: String!, $f: Upload!) { uploadDataset(name: $n, file: $f) { id datasetId } }";
    let operations = json!({ "query": query, "variables": { "n": name, "f": null } });
    let parts = [
        ("name=\"operations\"".to_owned(), operations.to_string()),
        ("name=\"map\"".to_owned(), json!({ "0": ["variables.f"] }).to_string()),
        (format!("name=\"0\"; filename=\"{name}.csv\"\r\nContent-Type: text/csv"), csv.to_owned()),
    ];
    let mut body = String::new();
    for (disposition, content) in &parts {
        let head = format!("--{UPLOAD_BOUNDARY}\r\nContent-Disposition: form-data; {disposition}\r\n\r\n");
        body.push_str(&format!("{head}{content}\r\n"));
    }
    body.push_str(&format!("--{UPLOAD_BOUNDARY}--\r\n"));
    let request = Request::post("/graphql")
        .header("content-type", format!("multipart/form-data; boundary={UPLOAD_BOUNDARY}"))
        .header("accept", "application/graphql-response+json")
        .header("apollo-require-preflight", "true")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(body))
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, _, bytes) = app.send(request).await;
    let answer: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{status}: {e}"));
    let id = answer.pointer("/data/uploadDataset/datasetId").and_then(Value::as_str);
    let id = Uuid::parse_str(id.unwrap_or_else(|| panic!("no dataset: {answer}"))).unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = must(dataset::Entity::find_by_id(id).one(&app.db.conn).await);
        if found.as_ref().is_some_and(|d| d.status == "READY") {
            return id;
        }
        assert!(Instant::now() < deadline, "{name} did not load: {found:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether dataset `id`'s table is still there (PostgreSQL: in
/// `information_schema.tables`; SQLite: its file), and its kept upload.
async fn dataset_storage(app: &TestApp, backend: Backend, id: Uuid) -> (bool, bool) {
    let table = match backend {
        Backend::Sqlite => storage::sqlite_path(&app.db.dir, id).exists(),
        Backend::Postgres => {
            let sql = "SELECT CAST(count(*) AS BIGINT) AS n FROM information_schema.tables \
                       WHERE table_schema = $1 AND table_name = $2";
            let values: [sea_orm::Value; 2] = [storage::SCHEMA.into(), format!("ds_{}", id.simple()).into()];
            let statement = Statement::from_sql_and_values(DbBackend::Postgres, sql, values);
            let row = must(app.db.conn.query_one_raw(statement).await);
            row.and_then(|r| r.try_get::<i64>("", "n").ok()).unwrap_or(0) > 0
        }
    };
    (table, source::source_path(&app.db.dir, id).exists())
}

/// `shop/redact` takes the shop's account's datasets (their rows, every
/// job, the table or its file, the kept upload), saved workflows,
/// repository analyses and market data (bars and latest indicators);
/// another account's dataset stays whole.
async fn shop_redact_erases_datasets_and_workflows(backend: Backend) {
    let (app, _fake) = shopify_app(backend).await;
    let (token, _, user) = app.register("owner@redact-datasets.example").await;
    let store = install(&app, &token).await;
    let account = store.account_id;
    let user_id: Uuid = user.parse().unwrap_or_else(|e| panic!("user id {user}: {e}"));
    let mine = loaded_dataset(&app, &token, "Spend", "day,spend\n2026-01-01,3.5\n2026-01-02,4\n").await;
    let (stranger, _, _) = app.register("stranger@redact-datasets.example").await;
    let theirs = loaded_dataset(&app, &stranger, "Stock", "sku,stock\nA-1,5\nB-2,0\n").await;
    let now = Utc::now();
    let saved = workflow::ActiveModel {
        id: Set(Uuid::now_v7()),
        account_id: Set(account),
        name: Set("Weekly digest".into()),
        description: Set(None),
        definition: Set(json!({ "inputs": [], "nodes": [], "edges": [] })),
        created_by: Set(user_id),
        created_at: Set(now),
        updated_at: Set(now),
    };
    must(workflow::Entity::insert(saved).exec_without_returning(&app.db.conn).await);
    // Share prices and an analysed repository of the account.
    let ticks = json!([{ "symbol": "SHOP", "price": 101.5, "volume": 3.0, "time": (now - chrono::TimeDelta::minutes(5)).to_rfc3339() }]);
    let ingest = "mutation($t: [TickInput!]!) { ingestTicks(ticks: $t) { accepted } }";
    app.gql(ingest, json!({ "t": ticks }), Some(&token)).await.ok();
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.gql("{ stockSymbols }", json!({}), Some(&token)).await.ok().data("/stockSymbols") != &json!(["SHOP"]) {
        assert!(Instant::now() < deadline, "the tick was not applied");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (analysis, analysis_job) =
        alatar_agents::code::queued(account, user_id, "https://github.com/Shopify/dawn", None, None);
    must(alatar_agents::code::insert(&app.db.conn, &analysis, &analysis_job).await);
    let db = &app.db.conn;
    assert_eq!(dataset_storage(&app, backend, mine).await, (true, true));
    assert!(must(job::Entity::find().filter(job::Column::AccountId.eq(account)).count(db).await) > 0);
    let bars = stock_bar::Entity::find().filter(stock_bar::Column::AccountId.eq(account));
    assert_eq!(must(bars.clone().count(db).await), 1);

    let redact = json!({ "shop_id": 1, "shop_domain": SHOP });
    assert_eq!(webhook(&app, "shop/redact", "d-1", &redact).await, StatusCode::OK);

    let datasets = dataset::Entity::find().filter(dataset::Column::AccountId.eq(account));
    assert_eq!(must(datasets.count(db).await), 0);
    assert_eq!(must(job::Entity::find().filter(job::Column::AccountId.eq(account)).count(db).await), 0);
    assert_eq!(must(workflow::Entity::find().filter(workflow::Column::AccountId.eq(account)).count(db).await), 0);
    let analyses = repository_analysis::Entity::find().filter(repository_analysis::Column::AccountId.eq(account));
    assert_eq!(must(analyses.count(db).await), 0, "repository analyses go");
    assert_eq!(must(bars.count(db).await), 0, "minute bars go");
    let symbols = app.gql("{ stockSymbols }", json!({}), Some(&token)).await.ok();
    assert_eq!(symbols.data("/stockSymbols"), &json!([]), "latest indicators go");
    assert_eq!(dataset_storage(&app, backend, mine).await, (false, false), "the table or the upload is left");
    let query = "query($id: ID!) { dataset(id: $id) { id } }";
    let gone = app.gql(query, json!({ "id": mine.to_string() }), Some(&token)).await;
    assert_eq!(gone.code(), Some("NOT_FOUND"), "{}", gone.body);

    // The other account's dataset is theirs, whole.
    assert!(must(dataset::Entity::find_by_id(theirs).one(db).await).is_some());
    assert_eq!(dataset_storage(&app, backend, theirs).await, (true, true));
    let query = "query($id: ID!) { dataset(id: $id) { status } }";
    let still = app.gql(query, json!({ "id": theirs.to_string() }), Some(&stranger)).await.ok();
    assert_eq!(still.data("/dataset/status"), &json!("READY"));
}
