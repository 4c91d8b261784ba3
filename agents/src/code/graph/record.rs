//! What the language visitors record while a file is walked: its nodes
//! and edges, under a stack of enclosing declarations, so each declaration
//! knows its container and qualified name, and each call its caller.

use std::collections::HashMap;

use tree_sitter::Node;

use super::extract::FileGraph;
use super::scope::{Decl, Role, Scope};
use super::text::{collapse, point_line, signature, to_u32};
use super::{CodeEdge, CodeNode, EdgeKind, Grammar, NodeKind};

/// Targets longer than this are cut.
const MAX_TARGET_CHARS: usize = 200;

/// One file's extraction in progress.
pub(super) struct FileCx<'a> {
    /// The file's text.
    pub text: &'a str,
    /// The file's path.
    pub path: &'a str,
    grammar: Grammar,
    nodes: Vec<CodeNode>,
    edges: Vec<CodeEdge>,
    lookups: Vec<String>,
    scopes: Vec<Scope>,
    depth: usize,
    /// Edges whose `from` should become the type of this qualified name,
    /// when the file declares it.
    owned_edges: Vec<(usize, String)>,
}

impl<'a> FileCx<'a> {
    /// Starts a file: its `File` node, keyed 0, named by `module`.
    pub(super) fn new(path: &'a str, grammar: Grammar, text: &'a str, module: String) -> Self {
        let name = path.rsplit('/').next().unwrap_or(path).to_owned();
        let file = CodeNode {
            key: 0,
            kind: NodeKind::File,
            name,
            qualified_name: module.clone(),
            path: path.to_owned(),
            language: grammar.name(),
            start_line: 1,
            end_line: to_u32(text.lines().count().max(1)),
            start_byte: 0,
            end_byte: to_u32(text.len()),
            signature: None,
            doc: None,
        };
        let scope = Scope { depth: 0, key: 0, prefix: module, role: Role::File };
        Self {
            text,
            path,
            grammar,
            nodes: vec![file],
            edges: Vec::new(),
            lookups: Vec::new(),
            scopes: vec![scope],
            depth: 0,
            owned_edges: Vec::new(),
        }
    }

