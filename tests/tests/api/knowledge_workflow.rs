//! Saved workflows through the API (seed 000 P22–P25): saved, read,
//! listed, renamed and deleted, the definition stored as given; invalid
//! definitions refused naming the node (a cycle, an edge to no node, an
//! unknown type or tool, a template reading an undeclared input or a node
//! that does not run before, another account's collection); a run's inputs
//! and definition checked before anything is queued; runs through the
//! analysis pipeline: retrieve → format over an uploaded document (each
//! node started only after the nodes its edges come from finished, every
//! output stored, the retrieved text in the result), a tool node whose
//! figure is the tool's own, an `llm` node against a scripted model and,
//! offline, failing with its reason; other accounts and viewers kept out.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use uuid::Uuid;

use alatar_agents::plan::Granularity;
use alatar_agents::store::DemoStore;
use alatar_agents::tools::{SalesByPeriod, SalesByPeriodInput, TypedTool};
use alatar_entity::{AnalysisStatus, analysis_request};
use alatar_tests::fake_llm::{FakeLlm, Reply, chunks};
use alatar_tests::{Backend, Gql, TestApp, on_both_backends};

const PASSWORD: &str = "correct horse battery";

const CREATE: &str = "mutation($n: String!, $d: String, $def: JSON!) {
    createWorkflow(name: $n, description: $d, definition: $def) { id name description definition nodeCount inputs } }";
const UPDATE: &str = "mutation($id: ID!, $n: String, $d: String, $def: JSON) {
    updateWorkflow(id: $id, name: $n, description: $d, definition: $def) { id name description definition } }";
const ONE: &str = "query($id: ID!) { workflow(id: $id) { id name description definition nodeCount
    runs(first: 10) { edges { node { id status } } } } }";
const DELETE: &str = "mutation($id: ID!) { deleteWorkflow(id: $id) }";
const RUN: &str = "mutation($id: ID!, $i: JSON, $s: ID!) {
    runWorkflow(id: $id, inputs: $i, storeId: $s) { id status prompt workflowId workflowInputs } }";
const REQUEST: &str = "query($id: ID!) { analysisRequest(id: $id) { id status intent failureReason workflowId plan
    tasks { id step department objective status lastError output toolCalls { id tool input } }
    events { sequence kind payload }
    result { summary writtenBy sections { title body }
      citations { chunkId documentId filename quote provenance { toolCallId tool } }
      proposedActions { id status } } } }";
const DOCUMENT: &str = "query($id: ID!) { document(id: $id) { status summaryPending
    chunks(first: 100) { edges { node { id text } } } } }";

const EXCHANGES: &str = "# Exchanges\n\nSizes can be exchanged once, free of charge.\n";

fn id_of(answer: &Gql, pointer: &str) -> String {
    answer.data(pointer).as_str().unwrap_or_else(|| panic!("no {pointer}: {}", answer.body)).to_owned()
}

fn message(answer: &Gql) -> String {
    answer.body["errors"][0]["message"].as_str().unwrap_or_default().to_owned()
}

fn list(value: &Value) -> Vec<Value> {
    value.as_array().cloned().unwrap_or_default()
}

/// A new owner with the demo store: (token, store id).
async fn merchant(app: &TestApp, email: &str) -> (String, String) {
    let (token, _, _) = app.register(email).await;
    let store = app.gql("mutation { connectDemoStore(name: \"Demo\") { id } }", json!({}), Some(&token)).await.ok();
    (token, id_of(&store, "/connectDemoStore/id"))
}

/// A member of the owner's account with `role`; their access token.
async fn member(app: &TestApp, owner: &str, email: &str, role: &str) -> String {
    let invite = "mutation($e: String!, $r: Role!) { inviteMember(email: $e, role: $r) { token } }";
    let invited = app.gql(invite, json!({ "e": email, "r": role }), Some(owner)).await.ok();
    let token = id_of(&invited, "/inviteMember/token");
    let register = "mutation($e: String!, $t: String!, $p: String!) {
        register(email: $e, password: $p, invitationToken: $t) { accessToken } }";
    let joined = app.gql(register, json!({ "e": email, "t": token, "p": PASSWORD }), None).await.ok();
    id_of(&joined, "/register/accessToken")
}

