//! JavaScript, TypeScript and TSX (one visitor: TypeScript's tree is
//! JavaScript's plus types): classes (`extends` as `INHERITS`, `implements`
//! as `IMPLEMENTS`), interfaces, namespaces, functions (declared, or
//! `const f = () => …` / `function …` expressions), methods, each possibly
//! under `export`; `import … from`, `export … from`, `require("x")` and
//! `import("x")` as imports; calls and `new` by name or member
//! (`this.items.push`, `updateTotal`, `new Cart`).

use tree_sitter::Node;

use super::module_path::script_import;
use super::record::FileCx;
use super::scope::Decl;
use super::text::{block_doc, line_of, point_line, unquote};
use super::walk::{Around, Walk};
use super::{EdgeKind, NodeKind};

/// The JavaScript / TypeScript visitor.
pub(super) fn visit<'t>(node: Node<'t>, around: &Around<'t, '_>, cx: &mut FileCx<'_>) -> Walk {
    match node.kind() {
        "class_declaration" | "abstract_class_declaration" => class(node, around, cx),
        "interface_declaration" => interface(node, around, cx),
        "internal_module" => {
            declare(node, 0, node.child_by_field_name("body"), around, cx, NodeKind::Module);
        }
        "function_declaration" | "generator_function_declaration" => {
            declare(node, 0, node.child_by_field_name("body"), around, cx, NodeKind::Function);
        }
        "method_definition" => {
            declare(node, 0, node.child_by_field_name("body"), around, cx, NodeKind::Method);
        }
        "variable_declarator" => function_value(node, around, cx),
        "import_statement" => {
            if let Some(source) = node.child_by_field_name("source") {
                import(source, line_of(node), cx);
            }
            return Walk::Skip;
        }
        "export_statement" => {
            if let Some(source) = node.child_by_field_name("source") {
                import(source, line_of(node), cx);
            }
        }
        "call_expression" => call(node, cx),
        "new_expression" => {
            if let Some(constructor) = node.child_by_field_name("constructor") {
                callee(constructor, cx);
            }
        }
        _ => {}
    }
    Walk::Descend
}

/// Records a declaration named by `node`'s `name` field, its signature
/// and doc starting `up` levels above it (0: itself; 1: the `const` of a
/// declarator) or at an `export` around that; its key.
fn declare<'t>(
    node: Node<'t>,
    up: usize,
    body: Option<Node<'t>>,
    around: &Around<'t, '_>,
    cx: &mut FileCx<'_>,
    kind: NodeKind,
) -> Option<usize> {
    let name = unquote(cx.text_of(node.child_by_field_name("name")?));
    if name.is_empty() {
        return None;
    }
    let exported = around.ancestor(up + 1).is_some_and(|parent| parent.kind() == "export_statement");
    let up = if exported { up + 1 } else { up };
    let outer = around.ancestor(up).unwrap_or(node);
    let doc = around.comments_above(up).last().and_then(|comment| block_doc(cx.text_of(*comment)));
    Some(cx.declare(Decl { kind, name: name.to_owned(), node, outer, body, doc }))
}

/// A class with its `extends` and `implements`.
fn class<'t>(node: Node<'t>, around: &Around<'t, '_>, cx: &mut FileCx<'_>) {
    let Some(key) = declare(node, 0, node.child_by_field_name("body"), around, cx, NodeKind::Class) else { return };
    let mut cursor = node.walk();
    let Some(heritage) = node.children(&mut cursor).find(|child| child.kind() == "class_heritage") else { return };
    let mut cursor = heritage.walk();
    let clauses: Vec<Node<'_>> = heritage.named_children(&mut cursor).collect();
    for clause in clauses {
        match clause.kind() {
            "extends_clause" => {
                let mut cursor = clause.walk();
                let values: Vec<Node<'_>> = clause.children_by_field_name("value", &mut cursor).collect();
                relate_all(key, EdgeKind::Inherits, values, cx);
            }
            "implements_clause" => {
                let mut cursor = clause.walk();
                let types: Vec<Node<'_>> = clause.named_children(&mut cursor).collect();
                relate_all(key, EdgeKind::Implements, types, cx);
            }
            "comment" => {}
            // JavaScript: `class_heritage` holds the expression itself.
            _ => relate_all(key, EdgeKind::Inherits, vec![clause], cx),
        }
    }
}

/// An interface with the interfaces it extends.
fn interface<'t>(node: Node<'t>, around: &Around<'t, '_>, cx: &mut FileCx<'_>) {
    let Some(key) = declare(node, 0, node.child_by_field_name("body"), around, cx, NodeKind::Interface) else {
        return;
    };
    let mut cursor = node.walk();
    let Some(extends) = node.children(&mut cursor).find(|child| child.kind() == "extends_type_clause") else {
        return;
    };
    let mut cursor = extends.walk();
    let types: Vec<Node<'_>> = extends.children_by_field_name("type", &mut cursor).collect();
    relate_all(key, EdgeKind::Inherits, types, cx);
}

/// One edge of `kind` from `key` per named node.
fn relate_all(key: usize, kind: EdgeKind, targets: Vec<Node<'_>>, cx: &mut FileCx<'_>) {
    for target in targets.into_iter().filter(|target| target.kind() != "comment") {
        let text = cx.text_of(target);
        cx.relate(key, kind, text, line_of(target));
    }
}

/// `const f = () => …`, `let f = function () …` as a function.
fn function_value<'t>(node: Node<'t>, around: &Around<'t, '_>, cx: &mut FileCx<'_>) {
    let Some(value) = node.child_by_field_name("value") else { return };
    if !matches!(value.kind(), "arrow_function" | "function_expression" | "function" | "generator_function") {
        return;
    }
    if node.child_by_field_name("name").is_none_or(|name| name.kind() != "identifier") {
        return;
    }
    let in_declaration = around
        .ancestor(1)
        .is_some_and(|parent| matches!(parent.kind(), "lexical_declaration" | "variable_declaration"));
    let up = usize::from(in_declaration);
    declare(node, up, value.child_by_field_name("body"), around, cx, NodeKind::Function);
}

/// An import of the module a string literal names.
fn import(source: Node<'_>, line: u32, cx: &mut FileCx<'_>) {
    if source.kind() != "string" {
        return;
    }
    let specifier = unquote(cx.text_of(source));
    if specifier.is_empty() {
        return;
    }
    let lookup = script_import(cx.path, specifier);
    cx.import(specifier, lookup, line);
}

/// A call; `require("x")` and `import("x")` are imports instead.
fn call(node: Node<'_>, cx: &mut FileCx<'_>) {
    let Some(function) = node.child_by_field_name("function") else { return };
    let loads = function.kind() == "import" || (function.kind() == "identifier" && cx.text_of(function) == "require");
    if loads {
        let source = node.child_by_field_name("arguments").and_then(|arguments| arguments.named_child(0));
        if let Some(source) = source {
            import(source, line_of(node), cx);
        }
        return;
    }
    callee(function, cx);
}

/// A call edge to an identifier or member expression.
fn callee(function: Node<'_>, cx: &mut FileCx<'_>) {
    if matches!(function.kind(), "identifier" | "member_expression") {
        let target = cx.text_of(function);
        cx.call(target, point_line(function.end_position()));
    }
}
