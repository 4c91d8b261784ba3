//! Knowledge through the API: collections (CRUD, unique names, pagination,
//! tenancy), uploads by the multipart spec (PDF, Markdown, HTML, plain text;
//! anything else refused by name), ingestion on the queue to `INGESTED`
//! with chunks that know their page and offsets, `FAILED` with a reason for
//! protected, scanned and broken PDFs, roles, deletion, the live
//! `documentUpdates` stream, and redelivery that stores nothing twice.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use alatar_agents::knowledge::extract::samples::{encrypted_pdf, image_only_pdf, text_pdf};
use alatar_agents::knowledge::ingest;
use alatar_entity::{AccountScope, DocumentStatus, document, document_chunk, document_file, user};
use alatar_tests::{Backend, Gql, TestApp, on_both_backends};

const PASSWORD: &str = "correct horse battery";

const CREATE: &str =
    "mutation($n: String!, $d: String) { createCollection(name: $n, description: $d) { id name description } }";
const DOCUMENT: &str = "query($id: ID!) { document(id: $id) {
    id collectionId filename contentType byteSize sha256 status progress failureReason pageCount chunkCount
    chunks(first: 500) { edges { node { id ordinal text page charStart charEnd tokenCount } } } } }";

const RETURNS_PAGE_1: &str = "Return policy\nItems can be returned within 30 days of delivery.\nThey must be unworn.";
const RETURNS_PAGE_2: &str = "Exchanges\nSizes can be exchanged once, free of charge.";

fn id_of(answer: &Gql, pointer: &str) -> String {
    answer.data(pointer).as_str().unwrap_or_else(|| panic!("no {pointer}: {}", answer.body)).to_owned()
}

async fn create(app: &TestApp, token: &str, name: &str) -> Gql {
    app.gql(CREATE, json!({ "n": name, "d": "What customers may send back" }), Some(token)).await
}

async fn collection(app: &TestApp, token: &str, name: &str) -> String {
    id_of(&create(app, token, name).await.ok(), "/createCollection/id")
}

/// `uploadDocument` as a GraphQL multipart request with `bytes` as `filename`.
async fn upload(app: &TestApp, token: &str, collection: &str, filename: &str, bytes: &[u8]) -> Gql {
    app.upload_document(token, collection, filename, bytes, "id status contentType filename byteSize progress").await
}

async fn uploaded(app: &TestApp, token: &str, collection: &str, filename: &str, bytes: &[u8]) -> String {
    let answer = upload(app, token, collection, filename, bytes).await.ok();
    assert_eq!(answer.data("/uploadDocument/status"), &json!("PENDING"), "{}", answer.body);
    id_of(&answer, "/uploadDocument/id")
}

