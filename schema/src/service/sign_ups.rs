//! Registration confirmed by mail (issue 13): `signUp` answers the same for
//! every address, and what happens next is told to the address's owner by
//! mail, where only they can read it.
//!
//! - A new address gets a link (`<console>#/confirm/<secret>`, valid for a
//!   day); [`confirm`] takes it with the password (and the new account's
//!   name), creates the account and returns its first session, as
//!   `register` would have. The password is chosen there, by whoever reads
//!   the mail: someone who signs up another person's address chooses
//!   nothing that person's account would keep.
//! - An address that has an account gets a notice saying so.
//! - A reserved address (`*.invalid`, `localhost`) gets nothing.
//! - Past [`MAILS_PER_ADDRESS`] an hour an address gets nothing more, so
//!   `signUp` cannot be used to flood someone's inbox.
//!
//! A new and a registered address take the same work before the answer
//! (expired rows purged, the hour's mails counted, the address looked up, a
//! row written) and the mail leaves after it, so neither the answer nor its
//! timing says which it was; the reserved and capped cases stop earlier,
//! which tells nothing about an account. See ARCHITECTURE.md, "Registration does not say who
//! has an account".

use std::sync::Arc;

use chrono::{Duration, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, Set};
use tracing::Instrument as _;
use uuid::Uuid;

use alatar_agents::mail::{Mail, Mailer};
use alatar_agents::write::write_transaction;
use alatar_entity::{account, sign_up, user};

use super::sessions::{
    AuthSession, Joins, NewUser, account_name, announce_joined, create_user, is_reserved, open_invitation,
};
use super::{AccountEvents, Email};
use crate::auth::throttle::{AuthThrottle, ClientAddr};
use crate::auth::{TokenKeys, password, password::Password, secret};
use crate::error::{ApiError, ApiResult};

/// How long a confirmation link works.
pub const LINK_TTL_HOURS: i64 = 24;

/// Mails `signUp` sends to one address in an hour, whatever they say.
pub const MAILS_PER_ADDRESS: u64 = 3;

/// What `signUp` needs besides the database: where mail goes, where its
/// links point, and whether `register` must go through it.
#[derive(Clone)]
pub struct Registrations {
    /// Delivers the confirmation links and notices.
    pub mailer: Arc<dyn Mailer>,
    /// The console's address (ending in `/`): links are `<console_url>#/confirm/<secret>`.
    pub console_url: String,
    /// `true`: a new address must be confirmed by mail, and `register` is
    /// refused ([`Registrations::refuse_direct`]).
    pub confirm: bool,
}

impl Registrations {
    /// `register` hands out tokens at once, which tells a new address from
    /// a registered one; with confirmation on it is refused for every
    /// address alike, invitations included (an inviter holds the
    /// invitation's token, so it proves nothing about the address).
    pub fn refuse_direct(&self) -> ApiResult<()> {
        if self.confirm {
            return Err(ApiError::bad_input(
                "email",
                "this server confirms addresses by mail: use signUp, then follow the link it sends",
            ));
        }
        Ok(())
    }
}

/// Input to [`sign_up`].
pub struct SignUp<'a> {
    /// The address to register.
    pub email: &'a str,
    /// Token from `inviteMember`: join that account instead.
    pub invitation_token: Option<&'a str>,
}

/// Input to [`confirm`].
pub struct Confirmation<'a> {
    /// The secret of the mailed link.
    pub token: &'a str,
    /// The password to set.
    pub password: &'a str,
    /// Name for a new account; defaults to the email's domain (ignored
    /// when the sign-up joins an invitation's account).
    pub account_name: Option<&'a str>,
}

/// Records a sign-up and mails its link (or a notice) after the answer;
/// returns the normalised address. Throttled per client address like `register`.
pub async fn sign_up(
    db: &DatabaseConnection,
    registrations: &Registrations,
    throttle: &AuthThrottle,
    client: Option<ClientAddr>,
    input: SignUp<'_>,
) -> ApiResult<Email> {
    let email = Email::parse(input.email)?;
    throttle.admit_registration(client).await?;
    let now = Utc::now();
    // An invitation is checked against the address it was made for; that
    // says nothing the token's holder did not know.
    let invitation = match input.invitation_token {
        Some(token) => Some(open_invitation(db, Joins::Token(token), &email, now).await?),
        None => None,
    };
    if is_reserved(&email) {
        return Ok(email);
    }
    // Expired rows go: they hold an address for nothing.
    sign_up::Entity::delete_many().filter(sign_up::Column::ExpiresAt.lt(now)).exec(db).await?;
    let recent = sign_up::Entity::find()
        .filter(sign_up::Column::Email.eq(email.as_str()))
        .filter(sign_up::Column::CreatedAt.gt(now - Duration::hours(1)))
        .count(db)
        .await?;
    if recent >= MAILS_PER_ADDRESS {
        tracing::warn!(email_domain = email.domain(), "sign-up mail held back: too many for this address this hour");
        return Ok(email);
    }
    let registered =
        user::Entity::find().filter(user::Column::Email.is_in(email.stored_forms())).one(db).await?.is_some();
    let secret = (!registered).then(secret::generate);
    sign_up::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email.as_str().to_owned()),
        token_hash: Set(secret.as_deref().map(secret::digest)),
        invitation_id: Set(invitation.as_ref().map(|i| i.id)),
        created_at: Set(now),
        expires_at: Set(now + Duration::hours(LINK_TTL_HOURS)),
        confirmed_at: Set(None),
    }
    .insert(db)
    .await?;
    let joining = match &invitation {
        Some(invite) => account::Entity::find_by_id(invite.account_id).one(db).await?.map(|a| a.name),
        None => None,
    };
    let mail = match &secret {
        Some(secret) => {
            confirmation(&email, &format!("{}#/confirm/{secret}", registrations.console_url), joining.as_deref())
        }
        None => notice(&email, &format!("{}#/signin", registrations.console_url)),
    };
    let mailer = registrations.mailer.clone();
    let sent = async move {
        match mailer.send(&mail).await {
            Ok(to) => tracing::info!(to, "sign-up mail sent"),
            Err(e) => tracing::warn!(error = %e, "sign-up mail could not be sent"),
        }
    };
    // In the request's span, which carries the request id.
    tokio::spawn(sent.in_current_span());
    Ok(email)
}

