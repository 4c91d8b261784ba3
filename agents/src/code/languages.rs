//! What a file is written in and what it is for, told from its path and,
//! for extensionless scripts, its shebang — no content parsing, so a
//! repository of any size is classified in one pass. The names follow
//! GitHub linguist's so the language bar a merchant sees on GitHub and the
//! one in the analysis agree; like linguist, data and prose formats (JSON,
//! YAML, Markdown, …) are named but left out of the language shares
//! ([`is_programming`]).
//!
//! Exact file names are tried before extensions (`CMakeLists.txt` is CMake,
//! not text), then extensions, then the shebang of files without one.

use serde::{Deserialize, Serialize};

use super::files::RepoFile;

/// What a file is for, in the analysis' "files by type".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FileKind {
    /// Code the project is made of.
    Source,
    /// Tests, fixtures and specs.
    Test,
    /// Prose: READMEs, guides, licences, `docs/`.
    Documentation,
    /// Manifests, lock files, settings and dotfiles.
    Configuration,
    /// Tabular data, databases and dumps.
    Data,
    /// Images, fonts and media.
    Asset,
    /// Anything else (binaries, unknown extensions).
    Other,
}

impl FileKind {
    /// Every kind, in report order.
    pub const ALL: [FileKind; 7] = [
        FileKind::Source,
        FileKind::Test,
        FileKind::Documentation,
        FileKind::Configuration,
        FileKind::Data,
        FileKind::Asset,
        FileKind::Other,
    ];

    /// Its name as shown to people (`source`, `test`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Source => "source",
            FileKind::Test => "test",
            FileKind::Documentation => "documentation",
            FileKind::Configuration => "configuration",
            FileKind::Data => "data",
            FileKind::Asset => "asset",
            FileKind::Other => "other",
        }
    }
}

/// Whole file names with a language of their own.
#[rustfmt::skip]
const NAMES: &[(&str, &str)] = &[
    ("Makefile", "Makefile"), ("makefile", "Makefile"), ("GNUmakefile", "Makefile"),
    ("Dockerfile", "Dockerfile"), ("Containerfile", "Dockerfile"), ("Rakefile", "Ruby"), ("Gemfile", "Ruby"),
    ("Guardfile", "Ruby"), ("Podfile", "Ruby"), ("Vagrantfile", "Ruby"), ("Brewfile", "Ruby"),
    ("Jenkinsfile", "Groovy"), ("CMakeLists.txt", "CMake"), ("Justfile", "Just"), ("justfile", "Just"),
    ("go.mod", "Go Module"), ("go.sum", "Go Checksums"), ("Cargo.lock", "TOML"), ("Pipfile", "TOML"),
    (".bashrc", "Shell"), (".bash_profile", "Shell"), (".zshrc", "Shell"), (".profile", "Shell"),
];

/// Lower-case extensions and their language.
#[rustfmt::skip]
const EXTENSIONS: &[(&str, &str)] = &[
    ("rs", "Rust"), ("py", "Python"), ("pyi", "Python"), ("js", "JavaScript"), ("mjs", "JavaScript"),
    ("cjs", "JavaScript"), ("jsx", "JavaScript"), ("ts", "TypeScript"), ("tsx", "TypeScript"),
    ("mts", "TypeScript"), ("cts", "TypeScript"), ("go", "Go"), ("liquid", "Liquid"), ("html", "HTML"),
    ("htm", "HTML"), ("css", "CSS"), ("scss", "SCSS"), ("sass", "Sass"), ("less", "Less"), ("rb", "Ruby"),
    ("rake", "Ruby"), ("gemspec", "Ruby"), ("erb", "HTML+ERB"), ("php", "PHP"), ("java", "Java"),
    ("kt", "Kotlin"), ("kts", "Kotlin"), ("swift", "Swift"), ("c", "C"), ("h", "C"), ("cc", "C++"),
    ("cpp", "C++"), ("cxx", "C++"), ("hpp", "C++"), ("hh", "C++"), ("cs", "C#"), ("sh", "Shell"),
    ("bash", "Shell"), ("zsh", "Shell"), ("ps1", "PowerShell"), ("bat", "Batchfile"), ("sql", "SQL"),
    ("md", "Markdown"), ("markdown", "Markdown"), ("rst", "reStructuredText"), ("txt", "Text"),
    ("json", "JSON"), ("jsonc", "JSON"), ("yml", "YAML"), ("yaml", "YAML"), ("toml", "TOML"), ("xml", "XML"),
    ("vue", "Vue"), ("svelte", "Svelte"), ("dockerfile", "Dockerfile"), ("mk", "Makefile"), ("cmake", "CMake"),
    ("scala", "Scala"), ("dart", "Dart"), ("lua", "Lua"), ("r", "R"), ("pl", "Perl"), ("pm", "Perl"),
    ("ex", "Elixir"), ("exs", "Elixir"), ("erl", "Erlang"), ("hs", "Haskell"), ("ml", "OCaml"),
    ("clj", "Clojure"), ("zig", "Zig"), ("jl", "Julia"), ("groovy", "Groovy"), ("tf", "HCL"),
    ("proto", "Protocol Buffer"), ("graphql", "GraphQL"), ("ipynb", "Jupyter Notebook"),
];

/// Languages named but left out of the shares: data, prose and lock formats.
const NOT_PROGRAMMING: &[&str] =
    &["JSON", "YAML", "TOML", "XML", "Markdown", "reStructuredText", "Text", "SQL", "Go Module", "Go Checksums"];

