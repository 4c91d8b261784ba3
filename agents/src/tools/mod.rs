//! Class 3 tools: typed inputs and outputs, a JSON schema each, run with a
//! timeout and retries by [`ToolRunner`], every call recorded.

mod langchain;
pub mod propose;
mod runner;
mod stats;
mod store;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use langchain::{CallLog, LangchainTool};
pub use propose::{
    DiscountParameters, ProductUpdateParameters, ProposeAction, ProposeInput, ProposeOutput, ProposeTool,
};
pub use runner::{ErrorBudget, MAX_TASK_ERRORS, TaskFailure, ToolCallRecord, ToolRunner};
pub use stats::{
    Anomalies, AnomaliesInput, AnomaliesOutput, Compare, CompareInput, CompareOutput, Point, Rank, RankInput,
    RankOutput, Segment, Segments, SegmentsInput, SegmentsOutput, Trend, TrendInput, TrendOutput,
};
pub use store::{
    CodeUsage, CustomerActivity, CustomerActivityInput, CustomerActivityOutput, CustomerStats, DiscountUsage,
    DiscountUsageInput, DiscountUsageOutput, Inventory, InventoryInput, InventoryItem, InventoryOutput,
    OrderStatusFilter, OrderSummary, Orders, OrdersInput, OrdersOutput, PeriodSales, ProductSales, ProductSalesInput,
    ProductSalesOutput, ProductStats, SalesByPeriod, SalesByPeriodInput, SalesByPeriodOutput,
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
}

/// A tool with typed input and output.
#[async_trait]
pub trait TypedTool: Send + Sync {
    /// Validated input.
    type Input: DeserializeOwned + Serialize + JsonSchema + Send + Sync;
    /// Result.
    type Output: Serialize + Send + Sync;
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
