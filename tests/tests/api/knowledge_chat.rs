//! Chat over a collection: sessions, a message stored at once and its
//! answer streamed over a real WebSocket (`DELTA`s, then `COMPLETED` with
//! citations into the right document and page); offline answers that quote
//! the document's own sentences or say honestly that it does not say; the
//! account as a wall; viewers chatting; bounds, one answer at a time and
//! interrupted answers; the model path against a scripted model (the
//! member's and the session's model, history, fenced context, failures
//! mid-stream and before it, the member's message kept, a slow model's
//! pieces streamed as they come); and 50 sessions at once, each with
//! exactly one end. Answers cut short by a restart: `knowledge_chat_restart`.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use uuid::Uuid;

use alatar_agents::knowledge::extract::samples::text_pdf;
use alatar_entity::{AccountScope, ChatMessageStatus, DocumentStatus, chat_message, document, document_chunk, user};
use alatar_schema::service::knowledge::chat::{ChatUpdateKind, chat_message_updates};
use alatar_tests::fake_llm::{FakeLlm, Reply, chunks, error};
use alatar_tests::{Backend, Gql, TestApp, on_both_backends};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const PASSWORD: &str = "correct horse battery";
const NOTHING_FOUND: &str = "The documents in this collection don't say.";

const RETURNS_PAGE_1: &str =
    "Return policy\nItems can be returned within thirty days of delivery.\nThey must be unworn.";
const RETURNS_PAGE_2: &str = "Exchanges\nSizes can be exchanged once, free of charge.";

const CREATE: &str =
    "mutation($c: ID!, $m: String) { createChatSession(collectionId: $c, model: $m) { id title model collectionId } }";
const SEND: &str = "mutation($s: ID!, $t: String!) { sendChatMessage(sessionId: $s, content: $t) { id role status content sessionId } }";
const MESSAGE_FIELDS: &str = "id role status content error model tokenCount
    citations { index chunkId documentId documentFilename page charStart charEnd quote }";
const DOCUMENT: &str = "query($id: ID!) { document(id: $id) { status
    chunks(first: 500) { edges { node { id text page charStart charEnd } } } } }";

fn session_query() -> String {
    format!(
        "query($id: ID!) {{ chatSession(id: $id) {{ id title model collection {{ id }}
            messages(first: 100) {{ edges {{ node {{ {MESSAGE_FIELDS} }} }} }} }} }}"
    )
}

fn updates_query() -> String {
    format!(
        "subscription($s: ID!, $a: ID) {{ chatMessageUpdates(sessionId: $s, after: $a) {{
            kind messageId delta offset error message {{ {MESSAGE_FIELDS} }} }} }}"
    )
}

fn id_of(answer: &Gql, pointer: &str) -> String {
    answer.data(pointer).as_str().unwrap_or_else(|| panic!("no {pointer}: {}", answer.body)).to_owned()
}

async fn collection(app: &TestApp, token: &str, name: &str) -> String {
    let create = "mutation($n: String!) { createCollection(name: $n) { id } }";
    id_of(&app.gql(create, json!({ "n": name }), Some(token)).await.ok(), "/createCollection/id")
}

