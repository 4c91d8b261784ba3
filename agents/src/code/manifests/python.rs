//! Python's manifests: pip requirement files (one PEP 508 requirement a
//! line, among options and comments) and `pyproject.toml` in its three
//! dialects — PEP 621 `[project]`, PEP 735 `[dependency-groups]` and Poetry.

use toml::Value;

use super::Declared;

/// Whether an extras group or requirements file is for development
/// (`dev`, `test(s)`, `lint`, `docs`).
pub(super) fn dev_group(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ["dev", "test", "lint", "doc"].iter().any(|word| lower.contains(word))
}

/// A requirements file: comments, options (`-r`, `-e`, `--index-url`) and
/// bare URLs or paths skipped, `\` continuations joined.
pub(super) fn requirements(text: &str, dev: bool) -> Vec<Declared> {
    let mut logical = Vec::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = strip_comment(raw).trim_end();
        match line.strip_suffix('\\') {
            Some(continued) => {
                pending.push_str(continued);
                pending.push(' ');
            }
            None => {
                pending.push_str(line);
                logical.push(std::mem::take(&mut pending));
            }
        }
    }
    logical.push(pending);
    logical
        .iter()
        .map(|line| line.trim())
        .filter(|line| !line.is_empty() && !line.starts_with('-'))
        .filter_map(pep508)
        .map(|(name, version)| Declared { name, version, dev })
        .collect()
}

/// The line up to a `#` that starts it or follows whitespace.
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (index, byte) in bytes.iter().enumerate() {
        let starts_comment = index == 0 || bytes.get(index - 1).is_some_and(u8::is_ascii_whitespace);
        if *byte == b'#' && starts_comment {
            return line.get(..index).unwrap_or(line);
        }
    }
    line
}

/// A PEP 508 requirement's name and version specifier:
/// `requests[socks]>=2.31,<3; python_version<"3.12"` → (`requests`,
/// `>=2.31,<3`). `None` for URLs, paths and anything not a requirement.
pub(super) fn pep508(spec: &str) -> Option<(String, Option<String>)> {
    let spec = spec.split(';').next()?.trim();
    let end = spec.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))).unwrap_or(spec.len());
    let name = spec.get(..end)?;
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return None;
    }
    let mut rest = spec.get(end..)?.trim_start();
    if rest.starts_with('[') {
        rest = rest.find(']').and_then(|close| rest.get(close + 1..)).unwrap_or("").trim_start();
    }
    if rest.starts_with('@') {
        return Some((name.to_owned(), None));
    }
    if !(rest.is_empty() || rest.starts_with(['=', '<', '>', '!', '~', '('])) {
        return None;
    }
    let version: String =
        rest.trim_start_matches('(').trim_end_matches(')').chars().filter(|c| !c.is_whitespace()).collect();
    Some((name.to_owned(), (!version.is_empty()).then_some(version)))
}

/// PEP 621, PEP 735 and Poetry dependencies of a `pyproject.toml`.
pub(super) fn pyproject(text: &str) -> Result<Vec<Declared>, String> {
    let root = super::toml_table(text)?;
    let mut out = Vec::new();
    let project = root.get("project");
    if let Some(list) = project.and_then(|p| p.get("dependencies")).and_then(Value::as_array) {
        requirement_list(list, false, &mut out);
    }
    if let Some(groups) = project.and_then(|p| p.get("optional-dependencies")).and_then(Value::as_table) {
        for (group, list) in groups {
            if let Some(list) = list.as_array() {
                requirement_list(list, dev_group(group), &mut out);
            }
        }
    }
    if let Some(groups) = root.get("dependency-groups").and_then(Value::as_table) {
        for list in groups.values().filter_map(Value::as_array) {
            requirement_list(list, true, &mut out);
        }
    }
    let poetry = root.get("tool").and_then(|tool| tool.get("poetry"));
    if let Some(deps) = poetry.and_then(|p| p.get("dependencies")).and_then(Value::as_table) {
        poetry_table(deps, false, &mut out);
    }
    if let Some(deps) = poetry.and_then(|p| p.get("dev-dependencies")).and_then(Value::as_table) {
        poetry_table(deps, true, &mut out);
    }
    if let Some(groups) = poetry.and_then(|p| p.get("group")).and_then(Value::as_table) {
        for (group, body) in groups {
            if let Some(deps) = body.get("dependencies").and_then(Value::as_table) {
                poetry_table(deps, group != "main", &mut out);
            }
        }
    }
    Ok(out)
}

/// An array of PEP 508 strings (group includes, as tables, are skipped).
fn requirement_list(list: &[Value], dev: bool, out: &mut Vec<Declared>) {
    for (name, version) in list.iter().filter_map(Value::as_str).filter_map(pep508) {
        out.push(Declared { name, version, dev });
    }
}

/// Poetry's `name = "^1.2"` or `name = { version = "^1.2", … }`, without
/// the `python` constraint; `*` is no constraint.
fn poetry_table(deps: &toml::Table, dev: bool, out: &mut Vec<Declared>) {
    for (name, spec) in deps {
        if name.eq_ignore_ascii_case("python") {
            continue;
        }
        let version = match spec {
            Value::String(version) => Some(version.as_str()),
            Value::Table(table) => table.get("version").and_then(Value::as_str),
            _ => None,
        };
        let version = version.filter(|v| !v.is_empty() && *v != "*").map(str::to_owned);
        out.push(Declared { name: name.clone(), version, dev });
    }
}

/// The SPDX identifier of a trove classifier
/// (`License :: OSI Approved :: MIT License` → `MIT`).
pub(super) fn classifier_licence(classifier: &str) -> Option<&'static str> {
    let tail = classifier.strip_prefix("License ::")?.rsplit("::").next()?.trim();
    let spdx = match tail {
        "MIT License" => "MIT",
        "Apache Software License" => "Apache-2.0",
        "ISC License (ISCL)" => "ISC",
        "Mozilla Public License 2.0 (MPL 2.0)" => "MPL-2.0",
        "GNU General Public License v3 (GPLv3)" => "GPL-3.0-only",
        "GNU General Public License v3 or later (GPLv3+)" => "GPL-3.0-or-later",
        "GNU General Public License v2 (GPLv2)" => "GPL-2.0-only",
        "GNU Lesser General Public License v3 (LGPLv3)" => "LGPL-3.0-only",
        "GNU Affero General Public License v3" => "AGPL-3.0-only",
        "The Unlicense (Unlicense)" => "Unlicense",
        "CC0 1.0 Universal (CC0 1.0) Public Domain Dedication" => "CC0-1.0",
        _ => return None,
    };
    Some(spdx)
}
