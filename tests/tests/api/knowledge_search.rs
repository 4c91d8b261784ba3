//! `searchDocuments` over full text, on both engines: the chunk holding a
//! phrase with its page and offsets, hostile input that never errors, the
//! collection and the account as walls, `first`, `minScore` and
//! `documentIds`, nothing left behind by deletions (on SQLite, no FTS5 row
//! either), the mode asked for against the mode used, and the same hits
//! from the same data on SQLite and PostgreSQL.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DbBackend, Statement, Value as DbValue};
use serde_json::{Value, json};
use uuid::Uuid;

use alatar_agents::knowledge::extract::samples::text_pdf;
use alatar_tests::{Backend, Gql, TestApp, on_both_backends};

const PASSWORD: &str = "correct horse battery";

const SEARCH: &str =
    "query($c: ID!, $q: String!, $first: Int = 10, $mode: SearchMode = FULL_TEXT, $min: Float, $docs: [ID!]) {
    searchDocuments(collectionId: $c, query: $q, first: $first, mode: $mode, minScore: $min, documentIds: $docs) {
        retrieval requested note
        hits { chunkId text document { id filename } page charStart charEnd vectorScore textScore score } } }";
const DOCUMENT: &str = "query($id: ID!) { document(id: $id) { status
    chunks(first: 500) { edges { node { id text page charStart charEnd } } } } }";

const RETURNS_PAGE_1: &str =
    "Return policy\nItems can be returned within thirty days of delivery.\nThey must be unworn.";
const RETURNS_PAGE_2: &str = "Exchanges\nSizes can be exchanged once, free of charge.";

fn id_of(answer: &Gql, pointer: &str) -> String {
    answer.data(pointer).as_str().unwrap_or_else(|| panic!("no {pointer}: {}", answer.body)).to_owned()
}

async fn collection(app: &TestApp, token: &str, name: &str) -> String {
    let create = "mutation($n: String!) { createCollection(name: $n) { id } }";
    id_of(&app.gql(create, json!({ "n": name }), Some(token)).await.ok(), "/createCollection/id")
}

/// `uploadDocument` as a GraphQL multipart request.
async fn upload(app: &TestApp, token: &str, collection: &str, filename: &str, bytes: &[u8]) -> Gql {
    app.upload_document(token, collection, filename, bytes, "id status").await
}

