//! The open-file limit (`RLIMIT_NOFILE`). Every connection is a descriptor,
//! and the common soft limit of 1,024 ran out at 1,100 slow clients: the
//! soft limit is raised to the hard one at start-up, and the connection cap
//! is held under whatever limit is in force.

/// Raises the soft open-file limit to the hard limit where the system
/// allows, and logs the limit in force.
pub fn raise_descriptor_limit() {
    imp::raise();
}

/// The soft open-file limit in force; `None` when unlimited or unknown.
pub(super) fn descriptor_limit() -> Option<u64> {
    imp::soft()
}

#[cfg(unix)]
mod imp {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

    /// What an unlimited hard limit is raised to: Linux refuses more than
    /// `fs.nr_open` (1,048,576 by default), macOS more than its `OPEN_MAX`.
    const UNLIMITED_TARGET: u64 = 1 << 20;

    pub(super) fn soft() -> Option<u64> {
        getrlimit(Resource::Nofile).current
    }

    pub(super) fn raise() {
        let limit = getrlimit(Resource::Nofile);
        let hard = limit.maximum;
        let Some(soft) = limit.current else {
            tracing::info!("open-file limit: unlimited");
            return;
        };
        let target = hard.unwrap_or(UNLIMITED_TARGET);
        if target <= soft {
            tracing::info!(soft, hard = ?hard, "open-file limit");
            return;
        }
        match setrlimit(Resource::Nofile, Rlimit { current: Some(target), maximum: hard }) {
            Ok(()) => tracing::info!(soft = target, previous = soft, hard = ?hard, "raised the open-file limit"),
            // Not fatal: the connection cap follows the limit that stays.
            Err(e) => tracing::warn!(soft, hard = ?hard, error = %e, "could not raise the open-file limit"),
        }
    }
}

#[cfg(not(unix))]
mod imp {
    pub(super) fn soft() -> Option<u64> {
        None
    }

    pub(super) fn raise() {
        tracing::info!("open-file limit: not managed on this platform");
    }
}
