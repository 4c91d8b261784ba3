//! Accounts and auth: `me`, `register`, `signUp`, `confirmSignUp`, `login`, `refreshToken`, `logout`,
//! `updatePreferences`, `inviteMember`, `removeMember`, `changeMemberRole`,
//! `accountEvents`.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result, Subscription};
use futures_util::{Stream, StreamExt};

use super::parse_id;
use super::types::{
    Account, AccountEvent, AuthPayload, Invitation, InvitePayload, Role, SignUpPayload, User, UserPreferences,
};
use crate::auth::ClientAddr;
use crate::context::ContextExt;
use crate::error::ApiError;
use crate::service::{AuthSession, MembershipChange, accounts, preferences, sessions, sign_ups};

fn payload(session: AuthSession) -> AuthPayload {
    AuthPayload {
        access_token: session.access_token,
        token_type: "Bearer",
        expires_at: session.expires_at,
        refresh_token: session.refresh_token,
        refresh_expires_at: session.refresh_expires_at,
        user: session.user,
    }
}

/// Account queries.
#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The authenticated user.
    async fn me(&self, ctx: &Context<'_>) -> Result<User> {
        // The membership check read it for this request already.
        Ok(User(ctx.caller()?.member.user.clone()))
    }

    /// The caller's account.
    async fn account(&self, ctx: &Context<'_>) -> Result<Account> {
        Ok(Account(accounts::account(&ctx.state().db, ctx.scope()?).await?))
    }
}

/// Changes to `UserPreferences`; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdatePreferencesInput {
    /// A model id such as `google/gemini-2.5-flash`; null resets to the default.
    llm_model: MaybeUndefined<String>,
    /// BCP 47 language tag.
    locale: Option<String>,
    /// IANA time zone.
    timezone: Option<String>,
    /// ISO 4217 currency.
    currency: Option<String>,
    /// Email when an analysis finishes.
    email_notifications: Option<bool>,
}

