//! Module paths: what a file is called as a module in its own language
//! (`crate::cart`, `shop.cart`, `src/cart`, `internal/cart`), and relative
//! imports made absolute in those terms.

use super::Grammar;

/// JavaScript and TypeScript extensions dropped from module paths.
const SCRIPT_EXTENSIONS: [&str; 10] = [".d.ts", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx", ".json"];

/// The module path of the file at `path` (Go: empty for the repository's
/// root directory, named later by its `package` clause).
pub(super) fn of_file(grammar: Grammar, path: &str) -> String {
    match grammar {
        Grammar::Rust => rust_module(path),
        Grammar::Python => python_module(path),
        Grammar::JavaScript | Grammar::TypeScript | Grammar::Tsx => strip_script_extension(path).to_owned(),
        Grammar::Go => path.rsplit_once('/').map_or("", |(directory, _)| directory).to_owned(),
    }
}

/// `crate::a::b` for `…/src/a/b.rs` or `…/src/a/b/mod.rs`; `crate` for a
/// crate root (`src/lib.rs`, `src/main.rs`, `src/bin/x.rs`, `tests/x.rs`,
/// `build.rs`).
fn rust_module(path: &str) -> String {
    let path = path.strip_suffix(".rs").unwrap_or(path);
    let mut segments: Vec<&str> = path.split('/').filter(|segment| !segment.is_empty()).collect();
    let under_src = segments.iter().rposition(|segment| *segment == "src");
    let (start, any_file_is_root) = match under_src {
        Some(src) => (src + 1, false),
        None => segments
            .iter()
            .rposition(|segment| matches!(*segment, "tests" | "examples" | "benches"))
            .map_or((0, true), |dir| (dir + 1, true)),
    };
    segments.drain(..start.min(segments.len()));
    let mut root_file = any_file_is_root;
    if under_src.is_some() && segments.first() == Some(&"bin") {
        segments.remove(0);
        root_file = true;
    }
    if segments.len() == 1 && (root_file || matches!(segments.first(), Some(&"lib" | &"main"))) {
        segments.clear();
    }
    if segments.last() == Some(&"mod") {
        segments.pop();
    }
    std::iter::once("crate").chain(segments).collect::<Vec<_>>().join("::")
}

/// `pkg.sub.mod` for `pkg/sub/mod.py`, `pkg` for `pkg/__init__.py`, a
/// leading `src/` dropped.
fn python_module(path: &str) -> String {
    let path = path.strip_prefix("src/").unwrap_or(path);
    let path = path.strip_suffix(".pyi").or_else(|| path.strip_suffix(".py")).unwrap_or(path);
    let mut segments: Vec<&str> = path.split('/').filter(|segment| !segment.is_empty()).collect();
    if segments.len() > 1 && segments.last() == Some(&"__init__") {
        segments.pop();
    }
    segments.join(".")
}

/// `path` without its JavaScript/TypeScript extension.
fn strip_script_extension(path: &str) -> &str {
    SCRIPT_EXTENSIONS.iter().find_map(|extension| path.strip_suffix(extension)).unwrap_or(path)
}

/// A JavaScript/TypeScript import made a repository path when relative
/// (`./cart` from `src/index.js` → `src/cart`); bare ones (`react`,
/// `@/lib/x`) are left as written, less any extension.
pub(super) fn script_import(importer: &str, specifier: &str) -> String {
    let relative = specifier == "." || specifier == ".." || specifier.starts_with("./") || specifier.starts_with("../");
    if !relative {
        return strip_script_extension(specifier).to_owned();
    }
    let mut segments: Vec<&str> = importer.split('/').collect();
    segments.pop();
    for segment in specifier.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            _ => segments.push(segment),
        }
    }
    strip_script_extension(&segments.join("/")).to_owned()
}

/// A Python import made absolute: `.cart` in module `shop.checkout` →
/// `shop.cart`, `..` in package `shop.sub` (`is_package`: an
/// `__init__.py`) → `shop`. Absolute ones are returned as they are.
pub(super) fn python_import(module: &str, is_package: bool, imported: &str) -> String {
    let dots = imported.chars().take_while(|c| *c == '.').count();
    if dots == 0 {
        return imported.to_owned();
    }
    let mut base: Vec<&str> = module.split('.').filter(|segment| !segment.is_empty()).collect();
    let climb = if is_package { dots - 1 } else { dots };
    for _ in 0..climb {
        base.pop();
    }
    let rest = imported.get(dots..).unwrap_or("");
    if !rest.is_empty() {
        base.push(rest);
    }
    base.join(".")
}

/// A Rust `use` path with a leading `self` or `super`s made absolute from
/// `module` (`super::cart::Cart` in `crate::shop::checkout` →
/// `crate::shop::cart::Cart`).
pub(super) fn rust_use(module: &str, path: &str) -> String {
    let mut base: Vec<&str> = module.split("::").collect();
    let mut rest: Vec<&str> = path.split("::").collect();
    match rest.first() {
        Some(&"self") => {
            rest.remove(0);
        }
        Some(&"super") => {
            while rest.first() == Some(&"super") {
                rest.remove(0);
                if base.len() > 1 {
                    base.pop();
                }
            }
        }
        _ => return path.to_owned(),
    }
    base.extend(rest);
    base.join("::")
}
