//! A `REPOSITORY_ANALYSIS` job (`AnalyzeRepository`, on the `Code`
//! department's queue), P40–P45:
//!
//! 1. Check the URL (`source`: https only, no private addresses) → 2.
//! 2. Clone (`clone`: shallow, no hooks, no symlinks, time and size caps)
//!    → 15.
//! 3. Read the tree (`walk`) and analyse it (`report`: files by type,
//!    languages by bytes, the tree, dependencies, licences) → 30.
//! 4. Parse it into the code graph (`graph`, tree-sitter) → 45.
//! 5. Store the graph and index its text (`index`), embedding 50 → 95.
//! 6. Recommend a licence (`licence`) and write the README (`readme`: the
//!    model's when one is configured and its draft has every section,
//!    the template otherwise) → 100, stored on the analysis with the job
//!    `COMPLETED` in one transaction (P45).
//!
//! The repository at fault (refused URL, no such repository or
//! reference, too large, too slow) ends the job `FAILED` with the reason,
//! stored on the analysis too. The machine at fault (no disk, the
//! database) is an error: the delivery is retried and starts over (the
//! index is replaced, never doubled). A redelivery of a job that ended
//! does nothing.

use std::time::Instant;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use alatar_entity::job::JobStatus;
use alatar_entity::{AccountScope, ScopeSession, job, repository_analysis};

use super::clone::{self, CloneError};
use super::graph;
use super::index;
use super::licence::{self, LicenceGoal};
use super::readme::{self, ReadmeInput};
use super::report::{self, RepositoryReport};
use super::source;
use super::walk;
use crate::datasets::jobs::{self, Control};
use crate::llm::ReadmeBrief;
use crate::pipeline::Pipeline;
use crate::write::begin_write;

/// Public items listed in a library's README API section, at most.
const API_ITEMS: usize = 30;

/// Wall time of each stage, in seconds, reported with the graph.
#[derive(Debug, Default)]
struct Stages {
    clone: f64,
    read: f64,
    parse: f64,
    store: f64,
    embed: f64,
}

/// A repository's short name from its URL (`owner/repo`).
pub fn title_of(url: &str) -> String {
    let trimmed = url.trim().trim_end_matches('/').trim_end_matches(".git");
    let parts: Vec<&str> = trimmed.rsplit('/').take(2).collect();
    match parts.as_slice() {
        [name, owner] if !owner.contains(':') && !owner.is_empty() => format!("{owner}/{name}"),
        [name, ..] => (*name).to_owned(),
        [] => trimmed.to_owned(),
    }
}

/// The analysis job `job_id` runs.
async fn analysis_of<C: ScopeSession>(
    db: &C,
    scope: AccountScope,
    job_id: Uuid,
) -> Result<Option<repository_analysis::Model>, sea_orm::DbErr> {
    scope
        .find::<repository_analysis::Entity>()
        .filter(repository_analysis::Column::JobId.eq(job_id))
        .one(&scope.on(db))
        .await
}

/// Fails the job and records why on its analysis.
async fn refuse(
    p: &Pipeline,
    scope: AccountScope,
    job: &job::Model,
    analysis: Uuid,
    reason: &str,
) -> anyhow::Result<()> {
    scope
        .update_many::<repository_analysis::Entity>()
        .col_expr(repository_analysis::Column::Error, Expr::value(Some(reason.to_owned())))
        .col_expr(repository_analysis::Column::CompletedAt, Expr::value(Some(Utc::now())))
        .filter(repository_analysis::Column::Id.eq(analysis))
        .exec(&scope.on(&p.db))
        .await?;
    jobs::fail(p, scope, job, reason).await?;
    Ok(())
}

/// Handles an `AnalyzeRepository` message; `Ok` also when there was
/// nothing to do.
pub async fn run(p: &Pipeline, account_id: Uuid, job_id: Uuid) -> anyhow::Result<()> {
    let scope = AccountScope::new(account_id);
    let Some(found) = jobs::pending(p, scope, job_id).await? else { return Ok(()) };
    let Some(analysis) = analysis_of(&p.db, scope, job_id).await? else {
        jobs::fail(p, scope, &found, "the analysis was deleted").await?;
        return Ok(());
    };
    let Some(running) = jobs::start(p, scope, &found).await? else { return Ok(()) };
    if let Err(reason) = attempt(p, scope, &running, &analysis).await? {
        tracing::info!(job_id = %running.id, url = %analysis.url, %reason, "repository analysis refused");
        refuse(p, scope, &running, analysis.id, &reason).await?;
    }
    Ok(())
}

