//! The one integration test binary: in-process API tests on SQLite and
//! PostgreSQL, black-box tests of the real binary, property tests.

mod api {
    mod account_events;
    mod accounts;
    pub mod analysis;
    mod binary;
    mod client_gone;
    mod code;
    mod compliance;
    mod connections;
    mod console;
    mod dashboards;
    mod datasets;
    mod datasets_department;
    mod datasets_insights;
    mod datasets_models;
    mod datasets_parquet;
    mod datasets_sql;
    mod descriptors;
    mod document_limits;
    mod finish_call;
    mod jwt;
    mod knowledge;
    mod knowledge_analysis;
    mod knowledge_chat;
    mod knowledge_chat_restart;
    mod knowledge_full_text_scale;
    mod knowledge_gdpr;
    mod knowledge_search;
    mod knowledge_semantic;
    mod knowledge_summary;
    mod knowledge_vectors;
    mod knowledge_workflow;
    mod limits;
    mod llm;
    mod login_security;
    mod market;
    mod membership;
    mod multipart;
    mod oauth;
    mod ops;
    mod proposals;
    mod resilience;
    mod row_security;
    mod sdl;
    mod shopify;
    mod sign_up;
    mod slow_readers;
    mod sqlite_busy;
    mod tenancy;
    mod transport;
    mod ws;
}
