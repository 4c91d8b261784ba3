//! The requested cost of an Admin API query, by Shopify's documented rules,
//! computed before sending so that page sizes keep a query under the
//! 1,000-point single-query limit (`MAX_COST_EXCEEDED`):
//!
//! - a scalar or enum field costs 0, an object field 1;
//! - a connection (a field with `first:`) costs 2 plus `first` times the cost
//!   of one node's selection; a list with `first:` costs `first` times it;
//! - a mutation costs 10 on top of its selection.
//!
//! The reader knows only braces, names, arguments and fragments (`... on T`
//! counts the dearest type's selection), which is all our documents use. It
//! errs high where Shopify is vaguer (a connection's `pageInfo` is counted
//! per node), so a page it accepts is never refused for its cost.

use serde_json::Value;

/// Shopify's limit for the requested cost of a single query.
pub const MAX_QUERY_COST: f64 = 1000.0;

#[derive(Debug, PartialEq)]
enum Token<'a> {
    Name(&'a str),
    Open,
    Close,
    Args(&'a str),
    Spread,
}

fn tokens(query: &str) -> Vec<Token<'_>> {
    let bytes = query.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => {
                out.push(Token::Open);
                i += 1;
            }
            b'}' => {
                out.push(Token::Close);
                i += 1;
            }
            b'(' => {
                // Arguments may hold strings with parentheses in them.
                let start = i + 1;
                let (mut depth, mut quoted) = (1, false);
                i += 1;
                while i < bytes.len() && depth > 0 {
                    match bytes[i] {
                        b'\\' if quoted => i += 1,
                        b'"' => quoted = !quoted,
                        b'(' if !quoted => depth += 1,
                        b')' if !quoted => depth -= 1,
                        _ => {}
                    }
                    i += 1;
                }
                out.push(Token::Args(&query[start..i.saturating_sub(1).max(start)]));
            }
            b'.' if query[i..].starts_with("...") => {
                out.push(Token::Spread);
                i += 3;
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'$' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'$') {
                    i += 1;
                }
                out.push(Token::Name(&query[start..i]));
            }
            _ => i += 1,
        }
    }
    out
}

/// `first: 50` or `first: $first` (looked up in `variables`).
fn first_of(args: &str, variables: &Value) -> Option<f64> {
    let rest = args.split("first:").nth(1)?.trim_start();
    let word: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '$' || *c == '_').collect();
    match word.strip_prefix('$') {
        Some(name) => variables.get(name).and_then(Value::as_f64),
        None => word.parse().ok(),
    }
}

/// Cost of the selection set starting after an `Open` at `*at`; leaves `*at`
/// after its `Close`.
fn selection(tokens: &[Token<'_>], at: &mut usize, variables: &Value) -> f64 {
    let mut total = 0.0;
    let mut fragments: Vec<f64> = Vec::new();
    while *at < tokens.len() {
        match tokens[*at] {
            Token::Close => {
                *at += 1;
                break;
            }
            Token::Spread => {
                // `... on Type { … }`: the dearest alternative counts.
                *at += 1;
                while *at < tokens.len() && tokens[*at] != Token::Open {
                    *at += 1;
                }
                *at += 1;
                fragments.push(selection(tokens, at, variables));
            }
            Token::Name(_) => {
                *at += 1;
                let mut first = None;
                if let Some(Token::Args(args)) = tokens.get(*at) {
                    first = first_of(args, variables);
                    *at += 1;
                }
                if tokens.get(*at) == Some(&Token::Open) {
                    *at += 1;
                    let inner = selection(tokens, at, variables);
                    total += match first {
                        // One node costs at least its object's point.
                        Some(n) => 2.0 + n * inner.max(1.0),
                        None => 1.0 + inner,
                    };
                }
            }
            _ => *at += 1,
        }
    }
    total + fragments.into_iter().fold(0.0, f64::max)
}

/// The requested cost of `query` with `variables`.
pub fn requested_cost(query: &str, variables: &Value) -> f64 {
    let tokens = tokens(query);
    let mut at = 0;
    let mutation = matches!(tokens.first(), Some(Token::Name("mutation")));
    while at < tokens.len() && tokens[at] != Token::Open {
        at += 1;
    }
    at += 1;
    selection(&tokens, &mut at, variables) + if mutation { 10.0 } else { 0.0 }
}

/// The largest `$first` (at most `max`) that keeps `query` within the limit.
pub fn page_size(query: &str, variables: &Value, max: u32) -> u32 {
    let fits = |n: u32| {
        let mut vars = variables.clone();
        vars["first"] = Value::from(n);
        requested_cost(query, &vars) <= MAX_QUERY_COST
    };
    let (mut low, mut high) = (1, max.max(1));
    if fits(high) {
        return high;
    }
    while low < high {
        let mid = (low + high).div_ceil(2);
        if fits(mid) { low = mid } else { high = mid - 1 }
    }
    low
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn costs_follow_shopifys_rules() {
        // 2 + 50 × (a node: one object, its scalars free).
        assert_eq!(requested_cost("{ products(first: 50) { nodes { title } } }", &json!({})), 52.0);
        let nested =
            "query Q($first: Int!) { products(first: $first) { nodes { id variants(first: 10) { nodes { id } } } } }";
        // A product: its object 1 + variants (2 + 10 × 1).
        assert_eq!(requested_cost(nested, &json!({ "first": 5 })), 2.0 + 5.0 * (1.0 + 12.0));
        assert_eq!(requested_cost("mutation M { productUpdate(product: {}) { product { id } } }", &json!({})), 12.0);
        let strings = r#"{ orders(first: 2, query: "note:(a {b})") { nodes { id } } }"#;
        assert_eq!(requested_cost(strings, &json!({})), 4.0);
    }

    #[test]
    fn page_size_keeps_under_the_limit() {
        let q = "query Q($first: Int!) { orders(first: $first) { nodes { id lineItems(first: 50) { nodes { quantity } } } } }";
        let n = page_size(q, &json!({}), 250);
        assert!(requested_cost(q, &json!({ "first": n })) <= MAX_QUERY_COST);
        assert!(requested_cost(q, &json!({ "first": n + 1 })) > MAX_QUERY_COST);
    }
}
