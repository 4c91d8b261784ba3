//! Registration, login, refresh-token rotation and logout.
//!
//! None of these opens a tracing span of its own: JSON logs show the current
//! span only, and their security events (failed, throttled logins, token
//! reuse) must stay in the request's, which carries `request_id` (and the
//! caller's `user_id` and `account_id` when authenticated); each event names
//! the account and user it concerns where known.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, Set,
    SqlErr,
};
use serde_json::json;
use tracing::Instrument as _;
use uuid::Uuid;

use alatar_agents::actions::{Actor, audit};
use alatar_agents::write::{begin_write, write_transaction};
use alatar_entity::{AccountScope, Role, Tier, account, invitation, refresh_token, user};

use super::{AccountEvent, AccountEventKind, AccountEvents, Email};
use crate::auth::throttle::{AuthThrottle, ClientAddr, Throttled};
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

/// Why [`register`] refuses an address it will not create an account for:
/// one already registered, or a reserved name (`.invalid`, `.localhost`).
/// The same words for every such address, never "exists" (see
/// ARCHITECTURE.md, "Registration does not say who has an account").
const UNREGISTRABLE: &str = "cannot be registered; use another address, or log in if you have an account";

pub(super) fn unregistrable() -> ApiError {
    ApiError::bad_input("email", UNREGISTRABLE)
}

/// Names that can never receive mail (RFC 2606, RFC 6761); the placeholder
/// addresses of Shopify members are among them.
pub(super) fn is_reserved(email: &Email) -> bool {
    let domain = email.domain();
    [".invalid", ".localhost"].iter().any(|tld| domain.ends_with(tld)) || domain == "localhost"
}

/// Creates a user: either the `OWNER` of a new account or, with an
/// invitation, a member of the inviting account with the invited role.
/// Throttled per client address. An address that has an
/// account (or is reserved) is refused with one `BAD_USER_INPUT` on
/// `email` for all such addresses, after the same work (the password is
/// hashed first), so neither the words nor the timing say which it was.
pub async fn register(
    db: &DatabaseConnection,
    keys: &TokenKeys,
    events: &dyn AccountEvents,
    throttle: &AuthThrottle,
    client: Option<ClientAddr>,
    input: Registration<'_>,
) -> ApiResult<AuthSession> {
    let email = Email::parse(input.email)?;
    // The policy first: a refused password costs no attempt.
    let password = Password::parse_for(input.password, &email)?;
    throttle.admit_registration(client).await?;
    let hash = password::hash(password).await?;
    if is_reserved(&email) {
        return Err(unregistrable());
    }
    let account_name = account_name(input.account_name)?;
    let joins = input.invitation_token.map(Joins::Token);
    let new = NewUser { email: &email, password_hash: &hash, account_name: account_name.as_deref(), joins };
    let now = Utc::now();
    let new = &new;
    // Runs again when another writer was in the way; it acts only on the
    // database (the event goes out below, once).
    let (session, account, accepted) = write_transaction(db, |txn| async move {
        let created = create_user(&txn, keys, new, now).await?;
        txn.commit().await?;
        Ok::<_, ApiError>(created)
    })
    .await?;
    announce_joined(events, &session, &account, accepted.as_ref(), now);
    Ok(session)
}

/// Who [`create_user`] creates: from `register`, or from a `signUp` whose
/// link was followed.
pub(super) struct NewUser<'a> {
    /// The address.
    pub email: &'a Email,
    /// The password's hash.
    pub password_hash: &'a str,
    /// The new account's name, checked by [`account_name`]; `None`: the email's domain.
    pub account_name: Option<&'a str>,
    /// The invitation accepted, instead of a new account.
    pub joins: Option<Joins<'a>>,
}

/// An invitation, as the caller holds it.
#[derive(Clone, Copy)]
pub(super) enum Joins<'a> {
    /// The secret from `inviteMember`.
    Token(&'a str),
    /// An invitation already found by its secret (a pending sign-up's).
    Invitation(Uuid),
}

