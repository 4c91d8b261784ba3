//! Re-nesting bulk operation output. Since API 2026-01 `groupObjects`
//! defaults to false: a child line (`__parentId`) may come before its parent
//! or far from it. Lines are indexed first and attached second, so order
//! never matters; a child whose parent is nowhere in the file is an error,
//! never a silent drop.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::store::StoreError;

/// The connection a child line belongs to, by its `__typename`.
fn connection_of(typename: &str) -> Option<&'static str> {
    Some(match typename {
        "LineItem" => "lineItems",
        "ShippingLine" => "shippingLines",
        "RefundLineItem" => "refundLineItems",
        "RefundShippingLine" => "refundShippingLines",
        "ProductVariant" => "variants",
        t if t.ends_with("Application") && t.contains("Discount") => "discountApplications",
        _ => return None,
    })
}

/// Where an object that can have children sits: a top-level line, or one
/// of the refunds (a list, inline) of a top-level line.
#[derive(Clone, Copy)]
enum Slot {
    Root(usize),
    Refund(usize, usize),
}

/// Top-level objects with their children nested back as `{ nodes: [...] }`.
pub fn assemble(lines: Vec<Value>) -> Result<Vec<Value>, StoreError> {
    let (mut roots, mut children) = (Vec::new(), Vec::new());
    for line in lines {
        if line.get("__parentId").is_some() { children.push(line) } else { roots.push(line) }
    }
    let mut index: HashMap<String, Slot> = HashMap::new();
    for (i, root) in roots.iter().enumerate() {
        if let Some(id) = root.get("id").and_then(Value::as_str) {
            index.insert(id.to_owned(), Slot::Root(i));
        }
        for (j, refund) in root.get("refunds").and_then(Value::as_array).into_iter().flatten().enumerate() {
            if let Some(id) = refund.get("id").and_then(Value::as_str) {
                index.insert(id.to_owned(), Slot::Refund(i, j));
            }
        }
    }
    for mut child in children {
        let parent = child.get("__parentId").and_then(Value::as_str).unwrap_or_default().to_owned();
        let slot = index
            .get(&parent)
            .copied()
            .ok_or_else(|| StoreError::Rejected(format!("bulk output has a line whose parent {parent} is missing")))?;
        let typename = child.get("__typename").and_then(Value::as_str).unwrap_or_default();
        let field = connection_of(typename)
            .ok_or_else(|| StoreError::Rejected(format!("bulk output has an unexpected {typename:?} line")))?;
        if let Some(obj) = child.as_object_mut() {
            obj.remove("__parentId");
        }
        let target = match slot {
            Slot::Root(i) => &mut roots[i],
            Slot::Refund(i, j) => &mut roots[i]["refunds"][j],
        };
        let nodes = &mut target[field]["nodes"];
        if !nodes.is_array() {
            *nodes = json!([]);
        }
        if let Some(list) = nodes.as_array_mut() {
            list.push(child);
        }
    }
    Ok(roots)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn line(parent: &str, typename: &str, quantity: i64) -> Value {
        json!({ "__parentId": parent, "__typename": typename, "quantity": quantity })
    }

    #[test]
    fn children_before_and_far_from_their_parents_are_nested_back() {
        let lines = vec![
            line("gid://shopify/Order/2", "LineItem", 5),
            line("gid://shopify/Refund/9", "RefundLineItem", 1),
            json!({ "id": "gid://shopify/Order/1" }),
            line("gid://shopify/Order/1", "LineItem", 1),
            json!({ "id": "gid://shopify/Order/2", "refunds": [{ "id": "gid://shopify/Refund/9" }] }),
            line("gid://shopify/Order/1", "LineItem", 2),
            json!({ "__parentId": "gid://shopify/Order/2", "__typename": "DiscountCodeApplication", "code": "A" }),
        ];
        let orders = assemble(lines).unwrap();
        assert_eq!(orders.len(), 2);
        assert_eq!(orders[0]["lineItems"]["nodes"].as_array().map(Vec::len), Some(2));
        assert_eq!(orders[1]["lineItems"]["nodes"][0]["quantity"], json!(5));
        assert_eq!(orders[1]["refunds"][0]["refundLineItems"]["nodes"][0]["quantity"], json!(1));
        assert_eq!(orders[1]["discountApplications"]["nodes"][0]["code"], json!("A"));
    }

    #[test]
    fn an_orphan_line_is_an_error() {
        let lines = vec![json!({ "id": "gid://shopify/Order/1" }), line("gid://shopify/Order/7", "LineItem", 1)];
        assert!(assemble(lines).is_err());
    }
}
