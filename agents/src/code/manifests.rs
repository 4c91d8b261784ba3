//! The dependencies a repository declares, read from its package manifests
//! (`Cargo.toml`, `package.json`, `requirements*.txt`, `pyproject.toml`,
//! `go.mod`) rather than guessed from imports: the manifest is what the
//! package manager installs, so it is what a README's installation steps and
//! a licence check must agree with.
//!
//! Repository text is untrusted and often odd: a manifest that does not
//! parse becomes a warning naming its path and the reason, never an error or
//! a panic, and the other manifests are still read. Manifests under
//! `node_modules/`, `vendor/` or `third_party/` are someone else's and are
//! skipped. Within one manifest the dependencies are sorted (runtime first,
//! then by name) so the result does not depend on map ordering.

use serde::{Deserialize, Serialize};

use super::files::RepoFile;

mod golang;
mod project;
mod python;

pub use project::{ProjectMeta, project};

/// The package registry a dependency comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    /// crates.io, from `Cargo.toml`.
    Cargo,
    /// The npm registry, from `package.json`.
    Npm,
    /// PyPI, from `requirements*.txt` and `pyproject.toml`.
    Pypi,
    /// Go modules, from `go.mod`.
    Go,
}

impl Ecosystem {
    /// Its lower-case name: `cargo`, `npm`, `pypi`, `go`.
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Cargo => "cargo",
            Ecosystem::Npm => "npm",
            Ecosystem::Pypi => "pypi",
            Ecosystem::Go => "go",
        }
    }
}

impl PartialEq<&str> for Ecosystem {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One declared dependency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dependency {
    /// Where it is published.
    pub ecosystem: Ecosystem,
    /// The manifest declaring it (`crates/api/Cargo.toml`).
    pub manifest: String,
    /// The package name (a renamed Cargo dependency's `package`).
    pub name: String,
    /// The requirement as written (`^1.2`, `>=2.31`, `v0.9.1`); `None` for
    /// path, git and workspace-inherited dependencies.
    pub version: Option<String>,
    /// Only for development: tests, linting, docs (build deps are not dev).
    pub dev: bool,
}

/// A dependency as one manifest parser sees it.
#[derive(Debug)]
struct Declared {
    name: String,
    version: Option<String>,
    dev: bool,
}

/// The manifests read, by file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ManifestKind {
    Cargo,
    Npm,
    Requirements { dev: bool },
    Pyproject,
    GoMod,
}

impl ManifestKind {
    /// The kind of manifest at `path`, if it is one we read.
    fn of(path: &str) -> Option<Self> {
        let mut segments: Vec<&str> = path.split('/').collect();
        let name = segments.pop()?;
        if segments.iter().any(|dir| matches!(*dir, "node_modules" | "vendor" | "third_party")) {
            return None;
        }
        match name {
            "Cargo.toml" => return Some(Self::Cargo),
            "package.json" => return Some(Self::Npm),
            "pyproject.toml" => return Some(Self::Pyproject),
            "go.mod" => return Some(Self::GoMod),
            _ => {}
        }
        let lower = name.to_ascii_lowercase();
        let stem = lower.strip_suffix(".txt")?;
        let in_requirements_dir = segments.last().is_some_and(|dir| *dir == "requirements");
        (stem.starts_with("requirements") || stem.ends_with("requirements") || in_requirements_dir)
            .then(|| Self::Requirements { dev: python::dev_group(stem) })
    }

    fn ecosystem(self) -> Ecosystem {
        match self {
            Self::Cargo => Ecosystem::Cargo,
            Self::Npm => Ecosystem::Npm,
            Self::Requirements { .. } | Self::Pyproject => Ecosystem::Pypi,
            Self::GoMod => Ecosystem::Go,
        }
    }
}