/// A new account's name as given: trimmed, not empty, at most 200 characters.
pub(super) fn account_name(raw: Option<&str>) -> ApiResult<Option<String>> {
    match raw.map(str::trim) {
        Some("") => Err(ApiError::bad_input("accountName", "must not be empty")),
        Some(n) if n.chars().count() > 200 => Err(ApiError::bad_input("accountName", "must be at most 200 characters")),
        name => Ok(name.map(str::to_owned)),
    }
}

/// The invitation `joins` names, if it can still be accepted by `email`.
pub(super) async fn open_invitation(
    txn: &impl sea_orm::ConnectionTrait,
    joins: Joins<'_>,
    email: &Email,
    now: DateTime<Utc>,
) -> ApiResult<invitation::Model> {
    // Looked up by its secret, not by tenant: the token is the credential.
    let found = match joins {
        Joins::Token(token) => {
            invitation::Entity::find().filter(invitation::Column::TokenHash.eq(secret::digest(token))).one(txn).await?
        }
        Joins::Invitation(id) => invitation::Entity::find_by_id(id).one(txn).await?,
    };
    found
        .filter(|i| i.accepted_at.is_none() && i.expires_at > now && i.email == email.as_str())
        .ok_or_else(|| ApiError::bad_input("invitationToken", "is invalid, expired or for another email"))
}

/// Announces a member who joined through an invitation to their account.
pub(super) fn announce_joined(
    events: &dyn AccountEvents,
    session: &AuthSession,
    account: &account::Model,
    accepted: Option<&invitation::Model>,
    at: DateTime<Utc>,
) {
    if accepted.is_some() {
        events.publish(AccountEvent {
            account_id: account.id,
            kind: AccountEventKind::MemberJoined,
            email: session.user.email.clone(),
            at,
        });
    }
}

/// The writes that create a user, in `txn` (the caller commits): the user
/// with its account (or accepted invitation), preferences, audit record and
/// first session.
pub(super) async fn create_user(
    txn: &DatabaseTransaction,
    keys: &TokenKeys,
    new: &NewUser<'_>,
    now: DateTime<Utc>,
) -> ApiResult<(AuthSession, account::Model, Option<invitation::Model>)> {
    let email = new.email;
    // Looked up by email across accounts, as at login: an address is unique service-wide.
    if user::Entity::find().filter(user::Column::Email.is_in(email.stored_forms())).one(txn).await?.is_some() {
        return Err(unregistrable());
    }
    let (account, role, accepted) = match new.joins {
        Some(joins) => {
            let invite = open_invitation(txn, joins, email, now).await?;
            let account =
                account::Entity::find_by_id(invite.account_id).one(txn).await?.ok_or(ApiError::NotFound("account"))?;
            let role = invite.role;
            let mut accepted: invitation::ActiveModel = invite.into();
            accepted.accepted_at = Set(Some(now));
            let accepted = accepted.update(txn).await?;
            (account, role, Some(accepted))
        }
        None => {
            let account = account::ActiveModel {
                id: Set(Uuid::now_v7()),
                name: Set(new.account_name.unwrap_or(email.domain()).to_owned()),
                tier: Set(Tier::Free),
                created_at: Set(now),
            }
            .insert(txn)
            .await?;
            (account, Role::Owner, None)
        }
    };
    let user = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        account_id: Set(account.id),
        email: Set(email.as_str().to_owned()),
        password_hash: Set(new.password_hash.to_owned()),
        role: Set(role),
        created_at: Set(now),
        last_login_at: Set(Some(now)),
        shopify_user_id: Set(None),
    }
    .insert(txn)
    .await
    .map_err(unregistrable_on_unique)?;
    super::preferences::create_defaults(txn, &user).await?;
    if let Some(invite) = &accepted {
        audit(
            txn,
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
    let session = issue(txn, keys, &account, user, Uuid::now_v7()).await?;
    Ok((session, account, accepted))
}

/// A registration of the same address at the same moment lost the race to
/// the unique index: the same answer as when it was there first.
fn unregistrable_on_unique(err: DbErr) -> ApiError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => unregistrable(),
        _ => ApiError::from(err),
    }
}

