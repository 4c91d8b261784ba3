//! Database models for Alatar and the one place tenancy is enforced.
//!
//! Every table that holds customer data carries an `account_id`. Code above
//! this crate reaches those rows only through [`AccountScope`], which adds the
//! account filter to every select, update and delete; see `tenancy.rs`.

pub mod model;
mod role;
mod status;
mod tenancy;

pub use model::chat_message::{ChatMessageStatus, ChatRole};
pub use model::document::DocumentStatus;
pub use model::{
    account, agent_task, analysis_event, analysis_request, analysis_result, audit_entry, chat_message, chat_session,
    chunk_embedding, code_edge, code_node, collection, compliance_request, dashboard, dashboard_export,
    dashboard_share, dataset, document, document_chunk, document_file, invitation, job, market_outbox, ml_model,
    oauth_state, outbox_message, proposed_action, refresh_token, repository_analysis, shopify_cache,
    shopify_credential, sign_up, stock_bar, store, tool_call, user, user_preferences, visualization, webhook_delivery,
    workflow,
};
pub use role::{Role, Tier};
pub use status::{ActionStatus, AnalysisStatus, StoreKind, TaskStatus};
pub use tenancy::{AccountScope, SYSTEM_SESSION, ScopeSession, Scoped, TENANT_ROLE, TenantOwned};
