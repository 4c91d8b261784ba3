//! A workflow definition: `{ "inputs": [names], "nodes": [{ "id", "type",
//! "params" }], "edges": [{ "from", "to" }] }`, parsed into a typed graph
//! (like a statement into a plan) before anything runs. The same parse
//! checks it when it is saved and again before every run (P23), and each
//! refusal names the node, edge or input it is about: an unknown type, a
//! duplicate id, an edge to no node, a cycle, a parameter that is missing,
//! unknown or malformed, a template reading an input the workflow does not
//! declare or a node that does not run before, an unknown tool, too many
//! nodes.
//!
//! Node types and their parameters:
//! - `retrieve`: `collectionId`, `query` (template), `first` (1 to 10, 5):
//!   passages of one of the account's collections (`rag.search`).
//! - `llm`: `prompt` (template), `model` (optional): the model's answer.
//! - `tool`: `name` (a registered tool), `input` (a JSON template).
//! - `postprocess`: `op` = `json` (`from`, default the one upstream node;
//!   `path`: the JSON in that node's output, or a value inside it),
//!   `format` (`template`), `join` (`separator`, default a blank line: the
//!   upstream nodes' texts) or `first` (the first upstream text not empty).

mod graph;
mod params;

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};
use uuid::Uuid;

use super::template::{JsonTemplate, Template};
use graph::{ancestors, topological};
use params::{Scope, parse_kind};

/// Most nodes a workflow may have.
pub const MAX_NODES: usize = 50;
/// Most inputs a workflow may declare.
pub const MAX_INPUTS: usize = 50;
/// Most edges a workflow may list (a DAG of 50 nodes has at most 1,225).
pub const MAX_EDGES: usize = 1_225;
/// Longest node id or input name, in characters.
pub const MAX_ID_CHARS: usize = 64;
/// Longest template, in characters.
pub const MAX_TEMPLATE_CHARS: usize = 20_000;
/// The node types.
pub const NODE_TYPES: [&str; 4] = ["retrieve", "llm", "tool", "postprocess"];

const DEFAULT_PASSAGES: u32 = 5;
const DEFAULT_SEPARATOR: &str = "\n\n";
const MAX_MODEL_CHARS: usize = 200;

/// Why a definition (or a run's inputs) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefinitionError {
    /// The definition as a whole.
    #[error("{0}")]
    Workflow(String),
    /// One node.
    #[error("node `{node}`: {message}")]
    Node {
        /// The node's id.
        node: String,
        /// What is wrong.
        message: String,
    },
    /// One edge.
    #[error("edge `{from}` → `{to}`: {message}")]
    Edge {
        /// Where it starts.
        from: String,
        /// Where it ends.
        to: String,
        /// What is wrong.
        message: String,
    },
    /// One input, of the definition or of a run.
    #[error("input `{input}`: {message}")]
    Input {
        /// The input's name.
        input: String,
        /// What is wrong.
        message: String,
    },
}

impl DefinitionError {
    /// The node the refusal is about, if it is about one.
    pub fn node(&self) -> Option<&str> {
        match self {
            DefinitionError::Node { node, .. } => Some(node),
            _ => None,
        }
    }
}

fn whole(message: impl Into<String>) -> DefinitionError {
    DefinitionError::Workflow(message.into())
}

fn at_node(node: &str, message: impl Into<String>) -> DefinitionError {
    DefinitionError::Node { node: clip(node), message: message.into() }
}

fn at_edge(from: &str, to: &str, message: impl Into<String>) -> DefinitionError {
    DefinitionError::Edge { from: clip(from), to: clip(to), message: message.into() }
}

fn at_input(input: &str, message: impl Into<String>) -> DefinitionError {
    DefinitionError::Input { input: clip(input), message: message.into() }
}

/// A name as quoted in a message: a hostile one does not fill it.
fn clip(name: &str) -> String {
    if name.chars().count() <= MAX_ID_CHARS {
        return name.to_owned();
    }
    let mut clipped: String = name.chars().take(MAX_ID_CHARS).collect();
    clipped.push('…');
    clipped
}

/// A node id or input name: 1 to 64 ASCII letters, digits, `_` or `-`,
/// starting with a letter or `_` (so a template's dotted path reads it).
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else { return false };
    name.chars().count() <= MAX_ID_CHARS
        && (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// One node of a workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Unique within the workflow.
    pub id: String,
    /// What it does, with its parameters.
    pub kind: NodeKind,
}

/// What a node does.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// Passages of one of the account's collections.
    Retrieve {
        /// The collection.
        collection_id: Uuid,
        /// What to search for.
        query: Template,
        /// Most passages.
        first: u32,
    },
    /// A model's answer to a prompt.
    Llm {
        /// What to ask.
        prompt: Template,
        /// The model, over the request's.
        model: Option<String>,
    },
    /// A registered Class 3 tool's output.
    Tool {
        /// The tool's name.
        name: String,
        /// Its input.
        input: JsonTemplate,
    },
    /// A step over upstream results.
    Postprocess(Postprocess),
}

