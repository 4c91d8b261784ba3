//! Privacy erasure in the merchant's documents, on both engines: after
//! `customers/redact` no chunk naming the customer's email (any case) or
//! phone (any punctuation) remains — not its row, its vector or its
//! full-text entry — search cannot find it, the documents it was in lose
//! their original file and say why, and other customers' chunks stay;
//! the redaction is recorded in counts. The same request reaches the
//! account's chats (messages, answers and their citations, session titles:
//! each mention `[redacted]` in place, the turns kept, an answer being
//! written stopped) and the store's analyses (question, plan, tasks, tool
//! calls, events, result), while other customers' words and another
//! account's stay. After `shop/redact` the shop's account has no
//! collection, document, file, chunk or vector left, and another account
//! keeps its own.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Statement,
};
use serde_json::{Value, json};
use uuid::Uuid;

use alatar_agents::knowledge::erase::STOPPED_BY_ERASURE;
use alatar_agents::knowledge::vectors::{self, Among, Space};
use alatar_entity::{
    AccountScope, AnalysisStatus, ChatMessageStatus, ChatRole, TaskStatus, agent_task, analysis_event,
    analysis_request, analysis_result, chat_message, chunk_embedding, collection, compliance_request, document,
    document_chunk, document_file, tool_call,
};
use alatar_tests::{Backend, Gql, TestApp, on_both_backends};

use super::compliance::{install, shopify_app, webhook};

const JANE_EMAIL: &str = "jane.doe@example.com";
const BOB_EMAIL: &str = "bob.roe@example.com";

const SEARCH: &str = "query($c: ID!, $q: String!) {
    searchDocuments(collectionId: $c, query: $q, first: 50, mode: FULL_TEXT) { hits { chunkId text } } }";
const DOCUMENT: &str = "query($id: ID!) { document(id: $id) { status chunkCount redactedAt redactionNote } }";

fn id_of(answer: &Gql, pointer: &str) -> String {
    answer.data(pointer).as_str().unwrap_or_else(|| panic!("no {pointer}: {}", answer.body)).to_owned()
}

fn uuid(id: &str) -> Uuid {
    Uuid::parse_str(id).unwrap_or_else(|e| panic!("{id}: {e}"))
}

fn must<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

async fn collection(app: &TestApp, token: &str, name: &str) -> String {
    let create = "mutation($n: String!) { createCollection(name: $n) { id } }";
    id_of(&app.gql(create, json!({ "n": name }), Some(token)).await.ok(), "/createCollection/id")
}

