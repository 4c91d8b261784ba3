//! The analysis of one checked-out repository (Property 41: file types,
//! languages and dependencies), computed in one pass over its files with
//! no network and no code execution, so it is safe on untrusted
//! repositories and the same tree always gives the same report.
//!
//! Language shares follow GitHub linguist: only programming and markup
//! languages count ([`languages::is_programming`]), and vendored code
//! (`node_modules/`, `vendor/`, `third_party/`, minified bundles) is left
//! out of the shares though it still counts in the file kinds, extensions
//! and tree.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::files::RepoFile;
use super::languages::{self, FileKind};
use super::licence::{self, FoundLicence};
use super::manifests::{self, Dependency, ProjectMeta};

/// The most extensions listed.
const TOP_EXTENSIONS: usize = 20;

/// One language's part of the code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LanguageShare {
    /// Its linguist name (`Rust`, `Liquid`).
    pub name: String,
    /// Files written in it.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Its fraction of all programming bytes, 0..1, to 4 decimal places.
    pub share: f64,
}

/// A directory, up to two levels deep, with everything under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TreeEntry {
    /// The directory (`src`, `src/code`).
    pub path: String,
    /// Files under it, at any depth.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
}

/// What a repository is made of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryReport {
    /// The repository's name.
    pub name: String,
    /// How many files.
    pub files: usize,
    /// Their total bytes.
    pub bytes: u64,
    /// Files per kind, in [`FileKind`] order, kinds with none left out.
    pub by_kind: Vec<(FileKind, usize)>,
    /// Files per extension (`(none)` without one), most first, top 20.
    pub by_extension: Vec<(String, usize)>,
    /// Programming languages, most bytes first, then by name.
    pub languages: Vec<LanguageShare>,
    /// Directories up to depth 2, by path.
    pub tree: Vec<TreeEntry>,
    /// Declared dependencies.
    pub dependencies: Vec<Dependency>,
    /// What the root manifest says.
    pub meta: ProjectMeta,
    /// Licences declared in files, SPDX lines and the manifest.
    pub licences: Vec<FoundLicence>,
    /// Manifests that could not be read, with why.
    pub warnings: Vec<String>,
}

/// Analyses the files of repository `name`.
pub fn analyze(name: &str, files: &[RepoFile]) -> RepositoryReport {
    let mut bytes = 0u64;
    let mut by_kind: BTreeMap<FileKind, usize> = BTreeMap::new();
    let mut by_extension: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_language: BTreeMap<&'static str, (usize, u64)> = BTreeMap::new();
    let mut tree: BTreeMap<String, (usize, u64)> = BTreeMap::new();
    for file in files {
        bytes += file.size;
        *by_kind.entry(languages::kind(file)).or_default() += 1;
        let extension = languages::extension(file.name()).unwrap_or_else(|| "(none)".to_owned());
        *by_extension.entry(extension).or_default() += 1;
        if !is_vendored(&file.path)
            && let Some(language) = languages::detect(file).filter(|language| languages::is_programming(language))
        {
            let entry = by_language.entry(language).or_default();
            entry.0 += 1;
            entry.1 += file.size;
        }
        for directory in directories(&file.path) {
            let entry = tree.entry(directory).or_default();
            entry.0 += 1;
            entry.1 += file.size;
        }
    }
    let mut by_extension: Vec<(String, usize)> = by_extension.into_iter().collect();
    by_extension.sort_by(|a, b| b.1.cmp(&a.1));
    by_extension.truncate(TOP_EXTENSIONS);
    let programming: u64 = by_language.values().map(|(_, bytes)| bytes).sum();
    let mut languages: Vec<LanguageShare> = by_language
        .into_iter()
        .map(|(name, (files, bytes))| LanguageShare {
            name: name.to_owned(),
            files,
            bytes,
            share: share(bytes, programming),
        })
        .collect();
    languages.sort_by(|a, b| b.bytes.cmp(&a.bytes));
    let (dependencies, warnings) = manifests::dependencies(files);
    let meta = manifests::project(files);
    let licences = licence::detect(files, &meta);
    RepositoryReport {
        name: name.to_owned(),
        files: files.len(),
        bytes,
        by_kind: by_kind.into_iter().collect(),
        by_extension,
        languages,
        tree: tree.into_iter().map(|(path, (files, bytes))| TreeEntry { path, files, bytes }).collect(),
        dependencies,
        meta,
        licences,
        warnings,
    }
}

impl RepositoryReport {
    /// The languages as (name, bytes), biggest first, for the README.
    pub fn language_bytes(&self) -> Vec<(String, u64)> {
        self.languages.iter().map(|language| (language.name.clone(), language.bytes)).collect()
    }

    /// The top-level directories as `src/ (42 files)`, for the README.
    pub fn top_level(&self) -> Vec<String> {
        self.tree
            .iter()
            .filter(|entry| !entry.path.contains('/'))
            .map(|entry| {
                let noun = if entry.files == 1 { "file" } else { "files" };
                format!("{}/ ({} {noun})", entry.path, entry.files)
            })
            .collect()
    }
}

/// `bytes` as a fraction of `total`, to 4 decimal places.
fn share(bytes: u64, total: u64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    (bytes as f64 / total as f64 * 10_000.0).round() / 10_000.0
}

/// Third-party or generated code that linguist leaves out of the shares.
fn is_vendored(path: &str) -> bool {
    path.split('/').any(|segment| matches!(segment, "node_modules" | "vendor" | "third_party"))
        || path.ends_with(".min.js")
        || path.ends_with(".min.css")
}

/// The directories holding `path`, one and two levels deep (`a/b/c/d.rs` →
/// `a`, `a/b`).
fn directories(path: &str) -> Vec<String> {
    let segments: Vec<&str> = path.split('/').collect();
    let Some((_, dirs)) = segments.split_last() else { return Vec::new() };
    (1..=dirs.len().min(2)).filter_map(|depth| dirs.get(..depth)).map(|prefix| prefix.join("/")).collect()
}

#[cfg(test)]
mod tests;
