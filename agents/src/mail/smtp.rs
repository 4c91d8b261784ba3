//! The production mailer: an SMTP server.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{Mail, MailError, Mailer, message};

/// Sends through the SMTP server of a URL: `smtps://user:pass@host:465`
/// (TLS from the first byte), `smtp://user:pass@host:587?tls=required`
/// (STARTTLS), or `smtp://host:25` (plain, for a relay on the same host).
pub struct SmtpMailer {
    from: Mailbox,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl SmtpMailer {
    /// A mailer for `url`, sending as `from`; a send gives up after `timeout`.
    pub fn new(url: &str, from: Mailbox, timeout: Duration) -> Result<Self, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailError::Transport(e.to_string()))?
            .timeout(Some(timeout))
            .build();
        Ok(Self { from, transport })
    }
}

#[async_trait::async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &Mail) -> Result<String, MailError> {
        let response =
            self.transport.send(message(&self.from, mail)?).await.map_err(|e| MailError::Transport(e.to_string()))?;
        Ok(response.message().collect::<Vec<_>>().join(" "))
    }
}
