//! `everreach import instagram`: Instagram's "Download your information" export (a
//! folder or its zip) into the Instagram CRM and the people graph.
//!
//! 1. The tree is opened within bounds (`everreach_formats::archive`: a zip bomb or a
//!    lying size is refused) and its thread files, followers and following lists and
//!    personal information are found wherever the export version put them.
//! 2. The owner — whose messages are ours — is the `--owner` given, else the name in
//!    personal information, else the participant common to every thread (read from
//!    the threads' participants alone). Without one the threads are rejected with
//!    what to do; the lists are still imported.
//! 3. Each one-to-one thread file is read whole (Instagram splits threads at 10,000
//!    messages a file; [`everreach_formats::instagram::MAX_THREAD_BYTES`] bounds it),
//!    its messages checked as the DM batch API checks them and stored through
//!    `crm::dm::store` in transactions of [`super::BATCH`]: contacts, conversations
//!    (the thread folder is the thread id), messages, and their person events. The
//!    DM dedupe key (contact, text, time) makes a second import add nothing. Group
//!    threads are skipped (the CRM holds one-to-one conversations). A message with no
//!    text is stored as what it held (`[photo]`), its media and reactions in
//!    `raw_data`.
//! 4. Followers and following become `instagram` identities through the people
//!    graph's ingestion, one `followed_you` / `followed_by_you` event each (keyed by
//!    the username, so it is stored once).

use std::path::Path;

use chrono::Utc;
use everreach_formats::Problem;
use everreach_formats::archive::{Limits, Tree};
use everreach_formats::instagram::{
    self as ig, FollowKind, MAX_THREAD_BYTES, PersonalInfo, Thread,
};
use serde_json::json;
use uuid::Uuid;

use super::{BATCH, ImportError, Progress, Report, said};
use crate::crm::model::{CheckedDm, DmInput, DmStatus, check_dm};
use crate::crm::{dm, model::MAX_BATCH};
use crate::db::tenant::TenantTx;
use crate::people::model::{EventInput, IdentityRef, check_event};

/// Largest followers/following or personal-information file read.
const MAX_LIST_BYTES: u64 = 64 * 1024 * 1024;

/// How to import.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The export owner's display name as Instagram shows it, when the export cannot
    /// say (no personal information and a single thread).
    pub owner: Option<String>,
    /// Read and check everything, store nothing.
    pub dry_run: bool,
    /// How problems name the file (an upload's name); default: its path.
    pub file_name: Option<String>,
}

/// The export's files, by role.
struct Found {
    threads: Vec<String>,
    follows: Vec<(String, FollowKind)>,
    personal: Option<String>,
}

fn find(tree: &Tree) -> Found {
    let mut found = Found {
        threads: Vec::new(),
        follows: Vec::new(),
        personal: None,
    };
    for e in tree.entries() {
        if ig::is_thread_path(&e.path) {
            found.threads.push(e.path.clone());
        } else if let Some(kind) = ig::follow_kind(&e.path) {
            found.follows.push((e.path.clone(), kind));
        } else if ig::is_personal_information(&e.path) && found.personal.is_none() {
            found.personal = Some(e.path.clone());
        }
    }
    found
}

/// Imports the export at `path` for `user_id`.
pub async fn run(
    pool: &sqlx::PgPool,
    user_id: Uuid,
    path: &Path,
    opts: &Options,
    progress: &mut dyn Progress,
) -> Result<Report, ImportError> {
    let mut report = Report::new("instagram", opts.dry_run);
    let shown = super::shown(opts.file_name.as_deref(), path);
    let mut tree = Tree::open(path, &Limits::default())
        .map_err(|e| ImportError::Input(format!("{e} (give the export's folder or its .zip)")))?
        .named(&shown);
    let found = find(&tree);
    if found.threads.is_empty() && found.follows.is_empty() {
        return Err(ImportError::Input(
            "no Instagram threads (…/inbox/<name>/message_1.json) or followers lists in it: is this the JSON export from Instagram's \"Download your information\"?".into(),
        ));
    }
    progress.total((found.threads.len() + found.follows.len()) as u64, "files");

    let personal: Option<PersonalInfo> = match &found.personal {
        Some(p) => match tree
            .read(p, MAX_LIST_BYTES)
            .map_err(|e| e.to_string())
            .and_then(|b| ig::parse_personal_information(&b))
        {
            Ok(info) => Some(info),
            Err(why) => {
                report.problem(Problem::new(tree.label(p), None, why));
                None
            }
        },
        None => None,
    };
    let owner = match &opts.owner {
        Some(o) => Some(o.trim().to_string()),
        None => {
            let mut lists = Vec::new();
            for t in &found.threads {
                if let Ok(p) = tree
                    .read(t, MAX_THREAD_BYTES)
                    .map_err(|e| e.to_string())
                    .and_then(|b| ig::participants(&b))
                {
                    lists.push(p);
                }
            }
            ig::owner(personal.as_ref(), &lists)
        }
    };

    for path in &found.threads {
        report.files += 1;
        let label = tree.label(path);
        let thread = match tree
            .read(path, MAX_THREAD_BYTES)
            .map_err(|e| e.to_string())
            .and_then(|b| ig::parse_thread(path, &b))
        {
            Ok(t) => t,
            Err(why) => {
                report.reject("not a readable thread file", Problem::new(label, None, why));
                progress.advance(1);
                continue;
            }
        };
        import_thread(
            pool,
            user_id,
            &thread,
            owner.as_deref(),
            &label,
            opts,
            &mut report,
        )
        .await?;
        progress.advance(1);
    }

    for (path, kind) in &found.follows {
        report.files += 1;
        let label = tree.label(path);
        match tree
            .read(path, MAX_LIST_BYTES)
            .map_err(|e| e.to_string())
            .and_then(|b| ig::parse_follows(&b))
        {
            Ok((list, nameless)) => {
                if nameless > 0 {
                    report.skip("an account with no username", nameless as u64);
                }
                import_follows(pool, user_id, &list, *kind, &label, opts, &mut report).await?;
            }
            Err(why) => report.reject("not a readable list", Problem::new(label, None, why)),
        }
        progress.advance(1);
    }
    Ok(report)
}

