//! The embedded mailer: `.eml` files in a directory.

use std::path::PathBuf;

use lettre::message::Mailbox;
use lettre::{AsyncFileTransport, AsyncTransport, Tokio1Executor};

use super::{Mail, MailError, Mailer, message};

/// Writes each message to `<dir>/<id>.eml`, creating `dir` when missing.
pub struct FileMailer {
    from: Mailbox,
    dir: PathBuf,
    transport: AsyncFileTransport<Tokio1Executor>,
}

impl FileMailer {
    /// A mailer writing into `dir`, as `from`.
    pub fn new(dir: PathBuf, from: Mailbox) -> Self {
        Self { from, transport: AsyncFileTransport::new(&dir), dir }
    }
}

#[async_trait::async_trait]
impl Mailer for FileMailer {
    async fn send(&self, mail: &Mail) -> Result<String, MailError> {
        let message = message(&self.from, mail)?;
        tokio::fs::create_dir_all(&self.dir).await.map_err(|e| MailError::Transport(e.to_string()))?;
        let id = self.transport.send(message).await.map_err(|e| MailError::Transport(e.to_string()))?;
        Ok(self.dir.join(format!("{id}.eml")).display().to_string())
    }
}
