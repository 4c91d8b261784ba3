//! What resolvers get from the context: shared state and the viewer.

use std::sync::Arc;

use async_graphql::Context;
use sea_orm::DatabaseConnection;

use alatar_entity::AccountScope;

use crate::auth::{AccessClaims, TokenKeys};
use crate::error::{ApiError, ApiResult};
use crate::service::{AccountEvents, Member, MemberCache, MembershipChanges};

/// Shared state every resolver can reach.
#[derive(Clone)]
pub struct AppState {
    /// The database (SQLite embedded, PostgreSQL in production).
    pub db: DatabaseConnection,
    /// Access token keys.
    pub tokens: TokenKeys,
    /// Account event fan-out.
    pub events: Arc<dyn AccountEvents>,
    /// The analysis pipeline (database, queue, bus, model).
    pub pipeline: alatar_agents::pipeline::Pipeline,
    /// Shopify, when configured.
    pub shopify: Option<crate::service::shopify::ShopifyService>,
    /// Members as they are now: every authenticated operation resolves its
    /// caller here.
    pub members: Arc<MemberCache>,
    /// Carries removals, role and tier changes to every instance's `members`.
    pub membership: Arc<dyn MembershipChanges>,
    /// Sign-ups confirmed by mail: the mailer, the links' base, whether `register` is refused.
    pub registrations: crate::service::sign_ups::Registrations,
    /// Throttles logins, registrations and invitations.
    pub throttle: Arc<crate::auth::AuthThrottle>,
    /// Read-only SQL over datasets: validation, execution, result cache.
    pub dataset_sql: Arc<alatar_agents::datasets::sql::DatasetSql>,
    /// Signs the download links of exported dashboards.
    pub downloads: alatar_agents::dashboards::download::DownloadSigner,
}

/// What the bearer token asserts, put into request data (or, over a
/// WebSocket, connection data) by the transport after it verified the
/// token. Its absence means an anonymous request. Resolvers never read it:
/// the role in it is the one the token was issued with.
#[derive(Debug, Clone)]
pub struct Viewer(pub AccessClaims);

/// The caller as their membership is now: the token's claims with the
/// member's current role and tier, and the member's row. The membership
/// check (`membership_check.rs`) puts it into request data before anything
/// executes; its absence means an anonymous request or the token of
/// someone who is no member any more.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's claims, with role and tier as the membership has them now.
    pub claims: AccessClaims,
    /// The member, as read at most [`MemberCache::ttl`] ago and not before
    /// the last change to them.
    pub member: Arc<Member>,
}

/// Accessors resolvers use instead of reaching into the context by type.
pub trait ContextExt {
    /// Shared state.
    fn state(&self) -> &AppState;
    /// The caller as their membership is now, or `UNAUTHENTICATED`.
    fn caller(&self) -> ApiResult<&Caller>;
    /// The caller's claims with their current role and tier, or
    /// `UNAUTHENTICATED` (anonymous, or no member any more).
    fn viewer(&self) -> ApiResult<&AccessClaims> {
        self.caller().map(|c| &c.claims)
    }
    /// The caller's account scope: the only way to reach tenant rows.
    fn scope(&self) -> ApiResult<AccountScope> {
        self.viewer().map(|v| AccountScope::new(v.acc))
    }
}

impl ContextExt for Context<'_> {
    fn state(&self) -> &AppState {
        // Provably present: `build_schema` always registers it.
        self.data_unchecked::<AppState>()
    }

    fn caller(&self) -> ApiResult<&Caller> {
        self.data_opt::<Caller>().ok_or(ApiError::Unauthenticated)
    }
}
