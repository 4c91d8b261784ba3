//! Storing an analysis's code graph and indexing its text (seed 003).
//!
//! Nodes and edges go to `code_nodes` / `code_edges`. Every node's text
//! becomes a chunk of the analysis's own collection (`collections.
//! repository_id`), in one document standing for the commit, so the
//! Knowledge index serves code too: PostgreSQL's `tsvector` / SQLite's
//! FTS5 over the chunk text, and the chunk vectors of the Knowledge
//! embedder in the same vector tables and indexes. One vector path, one
//! full-text path.
//!
//! A chunk's text is written for both retrievers: the node's kind and
//! qualified name, the name split into words (`addToCart`, `add_to_cart`
//! → `add to cart`: full text then finds "cart" in an identifier), its
//! file and line, its doc comment and signature, then its source (capped
//! at [`CHUNK_CHARS`]). Full text reads all of it; the embedder a short
//! text of names and doc ([`embedding_text`]).
//!
//! Storing is idempotent: a redelivered analysis first removes what an
//! earlier attempt stored (its collection with its chunks and vectors,
//! its nodes and edges).

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use alatar_entity::{
    AccountScope, DocumentStatus, ScopeSession, code_edge, code_node, collection, document, document_chunk,
};

use super::files::RepoFile;
use super::graph::{CodeNode, Graph};
use crate::knowledge::embed::Embedder;
use crate::knowledge::vectors::{self, Among, Binding, Space};
use crate::pipeline::Pipeline;
use crate::write::begin_write;

/// The content type of an index's one document (so the merchant's
/// documents can be told from it).
pub const CONTENT_TYPE: &str = "text/x-source-code";
/// Longest chunk text, in characters (the embedder reads the first few
/// hundred tokens; full text reads it all).
pub const CHUNK_CHARS: usize = 2_000;
/// Longest source stored per node, in bytes.
pub const SOURCE_BYTES: usize = 16 * 1024;
/// Longest text the embedder reads for a node ([`embedding_text`]).
pub const EMBEDDED_CHARS: usize = 160;
/// Rows per insert statement.
const INSERT_BATCH: usize = 500;
/// Chunks per embedding call: the embedder sorts a call's texts by length
/// into its own batches, so a larger call pads less.
const EMBED_BATCH: usize = 256;

/// What was stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Indexed {
    /// Nodes stored.
    pub nodes: usize,
    /// Edges stored.
    pub edges: usize,
    /// Of which resolved within the repository.
    pub resolved: usize,
    /// The analysis's collection.
    pub collection_id: Uuid,
    /// Its one document, standing for the commit.
    pub document_id: Uuid,
    /// What the embedder reads for each chunk ([`embedding_text`]).
    pub embedding_texts: HashMap<Uuid, String>,
}

/// `name` split into lower-case words at case changes, digits and
/// separators: `addToCart` → `add to cart`, `HTTPServer` → `http server`.
pub fn words(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !out.ends_with(' ') && !out.is_empty() {
                out.push(' ');
            }
            continue;
        }
        let prev = i.checked_sub(1).and_then(|j| chars.get(j)).copied();
        let next = chars.get(i + 1).copied();
        let boundary = match prev {
            Some(p) if p.is_alphanumeric() => {
                (c.is_uppercase() && p.is_lowercase())
                    || (c.is_uppercase() && p.is_uppercase() && next.is_some_and(char::is_lowercase))
                    || (c.is_ascii_digit() != p.is_ascii_digit())
            }
            _ => false,
        };
        if boundary && !out.ends_with(' ') {
            out.push(' ');
        }
        out.extend(c.to_lowercase());
    }
    out.trim().to_owned()
}

/// A node's source: its byte span of its file's text, capped.
fn source_of(node: &CodeNode, texts: &HashMap<&str, &str>) -> Option<String> {
    let text = texts.get(node.path.as_str())?;
    let (start, end) = (node.start_byte as usize, node.end_byte as usize);
    let mut end = end.min(text.len()).min(start + SOURCE_BYTES);
    while end > start && !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(start..end).map(str::to_owned)
}

