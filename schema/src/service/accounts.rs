//! The account (tenant) and its members: listing, inviting, removing,
//! changing roles, and the account's tier. Every change is written with its
//! audit record in one transaction.

use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};
use serde_json::json;
use uuid::Uuid;

use alatar_agents::actions::{Actor, audit};
use alatar_agents::write::begin_write;
/// The account plans [`set_tier`] moves between (for callers without the entity crate).
pub use alatar_entity::Tier;
use alatar_entity::{AccountScope, Role, account, invitation, user};

use super::{AccountEvent, AccountEventKind, AccountEvents, Email};
use crate::auth::{AuthThrottle, secret};
use crate::error::{ApiError, ApiResult};

/// How long an invitation stays valid.
const INVITATION_TTL_DAYS: i64 = 7;

/// The account `scope` is bound to.
pub async fn account(db: &DatabaseConnection, scope: AccountScope) -> ApiResult<account::Model> {
    account::Entity::find_by_id(scope.account_id()).one(db).await?.ok_or(ApiError::NotFound("account"))
}

/// A member of the account, or `NOT_FOUND` (also for other accounts' users).
pub async fn member(db: &DatabaseConnection, scope: AccountScope, user_id: Uuid) -> ApiResult<user::Model> {
    scope
        .find::<user::Entity>()
        .filter(user::Column::Id.eq(user_id))
        .one(&scope.on(db))
        .await?
        .ok_or(ApiError::NotFound("user"))
}

/// All members, oldest first.
pub async fn members(db: &DatabaseConnection, scope: AccountScope) -> ApiResult<Vec<user::Model>> {
    Ok(scope.find::<user::Entity>().order_by_asc(user::Column::CreatedAt).all(&scope.on(db)).await?)
}

/// The acting member, re-read so that a role change or removal since the
/// token was issued takes effect at once.
pub async fn actor(db: &DatabaseConnection, scope: AccountScope, user_id: Uuid) -> ApiResult<user::Model> {
    member(db, scope, user_id).await.map_err(|_| ApiError::Unauthenticated)
}

/// The acting member if an owner or admin (re-read like [`actor`]), else
/// `FORBIDDEN` saying `why`.
pub async fn manager(
    db: &DatabaseConnection,
    scope: AccountScope,
    user_id: Uuid,
    why: &'static str,
) -> ApiResult<user::Model> {
    let actor = actor(db, scope, user_id).await?;
    if actor.role.can_manage_members() { Ok(actor) } else { Err(ApiError::Forbidden(why)) }
}

const MANAGE_MEMBERS: &str = "only owners and admins can manage members";

/// Invites `email` with `role`; returns the invitation and its one-time token
/// (shown once, stored only hashed). Only owners may invite owners; an
/// account's invitations are throttled per hour. The answer is the same
/// whether or not the address has an account elsewhere.
pub async fn invite(
    db: &DatabaseConnection,
    events: &dyn AccountEvents,
    throttle: &AuthThrottle,
    scope: AccountScope,
    actor_id: Uuid,
    email: &str,
    role: Role,
) -> ApiResult<(invitation::Model, String)> {
    let actor = manager(db, scope, actor_id, MANAGE_MEMBERS).await?;
    if role == Role::Owner && actor.role != Role::Owner {
        return Err(ApiError::Forbidden("only owners can invite owners"));
    }
    let email = Email::parse(email)?;
    throttle.admit_invitation(scope.account_id()).await?;
    // Only this account's members are asked about: whether the address
    // belongs to someone elsewhere is not the inviter's to learn, so such an
    // invitation is made like any other (it cannot be accepted: one account
    // per user, and `register` refuses a registered address).
    let member = scope
        .find::<user::Entity>()
        .filter(user::Column::Email.is_in(email.stored_forms()))
        .count(&scope.on(db))
        .await?
        > 0;
    if member {
        return Err(ApiError::Conflict("this email already belongs to a member of this account".into()));
    }
    let token = secret::generate();
    let now = Utc::now();
    let txn = begin_write(db).await?;
    let invite = invitation::ActiveModel {
        id: Set(Uuid::now_v7()),
        account_id: Set(scope.account_id()),
        email: Set(email.as_str().to_owned()),
        role: Set(role),
        token_hash: Set(secret::digest(&token)),
        invited_by: Set(actor.id),
        created_at: Set(now),
        expires_at: Set(now + Duration::days(INVITATION_TTL_DAYS)),
        accepted_at: Set(None),
    }
    .insert(&txn)
    .await?;
    audit(
        &txn,
        scope.account_id(),
        Actor::User(actor.id),
        "INVITATION_CREATED",
        None,
        None,
        json!({ "invitationId": invite.id, "email": invite.email, "role": invite.role.as_str() }),
    )
    .await?;
    txn.commit().await?;
    events.publish(AccountEvent {
        account_id: scope.account_id(),
        kind: AccountEventKind::MemberInvited,
        email: invite.email.clone(),
        at: now,
    });
    Ok((invite, token))
}

