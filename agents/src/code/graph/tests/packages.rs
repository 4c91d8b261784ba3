//! A Python package and Go packages.

use super::super::EdgeKind::{Calls, Imports, Inherits};
use super::super::NodeKind::{Class, Function, Method, Struct};
use super::*;

const MODELS_PY: &str = r#""""Cart models."""
from .pricing import price
import json


class Base:
    def total(self):
        return 0


class Cart(Base):
    """A shopping cart."""

    def add(self, item):
        self.items.append(item)
        return self.total()

    @property
    def total(self):
        return sum(price(i) for i in self.items)
"#;

const PRICING_PY: &str = r#"def price(item):
    """Price of one item."""
    return item["price"]
"#;

#[test]
fn python_package() {
    let graph = build(&[
        RepoFile::text("shop/__init__.py", ""),
        RepoFile::text("shop/models.py", MODELS_PY),
        RepoFile::text("shop/pricing.py", PRICING_PY),
    ]);
    assert_consistent(&graph);
    assert_eq!(graph.files_parsed, 3);
    assert_eq!(node(&graph, "shop").name, "__init__.py");
    assert_eq!(node(&graph, "shop.models").doc.as_deref(), Some("Cart models."));
    assert_eq!(
        declarations(&graph, "shop/models.py"),
        vec![
            decl(Class, "shop.models.Base", 6, 8),
            decl(Method, "shop.models.Base.total", 7, 8),
            decl(Class, "shop.models.Cart", 11, 20),
            decl(Method, "shop.models.Cart.add", 14, 16),
            decl(Method, "shop.models.Cart.total", 19, 20),
        ]
    );
    let cart = node(&graph, "shop.models.Cart");
    assert_eq!((cart.signature.as_deref(), cart.doc.as_deref()), (Some("class Cart(Base):"), Some("A shopping cart.")));
    assert_eq!(node(&graph, "shop.pricing.price").doc.as_deref(), Some("Price of one item."));
    assert_eq!(node(&graph, "shop.models.Cart.add").signature.as_deref(), Some("def add(self, item):"));
    assert_eq!(
        relations(&graph, "shop/models.py"),
        vec![
            row(Imports, "shop.models", ".pricing.price", Some("shop.pricing"), 2),
            row(Imports, "shop.models", "json", None, 3),
            row(Inherits, "shop.models.Cart", "Base", Some("shop.models.Base"), 11),
            row(Calls, "shop.models.Cart.add", "self.items.append", None, 15),
            row(Calls, "shop.models.Cart.add", "self.total", Some("shop.models.Cart.total"), 16),
            row(Calls, "shop.models.Cart.total", "sum", None, 20),
            row(Calls, "shop.models.Cart.total", "price", Some("shop.pricing.price"), 20),
        ]
    );
}

const CART_GO: &str = r#"package cart

import (
    "fmt"
    "example.com/shop/internal/money"
)

// Cart holds items.
type Cart struct {
    Items []int
}

// Add appends an item.
func (c *Cart) Add(item int) {
    c.Items = append(c.Items, item)
    fmt.Println(money.Format(item))
}

func New() *Cart {
    return &Cart{}
}
"#;

const MONEY_GO: &str = "package money\n\nfunc Format(cents int) string {\n    return \"\"\n}\n";

const MAIN_GO: &str = r#"package main

import "example.com/shop/internal/cart"

func main() {
    c := cart.New()
    c.Add(1)
}
"#;

#[test]
fn go_packages() {
    let graph = build(&[
        RepoFile::text("internal/cart/cart.go", CART_GO),
        RepoFile::text("internal/money/money.go", MONEY_GO),
        RepoFile::text("main.go", MAIN_GO),
    ]);
    assert_consistent(&graph);
    assert_eq!(
        declarations(&graph, "internal/cart/cart.go"),
        vec![
            decl(Struct, "internal/cart.Cart", 9, 11),
            decl(Method, "internal/cart.Cart.Add", 14, 17),
            decl(Function, "internal/cart.New", 19, 21),
        ]
    );
    let cart = node(&graph, "internal/cart.Cart");
    assert_eq!((cart.signature.as_deref(), cart.doc.as_deref()), (Some("type Cart struct"), Some("Cart holds items.")));
    let add = node(&graph, "internal/cart.Cart.Add");
    assert_eq!(
        (add.signature.as_deref(), add.doc.as_deref()),
        (Some("func (c *Cart) Add(item int)"), Some("Add appends an item."))
    );
    assert_eq!(container(&graph, "internal/cart.Cart.Add"), "internal/cart.Cart");
    assert_eq!(node(&graph, "main.main").path, "main.go");
    assert_eq!(
        relations(&graph, "internal/cart/cart.go"),
        vec![
            row(Imports, "internal/cart", "fmt", None, 4),
            row(Imports, "internal/cart", "example.com/shop/internal/money", Some("internal/money"), 5),
            row(Calls, "internal/cart.Cart.Add", "append", None, 15),
            row(Calls, "internal/cart.Cart.Add", "fmt.Println", None, 16),
            row(Calls, "internal/cart.Cart.Add", "money.Format", Some("internal/money.Format"), 16),
        ]
    );
    assert_eq!(
        relations(&graph, "main.go"),
        vec![
            row(Imports, "main", "example.com/shop/internal/cart", Some("internal/cart"), 3),
            row(Calls, "main.main", "cart.New", Some("internal/cart.New"), 6),
            row(Calls, "main.main", "c.Add", Some("internal/cart.Cart.Add"), 7),
        ]
    );
}
