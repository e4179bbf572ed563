//! `everreach import linkedin`: LinkedIn's "Get a copy of your data" export — its
//! `Connections.csv` alone, or the export's folder or zip holding it and
//! `messages.csv`.
//!
//! - **Connections** become people with a `linkedin` identity (the profile URL) and
//!   their e-mail when shared, company and position (filled, never overwritten), a
//!   002 contact per e-mail, and a `connected` event on the connected-on date
//!   ([`super::cards`]). A row with neither URL nor e-mail cannot name anyone and is
//!   rejected with its line.
//! - **Messages** become `dm_reply` (they wrote) and `dm_sent` (you wrote) events on
//!   the other person's timeline, keyed by conversation, time and sender so a second
//!   import stores each once. You are the profile in the most conversations; group
//!   conversations (more than one other person) and drafts are skipped.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;

use chrono::Utc;
use everreach_formats::Problem;
use everreach_formats::archive::{Limits, Tree};
use everreach_formats::table::linkedin;
use serde_json::json;
use uuid::Uuid;

use super::cards::{self, Card, CardEvent};
use super::{BATCH, ImportError, Progress, Report, Scratch, said};
use crate::people::model::{EventInput, IdentityRef, check_event};
use crate::people::{Channel, normalize_handle};

/// Largest CSV read from an export.
const MAX_CSV_BYTES: u64 = 512 * 1024 * 1024;

/// How to import.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub dry_run: bool,
    /// How problems name the file (an upload's name); default: its path.
    pub file_name: Option<String>,
}

fn named(path: &str, name: &str) -> bool {
    path.rsplit('/')
        .next()
        .is_some_and(|f| f.eq_ignore_ascii_case(name))
}

/// Imports `path` (a `Connections.csv`, or the export's folder or zip) for `user_id`.
pub async fn run(
    pool: &sqlx::PgPool,
    user_id: Uuid,
    path: &Path,
    opts: &Options,
    progress: &mut dyn Progress,
) -> Result<Report, ImportError> {
    let mut report = Report::new("linkedin", opts.dry_run);
    let shown = super::shown(opts.file_name.as_deref(), path);
    let is_csv = path.is_file()
        && std::fs::File::open(path)
            .ok()
            .and_then(|mut f| {
                let mut head = [0u8; 4];
                f.read_exact(&mut head).ok().map(|()| head)
            })
            .is_some_and(|h| &h != b"PK\x03\x04");
    if is_csv {
        progress.total(1, "files");
        let file = std::fs::File::open(path)
            .map_err(|e| ImportError::Input(format!("cannot be read: {e}")))?;
        report.files += 1;
        connections(pool, user_id, file, &shown, opts, &mut report).await?;
        progress.advance(1);
        return Ok(report);
    }
    let mut tree = Tree::open(path, &Limits::default())
        .map_err(|e| {
            ImportError::Input(format!(
                "{e} (give Connections.csv, or the export's folder or .zip)"
            ))
        })?
        .named(&shown);
    let find = |name: &str| {
        tree.entries()
            .iter()
            .find(|e| named(&e.path, name))
            .map(|e| e.path.clone())
    };
    let (conns, msgs) = (find("Connections.csv"), find("messages.csv"));
    if conns.is_none() && msgs.is_none() {
        return Err(ImportError::Input(
            "no Connections.csv or messages.csv in it: is this LinkedIn's data export?".into(),
        ));
    }
    progress.total(
        u64::from(conns.is_some()) + u64::from(msgs.is_some()),
        "files",
    );
    if let Some(p) = conns {
        report.files += 1;
        let label = tree.label(&p);
        let copy = Scratch::copy_out(&mut tree, &p, MAX_CSV_BYTES, &label)?;
        connections(pool, user_id, copy.open()?, &label, opts, &mut report).await?;
        progress.advance(1);
    }
    if let Some(p) = msgs {
        report.files += 1;
        let label = tree.label(&p);
        let copy = Scratch::copy_out(&mut tree, &p, MAX_CSV_BYTES, &label)?;
        messages(pool, user_id, &copy, &label, opts, &mut report).await?;
        progress.advance(1);
    }
    Ok(report)
}

async fn connections<R: Read>(
    pool: &sqlx::PgPool,
    user_id: Uuid,
    reader: R,
    label: &str,
    opts: &Options,
    report: &mut Report,
) -> Result<(), ImportError> {
    let rows = match linkedin::connections(reader, label) {
        Ok(rows) => rows,
        Err(p) => {
            report.reject("not a readable Connections.csv", p);
            return Ok(());
        }
    };
    let mut batch: Vec<Card> = Vec::with_capacity(BATCH);
    for row in rows {
        let c = match row {
            Ok(c) => c,
            Err(p) => {
                report.reject("a row that cannot be read", p);
                continue;
            }
        };
        batch.push(Card {
            file: label.to_string(),
            line: Some(c.line),
            first_name: Some(c.first_name.clone()),
            last_name: Some(c.last_name.clone()),
            emails: c.email.clone().into_iter().collect(),
            profiles: c
                .url
                .clone()
                .map(|u| (Channel::Linkedin, u))
                .into_iter()
                .collect(),
            company: c.company.clone(),
            title: c.position.clone(),
            source: "linkedin",
            event: c.connected_on.map(|d| CardEvent {
                channel: Channel::Linkedin,
                event_type: "connected",
                platform_id: "linkedin:connected".into(),
                occurred_at: d.and_hms_opt(12, 0, 0).unwrap_or_default().and_utc(),
                excerpt: None,
            }),
            ..Card::default()
        });
        if batch.len() == BATCH {
            cards::store_all(pool, user_id, &batch, opts.dry_run, report).await?;
            batch.clear();
        }
    }
    cards::store_all(pool, user_id, &batch, opts.dry_run, report).await?;
    Ok(())
}