/// The file's language, by name, extension, then shebang; `None` when
/// nothing tells.
pub fn detect(file: &RepoFile) -> Option<&'static str> {
    let name = file.name();
    if let Some((_, language)) = NAMES.iter().find(|(known, _)| *known == name) {
        return Some(*language);
    }
    if name.starts_with("Dockerfile.") || name.starts_with("Containerfile.") {
        return Some("Dockerfile");
    }
    match extension(name) {
        Some(ext) => EXTENSIONS.iter().find(|(known, _)| *known == ext).map(|(_, language)| *language),
        None => file.text.as_deref().and_then(shebang),
    }
}

/// Whether `name` counts towards the language shares (code and markup, not
/// data or prose).
pub fn is_programming(name: &str) -> bool {
    !NOT_PROGRAMMING.contains(&name)
}

/// The lower-cased extension of a file name; dotfiles (`.gitignore`) have none.
pub fn extension(name: &str) -> Option<String> {
    let (stem, ext) = name.rsplit_once('.')?;
    if stem.is_empty() || ext.is_empty() {
        return None;
    }
    Some(ext.to_ascii_lowercase())
}

/// The language a `#!` line names (`#!/usr/bin/env python3` → Python).
fn shebang(text: &str) -> Option<&'static str> {
    let line = text.lines().next()?.strip_prefix("#!")?;
    let mut words = line.split_whitespace();
    let program = words.next()?.rsplit('/').next()?;
    let program = if program == "env" { words.find(|word| !word.starts_with('-'))? } else { program };
    let interpreter = program.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    match interpreter {
        "python" | "pypy" => Some("Python"),
        "bash" | "sh" | "zsh" | "dash" | "ksh" => Some("Shell"),
        "node" | "nodejs" | "bun" => Some("JavaScript"),
        "deno" | "ts-node" | "tsx" => Some("TypeScript"),
        "ruby" => Some("Ruby"),
        "perl" => Some("Perl"),
        "php" => Some("PHP"),
        "lua" => Some("Lua"),
        "Rscript" => Some("R"),
        _ => None,
    }
}

/// What the file is for: asset, test, configuration, documentation, data,
/// source or other, in that order of precedence.
pub fn kind(file: &RepoFile) -> FileKind {
    let name = file.name();
    let ext = extension(name).unwrap_or_default();
    let language = detect(file);
    if ASSETS.contains(&ext.as_str()) {
        FileKind::Asset
    } else if is_test(&file.path, name, &ext) {
        FileKind::Test
    } else if is_configuration(name, &ext) {
        FileKind::Configuration
    } else if is_documentation(&file.path, name, &ext, language) {
        FileKind::Documentation
    } else if DATA.contains(&ext.as_str()) || (ext == "sql" && is_dump(file)) {
        FileKind::Data
    } else if language.is_some() {
        FileKind::Source
    } else {
        FileKind::Other
    }
}

/// Images, fonts and media.
const ASSETS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "tif", "tiff", "avif", "woff", "woff2", "ttf", "otf",
    "eot", "mp3", "mp4", "wav", "ogg", "webm", "mov", "avi", "flac", "m4a",
];

/// Tabular data, databases and serialised arrays.
const DATA: &[&str] = &[
    "csv", "tsv", "parquet", "jsonl", "ndjson", "db", "sqlite", "sqlite3", "xlsx", "xls", "avro", "arrow", "feather",
    "npy", "h5", "pkl", "dump",
];

/// Settings formats.
const CONFIG_EXTENSIONS: &[&str] =
    &["toml", "yaml", "yml", "json", "jsonc", "ini", "cfg", "conf", "lock", "properties", "env", "editorconfig"];

/// A `.sql` file that holds data rather than schema: a dump by name or size.
fn is_dump(file: &RepoFile) -> bool {
    let name = file.name().to_ascii_lowercase();
    name.contains("dump") || name.contains("backup") || file.size >= 256 * 1024
}

fn is_test(path: &str, name: &str, ext: &str) -> bool {
    let mut dirs = path.split('/').collect::<Vec<_>>();
    dirs.pop();
    if dirs.iter().any(|dir| matches!(*dir, "tests" | "test" | "__tests__" | "spec" | "specs")) {
        return true;
    }
    let stem = name.split('.').next().unwrap_or(name);
    name.contains(".test.")
        || name.contains(".spec.")
        || name == "conftest.py"
        || (ext == "py" && stem.starts_with("test_"))
        || (!ext.is_empty() && (stem.ends_with("_test") || stem.ends_with("_spec")))
        || (ext == "java" && (stem.ends_with("Test") || stem.ends_with("Tests")))
}

fn is_configuration(name: &str, ext: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    (lower.starts_with("requirements") && ext == "txt")
        || lower.ends_with("requirements.txt")
        || matches!(name, "go.mod" | "go.sum" | "Pipfile" | "Gemfile.lock" | "Procfile")
        || (name.starts_with('.') && !matches!(name, ".bashrc" | ".bash_profile" | ".zshrc" | ".profile"))
        || CONFIG_EXTENSIONS.contains(&ext)
}

fn is_documentation(path: &str, name: &str, ext: &str, language: Option<&str>) -> bool {
    let top = path.split('/').next().unwrap_or(path);
    let upper = name.to_ascii_uppercase();
    let prose_name = ["README", "LICENSE", "LICENCE", "COPYING", "CHANGELOG", "AUTHORS", "CONTRIBUTING", "NOTICE"]
        .iter()
        .any(|known| upper.starts_with(known));
    let programming = language.is_some_and(is_programming);
    (path.contains('/') && matches!(top, "docs" | "doc"))
        || (matches!(ext, "md" | "markdown" | "rst" | "txt" | "adoc" | "org") && !programming)
        || (prose_name && !programming)
}

#[cfg(test)]
mod tests;
