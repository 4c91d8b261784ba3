//! The one integration test binary: in-process API tests on SQLite and
//! PostgreSQL, black-box tests of the real binary, property tests.

mod api {
    mod account_events;
    mod accounts;
    pub mod analysis;
    mod binary;
    mod compliance;
    mod finish_call;
    mod jwt;
    mod limits;
    mod llm;
    mod oauth;
    mod ops;
    mod proposals;
    mod resilience;
    mod sdl;
    mod shopify;
    mod tenancy;
    mod transport;
    mod ws;
}
