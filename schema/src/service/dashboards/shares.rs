//! Share links (seed 001 P34): `shareDashboard` makes a link whose token
//! is 256 random bits, shown once; only its SHA-256 is kept (unique), so
//! every link differs from every other and a copy of the database opens
//! none. `sharedDashboard(token)` is public and read-only: it shows the
//! dashboard's name and its charts as drawn now, nothing else of the
//! account (no ids, no SQL, no members), and nothing once the link is
//! revoked or the dashboard deleted.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use alatar_agents::pipeline::Pipeline;
use alatar_entity::{AccountScope, dashboard, dashboard_share};

use super::get_dashboard;
use crate::auth::{AccessClaims, secret};
use crate::error::{ApiError, ApiResult};
use crate::service::knowledge::may_edit;

/// Links a dashboard may have open at once.
const MAX_OPEN_SHARES: usize = 20;

/// Makes a share link of one of the account's dashboards: the link and
/// its token (never readable again).
pub async fn share_dashboard(
    p: &Pipeline,
    scope: AccountScope,
    viewer: &AccessClaims,
    dashboard_id: Uuid,
) -> ApiResult<(dashboard_share::Model, String)> {
    may_edit(viewer, "viewers cannot share dashboards")?;
    let dashboard = get_dashboard(p, scope, dashboard_id).await?;
    let open = shares_of(p, scope, dashboard.id).await?.into_iter().filter(|s| s.revoked_at.is_none()).count();
    if open >= MAX_OPEN_SHARES {
        return Err(ApiError::Conflict(format!(
            "the dashboard has {MAX_OPEN_SHARES} open share links: revoke one before making another"
        )));
    }
    let token = secret::generate();
    let share = dashboard_share::Entity::insert(dashboard_share::ActiveModel {
        id: Set(Uuid::now_v7()),
        account_id: Set(scope.account_id()),
        dashboard_id: Set(dashboard.id),
        token_hash: Set(secret::digest(&token)),
        created_by: Set(viewer.sub),
        created_at: Set(Utc::now()),
        revoked_at: Set(None),
    })
    .exec_with_returning(&p.db)
    .await
    .map_err(ApiError::internal)?;
    Ok((share, token))
}

/// A dashboard's share links, revoked ones included, oldest first.
pub async fn shares_of(
    p: &Pipeline,
    scope: AccountScope,
    dashboard_id: Uuid,
) -> ApiResult<Vec<dashboard_share::Model>> {
    scope
        .find::<dashboard_share::Entity>()
        .filter(dashboard_share::Column::DashboardId.eq(dashboard_id))
        .order_by_asc(dashboard_share::Column::Id)
        .all(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)
}

/// Revokes one of the account's share links (again is no error); the link
/// as it now is.
pub async fn revoke_share(
    p: &Pipeline,
    scope: AccountScope,
    viewer: &AccessClaims,
    id: Uuid,
) -> ApiResult<dashboard_share::Model> {
    may_edit(viewer, "viewers cannot revoke share links")?;
    scope
        .update_many::<dashboard_share::Entity>()
        .col_expr(dashboard_share::Column::RevokedAt, Expr::value(Some(Utc::now())))
        .filter(dashboard_share::Column::Id.eq(id))
        .filter(dashboard_share::Column::RevokedAt.is_null())
        .exec(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?;
    scope
        .find::<dashboard_share::Entity>()
        .filter(dashboard_share::Column::Id.eq(id))
        .one(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?
        .ok_or(ApiError::NotFound("share link"))
}

/// The dashboard an open link's `token` opens, with the scope of its
/// account for reading its charts; `None` for a token that opens nothing.
pub async fn open(p: &Pipeline, token: &str) -> ApiResult<Option<(AccountScope, dashboard::Model)>> {
    // One of the lookups by a secret the caller holds (ARCHITECTURE.md):
    // no viewer, no account; the token's hash finds its row.
    let found = dashboard_share::Entity::find()
        .filter(dashboard_share::Column::TokenHash.eq(secret::digest(token)))
        .filter(dashboard_share::Column::RevokedAt.is_null())
        .one(&p.db)
        .await
        .map_err(ApiError::internal)?;
    let Some(share) = found else { return Ok(None) };
    let scope = AccountScope::new(share.account_id);
    match get_dashboard(p, scope, share.dashboard_id).await {
        Ok(dashboard) => Ok(Some((scope, dashboard))),
        Err(ApiError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}