/// Uploads and waits until the document is `INGESTED`; returns its id.
async fn ingested(app: &TestApp, token: &str, collection: &str, filename: &str, bytes: &[u8]) -> String {
    let id = id_of(&upload(app, token, collection, filename, bytes).await.ok(), "/uploadDocument/id");
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

/// `searchDocuments` with `extra` variables (`first`, `mode`, `min`, `docs`).
async fn search(app: &TestApp, token: &str, collection: &str, query: &str, extra: Value) -> Gql {
    let mut variables = json!({ "c": collection, "q": query });
    if let (Some(into), Some(from)) = (variables.as_object_mut(), extra.as_object()) {
        into.extend(from.clone());
    }
    app.gql(SEARCH, variables, Some(token)).await
}

/// The hits of a search that must succeed.
async fn hits(app: &TestApp, token: &str, collection: &str, query: &str, extra: Value) -> Vec<Value> {
    let answer = search(app, token, collection, query, extra).await;
    assert!(answer.body.get("errors").is_none(), "{query:?}: {}", answer.body);
    answer.data("/searchDocuments/hits").as_array().cloned().unwrap_or_else(|| panic!("no hits: {}", answer.body))
}

fn texts(hits: &[Value]) -> BTreeSet<String> {
    hits.iter().map(|h| h["text"].as_str().unwrap_or_default().to_owned()).collect()
}

fn documents_of(hits: &[Value]) -> BTreeSet<String> {
    hits.iter().map(|h| h["document"]["id"].as_str().unwrap_or_default().to_owned()).collect()
}

async fn finds_the_chunk_with_its_page_and_offsets(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("owner@search.example").await;
    let returns = collection(&app, &owner, "Returns").await;
    let pdf = ingested(&app, &owner, &returns, "returns.pdf", &text_pdf(&[RETURNS_PAGE_1, RETURNS_PAGE_2])).await;
    ingested(&app, &owner, &returns, "care.md", b"# Care\n\nWash cold and dry flat.\n").await;

    let found = hits(&app, &owner, &returns, "exchanged once", json!({})).await;
    assert_eq!(found.len(), 1, "{found:?}");
    let hit = &found[0];
    let text = hit["text"].as_str().unwrap_or_default();
    assert!(text.contains("exchanged once"), "{hit}");
    assert_eq!(hit["page"], json!(2));
    assert_eq!(hit["document"], json!({ "id": pdf, "filename": "returns.pdf" }));
    let (start, end) = (hit["charStart"].as_i64().unwrap_or(-1), hit["charEnd"].as_i64().unwrap_or(-1));
    assert_eq!(end - start, text.chars().count() as i64, "{hit}");
    // The very chunk the document lists, offsets and all.
    let listed = app.gql(DOCUMENT, json!({ "id": pdf }), Some(&owner)).await.ok();
    let chunks = listed.data("/document/chunks/edges").as_array().cloned().unwrap_or_default();
    let same = chunks.iter().map(|e| &e["node"]).find(|c| c["id"] == hit["chunkId"]);
    let same = same.unwrap_or_else(|| panic!("hit {hit} is no chunk of the document: {chunks:?}"));
    for field in ["text", "page", "charStart", "charEnd"] {
        assert_eq!(same[field], hit[field], "{field}");
    }
    // Scores: text in (0, 1), no vector, the fused one the first rank's 1/61.
    let text_score = hit["textScore"].as_f64().unwrap_or(-1.0);
    assert!(text_score > 0.0 && text_score < 1.0, "{hit}");
    assert_eq!(hit["vectorScore"], Value::Null);
    assert!((hit["score"].as_f64().unwrap_or(0.0) - 1.0 / 61.0).abs() < 1e-9, "{hit}");

    // Words anywhere in the chunk, case aside; phrases in order only.
    assert_eq!(texts(&hits(&app, &owner, &returns, "CHARGE sizes", json!({})).await), texts(&found));
    assert_eq!(texts(&hits(&app, &owner, &returns, "\"free of charge\"", json!({})).await), texts(&found));
    assert!(hits(&app, &owner, &returns, "\"charge of free\"", json!({})).await.is_empty());
    let care = hits(&app, &owner, &returns, "wash", json!({})).await;
    assert_eq!(care.len(), 1);
    assert_eq!(care[0]["page"], Value::Null);
    assert_eq!(care[0]["document"]["filename"], json!("care.md"));
    // `or` and `-word`, as in a web search.
    let either = hits(&app, &owner, &returns, "wash or exchanged", json!({})).await;
    assert_eq!(either.len(), 2, "{either:?}");
    assert!(hits(&app, &owner, &returns, "wash -cold", json!({})).await.is_empty());

    // The mode asked for and the mode used: no vectors are stored, so
    // HYBRID (the default) and VECTOR search by full text and say so.
    let full = search(&app, &owner, &returns, "exchanged", json!({})).await.ok();
    assert_eq!(full.data("/searchDocuments/retrieval"), &json!("FULL_TEXT"));
    assert_eq!(full.data("/searchDocuments/requested"), &json!("FULL_TEXT"));
    assert_eq!(full.data("/searchDocuments/note"), &Value::Null);
    let default_mode = "query($c: ID!) { searchDocuments(collectionId: $c, query: \"exchanged\") {
        retrieval requested note hits { chunkId } } }";
    let hybrid = app.gql(default_mode, json!({ "c": returns }), Some(&owner)).await.ok();
    assert_eq!(hybrid.data("/searchDocuments/requested"), &json!("HYBRID"));
    assert_eq!(hybrid.data("/searchDocuments/retrieval"), &json!("FULL_TEXT"));
    assert!(hybrid.data("/searchDocuments/note").as_str().is_some_and(|n| n.contains("full text")), "{}", hybrid.body);
    assert_eq!(hybrid.data("/searchDocuments/hits/0/chunkId"), &hit["chunkId"]);
    let vector = search(&app, &owner, &returns, "exchanged", json!({ "mode": "VECTOR" })).await.ok();
    assert_eq!(vector.data("/searchDocuments/requested"), &json!("VECTOR"));
    assert_eq!(vector.data("/searchDocuments/retrieval"), &json!("FULL_TEXT"));
    assert!(vector.data("/searchDocuments/note").is_string());
}