/// Polls until the document is `INGESTED` or `FAILED`; returns it.
async fn settled(app: &TestApp, token: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = app.gql(DOCUMENT, json!({ "id": id }), Some(token)).await.ok();
        let found = answer.data("/document").clone();
        if matches!(found["status"].as_str(), Some("INGESTED" | "FAILED")) {
            return found;
        }
        assert!(Instant::now() < deadline, "document {id} did not settle: {found}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn chunk_nodes(found: &Value) -> Vec<Value> {
    found["chunks"]["edges"]
        .as_array()
        .map(|edges| edges.iter().map(|e| e["node"].clone()).collect())
        .unwrap_or_default()
}

async fn account_of(app: &TestApp, user_id: &str) -> Uuid {
    let id = Uuid::parse_str(user_id).unwrap_or_else(|e| panic!("{e}"));
    let found = user::Entity::find_by_id(id).one(&app.db.conn).await.unwrap_or_else(|e| panic!("{e}"));
    found.unwrap_or_else(|| panic!("no user {id}")).account_id
}

/// A member of the owner's account with `role`; returns their access token.
async fn member(app: &TestApp, owner: &str, email: &str, role: &str) -> String {
    let invite = "mutation($e: String!, $r: Role!) { inviteMember(email: $e, role: $r) { token } }";
    let invited = app.gql(invite, json!({ "e": email, "r": role }), Some(owner)).await.ok();
    let token = id_of(&invited, "/inviteMember/token");
    let joined = app
        .gql(
            "mutation($e: String!, $t: String!, $p: String!) { register(email: $e, password: $p, invitationToken: $t) { accessToken } }",
            json!({ "e": email, "t": token, "p": PASSWORD }),
            None,
        )
        .await
        .ok();
    id_of(&joined, "/register/accessToken")
}

async fn chunk_rows(app: &TestApp, document_id: &str) -> u64 {
    let id = Uuid::parse_str(document_id).unwrap_or_else(|e| panic!("{e}"));
    document_chunk::Entity::find()
        .filter(document_chunk::Column::DocumentId.eq(id))
        .count(&app.db.conn)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn collections_are_crud_unique_and_paged(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("owner@returns.example").await;
    let first = create(&app, &owner, "Returns").await.ok();
    assert_eq!(first.data("/createCollection/name"), &json!("Returns"));
    assert_eq!(first.data("/createCollection/description"), &json!("What customers may send back"));
    let returns = id_of(&first, "/createCollection/id");

    assert_eq!(create(&app, &owner, "Returns").await.code(), Some("CONFLICT"));
    assert_eq!(create(&app, &owner, "  Returns ").await.code(), Some("CONFLICT"));
    let blank = create(&app, &owner, "   ").await;
    assert_eq!(blank.code(), Some("BAD_USER_INPUT"));
    assert_eq!(blank.body["errors"][0]["extensions"]["field"], json!("name"));

    let rename = "mutation($id: ID!, $n: String!) { renameCollection(id: $id, name: $n) { id name } }";
    let renamed = app.gql(rename, json!({ "id": returns, "n": "Policies" }), Some(&owner)).await.ok();
    assert_eq!(renamed.data("/renameCollection/name"), &json!("Policies"));
    let contracts = collection(&app, &owner, "Contracts").await;
    let clash = app.gql(rename, json!({ "id": contracts, "n": "Policies" }), Some(&owner)).await;
    assert_eq!(clash.code(), Some("CONFLICT"));
    let one = app
        .gql("query($id: ID!) { collection(id: $id) { name documentCount } }", json!({ "id": returns }), Some(&owner))
        .await
        .ok();
    assert_eq!(one.data("/collection"), &json!({ "name": "Policies", "documentCount": 0 }));

    for name in ["FAQ", "Product sheets", "Reviews"] {
        collection(&app, &owner, name).await;
    }
    // Five collections, two a page, newest first, every one exactly once.
    let list = "query($after: String) { collections(first: 2, after: $after) {
        edges { cursor node { name } } pageInfo { hasNextPage } } }";
    let (mut names, mut after, mut pages) = (Vec::new(), Value::Null, 0);
    loop {
        let page = app.gql(list, json!({ "after": after }), Some(&owner)).await.ok();
        let edges = page.data("/collections/edges").as_array().cloned().unwrap_or_default();
        assert!(edges.len() <= 2);
        names.extend(edges.iter().map(|e| e["node"]["name"].as_str().unwrap_or_default().to_owned()));
        pages += 1;
        if page.data("/collections/pageInfo/hasNextPage") != &json!(true) {
            break;
        }
        after = edges.last().map(|e| e["cursor"].clone()).unwrap_or(Value::Null);
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(names, ["Reviews", "Product sheets", "FAQ", "Contracts", "Policies"]);
    assert_eq!(pages, 3);

    // Another account sees none of it and can change none of it.
    let (stranger, _, _) = app.register("stranger@elsewhere.example").await;
    let theirs = app.gql("{ collections { edges { node { id } } } }", json!({}), Some(&stranger)).await.ok();
    assert_eq!(theirs.data("/collections/edges"), &json!([]));
    let peek =
        app.gql("query($id: ID!) { collection(id: $id) { name } }", json!({ "id": returns }), Some(&stranger)).await;
    assert_eq!(peek.code(), Some("NOT_FOUND"));
    let steal = app.gql(rename, json!({ "id": returns, "n": "Mine" }), Some(&stranger)).await;
    assert_eq!(steal.code(), Some("NOT_FOUND"));
    let delete = "mutation($id: ID!) { deleteCollection(id: $id) }";
    assert_eq!(app.gql(delete, json!({ "id": returns }), Some(&stranger)).await.code(), Some("NOT_FOUND"));
    // The stranger may use the same name in their own account.
    create(&app, &stranger, "Policies").await.ok();

    let deleted = app.gql(delete, json!({ "id": returns }), Some(&owner)).await.ok();
    assert_eq!(deleted.data("/deleteCollection"), &json!(returns));
    let gone =
        app.gql("query($id: ID!) { collection(id: $id) { name } }", json!({ "id": returns }), Some(&owner)).await;
    assert_eq!(gone.code(), Some("NOT_FOUND"));
}

async fn a_pdf_is_ingested_with_pages_and_offsets(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("owner@pdf.example").await;
    let returns = collection(&app, &owner, "Returns").await;
    let pdf = text_pdf(&[RETURNS_PAGE_1, RETURNS_PAGE_2]);
    let answer = upload(&app, &owner, &returns, "returns.pdf", &pdf).await.ok();
    assert_eq!(answer.data("/uploadDocument/contentType"), &json!("application/pdf"));
    assert_eq!(answer.data("/uploadDocument/filename"), &json!("returns.pdf"));
    assert_eq!(answer.data("/uploadDocument/byteSize"), &json!(pdf.len()));
    let id = id_of(&answer, "/uploadDocument/id");

    let found = settled(&app, &owner, &id).await;
    assert_eq!(found["status"], json!("INGESTED"), "{found}");
    assert_eq!(found["progress"], json!(100));
    assert_eq!(found["pageCount"], json!(2));
    assert_eq!(found["failureReason"], Value::Null);
    let chunks = chunk_nodes(&found);
    assert_eq!(found["chunkCount"], json!(chunks.len()));
    assert!(!chunks.is_empty());
    for (ordinal, chunk) in chunks.iter().enumerate() {
        assert_eq!(chunk["ordinal"], json!(ordinal));
        let text = chunk["text"].as_str().unwrap_or_default();
        let (start, end) = (chunk["charStart"].as_i64().unwrap_or(-1), chunk["charEnd"].as_i64().unwrap_or(-1));
        assert_eq!(end - start, text.chars().count() as i64, "{chunk}");
        assert!(chunk["tokenCount"].as_i64().is_some_and(|t| (1..=256).contains(&t)), "{chunk}");
    }
    // Each page's text is where its chunks say: the first chunk of a page
    // starts at its first character, and the words are on their own page.
    let on_page = |page: i64| chunks.iter().filter(|c| c["page"] == json!(page)).collect::<Vec<_>>();
    let (first, second) = (on_page(1), on_page(2));
    assert!(!first.is_empty() && !second.is_empty(), "{chunks:?}");
    assert_eq!(first[0]["charStart"], json!(0));
    assert!(first[0]["text"].as_str().is_some_and(|t| t.starts_with("Return policy")), "{first:?}");
    assert!(first.iter().any(|c| c["text"].as_str().is_some_and(|t| t.contains("within 30 days"))));
    assert!(second.iter().any(|c| c["text"].as_str().is_some_and(|t| t.contains("exchanged once"))));
    assert!(first.iter().all(|c| !c["text"].as_str().unwrap_or_default().contains("Exchanges")));

    // The same bytes again are the same document.
    let again = upload(&app, &owner, &returns, "copy.pdf", &pdf).await;
    assert_eq!(again.code(), Some("CONFLICT"), "{}", again.body);
    let listed = app
        .gql(
            "query($id: ID!) { collection(id: $id) { documentCount documents { edges { node { id status } } } } }",
            json!({ "id": returns }),
            Some(&owner),
        )
        .await
        .ok();
    assert_eq!(listed.data("/collection/documentCount"), &json!(1));
    assert_eq!(listed.data("/collection/documents/edges/0/node/id"), &json!(id));
}

async fn text_kinds_are_read_and_others_refused_by_name(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("owner@kinds.example").await;
    let faq = collection(&app, &owner, "FAQ").await;

    let markdown =
        "# Shipping\n\nWe ship **within two days** to [every country](https://ship.example).\n\n- tracked\n- insured\n";
    let md = uploaded(&app, &owner, &faq, "shipping.md", markdown.as_bytes()).await;
    let html = "<!DOCTYPE html><html><head><style>p{}</style></head><body><h1>Warranty</h1><p>Two years &amp; free repairs.</p></body></html>";
    let page = uploaded(&app, &owner, &faq, "warranty.html", html.as_bytes()).await;
    let text = uploaded(&app, &owner, &faq, "care.txt", b"Wash cold.\nDry flat.").await;
    for (id, kind) in [(&md, "text/markdown"), (&page, "text/html"), (&text, "text/plain")] {
        let found = settled(&app, &owner, id).await;
        assert_eq!(found["status"], json!("INGESTED"), "{found}");
        assert_eq!(found["contentType"], json!(kind));
        assert_eq!(found["pageCount"], Value::Null);
        let chunks = chunk_nodes(&found);
        assert!(chunks.iter().all(|c| c["page"] == Value::Null), "{chunks:?}");
        let all: String = chunks.iter().map(|c| c["text"].as_str().unwrap_or_default()).collect::<Vec<_>>().join("\n");
        assert!(!all.contains("**") && !all.contains('<') && !all.contains("https://"), "{all}");
        match kind {
            "text/markdown" => assert!(all.contains("We ship within two days to every country."), "{all}"),
            "text/html" => assert!(all.contains("Two years & free repairs.") && !all.contains("p{}"), "{all}"),
            _ => assert!(all.contains("Wash cold.\nDry flat."), "{all}"),
        }
    }

    // Told by content: a PNG named like a PDF is a PNG.
    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00";
    let refused = upload(&app, &owner, &faq, "policy.pdf", png).await;
    assert_eq!(refused.code(), Some("BAD_USER_INPUT"), "{}", refused.body);
    assert_eq!(refused.body["errors"][0]["extensions"]["field"], json!("file"));
    let message = refused.body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("PNG"), "{message}");
    let zip = upload(&app, &owner, &faq, "contract.docx", b"PK\x03\x04\x14\x00\x06\x00rest").await;
    assert!(zip.body["errors"][0]["message"].as_str().is_some_and(|m| m.contains("ZIP")), "{}", zip.body);
    assert_eq!(upload(&app, &owner, &faq, "empty.txt", b"").await.code(), Some("BAD_USER_INPUT"));
    let missing = upload(&app, &owner, &Uuid::now_v7().to_string(), "a.txt", b"text").await;
    assert_eq!(missing.code(), Some("NOT_FOUND"));
}

