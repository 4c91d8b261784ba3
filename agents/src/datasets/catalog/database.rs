//! [`Catalog`] over the database, for one account: every read goes through
//! the account's `AccountScope` (and row security on PostgreSQL), every
//! statement through the pipeline's [`DatasetSql`], the very service
//! `askDataset` and `runSql` use. The lookups the API shares with it
//! ([`ready_dataset`]) live here too, so the account and `READY` checks
//! are written once.

use std::sync::Arc;

use async_trait::async_trait;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use alatar_entity::AccountScope;
use alatar_entity::dataset::{self, DatasetStatus};

use super::names::DatasetName;
use super::{Catalog, CatalogError, DatasetEntry};
use crate::datasets::column::ColumnSpec;
use crate::datasets::profile::Profile;
use crate::datasets::sql::{Answer, DatasetSql, DatasetTable, Engine, SqlError};
use crate::pipeline::Pipeline;

/// Most datasets one listing returns.
pub const MAX_LISTED: usize = 100;
/// Most dataset names read when planning: a question naming one of more
/// than this many is planned without it (the list is newest first).
const MAX_NAMES: u64 = 500;

/// Why an account's dataset cannot be queried.
#[derive(Debug, thiserror::Error)]
pub enum TableLookup {
    /// Not the account's, or no such dataset.
    #[error("no such dataset in this account")]
    Missing,
    /// The account's, not loaded.
    #[error("the dataset is {}, not READY", .0.as_str())]
    NotReady(DatasetStatus),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// The account's dataset `id`, if it is `READY` to be queried.
pub async fn ready_dataset(
    db: &DatabaseConnection,
    scope: AccountScope,
    id: Uuid,
) -> Result<dataset::Model, TableLookup> {
    let found = scope
        .find::<dataset::Entity>()
        .filter(dataset::Column::Id.eq(id))
        .one(&scope.on(db))
        .await?
        .ok_or(TableLookup::Missing)?;
    match found.status() {
        DatasetStatus::Ready => Ok(found),
        other => Err(TableLookup::NotReady(other)),
    }
}

/// The names (and column names) of the account's `READY` datasets,
/// newest first: what the orchestrator matches a question against.
pub async fn ready_names(db: &DatabaseConnection, scope: AccountScope) -> Result<Vec<DatasetName>, DbErr> {
    let rows: Vec<(Uuid, String, String, serde_json::Value)> = scope
        .find::<dataset::Entity>()
        .select_only()
        .columns([dataset::Column::Id, dataset::Column::Name, dataset::Column::SourceName, dataset::Column::Columns])
        .filter(dataset::Column::Status.eq(DatasetStatus::Ready.as_str()))
        .order_by_desc(dataset::Column::Id)
        .limit(MAX_NAMES)
        .into_tuple()
        .all(&scope.on(db))
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, source_name, columns)| DatasetName {
            id,
            name,
            source_name,
            columns: ColumnSpec::list_from(&columns).into_iter().map(|c| c.name).collect(),
        })
        .collect())
}

/// [`Catalog`] over the database, for one account.
pub struct DatabaseCatalog {
    db: DatabaseConnection,
    scope: AccountScope,
    sql: Arc<DatasetSql>,
}

impl DatabaseCatalog {
    /// The datasets of `scope`'s account, queried with `p`'s SQL service.
    pub fn new(p: &Pipeline, scope: AccountScope) -> Self {
        Self { db: p.db.clone(), scope, sql: p.dataset_sql.clone() }
    }

    async fn ready(&self, id: Uuid) -> Result<dataset::Model, CatalogError> {
        ready_dataset(&self.db, self.scope, id).await.map_err(|e| match e {
            TableLookup::Missing => CatalogError::UnknownDataset(id),
            TableLookup::NotReady(status) => CatalogError::NotReady { id, status: status.as_str() },
            TableLookup::Db(e) => e.into(),
        })
    }

    async fn table(&self, id: Uuid) -> Result<DatasetTable, CatalogError> {
        self.ready(id).await.map(|found| DatasetTable::of(&found))
    }
}

#[async_trait]
impl Catalog for DatabaseCatalog {
    fn engine(&self) -> Engine {
        self.sql.engine()
    }

    async fn datasets(&self) -> Result<Vec<DatasetEntry>, CatalogError> {
        let found = self
            .scope
            .find::<dataset::Entity>()
            .filter(dataset::Column::Status.eq(DatasetStatus::Ready.as_str()))
            .order_by_asc(dataset::Column::Name)
            .limit(MAX_LISTED as u64)
            .all(&self.scope.on(&self.db))
            .await?;
        Ok(found.iter().map(DatasetEntry::of).collect())
    }

    async fn dataset(&self, id: Uuid) -> Result<DatasetEntry, CatalogError> {
        self.ready(id).await.map(|found| DatasetEntry::of(&found))
    }

    async fn profile(&self, id: Uuid) -> Result<Profile, CatalogError> {
        let found = self.ready(id).await?;
        found.profile.and_then(|json| serde_json::from_value::<Profile>(json).ok()).ok_or(CatalogError::NoProfile(id))
    }

    async fn check(&self, id: Uuid, sql: &str) -> Result<String, CatalogError> {
        let table = self.table(id).await?;
        self.sql.validate(&table, sql).map(|checked| checked.sql().to_owned()).map_err(CatalogError::Refused)
    }

    async fn query(&self, id: Uuid, sql: &str) -> Result<Answer, CatalogError> {
        let table = self.table(id).await?;
        let checked = self.sql.validate(&table, sql).map_err(CatalogError::Refused)?;
        self.sql.run(&table, &checked).await.map_err(|e| match e {
            SqlError::Refused(refusal) => CatalogError::Refused(refusal),
            SqlError::Execute(e) => CatalogError::Execute(e),
            // `run` translates nothing; kept total rather than panicking.
            SqlError::Unanswerable(e) => CatalogError::Unavailable(e.to_string()),
        })
    }
}
