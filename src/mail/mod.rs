//! Outgoing email. Requests never send: they enqueue a `mail.send` job in their transaction, and
//! a worker hands the message to the configured transport: SMTP, or `.eml` files under
//! `<data_dir>/outbox/` (the default, so a new installation shows what it would send).

pub mod templates;

use std::{path::PathBuf, time::Duration};

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, MultiPart},
    transport::smtp::authentication::Credentials,
};
use serde::{Deserialize, Serialize};

pub use templates::{Branding, Rendered, Template};

use crate::{
    config::{Config, MailTransportKind, SmtpTls},
    db::Tx,
    error::ApiError,
    ids::TenantId,
    jobs::{self, EnqueueOptions, Job, JobContext, JobError, JobId, JobRegistry},
};

/// A rendered message waiting for delivery.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutgoingEmail {
    /// `user@example.com` or `Name <user@example.com>`.
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The sender's name (the marketplace's), with the deployment's address.
    #[serde(default)]
    pub from_name: Option<String>,
    #[serde(default)]
    pub reply_to: Option<String>,
}

impl OutgoingEmail {
    pub fn compose(
        to: impl Into<String>,
        template: &Template,
        brand: &Branding,
    ) -> Result<Self, ApiError> {
        let Rendered {
            subject,
            text,
            html,
        } = templates::render(template, brand).map_err(ApiError::internal)?;
        Ok(Self {
            to: to.into(),
            subject,
            text,
            html,
            from_name: Some(brand.display_name.clone()),
            reply_to: brand.reply_to.clone(),
        })
    }
}

/// Queues `email` for delivery in the caller's transaction; with a `unique_key`, at most once
/// per key (for handlers that may run again).
pub async fn enqueue(
    tx: &mut Tx,
    tenant: Option<TenantId>,
    email: OutgoingEmail,
    unique_key: Option<String>,
) -> Result<Option<JobId>, ApiError> {
    if email.to.parse::<Mailbox>().is_err() {
        return Err(ApiError::validation(
            "email",
            "is not a deliverable address",
        ));
    }
    jobs::enqueue(
        tx,
        &SendEmail { email },
        EnqueueOptions {
            tenant,
            unique_key,
            ..EnqueueOptions::default()
        },
    )
    .await
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SendEmail {
    pub email: OutgoingEmail,
}

impl Job for SendEmail {
    const KIND: &'static str = "mail.send";
    const MAX_ATTEMPTS: u32 = 8;
    const TIMEOUT: Duration = Duration::from_secs(60);
}

pub fn register_jobs(registry: &mut JobRegistry) {
    registry.register(send_email);
}

async fn send_email(context: JobContext, job: SendEmail) -> Result<(), JobError> {
    context
        .state
        .mailer
        .send(&job.email, &context.job_id.to_string())
        .await
}

enum Transport {
    Outbox(PathBuf),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

pub struct Mailer {
    from: Mailbox,
    transport: Transport,
}

impl Mailer {
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let from = config
            .mail_from
            .parse::<Mailbox>()
            .map_err(|err| format!("STAYBASE_MAIL_FROM: {err}"))?;
        let transport = match config.mail_transport {
            MailTransportKind::File => Transport::Outbox(config.data_dir.join("outbox")),
            MailTransportKind::Smtp => {
                let host = config
                    .smtp_host
                    .as_deref()
                    .ok_or("STAYBASE_SMTP_HOST is required for SMTP")?;
                let builder = match config.smtp_tls {
                    SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host),
                    SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host),
                    SmtpTls::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                        host,
                    )),
                }
                .map_err(|err| format!("STAYBASE_SMTP_HOST: {err}"))?;
                let mut builder = builder
                    .port(config.smtp_port)
                    .timeout(Some(Duration::from_secs(20)));
                if let (Some(user), Some(password)) = (&config.smtp_username, &config.smtp_password)
                {
                    builder = builder
                        .credentials(Credentials::new(user.clone(), password.expose().to_owned()));
                }
                Transport::Smtp(builder.build())
            }
        };
        Ok(Self { from, transport })
    }

    /// Delivers `email`; `key` identifies the delivery (the job id), so a retried delivery
    /// reuses the Message-ID and, in the outbox, the file name.
    pub async fn send(&self, email: &OutgoingEmail, key: &str) -> Result<(), JobError> {
        let to = email
            .to
            .parse::<Mailbox>()
            .map_err(|err| JobError::Permanent(format!("bad recipient: {err}")))?;
        let from = match &email.from_name {
            Some(name) => Mailbox::new(Some(name.clone()), self.from.email.clone()),
            None => self.from.clone(),
        };
        let mut message = Message::builder().from(from).to(to);
        if let Some(reply_to) = &email.reply_to {
            let reply_to = reply_to
                .parse::<Mailbox>()
                .map_err(|err| JobError::Permanent(format!("bad Reply-To: {err}")))?;
            message = message.reply_to(reply_to);
        }
        let message = message
            .subject(email.subject.clone())
            .message_id(Some(format!("<{key}@{}>", self.from.email.domain())))
            .date_now()
            .multipart(MultiPart::alternative_plain_html(
                email.text.clone(),
                email.html.clone(),
            ))
            .map_err(|err| JobError::Permanent(format!("message cannot be built: {err}")))?;
        match &self.transport {
            Transport::Outbox(dir) => write_to_outbox(dir, key, &message.formatted()).await,
            Transport::Smtp(smtp) => smtp.send(message).await.map(drop).map_err(|err| {
                if err.is_permanent() {
                    JobError::Permanent(format!("SMTP refused the message: {err}"))
                } else {
                    JobError::Retry(format!("SMTP delivery failed: {err}"))
                }
            }),
        }
    }
}

/// Writes `<dir>/<key>.eml` atomically (temporary file, then rename in the same directory).
async fn write_to_outbox(dir: &std::path::Path, key: &str, bytes: &[u8]) -> Result<(), JobError> {
    let io = |err: std::io::Error| JobError::Retry(format!("outbox {}: {err}", dir.display()));
    tokio::fs::create_dir_all(dir).await.map_err(io)?;
    let partial = dir.join(format!(".{key}.eml.partial"));
    tokio::fs::write(&partial, bytes).await.map_err(io)?;
    tokio::fs::rename(&partial, dir.join(format!("{key}.eml")))
        .await
        .map_err(io)
}
