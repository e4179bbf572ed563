//! `everreach import mbox`: a mailbox (Gmail Takeout's `.mbox`, Thunderbird, Apple
//! Mail) into the e-mail CRM (002) and the people graph. A zip (Takeout's as it
//! downloads) is read for every `.mbox` inside it, each copied out within the
//! archive's bounds to a scratch file that is removed afterwards.
//!
//! 1. **A first pass** reads the file as a stream to count its messages (the
//!    progress total), find its months — whose `emails` partitions are created
//!    before any row needs them (DESIGN §9), in a short transaction of their own —
//!    and learn the user's addresses: the ones given (`--me`, the account's e-mail)
//!    and the senders of messages Gmail labels `Sent`.
//! 2. **The second pass** stores [`super::BATCH`] messages a transaction:
//!    - dedupe by Message-ID through `email_message_keys` (written first; a message
//!      without one is keyed by a hash of its sender, date, subject and text), so a
//!      message met twice — in the file or in an earlier import — is stored once;
//!    - the `emails` row: addresses, subject, text and HTML, snippet, attachment
//!      count, Gmail's thread id and labels, `is_sent` when the user sent it,
//!      `is_unread` from Gmail's `Unread` label;
//!    - every correspondent who is not the user: a live 002 `contacts` row by
//!      normalised e-mail (DESIGN §9) with its `organizations` row by domain
//!      (webmail domains excluded), and an `email` identity on the people graph;
//!    - `email_interactions` (from, to, cc, bcc) and one `email_received` /
//!      `email_sent` person event per correspondent (keyed by the Message-ID).
//!
//!    The keys and the interactions go through `everreach_claim_message_keys` and
//!    `everreach_link_mail` (migration 20261205000000), which check the batch's
//!    references to the partitioned `emails` as one join instead of row by row.
//! 3. **Afterwards** the `contact_stats` of every contact the import touched are
//!    recomputed from the interactions: sent and received counts, the last of each,
//!    and the average time from their message to the user's next one in the thread.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Read;
use std::path::Path;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use everreach_formats::Problem;
use everreach_formats::archive::{Limits, Tree};
use everreach_formats::mbox::{Address, Mail, Mbox};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{BATCH, ImportError, Progress, Report, Scratch};
use crate::db::tenant::TenantTx;
use crate::people::model::{EventChannel, NewEvent, Subject};
use crate::people::{Channel, ingest, normalize_handle};

/// Domains of webmail providers: an address there says nothing of an organization.
pub const WEBMAIL: [&str; 16] = [
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "yahoo.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "gmx.com",
    "gmx.de",
    "fastmail.com",
];

/// How to import.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub dry_run: bool,
    /// The user's own addresses (lower-cased); senders of `Sent` messages are added.
    pub me: Vec<String>,
    pub file_name: Option<String>,
}

/// The organization's domain of an address, unless it is webmail.
pub fn org_domain(email: &str) -> Option<String> {
    let domain = email.rsplit_once('@')?.1.trim().to_ascii_lowercase();
    (!domain.is_empty() && !WEBMAIL.contains(&domain.as_str())).then_some(domain)
}

/// The message's dedupe key: its Message-ID, or a hash of what identifies it.
pub fn key_of(m: &Mail) -> String {
    if let Some(id) = m.message_id.as_deref().filter(|i| !i.is_empty()) {
        return id.chars().take(998).collect();
    }
    let mut h = Sha256::new();
    h.update(m.sender().map(|a| a.email.as_str()).unwrap_or(""));
    h.update([0]);
    h.update(m.date.map(|d| d.timestamp()).unwrap_or(0).to_be_bytes());
    h.update(m.subject.as_deref().unwrap_or(""));
    h.update([0]);
    h.update(m.snippet.as_bytes());
    let hex: String = h
        .finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{hex}@no-message-id.everreach")
}

fn open(path: &Path) -> Result<std::fs::File, ImportError> {
    std::fs::File::open(path).map_err(|e| ImportError::Input(format!("cannot be read: {e}")))
}

