//! Analysis: `connectDemoStore`, `stores`, `submitAnalysisRequest`,
//! `analysisRequest`, `listAnalysisRequests`, `cancelAnalysisRequest` and
//! the `analysisRequestUpdates` subscription.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Enum, ID, Json, Object, Result, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
use serde_json::Value;
use uuid::Uuid;

use alatar_agents::pipeline::{Event, watch};
use alatar_agents::result::{
    AnalysisBody, Citation as CitationModel, KeyFigure as KeyFigureModel, Provenance as ProvenanceModel,
    Visualization as VisualizationModel,
};
use alatar_entity::{AccountScope, agent_task, analysis_request, analysis_result, proposed_action, store, tool_call};

use crate::context::ContextExt;
use crate::error::ApiError;
use crate::service::analysis;

use super::actions::ProposedAction;
use super::parse_id;
use super::shopify::Store;

/// Where an analysis request is in its life.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "alatar_entity::AnalysisStatus")]
pub enum AnalysisStatus {
    /// Stored and published; waiting for a worker.
    Queued,
    /// The orchestrator is planning.
    Planning,
    /// Departments are working.
    Running,
    /// The result holds proposals waiting for a person.
    AwaitingApproval,
    /// Done; the result is available.
    Completed,
    /// Failed; see `failureReason`.
    Failed,
    /// Cancelled by a user.
    Cancelled,
}

/// A department task's state.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "alatar_entity::TaskStatus")]
pub enum TaskStatus {
    /// Waiting for its inputs.
    Pending,
    /// On its department's queue or being worked.
    Dispatched,
    /// Output committed.
    Completed,
    /// Failed after too many errors.
    Failed,
    /// Its request ended first.
    Cancelled,
}

/// A merchant's question and its progress.
pub struct AnalysisRequest(pub analysis_request::Model);

impl AnalysisRequest {
    fn scope(&self) -> AccountScope {
        AccountScope::new(self.0.account_id)
    }
}

#[Object]
impl AnalysisRequest {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The question as asked.
    async fn prompt(&self) -> &str {
        &self.0.prompt
    }
    async fn status(&self) -> AnalysisStatus {
        self.0.status.into()
    }
    /// `REVENUE_TREND`, `TOP_PRODUCTS`, … once planned.
    async fn intent(&self) -> Option<&str> {
        self.0.intent.as_deref()
    }
    /// The orchestrator's plan (for a workflow's run: the definition it
    /// runs, its inputs and the nodes in step order).
    async fn plan(&self) -> Option<Json<Value>> {
        self.0.plan.clone().map(Json)
    }
    /// The saved workflow this request runs (`runWorkflow`); null for a question.
    async fn workflow_id(&self) -> Option<ID> {
        self.0.workflow_id.map(|id| ID(id.to_string()))
    }
    /// The inputs the workflow was run with.
    async fn workflow_inputs(&self) -> Option<Json<Value>> {
        self.0.workflow_inputs.clone().map(Json)
    }
    /// The model asked to write the narrative (the user's preference or the
    /// default); `AnalysisResult.writtenBy` says who actually wrote it.
    async fn model(&self) -> &str {
        &self.0.model
    }
    /// Why it failed.
    async fn failure_reason(&self) -> Option<&str> {
        self.0.failure_reason.as_deref()
    }
    /// The sequence number of the latest event (resume subscriptions after it).
    async fn last_sequence(&self) -> i64 {
        self.0.last_sequence
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at
    }
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }
    /// The store asked about.
    async fn store(&self, ctx: &Context<'_>) -> Result<Option<Store>> {
        let found = self
            .scope()
            .find::<store::Entity>()
            .filter(store::Column::Id.eq(self.0.store_id))
            .one(&ctx.state().pipeline.db)
            .await
            .map_err(ApiError::internal)?;
        Ok(found.map(Store::new))
    }
    /// The departments' tasks, in plan order.
    async fn tasks(&self, ctx: &Context<'_>) -> Result<Vec<AgentTask>> {
        let tasks = self
            .scope()
            .find::<agent_task::Entity>()
            .filter(agent_task::Column::RequestId.eq(self.0.id))
            .order_by_asc(agent_task::Column::Step)
            .all(&ctx.state().pipeline.db)
            .await
            .map_err(ApiError::internal)?;
        Ok(tasks.into_iter().map(AgentTask).collect())
    }
    /// The answer, once written.
    async fn result(&self, ctx: &Context<'_>) -> Result<Option<AnalysisResult>> {
        let found = self
            .scope()
            .find::<analysis_result::Entity>()
            .filter(analysis_result::Column::RequestId.eq(self.0.id))
            .one(&ctx.state().pipeline.db)
            .await
            .map_err(ApiError::internal)?;
        Ok(found.map(AnalysisResult::new))
    }
    /// Persisted events after `afterSequence` (the subscription streams them live).
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 0)] after_sequence: i64,
    ) -> Result<Vec<AnalysisEvent>> {
        let events =
            alatar_agents::pipeline::journal::events_after(&ctx.state().pipeline.db, self.0.id, after_sequence, 1_000)
                .await
                .map_err(ApiError::internal)?;
        Ok(events.into_iter().map(AnalysisEvent).collect())
    }
}

