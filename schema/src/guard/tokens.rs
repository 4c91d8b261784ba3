//! A lexical token count of a GraphQL text, taken before it is parsed (as
//! graphql-armor's `maxTokens`): one pass over the bytes, no allocation, and
//! it stops just past the cap, so a huge or hostile text costs no more than
//! reading the part of it that matters.

/// What a text looks like to the lexer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TextShape {
    /// Lexical tokens, at most `cap + 1` (counting stops there).
    pub(crate) tokens: usize,
    /// Deepest nesting of `{`, `(` and `[` seen while counting.
    pub(crate) nesting: usize,
}

/// The UTF-8 byte-order mark, which GraphQL ignores like whitespace.
const BOM: &[u8] = &[0xEF, 0xBB, 0xBF];

/// Counts the tokens of `text`, stopping once there are more than `cap`.
/// Whitespace, commas, comments and the byte-order mark are ignored as the
/// GraphQL lexer ignores them; a name, a number, a string or block string and
/// each punctuator (`...` included) is one token. A character that is none of
/// these counts as one token too: the parser refuses it later, and counting
/// it keeps the pass linear whatever the input.
pub(crate) fn measure(text: &str, cap: usize) -> TextShape {
    let bytes = text.as_bytes();
    let mut shape = TextShape { tokens: 0, nesting: 0 };
    let mut depth = 0usize;
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        if shape.tokens > cap {
            break;
        }
        let rest = bytes.get(at..).unwrap_or_default();
        let (next, token) = match byte {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => (at + 1, false),
            0xEF if rest.starts_with(BOM) => (at + BOM.len(), false),
            b'#' => (skip_while(bytes, at + 1, |b| b != b'\n' && b != b'\r'), false),
            b'"' => (end_of_string(bytes, at), true),
            b'.' if rest.starts_with(b"...") => (at + 3, true),
            b'{' | b'(' | b'[' => {
                depth += 1;
                shape.nesting = shape.nesting.max(depth);
                (at + 1, true)
            }
            b'}' | b')' | b']' => {
                depth = depth.saturating_sub(1);
                (at + 1, true)
            }
            b'_' | b'a'..=b'z' | b'A'..=b'Z' => {
                (skip_while(bytes, at + 1, |b| b == b'_' || b.is_ascii_alphanumeric()), true)
            }
            // Loose on purpose: `-1.5e+3` is one token, and so is a malformed
            // number the parser will refuse anyway.
            b'-' | b'0'..=b'9' => {
                (skip_while(bytes, at + 1, |b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-')), true)
            }
            // One character of another script (its continuation bytes skipped).
            0x80.. => (skip_while(bytes, at + 1, |b| b & 0xC0 == 0x80), true),
            _ => (at + 1, true),
        };
        at = next;
        shape.tokens += usize::from(token);
    }
    shape
}

/// The first position at or after `at` whose byte `keep` refuses (or the end).
fn skip_while(bytes: &[u8], mut at: usize, keep: impl Fn(u8) -> bool) -> usize {
    while bytes.get(at).is_some_and(|&b| keep(b)) {
        at += 1;
    }
    at
}

/// Just past the string or block string opening at `at`. An unterminated
/// string ends at its line (a block string at the end of the text): the
/// parser reports it, the count only has to move on.
fn end_of_string(bytes: &[u8], at: usize) -> usize {
    let rest = |i: usize| bytes.get(i..).unwrap_or_default();
    if rest(at).starts_with(b"\"\"\"") {
        let mut i = at + 3;
        while i < bytes.len() {
            if rest(i).starts_with(b"\\\"\"\"") {
                i += 4;
            } else if rest(i).starts_with(b"\"\"\"") {
                return i + 3;
            } else {
                i += 1;
            }
        }
        return bytes.len();
    }
    let mut i = at + 1;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'\\' => i += 2,
            b'"' => return i + 1,
            b'\n' | b'\r' => return i,
            _ => i += 1,
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> usize {
        measure(text, usize::MAX - 1).tokens
    }

    #[test]
    fn names_and_punctuators_are_tokens() {
        assert_eq!(tokens("{ me { id } }"), 6);
        assert_eq!(tokens("query Q($a: Int! = 3) @x { f(a: $a) }"), 22);
        assert_eq!(tokens("{ ...F ... on Query { a } }"), 10);
    }

    #[test]
    fn whitespace_commas_comments_and_the_bom_are_not() {
        assert_eq!(tokens("\u{feff}{ a,,, b }   # { { { comment\n\t"), 4);
        assert_eq!(tokens("# only a comment"), 0);
        assert_eq!(tokens(""), 0);
    }

    #[test]
    fn strings_and_numbers_are_one_token_each() {
        assert_eq!(tokens(r#"{ f(a: "x \" } y", b: """ block \""" still "" { """) }"#), 11);
        assert_eq!(tokens("{ f(a: -1.5e+3, b: 42, c: \"\") }"), 14);
        assert_eq!(tokens("{ f(a: \"é ü\") }"), 8);
    }

    #[test]
    fn unterminated_strings_and_odd_bytes_end() {
        assert_eq!(tokens("\"abc"), 1);
        assert_eq!(tokens("\"abc\n}"), 2);
        assert_eq!(tokens("\"\"\"abc"), 1);
        assert_eq!(tokens("\"\\"), 1);
        assert_eq!(tokens("é ß ∑ ."), 4);
    }

    #[test]
    fn counting_stops_past_the_cap() {
        let text = "a ".repeat(10_000);
        assert_eq!(measure(&text, 10).tokens, 11);
        assert_eq!(measure("a a", 10).tokens, 2);
    }

    #[test]
    fn nesting_is_the_deepest_bracket() {
        assert_eq!(measure("{ a { b(x: [[1]]) } }", 100).nesting, 5);
        assert_eq!(measure("}}}{", 100).nesting, 1);
    }
}
