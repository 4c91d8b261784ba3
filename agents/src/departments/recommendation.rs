//! `RecommendationGeneration`: advice, and concrete proposals through the
//! `propose_action` tool. Proposals are drafts; only a person's approval
//! (with the Shopify work) can turn one into a store change.

use async_trait::async_trait;
use chrono::Duration;
use serde_json::{Value, json};

use super::{Datasets, DepartmentAgent, Findings, Proposals, TaskContext, dataset};
use crate::Department;
use crate::plan::Intent;
use crate::result::Recommendation;
use crate::tools::{
    DiscountParameters, DiscountUsageOutput, ProductSalesOutput, ProductUpdateParameters, ProposeAction, ProposeInput,
    ProposeTool, TaskFailure, ToolRunner,
};

/// Proposes what to do.
pub struct RecommendationAgent;

/// What the shop's own discount history says a code of `percentage` costs.
fn expected_effect(data: &Datasets, percentage: u8) -> Result<Value, TaskFailure> {
    let usage: DiscountUsageOutput = dataset(data, "discounts")?.typed()?;
    let (with, without): (Vec<_>, Vec<_>) = usage.codes.iter().partition(|c| c.code != "(none)");
    let with_orders: i64 = with.iter().map(|c| c.orders).sum();
    let all: i64 = with_orders + without.iter().map(|c| c.orders).sum::<i64>();
    let with_aov = with.iter().map(|c| c.average_order_cents * c.orders).sum::<i64>() / with_orders.max(1);
    let without_aov = without.first().map(|c| c.average_order_cents).unwrap_or(0);
    Ok(json!({
        "basis": "orders with and without discount codes in the analysed period",
        "historicalCodeUseSharePct": ((with_orders as f64 * 1000.0 / all.max(1) as f64).round() / 10.0),
        "averageOrderWithCode": with_aov as f64 / 100.0,
        "averageOrderWithoutCode": without_aov as f64 / 100.0,
        "estimatedCostPerRedemption": (with_aov as f64 * f64::from(percentage) / 100.0).round() / 100.0,
    }))
}

impl RecommendationAgent {
    async fn discount(
        task: &TaskContext,
        data: &Datasets,
        tools: &mut ToolRunner,
        (title, code, percentage, product_ids, days): (&str, &str, u8, Vec<u64>, i64),
        rationale: String,
    ) -> Result<crate::result::ProposalDraft, TaskFailure> {
        let starts_on = task.as_of + Duration::days(1);
        let action = ProposeAction::CreateDiscount(DiscountParameters {
            title: title.into(),
            code: code.into(),
            percentage,
            product_ids,
            starts_on,
            ends_on: starts_on + Duration::days(days),
            once_per_customer: true,
        });
        let input = ProposeInput { action, rationale, expected_effect: expected_effect(data, percentage)? };
        Ok(tools.call(&ProposeTool, input).await?.0)
    }
}

#[async_trait]
impl DepartmentAgent for RecommendationAgent {
    fn department(&self) -> Department {
        Department::RecommendationGeneration
    }

