//! Outgoing mail: verification, invitation and password-reset links. One [`Mailer`]
//! sends them all. Every mail is recorded in `mail_outbox` with its body sealed (it
//! holds a link that signs someone in, so it is never stored or logged in clear).
//! Without `EVERREACH_SMTP_URL` the outbox is where mail waits for the operator
//! (`everreach mail outbox`); with it, mail goes out over SMTP with TLS (`lettre`)
//! in the background, and the outbox records whether it went.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sqlx::PgPool;
use uuid::Uuid;

use crate::secrets::columns::installation_binding;
use crate::secrets::{Binding, Keyring};

/// One mail to one address, plain text.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error(
        "EVERREACH_SMTP_URL is not usable ({0}); expected smtps://USER:PASSWORD@HOST[:465] or smtp://USER:PASSWORD@HOST:587?tls=required"
    )]
    BadUrl(String),
    #[error(
        "EVERREACH_MAIL_FROM={0:?} is not a mailbox; expected `Name <address@example.com>` or an address"
    )]
    BadFrom(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// Sends mail; cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    pool: PgPool,
    keyring: Arc<Keyring>,
    smtp: Option<Arc<Smtp>>,
}

impl std::fmt::Debug for Mailer {
    // The transport holds the SMTP password: say only whether there is one.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("smtp", &self.smtp.is_some())
            .finish_non_exhaustive()
    }
}

/// How long one SMTP delivery may take before it counts as failed.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

impl Mailer {
    /// A mailer that only writes the outbox.
    pub fn outbox(pool: PgPool, keyring: Arc<Keyring>) -> Mailer {
        Mailer {
            pool,
            keyring,
            smtp: None,
        }
    }

    /// A mailer that delivers over SMTP. TLS is required (`smtps://`, or `smtp://` with
    /// `?tls=required`), except to a relay on this machine (loopback), which may be plain.
    pub fn smtp(
        pool: PgPool,
        keyring: Arc<Keyring>,
        url: &str,
        from: &str,
    ) -> Result<Mailer, MailError> {
        let from: Mailbox = from
            .parse()
            .map_err(|_| MailError::BadFrom(from.to_string()))?;
        let tls = url.starts_with("smtps://") || url.contains("tls=required");
        let loopback = url
            .split_once("://")
            .map(|(_, rest)| rest.rsplit_once('@').map_or(rest, |(_, host)| host))
            .is_some_and(|host| {
                host.starts_with("127.")
                    || host.starts_with("localhost")
                    || host.starts_with("[::1]")
            });
        if !tls && !loopback {
            return Err(MailError::BadUrl(
                "plain SMTP is allowed only to a relay on this machine".into(),
            ));
        }
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            // lettre's message may quote the URL, password included: say what is wrong without it
            .map_err(|_| MailError::BadUrl("the scheme, host or port cannot be read".into()))?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        Ok(Mailer {
            pool,
            keyring,
            smtp: Some(Arc::new(Smtp { transport, from })),
        })
    }

    /// Whether mail leaves this installation (SMTP) or waits in the outbox.
    pub fn delivers(&self) -> bool {
        self.smtp.is_some()
    }

    /// Sends `mail`. Without SMTP the mail is held in the outbox when this returns;
    /// with SMTP it is delivered in the background (so the caller's answer does not
    /// depend on it) and recorded in the outbox as sent or failed.
    pub async fn send(&self, mail: Mail) -> Result<(), MailError> {
        let Some(smtp) = self.smtp.clone() else {
            return self.record(&mail, "held", None).await;
        };
        let this = self.clone();
        tokio::spawn(async move {
            let (status, error) = match deliver(&smtp, &mail).await {
                Ok(()) => ("sent", None),
                Err(e) => {
                    let domain = mail.to.rsplit('@').next().unwrap_or("");
                    tracing::warn!(to_domain = domain, error = %e, "mail delivery failed; it is in the outbox as failed");
                    ("failed", Some(e))
                }
            };
            if let Err(e) = this.record(&mail, status, error.as_deref()).await {
                tracing::error!(error = %e, "could not record a mail in the outbox");
            }
        });
        Ok(())
    }

    async fn record(
        &self,
        mail: &Mail,
        status: &str,
        error: Option<&str>,
    ) -> Result<(), MailError> {
        let id = Uuid::now_v7();
        let body = self.keyring.seal(&mail.body, binding(id));
        sqlx::query(
            "INSERT INTO mail_outbox (id, to_address, subject, body, status, error) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(&mail.to)
        .bind(&mail.subject)
        .bind(body)
        .bind(status)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// A body is bound to its outbox row: copied to another row it does not open. The
/// outbox belongs to the installation (start-up and `keys rotate` read and re-seal it
/// with the tenants' secrets: `secrets::columns::INSTALLATION_COLUMNS`).
fn binding(id: Uuid) -> Binding<'static> {
    installation_binding("mail_outbox", "body", id)
}

async fn deliver(smtp: &Smtp, mail: &Mail) -> Result<(), String> {
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|_| format!("{:?} is not an address", mail.to))?;
    let message = Message::builder()
        .from(smtp.from.clone())
        .to(to)
        .subject(&mail.subject)
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body.clone())
        .map_err(|e| e.to_string())?;
    smtp.transport
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

type OutboxRow = (
    Uuid,
    String,
    String,
    String,
    String,
    Option<String>,
    DateTime<Utc>,
);

/// A mail as the outbox holds it, opened.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OutboxMail {
    pub id: Uuid,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub status: String,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The newest `limit` mails of the outbox (for `everreach mail outbox`; the app role
/// cannot read it, so `pool` is the admin's), optionally only those to `to`.
pub async fn read_outbox(
    pool: &PgPool,
    keyring: &Keyring,
    to: Option<&str>,
    limit: i64,
) -> Result<Vec<OutboxMail>, MailError> {
    let rows: Vec<OutboxRow> = sqlx::query_as(
        "SELECT id, to_address, subject, body, status, error, created_at FROM mail_outbox
              WHERE ($1::text IS NULL OR to_address = lower(btrim($1)))
              ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(to)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, to, subject, sealed, status, error, created_at)| OutboxMail {
                body: keyring
                    .open(&sealed, binding(id))
                    .unwrap_or_else(|e| format!("<cannot open: {e}>")),
                id,
                to,
                subject,
                status,
                error,
                created_at,
            },
        )
        .collect())
}
