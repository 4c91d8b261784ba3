//! The one integration test binary: in-process API tests on SQLite and
//! PostgreSQL, black-box tests of the real binary, property tests.

mod api {
    mod account_events;
    mod accounts;
    pub mod analysis;
    mod binary;
    mod compliance;
    mod connections;
    mod document_limits;
    mod finish_call;
    mod jwt;
    mod limits;
    mod llm;
    mod login_security;
    mod membership;
    mod multipart;
    mod oauth;
    mod ops;
    mod proposals;
    mod resilience;
    mod sdl;
    mod shopify;
    mod sqlite_busy;
    mod tenancy;
    mod transport;
    mod ws;
}
