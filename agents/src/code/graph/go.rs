//! Go: functions, methods (named and contained under their receiver's
//! type when the file declares it), struct and interface types with their
//! `//` doc comments; import specs; calls by name or selector
//! (`fmt.Println`, `c.Add`). A file in the repository's root directory is
//! named by its `package` clause.

use tree_sitter::Node;

use super::NodeKind;
use super::record::FileCx;
use super::scope::Decl;
use super::text::{line_doc, line_of, point_line, unquote};
use super::walk::{Around, Walk};

/// The Go visitor.
pub(super) fn visit<'t>(node: Node<'t>, around: &Around<'t, '_>, cx: &mut FileCx<'_>) -> Walk {
    match node.kind() {
        "package_clause" => {
            if cx.module().is_empty() {
                let package = node.named_child(0).map(|name| cx.text_of(name)).filter(|name| !name.is_empty());
                cx.rename_module(package.unwrap_or("main"));
            }
            return Walk::Skip;
        }
        "function_declaration" => {
            if let Some(decl) = decl(node, 0, NodeKind::Function, node.child_by_field_name("body"), around, cx) {
                cx.declare(decl);
            }
        }
        "method_declaration" => method(node, around, cx),
        "type_spec" => type_spec(node, around, cx),
        "import_spec" => {
            if let Some(path) = node.child_by_field_name("path") {
                let path = unquote(cx.text_of(path));
                if !path.is_empty() {
                    cx.import(path, path.to_owned(), line_of(node));
                }
            }
            return Walk::Skip;
        }
        "call_expression" => {
            let function = node.child_by_field_name("function");
            if let Some(function) = function.filter(|f| matches!(f.kind(), "identifier" | "selector_expression")) {
                let target = cx.text_of(function);
                cx.call(target, point_line(function.end_position()));
            }
        }
        _ => {}
    }
    Walk::Descend
}

/// A declaration named by `node`'s `name` field, signed from and
/// documented by the `//` comments above the node `up` levels above it.
fn decl<'t>(
    node: Node<'t>,
    up: usize,
    kind: NodeKind,
    body: Option<Node<'t>>,
    around: &Around<'t, '_>,
    cx: &FileCx<'_>,
) -> Option<Decl<'t>> {
    let name = cx.text_of(node.child_by_field_name("name")?);
    if name.is_empty() {
        return None;
    }
    let outer = around.ancestor(up).unwrap_or(node);
    let comments = around.comments_above(up);
    let doc = line_doc(comments.iter().map(|comment| cx.text_of(*comment)), "//");
    Some(Decl { kind, name: name.to_owned(), node, outer, body, doc })
}

/// A method, under its receiver's type.
fn method<'t>(node: Node<'t>, around: &Around<'t, '_>, cx: &mut FileCx<'_>) {
    let Some(decl) = decl(node, 0, NodeKind::Method, node.child_by_field_name("body"), around, cx) else { return };
    let receiver = node
        .child_by_field_name("receiver")
        .and_then(|receiver| receiver.named_child(0))
        .and_then(|parameter| parameter.child_by_field_name("type"))
        .and_then(|ty| type_name(ty, cx));
    match receiver {
        Some(owner) => {
            cx.declare_member(decl, owner);
        }
        None => {
            cx.declare(decl);
        }
    }
}

/// The receiver's type name: `Cart` for `Cart`, `*Cart`, `*Cart[T]`.
fn type_name<'a>(mut node: Node<'_>, cx: &FileCx<'a>) -> Option<&'a str> {
    for _ in 0..8 {
        match node.kind() {
            "type_identifier" => return Some(cx.text_of(node)),
            "pointer_type" | "parenthesized_type" => node = node.named_child(0)?,
            "generic_type" => node = node.child_by_field_name("type")?,
            "qualified_type" => node = node.child_by_field_name("name")?,
            _ => return None,
        }
    }
    None
}

/// `type X struct { … }` or `type X interface { … }`.
fn type_spec<'t>(node: Node<'t>, around: &Around<'t, '_>, cx: &mut FileCx<'_>) {
    let kind = match node.child_by_field_name("type").map(|ty| ty.kind()) {
        Some("struct_type") => NodeKind::Struct,
        Some("interface_type") => NodeKind::Interface,
        _ => return,
    };
    // `type X struct` alone is documented and signed from `type`; in a
    // `type ( … )` group, from its own line.
    let alone =
        around.ancestor(1).is_some_and(|parent| parent.kind() == "type_declaration" && parent.named_child_count() == 1);
    if let Some(decl) = decl(node, usize::from(alone), kind, None, around, cx) {
        cx.declare(decl);
    }
}
