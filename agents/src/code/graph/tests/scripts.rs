//! JavaScript (a Shopify-theme-like `assets/` folder) and TypeScript.

use super::super::EdgeKind::{Calls, Implements, Imports, Inherits};
use super::super::NodeKind::{Class, Function, Interface, Method};
use super::*;

const CART_JS: &str = r#"import { formatMoney } from './money';

/** A cart kept in the browser. */
export class Cart extends BaseCart {
  constructor() {
    super();
    this.items = [];
  }

  add(item) {
    this.items.push(item);
    updateTotal();
  }
}

function updateTotal() {
  return formatMoney(0);
}

const render = () => {
  const cart = new Cart();
  cart.add({ id: 1 });
};
"#;

const MONEY_JS: &str = r#"export function formatMoney(cents) {
  return (cents / 100).toFixed(2);
}
"#;

const THEME_JS: &str = r#"const { Cart } = require("./cart");

document.addEventListener("DOMContentLoaded", () => {
  window.cart = new Cart();
});
"#;

#[test]
fn javascript_theme() {
    let graph = build(&[
        RepoFile::text("assets/cart.js", CART_JS),
        RepoFile::text("assets/money.js", MONEY_JS),
        RepoFile::text("assets/theme.js", THEME_JS),
    ]);
    assert_consistent(&graph);
    assert_eq!((graph.files_parsed, graph.parse_errors.len()), (3, 0));
    let file = node(&graph, "assets/cart");
    assert_eq!(
        (file.kind, file.name.as_str(), file.language, file.end_line),
        (NodeKind::File, "cart.js", "javascript", 23)
    );
    assert_eq!(
        declarations(&graph, "assets/cart.js"),
        vec![
            decl(Class, "assets/cart.Cart", 4, 14),
            decl(Method, "assets/cart.Cart.constructor", 5, 8),
            decl(Method, "assets/cart.Cart.add", 10, 13),
            decl(Function, "assets/cart.updateTotal", 16, 18),
            decl(Function, "assets/cart.render", 20, 23),
        ]
    );
    let cart = node(&graph, "assets/cart.Cart");
    assert_eq!(cart.signature.as_deref(), Some("export class Cart extends BaseCart"));
    assert_eq!(cart.doc.as_deref(), Some("A cart kept in the browser."));
    assert_eq!(node(&graph, "assets/cart.Cart.add").signature.as_deref(), Some("add(item)"));
    assert_eq!(node(&graph, "assets/cart.render").signature.as_deref(), Some("const render = () =>"));
    assert_eq!(container(&graph, "assets/cart.Cart.add"), "assets/cart.Cart");
    assert_eq!(container(&graph, "assets/cart.updateTotal"), "assets/cart");
    assert_eq!(
        relations(&graph, "assets/cart.js"),
        vec![
            row(Imports, "assets/cart", "./money", Some("assets/money"), 1),
            row(Inherits, "assets/cart.Cart", "BaseCart", None, 4),
            row(Calls, "assets/cart.Cart.add", "this.items.push", None, 11),
            row(Calls, "assets/cart.Cart.add", "updateTotal", Some("assets/cart.updateTotal"), 12),
            row(Calls, "assets/cart.updateTotal", "formatMoney", Some("assets/money.formatMoney"), 17),
            row(Calls, "assets/cart.render", "Cart", Some("assets/cart.Cart"), 21),
            row(Calls, "assets/cart.render", "cart.add", Some("assets/cart.Cart.add"), 22),
        ]
    );
    assert_eq!(
        relations(&graph, "assets/theme.js"),
        vec![
            row(Imports, "assets/theme", "./cart", Some("assets/cart"), 1),
            row(Calls, "assets/theme", "document.addEventListener", None, 3),
            row(Calls, "assets/theme", "Cart", Some("assets/cart.Cart"), 4),
        ]
    );
}

const STORE_TS: &str = r#"import { Money } from "./money";

export interface Priced {
  total(): Money;
}

interface Named extends Priced {
  name: string;
}

export class Store implements Named, Priced {
  name = "shop";

  total(): Money {
    return sum([1, 2]);
  }
}

export const sum = (xs: number[]): Money => xs.reduce((a, b) => a + b, 0);
"#;

#[test]
fn typescript_interfaces() {
    let graph = build(&[RepoFile::text("src/store.ts", STORE_TS)]);
    assert_consistent(&graph);
    assert_eq!(node(&graph, "src/store").language, "typescript");
    assert_eq!(
        declarations(&graph, "src/store.ts"),
        vec![
            decl(Interface, "src/store.Priced", 3, 5),
            decl(Interface, "src/store.Named", 7, 9),
            decl(Class, "src/store.Store", 11, 17),
            decl(Method, "src/store.Store.total", 14, 16),
            decl(Function, "src/store.sum", 19, 19),
        ]
    );
    assert_eq!(
        node(&graph, "src/store.Store").signature.as_deref(),
        Some("export class Store implements Named, Priced")
    );
    assert_eq!(node(&graph, "src/store.sum").signature.as_deref(), Some("export const sum = (xs: number[]): Money =>"));
    assert_eq!(
        relations(&graph, "src/store.ts"),
        vec![
            row(Imports, "src/store", "./money", None, 1),
            row(Inherits, "src/store.Named", "Priced", Some("src/store.Priced"), 7),
            row(Implements, "src/store.Store", "Named", Some("src/store.Named"), 11),
            row(Implements, "src/store.Store", "Priced", Some("src/store.Priced"), 11),
            row(Calls, "src/store.Store.total", "sum", Some("src/store.sum"), 15),
            row(Calls, "src/store.sum", "xs.reduce", None, 19),
        ]
    );
}