async fn hostile_input_never_errors(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("owner@hostile.example").await;
    let faq = collection(&app, &owner, "FAQ").await;
    ingested(&app, &owner, &faq, "faq.txt", b"Do you ship abroad? Yes, to every country (tracked).\n").await;
    let hostile = [
        "\"",
        "\"\"",
        "\"ship",
        "ship\"",
        "*",
        "ship*",
        "NEAR(ship abroad",
        "NEAR(ship abroad, 2)",
        "OR",
        "ship OR",
        "OR OR OR",
        "AND NOT",
        "-",
        "-ship",
        "--ship",
        "ship -",
        ":",
        "text:ship",
        "ship:abroad",
        "(",
        ")",
        "((ship)",
        "ship)",
        "^ship",
        "{ship abroad}",
        "'; DROP TABLE document_chunks; --",
        "!@#$%^&*()_+=[]{}|;',./<>?",
        "...",
        "🙂",
        "ship 🙂 abroad",
        "\\",
        "a\u{0}b",
        "\t\n",
        "ship & abroad | !country <-> tracked",
        "déjà vu",
        "退货政策",
    ];
    for query in hostile {
        let answer = search(&app, &owner, &faq, query, json!({})).await;
        if query.trim().is_empty() {
            assert_eq!(answer.code(), Some("BAD_USER_INPUT"), "{query:?}: {}", answer.body);
            continue;
        }
        assert!(answer.body.get("errors").is_none(), "{query:?}: {}", answer.body);
        assert!(answer.data("/searchDocuments/hits").is_array(), "{query:?}: {}", answer.body);
    }
    for nothing in ["*", "...", "🙂", "!@#$%^&*()_+=[]{}|;',./<>?", "-", ":"] {
        assert!(hits(&app, &owner, &faq, nothing, json!({})).await.is_empty(), "{nothing:?}");
    }
    // Operator-looking words are words: the text still matches.
    for still in ["\"ship", "ship\"", "ship*", "((ship)", "ship)", "^ship", "ship 🙂 abroad"] {
        assert_eq!(hits(&app, &owner, &faq, still, json!({})).await.len(), 1, "{still:?}");
    }
    // The data is intact.
    assert_eq!(hits(&app, &owner, &faq, "tracked", json!({})).await.len(), 1);

    // Bounds are BAD_USER_INPUT, naming the argument.
    let bounds = [
        ("x".repeat(1_001), json!({}), "query"),
        ("ship".into(), json!({ "first": 0 }), "first"),
        ("ship".into(), json!({ "first": 51 }), "first"),
        ("ship".into(), json!({ "docs": ["not-an-id"] }), "documentIds"),
        ("".into(), json!({}), "query"),
    ];
    for (query, extra, field) in bounds {
        let refused = search(&app, &owner, &faq, &query, extra.clone()).await;
        assert_eq!(refused.code(), Some("BAD_USER_INPUT"), "{extra}: {}", refused.body);
        assert_eq!(refused.body["errors"][0]["extensions"]["field"], json!(field), "{}", refused.body);
    }
    let longest = "ship ".repeat(200);
    assert_eq!(longest.chars().count(), 1_000);
    assert_eq!(hits(&app, &owner, &faq, &longest, json!({})).await.len(), 1);
    assert_eq!(hits(&app, &owner, &faq, "ship", json!({ "first": 50 })).await.len(), 1);
}