/// Creates the account of the sign-up whose link carried the token, with
/// the password given now, once; returns its first session. A used,
/// expired or unknown token is one `BAD_USER_INPUT` on `token`; a refused
/// password leaves the link working.
pub async fn confirm(
    db: &DatabaseConnection,
    keys: &TokenKeys,
    events: &dyn AccountEvents,
    input: Confirmation<'_>,
) -> ApiResult<AuthSession> {
    let refused = || ApiError::bad_input("token", "is invalid, already used or expired; sign up again");
    let now = Utc::now();
    let pending = sign_up::Entity::find()
        .filter(sign_up::Column::TokenHash.eq(secret::digest(input.token)))
        .one(db)
        .await?
        .filter(|s| s.confirmed_at.is_none() && s.expires_at > now)
        .ok_or_else(refused)?;
    let email = Email::parse(&pending.email).map_err(|_| refused())?;
    let password = Password::parse_for(input.password, &email)?;
    let name = account_name(input.account_name)?;
    let hash = password::hash(password).await?;
    let (pending, email, hash) = (&pending, &email, &hash);
    let new = NewUser {
        email,
        password_hash: hash,
        account_name: name.as_deref(),
        joins: pending.invitation_id.map(Joins::Invitation),
    };
    let new = &new;
    let (session, account, accepted) = write_transaction(db, |txn| async move {
        // Conditional: of two confirmations at once exactly one takes it.
        let taken = sign_up::Entity::update_many()
            .col_expr(sign_up::Column::ConfirmedAt, sea_orm::sea_query::Expr::value(now))
            .filter(sign_up::Column::Id.eq(pending.id))
            .filter(sign_up::Column::ConfirmedAt.is_null())
            .exec(&txn)
            .await?
            .rows_affected
            == 1;
        if !taken {
            return Err(refused());
        }
        let created = create_user(&txn, keys, new, now).await?;
        // The address's other links are spent with this one.
        sign_up::Entity::update_many()
            .col_expr(sign_up::Column::ConfirmedAt, sea_orm::sea_query::Expr::value(now))
            .filter(sign_up::Column::Email.eq(pending.email.clone()))
            .filter(sign_up::Column::ConfirmedAt.is_null())
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok::<_, ApiError>(created)
    })
    .await?;
    tracing::info!(account_id = %account.id, user_id = %session.user.id, "sign-up confirmed");
    announce_joined(events, &session, &account, accepted.as_ref(), now);
    Ok(session)
}

fn confirmation(email: &Email, link: &str, joining: Option<&str>) -> Mail {
    // The account's name is its owner's words: one line, no more than it needs.
    let joining = joining.map(|name| {
        let name: String = name.chars().filter(|c| !c.is_control()).take(200).collect();
        format!(", which joins the account \"{name}\" you were invited to")
    });
    Mail {
        to: email.as_str().to_owned(),
        subject: "Confirm your Alatar account".into(),
        body: format!(
            "Someone, hopefully you, asked to create an Alatar account for {email}{joining}.\n\n\
             To create it, open this link within {LINK_TTL_HOURS} hours and choose your password there:\n\n\
             {link}\n\n\
             If it was not you, ignore this message: nothing is created without the link.\n",
            email = email.as_str(),
            joining = joining.unwrap_or_default(),
        ),
    }
}

fn notice(email: &Email, sign_in: &str) -> Mail {
    Mail {
        to: email.as_str().to_owned(),
        subject: "Your Alatar account".into(),
        body: format!(
            "Someone asked to create an Alatar account for {email}, but this address already has one.\n\n\
             Sign in at {sign_in}.\n\n\
             If it was not you, ignore this message: your account is unchanged.\n",
            email = email.as_str(),
        ),
    }
}
