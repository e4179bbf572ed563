//! `everreach segments list|preview|refresh|members`: a tenant's segments from the
//! command line, for scripts (`everreach_core::segments`): the list with member
//! counts; a definition file previewed without saving (its errors by JSON pointer);
//! members refreshed now (one segment or all, with their insights, as the hourly
//! job does); and every member written out as CSV or JSON lines, a page at a time.

use std::io::Write;

use anyhow::{Context, bail};
use everreach_core::accounts::store::lookup_user_id;
use everreach_core::db::tenant::TenantTx;
use everreach_core::db::{Database, DbTarget};
use everreach_core::error::DomainError;
use everreach_core::segments::store;
use everreach_core::segments::{Scope, refresh};
use uuid::Uuid;

use crate::SegmentsCommand;

async fn user(db: &Database, email: &str) -> anyhow::Result<Uuid> {
    lookup_user_id(&db.app, email).await?.ok_or_else(|| {
        anyhow::anyhow!("no user has the e-mail {email:?}; create one with `everreach user create`")
    })
}

/// A domain error as the CLI says it: each invalid field on its own line.
fn said(e: DomainError) -> anyhow::Error {
    match e {
        DomainError::Invalid(problems) => anyhow::anyhow!(
            "the definition is not valid:\n{}",
            problems
                .iter()
                .map(|(at, why)| format!("  {at}: {why}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
        DomainError::NotFound => anyhow::anyhow!("no such segment of this user's"),
        other => anyhow::anyhow!("{other}"),
    }
}

fn segment_id(s: &str) -> anyhow::Result<Uuid> {
    s.parse()
        .with_context(|| format!("{s:?} is not a segment id (see `everreach segments list`)"))
}

/// A CSV field, quoted when it must be.
fn csv(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

pub async fn run(target: DbTarget, command: SegmentsCommand) -> anyhow::Result<()> {
    let db = Database::open(target).await?;
    let mut out = std::io::stdout().lock();
    match command {
        SegmentsCommand::List { email } => {
            let user_id = user(&db, &email).await?;
            let mut tx = TenantTx::begin(&db.app, user_id).await?;
            let segments = store::list(&mut tx).await.map_err(said)?;
            tx.commit().await?;
            writeln!(out, "{:<36}  {:>9}  name", "id", "members")?;
            for s in segments {
                writeln!(out, "{:<36}  {:>9}  {}", s.id, s.members, s.name)?;
            }
        }
        SegmentsCommand::Preview { email, file, limit } => {
            let user_id = user(&db, &email).await?;
            let text = if file == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&file).with_context(|| format!("reading {file}"))?
            };
            let definition: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                anyhow::anyhow!("{file}:{}:{}: not JSON: {e}", e.line(), e.column())
            })?;
            let mut tx = TenantTx::begin(&db.app, user_id).await?;
            // the pointers are the file's own (the API's sit under /definition)
            let preview = store::preview(&mut tx, &definition, limit)
                .await
                .map_err(|e| match e {
                    DomainError::Invalid(problems) => DomainError::Invalid(
                        problems
                            .into_iter()
                            .map(|(at, why)| {
                                let at = at.strip_prefix("/definition").unwrap_or(&at);
                                (if at.is_empty() { "/" } else { at }.to_owned(), why)
                            })
                            .collect(),
                    ),
                    other => other,
                })
                .map_err(|e| anyhow::anyhow!("{file}: {}", said(e)))?;
            tx.commit().await?;
            writeln!(out, "{} people match", preview.count)?;
            for m in preview.members {
                writeln!(
                    out,
                    "{}  {}  {}",
                    m.person_id,
                    m.full_name.unwrap_or_default(),
                    m.primary_email.unwrap_or_default()
                )?;
            }
        }
        SegmentsCommand::Refresh { email, id, all } => {
            let user_id = user(&db, &email).await?;
            match (id, all) {
                (Some(id), false) => {
                    let id = segment_id(&id)?;
                    let mut tx = TenantTx::begin(&db.app, user_id).await?;
                    let done = store::refresh(&mut tx, id, Scope::All)
                        .await
                        .map_err(said)?;
                    tx.commit().await?;
                    writeln!(
                        out,
                        "{} entered, {} left, {} members",
                        done.entered, done.left, done.members
                    )?;
                }
                (None, true) => {
                    let done = refresh::refresh_tenant(&db.app, user_id)
                        .await
                        .map_err(said)?;
                    writeln!(
                        out,
                        "{} segments refreshed with their insights: {} entered, {} left",
                        done.segments, done.entered, done.left
                    )?;
                }
                _ => bail!("give one segment id, or --all"),
            }
        }
        SegmentsCommand::Members { email, id, json } => {
            let user_id = user(&db, &email).await?;
            let id = segment_id(&id)?;
            if !json {
                writeln!(out, "person_id,full_name,primary_email,added_at")?;
            }
            let mut before = None;
            loop {
                let mut tx = TenantTx::begin(&db.app, user_id).await?;
                let page = store::members(&mut tx, id, 500, before)
                    .await
                    .map_err(said)?;
                tx.commit().await?;
                for m in &page {
                    if json {
                        writeln!(out, "{}", serde_json::to_string(m)?)?;
                    } else {
                        writeln!(
                            out,
                            "{},{},{},{}",
                            m.person_id,
                            csv(m.full_name.as_deref().unwrap_or_default()),
                            csv(m.primary_email.as_deref().unwrap_or_default()),
                            m.added_at.map(|t| t.to_rfc3339()).unwrap_or_default()
                        )?;
                    }
                }
                match page.last() {
                    Some(last) if page.len() == 500 => {
                        before = last.added_at.map(|t| (t, last.person_id));
                        if before.is_none() {
                            break;
                        }
                    }
                    _ => break,
                }
            }
        }
    }
    out.flush()?;
    Ok(())
}
