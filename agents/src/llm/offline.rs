//! The offline model: a real analyst without a network. Intent from rules,
//! a fixed plan per intent (with the `Knowledge` department when the
//! question is about the merchant's documents), narrative from templates
//! filled with the figures the tools computed. Same input, same answer.

use async_trait::async_trait;
use chrono::NaiveDate;

use super::{Brief, Llm, LlmError, Narrative};
use crate::plan::{DocumentFocus, Intent, Period, Plan};
use crate::result::Section;

/// The deterministic analyst.
#[derive(Debug, Clone, Copy, Default)]
pub struct OfflineModel;

fn money(value: Option<f64>, currency: &str) -> String {
    let v = value.unwrap_or(0.0);
    let whole = v.abs().round() as i64;
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if v < 0.0 { "-" } else { "" };
    match currency {
        "USD" => format!("{sign}${grouped}"),
        other => format!("{sign}{grouped} {other}"),
    }
}

fn change(value: Option<f64>) -> String {
    match value {
        Some(v) if v >= 0.0 => format!("up {v:.1}%"),
        Some(v) => format!("down {:.1}%", v.abs()),
        None => "not comparable".into(),
    }
}

fn number(value: Option<f64>) -> String {
    format!("{:.0}", value.unwrap_or(0.0))
}

fn section(title: &str, body: String) -> Section {
    Section { title: title.into(), body }
}

impl OfflineModel {
    fn revenue(b: &Brief) -> Narrative {
        let c = &b.currency;
        let direction = match b.figure("revenue_slope_pct") {
            Some(s) if s > 2.0 => "grew",
            Some(s) if s < -2.0 => "declined",
            _ => "held roughly flat",
        };
        let summary = format!(
            "Net sales for {} were {}, {} on the previous period. Across the period they {direction}, from {} in {} to {} in {}.",
            b.period_label,
            money(b.figure("net_revenue"), c),
            change(b.figure("net_revenue_change_pct")),
            money(b.figure("first_period_revenue"), c),
            b.fact("first_period"),
            money(b.figure("last_period_revenue"), c),
            b.fact("last_period"),
        );
        Narrative {
            tool_calls: Vec::new(),
            written_by: None,
            summary,
            sections: vec![
                section(
                    "Revenue",
                    format!(
                        "{} orders brought {} in net sales ({} gross sales, {} in discounts, {} in returns; {} total sales with shipping and taxes). The best period was {} ({}), the weakest {} ({}).",
                        number(b.figure("orders")),
                        money(b.figure("net_revenue"), c),
                        money(b.figure("gross_sales"), c),
                        money(b.figure("discounts"), c),
                        money(b.figure("refunds"), c),
                        money(b.figure("total_sales"), c),
                        b.fact("best_period"),
                        money(b.figure("best_period_revenue"), c),
                        b.fact("worst_period"),
                        money(b.figure("worst_period_revenue"), c),
                    ),
                ),
                section(
                    "Orders and basket",
                    format!(
                        "The average order was worth {} (gross sales less discounts); order count was {} on the previous period.",
                        money(b.figure("average_order_value"), c),
                        change(b.figure("orders_change_pct")),
                    ),
                ),
            ],
        }
    }

    fn products(b: &Brief) -> Narrative {
        let c = &b.currency;
        Narrative {
            tool_calls: Vec::new(),
            written_by: None,
            summary: format!(
                "{} led sales in {} with {} net; the top five products made {:.1}% of product revenue.",
                b.fact("top_product"),
                b.period_label,
                money(b.figure("top_product_revenue"), c),
                b.figure("top5_share_pct").unwrap_or(0.0),
            ),
            sections: vec![section(
                "Slow movers",
                format!(
                    "{} sold least ({} net) while {} units sit in stock.",
                    b.fact("slowest_product"),
                    money(b.figure("slowest_product_revenue"), c),
                    number(b.figure("slowest_product_inventory")),
                ),
            )],
        }
    }

    fn customers(b: &Brief) -> Narrative {
        Narrative {
            tool_calls: Vec::new(),
            written_by: None,
            summary: format!(
                "{} customers ordered in the last twelve months. {} are loyal and bring {:.1}% of customers' net sales; {} are at risk of lapsing.",
                number(b.figure("active_customers")),
                number(b.figure("loyal_customers")),
                b.figure("loyal_revenue_share_pct").unwrap_or(0.0),
                number(b.figure("at_risk_customers")),
            ),
            sections: vec![
                section(
                    "Segments",
                    format!(
                        "New: {}, returning: {}, lapsed: {}. At-risk customers' net sales over the year: {}.",
                        number(b.figure("new_customers")),
                        number(b.figure("returning_customers")),
                        number(b.figure("lapsed_customers")),
                        money(b.figure("at_risk_revenue"), &b.currency),
                    ),
                ),
                section(
                    "Guest checkout",
                    format!(
                        "{} orders ({} net sales) came through guest checkout. They have no customer record, so they are counted apart and in no segment.",
                        number(b.figure("guest_orders")),
                        money(b.figure("guest_net_sales"), &b.currency),
                    ),
                ),
            ],
        }
    }

