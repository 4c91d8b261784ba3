//! Code: `analyzeRepository`, `repositoryAnalysis`, `repositoryAnalyses`,
//! `deleteRepositoryAnalysis`, `searchCode` and `codeNode`. An analysis
//! runs as a `REPOSITORY_ANALYSIS` job: follow it with `jobUpdates` or
//! `job(id)`.

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, Json, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use serde_json::Value;

use alatar_agents::code::licence::LicenceGoal as AgentGoal;
use alatar_agents::code::neighbours::Neighbourhood;
use alatar_agents::code::search::CodeHit as AgentHit;
use alatar_agents::knowledge::search::SearchMode as AgentMode;
use alatar_entity::{AccountScope, code_node, repository_analysis};

use crate::context::ContextExt;
use crate::service::code as service;

use super::datasets::Job;
use super::knowledge::{connection, page};
use super::parse_id;

/// What the owner wants the licence to allow.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "alatar_agents::code::licence::LicenceGoal")]
pub enum LicenceGoal {
    /// Anyone may use, change and sell it, closed source included (MIT,
    /// Apache-2.0, BSD).
    Permissive,
    /// Changes and derived works stay open under the same licence (GPL,
    /// AGPL for network services).
    Copyleft,
    /// Changes to these files stay open; larger works may be closed
    /// (MPL-2.0).
    WeakCopyleft,
    /// No rights reserved (CC0, Unlicense).
    PublicDomain,
    /// All rights reserved.
    Proprietary,
}

/// An analysis of a repository (seed 000 §9): what it holds, a README and
/// a licence recommendation.
pub struct RepositoryAnalysis(pub repository_analysis::Model);

impl RepositoryAnalysis {
    fn report_field(&self, field: &str) -> Option<Value> {
        self.0.report.as_ref().and_then(|r| r.get(field)).cloned()
    }
}

#[Object]
impl RepositoryAnalysis {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The URL as given.
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// The branch, tag or commit asked for (the default branch when null).
    #[graphql(name = "ref")]
    async fn reference(&self) -> Option<&str> {
        self.0.reference.as_deref()
    }
    /// The licence goal stated.
    async fn goal(&self) -> Option<&str> {
        self.0.goal.as_deref()
    }
    /// The job that runs it (status, progress, error).
    async fn job(&self, ctx: &Context<'_>) -> Result<Job> {
        let scope = AccountScope::new(self.0.account_id);
        Ok(Job(service::job_of(&ctx.state().pipeline, scope, &self.0).await?))
    }
    /// The commit analysed.
    async fn commit_sha(&self) -> Option<&str> {
        self.0.commit_sha.as_deref()
    }
    /// Files read.
    async fn files(&self) -> Option<i64> {
        self.report_field("files").and_then(|v| v.as_i64())
    }
    /// Their bytes.
    async fn bytes(&self) -> Option<i64> {
        self.report_field("bytes").and_then(|v| v.as_i64())
    }
    /// Languages by bytes of code, largest first: `{name, files, bytes,
    /// share}`.
    async fn languages(&self) -> Option<Json<Value>> {
        self.report_field("languages").map(Json)
    }
    /// Dependencies from the manifests: `{ecosystem, manifest, name,
    /// version, dev}`.
    async fn dependencies(&self) -> Option<Json<Value>> {
        self.report_field("dependencies").map(Json)
    }
    /// Everything the analysis found: files by kind and extension, the
    /// tree, languages, dependencies, project metadata, licences found,
    /// the code graph's size and parse rate, warnings.
    async fn report(&self) -> Option<Json<Value>> {
        self.0.report.clone().map(Json)
    }
    /// The generated README (Markdown; P42–P43).
    async fn readme(&self) -> Option<&str> {
        self.0.readme.as_deref()
    }
    /// The recommended licence's SPDX identifier (P44).
    async fn licence_spdx(&self) -> Option<String> {
        self.0.licence.as_ref().and_then(|l| l.get("spdx")).and_then(Value::as_str).map(str::to_owned)
    }
    /// The recommendation whole: `{spdx, name, existing, reasoning,
    /// conflicts}`.
    async fn licence(&self) -> Option<Json<Value>> {
        self.0.licence.clone().map(Json)
    }
    /// Why it failed.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// Nodes of its code graph.
    async fn node_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let scope = AccountScope::new(self.0.account_id);
        let n = service::node_count(&ctx.state().pipeline, scope, self.0.id).await?;
        Ok(i64::try_from(n).unwrap_or(i64::MAX))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it ended (completed or failed).
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at
    }
}

/// A node of a repository's code graph.
pub struct CodeNode(pub code_node::Model);