async fn unreadable_pdfs_fail_with_a_reason(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("owner@broken.example").await;
    let docs = collection(&app, &owner, "Contracts").await;
    let cases: [(&str, Vec<u8>, &str); 3] = [
        ("locked.pdf", encrypted_pdf(&["Supplier terms: net 30."]), "password"),
        ("scan.pdf", image_only_pdf(), "no selectable text"),
        ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage without xref".to_vec(), "could not be read"),
    ];
    for (name, bytes, reason) in cases {
        let id = uploaded(&app, &owner, &docs, name, &bytes).await;
        let found = settled(&app, &owner, &id).await;
        assert_eq!(found["status"], json!("FAILED"), "{name}: {found}");
        let why = found["failureReason"].as_str().unwrap_or_default();
        assert!(why.contains(reason), "{name}: {why}");
        assert_eq!(found["chunks"]["edges"], json!([]), "{name}");
        assert_eq!(chunk_rows(&app, &id).await, 0);
    }
}

async fn viewers_read_and_other_accounts_see_nothing(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("owner@roles.example").await;
    let viewer = member(&app, &owner, "viewer@roles.example", "VIEWER").await;
    let analyst = member(&app, &owner, "analyst@roles.example", "ANALYST").await;

    assert_eq!(create(&app, &viewer, "Mine").await.code(), Some("FORBIDDEN"));
    let shared = collection(&app, &analyst, "Shared").await;
    let id = uploaded(&app, &analyst, &shared, "note.txt", b"Open Monday to Friday.").await;
    settled(&app, &owner, &id).await;

    // The viewer reads everything, changes nothing.
    let seen = app.gql("{ collections { edges { node { id } } } }", json!({}), Some(&viewer)).await.ok();
    assert_eq!(seen.data("/collections/edges/0/node/id"), &json!(shared));
    assert_eq!(settled(&app, &viewer, &id).await["status"], json!("INGESTED"));
    assert_eq!(upload(&app, &viewer, &shared, "x.txt", b"Closed on Sunday.").await.code(), Some("FORBIDDEN"));
    let delete_document = "mutation($id: ID!) { deleteDocument(id: $id) }";
    assert_eq!(app.gql(delete_document, json!({ "id": id }), Some(&viewer)).await.code(), Some("FORBIDDEN"));
    let delete_collection = "mutation($id: ID!) { deleteCollection(id: $id) }";
    assert_eq!(app.gql(delete_collection, json!({ "id": shared }), Some(&viewer)).await.code(), Some("FORBIDDEN"));
    let rename = "mutation($id: ID!) { renameCollection(id: $id, name: \"Other\") { id } }";
    assert_eq!(app.gql(rename, json!({ "id": shared }), Some(&viewer)).await.code(), Some("FORBIDDEN"));

    // Another account: no document, no deletion, no upload into it.
    let (stranger, _, _) = app.register("stranger@roles.example").await;
    let peek = app.gql(DOCUMENT, json!({ "id": id }), Some(&stranger)).await;
    assert_eq!(peek.code(), Some("NOT_FOUND"));
    assert_eq!(app.gql(delete_document, json!({ "id": id }), Some(&stranger)).await.code(), Some("NOT_FOUND"));
    assert_eq!(upload(&app, &stranger, &shared, "y.txt", b"Planted text.").await.code(), Some("NOT_FOUND"));
    assert!(chunk_rows(&app, &id).await > 0, "the stranger's deletion removed chunks");

    // Analysts delete.
    let deleted = app.gql(delete_document, json!({ "id": id }), Some(&analyst)).await.ok();
    assert_eq!(deleted.data("/deleteDocument"), &json!(id));
    assert_eq!(chunk_rows(&app, &id).await, 0);
    assert_eq!(app.gql(DOCUMENT, json!({ "id": id }), Some(&owner)).await.code(), Some("NOT_FOUND"));
}

