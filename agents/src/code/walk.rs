//! Reading a checkout into [`RepoFile`]s: regular files only (symlinks are
//! never followed, and `core.symlinks=false` leaves none anyway), `.git`
//! skipped, at most `code.max_files` files, text read only when UTF-8 and
//! at most `code.max_file_bytes`. Paths are relative, `/`-separated and
//! sorted, so two analyses of one commit read the same tree.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::files::RepoFile;
use super::settings::CodeSettings;

/// What the walk read, and what it left out.
#[derive(Debug, Default)]
pub struct Tree {
    /// The files read, sorted by path.
    pub files: Vec<RepoFile>,
    /// Files past `max_files`, not read.
    pub skipped: usize,
}

/// Reads `root` (blocking: run it off the async threads).
pub fn read(root: &Path, settings: &CodeSettings) -> Tree {
    let mut tree = Tree::default();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            // `symlink_metadata`: a link is seen as a link, never its target.
            let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
            let Some(relative) = path.strip_prefix(root).ok().and_then(|p| p.to_str()) else { continue };
            let relative = relative.replace('\\', "/");
            if meta.is_dir() {
                if relative != ".git" {
                    stack.push(path);
                }
                continue;
            }
            if !meta.is_file() {
                continue;
            }
            if tree.files.len() >= settings.max_files {
                tree.skipped += 1;
                continue;
            }
            let size = meta.len();
            let text = if size <= settings.max_file_bytes { read_text(&path, size) } else { None };
            let executable = meta.permissions().mode() & 0o111 != 0;
            tree.files.push(RepoFile { path: relative, size, text, executable });
        }
    }
    tree.files.sort_by(|a, b| a.path.cmp(&b.path));
    tree
}

/// The file's text, when it is UTF-8 without NUL bytes (binary otherwise).
fn read_text(path: &Path, size: u64) -> Option<String> {
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    std::fs::File::open(path).ok()?.take(size).read_to_end(&mut bytes).ok()?;
    if bytes.contains(&0) {
        return None;
    }
    String::from_utf8(bytes).ok()
}