/// Two passes over the file, so memory holds the conversations, never the
/// messages: the first finds you, the second stores [`BATCH`] events at a time.
async fn messages(
    pool: &sqlx::PgPool,
    user_id: Uuid,
    copy: &Scratch,
    label: &str,
    opts: &Options,
    report: &mut Report,
) -> Result<(), ImportError> {
    let rows = match linkedin::messages(copy.open()?, label) {
        Ok(rows) => rows,
        Err(p) => {
            report.reject("not a readable messages.csv", p);
            return Ok(());
        }
    };
    // You: the profile in the most conversations.
    let mut conversations: HashMap<String, u32> = HashMap::new();
    let mut seen: HashMap<String, HashSet<u32>> = HashMap::new();
    for m in rows.flatten().filter(|m| !m.draft) {
        let next = conversations.len() as u32;
        let conv = *conversations.entry(m.conversation_id).or_insert(next);
        for url in m.sender_profile_url.iter().chain(&m.recipient_profile_urls) {
            if let Ok(h) = normalize_handle(Channel::Linkedin, url) {
                seen.entry(h).or_default().insert(conv);
            }
        }
    }
    drop(conversations);
    let owner = seen
        .iter()
        .max_by_key(|(h, convs)| (convs.len(), std::cmp::Reverse((*h).clone())))
        .map(|(h, _)| h.clone());
    drop(seen);
    let rows = match linkedin::messages(copy.open()?, label) {
        Ok(rows) => rows,
        Err(p) => {
            report.reject("not a readable messages.csv", p);
            return Ok(());
        }
    };
    let now = Utc::now();
    let mut events = Vec::with_capacity(BATCH);
    for row in rows {
        let m = match row {
            Ok(m) if m.draft => {
                report.skip("a draft", 1);
                continue;
            }
            Ok(m) => m,
            Err(p) => {
                report.reject("a row that cannot be read", p);
                continue;
            }
        };
        let norm = |u: &String| normalize_handle(Channel::Linkedin, u).ok();
        let sender = m.sender_profile_url.as_ref().and_then(norm);
        let recipients: Vec<String> = m.recipient_profile_urls.iter().filter_map(norm).collect();
        let ours = sender.is_some() && sender == owner;
        let others: Vec<&String> = if ours {
            recipients
                .iter()
                .filter(|r| Some(*r) != owner.as_ref())
                .collect()
        } else {
            sender.iter().collect()
        };
        if ours && others.len() > 1 {
            report.skip("a group conversation", 1);
            continue;
        }
        let Some(other) = others.first() else {
            report.reject(
                "a message without the other person's profile",
                Problem::new(
                    label,
                    Some(m.line),
                    "no SENDER PROFILE URL or RECIPIENT PROFILE URLS to know who it was with",
                ),
            );
            continue;
        };
        let name = if ours {
            m.to.clone()
        } else {
            Some(m.from.clone())
        };
        let excerpt = m
            .content
            .as_deref()
            .or(m.subject.as_deref())
            .map(|c| c.chars().take(500).collect::<String>());
        let input = EventInput {
            person_id: None,
            identity: Some(IdentityRef {
                channel: "linkedin".into(),
                handle: (*other).clone(),
                name: name.filter(|n| !n.trim().is_empty() && !n.contains(',')),
            }),
            channel: None,
            event_type: if ours { "dm_sent" } else { "dm_reply" }.into(),
            platform_id: Some(format!(
                "linkedin:{}:{}:{}",
                m.conversation_id,
                m.date.timestamp(),
                sender.clone().unwrap_or_default()
            )),
            content_excerpt: excerpt,
            sentiment: None,
            traffic_type: None,
            metadata: Some(
                json!({"source": "linkedin_export", "conversation": m.conversation_title, "folder": m.folder}),
            ),
            occurred_at: Some(m.date),
        };
        match check_event(&input, now) {
            Ok(e) => events.push(e),
            Err(p) => report.reject(
                "a message that breaks a rule",
                Problem::new(label, Some(m.line), said(p)),
            ),
        }
        if events.len() == BATCH {
            super::store_events(pool, user_id, &events, opts.dry_run, report).await?;
            events.clear();
        }
    }
    super::store_events(pool, user_id, &events, opts.dry_run, report).await
}