/// Checks email and password; the same error for either being wrong.
/// Both outcomes are audited in the user's account (`LOGIN_SUCCEEDED`,
/// `LOGIN_FAILED`); an email that belongs to nobody has no account to log
/// to, so it is only a warning in the logs.
///
/// Throttled per account from this client address, per account from all
/// addresses (with a short cap, so a guesser elsewhere can delay the real
/// user by a minute at most, never lock them out) and per client address
/// ([`AuthThrottle`]): past the free failures an attempt waits, doubling,
/// and is refused with `RATE_LIMITED` before any password is checked (so a
/// throttled guess learns nothing, right or wrong); `LOGIN_THROTTLED` is
/// audited with the limit that held it (`limitedBy`). A success forgets the
/// account's failures, from this address and from everywhere.
pub async fn login(
    db: &DatabaseConnection,
    keys: &TokenKeys,
    throttle: &AuthThrottle,
    client: Option<ClientAddr>,
    email: &str,
    password: &str,
) -> ApiResult<AuthSession> {
    let invalid = || ApiError::bad_input("password", "email or password is incorrect");
    let parsed = Email::parse(email).ok();
    // Asked whether or not anyone has the address, so the answer never tells.
    let attempt = match throttle.admit_login(parsed.as_ref(), client).await {
        Ok(attempt) => attempt,
        Err(throttled) => {
            record_throttled_login(db, throttle, parsed.as_ref(), throttled);
            return Err(throttled.into());
        }
    };
    let Some(email) = parsed else {
        password::dummy_verify(password.to_owned()).await;
        tracing::warn!("login failed: not an email address");
        return Err(invalid());
    };
    let Some(found) = user::Entity::find().filter(user::Column::Email.is_in(email.stored_forms())).one(db).await?
    else {
        password::dummy_verify(password.to_owned()).await;
        tracing::warn!(email_domain = email.domain(), "login failed: no user has this email");
        return Err(invalid());
    };
    if !password::verify(password.to_owned(), found.password_hash.clone()).await? {
        tracing::warn!(account_id = %found.account_id, user_id = %found.id, "login failed: wrong password");
        record_failed_login(db, &found);
        return Err(invalid());
    }
    let account = account::Entity::find_by_id(found.account_id).one(db).await?.ok_or(ApiError::Unauthenticated)?;
    let txn = begin_write(db).await?;
    let mut seen: user::ActiveModel = found.into();
    seen.last_login_at = Set(Some(Utc::now()));
    let found = seen.update(&txn).await?;
    audit(&txn, account.id, Actor::User(found.id), "LOGIN_SUCCEEDED", None, None, json!({ "method": "password" }))
        .await?;
    let session = issue(&txn, keys, &account, found, Uuid::now_v7()).await?;
    txn.commit().await?;
    throttle.login_succeeded(attempt).await;
    Ok(session)
}

/// Logs a throttled login and, at most once a minute per account
/// ([`AuthThrottle::should_audit`]), audits it as `LOGIN_THROTTLED` in the
/// account the email belongs to. Off the request's path like
/// [`record_failed_login`], and for the same reason: finding the account
/// takes a query an unknown email would not.
fn record_throttled_login(
    db: &DatabaseConnection,
    throttle: &AuthThrottle,
    email: Option<&Email>,
    throttled: Throttled,
) {
    let Throttled { retry_after, limited_by } = throttled;
    let Some(email) = email.filter(|e| throttle.should_audit(e)) else {
        let domain = email.map(Email::domain);
        tracing::warn!(limited_by, retry_after, email_domain = domain, "login throttled");
        return;
    };
    let (db, email) = (db.clone(), email.clone());
    let audited = async move {
        let found = match user::Entity::find().filter(user::Column::Email.is_in(email.stored_forms())).one(&db).await {
            Ok(found) => found,
            Err(err) => {
                tracing::warn!(error = %err, limited_by, retry_after, "login throttled; could not find its account");
                return;
            }
        };
        let Some(user) = found else {
            tracing::warn!(limited_by, retry_after, email_domain = email.domain(), "login throttled");
            return;
        };
        tracing::warn!(account_id = %user.account_id, user_id = %user.id, limited_by, retry_after, "login throttled");
        let detail = json!({
            "method": "password",
            "email": user.email,
            "limitedBy": limited_by,
            "retryAfter": retry_after,
        });
        if let Err(err) = audit(&db, user.account_id, Actor::User(user.id), "LOGIN_THROTTLED", None, None, detail).await
        {
            tracing::warn!(error = %err, account_id = %user.account_id, user_id = %user.id, "could not audit a throttled login");
        }
    };
    // In the request's span, which carries the request id.
    tokio::spawn(audited.in_current_span());
}

