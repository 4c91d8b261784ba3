//! Code for the API: `analyzeRepository`, `repositoryAnalysis`,
//! `repositoryAnalyses`, `deleteRepositoryAnalysis`, `searchCode` and
//! `codeNode` (seed 000 §9, seed 003). Every member reads; owners, admins
//! and analysts analyse and delete (a viewer's is `FORBIDDEN`).
//!
//! A URL is checked when it is submitted (scheme, credentials, the host's
//! addresses: a refusal is `BAD_USER_INPUT` at once) and again by the job
//! before it clones, which pins the addresses it checked.

use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use alatar_agents::code::clone::valid_reference;
use alatar_agents::code::licence::LicenceGoal;
use alatar_agents::code::neighbours::{self, Neighbourhood};
use alatar_agents::code::search::{CodeSearch, search_code};
use alatar_agents::code::{self, source};
use alatar_agents::pipeline::Pipeline;
use alatar_agents::write::begin_write;
use alatar_entity::{AccountScope, job, repository_analysis};

use crate::auth::AccessClaims;
use crate::error::{ApiError, ApiResult};
use crate::service::knowledge::may_edit;

/// Longest repository URL.
const MAX_URL_CHARS: usize = 2_000;
/// Most hits one `searchCode` returns.
pub const MAX_FIRST: usize = 50;

/// Queues an analysis of `url` at `reference` (the default branch when
/// none), recommending a licence for `goal`.
pub async fn analyze(
    p: &Pipeline,
    scope: AccountScope,
    viewer: &AccessClaims,
    url: &str,
    reference: Option<&str>,
    goal: Option<LicenceGoal>,
) -> ApiResult<(repository_analysis::Model, job::Model)> {
    may_edit(viewer, "viewers cannot analyse repositories")?;
    if url.chars().count() > MAX_URL_CHARS {
        return Err(ApiError::bad_input("url", format!("must be at most {MAX_URL_CHARS} characters")));
    }
    let reference = reference.map(str::trim).filter(|r| !r.is_empty());
    if let Some(r) = reference.filter(|r| !valid_reference(r)) {
        let shown: String = r.chars().take(40).collect();
        return Err(ApiError::bad_input("ref", format!("{shown:?} is not a branch, tag or commit name")));
    }
    source::check(url, &p.code).await.map_err(|e| ApiError::bad_input("url", e.to_string()))?;
    let (analysis, job) = code::queued(scope.account_id(), viewer.sub, url, reference, goal.map(LicenceGoal::as_str));
    let tx = begin_write(&p.db).await.map_err(ApiError::internal)?;
    code::insert(&tx, &analysis, &job).await.map_err(ApiError::internal)?;
    tx.commit().await.map_err(ApiError::internal)?;
    p.outbox.notify_one();
    Ok((analysis, job))
}

/// One of the account's analyses.
pub async fn analysis(p: &Pipeline, scope: AccountScope, id: Uuid) -> ApiResult<repository_analysis::Model> {
    scope
        .find::<repository_analysis::Entity>()
        .filter(repository_analysis::Column::Id.eq(id))
        .one(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?
        .ok_or(ApiError::NotFound("repository analysis"))
}

/// A page of the account's analyses, newest first, after `before_id`.
pub async fn analyses(
    p: &Pipeline,
    scope: AccountScope,
    before_id: Option<Uuid>,
    limit: u64,
) -> ApiResult<Vec<repository_analysis::Model>> {
    let mut query = scope.find::<repository_analysis::Entity>();
    if let Some(before) = before_id {
        query = query.filter(repository_analysis::Column::Id.lt(before));
    }
    query
        .order_by_desc(repository_analysis::Column::Id)
        .limit(limit)
        .all(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)
}

/// Deletes an analysis with its graph and index (an unfinished job is
/// cancelled first, so it stores nothing after).
pub async fn delete(p: &Pipeline, scope: AccountScope, viewer: &AccessClaims, id: Uuid) -> ApiResult<bool> {
    may_edit(viewer, "viewers cannot delete repository analyses")?;
    let found = analysis(p, scope, id).await?;
    alatar_agents::datasets::jobs::cancel(p, scope, found.job_id).await.map_err(ApiError::internal)?;
    let deleted = scope
        .delete_many::<repository_analysis::Entity>()
        .filter(repository_analysis::Column::Id.eq(id))
        .exec(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?;
    Ok(deleted.rows_affected == 1)
}

/// The job of `analysis`.
pub async fn job_of(p: &Pipeline, scope: AccountScope, analysis: &repository_analysis::Model) -> ApiResult<job::Model> {
    alatar_agents::datasets::jobs::find(p, scope, analysis.job_id)
        .await
        .map_err(ApiError::internal)?
        .ok_or(ApiError::NotFound("job"))
}

/// Searches analysis `repository_id` for `text`; see `code::search`.
pub async fn search(
    p: &Pipeline,
    scope: AccountScope,
    repository_id: Uuid,
    text: &str,
    first: i32,
    expand: i32,
) -> ApiResult<CodeSearch> {
    if text.trim().is_empty() {
        return Err(ApiError::bad_input("query", "must not be empty"));
    }
    if !(1..=MAX_FIRST as i32).contains(&first) {
        return Err(ApiError::bad_input("first", format!("must be between 1 and {MAX_FIRST}")));
    }
    let hops = code::search::MAX_EXPAND as i32;
    if !(0..=hops).contains(&expand) {
        return Err(ApiError::bad_input("expand", format!("must be between 0 and {hops}")));
    }
    match search_code(p, scope, repository_id, text, first as usize, expand as usize).await {
        Ok(Some(found)) => Ok(found),
        // No completed analysis of this id here: none (or another
        // account's), or not completed.
        Ok(None) => {
            analysis(p, scope, repository_id).await?;
            Err(ApiError::bad_input("repositoryId", "the analysis has not completed: search it once it has"))
        }
        Err(e) => Err(ApiError::internal(e)),
    }
}

/// Node `id` with its neighbours.
pub async fn node(p: &Pipeline, scope: AccountScope, id: Uuid) -> ApiResult<Neighbourhood> {
    neighbours::neighbourhood(&p.db, scope, id)
        .await
        .map_err(ApiError::internal)?
        .ok_or(ApiError::NotFound("code node"))
}

/// Nodes `ids` of analysis `repository_id` (for search paths).
pub async fn nodes(
    p: &Pipeline,
    scope: AccountScope,
    repository_id: Uuid,
    ids: Vec<Uuid>,
) -> ApiResult<Vec<alatar_entity::code_node::Model>> {
    neighbours::nodes(&p.db, scope, repository_id, ids).await.map_err(ApiError::internal)
}

/// How many nodes analysis `repository_id` has.
pub async fn node_count(p: &Pipeline, scope: AccountScope, repository_id: Uuid) -> ApiResult<u64> {
    use sea_orm::PaginatorTrait;
    scope
        .find::<alatar_entity::code_node::Entity>()
        .filter(alatar_entity::code_node::Column::RepositoryId.eq(repository_id))
        .count(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)
}
