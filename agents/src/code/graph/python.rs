//! Python: classes (their bases as `INHERITS`), functions and methods
//! (decorated or not) with their docstrings; `import` and `from … import`
//! as one import per name, relative ones made absolute; calls by name or
//! attribute (`self.total`, `cart.add`).

use tree_sitter::Node;

use super::module_path::python_import;
use super::record::FileCx;
use super::scope::{Decl, Role};
use super::text::{docstring, line_of, point_line};
use super::walk::{Around, Walk};
use super::{EdgeKind, NodeKind};

/// The Python visitor.
pub(super) fn visit(node: Node<'_>, _: &Around<'_, '_>, cx: &mut FileCx<'_>) -> Walk {
    match node.kind() {
        "module" => {
            let doc = docstring_of(node, cx);
            cx.set_file_doc(doc);
        }
        "class_definition" => class(node, cx),
        "function_definition" => {
            let kind = if cx.role() == Role::Type { NodeKind::Method } else { NodeKind::Function };
            declare(node, cx, kind);
        }
        "import_statement" => {
            imports(node, cx);
            return Walk::Skip;
        }
        "import_from_statement" => {
            from_imports(node, cx);
            return Walk::Skip;
        }
        "call" => call(node, cx),
        _ => {}
    }
    Walk::Descend
}

/// Records a class or function; its key.
fn declare(node: Node<'_>, cx: &mut FileCx<'_>, kind: NodeKind) -> Option<usize> {
    let name = cx.text_of(node.child_by_field_name("name")?);
    if name.is_empty() {
        return None;
    }
    let body = node.child_by_field_name("body");
    let doc = body.and_then(|body| docstring_of(body, cx));
    Some(cx.declare(Decl { kind, name: name.to_owned(), node, outer: node, body, doc }))
}

/// A module's or body's docstring: its first statement, when a string.
fn docstring_of(body: Node<'_>, cx: &FileCx<'_>) -> Option<String> {
    let mut cursor = body.walk();
    let first = body.named_children(&mut cursor).find(|child| child.kind() != "comment")?;
    if first.kind() != "expression_statement" {
        return None;
    }
    let string = first.named_child(0).filter(|string| string.kind() == "string")?;
    docstring(cx.text_of(string))
}

/// A class and its bases.
fn class(node: Node<'_>, cx: &mut FileCx<'_>) {
    let Some(key) = declare(node, cx, NodeKind::Class) else { return };
    let Some(bases) = node.child_by_field_name("superclasses") else { return };
    let mut cursor = bases.walk();
    let bases: Vec<Node<'_>> = bases.named_children(&mut cursor).collect();
    for base in bases {
        // `Generic[T]` names `Generic`; `metaclass=…` is no base.
        let base = match base.kind() {
            "subscript" => base.child_by_field_name("value"),
            _ => Some(base),
        };
        if let Some(base) = base.filter(|base| matches!(base.kind(), "identifier" | "attribute")) {
            let target = cx.text_of(base);
            cx.relate(key, EdgeKind::Inherits, target, line_of(base));
        }
    }
}

/// `import a.b, c as d`.
fn imports(node: Node<'_>, cx: &mut FileCx<'_>) {
    let line = line_of(node);
    let mut cursor = node.walk();
    let names: Vec<Node<'_>> = node.children_by_field_name("name", &mut cursor).collect();
    for name in names {
        if let Some(module) = imported_name(name, cx) {
            cx.import(module, module.to_owned(), line);
        }
    }
}

/// `from .cart import Cart, Item as I` → `.cart.Cart` (resolved as
/// `shop.cart.Cart`), `.cart.Item`; `from x import *` → `x`.
fn from_imports(node: Node<'_>, cx: &mut FileCx<'_>) {
    let line = line_of(node);
    let Some(module) = node.child_by_field_name("module_name").map(|module| cx.text_of(module)) else { return };
    let module: String = module.split_whitespace().collect();
    let is_package = cx.path.ends_with("__init__.py") || cx.path.ends_with("__init__.pyi");
    let absolute = python_import(cx.module(), is_package, &module);
    let mut cursor = node.walk();
    let names: Vec<Node<'_>> = node.children_by_field_name("name", &mut cursor).collect();
    if names.is_empty() {
        cx.import(&module, absolute, line);
        return;
    }
    for name in names {
        if let Some(name) = imported_name(name, cx) {
            cx.import(&dotted(&module, name), dotted(&absolute, name), line);
        }
    }
}

/// The module or name of a `dotted_name` or `aliased_import`.
fn imported_name<'a>(node: Node<'_>, cx: &FileCx<'a>) -> Option<&'a str> {
    let name = match node.kind() {
        "aliased_import" => node.child_by_field_name("name")?,
        "dotted_name" => node,
        _ => return None,
    };
    Some(cx.text_of(name)).filter(|name| !name.is_empty())
}

/// `module.name` (`.name` after bare dots).
fn dotted(module: &str, name: &str) -> String {
    if module.is_empty() || module.ends_with('.') { format!("{module}{name}") } else { format!("{module}.{name}") }
}

/// A call by name or attribute.
fn call(node: Node<'_>, cx: &mut FileCx<'_>) {
    let Some(function) = node.child_by_field_name("function") else { return };
    if matches!(function.kind(), "identifier" | "attribute") {
        let target = cx.text_of(function);
        cx.call(target, point_line(function.end_position()));
    }
}
