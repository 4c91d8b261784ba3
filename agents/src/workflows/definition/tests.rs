use std::collections::BTreeSet;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

const COLLECTION: &str = "0190b6a4-6f7e-7c3a-9d8e-1f2a3b4c5d6e";

fn node(id: &str, kind: &str, params: Value) -> Value {
    json!({ "id": id, "type": kind, "params": params })
}

fn retrieve(id: &str, query: &str) -> Value {
    node(id, "retrieve", json!({ "collectionId": COLLECTION, "query": query }))
}

fn format(id: &str, template: &str) -> Value {
    node(id, "postprocess", json!({ "op": "format", "template": template }))
}

fn edge(from: &str, to: &str) -> Value {
    json!({ "from": from, "to": to })
}

fn refused(raw: &Value) -> DefinitionError {
    match Definition::parse(raw) {
        Ok(definition) => panic!("accepted: {definition:?}"),
        Err(e) => e,
    }
}

#[test]
fn a_valid_definition_is_parsed_in_edge_order() {
    let raw = json!({
        "inputs": ["topic"],
        "nodes": [
            format("answer", "From {{nodes.find.output.passages.0.filename}}: {{nodes.find.text}}"),
            retrieve("find", "{{inputs.topic}}"),
            node("sales", "tool", json!({ "name": "shopify.sales_by_period",
                "input": { "from": "2026-08-01", "to": "2026-11-01", "granularity": "MONTH" } })),
            node("net", "postprocess", json!({ "op": "json", "path": "totals.net_sales" })),
        ],
        "edges": [edge("find", "answer"), edge("sales", "net")],
    });
    let definition = Definition::parse(&raw).unwrap_or_else(|e| panic!("{e}"));
    let order: Vec<&str> = definition.ordered().map(|n| n.id.as_str()).collect();
    assert_eq!(order, ["find", "answer", "sales", "net"]);
    assert_eq!(definition.parents("net"), ["sales"]);
    assert_eq!(definition.collections().len(), 1);
    assert!(matches!(
        definition.node("net").map(|n| &n.kind),
        Some(NodeKind::Postprocess(Postprocess::Json { from, path })) if from == "sales" && path.len() == 2
    ));
    assert!(matches!(definition.node("find").map(|n| &n.kind), Some(NodeKind::Retrieve { first: 5, .. })));
}

#[test]
fn each_refusal_names_what_it_is_about() {
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({ "nodes": [node("a", "notify", json!({}))] }), "a", "unknown type `notify`"),
        (json!({ "nodes": [format("a", "x"), format("a", "y")] }), "a", "two nodes have this id"),
        (
            json!({ "nodes": [format("a", "x"), format("b", "y"), format("c", "z")],
                    "edges": [edge("a", "b"), edge("b", "c"), edge("c", "b")] }),
            "b",
            "is part of a cycle: b → c → b",
        ),
        (json!({ "nodes": [format("a", "x")], "edges": [edge("a", "a")] }), "a", "is part of a cycle: a → a"),
        (
            json!({ "nodes": [node("t", "tool", json!({ "name": "shopify.refund_everything" }))] }),
            "t",
            "unknown tool `shopify.refund_everything`",
        ),
        (json!({ "inputs": ["topic"], "nodes": [retrieve("r", "{{inputs.subject}}")] }), "r", "input `subject`"),
        (
            json!({ "nodes": [retrieve("r", "returns"), format("f", "{{nodes.r.text}}")] }),
            "f",
            "does not run before this one",
        ),
        (json!({ "nodes": [format("f", "{{nodes.ghost.output}}")] }), "f", "node `ghost`, which does not exist"),
        (json!({ "nodes": [node("r", "retrieve", json!({ "query": "x" }))] }), "r", "`collectionId` is required"),
        (
            json!({ "nodes": [node("r", "retrieve", json!({ "collectionId": COLLECTION, "query": "x", "first": 99 }))]
            }),
            "r",
            "`first` must be",
        ),
        (
            json!({ "nodes": [node("l", "llm", json!({ "prompt": "hi", "temperature": 2 }))] }),
            "l",
            "unknown parameter `temperature`",
        ),
        (json!({ "nodes": [node("p", "postprocess", json!({ "op": "join" }))] }), "p", "no edge leads"),
        (
            json!({ "nodes": [node("t", "tool", json!({ "name": "shopify.sales_by_period", "input": { "from": 1 } }))]
            }),
            "t",
            "does not fit `shopify.sales_by_period`",
        ),
    ];
    for (raw, node, says) in cases {
        let e = refused(&raw);
        assert_eq!(e.node(), Some(node), "{raw}: {e}");
        assert!(e.to_string().contains(says), "{raw}: {e}");
    }
    let dangling = refused(&json!({ "nodes": [format("a", "x")], "edges": [edge("a", "zz")] }));
    assert!(matches!(&dangling, DefinitionError::Edge { to, .. } if to == "zz"), "{dangling}");
    assert!(dangling.to_string().contains("there is no node `zz`"), "{dangling}");
    let many: Vec<Value> = (0..=MAX_NODES).map(|i| format(&format!("n{i}"), "x")).collect();
    assert!(refused(&json!({ "nodes": many })).to_string().contains("at most 50"));
    assert!(matches!(refused(&json!({ "nodes": [] })), DefinitionError::Workflow(_)));
    assert!(matches!(refused(&json!([1, 2])), DefinitionError::Workflow(_)));
}

