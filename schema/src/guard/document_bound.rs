//! How big a document is once its fragments are expanded, computed without
//! expanding them.
//!
//! A fragment that spreads the next one three times, ten deep, is a few
//! hundred bytes of text and 3^10 paths: every walk that follows spreads path
//! by path (async-graphql's recursion-depth check, its validation visitors,
//! its complexity and depth counts, execution) pays for all of them. So each
//! fragment definition is walked once: what it expands to (selections and
//! aliases, with multiplicity, in saturating arithmetic) is remembered, and a
//! spread adds the remembered total. A fragment met again while it is still
//! being walked is a cycle, refused here because the walks after this one
//! would not end. Directives are counted per location on the same pass. The
//! whole check is linear in the text, which `max_tokens` bounds first.

use std::collections::HashMap;

use async_graphql::parser::types::{Directive, ExecutableDocument, FragmentDefinition, Selection, SelectionSet};
use async_graphql::{Name, Pos, Positioned, ServerError};

use super::tokens;
use crate::QueryLimits;

/// Brackets nested deeper than this are refused before parsing: the parser
/// recurses once per level (and refuses selection sets past 64 itself, but
/// only after descending), and no real document comes close.
const MAX_BRACKET_NESTING: usize = 128;

/// Limits on a document's text and shape, checked before async-graphql
/// parses the text (tokens) or walks the document (everything else).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DocumentLimits {
    /// Lexical tokens in the query text.
    pub(crate) max_tokens: usize,
    /// Selections (fields, fragment spreads, inline fragments) of all
    /// operations, counted as expanded.
    pub(crate) max_selections: usize,
    /// Aliases of all operations, counted as expanded.
    pub(crate) max_aliases: usize,
    /// Directives at any one location.
    pub(crate) max_directives: usize,
    /// Selection sets and fragment spreads nested along one path: the bound
    /// async-graphql's own recursion-depth check applies, so that check (and
    /// this walk) never recurses deeper than it.
    pub(crate) max_nesting: usize,
}

impl From<&QueryLimits> for DocumentLimits {
    fn from(limits: &QueryLimits) -> Self {
        Self {
            max_tokens: limits.max_tokens,
            max_selections: limits.max_selections,
            max_aliases: limits.max_aliases,
            max_directives: limits.max_directives,
            max_nesting: limits.recursive_depth(),
        }
    }
}

/// What a selection set or fragment expands to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Expansion {
    selections: usize,
    aliases: usize,
}

impl Expansion {
    fn add(self, other: Expansion) -> Self {
        Self {
            selections: self.selections.saturating_add(other.selections),
            aliases: self.aliases.saturating_add(other.aliases),
        }
    }
}

/// A fragment being walked (`Open`: met again, it is a cycle) or walked.
enum Visit {
    Open,
    Done(Expansion),
}

impl DocumentLimits {
    /// Refuses a text with more than `max_tokens` tokens or brackets nested
    /// past [`MAX_BRACKET_NESTING`], before anything parses it.
    pub(crate) fn check_text(&self, query: &str) -> Result<(), ServerError> {
        let shape = tokens::measure(query, self.max_tokens);
        if shape.tokens > self.max_tokens {
            let message = format!("query has more tokens than the limit of {} (max_tokens)", self.max_tokens);
            return Err(ServerError::new(message, None));
        }
        if shape.nesting > MAX_BRACKET_NESTING {
            let message = format!("query nests brackets deeper than {MAX_BRACKET_NESTING}");
            return Err(ServerError::new(message, None));
        }
        Ok(())
    }

    /// Refuses a document whose operations expand to more than
    /// `max_selections` selections or `max_aliases` aliases, with more than
    /// `max_directives` directives (or a non-repeatable one twice) at one
    /// location, nested past `max_nesting`, or with a fragment cycle.
    /// `repeatable` says which directives may appear twice at a location,
    /// `None` for a directive the schema does not define (refused: the spec's
    /// "Directives Are Defined", which async-graphql does not check).
    pub(crate) fn check_document(
        &self,
        doc: &ExecutableDocument,
        repeatable: &dyn Fn(&str) -> Option<bool>,
    ) -> Result<(), ServerError> {
        let total = self.expand(doc, repeatable)?;
        if total.selections > self.max_selections {
            let message = format!(
                "query expands to {} selections, more than the limit of {} (max_selections)",
                total.selections, self.max_selections
            );
            return Err(ServerError::new(message, None));
        }
        if total.aliases > self.max_aliases {
            let (aliases, max) = (total.aliases, self.max_aliases);
            let message = format!("query uses {aliases} aliases, more than the limit of {max} (max_aliases)");
            return Err(ServerError::new(message, None));
        }
        Ok(())
    }

