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
//! - [`summary`]: every ingested document's summary, a queue step after
//!   `INGESTED` (the router's cheap model, or the document's own most
//!   central sentences offline).
//! - [`library`]: the `Library` port, one account's documents as the
//!   analyst team reads them (the `Knowledge` department, `rag.*` tools).
//! - [`sentences`]: sentences with their offsets, and their relevance
//!   to a question by term overlap (extractive answers and summaries).
//! - [`chat`]: one chat answer from a session's collection: retrieval, a
//!   model's streamed answer citing `[n]`, or offline the documents' own
//!   sentences quoted; streamed on the bus, stored with its citations.
//! - [`erase`]: privacy erasure for Shopify's compliance webhooks: the
//!   chunks naming a customer, or an account's collections.
//!
//! Architecture invariant: like the rest of this crate, it knows neither
//! HTTP nor GraphQL; a document's bytes reach it through the database only.

pub mod chat;
pub mod chunk;
pub mod embed;
pub mod erase;
pub mod extract;
pub mod ingest;
pub mod library;
pub mod search;
pub mod sentences;
pub mod summary;
pub mod vectors;