/// Uploads and waits until the document is `INGESTED`; its id.
async fn ingested(app: &TestApp, token: &str, collection: &str, filename: &str, text: &str) -> Uuid {
    let answer = app.upload_document(token, collection, filename, text.as_bytes(), "id").await.ok();
    let id = id_of(&answer, "/uploadDocument/id");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = app.gql(DOCUMENT, json!({ "id": id }), Some(token)).await.ok();
        match found.data("/document/status").as_str() {
            Some("INGESTED") => return uuid(&id),
            Some("FAILED") => panic!("{filename} failed: {}", found.body),
            _ => {}
        }
        assert!(Instant::now() < deadline, "{filename} was not ingested: {}", found.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A returns policy of many chunks; `extra` paragraphs go in at their index.
fn policy(extra: &[(usize, &str)]) -> String {
    let mut paragraphs: Vec<String> = (0..30)
        .map(|i| {
            format!(
                "Section {i}. Returns are accepted within thirty days of delivery for unworn items with their tags, \
                 and refunds reach the original payment method within five working days of the parcel's arrival."
            )
        })
        .collect();
    for (at, text) in extra {
        paragraphs.insert(*at, (*text).to_owned());
    }
    paragraphs.join("\n\n")
}

/// Every chunk of the account with a made-up vector, as an embedder would
/// have stored them (the test configuration runs without one).
async fn embed_everything(app: &TestApp, account: Uuid, documents: &[Uuid]) {
    let scope = AccountScope::new(account);
    let space = Space { model: "test/fake-3".into(), dimension: 3 };
    for document in documents {
        let pending = must(
            vectors::unembedded(&app.db.conn, scope, Among::Document(*document), &space, Uuid::nil(), 1_000).await,
        );
        let fake: Vec<Vec<f32>> = pending.iter().map(|_| vec![0.6, 0.8, 0.0]).collect();
        must(vectors::store(&app.db.conn, scope, &space, &pending, &fake).await);
    }
}

/// The chunks (id, document, text) whose text `names`.
async fn chunks_where(app: &TestApp, names: impl Fn(&str) -> bool) -> Vec<(Uuid, Uuid, String)> {
    let all = must(document_chunk::Entity::find().all(&app.db.conn).await);
    all.into_iter().filter(|c| names(&c.text)).map(|c| (c.id, c.document_id, c.text)).collect()
}

/// The chunks holding `email`, case aside.
async fn chunks_naming(app: &TestApp, email: &str) -> Vec<(Uuid, Uuid, String)> {
    chunks_where(app, |text| text.to_lowercase().contains(email)).await
}

/// The chunks holding Jane's phone number, however punctuated.
async fn chunks_calling_jane(app: &TestApp) -> Vec<(Uuid, Uuid, String)> {
    chunks_where(app, |text| text.chars().filter(char::is_ascii_digit).collect::<String>().contains("5550102345")).await
}

async fn search_hits(app: &TestApp, token: &str, collection: &str, query: &str) -> Vec<Value> {
    let found = app.gql(SEARCH, json!({ "c": collection, "q": query }), Some(token)).await.ok();
    found.data("/searchDocuments/hits").as_array().cloned().unwrap_or_default()
}

async fn count(app: &TestApp, backend: DbBackend, sql: &str, values: Vec<sea_orm::Value>) -> i64 {
    let row = must(app.db.conn.query_one_raw(Statement::from_sql_and_values(backend, sql, values)).await);
    row.map(|r| must(r.try_get::<i64>("", "n"))).unwrap_or_default()
}

/// On SQLite: the FTS5 index has no entry for the chunks that were at
/// `rowids`, holds as many entries as there are chunks, and agrees with them.
async fn fts_forgot(app: &TestApp, rowids: &[i64]) {
    if !rowids.is_empty() {
        let list = rowids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
        let sql = format!("SELECT count(*) AS n FROM document_chunks_fts_docsize WHERE id IN ({list})");
        assert_eq!(count(app, DbBackend::Sqlite, &sql, vec![]).await, 0, "FTS5 entries of erased chunks remain");
    }
    let chunks = count(app, DbBackend::Sqlite, "SELECT count(*) AS n FROM document_chunks", vec![]).await;
    let entries = count(app, DbBackend::Sqlite, "SELECT count(*) AS n FROM document_chunks_fts_docsize", vec![]).await;
    assert_eq!(entries, chunks, "FTS5 rows out of step with document_chunks");
    let check = "INSERT INTO document_chunks_fts (document_chunks_fts, rank) VALUES ('integrity-check', 1)";
    must(app.db.conn.execute_unprepared(check).await);
}

async fn rowids_of(app: &TestApp, chunks: &[Uuid]) -> Vec<i64> {
    let mut rowids = Vec::new();
    for id in chunks {
        let sql = "SELECT rowid AS n FROM document_chunks WHERE id = ?";
        rowids.push(count(app, DbBackend::Sqlite, sql, vec![(*id).into()]).await);
    }
    rowids
}

async fn customer_redact_erases_their_chunks(backend: Backend) {
    let (app, _fake) = shopify_app(backend).await;
    let (owner, _, _) = app.register("owner@gdpr.example").await;
    let store = install(&app, &owner).await;
    let account = store.account_id;
    let policies = collection(&app, &owner, "Policies").await;
    let letter = policy(&[
        (7, "Jane Doe (Jane.Doe@Example.com) asked for an exception on order 1001."),
        (19, "Call her back on 555.010.2345 about the exchange."),
        (29, "Bob Roe, bob.roe@example.com, returned two shirts."),
    ]);
    let a = ingested(&app, &owner, &policies, "exceptions.txt", &letter).await;
    let notes = ingested(&app, &owner, &policies, "notes.md", "# Calls\n\nJANE.DOE@EXAMPLE.COM called twice.").await;
    let contract = ingested(
        &app,
        &owner,
        &policies,
        "contract.txt",
        "Order 2345 shipped from room 010. Bob Roe (bob.roe@example.com) signed for it.",
    )
    .await;
    embed_everything(&app, account, &[a, notes, contract]).await;

    let jane: BTreeSet<Uuid> = chunks_naming(&app, JANE_EMAIL).await.into_iter().map(|c| c.0).collect();
    let phone: BTreeSet<Uuid> = chunks_calling_jane(&app).await.into_iter().map(|c| c.0).collect();
    let bob_before = chunks_naming(&app, BOB_EMAIL).await;
    assert!(jane.len() >= 2 && !phone.is_empty() && bob_before.len() >= 2, "{jane:?} {phone:?} {bob_before:?}");
    assert!(!search_hits(&app, &owner, &policies, JANE_EMAIL).await.is_empty());
    let doomed: Vec<Uuid> = jane.union(&phone).copied().collect();
    let rowids = if backend == Backend::Sqlite { rowids_of(&app, &doomed).await } else { Vec::new() };
    let chunks_before = must(document_chunk::Entity::find().count(&app.db.conn).await);

    let redact = json!({ "shop_id": 1, "shop_domain": super::compliance::SHOP,
        "customer": { "id": 501, "email": "Jane.Doe@Example.com", "phone": "+1-555-010-2345" },
        "orders_to_redact": [] });
    assert_eq!(webhook(&app, "customers/redact", "g-1", &redact).await, StatusCode::OK);

    // Nothing names Jane any more: no chunk, no vector, no full-text entry, no hit.
    assert!(chunks_naming(&app, JANE_EMAIL).await.is_empty());
    assert!(chunks_calling_jane(&app).await.is_empty());
    assert!(search_hits(&app, &owner, &policies, JANE_EMAIL).await.is_empty());
    assert!(search_hits(&app, &owner, &policies, "Jane.Doe@Example.com").await.is_empty());
    let gone = document_chunk::Entity::find().filter(document_chunk::Column::Id.is_in(doomed.clone()));
    assert_eq!(must(gone.count(&app.db.conn).await), 0);
    let vectors = chunk_embedding::Entity::find().filter(chunk_embedding::Column::ChunkId.is_in(doomed.clone()));
    assert_eq!(must(vectors.count(&app.db.conn).await), 0, "vectors of erased chunks remain");
    let chunks_after = must(document_chunk::Entity::find().count(&app.db.conn).await);
    assert_eq!(must(chunk_embedding::Entity::find().count(&app.db.conn).await), chunks_after);
    match backend {
        Backend::Sqlite => fts_forgot(&app, &rowids).await,
        Backend::Postgres => {
            let sql =
                "SELECT count(*) AS n FROM document_chunks WHERE text_search @@ websearch_to_tsquery('simple', $1)";
            assert_eq!(count(&app, DbBackend::Postgres, sql, vec![JANE_EMAIL.into()]).await, 0);
            assert!(count(&app, DbBackend::Postgres, sql, vec![BOB_EMAIL.into()]).await >= 2);
        }
    }

    // Bob's chunks stay, and so does every chunk that never named Jane.
    let bob_after = chunks_naming(&app, BOB_EMAIL).await;
    assert_eq!(bob_after, bob_before, "another customer's chunks changed");
    assert!(!search_hits(&app, &owner, &policies, BOB_EMAIL).await.is_empty());
    let erased = chunks_before - chunks_after;
    assert!(erased >= doomed.len() as u64, "{erased} erased, {} named Jane", doomed.len());

    // The documents that named her lost their file and say so; the other did not.
    for id in [a, notes] {
        let files = document_file::Entity::find().filter(document_file::Column::DocumentId.eq(id));
        assert_eq!(must(files.count(&app.db.conn).await), 0, "the original file of {id} remains");
        let found = app.gql(DOCUMENT, json!({ "id": id.to_string() }), Some(&owner)).await.ok();
        assert_eq!(found.data("/document/status"), &json!("INGESTED"), "{}", found.body);
        assert!(found.data("/document/redactedAt").is_string(), "{}", found.body);
        assert!(found.data("/document/redactionNote").as_str().is_some_and(|n| n.contains("customers/redact")));
        let left = document_chunk::Entity::find().filter(document_chunk::Column::DocumentId.eq(id));
        let left = must(left.count(&app.db.conn).await);
        assert_eq!(found.data("/document/chunkCount"), &json!(left), "{}", found.body);
    }
    let kept = document_file::Entity::find().filter(document_file::Column::DocumentId.eq(contract));
    assert_eq!(must(kept.count(&app.db.conn).await), 1);
    let untouched = must(document::Entity::find_by_id(contract).one(&app.db.conn).await);
    assert!(untouched.is_some_and(|d| d.redacted_at.is_none()));

    // The record says what went, in counts, and names nobody.
    let records = must(compliance_request::Entity::find().all(&app.db.conn).await);
    let record = records.iter().find(|r| r.topic == "customers/redact").unwrap_or_else(|| panic!("{records:?}"));
    assert_eq!(record.export["documents"]["chunksErased"], json!(erased), "{}", record.export);
    assert_eq!(record.export["documents"]["filesErased"], json!(2), "{}", record.export);
    assert_eq!(record.export["documents"]["searchedByPhone"], json!(true), "{}", record.export);
    let text = record.export.to_string().to_lowercase();
    assert!(!text.contains("jane") && !text.contains("example.com"), "{text}");

    // A phone too short to tell apart erases nothing.
    let short = json!({ "shop_id": 1, "shop_domain": super::compliance::SHOP,
        "customer": { "id": 502, "phone": "2345" }, "orders_to_redact": [] });
    assert_eq!(webhook(&app, "customers/redact", "g-2", &short).await, StatusCode::OK);
    assert_eq!(must(document_chunk::Entity::find().count(&app.db.conn).await), chunks_after);
}

async fn shop_redact_erases_the_accounts_collections(backend: Backend) {
    let (app, _fake) = shopify_app(backend).await;
    let (owner, _, _) = app.register("owner@shop-gdpr.example").await;
    let store = install(&app, &owner).await;
    let mine = collection(&app, &owner, "Suppliers").await;
    let other_mine = collection(&app, &owner, "FAQ").await;
    let a = ingested(&app, &owner, &mine, "a.txt", &policy(&[])).await;
    let b = ingested(&app, &owner, &other_mine, "b.md", "# FAQ\n\nWe ship worldwide.").await;
    embed_everything(&app, store.account_id, &[a, b]).await;
    // Another account, never linked to the shop.
    let (stranger, _, stranger_id) = app.register("stranger@shop-gdpr.example").await;
    let theirs = collection(&app, &stranger, "Theirs").await;
    let c = ingested(&app, &stranger, &theirs, "c.txt", "We ship worldwide too.").await;
    let stranger_account = must(alatar_entity::user::Entity::find_by_id(uuid(&stranger_id)).one(&app.db.conn).await)
        .unwrap_or_else(|| panic!("no stranger"))
        .account_id;
    embed_everything(&app, stranger_account, &[c]).await;

    let redact = json!({ "shop_id": 1, "shop_domain": super::compliance::SHOP });
    assert_eq!(webhook(&app, "shop/redact", "s-1", &redact).await, StatusCode::OK);

    let db = &app.db.conn;
    let account = store.account_id;
    let collections = collection::Entity::find().filter(collection::Column::AccountId.eq(account));
    assert_eq!(must(collections.count(db).await), 0);
    assert_eq!(must(document::Entity::find().filter(document::Column::AccountId.eq(account)).count(db).await), 0);
    let files = document_file::Entity::find().filter(document_file::Column::AccountId.eq(account));
    assert_eq!(must(files.count(db).await), 0);
    let chunks = document_chunk::Entity::find().filter(document_chunk::Column::AccountId.eq(account));
    assert_eq!(must(chunks.count(db).await), 0);
    let vectors = chunk_embedding::Entity::find().filter(chunk_embedding::Column::AccountId.eq(account));
    assert_eq!(must(vectors.count(db).await), 0);
    let search = app.gql(SEARCH, json!({ "c": mine, "q": "returns" }), Some(&owner)).await;
    assert_eq!(search.code(), Some("NOT_FOUND"), "{}", search.body);
    if backend == Backend::Sqlite {
        fts_forgot(&app, &[]).await;
    }

    // The stranger's collection is theirs, untouched.
    assert_eq!(search_hits(&app, &stranger, &theirs, "worldwide").await.len(), 1);
    let theirs_vectors =
        chunk_embedding::Entity::find().filter(chunk_embedding::Column::AccountId.eq(stranger_account));
    assert_eq!(must(theirs_vectors.count(db).await), 1);
}

const SEND: &str = "mutation($s: ID!, $t: String!) { sendChatMessage(sessionId: $s, content: $t) { id } }";
const SESSION: &str = "query($id: ID!) { chatSession(id: $id) { title
    messages(first: 100) { edges { node { role status content error citations { quote } } } } } }";