/// Uploads and waits until the document is `INGESTED`; returns its id.
async fn ingested(app: &TestApp, token: &str, collection: &str, filename: &str, bytes: &[u8]) -> String {
    let uploaded = app.upload_document(token, collection, filename, bytes, "id status").await.ok();
    let id = id_of(&uploaded, "/uploadDocument/id");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = app.gql(DOCUMENT, json!({ "id": id }), Some(token)).await.ok();
        match found.data("/document/status").as_str() {
            Some("INGESTED") => return id,
            Some("FAILED") => panic!("{filename} failed: {}", found.body),
            _ => {}
        }
        assert!(Instant::now() < deadline, "{filename} was not ingested: {}", found.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The returns policy (two PDF pages) and a care sheet, ingested into a new
/// collection; (collection id, the PDF's id).
async fn returns_collection(app: &TestApp, token: &str) -> (String, String) {
    let returns = collection(app, token, "Returns").await;
    let pdf = ingested(app, token, &returns, "returns.pdf", &text_pdf(&[RETURNS_PAGE_1, RETURNS_PAGE_2])).await;
    ingested(app, token, &returns, "care.md", b"# Care\n\nWash cold and dry flat.\n").await;
    (returns, pdf)
}

async fn account_of(app: &TestApp, user_id: &str) -> Uuid {
    let id = Uuid::parse_str(user_id).unwrap_or_else(|e| panic!("{e}"));
    let found = user::Entity::find_by_id(id).one(&app.db.conn).await.unwrap_or_else(|e| panic!("{e}"));
    found.unwrap_or_else(|| panic!("no user {id}")).account_id
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

async fn create_session(app: &TestApp, token: &str, collection: &str, model: Option<&str>) -> String {
    id_of(&app.gql(CREATE, json!({ "c": collection, "m": model }), Some(token)).await.ok(), "/createChatSession/id")
}

async fn send(app: &TestApp, token: &str, session: &str, content: &str) -> Gql {
    app.gql(SEND, json!({ "s": session, "t": content }), Some(token)).await
}

/// The session's messages once no answer is being written.
async fn settled(app: &TestApp, token: &str, session: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = app.gql(&session_query(), json!({ "id": session }), Some(token)).await.ok();
        let messages: Vec<Value> = found
            .data("/chatSession/messages/edges")
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| e["node"].clone())
            .collect();
        if messages.iter().all(|m| m["status"] != "STREAMING")
            && messages.last().is_some_and(|m| m["role"] == "ASSISTANT")
        {
            return messages;
        }
        assert!(Instant::now() < deadline, "no answer within 30 s: {}", found.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends `content` and waits for its answer; the stored answer.
async fn asked(app: &TestApp, token: &str, session: &str, content: &str) -> Value {
    let sent = send(app, token, session, content).await.ok();
    let question = id_of(&sent, "/sendChatMessage/id");
    let messages = settled(app, token, session).await;
    let at = messages.iter().position(|m| m["id"] == json!(question)).unwrap_or_else(|| panic!("{messages:?}"));
    messages.get(at + 1).cloned().unwrap_or_else(|| panic!("no answer after the question: {messages:?}"))
}

/// Serves `router` on a port of its own (WebSocket clients need one).
async fn serve(router: axum::Router) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    tokio::spawn(async move { axum::serve(listener, router).await });
    port
}

/// A graphql-transport-ws connection as `token`'s user, subscribed (as
/// `"1"`) to `chatMessageUpdates` of `session` after `after`.
async fn subscribe(port: u16, token: &str, session: &str, after: Option<&str>) -> Socket {
    let mut request = format!("ws://127.0.0.1:{port}/graphql").into_client_request().unwrap_or_else(|e| panic!("{e}"));
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap_or_else(|e| panic!("{e}")));
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap_or_else(|e| panic!("{e}"));
    let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } });
    socket.send(Message::Text(init.to_string().into())).await.unwrap_or_else(|e| panic!("{e}"));
    let ack = tokio::time::timeout(Duration::from_secs(10), socket.next()).await.ok().flatten();
    assert!(matches!(&ack, Some(Ok(Message::Text(t))) if t.contains("connection_ack")), "{ack:?}");
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": {
        "query": updates_query(), "variables": { "s": session, "a": after } } });
    socket.send(Message::Text(subscribe.to_string().into())).await.unwrap_or_else(|e| panic!("{e}"));
    socket
}

/// The next payload of subscription `"1"` (its `data` or its `errors`).
async fn next_payload(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(20), socket.next())
            .await
            .unwrap_or_else(|_| panic!("nothing on the subscription within 20 s"));
        let value: Value = match message {
            Some(Ok(Message::Text(text))) => serde_json::from_str(&text).unwrap_or_default(),
            Some(Ok(Message::Close(frame))) => panic!("closed: {frame:?}"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("{e}"),
            None => panic!("the socket ended"),
        };
        match value["type"].as_str() {
            Some("next") if value["id"] == "1" => return value["payload"].clone(),
            Some("ka" | "ping" | "pong") => continue,
            _ => panic!("unexpected message: {value}"),
        }
    }
}

/// The next update of subscription `"1"`.
async fn next_update(socket: &mut Socket) -> Value {
    let payload = next_payload(socket).await;
    assert!(payload.get("errors").is_none(), "{payload}");
    payload["data"]["chatMessageUpdates"].clone()
}

/// Updates until an answer's end; (the deltas in order, the end).
async fn until_end(socket: &mut Socket) -> (Vec<Value>, Value) {
    let mut deltas = Vec::new();
    loop {
        let update = next_update(socket).await;
        match update["kind"].as_str() {
            Some("DELTA") => deltas.push(update),
            Some("COMPLETED" | "FAILED") => return (deltas, update),
            _ => panic!("unexpected update: {update}"),
        }
    }
}

