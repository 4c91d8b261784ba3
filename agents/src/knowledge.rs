//! Knowledge (RAG): a merchant's own documents (return policy, supplier
//! contracts, product sheets, FAQ), read, cut into chunks and ingested on
//! the `Knowledge` department's queue, so that search, chat and the analyst
//! team can cite them.
//!
//! - [`extract`]: the kind of an upload sniffed from its bytes (PDF,
//!   Markdown, HTML, plain text; anything else is refused by name) and its
//!   text, page by page. PDFs are read by `lopdf` on a blocking thread, with
//!   panics caught, a time limit and page and size caps.
//! - [`chunk`]: the `TokenCount` port (the embedding model's tokenizer, or
//!   an approximation without one) and token-bounded, overlapping chunks that
//!   keep their page and character offsets.
//! - [`ingest`]: the queue step `PENDING → EXTRACTING → EMBEDDING →
//!   INGESTED | FAILED`, idempotent on redelivery, embedding the chunks in
//!   batches with the pipeline's embedder (none: full text only).
//! - [`embed`]: the `Embedder` port and its implementations.
//! - [`vectors`]: the chunks' vectors in the database, each with the model
//!   (and dimension) that made it; collections bound to one model.
//!
//! Architecture invariant: like the rest of this crate, it knows neither
//! HTTP nor GraphQL; a document's bytes reach it through the database only.

pub mod chunk;
pub mod embed;
pub mod extract;
pub mod ingest;
pub mod search;
pub mod vectors;
