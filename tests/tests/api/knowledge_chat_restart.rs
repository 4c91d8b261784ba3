//! Answers cut short by a restart: a server that stops mid-answer leaves
//! the answer `STREAMING`; the next server to start on the same database
//! stores it `FAILED` with the reason, a subscriber hears the end, and the
//! session takes the next question at once. An answer begun just before
//! that start (it could be a live peer's) is left to its writer until a
//! later start, which says so on the bus at once.

use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::http::Request;
use futures_util::StreamExt;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

use alatar_agents::knowledge::chat;
use alatar_entity::{
    AccountScope, ChatMessageStatus, ChatRole, DocumentStatus, chat_message, document, document_chunk, user,
};
use alatar_schema::service::knowledge::chat::{ChatUpdateKind, chat_message_updates};
use alatar_server::Application;
use alatar_tests::fake_llm::{FakeLlm, Reply, chunks};
use alatar_tests::{Backend, TestApp, on_both_backends, test_config};

const EXCHANGES: &str = "Exchanges\nSizes can be exchanged once, free of charge.";
const QUESTION: &str = "Can I exchange a size?";
const SEND: &str = "mutation($s: ID!, $t: String!) { sendChatMessage(sessionId: $s, content: $t) { id } }";

fn must<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

fn uuid(id: &str) -> Uuid {
    Uuid::parse_str(id).unwrap_or_else(|e| panic!("{id}: {e}"))
}

/// A GraphQL request through `router` (another instance's) as `token`'s user.
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

fn code(answer: &Value) -> Option<&str> {
    answer.pointer("/errors/0/extensions/code").and_then(Value::as_str)
}

async fn account_of(app: &TestApp, user_id: &str) -> Uuid {
    let found = must(user::Entity::find_by_id(uuid(user_id)).one(&app.db.conn).await);
    found.unwrap_or_else(|| panic!("no user {user_id}")).account_id
}

/// An `INGESTED` document of one chunk, stored directly (no ingestion, so
/// no summary job asks the scripted model first).
async fn seeded(app: &TestApp, account: Uuid, collection: Uuid) {
    let (id, now) = (Uuid::now_v7(), chrono::Utc::now());
    must(
        document::ActiveModel {
            id: Set(id),
            account_id: Set(account),
            collection_id: Set(collection),
            filename: Set("exchanges.pdf".to_owned()),
            content_type: Set("application/pdf".into()),
            byte_size: Set(1),
            sha256: Set(format!("{:064x}", id.as_u128())),
            status: Set(DocumentStatus::Ingested),
            progress: Set(100),
            failure_reason: Set(None),
            page_count: Set(Some(1)),
            chunk_count: Set(Some(1)),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&app.db.conn)
        .await,
    );
    must(
        document_chunk::ActiveModel {
            id: Set(Uuid::now_v7()),
            account_id: Set(account),
            document_id: Set(id),
            collection_id: Set(collection),
            ordinal: Set(0),
            text: Set(EXCHANGES.to_owned()),
            page: Set(Some(1)),
            char_start: Set(0),
            char_end: Set(i32::try_from(EXCHANGES.chars().count()).unwrap_or(0)),
            token_count: Set(10),
        }
        .insert(&app.db.conn)
        .await,
    );
}

async fn create_session(app: &TestApp, token: &str, collection: &str) -> String {
    let create = "mutation($c: ID!) { createChatSession(collectionId: $c) { id } }";
    let created = app.gql(create, json!({ "c": collection }), Some(token)).await.ok();
    created.data("/createChatSession/id").as_str().unwrap_or_else(|| panic!("{}", created.body)).to_owned()
}

/// The session's newest assistant message.
async fn last_answer(app: &TestApp, session: Uuid) -> chat_message::Model {
    let found = chat_message::Entity::find()
        .filter(chat_message::Column::SessionId.eq(session))
        .filter(chat_message::Column::Role.eq(ChatRole::Assistant))
        .order_by_desc(chat_message::Column::Id)
        .one(&app.db.conn)
        .await;
    must(found).unwrap_or_else(|| panic!("no answer in {session}"))
}

async fn answer(app: &TestApp, id: Uuid) -> chat_message::Model {
    must(chat_message::Entity::find_by_id(id).one(&app.db.conn).await).unwrap_or_else(|| panic!("no message {id}"))
}

