//! Intents, periods and plans: what the orchestrator decides before any
//! department works. The offline rules live here; a model-written plan has
//! the same shape and is validated against it.

mod period;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use period::{Granularity, Period};

use crate::Department;

/// What the merchant wants to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Intent {
    /// How revenue developed over a period.
    RevenueTrend,
    /// Which products sell best (and worst).
    TopProducts,
    /// Who the customers are: new, returning, loyal, lapsing.
    CustomerSegments,
    /// Which items will sell out or sit unsold.
    InventoryRisk,
    /// Where a discount would pay off.
    DiscountOpportunities,
    /// Days that were unusually good or bad.
    Anomalies,
}

impl Intent {
    /// Stable text form, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::RevenueTrend => "REVENUE_TREND",
            Intent::TopProducts => "TOP_PRODUCTS",
            Intent::CustomerSegments => "CUSTOMER_SEGMENTS",
            Intent::InventoryRisk => "INVENTORY_RISK",
            Intent::DiscountOpportunities => "DISCOUNT_OPPORTUNITIES",
            Intent::Anomalies => "ANOMALIES",
        }
    }

    /// Deterministic intent rules: the first rule whose words appear wins.
    pub fn classify(prompt: &str) -> Intent {
        let text = prompt.to_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| text.contains(w));
        if has(&["anomal", "unusual", "spike", "outlier", "strange", "sudden"]) {
            Intent::Anomalies
        } else if has(&["inventory", "stock", "sell out", "sold out", "overstock", "restock"]) {
            Intent::InventoryRisk
        } else if has(&["customer", "segment", "cohort", "loyal", "churn", "retention", "repeat"]) {
            Intent::CustomerSegments
        } else if has(&["discount", "promotion", "promo", "coupon", "sale "]) {
            Intent::DiscountOpportunities
        } else if has(&["product", "best seller", "bestseller", "top seller", "best-selling", "catalog"]) {
            Intent::TopProducts
        } else {
            Intent::RevenueTrend
        }
    }
}

/// One step of a plan: a department and what it must produce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanStep {
    /// Who works it.
    pub department: Department,
    /// What it must produce.
    pub objective: String,
    /// Steps (indexes into the plan) whose output it needs.
    pub depends_on: Vec<usize>,
}

/// The orchestrator's plan for one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// The classified intent.
    pub intent: Intent,
    /// The period analysed.
    pub period: Period,
    /// The steps, in an order that respects their dependencies.
    pub steps: Vec<PlanStep>,
    /// "Today" in the shop's calendar when the request was planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<NaiveDate>,
}

impl Plan {
    /// The fixed plan for an intent: retrieve, quantify, then words and
    /// proposals in parallel, both working from the numbers.
    pub fn for_intent(intent: Intent, period: Period) -> Plan {
        let (data, numbers, proposals) = match intent {
            Intent::RevenueTrend => (
                "Revenue, orders, discounts and refunds per period, and the previous period's totals",
                "Trend, growth against the previous period, best and worst period",
                "A concrete action that addresses the trend",
            ),
            Intent::TopProducts => (
                "Units and revenue per product in the period and the one before",
                "Ranking by revenue, movers against the previous period, share of the top five",
                "An action for a slow mover with stock to spare",
            ),
            Intent::CustomerSegments => (
                "Orders and spend per customer over the last twelve months",
                "Recency/frequency segments with their size and revenue share",
                "A win-back action for lapsing customers",
            ),
            Intent::InventoryRisk => (
                "Stock on hand per variant and units sold per day over the last 30 days",
                "Days of cover per variant; items at risk of selling out and overstocked items",
                "Clear overstock without discounting items about to sell out",
            ),
            Intent::DiscountOpportunities => (
                "Discount code usage and product sales in the period",
                "Order value with and without codes, discount cost, slow movers",
                "A targeted discount with its expected effect",
            ),
            Intent::Anomalies => (
                "Daily revenue and orders in the period",
                "Days outside the usual range (robust z-score, weekday by weekday) and their size",
                "An action that follows from the anomalies, if any",
            ),
        };
        Plan {
            intent,
            period,
            steps: vec![
                PlanStep { department: Department::DataRetrieval, objective: data.into(), depends_on: vec![] },
                PlanStep {
                    department: Department::QuantitativeAnalysis,
                    objective: numbers.into(),
                    depends_on: vec![0],
                },
                PlanStep {
                    department: Department::QualitativeAnalysis,
                    objective: "A short narrative of what the figures mean for the merchant".into(),
                    depends_on: vec![1],
                },
                PlanStep {
                    department: Department::RecommendationGeneration,
                    objective: proposals.into(),
                    depends_on: vec![0, 1],
                },
            ],
            as_of: None,
        }
    }

    /// A plan is valid when every dependency points to an earlier step.
    pub fn validate(&self) -> Result<(), String> {
        if self.steps.is_empty() {
            return Err("the plan has no steps".into());
        }
        for (i, step) in self.steps.iter().enumerate() {
            if let Some(bad) = step.depends_on.iter().find(|d| **d >= i) {
                return Err(format!("step {i} depends on step {bad}, which does not come before it"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn intents_follow_the_rules() {
        assert_eq!(Intent::classify("How did revenue develop over the last 3 months?"), Intent::RevenueTrend);
        assert_eq!(Intent::classify("Which products sell best?"), Intent::TopProducts);
        assert_eq!(Intent::classify("What will sell out soon? check stock"), Intent::InventoryRisk);
        assert_eq!(Intent::classify("Who are my loyal customers?"), Intent::CustomerSegments);
        assert_eq!(Intent::classify("Should I run a discount?"), Intent::DiscountOpportunities);
        assert_eq!(Intent::classify("Any unusual days lately?"), Intent::Anomalies);
    }

    #[test]
    fn fixed_plans_are_valid() {
        let period = Period::months(day(2026, 11, 22), 3);
        for intent in [Intent::RevenueTrend, Intent::TopProducts, Intent::Anomalies] {
            assert_eq!(Plan::for_intent(intent, period).validate(), Ok(()));
        }
    }
}
