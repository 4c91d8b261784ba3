//! `Workflow`: runs the nodes of a merchant's saved workflow, one task per
//! node (`crate::workflows`). It works from the run's plan, not from an
//! analysis brief, so the orchestrator hands it nodes only.

use async_trait::async_trait;
use serde_json::Value;

use super::{DepartmentAgent, TaskContext};
use crate::Department;
use crate::tools::{TaskFailure, ToolRunner};
use crate::workflows::{NodeContext, run_node};

/// The `Workflow` department.
pub struct WorkflowAgent;

#[async_trait]
impl DepartmentAgent for WorkflowAgent {
    fn department(&self) -> Department {
        Department::Workflow
    }

    async fn work(&self, _task: &TaskContext, _tools: &mut ToolRunner) -> Result<Value, TaskFailure> {
        // No plan but a workflow's gives this department a task.
        let why = "the Workflow department runs the nodes of saved workflows, not analysis steps";
        Err(TaskFailure::Rejected(why.to_owned()))
    }

    async fn work_node(&self, node: &NodeContext, tools: &mut ToolRunner) -> Result<Value, TaskFailure> {
        run_node(node, tools).await
    }
}
