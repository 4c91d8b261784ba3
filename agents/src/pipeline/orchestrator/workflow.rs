//! The orchestrator's side of a saved workflow's run: the plan is the
//! workflow's graph (one `Workflow` task per node, in a topological order,
//! each waiting for the nodes its edges come from), written by the same
//! `write_plan` as an analysis's, so the same dispatch rounds run it; the
//! review reads the nodes' outputs ([`crate::workflows::review`]).

use std::collections::HashSet;

use sea_orm::{ColumnTrait, QueryFilter};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use alatar_entity::{AccountScope, AnalysisStatus, agent_task, analysis_request, workflow};

use super::{Planned, shop_day, write_plan};
use crate::pipeline::Pipeline;
use crate::pipeline::lifecycle::end;
use crate::workflows::{Definition, Review, WORKFLOW_INTENT, WorkflowPlan};

/// Plans a run of workflow `workflow_id` from its definition as it is now
/// (the plan keeps a copy: later edits do not change a run under way).
/// The definition and the run's inputs are checked once more first (P23):
/// one that no longer passes fails the run before any node starts.
pub(super) async fn plan(p: &Pipeline, request: &analysis_request::Model, workflow_id: Uuid) -> anyhow::Result<()> {
    let scope = AccountScope::new(request.account_id);
    let found =
        scope.find::<workflow::Entity>().filter(workflow::Column::Id.eq(workflow_id)).one(&scope.on(&p.db)).await?;
    let Some(found) = found else {
        end(p, request, AnalysisStatus::Failed, Some("the workflow was deleted before it could run")).await?;
        return Ok(());
    };
    let inputs = request.workflow_inputs.clone().unwrap_or(Value::Null);
    let checked = Definition::parse(&found.definition)
        .and_then(|definition| definition.check_inputs(Some(&inputs)).map(|inputs| (definition, inputs)));
    let (definition, inputs) = match checked {
        Ok(checked) => checked,
        Err(e) => {
            let reason = format!("the workflow was rejected before it ran: {e}");
            end(p, request, AnalysisStatus::Failed, Some(&reason)).await?;
            return Ok(());
        }
    };
    let as_of = shop_day(p, request).await?;
    let run = WorkflowPlan::new(found.id, found.name.clone(), found.definition.clone(), &definition, inputs, as_of);
    let steps = run.steps(&definition);
    let mut event = Map::new();
    event.insert("workflow".to_owned(), json!({ "id": found.id, "name": found.name }));
    let planned = Planned { intent: WORKFLOW_INTENT.to_owned(), record: serde_json::to_value(&run)?, steps, event };
    write_plan(p, request, request.status == AnalysisStatus::Planning, planned).await
}

/// The run's answer from its nodes' outputs; `None` when its plan cannot
/// be read.
pub(super) fn review(
    request: &analysis_request::Model,
    tasks: &[agent_task::Model],
    recorded: &HashSet<Uuid>,
) -> Option<Review> {
    let run: WorkflowPlan = serde_json::from_value(request.plan.clone()?).ok()?;
    Some(crate::workflows::review(&run, tasks, recorded))
}
