//! What the project says about itself in its manifest: name, description,
//! version, declared licence, whether it is a library or ships binaries, its
//! npm scripts, and whether it serves over the network. The root-most
//! manifest wins (`Cargo.toml`, then `pyproject.toml`, `go.mod`,
//! `package.json` at the same depth): a Rust crate's `package.json` for
//! front-end tooling does not make it an npm package.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use toml::Value;

use super::{Ecosystem, ManifestKind, RepoFile, golang, python, toml_table};

/// The project's own description of itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectMeta {
    /// The manifest these fields come from (`Cargo.toml`); `None` without one.
    pub manifest: Option<String>,
    /// The package (or Go module path).
    pub name: Option<String>,
    /// Its one-line description.
    pub description: Option<String>,
    /// Its version.
    pub version: Option<String>,
    /// The SPDX expression the manifest declares.
    pub licence: Option<String>,
    /// Whether others build on it as a library.
    pub is_library: bool,
    /// The executables it installs.
    pub binaries: Vec<String>,
    /// `package.json` scripts as (name, command), by name.
    pub scripts: Vec<(String, String)>,
    /// The dependency or API that makes it a network service (`express`,
    /// `net/http`), which matters to the AGPL.
    pub network_service: Option<String>,
}

/// The metadata of the root-most manifest that parses.
pub fn project(files: &[RepoFile]) -> ProjectMeta {
    let mut manifests: Vec<(&RepoFile, ManifestKind)> =
        files.iter().filter_map(|file| Some((file, ManifestKind::of(&file.path)?))).collect();
    manifests.sort_by(|(a, ka), (b, kb)| {
        (a.path.matches('/').count(), priority(*ka), &a.path).cmp(&(
            b.path.matches('/').count(),
            priority(*kb),
            &b.path,
        ))
    });
    let service = network_service(files);
    for (file, kind) in manifests {
        let Some(text) = file.text.as_deref() else { continue };
        let dir = parent(&file.path);
        let meta = match kind {
            ManifestKind::Cargo => cargo(text, dir, files),
            ManifestKind::Npm => npm(text),
            ManifestKind::Pyproject => pyproject(text),
            ManifestKind::GoMod => go(text, dir, files),
            ManifestKind::Requirements { .. } => None,
        };
        if let Some(meta) = meta {
            return ProjectMeta { manifest: Some(file.path.clone()), network_service: service, ..meta };
        }
    }
    ProjectMeta { network_service: service, ..ProjectMeta::default() }
}

