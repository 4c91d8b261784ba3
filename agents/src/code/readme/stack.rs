//! How a project is installed, used and checked, by the toolchain it is
//! built with. A Shopify theme is told first (Liquid among the languages and
//! a `layout/` or `sections/` directory at the top of the tree: the input
//! only carries top-level entries), then the manifest the metadata came
//! from, then the dependencies' ecosystem, then the leading language.

use super::ReadmeInput;
use super::text::{code, line};
use crate::code::manifests::Ecosystem;

/// The toolchain the README's commands are written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stack {
    Shopify,
    Cargo,
    Npm,
    Python,
    Go,
    Generic,
}

fn fenced(language: &str, lines: &[String]) -> String {
    format!("```{language}\n{}\n```", lines.join("\n"))
}

fn sh(lines: &[&str]) -> String {
    fenced("sh", &lines.iter().map(|l| (*l).to_owned()).collect::<Vec<_>>())
}

impl Stack {
    pub(super) fn of(input: &ReadmeInput) -> Self {
        let liquid = input.languages.iter().any(|(name, _)| name == "Liquid");
        let theme_dirs = input.tree.iter().any(|entry| {
            let top = entry.split(['/', ' ']).next().unwrap_or("");
            top == "layout" || top == "sections"
        });
        if liquid && theme_dirs {
            return Self::Shopify;
        }
        let manifest = input.meta.manifest.as_deref().map(|m| m.rsplit('/').next().unwrap_or(m));
        match manifest {
            Some("Cargo.toml") => return Self::Cargo,
            Some("package.json") => return Self::Npm,
            Some("pyproject.toml") => return Self::Python,
            Some("go.mod") => return Self::Go,
            _ => {}
        }
        if let Some(dependency) = input.dependencies.first() {
            return match dependency.ecosystem {
                Ecosystem::Cargo => Self::Cargo,
                Ecosystem::Npm => Self::Npm,
                Ecosystem::Pypi => Self::Python,
                Ecosystem::Go => Self::Go,
            };
        }
        match input.languages.first().map(|(name, _)| name.as_str()) {
            Some("Rust") => Self::Cargo,
            Some("JavaScript" | "TypeScript") => Self::Npm,
            Some("Python") => Self::Python,
            Some("Go") => Self::Go,
            _ => Self::Generic,
        }
    }

