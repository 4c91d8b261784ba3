//! A Rust crate: structs, `impl` blocks, a trait impl, an inline module.

use super::super::EdgeKind::{Calls, Implements, Imports};
use super::super::NodeKind::{Function, Method, Module, Struct, Trait};
use super::*;

const LIB_RS: &str = r#"//! The shop crate.
pub mod cart;

mod util {
    pub struct Scale;

    impl Scale {
        pub fn new() -> Self {
            Scale
        }
    }

    pub fn round(x: f64) -> f64 {
        x.floor()
    }
}

pub fn demo() -> u64 {
    cart::Cart::new().total()
}
"#;

const CART_RS: &str = r#"use crate::util::round;
use std::fmt::{self, Display};

/// A cart of items.
#[derive(Debug, Default)]
pub struct Cart {
    items: Vec<u64>,
}

impl Cart {
    /// An empty cart.
    pub fn new() -> Self {
        Cart::default()
    }

    pub fn total(&self) -> u64 {
        let sum: u64 = self.items.iter().sum();
        println!("{}", sum);
        round(sum as f64) as u64
    }
}

impl Display for Cart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.total();
        write!(f, "{total}")
    }
}

pub trait Priced {
    fn price(&self) -> u64;
}

pub fn checkout() -> u64 {
    Cart::new().total()
}
"#;

#[test]
fn rust_crate() {
    let graph = build(&[RepoFile::text("src/lib.rs", LIB_RS), RepoFile::text("src/cart.rs", CART_RS)]);
    assert_consistent(&graph);
    assert_eq!(node(&graph, "crate").doc.as_deref(), Some("The shop crate."));
    assert_eq!(node(&graph, "crate::cart").path, "src/cart.rs");
    assert_eq!(
        declarations(&graph, "src/lib.rs"),
        vec![
            decl(Module, "crate::util", 4, 16),
            decl(Struct, "crate::util::Scale", 5, 5),
            decl(Method, "crate::util::Scale::new", 8, 10),
            decl(Function, "crate::util::round", 13, 15),
            decl(Function, "crate::demo", 18, 20),
        ]
    );
    assert_eq!(
        declarations(&graph, "src/cart.rs"),
        vec![
            decl(Struct, "crate::cart::Cart", 6, 8),
            decl(Method, "crate::cart::Cart::new", 12, 14),
            decl(Method, "crate::cart::Cart::total", 16, 20),
            decl(Method, "crate::cart::Cart::fmt", 24, 27),
            decl(Trait, "crate::cart::Priced", 30, 32),
            decl(Function, "crate::cart::checkout", 34, 36),
        ]
    );
    let cart = node(&graph, "crate::cart::Cart");
    assert_eq!((cart.signature.as_deref(), cart.doc.as_deref()), (Some("pub struct Cart"), Some("A cart of items.")));
    let new = node(&graph, "crate::cart::Cart::new");
    assert_eq!((new.signature.as_deref(), new.doc.as_deref()), (Some("pub fn new() -> Self"), Some("An empty cart.")));
    assert_eq!(node(&graph, "crate::util::Scale").signature.as_deref(), Some("pub struct Scale;"));
    assert_eq!(container(&graph, "crate::cart::Cart::new"), "crate::cart::Cart");
    assert_eq!(container(&graph, "crate::cart::Cart::fmt"), "crate::cart::Cart");
    assert_eq!(container(&graph, "crate::util::Scale::new"), "crate::util::Scale");
    assert_eq!(container(&graph, "crate::util::round"), "crate::util");
    assert_eq!(container(&graph, "crate::util"), "crate");
    assert_eq!(
        relations(&graph, "src/lib.rs"),
        vec![
            row(Calls, "crate::util::round", "x.floor", None, 14),
            row(Calls, "crate::demo", "cart::Cart::new().total", Some("crate::cart::Cart::total"), 19),
            row(Calls, "crate::demo", "cart::Cart::new", Some("crate::cart::Cart::new"), 19),
        ]
    );
    assert_eq!(
        relations(&graph, "src/cart.rs"),
        vec![
            row(Imports, "crate::cart", "crate::util::round", Some("crate::util"), 1),
            row(Imports, "crate::cart", "std::fmt", None, 2),
            row(Imports, "crate::cart", "std::fmt::Display", None, 2),
            row(Calls, "crate::cart::Cart::new", "Cart::default", None, 13),
            row(Calls, "crate::cart::Cart::total", "self.items.iter().sum", None, 17),
            row(Calls, "crate::cart::Cart::total", "self.items.iter", None, 17),
            row(Calls, "crate::cart::Cart::total", "round", Some("crate::util::round"), 19),
            row(Implements, "crate::cart::Cart", "Display", None, 23),
            row(Calls, "crate::cart::Cart::fmt", "self.total", Some("crate::cart::Cart::total"), 25),
            row(Calls, "crate::cart::checkout", "Cart::new().total", Some("crate::cart::Cart::total"), 35),
            row(Calls, "crate::cart::checkout", "Cart::new", Some("crate::cart::Cart::new"), 35),
        ]
    );
}
