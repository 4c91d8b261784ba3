//! Where datasets live, how large an upload may be and how long a model
//! may train, from configuration.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The default cap on one uploaded file: 200 MiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 200 * 1024 * 1024;

/// The default time limit of one training job: 30 minutes (seed 001 P18).
pub const DEFAULT_TRAINING_TIME_LIMIT: Duration = Duration::from_secs(30 * 60);

/// Datasets' settings, shared by the API (uploads) and the worker (loads).
#[derive(Debug, Clone)]
pub struct DatasetSettings {
    /// The server's data directory: uploads are kept under
    /// `<data_dir>/datasets/sources`, SQLite dataset files in
    /// `<data_dir>/datasets`. Workers must see the same directory as the
    /// API (one host, or a shared volume).
    pub data_dir: PathBuf,
    /// The most bytes one uploaded file may have (`datasets.max_upload_bytes`).
    pub max_upload_bytes: u64,
    /// The longest a `TRAINING` job may run, from its first start
    /// (`datasets.training_time_limit_secs`); past it the job fails.
    pub training_time_limit: Duration,
}

impl Default for DatasetSettings {
    /// `data` (relative to the working directory), 200 MiB, 30 minutes.
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            training_time_limit: DEFAULT_TRAINING_TIME_LIMIT,
        }
    }
}

impl DatasetSettings {
    /// `<data_dir>/datasets`.
    pub fn root(&self) -> PathBuf {
        root(&self.data_dir)
    }
}

/// `<data_dir>/datasets`.
pub fn root(data_dir: &Path) -> PathBuf {
    data_dir.join("datasets")
}
