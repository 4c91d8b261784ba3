//! A node's parameters, by type, checked against the definition around
//! it: the inputs it declares and the nodes that run before the node.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};
use uuid::Uuid;

use super::{
    DEFAULT_PASSAGES, DEFAULT_SEPARATOR, DefinitionError, MAX_MODEL_CHARS, MAX_TEMPLATE_CHARS, NodeKind, Postprocess,
    at_node, clip,
};
use crate::tools::rag::MAX_PASSAGES;
use crate::workflows::template::{Field, JsonTemplate, Reference, Source, Template};
use crate::workflows::tools;

/// What a node's parameters are checked against.
pub(super) struct Scope<'a> {
    pub(super) node: &'a str,
    pub(super) params: Option<&'a Map<String, Value>>,
    pub(super) inputs: &'a [String],
    pub(super) index: &'a HashMap<&'a str, usize>,
    pub(super) names: &'a [&'a str],
    pub(super) ancestors: &'a BTreeSet<usize>,
    pub(super) parents: &'a [usize],
}

impl<'a> Scope<'a> {
    fn error(&self, message: impl Into<String>) -> DefinitionError {
        at_node(self.node, message)
    }

    fn allow(&self, kind: &str, allowed: &[&str]) -> Result<(), DefinitionError> {
        let Some(params) = self.params else { return Ok(()) };
        match params.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(key) => Err(self.error(format!(
                "unknown parameter `{}` (a {kind} node takes {})",
                clip(key),
                allowed.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")
            ))),
            None => Ok(()),
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.params.and_then(|p| p.get(key)).filter(|v| !v.is_null())
    }

    fn text(&self, key: &str) -> Result<Option<&'a str>, DefinitionError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.as_str())),
            Some(_) => Err(self.error(format!("`{key}` must be a string"))),
        }
    }

    fn required(&self, key: &str) -> Result<&'a str, DefinitionError> {
        self.text(key)?.ok_or_else(|| self.error(format!("`{key}` is required")))
    }

    /// The node `id`, when it runs before this one.
    fn upstream(&self, id: &str, what: &str) -> Result<usize, DefinitionError> {
        let Some(&at) = self.index.get(id) else {
            return Err(self.error(format!("{what} reads node `{}`, which does not exist", clip(id))));
        };
        if id == self.node {
            return Err(self.error(format!("{what} reads this node itself")));
        }
        if !self.ancestors.contains(&at) {
            return Err(self.error(format!(
                "{what} reads node `{id}`, which does not run before this one \
                 (add an edge from `{id}`, or a path of edges)"
            )));
        }
        Ok(at)
    }

    fn check(&self, key: &str, reference: &Reference) -> Result<(), DefinitionError> {
        let what = format!("`{key}`: `{}`", reference.shown());
        match &reference.source {
            Source::Input(name) => {
                if !self.inputs.iter().any(|i| i == name) {
                    return Err(self.error(format!(
                        "{what} reads input `{}`, which the workflow does not declare in `inputs`",
                        clip(name)
                    )));
                }
            }
            Source::Node { id, field } => {
                self.upstream(id, &what)?;
                if *field == Field::Text && !reference.path.is_empty() {
                    return Err(self.error(format!("{what}: `text` is plain text; read into `output` instead")));
                }
            }
        }
        Ok(())
    }

    fn template(&self, key: &str) -> Result<Template, DefinitionError> {
        let text = self.required(key)?;
        if text.chars().count() > MAX_TEMPLATE_CHARS {
            return Err(self.error(format!("`{key}` is longer than {MAX_TEMPLATE_CHARS} characters")));
        }
        let template = Template::parse(text).map_err(|e| self.error(format!("`{key}`: {e}")))?;
        if template.is_blank() {
            return Err(self.error(format!("`{key}` is empty")));
        }
        for reference in template.references() {
            self.check(key, reference)?;
        }
        Ok(template)
    }

    fn needs_upstream(&self, op: &str) -> Result<(), DefinitionError> {
        if self.parents.is_empty() {
            return Err(self.error(format!("`{op}` reads its upstream nodes, and no edge leads to this node")));
        }
        Ok(())
    }
}

