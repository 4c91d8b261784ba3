//! `go.mod`: the module path and its `require` directives, single-line or
//! in a block. Indirect requirements (`// indirect`) are still listed:
//! they are built into the binary all the same.

use super::Declared;

/// Every required module with its version.
pub(super) fn requirements(text: &str) -> Vec<Declared> {
    let mut out = Vec::new();
    let mut block: Option<&str> = None;
    for raw in text.lines() {
        let line = raw.split("//").next().unwrap_or("").trim();
        if let Some(directive) = block {
            if line == ")" {
                block = None;
            } else if directive == "require" {
                push(line, &mut out);
            }
            continue;
        }
        let (keyword, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        if rest == "(" {
            block = Some(keyword);
        } else if keyword == "require" {
            push(rest, &mut out);
        }
    }
    out
}

fn push(spec: &str, out: &mut Vec<Declared>) {
    let mut words = spec.split_whitespace();
    if let Some(name) = words.next() {
        let version = words.next().map(str::to_owned);
        out.push(Declared { name: name.to_owned(), version, dev: false });
    }
}

/// The `module` directive's path (`github.com/acme/shop`).
pub(super) fn module_path(text: &str) -> Option<String> {
    text.lines()
        .map(|line| line.split("//").next().unwrap_or("").trim())
        .find_map(|line| line.strip_prefix("module").filter(|rest| rest.starts_with(char::is_whitespace)))
        .map(|rest| rest.trim().trim_matches('"').to_owned())
        .filter(|path| !path.is_empty())
}
