//! `searchCode`: hybrid search over an analysis's nodes, then graph
//! expansion (seed 003).
//!
//! 1. The query made identifier-aware: its words split like the chunks'
//!    names (`addToCart` → `add to cart`), question words dropped
//!    ([`STOP_WORDS`]), and the rest joined with `or`, so a node matching
//!    more of them ranks higher rather than every word being required.
//! 2. The Knowledge search over the analysis's collection, `HYBRID`: full
//!    text and (with an embedder) vectors, fused by reciprocal rank; each
//!    chunk found is its node.
//! 3. Expansion by `expand` hops (at most [`MAX_EXPAND`]) over `CALLS` (both
//!    ways: callers and callees) and `CONTAINS` (both ways: members and
//!    their container), breadth first, each node reached once, with the
//!    path of edges that brought it in; at most [`MAX_EXPANDED`] nodes.

use std::collections::{HashMap, HashSet, VecDeque};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait};
use uuid::Uuid;

use alatar_entity::{AccountScope, code_node, collection, repository_analysis};

use super::index::words;
use super::neighbours::{CALLS, CONTAINS, edges_touching, nodes};
use crate::knowledge::search::{self, Plan, SearchMode, SearchQuery};
use crate::pipeline::Pipeline;

/// Most hops of expansion.
pub const MAX_EXPAND: usize = 3;
/// Most nodes brought in by expansion.
pub const MAX_EXPANDED: usize = 100;

/// Words of a question that say nothing about code.
pub const STOP_WORDS: &[&str] = &[
    "a",
    "an",
    "and",
    "are",
    "as",
    "at",
    "be",
    "by",
    "code",
    "do",
    "does",
    "find",
    "for",
    "from",
    "function",
    "functions",
    "how",
    "in",
    "is",
    "it",
    "me",
    "method",
    "methods",
    "my",
    "of",
    "on",
    "or",
    "repo",
    "repository",
    "show",
    "that",
    "the",
    "theme",
    "this",
    "to",
    "what",
    "where",
    "which",
    "who",
    "with",
];

/// One step of the path that brought a node in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The node the step leaves.
    pub from: Uuid,
    /// `CALLS` or `CONTAINS`.
    pub kind: String,
    /// Whether the edge was followed against its direction (to a caller,
    /// or to a container).
    pub reversed: bool,
    /// The node it reaches.
    pub to: Uuid,
}

/// A node found.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeHit {
    /// The node.
    pub node: code_node::Model,
    /// Fused score for a search hit; for a node brought in by expansion,
    /// its origin's score divided by 1 + hops.
    pub score: f64,
    /// Full-text score, when full text found it.
    pub text_score: Option<f64>,
    /// Vector score, when the vector retriever found it.
    pub vector_score: Option<f64>,
    /// How it was reached from a search hit (empty for a hit).
    pub path: Vec<Step>,
}

/// A code search's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeSearch {
    /// The retrievers that ran.
    pub plan: Plan,
    /// Search hits best first, then the nodes expansion brought in.
    pub hits: Vec<CodeHit>,
}

/// The query as full text reads it (see the module doc).
pub fn full_text_query(raw: &str) -> String {
    let mut seen = HashSet::new();
    let terms: Vec<String> = raw
        .split_whitespace()
        .flat_map(|piece| words(piece).split(' ').map(str::to_owned).collect::<Vec<_>>())
        .filter(|w| !w.is_empty() && !STOP_WORDS.contains(&w.as_str()) && w != "or")
        .filter(|w| seen.insert(w.clone()))
        .take(16)
        .collect();
    terms.join(" or ")
}

/// The collection indexing analysis `repository_id`, if the analysis has
/// completed (one query: the collection, held to completed analyses).
pub async fn collection_of(
    p: &Pipeline,
    scope: AccountScope,
    repository_id: Uuid,
) -> Result<Option<collection::Model>, sea_orm::DbErr> {
    let completed = repository_analysis::Entity::find()
        .select_only()
        .column(repository_analysis::Column::Id)
        .filter(repository_analysis::Column::Id.eq(repository_id))
        .filter(repository_analysis::Column::CompletedAt.is_not_null())
        .filter(repository_analysis::Column::Error.is_null())
        .into_query();
    scope
        .find::<collection::Entity>()
        .filter(collection::Column::RepositoryId.eq(repository_id))
        .filter(collection::Column::RepositoryId.in_subquery(completed))
        .one(&scope.on(&p.db))
        .await
}

