//! A run's answer, from its nodes' results: the summary is what its last
//! nodes (those no edge leaves) say, a section per node holds its text,
//! the passages its `retrieve` nodes found are citations (each with the
//! `rag.search` call that found it), and a `tool` node that called
//! `propose_action` contributes its draft, stored `PENDING` for a person to
//! decide like any other. Provenance is reviewed as for analyses: only
//! recorded tool calls count.

use std::collections::HashSet;

use serde_json::Value;
use uuid::Uuid;

use alatar_entity::agent_task;

use super::nodes::clip;
use super::run::WorkflowPlan;
use super::template::text_of;
use crate::result::{AnalysisBody, Citation, ProposalDraft, Provenance, Section};
use crate::tools::{ProposeTool, RagPassage, TypedTool};

/// Most characters of a node's text in its section.
const SECTION_CHARS: usize = 4_000;
/// Most characters of the summary.
const SUMMARY_CHARS: usize = 8_000;

/// A run's reviewed answer, ready to be written.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    /// The last nodes' texts.
    pub summary: String,
    /// Sections, citations, warnings, who wrote.
    pub body: AnalysisBody,
    /// Drafts from `propose_action` nodes.
    pub actions: Vec<ProposalDraft>,
}

/// The recorded call behind a result, if it was recorded.
fn provenance(result: &Value, recorded: &HashSet<Uuid>) -> Option<Provenance> {
    let provenance: Provenance = serde_json::from_value(result.get("provenance")?.clone()).ok()?;
    recorded.contains(&provenance.tool_call_id).then_some(provenance)
}

/// The answer of run `plan` from its tasks (`recorded`: its tool calls).
pub fn review(plan: &WorkflowPlan, tasks: &[agent_task::Model], recorded: &HashSet<Uuid>) -> Review {
    let mut body = AnalysisBody::default();
    let mut actions: Vec<ProposalDraft> = Vec::new();
    let mut models: Vec<String> = Vec::new();
    let waited_for: HashSet<i32> = tasks
        .iter()
        .flat_map(|t| serde_json::from_value::<Vec<i32>>(t.depends_on.clone()).unwrap_or_default())
        .collect();
    let mut last = Vec::new();
    for task in tasks {
        let Some(result) = &task.output else { continue };
        let node = result.get("node").map(text_of).or_else(|| plan.node_at(task.step).map(str::to_owned));
        let node = node.unwrap_or_default();
        let kind = result.get("type").map(text_of).unwrap_or_default();
        let text = result.get("text").map(text_of).unwrap_or_default();
        let shown = if text.trim().is_empty() { "(no text)".to_owned() } else { clip(&text, SECTION_CHARS) };
        body.sections.push(Section { title: format!("{node} ({kind})"), body: shown });
        if !waited_for.contains(&task.step) && !text.trim().is_empty() {
            last.push(text.clone());
        }
        match kind.as_str() {
            "retrieve" => {
                let Some(found) = provenance(result, recorded) else { continue };
                let passages: Vec<RagPassage> = result
                    .pointer("/output/passages")
                    .and_then(|p| serde_json::from_value(p.clone()).ok())
                    .unwrap_or_default();
                for passage in passages {
                    let marker = u32::try_from(body.citations.len() + 1).unwrap_or(u32::MAX);
                    body.citations.push(Citation {
                        marker,
                        chunk_id: passage.chunk_id,
                        document_id: passage.document_id,
                        filename: passage.filename,
                        page: passage.page,
                        char_start: passage.char_start,
                        char_end: passage.char_end,
                        quote: passage.text,
                        provenance: vec![found.clone()],
                    });
                }
                let notes = result.pointer("/output/notes").and_then(Value::as_array).cloned().unwrap_or_default();
                body.warnings.extend(notes.iter().filter_map(Value::as_str).map(|n| format!("{node}: {n}")));
            }
            "llm" => {
                if let Some(model) = result.get("model").and_then(Value::as_str)
                    && !models.iter().any(|m| m == model)
                {
                    models.push(model.to_owned());
                }
            }
            "tool" if result.get("tool").and_then(Value::as_str) == Some(ProposeTool::NAME) => {
                if provenance(result, recorded).is_none() {
                    tracing::warn!(%node, "proposal without a recorded call dropped in review");
                    continue;
                }
                if let Some(draft) = result.get("output").and_then(|o| serde_json::from_value(o.clone()).ok()) {
                    actions.push(draft);
                }
            }
            _ => {}
        }
    }
    body.written_by = if models.is_empty() { None } else { Some(models.join(", ")) };
    let summary = if last.is_empty() {
        format!("The workflow {} ran; its last nodes produced no text.", plan.name)
    } else {
        clip(&last.join("\n\n"), SUMMARY_CHARS)
    };
    Review { summary, body, actions }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, Utc};
    use serde_json::{Map, json};

    use super::*;
    use alatar_entity::TaskStatus;

    fn task(step: i32, depends_on: &[i32], output: Value) -> agent_task::Model {
        agent_task::Model {
            id: Uuid::now_v7(),
            account_id: Uuid::nil(),
            request_id: Uuid::nil(),
            step,
            department: "Workflow".into(),
            objective: String::new(),
            depends_on: json!(depends_on),
            status: TaskStatus::Completed,
            attempts: 1,
            error_count: 0,
            last_error: None,
            output: Some(output),
            created_at: Utc::now(),
            finished_at: None,
        }
    }

    #[test]
    fn the_summary_is_the_last_nodes_text_and_passages_are_cited() {
        let call = Uuid::now_v7();
        let chunk = Uuid::now_v7();
        let plan = WorkflowPlan {
            workflow_id: Uuid::nil(),
            name: "Returns digest".into(),
            definition: json!({}),
            inputs: Map::new(),
            order: vec!["find".into(), "answer".into()],
            as_of: NaiveDate::from_ymd_opt(2026, 12, 2).unwrap_or_default(),
        };
        let passage = json!({ "chunkId": chunk, "documentId": Uuid::nil(), "collectionId": Uuid::nil(),
            "filename": "returns.md", "page": null, "charStart": 0, "charEnd": 12, "text": "Thirty days.", "score": 0.5 });
        let tasks = [
            task(
                0,
                &[],
                json!({ "node": "find", "type": "retrieve", "text": "Thirty days.",
                "output": { "passages": [passage], "retrieval": ["FULL_TEXT"], "notes": [] },
                "provenance": { "toolCallId": call, "tool": "rag.search", "query": {} } }),
            ),
            task(
                1,
                &[0],
                json!({ "node": "answer", "type": "postprocess", "text": "Returns: Thirty days.",
                "output": "Returns: Thirty days." }),
            ),
        ];
        let reviewed = review(&plan, &tasks, &HashSet::from([call]));
        assert_eq!(reviewed.summary, "Returns: Thirty days.");
        let titles: Vec<&str> = reviewed.body.sections.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(titles, ["find (retrieve)", "answer (postprocess)"]);
        assert_eq!(reviewed.body.citations.len(), 1);
        assert_eq!(reviewed.body.citations[0].chunk_id, chunk);
        assert!(reviewed.actions.is_empty());
        // A call that was not recorded is no provenance.
        assert!(review(&plan, &tasks, &HashSet::new()).body.citations.is_empty());
    }
}
