//! Dashboards through the API on both engines: charts drawn from SQL over
//! an uploaded dataset (their rows checked against sums computed here from
//! the raw CSV), from a spec with inline rows; inputs that cannot make a
//! chart are `BAD_USER_INPUT` naming the field; a deleted dataset leaves
//! its charts reported broken; viewers read and export but do not edit;
//! another account sees nothing; share links open a read-only view with
//! no ids or SQL until revoked; exports download as a PNG that decodes and
//! a PDF that parses, behind links a tampered or expired signature does
//! not open; `dashboardUpdates` pushes a chart's new rows when its dataset
//! reloads, and lets go of the bus when the client goes.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use uuid::Uuid;

use alatar_agents::dashboards::download::DownloadSigner;
use alatar_tests::{Backend, Gql, TEST_JWT_SECRET, TestApp, on_both_backends};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const PASSWORD: &str = "correct horse battery";

/// Six months of two regions' sales; one revenue is missing.
const SALES_CSV: &str = "month,region,revenue,orders
2026-01-01,north,100.5,3
2026-01-01,south,200.25,5
2026-02-01,north,150,4
2026-02-01,south,,2
2026-03-01,north,300.75,6
2026-03-01,south,50,1
";

const BY_REGION: &str = "SELECT region, SUM(revenue) AS revenue FROM data GROUP BY region ORDER BY region";
const BY_MONTH: &str = "SELECT month, SUM(orders) AS orders FROM data GROUP BY month ORDER BY month";

const CREATE: &str = "mutation($n: String!, $l: DashboardLayoutInput) {
    createDashboard(name: $n, layout: $l) { id name layout { columns rowHeight width } } }";
const ADD: &str = "mutation($d: ID!, $i: VisualizationInput!) { addVisualization(dashboardId: $d, input: $i) {
    id title chartType datasetId sql position { x y w h } encoding { x y } columns rows truncated error spec svg } }";
const UPDATE: &str = "mutation($id: ID!, $i: VisualizationInput!) { updateVisualization(id: $id, input: $i) {
    id title position { x y w h } rows } }";
const REMOVE: &str = "mutation($id: ID!) { removeVisualization(id: $id) { id visualizations { id } } }";
const DASHBOARD: &str = "query($id: ID!) { dashboard(id: $id) { id name updatedAt
    visualizations { id title chartType rows error }
    brokenVisualizations { visualizationId title field message }
    shares { id active revokedAt } } }";
const DASHBOARDS: &str = "{ dashboards(first: 10) { edges { node { id name } } } }";
const DELETE: &str = "mutation($id: ID!) { deleteDashboard(id: $id) }";
const SHARE: &str = "mutation($id: ID!) { shareDashboard(id: $id) { id token active } }";
const REVOKE: &str = "mutation($id: ID!) { revokeShare(id: $id) { id active revokedAt } }";
const SHARED: &str = "query($t: String!) { sharedDashboard(token: $t) { name layout { columns }
    visualizations { title chartType position { x y w h } columns rows error spec svg } svg } }";
const EXPORT: &str = "mutation($id: ID!, $f: ExportFormat!) { exportDashboard(id: $id, format: $f) {
    id url format contentType bytes expiresAt } }";

fn must<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

fn text(answer: &Gql, pointer: &str) -> String {
    answer.data(pointer).as_str().unwrap_or_else(|| panic!("no {pointer}: {}", answer.body)).to_owned()
}

fn field_of(answer: &Gql) -> Value {
    answer.body.pointer("/errors/0/extensions/field").cloned().unwrap_or(Value::Null)
}

/// Revenue by region, summed here from the CSV text (a missing value adds nothing).
fn revenue_by_region() -> BTreeMap<String, f64> {
    let mut sums = BTreeMap::new();
    for line in SALES_CSV.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let revenue: f64 = cells[2].parse().unwrap_or(0.0);
        *sums.entry(cells[1].to_owned()).or_insert(0.0) += revenue;
    }
    sums
}

