//! Templates in node parameters. `{{inputs.<name>}}` reads a run's input,
//! `{{nodes.<id>.output}}` a node's output and `{{nodes.<id>.text}}` its
//! text; a dotted path after an input or an output reads into its JSON
//! (`{{nodes.find.output.passages.0.text}}`: object fields by name, array
//! items by index). References are parsed once, when the definition is,
//! so that validation can check each one names an input the workflow
//! declares or a node that runs before (P23); rendering then only looks
//! values up, and a value that is not there fails the node rather than
//! being left out or made up.
//!
//! A JSON template (a `tool` node's input) is JSON whose strings are
//! templates; a string that is one reference and nothing else becomes the
//! value it reads (a number stays a number, an object an object).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// What part of a node's result a reference reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Its output, JSON (a path may read into it).
    Output,
    /// Its output as text.
    Text,
}

/// Where a reference reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An input of the run, by name.
    Input(String),
    /// A node's result.
    Node {
        /// The node's id.
        id: String,
        /// What of it.
        field: Field,
    },
}

/// One `{{…}}` of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Where it reads.
    pub source: Source,
    /// Fields and indexes into the value read, in order.
    pub path: Vec<String>,
    /// What was written between the braces (trimmed), for messages.
    raw: String,
}

impl Reference {
    fn parse(inner: &str) -> Result<Self, String> {
        let raw = inner.trim();
        let shown = format!("{{{{{raw}}}}}");
        if raw.is_empty() {
            return Err("`{{}}` is an empty reference".to_owned());
        }
        let segments: Vec<&str> = raw.split('.').collect();
        let malformed = |s: &&str| s.is_empty() || s.chars().any(|c| c.is_whitespace() || c == '{' || c == '}');
        if segments.iter().any(malformed) {
            return Err(format!(
                "`{shown}` is not a reference: its parts are separated by single dots, without spaces"
            ));
        }
        let owned = |path: &[&str]| path.iter().map(|s| (*s).to_owned()).collect::<Vec<String>>();
        match segments.as_slice() {
            ["inputs", name, path @ ..] => {
                Ok(Self { source: Source::Input((*name).to_owned()), path: owned(path), raw: raw.to_owned() })
            }
            ["nodes", id, field, path @ ..] => {
                let field = match *field {
                    "output" => Field::Output,
                    "text" => Field::Text,
                    other => {
                        return Err(format!("`{shown}`: a node is read as `output` or `text`, not `{other}`"));
                    }
                };
                let source = Source::Node { id: (*id).to_owned(), field };
                Ok(Self { source, path: owned(path), raw: raw.to_owned() })
            }
            ["nodes", id] => Err(format!(
                "`{shown}` does not say what to read: `{{{{nodes.{id}.output}}}}` or `{{{{nodes.{id}.text}}}}`"
            )),
            _ => {
                Err(format!("`{shown}` is not a reference: use `{{{{inputs.<name>}}}}` or `{{{{nodes.<id>.output}}}}`"))
            }
        }
    }

    /// The reference as written, braces included.
    pub fn shown(&self) -> String {
        format!("{{{{{}}}}}", self.raw)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Ref(Reference),
}

/// A text with references in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses `text`; a `{{` must be closed by `}}` around a reference.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let Some(close) = after.find("}}") else {
                return Err("a `{{` is not closed by `}}`".to_owned());
            };
            pieces.push(Piece::Ref(Reference::parse(&after[..close])?));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        Ok(Self { pieces })
    }

    /// Its references, in order.
    pub fn references(&self) -> impl Iterator<Item = &Reference> {
        self.pieces.iter().filter_map(|piece| match piece {
            Piece::Ref(reference) => Some(reference),
            Piece::Text(_) => None,
        })
    }

    /// Whether it holds nothing but white space.
    pub fn is_blank(&self) -> bool {
        self.pieces.iter().all(|piece| matches!(piece, Piece::Text(t) if t.trim().is_empty()))
    }

    /// The reference it consists of, when it is one and nothing else.
    fn sole(&self) -> Option<&Reference> {
        match self.pieces.as_slice() {
            [Piece::Ref(reference)] => Some(reference),
            _ => None,
        }
    }

    /// The text with every reference replaced by the value it reads.
    pub fn render(&self, values: &Values<'_>) -> Result<String, String> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Ref(reference) => out.push_str(&text_of(values.resolve(reference)?)),
            }
        }
        Ok(out)
    }
}

/// JSON whose strings are templates (a `tool` node's input).
#[derive(Debug, Clone, PartialEq)]
pub enum JsonTemplate {
    /// No reference inside.
    Literal(Value),
    /// A string with references.
    Text(Template),
    /// An array.
    Array(Vec<JsonTemplate>),
    /// An object, its fields in order.
    Object(Vec<(String, JsonTemplate)>),
}

impl JsonTemplate {
    /// Parses every string of `value` as a template.
    pub fn parse(value: &Value) -> Result<Self, String> {
        Ok(match value {
            Value::String(text) => {
                let template = Template::parse(text)?;
                if template.references().next().is_none() {
                    JsonTemplate::Literal(value.clone())
                } else {
                    JsonTemplate::Text(template)
                }
            }
            Value::Array(items) => {
                let parsed: Result<Vec<JsonTemplate>, String> = items.iter().map(Self::parse).collect();
                JsonTemplate::Array(parsed?)
            }
            Value::Object(fields) => {
                let mut parsed = Vec::with_capacity(fields.len());
                for (key, field) in fields {
                    parsed.push((key.clone(), Self::parse(field)?));
                }
                JsonTemplate::Object(parsed)
            }
            other => JsonTemplate::Literal(other.clone()),
        })
    }