/// Account mutations.
#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Creates a user. Without `invitationToken` it creates a new account
    /// with the user as `OWNER`; with one it joins the inviting account.
    async fn register(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
        account_name: Option<String>,
        invitation_token: Option<String>,
    ) -> Result<AuthPayload> {
        let state = ctx.state();
        state.registrations.refuse_direct()?;
        let registration = sessions::Registration {
            email: &email,
            password: &password,
            account_name: account_name.as_deref(),
            invitation_token: invitation_token.as_deref(),
        };
        let (throttle, client) = (state.throttle.as_ref(), ctx.data_opt::<ClientAddr>().copied());
        Ok(payload(
            sessions::register(&state.db, &state.tokens, state.events.as_ref(), throttle, client, registration).await?,
        ))
    }

    /// Starts a registration confirmed by mail: a link to create the account
    /// (or, for an address that has one, a notice) is mailed to `email`.
    /// The answer is the same for every address, so it never tells who has
    /// an account. `confirmSignUp` with the link's token and a password
    /// finishes it. With `invitationToken` the account joined is the
    /// inviting one.
    async fn sign_up(
        &self,
        ctx: &Context<'_>,
        email: String,
        invitation_token: Option<String>,
    ) -> Result<SignUpPayload> {
        let state = ctx.state();
        let input = sign_ups::SignUp { email: &email, invitation_token: invitation_token.as_deref() };
        let (throttle, client) = (state.throttle.as_ref(), ctx.data_opt::<ClientAddr>().copied());
        let email = sign_ups::sign_up(&state.db, &state.registrations, throttle, client, input).await?;
        Ok(SignUpPayload { email: email.as_str().to_owned(), expires_in_hours: sign_ups::LINK_TTL_HOURS as i32 })
    }

    /// Creates the account of a `signUp` from the token in its mailed link,
    /// with the password chosen now (and, for a new account, its name), and
    /// signs its user in. A token works once, for a day; a refused password
    /// leaves it working.
    async fn confirm_sign_up(
        &self,
        ctx: &Context<'_>,
        token: String,
        password: String,
        account_name: Option<String>,
    ) -> Result<AuthPayload> {
        let state = ctx.state();
        let input =
            sign_ups::Confirmation { token: &token, password: &password, account_name: account_name.as_deref() };
        Ok(payload(sign_ups::confirm(&state.db, &state.tokens, state.events.as_ref(), input).await?))
    }

    /// Exchanges email and password for tokens.
    async fn login(&self, ctx: &Context<'_>, email: String, password: String) -> Result<AuthPayload> {
        let state = ctx.state();
        let client = ctx.data_opt::<ClientAddr>().copied();
        let session = sessions::login(&state.db, &state.tokens, &state.throttle, client, &email, &password).await?;
        // Its last login changed, for `me` on every instance.
        state.membership.publish(MembershipChange::Details { user_id: session.user.id });
        Ok(payload(session))
    }

    /// Exchanges a refresh token for new tokens; the old one stops working.
    async fn refresh_token(&self, ctx: &Context<'_>, refresh_token: String) -> Result<AuthPayload> {
        let state = ctx.state();
        Ok(payload(sessions::refresh(&state.db, &state.tokens, &refresh_token).await?))
    }

    /// Revokes the session of `refreshToken`, or all sessions with `everywhere`.
    async fn logout(
        &self,
        ctx: &Context<'_>,
        refresh_token: Option<String>,
        #[graphql(default = false)] everywhere: bool,
    ) -> Result<bool> {
        let viewer = ctx.viewer()?;
        let token = match (refresh_token.as_deref(), everywhere) {
            (_, true) => None,
            (Some(t), false) => Some(t),
            (None, false) => {
                return Err(ApiError::bad_input("refreshToken", "is required unless everywhere is true").into());
            }
        };
        sessions::logout(&ctx.state().db, ctx.scope()?, viewer.sub, token).await?;
        Ok(true)
    }

    /// Changes the caller's preferences.
    async fn update_preferences(&self, ctx: &Context<'_>, input: UpdatePreferencesInput) -> Result<UserPreferences> {
        let viewer = ctx.viewer()?;
        let patch = preferences::PreferencesPatch {
            llm_model: match input.llm_model {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(m) => Some(Some(m)),
            },
            locale: input.locale,
            timezone: input.timezone,
            currency: input.currency,
            email_notifications: input.email_notifications,
        };
        let updated = preferences::update(&ctx.state().db, ctx.scope()?, viewer.sub, patch).await?;
        Ok(UserPreferences(updated))
    }

    /// Invites someone into the caller's account (owners and admins).
    async fn invite_member(&self, ctx: &Context<'_>, email: String, role: Role) -> Result<InvitePayload> {
        let viewer = ctx.viewer()?;
        let state = ctx.state();
        let (events, throttle) = (state.events.as_ref(), state.throttle.as_ref());
        let (invitation, token) =
            accounts::invite(&state.db, events, throttle, ctx.scope()?, viewer.sub, &email, role.into()).await?;
        Ok(InvitePayload { invitation: Invitation(invitation), token })
    }

    /// Removes a member from the caller's account (owners and admins).
    async fn remove_member(&self, ctx: &Context<'_>, user_id: ID) -> Result<User> {
        let viewer = ctx.viewer()?;
        let state = ctx.state();
        let target = parse_id("userId", &user_id)?;
        let removed = accounts::remove(&state.db, state.events.as_ref(), ctx.scope()?, viewer.sub, target).await?;
        // Every instance, at once: the removed member's token stops working
        // and their open subscriptions end.
        state.membership.publish(MembershipChange::Member { user_id: removed.id });
        Ok(User(removed))
    }

    /// Gives a member of the caller's account another role (owners and
    /// admins; only owners grant or take `OWNER`, and the last owner keeps it).
    async fn change_member_role(&self, ctx: &Context<'_>, user_id: ID, role: Role) -> Result<User> {
        let viewer = ctx.viewer()?;
        let state = ctx.state();
        let target = parse_id("userId", &user_id)?;
        let changed = accounts::change_role(&state.db, ctx.scope()?, viewer.sub, target, role.into()).await?;
        // Every instance, at once: they act with the new role from now on.
        state.membership.publish(MembershipChange::Member { user_id: changed.id });
        Ok(User(changed))
    }
}

/// Account subscriptions.
#[derive(Default)]
pub struct AccountSubscription;

#[Subscription]
impl AccountSubscription {
    /// Members joining, being invited or removed, live, for the caller's account.
    async fn account_events(&self, ctx: &Context<'_>) -> Result<impl Stream<Item = AccountEvent>> {
        let scope = ctx.scope()?;
        Ok(ctx.state().events.subscribe(scope.account_id()).map(AccountEvent::from))
    }
}
