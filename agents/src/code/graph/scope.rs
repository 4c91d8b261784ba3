//! The declarations the language visitors report, and the enclosing
//! scopes the walk keeps for them.

use tree_sitter::Node;

use super::NodeKind;

/// What an enclosing scope is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Role {
    /// The file itself.
    File,
    /// A module.
    Module,
    /// A class, struct, enum, trait or interface.
    Type,
    /// A function or method.
    Callable,
    /// A Rust `impl` block for the type of this qualified name.
    Impl(String),
}

/// An enclosing declaration on the walk's stack.
pub(super) struct Scope {
    /// Tree depth of the node that opened it.
    pub depth: usize,
    /// The node that contains what is declared inside.
    pub key: usize,
    /// Qualified name of what is inside (`crate::cart::Cart`).
    pub prefix: String,
    /// What it is.
    pub role: Role,
}

/// A declaration found by a visitor.
pub(super) struct Decl<'t> {
    /// What it declares.
    pub kind: NodeKind,
    /// Its name.
    pub name: String,
    /// The node whose extent is the declaration's.
    pub node: Node<'t>,
    /// Where its signature starts (an `export` or `const` around it, or
    /// the node itself).
    pub outer: Node<'t>,
    /// Its body: the signature stops there.
    pub body: Option<Node<'t>>,
    /// Its doc comment, cleaned.
    pub doc: Option<String>,
}
