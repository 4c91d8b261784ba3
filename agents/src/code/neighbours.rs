//! Reading the stored graph: a node, its callers, callees, children and
//! parent, and the edges one hop from a set of nodes (for search's graph
//! expansion). Every read runs through the account's scope and names the
//! analysis, so row-level security and the filter agree.

use sea_orm::{ColumnTrait, Condition, DbErr, QueryFilter, QueryOrder};
use uuid::Uuid;

use alatar_entity::{AccountScope, ScopeSession, code_edge, code_node};

/// `CALLS`, as stored.
pub const CALLS: &str = "CALLS";
/// `CONTAINS`, as stored.
pub const CONTAINS: &str = "CONTAINS";

/// A node with what it relates to.
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbourhood {
    /// The node.
    pub node: code_node::Model,
    /// Nodes whose functions call it.
    pub callers: Vec<code_node::Model>,
    /// Nodes it calls, resolved within the repository.
    pub callees: Vec<code_node::Model>,
    /// Calls it makes that were not resolved (library or ambiguous
    /// names), as written.
    pub unresolved_calls: Vec<String>,
    /// What it contains (a file's declarations, a class's methods).
    pub children: Vec<code_node::Model>,
    /// What contains it.
    pub parent: Option<code_node::Model>,
    /// Its other edges (`IMPORTS`, `INHERITS`, `IMPLEMENTS`): kind and
    /// target as written.
    pub relations: Vec<(String, String)>,
}

/// Node `id` of the account, if any.
pub async fn node<C: ScopeSession>(db: &C, scope: AccountScope, id: Uuid) -> Result<Option<code_node::Model>, DbErr> {
    scope.find::<code_node::Entity>().filter(code_node::Column::Id.eq(id)).one(&scope.on(db)).await
}

/// The account's nodes among `ids` of analysis `repository_id`.
pub async fn nodes<C: ScopeSession>(
    db: &C,
    scope: AccountScope,
    repository_id: Uuid,
    ids: Vec<Uuid>,
) -> Result<Vec<code_node::Model>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    scope
        .find::<code_node::Entity>()
        .filter(code_node::Column::RepositoryId.eq(repository_id))
        .filter(code_node::Column::Id.is_in(ids))
        .all(&scope.on(db))
        .await
}

/// The `kinds` edges of analysis `repository_id` touching any of `ids`.
pub async fn edges_touching<C: ScopeSession>(
    db: &C,
    scope: AccountScope,
    repository_id: Uuid,
    ids: &[Uuid],
    kinds: &[&str],
) -> Result<Vec<code_edge::Model>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    scope
        .find::<code_edge::Entity>()
        .filter(code_edge::Column::RepositoryId.eq(repository_id))
        .filter(code_edge::Column::Kind.is_in(kinds.iter().copied()))
        .filter(
            Condition::any()
                .add(code_edge::Column::FromNode.is_in(ids.iter().copied()))
                .add(code_edge::Column::ToNode.is_in(ids.iter().copied())),
        )
        .order_by_asc(code_edge::Column::Id)
        .all(&scope.on(db))
        .await
}

/// Node `id` with its neighbours, if the account has it.
pub async fn neighbourhood<C: ScopeSession>(
    db: &C,
    scope: AccountScope,
    id: Uuid,
) -> Result<Option<Neighbourhood>, DbErr> {
    let Some(node) = node(db, scope, id).await? else { return Ok(None) };
    let repository = node.repository_id;
    let edges = scope
        .find::<code_edge::Entity>()
        .filter(code_edge::Column::RepositoryId.eq(repository))
        .filter(Condition::any().add(code_edge::Column::FromNode.eq(id)).add(code_edge::Column::ToNode.eq(id)))
        .order_by_asc(code_edge::Column::Id)
        .all(&scope.on(db))
        .await?;
    let mut wanted: Vec<Uuid> = edges.iter().flat_map(|e| [Some(e.from_node), e.to_node]).flatten().collect();
    wanted.sort_unstable();
    wanted.dedup();
    wanted.retain(|n| *n != id);
    let found = nodes(db, scope, repository, wanted).await?;
    let get = |n: Uuid| found.iter().find(|f| f.id == n).cloned();
    let mut hood = Neighbourhood {
        node,
        callers: Vec::new(),
        callees: Vec::new(),
        unresolved_calls: Vec::new(),
        children: Vec::new(),
        parent: None,
        relations: Vec::new(),
    };
    for edge in edges {
        let outgoing = edge.from_node == id;
        match (edge.kind.as_str(), outgoing, edge.to_node) {
            (CALLS, true, Some(to)) => hood.callees.extend(get(to)),
            (CALLS, true, None) => hood.unresolved_calls.push(edge.target),
            (CALLS, false, _) => hood.callers.extend(get(edge.from_node)),
            (CONTAINS, true, Some(to)) => hood.children.extend(get(to)),
            (CONTAINS, false, _) => hood.parent = hood.parent.or_else(|| get(edge.from_node)),
            (_, true, _) => hood.relations.push((edge.kind, edge.target)),
            _ => {}
        }
    }
    for list in [&mut hood.callers, &mut hood.callees] {
        list.sort_by(|a, b| a.qualified_name.cmp(&b.qualified_name));
        list.dedup_by(|a, b| a.id == b.id);
    }
    hood.unresolved_calls.sort_unstable();
    hood.unresolved_calls.dedup();
    Ok(Some(hood))
}