/// What the first pass learns.
#[derive(Debug, Default)]
struct Survey {
    messages: u64,
    months: BTreeSet<NaiveDate>,
    sent_from: HashSet<String>,
}

fn month_of(d: DateTime<Utc>) -> NaiveDate {
    NaiveDate::from_ymd_opt(d.year(), d.month(), 1).unwrap_or_default()
}

fn survey(reader: impl Read, file: &str, s: &mut Survey) {
    for m in Mbox::new(reader, file).flatten() {
        s.messages += 1;
        s.months.insert(month_of(m.date.unwrap_or_else(Utc::now)));
        if m.labels.iter().any(|l| l.eq_ignore_ascii_case("sent"))
            && let Some(a) = m.sender()
        {
            s.sent_from.insert(a.email.clone());
        }
    }
}

/// One mailbox to read: the file given, or a `.mbox` copied out of a zip.
struct Source {
    path: std::path::PathBuf,
    /// How problems name it (`takeout.zip:Takeout/Mail/All mail….mbox`).
    shown: String,
    /// The copy out of a zip, removed when the source is dropped.
    scratch: Option<Scratch>,
}

/// The mailboxes at `path`: the file itself, or every `.mbox` in a zip (Gmail
/// Takeout's `Takeout/Mail/*.mbox`), each copied out within the archive's bounds
/// so both passes read a plain file.
fn sources(path: &Path, shown: &str) -> Result<Vec<Source>, ImportError> {
    let mut magic = [0u8; 4];
    let is_zip = open(path)?.read_exact(&mut magic).is_ok() && &magic == b"PK\x03\x04";
    if !is_zip {
        return Ok(vec![Source {
            path: path.to_path_buf(),
            shown: shown.to_string(),
            scratch: None,
        }]);
    }
    let limits = Limits::default();
    let mut tree = Tree::open(path, &limits)
        .map_err(|e| ImportError::Input(e.to_string()))?
        .named(shown);
    let inside: Vec<String> = tree
        .entries()
        .iter()
        .filter(|e| e.path.to_ascii_lowercase().ends_with(".mbox"))
        .map(|e| e.path.clone())
        .collect();
    if inside.is_empty() {
        return Err(ImportError::Input(
            "the zip holds no .mbox file (Gmail Takeout keeps mail at Takeout/Mail/*.mbox: export Mail in mbox format)".into(),
        ));
    }
    let mut out = Vec::with_capacity(inside.len());
    for entry in inside {
        let shown = tree.label(&entry);
        let scratch = Scratch::copy_out(&mut tree, &entry, limits.max_total, &shown)?;
        out.push(Source {
            path: scratch.path.clone(),
            shown,
            scratch: Some(scratch),
        });
    }
    Ok(out)
}

