//! Code: repository analysis (seed 000 §9, P40–P45) and the code graph
//! with code search (seed 003).
//!
//! `analyzeRepository` stores a `repository_analyses` row and a
//! `REPOSITORY_ANALYSIS` job (the `jobs` machinery of datasets: status,
//! progress, cancel, `jobUpdates`), run on the `Code` department's queue
//! ([`job`]):
//!
//! - [`source`] decides whether a URL may be cloned (https only by
//!   default, `file://` when allowed, no private addresses: SSRF), and
//!   [`clone`] clones it with the system git, safely and within limits;
//! - [`walk`] reads the checkout into [`files::RepoFile`]s;
//! - [`report`] analyses them: [`languages`] (by extension, file name and
//!   shebang), the tree, [`manifests`] (Cargo, npm, Python, Go) and
//!   [`licence`] detection;
//! - [`graph`] parses them with tree-sitter into nodes and edges, which
//!   [`index`] stores (`code_nodes`, `code_edges`) and indexes through the
//!   Knowledge index (a collection of the analysis's own, so full text and
//!   vectors are the documents' paths);
//! - [`licence`] recommends a licence and [`readme`] writes the README,
//!   both stored on the analysis (P45).
//!
//! Reading: [`search`] (`searchCode`: hybrid search, then graph expansion)
//! and [`neighbours`] (`codeNode`: callers, callees, children, source).
//!
//! A repository is untrusted input like an upload: nothing in it runs
//! (no hooks, no build), nothing follows its symlinks, its text reaches a
//! model only as fenced data, and nothing of it can become a store change.
//!
//! Architecture invariant: it knows neither HTTP nor GraphQL.

pub mod clone;
pub mod files;
pub mod graph;
pub mod index;
pub mod job;
pub mod languages;
pub mod licence;
pub mod manifests;
pub mod neighbours;
pub mod readme;
pub mod report;
pub mod repositories;
pub mod search;
pub mod settings;
pub mod source;
pub mod walk;

use sea_orm::ConnectionTrait;
use uuid::Uuid;

use alatar_entity::job::{JobKind, JobStatus};
use alatar_entity::{job as job_row, repository_analysis};

/// A new `QUEUED` analysis of `url` at `reference` with its job, to be
/// inserted together ([`insert`]).
pub fn queued(
    account_id: uuid::Uuid,
    created_by: uuid::Uuid,
    url: &str,
    reference: Option<&str>,
    goal: Option<&str>,
) -> (repository_analysis::Model, job_row::Model) {
    let now = chrono::Utc::now();
    let job = job_row::Model {
        id: Uuid::now_v7(),
        account_id,
        kind: JobKind::RepositoryAnalysis.as_str().to_owned(),
        status: JobStatus::Queued.as_str().to_owned(),
        progress: 0,
        error: None,
        dataset_id: None,
        cancel_requested: false,
        input: None,
        created_by,
        created_at: now,
        started_at: None,
        finished_at: None,
    };
    let analysis = repository_analysis::Model {
        id: Uuid::now_v7(),
        account_id,
        job_id: job.id,
        url: url.trim().to_owned(),
        reference: reference.map(str::to_owned),
        goal: goal.map(str::to_owned),
        commit_sha: None,
        report: None,
        readme: None,
        licence: None,
        error: None,
        created_by,
        created_at: now,
        completed_at: None,
    };
    (analysis, job)
}

/// Stores `analysis` and its job with the job's queue message, in the
/// caller's transaction.
pub async fn insert<C: ConnectionTrait>(
    tx: &C,
    analysis: &repository_analysis::Model,
    job: &job_row::Model,
) -> Result<(), sea_orm::DbErr> {
    use sea_orm::EntityTrait;
    crate::datasets::jobs::insert(tx, job).await?;
    repository_analysis::Entity::insert(repository_analysis::ActiveModel::from(analysis.clone()))
        .exec_without_returning(tx)
        .await?;
    Ok(())
}
