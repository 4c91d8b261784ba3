//! Black-box WebSocket tests on the real binary: graphql-transport-ws and the
//! legacy graphql-ws protocol, token in `connection_init`, 4403 / 4401.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use alatar_tests::RunningBinary;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(server: &RunningBinary, protocol: &str) -> Socket {
    let mut request =
        format!("ws://127.0.0.1:{}/graphql", server.port).into_client_request().unwrap_or_else(|e| panic!("{e}"));
    request.headers_mut().insert("sec-websocket-protocol", protocol.parse().unwrap_or_else(|e| panic!("{e}")));
    let (socket, response) = tokio_tungstenite::connect_async(request).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.headers()["sec-websocket-protocol"], protocol);
    socket
}

async fn send(socket: &mut Socket, value: Value) {
    socket.send(Message::Text(value.to_string().into())).await.unwrap_or_else(|e| panic!("{e}"));
}

/// The next text message as JSON, or the close code.
async fn next(socket: &mut Socket) -> Result<Value, u16> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .unwrap_or_else(|_| panic!("no message within 10 s"));
        match message {
            Some(Ok(Message::Text(text))) => {
                let value: Value = serde_json::from_str(&text).unwrap_or_default();
                if value["type"] == "ka" || value["type"] == "ping" {
                    continue;
                }
                return Ok(value);
            }
            Some(Ok(Message::Close(frame))) => return Err(frame.map_or(1005, |f| f.code.into())),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Err(1006),
        }
    }
}

async fn register(server: &RunningBinary, email: &str) -> String {
    alatar_tests::register_over_http(&server.base_url, email).await
}

async fn invite(server: &RunningBinary, token: &str, email: &str) {
    let body = json!({ "query": "mutation($e: String!) { inviteMember(email: $e, role: ANALYST) { token } }", "variables": { "e": email } });
    let status = reqwest::Client::new()
        .post(format!("{}/graphql", server.base_url))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    assert_eq!(status, 200);
}