/// Imports the mailbox at `path` (a file, or a zip of `.mbox` files) for `user_id`.
pub async fn run(
    pool: &sqlx::PgPool,
    user_id: Uuid,
    path: &Path,
    opts: &Options,
    progress: &mut dyn Progress,
) -> Result<Report, ImportError> {
    let mut report = Report::new("mbox", opts.dry_run);
    let shown = super::shown(opts.file_name.as_deref(), path);
    let mut s = Survey::default();
    let mut mailboxes = Vec::new();
    for source in sources(path, &shown)? {
        let mut head = Vec::new();
        let _ = open(&source.path)?.take(64 * 1024).read_to_end(&mut head);
        let separated = head.starts_with(b"From ") || head.windows(6).any(|w| w == b"\nFrom ");
        if !separated {
            let why = "not an mbox file: no \"From \" line starts a message in its first 64 KB";
            if source.scratch.is_some() {
                // one bad mailbox in a zip: the others still import
                report.problem(Problem::new(&source.shown, None, why));
                continue;
            }
            return Err(ImportError::Input(why.into()));
        }
        survey(open(&source.path)?, &source.shown, &mut s);
        mailboxes.push(source);
    }
    progress.total(s.messages, "messages");
    report.files = mailboxes.len() as u64;
    let mut me: HashSet<String> = opts.me.iter().map(|a| a.trim().to_lowercase()).collect();
    me.extend(s.sent_from.iter().cloned());
    if !opts.dry_run
        && let (Some(first), Some(last)) = (s.months.first(), s.months.last())
    {
        let mut tx = TenantTx::begin(pool, user_id).await?;
        let made: i32 = sqlx::query_scalar("SELECT create_monthly_partitions($1, $2)")
            .bind(first)
            .bind(last)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        report.detail("partitions_created", made.max(0) as u64);
    }

    let mut touched: HashSet<Uuid> = HashSet::new();
    // statistics after the first batch and whenever the rows stored double
    // (migration …270000 says why): a handful of ANALYZEs however large the file
    let mut analyze_at = BATCH as u64;
    for source in &mailboxes {
        let ctx = Ctx {
            pool,
            user_id,
            me: &me,
            dry_run: opts.dry_run,
            file: &source.shown,
        };
        let mut batch: Vec<Mail> = Vec::with_capacity(BATCH);
        let mut flush =
            async |batch: &mut Vec<Mail>, report: &mut Report| -> Result<(), ImportError> {
                store_batch(&ctx, batch, report, &mut touched).await?;
                progress.advance(batch.len() as u64);
                batch.clear();
                if !opts.dry_run && report.created >= analyze_at {
                    sqlx::query("SELECT everreach_analyze_mail()")
                        .execute(pool)
                        .await?;
                    analyze_at = report.created * 2;
                }
                Ok(())
            };
        for item in Mbox::new(open(&source.path)?, &source.shown) {
            match item {
                Ok(m) => batch.push(m),
                Err(p) => report.reject("a message that cannot be read", p),
            }
            if batch.len() == BATCH {
                flush(&mut batch, &mut report).await?;
            }
        }
        flush(&mut batch, &mut report).await?;
    }
    if !touched.is_empty() {
        let ids: Vec<Uuid> = touched.into_iter().collect();
        for chunk in ids.chunks(5_000) {
            let mut tx = TenantTx::begin(pool, user_id).await?;
            recompute_stats(&mut tx, chunk).await?;
            tx.commit().await?;
        }
    }
    Ok(report)
}

fn clip(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// One message's row values.
struct Row<'a> {
    id: Uuid,
    key: String,
    date: DateTime<Utc>,
    mail: &'a Mail,
    sent: bool,
}

/// What every batch of one import shares.
struct Ctx<'a> {
    pool: &'a sqlx::PgPool,
    user_id: Uuid,
    /// The user's addresses.
    me: &'a HashSet<String>,
    dry_run: bool,
    /// How problems name the file.
    file: &'a str,
}

