//! Full-text search over a large collection, on both engines: 20,000
//! chunks stored directly (as `tests/benches/knowledge.rs` loads its
//! corpus), a word in every chunk and a word in three, answered within a
//! bound a debug build meets with room to spare (before the collection was
//! part of SQLite's `MATCH`, the common word took seconds there), with the
//! right top hits on both engines, and the collection, the account and
//! `documentIds` still walls.
//!
//! More chunks match the common word than a search scores
//! (`RANKED_MATCHES`): it ranks the first it reads, in storage order (see
//! `agents`' `search/full_text.rs`). The strongest chunks are therefore
//! planted in the first document stored, and only the top three are
//! checked collection-wide; a document filter narrows the sample to that
//! document's chunks, which the last document's check proves.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait, Value as DbValue};
use serde_json::{Value, json};
use uuid::Uuid;

use alatar_agents::knowledge::search::full_text::RANKED_MATCHES;
use alatar_agents::knowledge::search::{SearchMode, SearchQuery, SqliteFullText};
use alatar_entity::AccountScope;
use alatar_tests::{Backend, Gql, TestApp, on_both_backends};

const SEARCH: &str = "query($c: ID!, $q: String!, $first: Int!, $docs: [ID!]) {
    searchDocuments(collectionId: $c, query: $q, first: $first, mode: FULL_TEXT, documentIds: $docs) {
        retrieval hits { chunkId text document { id } textScore } } }";

/// Documents in the large collection, and chunks in each.
const DOCUMENTS: u128 = 20;
const CHUNKS_PER_DOCUMENT: u128 = 1_000;

// What the checks below assume of the sample size.
const _: () = assert!(CHUNKS_PER_DOCUMENT as usize <= RANKED_MATCHES, "a document's chunks are all ranked");
const _: () = assert!((DOCUMENTS * CHUNKS_PER_DOCUMENT) as usize > RANKED_MATCHES, "the common word overflows it");

/// What one search may take, in a debug build on a busy machine.
const BOUND: Duration = Duration::from_secs(3);

const COMMON: &str = "warranty";
const RARE: &str = "zanzibar";

/// Ten words: `word` `times` times, the rest filler, so planted chunks
/// have one length and rank by how often they hold the word on both
/// engines (`bm25` normalises by length, `ts_rank_cd` does not).
fn planted(word: &str, times: usize) -> String {
    let filler = ["terms", "apply", "see", "store", "policy", "for", "all", "the", "full", "details"];
    let mut words = vec![word; times];
    words.extend(&filler[..10 - times]);
    words.join(" ")
}

/// A chunk of the large collection that holds the common word once.
fn background(n: u128) -> String {
    const PRODUCTS: [&str; 5] = ["jacket", "teapot", "backpack", "lamp", "scarf"];
    const CLAIMS: [&str; 4] =
        ["ships within two business days", "comes in five colours", "is restocked monthly", "is dishwasher safe"];
    format!(
        "Sheet {n}: the {} {} and carries a {COMMON} of {} years when it is registered online after delivery.",
        PRODUCTS[(n % 5) as usize],
        CLAIMS[(n % 4) as usize],
        1 + n % 3
    )
}

/// Chunk ids by collection tag and number (fixed, so both engines store
/// the same ids and ties order alike).
fn chunk_id(tag: u128, n: u128) -> Uuid {
    Uuid::from_u128((tag << 96) | (1 << 64) | n)
}

fn document_id(tag: u128, n: u128) -> Uuid {
    Uuid::from_u128((tag << 96) | (2 << 64) | n)
}

fn sql(backend: DbBackend, text: &str) -> String {
    if backend == DbBackend::Postgres { text.to_owned() } else { text.replace('$', "?") }
}