/// Searches analysis `repository_id` of the scope for `text`; `None` when
/// it has no completed analysis of that id (none, another account's, not
/// completed, failed).
pub async fn search_code(
    p: &Pipeline,
    scope: AccountScope,
    repository_id: Uuid,
    text: &str,
    first: usize,
    expand: usize,
) -> anyhow::Result<Option<CodeSearch>> {
    let Some(collection) = collection_of(p, scope, repository_id).await? else { return Ok(None) };
    let query = SearchQuery {
        scope,
        collection_id: collection.id,
        text: full_text_query(text),
        first,
        mode: SearchMode::Hybrid,
        min_score: None,
        document_ids: None,
    };
    // The vector retriever embeds the question as asked, not the `or`
    // list; each fused chunk is read as its node (one query), not as a
    // document's chunk.
    let (_, plan, fused) = search::fuse(&p.db, p.retrievers(), &collection, query, text).await?;
    let chunk_ids: Vec<Uuid> = fused.iter().map(|f| f.chunk_id).collect();
    let by_chunk = scope
        .find::<code_node::Entity>()
        .filter(code_node::Column::RepositoryId.eq(repository_id))
        .filter(code_node::Column::ChunkId.is_in(chunk_ids))
        .all(&scope.on(&p.db))
        .await?;
    let mut hits: Vec<CodeHit> = fused
        .iter()
        .filter_map(|f| {
            let node = by_chunk.iter().find(|n| n.chunk_id == Some(f.chunk_id))?;
            Some(CodeHit {
                node: node.clone(),
                score: f.score,
                text_score: f.text_score,
                vector_score: f.vector_score,
                path: Vec::new(),
            })
        })
        .collect();
    let expanded = expansion(p, scope, repository_id, &hits, expand.min(MAX_EXPAND)).await?;
    hits.extend(expanded);
    Ok(Some(CodeSearch { plan, hits }))
}

/// The nodes `hops` hops from `hits` (see the module doc).
async fn expansion(
    p: &Pipeline,
    scope: AccountScope,
    repository_id: Uuid,
    hits: &[CodeHit],
    hops: usize,
) -> anyhow::Result<Vec<CodeHit>> {
    let mut reached: HashMap<Uuid, (f64, Vec<Step>)> =
        hits.iter().map(|h| (h.node.id, (h.score, Vec::new()))).collect();
    let mut order: Vec<Uuid> = Vec::new();
    let mut frontier: VecDeque<Uuid> = hits.iter().map(|h| h.node.id).collect();
    for _ in 0..hops {
        let ids: Vec<Uuid> = frontier.drain(..).collect();
        if ids.is_empty() || order.len() >= MAX_EXPANDED {
            break;
        }
        let edges = edges_touching(&p.db, scope, repository_id, &ids, &[CALLS, CONTAINS]).await?;
        for edge in edges {
            let Some(to) = edge.to_node else { continue };
            for (from, next, reversed) in [(edge.from_node, to, false), (to, edge.from_node, true)] {
                if !ids.contains(&from) || reached.contains_key(&next) || order.len() >= MAX_EXPANDED {
                    continue;
                }
                let (origin, mut path) = reached.get(&from).cloned().unwrap_or_default();
                path.push(Step { from, kind: edge.kind.clone(), reversed, to: next });
                reached.insert(next, (origin, path));
                order.push(next);
                frontier.push_back(next);
            }
        }
    }
    let found = nodes(&p.db, scope, repository_id, order.clone()).await?;
    Ok(order
        .into_iter()
        .filter_map(|id| {
            let node = found.iter().find(|n| n.id == id)?.clone();
            let (origin, path) = reached.remove(&id)?;
            let score = origin / (1.0 + path.len() as f64);
            Some(CodeHit { node, score, text_score: None, vector_score: None, path })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::full_text_query;

    #[test]
    fn questions_become_any_of_their_code_words() {
        assert_eq!(full_text_query("which functions in my theme repo touch the cart?"), "touch or cart");
        assert_eq!(full_text_query("addToCart updateTotal"), "add or cart or update or total");
        assert_eq!(full_text_query("the"), "");
    }
}