async fn create(app: &TestApp, token: &str, name: &str, definition: &Value) -> Gql {
    app.gql(CREATE, json!({ "n": name, "d": "What the workflow is for", "def": definition }), Some(token)).await
}

async fn created(app: &TestApp, token: &str, name: &str, definition: &Value) -> String {
    id_of(&create(app, token, name, definition).await.ok(), "/createWorkflow/id")
}

async fn run(app: &TestApp, token: &str, workflow: &str, inputs: Value, store: &str) -> Gql {
    app.gql(RUN, json!({ "id": workflow, "i": inputs, "s": store }), Some(token)).await
}

/// Waits (reading the database, not the rate-limited API) until the
/// request is over; then reads it through the API.
async fn settled(app: &TestApp, token: &str, request: &str) -> Value {
    let id = Uuid::parse_str(request).unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = analysis_request::Entity::find_by_id(id).one(&app.pipeline().db).await;
        let status = found.unwrap_or_else(|e| panic!("{e}")).map(|r| r.status);
        if status.is_some_and(|s| s.is_terminal() || s == AnalysisStatus::AwaitingApproval) {
            break;
        }
        assert!(Instant::now() < deadline, "run {request} did not finish: {status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.gql(REQUEST, json!({ "id": request }), Some(token)).await.ok().data("/analysisRequest").clone()
}

async fn collection(app: &TestApp, token: &str, name: &str) -> String {
    let create = "mutation($n: String!) { createCollection(name: $n) { id } }";
    id_of(&app.gql(create, json!({ "n": name }), Some(token)).await.ok(), "/createCollection/id")
}

/// Uploads and waits until the document is `INGESTED` with its summary
/// written; its chunks' texts.
async fn ingested(app: &TestApp, token: &str, collection: &str, filename: &str, bytes: &[u8]) -> Vec<String> {
    let uploaded = app.upload_document(token, collection, filename, bytes, "id").await.ok();
    let id = id_of(&uploaded, "/uploadDocument/id");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = app.gql(DOCUMENT, json!({ "id": id }), Some(token)).await.ok();
        let document = found.data("/document");
        assert_ne!(document["status"], "FAILED", "{filename}: {}", found.body);
        if document["status"] == "INGESTED" && document["summaryPending"] == false {
            return list(&document["chunks"]["edges"])
                .iter()
                .map(|e| e["node"]["text"].as_str().unwrap_or_default().to_owned())
                .collect();
        }
        assert!(Instant::now() < deadline, "{filename} was not ingested: {}", found.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn node(id: &str, kind: &str, params: Value) -> Value {
    json!({ "id": id, "type": kind, "params": params })
}

fn edge(from: &str, to: &str) -> Value {
    json!({ "from": from, "to": to })
}

fn retrieve(id: &str, collection: &str, query: &str) -> Value {
    node(id, "retrieve", json!({ "collectionId": collection, "query": query }))
}

fn format(id: &str, template: &str) -> Value {
    node(id, "postprocess", json!({ "op": "format", "template": template }))
}

/// A one-node workflow writing about `{{inputs.topic}}`.
fn about_topic() -> Value {
    json!({ "inputs": ["topic"], "nodes": [format("say", "About {{inputs.topic}}")], "edges": [] })
}

fn task<'a>(request: &'a Value, node: &str) -> &'a Value {
    let tasks = request["tasks"].as_array().unwrap_or_else(|| panic!("no tasks: {request}"));
    let named = tasks.iter().find(|t| t["objective"].as_str().is_some_and(|o| o.starts_with(&format!("{node} ("))));
    named.unwrap_or_else(|| panic!("no task for node {node}: {request}"))
}

/// P24: each task's `TASK_STARTED` comes after the `TASK_COMPLETED` of
/// every task the plan has it depend on (and after the plan itself).
fn assert_edge_order(request: &Value) {
    let events = list(&request["events"]);
    let sequence = |kind: &str, task: &Value| {
        events
            .iter()
            .find(|e| e["kind"] == kind && e["payload"]["taskId"] == *task)
            .and_then(|e| e["sequence"].as_i64())
            .unwrap_or_else(|| panic!("no {kind} for {task}: {events:?}"))
    };
    let plan = events.iter().find(|e| e["kind"] == "PLAN").unwrap_or_else(|| panic!("no PLAN: {events:?}"));
    let steps = list(&plan["payload"]["steps"]);
    assert_eq!(steps.len(), list(&request["tasks"]).len(), "{plan}");
    for step in &steps {
        let started = sequence("TASK_STARTED", &step["taskId"]);
        assert!(started > plan["sequence"].as_i64().unwrap_or(i64::MAX), "{step} started before the plan");
        assert!(sequence("TASK_COMPLETED", &step["taskId"]) > started, "{step}");
        for upstream in list(&step["dependsOn"]) {
            let before = steps.iter().find(|s| s["step"] == upstream).unwrap_or_else(|| panic!("{upstream}"));
            let finished = sequence("TASK_COMPLETED", &before["taskId"]);
            let (this, that) = (&step["objective"], &before["objective"]);
            assert!(started > finished, "{this} started (#{started}) before {that} finished (#{finished})");
        }
    }
}

async fn workflows_are_saved_read_listed_renamed_and_deleted(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _) = merchant(&app, "owner@workflows.example").await;
    let definition = about_topic();
    let first = create(&app, &owner, "Digest", &definition).await.ok();
    // P22: stored as the JSON given, and read back as it.
    assert_eq!(first.data("/createWorkflow/definition"), &definition);
    assert_eq!(first.data("/createWorkflow/nodeCount"), &json!(1));
    assert_eq!(first.data("/createWorkflow/inputs"), &json!(["topic"]));
    assert_eq!(first.data("/createWorkflow/description"), &json!("What the workflow is for"));
    let digest = id_of(&first, "/createWorkflow/id");
    let read = app.gql(ONE, json!({ "id": digest }), Some(&owner)).await.ok();
    assert_eq!(read.data("/workflow/definition"), &definition);
    assert_eq!(read.data("/workflow/name"), &json!("Digest"));

    assert_eq!(create(&app, &owner, "Digest", &definition).await.code(), Some("CONFLICT"));
    assert_eq!(create(&app, &owner, "  Digest ", &definition).await.code(), Some("CONFLICT"));
    let blank = create(&app, &owner, "  ", &definition).await;
    let field = blank.body["errors"][0]["extensions"]["field"].as_str();
    assert_eq!((blank.code(), field), (Some("BAD_USER_INPUT"), Some("name")));

    for name in ["Weekly sales", "Policy check"] {
        created(&app, &owner, name, &definition).await;
    }
    // Three workflows, two a page, newest first, each once.
    let page = "query($after: String) { workflows(first: 2, after: $after) {
        edges { cursor node { name } } pageInfo { hasNextPage } } }";
    let (mut names, mut after) = (Vec::new(), Value::Null);
    loop {
        let listed = app.gql(page, json!({ "after": after }), Some(&owner)).await.ok();
        let edges = list(listed.data("/workflows/edges"));
        names.extend(edges.iter().map(|e| e["node"]["name"].as_str().unwrap_or_default().to_owned()));
        if listed.data("/workflows/pageInfo/hasNextPage") != &json!(true) {
            break;
        }
        after = edges.last().map(|e| e["cursor"].clone()).unwrap_or(Value::Null);
    }
    assert_eq!(names, ["Policy check", "Weekly sales", "Digest"]);

    let renamed = app.gql(UPDATE, json!({ "id": digest, "n": "Morning digest", "d": null }), Some(&owner)).await.ok();
    assert_eq!(renamed.data("/updateWorkflow/name"), &json!("Morning digest"));
    assert_eq!(renamed.data("/updateWorkflow/description"), &Value::Null);
    assert_eq!(renamed.data("/updateWorkflow/definition"), &definition, "the definition is left as it was");
    let clash = app.gql(UPDATE, json!({ "id": digest, "n": "Weekly sales" }), Some(&owner)).await;
    assert_eq!(clash.code(), Some("CONFLICT"));
    // A definition that does not pass changes nothing.
    let cyclic = json!({ "nodes": [format("a", "x"), format("b", "y")], "edges": [edge("a", "b"), edge("b", "a")] });
    let refused = app.gql(UPDATE, json!({ "id": digest, "def": cyclic }), Some(&owner)).await;
    assert_eq!(refused.code(), Some("BAD_USER_INPUT"), "{}", refused.body);
    let two = json!({
        "inputs": ["topic"],
        "nodes": [format("say", "About {{inputs.topic}}"), format("then", "{{nodes.say.text}}!")],
        "edges": [edge("say", "then")],
    });
    let changed = app.gql(UPDATE, json!({ "id": digest, "def": two }), Some(&owner)).await.ok();
    assert_eq!(changed.data("/updateWorkflow/definition"), &two);
    assert_eq!(app.gql(ONE, json!({ "id": digest }), Some(&owner)).await.ok().data("/workflow/nodeCount"), &json!(2));

    let deleted = app.gql(DELETE, json!({ "id": digest }), Some(&owner)).await.ok();
    assert_eq!(deleted.data("/deleteWorkflow"), &json!(digest));
    assert_eq!(app.gql(ONE, json!({ "id": digest }), Some(&owner)).await.code(), Some("NOT_FOUND"));
    assert_eq!(app.gql(DELETE, json!({ "id": digest }), Some(&owner)).await.code(), Some("NOT_FOUND"));
}

