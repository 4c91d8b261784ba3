//! Intents, periods and plans: what the orchestrator decides before any
//! department works. The offline rules live here; a model-written plan has
//! the same shape and is validated against it.

use chrono::{Datelike, Duration, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::Department;
use crate::store::DateRange;

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

/// How a period is split into buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Granularity {
    /// Calendar days.
    Day,
    /// Seven-day buckets from the period's start.
    Week,
    /// Calendar months.
    Month,
}

/// The period a question is about and the one before it, for comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// The period asked about.
    pub current: DateRange,
    /// The equally long period just before.
    pub previous: DateRange,
    /// Bucket size for series.
    pub granularity: Granularity,
}

impl Period {
    /// Reads "last 3 months", "last week", "past 30 days", "last quarter",
    /// "this year"… relative to `as_of`; `default_months` otherwise.
    /// Months are whole calendar months before the current one.
    pub fn parse(prompt: &str, as_of: NaiveDate, default_months: u32) -> Period {
        let text = prompt.to_lowercase();
        let words: Vec<&str> = text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
        for (i, w) in words.iter().enumerate() {
            if !matches!(*w, "last" | "past" | "previous") {
                continue;
            }
            let (count, unit) = match (words.get(i + 1), words.get(i + 2)) {
                (Some(n), Some(unit)) if parse_count(n).is_some() => (parse_count(n).unwrap_or(1), *unit),
                (Some(unit), _) => (1, *unit),
                _ => continue,
            };
            let count = count.clamp(1, 24);
            if unit.starts_with("month") {
                return Period::months(as_of, count);
            } else if unit.starts_with("quarter") {
                return Period::months(as_of, 3 * count);
            } else if unit.starts_with("year") {
                return Period::months(as_of, 12 * count.min(1));
            } else if unit.starts_with("week") {
                return Period::days(as_of, 7 * i64::from(count.min(52)));
            } else if unit.starts_with("day") {
                return Period::days(as_of, i64::from(count.clamp(7, 365)));
            }
        }
        if text.contains("this year") || text.contains("12 months") {
            return Period::months(as_of, 12);
        }
        Period::months(as_of, default_months)
    }

    /// The `count` whole months before `as_of`'s month.
    pub fn months(as_of: NaiveDate, count: u32) -> Period {
        let this_month = as_of.with_day(1).unwrap_or(as_of);
        let from = this_month - Months::new(count);
        let previous_from = from - Months::new(count);
        Period {
            current: DateRange { from, to: this_month },
            previous: DateRange { from: previous_from, to: from },
            granularity: Granularity::Month,
        }
    }

    /// The `days` days before `as_of`.
    pub fn days(as_of: NaiveDate, days: i64) -> Period {
        let from = as_of - Duration::days(days);
        Period {
            current: DateRange { from, to: as_of },
            previous: DateRange { from: from - Duration::days(days), to: from },
            granularity: if days <= 31 { Granularity::Day } else { Granularity::Week },
        }
    }

    /// "Aug 2026 – Oct 2026" or "2026-10-01 – 2026-10-31".
    pub fn label(&self) -> String {
        let last = self.current.to - Duration::days(1);
        match self.granularity {
            Granularity::Month => format!("{} – {}", self.current.from.format("%b %Y"), last.format("%b %Y")),
            _ => format!("{} – {}", self.current.from, last),
        }
    }
}

fn parse_count(word: &str) -> Option<u32> {
    const NAMES: [&str; 12] =
        ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"];
    word.parse().ok().or_else(|| NAMES.iter().position(|n| *n == word).map(|i| i as u32 + 1))
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
                "Days outside the usual range (z-score) and their size",
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
    fn periods_are_whole_months_before_the_current_one() {
        let p = Period::parse("revenue over the last 3 months", day(2026, 11, 22), 1);
        assert_eq!(p.current, DateRange { from: day(2026, 8, 1), to: day(2026, 11, 1) });
        assert_eq!(p.previous, DateRange { from: day(2026, 5, 1), to: day(2026, 8, 1) });
        assert_eq!(p.label(), "Aug 2026 – Oct 2026");
        let w = Period::parse("sales last week", day(2026, 11, 22), 1);
        assert_eq!(w.current, DateRange { from: day(2026, 11, 15), to: day(2026, 11, 22) });
        assert_eq!(Period::parse("past two months", day(2026, 1, 5), 1).current.from, day(2025, 11, 1));
    }

    #[test]
    fn fixed_plans_are_valid() {
        let period = Period::months(day(2026, 11, 22), 3);
        for intent in [Intent::RevenueTrend, Intent::TopProducts, Intent::Anomalies] {
            assert_eq!(Plan::for_intent(intent, period).validate(), Ok(()));
        }
    }
}
