//! Step one, the query: the user's words cleaned, and for FTS5 compiled
//! into an expression of quoted strings only, so nothing they type is ever
//! read as FTS5 syntax.
//!
//! The syntax is PostgreSQL's `websearch_to_tsquery`, which PostgreSQL
//! parses itself: words (every one must occur), `"quoted phrases"`, `or`
//! between alternatives, `-word` to exclude. For SQLite the same syntax is
//! parsed here into [`TextQuery`] and rendered with every word or phrase
//! double-quoted (quotes inside doubled), joined by operators of our own
//! making; an unbalanced quote, `*`, `NEAR(`, `:`, `^`, parentheses and the
//! like are just characters inside a string, which the tokenizer drops.
//!
//! On SQLite the expression is then held to one collection (and some of its
//! documents) by [`in_scope`], inside `MATCH` itself: the FTS5 index
//! carries each chunk's collection and document as tokens of a column of
//! their own (migration 000014), so the engine reads only that collection's
//! matches (see `full_text`'s module doc for why).

use uuid::Uuid;

/// Most whitespace-separated pieces of a query that are searched for; the
/// rest are ignored (all words must match, so a longer query finds
/// nothing anyway, and FTS5 expressions stay small).
pub const MAX_TERMS: usize = 64;

/// `raw` with control characters (NUL included, which PostgreSQL text
/// cannot hold) turned into spaces, at most [`MAX_TERMS`] pieces, trimmed.
pub fn clean(raw: &str) -> String {
    let spaced: String = raw.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    spaced.split_whitespace().take(MAX_TERMS).collect::<Vec<_>>().join(" ")
}

/// Whether `text` has something a tokenizer keeps (a letter or digit):
/// punctuation and emoji alone match nothing on either engine.
pub fn has_words(text: &str) -> bool {
    text.chars().any(char::is_alphanumeric)
}

/// A parsed query: alternatives (`or`), any of which matches.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TextQuery {
    /// The alternatives, each all of its included strings and none of its
    /// excluded ones.
    pub alternatives: Vec<Conjunction>,
}

/// Strings that must all occur, and strings that must not.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Conjunction {
    /// Words or phrases that must occur.
    pub include: Vec<String>,
    /// Words or phrases that must not occur.
    pub exclude: Vec<String>,
}

impl TextQuery {
    /// Parses `text` (already [`clean`]ed) the way `websearch_to_tsquery`
    /// reads it. Pieces without a letter or digit are dropped.
    pub fn parse(text: &str) -> Self {
        let mut alternatives = Vec::new();
        let mut current = Conjunction::default();
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c.is_whitespace() {
                i += 1;
                continue;
            }
            let negated = c == '-' && chars.get(i + 1).is_some_and(|next| !next.is_whitespace());
            if negated {
                i += 1;
            }
            let (piece, quoted) = if chars[i] == '"' {
                let start = i + 1;
                let end = chars[start..].iter().position(|&c| c == '"').map_or(chars.len(), |n| start + n);
                i = end + 1;
                (chars[start..end.min(chars.len())].iter().collect::<String>(), true)
            } else {
                let start = i;
                while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '"' {
                    i += 1;
                }
                (chars[start..i].iter().collect::<String>(), false)
            };
            if !quoted && !negated && piece.eq_ignore_ascii_case("or") {
                if !current.include.is_empty() || !current.exclude.is_empty() {
                    alternatives.push(std::mem::take(&mut current));
                }
                continue;
            }
            if !has_words(&piece) {
                continue;
            }
            if negated { current.exclude.push(piece) } else { current.include.push(piece) }
        }
        if !current.include.is_empty() || !current.exclude.is_empty() {
            alternatives.push(current);
        }
        Self { alternatives }
    }

    /// The FTS5 expression, or `None` when nothing can match (no words, or
    /// only exclusions: "everything but" is not a search).
    pub fn to_fts5(&self) -> Option<String> {
        let rendered: Vec<String> = self
            .alternatives
            .iter()
            .filter(|a| !a.include.is_empty())
            .map(|a| {
                let include = a.include.iter().map(|s| quote(s)).collect::<Vec<_>>().join(" AND ");
                if a.exclude.is_empty() {
                    format!("({include})")
                } else {
                    let exclude = a.exclude.iter().map(|s| quote(s)).collect::<Vec<_>>().join(" OR ");
                    format!("(({include}) NOT ({exclude}))")
                }
            })
            .collect();
        (!rendered.is_empty()).then(|| rendered.join(" OR "))
    }
}

/// An FTS5 string: in double quotes, each quote inside doubled.
pub fn quote(piece: &str) -> String {
    format!("\"{}\"", piece.replace('"', "\"\""))
}

/// A collection's token in the FTS5 `scope` column: `c` and its 32 hex
/// digits. Migration 000014 writes `'c' || hex(collection_id)`, the hex of
/// the 16 bytes sqlx binds a `Uuid` as; the tokenizer folds its case.
pub fn collection_token(id: Uuid) -> String {
    format!("c{}", id.simple())
}