async fn invalid_definitions_are_refused_naming_the_node(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _) = merchant(&app, "owner@invalid-workflows.example").await;
    let (stranger, _) = merchant(&app, "stranger@invalid-workflows.example").await;
    let theirs = collection(&app, &stranger, "Their returns").await;
    let mine = collection(&app, &owner, "Returns").await;
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "cycle",
            json!({ "nodes": [format("a", "x"), format("b", "{{nodes.a.text}}"), format("c", "z")],
                    "edges": [edge("a", "b"), edge("b", "c"), edge("c", "b")] }),
            "node `b`: is part of a cycle: b → c → b",
        ),
        (
            "dangling edge",
            json!({ "nodes": [format("a", "x")], "edges": [edge("a", "summary")] }),
            "edge `a` → `summary`: there is no node `summary`",
        ),
        ("unknown type", json!({ "nodes": [node("ping", "notify", json!({}))] }), "node `ping`: unknown type `notify`"),
        (
            "unknown tool",
            json!({ "nodes": [node("wipe", "tool", json!({ "name": "shopify.delete_products" }))] }),
            "node `wipe`: unknown tool `shopify.delete_products`",
        ),
        (
            "undeclared input",
            json!({ "inputs": ["topic"], "nodes": [retrieve("find", &mine, "{{inputs.question}}")] }),
            "node `find`: `query`: `{{inputs.question}}` reads input `question`, which the workflow does not declare",
        ),
        (
            "not upstream",
            json!({ "nodes": [retrieve("find", &mine, "returns"), format("say", "{{nodes.find.text}}")] }),
            "node `say`: `template`: `{{nodes.find.text}}` reads node `find`, which does not run before this one",
        ),
        (
            "another account's collection",
            json!({ "nodes": [retrieve("find", &theirs, "returns")] }),
            "node `find`: collection",
        ),
    ];
    for (case, definition, says) in cases {
        let refused = create(&app, &owner, case, &definition).await;
        assert_eq!(refused.code(), Some("BAD_USER_INPUT"), "{case}: {}", refused.body);
        assert_eq!(refused.body["errors"][0]["extensions"]["field"], "definition", "{case}");
        assert!(message(&refused).contains(says), "{case}: {}", message(&refused));
    }
    let listed = app.gql("{ workflows(first: 20) { edges { node { id } } } }", json!({}), Some(&owner)).await.ok();
    assert_eq!(list(listed.data("/workflows/edges")).len(), 0, "nothing was saved");
}