async fn deleting_a_collection_removes_documents_files_and_chunks(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, _) = app.register("owner@delete.example").await;
    let doomed = collection(&app, &owner, "Old policies").await;
    let kept = collection(&app, &owner, "Current policies").await;
    let a = uploaded(&app, &owner, &doomed, "a.pdf", &text_pdf(&[RETURNS_PAGE_1, RETURNS_PAGE_2])).await;
    let b = uploaded(&app, &owner, &doomed, "b.md", b"# Old\n\nReturns within 14 days.").await;
    let c = uploaded(&app, &owner, &kept, "c.md", b"# New\n\nReturns within 30 days.").await;
    for id in [&a, &b, &c] {
        assert_eq!(settled(&app, &owner, id).await["status"], json!("INGESTED"));
        assert!(chunk_rows(&app, id).await > 0);
    }
    let deleted =
        app.gql("mutation($id: ID!) { deleteCollection(id: $id) }", json!({ "id": doomed }), Some(&owner)).await;
    deleted.ok();
    let ids: Vec<Uuid> = [&a, &b].iter().map(|id| Uuid::parse_str(id).unwrap_or_default()).collect();
    let db = &app.db.conn;
    let documents = document::Entity::find().filter(document::Column::Id.is_in(ids.clone())).count(db).await;
    assert_eq!(documents.unwrap_or_else(|e| panic!("{e}")), 0);
    let files =
        document_file::Entity::find().filter(document_file::Column::DocumentId.is_in(ids.clone())).count(db).await;
    assert_eq!(files.unwrap_or_else(|e| panic!("{e}")), 0);
    assert_eq!(chunk_rows(&app, &a).await + chunk_rows(&app, &b).await, 0);
    // The other collection is untouched.
    assert!(chunk_rows(&app, &c).await > 0);
    assert_eq!(settled(&app, &owner, &c).await["status"], json!("INGESTED"));
}