/// A document's token in the FTS5 `scope` column: `d` and its 32 hex digits.
pub fn document_token(id: Uuid) -> String {
    format!("d{}", id.simple())
}

/// `expression` (from [`TextQuery::to_fts5`]) held to the chunks of
/// `collection_id`, and of `document_ids` when given, for FTS5's `MATCH`:
/// the scope's tokens in the `scope` column, the user's strings in `text`
/// only (so a word that happens to be a collection's token matches nothing).
/// `None` when `document_ids` is empty: nothing can match.
pub fn in_scope(expression: &str, collection_id: Uuid, document_ids: Option<&[Uuid]>) -> Option<String> {
    let mut scope = format!("scope : {}", quote(&collection_token(collection_id)));
    if let Some(ids) = document_ids {
        if ids.is_empty() {
            return None;
        }
        let any: Vec<String> = ids.iter().map(|id| quote(&document_token(*id))).collect();
        scope.push_str(&format!(" AND scope : ({})", any.join(" OR ")));
    }
    Some(format!("{scope} AND text : ({expression})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fts(text: &str) -> Option<String> {
        TextQuery::parse(&clean(text)).to_fts5()
    }

    #[test]
    fn words_are_all_required_and_quoted() {
        assert_eq!(fts("return policy").as_deref(), Some(r#"("return" AND "policy")"#));
        assert_eq!(fts("  within\t30\ndays ").as_deref(), Some(r#"("within" AND "30" AND "days")"#));
    }

    #[test]
    fn websearch_syntax_becomes_our_own_operators() {
        assert_eq!(fts(r#""free of charge" exchange"#).as_deref(), Some(r#"("free of charge" AND "exchange")"#));
        assert_eq!(fts("refund or exchange").as_deref(), Some(r#"("refund") OR ("exchange")"#));
        assert_eq!(fts("returns -sale").as_deref(), Some(r#"(("returns") NOT ("sale"))"#));
        assert_eq!(fts("-sale"), None);
    }

    #[test]
    fn hostile_input_stays_inside_strings() {
        for hostile in [
            "\"",
            "\"\"\"",
            "*",
            "NEAR(a b",
            "a OR",
            "OR OR OR",
            "- -- -",
            "col:umn",
            "(((",
            ")",
            "^start",
            "a AND NOT b",
            "!@#$%^&*()_+",
            "🙂🙃",
            "\u{0}",
        ] {
            let expression = fts(hostile);
            if let Some(expression) = &expression {
                // Outside the quoted strings only our own operators and parentheses remain.
                let mut outside = String::new();
                let mut inside = false;
                let chars: Vec<char> = expression.chars().collect();
                let mut i = 0;
                while i < chars.len() {
                    if chars[i] == '"' {
                        if inside && chars.get(i + 1) == Some(&'"') {
                            i += 2;
                            continue;
                        }
                        inside = !inside;
                    } else if !inside {
                        outside.push(chars[i]);
                    }
                    i += 1;
                }
                assert!(!inside, "{hostile:?} left a string open: {expression}");
                let words: Vec<&str> = outside
                    .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
                    .filter(|w| !w.is_empty())
                    .collect();
                assert!(words.iter().all(|w| ["AND", "OR", "NOT"].contains(w)), "{hostile:?}: {expression}");
            }
        }
        assert_eq!(fts("*"), None);
        assert_eq!(fts("🙂🙃"), None);
        assert_eq!(fts(r#"say "hi"#).as_deref(), Some(r#"("say" AND "hi")"#));
        assert_eq!(fts("NEAR(a").as_deref(), Some(r#"("NEAR(a")"#));
        assert_eq!(quote(r#"a"b"#), r#""a""b""#);
    }

    #[test]
    fn the_scope_is_part_of_the_match() {
        let collection = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let documents = [Uuid::from_u128(1), Uuid::from_u128(0xff)];
        assert_eq!(collection_token(collection), "c0123456789abcdef0123456789abcdef");
        assert_eq!(document_token(documents[1]), "d000000000000000000000000000000ff");
        let expression = fts("returns -sale").unwrap_or_default();
        assert_eq!(
            in_scope(&expression, collection, None).as_deref(),
            Some(r#"scope : "c0123456789abcdef0123456789abcdef" AND text : ((("returns") NOT ("sale")))"#)
        );
        assert_eq!(
            in_scope(r#"("a")"#, collection, Some(documents.as_slice())).as_deref(),
            Some(concat!(
                r#"scope : "c0123456789abcdef0123456789abcdef" AND "#,
                r#"scope : ("d00000000000000000000000000000001" OR "d000000000000000000000000000000ff") AND "#,
                r#"text : (("a"))"#,
            ))
        );
        assert_eq!(in_scope(r#"("a")"#, collection, Some(&[] as &[Uuid])), None);
    }

    #[test]
    fn cleaning_drops_controls_and_caps_the_terms() {
        assert_eq!(clean("a\u{0}b\u{7}c"), "a b c");
        let long = "w ".repeat(500);
        assert_eq!(clean(&long).split(' ').count(), MAX_TERMS);
    }
}
