//! The department against an account of two symbols whose daily bars are
//! given: which symbols a question names, each move checked against the
//! bars, provenance down to the `stocks.*` call, and an account without
//! ticks said so.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use super::*;
use crate::llm::OfflineModel;
use crate::market::history::{HistoryBar, HistoryError, Interval};
use crate::market::indicators::IndicatorSet;
use crate::market::quotes::Quotes;
use crate::plan::{Intent, Period};
use crate::store::DemoStore;
use crate::tools::{ErrorBudget, FailedAttempt};

struct NoBudget;

#[async_trait]
impl ErrorBudget for NoBudget {
    async fn record_error(&self, _failed: FailedAttempt<'_>) -> anyhow::Result<u32> {
        Ok(1)
    }
}

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).single().unwrap_or_default()
}

fn set(symbol: &str, price: f64, volatility: Option<f64>) -> IndicatorSet {
    IndicatorSet {
        symbol: symbol.into(),
        price,
        volume: 10.0,
        sma20: Some(price * 0.99),
        ema12: Some(price * 1.01),
        vwap: Some(price),
        volatility,
        session: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap_or_default(),
        session_volume: 1_000.0,
        ticks: 500,
        as_of: at(20, 20),
    }
}

fn bar(day: u32, open: f64, close: f64) -> HistoryBar {
    HistoryBar {
        starts_at: at(day, 5),
        open,
        high: open.max(close),
        low: open.min(close),
        close,
        volume: 100.0,
        vwap: Some((open + close) / 2.0),
        ticks: 10,
        sma20: None,
        ema12: None,
        volatility: None,
    }
}

/// `SHOP` and `ACME` with three daily bars each; records the ranges read.
struct Account {
    symbols: Vec<String>,
    ranges: Mutex<Vec<(String, DateTime<Utc>, DateTime<Utc>, Interval)>>,
}

impl Account {
    fn new(symbols: &[&str]) -> Arc<Self> {
        Arc::new(Self { symbols: symbols.iter().map(|s| (*s).to_owned()).collect(), ranges: Mutex::default() })
    }
}

#[async_trait]
impl Quotes for Account {
    async fn symbols(&self) -> anyhow::Result<Vec<String>> {
        Ok(self.symbols.clone())
    }
    async fn latest(&self, symbols: &[String]) -> anyhow::Result<Vec<Option<IndicatorSet>>> {
        Ok(symbols
            .iter()
            .map(|s| match s.as_str() {
                "SHOP" => Some(set("SHOP", 110.0, Some(0.3512))),
                "ACME" => Some(set("ACME", 45.0, None)),
                _ => None,
            })
            .collect())
    }
    async fn history(
        &self,
        symbol: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        interval: Interval,
    ) -> Result<Vec<HistoryBar>, HistoryError> {
        if let Ok(mut ranges) = self.ranges.lock() {
            ranges.push((symbol.to_owned(), from, to, interval));
        }
        Ok(match symbol {
            "SHOP" => vec![bar(2, 100.0, 104.0), bar(3, 104.0, 99.0), bar(20, 108.0, 110.0)],
            "ACME" => vec![bar(2, 50.0, 49.0), bar(20, 46.0, 45.0)],
            _ => Vec::new(),
        })
    }
}

fn task(prompt: &str, quotes: Arc<dyn Quotes>) -> TaskContext {
    let day = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap_or_default();
    TaskContext {
        prompt: prompt.into(),
        intent: Intent::RevenueTrend,
        period: Period::parse(prompt, day, 3),
        as_of: day,
        objective: "Share price moves".into(),
        upstream: Vec::new(),
        store: Arc::new(DemoStore::new(7, day)),
        llm: Arc::new(OfflineModel),
        model: None,
        library: None,
        datasets: None,
        market: Some(quotes),
        code: None,
    }
}

fn runner() -> ToolRunner {
    ToolRunner::new(Arc::new(NoBudget), 0, Duration::from_secs(5), Duration::from_millis(1))
}

fn value(findings: &MarketFindings, key: &str) -> Option<f64> {
    findings.figures.iter().find(|f| f.key == key).map(|f| f.value)
}