/// Waits until the scripted model has been asked `n` times.
async fn model_asked(fake: &FakeLlm, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while fake.requests().len() < n {
        assert!(Instant::now() < deadline, "the model was asked {} times, not {n}", fake.requests().len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the session's newest answer is no longer `STREAMING`.
async fn answered(app: &TestApp, session: Uuid) -> chat_message::Model {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let last = last_answer(app, session).await;
        if last.status != ChatMessageStatus::Streaming {
            return last;
        }
        assert!(Instant::now() < deadline, "no answer within 30 s: {last:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn answers_cut_short_by_a_restart_fail_and_free_their_session(backend: Backend) {
    // A model that takes a minute: the answers are mid-way when the server "stops".
    let slow = || Reply::Slow(Duration::from_secs(60), Box::new(Reply::Sse(chunks(&["Too late [1]."]))));
    let fake = FakeLlm::start(vec![slow(), slow()]).await;
    let base_url = fake.base_url.clone();
    let app = TestApp::with_config(backend, move |c| {
        c.llm.api_key = Some("test-key".to_owned().into());
        c.llm.base_url = base_url;
        c.llm.max_retries = 0;
        c.llm.timeout_ms = 300_000;
    })
    .await;
    let (owner, _, owner_id) = app.register("owner@restart-chat.example").await;
    let scope = AccountScope::new(account_of(&app, &owner_id).await);
    let create = "mutation($n: String!) { createCollection(name: $n) { id } }";
    let collection = app.gql(create, json!({ "n": "Policies" }), Some(&owner)).await.ok();
    let collection = collection.data("/createCollection/id").as_str().unwrap_or_default().to_owned();
    seeded(&app, scope.account_id(), uuid(&collection)).await;
    let cut = create_session(&app, &owner, &collection).await;
    let fresh = create_session(&app, &owner, &collection).await;

    // The first answer is being written by the model when the server stops;
    // it began ten minutes before the restart (short of the 15 minutes
    // after which a session's next message would give it up).
    let asked = app.gql(SEND, json!({ "s": cut, "t": QUESTION }), Some(&owner)).await.ok();
    let question = uuid(asked.data("/sendChatMessage/id").as_str().unwrap_or_default());
    model_asked(&fake, 1).await;
    let interrupted = last_answer(&app, uuid(&cut)).await;
    assert_eq!(interrupted.status, ChatMessageStatus::Streaming, "{interrupted:?}");
    let ten_minutes_ago = chrono::Utc::now() - chrono::Duration::minutes(10);
    must(
        chat_message::Entity::update_many()
            .col_expr(chat_message::Column::CreatedAt, Expr::value(ten_minutes_ago))
            .filter(chat_message::Column::Id.eq(interrupted.id))
            .exec(&app.db.conn)
            .await,
    );
    let busy = app.gql(SEND, json!({ "s": cut, "t": "Is an exchange free?" }), Some(&owner)).await;
    assert_eq!(busy.code(), Some("CONFLICT"), "one answer at a time: {}", busy.body);

    // The second begins just before the next server starts: it could be a
    // live peer's answer.
    app.gql(SEND, json!({ "s": fresh, "t": QUESTION }), Some(&owner)).await.ok();
    let restarted = must(Application::build_with_database(test_config(&app.db.dir), app.db.conn.clone()).await);

    let failed = answer(&app, interrupted.id).await;
    assert_eq!(failed.status, ChatMessageStatus::Failed, "{failed:?}");
    assert_eq!(failed.error.as_deref(), Some(chat::INTERRUPTED_BY_RESTART));
    let live = last_answer(&app, uuid(&fresh)).await;
    assert_eq!(live.status, ChatMessageStatus::Streaming, "begun within the margin, it is its writer's: {live:?}");

    // A subscriber on the restarted server hears the end.
    let mut updates = Box::pin(chat_message_updates(restarted.pipeline().clone(), scope, uuid(&cut), Some(question)));
    let update = tokio::time::timeout(Duration::from_secs(10), updates.next()).await;
    let update = must(update.ok().flatten().unwrap_or_else(|| panic!("no update")));
    assert_eq!((update.kind, update.message_id), (ChatUpdateKind::Failed, interrupted.id), "{update:?}");
    let said = update.message.and_then(|m| m.error);
    assert_eq!(said.as_deref(), Some(chat::INTERRUPTED_BY_RESTART));

    // The session takes the next question at once, answered by the new server.
    let router = restarted.router();
    let next = gql_on(&router, SEND, json!({ "s": cut, "t": "Is an exchange free?" }), &owner).await;
    assert!(next.get("errors").is_none(), "{next}");
    let after = answered(&app, uuid(&cut)).await;
    assert_ne!(after.id, interrupted.id);
    assert_eq!(after.status, ChatMessageStatus::Complete, "{after:?}");

    // The second session is still busy with its answer...
    let busy = gql_on(&router, SEND, json!({ "s": fresh, "t": "Is an exchange free?" }), &owner).await;
    assert_eq!(code(&busy), Some("CONFLICT"), "{busy}");
    // ...until a start after the margin gives it up, and says so on the bus
    // at once (well before a quiet watcher's 10 s re-read).
    let mut watching = Box::pin(chat_message_updates(restarted.pipeline().clone(), scope, uuid(&fresh), None));
    let later = SystemTime::now() + chat::RESTART_MARGIN + Duration::from_secs(1);
    assert_eq!(must(chat::fail_interrupted_by_restart(restarted.pipeline(), later).await), 1);
    assert_eq!(must(chat::fail_interrupted_by_restart(restarted.pipeline(), later).await), 0, "failed once");
    let update = tokio::time::timeout(Duration::from_secs(5), watching.next()).await;
    let update = must(update.ok().flatten().unwrap_or_else(|| panic!("the end was not published")));
    assert_eq!((update.kind, update.message_id), (ChatUpdateKind::Failed, live.id), "{update:?}");
    let next = gql_on(&router, SEND, json!({ "s": fresh, "t": "Is an exchange free?" }), &owner).await;
    assert!(next.get("errors").is_none(), "{next}");
    assert_eq!(answered(&app, uuid(&fresh)).await.status, ChatMessageStatus::Complete);

    // The members' questions were kept, each in its place.
    let kept = must(
        chat_message::Entity::find()
            .filter(chat_message::Column::Role.eq(ChatRole::User))
            .filter(chat_message::Column::AccountId.eq(scope.account_id()))
            .count(&app.db.conn)
            .await,
    );
    assert_eq!(kept, 4);
}

on_both_backends! {
    answers_cut_short_by_a_restart => answers_cut_short_by_a_restart_fail_and_free_their_session;
}