/// Uploads the sales and waits for the load; the dataset's id.
async fn loaded(app: &TestApp, token: &str, name: &str) -> String {
    let job = app.upload_dataset(token, name, "sales.csv", SALES_CSV.as_bytes(), "id datasetId").await.ok();
    let (job_id, dataset) = (text(&job, "/uploadDataset/id"), text(&job, "/uploadDataset/datasetId"));
    settled(app, token, &job_id).await;
    dataset
}

/// Polls job `id` until it ends COMPLETED.
async fn settled(app: &TestApp, token: &str, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let found =
            app.gql("query($id: ID!) { job(id: $id) { status error } }", json!({ "id": id }), Some(token)).await;
        match found.data("/job/status").as_str() {
            Some("COMPLETED") => return,
            Some("FAILED" | "CANCELLED") => panic!("job {id} ended: {}", found.body),
            _ => {}
        }
        assert!(Instant::now() < deadline, "job {id} did not end");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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

async fn create(app: &TestApp, token: &str, name: &str) -> String {
    let made = app.gql(CREATE, json!({ "n": name }), Some(token)).await.ok();
    text(&made, "/createDashboard/id")
}

async fn add(app: &TestApp, token: &str, dashboard: &str, input: Value) -> Gql {
    app.gql(ADD, json!({ "d": dashboard, "i": input }), Some(token)).await
}

fn sql_chart(title: &str, chart_type: &str, dataset: &str, sql: &str, x: u32, y: u32) -> Value {
    json!({ "title": title, "chartType": chart_type, "datasetId": dataset, "sql": sql,
            "position": { "x": x, "y": y, "w": 6, "h": 4 } })
}

/// A dashboard with a bar chart of revenue by region, a line of orders by
/// month and a pie from inline rows; (dashboard, [chart ids]).
async fn sales_dashboard(app: &TestApp, token: &str, dataset: &str) -> (String, Vec<String>) {
    let dashboard = create(app, token, "Sales").await;
    let bar = add(app, token, &dashboard, sql_chart("Revenue by region", "BAR", dataset, BY_REGION, 0, 0)).await.ok();
    let line = add(app, token, &dashboard, sql_chart("Orders by month", "LINE", dataset, BY_MONTH, 6, 0)).await.ok();
    let spec = json!({ "data": { "values": [
        { "channel": "online", "share": 1 }, { "channel": "retail", "share": 1 }, { "channel": "wholesale", "share": 2 } ] } });
    let pie = add(
        app,
        token,
        &dashboard,
        json!({ "title": "Channels", "chartType": "PIE", "spec": spec,
        "position": { "x": 0, "y": 4, "w": 4, "h": 4 } }),
    )
    .await
    .ok();
    let ids = [bar, line, pie].iter().map(|a| text(a, "/addVisualization/id")).collect();
    (dashboard, ids)
}

async fn charts_draw_their_data_and_report_broken_ones(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("owner@dashboards.example").await;
    let dataset = loaded(&app, &owner, "Sales").await;

    let made = app.gql(CREATE, json!({ "n": "  Sales  " }), Some(&owner)).await.ok();
    assert_eq!(made.data("/createDashboard/name"), &json!("Sales"));
    assert_eq!(made.data("/createDashboard/layout"), &json!({ "columns": 12, "rowHeight": 80, "width": 1200 }));
    let dashboard = text(&made, "/createDashboard/id");

    // Revenue by region, as summed here from the raw rows.
    let bar =
        add(&app, &owner, &dashboard, sql_chart("Revenue by region", "BAR", &dataset, BY_REGION, 0, 0)).await.ok();
    let chart = bar.data("/addVisualization");
    assert_eq!(chart["columns"], json!(["region", "revenue"]));
    assert_eq!(chart["encoding"], json!({ "x": "region", "y": ["revenue"] }));
    let expected = revenue_by_region();
    let rows = chart["rows"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), expected.len(), "{rows:?}");
    for (row, (region, sum)) in rows.iter().zip(&expected) {
        assert_eq!(row[0], json!(region));
        let got = row[1].as_f64().unwrap_or(f64::NAN);
        assert!((got - sum).abs() < 1e-9, "{region}: {got} vs {sum}");
    }
    assert_eq!(chart["error"], Value::Null);
    assert_eq!(chart["truncated"], json!(false));
    let svg = chart["svg"].as_str().unwrap_or_default();
    assert!(svg.starts_with("<svg") && svg.contains("north") && svg.contains("south"), "{svg}");
    assert_eq!(chart["spec"]["$schema"], json!("https://vega.github.io/schema/vega-lite/v5.json"));
    assert_eq!(chart["spec"]["data"]["values"].as_array().map(Vec::len), Some(2));

    // What cannot make a chart is refused, naming the field.
    let refused = [
        (sql_chart("Writes", "BAR", &dataset, "DELETE FROM data", 0, 4), "sql"),
        (sql_chart("Missing", "BAR", &dataset, "SELECT nope FROM data", 0, 4), "sql"),
        (
            json!({ "title": "No source", "chartType": "BAR", "position": { "x": 0, "y": 4, "w": 6, "h": 4 } }),
            "datasetId",
        ),
        (sql_chart("Off the grid", "BAR", &dataset, BY_REGION, 8, 4), "position"),
        (sql_chart("Unknown dataset", "BAR", &Uuid::now_v7().to_string(), BY_REGION, 0, 4), "datasetId"),
        (sql_chart("", "BAR", &dataset, BY_REGION, 0, 4), "title"),
        (
            json!({ "title": "Bad spec", "chartType": "PIE", "spec": { "data": 1 },
                 "position": { "x": 0, "y": 4, "w": 6, "h": 4 } }),
            "spec",
        ),
    ];
    for (input, field) in refused {
        let answer = add(&app, &owner, &dashboard, input.clone()).await;
        assert_eq!(answer.code(), Some("BAD_USER_INPUT"), "{input}: {}", answer.body);
        assert_eq!(field_of(&answer), json!(field), "{input}: {}", answer.body);
    }
    let mut unknown_measure = sql_chart("Unknown measure", "BAR", &dataset, BY_REGION, 0, 4);
    unknown_measure["encoding"] = json!({ "y": ["profit"] });
    let answer = add(&app, &owner, &dashboard, unknown_measure).await;
    assert_eq!((answer.code(), field_of(&answer)), (Some("BAD_USER_INPUT"), json!("encoding")), "{}", answer.body);

    let line = add(&app, &owner, &dashboard, sql_chart("Orders by month", "LINE", &dataset, BY_MONTH, 6, 0)).await.ok();
    let orders: Vec<i64> = line
        .data("/addVisualization/rows")
        .as_array()
        .map(|rows| rows.iter().filter_map(|r| r[1].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(orders, [8, 6, 7]);
    let line_id = text(&line, "/addVisualization/id");

    // Moved and renamed; then removed.
    let moved = app
        .gql(
            UPDATE,
            json!({ "id": line_id, "i": { "title": "Orders", "position": { "x": 0, "y": 4, "w": 12, "h": 3 } } }),
            Some(&owner),
        )
        .await
        .ok();
    assert_eq!(moved.data("/updateVisualization/title"), &json!("Orders"));
    assert_eq!(moved.data("/updateVisualization/position"), &json!({ "x": 0, "y": 4, "w": 12, "h": 3 }));
    assert_eq!(moved.data("/updateVisualization/rows/0/1"), &json!(8));
    let removed = app.gql(REMOVE, json!({ "id": line_id }), Some(&owner)).await.ok();
    assert_eq!(removed.data("/removeVisualization/visualizations").as_array().map(Vec::len), Some(1));

    let listed = app.gql(DASHBOARDS, json!({}), Some(&owner)).await.ok();
    assert_eq!(listed.data("/dashboards/edges/0/node/id"), &json!(dashboard));

    // The dataset goes; the chart stays, reported broken.
    app.gql("mutation($id: ID!) { deleteDataset(id: $id) }", json!({ "id": dataset }), Some(&owner)).await.ok();
    let after = app.gql(DASHBOARD, json!({ "id": dashboard }), Some(&owner)).await.ok();
    let charts = after.data("/dashboard/visualizations").clone();
    assert_eq!(charts.as_array().map(Vec::len), Some(1), "{charts}");
    assert_eq!(charts[0]["rows"], Value::Null);
    assert!(charts[0]["error"].as_str().is_some_and(|e| e.contains("deleted")), "{charts}");
    let broken = after.data("/dashboard/brokenVisualizations");
    assert_eq!(broken[0]["field"], json!("datasetId"), "{broken}");
    assert_eq!(broken[0]["title"], json!("Revenue by region"));

    let gone = app.gql(DELETE, json!({ "id": dashboard }), Some(&owner)).await.ok();
    assert_eq!(gone.data("/deleteDashboard"), &json!(dashboard));
    let answer = app.gql(DASHBOARD, json!({ "id": dashboard }), Some(&owner)).await;
    assert_eq!(answer.code(), Some("NOT_FOUND"));
}

async fn viewers_read_and_other_accounts_see_nothing(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("owner@dashboard-roles.example").await;
    let dataset = loaded(&app, &owner, "Sales").await;
    let (dashboard, charts) = sales_dashboard(&app, &owner, &dataset).await;
    let viewer = member(&app, &owner, "viewer@dashboard-roles.example", "VIEWER").await;
    let analyst = member(&app, &owner, "analyst@dashboard-roles.example", "ANALYST").await;

    let read = app.gql(DASHBOARD, json!({ "id": dashboard }), Some(&viewer)).await.ok();
    assert_eq!(read.data("/dashboard/visualizations").as_array().map(Vec::len), Some(3));
    let exported = app.gql(EXPORT, json!({ "id": dashboard, "f": "PNG" }), Some(&viewer)).await.ok();
    assert!(text(&exported, "/exportDashboard/url").starts_with("/exports/"));
    for (query, variables) in [
        (CREATE, json!({ "n": "Mine" })),
        (ADD, json!({ "d": dashboard, "i": sql_chart("More", "BAR", &dataset, BY_REGION, 0, 8) })),
        (UPDATE, json!({ "id": charts[0], "i": { "title": "Renamed" } })),
        (REMOVE, json!({ "id": charts[0] })),
        (SHARE, json!({ "id": dashboard })),
        (DELETE, json!({ "id": dashboard })),
    ] {
        let answer = app.gql(query, variables, Some(&viewer)).await;
        assert_eq!(answer.code(), Some("FORBIDDEN"), "{query}: {}", answer.body);
    }
    let renamed = app.gql(UPDATE, json!({ "id": charts[0], "i": { "title": "Renamed" } }), Some(&analyst)).await.ok();
    assert_eq!(renamed.data("/updateVisualization/title"), &json!("Renamed"));

    let (stranger, _, _) = app.register("stranger@dashboard-roles.example").await;
    for (query, variables) in [
        (DASHBOARD, json!({ "id": dashboard })),
        (ADD, json!({ "d": dashboard, "i": sql_chart("Theirs", "BAR", &dataset, BY_REGION, 0, 8) })),
        (UPDATE, json!({ "id": charts[0], "i": { "title": "Mine now" } })),
        (REMOVE, json!({ "id": charts[0] })),
        (EXPORT, json!({ "id": dashboard, "f": "PDF" })),
        (SHARE, json!({ "id": dashboard })),
        (DELETE, json!({ "id": dashboard })),
    ] {
        let answer = app.gql(query, variables, Some(&stranger)).await;
        assert_eq!(answer.code(), Some("NOT_FOUND"), "{query}: {}", answer.body);
    }
    let listed = app.gql(DASHBOARDS, json!({}), Some(&stranger)).await.ok();
    assert_eq!(listed.data("/dashboards/edges"), &json!([]));
    // Another account's dataset is no source for one's own chart.
    let own = create(&app, &stranger, "Own").await;
    let answer = add(&app, &stranger, &own, sql_chart("Theirs", "BAR", &dataset, BY_REGION, 0, 0)).await;
    assert_eq!((answer.code(), field_of(&answer)), (Some("BAD_USER_INPUT"), json!("datasetId")), "{}", answer.body);
}

async fn share_links_open_a_read_only_view_until_revoked(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("owner@dashboard-shares.example").await;
    let dataset = loaded(&app, &owner, "Sales").await;
    let (dashboard, _) = sales_dashboard(&app, &owner, &dataset).await;

    let first = app.gql(SHARE, json!({ "id": dashboard }), Some(&owner)).await.ok();
    let second = app.gql(SHARE, json!({ "id": dashboard }), Some(&owner)).await.ok();
    let token = text(&first, "/shareDashboard/token");
    assert!(token.len() >= 43, "{token}");
    assert_ne!(token, text(&second, "/shareDashboard/token"));

    let shared = app.gql(SHARED, json!({ "t": token }), None).await.ok();
    let view = shared.data("/sharedDashboard");
    assert_eq!(view["name"], json!("Sales"));
    assert_eq!(view["visualizations"].as_array().map(Vec::len), Some(3));
    assert_eq!(view["visualizations"][0]["rows"][0][0], json!("north"));
    assert!(view["svg"].as_str().is_some_and(|s| s.starts_with("<svg")));
    // Nothing of the account: no ids, no statement, no dataset.
    let whole = view.to_string();
    for secret in [dashboard.as_str(), dataset.as_str(), BY_REGION, "owner@dashboard-shares.example"] {
        assert!(!whole.contains(secret), "the shared view shows {secret}");
    }
    let listed = app.gql(DASHBOARD, json!({ "id": dashboard }), Some(&owner)).await.ok();
    assert_eq!(listed.data("/dashboard/shares").as_array().map(Vec::len), Some(2));
    assert!(!listed.body.to_string().contains(&token), "a token was readable again");

    let revoked = app.gql(REVOKE, json!({ "id": text(&first, "/shareDashboard/id") }), Some(&owner)).await.ok();
    assert_eq!(revoked.data("/revokeShare/active"), &json!(false));
    let closed = app.gql(SHARED, json!({ "t": token }), None).await.ok();
    assert_eq!(closed.data("/sharedDashboard"), &Value::Null);
    let unknown = app.gql(SHARED, json!({ "t": "not-a-token" }), None).await.ok();
    assert_eq!(unknown.data("/sharedDashboard"), &Value::Null);
    // The other link still opens it, until the dashboard goes.
    let other = text(&second, "/shareDashboard/token");
    assert_eq!(app.gql(SHARED, json!({ "t": other }), None).await.ok().data("/sharedDashboard/name"), &json!("Sales"));
    app.gql(DELETE, json!({ "id": dashboard }), Some(&owner)).await.ok();
    assert_eq!(app.gql(SHARED, json!({ "t": other }), None).await.ok().data("/sharedDashboard"), &Value::Null);
}

/// With `ALATAR_KEEP_EXPORTS=<dir>`, the exported files are kept there to
/// be looked at.
fn keep(bytes: &[u8], extension: &str) {
    if let Ok(dir) = std::env::var("ALATAR_KEEP_EXPORTS") {
        must(std::fs::write(std::path::Path::new(&dir).join(format!("dashboard.{extension}")), bytes));
    }
}

async fn get(app: &TestApp, url: &str) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    app.send_from_elsewhere(must(Request::get(url).body(Body::empty()))).await
}

async fn exports_download_behind_signed_expiring_links(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("owner@dashboard-exports.example").await;
    let dataset = loaded(&app, &owner, "Sales").await;
    let (dashboard, _) = sales_dashboard(&app, &owner, &dataset).await;

    let started = Instant::now();
    let png = app.gql(EXPORT, json!({ "id": dashboard, "f": "PNG" }), Some(&owner)).await.ok();
    let png_took = started.elapsed();
    let export = png.data("/exportDashboard").clone();
    assert_eq!(export["format"], json!("PNG"));
    assert_eq!(export["contentType"], json!("image/png"));
    let url = export["url"].as_str().unwrap_or_default().to_owned();
    let expires: DateTime<Utc> = must(serde_json::from_value(export["expiresAt"].clone()));
    let ttl = expires - Utc::now();
    assert!(ttl > chrono::Duration::seconds(800) && ttl <= chrono::Duration::seconds(900), "{ttl}");

    let (status, headers, bytes) = get(&app, &url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "image/png");
    assert!(headers["content-disposition"].to_str().unwrap_or_default().starts_with("attachment"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(export["bytes"], json!(bytes.len()));
    keep(&bytes, "png");
    let image = resvg::tiny_skia::Pixmap::decode_png(&bytes).unwrap_or_else(|e| panic!("{e}"));
    // The page is 1,200 px wide, drawn at twice that; 8 rows of 80 px and the title.
    assert_eq!(image.width(), 2400);
    assert!(image.height() >= 2 * 8 * 80, "{}", image.height());
    let first = image.pixels()[0];
    assert!(image.pixels().iter().any(|p| *p != first), "the image is one colour");

    let started = Instant::now();
    let pdf = app.gql(EXPORT, json!({ "id": dashboard, "f": "PDF" }), Some(&owner)).await.ok();
    let pdf_took = started.elapsed();
    let (status, headers, bytes) = get(&app, &text(&pdf, "/exportDashboard/url")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/pdf");
    keep(&bytes, "pdf");
    let document = lopdf::Document::load_mem(&bytes).unwrap_or_else(|e| panic!("{e}"));
    let pages = document.get_pages();
    assert_eq!(pages.len(), 1);
    let page = pages.values().next().copied().unwrap_or_else(|| panic!("no page"));
    let media_box = must(must(document.get_dictionary(page)).get(b"MediaBox")).clone();
    let sides: Vec<f32> = must(media_box.as_array()).iter().filter_map(|n| n.as_float().ok()).collect();
    assert_eq!(sides.len(), 4, "{sides:?}");
    assert!((sides[2] - sides[0] - 900.0).abs() < 1.0, "1,200 px are 900 pt: {sides:?}");
    eprintln!("export of 3 charts: PNG {png_took:?}, PDF {pdf_took:?}");
    assert!(png_took < Duration::from_secs(3) && pdf_took < Duration::from_secs(3), "{png_took:?} {pdf_took:?}");

    // Altered, unsigned or expired links open nothing.
    let other = if url.ends_with('0') { '1' } else { '0' };
    let tampered = format!("{}{other}", &url[..url.len() - 1]);
    assert_eq!(get(&app, &tampered).await.0, StatusCode::FORBIDDEN);
    let (path, _) = url.split_once('?').unwrap_or((&url, ""));
    assert_eq!(get(&app, path).await.0, StatusCode::FORBIDDEN);
    let later = url.replacen("expires=", "expires=9", 1);
    assert_eq!(get(&app, &later).await.0, StatusCode::FORBIDDEN);
    let id = Uuid::parse_str(path.trim_start_matches("/exports/")).unwrap_or_else(|e| panic!("{e}"));
    let signer = DownloadSigner::new(TEST_JWT_SECRET.as_bytes(), Duration::from_secs(900));
    let expired = signer.url(id, Utc::now() - chrono::Duration::seconds(1));
    assert_eq!(get(&app, &expired).await.0, StatusCode::GONE);
    assert_eq!(get(&app, &signer.url(Uuid::now_v7(), expires)).await.0, StatusCode::NOT_FOUND);

    // The files go with their dashboard.
    let dir = app.db.dir.join("exports");
    let files = || {
        std::fs::read_dir(&dir)
            .map(|d| d.flatten().flat_map(|a| std::fs::read_dir(a.path()).into_iter().flatten()).count())
            .unwrap_or(0)
    };
    assert_eq!(files(), 2);
    app.gql(DELETE, json!({ "id": dashboard }), Some(&owner)).await.ok();
    assert_eq!(get(&app, &url).await.0, StatusCode::NOT_FOUND);
    assert_eq!(files(), 0);
}

/// Serves `router` on a port of its own (WebSocket clients need one).
async fn serve(router: axum::Router) -> u16 {
    let listener = must(tokio::net::TcpListener::bind("127.0.0.1:0").await);
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    tokio::spawn(async move { axum::serve(listener, router).await });
    port
}

/// A graphql-transport-ws connection subscribed (as `"1"`) to `dashboardUpdates`.
async fn subscribe(port: u16, token: &str, dashboard: &str) -> Socket {
    let mut request = must(format!("ws://127.0.0.1:{port}/graphql").into_client_request());
    request.headers_mut().insert("sec-websocket-protocol", must("graphql-transport-ws".parse()));
    let (mut socket, _) = must(tokio_tungstenite::connect_async(request).await);
    let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } });
    must(socket.send(Message::Text(init.to_string().into())).await);
    let ack = tokio::time::timeout(Duration::from_secs(10), socket.next()).await.ok().flatten();
    assert!(matches!(&ack, Some(Ok(Message::Text(t))) if t.contains("connection_ack")), "{ack:?}");
    let query = "subscription($id: ID!) { dashboardUpdates(id: $id) {
        dashboardId reason at removedVisualizationId visualization { id title rows error } } }";
    let subscribe =
        json!({ "id": "1", "type": "subscribe", "payload": { "query": query, "variables": { "id": dashboard } } });
    must(socket.send(Message::Text(subscribe.to_string().into())).await);
    socket
}

