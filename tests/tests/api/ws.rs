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

#[tokio::test]
async fn analysis_request_updates_stream_to_completion() {
    let dir = alatar_tests::scratch_dir();
    let server = RunningBinary::start(&dir, &[]);
    let owner = register(&server, "ws-analyst@shop.example").await;
    let stranger = register(&server, "ws-stranger@elsewhere.example").await;
    let store = post(&server, &owner, "mutation { connectDemoStore { id } }", json!({})).await;
    let store = store["data"]["connectDemoStore"]["id"].clone();
    let submitted = post(
        &server,
        &owner,
        "mutation($p: String!, $s: ID!) { submitAnalysisRequest(prompt: $p, storeId: $s) { id } }",
        json!({ "p": super::analysis::QUESTION, "s": store }),
    )
    .await;
    let id = submitted["data"]["submitAnalysisRequest"]["id"].clone();
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
