//! Uploaded files, kept as they came: the source every (re)load of a
//! dataset reads, at `<data_dir>/datasets/sources/<dataset id>`. An upload
//! is copied from the request's temporary file into
//! `<data_dir>/datasets/staging` and renamed into place once whole and on
//! disk, so a source is never seen half-written.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use uuid::Uuid;

use super::parse::{PARQUET_MAGIC, SNIFF_BYTES};
use super::settings::root;

/// Where the source of dataset `id` is kept.
pub fn source_path(data_dir: &Path, id: Uuid) -> PathBuf {
    root(data_dir).join("sources").join(id.simple().to_string())
}

fn staging_dir(data_dir: &Path) -> PathBuf {
    root(data_dir).join("staging")
}

/// An upload in place.
#[derive(Debug, Clone)]
pub struct Staged {
    /// Its size in bytes.
    pub byte_size: u64,
    /// Its first bytes (up to 64 KiB), to tell its format by.
    pub head: Vec<u8>,
    /// Its last bytes (up to 4: where Parquet repeats its magic).
    pub tail: Vec<u8>,
}

/// Copies `upload` (read from its start) to the source of dataset `id`,
/// synced to disk before it takes its place; off the async runtime.
pub async fn stage(data_dir: &Path, id: Uuid, upload: File) -> io::Result<Staged> {
    let (staging, target) = (staging_dir(data_dir), source_path(data_dir, id));
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&staging)?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let part = staging.join(format!("{}.{}.part", id.simple(), Uuid::new_v4().simple()));
        let copied = copy_synced(upload, &part).and_then(|byte_size| {
            std::fs::rename(&part, &target)?;
            Ok(byte_size)
        });
        let byte_size = match copied {
            Ok(byte_size) => byte_size,
            Err(e) => {
                let _ = std::fs::remove_file(&part);
                return Err(e);
            }
        };
        let mut source = File::open(&target)?;
        let mut head = Vec::with_capacity(SNIFF_BYTES.min(byte_size as usize));
        (&mut source).take(SNIFF_BYTES as u64).read_to_end(&mut head)?;
        let back = byte_size.min(PARQUET_MAGIC.len() as u64);
        source.seek(SeekFrom::Start(byte_size - back))?;
        let mut tail = Vec::with_capacity(PARQUET_MAGIC.len());
        source.take(back).read_to_end(&mut tail)?;
        Ok(Staged { byte_size, head, tail })
    })
    .await
    .map_err(io::Error::other)?
}

/// `upload` copied to `path` (a kernel copy where the system has one) and
/// synced; its size.
fn copy_synced(mut upload: File, path: &Path) -> io::Result<u64> {
    upload.seek(SeekFrom::Start(0))?;
    let mut out = File::create(path)?;
    let byte_size = io::copy(&mut upload, &mut out)?;
    out.sync_all()?;
    Ok(byte_size)
}

/// Removes the source of dataset `id` (best effort: a source that is gone
/// already is fine, another failure is logged).
pub async fn remove(data_dir: &Path, id: Uuid) {
    let path = source_path(data_dir, id);
    match tokio::fs::remove_file(&path).await {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(dataset_id = %id, path = %path.display(), error = %e, "could not remove a dataset's source");
        }
    }
}