/// A message that kept failing: its job fails, saying so.
pub async fn give_up(p: &Pipeline, account_id: Uuid, job_id: Uuid) -> anyhow::Result<()> {
    let scope = AccountScope::new(account_id);
    let (Some(found), Some(analysis)) = (jobs::find(p, scope, job_id).await?, analysis_of(&p.db, scope, job_id).await?)
    else {
        return Ok(());
    };
    let reason =
        format!("the analysis failed {} times and was stopped: analyse the repository again", p.config.max_deliveries);
    tracing::error!(%job_id, %reason, "dead letter");
    refuse(p, scope, &found, analysis.id, &reason).await
}

/// Stores progress; `false` when the job was cancelled or moved on.
async fn step(p: &Pipeline, scope: AccountScope, job: &job::Model, progress: i32) -> anyhow::Result<bool> {
    match jobs::report(p, scope, job.id, progress).await? {
        Control::Continue => Ok(true),
        Control::Cancel => {
            jobs::cancelled(p, scope, job).await?;
            Ok(false)
        }
        _ => Ok(false),
    }
}

/// One run (see the module doc): `Ok(Err(reason))` when the repository is
/// at fault.
async fn attempt(
    p: &Pipeline,
    scope: AccountScope,
    job: &job::Model,
    analysis: &repository_analysis::Model,
) -> anyhow::Result<Result<(), String>> {
    let settings = &p.code;
    let source = match source::check(&analysis.url, settings).await {
        Ok(source) => source,
        Err(e) => return Ok(Err(e.to_string())),
    };
    if !step(p, scope, job, 2).await? {
        return Ok(Ok(()));
    }
    let mut stages = Stages::default();
    let clone_started = Instant::now();
    let checkout = match clone::clone(&source, analysis.reference.as_deref(), settings).await {
        Ok(checkout) => checkout,
        Err(e @ CloneError::Io(_)) => return Err(e.into()),
        Err(e) => return Ok(Err(e.to_string())),
    };
    if !step(p, scope, job, 15).await? {
        return Ok(Ok(()));
    }
    stages.clone = clone_started.elapsed().as_secs_f64();
    let read_started = Instant::now();
    let title = title_of(&analysis.url);
    let (root, read_settings, name) = (checkout.dir.clone(), settings.clone(), title.clone());
    let (tree, report) = tokio::task::spawn_blocking(move || {
        let tree = walk::read(&root, &read_settings);
        let report = report::analyze(&name, &tree.files);
        (tree, report)
    })
    .await?;
    let commit = checkout.commit.clone();
    drop(checkout);
    if !step(p, scope, job, 30).await? {
        return Ok(Ok(()));
    }
    stages.read = read_started.elapsed().as_secs_f64();
    let parse_started = Instant::now();
    let files = std::sync::Arc::new(tree.files);
    let parsing = files.clone();
    let built = tokio::task::spawn_blocking(move || graph::build(&parsing)).await?;
    stages.parse = parse_started.elapsed().as_secs_f64();
    if !step(p, scope, job, 45).await? {
        return Ok(Ok(()));
    }
    let store_started = Instant::now();
    let indexed = index::store(p, scope, analysis.id, (&title, &commit), &built, &files).await?;
    stages.store = store_started.elapsed().as_secs_f64();
    let embed_started = Instant::now();
    let mut embedded = 0usize;
    if let Some(embedder) = &p.embedder {
        let mut after = Uuid::nil();
        loop {
            let done = index::embed_next(p, scope, &indexed, embedder.as_ref(), &mut after).await?;
            if done == 0 {
                break;
            }
            embedded += done;
            let share = embedded as f64 / indexed.nodes.max(1) as f64;
            if !step(p, scope, job, 50 + (share * 45.0) as i32).await? {
                return Ok(Ok(()));
            }
        }
    }
    index::finish(p, scope, &indexed).await?;
    stages.embed = embed_started.elapsed().as_secs_f64();
    if !step(p, scope, job, 95).await? {
        return Ok(Ok(()));
    }
    let goal = analysis.goal.as_deref().and_then(LicenceGoal::parse);
    let recommendation = licence::recommend(&report.licences, &[], &report.meta, goal);
    let api: Vec<(String, String, String)> = built
        .nodes
        .iter()
        .filter(|n| {
            matches!(
                n.kind,
                graph::NodeKind::Function
                    | graph::NodeKind::Struct
                    | graph::NodeKind::Class
                    | graph::NodeKind::Trait
                    | graph::NodeKind::Interface
            )
        })
        .filter(|n| n.signature.as_deref().is_some_and(is_public_signature))
        .take(API_ITEMS)
        .map(|n| (n.qualified_name.clone(), n.signature.clone().unwrap_or_default(), n.doc.clone().unwrap_or_default()))
        .collect();
    let existing = files.iter().find(|f| f.path.eq_ignore_ascii_case("readme.md")).and_then(|f| f.text.as_deref());
    let languages = report.language_bytes();
    let tree_lines = report.top_level();
    let input = ReadmeInput {
        name: &title,
        meta: &report.meta,
        languages: &languages,
        tree: &tree_lines,
        dependencies: &report.dependencies,
        licence: &recommendation,
        api: &api,
        existing_readme: existing,
    };
    let draft = readme::template(&input);
    let (readme, readme_by) = written_readme(p, &title, &input, &draft).await;
    let graph_stats = json!({
        "nodes": indexed.nodes,
        "edges": indexed.edges,
        "resolvedEdges": indexed.resolved,
        "embeddedChunks": embedded,
        "filesParsed": built.files_parsed,
        "bytesParsed": built.bytes_parsed,
        "parseSeconds": stages.parse,
        "seconds": { "clone": stages.clone, "read": stages.read, "parse": stages.parse, "store": stages.store,
            "embed": stages.embed },
        "parseErrors": built.parse_errors.iter().take(20).map(|(path, why)| json!({"path": path, "error": why})).collect::<Vec<_>>(),
        "filesSkipped": tree.skipped,
        "readmeWrittenBy": readme_by,
    });
    let licence = serde_json::to_value(&recommendation)?;
    complete(p, scope, job, analysis.id, &commit, &report, graph_stats, readme, licence).await?;
    Ok(Ok(()))
}