    /// What the project is, for the generated description.
    pub(super) fn noun(self, input: &ReadmeInput) -> &'static str {
        match self {
            Self::Shopify => "a Shopify theme",
            _ if input.meta.is_library => "a library",
            _ if !input.meta.binaries.is_empty() => "a command-line application",
            _ => "a project",
        }
    }

    pub(super) fn installation(self, input: &ReadmeInput) -> String {
        let package = code(input.meta.name.as_deref().unwrap_or(input.name));
        let library = input.meta.is_library;
        let mut out = match self {
            Self::Shopify => format!(
                "Install [Shopify CLI](https://shopify.dev/docs/api/shopify-cli) and clone the theme:\n\n{}",
                sh(&["npm install -g @shopify/cli", "git clone <repository-url>"])
            ),
            Self::Cargo if library => {
                format!("Add it to your Rust project:\n\n{}", fenced("sh", &[format!("cargo add {package}")]))
            }
            Self::Cargo => format!(
                "Build it with a Rust toolchain ([rustup](https://rustup.rs)):\n\n{}",
                sh(&["cargo build --release"])
            ),
            Self::Npm if library => {
                format!("Install it from npm:\n\n{}", fenced("sh", &[format!("npm install {package}")]))
            }
            Self::Npm => format!("Install its dependencies with Node.js:\n\n{}", sh(&["npm install"])),
            Self::Python => {
                let requirements = input.dependencies.iter().find(|d| d.ecosystem == Ecosystem::Pypi && !d.dev);
                let install = match (input.meta.manifest.as_deref(), requirements) {
                    (None, Some(dep)) => format!("pip install -r {}", code(&dep.manifest)),
                    _ => "pip install -e .".to_owned(),
                };
                let steps = ["python -m venv .venv".to_owned(), ". .venv/bin/activate".to_owned(), install];
                format!("Install it into a virtual environment:\n\n{}", fenced("sh", &steps))
            }
            Self::Go if library => {
                format!("Add it to your Go module:\n\n{}", fenced("sh", &[format!("go get {package}")]))
            }
            Self::Go => format!("Build it with Go:\n\n{}", sh(&["go build ./..."])),
            Self::Generic => format!("Clone the repository:\n\n{}", sh(&["git clone <repository-url>"])),
        };
        let runtime: Vec<String> =
            input.dependencies.iter().filter(|d| !d.dev).map(|d| format!("`{}`", code(&d.name))).collect();
        if !runtime.is_empty() {
            let shown = runtime.iter().take(10).cloned().collect::<Vec<_>>().join(", ");
            let more = runtime.len().saturating_sub(10);
            let more = if more > 0 { format!(" and {more} more") } else { String::new() };
            out.push_str(&format!("\n\nIt depends on {shown}{more}."));
        }
        out
    }

    pub(super) fn usage(self, input: &ReadmeInput) -> String {
        let meta = input.meta;
        let package = code(meta.name.as_deref().unwrap_or(input.name));
        let ident = package.rsplit('/').next().unwrap_or(package.as_str()).replace(['-', '.'], "_").to_lowercase();
        let binaries: Vec<String> = meta.binaries.iter().take(5).map(String::as_str).map(code).collect();
        match self {
            Self::Shopify => format!(
                "Preview the theme on a development store, with live reload:\n\n{}\n\nCheck it with `shopify theme check` \
                 and publish it with `shopify theme push`.",
                sh(&["shopify theme dev --store your-store.myshopify.com"])
            ),
            Self::Cargo if meta.is_library => {
                let more = if input.api.is_empty() { "" } else { "\n\nThe API section lists its public items." };
                format!("{}{more}", fenced("rust", &[format!("use {ident};")]))
            }
            Self::Cargo => match binaries.as_slice() {
                [] | [_] => sh(&["cargo run --release -- --help"]),
                many => fenced(
                    "sh",
                    &many.iter().map(|b| format!("cargo run --release --bin {b} -- --help")).collect::<Vec<_>>(),
                ),
            },
            Self::Npm if !meta.scripts.is_empty() => {
                let scripts: Vec<String> = meta
                    .scripts
                    .iter()
                    .take(15)
                    .map(|(name, command)| format!("- `npm run {}`: `{}`", code(name), code(command)))
                    .collect();
                format!("Run its scripts with npm:\n\n{}", scripts.join("\n"))
            }
            Self::Npm if meta.is_library => fenced("js", &[format!("import {ident} from '{package}';")]),
            Self::Npm => sh(&["npm start"]),
            Self::Python if !binaries.is_empty() => {
                fenced("sh", &binaries.iter().map(|b| format!("{b} --help")).collect::<Vec<_>>())
            }
            Self::Python if meta.is_library => fenced("python", &[format!("import {ident}")]),
            Self::Python => fenced("sh", &[format!("python -m {ident}")]),
            Self::Go if meta.is_library => fenced("go", &[format!("import \"{package}\"")]),
            Self::Go => {
                let runs = binaries
                    .iter()
                    .map(|b| {
                        if *b == ident.replace('_', "-") || *b == ident {
                            "go run .".to_owned()
                        } else {
                            format!("go run ./cmd/{b}")
                        }
                    })
                    .collect::<Vec<_>>();
                if runs.is_empty() { sh(&["go run ."]) } else { fenced("sh", &runs) }
            }
            Self::Generic => format!(
                "No build manifest was found; the layout in the Description shows where to start{}.",
                if input.tree.is_empty() { " once files are added" } else { "" }
            ),
        }
    }

    pub(super) fn contributing(self, input: &ReadmeInput) -> String {
        let has_script = |name: &str| input.meta.scripts.iter().any(|(script, _)| script == name);
        let checks: &[&str] = match self {
            Self::Shopify => &["shopify theme check"],
            Self::Cargo => &["cargo fmt --check", "cargo clippy --all-targets", "cargo test"],
            Self::Npm if has_script("lint") => &["npm run lint", "npm test"],
            Self::Npm => &["npm test"],
            Self::Python => &["pytest"],
            Self::Go => &["go vet ./...", "go test ./..."],
            Self::Generic => &[],
        };
        let mut out =
            "Issues and pull requests are welcome. Keep each change focused and explain what it changes and why."
                .to_owned();
        if !checks.is_empty() {
            out.push_str(&format!("\n\nBefore opening a pull request, make sure the checks pass:\n\n{}", sh(checks)));
        }
        out.push_str(&format!("\n\nReport problems with {} in the issue tracker.", line(input.name)));
        out
    }
}