async fn updates_stream_and_redelivery_stores_nothing_twice(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _, user_id) = app.register("owner@stream.example").await;
    let account = account_of(&app, &user_id).await;
    let faq = collection(&app, &owner, "FAQ").await;
    let collection_id = Uuid::parse_str(&faq).unwrap_or_default();
    let p = app.pipeline().clone();
    let mut updates = Box::pin(alatar_schema::service::knowledge::document_updates(
        p.clone(),
        AccountScope::new(account),
        collection_id,
    ));
    let id =
        uploaded(&app, &owner, &faq, "faq.txt", "Do you ship abroad? Yes, everywhere.\n".repeat(200).as_bytes()).await;
    let document_id = Uuid::parse_str(&id).unwrap_or_default();

    // Every change, in order, up to INGESTED; progress never goes back.
    let mut statuses: Vec<DocumentStatus> = Vec::new();
    let mut progress = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while statuses.last() != Some(&DocumentStatus::Ingested) {
        let next = tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), updates.next()).await;
        let found = next.unwrap_or_else(|_| panic!("no INGESTED within 60 s: {statuses:?}"));
        let found = found.unwrap_or_else(|| panic!("stream ended: {statuses:?}")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(found.id, document_id);
        assert!(found.progress >= progress, "progress went back: {statuses:?}");
        progress = found.progress;
        if statuses.last() != Some(&found.status) {
            statuses.push(found.status);
        }
    }
    let order =
        [DocumentStatus::Pending, DocumentStatus::Extracting, DocumentStatus::Embedding, DocumentStatus::Ingested];
    let positions: Vec<usize> =
        statuses.iter().map(|s| order.iter().position(|o| o == s).unwrap_or(usize::MAX)).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{statuses:?}");

    let chunks_before = chunk_rows(&app, &id).await;
    let ids_before: Vec<Uuid> = document_chunk::Entity::find()
        .filter(document_chunk::Column::DocumentId.eq(document_id))
        .all(&app.db.conn)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert!(chunks_before > 1);

    // A redelivery of a finished document changes nothing.
    ingest::run(&p, account, document_id).await.unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(chunk_rows(&app, &id).await, chunks_before);

    // A worker that died while embedding: the redelivery resumes there and
    // keeps the chunks it stored.
    set_status(&app, document_id, DocumentStatus::Embedding).await;
    ingest::run(&p, account, document_id).await.unwrap_or_else(|e| panic!("{e:#}"));
    let after_resume: Vec<Uuid> = document_chunk::Entity::find()
        .filter(document_chunk::Column::DocumentId.eq(document_id))
        .all(&app.db.conn)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(after_resume.len(), ids_before.len());
    assert!(after_resume.iter().all(|id| ids_before.contains(id)), "chunks were re-extracted");
    assert_eq!(status_of(&app, document_id).await, DocumentStatus::Ingested);

    // One that died while extracting: extracted again, the chunks replaced,
    // none doubled.
    set_status(&app, document_id, DocumentStatus::Extracting).await;
    ingest::run(&p, account, document_id).await.unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(chunk_rows(&app, &id).await, chunks_before);
    assert_eq!(status_of(&app, document_id).await, DocumentStatus::Ingested);

    // The stream ends when the collection goes.
    app.gql("mutation($id: ID!) { deleteCollection(id: $id) }", json!({ "id": faq }), Some(&owner)).await.ok();
    let ended = tokio::time::timeout(Duration::from_secs(45), async {
        while let Some(item) = updates.next().await {
            let _ = item;
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream outlived its collection");
}

async fn set_status(app: &TestApp, id: Uuid, status: DocumentStatus) {
    document::Entity::update_many()
        .col_expr(document::Column::Status, Expr::value(status))
        .filter(document::Column::Id.eq(id))
        .exec(&app.db.conn)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

async fn status_of(app: &TestApp, id: Uuid) -> DocumentStatus {
    let found = document::Entity::find_by_id(id).one(&app.db.conn).await.unwrap_or_else(|e| panic!("{e}"));
    found.unwrap_or_else(|| panic!("no document {id}")).status
}

on_both_backends! {
    collections_crud_uniqueness_pagination_tenancy => collections_are_crud_unique_and_paged;
    pdfs_are_ingested_with_pages_and_offsets => a_pdf_is_ingested_with_pages_and_offsets;
    text_kinds_are_read_others_refused => text_kinds_are_read_and_others_refused_by_name;
    unreadable_pdfs_fail_with_reasons => unreadable_pdfs_fail_with_a_reason;
    viewers_read_strangers_see_nothing => viewers_read_and_other_accounts_see_nothing;
    deleting_a_collection_removes_everything => deleting_a_collection_removes_documents_files_and_chunks;
    updates_stream_and_redelivery_is_idempotent => updates_stream_and_redelivery_stores_nothing_twice;
}
