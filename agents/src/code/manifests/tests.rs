//! Manifests from realistic repositories, read back as exact dependency lists.

use super::*;

fn summary(deps: &[Dependency]) -> Vec<(&str, Option<&str>, bool)> {
    deps.iter().map(|d| (d.name.as_str(), d.version.as_deref(), d.dev)).collect()
}

const CARGO: &str = r#"
[workspace]
members = ["crates/*"]

[workspace.package]
version = "0.3.0"
license = "MIT OR Apache-2.0"

[workspace.dependencies]
tokio = { version = "1.40", features = ["full"] }

[package]
name = "shopkeeper"
description = "Inventory sync for small shops"
version.workspace = true
license.workspace = true
edition = "2021"

[dependencies]
serde = { version = "1.0", features = ["derive"] }
anyhow = "1"
tokio = { workspace = true }
shop-core = { path = "crates/core" }
http = { package = "http-types", version = "2.12" }
nix-helpers = { git = "https://github.com/acme/nix-helpers" }

[target.'cfg(unix)'.dependencies]
libc = "0.2"

[dev-dependencies]
proptest = "1.5"
insta = { version = "1.40", features = ["yaml"] }

[build-dependencies]
cc = "1.1"
"#;

const PACKAGE_JSON: &str = r#"{
  "name": "@acme/storefront",
  "version": "2.1.0",
  "description": "Headless storefront for Acme",
  "license": "MIT",
  "private": true,
  "scripts": { "dev": "next dev", "build": "next build", "test": "vitest run" },
  "dependencies": { "next": "14.2.3", "react": "^18.3.1" },
  "devDependencies": { "typescript": "~5.4.0", "vitest": "^1.6.0" },
  "peerDependencies": { "react-dom": ">=18" },
  "optionalDependencies": { "sharp": "" }
}"#;

const REQUIREMENTS: &str = r#"# Core
requests[socks]>=2.31,<3  # HTTP
Django==5.0.6
numpy ; python_version < "3.13"
-r base.txt
-e git+https://github.com/acme/tools.git#egg=tools
--index-url https://pypi.org/simple
pandas~=2.2 \
    ; sys_platform != "win32"
https://example.com/pkg.whl
mylib @ https://example.com/mylib-1.0.tar.gz
"#;

const PYPROJECT: &str = r#"
[project]
name = "shop-insights"
version = "0.9.0"
description = "Sales insights for Shopify stores"
license = { text = "Apache-2.0" }
dependencies = [
  "httpx>=0.27",
  "pydantic[email]>=2.7; python_version >= '3.9'",
]
classifiers = ["License :: OSI Approved :: Apache Software License"]

[project.optional-dependencies]
dev = ["pytest>=8.2"]
plot = ["matplotlib"]

[dependency-groups]
lint = ["ruff", {include-group = "typing"}]
typing = ["mypy==1.10.0"]

[tool.poetry.dependencies]
python = "^3.11"
polars = "^0.20"
duckdb = { version = "^1.0", optional = true }

[tool.poetry.group.docs.dependencies]
mkdocs = "*"

[tool.poetry.dev-dependencies]
black = "24.4.2"
"#;

const GO_MOD: &str = "module github.com/acme/shopsync

go 1.22

require (
\tgithub.com/gin-gonic/gin v1.10.0
\tgolang.org/x/sync v0.7.0 // indirect
)

require github.com/stretchr/testify v1.9.0

replace github.com/acme/internal => ../internal
";

#[test]
fn cargo_tables_targets_and_workspace() {
    let files = [
        RepoFile::text("Cargo.toml", CARGO),
        RepoFile::text("src/lib.rs", "pub fn sync() {}\n"),
        RepoFile::text("src/main.rs", "fn main() {}\n"),
        RepoFile::text("src/bin/import.rs", "fn main() {}\n"),
    ];
    let (deps, warnings) = dependencies(&files);
    assert!(warnings.is_empty());
    assert!(deps.iter().all(|d| d.ecosystem == "cargo" && d.manifest == "Cargo.toml"));
    assert_eq!(
        summary(&deps),
        vec![
            ("anyhow", Some("1"), false),
            ("cc", Some("1.1"), false),
            ("http-types", Some("2.12"), false),
            ("libc", Some("0.2"), false),
            ("nix-helpers", None, false),
            ("serde", Some("1.0"), false),
            ("shop-core", None, false),
            ("tokio", None, false),
            ("insta", Some("1.40"), true),
            ("proptest", Some("1.5"), true),
        ]
    );
    let meta = project(&files);
    assert_eq!(meta.manifest.as_deref(), Some("Cargo.toml"));
    assert_eq!(meta.name.as_deref(), Some("shopkeeper"));
    assert_eq!(meta.description.as_deref(), Some("Inventory sync for small shops"));
    assert_eq!(meta.version.as_deref(), Some("0.3.0"));
    assert_eq!(meta.licence.as_deref(), Some("MIT OR Apache-2.0"));
    assert!(meta.is_library);
    assert_eq!(meta.binaries, vec!["shopkeeper".to_owned(), "import".to_owned()]);
    assert_eq!(meta.network_service, None);
}