#[tokio::test]
async fn graphql_transport_ws_streams_account_events() {
    let dir = alatar_tests::scratch_dir();
    let server = RunningBinary::start(&dir, &[]);
    let owner = register(&server, "ws-owner@shop.example").await;
    let other = register(&server, "ws-other@elsewhere.example").await;

    let mut socket = connect(&server, "graphql-transport-ws").await;
    send(&mut socket, json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {owner}") } }))
        .await;
    assert_eq!(next(&mut socket).await.ok().map(|v| v["type"].clone()), Some(json!("connection_ack")));
    send(&mut socket, json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { accountEvents { kind email } }" } })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Another account's activity must not reach this subscriber.
    invite(&server, &other, "stranger@elsewhere.example").await;
    invite(&server, &owner, "new@shop.example").await;
    let event = next(&mut socket).await.unwrap_or_else(|code| panic!("closed {code}"));
    assert_eq!(event["type"], "next");
    assert_eq!(
        event["payload"]["data"]["accountEvents"],
        json!({ "kind": "MEMBER_INVITED", "email": "new@shop.example" })
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn invalid_tokens_and_early_subscribes_close_with_protocol_codes() {
    let dir = alatar_tests::scratch_dir();
    let server = RunningBinary::start(&dir, &[]);
    let mut socket = connect(&server, "graphql-transport-ws").await;
    send(&mut socket, json!({ "type": "connection_init", "payload": { "authorization": "Bearer not-a-token" } })).await;
    assert_eq!(next(&mut socket).await.err(), Some(4403));

    let mut early = connect(&server, "graphql-transport-ws").await;
    send(
        &mut early,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { accountEvents { kind } }" } }),
    )
    .await;
    assert_eq!(next(&mut early).await.err(), Some(4401));

    // Anonymous connections are accepted, but subscriptions need a viewer.
    let mut anonymous = connect(&server, "graphql-transport-ws").await;
    send(&mut anonymous, json!({ "type": "connection_init" })).await;
    assert_eq!(next(&mut anonymous).await.ok().map(|v| v["type"].clone()), Some(json!("connection_ack")));
    send(
        &mut anonymous,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { accountEvents { kind } }" } }),
    )
    .await;
    let error = next(&mut anonymous).await.unwrap_or_else(|code| panic!("closed {code}"));
    assert_eq!(error["type"], "next");
    assert_eq!(error["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn legacy_graphql_ws_protocol() {
    let dir = alatar_tests::scratch_dir();
    let server = RunningBinary::start(&dir, &[]);
    let owner = register(&server, "legacy@shop.example").await;
    let mut socket = connect(&server, "graphql-ws").await;
    send(&mut socket, json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {owner}") } }))
        .await;
    assert_eq!(next(&mut socket).await.ok().map(|v| v["type"].clone()), Some(json!("connection_ack")));
    send(
        &mut socket,
        json!({ "id": "7", "type": "start", "payload": { "query": "subscription { accountEvents { kind email } }" } }),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    invite(&server, &owner, "legacy-new@shop.example").await;
    let data = next(&mut socket).await.unwrap_or_else(|code| panic!("closed {code}"));
    assert_eq!(data["type"], "data");
    assert_eq!(data["id"], "7");
    assert_eq!(data["payload"]["data"]["accountEvents"]["email"], "legacy-new@shop.example");

    let mut bad = connect(&server, "graphql-ws").await;
    send(&mut bad, json!({ "type": "connection_init", "payload": { "authorization": "Bearer nope" } })).await;
    assert_eq!(next(&mut bad).await.ok().map(|v| v["type"].clone()), Some(json!("connection_error")));
    let _ = std::fs::remove_dir_all(dir);
}

async fn post(server: &RunningBinary, token: &str, query: &str, variables: Value) -> Value {
    alatar_tests::post_graphql(&server.base_url, json!({ "query": query, "variables": variables }), Some(token)).await
}

/// Links the demo store for `owner` and asks the headline question; the request id.
async fn ask_demo_store(server: &RunningBinary, owner: &str) -> Value {
    let store = post(server, owner, "mutation { connectDemoStore { id } }", json!({})).await;
    let store = store["data"]["connectDemoStore"]["id"].clone();
    let submitted = post(
        server,
        owner,
        "mutation($p: String!, $s: ID!) { submitAnalysisRequest(prompt: $p, storeId: $s) { id } }",
        json!({ "p": super::analysis::QUESTION, "s": store }),
    )
    .await;
    submitted["data"]["submitAnalysisRequest"]["id"].clone()
}

#[tokio::test]
async fn analysis_request_updates_stream_to_completion() {
    let dir = alatar_tests::scratch_dir();
    let server = RunningBinary::start(&dir, &[]);
    let owner = register(&server, "ws-analyst@shop.example").await;
    let stranger = register(&server, "ws-stranger@elsewhere.example").await;
    let id = ask_demo_store(&server, &owner).await;
    let subscription = "subscription($id: ID!) { analysisRequestUpdates(requestId: $id) { sequence kind status } }";

    let mut socket = connect(&server, "graphql-transport-ws").await;
    send(&mut socket, json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {owner}") } }))
        .await;
    assert_eq!(next(&mut socket).await.ok().map(|v| v["type"].clone()), Some(json!("connection_ack")));
    send(
        &mut socket,
        json!({ "id": "a", "type": "subscribe", "payload": { "query": subscription, "variables": { "id": id } } }),
    )
    .await;
    let mut events = Vec::new();
    loop {
        let message = next(&mut socket).await.unwrap_or_else(|code| panic!("closed {code}"));
        match message["type"].as_str() {
            Some("next") => {
                let event = message["payload"]["data"]["analysisRequestUpdates"].clone();
                let settled = event["status"] == "AWAITING_APPROVAL";
                events.push(event);
                // The stream stays open for the proposals' decisions.
                if settled {
                    break;
                }
            }
            Some("complete") => break,
            other => panic!("unexpected {other:?}: {message}"),
        }
    }
    let sequences: Vec<i64> = events.iter().filter_map(|e| e["sequence"].as_i64()).collect();
    assert_eq!(sequences, (1..=events.len() as i64).collect::<Vec<_>>());
    assert_eq!(events.last().map(|e| e["status"].clone()), Some(json!("AWAITING_APPROVAL")));

    // Someone else's request does not exist for them.
    let mut other = connect(&server, "graphql-transport-ws").await;
    send(
        &mut other,
        json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {stranger}") } }),
    )
    .await;
    assert_eq!(next(&mut other).await.ok().map(|v| v["type"].clone()), Some(json!("connection_ack")));
    send(
        &mut other,
        json!({ "id": "b", "type": "subscribe", "payload": { "query": subscription, "variables": { "id": id } } }),
    )
    .await;
    let refused = next(&mut other).await.unwrap_or_else(|code| panic!("closed {code}"));
    assert_eq!(refused["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND");
    let _ = std::fs::remove_dir_all(dir);
}

/// Action status changes stream on `actionUpdates` (as the changed action)
/// and on `analysisRequestUpdates` (as events); deciding every proposal
/// completes the request and its stream.
#[tokio::test]
async fn action_updates_stream_decisions() {
    let dir = alatar_tests::scratch_dir();
    let server = RunningBinary::start(&dir, &[]);
    let owner = register(&server, "ws-approver@shop.example").await;
    let id = ask_demo_store(&server, &owner).await;
    let query =
        "query($id: ID!) { analysisRequest(id: $id) { status result { proposedActions { id parametersHash } } } }";
    let actions = loop {
        let r = post(&server, &owner, query, json!({ "id": id })).await;
        if r["data"]["analysisRequest"]["status"] == "AWAITING_APPROVAL" {
            break r["data"]["analysisRequest"]["result"]["proposedActions"].as_array().cloned().unwrap_or_default();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!actions.is_empty());

    let mut socket = connect(&server, "graphql-transport-ws").await;
    send(&mut socket, json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {owner}") } }))
        .await;
    assert_eq!(next(&mut socket).await.ok().map(|v| v["type"].clone()), Some(json!("connection_ack")));
    let updates = "subscription($r: ID) { actionUpdates(requestId: $r) { id status failureReason } }";
    send(
        &mut socket,
        json!({ "id": "u", "type": "subscribe", "payload": { "query": updates, "variables": { "r": id } } }),
    )
    .await;
    let events = "subscription($id: ID!, $after: Int!) { analysisRequestUpdates(requestId: $id, afterSequence: $after) { kind status payload } }";
    let after =
        post(&server, &owner, "query($id: ID!) { analysisRequest(id: $id) { lastSequence } }", json!({ "id": id }))
            .await;
    let after = after["data"]["analysisRequest"]["lastSequence"].clone();
    send(&mut socket, json!({ "id": "e", "type": "subscribe", "payload": { "query": events, "variables": { "id": id, "after": after } } }))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Approve the first (the demo store is read-only: it fails, with the reason), reject the rest.
    let first = &actions[0];
    let approve = "mutation($id: ID!, $h: String!) { approveAction(id: $id, parametersHash: $h) { status } }";
    post(&server, &owner, approve, json!({ "id": first["id"], "h": first["parametersHash"] })).await;
    for other in &actions[1..] {
        post(&server, &owner, "mutation($id: ID!) { rejectAction(id: $id) { status } }", json!({ "id": other["id"] }))
            .await;
    }
    let mut seen = Vec::new();
    let mut kinds = Vec::new();
    let mut complete = false;
    // The two subscriptions are independent streams: wait for both.
    while !complete || seen.len() < actions.len() + 1 {
        let message = next(&mut socket).await.unwrap_or_else(|code| panic!("closed {code}"));
        match (message["type"].as_str(), message["id"].as_str()) {
            (Some("next"), Some("u")) => {
                let a = &message["payload"]["data"]["actionUpdates"];
                seen.push((
                    a["id"].as_str().unwrap_or_default().to_owned(),
                    a["status"].as_str().unwrap_or_default().to_owned(),
                ));
            }
            (Some("next"), Some("e")) => {
                let e = &message["payload"]["data"]["analysisRequestUpdates"];
                kinds.push((e["kind"].as_str().unwrap_or_default().to_owned(), e["payload"]["status"].clone()));
            }
            (Some("complete"), Some("e")) => complete = true,
            other => panic!("unexpected {other:?}: {message}"),
        }
    }
    let first_id = first["id"].as_str().unwrap_or_default();
    let mine: Vec<&str> = seen.iter().filter(|(a, _)| a == first_id).map(|(_, s)| s.as_str()).collect();
    assert_eq!(mine, ["APPROVED", "FAILED"], "{seen:?}");
    assert_eq!(seen.len(), 2 + actions.len() - 1, "{seen:?}");
    assert!(kinds.iter().any(|(k, s)| k == "ACTION_STATUS_CHANGED" && *s == json!("APPROVED")), "{kinds:?}");
    assert_eq!(kinds.last().map(|(k, s)| (k.as_str(), s.clone())), Some(("STATUS_CHANGED", json!("COMPLETED"))));
    let _ = std::fs::remove_dir_all(dir);
}
