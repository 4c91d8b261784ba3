//! The GraphQL document limits on any text (the input, as UTF-8 with invalid
//! bytes replaced), under the shipped defaults. They must never panic or
//! stall (run with `-timeout`), and they must hold to what they promise,
//! checked against a naive expansion that follows every fragment spread path
//! by path, as async-graphql's own walks and execution do:
//!
//! - let through: the document expands to at most `max_selections`
//!   selections (fields, fragment spreads and inline fragments, each counted
//!   once per path it is reached by) and at most `max_aliases` aliases;
//! - refused for its selections: it expands to more (the bound counts
//!   exactly, memoised per fragment, so the two must agree);
//! - refused for its aliases: its selections are within the limit and its
//!   aliases are not.
//!
//! The naive count stops one past `max_selections`, so a fragment bomb costs
//! it no more than a small document. Nesting is not compared: the bound
//! checks a fragment at the depth where it is first met and remembers its
//! expansion, so a deeper spread of it can nest past `max_nesting`;
//! async-graphql's recursion-depth check refuses that itself, on a document
//! already bounded in selections.

#![no_main]

use std::slice::Iter;

use alatar_schema::{check_document_limits, QueryLimits};
use async_graphql::parser::parse_query;
use async_graphql::parser::types::{ExecutableDocument, Selection};
use async_graphql::Positioned;
use libfuzzer_sys::fuzz_target;

/// The `graphql.*` defaults (`server/src/config.rs`).
const LIMITS: QueryLimits = QueryLimits {
    max_depth: 12,
    max_complexity: 1000,
    max_aliases: 30,
    max_tokens: 5_000,
    max_selections: 2_000,
    max_directives: 10,
    max_errors: 100,
    operation_timeout: None,
    introspection: true,
    suggestions: true,
};

/// What the operations of a document expand to, counted path by path.
struct Naive {
    selections: usize,
    aliases: usize,
    /// Counting stopped past the cap: `selections` is the cap plus one and
    /// `aliases` a lower bound.
    capped: bool,
}

/// Expands every operation of `doc`, following each spread into its
/// fragment (an unknown fragment adds nothing past the spread itself), and
/// stops once past `cap` selections. Iterative, so a deep expansion does not
/// deepen the stack; every step counts a selection, so even a fragment cycle
/// ends at the cap.
fn expand_naively(doc: &ExecutableDocument, cap: usize) -> Naive {
    let mut naive = Naive { selections: 0, aliases: 0, capped: false };
    let mut stack: Vec<Iter<'_, Positioned<Selection>>> =
        doc.operations.iter().map(|(_, operation)| operation.node.selection_set.node.items.iter()).collect();
    while let Some(top) = stack.last_mut() {
        let Some(item) = top.next() else {
            stack.pop();
            continue;
        };
        naive.selections += 1;
        if naive.selections > cap {
            naive.capped = true;
            break;
        }
        let inner = match &item.node {
            Selection::Field(field) => {
                naive.aliases += usize::from(field.node.alias.is_some());
                Some(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => Some(&fragment.node.selection_set.node),
            Selection::FragmentSpread(spread) => {
                doc.fragments.get(&spread.node.fragment_name.node).map(|definition| &definition.node.selection_set.node)
            }
        };
        if let Some(set) = inner {
            stack.push(set.items.iter());
        }
    }
    naive
}

fuzz_target!(|data: &[u8]| {
    let query = String::from_utf8_lossy(data);
    let verdict = check_document_limits(&query, &LIMITS);
    // The two refusals the naive count can judge; their messages are the
    // bound's own (`schema/src/guard/document_bound.rs`).
    let for_selections = verdict.as_ref().is_err_and(|m| m.starts_with("query expands to "));
    let for_aliases = verdict.as_ref().is_err_and(|m| m.starts_with("query uses "));
    if verdict.is_err() && !for_selections && !for_aliases {
        return;
    }
    // Parsed only past the text check, as the guard parses it.
    let doc = match parse_query(&*query) {
        Ok(doc) => doc,
        Err(error) => panic!("past the limits' parse, yet it does not parse: {error}"),
    };
    let naive = expand_naively(&doc, LIMITS.max_selections);
    let (selections, aliases) = (naive.selections, naive.aliases);
    match &verdict {
        Ok(()) => {
            assert!(!naive.capped, "let through, yet it expands to more than {} selections", LIMITS.max_selections);
            assert!(aliases <= LIMITS.max_aliases, "let through, yet it expands to {aliases} aliases");
        }
        Err(message) if for_selections => {
            assert!(naive.capped, "refused ({message}), yet it expands to {selections} selections");
        }
        Err(message) => {
            assert!(!naive.capped, "refused ({message}), yet it expands past {} selections", LIMITS.max_selections);
            assert!(aliases > LIMITS.max_aliases, "refused ({message}), yet it expands to {aliases} aliases");
        }
    }
});
