//! langchain-rust's `Tool` interface over our typed tools, so an LLM-driven
//! agent can call them. Every call is validated against the typed input and
//! recorded like a department's own calls.

use std::error::Error;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use serde_json::Value;
use uuid::Uuid;

use super::{ToolCallRecord, TypedTool};

/// The bound on one tool call a model makes (a department's calls have
/// `pipeline.tool_timeout`, whose default this is).
const MODEL_TOOL_TIMEOUT: Duration = Duration::from_secs(30);

/// Calls recorded by adapters during one model conversation.
pub type CallLog = Arc<Mutex<Vec<ToolCallRecord>>>;

/// A typed tool as a langchain-rust tool.
pub struct LangchainTool<T> {
    tool: T,
    log: CallLog,
}

impl<T: TypedTool + 'static> LangchainTool<T> {
    /// Wraps `tool`; successful calls are appended to `log`.
    pub fn shared(tool: T, log: CallLog) -> Arc<dyn langchain_rust::tools::Tool> {
        Arc::new(Self { tool, log })
    }
}

#[async_trait]
impl<T: TypedTool> langchain_rust::tools::Tool for LangchainTool<T> {
    fn name(&self) -> String {
        // Function names allow [a-zA-Z0-9_-] only.
        T::NAME.replace('.', "_")
    }

    fn description(&self) -> String {
        T::DESCRIPTION.to_owned()
    }

    fn parameters(&self) -> Value {
        let mut schema = serde_json::to_value(schemars::schema_for!(T::Input)).unwrap_or(Value::Null);
        if let Some(object) = schema.as_object_mut() {
            object.remove("$schema");
            object.remove("title");
        }
        schema
    }

    async fn parse_input(&self, input: &str) -> Value {
        serde_json::from_str(input).unwrap_or_else(|_| Value::String(input.to_owned()))
    }

    async fn run(&self, input: Value) -> Result<String, Box<dyn Error>> {
        let typed: T::Input = serde_json::from_value(input.clone())?;
        let at = Utc::now();
        let started = Instant::now();
        // A failure goes back to the model as the tool's answer (it may
        // correct its input); the model's own turn limit bounds retries.
        let output = match tokio::time::timeout(MODEL_TOOL_TIMEOUT, self.tool.call(&typed)).await {
            Ok(Ok(output)) => output,
            Ok(Err(e)) => {
                tracing::warn!(tool = T::NAME, %input, error = %e, duration_ms = started.elapsed().as_millis(), "model's tool call failed");
                return Err(e.into());
            }
            Err(_) => {
                tracing::warn!(tool = T::NAME, %input, "model's tool call timed out");
                return Err(format!("timed out after {} s", MODEL_TOOL_TIMEOUT.as_secs()).into());
            }
        };
        let record = ToolCallRecord {
            id: Uuid::now_v7(),
            tool: T::NAME.to_owned(),
            input,
            output_summary: T::summarize(&output),
            attempts: 1,
            duration: started.elapsed(),
            at,
        };
        if let Ok(mut log) = self.log.lock() {
            log.push(record);
        }
        Ok(serde_json::to_string(&output)?)
    }
}