const ANALYSIS: &str = "query($id: ID!) { analysisRequest(id: $id) { prompt plan failureReason
    tasks { objective lastError toolCalls { input outputSummary } }
    result { summary sections { title body } citations { quote } warnings recommendations { title rationale } }
    events { payload } } }";
const JANE_PHONES: [&str; 4] = ["(555) 010-2345", "555.010.2345", "555 010 2345", "555-010-2345"];

/// Whether `text` holds Jane's address (any case) or her phone as the
/// test wrote it.
fn names_jane(text: &str) -> bool {
    text.to_lowercase().contains(JANE_EMAIL) || JANE_PHONES.iter().any(|p| text.contains(p))
}

async fn chat_session(app: &TestApp, token: &str, collection: &str) -> String {
    let create = "mutation($c: ID!) { createChatSession(collectionId: $c) { id } }";
    id_of(&app.gql(create, json!({ "c": collection }), Some(token)).await.ok(), "/createChatSession/id")
}

/// Sends `content` and waits for its answer; the stored answer.
async fn ask(app: &TestApp, token: &str, session: &str, content: &str) -> chat_message::Model {
    let sent = app.gql(SEND, json!({ "s": session, "t": content }), Some(token)).await.ok();
    let question = uuid(&id_of(&sent, "/sendChatMessage/id"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let next = chat_message::Entity::find()
            .filter(chat_message::Column::SessionId.eq(uuid(session)))
            .filter(chat_message::Column::Id.gt(question))
            .order_by_asc(chat_message::Column::Id)
            .one(&app.db.conn)
            .await;
        if let Some(answer) = must(next)
            && answer.status != ChatMessageStatus::Streaming
        {
            return answer;
        }
        assert!(Instant::now() < deadline, "no answer to {content:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn message(app: &TestApp, id: Uuid) -> chat_message::Model {
    must(chat_message::Entity::find_by_id(id).one(&app.db.conn).await).unwrap_or_else(|| panic!("no message {id}"))
}

/// A finished analysis of `store_id` whose question, plan, task, tool
/// call, event and result name Jane (address and phone) and Bob, as a
/// model's words quoting them would; its id.
async fn analysis_naming_jane(app: &TestApp, account: Uuid, user: Uuid, store_id: Uuid) -> Uuid {
    let db = &app.db.conn;
    let (request_id, task_id, now) = (Uuid::now_v7(), Uuid::now_v7(), chrono::Utc::now());
    must(
        analysis_request::Entity::insert(analysis_request::ActiveModel {
            id: Set(request_id),
            account_id: Set(account),
            user_id: Set(user),
            store_id: Set(store_id),
            prompt: Set("Why was Jane.Doe@Example.com, (555) 010-2345, refunded and not bob.roe@example.com?".into()),
            status: Set(AnalysisStatus::Completed),
            intent: Set(Some("REFUNDS".into())),
            plan: Set(Some(json!({ "steps": [{ "objective": "refunds of jane.doe@example.com" }] }))),
            model: Set("offline".into()),
            failure_reason: Set(None),
            last_sequence: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
            started_at: Set(Some(now)),
            finished_at: Set(Some(now)),
            ..Default::default()
        })
        .exec_without_returning(db)
        .await,
    );
    must(
        agent_task::Entity::insert(agent_task::ActiveModel {
            id: Set(task_id),
            account_id: Set(account),
            request_id: Set(request_id),
            step: Set(0),
            department: Set("Knowledge".into()),
            objective: Set("What the documents say about Jane.Doe@Example.com".into()),
            depends_on: Set(json!([])),
            status: Set(TaskStatus::Completed),
            attempts: Set(1),
            error_count: Set(1),
            last_error: Set(Some("no answer on 555-010-2345".into())),
            output: Set(Some(json!({ "answer": "Jane (JANE.DOE@example.com) was refunded; Bob was not." }))),
            created_at: Set(now),
            finished_at: Set(Some(now)),
        })
        .exec_without_returning(db)
        .await,
    );
    must(
        tool_call::Entity::insert(tool_call::ActiveModel {
            id: Set(Uuid::now_v7()),
            account_id: Set(account),
            request_id: Set(request_id),
            task_id: Set(task_id),
            tool: Set("rag.search".into()),
            input: Set(json!({ "query": "jane.doe@example.com or refund", "first": 5 })),
            output_summary: Set("1 passage naming jane.doe@example.com".into()),
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
            account_id: Set(account),
            request_id: Set(request_id),
            sequence: Set(1),
            kind: Set("RESULT".into()),
            payload: Set(json!({ "summary": "Jane.Doe@Example.com was refunded.", "keyFigures": 0 })),
            created_at: Set(now),
        })
        .exec_without_returning(db)
        .await,
    );
    let body = json!({
        "sections": [{ "title": "Refunds", "body": "Call her on 555.010.2345; bob.roe@example.com waits." }],
        "keyFigures": [],
        "visualizations": [],
        "recommendations": [{ "title": "Write to jane.doe@example.com", "rationale": "She asked twice." }],
        "warnings": ["The order of Jane.Doe@Example.com is older than the history we may read."],
        "citations": [{ "marker": 1, "chunkId": Uuid::now_v7(), "documentId": Uuid::now_v7(),
            "filename": "exceptions.txt", "page": null, "charStart": 0, "charEnd": 70,
            "quote": "Jane Doe (Jane.Doe@Example.com) asked for an exception on order 1001.", "provenance": [] }],
    });
    must(
        analysis_result::Entity::insert(analysis_result::ActiveModel {
            request_id: Set(request_id),
            account_id: Set(account),
            summary: Set("Jane.Doe@Example.com was refunded; bob.roe@example.com was not.".into()),
            body: Set(body),
            created_at: Set(now),
        })
        .exec_without_returning(db)
        .await,
    );
    request_id
}

/// Every row of `request`'s analysis, as text.
async fn analysis_rows(app: &TestApp, request: Uuid) -> String {
    let db = &app.db.conn;
    let requests = must(analysis_request::Entity::find_by_id(request).one(db).await);
    let tasks = must(agent_task::Entity::find().filter(agent_task::Column::RequestId.eq(request)).all(db).await);
    let calls = must(tool_call::Entity::find().filter(tool_call::Column::RequestId.eq(request)).all(db).await);
    let events =
        must(analysis_event::Entity::find().filter(analysis_event::Column::RequestId.eq(request)).all(db).await);
    let results = must(analysis_result::Entity::find_by_id(request).one(db).await);
    format!("{requests:?} {tasks:?} {calls:?} {events:?} {results:?}")
}

async fn customer_redact_reaches_chats_and_analyses(backend: Backend) {
    let (app, _fake) = shopify_app(backend).await;
    let (owner, _, owner_id) = app.register("owner@gdpr-chat.example").await;
    let store = install(&app, &owner).await;
    let account = store.account_id;
    let policies = collection(&app, &owner, "Exceptions").await;
    let letter = policy(&[
        (3, "Jane Doe (Jane.Doe@Example.com) asked for an exception on order 1001."),
        (6, "Bob Roe, bob.roe@example.com, returned two shirts."),
    ]);
    ingested(&app, &owner, &policies, "exceptions.txt", &letter).await;

    // A chat whose answer quotes Jane's passage, then asks about Bob.
    let quoting = chat_session(&app, &owner, &policies).await;
    let quoted = ask(&app, &owner, &quoting, "Who asked for an exception on order 1001?").await;
    assert!(names_jane(&quoted.content), "the answer quotes Jane's passage: {quoted:?}");
    assert!(names_jane(&quoted.citations.to_string()), "{quoted:?}");
    let about_bob = "And what did bob.roe@example.com return?";
    ask(&app, &owner, &quoting, about_bob).await;
    // A chat named after a first message naming her, with an answer still
    // being written when the request comes.
    let naming = chat_session(&app, &owner, &policies).await;
    ask(&app, &owner, &naming, "Write to Jane.Doe@Example.com or call (555) 010-2345 about her exchange.").await;
    let now = chrono::Utc::now();
    let waiting = chat_message::Model {
        id: Uuid::now_v7(),
        account_id: account,
        session_id: uuid(&naming),
        role: ChatRole::User,
        content: "Is she still waiting?".into(),
        status: ChatMessageStatus::Complete,
        error: None,
        citations: json!([]),
        token_count: Some(4),
        model: None,
        created_at: now,
    };
    let streaming = chat_message::Model {
        id: Uuid::now_v7(),
        role: ChatRole::Assistant,
        content: String::new(),
        status: ChatMessageStatus::Streaming,
        token_count: None,
        ..waiting.clone()
    };
    for row in [waiting, streaming.clone()] {
        let insert = chat_message::Entity::insert(chat_message::ActiveModel::from(row));
        must(insert.exec_without_returning(&app.db.conn).await);
    }
    let titled = app.gql(SESSION, json!({ "id": naming }), Some(&owner)).await.ok();
    assert!(names_jane(titled.data("/chatSession/title").as_str().unwrap_or_default()), "{}", titled.body);
    let analysis = analysis_naming_jane(&app, account, uuid(&owner_id), store.id).await;

    // Another account, never linked to the shop, naming her too.
    let (stranger, _, stranger_id) = app.register("stranger@gdpr-chat.example").await;
    let stranger_account = must(alatar_entity::user::Entity::find_by_id(uuid(&stranger_id)).one(&app.db.conn).await)
        .unwrap_or_else(|| panic!("no stranger"))
        .account_id;
    let theirs = collection(&app, &stranger, "Theirs").await;
    let their_chat = chat_session(&app, &stranger, &theirs).await;
    let their_words = "Jane.Doe@Example.com called us too, from (555) 010-2345.";
    ask(&app, &stranger, &their_chat, their_words).await;
    let demo = app.gql("mutation { connectDemoStore { id } }", json!({}), Some(&stranger)).await.ok();
    let demo = uuid(&id_of(&demo, "/connectDemoStore/id"));
    let their_analysis = analysis_naming_jane(&app, stranger_account, uuid(&stranger_id), demo).await;
    let their_rows = analysis_rows(&app, their_analysis).await;

    let redact = json!({ "shop_id": 1, "shop_domain": super::compliance::SHOP,
        "customer": { "id": 501, "email": "Jane.Doe@Example.com", "phone": "+1-555-010-2345" },
        "orders_to_redact": [] });
    assert_eq!(webhook(&app, "customers/redact", "c-1", &redact).await, StatusCode::OK);

    // The chats name her nowhere; the turns stay, Bob's words too.
    let first = app.gql(SESSION, json!({ "id": quoting }), Some(&owner)).await.ok();
    assert!(!names_jane(&first.body.to_string()), "{}", first.body);
    let answer = message(&app, quoted.id).await;
    assert!(answer.content.contains("[redacted]"), "{answer:?}");
    assert_eq!(answer.status, ChatMessageStatus::Complete);
    let turns: Vec<Value> =
        first.data("/chatSession/messages/edges").as_array().into_iter().flatten().map(|e| e["node"].clone()).collect();
    let roles: Vec<&str> = turns.iter().filter_map(|m| m["role"].as_str()).collect();
    assert_eq!(roles, ["USER", "ASSISTANT", "USER", "ASSISTANT"], "every question keeps its answer");
    assert_eq!(turns[2]["content"], json!(about_bob), "another customer's words stay");
    let second = app.gql(SESSION, json!({ "id": naming }), Some(&owner)).await.ok();
    assert!(!names_jane(&second.body.to_string()), "{}", second.body);
    let renamed = "Write to [redacted] or call ([redacted] about her exchange.";
    assert_eq!(second.data("/chatSession/title"), &json!(renamed), "{}", second.body);
    assert_eq!(second.data("/chatSession/messages/edges/0/node/content"), &json!(renamed), "{}", second.body);
    let stopped = message(&app, streaming.id).await;
    assert_eq!((stopped.status, stopped.error.as_deref()), (ChatMessageStatus::Failed, Some(STOPPED_BY_ERASURE)));
    // ...and the session takes the next question.
    let next = ask(&app, &owner, &naming, "Can I exchange a size?").await;
    assert_eq!(next.status, ChatMessageStatus::Complete, "{next:?}");

    // The analysis names her nowhere, through the API or in its rows; Bob stays.
    let read = app.gql(ANALYSIS, json!({ "id": analysis.to_string() }), Some(&owner)).await.ok();
    assert!(!names_jane(&read.body.to_string()), "{}", read.body);
    assert!(read.data("/analysisRequest/prompt").as_str().is_some_and(|p| p.contains("bob.roe@example.com")));
    assert_eq!(
        read.data("/analysisRequest/result/summary"),
        &json!("[redacted] was refunded; bob.roe@example.com was not.")
    );
    assert!(read.data("/analysisRequest/result/citations/0/quote").as_str().is_some_and(|q| q.contains("[redacted]")));
    let rows = analysis_rows(&app, analysis).await;
    assert!(!names_jane(&rows), "{rows}");
    assert!(rows.contains("bob.roe@example.com"), "{rows}");

    // The other account's chat and analysis are as they were.
    let theirs_now = must(
        chat_message::Entity::find()
            .filter(chat_message::Column::SessionId.eq(uuid(&their_chat)))
            .filter(chat_message::Column::Role.eq(ChatRole::User))
            .all(&app.db.conn)
            .await,
    );
    assert_eq!(theirs_now.iter().map(|m| m.content.as_str()).collect::<Vec<_>>(), [their_words]);
    assert_eq!(analysis_rows(&app, their_analysis).await, their_rows, "another account's analysis changed");

    // The record counts what changed and names nobody.
    let records = must(compliance_request::Entity::find().all(&app.db.conn).await);
    let record = records.iter().find(|r| r.topic == "customers/redact").unwrap_or_else(|| panic!("{records:?}"));
    let chats = &record.export["chats"];
    assert!(chats["messagesRedacted"].as_u64().is_some_and(|n| n >= 2), "{}", record.export);
    assert_eq!((chats["titlesRedacted"].as_u64(), chats["answersStopped"].as_u64()), (Some(1), Some(1)));
    let analyses = &record.export["analyses"];
    assert_eq!(
        (analyses["requestsRedacted"].as_u64(), analyses["resultsRedacted"].as_u64()),
        (Some(1), Some(1)),
        "{}",
        record.export
    );
    assert_eq!(analyses["recordsRedacted"], json!(3), "a task, a tool call and an event: {}", record.export);
    let text = record.export.to_string().to_lowercase();
    assert!(!text.contains("jane") && !text.contains("example.com"), "{text}");
}

on_both_backends! {
    customer_redact_reaches_chats_and_analyses => customer_redact_reaches_chats_and_analyses;
    customer_redact_erases_their_document_chunks => customer_redact_erases_their_chunks;
    shop_redact_erases_the_shops_collections => shop_redact_erases_the_accounts_collections;
}