impl CodeNode {
    async fn hood(&self, ctx: &Context<'_>) -> Result<Neighbourhood> {
        let scope = AccountScope::new(self.0.account_id);
        Ok(service::node(&ctx.state().pipeline, scope, self.0.id).await?)
    }
}

fn nodes(list: Vec<code_node::Model>) -> Vec<CodeNode> {
    list.into_iter().map(CodeNode).collect()
}

#[Object]
impl CodeNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// `FILE`, `MODULE`, `CLASS`, `STRUCT`, `ENUM`, `TRAIT`, `INTERFACE`,
    /// `FUNCTION` or `METHOD`.
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    /// As declared.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// With its module and type (`crate::cart::Cart::add`, `assets/cart.Cart.add`).
    async fn qualified_name(&self) -> &str {
        &self.0.qualified_name
    }
    /// Its file, relative to the repository root.
    async fn path(&self) -> &str {
        &self.0.path
    }
    /// `path:line`, as answers cite it.
    async fn location(&self) -> String {
        format!("{}:{}", self.0.path, self.0.start_line)
    }
    async fn language(&self) -> &str {
        &self.0.language
    }
    async fn start_line(&self) -> i32 {
        self.0.start_line
    }
    async fn end_line(&self) -> i32 {
        self.0.end_line
    }
    /// The declaration up to its body.
    async fn signature(&self) -> Option<&str> {
        self.0.signature.as_deref()
    }
    /// Its doc comment or docstring.
    async fn doc(&self) -> Option<&str> {
        self.0.doc.as_deref()
    }
    /// Its source (the first 16 KB).
    async fn source(&self) -> Option<&str> {
        self.0.source.as_deref()
    }
    /// Functions and methods that call it.
    async fn callers(&self, ctx: &Context<'_>) -> Result<Vec<CodeNode>> {
        Ok(nodes(self.hood(ctx).await?.callers))
    }
    /// Functions and methods (and constructed types) it calls, resolved
    /// within the repository.
    async fn callees(&self, ctx: &Context<'_>) -> Result<Vec<CodeNode>> {
        Ok(nodes(self.hood(ctx).await?.callees))
    }
    /// Calls it makes that were not resolved (library or ambiguous names).
    async fn unresolved_calls(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        Ok(self.hood(ctx).await?.unresolved_calls)
    }
    /// What it contains.
    async fn children(&self, ctx: &Context<'_>) -> Result<Vec<CodeNode>> {
        Ok(nodes(self.hood(ctx).await?.children))
    }
    /// What contains it.
    async fn parent(&self, ctx: &Context<'_>) -> Result<Option<CodeNode>> {
        Ok(self.hood(ctx).await?.parent.map(CodeNode))
    }
    /// Its `IMPORTS`, `INHERITS` and `IMPLEMENTS` targets as written.
    async fn relations(&self, ctx: &Context<'_>) -> Result<Vec<CodeRelation>> {
        let hood = self.hood(ctx).await?;
        Ok(hood.relations.into_iter().map(|(kind, target)| CodeRelation { kind, target }).collect())
    }
}

/// An edge of a node, by kind and target as written.
#[derive(SimpleObject)]
pub struct CodeRelation {
    /// `IMPORTS`, `INHERITS` or `IMPLEMENTS`.
    pub kind: String,
    /// The target as written.
    pub target: String,
}

/// How a search reaches a node.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "alatar_agents::knowledge::search::SearchMode")]
pub enum CodeSearchMode {
    /// By words.
    FullText,
    /// By meaning.
    Vector,
    /// Both, fused by reciprocal rank.
    Hybrid,
}

/// One edge of the path that brought an expanded node in.
#[derive(SimpleObject)]
pub struct CodePathStep {
    /// The node it leaves.
    pub from: ID,
    /// `CALLS` or `CONTAINS`.
    pub kind: String,
    /// Followed against its direction: to a caller, or to a container.
    pub reversed: bool,
    /// The node it reaches.
    pub to: ID,
}

/// A node found by `searchCode`.
pub struct CodeHit(AgentHit);

#[Object]
impl CodeHit {
    async fn node(&self) -> CodeNode {
        CodeNode(self.0.node.clone())
    }
    /// Fused rank score; an expanded node's is its origin's over 1 + hops.
    async fn score(&self) -> f64 {
        self.0.score
    }
    async fn text_score(&self) -> Option<f64> {
        self.0.text_score
    }
    async fn vector_score(&self) -> Option<f64> {
        self.0.vector_score
    }
    /// Hops from a search hit (0 for a hit).
    async fn hops(&self) -> i32 {
        i32::try_from(self.0.path.len()).unwrap_or(i32::MAX)
    }
    /// The edges that brought it in from a search hit (empty for a hit).
    async fn path(&self) -> Vec<CodePathStep> {
        self.0
            .path
            .iter()
            .map(|s| CodePathStep {
                from: ID(s.from.to_string()),
                kind: s.kind.clone(),
                reversed: s.reversed,
                to: ID(s.to.to_string()),
            })
            .collect()
    }
}

