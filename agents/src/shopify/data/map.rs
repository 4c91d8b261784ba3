//! Admin API answers → the `StoreData` domain. Money arrives as decimal
//! strings and becomes exact cents.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::shopify::gid_number;
use crate::store::{
    Customer, Order, OrderDiscount, OrderLine, OrderStatus, Product, ProductStatus, Refund, RefundLine, Variant,
};

/// `"12.50"` → 1250. Shopify sends decimal strings; floats would drift.
pub(crate) fn cents(amount: Option<&Value>) -> i64 {
    let Some(text) = amount.and_then(|v| v.as_str().map(str::to_owned).or_else(|| v.as_f64().map(|f| f.to_string())))
    else {
        return 0;
    };
    let negative = text.starts_with('-');
    let text = text.trim_start_matches('-');
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let whole: i64 = whole.parse().unwrap_or(0);
    let mut digits = frac.chars().chain(std::iter::repeat('0'));
    let d1 = digits.next().and_then(|c| c.to_digit(10)).unwrap_or(0) as i64;
    let d2 = digits.next().and_then(|c| c.to_digit(10)).unwrap_or(0) as i64;
    let round = i64::from(digits.next().and_then(|c| c.to_digit(10)).unwrap_or(0) >= 5);
    let value = whole * 100 + d1 * 10 + d2 + round;
    if negative { -value } else { value }
}

fn money(node: &Value, field: &str) -> i64 {
    cents(node.pointer(&format!("/{field}/shopMoney/amount")))
}

fn id_of(node: &Value, pointer: &str) -> u64 {
    node.pointer(pointer).and_then(Value::as_str).and_then(gid_number).unwrap_or(0)
}

/// The `nodes` of a connection field (paged or re-nested bulk shape).
pub(crate) fn nodes_of<'a>(node: &'a Value, field: &str) -> &'a [Value] {
    node.pointer(&format!("/{field}/nodes")).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

fn list<'a>(node: &'a Value, field: &str) -> &'a [Value] {
    node.get(field).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

fn tax_of(node: &Value) -> i64 {
    list(node, "taxLines").iter().map(|t| money(t, "priceSet")).sum()
}

/// An order, or `None` for a test order (Shopify's reports leave those out)
/// or an unreadable one.
pub(crate) fn order(node: &Value) -> Option<Order> {
    if node.get("test").and_then(Value::as_bool) == Some(true) {
        return None;
    }
    let set = |field: &str| node.get(field).is_some_and(|c| !c.is_null());
    let status = if set("cancelledAt") {
        OrderStatus::Cancelled
    } else if set("closedAt") {
        OrderStatus::Closed
    } else {
        OrderStatus::Open
    };
    let created_at: DateTime<Utc> = node.get("createdAt")?.as_str()?.parse().ok()?;
    let mut allocated: HashMap<i64, i64> = HashMap::new();
    let lines = nodes_of(node, "lineItems")
        .iter()
        .map(|l| {
            let mut discount = 0;
            for a in list(l, "discountAllocations") {
                let amount = money(a, "allocatedAmountSet");
                let index = a.pointer("/discountApplication/index").and_then(Value::as_i64).unwrap_or(-1);
                *allocated.entry(index).or_default() += amount;
                discount += amount;
            }
            OrderLine {
                product_id: id_of(l, "/product/id"),
                variant_id: id_of(l, "/variant/id"),
                quantity: l.get("quantity").and_then(Value::as_i64).unwrap_or(0),
                unit_price_cents: money(l, "originalUnitPriceSet"),
                discount_cents: discount,
                tax_cents: tax_of(l),
            }
        })
        .collect();
    let discounts = nodes_of(node, "discountApplications")
        .iter()
        .filter_map(|d| {
            let index = d.get("index").and_then(Value::as_i64).unwrap_or(-1);
            let code = d.get("code").and_then(Value::as_str).map(str::to_owned);
            let title = d.get("title").and_then(Value::as_str).map(str::to_owned).or_else(|| code.clone())?;
            // Applications on shipping allocate nothing to lines: their
            // effect is already in the shipping price.
            let amount_cents = allocated.get(&index).copied().unwrap_or(0);
            (amount_cents != 0 || code.is_some()).then_some(OrderDiscount { code, title, amount_cents })
        })
        .collect();
    // Paged reads list every shipping line; bulk reads the first (a bulk
    // query may hold only five connections).
    let single = node.get("shippingLine").filter(|s| !s.is_null()).cloned().into_iter().collect::<Vec<_>>();
    let shipping =
        if node.get("shippingLines").is_some() { nodes_of(node, "shippingLines") } else { single.as_slice() };
    let refunds = list(node, "refunds").iter().filter_map(refund).collect();
    Some(Order {
        id: id_of(node, "/id"),
        created_at,
        customer_id: node.pointer("/customer/id").and_then(Value::as_str).and_then(gid_number),
        lines,
        discounts,
        taxes_included: node.get("taxesIncluded").and_then(Value::as_bool).unwrap_or(false),
        shipping_cents: shipping.iter().map(|s| money(s, "discountedPriceSet")).sum(),
        shipping_tax_cents: shipping.iter().map(tax_of).sum(),
        refunds,
        status,
    })
}

