//! A repository's source files as a code graph: its files, modules, types
//! and functions as nodes, and what contains, imports, calls, inherits or
//! implements what as edges.
//!
//! Why: an analyst asked about a codebase ("where is the cart total
//! computed?", "what breaks if `Cart::add` changes?") needs structure, not
//! only text. Tree-sitter grammars give that structure for Rust, Python,
//! JavaScript, TypeScript (and TSX) and Go without compiling or running
//! anything from the repository, and still yield a tree for files that do
//! not parse cleanly (their `ERROR` nodes are walked like any other, so
//! whatever did parse is still extracted).
//!
//! The repository is untrusted: files over 1 MiB are skipped, every parse is
//! cancelled after 2 s, trees are walked without recursion (a file of
//! 100 000 `(` cannot overflow the stack), and nothing here panics. Files
//! that could not be parsed are listed in [`Graph::parse_errors`].
//!
//! Extraction is per file (one parser per grammar per worker thread, files
//! shared out among up to four threads); then edges are resolved across the
//! whole repository (`resolve`):
//!
//! - `CONTAINS` edges are always resolved: file → module → type → method.
//! - `CALLS`, `INHERITS` and `IMPLEMENTS` are resolved by the last segment
//!   of their target (`cart.add` → `add`, `Cart::new` → `new`,
//!   `self.total` → `total`, generics and call arguments ignored) against
//!   the nodes of that name: Function/Method nodes for calls (a type when no
//!   function has the name, as in `new Cart()` or `Cart()`), and
//!   Class/Struct/Enum/Trait/Interface nodes for inheritance. One candidate
//!   in the repository resolves the edge. With several, the candidates are
//!   narrowed, each step only when it keeps at least one: for `self.`,
//!   `this.`, `cls.` and `Self::` targets to the caller's siblings; else to
//!   those whose qualified name has the qualifier (`Cart` in `Cart::new`)
//!   as a segment; then to the caller's file. (The qualifier goes before
//!   the file: `cart::Cart::new()` written next to another `new` means
//!   `Cart`'s.) Still several, or none: the edge stays unresolved
//!   (`to: None`) but is kept.
//! - `IMPORTS` are resolved against File and Module nodes by qualified
//!   name, compared segment-wise whatever the separator: a module whose
//!   qualified name ends with the imported path, else one whose qualified
//!   name the imported path ends with (Go's `github.com/o/r/internal/cart`
//!   against package `internal/cart`), else the same after dropping the
//!   imported item's name (`crate::cart::Cart` → `crate::cart`). Relative
//!   imports (`./cart`, `from .cart import Cart`, `self::`, `super::`) are
//!   made absolute first, and `./lib` also finds `lib/index.js`. Of
//!   several matches, those in the importer's source root (the path up to
//!   `src/`) are preferred; several left that are one package (one
//!   qualified name and directory: Go's files of a package) resolve to its
//!   first file; otherwise the edge stays unresolved.

mod extract;
mod go;
mod grammar;
mod javascript;
mod kind;
mod module_path;
mod parse;
mod python;
mod record;
mod resolve;
mod rust;
mod scope;
mod text;
mod walk;

#[cfg(test)]
mod tests;

pub use grammar::Grammar;
pub use kind::{EdgeKind, NodeKind};

use serde::{Deserialize, Serialize};

use super::files::RepoFile;

/// A declaration (or a whole file) in the graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeNode {
    /// Its index in [`Graph::nodes`].
    pub key: usize,
    /// What it declares.
    pub kind: NodeKind,
    /// Its name as declared (`add`); a file's is its file name (`cart.js`).
    pub name: String,
    /// Its name from the module down (`crate::cart::Cart::add`,
    /// `shop.cart.Cart.add`, `src/cart.Cart.add`); a file's is its module
    /// path (`crate::cart`, `shop.cart`, `src/cart`, `internal/cart`).
    pub qualified_name: String,
    /// The file it is declared in, relative to the repository root.
    pub path: String,
    /// The grammar's name ([`Grammar::name`]).
    pub language: &'static str,
    /// First line, 1-based.
    pub start_line: u32,
    /// Last line, 1-based.
    pub end_line: u32,
    /// Byte offset of its start in the file.
    pub start_byte: u32,
    /// Byte offset just past its end.
    pub end_byte: u32,
    /// The declaration up to its body, whitespace collapsed, at most 300
    /// characters (`pub fn add(&mut self, item: Item) -> usize`).
    pub signature: Option<String>,
    /// Its doc comment or docstring, at most 500 characters.
    pub doc: Option<String>,
}

/// A relation from one node to another (or to a name that names no node
/// of the repository).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeEdge {
    /// The node it starts from (the caller, the importing file, the
    /// subclass, the container).
    pub from: usize,
    /// The node it leads to; `None` when unresolved (a library, a dynamic
    /// call, an ambiguous name).
    pub to: Option<usize>,
    /// What the relation is.
    pub kind: EdgeKind,
    /// The name as written (`cart.add`, `std::io::Read`, `./cart`), at most
    /// 200 characters; a contained node's qualified name for `CONTAINS`.
    pub target: String,
    /// The line it is written on, 1-based.
    pub line: u32,
}

/// The code graph of a repository.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Graph {
    /// Files and declarations, `nodes[k].key == k`.
    pub nodes: Vec<CodeNode>,
    /// Containment, imports, calls and inheritance between them.
    pub edges: Vec<CodeEdge>,
    /// Source files parsed.
    pub files_parsed: usize,
    /// Their total size.
    pub bytes_parsed: u64,
    /// `(path, why)` for source files that could not be parsed (too large,
    /// no text, parse cancelled after its time limit).
    pub parse_errors: Vec<(String, String)>,
}

/// Parses every source file of a grammar [`Grammar::of_path`] knows and
/// returns the repository's code graph, its edges resolved as the module
/// documentation describes. Other files are ignored.
pub fn build(files: &[RepoFile]) -> Graph {
    let jobs: Vec<extract::Job<'_>> = files
        .iter()
        .filter_map(|file| Grammar::of_path(&file.path).map(|grammar| extract::Job { file, grammar }))
        .collect();
    let mut graph = Graph::default();
    let mut lookups = Vec::new();
    for (job, outcome) in jobs.iter().zip(extract::extract_all(&jobs)) {
        match outcome {
            Ok(file) => {
                graph.files_parsed += 1;
                graph.bytes_parsed += file.bytes;
                let offset = graph.nodes.len();
                graph.nodes.extend(file.nodes.into_iter().map(|mut node| {
                    node.key += offset;
                    node
                }));
                graph.edges.extend(file.edges.into_iter().map(|mut edge| {
                    edge.from += offset;
                    edge.to = edge.to.map(|to| to + offset);
                    edge
                }));
                lookups.extend(file.lookups);
            }
            Err(why) => graph.parse_errors.push((job.file.path.clone(), why)),
        }
    }
    resolve::resolve(&mut graph, &lookups);
    graph
}
