//! `exportDashboard` (seed 001 P33): the dashboard drawn as it is now and
//! written as a PNG or a PDF under `<data_dir>/exports/<account>/`, with a
//! row saying whose it is and until when; the answer is a signed link
//! (`alatar_agents::dashboards::download`) the server serves until it
//! expires (`dashboards.export_ttl_secs`). Every member may export, as
//! every member may read. Expired files of the account are swept on its
//! next export, and go with their dashboard.

use std::path::{Path, PathBuf};

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use alatar_agents::dashboards::download::DownloadSigner;
use alatar_agents::dashboards::export::{ExportFormat, export};
use alatar_agents::datasets::sql::DatasetSql;
use alatar_agents::pipeline::Pipeline;
use alatar_entity::{AccountScope, dashboard_export};

use super::render::dashboard_svg;
use super::{get_dashboard, visualizations_of};
use crate::error::{ApiError, ApiResult};

/// A file made, with the link that downloads it.
#[derive(Debug, Clone)]
pub struct Exported {
    /// Its row.
    pub export: dashboard_export::Model,
    /// Path and query of its signed download link.
    pub url: String,
}

/// Where account `account_id`'s exports are kept.
pub fn account_dir(data_dir: &Path, account_id: Uuid) -> PathBuf {
    data_dir.join("exports").join(account_id.to_string())
}

/// Draws one of the account's dashboards and writes it as `format`.
pub async fn export_dashboard(
    p: &Pipeline,
    sql: &DatasetSql,
    signer: &DownloadSigner,
    scope: AccountScope,
    created_by: Uuid,
    dashboard_id: Uuid,
    format: ExportFormat,
) -> ApiResult<Exported> {
    let dashboard = get_dashboard(p, scope, dashboard_id).await?;
    sweep(p, scope).await?;
    let charts = visualizations_of(p, scope, dashboard.id).await?;
    let svg = dashboard_svg(p, sql, scope, &dashboard, &charts).await?;
    let title = dashboard.name.clone();
    let bytes = tokio::task::spawn_blocking(move || export(&svg, &title, format))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let id = Uuid::now_v7();
    let dir = account_dir(&p.datasets.data_dir, scope.account_id());
    tokio::fs::create_dir_all(&dir).await.map_err(ApiError::internal)?;
    let path = dir.join(format!("{id}.{}", format.extension()));
    tokio::fs::write(&path, &bytes).await.map_err(ApiError::internal)?;
    let now = Utc::now();
    let ttl = chrono::Duration::from_std(signer.ttl).unwrap_or(chrono::Duration::minutes(15));
    let expires_at = now + ttl;
    let saved = dashboard_export::Entity::insert(dashboard_export::ActiveModel {
        id: Set(id),
        account_id: Set(scope.account_id()),
        dashboard_id: Set(dashboard.id),
        format: Set(format.as_str().to_owned()),
        bytes: Set(i64::try_from(bytes.len()).unwrap_or(i64::MAX)),
        path: Set(path.to_string_lossy().into_owned()),
        created_by: Set(created_by),
        created_at: Set(now),
        expires_at: Set(expires_at),
    })
    .exec_with_returning(&p.db)
    .await;
    match saved {
        Ok(export) => Ok(Exported { url: signer.url(id, expires_at), export }),
        Err(e) => {
            // The dashboard went meanwhile (the row's foreign key): no file without its row.
            remove_files(vec![path]).await;
            Err(ApiError::internal(e))
        }
    }
}

/// Deletes the account's expired exports and their files.
async fn sweep(p: &Pipeline, scope: AccountScope) -> ApiResult<()> {
    let now = Utc::now();
    let expired: Vec<(Uuid, String)> = scope
        .find::<dashboard_export::Entity>()
        .select_only()
        .columns([dashboard_export::Column::Id, dashboard_export::Column::Path])
        .filter(dashboard_export::Column::ExpiresAt.lte(now))
        .into_tuple()
        .all(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?;
    if expired.is_empty() {
        return Ok(());
    }
    scope
        .delete_many::<dashboard_export::Entity>()
        .filter(dashboard_export::Column::Id.is_in(expired.iter().map(|(id, _)| *id)))
        .exec(&scope.on(&p.db))
        .await
        .map_err(ApiError::internal)?;
    remove_files(expired.into_iter().map(|(_, path)| PathBuf::from(path)).collect()).await;
    Ok(())
}

/// The files of the account's exports (of one dashboard, when given).
pub async fn files_of(p: &Pipeline, scope: AccountScope, dashboard_id: Option<Uuid>) -> ApiResult<Vec<PathBuf>> {
    let mut query = scope.find::<dashboard_export::Entity>().select_only().column(dashboard_export::Column::Path);
    if let Some(id) = dashboard_id {
        query = query.filter(dashboard_export::Column::DashboardId.eq(id));
    }
    let paths: Vec<String> = query.into_tuple().all(&scope.on(&p.db)).await.map_err(ApiError::internal)?;
    Ok(paths.into_iter().map(PathBuf::from).collect())
}

/// Removes files; one already gone is no failure.
pub async fn remove_files(paths: Vec<PathBuf>) {
    for path in paths {
        if let Err(e) = tokio::fs::remove_file(&path).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), error = %e, "could not remove an exported dashboard file");
        }
    }
}

/// Export `id` for its download, once its link's signature was checked;
/// `None` when it is gone (swept, or its dashboard deleted).
pub async fn for_download(db: &DatabaseConnection, id: Uuid) -> ApiResult<Option<dashboard_export::Model>> {
    // One of the lookups by a secret the caller holds (ARCHITECTURE.md):
    // the link's signature over this id, checked by the caller.
    dashboard_export::Entity::find_by_id(id).one(db).await.map_err(ApiError::internal)
}