impl NodeKind {
    /// The type's name, as in the definition.
    pub fn name(&self) -> &'static str {
        match self {
            NodeKind::Retrieve { .. } => "retrieve",
            NodeKind::Llm { .. } => "llm",
            NodeKind::Tool { .. } => "tool",
            NodeKind::Postprocess(_) => "postprocess",
        }
    }
}

/// What a `postprocess` node does.
#[derive(Debug, Clone, PartialEq)]
pub enum Postprocess {
    /// The JSON in node `from`'s output (its text parsed, or its JSON
    /// output as it is), or the value at `path` inside it.
    Json {
        /// The node read.
        from: String,
        /// Fields and indexes, in order.
        path: Vec<String>,
    },
    /// A template's text.
    Format {
        /// The template.
        template: Template,
    },
    /// The upstream nodes' texts, in the order their edges are listed.
    Join {
        /// Between two texts.
        separator: String,
    },
    /// The first upstream text that is not empty.
    First,
}

/// An edge: `to` runs after `from`, and may read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// The node that runs first.
    pub from: String,
    /// The node that waits for it.
    pub to: String,
}

/// A validated workflow definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    inputs: Vec<String>,
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    /// Node indexes in a topological order, ties in definition order.
    order: Vec<usize>,
}

/// A node before its parameters are read.
struct Shell<'a> {
    id: String,
    kind: &'a str,
    params: Option<&'a Map<String, Value>>,
}

impl Definition {
    /// Parses and validates `raw`.
    pub fn parse(raw: &Value) -> Result<Self, DefinitionError> {
        let object = raw
            .as_object()
            .ok_or_else(|| whole("the definition must be a JSON object with `inputs`, `nodes` and `edges`"))?;
        if let Some(key) = object.keys().find(|k| !["inputs", "nodes", "edges"].contains(&k.as_str())) {
            return Err(whole(format!(
                "unknown field `{}`: a definition has `inputs`, `nodes` and `edges`",
                clip(key)
            )));
        }
        let inputs = parse_inputs(object.get("inputs"))?;
        let shells = parse_shells(object.get("nodes"))?;
        let names: Vec<&str> = shells.iter().map(|s| s.id.as_str()).collect();
        let index: HashMap<&str, usize> = names.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let pairs = parse_edges(object.get("edges"), &index)?;
        let order = topological(&names, &pairs)?;
        let ancestors = ancestors(names.len(), &order, &pairs);
        let mut nodes = Vec::with_capacity(shells.len());
        for (i, shell) in shells.iter().enumerate() {
            let parents: Vec<usize> = pairs.iter().filter(|(_, to)| *to == i).map(|(from, _)| *from).collect();
            let scope = Scope {
                node: &shell.id,
                params: shell.params,
                inputs: &inputs,
                index: &index,
                names: &names,
                ancestors: &ancestors[i],
                parents: &parents,
            };
            nodes.push(Node { id: shell.id.clone(), kind: parse_kind(shell.kind, &scope)? });
        }
        let edges =
            pairs.iter().map(|(from, to)| Edge { from: names[*from].to_owned(), to: names[*to].to_owned() }).collect();
        Ok(Self { inputs, nodes, edges, order })
    }

    /// The inputs a run must give.
    pub fn inputs(&self) -> &[String] {
        &self.inputs
    }

    /// The nodes, in definition order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The edges, in definition order.
    pub fn edges(&self) -> &[Edge] {
        &self.edges
    }

    /// The node `id`.
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// The nodes in the order they run: every node after all it depends on.
    pub fn ordered(&self) -> impl Iterator<Item = &Node> {
        self.order.iter().filter_map(|i| self.nodes.get(*i))
    }

    /// The nodes `id`'s edges come from, in the order the edges are listed.
    pub fn parents(&self, id: &str) -> Vec<&str> {
        self.edges.iter().filter(|e| e.to == id).map(|e| e.from.as_str()).collect()
    }

    /// The collections `retrieve` nodes read, with the node reading each.
    pub fn collections(&self) -> Vec<(&str, Uuid)> {
        self.nodes
            .iter()
            .filter_map(|n| match &n.kind {
                NodeKind::Retrieve { collection_id, .. } => Some((n.id.as_str(), *collection_id)),
                _ => None,
            })
            .collect()
    }

    /// A run's inputs, checked (P23): a JSON object holding every declared
    /// input (any JSON but null) and nothing else.
    pub fn check_inputs(&self, given: Option<&Value>) -> Result<Map<String, Value>, DefinitionError> {
        let given = match given {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(given)) => given.clone(),
            Some(_) => return Err(whole("`inputs` must be a JSON object of the workflow's inputs by name")),
        };
        if let Some(name) = given.keys().find(|k| !self.inputs.iter().any(|i| i == *k)) {
            return Err(at_input(name, "the workflow declares no such input"));
        }
        for name in &self.inputs {
            if given.get(name).is_none_or(Value::is_null) {
                return Err(at_input(name, "is missing: the workflow needs it to run"));
            }
        }
        Ok(given)
    }
}