/// `searchCode`'s answer.
#[derive(SimpleObject)]
pub struct CodeSearchResult {
    /// The mode asked for (always `HYBRID`).
    pub requested_mode: CodeSearchMode,
    /// The mode that ran (`FULL_TEXT` without an embedder).
    pub used_mode: CodeSearchMode,
    /// Why they differ.
    pub note: Option<String>,
    /// Search hits best first, then the nodes expansion brought in.
    pub hits: Vec<CodeHit>,
}

/// Code queries.
#[derive(Default)]
pub struct CodeQuery;

#[Object]
impl CodeQuery {
    /// One of the account's repository analyses.
    async fn repository_analysis(&self, ctx: &Context<'_>, id: ID) -> Result<RepositoryAnalysis> {
        let id = parse_id("id", &id)?;
        Ok(RepositoryAnalysis(service::analysis(&ctx.state().pipeline, ctx.scope()?, id).await?))
    }

    /// The account's repository analyses, newest first.
    async fn repository_analyses(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<Connection<String, RepositoryAnalysis>> {
        let (first, before) = page(first, 100, after.as_deref())?;
        let rows = service::analyses(&ctx.state().pipeline, ctx.scope()?, before, first + 1).await?;
        Ok(connection(rows, first, before.is_some(), |a| a.id.to_string(), RepositoryAnalysis))
    }

    /// Searches a completed analysis's code: identifier-aware full text
    /// and vectors fused (`first` hits, 1 to 50), then `expand` hops (0 to
    /// 3) over `CALLS` and `CONTAINS` from them, each with its path.
    async fn search_code(
        &self,
        ctx: &Context<'_>,
        repository_id: ID,
        query: String,
        #[graphql(desc = "Search hits, 1 to 50; 10 when absent or null.")] first: Option<i32>,
        #[graphql(desc = "Hops of expansion, 0 to 3; 0 when absent or null.")] expand: Option<i32>,
    ) -> Result<CodeSearchResult> {
        let id = parse_id("repositoryId", &repository_id)?;
        let (first, expand) = (first.unwrap_or(10), expand.unwrap_or(0));
        let found = service::search(&ctx.state().pipeline, ctx.scope()?, id, &query, first, expand).await?;
        let mode = |m: AgentMode| CodeSearchMode::from(m);
        Ok(CodeSearchResult {
            requested_mode: mode(found.plan.requested),
            used_mode: mode(found.plan.used),
            note: found.plan.note,
            hits: found.hits.into_iter().map(CodeHit).collect(),
        })
    }

    /// One node of a code graph, with its callers, callees and children.
    async fn code_node(&self, ctx: &Context<'_>, id: ID) -> Result<CodeNode> {
        let id = parse_id("id", &id)?;
        Ok(CodeNode(service::node(&ctx.state().pipeline, ctx.scope()?, id).await?.node))
    }
}

/// Code mutations.
#[derive(Default)]
pub struct CodeMutation;

#[Object]
impl CodeMutation {
    /// Clones `url` (https; at `ref`, the default branch when absent) and
    /// analyses it as a `REPOSITORY_ANALYSIS` job: languages, files,
    /// dependencies, the code graph, a README and a licence recommendation
    /// for `goal`. A URL that may not be cloned (not https, credentials in
    /// it, a private address) is `BAD_USER_INPUT` at once.
    async fn analyze_repository(
        &self,
        ctx: &Context<'_>,
        url: String,
        #[graphql(name = "ref")] reference: Option<String>,
        goal: Option<LicenceGoal>,
    ) -> Result<RepositoryAnalysis> {
        let viewer = ctx.viewer()?;
        let goal = goal.map(AgentGoal::from);
        let (analysis, _) =
            service::analyze(&ctx.state().pipeline, ctx.scope()?, viewer, &url, reference.as_deref(), goal).await?;
        Ok(RepositoryAnalysis(analysis))
    }

    /// Deletes an analysis with its code graph and index.
    async fn delete_repository_analysis(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let id = parse_id("id", &id)?;
        let viewer = ctx.viewer()?;
        Ok(service::delete(&ctx.state().pipeline, ctx.scope()?, viewer, id).await?)
    }
}