async fn runs_check_their_inputs_before_anything_is_queued(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, store) = merchant(&app, "owner@run-checks.example").await;
    let (_, their_store) = merchant(&app, "stranger@run-checks.example").await;
    let digest = created(&app, &owner, "Digest", &about_topic()).await;
    let missing = run(&app, &owner, &digest, json!({}), &store).await;
    assert_eq!(missing.code(), Some("BAD_USER_INPUT"), "{}", missing.body);
    assert_eq!(missing.body["errors"][0]["extensions"]["field"], "inputs");
    assert!(message(&missing).contains("input `topic`: is missing"), "{}", message(&missing));
    assert_eq!(run(&app, &owner, &digest, Value::Null, &store).await.code(), Some("BAD_USER_INPUT"));
    let unknown = run(&app, &owner, &digest, json!({ "topic": "returns", "tpoic": "x" }), &store).await;
    assert!(message(&unknown).contains("input `tpoic`"), "{}", unknown.body);
    assert_eq!(run(&app, &owner, &digest, json!({ "topic": "returns" }), &their_store).await.code(), Some("NOT_FOUND"));

    // A definition that no longer holds (its collection is gone) is
    // refused when run, naming the node.
    let returns = collection(&app, &owner, "Returns").await;
    let reads = json!({ "inputs": ["topic"], "nodes": [node("find", "retrieve",
        json!({ "collectionId": returns, "query": "{{inputs.topic}}" }))] });
    let finder = created(&app, &owner, "Finder", &reads).await;
    app.gql("mutation($id: ID!) { deleteCollection(id: $id) }", json!({ "id": returns }), Some(&owner)).await.ok();
    let stale = run(&app, &owner, &finder, json!({ "topic": "returns" }), &store).await;
    assert_eq!(stale.code(), Some("BAD_USER_INPUT"), "{}", stale.body);
    assert!(message(&stale).contains("node `find`"), "{}", stale.body);

    let queued = analysis_request::Entity::find().count(&app.pipeline().db).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(queued, 0, "a refused run queued nothing");
}

