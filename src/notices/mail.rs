//! Sending email: through an SMTP server ([`SmtpRelay`]: lettre's protocol and TLS over
//! connections of our own), or, with no SMTP server configured (the embedded default), by
//! writing each message as an .eml file into the mail directory, which the register then
//! records as written, not sent.

use super::smtp::{SmtpError, SmtpRelay, SmtpUrlError};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use lettre::{AsyncFileTransport, AsyncTransport, Tokio1Executor};
use std::sync::Arc;

/// What an attempt came to, as the register keeps it.
#[derive(Clone, Debug)]
pub struct Sent {
    pub outcome: entity::AttemptOutcome,
    pub code: Option<i32>,
    pub reply: Option<String>,
    pub error: Option<String>,
    pub transport: &'static str,
}

/// A message to send.
#[derive(Clone, Debug)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub body: String,
    /// Without the angle brackets.
    pub message_id: String,
    /// RFC 8058 one-click unsubscribe (an HTTPS URL in production).
    pub unsubscribe_url: Option<String>,
}

impl Email {
    /// The bytes the content hash covers: what the recipient reads.
    pub fn content(&self) -> String {
        format!(
            "To: {}\nSubject: {}\n\n{}",
            self.to, self.subject, self.body
        )
    }
}

/// How messages leave.
#[derive(Clone)]
pub enum Mailer {
    Smtp(Arc<SmtpRelay>),
    Files {
        dir: std::path::PathBuf,
        transport: AsyncFileTransport<Tokio1Executor>,
    },
}

impl Mailer {
    /// The SMTP server at `smtp_url`, its certificate issued by a public root or one of those
    /// in `ca_file` (a PEM file; empty for none), keeping up to `connections` open between
    /// messages (as many as send at once); or the mail directory when the URL is empty.
    pub fn new(
        smtp_url: &str,
        ca_file: &str,
        mail_dir: &str,
        connections: usize,
    ) -> Result<Self, SmtpUrlError> {
        if smtp_url.is_empty() {
            return Ok(Self::Files {
                dir: mail_dir.into(),
                transport: AsyncFileTransport::new(mail_dir),
            });
        }
        let roots = match ca_file {
            "" => None,
            path => Some(std::fs::read(path).map_err(|source| SmtpUrlError::CaFile {
                path: path.to_owned(),
                source,
            })?),
        };
        Ok(Self::Smtp(Arc::new(SmtpRelay::from_url(
            smtp_url,
            roots.as_deref(),
            connections,
        )?)))
    }

    /// Closes the SMTP connections that have waited long for a message.
    pub async fn close_idle(&self) {
        if let Self::Smtp(relay) = self {
            relay.close_idle().await;
        }
    }

    /// Sends `email` from `from`: the server's reply, or where the file was written.
    pub async fn send(&self, from: &str, email: &Email) -> Sent {
        let message = match build(from, email) {
            Ok(message) => message,
            Err(err) => {
                return Sent {
                    outcome: entity::AttemptOutcome::Refused,
                    code: None,
                    reply: None,
                    error: Some(format!("the message cannot be built: {err}")),
                    transport: self.name(),
                };
            }
        };
        match self {
            Self::Smtp(relay) => match relay.send(message.envelope(), &message.formatted()).await {
                Ok(response) => Sent {
                    outcome: entity::AttemptOutcome::Accepted,
                    code: Some(i32::from(u16::from(response.code()))),
                    reply: Some(response.message().collect::<Vec<_>>().join(" ")),
                    error: None,
                    transport: "smtp",
                },
                Err(SmtpError::Protocol(err)) => Sent {
                    outcome: if err.is_permanent() {
                        entity::AttemptOutcome::Refused
                    } else {
                        entity::AttemptOutcome::Deferred
                    },
                    code: err.status().map(|c| i32::from(u16::from(c))),
                    reply: err.status().map(|_| err.to_string()),
                    error: err.status().is_none().then(|| err.to_string()),
                    transport: "smtp",
                },
                // Not reached, or no answer in time: tried again on the schedule.
                Err(err) => Sent {
                    outcome: entity::AttemptOutcome::Deferred,
                    code: None,
                    reply: None,
                    error: Some(err.to_string()),
                    transport: "smtp",
                },
            },
            Self::Files { dir, transport } => match async {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| e.to_string())?;
                transport.send(message).await.map_err(|e| e.to_string())
            }
            .await
            {
                Ok(id) => Sent {
                    outcome: entity::AttemptOutcome::Accepted,
                    code: None,
                    reply: Some(format!(
                        "written to {}/{id}.eml, not sent: no SMTP server is configured",
                        dir.display()
                    )),
                    error: None,
                    transport: "file",
                },
                Err(err) => Sent {
                    outcome: entity::AttemptOutcome::Deferred,
                    code: None,
                    reply: None,
                    error: Some(err.to_string()),
                    transport: "file",
                },
            },
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Smtp(_) => "smtp",
            Self::Files { .. } => "file",
        }
    }
}

fn build(from: &str, email: &Email) -> anyhow::Result<Message> {
    let mut builder = Message::builder()
        .from(from.parse::<Mailbox>()?)
        .to(email.to.parse::<Mailbox>()?)
        .subject(email.subject.clone())
        .message_id(Some(format!("<{}>", email.message_id)))
        .header(ContentType::TEXT_PLAIN);
    if let Some(url) = &email.unsubscribe_url {
        builder = builder
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{url}>"),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".into(),
            ));
    }
    Ok(builder.body(email.body.clone())?)
}