fn priority(kind: ManifestKind) -> usize {
    let order = [ManifestKind::Cargo, ManifestKind::Pyproject, ManifestKind::GoMod, ManifestKind::Npm];
    order.iter().position(|known| *known == kind).unwrap_or(order.len())
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

fn join(dir: &str, relative: &str) -> String {
    if dir.is_empty() { relative.to_owned() } else { format!("{dir}/{relative}") }
}

fn push_unique(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// `[package]` (inheriting `[workspace.package]`), `[lib]`, `[[bin]]` and
/// the conventional `src/lib.rs`, `src/main.rs`, `src/bin/*.rs`.
fn cargo(text: &str, dir: &str, files: &[RepoFile]) -> Option<ProjectMeta> {
    let root = toml_table(text).ok()?;
    let package = root.get("package");
    let inherited = root.get("workspace").and_then(|w| w.get("package"));
    let field = |key: &str| match package.and_then(|p| p.get(key)) {
        Some(Value::String(value)) => Some(value.clone()),
        Some(Value::Table(_)) | None => inherited.and_then(|w| w.get(key)).and_then(Value::as_str).map(str::to_owned),
        Some(_) => None,
    };
    let name = package.and_then(|p| p.get("name")).and_then(Value::as_str).map(str::to_owned);
    let mut binaries = Vec::new();
    for bin in root.get("bin").and_then(Value::as_array).into_iter().flatten() {
        if let Some(bin_name) = bin.get("name").and_then(Value::as_str) {
            push_unique(&mut binaries, bin_name.to_owned());
        }
    }
    let is_library = if package.is_some() {
        let main = join(dir, "src/main.rs");
        let bin_dir = join(dir, "src/bin/");
        for file in files {
            if file.path == main {
                if let Some(name) = &name {
                    push_unique(&mut binaries, name.clone());
                }
            } else if let Some(rest) = file.path.strip_prefix(&bin_dir) {
                let stem = rest.strip_suffix("/main.rs").or_else(|| rest.strip_suffix(".rs"));
                if let Some(stem) = stem.filter(|stem| !stem.contains('/')) {
                    push_unique(&mut binaries, stem.to_owned());
                }
            }
        }
        root.contains_key("lib") || files.iter().any(|file| file.path == join(dir, "src/lib.rs"))
    } else {
        // A virtual workspace: a library when one of its crates is.
        let prefix = join(dir, "");
        for file in files.iter().filter(|file| file.path.starts_with(&prefix)) {
            if let Some(krate) = file.path.strip_suffix("/src/main.rs") {
                push_unique(&mut binaries, krate.rsplit('/').next().unwrap_or(krate).to_owned());
            }
        }
        files.iter().any(|file| file.path.starts_with(&prefix) && file.path.ends_with("/src/lib.rs"))
    };
    Some(ProjectMeta {
        name,
        description: field("description"),
        version: field("version"),
        licence: field("license"),
        is_library,
        binaries,
        ..ProjectMeta::default()
    })
}

/// `name`, `description`, `version`, `license`, `bin`, `scripts`; a library
/// when it has an entry point (`main`, `exports`, `module`, `types`) and is
/// not `private`.
fn npm(text: &str) -> Option<ProjectMeta> {
    let root: Json = serde_json::from_str(text).ok()?;
    let object = root.as_object()?;
    let string = |key: &str| object.get(key).and_then(Json::as_str).map(str::to_owned);
    let name = string("name");
    let private = object.get("private").and_then(Json::as_bool).unwrap_or(false);
    let is_library = !private && ["main", "exports", "module", "types"].iter().any(|key| object.contains_key(*key));
    let licence = string("license")
        .or_else(|| object.get("license").and_then(|l| l.get("type")).and_then(Json::as_str).map(str::to_owned));
    let binaries: Vec<String> = match object.get("bin") {
        Some(Json::String(_)) => name.iter().map(|n| n.rsplit('/').next().unwrap_or(n.as_str()).to_owned()).collect(),
        Some(Json::Object(bins)) => bins.keys().cloned().collect(),
        _ => Vec::new(),
    };
    let mut scripts: Vec<(String, String)> = object
        .get("scripts")
        .and_then(Json::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(key, command)| Some((key.clone(), command.as_str()?.to_owned())))
        .collect();
    scripts.sort();
    Some(ProjectMeta {
        description: string("description"),
        version: string("version"),
        name,
        licence,
        is_library,
        binaries,
        scripts,
        ..ProjectMeta::default()
    })
}

/// PEP 621 `[project]` (or `[tool.poetry]`); a library unless it declares
/// scripts, which are its binaries.
fn pyproject(text: &str) -> Option<ProjectMeta> {
    let root = toml_table(text).ok()?;
    let project = root.get("project");
    let poetry = root.get("tool").and_then(|tool| tool.get("poetry"));
    if project.is_none() && poetry.is_none() {
        return None;
    }
    let field = |key: &str| {
        project
            .and_then(|p| p.get(key))
            .or_else(|| poetry.and_then(|p| p.get(key)))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let declared = project.and_then(|p| p.get("license")).and_then(|licence| match licence {
        Value::String(spdx) => Some(spdx.clone()),
        Value::Table(table) => table.get("text").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    });
    let poetry_licence = poetry.and_then(|p| p.get("license")).and_then(Value::as_str).map(str::to_owned);
    let classified = project
        .and_then(|p| p.get("classifiers"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find_map(python::classifier_licence)
        .map(str::to_owned);
    let mut binaries = Vec::new();
    let tables = [
        project.and_then(|p| p.get("scripts")),
        project.and_then(|p| p.get("gui-scripts")),
        poetry.and_then(|p| p.get("scripts")),
    ];
    for table in tables.into_iter().flatten().filter_map(Value::as_table) {
        for script in table.keys() {
            push_unique(&mut binaries, script.clone());
        }
    }
    Some(ProjectMeta {
        name: field("name"),
        description: field("description"),
        version: field("version"),
        licence: declared.or(poetry_licence).or(classified),
        is_library: binaries.is_empty(),
        binaries,
        ..ProjectMeta::default()
    })
}

/// The module path; binaries are `package main` at the root and under
/// `cmd/<name>/`; a library when the root is not `package main`.
fn go(text: &str, dir: &str, files: &[RepoFile]) -> Option<ProjectMeta> {
    let module = golang::module_path(text)?;
    let last = module.rsplit('/').next().unwrap_or(module.as_str()).to_owned();
    let cmd = join(dir, "cmd/");
    let mut root_main = false;
    let mut binaries = Vec::new();
    for file in files.iter().filter(|f| f.path.ends_with(".go") && !f.path.ends_with("_test.go")) {
        if !file.text.as_deref().is_some_and(|t| t.lines().any(|line| line.trim() == "package main")) {
            continue;
        }
        if parent(&file.path) == dir {
            root_main = true;
            push_unique(&mut binaries, last.clone());
        } else if let Some((command, _)) = file.path.strip_prefix(&cmd).and_then(|rest| rest.split_once('/')) {
            push_unique(&mut binaries, command.to_owned());
        }
    }
    Some(ProjectMeta { name: Some(module), is_library: !root_main, binaries, ..ProjectMeta::default() })
}

/// Web frameworks by ecosystem; Go module paths match by prefix.
#[rustfmt::skip]
const SERVERS: &[(Ecosystem, &str)] = &[
    (Ecosystem::Npm, "express"), (Ecosystem::Npm, "fastify"), (Ecosystem::Npm, "koa"), (Ecosystem::Npm, "next"),
    (Ecosystem::Npm, "@nestjs/core"), (Ecosystem::Npm, "@hapi/hapi"), (Ecosystem::Pypi, "flask"),
    (Ecosystem::Pypi, "django"), (Ecosystem::Pypi, "fastapi"), (Ecosystem::Pypi, "starlette"),
    (Ecosystem::Pypi, "aiohttp"), (Ecosystem::Cargo, "axum"), (Ecosystem::Cargo, "actix-web"),
    (Ecosystem::Cargo, "rocket"), (Ecosystem::Cargo, "warp"), (Ecosystem::Go, "github.com/gin-gonic/gin"),
    (Ecosystem::Go, "github.com/labstack/echo"), (Ecosystem::Go, "github.com/gofiber/fiber"),
    (Ecosystem::Go, "github.com/go-chi/chi"),
];

/// The first runtime dependency that is a web framework, else `net/http`
/// when Go code starts a server.
fn network_service(files: &[RepoFile]) -> Option<String> {
    let (dependencies, _) = super::dependencies(files);
    let framework = dependencies.iter().filter(|d| !d.dev).find(|d| {
        SERVERS.iter().any(|(ecosystem, server)| {
            d.ecosystem == *ecosystem
                && if *ecosystem == Ecosystem::Go {
                    d.name.starts_with(server)
                } else {
                    d.name.eq_ignore_ascii_case(server)
                }
        })
    });
    if let Some(framework) = framework {
        return Some(framework.name.clone());
    }
    let serves = files.iter().filter(|f| f.path.ends_with(".go")).any(|f| {
        f.text.as_deref().is_some_and(|text| text.contains("http.ListenAndServe") || text.contains("http.Server{"))
    });
    serves.then(|| "net/http".to_owned())
}