/// One department's share of a request (seed 002: status, assignment, error count).
pub struct AgentTask(pub agent_task::Model);

#[Object]
impl AgentTask {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Position in the plan.
    async fn step(&self) -> i32 {
        self.0.step
    }
    /// Assigned department, e.g. `DataRetrieval`.
    async fn department(&self) -> &str {
        &self.0.department
    }
    /// What it must produce.
    async fn objective(&self) -> &str {
        &self.0.objective
    }
    async fn status(&self) -> TaskStatus {
        self.0.status.into()
    }
    /// Deliveries that worked on it.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    /// Tool errors; at 5 the task fails.
    async fn error_count(&self) -> i32 {
        self.0.error_count
    }
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    /// A workflow node's result, once it ran: `{ node, type, output, text }`
    /// (and the recorded call or model behind it). Null for an analysis's
    /// steps, whose work reaches clients as the reviewed result.
    async fn output(&self) -> Option<Json<Value>> {
        if self.0.department != alatar_agents::Department::Workflow.name() {
            return None;
        }
        self.0.output.clone().map(Json)
    }
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }
    /// The tool calls its output relies on.
    async fn tool_calls(&self, ctx: &Context<'_>) -> Result<Vec<ToolCall>> {
        let calls = AccountScope::new(self.0.account_id)
            .find::<tool_call::Entity>()
            .filter(tool_call::Column::TaskId.eq(self.0.id))
            .order_by_asc(tool_call::Column::Id)
            .all(&ctx.state().pipeline.db)
            .await
            .map_err(ApiError::internal)?;
        Ok(calls.into_iter().map(ToolCall).collect())
    }
}

/// A recorded Class 3 tool call.
pub struct ToolCall(pub tool_call::Model);