async fn a_retrieve_then_format_run_streams_in_edge_order_and_completes(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, store) = merchant(&app, "owner@run-retrieve.example").await;
    let returns = collection(&app, &owner, "Returns").await;
    let texts = ingested(&app, &owner, &returns, "exchanges.md", EXCHANGES.as_bytes()).await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    let chunk = &texts[0];
    assert!(chunk.contains("exchanged once"), "{chunk}");
    let definition = json!({
        "inputs": ["topic"],
        "nodes": [
            format("answer", "{{nodes.find.output.passages.0.filename}} says: {{nodes.find.output.passages.0.text}}"),
            node("find", "retrieve", json!({ "collectionId": returns, "query": "{{inputs.topic}}", "first": 3 })),
        ],
        "edges": [edge("find", "answer")],
    });
    let workflow = created(&app, &owner, "Exchange rules", &definition).await;
    let queued = run(&app, &owner, &workflow, json!({ "topic": "exchanged" }), &store).await.ok();
    assert_eq!(queued.data("/runWorkflow/status"), &json!("QUEUED"));
    assert_eq!(queued.data("/runWorkflow/workflowId"), &json!(workflow));
    assert_eq!(queued.data("/runWorkflow/workflowInputs"), &json!({ "topic": "exchanged" }));
    let request = settled(&app, &owner, &id_of(&queued, "/runWorkflow/id")).await;
    assert_eq!(request["status"], "COMPLETED", "{request}");
    assert_eq!(request["intent"], "WORKFLOW");
    assert_eq!(request["plan"]["order"], json!(["find", "answer"]), "the nodes in edge order");
    assert_edge_order(&request);

    // P25: each node's output is stored with its task.
    let find = task(&request, "find");
    assert_eq!((find["department"].as_str(), find["status"].as_str()), (Some("Workflow"), Some("COMPLETED")));
    assert_eq!(find["output"]["text"], json!(chunk), "{find}");
    assert_eq!(find["output"]["output"]["passages"][0]["filename"], "exchanges.md");
    let calls = list(&find["toolCalls"]);
    assert_eq!(calls.len(), 1, "{find}");
    assert_eq!(calls[0]["tool"], "rag.search");
    assert_eq!(calls[0]["input"]["query"], "exchanged");
    let expected = format!("exchanges.md says: {chunk}");
    let answer = task(&request, "answer");
    assert_eq!(answer["output"]["output"], json!(expected), "{answer}");

    // The result: the last node's text, a section per node, the passage cited.
    let result = &request["result"];
    assert_eq!(result["summary"], json!(expected));
    let titles: Vec<Value> = list(&result["sections"]).iter().map(|s| s["title"].clone()).collect();
    assert_eq!(titles, [json!("find (retrieve)"), json!("answer (postprocess)")]);
    assert_eq!(result["sections"][1]["body"], json!(expected));
    assert_eq!(result["citations"][0]["quote"], json!(chunk));
    assert_eq!(result["citations"][0]["provenance"][0]["toolCallId"], calls[0]["id"]);
    assert_eq!(list(&result["proposedActions"]).len(), 0);

    // The workflow lists its run; deleting it keeps the run readable.
    let runs = app.gql(ONE, json!({ "id": workflow }), Some(&owner)).await.ok();
    assert_eq!(runs.data("/workflow/runs/edges/0/node/id"), &request["id"]);
    app.gql(DELETE, json!({ "id": workflow }), Some(&owner)).await.ok();
    let kept = app.gql(REQUEST, json!({ "id": request["id"] }), Some(&owner)).await.ok();
    assert_eq!(kept.data("/analysisRequest/result/summary"), &json!(expected));
}