    fn inventory(b: &Brief) -> Narrative {
        Narrative {
            tool_calls: Vec::new(),
            written_by: None,
            summary: format!(
                "{} variants will sell out within 14 days at the current pace; {} variants hold more than 120 days of stock.",
                number(b.figure("at_risk_variants")),
                number(b.figure("overstocked_variants")),
            ),
            sections: vec![section(
                "Most urgent",
                format!(
                    "{} has {} days of cover left. The most overstocked item is {} with {} days of cover.",
                    b.fact("most_urgent"),
                    number(b.figure("most_urgent_days")),
                    b.fact("most_overstocked"),
                    number(b.figure("most_overstocked_days")),
                ),
            )],
        }
    }

    fn discounts(b: &Brief) -> Narrative {
        let c = &b.currency;
        Narrative {
            tool_calls: Vec::new(),
            written_by: None,
            summary: format!(
                "{:.1}% of orders in {} used a discount code, costing {}. Orders with a code averaged {} before discount, against {} without.",
                b.figure("discounted_order_share_pct").unwrap_or(0.0),
                b.period_label,
                money(b.figure("discount_cost"), c),
                money(b.figure("aov_with_code"), c),
                money(b.figure("aov_without_code"), c),
            ),
            sections: vec![section("Codes", format!("The most used code was {}.", b.fact("top_code")))],
        }
    }

    fn anomalies(b: &Brief) -> Narrative {
        let count = b.figure("anomalous_days").unwrap_or(0.0);
        let summary = if count == 0.0 {
            format!("No day in {} fell outside the usual range of daily net sales.", b.period_label)
        } else {
            format!(
                "{} days in {} fell outside the usual range ({} unusually strong, {} unusually weak); the largest was {} at {} ({}), against a median day of {}.",
                number(Some(count)),
                b.period_label,
                number(b.figure("spike_days")),
                number(b.figure("collapse_days")),
                b.fact("largest_anomaly"),
                money(b.figure("largest_anomaly_revenue"), &b.currency),
                b.fact("largest_anomaly_explanation"),
                money(b.figure("daily_mean_revenue"), &b.currency),
            )
        };
        Narrative {
            tool_calls: Vec::new(),
            written_by: None,
            summary,
            sections: vec![section(
                "Method",
                "Each day's net sales against the median of the same weekday; a day is unusual when it lies 3.5 or more scaled median absolute deviations away (a robust z-score: one big day cannot hide itself by inflating the spread).".into(),
            )],
        }
    }
}

#[async_trait]
impl Llm for OfflineModel {
    fn model(&self) -> &str {
        "offline"
    }

    async fn plan(&self, prompt: &str, as_of: NaiveDate, _model: Option<&str>) -> Result<Plan, LlmError> {
        let intent = Intent::classify(prompt);
        let default_months = match intent {
            Intent::RevenueTrend => 3,
            _ => 1,
        };
        let period = match intent {
            // Inventory is about now: velocity over the last 30 days.
            Intent::InventoryRisk => Period::days(as_of, 30),
            _ => Period::parse(prompt, as_of, default_months),
        };
        // The merchant's documents join the plan when the question names
        // them (the orchestrator leaves them out when there are none).
        Ok(Plan::for_question(intent, period, DocumentFocus::classify(prompt)))
    }

    async fn write(&self, brief: &Brief, _model: Option<&str>) -> Result<Narrative, LlmError> {
        let mut narrative = match brief.intent {
            Intent::RevenueTrend => Self::revenue(brief),
            Intent::TopProducts => Self::products(brief),
            Intent::CustomerSegments => Self::customers(brief),
            Intent::InventoryRisk => Self::inventory(brief),
            Intent::DiscountOpportunities => Self::discounts(brief),
            Intent::Anomalies => Self::anomalies(brief),
        };
        if !brief.warnings.is_empty() {
            narrative.sections.push(section("Limits of the data", brief.warnings.join(" ")));
        }
        narrative.written_by = Some(super::OFFLINE_AUTHOR.into());
        Ok(narrative)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_grouped() {
        assert_eq!(money(Some(1_234_567.4), "USD"), "$1,234,567");
        assert_eq!(money(Some(-950.0), "EUR"), "-950 EUR");
    }
}