    /// Its references, in order.
    pub fn references(&self) -> Vec<&Reference> {
        match self {
            JsonTemplate::Literal(_) => Vec::new(),
            JsonTemplate::Text(template) => template.references().collect(),
            JsonTemplate::Array(items) => items.iter().flat_map(JsonTemplate::references).collect(),
            JsonTemplate::Object(fields) => fields.iter().flat_map(|(_, v)| v.references()).collect(),
        }
    }

    /// The JSON with every reference filled in: a string that is one
    /// reference becomes the value it reads, any other is rendered as text.
    pub fn render(&self, values: &Values<'_>) -> Result<Value, String> {
        match self {
            JsonTemplate::Literal(value) => Ok(value.clone()),
            JsonTemplate::Text(template) => match template.sole() {
                Some(reference) => values.resolve(reference).cloned(),
                None => template.render(values).map(Value::String),
            },
            JsonTemplate::Array(items) => {
                let rendered: Result<Vec<Value>, String> = items.iter().map(|item| item.render(values)).collect();
                rendered.map(Value::Array)
            }
            JsonTemplate::Object(fields) => {
                let mut object = Map::new();
                for (key, value) in fields {
                    object.insert(key.clone(), value.render(values)?);
                }
                Ok(Value::Object(object))
            }
        }
    }
}

/// What references read: a run's inputs and the results of the nodes
/// that ran before (`{node, type, output, text, …}` by node id).
#[derive(Debug, Clone, Copy)]
pub struct Values<'a> {
    /// The run's inputs.
    pub inputs: &'a Map<String, Value>,
    /// Node results by node id.
    pub nodes: &'a BTreeMap<String, Value>,
}

impl Values<'_> {
    /// The value `reference` reads, or why there is none.
    pub fn resolve(&self, reference: &Reference) -> Result<&Value, String> {
        let root = match &reference.source {
            Source::Input(name) => self.inputs.get(name),
            Source::Node { id, field } => {
                let key = match field {
                    Field::Output => "output",
                    Field::Text => "text",
                };
                self.nodes.get(id).and_then(|result| result.get(key))
            }
        };
        let mut value = root.ok_or_else(|| format!("`{}` has no value", reference.shown()))?;
        for segment in &reference.path {
            value = step(value, segment)
                .ok_or_else(|| format!("`{}` has no value: there is nothing at `{segment}`", reference.shown()))?;
        }
        Ok(value)
    }
}

/// One step of a path: an object's field, or an array's item by index.
pub fn step<'v>(value: &'v Value, segment: &str) -> Option<&'v Value> {
    match value {
        Value::Object(fields) => fields.get(segment),
        Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    }
}

/// A value in rendered text: a string as it is, null as nothing, anything
/// else as compact JSON.
pub fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parsed(text: &str) -> Template {
        Template::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn references_are_parsed_with_their_paths() {
        let template = parsed("Q: {{ inputs.question }} / {{nodes.find.output.passages.0.text}} / {{nodes.a.text}}");
        let refs: Vec<&Reference> = template.references().collect();
        assert_eq!(refs.len(), 3);
        assert_eq!(refs[0].source, Source::Input("question".into()));
        assert_eq!(refs[1].source, Source::Node { id: "find".into(), field: Field::Output });
        assert_eq!(refs[1].path, vec!["passages".to_owned(), "0".to_owned(), "text".to_owned()]);
        assert_eq!(refs[2].source, Source::Node { id: "a".into(), field: Field::Text });
        assert_eq!(refs[0].shown(), "{{inputs.question}}");
    }

    #[test]
    fn malformed_templates_are_refused() {
        let refused =
            ["{{", "a {{inputs.x", "{{}}", "{{x}}", "{{nodes.a}}", "{{nodes.a.body}}", "{{inputs..x}}", "{{inputs}}"];
        for bad in refused {
            assert!(Template::parse(bad).is_err(), "{bad} was accepted");
        }
        assert!(parsed("no references at all, } and { alone").references().next().is_none());
    }

    #[test]
    fn rendering_reads_values_and_fails_on_missing_ones() {
        let inputs = json!({ "topic": "returns", "n": 3 }).as_object().cloned().unwrap_or_default();
        let mut nodes = BTreeMap::new();
        nodes.insert(
            "find".to_owned(),
            json!({ "output": { "passages": [{ "text": "Thirty days." }] }, "text": "Thirty days." }),
        );
        let values = Values { inputs: &inputs, nodes: &nodes };
        let rendered = parsed("{{inputs.topic}} ({{inputs.n}}): {{nodes.find.output.passages.0.text}}").render(&values);
        assert_eq!(rendered, Ok("returns (3): Thirty days.".to_owned()));
        assert!(parsed("{{nodes.find.output.passages.1.text}}").render(&values).is_err());
        assert!(parsed("{{inputs.missing}}").render(&values).is_err());

        let input = json!({ "count": "{{inputs.n}}", "label": "n = {{inputs.n}}", "fixed": [1, "two"] });
        let template = JsonTemplate::parse(&input).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(template.references().len(), 2);
        let rendered = template.render(&values).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rendered, json!({ "count": 3, "label": "n = 3", "fixed": [1, "two"] }));
    }
}
