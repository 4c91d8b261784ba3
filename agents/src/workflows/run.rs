//! What a run's request stores as its plan (`analysis_requests.plan`): the
//! workflow's definition as it was when the run was planned (so an edit,
//! or a deletion, while it runs changes nothing), the run's inputs, and the
//! nodes in step order. Task `step` works node `order[step]`.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::definition::Definition;
use crate::Department;
use crate::plan::PlanStep;

/// `analysis_requests.intent` of a workflow's run.
pub const WORKFLOW_INTENT: &str = "WORKFLOW";

/// A planned run of a saved workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowPlan {
    /// The workflow run.
    pub workflow_id: Uuid,
    /// Its name when the run was planned.
    pub name: String,
    /// Its definition when the run was planned, as saved.
    pub definition: Value,
    /// The run's inputs.
    pub inputs: Map<String, Value>,
    /// Node ids in step order: every node after all it depends on.
    pub order: Vec<String>,
    /// "Today" in the shop's calendar when the run was planned.
    pub as_of: NaiveDate,
}

impl WorkflowPlan {
    /// The plan of a run of `definition` (parsed from `raw`).
    pub fn new(
        workflow_id: Uuid,
        name: String,
        raw: Value,
        definition: &Definition,
        inputs: Map<String, Value>,
        as_of: NaiveDate,
    ) -> Self {
        let order = definition.ordered().map(|n| n.id.clone()).collect();
        Self { workflow_id, name, definition: raw, inputs, order, as_of }
    }

    /// One `Workflow` task per node, in step order, each waiting for the
    /// nodes its edges come from.
    pub fn steps(&self, definition: &Definition) -> Vec<PlanStep> {
        self.order
            .iter()
            .map(|id| {
                let kind = definition.node(id).map_or("node", |n| n.kind.name());
                let depends_on =
                    definition.parents(id).iter().filter_map(|p| self.order.iter().position(|o| o == p)).collect();
                PlanStep { department: Department::Workflow, objective: format!("{id} ({kind})"), depends_on }
            })
            .collect()
    }

    /// The node task `step` works.
    pub fn node_at(&self, step: i32) -> Option<&str> {
        usize::try_from(step).ok().and_then(|i| self.order.get(i)).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn steps_follow_the_edges() {
        let raw = json!({
            "nodes": [
                { "id": "c", "type": "postprocess", "params": { "op": "join" } },
                { "id": "a", "type": "postprocess", "params": { "op": "format", "template": "a" } },
                { "id": "b", "type": "postprocess", "params": { "op": "format", "template": "b" } },
            ],
            "edges": [{ "from": "a", "to": "c" }, { "from": "b", "to": "c" }],
        });
        let definition = Definition::parse(&raw).unwrap_or_else(|e| panic!("{e}"));
        let day = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap_or_default();
        let plan = WorkflowPlan::new(Uuid::nil(), "w".into(), raw, &definition, Map::new(), day);
        assert_eq!(plan.order, ["a", "b", "c"]);
        let steps = plan.steps(&definition);
        let shape: Vec<(String, Vec<usize>)> =
            steps.iter().map(|s| (s.objective.clone(), s.depends_on.clone())).collect();
        let expected: Vec<(String, Vec<usize>)> = vec![
            ("a (postprocess)".to_owned(), vec![]),
            ("b (postprocess)".to_owned(), vec![]),
            ("c (postprocess)".to_owned(), vec![0, 1]),
        ];
        assert_eq!(shape, expected);
        assert!(steps.iter().all(|s| s.department == Department::Workflow));
        assert_eq!(plan.node_at(2), Some("c"));
        assert_eq!(plan.node_at(3), None);
        let stored = serde_json::to_value(&plan).unwrap_or_default();
        assert_eq!(serde_json::from_value::<WorkflowPlan>(stored).ok(), Some(plan));
    }
}