#[Object]
impl ToolCall {
    /// Cited by key figures' provenance.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn tool(&self) -> &str {
        &self.0.tool
    }
    /// The validated input (the query behind the numbers).
    async fn input(&self) -> Json<Value> {
        Json(self.0.input.clone())
    }
    async fn output_summary(&self) -> &str {
        &self.0.output_summary
    }
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    async fn duration_ms(&self) -> f64 {
        self.0.duration_us as f64 / 1000.0
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Where a figure came from.
#[derive(SimpleObject)]
pub struct Provenance {
    /// The tool call (see `AgentTask.toolCalls`).
    pub tool_call_id: ID,
    /// The tool.
    pub tool: String,
    /// Its input.
    pub query: Json<Value>,
}

impl Provenance {
    fn of(p: &ProvenanceModel) -> Self {
        Provenance { tool_call_id: ID(p.tool_call_id.to_string()), tool: p.tool.clone(), query: Json(p.query.clone()) }
    }
}

/// A number with its provenance.
pub struct KeyFigure(KeyFigureModel);

#[Object]
impl KeyFigure {
    async fn key(&self) -> &str {
        &self.0.key
    }
    async fn label(&self) -> &str {
        &self.0.label
    }
    async fn value(&self) -> f64 {
        self.0.value
    }
    /// `USD`, `%`, `orders`, `units`, `days`, `customers`, `variants`.
    async fn unit(&self) -> &str {
        &self.0.unit
    }
    async fn provenance(&self) -> Vec<Provenance> {
        self.0.provenance.iter().map(Provenance::of).collect()
    }
}

/// Where a claim from the merchant's documents comes from.
pub struct Citation(CitationModel);

#[Object]
impl Citation {
    /// `1` for the text's `[1]`.
    async fn marker(&self) -> i32 {
        i32::try_from(self.0.marker).unwrap_or(i32::MAX)
    }
    /// The chunk cited.
    async fn chunk_id(&self) -> ID {
        ID(self.0.chunk_id.to_string())
    }
    /// Its document.
    async fn document_id(&self) -> ID {
        ID(self.0.document_id.to_string())
    }
    /// The name the document was uploaded under.
    async fn filename(&self) -> &str {
        &self.0.filename
    }
    /// 1-based page (PDF); null for unpaginated documents.
    async fn page(&self) -> Option<i32> {
        self.0.page
    }
    /// First character of the quote in the page's extracted text.
    async fn char_start(&self) -> i32 {
        self.0.char_start
    }
    /// One past its last character.
    async fn char_end(&self) -> i32 {
        self.0.char_end
    }
    /// The words cited, exactly as the document has them.
    async fn quote(&self) -> &str {
        &self.0.quote
    }
    /// The tool calls that found (`rag.search`) and re-read (`rag.cite`) it.
    async fn provenance(&self) -> Vec<Provenance> {
        self.0.provenance.iter().map(Provenance::of).collect()
    }
}

/// A chart.
pub struct Visualization(VisualizationModel);

#[Object]
impl Visualization {
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// `LINE` or `BAR`.
    async fn chart_type(&self) -> &str {
        &self.0.chart_type
    }
    /// The rows plotted.
    async fn data(&self) -> Json<Vec<Value>> {
        Json(self.0.data.clone())
    }
    /// A Vega-Lite v5 spec with the data inlined.
    async fn spec(&self) -> Json<Value> {
        Json(self.0.spec.clone())
    }
}

/// A titled paragraph.
#[derive(SimpleObject)]
pub struct Section {
    /// Heading.
    pub title: String,
    /// Text.
    pub body: String,
}

/// Advice in words.
#[derive(SimpleObject)]
pub struct Recommendation {
    /// What to do.
    pub title: String,
    /// Why.
    pub rationale: String,
}

/// The answer to a request; its body is parsed once, not per field.
pub struct AnalysisResult(analysis_result::Model, AnalysisBody);

impl AnalysisResult {
    fn new(model: analysis_result::Model) -> Self {
        let body = serde_json::from_value(model.body.clone()).unwrap_or_default();
        Self(model, body)
    }
}

#[Object]
impl AnalysisResult {
    async fn summary(&self) -> &str {
        &self.0.summary
    }
    async fn sections(&self) -> Vec<Section> {
        self.1.sections.iter().map(|s| Section { title: s.title.clone(), body: s.body.clone() }).collect()
    }
    /// Figures, each with the tool calls behind it.
    async fn key_figures(&self) -> Vec<KeyFigure> {
        self.1.key_figures.iter().cloned().map(KeyFigure).collect()
    }
    async fn visualizations(&self) -> Vec<Visualization> {
        self.1.visualizations.iter().cloned().map(Visualization).collect()
    }
    /// The merchant's documents behind the answer's document claims (`[1]`, …).
    async fn citations(&self) -> Vec<Citation> {
        self.1.citations.iter().cloned().map(Citation).collect()
    }
    /// What the data could not support, said instead of guessed (e.g. a
    /// comparison period older than the history the store lets us read).
    async fn warnings(&self) -> &[String] {
        &self.1.warnings
    }
    /// Who wrote the words: the model's name, or "offline rules" (also when
    /// a model's narrative failed validation and the rules wrote instead).
    async fn written_by(&self) -> Option<&str> {
        self.1.written_by.as_deref()
    }
    async fn recommendations(&self) -> Vec<Recommendation> {
        self.1
            .recommendations
            .iter()
            .map(|r| Recommendation { title: r.title.clone(), rationale: r.rationale.clone() })
            .collect()
    }
    /// Store changes proposed; each waits for a person's approval.
    async fn proposed_actions(&self, ctx: &Context<'_>) -> Result<Vec<ProposedAction>> {
        let actions = AccountScope::new(self.0.account_id)
            .find::<proposed_action::Entity>()
            .filter(proposed_action::Column::RequestId.eq(self.0.request_id))
            .order_by_asc(proposed_action::Column::Id)
            .all(&ctx.state().pipeline.db)
            .await
            .map_err(ApiError::internal)?;
        Ok(actions.into_iter().map(ProposedAction).collect())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A step of a request, numbered for replay.
pub struct AnalysisEvent(pub Event);

#[Object]
impl AnalysisEvent {
    /// 1, 2, 3, … per request; resume with `afterSequence`.
    async fn sequence(&self) -> i64 {
        self.0.sequence
    }
    /// `STATUS_CHANGED`, `PLAN`, `TASK_STARTED`, `TOOL_CALL`, `TOOL_PROGRESS`, `TOOL_RESULT`,
    /// `TOOL_ERROR`, `PARTIAL_RESULT`, `TASK_COMPLETED`, `TASK_FAILED`, `RESULT`.
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    /// Kind-specific data.
    async fn payload(&self) -> Json<Value> {
        Json(self.0.payload.clone())
    }
    /// The status, for `STATUS_CHANGED` events.
    async fn status(&self) -> Option<&str> {
        self.0.payload.get("status").and_then(Value::as_str)
    }
    async fn request_id(&self) -> ID {
        ID(self.0.request_id.to_string())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Analysis queries.
#[derive(Default)]
pub struct AnalysisQuery;

#[Object]
impl AnalysisQuery {
    /// The account's linked stores.
    async fn stores(&self, ctx: &Context<'_>) -> Result<Vec<Store>> {
        Ok(analysis::stores(&ctx.state().pipeline, ctx.scope()?).await?.into_iter().map(Store::new).collect())
    }

    /// One of the account's analysis requests.
    async fn analysis_request(&self, ctx: &Context<'_>, id: ID) -> Result<AnalysisRequest> {
        let id = parse_id("id", &id)?;
        Ok(AnalysisRequest(analysis::request(&ctx.state().pipeline, ctx.scope()?, id).await?))
    }

    /// The account's analysis requests, newest first.
    async fn list_analysis_requests(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
        status: Option<AnalysisStatus>,
    ) -> Result<Connection<String, AnalysisRequest>> {
        if !(1..=100).contains(&first) {
            return Err(ApiError::bad_input("first", "must be between 1 and 100").into());
        }
        let before = match after {
            Some(cursor) => {
                Some(Uuid::parse_str(&cursor).map_err(|_| ApiError::bad_input("after", "is not a valid cursor"))?)
            }
            None => None,
        };
        let mut page =
            analysis::list(&ctx.state().pipeline, ctx.scope()?, status.map(Into::into), before, first as u64 + 1)
                .await?;
        let has_next = page.len() > first as usize;
        page.truncate(first as usize);
        let mut connection = Connection::new(before.is_some(), has_next);
        connection.edges.extend(page.into_iter().map(|r| Edge::new(r.id.to_string(), AnalysisRequest(r))));
        Ok(connection)
    }
}

/// Analysis mutations.
#[derive(Default)]
pub struct AnalysisMutation;

#[Object]
impl AnalysisMutation {
    /// Links the bundled demo shop (a deterministic, realistic store) to the account.
    async fn connect_demo_store(&self, ctx: &Context<'_>, name: Option<String>) -> Result<Store> {
        let viewer = ctx.viewer()?;
        Ok(Store::new(analysis::connect_demo_store(&ctx.state().pipeline, ctx.scope()?, viewer, name).await?))
    }

    /// Queues a question about one of the account's stores.
    async fn submit_analysis_request(
        &self,
        ctx: &Context<'_>,
        prompt: String,
        store_id: ID,
    ) -> Result<AnalysisRequest> {
        let viewer = ctx.viewer()?;
        let store_id = parse_id("storeId", &store_id)?;
        Ok(AnalysisRequest(analysis::submit(&ctx.state().pipeline, ctx.scope()?, viewer, &prompt, store_id).await?))
    }

    /// Cancels an unfinished request.
    async fn cancel_analysis_request(&self, ctx: &Context<'_>, id: ID) -> Result<AnalysisRequest> {
        let viewer = ctx.viewer()?;
        let id = parse_id("id", &id)?;
        Ok(AnalysisRequest(analysis::cancel(&ctx.state().pipeline, ctx.scope()?, viewer, id).await?))
    }
}

/// Analysis subscriptions.
#[derive(Default)]
pub struct AnalysisSubscription;

#[Subscription]
impl AnalysisSubscription {
    /// Every step of a request: first the persisted events after
    /// `afterSequence`, then live ones, without gaps or duplicates; completes
    /// after the terminal status. Reconnect with the last sequence seen.
    async fn analysis_request_updates(
        &self,
        ctx: &Context<'_>,
        request_id: ID,
        #[graphql(default = 0)] after_sequence: i64,
    ) -> Result<impl Stream<Item = Result<AnalysisEvent>> + use<>> {
        let id = parse_id("requestId", &request_id)?;
        let pipeline = ctx.state().pipeline.clone();
        analysis::request(&pipeline, ctx.scope()?, id).await?;
        Ok(watch(pipeline.db.clone(), pipeline.bus.clone(), id, after_sequence)
            .map(|item| item.map(AnalysisEvent).map_err(|e| ApiError::internal(e).into())))
    }
}
