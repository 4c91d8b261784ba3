//! `Code`: answers about the code of the merchant's analysed repositories
//! (their theme, their app), citing nodes by qualified name and
//! `file:line`.
//!
//! The work: `github.analyze` lists the account's analysed repositories;
//! the one the question names (by URL, `owner/name` or name) is read, or the
//! newest when it names none. A question that names the URL of a
//! repository with no analysis starts one (the same job as
//! `analyzeRepository`) and answers that it has started: the answer about
//! its code comes when the question is asked again after the job. `code.search` searches it for the question
//! (hybrid, then one hop over calls and containment), and `code.graph`
//! reads the callers of the best hits. The answer names the functions
//! found with their locations; a figure (how many were found) cites the
//! search call. Repository text is untrusted: only names, locations and
//! signatures are shown, as data, and nothing of it becomes a proposal.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
#[cfg(test)]
use uuid::Uuid;

use super::{DepartmentAgent, TaskContext};
use crate::Department;
use crate::code::job::title_of;
use crate::code::repositories::{Repositories, same_repository};
use crate::result::{KeyFigure, Section};
use crate::tools::{
    AnalysedRepository, CodeGraph, CodeGraphInput, CodeSearch, CodeSearchInput, GithubAnalyze, GithubAnalyzeInput,
    StartedAnalysis, TaskFailure, ToolRunner,
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

/// The repository URL `prompt` names, if any: a GitHub, GitLab or
/// Bitbucket repository (`https://github.com/owner/name/tree/main`,
/// `github.com/owner/name`: read as `https://host/owner/name`), another
/// `https://…/name.git`, or a `file://` path (allowed only where
/// `code.allow_local_repositories` is). Any other link in a question (an
/// API, a shop page) names no repository. Trailing punctuation is no part of it.
pub fn named_url(prompt: &str) -> Option<String> {
    url_word(prompt).map(|(_, url)| url)
}

/// Longest URL taken, as `analyzeRepository` takes.
const MAX_URL_CHARS: usize = 2_000;

/// The word of `prompt` that names a repository URL, with the URL.
fn url_word(prompt: &str) -> Option<(&str, String)> {
    const FORGES: [&str; 3] = ["github.com", "gitlab.com", "bitbucket.org"];
    let named = |word: &str| -> Option<String> {
        let word = word.trim_matches(|c: char| matches!(c, '(' | ')' | '<' | '>' | '"' | '\'' | '`' | '[' | ']'));
        let word = word.trim_end_matches(['.', ',', ';', ':', '!', '?']);
        if word.chars().count() > MAX_URL_CHARS {
            return None;
        }
        let lower = word.to_ascii_lowercase();
        if lower.starts_with("file://") && word.len() > "file://".len() {
            return Some(word.to_owned());
        }
        let rest = ["https://", "http://"].iter().find_map(|s| lower.strip_prefix(s)).unwrap_or(&lower);
        let rest = rest.strip_prefix("www.").unwrap_or(rest);
        let rest = rest.split(['?', '#']).next().unwrap_or_default();
        let mut parts = rest.split('/');
        let host = parts.next().unwrap_or_default();
        if FORGES.contains(&host) {
            let (owner, name) = (parts.next().filter(|p| !p.is_empty())?, parts.next().filter(|p| !p.is_empty())?);
            return Some(format!("https://{host}/{owner}/{name}"));
        }
        (lower.starts_with("https://") && rest.ends_with(".git"))
            .then(|| word.split(['?', '#']).next().unwrap_or(word).to_owned())
    };
    prompt.split_whitespace().find_map(|word| named(word).map(|url| (word, url)))
}

/// The question as searched: without the URL it names, whose path words
/// (hosts, owners, scratch directories) are no words of the code.
fn searched(prompt: &str) -> String {
    match url_word(prompt) {
        Some((word, _)) => prompt.replacen(word, " ", 1),
        None => prompt.to_owned(),
    }
}

/// The repository `prompt` names among `listed` (by URL, by `owner/name`,
/// then by name as a whole word), else the newest.
pub fn chosen<'a>(prompt: &str, listed: &'a [AnalysedRepository]) -> Option<&'a AnalysedRepository> {
    if let Some(url) = named_url(prompt) {
        return listed.iter().find(|r| same_repository(&r.url, &url));
    }
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