fn parse_inputs(value: Option<&Value>) -> Result<Vec<String>, DefinitionError> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(whole("`inputs` must be a list of input names")),
    };
    if items.len() > MAX_INPUTS {
        return Err(whole(format!("the workflow declares {} inputs; at most {MAX_INPUTS} are allowed", items.len())));
    }
    let mut inputs: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let Some(name) = item.as_str() else { return Err(whole("`inputs` must be a list of input names")) };
        if !valid_name(name) {
            return Err(at_input(name, "a name is 1 to 64 letters, digits, `_` or `-`, starting with a letter or `_`"));
        }
        if inputs.iter().any(|i| i == name) {
            return Err(at_input(name, "is declared twice"));
        }
        inputs.push(name.to_owned());
    }
    Ok(inputs)
}

fn parse_shells(value: Option<&Value>) -> Result<Vec<Shell<'_>>, DefinitionError> {
    let Some(Value::Array(items)) = value else { return Err(whole("`nodes` must be a list of nodes")) };
    if items.is_empty() {
        return Err(whole("the workflow has no nodes"));
    }
    if items.len() > MAX_NODES {
        return Err(whole(format!("the workflow has {} nodes; at most {MAX_NODES} are allowed", items.len())));
    }
    let mut shells = Vec::with_capacity(items.len());
    let mut seen = HashSet::new();
    for (position, item) in items.iter().enumerate() {
        let Some(fields) = item.as_object() else {
            return Err(whole(format!("node {} of the list is not an object", position + 1)));
        };
        let Some(id) = fields.get("id").and_then(Value::as_str) else {
            return Err(whole(format!("node {} of the list has no `id` (a string)", position + 1)));
        };
        if !valid_name(id) {
            return Err(at_node(id, "an id is 1 to 64 letters, digits, `_` or `-`, starting with a letter or `_`"));
        }
        if !seen.insert(id) {
            return Err(at_node(id, "two nodes have this id"));
        }
        if let Some(key) = fields.keys().find(|k| !["id", "type", "params"].contains(&k.as_str())) {
            return Err(at_node(id, format!("unknown field `{}`: a node has `id`, `type` and `params`", clip(key))));
        }
        let kind = match fields.get("type") {
            Some(Value::String(kind)) if NODE_TYPES.contains(&kind.as_str()) => kind.as_str(),
            Some(Value::String(kind)) => {
                return Err(at_node(
                    id,
                    format!("unknown type `{}` (expected retrieve, llm, tool or postprocess)", clip(kind)),
                ));
            }
            _ => return Err(at_node(id, "has no `type` (retrieve, llm, tool or postprocess)")),
        };
        let params = match fields.get("params") {
            None | Some(Value::Null) => None,
            Some(Value::Object(params)) => Some(params),
            Some(_) => return Err(at_node(id, "`params` must be a JSON object")),
        };
        shells.push(Shell { id: id.to_owned(), kind, params });
    }
    Ok(shells)
}

/// The edges as (from, to) node indexes, in definition order.
fn parse_edges(value: Option<&Value>, index: &HashMap<&str, usize>) -> Result<Vec<(usize, usize)>, DefinitionError> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(whole("`edges` must be a list of `{\"from\": …, \"to\": …}`")),
    };
    if items.len() > MAX_EDGES {
        return Err(whole(format!("the workflow has {} edges; at most {MAX_EDGES} are allowed", items.len())));
    }
    let mut pairs = Vec::with_capacity(items.len());
    for (position, item) in items.iter().enumerate() {
        let Some(fields) = item.as_object() else {
            return Err(whole(format!("edge {} of the list is not an object", position + 1)));
        };
        let end = |key: &str| {
            fields
                .get(key)
                .and_then(Value::as_str)
                .ok_or_else(|| whole(format!("edge {} of the list has no `{key}` (a node id)", position + 1)))
        };
        let (from, to) = (end("from")?, end("to")?);
        if let Some(key) = fields.keys().find(|k| k.as_str() != "from" && k.as_str() != "to") {
            return Err(at_edge(from, to, format!("unknown field `{}`: an edge has `from` and `to`", clip(key))));
        }
        let Some(&start) = index.get(from) else {
            return Err(at_edge(from, to, format!("there is no node `{}`", clip(from))));
        };
        let Some(&finish) = index.get(to) else {
            return Err(at_edge(from, to, format!("there is no node `{}`", clip(to))));
        };
        if pairs.contains(&(start, finish)) {
            return Err(at_edge(from, to, "is listed twice"));
        }
        pairs.push((start, finish));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests;