    /// What all operations of `doc` expand to, each fragment walked once.
    fn expand(
        &self,
        doc: &ExecutableDocument,
        repeatable: &dyn Fn(&str) -> Option<bool>,
    ) -> Result<Expansion, ServerError> {
        let seen = HashMap::with_capacity(doc.fragments.len());
        let mut walk = Walk { limits: *self, repeatable, fragments: &doc.fragments, seen };
        let mut total = Expansion::default();
        for (_, operation) in doc.operations.iter() {
            walk.directives(&operation.node.directives)?;
            for variable in &operation.node.variable_definitions {
                walk.directives(&variable.node.directives)?;
            }
            total = total.add(walk.selection_set(&operation.node.selection_set.node, 0)?);
        }
        // Fragments no operation spreads are validated all the same: their
        // directives and cycles count too.
        for (name, definition) in &doc.fragments {
            walk.fragment(name.as_str(), definition.pos, 0)?;
        }
        Ok(total)
    }
}

/// One pass over a document.
struct Walk<'d> {
    limits: DocumentLimits,
    repeatable: &'d dyn Fn(&str) -> Option<bool>,
    fragments: &'d HashMap<Name, Positioned<FragmentDefinition>>,
    seen: HashMap<&'d str, Visit>,
}

impl<'d> Walk<'d> {
    fn selection_set(&mut self, set: &'d SelectionSet, depth: usize) -> Result<Expansion, ServerError> {
        if depth > self.limits.max_nesting {
            let message = format!("query nests selections and fragments deeper than {}", self.limits.max_nesting);
            return Err(ServerError::new(message, None));
        }
        let mut total = Expansion::default();
        for item in &set.items {
            let inner = match &item.node {
                Selection::Field(field) => {
                    self.directives(&field.node.directives)?;
                    let alias = Expansion { selections: 0, aliases: usize::from(field.node.alias.is_some()) };
                    let sub = &field.node.selection_set.node;
                    // A leaf is no level deeper: async-graphql counts only fields with a selection set.
                    if sub.items.is_empty() { alias } else { alias.add(self.selection_set(sub, depth + 1)?) }
                }
                Selection::InlineFragment(fragment) => {
                    self.directives(&fragment.node.directives)?;
                    self.selection_set(&fragment.node.selection_set.node, depth + 1)?
                }
                Selection::FragmentSpread(spread) => {
                    self.directives(&spread.node.directives)?;
                    self.fragment(spread.node.fragment_name.node.as_str(), spread.pos, depth + 1)?
                }
            };
            total = total.add(Expansion { selections: 1, aliases: 0 }).add(inner);
        }
        Ok(total)
    }

    /// What fragment `name` expands to, walked the first time only.
    fn fragment(&mut self, name: &'d str, at: Pos, depth: usize) -> Result<Expansion, ServerError> {
        match self.seen.get(name) {
            Some(Visit::Done(expansion)) => return Ok(*expansion),
            Some(Visit::Open) => {
                let message = format!("fragment `{name}` spreads itself (a fragment cycle)");
                return Err(ServerError::new(message, Some(at)));
            }
            None => {}
        }
        let fragments = self.fragments;
        // An unknown fragment adds nothing here; validation names it.
        let Some(definition) = fragments.get(name) else { return Ok(Expansion::default()) };
        self.directives(&definition.node.directives)?;
        self.seen.insert(name, Visit::Open);
        let expansion = self.selection_set(&definition.node.selection_set.node, depth)?;
        self.seen.insert(name, Visit::Done(expansion));
        Ok(expansion)
    }