async fn store_batch(
    ctx: &Ctx<'_>,
    batch: &[Mail],
    report: &mut Report,
    touched: &mut HashSet<Uuid>,
) -> Result<(), ImportError> {
    let (pool, user_id, me, dry_run) = (ctx.pool, ctx.user_id, ctx.me, ctx.dry_run);
    if batch.is_empty() {
        return Ok(());
    }
    let mut rows: Vec<Row<'_>> = Vec::with_capacity(batch.len());
    let mut seen: HashSet<String> = HashSet::new();
    for m in batch {
        if m.sender().is_none() {
            report.reject(
                "a message with no sender",
                Problem::new(ctx.file, Some(m.line), "no From address: skipped"),
            );
            continue;
        }
        let key = key_of(m);
        if !seen.insert(key.clone()) {
            report.skip("already imported", 1);
            continue;
        }
        let sent = m.sender().is_some_and(|a| me.contains(&a.email));
        rows.push(Row {
            id: Uuid::now_v7(),
            key,
            date: m.date.unwrap_or_else(Utc::now),
            mail: m,
            sent,
        });
    }
    if dry_run {
        report.created += rows.len() as u64;
        return Ok(());
    }
    let mut tx = TenantTx::begin(pool, user_id).await?;
    // 1. The keys first: the new ones say which messages to store. Their key to
    //    `emails` is checked for the whole batch by `everreach_link_mail` below
    //    (migration 20261205000000: one join instead of a check per row).
    let new: HashSet<String> = sqlx::query_scalar(
        "SELECT everreach_claim_message_keys($1::text[], $2::uuid[], $3::timestamptz[])",
    )
    .bind(rows.iter().map(|r| r.key.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.date).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    report.skip("already imported", (rows.len() - new.len()) as u64);
    rows.retain(|r| new.contains(&r.key));
    if rows.is_empty() {
        tx.commit().await?;
        return Ok(());
    }
    // 2. The e-mails.
    let emails = |list: &[Address]| -> String {
        list.iter()
            .map(|a| a.email.replace(['\t', '\n'], " "))
            .collect::<Vec<_>>()
            .join("\t")
    };
    sqlx::query(
        "INSERT INTO emails (user_id, id, message_id, internet_message_id, thread_id, from_email, from_name,
                             to_emails, cc_emails, bcc_emails, subject, body_text, body_html, snippet, labels,
                             is_unread, is_sent, has_attachments, attachment_count, internal_date)
         SELECT $1, u.id, left(u.k, 255), u.k, left(u.t, 255), left(u.fe, 255), left(u.fn, 255),
                string_to_array(nullif(u.te, ''), E'\\t'), string_to_array(nullif(u.ce, ''), E'\\t'),
                string_to_array(nullif(u.be, ''), E'\\t'), u.s, u.bt, u.bh, u.sn,
                string_to_array(nullif(u.l, ''), E'\\t'), u.unread, u.sent, u.att > 0, u.att, u.d
           FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                       $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[],
                       $15::bool[], $16::bool[], $17::int[], $18::timestamptz[])
                AS u(id, k, t, fe, fn, te, ce, be, s, bt, bh, sn, l, unread, sent, att, d)",
    )
    .bind(user_id)
    .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.key.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.mail.thread_id.as_deref()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.mail.sender().map(|a| a.email.as_str())).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.mail.sender().and_then(|a| a.name.as_deref())).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| emails(&r.mail.to)).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| emails(&r.mail.cc)).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| emails(&r.mail.bcc)).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.mail.subject.as_deref()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.mail.text.as_deref()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.mail.html.as_deref()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| clip(&r.mail.snippet, 200)).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.mail.labels.iter().map(|l| l.replace(['\t', '\n'], " ")).collect::<Vec<_>>().join("\t")).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.mail.labels.iter().any(|l| l.eq_ignore_ascii_case("unread"))).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.sent).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.mail.attachments as i32).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.date).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    report.created += rows.len() as u64;

    // 3. Correspondents: contacts (with organizations by domain) and people.
    let mut names: HashMap<String, Option<String>> = HashMap::new();
    // (email row, correspondent, interaction type)
    let mut links: Vec<(usize, String, &'static str)> = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let m = r.mail;
        let lists: [(&[Address], &'static str); 4] = [
            (&m.from[..m.from.len().min(1)], "from"),
            (&m.to, "to"),
            (&m.cc, "cc"),
            (&m.bcc, "bcc"),
        ];
        for (list, kind) in lists {
            for a in list {
                if me.contains(&a.email) {
                    continue;
                }
                if normalize_handle(Channel::Email, &a.email).as_deref() != Ok(a.email.as_str()) {
                    report.detail("addresses_not_valid", 1);
                    continue;
                }
                let name = names.entry(a.email.clone()).or_default();
                if name.is_none() {
                    name.clone_from(&a.name);
                }
                links.push((i, a.email.clone(), kind));
            }
        }
    }
    let mut addresses: Vec<&String> = names.keys().collect();
    addresses.sort();
    // organizations for new domains
    let domains: BTreeSet<String> = addresses.iter().filter_map(|a| org_domain(a)).collect();
    let domains: Vec<String> = domains.into_iter().collect();
    let orgs: HashMap<String, Uuid> = sqlx::query_as::<_, (String, Uuid)>(
        "WITH wanted AS (SELECT unnest($2::text[]) AS d),
              found AS (SELECT DISTINCT ON (lower(o.domain)) lower(o.domain) AS d, o.id FROM organizations o
                         WHERE o.user_id = $1 AND lower(o.domain) = ANY($2) ORDER BY lower(o.domain), o.created_at, o.id),
              made AS (INSERT INTO organizations (user_id, name, domain)
                       SELECT $1, w.d, w.d FROM wanted w WHERE w.d NOT IN (SELECT d FROM found)
                       RETURNING lower(domain) AS d, id)
         SELECT d, id FROM found UNION ALL SELECT d, id FROM made",
    )
    .bind(user_id)
    .bind(&domains)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    // people: one event per correspondent per message, through ingestion
    let mut events: Vec<NewEvent> = Vec::new();
    let mut event_seen: HashSet<(String, usize)> = HashSet::new();
    for (i, email, _) in &links {
        if !event_seen.insert((email.clone(), *i)) {
            continue;
        }
        let r = &rows[*i];
        events.push(NewEvent {
            subject: Subject::Identity(Channel::Email, email.clone()),
            channel: EventChannel::Network(Channel::Email),
            event_type: if r.sent {
                "email_sent"
            } else {
                "email_received"
            }
            .into(),
            platform_id: Some(clip(&r.key, 500)),
            content_excerpt: r.mail.subject.as_deref().map(|s| clip(s, 500)),
            sentiment: None,
            traffic_type: "organic",
            metadata: Some(json!({"source": "mbox", "email_id": r.id})),
            occurred_at: r.date,
            identity_name: names.get(email).cloned().flatten().map(|n| clip(&n, 200)),
        });
    }
    let outcome = ingest::store_checked(&mut tx, events).await?;
    report.detail("people_created", outcome.people_created as u64);
    let person_of: HashMap<String, Uuid> = sqlx::query_as::<_, (String, Uuid)>(
        "SELECT handle, person_id FROM identities WHERE user_id = $1 AND channel = 'email' AND handle = ANY($2)
            AND person_id IS NOT NULL",
    )
    .bind(user_id)
    .bind(&addresses)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    let made = sqlx::query(
        "INSERT INTO contacts (user_id, email, name, person_id, organization_id, source, source_details)
         SELECT $1, e, left(n, 255), p, o, 'email', jsonb_build_object('importer', 'mbox')
           FROM unnest($2::text[], $3::text[], $4::uuid[], $5::uuid[]) AS u(e, n, p, o)
         ON CONFLICT DO NOTHING",
    )
    .bind(user_id)
    .bind(&addresses)
    .bind(addresses.iter().map(|a| names.get(*a).cloned().flatten()).collect::<Vec<_>>())
    .bind(addresses.iter().map(|a| person_of.get(*a).copied()).collect::<Vec<_>>())
    .bind(addresses.iter().map(|a| org_domain(a).and_then(|d| orgs.get(&d).copied())).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    report.detail("email_contacts_created", made.rows_affected());
    let contact_of: HashMap<String, Uuid> = sqlx::query_as::<_, (String, Uuid)>(
        "SELECT lower(email), id FROM contacts WHERE user_id = $1 AND lower(email) = ANY($2)
            AND is_deleted IS NOT TRUE AND merged_into_id IS NULL",
    )
    .bind(user_id)
    .bind(&addresses)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    // 4. Interactions.
    let mut link_rows: Vec<(Uuid, DateTime<Utc>, Uuid, &str)> = Vec::new();
    for (i, email, kind) in &links {
        if let Some(c) = contact_of.get(email) {
            link_rows.push((rows[*i].id, rows[*i].date, *c, kind));
            touched.insert(*c);
        }
    }
    // The batch's keys and links, their references checked as one join (and the
    // batch rolled back if one is missing).
    sqlx::query(
        "SELECT everreach_link_mail($1::uuid[], $2::timestamptz[], $3::uuid[], $4::timestamptz[], $5::uuid[], $6::text[])",
    )
    .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.date).collect::<Vec<_>>())
    .bind(link_rows.iter().map(|l| l.0).collect::<Vec<_>>())
    .bind(link_rows.iter().map(|l| l.1).collect::<Vec<_>>())
    .bind(link_rows.iter().map(|l| l.2).collect::<Vec<_>>())
    .bind(link_rows.iter().map(|l| l.3).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Recomputes `contact_stats` of `contacts` from their interactions: sent (the user
/// wrote to them) and received (they wrote) counts and last times, and the average
/// time from one of their messages to the user's next message in that thread.
pub async fn recompute_stats(tx: &mut TenantTx, contacts: &[Uuid]) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH mine AS MATERIALIZED (
             SELECT i.contact_id, e.is_sent, e.internal_date, e.thread_id
               FROM email_interactions i
               JOIN emails e ON e.user_id = i.user_id AND e.id = i.email_id AND e.internal_date = i.email_internal_date
              WHERE i.user_id = $1 AND i.contact_id = ANY($2)
                AND (e.is_sent OR i.interaction_type = 'from')
         ),
         -- the user's next message in the thread after each of theirs, in one sorted
         -- pass per (contact, thread): linear, however long the history
         replies AS (
             SELECT contact_id, is_sent, internal_date,
                    min(internal_date) FILTER (WHERE is_sent) OVER (
                        PARTITION BY contact_id, thread_id ORDER BY internal_date
                        ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS next_sent
               FROM mine WHERE thread_id IS NOT NULL
         ),
         took AS MATERIALIZED (
             SELECT contact_id, avg(next_sent - internal_date) AS avg_took
               FROM replies WHERE NOT is_sent AND next_sent IS NOT NULL GROUP BY contact_id
         ),
         counts AS MATERIALIZED (
             SELECT contact_id,
                    count(*) FILTER (WHERE is_sent) AS sent,
                    count(*) FILTER (WHERE NOT is_sent) AS received,
                    max(internal_date) FILTER (WHERE is_sent) AS last_sent,
                    max(internal_date) FILTER (WHERE NOT is_sent) AS last_received
               FROM mine GROUP BY contact_id
         )
         INSERT INTO contact_stats (user_id, contact_id, total_emails_sent, total_emails_received,
                                    last_email_sent_at, last_email_received_at, avg_response_time, calculated_at)
         SELECT $1, c.contact_id, c.sent, c.received, c.last_sent, c.last_received, t.avg_took, now()
           FROM counts c LEFT JOIN took t USING (contact_id)
         ON CONFLICT (user_id, contact_id) DO UPDATE SET
             total_emails_sent = EXCLUDED.total_emails_sent, total_emails_received = EXCLUDED.total_emails_received,
             last_email_sent_at = EXCLUDED.last_email_sent_at, last_email_received_at = EXCLUDED.last_email_received_at,
             avg_response_time = EXCLUDED.avg_response_time, calculated_at = EXCLUDED.calculated_at",
    )
    .bind(tx.user_id())
    .bind(contacts)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE contacts c SET last_interaction_at = greatest(s.last_email_sent_at, s.last_email_received_at)
           FROM contact_stats s
          WHERE c.user_id = $1 AND c.id = ANY($2) AND s.user_id = c.user_id AND s.contact_id = c.id
            AND c.last_interaction_at IS DISTINCT FROM greatest(s.last_email_sent_at, s.last_email_received_at)",
    )
    .bind(tx.user_id())
    .bind(contacts)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webmail_is_no_organization_and_messages_without_an_id_get_a_stable_key() {
        assert_eq!(org_domain("ann@Acme.io").as_deref(), Some("acme.io"));
        assert_eq!(org_domain("ann@gmail.com"), None);
        let mail = Mail {
            subject: Some("hi".into()),
            snippet: "hello".into(),
            ..Mail::default()
        };
        assert_eq!(key_of(&mail), key_of(&mail.clone()));
        assert!(key_of(&mail).ends_with("@no-message-id.everreach"));
        let with_id = Mail {
            message_id: Some("abc@x".into()),
            ..Mail::default()
        };
        assert_eq!(key_of(&with_id), "abc@x");
    }
}
