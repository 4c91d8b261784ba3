//! `searchDocuments` by meaning, with the local all-MiniLM-L6-v2, on both
//! engines: a paraphrase without a word in common finds its chunk by
//! `VECTOR` and `HYBRID` (full text finds nothing), `HYBRID` fuses both
//! retrievers' scores, the account, `documentIds` and `minScore` hold for
//! vectors too, the embedded index follows deletions and new documents,
//! both engines rank the same, and on PostgreSQL the statement is served by
//! the HNSW index (`EXPLAIN`).

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use serde_json::{Value, json};
use uuid::Uuid;

use alatar_agents::knowledge::search::vector::Nearest;
use alatar_agents::knowledge::search::vector::postgres::{self, INDEXED_DIMENSION};
use alatar_agents::knowledge::vectors::Space;
use alatar_entity::AccountScope;
use alatar_tests::{Backend, Gql, TestApp, minilm_present, on_both_backends, with_local_embeddings};

const SEARCH: &str =
    "query($c: ID!, $q: String!, $first: Int = 10, $mode: SearchMode = HYBRID, $min: Float, $docs: [ID!]) {
    searchDocuments(collectionId: $c, query: $q, first: $first, mode: $mode, minScore: $min, documentIds: $docs) {
        retrieval requested note
        hits { chunkId text document { id filename } vectorScore textScore score } } }";

const CARE: &str = "Wash the wool sweater in cold water and dry it flat.";
const RETURNS: &str = "Items can be sent back within thirty days of delivery for a full refund.";
const SHIPPING: &str = "Parcels leave our warehouse within two business days.";

fn id_of(answer: &Gql, pointer: &str) -> String {
    answer.data(pointer).as_str().unwrap_or_else(|| panic!("no {pointer}: {}", answer.body)).to_owned()
}

async fn app(backend: Backend) -> TestApp {
    TestApp::with_config(backend, with_local_embeddings).await
}

async fn collection(app: &TestApp, token: &str, name: &str) -> String {
    let create = "mutation($n: String!) { createCollection(name: $n) { id } }";
    id_of(&app.gql(create, json!({ "n": name }), Some(token)).await.ok(), "/createCollection/id")
}