#[test]
fn a_runs_inputs_are_checked() {
    let definition =
        Definition::parse(&json!({ "inputs": ["topic", "n"], "nodes": [format("f", "{{inputs.topic}}")] }))
            .unwrap_or_else(|e| panic!("{e}"));
    let given = json!({ "topic": "returns", "n": 3 });
    assert_eq!(definition.check_inputs(Some(&given)).map(|m| m.len()), Ok(2));
    let missing = definition.check_inputs(Some(&json!({ "topic": "returns" })));
    assert!(matches!(&missing, Err(DefinitionError::Input { input, .. }) if input == "n"), "{missing:?}");
    let unknown = definition.check_inputs(Some(&json!({ "topic": "a", "n": 1, "extra": true })));
    assert!(matches!(&unknown, Err(DefinitionError::Input { input, .. }) if input == "extra"), "{unknown:?}");
    assert!(definition.check_inputs(None).is_err());
    assert!(definition.check_inputs(Some(&json!("returns"))).is_err());
}

/// `n` nodes listed in the order `listing`, with `edges` between them.
fn graph(listing: &[usize], edges: &BTreeSet<(usize, usize)>) -> Value {
    let nodes: Vec<Value> = listing.iter().map(|i| format(&format!("n{i}"), &format!("node {i}"))).collect();
    let edges: Vec<Value> = edges.iter().map(|(a, b)| edge(&format!("n{a}"), &format!("n{b}"))).collect();
    json!({ "nodes": nodes, "edges": edges })
}

/// Up to 20 nodes in a shuffled listing, random pairs between them, and
/// the first `k` nodes of another shuffle (for a cycle).
fn shapes() -> impl Strategy<Value = (usize, Vec<(usize, usize)>, Vec<usize>, Vec<usize>, usize)> {
    (1usize..=20).prop_flat_map(|n| {
        let all: Vec<usize> = (0..n).collect();
        (
            Just(n),
            proptest::collection::vec((0..n, 0..n), 0..60),
            Just(all.clone()).prop_shuffle(),
            Just(all).prop_shuffle(),
            1..=n.min(5),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Edges that only go forward (lower to higher number) make a DAG,
    /// however the nodes are listed: it is accepted, and its order puts
    /// every edge's source before its target.
    #[test]
    fn random_dags_are_accepted_in_an_order_that_respects_every_edge(
        (n, pairs, listing, _, _) in shapes()
    ) {
        let edges: BTreeSet<(usize, usize)> = pairs.into_iter().filter(|(a, b)| a < b).collect();
        let parsed = Definition::parse(&graph(&listing, &edges));
        prop_assert!(parsed.is_ok(), "{:?}", parsed.err());
        let definition = parsed.unwrap_or_else(|e| panic!("{e}"));
        let order: Vec<String> = definition.ordered().map(|n| n.id.clone()).collect();
        prop_assert_eq!(order.len(), n);
        let position = |i: &usize| order.iter().position(|id| *id == format!("n{i}"));
        for (a, b) in &edges {
            prop_assert!(position(a) < position(b), "n{} after n{} in {:?}", a, b, order);
        }
    }

    /// The same graphs with a cycle through `k` nodes added are refused,
    /// and the cycle the refusal shows is one: each step an edge, back to
    /// the node it names.
    #[test]
    fn random_graphs_with_a_cycle_are_refused(
        (_, pairs, listing, ring, k) in shapes()
    ) {
        let mut edges: BTreeSet<(usize, usize)> = pairs.into_iter().filter(|(a, b)| a < b).collect();
        let ring = &ring[..k];
        for (i, from) in ring.iter().enumerate() {
            edges.insert((*from, ring[(i + 1) % k]));
        }
        let e = match Definition::parse(&graph(&listing, &edges)) {
            Ok(_) => return Err(TestCaseError::fail("a graph with a cycle was accepted")),
            Err(e) => e,
        };
        let message = e.to_string();
        let shown = message.split("is part of a cycle: ").nth(1).unwrap_or_default();
        let steps: Vec<&str> = shown.split(" → ").collect();
        prop_assert!(steps.len() >= 2, "{}", message);
        prop_assert_eq!(steps.first(), steps.last());
        prop_assert_eq!(e.node(), steps.first().copied());
        for pair in steps.windows(2) {
            let number = |id: &str| id.trim_start_matches('n').parse::<usize>().unwrap_or(usize::MAX);
            let step = (number(pair[0]), number(pair[1]));
            prop_assert!(edges.contains(&step), "{} is no edge: {}", pair.join(" → "), message);
        }
    }
}