async fn import_thread(
    pool: &sqlx::PgPool,
    user_id: Uuid,
    thread: &Thread,
    owner: Option<&str>,
    label: &str,
    opts: &Options,
    report: &mut Report,
) -> Result<(), ImportError> {
    for why in &thread.skipped {
        report.reject(
            "a message without a sender or time",
            Problem::new(label, None, why.clone()),
        );
    }
    let n = thread.messages.len() as u64;
    if thread.is_group() {
        report.skip("a group thread (the CRM keeps one-to-one conversations)", n);
        return Ok(());
    }
    let Some(owner) = owner else {
        report.rejected += n;
        *report
            .reasons
            .entry("whose messages are yours is unknown".into())
            .or_default() += n;
        report.problem(Problem::new(
            label,
            None,
            "cannot tell which participant is you: the export has no personal_information.json and only one thread names you — run again with --owner \"Your Name\" (as Instagram shows it)",
        ));
        return Ok(());
    };
    if !thread.participants.iter().any(|p| p == owner) {
        report.rejected += n;
        *report
            .reasons
            .entry("the owner is not in this thread".into())
            .or_default() += n;
        report.problem(Problem::new(
            label,
            None,
            format!(
                "{owner:?} is not a participant ({}): is --owner right?",
                thread.participants.join(", ")
            ),
        ));
        return Ok(());
    }
    let display_name = thread.contact_name(Some(owner));
    let now = Utc::now();
    let mut checked: Vec<CheckedDm> = Vec::new();
    for (i, m) in thread.messages.iter().enumerate() {
        let input = DmInput {
            instagram_username: thread.username.clone(),
            display_name: display_name.clone(),
            thread_id: Some(thread.folder.clone()),
            message_text: ig::text_or_kind(m),
            message_type: Some(m.kind.to_string()),
            is_outbound: Some(m.sender == owner),
            sent_by_automation: None,
            sent_at: Some(m.sent_at),
            raw_data: Some(ig::raw_data(thread, m)),
        };
        match check_dm(&input, now) {
            Ok(c) => checked.push(c),
            Err(problems) => report.reject(
                "a message that breaks a rule",
                Problem::new(
                    label,
                    None,
                    format!("message {}: {}", i + 1, said(problems)),
                ),
            ),
        }
    }
    if opts.dry_run {
        report.created += checked.len() as u64;
        return Ok(());
    }
    for chunk in checked.chunks(BATCH.min(MAX_BATCH)) {
        let mut tx = TenantTx::begin(pool, user_id).await?;
        let outcome = dm::store(&mut tx, chunk).await?;
        tx.commit().await?;
        for r in &outcome.results {
            match r.status {
                DmStatus::Created => report.created += 1,
                DmStatus::Flagged => {
                    report.created += 1;
                    report.detail("flagged_as_spam", 1);
                }
                DmStatus::Duplicate => report.skip("already imported", 1),
                DmStatus::Skipped => report.skip("dropped by a skip or spam pattern", 1),
            }
        }
        report.detail("contacts_created", outcome.contacts_created as u64);
        report.detail(
            "person_events_created",
            outcome.person_events_created as u64,
        );
    }
    Ok(())
}

async fn import_follows(
    pool: &sqlx::PgPool,
    user_id: Uuid,
    list: &[ig::Follow],
    kind: FollowKind,
    label: &str,
    opts: &Options,
    report: &mut Report,
) -> Result<(), ImportError> {
    let event_type = match kind {
        FollowKind::Follower => "followed_you",
        FollowKind::Following => "followed_by_you",
    };
    let now = Utc::now();
    let mut events = Vec::new();
    for (i, f) in list.iter().enumerate() {
        let input = EventInput {
            person_id: None,
            identity: Some(IdentityRef {
                channel: "instagram".into(),
                handle: f.username.clone(),
                name: None,
            }),
            channel: None,
            event_type: event_type.into(),
            platform_id: Some(format!("follow:{}", f.username)),
            content_excerpt: None,
            sentiment: None,
            traffic_type: None,
            metadata: Some(json!({"source": "instagram_export", "href": f.href})),
            occurred_at: f.since,
        };
        match check_event(&input, now) {
            Ok(e) => events.push(e),
            Err(problems) => report.reject(
                "an account that breaks a rule",
                Problem::new(
                    label,
                    None,
                    format!("account {} (@{}): {}", i + 1, f.username, said(problems)),
                ),
            ),
        }
    }
    super::store_events(pool, user_id, &events, opts.dry_run, report).await
}
