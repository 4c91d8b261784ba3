//! Datasets (seed 001 §1, §3): a merchant's own tables — ad spend exports,
//! supplier price lists, a marketplace's sales report — uploaded as CSV,
//! JSON, NDJSON or Parquet, loaded as a table the engine can query, profiled, and
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
//!    header sniffed, CSV, JSON or Parquet records as cells), first to infer each
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
//! [`insights`] (`INSIGHTS` jobs) computes anomalies, trends and
//! recommendations from a few aggregate statements through that same
//! read-only path, and stores them on the dataset.
//!
//! [`models`] (`TRAINING` jobs) reads a sample of the table through that
//! path too, cross-validates several model families on it with
//! `smartcore`, and registers the best in `ml_models`; `predict` uses it.
//!
//! [`catalog`] is the analyst team's port onto one account's datasets
//! (the `Datasets` department's tools), over that same read-only path.
//!
//! - [`column`]: column types and names, shared with [`sql`].
//! - [`value`]: a typed cell, bound per engine.
//! - [`settings`]: where the files live, how large an upload may be.
//! - [`erase`]: a dataset's deletion with its table and files, one path
//!   for `deleteDataset` and a shop's erasure.
//!
//! Architecture invariant: like the rest of this crate, it knows neither
//! HTTP nor GraphQL; an upload reaches it as a file.

pub mod catalog;
pub mod column;
pub mod erase;
pub mod infer;
pub mod ingest;
pub mod insights;
pub mod jobs;
pub mod models;
pub mod parse;
pub mod profile;
pub mod settings;
pub mod source;
pub mod sql;
pub mod storage;
pub mod value;
