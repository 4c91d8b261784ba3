//! Models trained on a dataset (seed 001 §5, P17–P21): a local stand-in
//! for the seed's Databricks AutoML and MLflow registry, in pure Rust
//! (`smartcore`), as a pipeline of small steps:
//!
//! 1. [`spec`]: what to train — the target column, CLASSIFICATION or
//!    REGRESSION, the feature columns (every other column by default) —
//!    checked against the dataset's columns when `trainModel` is called
//!    (`BAD_USER_INPUT` naming what is wrong) and again by the job, whose
//!    dataset may have been reloaded meanwhile.
//! 2. `read`: the rows, through the same validator and read-only
//!    execution as `runSql` (P17: the data comes from the dataset's own
//!    table), at most [`MAX_TRAINING_ROWS`]: beyond that every k-th row
//!    (SQLite's `rowid` order, PostgreSQL's row numbers ordered by the
//!    columns read), so the same table always gives the same sample. Rows
//!    without a target value are left out.
//! 3. [`features`]: each feature encoded as numbers — numbers as they
//!    are, booleans 0/1, dates and timestamps as days since 1970-01-01,
//!    text one-hot over its [`MAX_CATEGORIES`] most frequent values;
//!    nulls filled with the column's median (its mode for booleans and
//!    text) — then standardised. Everything learned here (categories,
//!    fills, means, deviations) is recorded in the model, so a prediction
//!    encodes its input exactly as training did.
//! 4. [`train`]: every family of the problem ([`families`]) scored by
//!    k-fold cross-validation ([`MAX_FOLDS`] folds, fewer for tiny
//!    tables; stratified by class for classification; a fixed seed), the
//!    best by mean fold RMSE (regression) or macro F1 (classification)
//!    refitted on every row. [`metrics`] are the winner's fold means:
//!    accuracy, precision, recall and F1 (macro), or RMSE, MAE and R².
//! 5. [`job`]: the `TRAINING` job around it — progress per fold,
//!    cancellation between folds, the time limit (P18), the model
//!    registered in `ml_models` in the transaction that completes the job.
//! 6. [`predict`]: a registered model applied to one input, with class
//!    probabilities for classifiers; a bad feature name or type is the
//!    caller's error.
//!
//! The encoding's statistics come from all rows read, the folds' test rows
//! included: medians and category lists leak a little into the scores, as
//! in most AutoML tools; the models themselves never see a test fold.

pub mod families;
pub mod features;
mod folds;
pub mod job;
pub mod metrics;
pub mod predict;
mod read;
pub mod spec;
pub mod train;

#[cfg(test)]
mod tests;

pub use families::Family;
pub use features::{Encoder, InputError};
pub use metrics::Scores;
pub use predict::{Artifact, ClassProbability, PredictError, Prediction};
pub use spec::{SpecError, TrainSpec};

/// Rows read at most (see the module documentation): enough for stable
/// scores, few enough that five folds of a random forest fit well inside
/// the time limit and the rows fit in memory.
pub const MAX_TRAINING_ROWS: usize = 100_000;
/// Values (rows × encoded columns) the encoded training matrix may hold:
/// it is copied per fold and per family (80 MB a copy as `f64`), so a
/// table of many wide text features is sampled to fewer rows instead of
/// taking the worker's memory.
pub const MAX_TRAINING_CELLS: usize = 10_000_000;
/// Distinct target values a classification may have at most.
pub const MAX_CLASSES: usize = 50;
/// Categories one text feature is one-hot encoded over at most; the
/// rest (and values never seen) encode as none of them.
pub const MAX_CATEGORIES: usize = 20;
/// Folds at most; a table of `n` rows gets `n / 2` (at least 2).
pub const MAX_FOLDS: usize = 5;
/// Rows with a target value a training needs at least.
pub const MIN_ROWS: usize = 4;
/// The seed of fold assignment and of every family's randomness: the same
/// rows always give the same model.
pub const SEED: u64 = 0x0A1A_7A25_EED5_2026;
