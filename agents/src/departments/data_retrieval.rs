//! `DataRetrieval`: fetches the datasets an intent needs from the store.

use async_trait::async_trait;
use chrono::Duration;
use serde_json::Value;

use super::{DepartmentAgent, Retrieved, TaskContext};
use crate::Department;
use crate::plan::{Granularity, Intent};
use crate::tools::{
    CustomerSegments, CustomerSegmentsInput, DiscountUsage, DiscountUsageInput, Inventory, InventoryInput,
    ProductSales, ProductSalesInput, SalesByPeriod, SalesByPeriodInput, TaskFailure, ToolRunner, TypedTool,
};

/// Pulls store data.
pub struct DataRetrievalAgent;

async fn fetch<T: TypedTool>(
    tools: &mut ToolRunner,
    out: &mut super::Datasets,
    name: &str,
    tool: &T,
    input: T::Input,
) -> Result<(), TaskFailure> {
    let (data, provenance) = tools.call(tool, input).await?;
    let data = serde_json::to_value(data).map_err(|e| TaskFailure::Infrastructure(e.into()))?;
    out.insert(name.to_owned(), Retrieved { data, provenance });
    Ok(())
}

#[async_trait]
impl DepartmentAgent for DataRetrievalAgent {
    fn department(&self) -> Department {
        Department::DataRetrieval
    }

    async fn work(&self, task: &TaskContext, tools: &mut ToolRunner) -> Result<Value, TaskFailure> {
        let (current, previous) = (task.period.current, task.period.previous);
        let store = || task.store.clone();
        let mut out = super::Datasets::new();
        // History the grant withholds (Shopify without read_all_orders): the
        // question's own period must be readable; the comparison period is
        // skipped when it is not, and the answer says so.
        let readable =
            |range: crate::store::DateRange| task.store.readable_from().is_none_or(|first| range.from >= first);
        let needed = match task.intent {
            Intent::CustomerSegments => {
                crate::store::DateRange { from: task.as_of - Duration::days(365), to: task.as_of }
            }
            _ => current,
        };
        if let Some(first) = task.store.readable_from().filter(|_| !readable(needed)) {
            return Err(TaskFailure::Rejected(format!(
                "this question needs orders from {}, but the store only lets us read orders from {first}: \
                 grant the app read_all_orders (Shopify serves 60 days without it)",
                needed.from
            )));
        }
        let compare = readable(previous);
        match task.intent {
            Intent::RevenueTrend | Intent::Anomalies => {
                let granularity =
                    if task.intent == Intent::Anomalies { Granularity::Day } else { task.period.granularity };
                let sales = SalesByPeriod(store());
                fetch(
                    tools,
                    &mut out,
                    "sales",
                    &sales,
                    SalesByPeriodInput { from: current.from, to: current.to, granularity },
                )
                .await?;
                if compare {
                    let input = SalesByPeriodInput { from: previous.from, to: previous.to, granularity };
                    fetch(tools, &mut out, "previous_sales", &sales, input).await?;
                }
            }
            Intent::TopProducts => {
                if compare {
                    let input = ProductSalesInput { from: previous.from, to: previous.to };
                    fetch(tools, &mut out, "previous_product_sales", &ProductSales(store()), input).await?;
                }
            }
            Intent::CustomerSegments => {
                // Segments are computed inside the data tool: customer-level
                // rows never enter the task output, tool-call inputs or events.
                let input = CustomerSegmentsInput { from: task.as_of - Duration::days(365), to: task.as_of };
                fetch(tools, &mut out, "customers", &CustomerSegments(store()), input).await?;
            }
            Intent::InventoryRisk => {
                let input = InventoryInput { from: current.from, to: current.to };
                fetch(tools, &mut out, "inventory", &Inventory(store()), input).await?;
            }
            Intent::DiscountOpportunities => {}
        }
        // Every recommendation is grounded in the catalogue's sales and the
        // shop's own discount history.
        let input = ProductSalesInput { from: current.from, to: current.to };
        fetch(tools, &mut out, "product_sales", &ProductSales(store()), input).await?;
        let input = DiscountUsageInput { from: current.from, to: current.to };
        fetch(tools, &mut out, "discounts", &DiscountUsage(store()), input).await?;
        serde_json::to_value(out).map_err(|e| TaskFailure::Infrastructure(e.into()))
    }
}