/// Removes a member and everything that is theirs alone (tokens,
/// preferences). Admins cannot remove owners; the last owner stays.
pub async fn remove(
    db: &DatabaseConnection,
    events: &dyn AccountEvents,
    scope: AccountScope,
    actor_id: Uuid,
    user_id: Uuid,
) -> ApiResult<user::Model> {
    let actor = manager(db, scope, actor_id, MANAGE_MEMBERS).await?;
    let txn = begin_write(db).await?;
    lock_account(&txn, scope.account_id()).await?;
    let target = scope
        .find::<user::Entity>()
        .filter(user::Column::Id.eq(user_id))
        .one(&scope.on(&txn))
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    if target.role == Role::Owner {
        if actor.role != Role::Owner {
            return Err(ApiError::Forbidden("only owners can remove owners"));
        }
        let owners =
            scope.find::<user::Entity>().filter(user::Column::Role.eq(Role::Owner)).count(&scope.on(&txn)).await?;
        if owners <= 1 {
            return Err(ApiError::Conflict("the last owner cannot be removed".into()));
        }
    }
    // Invitations the member sent point at it; they go with it.
    scope
        .delete_many::<invitation::Entity>()
        .filter(invitation::Column::InvitedBy.eq(target.id))
        .exec(&scope.on(&txn))
        .await?;
    let removed =
        scope.delete_many::<user::Entity>().filter(user::Column::Id.eq(target.id)).exec(&scope.on(&txn)).await?;
    if removed.rows_affected != 1 {
        return Err(ApiError::NotFound("user"));
    }
    audit(
        &txn,
        scope.account_id(),
        Actor::User(actor.id),
        "MEMBER_REMOVED",
        None,
        None,
        json!({ "userId": target.id, "email": target.email, "role": target.role.as_str() }),
    )
    .await?;
    txn.commit().await?;
    events.publish(AccountEvent {
        account_id: scope.account_id(),
        kind: AccountEventKind::MemberRemoved,
        email: target.email.clone(),
        at: Utc::now(),
    });
    Ok(target)
}

/// Gives a member another role. Admins manage the other roles; only owners
/// grant or take `OWNER`, and the last owner keeps it.
pub async fn change_role(
    db: &DatabaseConnection,
    scope: AccountScope,
    actor_id: Uuid,
    user_id: Uuid,
    role: Role,
) -> ApiResult<user::Model> {
    let actor = manager(db, scope, actor_id, MANAGE_MEMBERS).await?;
    let txn = begin_write(db).await?;
    lock_account(&txn, scope.account_id()).await?;
    let target = scope
        .find::<user::Entity>()
        .filter(user::Column::Id.eq(user_id))
        .one(&scope.on(&txn))
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    if (target.role == Role::Owner || role == Role::Owner) && actor.role != Role::Owner {
        return Err(ApiError::Forbidden("only owners can grant or take the owner role"));
    }
    if target.role == role {
        return Ok(target);
    }
    if target.role == Role::Owner {
        let owners =
            scope.find::<user::Entity>().filter(user::Column::Role.eq(Role::Owner)).count(&scope.on(&txn)).await?;
        if owners <= 1 {
            return Err(ApiError::Conflict("the last owner cannot give up the owner role".into()));
        }
    }
    let from = target.role;
    let mut changed: user::ActiveModel = target.into();
    changed.role = Set(role);
    let changed = changed.update(&txn).await?;
    audit(
        &txn,
        scope.account_id(),
        Actor::User(actor.id),
        "ROLE_CHANGED",
        None,
        None,
        json!({ "userId": changed.id, "email": changed.email, "from": from.as_str(), "to": role.as_str() }),
    )
    .await?;
    txn.commit().await?;
    Ok(changed)
}

/// Puts an account on `tier`: an operator's change (`alatar account
/// set-tier`), recorded as `TIER_CHANGED` by the system. Rate limits follow
/// the tier the membership check reads through `MemberCache`, and this runs
/// in another process than the servers': the caller tells them with a
/// [`MembershipChange::Account`](super::MembershipChange::Account) (the CLI
/// publishes one through Redis), or members get the new quota once their
/// entry expires (at most its TTL).
#[tracing::instrument(skip_all, fields(account_id = %account_id, tier = ?tier))]
pub async fn set_tier(db: &DatabaseConnection, account_id: Uuid, tier: Tier) -> ApiResult<account::Model> {
    let txn = begin_write(db).await?;
    lock_account(&txn, account_id).await?;
    let found = account::Entity::find_by_id(account_id).one(&txn).await?.ok_or(ApiError::NotFound("account"))?;
    if found.tier == tier {
        return Ok(found);
    }
    let from = found.tier;
    let mut changed: account::ActiveModel = found.into();
    changed.tier = Set(tier);
    let changed = changed.update(&txn).await?;
    audit(&txn, account_id, Actor::System, "TIER_CHANGED", None, None, json!({ "from": from, "to": tier })).await?;
    txn.commit().await?;
    Ok(changed)
}

/// Locks the account row until `txn` ends. Member changes that check "another
/// owner remains" then run one at a time per account: two owners removing or
/// demoting each other at once cannot both succeed.
async fn lock_account(txn: &DatabaseTransaction, account_id: Uuid) -> ApiResult<()> {
    account::Entity::update_many()
        .col_expr(account::Column::Tier, Expr::col(account::Column::Tier))
        .filter(account::Column::Id.eq(account_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Pending (unaccepted, unexpired) invitations, newest first.
pub async fn pending_invitations(db: &DatabaseConnection, scope: AccountScope) -> ApiResult<Vec<invitation::Model>> {
    Ok(scope
        .find::<invitation::Entity>()
        .filter(invitation::Column::AcceptedAt.is_null())
        .filter(invitation::Column::ExpiresAt.gt(Utc::now()))
        .order_by_desc(invitation::Column::CreatedAt)
        .all(&scope.on(db))
        .await?)
}
