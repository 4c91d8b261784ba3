//! `Code`: answers about the code of the merchant's analysed repositories
//! (their theme, their app), citing nodes by qualified name and
//! `file:line`.
//!
//! The work: `github.analyze` lists the account's analysed repositories;
//! the one the question names (by `owner/name` or name) is read, or the
//! newest when it names none. `code.search` searches it for the question
//! (hybrid, then one hop over calls and containment), and `code.graph`
//! reads the callers of the best hits. The answer names the functions
//! found with their locations; a figure (how many were found) cites the
//! search call. Repository text is untrusted: only names, locations and
//! signatures are shown, as data, and nothing of it becomes a proposal.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{DepartmentAgent, TaskContext};
use crate::Department;
use crate::code::job::title_of;
use crate::code::repositories::Repositories;
use crate::result::{KeyFigure, Section};
use crate::tools::{
    AnalysedRepository, CodeGraph, CodeGraphInput, CodeSearch, CodeSearchInput, GithubAnalyze, GithubAnalyzeInput,
    TaskFailure, ToolRunner,
};

/// What the account has not got, said instead of an answer.
pub const NO_REPOSITORIES: &str = "No repository of this account has been analysed yet: analyse it with \
    analyzeRepository, wait until its job has completed, then ask again.";
/// Hits whose callers are read.
const CALLERS_OF: usize = 3;
/// Hits asked of the search.
const FIRST: usize = 8;

/// `Code`'s output.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CodeFindings {
    /// The nodes found, in a sentence: added to the answer's summary.
    pub answer: Option<String>,
    /// How many nodes matched, citing the `code.search` call.
    pub figures: Vec<KeyFigure>,
    /// The nodes found with their locations, signatures and callers.
    pub sections: Vec<Section>,
    /// What could not be read.
    pub warnings: Vec<String>,
}

impl CodeFindings {
    fn unanswered(why: &str) -> Self {
        Self { answer: Some(why.to_owned()), warnings: vec![why.to_owned()], ..Self::default() }
    }
}

/// Reads the account's analysed repositories.
pub struct CodeAgent;

#[async_trait]
impl DepartmentAgent for CodeAgent {
    fn department(&self) -> Department {
        Department::Code
    }

    async fn work(&self, task: &TaskContext, tools: &mut ToolRunner) -> Result<Value, TaskFailure> {
        let findings = match &task.code {
            Some(repositories) => answer(task, repositories.clone(), tools).await?,
            None => CodeFindings::unanswered("Repositories cannot be read for this analysis."),
        };
        serde_json::to_value(findings).map_err(|e| TaskFailure::Infrastructure(e.into()))
    }
}

/// The repository `prompt` names among `listed` (by `owner/name`, then by
/// name as a whole word), else the newest.
pub fn chosen<'a>(prompt: &str, listed: &'a [AnalysedRepository]) -> Option<&'a AnalysedRepository> {
    let text = prompt.to_lowercase();
    let whole = |word: &str| {
        text.match_indices(word).any(|(at, _)| {
            let before = text[..at].chars().next_back();
            let after = text[at + word.len()..].chars().next();
            before.is_none_or(|c| !c.is_alphanumeric()) && after.is_none_or(|c| !c.is_alphanumeric())
        })
    };
    let title = |r: &AnalysedRepository| title_of(&r.url).to_lowercase();
    listed
        .iter()
        .find(|r| whole(&title(r)))
        .or_else(|| {
            listed.iter().find(|r| title(r).rsplit('/').next().is_some_and(|name| name.len() > 2 && whole(name)))
        })
        .or_else(|| listed.first())
}

/// Markdown-safe text of untrusted repository text: one line, no table
/// or code breaks.
fn cell(text: &str) -> String {
    text.chars().map(|c| if c == '|' || c == '`' || c.is_control() { ' ' } else { c }).take(160).collect()
}

async fn answer(
    task: &TaskContext,
    repositories: Arc<dyn Repositories>,
    tools: &mut ToolRunner,
) -> Result<CodeFindings, TaskFailure> {
    let (listed, _) = tools.call(&GithubAnalyze(repositories.clone()), GithubAnalyzeInput::default()).await?;
    let Some(repository) = chosen(&task.prompt, &listed.repositories) else {
        return Ok(CodeFindings::unanswered(NO_REPOSITORIES));
    };
    let title = title_of(&repository.url);
    let input = CodeSearchInput {
        repository_id: repository.repository_id,
        query: task.prompt.clone(),
        first: FIRST,
        expand: 1,
    };
    let (found, provenance) = tools.call(&CodeSearch(repositories.clone()), input).await?;
    let mut findings = CodeFindings::default();
    let hits: Vec<_> = found.nodes.iter().filter(|n| n.hops == 0).collect();
    if hits.is_empty() {
        let why = format!("Nothing in {title}'s code matches the question.");
        return Ok(CodeFindings::unanswered(&why));
    }
    findings.figures.push(KeyFigure {
        key: "code_matching_nodes".into(),
        label: format!("Functions and types in {title} matching the question"),
        value: hits.len() as f64,
        unit: "nodes".into(),
        provenance: vec![provenance],
    });
    let mut rows = Vec::new();
    for (i, hit) in hits.iter().enumerate() {
        let callers = if i < CALLERS_OF {
            match tools.call(&CodeGraph(repositories.clone()), CodeGraphInput { node_id: hit.node.node_id }).await {
                Ok((graph, _)) => graph.callers.iter().map(|c| cell(&c.qualified_name)).collect::<Vec<_>>().join(", "),
                Err(TaskFailure::Tool { error, .. }) => {
                    findings
                        .warnings
                        .push(format!("The callers of {} could not be read: {error}", hit.node.qualified_name));
                    String::new()
                }
                Err(other) => return Err(other),
            }
        } else {
            String::new()
        };
        rows.push(format!(
            "| {} | {} | {} | {} | {} |",
            cell(&hit.node.qualified_name),
            hit.node.kind.to_lowercase(),
            cell(&hit.node.location),
            cell(hit.node.signature.as_deref().unwrap_or("")),
            if callers.is_empty() { "–".to_owned() } else { callers },
        ));
    }
    let related: Vec<String> = found
        .nodes
        .iter()
        .filter(|n| n.hops > 0)
        .take(10)
        .map(|n| format!("{} ({})", cell(&n.node.qualified_name), n.via.join(" → ")))
        .collect();
    let mut body =
        format!("| Name | Kind | Location | Signature | Called by |\n|---|---|---|---|---|\n{}", rows.join("\n"));
    if !related.is_empty() {
        body.push_str(&format!("\n\nRelated by calls and containment: {}.", related.join("; ")));
    }
    findings.sections.push(Section { title: format!("Code in {title}"), body });
    let named: Vec<String> =
        hits.iter().take(5).map(|h| format!("{} ({})", cell(&h.node.qualified_name), cell(&h.node.location))).collect();
    findings.answer = Some(format!("In {title}: {}.", named.join(", ")));
    Ok(findings)
}
