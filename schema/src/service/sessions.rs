//! Registration, login, refresh-token rotation and logout.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set, TransactionTrait};
use serde_json::json;
use uuid::Uuid;

use alatar_agents::actions::{Actor, audit};
use alatar_entity::{AccountScope, Role, Tier, account, invitation, refresh_token, user};

use super::{AccountEvent, AccountEventKind, AccountEvents, Email, conflict_on_unique};
use crate::auth::{TokenKeys, password, password::Password, secret};
use crate::error::{ApiError, ApiResult};

/// What a successful register, login or refresh hands back.
#[derive(Debug, Clone)]
pub struct AuthSession {
    /// JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Access token expiry.
    pub expires_at: DateTime<Utc>,
    /// Opaque single-use refresh token.
    pub refresh_token: String,
    /// Refresh token expiry.
    pub refresh_expires_at: DateTime<Utc>,
    /// The user the tokens are for.
    pub user: user::Model,
}

/// Input to [`register`].
pub struct Registration<'a> {
    /// Email address, unique across the service.
    pub email: &'a str,
    /// Password to hash.
    pub password: &'a str,
    /// Name for a new account; defaults to the email domain.
    pub account_name: Option<&'a str>,
    /// Token from `inviteMember`: joins that account instead of creating one.
    pub invitation_token: Option<&'a str>,
}

/// Creates a user: either the `OWNER` of a new account or, with an
/// invitation, a member of the inviting account with the invited role.
#[tracing::instrument(skip_all)]
pub async fn register(
    db: &DatabaseConnection,
    keys: &TokenKeys,
    events: &dyn AccountEvents,
    input: Registration<'_>,
) -> ApiResult<AuthSession> {
    let email = Email::parse(input.email)?;
    let hash = password::hash(Password::parse(input.password)?).await?;
    let now = Utc::now();
    let txn = db.begin().await?;
    if user::Entity::find().filter(user::Column::Email.eq(email.as_str())).one(&txn).await?.is_some() {
        return Err(ApiError::Conflict("an account with this email already exists".into()));
    }
    let (account, role, accepted) = match input.invitation_token {
        Some(token) => {
            // Looked up by its secret, not by tenant: the token is the credential.
            let invite = invitation::Entity::find()
                .filter(invitation::Column::TokenHash.eq(secret::digest(token)))
                .one(&txn)
                .await?
                .filter(|i| i.accepted_at.is_none() && i.expires_at > now && i.email == email.as_str())
                .ok_or_else(|| ApiError::bad_input("invitationToken", "is invalid, expired or for another email"))?;
            let account =
                account::Entity::find_by_id(invite.account_id).one(&txn).await?.ok_or(ApiError::NotFound("account"))?;
            let role = invite.role;
            let mut accepted: invitation::ActiveModel = invite.into();
            accepted.accepted_at = Set(Some(now));
            let accepted = accepted.update(&txn).await?;
            (account, role, Some(accepted))
        }
        None => {
            let name = match input.account_name.map(str::trim) {
                Some("") => return Err(ApiError::bad_input("accountName", "must not be empty")),
                Some(n) if n.chars().count() > 200 => {
                    return Err(ApiError::bad_input("accountName", "must be at most 200 characters"));
                }
                Some(n) => n.to_owned(),
                None => email.domain().to_owned(),
            };
            let account = account::ActiveModel {
                id: Set(Uuid::now_v7()),
                name: Set(name),
                tier: Set(Tier::Free),
                created_at: Set(now),
            }
            .insert(&txn)
            .await?;
            (account, Role::Owner, None)
        }
    };
    let user = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        account_id: Set(account.id),
        email: Set(email.as_str().to_owned()),
        password_hash: Set(hash),
        role: Set(role),
        created_at: Set(now),
        last_login_at: Set(Some(now)),
        shopify_user_id: Set(None),
    }
    .insert(&txn)
    .await
    .map_err(|e| conflict_on_unique(e, "an account with this email already exists"))?;
    super::preferences::create_defaults(&txn, &user).await?;
    if let Some(invite) = &accepted {
        audit(
            &txn,
            account.id,
            Actor::User(user.id),
            "INVITATION_ACCEPTED",
            None,
            None,
            json!({
                "invitationId": invite.id,
                "email": user.email,
                "role": role.as_str(),
                "invitedBy": invite.invited_by,
            }),
        )
        .await?;
    }
    let session = issue(&txn, keys, &account, user, Uuid::now_v7()).await?;
    txn.commit().await?;
    if accepted.is_some() {
        events.publish(AccountEvent {
            account_id: account.id,
            kind: AccountEventKind::MemberJoined,
            email: session.user.email.clone(),
            at: now,
        });
    }
    Ok(session)
}