/// The deltas joined, after checking that each starts where the last ended.
fn joined(deltas: &[Value]) -> String {
    let mut text = String::new();
    for delta in deltas {
        assert_eq!(delta["offset"].as_u64(), Some(text.chars().count() as u64), "{deltas:?}");
        text.push_str(delta["delta"].as_str().unwrap_or_default());
    }
    text
}

/// `quote` is in the very chunk of document `document` the citation names,
/// at the offsets it gives.
async fn quoted_from_the_document(app: &TestApp, token: &str, document: &str, citation: &Value) {
    let listed = app.gql(DOCUMENT, json!({ "id": document }), Some(token)).await.ok();
    let chunks = listed.data("/document/chunks/edges").as_array().cloned().unwrap_or_default();
    let chunk = chunks.iter().map(|e| &e["node"]).find(|c| c["id"] == citation["chunkId"]);
    let chunk = chunk.unwrap_or_else(|| panic!("{citation} cites no chunk of {document}: {chunks:?}"));
    assert_eq!(chunk["page"], citation["page"]);
    let from = citation["charStart"].as_i64().unwrap_or(-1) - chunk["charStart"].as_i64().unwrap_or(0);
    let quote = citation["quote"].as_str().unwrap_or_default();
    let text = chunk["text"].as_str().unwrap_or_default();
    let at_offsets: String =
        text.chars().skip(usize::try_from(from).unwrap_or(usize::MAX)).take(quote.chars().count()).collect();
    assert_eq!(at_offsets, quote, "{citation} in {chunk}");
    assert_eq!(
        citation["charEnd"].as_i64(),
        Some(citation["charStart"].as_i64().unwrap_or(0) + quote.chars().count() as i64)
    );
}

async fn offline_answers_stream_and_quote_the_document(backend: Backend) {
    let app = TestApp::new(backend).await;
    let port = serve(app.router.clone()).await;
    let (owner, _, _) = app.register("owner@chat.example").await;
    let (returns, pdf) = returns_collection(&app, &owner).await;
    let session = create_session(&app, &owner, &returns, None).await;

    let mut socket = subscribe(port, &owner, &session, None).await;
    // The subscription is set up before the message goes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = send(&app, &owner, &session, "Can I exchange a size?").await.ok();
    assert_eq!(sent.data("/sendChatMessage/role"), "USER");
    assert_eq!(sent.data("/sendChatMessage/status"), "COMPLETE");
    assert_eq!(sent.data("/sendChatMessage/content"), "Can I exchange a size?");

    let (deltas, end) = until_end(&mut socket).await;
    assert_eq!(end["kind"], "COMPLETED", "{end}");
    assert!(!deltas.is_empty(), "the answer streamed before it ended");
    let answer = &end["message"];
    assert_eq!(joined(&deltas), answer["content"].as_str().unwrap_or_default(), "the deltas are the answer");
    assert!(deltas.iter().all(|d| d["messageId"] == answer["id"]));
    assert_eq!((answer["role"].as_str(), answer["status"].as_str()), (Some("ASSISTANT"), Some("COMPLETE")));
    assert_eq!(answer["model"], "extractive");
    assert!(answer["tokenCount"].as_i64().is_some_and(|n| n > 0), "{answer}");
    let citations = answer["citations"].as_array().cloned().unwrap_or_default();
    assert!(!citations.is_empty(), "{answer}");
    let first = &citations[0];
    assert_eq!((first["index"].as_i64(), first["page"].as_i64()), (Some(1), Some(2)), "{first}");
    assert_eq!(
        (first["documentId"].as_str(), first["documentFilename"].as_str()),
        (Some(pdf.as_str()), Some("returns.pdf"))
    );
    let quote = first["quote"].as_str().unwrap_or_default();
    assert!(quote.contains("exchanged once"), "{first}");
    let content = answer["content"].as_str().unwrap_or_default();
    assert!(content.starts_with(&format!("“{quote}” [returns.pdf p. 2]")), "{content}");
    quoted_from_the_document(&app, &owner, &pdf, first).await;

    // Stored as streamed; the first message named the session.
    let messages = settled(&app, &owner, &session).await;
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(messages[0]["content"], "Can I exchange a size?");
    assert_eq!(&messages[1], answer);
    let found = app.gql(&session_query(), json!({ "id": session }), Some(&owner)).await.ok();
    assert_eq!(found.data("/chatSession/title"), "Can I exchange a size?");
    assert_eq!(found.data("/chatSession/collection/id"), &json!(returns));

    // A late subscriber with `after` still hears the end of the next answer.
    let next = send(&app, &owner, &session, "How many days do I have to return an item?").await.ok();
    let question = id_of(&next, "/sendChatMessage/id");
    settled(&app, &owner, &session).await;
    let mut late = subscribe(port, &owner, &session, Some(&question)).await;
    let replayed = next_update(&mut late).await;
    assert_eq!(replayed["kind"], "COMPLETED", "{replayed}");
    let cited = replayed["message"]["citations"].as_array().cloned().unwrap_or_default();
    assert!(!cited.is_empty(), "{replayed}");
    assert_eq!((cited[0]["documentFilename"].as_str(), cited[0]["page"].as_i64()), (Some("returns.pdf"), Some(1)));
    assert!(cited[0]["quote"].as_str().is_some_and(|q| q.contains("returned within thirty days")), "{replayed}");
    quoted_from_the_document(&app, &owner, &pdf, &cited[0]).await;
}

