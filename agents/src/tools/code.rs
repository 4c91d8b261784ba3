//! Code tools (the `Code` department's) over the [`Repositories`] port,
//! bound to one account: `github.analyze` reads the stored analyses of the
//! account's repositories (languages, dependencies, licence, README
//! sections: `analyzeRepository` made them) and, given the URL of one it
//! has not analysed, starts its analysis (a job, as `analyzeRepository`
//! would, with the same checks); `code.search` searches one repository's
//! code graph (hybrid, then expansion), and `code.graph` returns a node
//! with its callers, callees and children. None writes to a store.
//! Repository text is untrusted: it is returned as data, and whoever puts
//! it before a model fences it as such.

use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{ToolError, TypedTool};
use crate::code::repositories::{Analysing, Repositories, same_repository};
use crate::code::search::{MAX_EXPAND, MAX_EXPANDED};
use alatar_entity::code_node;

fn transient(e: anyhow::Error) -> ToolError {
    ToolError::Transient(e.to_string())
}

/// Input of `github.analyze`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GithubAnalyzeInput {
    /// Part of a repository's URL or `owner/name`; every analysed
    /// repository when absent.
    #[serde(default)]
    pub repository: Option<String>,
    /// A repository's full URL (`https://…`): analysed now when the
    /// account has no analysis of it, completed or under way.
    #[serde(default)]
    pub url: Option<String>,
}

/// An analysis `github.analyze` started, or found under way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartedAnalysis {
    /// The analysis (`repositoryAnalysis(id)`).
    pub repository_id: Uuid,
    /// Its job (`job(id)`).
    pub job_id: Uuid,
    /// The repository.
    pub url: String,
    /// `true`: it was under way already, nothing new was started.
    pub already_running: bool,
}

/// An analysed repository.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalysedRepository {
    /// The analysis (`repositoryId` of `code.search`).
    pub repository_id: Uuid,
    /// Its URL.
    pub url: String,
    /// The commit analysed.
    pub commit: Option<String>,
    /// Files read.
    pub files: Option<i64>,
    /// Languages by bytes: name and share, largest first (at most five).
    pub languages: Vec<(String, f64)>,
    /// Dependencies declared in its manifests.
    pub dependencies: usize,
    /// The recommended licence (SPDX).
    pub licence: Option<String>,
}

/// Output of `github.analyze`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GithubAnalyzeOutput {
    /// Newest first.
    pub repositories: Vec<AnalysedRepository>,
    /// The analysis of `url` started (or under way), when it had none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<StartedAnalysis>,
    /// Why `url` could not be analysed (not https, a private address, a viewer asking).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// `github.analyze`.
pub struct GithubAnalyze(pub Arc<dyn Repositories>);

fn of(analysis: &alatar_entity::repository_analysis::Model) -> AnalysedRepository {
    let report = analysis.report.as_ref();
    let languages = report
        .and_then(|r| r.get("languages"))
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .take(5)
                .filter_map(|l| Some((l.get("name")?.as_str()?.to_owned(), l.get("share")?.as_f64()?)))
                .collect()
        })
        .unwrap_or_default();
    AnalysedRepository {
        repository_id: analysis.id,
        url: analysis.url.clone(),
        commit: analysis.commit_sha.clone(),
        files: report.and_then(|r| r.get("files")).and_then(Value::as_i64),
        languages,
        dependencies: report.and_then(|r| r.get("dependencies")).and_then(Value::as_array).map_or(0, Vec::len),
        licence: analysis.licence.as_ref().and_then(|l| l.get("spdx")).and_then(Value::as_str).map(str::to_owned),
    }
}

#[async_trait]
impl TypedTool for GithubAnalyze {
    type Input = GithubAnalyzeInput;
    type Output = GithubAnalyzeOutput;
    const NAME: &'static str = "github.analyze";
    const DESCRIPTION: &'static str = "The account's analysed repositories (from analyzeRepository): URL, commit, \
        languages by bytes, dependency count and recommended licence; filtered by part of a URL or owner/name. \
        Given `url`, a repository the account has not analysed is queued for analysis (a job of about a minute).";

    async fn call(&self, input: &Self::Input) -> Result<Self::Output, ToolError> {
        let all = self.0.analyses().await.map_err(transient)?;
        let wanted = input.repository.as_deref().map(|r| r.trim().to_lowercase()).filter(|r| !r.is_empty());
        let repositories =
            all.iter().filter(|a| wanted.as_deref().is_none_or(|w| a.url.to_lowercase().contains(w))).map(of).collect();
        let mut output = GithubAnalyzeOutput { repositories, started: None, refused: None };
        let Some(url) = input.url.as_deref().map(str::trim).filter(|u| !u.is_empty()) else { return Ok(output) };
        if all.iter().any(|a| same_repository(&a.url, url)) {
            return Ok(output);
        }
        let started = |a: alatar_entity::repository_analysis::Model, already_running| StartedAnalysis {
            repository_id: a.id,
            job_id: a.job_id,
            url: a.url,
            already_running,
        };
        match self.0.analyse(url).await.map_err(transient)? {
            Analysing::Queued(a) => output.started = Some(started(a, false)),
            Analysing::Running(a) => output.started = Some(started(a, true)),
            Analysing::Refused(why) => output.refused = Some(why),
        }
        Ok(output)
    }

    fn summarize(output: &Self::Output) -> String {
        match (&output.started, &output.refused) {
            (Some(s), _) if s.already_running => format!("the analysis of {} is under way", s.url),
            (Some(s), _) => format!("the analysis of {} started", s.url),
            (None, Some(why)) => format!("not analysed: {why}"),
            (None, None) => format!("{} analysed repositories", output.repositories.len()),
        }
    }
}

