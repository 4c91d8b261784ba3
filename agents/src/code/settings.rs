//! How repositories are fetched and how much of one is read.

use std::path::PathBuf;
use std::time::Duration;

/// Repository analysis settings (`code.*` in the configuration).
#[derive(Debug, Clone)]
pub struct CodeSettings {
    /// Whether `file://` URLs (repositories on this machine) may be
    /// analysed; off by default, on in tests that create repositories.
    pub allow_local_repositories: bool,
    /// Whether hosts resolving to loopback, private, link-local or other
    /// non-public addresses may be cloned from (SSRF); off by default.
    pub allow_private_addresses: bool,
    /// Longest a clone may take.
    pub clone_timeout: Duration,
    /// Largest checkout, in bytes on disk; the clone stops past it.
    pub max_repository_bytes: u64,
    /// Most files read from a checkout.
    pub max_files: usize,
    /// Largest file whose text is read (bigger ones are counted only).
    pub max_file_bytes: u64,
    /// Where checkouts are made (each in a directory of its own, removed
    /// after the analysis).
    pub work_dir: PathBuf,
}

impl Default for CodeSettings {
    fn default() -> Self {
        Self {
            allow_local_repositories: false,
            allow_private_addresses: false,
            clone_timeout: Duration::from_secs(120),
            max_repository_bytes: 500 * 1024 * 1024,
            max_files: 20_000,
            max_file_bytes: 1024 * 1024,
            work_dir: std::env::temp_dir().join("alatar-repositories"),
        }
    }
}
