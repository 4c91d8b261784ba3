//! Small text helpers shared by the language visitors: positions, the
//! signature of a declaration, doc comments and docstrings cleaned of their
//! markers, string literals unquoted.

use tree_sitter::{Node, Point};

/// Signatures are cut to this many characters.
const MAX_SIGNATURE_CHARS: usize = 300;

/// Docs are cut to this many characters.
const MAX_DOC_CHARS: usize = 500;

/// `n` as `u32`, saturating (files are at most 1 MiB anyway).
pub(super) fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A tree-sitter position's 1-based line.
pub(super) fn point_line(point: Point) -> u32 {
    to_u32(point.row.saturating_add(1))
}

/// A node's 1-based first line.
pub(super) fn line_of(node: Node<'_>) -> u32 {
    point_line(node.start_position())
}

/// `text` with whitespace runs made single spaces, trimmed, cut to
/// `max_chars` characters.
pub(super) fn collapse(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut chars = 0usize;
    for word in text.split_whitespace() {
        if chars > 0 {
            if chars >= max_chars {
                break;
            }
            out.push(' ');
            chars += 1;
        }
        for c in word.chars() {
            if chars >= max_chars {
                return out.trim_end().to_owned();
            }
            out.push(c);
            chars += 1;
        }
    }
    out
}

/// The largest char boundary of `text` at or before `index`.
fn floor_boundary(text: &str, index: usize) -> usize {
    let mut index = index.min(text.len());
    while index > 0 && !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

/// The declaration's text from `start` to `end` (its body's start): up to
/// the first `{` when it has no body field, whitespace collapsed, a trailing
/// `{` dropped, at most 300 characters.
pub(super) fn signature(text: &str, start: usize, end: usize, has_body: bool) -> Option<String> {
    let start = floor_boundary(text, start);
    let window = start.saturating_add(MAX_SIGNATURE_CHARS * 4);
    let end = floor_boundary(text, end.min(window)).max(start);
    let mut slice = text.get(start..end)?;
    if !has_body {
        slice = slice.split('{').next().unwrap_or(slice);
    }
    let signature = collapse(slice, MAX_SIGNATURE_CHARS);
    let signature = signature.trim_end_matches(|c: char| c == '{' || c.is_whitespace());
    (!signature.is_empty()).then(|| signature.to_owned())
}

/// A doc cut to its limit; `None` when empty.
pub(super) fn cap_doc(doc: &str) -> Option<String> {
    let doc = doc.trim();
    if doc.is_empty() {
        return None;
    }
    Some(doc.chars().take(MAX_DOC_CHARS).collect::<String>().trim_end().to_owned())
}

/// Line comments (`/// a`, `// a`) with their `marker` and one space
/// removed, one line each; comments without the marker are left out.
pub(super) fn line_doc<'s>(comments: impl IntoIterator<Item = &'s str>, marker: &str) -> Option<String> {
    let lines: Vec<&str> = comments
        .into_iter()
        .filter_map(|comment| comment.trim().strip_prefix(marker))
        .map(|line| line.strip_prefix(' ').unwrap_or(line).trim_end())
        .collect();
    cap_doc(&lines.join("\n"))
}

/// A `/** … */` comment without its markers and leading `*`s.
pub(super) fn block_doc(comment: &str) -> Option<String> {
    let inner = comment.trim().strip_prefix("/**")?;
    let inner = inner.strip_suffix("*/").unwrap_or(inner);
    let lines: Vec<&str> = inner
        .lines()
        .map(|line| {
            let line = line.trim();
            let line = line.strip_prefix('*').unwrap_or(line);
            line.strip_prefix(' ').unwrap_or(line).trim_end()
        })
        .collect();
    cap_doc(&lines.join("\n"))
}

/// A Python string literal's content: prefix letters (`r`, `b`, `f`, `u`)
/// and single or triple quotes removed, lines trimmed.
pub(super) fn docstring(literal: &str) -> Option<String> {
    let literal = literal.trim().trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let inner = ["\"\"\"", "'''", "\"", "'"]
        .into_iter()
        .find_map(|quote| literal.strip_prefix(quote).map(|rest| rest.strip_suffix(quote).unwrap_or(rest)))?;
    let lines: Vec<&str> = inner.lines().map(str::trim).collect();
    cap_doc(&lines.join("\n"))
}

/// A string literal's content without its quotes (`"./cart"` → `./cart`).
pub(super) fn unquote(literal: &str) -> &str {
    let literal = literal.trim();
    for quote in ['"', '\'', '`'] {
        if let Some(inner) = literal.strip_prefix(quote).and_then(|rest| rest.strip_suffix(quote)) {
            return inner;
        }
    }
    literal
}
