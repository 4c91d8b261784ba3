//! Output types. Database models are wrapped, never exposed directly, so the
//! API can change shape without a migration (and hashes never leak).

use async_graphql::{ComplexObject, Context, Enum, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use alatar_entity::{AccountScope, account, invitation, user, user_preferences};

use crate::context::ContextExt;
use crate::service::{AccountEvent as AccountEventModel, AccountEventKind, accounts, preferences};

/// A member's role within its account.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "alatar_entity::Role")]
pub enum Role {
    /// Manages everything, including owners.
    Owner,
    /// Manages members (not owners) and approves store changes.
    Admin,
    /// Asks questions and reads results.
    Analyst,
    /// Reads results.
    Viewer,
}

/// The account's plan.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "alatar_entity::Tier")]
pub enum Tier {
    /// 100 heavy operations per hour per user.
    Free,
    /// 1000 heavy operations per hour per user.
    Premium,
}

/// A person who logs in.
pub struct User(pub user::Model);

impl User {
    fn scope(&self) -> AccountScope {
        AccountScope::new(self.0.account_id)
    }
}

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn role(&self) -> Role {
        self.0.role.into()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn last_login_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_login_at
    }
    /// The account this user belongs to.
    async fn account(&self, ctx: &Context<'_>) -> Result<Account> {
        // A `User` only ever comes from a scoped lookup or the caller's own
        // auth payload, so its account is the caller's.
        Ok(Account(accounts::account(&ctx.state().db, self.scope()).await?))
    }
    /// Only visible to the user themselves (null for other members).
    async fn preferences(&self, ctx: &Context<'_>) -> Result<Option<UserPreferences>> {
        // Anonymous callers reach a `User` only through their own
        // register/login/refresh payload.
        if ctx.viewer().is_ok_and(|v| v.sub != self.0.id) {
            return Ok(None);
        }
        Ok(Some(UserPreferences(preferences::get(&ctx.state().db, self.scope(), self.0.id).await?)))
    }
}

/// A merchant's team (tenant).
pub struct Account(pub account::Model);

#[Object]
impl Account {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn tier(&self) -> Tier {
        self.0.tier.into()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Members, oldest first.
    async fn members(&self, ctx: &Context<'_>) -> Result<Vec<User>> {
        let members = accounts::members(&ctx.state().db, AccountScope::new(self.0.id)).await?;
        Ok(members.into_iter().map(User).collect())
    }
    /// Invitations not yet accepted and not expired.
    async fn pending_invitations(&self, ctx: &Context<'_>) -> Result<Vec<Invitation>> {
        let pending = accounts::pending_invitations(&ctx.state().db, AccountScope::new(self.0.id)).await?;
        Ok(pending.into_iter().map(Invitation).collect())
    }
}

/// Per-user settings.
pub struct UserPreferences(pub user_preferences::Model);

#[Object]
impl UserPreferences {
    /// Preferred LLM model id; null means the server default.
    async fn llm_model(&self) -> Option<&str> {
        self.0.llm_model.as_deref()
    }
    async fn locale(&self) -> &str {
        &self.0.locale
    }
    async fn timezone(&self) -> &str {
        &self.0.timezone
    }
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    async fn email_notifications(&self) -> bool {
        self.0.email_notifications
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// An invitation to join an account.
pub struct Invitation(pub invitation::Model);

#[Object]
impl Invitation {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn role(&self) -> Role {
        self.0.role.into()
    }
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }
}

/// What `signUp` answers, the same for every address: a mail is on its way
/// to `email` if it can be registered, with a link that works for
/// `expiresInHours`.
#[derive(SimpleObject)]
pub struct SignUpPayload {
    /// The address as it will be stored (trimmed, lower case, NFC).
    pub email: String,
    /// How long the mailed link works.
    pub expires_in_hours: i32,
}

/// Tokens and the user they were issued to.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct AuthPayload {
    /// JWT for `Authorization: Bearer …` and the WebSocket `connection_init`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// When the access token expires.
    pub expires_at: DateTime<Utc>,
    /// Single-use token for `refreshToken`; rotated on every use.
    pub refresh_token: String,
    /// When the refresh token expires.
    pub refresh_expires_at: DateTime<Utc>,
    #[graphql(skip)]
    pub(crate) user: user::Model,
}

#[ComplexObject]
impl AuthPayload {
    async fn user(&self) -> User {
        User(self.user.clone())
    }
}

/// A new invitation with its one-time token (shown only here).
#[derive(SimpleObject)]
pub struct InvitePayload {
    /// The invitation.
    pub invitation: Invitation,
    /// Pass to `register(invitationToken:)`; not retrievable later.
    pub token: String,
}

/// Kinds of account activity.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "AccountEventKind")]
// The shared prefix is in the names clients rely on (`MEMBER_JOINED`, …).
#[allow(clippy::enum_variant_names)]
pub enum AccountEventType {
    /// Someone joined through an invitation.
    MemberJoined,
    /// A member was removed.
    MemberRemoved,
    /// Someone was invited.
    MemberInvited,
}

/// Live account activity.
#[derive(SimpleObject)]
pub struct AccountEvent {
    /// What happened.
    pub kind: AccountEventType,
    /// The member concerned.
    pub email: String,
    /// When.
    pub at: DateTime<Utc>,
}

impl From<AccountEventModel> for AccountEvent {
    fn from(e: AccountEventModel) -> Self {
        Self { kind: e.kind.into(), email: e.email, at: e.at }
    }
}
