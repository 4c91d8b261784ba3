//! Class 3 tools: typed inputs and outputs, a JSON schema each, run with an
//! inactivity timeout (long reads report progress) and retries by
//! [`ToolRunner`], every call recorded. The store's (`shopify.*`), the
//! statistics (`stats.*`), the documents' (`rag.*`), the datasets'
//! (`datasets.*`, `sql.query`), the market's (`stocks.*`), the
//! code's (`github.analyze`, `code.*`) and `propose_action`.

pub mod code;
pub mod datasets;
mod langchain;
pub mod market;
pub mod propose;
pub mod rag;
mod runner;
mod stats;
mod store;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::breaker::CircuitOpen;

pub use code::{
    AnalysedRepository, CodeGraph, CodeGraphInput, CodeGraphOutput, CodeSearch, CodeSearchInput, CodeSearchOutput,
    FoundNode, GithubAnalyze, GithubAnalyzeInput, GithubAnalyzeOutput, NodeRef, StartedAnalysis,
};
pub use datasets::{
    DatasetSchema, DatasetsProfile, DatasetsProfileInput, DatasetsProfileOutput, DatasetsSchema, DatasetsSchemaInput,
    DatasetsSchemaOutput, SqlQuery, SqlQueryInput, SqlQueryOutput,
};
pub use langchain::{CallLog, LangchainTool};
pub use market::{
    HistoryInterval, StocksHistory, StocksHistoryInput, StocksHistoryOutput, StocksIndicators, StocksIndicatorsInput,
    StocksIndicatorsOutput, SymbolIndicators,
};
pub use propose::{
    DiscountParameters, ProductUpdateParameters, ProposeAction, ProposeInput, ProposeOutput, ProposeTool,
};
pub use rag::{
    CitedChunk, RagCite, RagCiteInput, RagCiteOutput, RagPassage, RagSearch, RagSearchInput, RagSearchOutput,
};
pub use runner::{
    ErrorBudget, FailedAttempt, MAX_TASK_ERRORS, ProgressSink, TaskFailure, ToolCallRecord, ToolProgress, ToolRunner,
};
pub use stats::{
    Anomalies, AnomaliesInput, AnomaliesOutput, AnomalyKind, Compare, CompareInput, CompareOutput, Point, Rank,
    RankInput, RankOutput, Segment, Segments, SegmentsInput, SegmentsOutput, Trend, TrendInput, TrendOutput,
};
pub use store::{
    CodeUsage, CustomerActivity, CustomerActivityInput, CustomerActivityOutput, CustomerSegments,
    CustomerSegmentsInput, CustomerSegmentsOutput, CustomerStats, DiscountUsage, DiscountUsageInput,
    DiscountUsageOutput, Inventory, InventoryInput, InventoryItem, InventoryOutput, OrderStatusFilter, OrderSummary,
    Orders, OrdersInput, OrdersOutput, PeriodSales, ProductSales, ProductSalesInput, ProductSalesOutput, ProductStats,
    SalesByPeriod, SalesByPeriodInput, SalesByPeriodOutput,
};

/// Why a tool call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ToolError {
    /// The input does not fit the tool's schema; retrying cannot help.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Worth retrying (throttled, timed out, unavailable).
    #[error("{0}")]
    Transient(String),
    /// Not tried: the provider's circuit is open. No error of the call's:
    /// the runner waits for the hint instead of counting it.
    #[error("{0}")]
    CircuitOpen(CircuitOpen),
}

/// A tool with typed input and output.
#[async_trait]
pub trait TypedTool: Send + Sync {
    /// Validated input.
    type Input: DeserializeOwned + Serialize + JsonSchema + Send + Sync;
    /// Result, with its JSON schema too: a model (or a client reading the
    /// call records) knows what comes back before it calls.
    type Output: Serialize + JsonSchema + Send + Sync;
    /// Dotted name, e.g. `shopify.sales_by_period`.
    const NAME: &'static str;
    /// What it does, for a model choosing tools.
    const DESCRIPTION: &'static str;
    /// Runs it.
    async fn call(&self, input: &Self::Input) -> Result<Self::Output, ToolError>;
    /// A one-line summary of the output for the call record.
    fn summarize(output: &Self::Output) -> String;
}

/// The untyped face of a tool, as a model calls it: JSON in, JSON out.
#[async_trait]
pub trait Tool: Send + Sync {
    /// Dotted name.
    fn name(&self) -> &'static str;
    /// What it does.
    fn description(&self) -> &'static str;
    /// JSON schema of the input.
    fn parameters(&self) -> Value;
    /// JSON schema of the output.
    fn output_schema(&self) -> Value;
    /// Validates `input` against the typed input, runs, serializes.
    async fn run(&self, input: Value) -> Result<Value, ToolError>;
}

#[async_trait]
impl<T: TypedTool> Tool for T {
    fn name(&self) -> &'static str {
        T::NAME
    }

    fn description(&self) -> &'static str {
        T::DESCRIPTION
    }

    fn parameters(&self) -> Value {
        serde_json::to_value(schemars::schema_for!(T::Input)).unwrap_or(Value::Null)
    }

    fn output_schema(&self) -> Value {
        serde_json::to_value(schemars::schema_for!(T::Output)).unwrap_or(Value::Null)
    }

    async fn run(&self, input: Value) -> Result<Value, ToolError> {
        let input: T::Input = serde_json::from_value(input).map_err(|e| ToolError::InvalidInput(e.to_string()))?;
        let output = self.call(&input).await?;
        serde_json::to_value(output).map_err(|e| ToolError::Transient(e.to_string()))
    }
}

/// Cents to major units for reporting.
pub(crate) fn major(cents: i64) -> f64 {
    cents as f64 / 100.0
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::NaiveDate;
    use serde_json::json;

    use super::*;
    use crate::store::DemoStore;

    /// Runs `tool` through its untyped face and checks the answer against the
    /// output schema it declares: every required field there, nothing undeclared.
    async fn assert_fits(tool: &dyn Tool, input: Value) {
        let output = tool.run(input).await.unwrap_or_else(|e| panic!("{}: {e}", tool.name()));
        let schema = tool.output_schema();
        let declared = schema["properties"].as_object().unwrap_or_else(|| panic!("{}: {schema}", tool.name()));
        let fields = output.as_object().unwrap_or_else(|| panic!("{}: {output}", tool.name()));
        for field in fields.keys() {
            assert!(declared.contains_key(field), "{}: {field} is not in its output schema", tool.name());
        }
        for required in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            assert!(fields.contains_key(required), "{}: no {required} in {output}", tool.name());
        }
    }

    #[tokio::test]
    async fn outputs_match_their_declared_schemas() {
        let points = json!([{ "label": "a", "value": 1.0 }, { "label": "b", "value": 3.0 }]);
        assert_fits(&Trend, json!({ "points": points })).await;
        let day = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap_or_default();
        let store = Arc::new(DemoStore::new(7, day));
        let input = json!({ "from": "2026-08-01", "to": "2026-11-01", "granularity": "MONTH" });
        assert_fits(&SalesByPeriod(store.clone()), input).await;
        assert_fits(&ProductSales(store), json!({ "from": "2026-08-01", "to": "2026-11-01" })).await;
    }
}
