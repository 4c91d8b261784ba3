//! The analysis pipeline through the API: submit, plan, departments, tools,
//! result with provenance, events; validation, listing, cancellation,
//! idempotent redelivery, the error budget, dead letters and restart.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{Datelike, Months, NaiveDate, Utc};
use futures_util::StreamExt;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use alatar_agents::departments::{DepartmentAgent, Departments, QuantitativeAgent, TaskContext};
use alatar_agents::pipeline::{Message, Pipeline, StoreResolver, Worker, watch};
use alatar_agents::store::{
    DEMO_TIME_ZONE, DateRange, DemoStore, Order, OrderStatus, Product, ProductStatus, StoreData, StoreError, Tz,
    local_day,
};
use alatar_agents::tools::{TaskFailure, ToolRunner};
use alatar_agents::{Department, store::Customer};
use alatar_entity::{agent_task, analysis_event, analysis_result, proposed_action, store, tool_call};
use alatar_server::Application;
use alatar_tests::{Backend, Gql, TestApp, event_sequences, on_both_backends};

pub const QUESTION: &str = "How did revenue develop over the last 3 months and what should I do?";

const REQUEST: &str = "query($id: ID!) { analysisRequest(id: $id) {
    id status intent failureReason lastSequence
    tasks { department status attempts errorCount toolCalls { id tool } }
    result { summary sections { title body }
      keyFigures { key value unit provenance { toolCallId tool query } }
      visualizations { chartType data spec }
      recommendations { title rationale }
      proposedActions { kind status parameters preview requiredScopes } }
    events { sequence kind payload } } }";

async fn setup(app: &TestApp, email: &str) -> (String, String) {
    let (token, _, _) = app.register(email).await;
    let store =
        app.gql("mutation { connectDemoStore(name: \"Demo\") { id kind } }", json!({}), Some(&token)).await.ok();
    assert_eq!(store.data("/connectDemoStore/kind"), &json!("DEMO"));
    (token, store.data("/connectDemoStore/id").as_str().unwrap_or_default().to_owned())
}

async fn submit(app: &TestApp, token: &str, store: &str, prompt: &str) -> String {
    let r = app
        .gql(
            "mutation($p: String!, $s: ID!) { submitAnalysisRequest(prompt: $p, storeId: $s) { id status } }",
            json!({ "p": prompt, "s": store }),
            Some(token),
        )
        .await
        .ok();
    assert_eq!(r.data("/submitAnalysisRequest/status"), &json!("QUEUED"));
    r.data("/submitAnalysisRequest/id").as_str().unwrap_or_default().to_owned()
}

/// The analysis succeeded: its result is written (and its proposals, if
/// any, wait for a person).
pub fn assert_settled(request: &Value) {
    assert!(matches!(request["status"].as_str(), Some("AWAITING_APPROVAL" | "COMPLETED")), "{request}");
}