    /// A node's text (empty if it is not valid UTF-8 on its own).
    pub(super) fn text_of(&self, node: Node<'_>) -> &'a str {
        self.text.get(node.byte_range()).unwrap_or("")
    }

    /// The qualified name of what encloses the current node.
    pub(super) fn prefix(&self) -> &str {
        self.scopes.last().map_or("", |scope| scope.prefix.as_str())
    }

    /// The qualified name of the innermost enclosing module (or the file).
    pub(super) fn module_prefix(&self) -> &str {
        self.scopes
            .iter()
            .rev()
            .find(|scope| matches!(scope.role, Role::Module | Role::File))
            .map_or("", |scope| scope.prefix.as_str())
    }

    /// What encloses the current node.
    pub(super) fn role(&self) -> Role {
        self.scopes.last().map_or(Role::File, |scope| scope.role.clone())
    }

    /// The file's module path, as first given.
    pub(super) fn module(&self) -> &str {
        self.nodes.first().map_or("", |file| file.qualified_name.as_str())
    }

    /// Renames the file's module (Go: a root-directory package is named by
    /// its `package` clause); only before anything is declared.
    pub(super) fn rename_module(&mut self, module: &str) {
        if self.nodes.len() != 1 {
            return;
        }
        if let Some(file) = self.nodes.first_mut() {
            file.qualified_name = module.to_owned();
        }
        if let Some(scope) = self.scopes.first_mut() {
            scope.prefix = module.to_owned();
        }
    }

    /// Sets the file's own doc (module docstring, `//!` comments).
    pub(super) fn set_file_doc(&mut self, doc: Option<String>) {
        if let Some(file) = self.nodes.first_mut() {
            file.doc = doc;
        }
    }

    /// `prefix` and `name` joined by the language's separator.
    pub(super) fn join(&self, prefix: &str, name: &str) -> String {
        if prefix.is_empty() { name.to_owned() } else { format!("{prefix}{}{name}", self.grammar.separator()) }
    }

    /// Records a declaration inside the current scope and opens its scope.
    pub(super) fn declare(&mut self, decl: Decl<'_>) -> usize {
        let qualified_name = self.join(self.prefix(), &decl.name);
        let owner = match self.role() {
            Role::Impl(owner) => Some(owner),
            _ => None,
        };
        self.push_decl(decl, qualified_name, owner)
    }

    /// Records a method of the type named `owner` (a Go receiver), named
    /// under it and contained by it when this file declares it.
    pub(super) fn declare_member(&mut self, decl: Decl<'_>, owner: &str) -> usize {
        let owner = self.join(self.prefix(), owner);
        let qualified_name = self.join(&owner, &decl.name);
        self.push_decl(decl, qualified_name, Some(owner))
    }

    fn push_decl(&mut self, decl: Decl<'_>, qualified_name: String, owner: Option<String>) -> usize {
        let key = self.nodes.len();
        let container = self.scopes.last().map_or(0, |scope| scope.key);
        let end = decl.body.map_or(decl.node.end_byte(), |body| body.start_byte());
        let node = CodeNode {
            key,
            kind: decl.kind,
            name: collapse(&decl.name, MAX_TARGET_CHARS),
            qualified_name: qualified_name.clone(),
            path: self.path.to_owned(),
            language: self.grammar.name(),
            start_line: point_line(decl.node.start_position()),
            end_line: point_line(decl.node.end_position()),
            start_byte: to_u32(decl.node.start_byte()),
            end_byte: to_u32(decl.node.end_byte()),
            signature: signature(self.text, decl.outer.start_byte(), end, decl.body.is_some()),
            doc: decl.doc,
        };
        let line = node.start_line;
        self.nodes.push(node);
        let edge = self.push_edge(container, Some(key), EdgeKind::Contains, qualified_name.clone(), line);
        if let Some(owner) = owner {
            self.owned_edges.push((edge, owner));
        }
        let role = match decl.kind {
            NodeKind::Function | NodeKind::Method => Role::Callable,
            NodeKind::Module | NodeKind::File => Role::Module,
            _ => Role::Type,
        };
        self.scopes.push(Scope { depth: self.depth, key, prefix: qualified_name, role });
        key
    }

    /// Opens a Rust `impl` of the type `owner` (implementing `implements`,
    /// a trait as written, at `line`).
    pub(super) fn open_impl(&mut self, owner: &str, implements: Option<(&str, u32)>) {
        let container = self.scopes.last().map_or(0, |scope| scope.key);
        let owner = self.join(self.prefix(), owner);
        if let Some((target, line)) = implements {
            let edge = self.push_edge(container, None, EdgeKind::Implements, target.to_owned(), line);
            self.owned_edges.push((edge, owner.clone()));
        }
        let scope = Scope { depth: self.depth, key: container, prefix: owner.clone(), role: Role::Impl(owner) };
        self.scopes.push(scope);
    }

    /// Records an import by the file, resolved by `lookup`.
    pub(super) fn import(&mut self, target: &str, lookup: String, line: u32) {
        let edge = self.push_edge(0, None, EdgeKind::Imports, target.to_owned(), line);
        if let Some(slot) = self.lookups.get_mut(edge) {
            *slot = lookup;
        }
    }

    /// Records a call by the innermost enclosing function (or, at top
    /// level, by the innermost enclosing declaration or the file).
    pub(super) fn call(&mut self, target: &str, line: u32) {
        let caller = self
            .scopes
            .iter()
            .rev()
            .find(|scope| scope.role == Role::Callable)
            .or(self.scopes.last())
            .map_or(0, |scope| scope.key);
        self.push_edge(caller, None, EdgeKind::Calls, target.to_owned(), line);
    }

    /// Records `INHERITS` or `IMPLEMENTS` from the declaration `from`.
    pub(super) fn relate(&mut self, from: usize, kind: EdgeKind, target: &str, line: u32) {
        self.push_edge(from, None, kind, target.to_owned(), line);
    }

    fn push_edge(&mut self, from: usize, to: Option<usize>, kind: EdgeKind, target: String, line: u32) -> usize {
        let target = collapse(&target, MAX_TARGET_CHARS);
        self.lookups.push(target.clone());
        self.edges.push(CodeEdge { from, to, kind, target, line });
        self.edges.len() - 1
    }

    /// Closes the scopes of nodes the walk has left, before visiting a
    /// node at `depth`.
    pub(super) fn enter(&mut self, depth: usize) {
        self.depth = depth;
        while self.scopes.len() > 1 && self.scopes.last().is_some_and(|scope| scope.depth >= depth) {
            self.scopes.pop();
        }
    }

    /// The file's graph: edges of `impl` blocks and Go receivers moved
    /// onto their type when this file declares it.
    pub(super) fn finish(mut self) -> FileGraph {
        let types: HashMap<&str, usize> = self
            .nodes
            .iter()
            .filter(|node| node.kind.is_type())
            .map(|node| (node.qualified_name.as_str(), node.key))
            .collect();
        for (edge, owner) in &self.owned_edges {
            if let (Some(&key), Some(edge)) = (types.get(owner.as_str()), self.edges.get_mut(*edge)) {
                edge.from = key;
            }
        }
        let bytes = self.text.len() as u64;
        FileGraph { nodes: self.nodes, edges: self.edges, lookups: self.lookups, bytes }
    }
}