/// Stores `documents` (id and chunks (id, text)) in `collection` of `account`.
async fn store(app: &TestApp, account: Uuid, collection: Uuid, documents: Vec<(Uuid, Vec<(Uuid, String)>)>) {
    let db = &app.db.conn;
    let backend = db.get_database_backend();
    let now = chrono::Utc::now();
    for (d, (document, chunks)) in documents.into_iter().enumerate() {
        let txn = db.begin().await.unwrap_or_else(|e| panic!("{e}"));
        let insert = "INSERT INTO documents (id, account_id, collection_id, filename, content_type, byte_size, \
            sha256, status, progress, chunk_count, created_at, updated_at) \
            VALUES ($1, $2, $3, $4, 'text/plain', $5, $6, 'INGESTED', 100, $7, $8, $8)";
        let values: Vec<DbValue> = vec![
            document.into(),
            account.into(),
            collection.into(),
            format!("sheet-{d}.txt").into(),
            (chunks.len() as i64 * 100).into(),
            format!("{d:064}").into(),
            (chunks.len() as i32).into(),
            now.into(),
        ];
        txn.execute_raw(Statement::from_sql_and_values(backend, sql(backend, insert), values))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        for (b, batch) in chunks.chunks(250).enumerate() {
            let mut values: Vec<DbValue> = Vec::new();
            let mut tuples = Vec::new();
            for (i, (id, text)) in batch.iter().enumerate() {
                let n = values.len();
                tuples.push(format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, 0, ${}, 10)",
                    n + 1,
                    n + 2,
                    n + 3,
                    n + 4,
                    n + 5,
                    n + 6,
                    n + 7
                ));
                values.extend([
                    DbValue::from(*id),
                    account.into(),
                    document.into(),
                    collection.into(),
                    ((b * 250 + i) as i32).into(),
                    text.clone().into(),
                    (text.chars().count() as i32).into(),
                ]);
            }
            let insert = format!(
                "INSERT INTO document_chunks (id, account_id, document_id, collection_id, ordinal, text, \
                 char_start, char_end, token_count) VALUES {}",
                tuples.join(", ")
            );
            txn.execute_raw(Statement::from_sql_and_values(backend, sql(backend, &insert), values))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        txn.commit().await.unwrap_or_else(|e| panic!("{e}"));
    }
}

async fn owner(app: &TestApp, email: &str, collections: &[&str]) -> (String, Uuid, Vec<Uuid>) {
    let (token, _, _) = app.register(email).await;
    let me = app.gql("{ account { id } }", json!({}), Some(&token)).await.ok();
    let account = me.data("/account/id").as_str().and_then(|s| Uuid::parse_str(s).ok());
    let account = account.unwrap_or_else(|| panic!("no account id: {}", me.body));
    let mut ids = Vec::new();
    for name in collections {
        let create = "mutation($n: String!) { createCollection(name: $n) { id } }";
        let made = app.gql(create, json!({ "n": name }), Some(&token)).await.ok();
        let id = made.data("/createCollection/id").as_str().and_then(|s| Uuid::parse_str(s).ok());
        ids.push(id.unwrap_or_else(|| panic!("no collection id: {}", made.body)));
    }
    (token, account, ids)
}

/// A search that must succeed within [`BOUND`]; its hits.
async fn search(app: &TestApp, token: &str, collection: Uuid, query: &str, first: usize, docs: &[Uuid]) -> Vec<Value> {
    let mut variables = json!({ "c": collection, "q": query, "first": first });
    if !docs.is_empty() {
        variables["docs"] = json!(docs);
    }
    let started = Instant::now();
    let answer: Gql = app.gql(SEARCH, variables, Some(token)).await;
    let took = started.elapsed();
    assert!(answer.body.get("errors").is_none(), "{query:?}: {}", answer.body);
    assert!(took < BOUND, "{query:?} over {collection} took {took:?}");
    println!("full text {query:?} (first {first}, {} documents): {took:?}", docs.len());
    assert_eq!(answer.data("/searchDocuments/retrieval"), &json!("FULL_TEXT"));
    answer.data("/searchDocuments/hits").as_array().cloned().unwrap_or_else(|| panic!("no hits: {}", answer.body))
}

fn ids(hits: &[Value]) -> Vec<Uuid> {
    hits.iter().map(|h| h["chunkId"].as_str().and_then(|s| Uuid::parse_str(s).ok()).unwrap_or_default()).collect()
}