/// Polls until the request's analysis is over (settled or terminal); returns it.
async fn finished(app: &TestApp, token: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = app.gql(REQUEST, json!({ "id": id }), Some(token)).await.ok();
        let request = r.data("/analysisRequest").clone();
        if matches!(request["status"].as_str(), Some("AWAITING_APPROVAL" | "COMPLETED" | "FAILED" | "CANCELLED")) {
            return request;
        }
        assert!(Instant::now() < deadline, "request {id} did not finish: {request}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The demo shop's orders that move `range`'s figures: placed in it, or
/// placed before it and refunded in it.
async fn ledger(shop: &DemoStore, range: DateRange) -> Vec<Order> {
    let mut orders = shop.orders(range).await.unwrap_or_default();
    orders.extend(shop.refunded_in(range).await.unwrap_or_default());
    orders
}

/// Shopify's net sales and order count over `range`, summed here from raw
/// orders, apart from the tools: a sale on its order's shop day (gross −
/// line discounts; the demo's prices exclude tax), a return on its refund's
/// day, cancelled orders never.
fn net_sales(orders: &[Order], range: DateRange) -> (i64, i64) {
    let inside = |at| {
        let day = local_day(at, DEMO_TIME_ZONE);
        day >= range.from && day < range.to
    };
    let (mut net, mut count) = (0, 0);
    for o in orders.iter().filter(|o| o.status != OrderStatus::Cancelled) {
        if inside(o.created_at) {
            count += 1;
            net += o.lines.iter().map(|l| l.quantity * l.unit_price_cents - l.discount_cents).sum::<i64>();
        }
        for r in o.refunds.iter().filter(|r| inside(r.created_at)) {
            net -= r.lines.iter().map(|l| l.subtotal_cents).sum::<i64>();
        }
    }
    (net, count)
}

/// The period the plan chose, from its `PLAN` event.
fn planned(request: &Value) -> DateRange {
    let events = request["events"].as_array().cloned().unwrap_or_default();
    let plan = events.iter().find(|e| e["kind"] == "PLAN").unwrap_or_else(|| panic!("no plan: {request}"));
    serde_json::from_value(plan["payload"]["period"]["current"].clone()).unwrap_or_else(|e| panic!("{e}: {plan}"))
}

fn figure(request: &Value, key: &str) -> f64 {
    let figures = request["result"]["keyFigures"].as_array().cloned().unwrap_or_default();
    let found = figures.iter().find(|f| f["key"] == key).unwrap_or_else(|| panic!("no figure {key}: {figures:?}"));
    found["value"].as_f64().unwrap_or(f64::NAN)
}

fn assert_events_are_contiguous(request: &Value) {
    let events = request["events"].as_array().cloned().unwrap_or_default();
    let sequences: Vec<i64> = events.iter().filter_map(|e| e["sequence"].as_i64()).collect();
    assert_eq!(sequences, (1..=events.len() as i64).collect::<Vec<_>>(), "events numbered 1..n without gaps");
    assert_eq!(request["lastSequence"].as_i64(), sequences.last().copied());
}

/// The headline question about the demo store: correct figures (checked
/// against the raw orders), a chart, provenance and a concrete proposal.
async fn revenue_question(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (token, store) = setup(&app, "owner@revenue.example").await;
    let id = submit(&app, &token, &store, QUESTION).await;
    let request = finished(&app, &token, &id).await;
    assert_eq!(request["status"], "AWAITING_APPROVAL", "{request}");
    assert_eq!(request["intent"], "REVENUE_TREND");

    // The same three whole months of the shop's calendar, summed here from
    // the raw demo orders (refunds of earlier orders included).
    let today = local_day(Utc::now(), DEMO_TIME_ZONE);
    let this_month = today.with_day(1).unwrap_or(today);
    let from = this_month - Months::new(3);
    let shop = DemoStore::new(1, today);
    let range = DateRange { from, to: this_month };
    let previous_range = DateRange { from: from - Months::new(3), to: from };
    let ((cur, count), (prev, _)) = (
        net_sales(&ledger(&shop, range).await, range),
        net_sales(&ledger(&shop, previous_range).await, previous_range),
    );
    assert!((figure(&request, "net_revenue") - cur as f64 / 100.0).abs() < 0.006, "{cur}");
    assert_eq!(figure(&request, "orders"), count as f64);
    let t = figure(&request, "total_sales");
    let parts = figure(&request, "net_revenue") + figure(&request, "shipping") + figure(&request, "taxes");
    assert!((t - parts).abs() < 0.02, "total sales = net sales + shipping + taxes");
    let pct = ((cur - prev) as f64 / prev as f64 * 100.0 * 100.0).round() / 100.0;
    assert!((figure(&request, "net_revenue_change_pct") - pct).abs() < 0.006);

    // A line chart of the three months, with a Vega-Lite spec.
    let charts = request["result"]["visualizations"].as_array().cloned().unwrap_or_default();
    let line = charts.iter().find(|c| c["chartType"] == "LINE").unwrap_or_else(|| panic!("no line chart"));
    assert_eq!(line["spec"]["$schema"], "https://vega.github.io/schema/vega-lite/v5.json");
    let rows = line["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 3);
    let mut month = from;
    for row in &rows {
        let next = month + Months::new(1);
        let bucket = DateRange { from: month, to: next };
        let (expected, _) = net_sales(&ledger(&shop, bucket).await, bucket);
        assert!((row["netSales"].as_f64().unwrap_or(0.0) - expected as f64 / 100.0).abs() < 0.006, "{row}");
        assert_eq!(row["period"], json!(month.format("%b %Y").to_string()));
        month = next;
    }

    // Every figure cites recorded tool calls.
    let recorded: Vec<Value> = request["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| t["toolCalls"].as_array().cloned().unwrap_or_default())
        .map(|c| c["id"].clone())
        .collect();
    for f in request["result"]["keyFigures"].as_array().into_iter().flatten() {
        let sources = f["provenance"].as_array().cloned().unwrap_or_default();
        assert!(!sources.is_empty(), "figure without provenance: {f}");
        assert!(sources.iter().all(|p| recorded.contains(&p["toolCallId"])), "{f}");
    }

    // Words from the model, with the figures in them.
    let summary = request["result"]["summary"].as_str().unwrap_or_default();
    assert!(summary.contains(&from.format("%b %Y").to_string()), "{summary}");
    assert!(!request["result"]["recommendations"].as_array().cloned().unwrap_or_default().is_empty());

    // At least one concrete, pending proposal.
    let actions = request["result"]["proposedActions"].as_array().cloned().unwrap_or_default();
    let discount = actions.iter().find(|a| a["kind"] == "CREATE_DISCOUNT").unwrap_or_else(|| panic!("{actions:?}"));
    assert_eq!(discount["status"], "PENDING");
    assert!(discount["parameters"]["percentage"].as_u64().is_some_and(|p| (1..=50).contains(&p)));
    assert!(discount["preview"]["expectedEffect"]["averageOrderWithCode"].as_f64().is_some());
    assert_eq!(discount["requiredScopes"], json!(["write_discounts"]));

    // The team: four departments, each completed once.
    let departments: Vec<_> = request["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| (t["department"].clone(), t["status"].clone(), t["attempts"].clone()))
        .collect();
    assert_eq!(departments.len(), 4);
    assert!(departments.iter().all(|(_, s, a)| s == "COMPLETED" && a == 1), "{departments:?}");
    assert_events_are_contiguous(&request);
    let events = request["events"].as_array().cloned().unwrap_or_default();
    let statuses: Vec<_> =
        events.iter().filter(|e| e["kind"] == "STATUS_CHANGED").map(|e| e["payload"]["status"].clone()).collect();
    assert_eq!(statuses, vec![json!("QUEUED"), json!("PLANNING"), json!("RUNNING"), json!("AWAITING_APPROVAL")]);
    for kind in ["PLAN", "TASK_STARTED", "TOOL_CALL", "TOOL_RESULT", "PARTIAL_RESULT", "TASK_COMPLETED", "RESULT"] {
        assert!(events.iter().any(|e| e["kind"] == kind), "no {kind} event");
    }
}

async fn every_intent_answers(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (token, store) = setup(&app, "owner@intents.example").await;
    let questions = [
        ("Which products sold best last month?", "TOP_PRODUCTS", "top_product_revenue"),
        ("Who are my loyal customers?", "CUSTOMER_SEGMENTS", "loyal_customers"),
        ("What will sell out soon in stock?", "INVENTORY_RISK", "at_risk_variants"),
        ("Should I run a discount?", "DISCOUNT_OPPORTUNITIES", "discounted_order_share_pct"),
        ("Any unusual days in the last 30 days?", "ANOMALIES", "anomalous_days"),
    ];
    let mut ids = Vec::new();
    for (question, _, _) in questions {
        ids.push(submit(&app, &token, &store, question).await);
    }
    let today = local_day(Utc::now(), DEMO_TIME_ZONE);
    let shop = DemoStore::new(1, today);
    for ((_, intent, key), id) in questions.iter().zip(ids) {
        let request = finished(&app, &token, &id).await;
        assert_settled(&request);
        assert_eq!(request["intent"], *intent);
        assert!(figure(&request, key).is_finite());
        assert!(!request["result"]["visualizations"].as_array().cloned().unwrap_or_default().is_empty());
        let range = planned(&request);
        let orders = ledger(&shop, range).await;
        let (net, count) = net_sales(&orders, range);
        let sale = |o: &&Order| o.status != OrderStatus::Cancelled && range.contains(o.created_at, DEMO_TIME_ZONE);
        match *intent {
            "TOP_PRODUCTS" => {
                // Per product: its lines' net as sold, less its returns in the range.
                let mut by_product = std::collections::HashMap::<u64, i64>::new();
                for o in orders.iter().filter(|o| o.status != OrderStatus::Cancelled) {
                    if range.contains(o.created_at, DEMO_TIME_ZONE) {
                        for l in &o.lines {
                            *by_product.entry(l.product_id).or_default() +=
                                l.quantity * l.unit_price_cents - l.discount_cents;
                        }
                    }
                    for r in o.refunds.iter().filter(|r| range.contains(r.created_at, DEMO_TIME_ZONE)) {
                        for l in &r.lines {
                            *by_product.entry(l.product_id).or_default() -= l.subtotal_cents;
                        }
                    }
                }
                let best = by_product.values().copied().max().unwrap_or(0);
                assert!((figure(&request, key) - best as f64 / 100.0).abs() < 0.006, "{best}");
                let share: i64 = {
                    let mut v: Vec<i64> = by_product.values().copied().collect();
                    v.sort_unstable_by(|a, b| b.cmp(a));
                    v.iter().take(5).sum()
                };
                let total: i64 = by_product.values().sum();
                let expected = share as f64 * 100.0 / total as f64;
                let got = figure(&request, "top5_share_pct");
                assert!((got - expected).abs() < 0.011, "top five share {got} vs {expected} ({by_product:?})");
                let _ = net;
            }
            "CUSTOMER_SEGMENTS" => {
                let year = DateRange { from: today - chrono::Duration::days(365), to: today };
                let all = ledger(&shop, year).await;
                let placed: Vec<&Order> = all
                    .iter()
                    .filter(|o| o.status != OrderStatus::Cancelled && year.contains(o.created_at, DEMO_TIME_ZONE))
                    .collect();
                let customers: std::collections::HashSet<u64> = placed.iter().filter_map(|o| o.customer_id).collect();
                let guests = placed.iter().filter(|o| o.customer_id.is_none()).count();
                assert_eq!(figure(&request, "active_customers"), customers.len() as f64);
                assert_eq!(figure(&request, "guest_orders"), guests as f64);
                assert!(guests > 0, "the demo shop has guest checkouts");
                let segments: f64 = ["new", "loyal", "returning", "at_risk", "lapsed"]
                    .iter()
                    .map(|k| figure(&request, &format!("{k}_customers")))
                    .sum();
                assert_eq!(segments, customers.len() as f64, "guests are in no segment");
            }
            "INVENTORY_RISK" => {
                let products = shop.products().await.unwrap_or_default();
                let mut sold = std::collections::HashMap::<u64, i64>::new();
                for l in orders.iter().filter(sale).flat_map(|o| &o.lines) {
                    *sold.entry(l.variant_id).or_default() += l.quantity;
                }
                let days = range.days() as f64;
                let cover = |v: &alatar_agents::store::Variant| {
                    let s = sold.get(&v.id).copied().unwrap_or(0);
                    (s > 0).then(|| (v.inventory_quantity as f64 / (s as f64 / days) * 10.0).round() / 10.0)
                };
                let at_risk =
                    products.iter().flat_map(|p| &p.variants).filter(|v| cover(v).is_some_and(|c| c < 14.0)).count();
                let over = products
                    .iter()
                    .filter(|p| p.status != ProductStatus::Archived)
                    .flat_map(|p| &p.variants)
                    .filter(|v| v.inventory_quantity > 0 && cover(v).is_none_or(|c| c > 120.0))
                    .count();
                assert_eq!(figure(&request, "at_risk_variants"), at_risk as f64);
                assert_eq!(figure(&request, "overstocked_variants"), over as f64, "archived stock is not overstock");
            }
            "DISCOUNT_OPPORTUNITIES" => {
                let placed: Vec<&Order> = orders.iter().filter(sale).collect();
                let discounted = placed.iter().filter(|o| !o.discounts.is_empty()).count();
                let share = (discounted as f64 * 100.0 / placed.len().max(1) as f64 * 100.0).round() / 100.0;
                assert!((figure(&request, key) - share).abs() < 0.006, "{share}");
                let cost: i64 = placed.iter().flat_map(|o| &o.lines).map(|l| l.discount_cents).sum();
                assert!(
                    (figure(&request, "discount_cost") - cost as f64 / 100.0).abs() < 0.006,
                    "automatic discounts count too"
                );
                assert_eq!(count as usize, placed.len());
            }
            "ANOMALIES" => {
                // The median day, from the raw orders day by day.
                let mut days = Vec::new();
                let mut day = range.from;
                while day < range.to {
                    let one = DateRange { from: day, to: day + chrono::Duration::days(1) };
                    days.push(net_sales(&orders, one).0 as f64 / 100.0);
                    day += chrono::Duration::days(1);
                }
                days.sort_by(f64::total_cmp);
                let mid = days.len() / 2;
                let median = if days.len() % 2 == 0 { (days[mid - 1] + days[mid]) / 2.0 } else { days[mid] };
                assert!((figure(&request, "daily_mean_revenue") - median).abs() < 0.011, "{median}");
            }
            other => panic!("unexpected intent {other}"),
        }
    }
}

async fn submission_is_validated(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (token, store) = setup(&app, "owner@validate.example").await;
    let (other, other_store) = setup(&app, "owner@other.example").await;
    let q = "mutation($p: String!, $s: ID!) { submitAnalysisRequest(prompt: $p, storeId: $s) { id } }";
    let empty = app.gql(q, json!({ "p": "   ", "s": store }), Some(&token)).await;
    assert_eq!(empty.code(), Some("BAD_USER_INPUT"));
    assert_eq!(empty.body["errors"][0]["extensions"]["field"], "prompt");
    let long = app.gql(q, json!({ "p": "x".repeat(4001), "s": store }), Some(&token)).await;
    assert_eq!(long.code(), Some("BAD_USER_INPUT"));
    let unknown = app.gql(q, json!({ "p": QUESTION, "s": Uuid::now_v7().to_string() }), Some(&token)).await;
    assert_eq!(unknown.code(), Some("NOT_FOUND"));
    let foreign = app.gql(q, json!({ "p": QUESTION, "s": other_store }), Some(&token)).await;
    assert_eq!(foreign.code(), Some("NOT_FOUND"), "another account's store does not exist for us");
    let bad_id = app.gql(q, json!({ "p": QUESTION, "s": "nope" }), Some(&token)).await;
    assert_eq!(bad_id.code(), Some("BAD_USER_INPUT"));
    let anonymous = app.gql(q, json!({ "p": QUESTION, "s": store }), None).await;
    assert_eq!(anonymous.code(), Some("UNAUTHENTICATED"));
    // Nothing half-written.
    let list = app.gql("{ listAnalysisRequests { edges { node { id } } } }", json!({}), Some(&token)).await.ok();
    assert_eq!(list.data("/listAnalysisRequests/edges"), &json!([]));
    let _ = other;
}

/// The request ids on a `listAnalysisRequests` page, in order.
fn ids_of(page: &Gql) -> Vec<Value> {
    page.data("/listAnalysisRequests/edges").as_array().into_iter().flatten().map(|e| e["node"]["id"].clone()).collect()
}

async fn list_filter_and_cancel(backend: Backend) {
    // No worker: requests stay QUEUED until we act.
    let app = TestApp::with_config(backend, |c| c.pipeline.worker = false).await;
    let (token, store) = setup(&app, "owner@list.example").await;
    let (other, _) = setup(&app, "owner@elsewhere.example").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(submit(&app, &token, &store, &format!("Revenue question {i}")).await);
    }
    let page = "query($a: String, $s: AnalysisStatus) { listAnalysisRequests(first: 2, after: $a, status: $s) {
        edges { cursor node { id status } } pageInfo { hasNextPage endCursor } } }";
    let first = app.gql(page, json!({}), Some(&token)).await.ok();
    let got = ids_of(&first);
    assert_eq!(got, vec![json!(ids[2]), json!(ids[1])], "newest first");
    assert_eq!(first.data("/listAnalysisRequests/pageInfo/hasNextPage"), &json!(true));
    let cursor = first.data("/listAnalysisRequests/pageInfo/endCursor").clone();
    let second = app.gql(page, json!({ "a": cursor }), Some(&token)).await.ok();
    let got = ids_of(&second);
    assert_eq!(got, vec![json!(ids[0])]);
    assert_eq!(second.data("/listAnalysisRequests/pageInfo/hasNextPage"), &json!(false));

    let cancel = "mutation($id: ID!) { cancelAnalysisRequest(id: $id) { status failureReason finishedAt } }";
    let foreign = app.gql(cancel, json!({ "id": ids[1] }), Some(&other)).await;
    assert_eq!(foreign.code(), Some("NOT_FOUND"));
    let cancelled = app.gql(cancel, json!({ "id": ids[1] }), Some(&token)).await.ok();
    assert_eq!(cancelled.data("/cancelAnalysisRequest/status"), &json!("CANCELLED"));
    assert!(cancelled.data("/cancelAnalysisRequest/finishedAt").is_string(), "a cancelled request has ended");
    let again = app.gql(cancel, json!({ "id": ids[1] }), Some(&token)).await;
    assert_eq!(again.code(), Some("CONFLICT"));
    let only = app.gql(page, json!({ "s": "CANCELLED" }), Some(&token)).await.ok();
    assert_eq!(only.data("/listAnalysisRequests/edges").as_array().map(Vec::len), Some(1));
    let theirs = app.gql(page, json!({}), Some(&other)).await.ok();
    assert_eq!(theirs.data("/listAnalysisRequests/edges"), &json!([]));
    let peek =
        app.gql("query($id: ID!) { analysisRequest(id: $id) { id } }", json!({ "id": ids[0] }), Some(&other)).await;
    assert_eq!(peek.code(), Some("NOT_FOUND"));

    // A worker started now does the two that are left, and skips the cancelled one.
    let worker = Worker::start(app.pipeline().clone(), true).await.unwrap_or_else(|e| panic!("{e}"));
    for id in [&ids[0], &ids[2]] {
        assert_settled(&finished(&app, &token, id).await);
    }
    let c = finished(&app, &token, &ids[1]).await;
    assert_eq!(c["status"], "CANCELLED");
    assert_eq!(c["tasks"], json!([]));
    worker.stop().await;
}

async fn count_rows(p: &Pipeline, request: Uuid) -> (u64, u64, u64, u64, u64) {
    let db = &p.db;
    (
        analysis_event::Entity::find()
            .filter(analysis_event::Column::RequestId.eq(request))
            .count(db)
            .await
            .unwrap_or(0),
        agent_task::Entity::find().filter(agent_task::Column::RequestId.eq(request)).count(db).await.unwrap_or(0),
        tool_call::Entity::find().filter(tool_call::Column::RequestId.eq(request)).count(db).await.unwrap_or(0),
        analysis_result::Entity::find()
            .filter(analysis_result::Column::RequestId.eq(request))
            .count(db)
            .await
            .unwrap_or(0),
        proposed_action::Entity::find()
            .filter(proposed_action::Column::RequestId.eq(request))
            .count(db)
            .await
            .unwrap_or(0),
    )
}

/// Every message of a finished request delivered again changes nothing.
async fn redelivery_is_idempotent(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (token, store) = setup(&app, "owner@redeliver.example").await;
    let id = submit(&app, &token, &store, QUESTION).await;
    assert_settled(&finished(&app, &token, &id).await);
    let request = Uuid::parse_str(&id).unwrap_or_default();
    let before = count_rows(app.pipeline(), request).await;
    let p = app.pipeline();
    let tasks = agent_task::Entity::find()
        .filter(agent_task::Column::RequestId.eq(request))
        .all(&p.db)
        .await
        .unwrap_or_default();
    let mut messages = vec![Message::Advance { request_id: request, redispatch: true }];
    for t in &tasks {
        let department = Department::from_name(&t.department).unwrap_or(Department::DataRetrieval);
        messages.push(Message::RunTask { request_id: request, task_id: t.id, department });
    }
    for m in messages.iter().chain(messages.iter()) {
        let body = serde_json::to_vec(m).unwrap_or_default();
        p.queue.publish(m.queue(), Uuid::now_v7(), &body).await.unwrap_or_else(|e| panic!("{e}"));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(count_rows(app.pipeline(), request).await, before);
}

/// A store that always fails: every tool call on it errors.
struct BrokenStores;
struct BrokenStore;

#[async_trait]
impl StoreData for BrokenStore {
    fn currency(&self) -> &str {
        "USD"
    }
    fn time_zone(&self) -> Tz {
        Tz::UTC
    }
    async fn orders(&self, _: DateRange) -> Result<Vec<Order>, StoreError> {
        Err(StoreError::Unavailable("upstream 503".into()))
    }
    async fn refunded_in(&self, _: DateRange) -> Result<Vec<Order>, StoreError> {
        Err(StoreError::Unavailable("upstream 503".into()))
    }
    async fn products(&self) -> Result<Vec<Product>, StoreError> {
        Err(StoreError::Unavailable("upstream 503".into()))
    }
    async fn customers(&self) -> Result<Vec<Customer>, StoreError> {
        Err(StoreError::Unavailable("upstream 503".into()))
    }
}

#[async_trait]
impl StoreResolver for BrokenStores {
    async fn resolve(&self, _: &store::Model, _: NaiveDate) -> Result<Arc<dyn StoreData>, StoreError> {
        Ok(Arc::new(BrokenStore))
    }
    async fn writer(&self, _: &store::Model) -> Result<Arc<dyn alatar_agents::actions::StoreWriter>, StoreError> {
        Ok(Arc::new(alatar_agents::actions::ReadOnlyStore))
    }
}

/// Tool errors are retried with backoff and counted; at five the task and
/// the request fail with the reason, reported upward.
async fn five_tool_errors_fail_the_task(backend: Backend) {
    let app = TestApp::with_config(backend, |c| c.pipeline.worker = false).await;
    let (token, store) = setup(&app, "owner@broken.example").await;
    let mut p = app.pipeline().clone();
    p.stores = Arc::new(BrokenStores);
    p.config.tool_backoff = Duration::from_millis(1);
    let worker = Worker::start(p, false).await.unwrap_or_else(|e| panic!("{e}"));
    let id = submit(&app, &token, &store, QUESTION).await;
    let request = finished(&app, &token, &id).await;
    assert_eq!(request["status"], "FAILED");
    let reason = request["failureReason"].as_str().unwrap_or_default();
    assert!(reason.contains("DataRetrieval") && reason.contains("5 errors"), "{reason}");
    let task = &request["tasks"][0];
    assert_eq!((task["status"].clone(), task["errorCount"].clone()), (json!("FAILED"), json!(5)));
    assert!(request["tasks"].as_array().into_iter().flatten().skip(1).all(|t| t["status"] == "CANCELLED"));
    let errors: Vec<&Value> =
        request["events"].as_array().into_iter().flatten().filter(|e| e["kind"] == "TOOL_ERROR").collect();
    let attempts: Vec<i64> = errors.iter().filter_map(|e| e["payload"]["attempt"].as_i64()).collect();
    assert_eq!(attempts, vec![1, 2, 3, 4, 5], "every failed attempt recorded");
    for error in errors {
        let payload = &error["payload"];
        assert!(payload["input"].is_object() && payload["durationMs"].is_number(), "{payload}");
    }
    assert_eq!(request["result"], Value::Null);
    worker.stop().await;
}

/// Fails every delivery of tasks whose prompt says "poison".
struct PoisonedQuant;

#[async_trait]
impl DepartmentAgent for PoisonedQuant {
    fn department(&self) -> Department {
        Department::QuantitativeAnalysis
    }
    async fn work(&self, task: &TaskContext, tools: &mut ToolRunner) -> Result<Value, TaskFailure> {
        if task.prompt.contains("poison") {
            return Err(TaskFailure::Infrastructure(anyhow::anyhow!("this message always fails")));
        }
        QuantitativeAgent.work(task, tools).await
    }
}

/// A message that always fails is dead-lettered after the delivery limit and
/// its request fails with the reason; other requests are unaffected.
async fn poison_messages_are_dead_lettered(backend: Backend) {
    poisoned(TestApp::with_config(backend, |c| c.pipeline.worker = false).await).await;
}

/// The same on the production engines: RabbitMQ's own delivery limit and
/// dead-letter exchange count the deliveries, not our code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_are_dead_lettered_by_rabbitmq() {
    poisoned(TestApp::production(false).await.0).await;
}

async fn poisoned(app: TestApp) {
    let (token, store) = setup(&app, "owner@poison.example").await;
    let mut p = app.pipeline().clone();
    p.departments = Departments::standard().with(Arc::new(PoisonedQuant));
    let worker = Worker::start(p, false).await.unwrap_or_else(|e| panic!("{e}"));
    let poisoned = submit(&app, &token, &store, "poison: how did revenue develop?").await;
    let healthy = submit(&app, &token, &store, QUESTION).await;
    let request = finished(&app, &token, &poisoned).await;
    assert_eq!(request["status"], "FAILED");
    let reason = request["failureReason"].as_str().unwrap_or_default();
    assert!(reason.contains("dead-lettered") && reason.contains("quantitative_analysis"), "{reason}");
    assert_eq!(request["tasks"][1]["attempts"], json!(5), "delivered exactly max_deliveries times");
    assert_settled(&finished(&app, &token, &healthy).await);
    worker.stop().await;
}

/// Holds its task until released, telling when it has started.
struct HeldQuant {
    started: Arc<tokio::sync::Notify>,
    release: Arc<tokio::sync::Notify>,
}

#[async_trait]
impl DepartmentAgent for HeldQuant {
    fn department(&self) -> Department {
        Department::QuantitativeAnalysis
    }
    async fn work(&self, task: &TaskContext, tools: &mut ToolRunner) -> Result<Value, TaskFailure> {
        self.started.notify_one();
        self.release.notified().await;
        QuantitativeAgent.work(task, tools).await
    }
}

/// Cancelling a running analysis: it ends `CANCELLED` with its times, its
/// open tasks are cancelled, the department still working finds nothing to
/// commit when it finishes, and a watcher's stream ends after the event.
async fn cancel_while_running(backend: Backend) {
    let app = TestApp::with_config(backend, |c| c.pipeline.worker = false).await;
    let (token, store) = setup(&app, "owner@cancel.example").await;
    let (started, release) = (Arc::new(tokio::sync::Notify::new()), Arc::new(tokio::sync::Notify::new()));
    let mut p = app.pipeline().clone();
    p.departments =
        Departments::standard().with(Arc::new(HeldQuant { started: started.clone(), release: release.clone() }));
    let worker = Worker::start(p.clone(), false).await.unwrap_or_else(|e| panic!("{e}"));
    let id = submit(&app, &token, &store, QUESTION).await;
    let request = Uuid::parse_str(&id).unwrap_or_default();
    let mut stream = Box::pin(watch(p.db.clone(), p.bus.clone(), request, 0));
    tokio::time::timeout(Duration::from_secs(30), started.notified())
        .await
        .unwrap_or_else(|_| panic!("the quantitative task never started"));

    let cancel = "mutation($id: ID!) { cancelAnalysisRequest(id: $id) { status startedAt finishedAt } }";
    let cancelled = app.gql(cancel, json!({ "id": id }), Some(&token)).await.ok();
    assert_eq!(cancelled.data("/cancelAnalysisRequest/status"), &json!("CANCELLED"));
    assert!(cancelled.data("/cancelAnalysisRequest/startedAt").is_string(), "it had started");
    assert!(cancelled.data("/cancelAnalysisRequest/finishedAt").is_string(), "it has ended");
    release.notify_one();

    let mut last = None;
    while let Some(event) = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .unwrap_or_else(|_| panic!("the stream did not end after CANCELLED"))
    {
        last = Some(event.unwrap_or_else(|e| panic!("{e}")));
    }
    let last = last.unwrap_or_else(|| panic!("no events"));
    assert_eq!((last.kind.as_str(), last.payload["status"].clone()), ("STATUS_CHANGED", json!("CANCELLED")));

    // Give the released department time to try its commit, then look.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = finished(&app, &token, &id).await;
    assert_eq!(after["status"], "CANCELLED");
    assert_eq!(after["result"], Value::Null);
    assert_eq!(after["lastSequence"].as_i64(), Some(last.sequence), "nothing written after the cancel");
    let statuses: Vec<&str> =
        after["tasks"].as_array().into_iter().flatten().filter_map(|t| t["status"].as_str()).collect();
    assert_eq!(statuses, vec!["COMPLETED", "CANCELLED", "CANCELLED", "CANCELLED"], "{after}");
    worker.stop().await;
}

/// Replay then live, no gap, no duplicate; a reconnect with the last
/// sequence seen gets exactly the rest; a finished request's stream ends.
async fn watch_replays_then_streams(backend: Backend) {
    let app = TestApp::with_config(backend, |c| c.pipeline.worker = false).await;
    let (token, store) = setup(&app, "owner@watch.example").await;
    let id = submit(&app, &token, &store, QUESTION).await;
    let request = Uuid::parse_str(&id).unwrap_or_default();
    let p = app.pipeline().clone();
    let mut stream = Box::pin(watch(p.db.clone(), p.bus.clone(), request, 0));
    let first = stream.next().await.and_then(Result::ok).map(|e| (e.sequence, e.payload["status"].clone()));
    assert_eq!(first, Some((1, json!("QUEUED"))), "replayed before any worker ran");
    let worker = Worker::start(p.clone(), true).await.unwrap_or_else(|e| panic!("{e}"));
    let mut seen = vec![1];
    let mut took = 0;
    while let Some(event) = tokio::time::timeout(Duration::from_secs(30), stream.next()).await.ok().flatten() {
        let event = event.unwrap_or_else(|e| panic!("{e}"));
        seen.push(event.sequence);
        took += 1;
        // The stream stays open while proposals wait for a person.
        if event.payload["status"] == "AWAITING_APPROVAL" {
            break;
        }
        if took == 10 {
            // Reconnect mid-way with the last sequence seen.
            stream = Box::pin(watch(p.db.clone(), p.bus.clone(), request, event.sequence));
        }
    }
    let total = finished(&app, &token, &id).await["lastSequence"].as_i64().unwrap_or(0);
    assert_eq!(seen, (1..=total).collect::<Vec<_>>(), "every event once, in order, then the end");
    let late = event_sequences(&p, request, total - 2).await;
    assert_eq!(late, vec![total - 1, total]);
    worker.stop().await;
}

/// Embedded mode: requests left unfinished by a stopped server finish when
/// the next one starts.
async fn unfinished_requests_resume_after_restart(backend: Backend) {
    let app = TestApp::with_config(backend, |c| c.pipeline.worker = false).await;
    let (token, store) = setup(&app, "owner@restart.example").await;
    let id = submit(&app, &token, &store, QUESTION).await;
    let mut config = alatar_tests::test_config(&app.db.dir);
    config.pipeline.worker = true;
    let restarted =
        Application::build_with_database(config, app.db.conn.clone()).await.unwrap_or_else(|e| panic!("{e}"));
    let request = Uuid::parse_str(&id).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !alatar_entity::analysis_request::Entity::find_by_id(request)
        .one(&restarted.pipeline().db)
        .await
        .ok()
        .flatten()
        .is_some_and(|r| r.status.is_settled())
    {
        assert!(Instant::now() < deadline, "the request did not resume");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_settled(&finished(&app, &token, &id).await);
}

on_both_backends! {
    revenue_question_is_answered => revenue_question;
    every_intent_is_answered => every_intent_answers;
    submissions_are_validated => submission_is_validated;
    requests_are_listed_filtered_and_cancelled => list_filter_and_cancel;
    running_requests_are_cancelled => cancel_while_running;
    redelivered_messages_change_nothing => redelivery_is_idempotent;
    tool_errors_fail_the_task_at_five => five_tool_errors_fail_the_task;
    poison_messages_are_dead_lettered => poison_messages_are_dead_lettered;
    events_replay_then_stream => watch_replays_then_streams;
    unfinished_requests_resume => unfinished_requests_resume_after_restart;
}

/// Production engines: RabbitMQ queues, Redis pub/sub, PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_on_rabbitmq_redis_and_postgres() {
    let (app, _) = TestApp::production(true).await;
    let (token, store) = setup(&app, "owner@production.example").await;
    let id = submit(&app, &token, &store, QUESTION).await;
    let request = Uuid::parse_str(&id).unwrap_or_default();
    let p = app.pipeline().clone();
    let events: Vec<i64> = tokio::time::timeout(Duration::from_secs(60), event_sequences(&p, request, 0))
        .await
        .unwrap_or_else(|_| panic!("no terminal event within 60 s"));
    let done = finished(&app, &token, &id).await;
    assert_settled(&done);
    assert_eq!(events, (1..=done["lastSequence"].as_i64().unwrap_or(0)).collect::<Vec<_>>());
    let ready = app.send(axum::http::Request::get("/readyz").body(axum::body::Body::empty()).unwrap_or_default()).await;
    let body: Value = serde_json::from_slice(&ready.2).unwrap_or_default();
    assert_eq!(body["checks"]["queue"], json!(true), "{body}");
}
