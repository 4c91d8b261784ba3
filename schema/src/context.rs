//! What resolvers get from the context: shared state and the viewer.

use std::sync::Arc;

use async_graphql::Context;
use sea_orm::DatabaseConnection;

use alatar_entity::AccountScope;

use crate::auth::{AccessClaims, TokenKeys};
use crate::error::{ApiError, ApiResult};
use crate::service::{AccountEvents, MemberCache};

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
    /// Recently read members, for `me`.
    pub members: Arc<MemberCache>,
}

/// The authenticated caller, put into request data by the transport after it
/// verified the bearer token. Its absence means an anonymous request.
#[derive(Debug, Clone)]
pub struct Viewer(pub AccessClaims);

/// Accessors resolvers use instead of reaching into the context by type.
pub trait ContextExt {
    /// Shared state.
    fn state(&self) -> &AppState;
    /// The caller, or `UNAUTHENTICATED`.
    fn viewer(&self) -> ApiResult<&AccessClaims>;
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

    fn viewer(&self) -> ApiResult<&AccessClaims> {
        self.data_opt::<Viewer>().map(|v| &v.0).ok_or(ApiError::Unauthenticated)
    }
}