/// Best first by text score, equal scores by chunk id, every score in (0, 1).
fn assert_ranked(hits: &[Value]) {
    let keys: Vec<(f64, Uuid)> =
        hits.iter().zip(ids(hits)).map(|(h, id)| (h["textScore"].as_f64().unwrap_or(-1.0), id)).collect();
    assert!(keys.iter().all(|(s, _)| *s > 0.0 && *s < 1.0), "{keys:?}");
    assert!(keys.windows(2).all(|w| w[0].0 > w[1].0 || (w[0].0 == w[1].0 && w[0].1 < w[1].1)), "{keys:?}");
}

/// SQLite's plan for a search: FTS5 first, then each sampled chunk by
/// rowid; never the collection's chunks first with `MATCH` run per chunk.
async fn assert_sqlite_plan(app: &TestApp, account: Uuid, collection: Uuid, documents: Option<Vec<Uuid>>) {
    let query = SearchQuery {
        scope: AccountScope::new(account),
        collection_id: collection,
        text: COMMON.into(),
        first: 10,
        mode: SearchMode::FullText,
        min_score: None,
        document_ids: documents,
    };
    let statement = SqliteFullText::default().statement(&query, 10).unwrap_or_else(|| panic!("no statement"));
    let values = statement.values.map(|v| v.0).unwrap_or_default();
    let explain =
        Statement::from_sql_and_values(DbBackend::Sqlite, format!("EXPLAIN QUERY PLAN {}", statement.sql), values);
    let rows = app.db.conn.query_all_raw(explain).await.unwrap_or_else(|e| panic!("{e}"));
    let plan: Vec<String> = rows.iter().map(|r| r.try_get::<String>("", "detail").unwrap_or_default()).collect();
    let at = |step: &str| plan.iter().position(|line| line.starts_with(step));
    let fts = at("SCAN document_chunks_fts VIRTUAL TABLE").unwrap_or_else(|| panic!("no FTS5 scan: {plan:?}"));
    let chunks = at("SEARCH c USING INTEGER PRIMARY KEY (rowid=?)");
    let chunks = chunks.unwrap_or_else(|| panic!("no rowid search: {plan:?}"));
    assert!(fts < chunks && at("SCAN sample").is_some(), "{plan:?}");
    assert!(!plan.iter().any(|line| line.contains("idx_document_chunks")), "{plan:?}");
}

