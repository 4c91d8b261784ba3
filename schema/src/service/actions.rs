//! Proposed actions as the API sees them: who may decide (owners and
//! admins, re-read from the database), what they must quote (the
//! parameters hash), and the audit log. The state machine itself is the
//! agents crate's `actions` module.

use chrono::Utc;
use sea_orm::{ColumnTrait, DatabaseConnection, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use alatar_agents::actions::{self, RevertError, parameters_hash};
use alatar_agents::pipeline::Pipeline;
use alatar_entity::{
    AccountScope, ActionStatus, AnalysisStatus, analysis_request, audit_entry, compliance_request, proposed_action,
};

use crate::auth::AccessClaims;
use crate::error::{ApiError, ApiResult};
use crate::service::accounts;

/// Longest rejection reason, in characters.
const MAX_REASON_CHARS: usize = 2_000;

async fn require_approver(db: &DatabaseConnection, scope: AccountScope, viewer: &AccessClaims) -> ApiResult<()> {
    accounts::manager(db, scope, viewer.sub, "only owners and admins can decide on store changes").await.map(drop)
}

/// One of the account's actions: `NOT_FOUND` if there is no such action,
/// `FORBIDDEN` if it belongs to another account.
pub async fn get(p: &Pipeline, scope: AccountScope, id: Uuid) -> ApiResult<proposed_action::Model> {
    if let Some(found) =
        scope.find::<proposed_action::Entity>().filter(proposed_action::Column::Id.eq(id)).one(&scope.on(&p.db)).await?
    {
        return Ok(found);
    }
    match AccountScope::owner_of::<proposed_action::Entity, _>(&p.db, id).await? {
        Some(_) => Err(ApiError::Forbidden("this action belongs to another account")),
        None => Err(ApiError::NotFound("action")),
    }
}

/// Decides `id` for a person who must be an owner or admin of its account.
async fn decidable(
    p: &Pipeline,
    scope: AccountScope,
    viewer: &AccessClaims,
    id: Uuid,
) -> ApiResult<proposed_action::Model> {
    let action = get(p, scope, id).await?;
    require_approver(&p.db, scope, viewer).await?;
    Ok(action)
}

/// Approves exactly what the approver saw; executes once. Replaying an
/// approval returns the action as it is now and does nothing.
pub async fn approve(
    p: &Pipeline,
    scope: AccountScope,
    viewer: &AccessClaims,
    id: Uuid,
    hash: &str,
) -> ApiResult<proposed_action::Model> {
    let action = decidable(p, scope, viewer, id).await?;
    if !hash.eq_ignore_ascii_case(&parameters_hash(&action.kind, &action.parameters)) {
        return Err(ApiError::Conflict(
            "parametersHash does not match this action's parameters: review it again".into(),
        ));
    }
    match action.status {
        ActionStatus::Pending => {}
        // A replay: the approval happened, the execution is under way or done.
        ActionStatus::Approved | ActionStatus::Executing | ActionStatus::Executed => return Ok(action),
        other => return Err(ApiError::Conflict(format!("the action is {}", other.as_str()))),
    }
    if action.expires_at <= Utc::now() {
        actions::expire_due(p).await?;
        return Err(ApiError::Conflict("the action expired before it was approved".into()));
    }
    let request = scope
        .find::<analysis_request::Entity>()
        .filter(analysis_request::Column::Id.eq(action.request_id))
        .one(&scope.on(&p.db))
        .await?
        .ok_or(ApiError::NotFound("analysis request"))?;
    if request.status != AnalysisStatus::AwaitingApproval {
        return Err(ApiError::Conflict(format!("its analysis request is {}", request.status.as_str())));
    }
    let (action, _) = actions::approve(p, &action, viewer.sub, hash).await?;
    Ok(action)
}

/// Rejects with an optional reason.
pub async fn reject(
    p: &Pipeline,
    scope: AccountScope,
    viewer: &AccessClaims,
    id: Uuid,
    reason: Option<&str>,
) -> ApiResult<proposed_action::Model> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.chars().count() > MAX_REASON_CHARS) {
        return Err(ApiError::bad_input("reason", format!("must be at most {MAX_REASON_CHARS} characters")));
    }
    let action = decidable(p, scope, viewer, id).await?;
    match action.status {
        ActionStatus::Pending => {}
        ActionStatus::Rejected => return Ok(action),
        other => return Err(ApiError::Conflict(format!("the action is {}", other.as_str()))),
    }
    let (action, moved) = actions::reject(p, &action, viewer.sub, reason).await?;
    if !moved && action.status != ActionStatus::Rejected {
        return Err(ApiError::Conflict(format!("the action is {}", action.status.as_str())));
    }
    Ok(action)
}

/// Undoes an executed action.
pub async fn revert(
    p: &Pipeline,
    scope: AccountScope,
    viewer: &AccessClaims,
    id: Uuid,
) -> ApiResult<proposed_action::Model> {
    let action = decidable(p, scope, viewer, id).await?;
    match action.status {
        ActionStatus::Executed => {}
        ActionStatus::Reverted => return Ok(action),
        other => {
            return Err(ApiError::Conflict(format!(
                "only executed actions can be reverted; this one is {}",
                other.as_str()
            )));
        }
    }
    actions::revert(p, &action, viewer.sub).await.map_err(|e| match e {
        RevertError::NotRevertible(m) => ApiError::Conflict(m),
        RevertError::Store(e) => ApiError::Conflict(format!("the store did not accept the revert: {e}")),
        RevertError::Db(e) => e.into(),
    })
}

/// The account's actions of one request, or every open one.
pub async fn list(
    p: &Pipeline,
    scope: AccountScope,
    request_id: Option<Uuid>,
) -> ApiResult<Vec<proposed_action::Model>> {
    let mut query = scope.find::<proposed_action::Entity>();
    query = match request_id {
        Some(id) => query.filter(proposed_action::Column::RequestId.eq(id)),
        None => query.filter(proposed_action::Column::Status.eq(ActionStatus::Pending)),
    };
    Ok(query.order_by_asc(proposed_action::Column::Id).all(&scope.on(&p.db)).await?)
}

/// Audit records, newest first, `before` a cursor (an audit id).
pub async fn audit_log(
    db: &DatabaseConnection,
    scope: AccountScope,
    viewer: &AccessClaims,
    action_id: Option<Uuid>,
    before: Option<Uuid>,
    limit: u64,
) -> ApiResult<Vec<audit_entry::Model>> {
    require_approver(db, scope, viewer).await?;
    let mut query = scope.find::<audit_entry::Entity>();
    if let Some(action_id) = action_id {
        query = query.filter(audit_entry::Column::ActionId.eq(action_id));
    }
    if let Some(before) = before {
        query = query.filter(audit_entry::Column::Id.lt(before));
    }
    Ok(query.order_by_desc(audit_entry::Column::Id).limit(limit).all(&scope.on(db)).await?)
}

/// Compliance requests (with the data exports Shopify asked for).
pub async fn compliance_requests(
    db: &DatabaseConnection,
    scope: AccountScope,
    viewer: &AccessClaims,
) -> ApiResult<Vec<compliance_request::Model>> {
    require_approver(db, scope, viewer).await?;
    Ok(scope
        .find::<compliance_request::Entity>()
        .order_by_desc(compliance_request::Column::Id)
        .all(&scope.on(db))
        .await?)
}