pub(super) fn parse_kind(kind: &str, scope: &Scope<'_>) -> Result<NodeKind, DefinitionError> {
    match kind {
        "retrieve" => {
            scope.allow(kind, &["collectionId", "query", "first"])?;
            let collection = scope.required("collectionId")?;
            let collection_id =
                Uuid::parse_str(collection).map_err(|_| scope.error("`collectionId` is not a collection id"))?;
            let query = scope.template("query")?;
            let first = match scope.get("first") {
                None => DEFAULT_PASSAGES,
                Some(first) => first
                    .as_u64()
                    .filter(|n| (1..=u64::from(MAX_PASSAGES)).contains(n))
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| scope.error(format!("`first` must be a whole number from 1 to {MAX_PASSAGES}")))?,
            };
            Ok(NodeKind::Retrieve { collection_id, query, first })
        }
        "llm" => {
            scope.allow(kind, &["prompt", "model"])?;
            let prompt = scope.template("prompt")?;
            let model = scope.text("model")?.map(str::trim);
            if model.is_some_and(|m| m.is_empty() || m.chars().count() > MAX_MODEL_CHARS) {
                return Err(scope.error(format!("`model` must be a model id of 1 to {MAX_MODEL_CHARS} characters")));
            }
            Ok(NodeKind::Llm { prompt, model: model.map(str::to_owned) })
        }
        "tool" => {
            scope.allow(kind, &["name", "input"])?;
            let name = scope.required("name")?;
            if !tools::is_known(name) {
                let known = tools::TOOL_NAMES.join(", ");
                return Err(scope.error(format!("unknown tool `{}` (the tools are {known})", clip(name))));
            }
            let raw = scope.get("input").cloned().unwrap_or_else(|| Value::Object(Map::new()));
            if !raw.is_object() {
                return Err(scope.error("`input` must be a JSON object"));
            }
            let input = JsonTemplate::parse(&raw).map_err(|e| scope.error(format!("`input`: {e}")))?;
            let references = input.references();
            for reference in &references {
                scope.check("input", reference)?;
            }
            if references.is_empty() {
                tools::check_input(name, &raw)
                    .map_err(|e| scope.error(format!("`input` does not fit `{name}`: {e}")))?;
            }
            Ok(NodeKind::Tool { name: name.to_owned(), input })
        }
        _ => parse_postprocess(scope).map(NodeKind::Postprocess),
    }
}

fn parse_postprocess(scope: &Scope<'_>) -> Result<Postprocess, DefinitionError> {
    let op = scope.required("op")?;
    match op {
        "json" => {
            scope.allow("postprocess `json`", &["op", "from", "path"])?;
            let from = match scope.text("from")? {
                Some(from) => {
                    scope.upstream(from, "`from`")?;
                    from.to_owned()
                }
                None => match scope.parents {
                    [one] => scope.names[*one].to_owned(),
                    others => {
                        return Err(scope.error(format!(
                            "`json` reads one upstream node: name it in `from` (this node has {} upstream)",
                            others.len()
                        )));
                    }
                },
            };
            let path = match scope.text("path")? {
                None => Vec::new(),
                Some(path) => {
                    let segments: Vec<String> = path.split('.').map(str::to_owned).collect();
                    if segments.iter().any(|s| s.trim().is_empty() || s.trim() != s.as_str()) {
                        let why = "`path` is fields and indexes separated by dots, such as `items.0.price`";
                        return Err(scope.error(why));
                    }
                    segments
                }
            };
            Ok(Postprocess::Json { from, path })
        }
        "format" => {
            scope.allow("postprocess `format`", &["op", "template"])?;
            Ok(Postprocess::Format { template: scope.template("template")? })
        }
        "join" => {
            scope.allow("postprocess `join`", &["op", "separator"])?;
            scope.needs_upstream(op)?;
            Ok(Postprocess::Join { separator: scope.text("separator")?.unwrap_or(DEFAULT_SEPARATOR).to_owned() })
        }
        "first" => {
            scope.allow("postprocess `first`", &["op"])?;
            scope.needs_upstream(op)?;
            Ok(Postprocess::First)
        }
        other => Err(scope.error(format!("unknown `op` `{}` (expected json, format, join or first)", clip(other)))),
    }
}