/// Audits a wrong password for `user` off the request's path: the answer to
/// a known email must take no longer than the answer to an unknown one
/// (which writes nothing), or its timing would tell which emails exist.
/// There is no change to share a transaction with. `actorUserId` is the
/// account tried, not a proven identity.
fn record_failed_login(db: &DatabaseConnection, user: &user::Model) {
    let (db, account_id, user_id, email) = (db.clone(), user.account_id, user.id, user.email.clone());
    let audited = async move {
        let detail = json!({ "method": "password", "email": email, "reason": "wrong password" });
        if let Err(err) = audit(&db, account_id, Actor::User(user_id), "LOGIN_FAILED", None, None, detail).await {
            tracing::warn!(error = %err, %account_id, %user_id, "could not audit a failed login");
        }
    };
    // In the request's span, which carries the request id.
    tokio::spawn(audited.in_current_span());
}

/// Rotates a refresh token. Presenting one that was already rotated means it
/// leaked: the whole family is revoked and the caller must log in again.
pub async fn refresh(db: &DatabaseConnection, keys: &TokenKeys, token: &str) -> ApiResult<AuthSession> {
    let now = Utc::now();
    let token_hash = secret::digest(token);
    let token_hash = &token_hash;
    // Runs again when another writer was in the way; it acts only on the database.
    write_transaction(db, |txn| async move {
        let stored = refresh_token::Entity::find()
            .filter(refresh_token::Column::TokenHash.eq(token_hash.clone()))
            .one(&txn)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        let scope = AccountScope::new(stored.account_id);
        let unused = stored.revoked_at.is_none();
        if unused && stored.expires_at <= now {
            return Err(ApiError::Unauthenticated);
        }
        // Conditional: of two rotations of one token at once (PostgreSQL
        // runs both; SQLite one after the other), exactly one moves it and
        // the other is a reuse like any other.
        let rotated = unused
            && scope
                .update_many::<refresh_token::Entity>()
                .col_expr(refresh_token::Column::RevokedAt, sea_orm::sea_query::Expr::value(now))
                .filter(refresh_token::Column::Id.eq(stored.id))
                .filter(refresh_token::Column::RevokedAt.is_null())
                .exec(&scope.on(&txn))
                .await?
                .rows_affected
                == 1;
        if !rotated {
            scope
                .update_many::<refresh_token::Entity>()
                .col_expr(refresh_token::Column::RevokedAt, sea_orm::sea_query::Expr::value(now))
                .filter(refresh_token::Column::FamilyId.eq(stored.family_id))
                .filter(refresh_token::Column::RevokedAt.is_null())
                .exec(&scope.on(&txn))
                .await?;
            txn.commit().await?;
            tracing::warn!(
                account_id = %stored.account_id,
                user_id = %stored.user_id,
                family = %stored.family_id,
                "refresh token reuse; family revoked"
            );
            return Err(ApiError::Unauthenticated);
        }
        let user = scope
            .find::<user::Entity>()
            .filter(user::Column::Id.eq(stored.user_id))
            .one(&scope.on(&txn))
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        let account = account::Entity::find_by_id(user.account_id).one(&txn).await?.ok_or(ApiError::Unauthenticated)?;
        let session = issue(&txn, keys, &account, user, stored.family_id).await?;
        txn.commit().await?;
        Ok::<_, ApiError>(session)
    })
    .await
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
            .one(&scope.on(db))
            .await?
            .ok_or_else(|| ApiError::bad_input("refreshToken", "is not a token of this user"))?
            .family_id;
        revoke = revoke.filter(refresh_token::Column::FamilyId.eq(family));
    }
    revoke.exec(&scope.on(db)).await?;
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