async fn a_tool_nodes_figure_is_the_tools_own(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, store) = merchant(&app, "owner@run-tool.example").await;
    let definition = json!({
        "inputs": ["from", "to"],
        "nodes": [
            node("sales", "tool", json!({ "name": "shopify.sales_by_period",
                "input": { "from": "{{inputs.from}}", "to": "{{inputs.to}}", "granularity": "MONTH" } })),
            node("net", "postprocess", json!({ "op": "json", "path": "totals.net_sales" })),
            format("say", "Net sales: {{nodes.net.output}} cents"),
        ],
        "edges": [edge("sales", "net"), edge("net", "say")],
    });
    let workflow = created(&app, &owner, "Net sales", &definition).await;
    let today = chrono::Utc::now().date_naive();
    let (from, to) = (today - chrono::Duration::days(60), today - chrono::Duration::days(30));
    let inputs = json!({ "from": from.to_string(), "to": to.to_string() });
    let queued = run(&app, &owner, &workflow, inputs, &store).await.ok();
    let request = settled(&app, &owner, &id_of(&queued, "/runWorkflow/id")).await;
    assert_eq!(request["status"], "COMPLETED", "{request}");
    assert_edge_order(&request);

    // The same call, made directly on the demo shop as of the run's day.
    let as_of: NaiveDate = serde_json::from_value(request["plan"]["asOf"].clone()).unwrap_or_else(|e| panic!("{e}"));
    let direct = SalesByPeriod(Arc::new(DemoStore::new(1, as_of)))
        .call(&SalesByPeriodInput { from, to, granularity: Granularity::Month })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let net = direct.totals.sales.net_sales;
    assert!(net > 0, "the demo shop sold nothing in {from} .. {to}?");
    let sales = task(&request, "sales");
    assert_eq!(sales["output"]["output"]["totals"]["net_sales"], json!(net), "{sales}");
    let calls = list(&sales["toolCalls"]);
    assert_eq!(calls.len(), 1, "{sales}");
    assert_eq!(calls[0]["tool"], "shopify.sales_by_period");
    assert_eq!(calls[0]["input"], json!({ "from": from.to_string(), "to": to.to_string(), "granularity": "MONTH" }));
    assert_eq!(task(&request, "net")["output"]["output"], json!(net));
    assert_eq!(request["result"]["summary"], json!(format!("Net sales: {net} cents")));
}