/// Uploads a text file and waits until it is `INGESTED`; its id.
async fn ingested(app: &TestApp, token: &str, collection: &str, filename: &str, text: &str) -> String {
    let answer = app.upload_document(token, collection, filename, text.as_bytes(), "id").await.ok();
    let id = id_of(&answer, "/uploadDocument/id");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let found = app.gql("query($id: ID!) { document(id: $id) { status } }", json!({ "id": id }), Some(token)).await;
        match found.data("/document/status").as_str() {
            Some("INGESTED") => return id,
            Some("FAILED") => panic!("{filename} failed: {}", found.body),
            _ => {}
        }
        assert!(Instant::now() < deadline, "{filename} was not ingested: {}", found.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn search(app: &TestApp, token: &str, collection: &str, query: &str, extra: Value) -> Gql {
    let mut variables = json!({ "c": collection, "q": query });
    if let (Some(into), Some(from)) = (variables.as_object_mut(), extra.as_object()) {
        into.extend(from.clone());
    }
    let answer = app.gql(SEARCH, variables, Some(token)).await;
    assert!(answer.body.get("errors").is_none(), "{query:?}: {}", answer.body);
    answer
}

fn hits(answer: &Gql) -> Vec<Value> {
    answer.data("/searchDocuments/hits").as_array().cloned().unwrap_or_default()
}

fn filenames(hits: &[Value]) -> Vec<String> {
    hits.iter().map(|h| h["document"]["filename"].as_str().unwrap_or_default().to_owned()).collect()
}

/// The three documents in one collection; the owner's token and the collection.
async fn library(app: &TestApp, email: &str) -> (String, String) {
    let (owner, _, _) = app.register(email).await;
    let docs = collection(app, &owner, "Help").await;
    ingested(app, &owner, &docs, "care.txt", CARE).await;
    ingested(app, &owner, &docs, "returns.txt", RETURNS).await;
    ingested(app, &owner, &docs, "shipping.txt", SHIPPING).await;
    (owner, docs)
}

async fn paraphrases_are_found_by_meaning(backend: Backend) {
    if !minilm_present() {
        return;
    }
    let app = app(backend).await;
    let (owner, docs) = library(&app, "owner@meaning.example").await;

    let question = "how should I clean my jumper";
    let by_words = search(&app, &owner, &docs, question, json!({ "mode": "FULL_TEXT" })).await;
    assert!(hits(&by_words).is_empty(), "no word in common: {}", by_words.body);

    let by_meaning = search(&app, &owner, &docs, question, json!({ "mode": "VECTOR" })).await;
    assert_eq!(by_meaning.data("/searchDocuments/retrieval"), &json!("VECTOR"), "{}", by_meaning.body);
    assert_eq!(by_meaning.data("/searchDocuments/note"), &Value::Null);
    let found = hits(&by_meaning);
    assert_eq!(filenames(&found)[0], "care.txt", "{found:?}");
    assert_eq!(found.len(), 3, "every chunk has a cosine: {found:?}");
    let scores: Vec<f64> = found.iter().map(|h| h["vectorScore"].as_f64().unwrap_or(-2.0)).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]) && scores[0] > 0.3 && scores[0] <= 1.0, "{scores:?}");
    assert!(found.iter().all(|h| h["textScore"].is_null()));

    let hybrid = search(&app, &owner, &docs, question, json!({})).await;
    assert_eq!(hybrid.data("/searchDocuments/retrieval"), &json!("HYBRID"));
    assert_eq!(filenames(&hits(&hybrid))[0], "care.txt");

    // Words and meaning agree on the refund chunk: both scores, the fused
    // score the sum of two first places.
    let refund = hits(&search(&app, &owner, &docs, "full refund", json!({})).await);
    assert_eq!(filenames(&refund)[0], "returns.txt", "{refund:?}");
    assert!(refund[0]["textScore"].as_f64().is_some() && refund[0]["vectorScore"].as_f64().is_some());
    assert!((refund[0]["score"].as_f64().unwrap_or(0.0) - 2.0 / 61.0).abs() < 1e-9, "{refund:?}");

    // minScore keeps the close ones; documentIds the named ones.
    let close =
        hits(&search(&app, &owner, &docs, question, json!({ "mode": "VECTOR", "min": scores[0] - 1e-6 })).await);
    assert_eq!(filenames(&close), ["care.txt"]);
    let shipping_id =
        found.iter().find(|h| h["document"]["filename"] == "shipping.txt").map(|h| h["document"]["id"].clone());
    let only = hits(&search(&app, &owner, &docs, question, json!({ "mode": "VECTOR", "docs": [shipping_id] })).await);
    assert_eq!(filenames(&only), ["shipping.txt"]);
    let first = hits(&search(&app, &owner, &docs, question, json!({ "mode": "VECTOR", "first": 1 })).await);
    assert_eq!(filenames(&first), ["care.txt"]);
}

async fn vectors_stay_in_their_account(backend: Backend) {
    if !minilm_present() {
        return;
    }
    let app = app(backend).await;
    let (owner, docs) = library(&app, "owner@walls.example").await;
    let (other, _, _) = app.register("other@walls.example").await;
    let theirs = collection(&app, &other, "Theirs").await;
    ingested(&app, &other, &theirs, "secret.txt", "Knit jumpers must be hand washed in lukewarm water.").await;

    let mine =
        hits(&search(&app, &owner, &docs, "washing a knitted jumper", json!({ "mode": "VECTOR", "first": 50 })).await);
    assert!(!filenames(&mine).contains(&"secret.txt".to_owned()), "{mine:?}");
    let denied = app.gql(SEARCH, json!({ "c": theirs, "q": "jumper" }), Some(&owner)).await;
    assert_eq!(denied.code(), Some("NOT_FOUND"), "{}", denied.body);
}

