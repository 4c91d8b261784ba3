//! Datasets (seed 001 §1, §3): a merchant's own tables — ad spend exports,
//! supplier price lists, a marketplace's sales report — uploaded as CSV,
//! JSON or NDJSON, loaded as a table the engine can query, profiled, and
//! asked questions of in read-only SQL.
//!
//! The design, as a pipeline of small stages with back-pressure between
//! them:
//!
//! 1. The upload streams to a temporary file while the request is read
//!    (held to `datasets.max_upload_bytes` as it streams, by the server),
//!    is copied into place as the dataset's [`source`] (kept: every reload
//!    reads it), and an `INGESTION` job is queued with it (`jobs`, one
//!    transaction: dataset `PENDING`, job `QUEUED`, the queue message in
//!    the outbox). The API answers with the job at once.
//! 2. On the `Datasets` department's queue, [`ingest`] runs the job: the
//!    file read twice as it streams ([`parse`]: encoding, delimiter and
//!    header sniffed, CSV or JSON records as cells), first to infer each
//!    column's type ([`infer`]), then to convert every cell, profile it
//!    ([`profile`]) and send it in batches to the table ([`storage`]),
//!    which becomes visible only when whole, in the transaction that marks
//!    the dataset `READY` with its columns, profile and next version.
//! 3. The table is one per dataset: its own SQLite file embedded, its own
//!    table in the `alatar_datasets` schema on PostgreSQL, reachable only
//!    through the dataset's id ([`storage::physical_table`]) and, for
//!    questions, only through the validated read-only path in [`sql`].
//!
//! Jobs ([`jobs`]) move by conditional updates, so a redelivered message
//! finds its job ended and does nothing, and every job ends exactly once;
//! they honour cancellation between batches and announce each change on the
//! event bus. A reload with column types set by the merchant is another
//! `INGESTION` job of the same source.
//!
//! Questions name the dataset's table `data` (or its own name, quoted); the
//! validator rewrites that to the physical table, so no SQL a merchant or a
//! model writes ever names a real table. Column names are the source's
//! (trimmed, de-duplicated with `_2`, `_3`, empty → `column_N`), always
//! quoted.
//!
//! - [`column`]: column types and names, shared with [`sql`].
//! - [`value`]: a typed cell, bound per engine.
//! - [`settings`]: where the files live, how large an upload may be.
//!
//! Architecture invariant: like the rest of this crate, it knows neither
//! HTTP nor GraphQL; an upload reaches it as a file.

pub mod column;
pub mod infer;
pub mod ingest;
pub mod jobs;
pub mod parse;
pub mod profile;
pub mod settings;
pub mod source;
pub mod sql;
pub mod storage;
pub mod value;
