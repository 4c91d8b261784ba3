//! Deleting datasets, one path for the API's `deleteDataset` and a shop's
//! erasure (`shop/redact`): in the caller's transaction the dataset's row
//! goes (its models with it), its unfinished jobs end and its PostgreSQL
//! table is dropped; once that committed, its SQLite file, any scratch
//! file of a load and its kept source go ([`remove_files`]).
//!
//! Everything else of a dataset lives on its row (columns, profile,
//! insights) and goes with it. Cached query results need nothing: they are
//! keyed by dataset id and version and only looked up once the dataset's
//! row was found `READY` (`catalog::ready_dataset`), and ids are fresh
//! UUIDv7s, never reused, so a deleted dataset's entries are unreachable
//! until they expire.
//!
//! Files go after the commit: a rolled-back deletion must not lose them.
//! A crash between the two leaves files no row names (a deletion is not
//! retried; an erasure is, by Shopify, until it succeeds, and then finds no
//! rows); they are reachable by nothing.

use std::path::Path;

use sea_orm::{ColumnTrait, DbErr, QueryFilter, QuerySelect};
use uuid::Uuid;

use alatar_entity::{AccountScope, ScopeSession, dataset, job, ml_model};

use super::{jobs, source, storage};

/// Deletes dataset `id` of the account inside `tx`: the row (its models
/// cascade), its unfinished jobs ended `CANCELLED`, its PostgreSQL table.
/// The ids of the jobs it ended, to announce once committed; `None` when
/// the account has no such dataset (nothing was touched: every statement
/// is scoped). Lock order as a load's finish: the dataset's row, then its
/// jobs, then its table.
pub async fn delete_in<C: ScopeSession>(tx: &C, scope: AccountScope, id: Uuid) -> Result<Option<Vec<Uuid>>, DbErr> {
    let gone = scope.delete_many::<dataset::Entity>().filter(dataset::Column::Id.eq(id)).exec(&scope.on(tx)).await?;
    if gone.rows_affected == 0 {
        return Ok(None);
    }
    let cancelled = jobs::cancel_for_deleted_dataset(tx, scope, id).await?;
    // Unscoped on purpose: the tables belong to no account's rows (the
    // tenant role may not touch them); the row just deleted was the wall.
    storage::drop_table(tx, id).await?;
    Ok(Some(cancelled))
}

/// Removes dataset `id`'s files, once its deletion committed: the SQLite
/// table file (and a load's scratch files) and the kept upload. Best
/// effort: a file that is gone is fine, another failure is logged.
pub async fn remove_files(data_dir: &Path, id: Uuid) {
    storage::remove_files(data_dir, id).await;
    source::remove(data_dir, id).await;
}

/// What [`erase_datasets`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatasetsErasure {
    /// Datasets deleted, with their tables.
    pub datasets: u64,
    /// Their jobs, every one (not only the unfinished).
    pub jobs: u64,
    /// Their trained models.
    pub models: u64,
    /// The deleted datasets' ids: their files go with [`remove_files`]
    /// once the erasure committed.
    pub ids: Vec<Uuid>,
}

/// Erases every dataset of the account inside `db` (the caller's
/// transaction): each through [`delete_in`], then every job row of the
/// account (a deletion keeps them, naming the dataset; an erasure keeps
/// nothing) and, counted first, the models the datasets' rows take with
/// them. A job still running meanwhile finds its row gone and stops (its
/// load is discarded).
pub async fn erase_datasets<C: ScopeSession>(db: &C, scope: AccountScope) -> Result<DatasetsErasure, DbErr> {
    let ids: Vec<Uuid> = scope
        .find::<dataset::Entity>()
        .select_only()
        .column(dataset::Column::Id)
        .into_tuple()
        .all(&scope.on(db))
        .await?;
    // Explicitly, for the count and with no reliance on the cascade.
    let models = scope.delete_many::<ml_model::Entity>().exec(&scope.on(db)).await?.rows_affected;
    let mut erased = DatasetsErasure { models, ..DatasetsErasure::default() };
    for id in ids {
        if delete_in(db, scope, id).await?.is_some() {
            erased.datasets += 1;
            erased.ids.push(id);
        }
    }
    erased.jobs = scope.delete_many::<job::Entity>().exec(&scope.on(db)).await?.rows_affected;
    Ok(erased)
}