async fn the_index_follows_deletions_and_new_documents(backend: Backend) {
    if !minilm_present() {
        return;
    }
    let app = app(backend).await;
    let (owner, docs) = library(&app, "owner@fresh.example").await;
    let question = "how should I clean my jumper";
    assert_eq!(
        filenames(&hits(&search(&app, &owner, &docs, question, json!({ "mode": "VECTOR" })).await))[0],
        "care.txt"
    );

    let care = hits(&search(&app, &owner, &docs, question, json!({ "mode": "VECTOR", "first": 1 })).await);
    let care_id = care[0]["document"]["id"].clone();
    app.gql("mutation($id: ID!) { deleteDocument(id: $id) }", json!({ "id": care_id }), Some(&owner)).await.ok();
    let after = hits(&search(&app, &owner, &docs, question, json!({ "mode": "VECTOR" })).await);
    assert!(!filenames(&after).contains(&"care.txt".to_owned()), "{after:?}");
    assert_eq!(after.len(), 2);

    ingested(&app, &owner, &docs, "laundry.txt", "Put knitwear in a mesh bag and use the delicate cycle.").await;
    let again = hits(&search(&app, &owner, &docs, question, json!({ "mode": "VECTOR" })).await);
    assert_eq!(filenames(&again)[0], "laundry.txt", "{again:?}");
    assert_eq!(again.len(), 3);
}

/// The same documents and questions on one engine: each question's ranked
/// filenames and vector scores.
async fn ranking(backend: Backend) -> Vec<Vec<(String, f64)>> {
    let app = app(backend).await;
    let (owner, docs) = library(&app, "owner@compare.example").await;
    let mut all = Vec::new();
    for question in ["how should I clean my jumper", "when will my order arrive", "can I get my money back"] {
        let found = hits(&search(&app, &owner, &docs, question, json!({ "mode": "VECTOR" })).await);
        all.push(
            found
                .iter()
                .map(|h| {
                    (
                        h["document"]["filename"].as_str().unwrap_or_default().to_owned(),
                        h["vectorScore"].as_f64().unwrap_or(0.0),
                    )
                })
                .collect(),
        );
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_engines_rank_by_meaning_alike() {
    if !minilm_present() {
        return;
    }
    let sqlite = ranking(Backend::Sqlite).await;
    let postgres = ranking(Backend::Postgres).await;
    for (a, b) in sqlite.iter().zip(&postgres) {
        let names = |r: &Vec<(String, f64)>| r.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(names(a), names(b));
        for ((_, x), (_, y)) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
        }
    }
    assert_eq!(sqlite[0][0].0, "care.txt", "{sqlite:?}");
    assert_eq!(sqlite[2][0].0, "returns.txt", "{sqlite:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_orders_by_distance_through_the_hnsw_index() {
    let app = TestApp::new(Backend::Postgres).await;
    let space = Space { model: "sentence-transformers/all-MiniLM-L6-v2".to_owned(), dimension: INDEXED_DIMENSION };
    let vector = vec![0.05f32; INDEXED_DIMENSION];
    let ids = [Uuid::new_v4()];
    for documents in [None, Some(&ids[..])] {
        let nearest = Nearest {
            scope: AccountScope::new(Uuid::new_v4()),
            collection_id: Uuid::new_v4(),
            space: &space,
            vector: &vector,
            document_ids: documents,
            limit: 10,
        };
        let statement = postgres::statement(&nearest);
        let explain = Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("EXPLAIN {}", statement.sql),
            statement.values.map(|v| v.0).unwrap_or_default(),
        );
        let txn = app.db.conn.begin().await.unwrap_or_else(|e| panic!("{e}"));
        // An empty table is cheaper to scan; the question is whether the
        // index can serve this statement's order at all.
        txn.execute_unprepared("SET LOCAL enable_seqscan = off").await.unwrap_or_else(|e| panic!("{e}"));
        txn.execute_unprepared(&postgres::settings(10)).await.unwrap_or_else(|e| panic!("{e}"));
        let rows = txn.query_all_raw(explain).await.unwrap_or_else(|e| panic!("{e}"));
        let plan: Vec<String> = rows.iter().filter_map(|r| r.try_get_by_index::<String>(0).ok()).collect();
        txn.rollback().await.unwrap_or_else(|e| panic!("{e}"));
        let plan = plan.join("\n");
        assert!(plan.contains("idx_chunk_embeddings_hnsw_384"), "{plan}");
        assert!(!plan.contains("Sort"), "the index must give the order, not a sort: {plan}");
    }
}

on_both_backends! {
    vector_search_finds_paraphrases => paraphrases_are_found_by_meaning;
    vector_search_stays_in_its_account => vectors_stay_in_their_account;
    vector_search_follows_changes => the_index_follows_deletions_and_new_documents;
}