async fn only_the_collection_and_the_account_are_searched(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("owner@walls.example").await;
    let viewer = member(&app, &owner, "viewer@walls.example", "VIEWER").await;
    let text = b"Gift cards never expire and can be used online.\n";
    let mine = collection(&app, &owner, "Gift cards").await;
    let other = collection(&app, &owner, "Archive").await;
    let in_mine = ingested(&app, &owner, &mine, "gift.txt", text).await;
    let in_other = ingested(&app, &owner, &other, "gift.txt", text).await;
    let (stranger, _, _) = app.register("stranger@walls.example").await;
    let theirs = collection(&app, &stranger, "Gift cards").await;
    let in_theirs = ingested(&app, &stranger, &theirs, "gift.txt", text).await;

    let found = hits(&app, &owner, &mine, "gift cards expire", json!({})).await;
    assert_eq!(documents_of(&found), BTreeSet::from([in_mine.clone()]));
    let found = hits(&app, &owner, &other, "gift cards expire", json!({})).await;
    assert_eq!(documents_of(&found), BTreeSet::from([in_other]));
    let found = hits(&app, &stranger, &theirs, "gift cards expire", json!({})).await;
    assert_eq!(documents_of(&found), BTreeSet::from([in_theirs.clone()]));

    // Viewers search; strangers do not reach the collection, nor through
    // another collection's documents.
    let seen = hits(&app, &viewer, &mine, "gift", json!({})).await;
    assert_eq!(documents_of(&seen), BTreeSet::from([in_mine]));
    let peek = search(&app, &stranger, &mine, "gift", json!({})).await;
    assert_eq!(peek.code(), Some("NOT_FOUND"), "{}", peek.body);
    let missing = search(&app, &owner, &Uuid::now_v7().to_string(), "gift", json!({})).await;
    assert_eq!(missing.code(), Some("NOT_FOUND"));
    assert!(hits(&app, &owner, &mine, "gift", json!({ "docs": [in_theirs] })).await.is_empty());
}

