//! Market tools (the `Market` department's) over the [`Quotes`] port, bound
//! to one account: `stocks.indicators` returns the latest indicator set of
//! the symbols asked (or of every symbol the account has ticks of), and
//! `stocks.history` one symbol's bars over a time range. Both read; neither
//! changes anything.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ToolError, TypedTool};
use crate::market::history::{HistoryBar, HistoryError, Interval};
use crate::market::indicators::IndicatorSet;
use crate::market::quotes::Quotes;

/// Most symbols one `stocks.indicators` call reads.
pub const MAX_SYMBOLS: usize = 50;

/// Input of `stocks.indicators`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StocksIndicatorsInput {
    /// Ticker symbols; every symbol of the account (up to 50) when empty.
    #[serde(default)]
    pub symbols: Vec<String>,
}

/// The latest indicators of one symbol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SymbolIndicators {
    /// The symbol asked for.
    pub symbol: String,
    /// Its latest indicators; none when the account has no ticks of it.
    pub latest: Option<IndicatorSet>,
}

/// Output of `stocks.indicators`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StocksIndicatorsOutput {
    /// In the order asked (sorted when every symbol was asked for).
    pub symbols: Vec<SymbolIndicators>,
}

/// `stocks.indicators`.
pub struct StocksIndicators(pub Arc<dyn Quotes>);

#[async_trait]
impl TypedTool for StocksIndicators {
    type Input = StocksIndicatorsInput;
    type Output = StocksIndicatorsOutput;
    const NAME: &'static str = "stocks.indicators";
    const DESCRIPTION: &'static str = "Latest price, SMA(20), EMA(12), session VWAP and annualised volatility of \
        share symbols the account follows (all of them when none is named), each with its as-of time.";

    async fn call(&self, input: &Self::Input) -> Result<Self::Output, ToolError> {
        let symbols = if input.symbols.is_empty() {
            let mut all = self.0.symbols().await.map_err(|e| ToolError::Transient(e.to_string()))?;
            all.truncate(MAX_SYMBOLS);
            all
        } else if input.symbols.len() > MAX_SYMBOLS {
            return Err(ToolError::InvalidInput(format!("at most {MAX_SYMBOLS} symbols per call")));
        } else {
            input.symbols.clone()
        };
        let latest = self.0.latest(&symbols).await.map_err(|e| ToolError::Transient(e.to_string()))?;
        let symbols =
            symbols.into_iter().zip(latest).map(|(symbol, latest)| SymbolIndicators { symbol, latest }).collect();
        Ok(StocksIndicatorsOutput { symbols })
    }

    fn summarize(output: &Self::Output) -> String {
        let known = output.symbols.iter().filter(|s| s.latest.is_some()).count();
        format!("{known} of {} symbols with indicators", output.symbols.len())
    }
}

/// Bar size of `stocks.history`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HistoryInterval {
    /// One minute.
    Minute,
    /// Five minutes.
    FiveMinutes,
    /// Fifteen minutes.
    FifteenMinutes,
    /// One hour.
    Hour,
    /// One trading session.
    #[default]
    Day,
}

impl From<HistoryInterval> for Interval {
    fn from(interval: HistoryInterval) -> Self {
        match interval {
            HistoryInterval::Minute => Interval::Minute,
            HistoryInterval::FiveMinutes => Interval::FiveMinutes,
            HistoryInterval::FifteenMinutes => Interval::FifteenMinutes,
            HistoryInterval::Hour => Interval::Hour,
            HistoryInterval::Day => Interval::Day,
        }
    }
}

/// Input of `stocks.history`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StocksHistoryInput {
    /// The symbol.
    pub symbol: String,
    /// First instant included.
    pub from: DateTime<Utc>,
    /// First instant excluded.
    pub to: DateTime<Utc>,
    /// Bar size; a trading session when absent.
    #[serde(default)]
    pub interval: HistoryInterval,
}

/// Output of `stocks.history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StocksHistoryOutput {
    /// The symbol.
    pub symbol: String,
    /// Its bars in `[from, to)`, oldest first.
    pub bars: Vec<HistoryBar>,
}

/// `stocks.history`.
pub struct StocksHistory(pub Arc<dyn Quotes>);

#[async_trait]
impl TypedTool for StocksHistory {
    type Input = StocksHistoryInput;
    type Output = StocksHistoryOutput;
    const NAME: &'static str = "stocks.history";
    const DESCRIPTION: &'static str = "One symbol's OHLC bars (minute to trading session) with volume, VWAP and \
        the indicators at each bar's close, over a time range.";

    async fn call(&self, input: &Self::Input) -> Result<Self::Output, ToolError> {
        let bars =
            self.0.history(&input.symbol, input.from, input.to, input.interval.into()).await.map_err(|e| match e {
                HistoryError::Db(_) => ToolError::Transient(e.to_string()),
                _ => ToolError::InvalidInput(e.to_string()),
            })?;
        Ok(StocksHistoryOutput { symbol: input.symbol.clone(), bars })
    }

    fn summarize(output: &Self::Output) -> String {
        format!("{} bars of {}", output.bars.len(), output.symbol)
    }
}
