//! Rust: structs, enums, traits, functions, inline modules and the methods
//! of `impl` blocks (moved onto their type when the file declares it);
//! `use` trees expanded into one import per path; calls by path or method
//! name; `impl Trait for Type` as `IMPLEMENTS`. Macro invocations are
//! skipped: their bodies are token trees, not code.

use tree_sitter::Node;

use super::NodeKind;
use super::module_path::rust_use;
use super::record::FileCx;
use super::scope::{Decl, Role};
use super::text::{block_doc, line_doc, line_of, point_line};
use super::walk::{Around, Walk};

/// At most this many imports are read from one `use` declaration.
const MAX_USES: usize = 256;

/// The Rust visitor.
pub(super) fn visit(node: Node<'_>, around: &Around<'_, '_>, cx: &mut FileCx<'_>) -> Walk {
    match node.kind() {
        "source_file" => {
            let doc = inner_doc(node, cx);
            cx.set_file_doc(doc);
        }
        "struct_item" | "union_item" => declare(node, around, cx, NodeKind::Struct),
        "enum_item" => declare(node, around, cx, NodeKind::Enum),
        "trait_item" => declare(node, around, cx, NodeKind::Trait),
        "mod_item" if node.child_by_field_name("body").is_some() => declare(node, around, cx, NodeKind::Module),
        "function_item" => {
            let kind = match cx.role() {
                Role::Impl(_) | Role::Type => NodeKind::Method,
                _ => NodeKind::Function,
            };
            declare(node, around, cx, kind);
        }
        "impl_item" => open_impl(node, cx),
        "use_declaration" => {
            uses(node, cx);
            return Walk::Skip;
        }
        "call_expression" => call(node, cx),
        "macro_invocation" => return Walk::Skip,
        _ => {}
    }
    Walk::Descend
}

/// Records a named item.
fn declare(node: Node<'_>, around: &Around<'_, '_>, cx: &mut FileCx<'_>, kind: NodeKind) {
    let Some(name) = node.child_by_field_name("name").map(|name| cx.text_of(name)) else { return };
    if name.is_empty() {
        return;
    }
    let doc = outer_doc(around, cx);
    let body = node.child_by_field_name("body");
    cx.declare(Decl { kind, name: name.to_owned(), node, outer: node, body, doc });
}

/// `///` lines or a `/** */` block above an item, attributes stepped over.
fn outer_doc(around: &Around<'_, '_>, cx: &FileCx<'_>) -> Option<String> {
    let comments = around.comments_above(0);
    if let [only] = comments.as_slice()
        && let Some(doc) = block_doc(cx.text_of(*only))
    {
        return Some(doc);
    }
    let texts = comments.iter().map(|comment| cx.text_of(*comment)).filter(|text| !text.starts_with("////"));
    line_doc(texts, "///")
}

/// The file's `//!` lines.
fn inner_doc(root: Node<'_>, cx: &FileCx<'_>) -> Option<String> {
    let mut cursor = root.walk();
    let texts: Vec<&str> = root
        .children(&mut cursor)
        .take_while(|child| child.kind().ends_with("comment"))
        .map(|child| cx.text_of(child))
        .collect();
    line_doc(texts, "//!")
}

/// Opens an `impl` block's scope, with its `IMPLEMENTS` edge.
fn open_impl(node: Node<'_>, cx: &mut FileCx<'_>) {
    let Some(owner) = node.child_by_field_name("type").and_then(|ty| type_name(ty, cx)) else { return };
    let implements = node.child_by_field_name("trait").map(|t| (cx.text_of(t), line_of(t)));
    cx.open_impl(owner, implements);
}

/// The name of the type an `impl` is for: `Cart` for `Cart`, `Cart<T>`,
/// `&mut Cart`, `shop::Cart`.
fn type_name<'a>(mut node: Node<'_>, cx: &FileCx<'a>) -> Option<&'a str> {
    for _ in 0..8 {
        match node.kind() {
            "type_identifier" | "identifier" | "primitive_type" => return Some(cx.text_of(node)),
            "generic_type" | "reference_type" | "pointer_type" => node = node.child_by_field_name("type")?,
            "scoped_type_identifier" => node = node.child_by_field_name("name")?,
            _ => return None,
        }
    }
    None
}

/// One import per path of a `use` tree: `use crate::cart::{Cart, Item as
/// I};` → `crate::cart::Cart`, `crate::cart::Item`.
fn uses(node: Node<'_>, cx: &mut FileCx<'_>) {
    let Some(argument) = node.child_by_field_name("argument") else { return };
    let line = line_of(node);
    let module = cx.module_prefix().to_owned();
    let mut paths = Vec::new();
    let mut stack = vec![(String::new(), argument)];
    while let Some((prefix, tree)) = stack.pop() {
        if paths.len() >= MAX_USES {
            break;
        }
        match tree.kind() {
            "scoped_use_list" => {
                let prefix = match tree.child_by_field_name("path") {
                    Some(path) => join(&prefix, cx.text_of(path)),
                    None => prefix,
                };
                if let Some(list) = tree.child_by_field_name("list") {
                    stack.push((prefix, list));
                }
            }
            "use_list" => {
                let mut cursor = tree.walk();
                let items: Vec<Node<'_>> = tree.named_children(&mut cursor).collect();
                stack.extend(items.into_iter().rev().map(|item| (prefix.clone(), item)));
            }
            "use_as_clause" => {
                if let Some(path) = tree.child_by_field_name("path") {
                    paths.push(join(&prefix, cx.text_of(path)));
                }
            }
            "self" if !prefix.is_empty() => paths.push(prefix),
            "use_wildcard" | "identifier" | "scoped_identifier" | "crate" | "self" | "super" => {
                paths.push(join(&prefix, cx.text_of(tree)));
            }
            _ => {}
        }
    }
    for path in paths {
        let lookup = rust_use(&module, path.trim_end_matches("::*"));
        cx.import(&path, lookup, line);
    }
}

/// `prefix::path`, whitespace removed.
fn join(prefix: &str, path: &str) -> String {
    let path: String = path.split_whitespace().collect();
    if prefix.is_empty() { path } else { format!("{prefix}::{path}") }
}

/// A call by path (`Cart::new`, `total`) or method (`self.items.push`).
fn call(node: Node<'_>, cx: &mut FileCx<'_>) {
    let Some(function) = node.child_by_field_name("function") else { return };
    let callee = match function.kind() {
        "generic_function" => function.child_by_field_name("function"),
        _ => Some(function),
    };
    let Some(callee) = callee else { return };
    if matches!(callee.kind(), "identifier" | "scoped_identifier" | "field_expression") {
        let target = cx.text_of(callee);
        cx.call(target, point_line(callee.end_position()));
    }
}
