//! `QualitativeAnalysis`: words from the model, figures from the tools.

use async_trait::async_trait;
use serde_json::Value;

use super::{DepartmentAgent, Findings, TaskContext};
use crate::Department;
use crate::llm::{Brief, LlmError};
use crate::tools::{TaskFailure, ToolRunner};

/// Writes the narrative.
pub struct QualitativeAgent;

#[async_trait]
impl DepartmentAgent for QualitativeAgent {
    fn department(&self) -> Department {
        Department::QualitativeAnalysis
    }

    async fn work(&self, task: &TaskContext, tools: &mut ToolRunner) -> Result<Value, TaskFailure> {
        let findings: Findings = task.upstream(Department::QuantitativeAnalysis)?;
        let brief = Brief {
            prompt: task.prompt.clone(),
            intent: task.intent,
            period_label: task.period.label(),
            currency: findings.currency,
            figures: findings.figures,
            facts: findings.facts,
            warnings: findings.warnings,
        };
        let mut narrative = loop {
            match task.llm.write(&brief, task.model.as_deref()).await {
                Ok(narrative) => break narrative,
                // The model's circuit is open: wait for it, counting no error.
                Err(LlmError::CircuitOpen(refusal)) => tools.defer(refusal).await?,
                Err(LlmError::Unavailable(m)) => {
                    return Err(TaskFailure::Infrastructure(anyhow::anyhow!("model unavailable: {m}")));
                }
                Err(LlmError::Invalid(m)) => return Err(TaskFailure::Rejected(m)),
            }
        };
        tools.record(std::mem::take(&mut narrative.tool_calls));
        serde_json::to_value(narrative).map_err(|e| TaskFailure::Infrastructure(e.into()))
    }
}