async fn an_unanswerable_question_is_said_so_without_citations(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("owner@unanswerable.example").await;
    let (returns, _) = returns_collection(&app, &owner).await;
    let session = create_session(&app, &owner, &returns, None).await;
    for question in ["What is the capital of France?", "Hello?"] {
        let answer = asked(&app, &owner, &session, question).await;
        assert_eq!(answer["content"], NOTHING_FOUND, "{question}: {answer}");
        assert_eq!(answer["citations"], json!([]));
        assert_eq!((answer["status"].as_str(), answer["model"].as_str()), (Some("COMPLETE"), Some("extractive")));
    }
    // A collection without documents says the same.
    let empty = collection(&app, &owner, "Empty").await;
    let session = create_session(&app, &owner, &empty, None).await;
    let answer = asked(&app, &owner, &session, "Can I exchange a size?").await;
    assert_eq!(answer["content"], NOTHING_FOUND);
}

async fn another_accounts_session_is_not_found(backend: Backend) {
    let app = TestApp::new(backend).await;
    let port = serve(app.router.clone()).await;
    let (owner, _, _) = app.register("owner@walls.example").await;
    let (stranger, _, _) = app.register("stranger@elsewhere.example").await;
    let (returns, _) = returns_collection(&app, &owner).await;
    let session = create_session(&app, &owner, &returns, None).await;
    asked(&app, &owner, &session, "Can I exchange a size?").await;

    let seen = app.gql(&session_query(), json!({ "id": session }), Some(&stranger)).await;
    assert_eq!(seen.code(), Some("NOT_FOUND"), "{}", seen.body);
    assert_eq!(send(&app, &stranger, &session, "Let me in").await.code(), Some("NOT_FOUND"));
    let delete = "mutation($id: ID!) { deleteChatSession(id: $id) }";
    assert_eq!(app.gql(delete, json!({ "id": session }), Some(&stranger)).await.code(), Some("NOT_FOUND"));
    let theirs = app.gql(CREATE, json!({ "c": returns, "m": null }), Some(&stranger)).await;
    assert_eq!(theirs.code(), Some("NOT_FOUND"), "another account's collection: {}", theirs.body);
    let listed = app.gql("{ chatSessions { edges { node { id } } } }", json!({}), Some(&stranger)).await.ok();
    assert_eq!(listed.data("/chatSessions/edges"), &json!([]));
    let mut socket = subscribe(port, &stranger, &session, None).await;
    let refused = next_payload(&mut socket).await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "NOT_FOUND", "{refused}");

    // Nothing of the owner's changed.
    assert_eq!(settled(&app, &owner, &session).await.len(), 2);
    let listed = app.gql("{ chatSessions { edges { node { id } } } }", json!({}), Some(&owner)).await.ok();
    assert_eq!(listed.data("/chatSessions/edges/0/node/id"), &json!(session));
}