#[test]
fn package_json_sections_and_scripts() {
    let files = [
        RepoFile::text("package.json", PACKAGE_JSON),
        RepoFile::text("node_modules/left-pad/package.json", r#"{"dependencies": {"x": "1"}}"#),
    ];
    let (deps, warnings) = dependencies(&files);
    assert!(warnings.is_empty());
    assert_eq!(
        summary(&deps),
        vec![
            ("next", Some("14.2.3"), false),
            ("react", Some("^18.3.1"), false),
            ("react-dom", Some(">=18"), false),
            ("sharp", None, false),
            ("typescript", Some("~5.4.0"), true),
            ("vitest", Some("^1.6.0"), true),
        ]
    );
    assert!(deps.iter().all(|d| d.ecosystem == Ecosystem::Npm));
    let meta = project(&files);
    assert_eq!(meta.name.as_deref(), Some("@acme/storefront"));
    assert_eq!(meta.licence.as_deref(), Some("MIT"));
    assert!(!meta.is_library, "private packages are applications");
    let scripts: Vec<(&str, &str)> = meta.scripts.iter().map(|(n, c)| (n.as_str(), c.as_str())).collect();
    assert_eq!(scripts, vec![("build", "next build"), ("dev", "next dev"), ("test", "vitest run")]);
    assert_eq!(meta.network_service.as_deref(), Some("next"));
}

#[test]
fn requirements_with_markers_extras_and_options() {
    let files = [
        RepoFile::text("requirements.txt", REQUIREMENTS),
        RepoFile::text("requirements-dev.txt", "pytest>=8\nruff==0.4.4\n"),
        RepoFile::text("requirements/docs.txt", "mkdocs\n"),
    ];
    let (deps, warnings) = dependencies(&files);
    assert!(warnings.is_empty());
    assert_eq!(
        summary(&deps),
        vec![
            ("Django", Some("==5.0.6"), false),
            ("mylib", None, false),
            ("numpy", None, false),
            ("pandas", Some("~=2.2"), false),
            ("requests", Some(">=2.31,<3"), false),
            ("pytest", Some(">=8"), true),
            ("ruff", Some("==0.4.4"), true),
            ("mkdocs", None, true),
        ]
    );
    assert!(deps.iter().all(|d| d.ecosystem == "pypi"));
    assert_eq!(deps.iter().filter(|d| d.manifest == "requirements-dev.txt").count(), 2);
}

#[test]
fn pyproject_pep621_groups_and_poetry() {
    let files = [RepoFile::text("pyproject.toml", PYPROJECT)];
    let (deps, warnings) = dependencies(&files);
    assert!(warnings.is_empty());
    assert_eq!(
        summary(&deps),
        vec![
            ("duckdb", Some("^1.0"), false),
            ("httpx", Some(">=0.27"), false),
            ("matplotlib", None, false),
            ("polars", Some("^0.20"), false),
            ("pydantic", Some(">=2.7"), false),
            ("black", Some("24.4.2"), true),
            ("mkdocs", None, true),
            ("mypy", Some("==1.10.0"), true),
            ("pytest", Some(">=8.2"), true),
            ("ruff", None, true),
        ]
    );
    let meta = project(&files);
    assert_eq!(meta.name.as_deref(), Some("shop-insights"));
    assert_eq!(meta.licence.as_deref(), Some("Apache-2.0"));
    assert!(meta.is_library);
    assert!(meta.binaries.is_empty());
}

#[test]
fn go_mod_require_block_and_line() {
    let files = [
        RepoFile::text("go.mod", GO_MOD),
        RepoFile::text("main.go", "package main\n\nfunc main() {}\n"),
        RepoFile::text("cmd/worker/main.go", "package main\n\nfunc main() {}\n"),
    ];
    let (deps, warnings) = dependencies(&files);
    assert!(warnings.is_empty());
    assert_eq!(
        summary(&deps),
        vec![
            ("github.com/gin-gonic/gin", Some("v1.10.0"), false),
            ("github.com/stretchr/testify", Some("v1.9.0"), false),
            ("golang.org/x/sync", Some("v0.7.0"), false),
        ]
    );
    let meta = project(&files);
    assert_eq!(meta.name.as_deref(), Some("github.com/acme/shopsync"));
    assert!(!meta.is_library);
    assert_eq!(meta.binaries, vec!["shopsync".to_owned(), "worker".to_owned()]);
    assert_eq!(meta.network_service.as_deref(), Some("github.com/gin-gonic/gin"));
}

#[test]
fn malformed_manifests_are_warnings() {
    let files = [
        RepoFile::text("crates/bad/Cargo.toml", "[package\nname = 1\n"),
        RepoFile::text("web/package.json", "{ not json"),
        RepoFile { path: "package.json".to_owned(), size: 90_000_000, text: None, executable: false },
        RepoFile::text("go.mod", "module example.com/ok\n\nrequire example.com/dep v1.0.0\n"),
    ];
    let (deps, warnings) = dependencies(&files);
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    assert!(warnings.first().is_some_and(|w| w.starts_with("crates/bad/Cargo.toml: invalid TOML")));
    assert!(warnings.get(1).is_some_and(|w| w.starts_with("web/package.json: invalid JSON")));
    assert_eq!(warnings.get(2).map(String::as_str), Some("package.json: not read (binary or too large)"));
    assert_eq!(summary(&deps), vec![("example.com/dep", Some("v1.0.0"), false)]);
    let meta = project(&files);
    assert_eq!(meta.manifest.as_deref(), Some("go.mod"));
    assert!(meta.is_library);
}

#[test]
fn classifier_names_the_licence() {
    let text = "[project]\nname = \"x\"\nclassifiers = [\"License :: OSI Approved :: MIT License\"]\n";
    let meta = project(&[RepoFile::text("pyproject.toml", text)]);
    assert_eq!(meta.licence.as_deref(), Some("MIT"));
}