/// What the embedder reads for `node`: its kind, its name and its
/// container's in words, and its doc's first sentence (`method add in
/// assets cart Cart. Adds an item and refreshes the badge.`), at most
/// [`EMBEDDED_CHARS`]. A node's meaning is in its names and doc far more
/// than in its body, and the embedder's cost grows with every token: the
/// whole chunk's first 256 tokens embed at about 12 a second on this
/// machine, this text several times faster (BENCHMARKS.md, "Code"). Full
/// text still reads the whole chunk.
pub fn embedding_text(node: &CodeNode) -> String {
    let container = node
        .qualified_name
        .strip_suffix(node.name.as_str())
        .map(|c| c.trim_end_matches([':', '.']))
        .filter(|c| !c.is_empty())
        .map(words);
    let mut text = format!("{} {}", node.kind.as_str().to_lowercase(), words(&node.name));
    if let Some(container) = container {
        text.push_str(&format!(" in {container}"));
    }
    if let Some(doc) = node.doc.as_deref() {
        let first = doc.split_inclusive(['.', '\n']).next().unwrap_or(doc).trim();
        if !first.is_empty() {
            text.push_str(&format!(". {first}"));
        }
    }
    text.chars().take(EMBEDDED_CHARS).collect()
}

/// The chunk text of `node` (see the module doc).
pub fn chunk_text(node: &CodeNode, source: Option<&str>) -> String {
    let mut text = format!(
        "{} {}\n{} {}\n{}:{}\n",
        node.kind.as_str().to_lowercase(),
        node.qualified_name,
        words(&node.name),
        words(&node.qualified_name),
        node.path,
        node.start_line
    );
    for part in [node.doc.as_deref(), node.signature.as_deref(), source].into_iter().flatten() {
        text.push_str(part);
        text.push('\n');
    }
    text.chars().take(CHUNK_CHARS).collect()
}

/// Removes what an earlier attempt stored for `repository_id`.
async fn clear<C: ScopeSession>(db: &C, scope: AccountScope, repository_id: Uuid) -> Result<(), sea_orm::DbErr> {
    let on = scope.on(db);
    scope
        .delete_many::<code_edge::Entity>()
        .filter(code_edge::Column::RepositoryId.eq(repository_id))
        .exec(&on)
        .await?;
    scope
        .delete_many::<code_node::Entity>()
        .filter(code_node::Column::RepositoryId.eq(repository_id))
        .exec(&on)
        .await?;
    scope
        .delete_many::<collection::Entity>()
        .filter(collection::Column::RepositoryId.eq(repository_id))
        .exec(&on)
        .await?;
    Ok(())
}

