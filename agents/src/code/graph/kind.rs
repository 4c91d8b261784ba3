//! What nodes and edges of the code graph are, with the upper-case names
//! they are stored and queried under (`FUNCTION`, `CALLS`).

use serde::{Deserialize, Serialize};

/// What a node of the graph declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NodeKind {
    /// A source file.
    File,
    /// A module declared inside a file (Rust's `mod x { … }`).
    Module,
    /// A class (Python, JavaScript, TypeScript).
    Class,
    /// A struct (Rust, Go).
    Struct,
    /// An enum (Rust).
    Enum,
    /// A trait (Rust).
    Trait,
    /// An interface (TypeScript, Go).
    Interface,
    /// A free function.
    Function,
    /// A function belonging to a type: in a class, an `impl` or a trait,
    /// or with a Go receiver.
    Method,
}

impl NodeKind {
    /// Every kind, in declaration order.
    pub const ALL: [NodeKind; 9] = [
        NodeKind::File,
        NodeKind::Module,
        NodeKind::Class,
        NodeKind::Struct,
        NodeKind::Enum,
        NodeKind::Trait,
        NodeKind::Interface,
        NodeKind::Function,
        NodeKind::Method,
    ];

    /// Its stored name: `FILE`, `MODULE`, `CLASS`, `STRUCT`, `ENUM`,
    /// `TRAIT`, `INTERFACE`, `FUNCTION`, `METHOD`.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::File => "FILE",
            NodeKind::Module => "MODULE",
            NodeKind::Class => "CLASS",
            NodeKind::Struct => "STRUCT",
            NodeKind::Enum => "ENUM",
            NodeKind::Trait => "TRAIT",
            NodeKind::Interface => "INTERFACE",
            NodeKind::Function => "FUNCTION",
            NodeKind::Method => "METHOD",
        }
    }

    /// The kind stored as `name` ([`NodeKind::as_str`], any case).
    pub fn parse(name: &str) -> Option<NodeKind> {
        NodeKind::ALL.into_iter().find(|kind| kind.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// Whether it is a type that methods, fields or subtypes hang off.
    pub fn is_type(self) -> bool {
        matches!(self, NodeKind::Class | NodeKind::Struct | NodeKind::Enum | NodeKind::Trait | NodeKind::Interface)
    }

    /// Whether it is something that can be called.
    pub fn is_callable(self) -> bool {
        matches!(self, NodeKind::Function | NodeKind::Method)
    }
}

/// What an edge of the graph relates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EdgeKind {
    /// A file, module or type declares the node.
    Contains,
    /// A file imports a module or item.
    Imports,
    /// A function or method (or a file's top-level code) calls a function.
    Calls,
    /// A class or interface extends another.
    Inherits,
    /// A type implements an interface or trait.
    Implements,
}

impl EdgeKind {
    /// Every kind, in declaration order.
    pub const ALL: [EdgeKind; 5] =
        [EdgeKind::Contains, EdgeKind::Imports, EdgeKind::Calls, EdgeKind::Inherits, EdgeKind::Implements];

    /// Its stored name: `CONTAINS`, `IMPORTS`, `CALLS`, `INHERITS`,
    /// `IMPLEMENTS`.
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::Contains => "CONTAINS",
            EdgeKind::Imports => "IMPORTS",
            EdgeKind::Calls => "CALLS",
            EdgeKind::Inherits => "INHERITS",
            EdgeKind::Implements => "IMPLEMENTS",
        }
    }

    /// The kind stored as `name` ([`EdgeKind::as_str`], any case).
    pub fn parse(name: &str) -> Option<EdgeKind> {
        EdgeKind::ALL.into_iter().find(|kind| kind.as_str().eq_ignore_ascii_case(name.trim()))
    }
}