/// Every dependency declared in `files`' manifests, with a warning
/// (`path: reason`) for each manifest that could not be read.
pub fn dependencies(files: &[RepoFile]) -> (Vec<Dependency>, Vec<String>) {
    let mut dependencies = Vec::new();
    let mut warnings = Vec::new();
    for file in files {
        let Some(kind) = ManifestKind::of(&file.path) else { continue };
        let Some(text) = file.text.as_deref() else {
            warnings.push(format!("{}: not read (binary or too large)", file.path));
            continue;
        };
        let parsed = match kind {
            ManifestKind::Cargo => cargo(text),
            ManifestKind::Npm => npm(text),
            ManifestKind::Requirements { dev } => Ok(python::requirements(text, dev)),
            ManifestKind::Pyproject => python::pyproject(text),
            ManifestKind::GoMod => Ok(golang::requirements(text)),
        };
        match parsed {
            Ok(mut declared) => {
                declared.sort_by(|a, b| (a.dev, &a.name).cmp(&(b.dev, &b.name)));
                declared.dedup_by(|a, b| a.dev == b.dev && a.name == b.name);
                dependencies.extend(declared.into_iter().map(|d| Dependency {
                    ecosystem: kind.ecosystem(),
                    manifest: file.path.clone(),
                    name: d.name,
                    version: d.version,
                    dev: d.dev,
                }));
            }
            Err(reason) => warnings.push(format!("{}: {reason}", file.path)),
        }
    }
    (dependencies, warnings)
}

/// A TOML document, or why not (`line 3: invalid table header`).
fn toml_table(text: &str) -> Result<toml::Table, String> {
    text.parse::<toml::Table>().map_err(|error| {
        let line = error.span().and_then(|span| text.get(..span.start)).map(|before| before.matches('\n').count() + 1);
        let message = error.message().trim().to_owned();
        match line {
            Some(line) => format!("invalid TOML at line {line}: {message}"),
            None => format!("invalid TOML: {message}"),
        }
    })
}

/// `[dependencies]`, `[dev-dependencies]`, `[build-dependencies]`, their
/// `[target.*]` variants and `[workspace.dependencies]`.
fn cargo(text: &str) -> Result<Vec<Declared>, String> {
    let root = toml_table(text)?;
    let mut out = Vec::new();
    cargo_sections(&root, &mut out);
    if let Some(targets) = root.get("target").and_then(toml::Value::as_table) {
        for target in targets.values().filter_map(toml::Value::as_table) {
            cargo_sections(target, &mut out);
        }
    }
    if let Some(deps) = root.get("workspace").and_then(|w| w.get("dependencies")).and_then(toml::Value::as_table) {
        cargo_table(deps, false, &mut out);
    }
    Ok(out)
}

fn cargo_sections(table: &toml::Table, out: &mut Vec<Declared>) {
    let sections = [
        ("dependencies", false),
        ("dev-dependencies", true),
        ("dev_dependencies", true),
        ("build-dependencies", false),
        ("build_dependencies", false),
    ];
    for (section, dev) in sections {
        if let Some(deps) = table.get(section).and_then(toml::Value::as_table) {
            cargo_table(deps, dev, out);
        }
    }
}

/// `name = "1"` or `name = { version = "1", package = "real-name", … }`.
fn cargo_table(deps: &toml::Table, dev: bool, out: &mut Vec<Declared>) {
    for (key, spec) in deps {
        let (name, version) = match spec {
            toml::Value::String(version) => (key.clone(), Some(version.clone())),
            toml::Value::Table(table) => (
                table.get("package").and_then(toml::Value::as_str).unwrap_or(key.as_str()).to_owned(),
                table.get("version").and_then(toml::Value::as_str).map(str::to_owned),
            ),
            _ => (key.clone(), None),
        };
        out.push(Declared { name, version, dev });
    }
}

/// `dependencies`, `devDependencies`, `peerDependencies` and
/// `optionalDependencies` (only `devDependencies` are dev).
fn npm(text: &str) -> Result<Vec<Declared>, String> {
    let root: serde_json::Value = serde_json::from_str(text).map_err(|error| format!("invalid JSON: {error}"))?;
    let object = root.as_object().ok_or_else(|| "invalid package.json: not a JSON object".to_owned())?;
    let sections = [
        ("dependencies", false),
        ("devDependencies", true),
        ("peerDependencies", false),
        ("optionalDependencies", false),
    ];
    let mut out = Vec::new();
    for (section, dev) in sections {
        let Some(deps) = object.get(section).and_then(serde_json::Value::as_object) else { continue };
        for (name, spec) in deps {
            let version = spec.as_str().filter(|version| !version.is_empty()).map(str::to_owned);
            out.push(Declared { name: name.clone(), version, dev });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
