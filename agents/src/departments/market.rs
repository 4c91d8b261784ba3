//! `Market`: how the share prices the merchant follows (suppliers',
//! competitors', their own) have moved, from the indicators the market
//! stages keep (`crate::market`), each figure citing the `stocks.*` call
//! it was read from.
//!
//! The work: `stocks.indicators` with no symbols lists every symbol the
//! account has ticks of with its latest indicators. The symbols the
//! question names ([`read::named`]: `$shop`, or the symbol as written in
//! capitals, `SHOP`) are answered, or all of them (at most
//! [`read::MAX_ANSWERED`]) when it names none. For each, `stocks.history`
//! reads its daily bars over the question's period; its move is the last
//! close against the first bar's open. An account without ticks, or a
//! period without bars, is said in the answer and the warnings, never
//! guessed.

mod read;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{DepartmentAgent, TaskContext};
use crate::Department;
use crate::result::{KeyFigure, Section};
use crate::tools::{TaskFailure, ToolRunner};

pub use read::named;

/// What the account has not got, said instead of an answer.
pub const NO_QUOTES: &str = "No share prices have reached this account yet: send ticks through ingestTicks or the \
    market feed exchange, then ask again.";

/// `Market`'s output.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MarketFindings {
    /// The moves in a sentence: added to the answer's summary.
    pub answer: Option<String>,
    /// Price, move over the period and volatility per symbol, each citing
    /// its `stocks.*` call.
    pub figures: Vec<KeyFigure>,
    /// A table of the symbols' indicators.
    pub sections: Vec<Section>,
    /// Symbols or periods without data.
    pub warnings: Vec<String>,
}

impl MarketFindings {
    fn unanswered(why: &str) -> Self {
        Self { answer: Some(why.to_owned()), warnings: vec![why.to_owned()], ..Self::default() }
    }
}

/// Reads the account's market data.
pub struct MarketAgent;

#[async_trait]
impl DepartmentAgent for MarketAgent {
    fn department(&self) -> Department {
        Department::Market
    }

    async fn work(&self, task: &TaskContext, tools: &mut ToolRunner) -> Result<Value, TaskFailure> {
        let findings = match &task.market {
            Some(quotes) => read::answer(task, quotes.clone(), tools).await?,
            None => MarketFindings::unanswered("Market data cannot be read for this analysis."),
        };
        serde_json::to_value(findings).map_err(|e| TaskFailure::Infrastructure(e.into()))
    }
}

#[cfg(test)]
mod tests;