async fn first_min_score_and_document_filters(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("owner@filters.example").await;
    let docs = collection(&app, &owner, "Warranty").await;
    let mut ids = Vec::new();
    for (i, body) in [
        "Warranty: two years on every product.",
        "The warranty covers defects. Warranty claims need the receipt. Warranty repairs are free.",
        "Extended warranty is sold separately.",
        "Batteries have a warranty of six months.",
        "Shipping is free above fifty euros.",
    ]
    .iter()
    .enumerate()
    {
        ids.push(ingested(&app, &owner, &docs, &format!("w{i}.txt"), body.as_bytes()).await);
    }
    let all = hits(&app, &owner, &docs, "warranty", json!({})).await;
    assert_eq!(all.len(), 4, "{all:?}");
    assert!(!documents_of(&all).contains(&ids[4]));
    // Best first, by the fused score and the text score alike.
    let fused: Vec<f64> = all.iter().map(|h| h["score"].as_f64().unwrap_or(0.0)).collect();
    assert!(fused.windows(2).all(|w| w[0] > w[1]), "{fused:?}");
    let text: Vec<f64> = all.iter().map(|h| h["textScore"].as_f64().unwrap_or(-1.0)).collect();
    assert!(text.windows(2).all(|w| w[0] >= w[1]), "{text:?}");

    // `first`.
    let two = hits(&app, &owner, &docs, "warranty", json!({ "first": 2 })).await;
    assert_eq!(two.len(), 2);
    assert_eq!(two[..], all[..2]);

    // `minScore` on the text score: what stays is exactly what scored that high.
    let bar = text[1];
    let kept = hits(&app, &owner, &docs, "warranty", json!({ "min": bar })).await;
    let expected: Vec<&Value> = all.iter().filter(|h| h["textScore"].as_f64().unwrap_or(-1.0) >= bar).collect();
    let expected: BTreeSet<String> =
        expected.iter().map(|h| h["text"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(texts(&kept), expected);
    assert!(kept.len() >= 2 && kept.len() < all.len() || text[1] == text[3], "{kept:?}");
    assert!(hits(&app, &owner, &docs, "warranty", json!({ "min": 1.0 })).await.is_empty());
    assert_eq!(hits(&app, &owner, &docs, "warranty", json!({ "min": 0.0 })).await.len(), 4);

    // `documentIds`.
    let only = hits(&app, &owner, &docs, "warranty", json!({ "docs": [ids[1], ids[3]] })).await;
    assert_eq!(documents_of(&only), BTreeSet::from([ids[1].clone(), ids[3].clone()]));
    assert!(hits(&app, &owner, &docs, "warranty", json!({ "docs": [ids[4]] })).await.is_empty());
    assert!(hits(&app, &owner, &docs, "warranty", json!({ "docs": [] })).await.is_empty());
    let unknown = Uuid::now_v7().to_string();
    assert!(hits(&app, &owner, &docs, "warranty", json!({ "docs": [unknown] })).await.is_empty());

    // A new collection has nothing to find.
    let empty = collection(&app, &owner, "Empty").await;
    assert!(hits(&app, &owner, &empty, "warranty", json!({})).await.is_empty());
}

async fn one(app: &TestApp, sql: &str, values: Vec<DbValue>) -> i64 {
    let backend = app.db.conn.get_database_backend();
    let row = app.db.conn.query_one_raw(Statement::from_sql_and_values(backend, sql, values)).await;
    let row = row.unwrap_or_else(|e| panic!("{sql}: {e}")).unwrap_or_else(|| panic!("{sql}: no row"));
    row.try_get::<i64>("", "n").unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The SQLite rowids of a document's chunks (the FTS5 index's keys).
async fn rowids(app: &TestApp, document_id: &str) -> Vec<i64> {
    let id = Uuid::parse_str(document_id).unwrap_or_else(|e| panic!("{e}"));
    let rows = app
        .db
        .conn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT rowid AS r FROM document_chunks WHERE document_id = ?",
            [DbValue::from(id)],
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    rows.iter().map(|r| r.try_get::<i64>("", "r").unwrap_or_else(|e| panic!("{e}"))).collect()
}

/// FTS5 index entries for `rowids`.
async fn indexed(app: &TestApp, rowids: &[i64]) -> i64 {
    let list = rowids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
    one(app, &format!("SELECT count(*) AS n FROM document_chunks_fts_docsize WHERE id IN ({list})"), vec![]).await
}

/// On SQLite: the index holds exactly the stored chunks and agrees with them.
async fn index_matches_chunks(app: &TestApp) {
    let chunks = one(app, "SELECT count(*) AS n FROM document_chunks", vec![]).await;
    let entries = one(app, "SELECT count(*) AS n FROM document_chunks_fts_docsize", vec![]).await;
    assert_eq!(entries, chunks, "FTS5 rows out of step with document_chunks");
    app.db
        .conn
        .execute_unprepared("INSERT INTO document_chunks_fts (document_chunks_fts, rank) VALUES ('integrity-check', 1)")
        .await
        .unwrap_or_else(|e| panic!("FTS5 integrity check: {e}"));
}

async fn deletions_leave_no_full_text_rows(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("owner@forget.example").await;
    let doomed = collection(&app, &owner, "Old policies").await;
    let kept = collection(&app, &owner, "Current policies").await;
    let a = ingested(&app, &owner, &kept, "a.txt", b"Loyalty points expire after one year.").await;
    let b = ingested(&app, &owner, &kept, "b.txt", b"Loyalty points double in December.").await;
    let c = ingested(&app, &owner, &doomed, "c.pdf", &text_pdf(&["Loyalty points were lifetime.", "Old rules."])).await;
    assert_eq!(hits(&app, &owner, &kept, "loyalty points", json!({})).await.len(), 2);
    assert_eq!(hits(&app, &owner, &doomed, "loyalty points", json!({})).await.len(), 1);
    let sqlite = backend == Backend::Sqlite;
    let (rows_a, rows_c) = if sqlite { (rowids(&app, &a).await, rowids(&app, &c).await) } else { (vec![], vec![]) };
    if sqlite {
        assert!(!rows_a.is_empty() && !rows_c.is_empty());
        assert_eq!(indexed(&app, &rows_a).await, rows_a.len() as i64);
        index_matches_chunks(&app).await;
    }

    app.gql("mutation($id: ID!) { deleteDocument(id: $id) }", json!({ "id": a }), Some(&owner)).await.ok();
    let left = hits(&app, &owner, &kept, "loyalty points", json!({})).await;
    assert_eq!(documents_of(&left), BTreeSet::from([b.clone()]));
    assert!(hits(&app, &owner, &kept, "expire", json!({})).await.is_empty());
    assert!(hits(&app, &owner, &kept, "loyalty", json!({ "docs": [a] })).await.is_empty());

    app.gql("mutation($id: ID!) { deleteCollection(id: $id) }", json!({ "id": doomed }), Some(&owner)).await.ok();
    assert_eq!(search(&app, &owner, &doomed, "loyalty", json!({})).await.code(), Some("NOT_FOUND"));
    assert_eq!(documents_of(&hits(&app, &owner, &kept, "loyalty", json!({})).await), BTreeSet::from([b]));
    let chunks_left = one(
        &app,
        if sqlite {
            "SELECT count(*) AS n FROM document_chunks WHERE collection_id = ?"
        } else {
            "SELECT count(*) AS n FROM document_chunks WHERE collection_id = $1"
        },
        vec![DbValue::from(Uuid::parse_str(&doomed).unwrap_or_default())],
    )
    .await;
    assert_eq!(chunks_left, 0);
    if sqlite {
        assert_eq!(indexed(&app, &rows_a).await, 0, "the deleted document's chunks are still indexed");
        assert_eq!(indexed(&app, &rows_c).await, 0, "the deleted collection's chunks are still indexed");
        index_matches_chunks(&app).await;
    }
}

/// The queries of the engine comparison: each matches few chunks, so the
/// sets must agree whatever the two rankings are.
const COMPARED: [&str; 7] = [
    "exchanged once",
    "\"free of charge\"",
    "wash or exchanged",
    "returned -unworn",
    "delivery",
    "LOYALTY Points",
    "nothing matches this",
];

/// The same uploads and searches on one engine; each query's hit texts.
async fn comparison_script(backend: Backend) -> BTreeMap<&'static str, BTreeSet<String>> {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("owner@compare.example").await;
    let docs = collection(&app, &owner, "Everything").await;
    ingested(&app, &owner, &docs, "returns.pdf", &text_pdf(&[RETURNS_PAGE_1, RETURNS_PAGE_2])).await;
    ingested(&app, &owner, &docs, "care.md", b"# Care\n\nWash cold and dry flat.\n").await;
    ingested(&app, &owner, &docs, "loyalty.txt", b"Loyalty points expire after one year.").await;
    ingested(&app, &owner, &docs, "more.txt", b"Delivery takes three days. Points are not cash.").await;
    let mut found = BTreeMap::new();
    for query in COMPARED {
        found.insert(query, texts(&hits(&app, &owner, &docs, query, json!({ "first": 50 })).await));
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_engines_find_the_same_hits() {
    let sqlite = comparison_script(Backend::Sqlite).await;
    let postgres = comparison_script(Backend::Postgres).await;
    assert_eq!(sqlite, postgres);
    assert!(sqlite["exchanged once"].len() == 1 && sqlite["nothing matches this"].is_empty(), "{sqlite:?}");
    assert_eq!(sqlite["wash or exchanged"].len(), 2, "{sqlite:?}");
}

on_both_backends! {
    search_finds_the_chunk_with_page_and_offsets => finds_the_chunk_with_its_page_and_offsets;
    search_never_errors_on_hostile_input => hostile_input_never_errors;
    search_stays_in_its_collection_and_account => only_the_collection_and_the_account_are_searched;
    search_honours_first_min_score_and_documents => first_min_score_and_document_filters;
    search_forgets_deleted_documents_and_collections => deletions_leave_no_full_text_rows;
}