/// Stores `graph` of `files` for analysis `repository_id` (named `title`,
/// at `commit`) with its chunks, in one transaction; the chunks are then
/// embedded by [`embed_next`] and the index opened by [`finish`].
pub async fn store(
    p: &Pipeline,
    scope: AccountScope,
    repository_id: Uuid,
    (title, commit): (&str, &str),
    graph: &Graph,
    files: &[RepoFile],
) -> anyhow::Result<Indexed> {
    let now = Utc::now();
    let texts: HashMap<&str, &str> =
        files.iter().filter_map(|f| f.text.as_deref().map(|t| (f.path.as_str(), t))).collect();
    let ids: Vec<Uuid> = graph.nodes.iter().map(|_| Uuid::now_v7()).collect();
    let (collection_id, document_id) = (Uuid::now_v7(), Uuid::now_v7());
    let int = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    let tx = begin_write(&p.db).await?;
    clear(&tx, scope, repository_id).await?;
    collection::Entity::insert(collection::ActiveModel {
        id: Set(collection_id),
        account_id: Set(scope.account_id()),
        name: Set(format!("repository:{repository_id}")),
        description: Set(Some(format!("Code index of {title} at {commit}"))),
        embedding_model: Set(None),
        embedding_dimension: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        repository_id: Set(Some(repository_id)),
    })
    .exec_without_returning(&tx)
    .await?;
    let bytes: u64 = files.iter().map(|f| f.size).sum();
    document::Entity::insert(document::ActiveModel {
        id: Set(document_id),
        account_id: Set(scope.account_id()),
        collection_id: Set(collection_id),
        filename: Set(title.chars().take(255).collect()),
        content_type: Set(CONTENT_TYPE.to_owned()),
        byte_size: Set(i64::try_from(bytes).unwrap_or(i64::MAX)),
        sha256: Set(commit.chars().take(64).collect()),
        status: Set(DocumentStatus::Embedding),
        progress: Set(60),
        failure_reason: Set(None),
        page_count: Set(None),
        chunk_count: Set(Some(int(graph.nodes.len()))),
        created_at: Set(now),
        updated_at: Set(now),
        summary: Set(None),
        summary_model: Set(None),
        summarized_at: Set(None),
        summary_job_id: Set(None),
        redacted_at: Set(None),
        redaction_note: Set(None),
    })
    .exec_without_returning(&tx)
    .await?;
    let mut chunk_ids = Vec::with_capacity(graph.nodes.len());
    let mut embedding_texts = HashMap::with_capacity(graph.nodes.len());
    for (batch_index, batch) in graph.nodes.chunks(INSERT_BATCH).enumerate() {
        let mut chunks = Vec::with_capacity(batch.len());
        let mut nodes = Vec::with_capacity(batch.len());
        for (i, node) in batch.iter().enumerate() {
            let ordinal = batch_index * INSERT_BATCH + i;
            let source = source_of(node, &texts);
            let text = chunk_text(node, source.as_deref());
            let chunk_id = Uuid::now_v7();
            chunk_ids.push(chunk_id);
            embedding_texts.insert(chunk_id, embedding_text(node));
            chunks.push(document_chunk::ActiveModel {
                id: Set(chunk_id),
                account_id: Set(scope.account_id()),
                document_id: Set(document_id),
                collection_id: Set(collection_id),
                ordinal: Set(int(ordinal)),
                token_count: Set(int(text.split_whitespace().count())),
                text: Set(text),
                page: Set(None),
                char_start: Set(int(node.start_byte as usize)),
                char_end: Set(int(node.end_byte as usize)),
            });
            nodes.push(code_node::ActiveModel {
                id: Set(ids.get(ordinal).copied().unwrap_or_default()),
                account_id: Set(scope.account_id()),
                repository_id: Set(repository_id),
                chunk_id: Set(Some(chunk_id)),
                kind: Set(node.kind.as_str().to_owned()),
                name: Set(node.name.clone()),
                qualified_name: Set(node.qualified_name.clone()),
                path: Set(node.path.clone()),
                language: Set(node.language.to_owned()),
                start_line: Set(i32::try_from(node.start_line).unwrap_or(i32::MAX)),
                end_line: Set(i32::try_from(node.end_line).unwrap_or(i32::MAX)),
                signature: Set(node.signature.clone()),
                doc: Set(node.doc.clone()),
                source: Set(source),
            });
        }
        document_chunk::Entity::insert_many(chunks).exec_without_returning(&tx).await?;
        code_node::Entity::insert_many(nodes).exec_without_returning(&tx).await?;
    }
    let id_of = |key: usize| ids.get(key).copied();
    let edges: Vec<code_edge::ActiveModel> = graph
        .edges
        .iter()
        .filter_map(|edge| {
            Some(code_edge::ActiveModel {
                id: sea_orm::ActiveValue::NotSet,
                account_id: Set(scope.account_id()),
                repository_id: Set(repository_id),
                from_node: Set(id_of(edge.from)?),
                to_node: Set(edge.to.and_then(id_of)),
                kind: Set(edge.kind.as_str().to_owned()),
                target: Set(edge.target.chars().take(200).collect()),
                line: Set(i32::try_from(edge.line).unwrap_or(i32::MAX)),
            })
        })
        .collect();
    let stored_edges = edges.len();
    for batch in edges.chunks(INSERT_BATCH) {
        code_edge::Entity::insert_many(batch.to_vec()).exec_without_returning(&tx).await?;
    }
    tx.commit().await?;
    Ok(Indexed {
        nodes: graph.nodes.len(),
        edges: stored_edges,
        resolved: graph.edges.iter().filter(|e| e.to.is_some()).count(),
        collection_id,
        document_id,
        embedding_texts,
    })
}

