//! One module per table.

pub mod account;
pub mod agent_task;
pub mod analysis_event;
pub mod analysis_request;
pub mod analysis_result;
pub mod audit_entry;
pub mod chat_message;
pub mod chat_session;
pub mod chunk_embedding;
pub mod collection;
pub mod compliance_request;
pub mod document;
pub mod document_chunk;
pub mod document_file;
pub mod invitation;
pub mod oauth_state;
pub mod outbox_message;
pub mod proposed_action;
pub mod refresh_token;
pub mod shopify_cache;
pub mod shopify_credential;
pub mod store;
pub mod tool_call;
pub mod user;
pub mod user_preferences;
pub mod webhook_delivery;
