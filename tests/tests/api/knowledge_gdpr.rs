//! Privacy erasure in the merchant's documents, on both engines: after
//! `customers/redact` no chunk naming the customer's email (any case) or
//! phone (any punctuation) remains — not its row, its vector or its
//! full-text entry — search cannot find it, the documents it was in lose
//! their original file and say why, and other customers' chunks stay;
//! the redaction is recorded in counts. After `shop/redact` the shop's
//! account has no collection, document, file, chunk or vector left, and
//! another account keeps its own.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

use alatar_agents::knowledge::vectors::{self, Among, Space};
use alatar_entity::{
    AccountScope, chunk_embedding, collection, compliance_request, document, document_chunk, document_file,
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

on_both_backends! {
    customer_redact_erases_their_document_chunks => customer_redact_erases_their_chunks;
    shop_redact_erases_the_shops_collections => shop_redact_erases_the_accounts_collections;
}
