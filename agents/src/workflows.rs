//! Saved workflows (seed 000 §7, P22–P25): a merchant's own DAG of nodes
//! (`retrieve` passages of a collection, ask an `llm`, call a registered
//! `tool`, `postprocess` upstream results), validated before it is stored
//! and again before every run, and run by the analysis pipeline itself. A
//! run is an analysis request naming the workflow: the orchestrator plans
//! one `Workflow` task per node (in a topological order, each waiting for
//! the nodes its edges come from) instead of asking the planner, the same
//! dispatch rounds start each node once its upstream nodes finished (P24),
//! each node's result is its task's output (P25) with the usual events,
//! and the review turns the results into the request's result. There is
//! no second engine.
//!
//! - `definition`: the definition's shape and its validation (P23).
//! - `template`: `{{inputs.x}}` and `{{nodes.<id>.output}}` references.
//! - `nodes`: one node's work (the `Workflow` department runs it).
//! - `tools`: the tools a `tool` node may call, by name.
//! - `run`: what a run's request stores as its plan.
//! - `review`: a run's answer from its nodes' results.
//! - [`erase`]: an account's workflows, for a shop's erasure.

mod definition;
pub mod erase;
mod nodes;
mod review;
mod run;
mod template;
mod tools;

pub use definition::{
    Definition, DefinitionError, Edge, MAX_EDGES, MAX_ID_CHARS, MAX_INPUTS, MAX_NODES, MAX_TEMPLATE_CHARS, NODE_TYPES,
    Node, NodeKind, Postprocess,
};
pub use nodes::{NO_MODEL, NodeContext, partial, run_node};
pub use review::{Review, review};
pub use run::{WORKFLOW_INTENT, WorkflowPlan};
pub use template::{Field, JsonTemplate, Reference, Source, Template};
pub use tools::{TOOL_NAMES, Toolbox};