/// The README: the model's when one is configured and its draft passes
/// (`llm::readme::validate`), the template's `draft` otherwise; and who
/// wrote it (a model's id, or `template`).
async fn written_readme(p: &Pipeline, title: &str, input: &ReadmeInput<'_>, draft: &str) -> (String, String) {
    let dependencies: Vec<String> = input
        .dependencies
        .iter()
        .take(60)
        .map(|d| format!("{} {}{}", d.name, d.version.as_deref().unwrap_or(""), if d.dev { " (dev)" } else { "" }))
        .collect();
    let api: Vec<String> = input.api.iter().map(|(name, signature, _)| format!("{name}: {signature}")).collect();
    let brief = ReadmeBrief {
        name: title,
        languages: input.languages,
        tree: input.tree,
        dependencies: &dependencies,
        api: &api,
        draft,
    };
    match p.llm.write_readme(&brief).await {
        Ok(Some(written)) => (written.text, written.model),
        Ok(None) => (draft.to_owned(), "template".to_owned()),
        Err(e) => {
            tracing::warn!(repository = %title, error = %e, "the model's README was not used; the template's is kept");
            (draft.to_owned(), "template".to_owned())
        }
    }
}

/// Whether a declaration reads as public (`pub fn`, `export`, a Python or
/// Go name not marked private).
fn is_public_signature(signature: &str) -> bool {
    let s = signature.trim_start();
    s.starts_with("pub ")
        || s.starts_with("export ")
        || s.starts_with("def ") && !s.starts_with("def _")
        || s.starts_with("class ") && !s.starts_with("class _")
        || s.starts_with("func ") && s.chars().nth(5).is_some_and(char::is_uppercase)
}

/// The analysis stored and the job `COMPLETED`, in one transaction.
#[allow(clippy::too_many_arguments)]
async fn complete(
    p: &Pipeline,
    scope: AccountScope,
    job: &job::Model,
    analysis_id: Uuid,
    commit: &str,
    report: &RepositoryReport,
    graph_stats: serde_json::Value,
    readme: String,
    licence: serde_json::Value,
) -> anyhow::Result<()> {
    let mut report_json = serde_json::to_value(report)?;
    if let Some(object) = report_json.as_object_mut() {
        object.insert("graph".to_owned(), graph_stats);
    }
    let tx = begin_write(&p.db).await?;
    scope
        .update_many::<repository_analysis::Entity>()
        .col_expr(repository_analysis::Column::CommitSha, Expr::value(Some(commit.to_owned())))
        .col_expr(repository_analysis::Column::Report, Expr::value(Some(report_json)))
        .col_expr(repository_analysis::Column::Readme, Expr::value(Some(readme)))
        .col_expr(repository_analysis::Column::Licence, Expr::value(Some(licence)))
        .col_expr(repository_analysis::Column::Error, Expr::value(Option::<String>::None))
        .col_expr(repository_analysis::Column::CompletedAt, Expr::value(Some(Utc::now())))
        .filter(repository_analysis::Column::Id.eq(analysis_id))
        .exec(&scope.on(&tx))
        .await?;
    if !jobs::end_in(&tx, scope, job.id, JobStatus::Completed, None).await? {
        tx.rollback().await?;
        return Ok(());
    }
    tx.commit().await?;
    jobs::announce(p, scope, job.id).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::title_of;

    #[test]
    fn titles_are_owner_and_name() {
        assert_eq!(title_of("https://github.com/Shopify/dawn.git"), "Shopify/dawn");
        assert_eq!(title_of("https://github.com/Shopify/dawn/"), "Shopify/dawn");
        assert_eq!(title_of("file:///tmp/x/theme"), "x/theme");
    }
}
