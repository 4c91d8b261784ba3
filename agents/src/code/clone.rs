//! Cloning with the system `git`: shallow (`--depth 1 --single-branch`,
//! no tags), never prompting (`GIT_TERMINAL_PROMPT=0`, an askpass that
//! answers nothing), with no system or user configuration, no hooks (no
//! template, `core.hooksPath=/dev/null`), no symlinks in the checkout
//! (`core.symlinks=false` writes a link as a small file holding its
//! target), no submodules, no LFS downloads, no redirects (a redirect could
//! lead to a host that was never checked), only the protocol the source
//! allows, and the host's checked addresses pinned. A time limit and a
//! size cap (the checkout's bytes on disk, watched while git runs) stop
//! a clone that would take too long or fill the disk; git is killed, and
//! the directory removed.
//!
//! A reference that is a full commit id is fetched by id (`git fetch
//! --depth 1 <url> <sha>`, which GitHub serves); any other is a branch or
//! tag (`--branch`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use uuid::Uuid;

use super::settings::CodeSettings;
use super::source::Source;

/// How often the checkout's size is looked at while git runs.
const WATCH_EVERY: Duration = Duration::from_millis(250);

/// Why a clone failed.
#[derive(Debug, thiserror::Error)]
pub enum CloneError {
    /// Git could not clone it (not found, no such reference, refused).
    #[error("git could not clone the repository: {0}")]
    Git(String),
    /// Over the time limit.
    #[error("the clone took longer than {0} s (code.clone_timeout_secs) and was stopped")]
    Timeout(u64),
    /// Over the size cap.
    #[error("the repository is larger than {0} MB (code.max_repository_mb) and was not analysed")]
    TooLarge(u64),
    /// The machine failed (no git, no disk).
    #[error("the clone could not run: {0}")]
    Io(#[from] std::io::Error),
}

impl CloneError {
    /// Whether a retry could succeed (the machine's fault, not the
    /// repository's).
    pub fn is_transient(&self) -> bool {
        matches!(self, CloneError::Io(_))
    }
}

/// A checkout, removed when dropped.
#[derive(Debug)]
pub struct Checkout {
    /// Its root.
    pub dir: PathBuf,
    /// The commit checked out.
    pub commit: String,
}

impl Drop for Checkout {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether `reference` is a full commit id.
fn is_commit(reference: &str) -> bool {
    reference.len() == 40 && reference.chars().all(|c| c.is_ascii_hexdigit())
}

/// Whether `reference` may be passed to git: no option, no revision syntax.
pub fn valid_reference(reference: &str) -> bool {
    !reference.is_empty()
        && reference.len() <= 200
        && !reference.starts_with('-')
        && !reference.contains("..")
        && reference.chars().all(|c| c.is_ascii_alphanumeric() || "._-/+".contains(c))
}

/// A git command with the environment and settings of the module doc.
fn git(source: &Source, home: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "/bin/false")
        .env("SSH_ASKPASS", "/bin/false")
        .env("GIT_LFS_SKIP_SMUDGE", "1")
        .env("GIT_PROTOCOL_FROM_USER", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut settings = vec![
        "core.hooksPath=/dev/null".to_owned(),
        "core.symlinks=false".to_owned(),
        "core.fsmonitor=false".to_owned(),
        "submodule.recurse=false".to_owned(),
        "http.followRedirects=false".to_owned(),
        "http.lowSpeedLimit=1000".to_owned(),
        "http.lowSpeedTime=30".to_owned(),
        "credential.helper=".to_owned(),
        "protocol.allow=never".to_owned(),
    ];
    match source {
        Source::Remote { pins, .. } => {
            settings.push("protocol.https.allow=always".to_owned());
            settings.extend(pins.iter().map(|pin| format!("http.curloptResolve={pin}")));
        }
        Source::Local(_) => settings.push("protocol.file.allow=always".to_owned()),
    }
    for setting in settings {
        command.arg("-c").arg(setting);
    }
    command
}

/// Bytes under `dir` (symlinks not followed).
fn size_of(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&next) else { continue };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total += meta.len();
            }
        }
    }
    total
}

/// Runs `command` to its end within the checkout's limits.
async fn run(mut command: Command, dir: &Path, settings: &CodeSettings) -> Result<(), CloneError> {
    let mut child = command.spawn()?;
    let mut stderr = child.stderr.take();
    let collect = tokio::spawn(async move {
        let mut text = String::new();
        if let Some(stderr) = stderr.as_mut() {
            use tokio::io::AsyncReadExt;
            let mut limited = stderr.take(64 * 1024);
            let _ = limited.read_to_string(&mut text).await;
        }
        text
    });
    let deadline = tokio::time::Instant::now() + settings.clone_timeout;
    let status = loop {
        match tokio::time::timeout(WATCH_EVERY, child.wait()).await {
            Ok(status) => break status?,
            Err(_) => {
                if tokio::time::Instant::now() >= deadline {
                    let _ = child.kill().await;
                    return Err(CloneError::Timeout(settings.clone_timeout.as_secs()));
                }
                let watched = dir.to_path_buf();
                let size = tokio::task::spawn_blocking(move || size_of(&watched)).await.unwrap_or(0);
                if size > settings.max_repository_bytes {
                    let _ = child.kill().await;
                    return Err(CloneError::TooLarge(settings.max_repository_bytes / (1024 * 1024)));
                }
            }
        }
    };
    let stderr = collect.await.unwrap_or_default();
    if status.success() {
        return Ok(());
    }
    let said: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let last = said.iter().rev().take(2).rev().copied().collect::<Vec<_>>().join(" ");
    Err(CloneError::Git(last.chars().take(500).collect()))
}

/// Clones `source` at `reference` (the default branch when none).
pub async fn clone(source: &Source, reference: Option<&str>, settings: &CodeSettings) -> Result<Checkout, CloneError> {
    tokio::fs::create_dir_all(&settings.work_dir).await?;
    let dir = settings.work_dir.join(Uuid::now_v7().to_string());
    let home = settings.work_dir.clone();
    // Removed whatever happens from here on.
    let mut checkout = Checkout { dir: dir.clone(), commit: String::new() };
    match reference.filter(|r| is_commit(r)) {
        Some(commit) => {
            let mut init = git(source, &home);
            init.arg("init").arg("--quiet").arg("--template=").arg(&dir);
            run(init, &dir, settings).await?;
            let mut fetch = git(source, &home);
            fetch.arg("-C").arg(&dir).args(["fetch", "--quiet", "--depth", "1", "--no-tags", "--"]);
            fetch.arg(source.clone_arg()).arg(commit);
            run(fetch, &dir, settings).await?;
            let mut switch = git(source, &home);
            switch.arg("-C").arg(&dir).args(["checkout", "--quiet", "--detach", "FETCH_HEAD"]);
            run(switch, &dir, settings).await?;
        }
        None => {
            let mut command = git(source, &home);
            command.args(["clone", "--quiet", "--depth", "1", "--single-branch", "--no-tags", "--template="]);
            if let Some(reference) = reference {
                command.arg("--branch").arg(reference);
            }
            command.arg("--").arg(source.clone_arg()).arg(&dir);
            run(command, &dir, settings).await?;
        }
    }
    let output =
        git(source, &home).arg("-C").arg(&dir).args(["rev-parse", "HEAD"]).stdout(Stdio::piped()).output().await?;
    checkout.commit = String::from_utf8_lossy(&output.stdout).trim().chars().take(64).collect();
    Ok(checkout)
}