async fn common_and_rare_words_at_scale(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (token, account, collections) = owner(&app, "owner@scale.example", &["Catalogue", "Archive"]).await;
    let (catalogue, archive) = (collections[0], collections[1]);
    let (stranger, their_account, theirs) = owner(&app, "stranger@scale.example", &["Catalogue"]).await;

    // Elsewhere, the same words more often: they would lead any search
    // that crossed a wall. Stored first, so they are read first too.
    let decoys = |tag: u128| {
        vec![(
            document_id(tag, 0),
            vec![(chunk_id(tag, 0), planted(COMMON, 10)), (chunk_id(tag, 1), planted(RARE, 10))],
        )]
    };
    store(&app, account, archive, decoys(2)).await;
    store(&app, their_account, theirs[0], decoys(3)).await;

    // The catalogue: the common word once in every chunk but the rare
    // ones; three strongest in the first document, one in the last; the
    // rare word in three chunks, the most often in the very last.
    let strongest = [chunk_id(1, 0), chunk_id(1, 1), chunk_id(1, 2)];
    let last = DOCUMENTS * CHUNKS_PER_DOCUMENT - 1;
    let in_last_document = chunk_id(1, last - 499);
    let rare = [(chunk_id(1, last), 3), (chunk_id(1, 9 * CHUNKS_PER_DOCUMENT + 500), 2), (chunk_id(1, 10), 1)];
    let documents: Vec<(Uuid, Vec<(Uuid, String)>)> = (0..DOCUMENTS)
        .map(|d| {
            let chunks = (d * CHUNKS_PER_DOCUMENT..(d + 1) * CHUNKS_PER_DOCUMENT)
                .map(|n| {
                    let id = chunk_id(1, n);
                    let text = match n {
                        0 => planted(COMMON, 8),
                        1 => planted(COMMON, 6),
                        2 => planted(COMMON, 4),
                        _ if id == in_last_document => planted(COMMON, 3),
                        _ => match rare.iter().find(|(r, _)| *r == id) {
                            Some((_, times)) => planted(RARE, *times),
                            None => background(n),
                        },
                    };
                    (id, text)
                })
                .collect();
            (document_id(1, d), chunks)
        })
        .collect();
    let started = Instant::now();
    store(&app, account, catalogue, documents).await;
    println!("stored {} chunks in {:?}", DOCUMENTS * CHUNKS_PER_DOCUMENT, started.elapsed());
    if backend == Backend::Sqlite {
        app.db
            .conn
            .execute_unprepared(
                "INSERT INTO document_chunks_fts (document_chunks_fts, rank) VALUES ('integrity-check', 1)",
            )
            .await
            .unwrap_or_else(|e| panic!("FTS5 integrity check: {e}"));
        assert_sqlite_plan(&app, account, catalogue, None).await;
        assert_sqlite_plan(&app, account, catalogue, Some(vec![document_id(1, 0), document_id(1, 1)])).await;
    }

    // A word in (nearly) every chunk.
    let common = search(&app, &token, catalogue, COMMON, 10, &[]).await;
    assert_eq!(common.len(), 10, "{common:?}");
    assert_eq!(ids(&common)[..3], strongest, "{common:?}");
    assert_ranked(&common);
    let catalogue_documents: Vec<String> = (0..DOCUMENTS).map(|d| document_id(1, d).to_string()).collect();
    for hit in &common {
        assert!(hit["text"].as_str().is_some_and(|t| t.to_lowercase().contains(COMMON)), "{hit}");
        let document = hit["document"]["id"].as_str().unwrap_or_default();
        assert!(catalogue_documents.iter().any(|c| c == document), "{hit}");
    }

    // A word in three chunks, wherever they are stored.
    let found = search(&app, &token, catalogue, RARE, 10, &[]).await;
    assert_eq!(ids(&found), rare.map(|(id, _)| id), "{found:?}");
    assert_ranked(&found);

    // Documents filter before anything is sampled: the last document's
    // strongest chunk leads, from that document only.
    let last_document = document_id(1, DOCUMENTS - 1);
    let filtered = search(&app, &token, catalogue, COMMON, 10, &[last_document]).await;
    assert_eq!(filtered.len(), 10);
    assert_eq!(ids(&filtered)[0], in_last_document, "{filtered:?}");
    assert!(filtered.iter().all(|h| h["document"]["id"] == json!(last_document)), "{filtered:?}");
    assert_ranked(&filtered);
    let two = search(&app, &token, catalogue, RARE, 10, &[document_id(1, 9), document_id(1, 0)]).await;
    assert_eq!(ids(&two), [rare[1].0, rare[2].0], "{two:?}");
    // Another collection's document names nothing here.
    assert!(search(&app, &token, catalogue, RARE, 10, &[document_id(2, 0)]).await.is_empty());

    // The other collection and the other account see only their own.
    assert_eq!(ids(&search(&app, &token, archive, COMMON, 10, &[]).await), [chunk_id(2, 0)]);
    assert_eq!(ids(&search(&app, &token, archive, RARE, 10, &[]).await), [chunk_id(2, 1)]);
    assert_eq!(ids(&search(&app, &stranger, theirs[0], RARE, 10, &[]).await), [chunk_id(3, 1)]);
    let peek = app.gql(SEARCH, json!({ "c": catalogue, "q": RARE, "first": 10 }), Some(&stranger)).await;
    assert_eq!(peek.code(), Some("NOT_FOUND"), "{}", peek.body);
}

on_both_backends! {
    full_text_stays_fast_and_right_over_a_large_collection => common_and_rare_words_at_scale;
}
