//! `propose_action`: turns a recommendation into a validated proposal. It
//! only ever produces a draft that becomes a `PENDING` `ProposedAction`; no
//! tool can change the store.

use async_trait::async_trait;
use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ToolError, TypedTool};
use crate::result::ProposalDraft;

/// A basic discount code (`discountCodeBasicCreate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiscountParameters {
    /// Title shown in the admin.
    pub title: String,
    /// The code customers type: 4–32 of A–Z, 0–9, `-`, `_`.
    pub code: String,
    /// Percent off, 1–50.
    pub percentage: u8,
    /// Products it applies to; empty means the whole order.
    pub product_ids: Vec<u64>,
    /// First day valid.
    pub starts_on: NaiveDate,
    /// Last day valid (at most 60 days after the start).
    pub ends_on: NaiveDate,
    /// One use per customer.
    pub once_per_customer: bool,
}

/// A product text change (`productUpdate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductUpdateParameters {
    /// The product.
    pub product_id: u64,
    /// Its title now.
    pub current_title: String,
    /// The proposed title (1–255 characters).
    pub title: String,
    /// Its description now.
    pub current_description: String,
    /// The proposed description.
    pub description: String,
}

/// What to propose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProposeAction {
    /// A discount code.
    CreateDiscount(DiscountParameters),
    /// A product title/description change.
    UpdateProduct(ProductUpdateParameters),
}

/// Input of `propose_action`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProposeInput {
    /// The change.
    pub action: ProposeAction,
    /// Why, in a sentence.
    pub rationale: String,
    /// Expected effect computed from the store's own history.
    pub expected_effect: serde_json::Value,
}

/// Output of `propose_action`.
pub type ProposeOutput = ProposalDraft;

/// `propose_action`: validates a proposed store change and writes its preview.
pub struct ProposeTool;

/// The rules a discount must meet, checked at proposal and again at approval.
pub fn validate_discount(d: &DiscountParameters) -> Result<(), String> {
    let code_ok = (4..=32).contains(&d.code.len())
        && d.code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !code_ok {
        return Err(format!("code {:?} must be 4-32 of A-Z, 0-9, '-', '_'", d.code));
    }
    if !(1..=50).contains(&d.percentage) {
        return Err(format!("percentage {} must be between 1 and 50", d.percentage));
    }
    let days = (d.ends_on - d.starts_on).num_days();
    if !(0..=60).contains(&days) {
        return Err(format!("the discount must run 0-60 days, not {days}"));
    }
    if d.title.trim().is_empty() || d.title.len() > 255 {
        return Err("title must be 1-255 characters".into());
    }
    Ok(())
}

/// The rules a product text change must meet, checked at proposal and again at approval.
pub fn validate_product(p: &ProductUpdateParameters) -> Result<(), String> {
    if p.product_id == 0 {
        return Err("productId must name a product".into());
    }
    if p.title.trim().is_empty() || p.title.chars().count() > 255 {
        return Err("title must be 1-255 characters".into());
    }
    if p.description.chars().count() > 20_000 {
        return Err("description must be at most 20000 characters".into());
    }
    Ok(())
}

#[async_trait]
impl TypedTool for ProposeTool {
    type Input = ProposeInput;
    type Output = ProposeOutput;
    const NAME: &'static str = "propose_action";
    const DESCRIPTION: &'static str = "Proposes a store change (a discount code or a product text change) for a person to approve. It never changes the store.";

    async fn call(&self, input: &ProposeInput) -> Result<ProposeOutput, ToolError> {
        let (kind, parameters, change, scopes) = match &input.action {
            ProposeAction::CreateDiscount(d) => {
                validate_discount(d).map_err(ToolError::InvalidInput)?;
                let scope = if d.product_ids.is_empty() {
                    "the whole order".to_owned()
                } else {
                    format!("{} products", d.product_ids.len())
                };
                let change = format!(
                    "Create discount code {} for {}% off {scope}, valid {} to {}",
                    d.code, d.percentage, d.starts_on, d.ends_on
                );
                ("CREATE_DISCOUNT", serde_json::to_value(d), json!({ "summary": change }), vec!["write_discounts"])
            }
            ProposeAction::UpdateProduct(p) => {
                validate_product(p).map_err(ToolError::InvalidInput)?;
                let diff = json!({
                    "summary": format!("Update product {}", p.product_id),
                    "title": { "before": p.current_title, "after": p.title },
                    "description": { "before": p.current_description, "after": p.description },
                });
                ("UPDATE_PRODUCT", serde_json::to_value(p), diff, vec!["write_products"])
            }
        };
        let mut preview = change;
        preview["rationale"] = json!(input.rationale);
        preview["expectedEffect"] = input.expected_effect.clone();
        Ok(ProposalDraft {
            kind: kind.into(),
            parameters: parameters.map_err(|e| ToolError::InvalidInput(e.to_string()))?,
            preview,
            required_scopes: scopes.into_iter().map(String::from).collect(),
        })
    }

    fn summarize(output: &ProposeOutput) -> String {
        format!("{} proposed", output.kind)
    }
}