/// A node as the tools return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeRef {
    /// The node (`nodeId` of `code.graph`).
    pub node_id: Uuid,
    /// `FUNCTION`, `METHOD`, `CLASS`, …
    pub kind: String,
    /// Its qualified name.
    pub qualified_name: String,
    /// `path:line`.
    pub location: String,
    /// Its declaration (untrusted repository text).
    pub signature: Option<String>,
}

impl NodeRef {
    /// The reference to `node`.
    pub fn of(node: &code_node::Model) -> Self {
        Self {
            node_id: node.id,
            kind: node.kind.clone(),
            qualified_name: node.qualified_name.clone(),
            location: format!("{}:{}", node.path, node.start_line),
            signature: node.signature.clone(),
        }
    }
}

/// Input of `code.search`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodeSearchInput {
    /// The analysis searched.
    pub repository_id: Uuid,
    /// Words or a question.
    pub query: String,
    /// Most search hits, 1 to 50.
    #[serde(default = "default_first")]
    pub first: usize,
    /// Hops of expansion over calls and containment, 0 to 3.
    #[serde(default)]
    pub expand: usize,
}

fn default_first() -> usize {
    10
}

/// A node `code.search` found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FoundNode {
    /// The node.
    pub node: NodeRef,
    /// Its score.
    pub score: f64,
    /// Hops from a search hit (0: a hit).
    pub hops: usize,
    /// The edges that brought it in: `CALLS`, `CALLED_BY`, `CONTAINS`,
    /// `CONTAINED_BY`.
    pub via: Vec<String>,
}

/// Output of `code.search`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodeSearchOutput {
    /// The mode that ran (`HYBRID`, or `FULL_TEXT` without an embedder).
    pub mode: String,
    /// Hits best first, then expanded nodes.
    pub nodes: Vec<FoundNode>,
}

/// `code.search`.
pub struct CodeSearch(pub Arc<dyn Repositories>);

#[async_trait]
impl TypedTool for CodeSearch {
    type Input = CodeSearchInput;
    type Output = CodeSearchOutput;
    const NAME: &'static str = "code.search";
    const DESCRIPTION: &'static str = "Searches an analysed repository's functions, methods and types by identifiers \
        and meaning, then follows calls and containment `expand` hops; each node with its qualified name and \
        file:line.";

    async fn call(&self, input: &Self::Input) -> Result<Self::Output, ToolError> {
        if !(1..=50).contains(&input.first) || input.expand > MAX_EXPAND {
            return Err(ToolError::InvalidInput(format!("first must be 1 to 50 and expand 0 to {MAX_EXPAND}")));
        }
        let found =
            self.0.search(input.repository_id, &input.query, input.first, input.expand).await.map_err(transient)?;
        let mode = format!("{:?}", found.plan.used).to_uppercase();
        let nodes = found
            .hits
            .iter()
            .take(input.first + MAX_EXPANDED)
            .map(|hit| FoundNode {
                node: NodeRef::of(&hit.node),
                score: hit.score,
                hops: hit.path.len(),
                via: hit
                    .path
                    .iter()
                    .map(|s| match (s.kind.as_str(), s.reversed) {
                        (kind, false) => kind.to_owned(),
                        ("CALLS", true) => "CALLED_BY".to_owned(),
                        (_, true) => "CONTAINED_BY".to_owned(),
                    })
                    .collect(),
            })
            .collect();
        Ok(CodeSearchOutput { mode, nodes })
    }

    fn summarize(output: &Self::Output) -> String {
        let hits = output.nodes.iter().filter(|n| n.hops == 0).count();
        format!("{hits} hits, {} expanded ({})", output.nodes.len() - hits, output.mode)
    }
}

/// Input of `code.graph`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodeGraphInput {
    /// The node.
    pub node_id: Uuid,
}

/// Output of `code.graph`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodeGraphOutput {
    /// The node.
    pub node: NodeRef,
    /// What calls it.
    pub callers: Vec<NodeRef>,
    /// What it calls, resolved.
    pub callees: Vec<NodeRef>,
    /// Calls not resolved within the repository.
    pub unresolved_calls: Vec<String>,
    /// What it contains.
    pub children: Vec<NodeRef>,
    /// What contains it.
    pub parent: Option<NodeRef>,
}

/// `code.graph`.
pub struct CodeGraph(pub Arc<dyn Repositories>);

#[async_trait]
impl TypedTool for CodeGraph {
    type Input = CodeGraphInput;
    type Output = CodeGraphOutput;
    const NAME: &'static str = "code.graph";
    const DESCRIPTION: &'static str =
        "One node of a repository's code graph with its callers, callees, children and container.";

    async fn call(&self, input: &Self::Input) -> Result<Self::Output, ToolError> {
        let hood = self
            .0
            .neighbourhood(input.node_id)
            .await
            .map_err(transient)?
            .ok_or_else(|| ToolError::InvalidInput(format!("no code node {}", input.node_id)))?;
        let refs = |list: &[code_node::Model]| list.iter().map(NodeRef::of).collect();
        Ok(CodeGraphOutput {
            node: NodeRef::of(&hood.node),
            callers: refs(&hood.callers),
            callees: refs(&hood.callees),
            unresolved_calls: hood.unresolved_calls.clone(),
            children: refs(&hood.children),
            parent: hood.parent.as_ref().map(NodeRef::of),
        })
    }

    fn summarize(output: &Self::Output) -> String {
        format!(
            "{}: {} callers, {} callees, {} children",
            output.node.qualified_name,
            output.callers.len(),
            output.callees.len(),
            output.children.len()
        )
    }
}