on_both_backends! {
    offline_answers_stream => offline_answers_stream_and_quote_the_document;
    unanswerable_question => an_unanswerable_question_is_said_so_without_citations;
    another_account => another_accounts_session_is_not_found;
    fifty_sessions => fifty_concurrent_sessions_each_end_once;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_chat_within_bounds_one_answer_at_a_time() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (owner, _, _) = app.register("owner@viewers.example").await;
    let viewer = member(&app, &owner, "viewer@viewers.example", "VIEWER").await;
    let (returns, _) = returns_collection(&app, &owner).await;

    // A viewer may chat.
    let theirs = create_session(&app, &viewer, &returns, None).await;
    let answer = asked(&app, &viewer, &theirs, "Can I exchange a size?").await;
    assert_eq!(answer["status"], "COMPLETE");
    assert!(answer["citations"].as_array().is_some_and(|c| !c.is_empty()), "{answer}");

    // Bounds.
    let long = send(&app, &viewer, &theirs, &"x".repeat(4_001)).await;
    assert_eq!(long.code(), Some("BAD_USER_INPUT"), "{}", long.body);
    assert_eq!(send(&app, &viewer, &theirs, "  \n ").await.code(), Some("BAD_USER_INPUT"));
    assert_eq!(send(&app, &viewer, "not-an-id", "Hi").await.code(), Some("BAD_USER_INPUT"));
    let spaced = app.gql(CREATE, json!({ "c": returns, "m": "two words" }), Some(&viewer)).await;
    assert_eq!(spaced.code(), Some("BAD_USER_INPUT"), "{}", spaced.body);
    let zero = app.gql("{ chatSessions(first: 0) { edges { node { id } } } }", json!({}), Some(&viewer)).await;
    assert_eq!(zero.code(), Some("BAD_USER_INPUT"));

    // One answer at a time: while one is being written, the next message
    // waits (CONFLICT); one left behind by a stopped server is given up.
    let answer_id = Uuid::parse_str(answer["id"].as_str().unwrap_or_default()).unwrap_or_default();
    let set = |column: chat_message::Column, value: sea_orm::Value| {
        chat_message::Entity::update_many()
            .col_expr(column, Expr::value(value))
            .filter(chat_message::Column::Id.eq(answer_id))
    };
    set(chat_message::Column::Status, "STREAMING".into()).exec(&app.db.conn).await.unwrap_or_else(|e| panic!("{e}"));
    let busy = send(&app, &viewer, &theirs, "And again?").await;
    assert_eq!(busy.code(), Some("CONFLICT"), "{}", busy.body);
    let long_ago = chrono::Utc::now() - chrono::Duration::minutes(20);
    set(chat_message::Column::CreatedAt, long_ago.into()).exec(&app.db.conn).await.unwrap_or_else(|e| panic!("{e}"));
    let after = asked(&app, &viewer, &theirs, "Can sizes be exchanged?").await;
    assert_eq!(after["status"], "COMPLETE");
    let interrupted = chat_message::Entity::find_by_id(answer_id).one(&app.db.conn).await.ok().flatten();
    let interrupted = interrupted.unwrap_or_else(|| panic!("the old answer is gone"));
    assert_eq!(interrupted.status, ChatMessageStatus::Failed);
    assert!(interrupted.error.as_deref().is_some_and(|e| e.contains("interrupted")), "{interrupted:?}");

    // Who started a chat, an owner or an admin deletes it.
    let delete = "mutation($id: ID!) { deleteChatSession(id: $id) }";
    let owners = create_session(&app, &owner, &returns, None).await;
    assert_eq!(app.gql(delete, json!({ "id": owners }), Some(&viewer)).await.code(), Some("FORBIDDEN"));
    app.gql(delete, json!({ "id": theirs }), Some(&viewer)).await.ok();
    let gone = app.gql(&session_query(), json!({ "id": theirs }), Some(&viewer)).await;
    assert_eq!(gone.code(), Some("NOT_FOUND"));
    let left = chat_message::Entity::find()
        .filter(chat_message::Column::SessionId.eq(Uuid::parse_str(&theirs).unwrap_or_default()))
        .all(&app.db.conn)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(left.is_empty(), "{left:?}");
    // Deleting the collection takes its sessions with it.
    app.gql("mutation($id: ID!) { deleteCollection(id: $id) }", json!({ "id": returns }), Some(&owner)).await.ok();
    let gone = app.gql(&session_query(), json!({ "id": owners }), Some(&owner)).await;
    assert_eq!(gone.code(), Some("NOT_FOUND"), "{}", gone.body);
}

