//! Routes and the middleware every request passes through.

mod auth;
mod console;
mod exports;
mod graphql;
mod multipart;
mod negotiate;
mod observe;
mod ops;
mod shopify;
mod ws;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use sea_orm::DatabaseConnection;

use alatar_schema::AppSchema;
use alatar_schema::service::shopify::ShopifyService;

use crate::config::GraphqlConfig;
use crate::metrics::Metrics;

pub use auth::Authenticator;
pub use multipart::{UploadLimits, receive_chunks};
pub use observe::RequestId;
pub use ws::WebSocketLimits;

/// What handlers share, behind one pointer: axum clones the state for every
/// request (the middleware and the handler each take a copy), and one
/// reference count costs less than one per field, each contended by both
/// cores.
#[derive(Clone)]
pub struct HttpState(Arc<Shared>);

impl HttpState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for HttpState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The state's contents.
pub struct Shared {
    pub schema: AppSchema,
    /// WebSocket keepalive: pings, silence and `connection_init` timeouts.
    pub websocket: WebSocketLimits,
    pub db: DatabaseConnection,
    pub redis: Option<redis::aio::ConnectionManager>,
    /// The broker, when it is an external one (`/readyz` checks it).
    pub queue: Option<Arc<dyn alatar_agents::pipeline::Queue>>,
    pub metrics: Arc<Metrics>,
    pub graphql: Arc<GraphqlConfig>,
    /// The most bytes an uploaded dataset file may have (`datasets.max_upload_bytes`).
    pub dataset_upload_bytes: usize,
    /// Checks the signed links of exported dashboards (`/exports/{id}`).
    pub downloads: alatar_agents::dashboards::download::DownloadSigner,
    /// Bearer token verification.
    pub auth: Arc<Authenticator>,
    /// Parsed documents of the operations clients repeat.
    pub documents: Arc<alatar_schema::DocumentCache>,
    /// Shopify, when configured (OAuth callback, webhooks).
    pub shopify: Option<Arc<ShopifyService>>,
    /// Peers whose `X-Forwarded-For` names the client (`http.trusted_proxies`).
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

/// The application's routes.
pub fn router(state: HttpState, metrics: MetricsAccess) -> Router {
    let routes = Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/health", get(ops::health))
        .route("/readyz", get(ops::ready))
        .route("/console", get(console::root))
        .route("/console/", get(console::index))
        .route("/console/{*path}", get(console::asset))
        .route("/exports/{id}", get(exports::download))
        .route("/shopify/callback", get(shopify::callback))
        .route("/shopify/webhooks", post(shopify::webhook));
    let routes = match metrics {
        MetricsAccess::Open => routes.route("/metrics", get(ops::metrics)),
        MetricsAccess::Token(token) => routes.route("/metrics", metrics_behind(Some(token))),
        MetricsAccess::Hidden => routes,
    };
    routes.layer(axum::middleware::from_fn_with_state(state.clone(), observe::observe)).with_state(state)
}

/// Who may read `/metrics` on the main listener.
#[derive(Clone)]
pub enum MetricsAccess {
    /// Anyone (the embedded default).
    Open,
    /// Requests with `Authorization: Bearer <token>`.
    Token(Arc<secrecy::SecretString>),
    /// Nobody (404): it has a listener of its own, or this is production
    /// without a token.
    Hidden,
}

/// The router of `metrics.listen`: `/metrics` only, behind `token` when set.
pub fn metrics_router(state: HttpState, token: Option<secrecy::SecretString>) -> Router {
    Router::new().route("/metrics", metrics_behind(token.map(Arc::new))).with_state(state)
}

/// `GET /metrics`, requiring `token` when there is one.
fn metrics_behind(token: Option<Arc<secrecy::SecretString>>) -> axum::routing::MethodRouter<HttpState> {
    let route = get(ops::metrics);
    match token {
        Some(token) => route.route_layer(axum::middleware::from_fn_with_state(token, ops::require_token)),
        None => route,
    }
}