fn refund(node: &Value) -> Option<Refund> {
    let created_at: DateTime<Utc> = node.get("processedAt")?.as_str()?.parse().ok()?;
    let lines = nodes_of(node, "refundLineItems")
        .iter()
        .map(|l| RefundLine {
            product_id: id_of(l, "/lineItem/product/id"),
            variant_id: id_of(l, "/lineItem/variant/id"),
            quantity: l.get("quantity").and_then(Value::as_i64).unwrap_or(0),
            subtotal_cents: money(l, "subtotalSet"),
            tax_cents: money(l, "totalTaxSet"),
        })
        .collect();
    let shipping = nodes_of(node, "refundShippingLines");
    Some(Refund {
        created_at,
        lines,
        shipping_cents: shipping.iter().map(|s| money(s, "subtotalAmountSet")).sum(),
        shipping_tax_cents: shipping.iter().map(|s| money(s, "taxAmountSet")).sum(),
    })
}

pub(crate) fn product(node: &Value) -> Product {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    let status = match node.get("status").and_then(Value::as_str) {
        Some("ARCHIVED") => ProductStatus::Archived,
        Some("DRAFT" | "UNLISTED") => ProductStatus::Draft,
        _ => ProductStatus::Active,
    };
    Product {
        id: id_of(node, "/id"),
        title: text(node, "title"),
        product_type: text(node, "productType"),
        description: text(node, "description"),
        status,
        variants: nodes_of(node, "variants")
            .iter()
            .map(|v| Variant {
                id: id_of(v, "/id"),
                title: text(v, "title"),
                sku: text(v, "sku"),
                price_cents: cents(v.get("price")),
                inventory_quantity: v.get("inventoryQuantity").and_then(Value::as_i64).unwrap_or(0),
            })
            .collect(),
    }
}

pub(crate) fn customer(node: &Value) -> Customer {
    Customer {
        id: id_of(node, "/id"),
        name: node.get("displayName").and_then(Value::as_str).unwrap_or_default().to_owned(),
        email: node.pointer("/defaultEmailAddress/emailAddress").and_then(Value::as_str).unwrap_or_default().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn money_is_exact() {
        for (text, expected) in [("12.50", 1250), ("0.1", 10), ("3", 300), ("19.999", 2000), ("-4.25", -425)] {
            assert_eq!(cents(Some(&json!(text))), expected, "{text}");
        }
        assert_eq!(cents(None), 0);
    }

    #[test]
    fn orders_map_guests_codes_taxes_and_refunds() {
        let m = |a: &str| json!({ "shopMoney": { "amount": a } });
        let node = json!({
            "id": "gid://shopify/Order/1", "createdAt": "2026-10-01T10:00:00Z", "cancelledAt": null,
            "closedAt": null, "test": false, "taxesIncluded": false, "customer": null,
            "discountApplications": { "nodes": [
                { "__typename": "DiscountCodeApplication", "index": 0, "code": "A" },
                { "__typename": "DiscountCodeApplication", "index": 1, "code": "B" },
                { "__typename": "AutomaticDiscountApplication", "index": 2, "title": "Spend more" },
            ] },
            "shippingLines": { "nodes": [{ "discountedPriceSet": m("5.00"), "taxLines": [{ "priceSet": m("0.40") }] }] },
            "lineItems": { "nodes": [{ "quantity": 2, "originalUnitPriceSet": m("10.00"),
                "discountAllocations": [
                    { "allocatedAmountSet": m("1.00"), "discountApplication": { "index": 0 } },
                    { "allocatedAmountSet": m("0.50"), "discountApplication": { "index": 1 } },
                    { "allocatedAmountSet": m("2.00"), "discountApplication": { "index": 2 } },
                ],
                "taxLines": [{ "priceSet": m("1.32") }], "variant": { "id": "gid://shopify/ProductVariant/7" },
                "product": { "id": "gid://shopify/Product/3" } }] },
            "refunds": [{ "id": "gid://shopify/Refund/4", "processedAt": "2026-11-03T09:00:00Z",
                "refundLineItems": { "nodes": [{ "quantity": 1, "subtotalSet": m("8.25"), "totalTaxSet": m("0.66"),
                    "lineItem": { "variant": { "id": "gid://shopify/ProductVariant/7" }, "product": { "id": "gid://shopify/Product/3" } } }] },
                "refundShippingLines": { "nodes": [] } }],
        });
        let o = order(&node).unwrap_or_else(|| panic!("maps"));
        assert_eq!(o.customer_id, None);
        assert_eq!(o.codes().collect::<Vec<_>>(), vec!["A", "B"]);
        assert_eq!(o.discounts.iter().map(|d| d.amount_cents).collect::<Vec<_>>(), vec![100, 50, 200]);
        assert_eq!((o.lines[0].discount_cents, o.lines[0].tax_cents), (350, 132));
        assert_eq!((o.shipping_cents, o.shipping_tax_cents), (500, 40));
        assert_eq!(o.refunds[0].lines[0].subtotal_cents, 825);
        let mut test = node.clone();
        test["test"] = json!(true);
        assert!(order(&test).is_none(), "test orders are not sales");
    }
}