#[test]
fn symbols_are_named_by_dollar_or_capitals() {
    let known = ["SHOP".to_owned(), "A".to_owned(), "BRK.B".to_owned()];
    assert_eq!(named("How did SHOP and $brk.b move this month?", &known), ["SHOP", "BRK.B"]);
    assert!(named("how did a shop's shares move?", &known).is_empty(), "lower-case words are no symbols");
    assert_eq!(named("Is A up? And SHOP. SHOP!", &known), ["A", "SHOP"]);
}

#[tokio::test]
async fn moves_are_the_last_close_against_the_first_open_with_their_calls() {
    let account = Account::new(&["ACME", "SHOP"]);
    let mut tools = runner();
    let prompt = "How have my suppliers' shares moved this month?";
    let output = MarketAgent.work(&task(prompt, account.clone()), &mut tools).await.unwrap_or_else(|e| panic!("{e}"));
    let findings: MarketFindings = serde_json::from_value(output).unwrap_or_else(|e| panic!("{e}"));
    let calls = tools.into_calls();
    let names: Vec<&str> = calls.iter().map(|c| c.tool.as_str()).collect();
    assert_eq!(names, ["stocks.indicators", "stocks.history", "stocks.history"], "none named: every symbol");

    // Independent: (last close / first open − 1) · 100 of the given bars.
    let shop = (110.0_f64 / 100.0 - 1.0) * 100.0;
    let acme = (45.0_f64 / 50.0 - 1.0) * 100.0;
    assert_eq!(value(&findings, "stock_shop_change"), Some((shop * 100.0).round() / 100.0));
    assert_eq!(value(&findings, "stock_acme_change"), Some((acme * 100.0).round() / 100.0));
    assert_eq!(value(&findings, "stock_shop_price"), Some(110.0));
    assert_eq!(value(&findings, "stock_shop_volatility"), Some(35.12));
    assert_eq!(value(&findings, "stock_acme_volatility"), None, "too few returns: no figure");
    let change = findings.figures.iter().find(|f| f.key == "stock_shop_change");
    let cited = change.map(|f| f.provenance[0].clone()).unwrap_or_else(|| panic!("{findings:?}"));
    assert_eq!((cited.tool.as_str(), cited.tool_call_id), ("stocks.history", calls[2].id));
    assert_eq!(cited.query["symbol"], "SHOP");
    let price = findings.figures.iter().find(|f| f.key == "stock_shop_price").map(|f| f.provenance[0].tool_call_id);
    assert_eq!(price, Some(calls[0].id));

    // "This month" is November 2026 up to today, read as daily bars.
    let ranges = account.ranges.lock().map(|r| r.clone()).unwrap_or_default();
    // The period's first day starts at the shop's midnight: the demo shop
    // keeps New York time, still daylight time (UTC−4) on 1 November 2026.
    assert_eq!(ranges[0].1, Utc.with_ymd_and_hms(2026, 11, 1, 4, 0, 0).single().unwrap_or_default());
    assert!(ranges.iter().all(|r| r.3 == Interval::Day && r.2 > r.1));
    let answer = findings.answer.unwrap_or_default();
    assert!(answer.contains("SHOP +10.00 %") && answer.contains("ACME -10.00 %"), "{answer}");
    assert!(findings.sections[0].body.contains("| SHOP | 110.00 | +10.00 % |"), "{}", findings.sections[0].body);
}

#[tokio::test]
async fn a_named_symbol_is_read_alone_and_an_empty_account_is_said() {
    let mut tools = runner();
    let output = MarketAgent.work(&task("How did $acme do?", Account::new(&["ACME", "SHOP"])), &mut tools).await;
    let findings: MarketFindings = serde_json::from_value(output.unwrap_or_default()).unwrap_or_default();
    assert!(findings.figures.iter().all(|f| f.key.starts_with("stock_acme")), "{:?}", findings.figures);
    assert_eq!(tools.into_calls().len(), 2);

    let mut tools = runner();
    let output = MarketAgent.work(&task("How did SHOP do?", Account::new(&[])), &mut tools).await;
    let findings: MarketFindings = serde_json::from_value(output.unwrap_or_default()).unwrap_or_default();
    assert_eq!(findings.answer.as_deref(), Some(NO_QUOTES));
    assert!(findings.figures.is_empty());
}
