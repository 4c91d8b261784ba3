//! Analysis requests and stores as the API sees them: validation, tenancy
//! and roles here; the pipeline does the work.

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use alatar_agents::pipeline::{Pipeline, lifecycle};
use alatar_entity::{AccountScope, AnalysisStatus, Role, StoreKind, analysis_request, store};

use crate::auth::AccessClaims;
use crate::error::{ApiError, ApiResult};

/// Longest accepted question, in characters.
pub const MAX_PROMPT_CHARS: usize = 4_000;

/// Links the bundled demo shop to the caller's account.
pub async fn connect_demo_store(
    p: &Pipeline,
    scope: AccountScope,
    viewer: &AccessClaims,
    name: Option<String>,
) -> ApiResult<store::Model> {
    if viewer.role == Role::Viewer {
        return Err(ApiError::Forbidden("viewers cannot link stores"));
    }
    let name = name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()).unwrap_or_else(|| "Demo Store".into());
    if name.chars().count() > 200 {
        return Err(ApiError::bad_input("name", "must be at most 200 characters"));
    }
    let model = store::Entity::insert(store::ActiveModel {
        id: Set(Uuid::now_v7()),
        account_id: Set(scope.account_id()),
        kind: Set(StoreKind::Demo),
        name: Set(name),
        shop_domain: Set(None),
        // One fixed seed: every demo store shows the same, reproducible shop.
        demo_seed: Set(Some(1)),
        created_at: Set(Utc::now()),
        disconnected_at: Set(None),
    })
    .exec_with_returning(&p.db)
    .await
    .map_err(ApiError::internal)?;
    Ok(model)
}

/// The account's stores, oldest first.
pub async fn stores(p: &Pipeline, scope: AccountScope) -> ApiResult<Vec<store::Model>> {
    scope
        .find::<store::Entity>()
        .order_by_asc(store::Column::CreatedAt)
        .all(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)
}

/// Validates and queues a question about one of the account's stores.
pub async fn submit(
    p: &Pipeline,
    scope: AccountScope,
    viewer: &AccessClaims,
    prompt: &str,
    store_id: Uuid,
) -> ApiResult<analysis_request::Model> {
    if viewer.role == Role::Viewer {
        return Err(ApiError::Forbidden("viewers cannot submit analysis requests"));
    }
    let prompt = prompt.trim();
    if prompt.is_empty() {
        return Err(ApiError::bad_input("prompt", "must not be empty"));
    }
    if prompt.chars().count() > MAX_PROMPT_CHARS {
        return Err(ApiError::bad_input("prompt", format!("must be at most {MAX_PROMPT_CHARS} characters")));
    }
    linked_store(p, scope, store_id).await?;
    let new = lifecycle::NewRequest {
        account_id: scope.account_id(),
        user_id: viewer.sub,
        store_id,
        prompt: prompt.to_owned(),
        model: request_model(p, scope, viewer).await,
    };
    lifecycle::submit(p, new).await.map_err(ApiError::internal)
}

/// One of the account's stores that is still linked: what a request may be about.
pub(crate) async fn linked_store(p: &Pipeline, scope: AccountScope, store_id: Uuid) -> ApiResult<store::Model> {
    let found_store = scope
        .find::<store::Entity>()
        .filter(store::Column::Id.eq(store_id))
        .one(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?
        .ok_or(ApiError::NotFound("store"))?;
    if found_store.disconnected_at.is_some() {
        return Err(ApiError::Conflict("the store is disconnected: link it again to analyse it".into()));
    }
    Ok(found_store)
}

/// The model a request of `viewer`'s writes with: the user's choice wins;
/// the offline model has no choice to make.
pub(crate) async fn request_model(p: &Pipeline, scope: AccountScope, viewer: &AccessClaims) -> String {
    match p.llm.model() {
        "offline" => "offline".to_owned(),
        default => crate::service::preferences::get(&p.db, scope, viewer.sub)
            .await
            .ok()
            .and_then(|prefs| prefs.llm_model)
            .unwrap_or_else(|| default.to_owned()),
    }
}

/// A page of the requests that ran workflow `workflow_id`, newest first,
/// after the cursor `before_id`.
pub async fn runs_of(
    p: &Pipeline,
    scope: AccountScope,
    workflow_id: Uuid,
    before_id: Option<Uuid>,
    limit: u64,
) -> ApiResult<Vec<analysis_request::Model>> {
    let mut query =
        scope.find::<analysis_request::Entity>().filter(analysis_request::Column::WorkflowId.eq(workflow_id));
    if let Some(before) = before_id {
        query = query.filter(analysis_request::Column::Id.lt(before));
    }
    query
        .order_by_desc(analysis_request::Column::Id)
        .limit(limit)
        .all(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)
}

/// One of the account's requests.
pub async fn request(p: &Pipeline, scope: AccountScope, id: Uuid) -> ApiResult<analysis_request::Model> {
    scope
        .find::<analysis_request::Entity>()
        .filter(analysis_request::Column::Id.eq(id))
        .one(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?
        .ok_or(ApiError::NotFound("analysis request"))
}

/// A page of the account's requests, newest first, after the cursor `before_id`.
pub async fn list(
    p: &Pipeline,
    scope: AccountScope,
    status: Option<AnalysisStatus>,
    before_id: Option<Uuid>,
    limit: u64,
) -> ApiResult<Vec<analysis_request::Model>> {
    let mut query = scope.find::<analysis_request::Entity>();
    if let Some(status) = status {
        query = query.filter(analysis_request::Column::Status.eq(status));
    }
    if let Some(before) = before_id {
        query = query.filter(analysis_request::Column::Id.lt(before));
    }
    query
        .order_by_desc(analysis_request::Column::Id)
        .limit(limit)
        .all(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)
}

/// Cancels an unfinished request (its requester, owners and admins).
pub async fn cancel(
    p: &Pipeline,
    scope: AccountScope,
    viewer: &AccessClaims,
    id: Uuid,
) -> ApiResult<analysis_request::Model> {
    let found = request(p, scope, id).await?;
    if found.user_id != viewer.sub && !viewer.role.can_manage_members() {
        return Err(ApiError::Forbidden("only the requester, owners and admins can cancel a request"));
    }
    if found.status.is_terminal() {
        return Err(ApiError::Conflict(format!("the request is already {}", found.status.as_str())));
    }
    if !lifecycle::end(p, &found, AnalysisStatus::Cancelled, Some("cancelled by the user"))
        .await
        .map_err(ApiError::internal)?
    {
        return Err(ApiError::Conflict("the request finished before it could be cancelled".into()));
    }
    request(p, scope, id).await
}
