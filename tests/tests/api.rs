//! The one integration test binary: in-process API tests on SQLite and
//! PostgreSQL, black-box tests of the real binary, property tests.

mod api {
    mod accounts;
    pub mod analysis;
    mod binary;
    mod finish_call;
    mod jwt;
    mod limits;
    mod llm;
    mod ops;
    mod sdl;
    mod shopify;
    mod tenancy;
    mod transport;
    mod ws;
}