    /// At most `max_directives` at one location, none non-repeatable twice.
    /// Quadratic in the directives of one location, which the cap keeps few.
    fn directives(&self, directives: &[Positioned<Directive>]) -> Result<(), ServerError> {
        let max = self.limits.max_directives;
        if directives.len() > max {
            let count = directives.len();
            let message = format!("{count} directives at one location, more than the limit of {max} (max_directives)");
            return Err(ServerError::new(message, directives.get(max).map(|d| d.pos)));
        }
        for (i, directive) in directives.iter().enumerate() {
            let name = directive.node.name.node.as_str();
            let before = directives.get(..i).unwrap_or_default();
            let Some(repeatable) = (self.repeatable)(name) else {
                return Err(ServerError::new(format!("unknown directive `@{name}`"), Some(directive.pos)));
            };
            if !repeatable && before.iter().any(|d| d.node.name.node.as_str() == name) {
                let message = format!("directive `@{name}` appears twice at one location");
                return Err(ServerError::new(message, Some(directive.pos)));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

    const LIMITS: DocumentLimits = DocumentLimits {
        max_tokens: 5_000,
        max_selections: 2_000,
        max_aliases: 30,
        max_directives: 3,
        max_nesting: 32,
    };

    fn expand(query: &str) -> Result<Expansion, String> {
        let doc = parse_query(query).map_err(|e| e.to_string())?;
        LIMITS.expand(&doc, &|name: &str| Some(name == "again")).map_err(|e| e.message)
    }

    /// `levels` fragments, each spreading the next `spreads` times; the last
    /// selects `__typename`.
    fn chain(levels: usize, spreads: usize) -> String {
        let mut text = String::from("query { ...F0 }");
        for level in 0..levels {
            let body = if level + 1 == levels {
                "__typename".to_owned()
            } else {
                format!("...F{} ", level + 1).repeat(spreads)
            };
            text.push_str(&format!(" fragment F{level} on Query {{ {body} }}"));
        }
        text
    }

    #[test]
    fn spreads_count_with_multiplicity() {
        assert_eq!(expand("{ me { id } }"), Ok(Expansion { selections: 2, aliases: 0 }));
        // F2 = 1; F1 = 3 × (1 + 1) = 6; F0 = 3 × (1 + 6) = 21; the operation 1 + 21.
        assert_eq!(expand(&chain(3, 3)), Ok(Expansion { selections: 22, aliases: 0 }));
        let aliased = "{ ...A } fragment A on Query { ...B ...B } fragment B on Query { a: x b: x { c: y } }";
        // B = a, b, c: 3 selections, 3 aliases; A = 2 spreads + 2 × B; the operation 1 + A.
        assert_eq!(expand(aliased), Ok(Expansion { selections: 9, aliases: 6 }));
        assert_eq!(expand("{ ... on Query { a } ...Unknown }"), Ok(Expansion { selections: 3, aliases: 0 }));
    }

    #[test]
    fn a_bomb_saturates_at_once() {
        let started = std::time::Instant::now();
        let total = expand(&chain(30, 10)).map(|e| e.selections);
        assert_eq!(total, Ok(usize::MAX));
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
        let doc = parse_query(chain(30, 10)).map_err(|e| e.to_string());
        let refused = doc.map(|doc| LIMITS.check_document(&doc, &|_: &str| Some(false)).map_err(|e| e.message));
        assert!(matches!(&refused, Ok(Err(m)) if m.contains("max_selections")), "{refused:?}");
    }

    #[test]
    fn cycles_are_refused() {
        let two = expand("{ ...A } fragment A on Query { ...B } fragment B on Query { x ...A }");
        assert!(two.as_ref().is_err_and(|m| m.contains("cycle")), "{two:?}");
        let own = expand("{ x } fragment A on Query { ...A ...A }");
        assert!(own.as_ref().is_err_and(|m| m.contains("cycle")), "{own:?}");
    }

    #[test]
    fn directives_are_capped_per_location() {
        assert!(expand("query @a @b @c { x @a @b @c }").is_ok());
        let many = expand("{ x @a @b @c @d }");
        assert!(many.as_ref().is_err_and(|m| m.contains("max_directives")), "{many:?}");
        let on_fragment = expand("{ x } fragment F on Query @a @b @c @d { x }");
        assert!(on_fragment.is_err(), "{on_fragment:?}");
        let twice = expand("{ x @include(if: true) @include(if: true) }");
        assert!(twice.as_ref().is_err_and(|m| m.contains("twice")), "{twice:?}");
        assert!(expand("{ x @again @again }").is_ok());
        let variable = expand("query($v: Int @a @b @c @d) { x }");
        assert!(variable.is_err(), "{variable:?}");
    }

    #[test]
    fn nesting_past_the_bound_is_refused() {
        let deep = format!("{}x{}", "{ a ".repeat(40), " }".repeat(40));
        let refused = expand(&deep);
        assert!(refused.as_ref().is_err_and(|m| m.contains("deeper")), "{refused:?}");
        let shallow = format!("{}x{}", "{ a ".repeat(20), " }".repeat(20));
        assert!(expand(&shallow).is_ok());
    }

    #[test]
    fn text_limits() {
        assert!(LIMITS.check_text("{ me { id } }").is_ok());
        let long = format!("{{ {} }}", "a ".repeat(5_000));
        assert!(LIMITS.check_text(&long).is_err_and(|e| e.message.contains("max_tokens")));
        let nested = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(LIMITS.check_text(&nested).is_err());
    }
}
