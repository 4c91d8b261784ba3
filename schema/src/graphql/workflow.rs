//! Saved workflows: `createWorkflow`, `workflows`, `workflow`,
//! `updateWorkflow`, `deleteWorkflow` and `runWorkflow`. A run is an
//! `AnalysisRequest`: it streams on `analysisRequestUpdates` and its
//! nodes are its `tasks`.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Json, MaybeUndefined, Object, Result};
use chrono::{DateTime, Utc};
use serde_json::Value;

use alatar_entity::{AccountScope, workflow};

use crate::context::ContextExt;
use crate::service::workflow::{self as service, WorkflowChange};

use super::analysis::AnalysisRequest;
use super::knowledge::{connection, page};
use super::parse_id;

/// A saved workflow: a DAG of nodes run on demand.
pub struct Workflow(pub workflow::Model);

#[Object]
impl Workflow {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Unique within the account.
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// `{ inputs, nodes: [{ id, type, params }], edges: [{ from, to }] }`, as saved.
    async fn definition(&self) -> Json<Value> {
        Json(self.0.definition.clone())
    }
    /// The inputs a run must give.
    async fn inputs(&self) -> Vec<String> {
        let declared = self.0.definition.get("inputs").and_then(Value::as_array);
        declared.into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
    }
    /// How many nodes it has.
    async fn node_count(&self) -> i32 {
        let nodes = self.0.definition.get("nodes").and_then(Value::as_array).map_or(0, Vec::len);
        i32::try_from(nodes).unwrap_or(i32::MAX)
    }
    /// Its runs, newest first.
    async fn runs(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<Connection<String, AnalysisRequest>> {
        let (first, before) = page(first, 100, after.as_deref())?;
        let scope = AccountScope::new(self.0.account_id);
        let rows =
            crate::service::analysis::runs_of(&ctx.state().pipeline, scope, self.0.id, before, first + 1).await?;
        Ok(connection(rows, first, before.is_some(), |r| r.id.to_string(), AnalysisRequest))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// Workflow queries.
#[derive(Default)]
pub struct WorkflowQuery;

#[Object]
impl WorkflowQuery {
    /// The account's workflows, newest first.
    async fn workflows(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<Connection<String, Workflow>> {
        let (first, before) = page(first, 100, after.as_deref())?;
        let rows = service::workflows(&ctx.state().pipeline, ctx.scope()?, before, first + 1).await?;
        Ok(connection(rows, first, before.is_some(), |w| w.id.to_string(), Workflow))
    }

    /// One of the account's workflows.
    async fn workflow(&self, ctx: &Context<'_>, id: ID) -> Result<Workflow> {
        let id = parse_id("id", &id)?;
        Ok(Workflow(service::workflow(&ctx.state().pipeline, ctx.scope()?, id).await?))
    }
}

/// Workflow mutations.
#[derive(Default)]
pub struct WorkflowMutation;

#[Object]
impl WorkflowMutation {
    /// Saves a workflow; the name is unique in the account. The definition
    /// is checked first: an unknown node type or tool, a duplicate id, a
    /// cycle, an edge to no node, a template reading an undeclared input
    /// or a node that does not run before, bad parameters or more than 50
    /// nodes are `BAD_USER_INPUT` naming the node. Viewers may not.
    async fn create_workflow(
        &self,
        ctx: &Context<'_>,
        name: String,
        description: Option<String>,
        definition: Json<Value>,
    ) -> Result<Workflow> {
        let viewer = ctx.viewer()?;
        let created =
            service::create_workflow(&ctx.state().pipeline, ctx.scope()?, viewer, &name, description, definition.0)
                .await?;
        Ok(Workflow(created))
    }

    /// Changes a workflow's name, description (null removes it) or
    /// definition (checked as on creation); runs under way keep the
    /// definition they started with.
    async fn update_workflow(
        &self,
        ctx: &Context<'_>,
        id: ID,
        name: Option<String>,
        description: MaybeUndefined<String>,
        definition: Option<Json<Value>>,
    ) -> Result<Workflow> {
        let viewer = ctx.viewer()?;
        let id = parse_id("id", &id)?;
        let description = match description {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(text) => Some(Some(text)),
        };
        let change = WorkflowChange { name, description, definition: definition.map(|d| d.0) };
        Ok(Workflow(service::update_workflow(&ctx.state().pipeline, ctx.scope()?, viewer, id, change).await?))
    }

    /// Deletes a workflow; its past runs stay. The deleted workflow's id.
    async fn delete_workflow(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let viewer = ctx.viewer()?;
        let parsed = parse_id("id", &id)?;
        service::delete_workflow(&ctx.state().pipeline, ctx.scope()?, viewer, parsed).await?;
        Ok(id)
    }

    /// Runs a workflow over one of the account's stores with `inputs` (a
    /// JSON object holding each input the workflow declares) and answers at
    /// once with the queued request: its nodes run in edge order as its
    /// `tasks`, streamed on `analysisRequestUpdates`; its `result` holds
    /// each node's output and, as `summary`, its last nodes'. A definition
    /// that no longer passes or a missing input is `BAD_USER_INPUT` and
    /// nothing runs. Viewers may not.
    async fn run_workflow(
        &self,
        ctx: &Context<'_>,
        id: ID,
        inputs: Option<Json<Value>>,
        store_id: ID,
    ) -> Result<AnalysisRequest> {
        let viewer = ctx.viewer()?;
        let id = parse_id("id", &id)?;
        let store_id = parse_id("storeId", &store_id)?;
        let inputs = inputs.map(|i| i.0);
        let run = service::run_workflow(&ctx.state().pipeline, ctx.scope()?, viewer, id, inputs, store_id).await?;
        Ok(AnalysisRequest(run))
    }
}