/// Embeds the next batch of the index's chunks without a vector of
/// `embedder`'s space (the collection bound to it first, as for
/// documents), after chunk `after`; how many it embedded (0: none left).
pub async fn embed_next(
    p: &Pipeline,
    scope: AccountScope,
    indexed: &Indexed,
    embedder: &dyn Embedder,
    after: &mut Uuid,
) -> anyhow::Result<usize> {
    let space = Space::of(embedder);
    if after.is_nil()
        && matches!(vectors::bind_collection(&p.db, scope, indexed.collection_id, &space).await?, Binding::Gone)
    {
        return Ok(0);
    }
    let among = Among::Document(indexed.document_id);
    let pending = vectors::unembedded(&p.db, scope, among, &space, *after, EMBED_BATCH).await?;
    let Some(last) = pending.last() else { return Ok(0) };
    *after = last.chunk_id;
    let texts: Vec<String> = pending
        .iter()
        .map(|c| match indexed.embedding_texts.get(&c.chunk_id) {
            Some(text) => text.clone(),
            None => c.text.chars().take(EMBEDDED_CHARS).collect(),
        })
        .collect();
    let computed = embedder.embed(&texts).await?;
    if computed.len() != texts.len() || computed.iter().any(|v| v.len() != space.dimension) {
        anyhow::bail!("the embedder answered {} vectors for {} code chunks", computed.len(), texts.len());
    }
    vectors::store(&p.db, scope, &space, &pending, &computed).await?;
    Ok(pending.len())
}

/// The index searchable: its document `INGESTED`.
pub async fn finish(p: &Pipeline, scope: AccountScope, indexed: &Indexed) -> Result<(), sea_orm::DbErr> {
    scope
        .update_many::<document::Entity>()
        .col_expr(document::Column::Status, Expr::value(DocumentStatus::Ingested))
        .col_expr(document::Column::Progress, Expr::value(100))
        .col_expr(document::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(document::Column::Id.eq(indexed.document_id))
        .exec(&scope.on(&p.db))
        .await?;
    refresh_statistics(&p.db).await;
    Ok(())
}

/// On PostgreSQL, fresh planner statistics for the tables an analysis just
/// filled. Until autovacuum gets to them, the planner takes a new
/// repository's collection for a row or two, and reads its vectors by the
/// collection's btree and sorts them all (an exact scan: 9 ms p50 for
/// 9,001 nodes) rather than walking the HNSW index (about 1 ms); the graph's
/// expansion reads likewise. `ANALYZE` samples at most 30,000 rows a table,
/// so it costs about the same on a large table as on a small one. A role
/// that does not own the tables gets a warning, not an error, and searches
/// are as fast once autovacuum has run.
async fn refresh_statistics(db: &sea_orm::DatabaseConnection) {
    use sea_orm::ConnectionTrait;
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return;
    }
    if let Err(e) = db.execute_unprepared("ANALYZE chunk_embeddings, document_chunks, code_nodes, code_edges").await {
        tracing::warn!(error = %e, "could not refresh the planner's statistics after a repository analysis");
    }
}

#[cfg(test)]
mod tests {
    use super::words;

    #[test]
    fn the_embedder_reads_names_and_the_docs_first_sentence() {
        use crate::code::graph::{CodeNode, NodeKind};
        let node = CodeNode {
            key: 0,
            kind: NodeKind::Method,
            name: "addToCart".into(),
            qualified_name: "assets/cart.Cart.addToCart".into(),
            path: "assets/cart.js".into(),
            language: "javascript",
            start_line: 8,
            end_line: 11,
            start_byte: 0,
            end_byte: 0,
            signature: Some("addToCart(item)".into()),
            doc: Some("Adds an item. Then refreshes the badge.".into()),
        };
        assert_eq!(super::embedding_text(&node), "method add to cart in assets cart cart. Adds an item.");
    }

    #[test]
    fn identifiers_split_into_words() {
        assert_eq!(words("addToCart"), "add to cart");
        assert_eq!(words("add_to_cart"), "add to cart");
        assert_eq!(words("HTTPServer"), "http server");
        assert_eq!(words("crate::cart::Cart::new"), "crate cart cart new");
        assert_eq!(words("v2Api"), "v 2 api");
        assert_eq!(words(""), "");
    }
}
