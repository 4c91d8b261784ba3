//! Resolution of edges across the repository, once every file is
//! extracted: calls and inheritance by the last segment of their target's
//! name, imports by module path. The rules are those of the parent
//! module's documentation; what cannot be pinned to exactly one node stays
//! unresolved.

use std::collections::HashMap;

use super::{CodeEdge, CodeNode, EdgeKind, Graph, NodeKind};

/// Qualifiers that name the caller's own object rather than a type.
const SELF_WORDS: [&str; 4] = ["self", "this", "cls", "Self"];

/// Sets `to` on every edge that resolves; `lookups[i]` is the name edge
/// `i` is resolved by (its target, an import made absolute).
pub(super) fn resolve(graph: &mut Graph, lookups: &[String]) {
    let index = Index::new(&graph.nodes, &graph.edges);
    let resolved: Vec<Option<usize>> = graph
        .edges
        .iter()
        .enumerate()
        .map(|(i, edge)| {
            if edge.to.is_some() {
                return edge.to;
            }
            let lookup = lookups.get(i).map_or(edge.target.as_str(), String::as_str);
            match edge.kind {
                EdgeKind::Contains => None,
                EdgeKind::Calls => index.callee(edge.from, lookup),
                EdgeKind::Inherits | EdgeKind::Implements => index.supertype(edge.from, lookup),
                EdgeKind::Imports => index.module(edge.from, lookup),
            }
        })
        .collect();
    for (edge, to) in graph.edges.iter_mut().zip(resolved) {
        edge.to = to;
    }
}

/// The lookups resolution needs.
struct Index<'g> {
    nodes: &'g [CodeNode],
    /// Declarations (not files or modules) by name.
    by_name: HashMap<&'g str, Vec<usize>>,
    /// Files and modules by every trailing run of their qualified name's
    /// segments (`crate/cart`, `cart`).
    by_suffix: HashMap<String, Vec<usize>>,
    /// Files and modules by their whole qualified name.
    by_name_exact: HashMap<String, Vec<usize>>,
    /// Each node's container.
    parent: Vec<Option<usize>>,
    /// Each node's file (a file's nodes follow its `File` node).
    file_of: Vec<usize>,
}

impl<'g> Index<'g> {
    fn new(nodes: &'g [CodeNode], edges: &[CodeEdge]) -> Self {
        let mut index = Index {
            nodes,
            by_name: HashMap::new(),
            by_suffix: HashMap::new(),
            by_name_exact: HashMap::new(),
            parent: vec![None; nodes.len()],
            file_of: Vec::with_capacity(nodes.len()),
        };
        let mut file = 0;
        for node in nodes {
            if node.kind == NodeKind::File {
                file = node.key;
            }
            index.file_of.push(file);
            if !matches!(node.kind, NodeKind::File | NodeKind::Module) {
                index.by_name.entry(node.name.as_str()).or_default().push(node.key);
                continue;
            }
            let mut segments = segments(&node.qualified_name);
            index.add_module(&segments, node.key);
            let script = matches!(node.language, "javascript" | "typescript" | "tsx");
            if script && segments.len() > 1 && segments.last().is_some_and(|last| last == "index") {
                // `./lib` imports `lib/index.js`.
                segments.pop();
                index.add_module(&segments, node.key);
            }
        }
        for edge in edges.iter().filter(|edge| edge.kind == EdgeKind::Contains) {
            if let Some(slot) = edge.to.and_then(|to| index.parent.get_mut(to)) {
                *slot = Some(edge.from);
            }
        }
        index
    }

    fn add_module(&mut self, segments: &[String], key: usize) {
        if segments.is_empty() {
            return;
        }
        self.by_name_exact.entry(segments.join("/")).or_default().push(key);
        for start in 0..segments.len() {
            let suffix = segments.get(start..).unwrap_or_default().join("/");
            self.by_suffix.entry(suffix).or_default().push(key);
        }
    }

