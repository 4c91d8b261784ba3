#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::super::files::RepoFile;
use super::extract::MAX_FILE_BYTES;
use super::*;

use super::EdgeKind::{Calls, Imports};

/// `(kind, from, target, to, line)` of an edge, names qualified.
type Row = (EdgeKind, String, String, Option<String>, u32);

fn row(kind: EdgeKind, from: &str, target: &str, to: Option<&str>, line: u32) -> Row {
    (kind, from.to_owned(), target.to_owned(), to.map(str::to_owned), line)
}

fn qualified(graph: &Graph, key: usize) -> String {
    graph.nodes.get(key).map_or_else(|| format!("#{key}"), |node| node.qualified_name.clone())
}

fn node<'g>(graph: &'g Graph, qualified_name: &str) -> &'g CodeNode {
    let names: Vec<&str> = graph.nodes.iter().map(|node| node.qualified_name.as_str()).collect();
    graph
        .nodes
        .iter()
        .find(|node| node.qualified_name == qualified_name)
        .unwrap_or_else(|| panic!("no {qualified_name} in {names:?}"))
}

/// A file's declarations: `(kind, qualified name, first line, last line)`.
fn declarations(graph: &Graph, path: &str) -> Vec<(NodeKind, String, u32, u32)> {
    graph
        .nodes
        .iter()
        .filter(|node| node.path == path && node.kind != NodeKind::File)
        .map(|node| (node.kind, node.qualified_name.clone(), node.start_line, node.end_line))
        .collect()
}

fn decl(kind: NodeKind, qualified_name: &str, start: u32, end: u32) -> (NodeKind, String, u32, u32) {
    (kind, qualified_name.to_owned(), start, end)
}

/// The edges starting in a file, `CONTAINS` left out.
fn relations(graph: &Graph, path: &str) -> Vec<Row> {
    graph
        .edges
        .iter()
        .filter(|edge| edge.kind != EdgeKind::Contains)
        .filter(|edge| graph.nodes.get(edge.from).is_some_and(|node| node.path == path))
        .map(|edge| {
            (
                edge.kind,
                qualified(graph, edge.from),
                edge.target.clone(),
                edge.to.map(|to| qualified(graph, to)),
                edge.line,
            )
        })
        .collect()
}

/// The qualified name of what contains a node.
fn container(graph: &Graph, qualified_name: &str) -> String {
    let key = node(graph, qualified_name).key;
    let edge = graph.edges.iter().find(|edge| edge.kind == EdgeKind::Contains && edge.to == Some(key));
    edge.map_or_else(String::new, |edge| qualified(graph, edge.from))
}

fn assert_consistent(graph: &Graph) {
    for (key, node) in graph.nodes.iter().enumerate() {
        assert_eq!(node.key, key);
    }
    for edge in &graph.edges {
        assert!(edge.from < graph.nodes.len());
        assert!(edge.to.is_none_or(|to| to < graph.nodes.len()));
    }
}

mod crates;
mod packages;
mod scripts;

#[test]
fn ambiguous_calls_stay_unresolved() {
    let graph = build(&[
        RepoFile::text("a.py", "def helper():\n    return 1\n\n\ndef run():\n    return helper()\n"),
        RepoFile::text("b.py", "def helper():\n    return 2\n"),
        RepoFile::text("c.py", "from a import run\n\n\ndef main():\n    helper()\n    run()\n"),
    ]);
    assert_eq!(relations(&graph, "a.py"), vec![row(Calls, "a.run", "helper", Some("a.helper"), 6)]);
    assert_eq!(
        relations(&graph, "c.py"),
        vec![
            row(Imports, "c", "a.run", Some("a"), 1),
            row(Calls, "c.main", "helper", None, 5),
            row(Calls, "c.main", "run", Some("a.run"), 6),
        ]
    );
}

#[test]
fn broken_syntax_still_yields_what_parsed() {
    let source = "def good():\n    pass\n\ndef broken(:\n    x = \n\nclass After:\n    pass\n";
    let graph = build(&[RepoFile::text("bad.py", source)]);
    assert_eq!((graph.files_parsed, graph.parse_errors.len()), (1, 0));
    assert_eq!(node(&graph, "bad.good").start_line, 1);
}

#[test]
fn hostile_files_do_not_panic() {
    let deep = "(".repeat(100_000);
    let arrays = format!("let x = {}{};", "[".repeat(20_000), "]".repeat(20_000));
    let garbage =
        "\u{0}\u{1}\u{7f}fn class def func {{{ ]]] \"open '''\n\t\u{feff}é漢字🙂 /* //! ) } ;; <T<<>".repeat(500);
    let mut files = Vec::new();
    for extension in ["rs", "py", "js", "ts", "tsx", "go"] {
        files.push(RepoFile::text(&format!("deep.{extension}"), &deep));
        files.push(RepoFile::text(&format!("garbage.{extension}"), &garbage));
    }
    files.push(RepoFile::text("arrays.js", &arrays));
    files.push(RepoFile::text("huge.rs", &"x".repeat(MAX_FILE_BYTES + 1)));
    files.push(RepoFile { path: "binary.go".to_owned(), size: 10, text: None, executable: false });
    files.push(RepoFile::text("README.md", "# not source"));
    let graph = build(&files);
    assert_consistent(&graph);
    assert_eq!(graph.files_parsed + graph.parse_errors.len(), files.len() - 1);
    let failed: Vec<&str> = graph.parse_errors.iter().map(|(path, _)| path.as_str()).collect();
    assert!(failed.contains(&"huge.rs") && failed.contains(&"binary.go"), "{failed:?}");
    let files_in_graph = graph.nodes.iter().filter(|node| node.kind == NodeKind::File).count();
    assert_eq!(files_in_graph, graph.files_parsed);
}

#[test]
fn names_round_trip() {
    for kind in NodeKind::ALL {
        assert_eq!(NodeKind::parse(kind.as_str()), Some(kind));
    }
    for kind in EdgeKind::ALL {
        assert_eq!(EdgeKind::parse(kind.as_str()), Some(kind));
    }
    assert_eq!(NodeKind::parse("method"), Some(NodeKind::Method));
    assert_eq!(EdgeKind::parse("nope"), None);
    let grammars: Vec<Option<Grammar>> =
        ["a.rs", "b.pyi", "c.mjs", "d.cts", "e.tsx", "f.go", "g.md", ".rs", "Makefile"].map(Grammar::of_path).into();
    assert_eq!(
        grammars,
        vec![
            Some(Grammar::Rust),
            Some(Grammar::Python),
            Some(Grammar::JavaScript),
            Some(Grammar::TypeScript),
            Some(Grammar::Tsx),
            Some(Grammar::Go),
            None,
            None,
            None,
        ]
    );
    let graph = build(&[RepoFile::text("src/lib.rs", "pub fn f() {}\n")]);
    let json = serde_json::to_value(&graph).unwrap();
    assert_eq!(json["nodes"][0]["language"], "rust");
}