/// An owner of an app answering through `fake`: (app, token, store id).
async fn with_model(fake: &FakeLlm) -> (TestApp, String, String) {
    let base_url = fake.base_url.clone();
    let app = TestApp::with_config(Backend::Sqlite, move |c| {
        c.llm.api_key = Some("test-key".to_owned().into());
        c.llm.base_url = base_url;
        c.llm.backoff_ms = 10;
        c.llm.max_retries = 0;
    })
    .await;
    let (token, store) = merchant(&app, "owner@run-llm.example").await;
    (app, token, store)
}

/// An `llm` node then a `json` node reading its answer.
fn headline() -> Value {
    json!({
        "inputs": ["product"],
        "nodes": [
            node("pitch", "llm", json!({ "model": "acme/writer-1",
                "prompt": "Write a headline for {{inputs.product}}, as JSON: {\"headline\": \"...\"}" })),
            node("fields", "postprocess", json!({ "op": "json", "path": "headline" })),
        ],
        "edges": [edge("pitch", "fields")],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_llm_node_asks_the_model_with_its_rendered_prompt() {
    let answer = chunks(&["Sure: {\"headline\": ", "\"Warm socks for cold days\"}"]);
    let fake = FakeLlm::start(vec![Reply::Sse(answer)]).await;
    let (app, owner, store) = with_model(&fake).await;
    let workflow = created(&app, &owner, "Headlines", &headline()).await;
    let queued = run(&app, &owner, &workflow, json!({ "product": "wool socks" }), &store).await.ok();
    let request = settled(&app, &owner, &id_of(&queued, "/runWorkflow/id")).await;
    assert_eq!(request["status"], "COMPLETED", "{request}");
    assert_edge_order(&request);
    let pitch = task(&request, "pitch");
    assert_eq!(pitch["output"]["text"], "Sure: {\"headline\": \"Warm socks for cold days\"}");
    assert_eq!(pitch["output"]["model"], "acme/writer-1");
    assert_eq!(request["result"]["summary"], "Warm socks for cold days");
    assert_eq!(request["result"]["writtenBy"], "acme/writer-1");
    let requests = fake.requests();
    assert_eq!(requests.len(), 1, "one model call: {requests:?}");
    assert_eq!(requests[0]["model"], "acme/writer-1", "the node's model");
    let messages = list(&requests[0]["messages"]);
    assert_eq!(messages[0]["role"], "system");
    assert!(messages[0]["content"].as_str().is_some_and(|s| s.contains("never instructions")), "{messages:?}");
    assert_eq!(
        messages.last().map(|m| m["content"].clone()),
        Some(json!("Write a headline for wool socks, as JSON: {\"headline\": \"...\"}")),
        "the prompt with its input filled in"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_an_llm_node_fails_the_run_with_its_reason() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (owner, store) = merchant(&app, "owner@run-offline.example").await;
    let workflow = created(&app, &owner, "Headlines", &headline()).await;
    let queued = run(&app, &owner, &workflow, json!({ "product": "wool socks" }), &store).await.ok();
    let request = settled(&app, &owner, &id_of(&queued, "/runWorkflow/id")).await;
    assert_eq!(request["status"], "FAILED", "{request}");
    let reason = request["failureReason"].as_str().unwrap_or_default();
    assert!(reason.contains("node `pitch`") && reason.contains("no language model is configured"), "{reason}");
    let pitch = task(&request, "pitch");
    assert_eq!(pitch["status"], "FAILED");
    assert!(pitch["output"].is_null(), "no output was made up: {pitch}");
    assert_eq!(task(&request, "fields")["status"], "CANCELLED", "the node after it never ran");
    assert!(request["result"].is_null(), "{request}");
}

async fn other_accounts_and_viewers_are_kept_out(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, store) = merchant(&app, "owner@walls.example").await;
    let (stranger, their_store) = merchant(&app, "stranger@walls.example").await;
    let workflow = created(&app, &owner, "Digest", &about_topic()).await;
    let queued = run(&app, &owner, &workflow, json!({ "topic": "returns" }), &store).await.ok();
    let request = settled(&app, &owner, &id_of(&queued, "/runWorkflow/id")).await;
    assert_eq!(request["status"], "COMPLETED", "{request}");
    assert_eq!(request["result"]["summary"], "About returns");

    // Another account: nothing to read, run, change or delete.
    assert_eq!(app.gql(ONE, json!({ "id": workflow }), Some(&stranger)).await.code(), Some("NOT_FOUND"));
    let theirs = run(&app, &stranger, &workflow, json!({ "topic": "returns" }), &their_store).await;
    assert_eq!(theirs.code(), Some("NOT_FOUND"));
    let renamed = app.gql(UPDATE, json!({ "id": workflow, "n": "Mine now" }), Some(&stranger)).await;
    assert_eq!(renamed.code(), Some("NOT_FOUND"));
    assert_eq!(app.gql(DELETE, json!({ "id": workflow }), Some(&stranger)).await.code(), Some("NOT_FOUND"));
    let listed = app.gql("{ workflows(first: 20) { edges { node { id } } } }", json!({}), Some(&stranger)).await.ok();
    assert_eq!(list(listed.data("/workflows/edges")).len(), 0);
    let read = app.gql(REQUEST, json!({ "id": request["id"] }), Some(&stranger)).await;
    assert_eq!(read.code(), Some("NOT_FOUND"));
    let still = app.gql(ONE, json!({ "id": workflow }), Some(&owner)).await.ok();
    assert_eq!(still.data("/workflow/name"), &json!("Digest"));

    // A viewer reads; only analysts and up create, change, delete and run.
    let viewer = member(&app, &owner, "viewer@walls.example", "VIEWER").await;
    let seen = app.gql(ONE, json!({ "id": workflow }), Some(&viewer)).await.ok();
    assert_eq!(seen.data("/workflow/name"), &json!("Digest"));
    assert_eq!(create(&app, &viewer, "Viewer's", &about_topic()).await.code(), Some("FORBIDDEN"));
    let viewer_run = run(&app, &viewer, &workflow, json!({ "topic": "returns" }), &store).await;
    assert_eq!(viewer_run.code(), Some("FORBIDDEN"));
    let viewer_rename = app.gql(UPDATE, json!({ "id": workflow, "n": "Viewer's" }), Some(&viewer)).await;
    assert_eq!(viewer_rename.code(), Some("FORBIDDEN"));
    assert_eq!(app.gql(DELETE, json!({ "id": workflow }), Some(&viewer)).await.code(), Some("FORBIDDEN"));
    let analyst = member(&app, &owner, "analyst@walls.example", "ANALYST").await;
    created(&app, &analyst, "Analyst's", &about_topic()).await;
    let theirs = run(&app, &analyst, &workflow, json!({ "topic": "refunds" }), &store).await.ok();
    let done = settled(&app, &analyst, &id_of(&theirs, "/runWorkflow/id")).await;
    assert_eq!(done["result"]["summary"], "About refunds");
}

on_both_backends! {
    workflows_crud => workflows_are_saved_read_listed_renamed_and_deleted;
    invalid_definitions_name_the_node => invalid_definitions_are_refused_naming_the_node;
    runs_check_inputs_first => runs_check_their_inputs_before_anything_is_queued;
    retrieve_then_format_in_edge_order => a_retrieve_then_format_run_streams_in_edge_order_and_completes;
    tool_node_figures_are_the_tools_own => a_tool_nodes_figure_is_the_tools_own;
    other_accounts_and_viewers_kept_out => other_accounts_and_viewers_are_kept_out;
}