    async fn work(&self, task: &TaskContext, tools: &mut ToolRunner) -> Result<Value, TaskFailure> {
        let data: Datasets = task.upstream(Department::DataRetrieval)?;
        let findings: Findings = task.upstream(Department::QuantitativeAnalysis)?;
        let products: ProductSalesOutput = dataset(&data, "product_sales")?.typed()?;
        // The slow mover with the most stock: where a discount frees cash.
        let slow = products
            .products
            .iter()
            .rev()
            .take(5)
            .max_by_key(|p| p.inventory)
            .ok_or_else(|| TaskFailure::Rejected("the store has no products".into()))?;
        let mut out = Proposals::default();
        let clear = |pct: u8| (("Clear slow stock"), "CLEARANCE", pct, vec![slow.product_id], 14);
        match task.intent {
            Intent::RevenueTrend | Intent::Anomalies => {
                let change = findings.figure("net_revenue_change_pct").unwrap_or(0.0);
                if change < 0.0 || findings.figure("revenue_slope_pct").unwrap_or(0.0) < -2.0 {
                    out.recommendations.push(Recommendation {
                        title: "Win back recent customers".into(),
                        rationale: format!("Net revenue is down {:.1}% on the previous period; a short, once-per-customer code brings lapsing buyers back without a storewide markdown.", change.abs()),
                    });
                    let spec = ("Come back: 10% off", "COMEBACK10", 10, vec![], 14);
                    out.actions.push(
                        Self::discount(
                            task,
                            &data,
                            tools,
                            spec,
                            "Revenue declined against the previous period.".into(),
                        )
                        .await?,
                    );
                } else {
                    out.recommendations.push(Recommendation {
                        title: format!("Turn {} stock into cash", slow.title),
                        rationale: format!("Revenue is up {change:.1}% but {} sold only {} units while {} sit in stock; a limited discount on it keeps the momentum without discounting best sellers.", slow.title, slow.units, slow.inventory),
                    });
                    out.actions.push(
                        Self::discount(
                            task,
                            &data,
                            tools,
                            clear(15),
                            format!("{} is a slow mover with {} units in stock.", slow.title, slow.inventory),
                        )
                        .await?,
                    );
                }
            }
            Intent::TopProducts | Intent::InventoryRisk | Intent::DiscountOpportunities => {
                out.recommendations.push(Recommendation {
                    title: format!("Clear {} stock", slow.title),
                    rationale: format!(
                        "{} sold {} units in the period with {} in stock.",
                        slow.title, slow.units, slow.inventory
                    ),
                });
                out.actions.push(
                    Self::discount(
                        task,
                        &data,
                        tools,
                        clear(20),
                        format!("{} is among the slowest sellers and holds the most stock of them.", slow.title),
                    )
                    .await?,
                );
                if task.intent == Intent::TopProducts {
                    let current = task
                        .store
                        .products()
                        .await
                        .ok()
                        .and_then(|ps| ps.into_iter().find(|p| p.id == slow.product_id));
                    if let Some(current) = current {
                        let description = grounded_description(&current);
                        let action = ProposeAction::UpdateProduct(ProductUpdateParameters {
                            product_id: slow.product_id,
                            current_title: current.title.clone(),
                            title: current.title.clone(),
                            current_description: current.description.clone(),
                            description,
                        });
                        let input = ProposeInput {
                            action,
                            rationale: "A fuller description for a slow seller.".into(),
                            expected_effect: json!({ "basis": "copy change; effect measured after approval" }),
                        };
                        out.actions.push(tools.call(&ProposeTool, input).await?.0);
                    }
                }
            }
            Intent::CustomerSegments => {
                let at_risk = findings.figure("at_risk_customers").unwrap_or(0.0);
                out.recommendations.push(Recommendation {
                    title: "Win back customers at risk".into(),
                    rationale: format!("{at_risk:.0} repeat customers have not ordered for over two months."),
                });
                let spec = ("We miss you: 15% off", "WEMISSYOU15", 15, vec![], 21);
                out.actions.push(
                    Self::discount(task, &data, tools, spec, format!("{at_risk:.0} repeat customers are lapsing."))
                        .await?,
                );
            }
        }
        serde_json::to_value(out).map_err(|e| TaskFailure::Infrastructure(e.into()))
    }
}

/// A fuller description built only from what the store's own data says of
/// the product (its text, type, options and prices): no claim the merchant
/// did not make (returns, materials, shipping) is ever invented.
fn grounded_description(product: &crate::store::Product) -> String {
    let mut parts = vec![if product.description.trim().is_empty() {
        format!("{}.", product.title)
    } else {
        product.description.trim().to_owned()
    }];
    let options: Vec<&str> =
        product.variants.iter().map(|v| v.title.as_str()).filter(|t| *t != "Default Title").collect();
    if options.len() > 1 {
        parts.push(format!("Available in {}.", options.join(", ")));
    }
    let prices = product.variants.iter().map(|v| v.price_cents);
    if let (Some(low), Some(high)) = (prices.clone().min(), prices.max()) {
        let price = |c: i64| format!("{}.{:02}", c / 100, c % 100);
        parts.push(if low == high {
            format!("Price: {}.", price(low))
        } else {
            format!("From {} to {}.", price(low), price(high))
        });
    }
    if !product.product_type.is_empty() {
        parts.push(format!("Category: {}.", product.product_type));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Product, ProductStatus, Variant};

    #[test]
    fn product_copy_states_only_the_stores_facts() {
        let variant = |title: &str, price| Variant {
            id: 1,
            title: title.into(),
            sku: String::new(),
            price_cents: price,
            inventory_quantity: 3,
        };
        let product = Product {
            id: 1,
            title: "Wool Scarf".into(),
            product_type: "Accessories".into(),
            description: "Warm merino.".into(),
            status: ProductStatus::Active,
            variants: vec![variant("Grey", 2900), variant("Navy", 3100)],
        };
        let text = grounded_description(&product);
        assert_eq!(text, "Warm merino. Available in Grey, Navy. From 29.00 to 31.00. Category: Accessories.");
        for invented in ["return", "shipping", "made to last", "guarantee"] {
            assert!(!text.to_lowercase().contains(invented), "{text}");
        }
    }
}
