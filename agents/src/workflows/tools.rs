//! The Class 3 tools a `tool` node may call, by name: every registered
//! tool, run through the task's [`ToolRunner`] like a department's own
//! calls (timeout, retries with backoff, the task's error budget, a
//! recorded call with its id as provenance). `propose_action` only ever
//! drafts a proposal, which the review stores `PENDING`, as for analyses.
//!
//! All but `shopify.customer_activity`: its rows are one customer each,
//! and customer-level rows never leave the data tools (a node's result is
//! stored, shown and quoted as text, where a privacy erasure could not
//! find them); `shopify.customer_segments` gives the same in aggregate.

use std::sync::Arc;

use serde_json::Value;

use crate::knowledge::library::Library;
use crate::result::Provenance;
use crate::store::StoreData;
use crate::tools::{
    Anomalies, Compare, CustomerSegments, DiscountUsage, Inventory, Orders, ProductSales, ProposeTool, RagCite,
    RagSearch, Rank, SalesByPeriod, Segments, TaskFailure, ToolRunner, Trend, TypedTool,
};

/// Every tool a node may name.
pub const TOOL_NAMES: [&str; 14] = [
    SalesByPeriod::NAME,
    ProductSales::NAME,
    CustomerSegments::NAME,
    Inventory::NAME,
    DiscountUsage::NAME,
    Orders::NAME,
    Trend::NAME,
    Compare::NAME,
    Rank::NAME,
    Segments::NAME,
    Anomalies::NAME,
    RagSearch::NAME,
    RagCite::NAME,
    ProposeTool::NAME,
];

/// Whether a node may call tool `name`.
pub fn is_known(name: &str) -> bool {
    TOOL_NAMES.contains(&name)
}

fn fits<T: TypedTool>(input: &Value) -> Result<(), String> {
    serde_json::from_value::<T::Input>(input.clone()).map(|_| ()).map_err(|e| e.to_string())
}

/// Whether `input` fits tool `name`'s input (for inputs that hold no
/// reference, checked when the workflow is saved).
pub fn check_input(name: &str, input: &Value) -> Result<(), String> {
    match name {
        n if n == SalesByPeriod::NAME => fits::<SalesByPeriod>(input),
        n if n == ProductSales::NAME => fits::<ProductSales>(input),
        n if n == CustomerSegments::NAME => fits::<CustomerSegments>(input),
        n if n == Inventory::NAME => fits::<Inventory>(input),
        n if n == DiscountUsage::NAME => fits::<DiscountUsage>(input),
        n if n == Orders::NAME => fits::<Orders>(input),
        n if n == Trend::NAME => fits::<Trend>(input),
        n if n == Compare::NAME => fits::<Compare>(input),
        n if n == Rank::NAME => fits::<Rank>(input),
        n if n == Segments::NAME => fits::<Segments>(input),
        n if n == Anomalies::NAME => fits::<Anomalies>(input),
        n if n == RagSearch::NAME => fits::<RagSearch>(input),
        n if n == RagCite::NAME => fits::<RagCite>(input),
        n if n == ProposeTool::NAME => fits::<ProposeTool>(input),
        other => Err(format!("unknown tool `{other}`")),
    }
}

/// What tools work on: the store's data and the account's documents.
pub struct Toolbox {
    /// The request's store.
    pub store: Arc<dyn StoreData>,
    /// The request's account's documents.
    pub library: Arc<dyn Library>,
}

async fn run<T: TypedTool>(
    runner: &mut ToolRunner,
    tool: &T,
    input: Value,
) -> Result<(Value, Provenance), TaskFailure> {
    let typed: T::Input = serde_json::from_value(input)
        .map_err(|e| TaskFailure::Rejected(format!("the input does not fit {}: {e}", T::NAME)))?;
    let (output, provenance) = runner.call(tool, typed).await?;
    let output = serde_json::to_value(&output).map_err(|e| TaskFailure::Infrastructure(e.into()))?;
    Ok((output, provenance))
}

/// Calls tool `name` with `input` through `runner`: its output as JSON and
/// the recorded call.
pub async fn call(
    name: &str,
    input: Value,
    toolbox: &Toolbox,
    runner: &mut ToolRunner,
) -> Result<(Value, Provenance), TaskFailure> {
    let store = || toolbox.store.clone();
    let library = || toolbox.library.clone();
    match name {
        n if n == SalesByPeriod::NAME => run(runner, &SalesByPeriod(store()), input).await,
        n if n == ProductSales::NAME => run(runner, &ProductSales(store()), input).await,
        n if n == CustomerSegments::NAME => run(runner, &CustomerSegments(store()), input).await,
        n if n == Inventory::NAME => run(runner, &Inventory(store()), input).await,
        n if n == DiscountUsage::NAME => run(runner, &DiscountUsage(store()), input).await,
        n if n == Orders::NAME => run(runner, &Orders(store()), input).await,
        n if n == Trend::NAME => run(runner, &Trend, input).await,
        n if n == Compare::NAME => run(runner, &Compare, input).await,
        n if n == Rank::NAME => run(runner, &Rank, input).await,
        n if n == Segments::NAME => run(runner, &Segments, input).await,
        n if n == Anomalies::NAME => run(runner, &Anomalies, input).await,
        n if n == RagSearch::NAME => run(runner, &RagSearch(library()), input).await,
        n if n == RagCite::NAME => run(runner, &RagCite(library()), input).await,
        n if n == ProposeTool::NAME => run(runner, &ProposeTool, input).await,
        other => Err(TaskFailure::Rejected(format!("unknown tool `{other}`"))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_name_is_known_and_checked() {
        for name in TOOL_NAMES {
            assert!(is_known(name));
            // Whether `{}` fits depends on the tool; no name may fall
            // through to "unknown".
            if let Err(e) = check_input(name, &json!({})) {
                assert!(!e.starts_with("unknown tool"), "{name}: {e}");
            }
        }
        assert!(!is_known("shopify.delete_everything"));
        assert!(!is_known("shopify.customer_activity"), "customer rows stay inside the data tools");
        assert!(check_input("shopify.delete_everything", &json!({})).is_err());
        let sales = json!({ "from": "2026-08-01", "to": "2026-11-01", "granularity": "MONTH" });
        assert_eq!(check_input("shopify.sales_by_period", &sales), Ok(()));
        assert!(check_input("shopify.sales_by_period", &json!({ "from": "yesterday" })).is_err());
    }
}
