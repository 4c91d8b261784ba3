//! A checked-out repository as the analysis reads it: every regular file
//! inside the tree (symlinks and `.git` skipped), its path relative to the
//! root with `/` separators, its size, and its text when it is UTF-8 and
//! under the per-file cap (binary or oversized files have `text: None` but
//! still count towards bytes and file types).

use serde::{Deserialize, Serialize};

/// One file of the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoFile {
    /// Relative to the repository root, `/`-separated (`src/lib.rs`).
    pub path: String,
    /// Bytes on disk.
    pub size: u64,
    /// Its text, when UTF-8 and small enough to read.
    pub text: Option<String>,
    /// Whether its mode has an execute bit (scripts named without an
    /// extension are told by their shebang).
    pub executable: bool,
}

impl RepoFile {
    /// A file with `text`, for tests and generated trees.
    pub fn text(path: &str, text: &str) -> Self {
        Self { path: path.to_owned(), size: text.len() as u64, text: Some(text.to_owned()), executable: false }
    }

    /// The file name (the last path segment).
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}
