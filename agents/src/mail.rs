//! Mail: the `Mailer` port and its two implementations side by side.
//!
//! - [`smtp::SmtpMailer`]: production, an SMTP server named by URL
//!   (`smtp://`, `smtps://`, STARTTLS with `?tls=required`).
//! - [`files::FileMailer`]: embedded, each message written as an `.eml` file
//!   into the data directory (as Django's file backend does), for a server
//!   run without a mail server; the path is logged so that its operator can
//!   open it.
//!
//! Messages are plain text built here, so every implementation sends the
//! same bytes apart from the envelope.

pub mod files;
pub mod smtp;

use lettre::Message;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;

/// One message to one person.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The recipient's address, already validated by the caller.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
}

/// Why a message could not be handed over.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// An address did not parse (the sender in configuration, or the recipient).
    #[error("bad address {0}: {1}")]
    Address(String, String),
    /// The transport refused or failed.
    #[error("mail transport: {0}")]
    Transport(String),
}

/// Sends mail.
#[async_trait::async_trait]
pub trait Mailer: Send + Sync {
    /// Hands `mail` over for delivery; returns where it went (a message id
    /// or a file path), for the log.
    async fn send(&self, mail: &Mail) -> Result<String, MailError>;
}

/// The RFC 5322 message for `mail` from `from`.
pub(crate) fn message(from: &Mailbox, mail: &Mail) -> Result<Message, MailError> {
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|e: lettre::address::AddressError| MailError::Address(mail.to.clone(), e.to_string()))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject.clone())
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body.clone())
        .map_err(|e| MailError::Transport(e.to_string()))
}

/// Parses the configured sender (`Name <address>` or a bare address).
pub fn sender(from: &str) -> Result<Mailbox, MailError> {
    from.parse().map_err(|e: lettre::address::AddressError| MailError::Address(from.to_owned(), e.to_string()))
}