/// What is said while a repository's first analysis runs.
fn started_findings(started: &StartedAnalysis) -> CodeFindings {
    let title = cell(&title_of(&started.url));
    let what = if started.already_running { "is under way" } else { "has started" };
    let answer = format!(
        "The analysis of {title} {what} (job {job}): it clones the repository, reads its languages, dependencies \
         and licence, and builds its code graph, about a minute for a thousand files. Ask again once it has \
         completed; repositoryAnalysis(id: \"{id}\") follows it.",
        job = started.job_id,
        id = started.repository_id,
    );
    CodeFindings {
        answer: Some(answer),
        warnings: vec![format!("{title} had no completed analysis yet, so nothing about its code could be said.")],
        ..CodeFindings::default()
    }
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
    let url = named_url(&task.prompt);
    let input = GithubAnalyzeInput { repository: None, url: url.clone() };
    let (listed, _) = tools.call(&GithubAnalyze(repositories.clone()), input).await?;
    if let Some(started) = &listed.started {
        return Ok(started_findings(started));
    }
    if let (Some(url), Some(why)) = (&url, &listed.refused) {
        return Ok(CodeFindings::unanswered(&format!("{} cannot be analysed: {why}.", cell(url))));
    }
    let Some(repository) = chosen(&task.prompt, &listed.repositories) else {
        return Ok(CodeFindings::unanswered(NO_REPOSITORIES));
    };
    let title = title_of(&repository.url);
    let input = CodeSearchInput {
        repository_id: repository.repository_id,
        query: searched(&task.prompt),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_named_in_questions() {
        let named = |p: &str| named_url(p);
        assert_eq!(named("Analyse https://github.com/acme/dawn."), Some("https://github.com/acme/dawn".into()));
        assert_eq!(named("what does github.com/acme/dawn do?"), Some("https://github.com/acme/dawn".into()));
        assert_eq!(named("see (www.gitlab.com/acme/app)"), Some("https://gitlab.com/acme/app".into()));
        let deep = named("in https://GitHub.com/Acme/Dawn/tree/main/assets#readme");
        assert_eq!(deep, Some("https://github.com/acme/dawn".into()), "a deep link names its repository");
        assert_eq!(
            named("clone https://git.example.com/team/theme.git"),
            Some("https://git.example.com/team/theme.git".into())
        );
        assert_eq!(named("the repo file:///tmp/theme, please"), Some("file:///tmp/theme".into()));
        assert_eq!(named("does my repo call https://api.stripe.com/v1/charges?"), None, "an API is no repository");
        assert_eq!(named("which functions touch github's cart?"), None);
        assert_eq!(named("github.com alone"), None);
        assert_eq!(named("github.com/acme only an owner"), None);
        assert_eq!(named("my repo dawn"), None);
        assert_eq!(named(&format!("https://github.com/a/{}", "b".repeat(3000))), None, "too long");
        assert_eq!(named("é https://github.com/ü/ö"), Some("https://github.com/ü/ö".into()));
        assert_eq!(
            searched("Which functions in https://github.com/acme/dawn, touch the cart?")
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["Which", "functions", "in", "touch", "the", "cart?"]
        );
    }

    #[test]
    fn the_named_url_chooses_the_repository() {
        let repo = |url: &str| AnalysedRepository {
            repository_id: Uuid::now_v7(),
            url: url.into(),
            commit: None,
            files: None,
            languages: Vec::new(),
            dependencies: 0,
            licence: None,
        };
        let listed = [repo("https://github.com/acme/newest"), repo("https://github.com/Acme/Dawn.git")];
        let found = chosen("what is in https://github.com/acme/dawn/?", &listed).map(|r| r.url.as_str());
        assert_eq!(found, Some("https://github.com/Acme/Dawn.git"));
        assert!(chosen("what is in https://github.com/acme/other?", &listed).is_none(), "not the newest");
        assert_eq!(
            chosen("what is in my repo?", &listed).map(|r| r.url.as_str()),
            Some("https://github.com/acme/newest")
        );
    }
}