/// An `INGESTED` document with one chunk per page, stored directly (no
/// ingestion, so no summary job asks the scripted model first); its id.
async fn seeded(app: &TestApp, owner_id: &str, collection: &str, filename: &str, pages: &[&str]) -> Uuid {
    let account = account_of(app, owner_id).await;
    let collection_id = Uuid::parse_str(collection).unwrap_or_default();
    let id = Uuid::now_v7();
    let now = chrono::Utc::now();
    document::ActiveModel {
        id: Set(id),
        account_id: Set(account),
        collection_id: Set(collection_id),
        filename: Set(filename.to_owned()),
        content_type: Set("application/pdf".into()),
        byte_size: Set(1),
        sha256: Set(format!("{:064x}", id.as_u128())),
        status: Set(DocumentStatus::Ingested),
        progress: Set(100),
        failure_reason: Set(None),
        page_count: Set(i32::try_from(pages.len()).ok()),
        chunk_count: Set(i32::try_from(pages.len()).ok()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db.conn)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    for (n, text) in pages.iter().enumerate() {
        let ordinal = i32::try_from(n).unwrap_or(0);
        document_chunk::ActiveModel {
            id: Set(Uuid::now_v7()),
            account_id: Set(account),
            document_id: Set(id),
            collection_id: Set(collection_id),
            ordinal: Set(ordinal),
            text: Set((*text).to_owned()),
            page: Set(Some(ordinal + 1)),
            char_start: Set(0),
            char_end: Set(i32::try_from(text.chars().count()).unwrap_or(0)),
            token_count: Set(10),
        }
        .insert(&app.db.conn)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    }
    id
}

/// An app answering through `fake` (no retries), and its owner with
/// `acme/chat-1` as their model: (app, owner token, owner id).
async fn with_model(fake: &FakeLlm) -> (TestApp, String, String) {
    let base_url = fake.base_url.clone();
    let app = TestApp::with_config(Backend::Sqlite, move |c| {
        c.llm.api_key = Some("test-key".to_owned().into());
        c.llm.base_url = base_url;
        c.llm.backoff_ms = 10;
        c.llm.max_retries = 0;
    })
    .await;
    let (owner, _, owner_id) = app.register("owner@model-chat.example").await;
    let prefer = "mutation { updatePreferences(input: { llmModel: \"acme/chat-1\" }) { llmModel } }";
    app.gql(prefer, json!({}), Some(&owner)).await.ok();
    (app, owner, owner_id)
}

fn request_messages(request: &Value) -> Vec<Value> {
    request["messages"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_answers_from_the_fenced_context_in_the_members_model() {
    let fake = FakeLlm::start(vec![
        Reply::Sse(chunks(&["Sizes can be exchanged ", "once, free of charge [1]."])),
        Reply::Sse(chunks(&["Once [1]."])),
        Reply::Sse(chunks(&["Yes, free [1]."])),
    ])
    .await;
    let (app, owner, owner_id) = with_model(&fake).await;
    let port = serve(app.router.clone()).await;
    let returns = collection(&app, &owner, "Returns").await;
    let pdf = seeded(&app, &owner_id, &returns, "returns.pdf", &[RETURNS_PAGE_1, RETURNS_PAGE_2]).await;

    let session = create_session(&app, &owner, &returns, None).await;
    let mut socket = subscribe(port, &owner, &session, None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    send(&app, &owner, &session, "Can I exchange a size?").await.ok();
    let (deltas, end) = until_end(&mut socket).await;
    assert_eq!(end["kind"], "COMPLETED", "{end}");
    let answer = &end["message"];
    assert_eq!(answer["content"], "Sizes can be exchanged once, free of charge [1].");
    assert_eq!(joined(&deltas), "Sizes can be exchanged once, free of charge [1].");
    assert_eq!(answer["model"], "acme/chat-1", "the member's model");
    assert_eq!(answer["tokenCount"], 30, "the provider's completion tokens");
    let citations = answer["citations"].as_array().cloned().unwrap_or_default();
    assert_eq!(citations.len(), 1, "{answer}");
    assert_eq!(citations[0]["index"], 1);
    assert_eq!(citations[0]["documentId"], json!(pdf.to_string()));
    assert_eq!(
        (citations[0]["documentFilename"].as_str(), citations[0]["page"].as_i64()),
        (Some("returns.pdf"), Some(2))
    );
    assert_eq!(citations[0]["quote"], "Sizes can be exchanged once, free of charge.");

    let requests = fake.requests();
    assert_eq!(requests[0]["model"], "acme/chat-1");
    assert_eq!(requests[0]["stream"], true);
    let sent = request_messages(&requests[0]);
    assert_eq!(sent[0]["role"], "system");
    assert!(sent[0]["content"].as_str().is_some_and(|s| s.contains("untrusted") && s.contains("only")), "{sent:?}");
    let asked_with = sent.last().and_then(|m| m["content"].as_str()).unwrap_or_default();
    assert!(asked_with.starts_with("<context>\n<passage n=\"1\" document=\"returns.pdf\" page=\"2\">"), "{asked_with}");
    assert!(asked_with.contains("Sizes can be exchanged once, free of charge."), "{asked_with}");
    assert!(asked_with.ends_with("Question: Can I exchange a size?"), "{asked_with}");

    // The session's own model wins over the member's.
    let other = create_session(&app, &owner, &returns, Some("acme/session-model")).await;
    let answer = asked(&app, &owner, &other, "How often can sizes be exchanged?").await;
    assert_eq!(answer["model"], "acme/session-model");
    assert_eq!(fake.requests()[1]["model"], "acme/session-model");

    // The history is part of the prompt.
    let answer = asked(&app, &owner, &session, "Is an exchange free?").await;
    assert_eq!(answer["content"], "Yes, free [1].");
    let sent = request_messages(&fake.requests()[2]);
    let roles: Vec<&str> = sent.iter().filter_map(|m| m["role"].as_str()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"], "{sent:?}");
    assert_eq!(sent[1]["content"], "Can I exchange a size?");
    assert_eq!(sent[2]["content"], "Sizes can be exchanged once, free of charge [1].");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_failure_ends_the_stream_and_keeps_the_question() {
    let broken = {
        let mut events = chunks(&["Sizes can "]);
        events.truncate(1);
        events.push(json!("the connection broke"));
        events
    };
    let fake = FakeLlm::start(vec![Reply::Sse(broken), Reply::Json(500, error("down"))]).await;
    let (app, owner, owner_id) = with_model(&fake).await;
    let port = serve(app.router.clone()).await;
    let returns = collection(&app, &owner, "Returns").await;
    seeded(&app, &owner_id, &returns, "returns.pdf", &[RETURNS_PAGE_1, RETURNS_PAGE_2]).await;
    let session = create_session(&app, &owner, &returns, None).await;
    let mut socket = subscribe(port, &owner, &session, None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Mid-stream: what streamed, then FAILED with a reason.
    send(&app, &owner, &session, "Can I exchange a size?").await.ok();
    let (deltas, end) = until_end(&mut socket).await;
    assert_eq!(end["kind"], "FAILED", "{end}");
    assert_eq!(joined(&deltas), "Sizes can ");
    assert!(end["error"].as_str().is_some_and(|e| e.contains("broke off")), "{end}");
    assert_eq!(end["message"]["status"], "FAILED");
    assert_eq!(end["message"]["citations"], json!([]));

    // Before the first piece: FAILED at once.
    send(&app, &owner, &session, "Can sizes be exchanged?").await.ok();
    let (deltas, end) = until_end(&mut socket).await;
    assert_eq!(end["kind"], "FAILED", "{end}");
    assert!(deltas.is_empty(), "{deltas:?}");
    assert!(end["error"].as_str().is_some_and(|e| e.contains("unavailable")), "{end}");

    // The questions stay, each followed by its failed answer.
    let messages = settled(&app, &owner, &session).await;
    let shape: Vec<(&str, &str)> =
        messages.iter().map(|m| (m["role"].as_str().unwrap_or(""), m["status"].as_str().unwrap_or(""))).collect();
    assert_eq!(shape, [("USER", "COMPLETE"), ("ASSISTANT", "FAILED"), ("USER", "COMPLETE"), ("ASSISTANT", "FAILED")]);
    assert_eq!(messages[0]["content"], "Can I exchange a size?");
    assert_eq!(messages[2]["content"], "Can sizes be exchanged?");
}

/// Behind a model that takes 500 ms to its first token (the issue's
/// benchmark case), the first piece streams when the model sends it, within
/// the 2 s target, and the next piece when it comes, not with the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_model_streams_each_piece_as_it_comes() {
    let latency = Duration::from_millis(500);
    let pace = Duration::from_millis(300);
    let fake = FakeLlm::start(vec![Reply::Streamed {
        first_after: latency,
        between: pace,
        events: chunks(&["Sizes can be exchanged ", "once [1]."]),
    }])
    .await;
    let (app, owner, owner_id) = with_model(&fake).await;
    let scope = AccountScope::new(account_of(&app, &owner_id).await);
    let returns = collection(&app, &owner, "Returns").await;
    seeded(&app, &owner_id, &returns, "returns.pdf", &[RETURNS_PAGE_1, RETURNS_PAGE_2]).await;
    let session = create_session(&app, &owner, &returns, None).await;
    let id = Uuid::parse_str(&session).unwrap_or_default();
    let mut stream = Box::pin(chat_message_updates(app.pipeline().clone(), scope, id, None));
    let started = Instant::now();
    send(&app, &owner, &session, "Can I exchange a size?").await.ok();
    let mut updates = Vec::new();
    loop {
        let update = tokio::time::timeout(Duration::from_secs(20), stream.next()).await;
        let update = update.ok().flatten().unwrap_or_else(|| panic!("nothing within 20 s: {updates:?}"));
        let update = update.unwrap_or_else(|e| panic!("{e}"));
        let ended = update.kind != ChatUpdateKind::Delta;
        updates.push((update, started.elapsed()));
        if ended {
            break;
        }
    }
    let pieces: Vec<(&str, Duration)> =
        updates.iter().filter_map(|(u, at)| u.delta.as_deref().map(|d| (d, *at))).collect();
    let texts: Vec<&str> = pieces.iter().map(|(text, _)| *text).collect();
    assert_eq!(texts, ["Sizes can be exchanged ", "once [1]."], "each piece on its own: {updates:?}");
    let (first_at, second_at) = (pieces[0].1, pieces[1].1);
    assert!(first_at >= latency, "a piece before the model sent one: {first_at:?}");
    assert!(first_at < Duration::from_secs(2), "first piece after {first_at:?}");
    assert!(second_at >= first_at + pace / 2, "the pieces came together: {first_at:?}, {second_at:?}");
    let (end, _) = updates.last().unwrap_or_else(|| panic!("no updates"));
    assert_eq!(end.kind, ChatUpdateKind::Completed, "{end:?}");
    let stored = end.message.as_ref().unwrap_or_else(|| panic!("no message"));
    assert_eq!(stored.content, "Sizes can be exchanged once [1].");
}

async fn fifty_concurrent_sessions_each_end_once(backend: Backend) {
    const SESSIONS: usize = 50;
    let app = TestApp::new(backend).await;
    let (owner, _, owner_id) = app.register("owner@fifty.example").await;
    let scope = AccountScope::new(account_of(&app, &owner_id).await);
    let (returns, _) = returns_collection(&app, &owner).await;
    let mut sessions = Vec::new();
    for _ in 0..SESSIONS {
        sessions.push(create_session(&app, &owner, &returns, None).await);
    }
    // Subscribed before anything is sent (the subscription is taken when
    // the stream is made).
    let streams: Vec<_> = sessions
        .iter()
        .map(|s| {
            let id = Uuid::parse_str(s).unwrap_or_default();
            Box::pin(chat_message_updates(app.pipeline().clone(), scope, id, None))
        })
        .collect();
    let started = Instant::now();
    let sends = sessions.iter().map(|s| send(&app, &owner, s, "Can I exchange a size?"));
    // The streams are read while the questions are sent: pieces are live
    // only, so a stream read after the fact would see just the end.
    let ends = streams.into_iter().map(|mut stream| async move {
        let mut ends = Vec::new();
        let mut deltas = 0;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while ends.is_empty() {
            let next = tokio::time::timeout_at(deadline, stream.next()).await;
            let update =
                next.ok().flatten().unwrap_or_else(|| panic!("no end within 60 s")).unwrap_or_else(|e| panic!("{e}"));
            match update.kind {
                ChatUpdateKind::Delta => deltas += 1,
                _ => ends.push(update),
            }
        }
        // Nothing more ends.
        if let Ok(Some(more)) = tokio::time::timeout(Duration::from_millis(300), stream.next()).await {
            ends.push(more.unwrap_or_else(|e| panic!("{e}")));
        }
        (deltas, ends)
    });
    let (sent, ended) = tokio::join!(futures_util::future::join_all(sends), futures_util::future::join_all(ends));
    for sent in sent {
        assert!(sent.body.get("errors").is_none(), "{}", sent.body);
    }
    // An answer can be written before its stream is first read on a busy
    // machine (the whole suite runs at once): that stream then starts from
    // the stored answer and sees its end only; pieces must reach some.
    let streamed = ended.iter().filter(|(deltas, _)| *deltas > 0).count();
    assert!(streamed > 0, "no stream saw a piece of its answer");
    for (_, ends) in ended {
        assert_eq!(ends.len(), 1, "{ends:?}");
        assert_eq!(ends[0].kind, ChatUpdateKind::Completed, "{ends:?}");
        let message = ends[0].message.as_ref().unwrap_or_else(|| panic!("{ends:?}"));
        assert_eq!(message.status, ChatMessageStatus::Complete);
        assert!(message.content.contains("[returns.pdf p. 2]"), "{}", message.content);
    }
    println!("{SESSIONS} sessions answered in {:?}", started.elapsed());
    let answers = chat_message::Entity::find()
        .filter(chat_message::Column::Status.eq(ChatMessageStatus::Complete))
        .all(&app.db.conn)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(answers.len(), 2 * SESSIONS, "a question and an answer each");
}