/// Checks email and password; the same error for either being wrong.
/// Both outcomes are audited in the user's account (`LOGIN_SUCCEEDED`,
/// `LOGIN_FAILED`); an email that belongs to nobody has no account to log
/// to, so it is only a warning in the logs.
#[tracing::instrument(skip_all)]
pub async fn login(db: &DatabaseConnection, keys: &TokenKeys, email: &str, password: &str) -> ApiResult<AuthSession> {
    let invalid = || ApiError::bad_input("password", "email or password is incorrect");
    let Ok(email) = Email::parse(email) else {
        password::dummy_verify(password.to_owned()).await;
        tracing::warn!("login failed: not an email address");
        return Err(invalid());
    };
    let Some(found) = user::Entity::find().filter(user::Column::Email.eq(email.as_str())).one(db).await? else {
        password::dummy_verify(password.to_owned()).await;
        tracing::warn!(email_domain = email.domain(), "login failed: no user has this email");
        return Err(invalid());
    };
    if !password::verify(password.to_owned(), found.password_hash.clone()).await? {
        record_failed_login(db, &found);
        return Err(invalid());
    }
    let account = account::Entity::find_by_id(found.account_id).one(db).await?.ok_or(ApiError::Unauthenticated)?;
    let txn = db.begin().await?;
    let mut seen: user::ActiveModel = found.into();
    seen.last_login_at = Set(Some(Utc::now()));
    let found = seen.update(&txn).await?;
    audit(&txn, account.id, Actor::User(found.id), "LOGIN_SUCCEEDED", None, None, json!({ "method": "password" }))
        .await?;
    let session = issue(&txn, keys, &account, found, Uuid::now_v7()).await?;
    txn.commit().await?;
    Ok(session)
}

/// Audits a wrong password for `user` off the request's path: the answer to
/// a known email must take no longer than the answer to an unknown one
/// (which writes nothing), or its timing would tell which emails exist.
/// There is no change to share a transaction with. `actorUserId` is the
/// account tried, not a proven identity.
fn record_failed_login(db: &DatabaseConnection, user: &user::Model) {
    let (db, account_id, user_id, email) = (db.clone(), user.account_id, user.id, user.email.clone());
    tokio::spawn(async move {
        let detail = json!({ "method": "password", "email": email, "reason": "wrong password" });
        if let Err(err) = audit(&db, account_id, Actor::User(user_id), "LOGIN_FAILED", None, None, detail).await {
            tracing::warn!(error = %err, %user_id, "could not audit a failed login");
        }
    });
}

/// Rotates a refresh token. Presenting one that was already rotated means it
/// leaked: the whole family is revoked and the caller must log in again.
#[tracing::instrument(skip_all)]
pub async fn refresh(db: &DatabaseConnection, keys: &TokenKeys, token: &str) -> ApiResult<AuthSession> {
    let now = Utc::now();
    let txn = db.begin().await?;
    let stored = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(secret::digest(token)))
        .one(&txn)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let scope = AccountScope::new(stored.account_id);
    if stored.revoked_at.is_some() {
        scope
            .update_many::<refresh_token::Entity>()
            .col_expr(refresh_token::Column::RevokedAt, sea_orm::sea_query::Expr::value(now))
            .filter(refresh_token::Column::FamilyId.eq(stored.family_id))
            .filter(refresh_token::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
        txn.commit().await?;
        tracing::warn!(family = %stored.family_id, "refresh token reuse; family revoked");
        return Err(ApiError::Unauthenticated);
    }
    if stored.expires_at <= now {
        return Err(ApiError::Unauthenticated);
    }
    let user = scope
        .find::<user::Entity>()
        .filter(user::Column::Id.eq(stored.user_id))
        .one(&txn)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let account = account::Entity::find_by_id(user.account_id).one(&txn).await?.ok_or(ApiError::Unauthenticated)?;
    let family = stored.family_id;
    let mut rotated: refresh_token::ActiveModel = stored.into();
    rotated.revoked_at = Set(Some(now));
    rotated.update(&txn).await?;
    let session = issue(&txn, keys, &account, user, family).await?;
    txn.commit().await?;
    Ok(session)
}

/// Revokes the given refresh token's family (this device), or with
/// `everywhere` every refresh token of the user.
pub async fn logout(db: &DatabaseConnection, scope: AccountScope, user_id: Uuid, token: Option<&str>) -> ApiResult<()> {
    let mut revoke = scope
        .update_many::<refresh_token::Entity>()
        .col_expr(refresh_token::Column::RevokedAt, sea_orm::sea_query::Expr::value(Utc::now()))
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::RevokedAt.is_null());
    if let Some(token) = token {
        let family = scope
            .find::<refresh_token::Entity>()
            .filter(refresh_token::Column::UserId.eq(user_id))
            .filter(refresh_token::Column::TokenHash.eq(secret::digest(token)))
            .one(db)
            .await?
            .ok_or_else(|| ApiError::bad_input("refreshToken", "is not a token of this user"))?
            .family_id;
        revoke = revoke.filter(refresh_token::Column::FamilyId.eq(family));
    }
    revoke.exec(db).await?;
    Ok(())
}

async fn issue(
    txn: &sea_orm::DatabaseTransaction,
    keys: &TokenKeys,
    account: &account::Model,
    user: user::Model,
    family: Uuid,
) -> ApiResult<AuthSession> {
    let (access_token, exp) = keys.issue(user.id, account.id, user.role, account.tier)?;
    let now = Utc::now();
    let refresh_expires_at = now + keys.config().refresh_ttl;
    let refresh = secret::generate();
    refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        account_id: Set(account.id),
        user_id: Set(user.id),
        family_id: Set(family),
        token_hash: Set(secret::digest(&refresh)),
        created_at: Set(now),
        expires_at: Set(refresh_expires_at),
        revoked_at: Set(None),
    }
    .insert(txn)
    .await?;
    Ok(AuthSession {
        access_token,
        expires_at: DateTime::from_timestamp(exp, 0).unwrap_or(now),
        refresh_token: refresh,
        refresh_expires_at,
        user,
    })
}