/// The next update on subscription `"1"`, with when it arrived.
async fn next_update(socket: &mut Socket) -> (Value, DateTime<Utc>) {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .unwrap_or_else(|_| panic!("nothing on the subscription within 30 s"));
        let arrived = Utc::now();
        let value: Value = match message {
            Some(Ok(Message::Text(text))) => serde_json::from_str(&text).unwrap_or_default(),
            Some(Ok(_)) => continue,
            other => panic!("the socket ended: {other:?}"),
        };
        match value["type"].as_str() {
            Some("next") if value["id"] == "1" => {
                assert!(value["payload"].get("errors").is_none(), "{value}");
                return (value["payload"]["data"]["dashboardUpdates"].clone(), arrived);
            }
            Some("ka" | "ping" | "pong") => continue,
            _ => panic!("unexpected message: {value}"),
        }
    }
}

async fn updates_push_new_rows_when_the_dataset_reloads(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("owner@dashboard-updates.example").await;
    let dataset = loaded(&app, &owner, "Sales").await;
    let (dashboard, charts) = sales_dashboard(&app, &owner, &dataset).await;
    let port = serve(app.router.clone()).await;
    let mut socket = subscribe(port, &owner, &dashboard).await;
    let dataset_id = Uuid::parse_str(&dataset).unwrap_or_else(|e| panic!("{e}"));
    let hub = app.pipeline().bus.hub();
    let deadline = Instant::now() + Duration::from_secs(10);
    while hub.watchers(dataset_id) == 0 {
        assert!(Instant::now() < deadline, "the subscription never listened for its dataset");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // A reload with a column's type set: both charts of the dataset get their rows.
    let set = "mutation($d: ID!) { setColumnType(datasetId: $d, column: \"orders\", type: FLOAT) { id } }";
    let reload = app.gql(set, json!({ "d": dataset }), Some(&owner)).await.ok();
    settled(&app, &owner, &text(&reload, "/setColumnType/id")).await;
    let (first, arrived) = next_update(&mut socket).await;
    let (second, _) = next_update(&mut socket).await;
    let found = app
        .gql("query($id: ID!) { dataset(id: $id) { version updatedAt } }", json!({ "id": dataset }), Some(&owner))
        .await
        .ok();
    assert_eq!(found.data("/dataset/version"), &json!(2));
    let committed: DateTime<Utc> = must(serde_json::from_value(found.data("/dataset/updatedAt").clone()));
    let heard: DateTime<Utc> = must(serde_json::from_value(first["at"].clone()));
    let hear = (heard - committed).num_milliseconds();
    let deliver = (arrived - committed).num_milliseconds();
    eprintln!("dashboardUpdates: heard {hear} ms, delivered {deliver} ms after the reload's commit");
    assert!(hear <= 100, "the change was heard {hear} ms after the commit");
    assert!(deliver <= 1000, "the new rows arrived {deliver} ms after the commit");
    let mut updated: Vec<String> =
        [&first, &second].iter().map(|u| u["visualization"]["id"].as_str().unwrap_or_default().to_owned()).collect();
    updated.sort();
    let mut expected = vec![charts[0].clone(), charts[1].clone()];
    expected.sort();
    assert_eq!(updated, expected);
    for update in [&first, &second] {
        assert_eq!(update["reason"], json!("DATA_CHANGED"));
        assert_eq!(update["dashboardId"], json!(dashboard));
        assert!(update["visualization"]["rows"].as_array().is_some_and(|r| !r.is_empty()), "{update}");
    }

    // An edit is announced with the chart as it now is; a removal by id.
    app.gql(UPDATE, json!({ "id": charts[2], "i": { "title": "Sales channels" } }), Some(&owner)).await.ok();
    let (edited, _) = next_update(&mut socket).await;
    assert_eq!(edited["reason"], json!("VISUALIZATION_CHANGED"));
    assert_eq!(edited["visualization"]["title"], json!("Sales channels"));
    app.gql(REMOVE, json!({ "id": charts[0] }), Some(&owner)).await.ok();
    let (removed, _) = next_update(&mut socket).await;
    assert_eq!(removed["reason"], json!("VISUALIZATION_REMOVED"));
    assert_eq!(removed["removedVisualizationId"], json!(charts[0]));

    // The dataset deleted: the remaining chart of it shows why.
    app.gql("mutation($id: ID!) { deleteDataset(id: $id) }", json!({ "id": dataset }), Some(&owner)).await.ok();
    let (broken, _) = next_update(&mut socket).await;
    assert_eq!(broken["visualization"]["id"], json!(charts[1]));
    assert!(broken["visualization"]["error"].as_str().is_some_and(|e| e.contains("deleted")), "{broken}");

    // The client goes: the bus lets go of the dashboard.
    let dashboard_id = Uuid::parse_str(&dashboard).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(hub.watchers(dashboard_id), 1);
    drop(socket);
    let deadline = Instant::now() + Duration::from_secs(10);
    while hub.watchers(dashboard_id) > 0 {
        assert!(Instant::now() < deadline, "the subscription outlived its client");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

on_both_backends! {
    charts_draw_their_data_and_report_broken_ones_on => charts_draw_their_data_and_report_broken_ones;
    viewers_read_and_other_accounts_see_nothing_on => viewers_read_and_other_accounts_see_nothing;
    share_links_open_a_read_only_view_until_revoked_on => share_links_open_a_read_only_view_until_revoked;
    exports_download_behind_signed_expiring_links_on => exports_download_behind_signed_expiring_links;
    updates_push_new_rows_when_the_dataset_reloads_on => updates_push_new_rows_when_the_dataset_reloads;
}
