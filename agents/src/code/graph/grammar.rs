//! Which tree-sitter grammar reads a file, told by its extension.

use serde::{Deserialize, Serialize};
use tree_sitter::Language;

/// A language the code graph parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Grammar {
    /// `.rs`
    Rust,
    /// `.py`, `.pyi`
    Python,
    /// `.js`, `.mjs`, `.cjs`, `.jsx`
    JavaScript,
    /// `.ts`, `.mts`, `.cts`
    TypeScript,
    /// `.tsx`
    Tsx,
    /// `.go`
    Go,
}

impl Grammar {
    /// Every grammar, in declaration order.
    pub const ALL: [Grammar; 6] =
        [Grammar::Rust, Grammar::Python, Grammar::JavaScript, Grammar::TypeScript, Grammar::Tsx, Grammar::Go];

    /// The grammar for a file, by its extension (case-insensitive); `None`
    /// for files the graph does not parse.
    pub fn of_path(path: &str) -> Option<Grammar> {
        let name = path.rsplit('/').next().unwrap_or(path);
        let (stem, extension) = name.rsplit_once('.')?;
        if stem.is_empty() {
            return None;
        }
        match extension.to_ascii_lowercase().as_str() {
            "rs" => Some(Grammar::Rust),
            "py" | "pyi" => Some(Grammar::Python),
            "js" | "mjs" | "cjs" | "jsx" => Some(Grammar::JavaScript),
            "ts" | "mts" | "cts" => Some(Grammar::TypeScript),
            "tsx" => Some(Grammar::Tsx),
            "go" => Some(Grammar::Go),
            _ => None,
        }
    }

    /// Its name as stored on nodes: `rust`, `python`, `javascript`,
    /// `typescript`, `tsx`, `go`.
    pub fn name(self) -> &'static str {
        match self {
            Grammar::Rust => "rust",
            Grammar::Python => "python",
            Grammar::JavaScript => "javascript",
            Grammar::TypeScript => "typescript",
            Grammar::Tsx => "tsx",
            Grammar::Go => "go",
        }
    }

    /// The grammar named `name` ([`Grammar::name`]).
    pub fn from_name(name: &str) -> Option<Grammar> {
        Grammar::ALL.into_iter().find(|grammar| grammar.name() == name)
    }

    /// What joins the segments of its qualified names.
    pub(super) fn separator(self) -> &'static str {
        match self {
            Grammar::Rust => "::",
            _ => ".",
        }
    }

    /// Its slot in per-grammar tables.
    pub(super) fn index(self) -> usize {
        self as usize
    }

    /// The tree-sitter language.
    pub(super) fn language(self) -> Language {
        match self {
            Grammar::Rust => tree_sitter_rust::LANGUAGE.into(),
            Grammar::Python => tree_sitter_python::LANGUAGE.into(),
            Grammar::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
            Grammar::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            Grammar::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
            Grammar::Go => tree_sitter_go::LANGUAGE.into(),
        }
    }
}