    fn node(&self, key: usize) -> Option<&'g CodeNode> {
        self.nodes.get(key)
    }

    /// A call's function (or, when no function has the name, the type it
    /// constructs).
    fn callee(&self, from: usize, target: &str) -> Option<usize> {
        let segments = segments(target);
        let name = segments.last()?;
        let named = self.by_name.get(name.as_str())?;
        let mut candidates = self.of_kind(named, NodeKind::is_callable);
        if candidates.is_empty() {
            candidates = self.of_kind(named, |kind| matches!(kind, NodeKind::Class | NodeKind::Struct));
        }
        let qualifier = segments.len().checked_sub(2).and_then(|i| segments.get(i));
        self.choose(from, qualifier.map(String::as_str), candidates)
    }

    /// A class, trait or interface inherited or implemented.
    fn supertype(&self, from: usize, target: &str) -> Option<usize> {
        let segments = segments(target);
        let name = segments.last()?;
        let named = self.by_name.get(name.as_str())?;
        let candidates: Vec<usize> =
            self.of_kind(named, NodeKind::is_type).into_iter().filter(|key| *key != from).collect();
        let qualifier = segments.len().checked_sub(2).and_then(|i| segments.get(i));
        self.choose(from, qualifier.map(String::as_str), candidates)
    }

    fn of_kind(&self, keys: &[usize], keep: impl Fn(NodeKind) -> bool) -> Vec<usize> {
        keys.iter().copied().filter(|key| self.node(*key).is_some_and(|node| keep(node.kind))).collect()
    }

    /// The one candidate left after narrowing to the caller's siblings (for
    /// `self.`-like qualifiers), to those under the qualifier, then to the
    /// caller's file.
    fn choose(&self, from: usize, qualifier: Option<&str>, mut candidates: Vec<usize>) -> Option<usize> {
        if candidates.len() > 1 && qualifier.is_some_and(|q| SELF_WORDS.contains(&q)) {
            let container = self.parent.get(from).copied().flatten();
            narrow(&mut candidates, |key| container.is_some() && self.parent.get(key).copied().flatten() == container);
        }
        if let Some(qualifier) = qualifier.filter(|q| candidates.len() > 1 && !SELF_WORDS.contains(q)) {
            narrow(&mut candidates, |key| {
                self.node(key).is_some_and(|node| has_segment(&node.qualified_name, qualifier))
            });
        }
        if candidates.len() > 1 {
            let file = self.file_of.get(from);
            narrow(&mut candidates, |key| self.file_of.get(key) == file);
        }
        match candidates.as_slice() {
            [only] => Some(*only),
            _ => None,
        }
    }

    /// The file or module an import names.
    fn module(&self, from: usize, lookup: &str) -> Option<usize> {
        let segments = segments(lookup);
        let go = self.node(from).is_some_and(|node| node.language == "go");
        for end in (1..=segments.len()).rev() {
            let path = segments.get(..end).unwrap_or_default();
            let mut candidates = self.by_suffix.get(&path.join("/")).cloned().unwrap_or_default();
            if candidates.is_empty() {
                // The import path ends with the module's (Go's full import
                // paths); one-segment modules only for Go.
                let last_start = if go { end } else { end.saturating_sub(1) };
                candidates = (1..last_start)
                    .find_map(|start| {
                        let tail = segments.get(start..end)?.join("/");
                        self.by_name_exact.get(&tail).cloned()
                    })
                    .unwrap_or_default();
            }
            if !candidates.is_empty() {
                return self.choose_module(from, candidates);
            }
        }
        None
    }

    /// One module of several: those of the importer's source root, if any;
    /// then, when all are files of one package, its first file.
    fn choose_module(&self, from: usize, mut candidates: Vec<usize>) -> Option<usize> {
        candidates.sort_unstable();
        candidates.dedup();
        if candidates.len() > 1 {
            let root = self.node(from).map(|node| source_root(&node.path));
            narrow(&mut candidates, |key| self.node(key).map(|node| source_root(&node.path)) == root);
        }
        // One package: one qualified name, one directory (Go's files of a
        // package; a crate's `lib.rs` and `main.rs`).
        let package = |key: usize| self.node(key).map(|node| (node.qualified_name.as_str(), directory(&node.path)));
        let first = *candidates.first()?;
        candidates.iter().all(|key| package(*key) == package(first)).then_some(first)
    }
}

/// Keeps the candidates `keep` accepts, unless it accepts none.
fn narrow(candidates: &mut Vec<usize>, keep: impl Fn(usize) -> bool) {
    let kept: Vec<usize> = candidates.iter().copied().filter(|key| keep(*key)).collect();
    if !kept.is_empty() {
        *candidates = kept;
    }
}

/// A name's segments, whatever separates them (`::`, `.`, `/`), with
/// bracketed parts (generics, call arguments, indexes) and reference
/// markers dropped: `self.items.push` → `self`, `items`, `push`;
/// `Vec::<T>::new` → `Vec`, `new`; `super().__init__` → `super`, `__init__`.
pub(super) fn segments(name: &str) -> Vec<String> {
    let mut cleaned = String::with_capacity(name.len());
    let mut depth = 0usize;
    for c in name.chars() {
        match c {
            '(' | '[' | '<' => depth += 1,
            ')' | ']' | '>' => depth = depth.saturating_sub(1),
            _ if depth == 0 => cleaned.push(c),
            _ => {}
        }
    }
    cleaned
        .split(|c: char| matches!(c, ':' | '.' | '/' | '?' | '!' | '&' | '*') || c.is_whitespace())
        .filter(|segment| !segment.is_empty() && *segment != "mut" && *segment != "dyn")
        .map(str::to_owned)
        .collect()
}

/// Whether `segment` is one of `name`'s segments (`Cart` in
/// `crate::cart::Cart::new`, not in `crate::Carts`).
fn has_segment(name: &str, segment: &str) -> bool {
    let separator = |c: Option<char>| c.is_none_or(|c| matches!(c, ':' | '.' | '/'));
    !segment.is_empty()
        && name.match_indices(segment).any(|(start, _)| {
            let before = name.get(..start).and_then(|head| head.chars().next_back());
            let after = name.get(start + segment.len()..).and_then(|tail| tail.chars().next());
            separator(before) && separator(after)
        })
}

/// The directory a file is in (empty at the root).
fn directory(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(directory, _)| directory)
}

/// The directory holding a file's `src/`, the crate or package it is in
/// (`crates/shop` for `crates/shop/src/cart.rs`); empty when none.
fn source_root(path: &str) -> &str {
    if path.starts_with("src/") {
        return "";
    }
    path.rfind("/src/").and_then(|end| path.get(..end)).unwrap_or("")
}
