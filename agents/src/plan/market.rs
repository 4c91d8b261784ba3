//! Share prices in a plan: a `Market` step when the question asks how
//! shares moved, decided after planning (as for datasets) so the offline
//! rules and a model's plan get the same treatment.
//!
//! A question is about the market when it names one of the account's
//! symbols (`$shop`, or `SHOP` in capitals) or uses a market phrase
//! ([`MARKET_PHRASES`]: "shares", "share price", "ticker", "volatility",
//! …). Then, judged on the question without those phrases and symbols:
//! - it also asks about the store (`plan::asks_about_store`: "store",
//!   revenue, orders, …): the planned plan with `Market` as step 0, which
//!   the narrative waits for and proposals never depend on;
//! - otherwise `Market` alone ("how have my suppliers' shares moved this
//!   month?" is about share prices, not inventory or documents), beside
//!   `Knowledge` only when the rest still asks about documents: a
//!   supplier or competitor named as whose shares these are is not a
//!   question about contracts.

use super::{DocumentFocus, Plan, asks_about_store};
use crate::Department;

/// Phrases that ask about share prices ("stock" alone is inventory).
pub const MARKET_PHRASES: &[&str] = &[
    "share prices",
    "share price",
    "shares",
    "stock prices",
    "stock price",
    "stock market",
    "stock markets",
    "ticker",
    "tickers",
    "equity",
    "equities",
    "vwap",
    "volatility",
    "moving average",
    "sma",
    "ema",
];

/// Whose shares they are: not a reason to read documents.
const HOLDERS: &[&str] = &["suppliers'", "supplier's", "suppliers", "supplier", "competitors'", "competitors"];

/// The objective of the `Market` step.
const OBJECTIVE: &str = "How the followed symbols' share prices moved over the period, with their indicators, each \
    figure citing its stocks.* call";

/// What a question says of share prices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketQuestion {
    /// The question without its market phrases and symbols.
    pub rest: String,
}

/// Where `lower` holds `phrase` as whole words, if it does.
pub(super) fn find_word(lower: &str, phrase: &str) -> Option<usize> {
    lower.match_indices(phrase).map(|(at, _)| at).find(|&at| {
        let before = lower[..at].chars().next_back();
        let after = lower[at + phrase.len()..].chars().next();
        before.is_none_or(|c| !c.is_alphanumeric()) && after.is_none_or(|c| !c.is_alphanumeric())
    })
}

/// `text` (lower case) with every whole-word occurrence of `phrases` cut.
pub(super) fn cut(mut text: String, phrases: &[&str]) -> String {
    for phrase in phrases {
        while let Some(at) = find_word(&text, phrase) {
            text.replace_range(at..at + phrase.len(), " ");
        }
    }
    text
}

/// The market question `prompt` asks, if any; `symbols` are the ones it
/// names among the account's (`departments::market::named`).
pub fn market_question(prompt: &str, symbols: &[String]) -> Option<MarketQuestion> {
    let lower = prompt.to_lowercase();
    let phrased = MARKET_PHRASES.iter().any(|p| find_word(&lower, p).is_some());
    if !phrased && symbols.is_empty() {
        return None;
    }
    let mut said: Vec<String> = symbols.iter().map(|s| s.to_lowercase()).collect();
    said.extend(symbols.iter().map(|s| format!("${}", s.to_lowercase())));
    let said: Vec<&str> = said.iter().map(String::as_str).collect();
    let rest = cut(cut(lower, MARKET_PHRASES), &said);
    Some(MarketQuestion { rest })
}

impl Plan {
    /// Fits the plan to the market question it asks (`None`: none); see
    /// the module doc.
    pub fn fit_to_market(self, question: Option<&MarketQuestion>) -> Plan {
        let Some(question) = question else {
            return self.without(Department::Market);
        };
        let documents = DocumentFocus::classify(&cut(question.rest.clone(), HOLDERS));
        let plan = if documents == DocumentFocus::None { self.without(Department::Knowledge) } else { self };
        if asks_about_store(&question.rest, &[]) {
            plan.with_first(Department::Market, OBJECTIVE)
        } else {
            plan.keeping(&[Department::Knowledge, Department::Datasets]).with_first(Department::Market, OBJECTIVE)
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::plan::{Intent, Period};

    fn planned(prompt: &str) -> Plan {
        let day = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap_or_default();
        let period = Period::parse(prompt, day, 3);
        Plan::for_question(Intent::classify(prompt), period, DocumentFocus::classify(prompt))
    }

    fn departments(plan: &Plan) -> Vec<Department> {
        plan.steps.iter().map(|s| s.department).collect()
    }

    #[test]
    fn share_questions_plan_the_market_alone() {
        let prompt = "How have my suppliers' shares moved this month?";
        let question = market_question(prompt, &[]);
        assert!(question.is_some());
        let plan = planned(prompt).fit_to_market(question.as_ref());
        assert_eq!(departments(&plan), [Department::Market], "not documents, not inventory");
        assert_eq!(plan.validate(), Ok(()));
        let plan = planned("Is SHOP more volatile than usual?")
            .fit_to_market(Some(&MarketQuestion { rest: "is more volatile than usual?".into() }));
        assert_eq!(departments(&plan), [Department::Market]);
    }

    #[test]
    fn a_market_question_about_the_store_keeps_its_plan_with_market_first() {
        let prompt = "Did my revenue follow SHOP's share price last month?";
        let question = market_question(prompt, &["SHOP".to_owned()]);
        assert!(question.as_ref().is_some_and(|q| !q.rest.contains("shop")), "{question:?}");
        let plan = planned(prompt).fit_to_market(question.as_ref());
        assert_eq!(plan.steps[0].department, Department::Market);
        assert_eq!(plan.steps.len(), 5);
        assert_eq!(plan.validate(), Ok(()));
        let writer = plan.steps.iter().find(|s| s.department == Department::QualitativeAnalysis);
        assert!(writer.is_some_and(|s| s.depends_on.contains(&0)), "the narrative waits for the prices");
        let proposer = plan.steps.iter().find(|s| s.department == Department::RecommendationGeneration);
        assert!(proposer.is_some_and(|s| !s.depends_on.contains(&0)), "proposals never depend on prices");
    }

    #[test]
    fn store_questions_have_no_market_step() {
        assert_eq!(market_question("What will sell out soon? check stock", &[]), None);
        assert_eq!(market_question("What share of revenue is from returning customers?", &[]), None);
        let base = planned("How did revenue develop?");
        assert_eq!(base.clone().fit_to_market(None), base);
        let with = base.clone().fit_to_market(Some(&MarketQuestion { rest: "and revenue".into() }));
        assert_eq!(with.fit_to_market(None).steps, base.steps);
    }
}
