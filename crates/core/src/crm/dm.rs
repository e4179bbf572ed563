//! DM ingestion (`POST /api/v1/instagram-messages/batch`): a batch of up to 1,000
//! checked messages stored in one tenant transaction —
//! 1. the user's skip and spam patterns decide per message ([`super::patterns`]);
//! 2. contacts are created as needed (named from the batch, else from a
//!    `known_handle` pattern) and conversations found or opened per thread;
//! 3. messages are inserted once per 001's dedupe key `(contact_id, message_text,
//!    sent_at)` — a repeat, in the batch or stored before, is a `duplicate`;
//! 4. each conversation's `last_message_*` and `is_read` follow its newest new message
//!    (theirs: unread; ours: read), each contact's sent/received totals and
//!    `last_meaningful_touch` (theirs, or ours unless automated) move on;
//! 5. every new message that is not spam becomes a `dm_sent` / `dm_reply` person event
//!    through the people graph's ingestion (DESIGN §5): about the contact's person when
//!    it has one, else about its `instagram` identity, whose person the contact is
//!    then linked to;
//! 6. the contacts with new messages are rescored ([`super::score::rescore`]).
//!
//! One `instagram_message.ingested` domain event records the batch's counts.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::model::{CheckedDm, DmInput, DmOutcome, DmResult, DmStatus, check_dms, preview};
use super::patterns::{PatternRow, Patterns, Verdict};
use crate::db::tenant::TenantTx;
use crate::error::{DomainError, DomainResult};
use crate::people::ingest::{self, is_retryable};
use crate::people::model::{EventInput, IdentityRef, MAX_EXCERPT_CHARS, check_event};

/// Checks and stores a batch in its own tenant transaction, running it again (up to
/// three times) when it lost a race with a concurrent write about the same people or
/// contacts ([`is_retryable`]).
pub async fn ingest_tx(
    pool: &sqlx::PgPool,
    user_id: Uuid,
    inputs: &[DmInput],
) -> DomainResult<DmOutcome> {
    let checked = check_dms(inputs, Utc::now()).map_err(DomainError::Invalid)?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut tx = TenantTx::begin(pool, user_id).await?;
        let stored = match store(&mut tx, &checked).await {
            Ok(outcome) => tx.commit().await.map(|()| outcome).map_err(DomainError::Db),
            Err(e) => Err(e),
        };
        match stored {
            Err(e) if attempt < 3 && is_retryable(&e) => {
                tracing::info!(
                    attempt,
                    "a DM batch lost a race with a concurrent write; running it again"
                );
            }
            other => return other,
        }
    }
}

/// The dedupe key of a message within the tenant.
type Key = (Uuid, String, DateTime<Utc>);

/// Stores checked messages in the caller's transaction.
pub async fn store(tx: &mut TenantTx, dms: &[CheckedDm]) -> DomainResult<DmOutcome> {
    let patterns = load_patterns(tx).await?;
    let verdicts: Vec<Verdict> = dms
        .iter()
        .map(|d| patterns.verdict(&d.text, d.is_outbound))
        .collect();
    let mut results: Vec<DmResult> = (0..dms.len())
        .map(|index| DmResult {
            index,
            status: DmStatus::Skipped,
            message_id: None,
            contact_id: None,
            conversation_id: None,
            person_id: None,
            pattern: None,
        })
        .collect();
    let kept: Vec<usize> = (0..dms.len())
        .filter(|&i| {
            if let Verdict::Skip(key) = &verdicts[i] {
                results[i].pattern = Some(key.clone());
                false
            } else {
                true
            }
        })
        .collect();
    let mut outcome = DmOutcome {
        skipped: dms.len() - kept.len(),
        ..DmOutcome::default()
    };
    if kept.is_empty() {
        outcome.results = results;
        return Ok(outcome);
    }

    // 2. contacts, then conversations
    let (contacts, contacts_created) = upsert_contacts(tx, dms, &kept).await?;
    outcome.contacts_created = contacts_created;
    let conversations = conversations_for(tx, dms, &kept, &contacts).await?;

    // 3. messages
    let mut seen_in_batch: HashMap<Key, usize> = HashMap::new();
    let mut to_insert: Vec<usize> = Vec::new();
    for &i in &kept {
        let key = (
            contacts[&dms[i].username].0,
            dms[i].text.clone(),
            dms[i].sent_at,
        );
        if let std::collections::hash_map::Entry::Vacant(v) = seen_in_batch.entry(key) {
            v.insert(i);
            to_insert.push(i);
        }
    }
    let inserted =
        insert_messages(tx, dms, &to_insert, &contacts, &conversations, &verdicts).await?;
    let earlier = existing_ids(tx, dms, &kept, &contacts, &inserted).await?;

    let mut new_messages: Vec<usize> = Vec::new();
    for &i in &kept {
        let d = &dms[i];
        let (contact_id, person_id) = contacts[&d.username];
        let key = (contact_id, d.text.clone(), d.sent_at);
        let r = &mut results[i];
        r.contact_id = Some(contact_id);
        r.person_id = person_id;
        r.conversation_id = Some(conversations[&(contact_id, d.thread_id.clone())]);
        if let Verdict::Flag(key) = &verdicts[i] {
            r.pattern = Some(key.clone());
        }
        match inserted.get(&key) {
            Some(&id) if seen_in_batch[&key] == i => {
                r.message_id = Some(id);
                if matches!(verdicts[i], Verdict::Flag(_)) {
                    r.status = DmStatus::Flagged;
                    outcome.flagged += 1;
                } else {
                    r.status = DmStatus::Created;
                    outcome.created += 1;
                    new_messages.push(i);
                }
            }
            found => {
                r.status = DmStatus::Duplicate;
                r.message_id = found.or_else(|| earlier.get(&key)).copied();
                outcome.duplicates += 1;
            }
        }
    }

    // 5. the people graph first: it gives the contacts their people
    let people = person_events(tx, dms, &new_messages, &contacts).await?;
    outcome.person_events_created = people.created;
    for r in &mut results {
        if r.contact_id.is_some() && r.person_id.is_none() {
            r.person_id = people.by_username.get(&dms[r.index].username).copied();
        }
    }

    // 4. conversations and contacts move on
    update_conversations(tx, dms, &new_messages, &contacts, &conversations).await?;
    update_contacts(tx, dms, &new_messages, &contacts, &people.by_username).await?;
    // 6. their scores and stages follow the new evidence
    let mut touched: Vec<Uuid> = new_messages
        .iter()
        .map(|&i| contacts[&dms[i].username].0)
        .collect();
    touched.sort_unstable();
    touched.dedup();
    super::score::rescore(tx, &touched).await?;

    if outcome.created + outcome.flagged > 0 {
        tx.log_event(
            "instagram_message_batch",
            Uuid::new_v4(),
            "instagram_message.ingested",
            &json!({
                "created": outcome.created,
                "duplicates": outcome.duplicates,
                "flagged": outcome.flagged,
                "skipped": outcome.skipped,
                "contacts_created": outcome.contacts_created,
                "person_events_created": outcome.person_events_created,
            }),
        )
        .await?;
    }
    outcome.results = results;
    Ok(outcome)
}

/// The user's active skip and spam patterns, compiled; a broken one is logged and
/// left out.
async fn load_patterns(tx: &mut TenantTx) -> DomainResult<Patterns> {
    let rows: Vec<PatternRow> = sqlx::query_as(
        "SELECT pattern_type, pattern_key, pattern_value, metadata FROM automation_patterns
          WHERE user_id = $1 AND is_active AND pattern_type IN ('skip_pattern', 'spam_pattern')",
    )
    .bind(tx.user_id())
    .fetch_all(&mut **tx)
    .await?;
    let (patterns, broken) = Patterns::compile(&rows);
    for (key, why) in broken {
        tracing::warn!(pattern_key = %key, %why, "an automation pattern is left out of DM ingestion");
    }
    Ok(patterns)
}

/// Each username's contact `(id, person_id)`, created when new; and how many were.
async fn upsert_contacts(
    tx: &mut TenantTx,
    dms: &[CheckedDm],
    kept: &[usize],
) -> DomainResult<(HashMap<String, (Uuid, Option<Uuid>)>, usize)> {
    let mut names: HashMap<&str, Option<&str>> = HashMap::new();
    for &i in kept {
        let entry = names.entry(dms[i].username.as_str()).or_default();
        if entry.is_none() {
            *entry = dms[i].display_name.as_deref();
        }
    }
    let mut usernames: Vec<&str> = names.keys().copied().collect();
    // a fixed order: two batches lock the same contacts in the same order
    usernames.sort_unstable();
    let display: Vec<Option<&str>> = usernames.iter().map(|u| names[u]).collect();
    let rows: Vec<(Uuid, String, Option<Uuid>, bool)> = sqlx::query_as(
        "WITH input AS (
             SELECT u, coalesce(d, (SELECT k.pattern_value FROM automation_patterns k
                                     WHERE k.user_id = $1 AND k.pattern_type = 'known_handle'
                                       AND k.is_active AND lower(k.pattern_key) = u)) AS d
               FROM unnest($2::text[], $3::text[]) AS x(u, d))
         INSERT INTO instagram_contacts (user_id, instagram_username, display_name, profile_url)
         SELECT $1, u, d, 'https://www.instagram.com/' || u || '/' FROM input ORDER BY u
         ON CONFLICT (user_id, instagram_username) DO UPDATE
            SET display_name = coalesce(instagram_contacts.display_name, EXCLUDED.display_name)
         RETURNING id, instagram_username, person_id, (xmax = 0)",
    )
    .bind(tx.user_id())
    .bind(&usernames)
    .bind(&display)
    .fetch_all(&mut **tx)
    .await?;
    let created = rows.iter().filter(|r| r.3).count();
    Ok((
        rows.into_iter().map(|(id, u, p, _)| (u, (id, p))).collect(),
        created,
    ))
}

/// The conversation of each `(contact, thread id)` the kept messages name: the
/// thread's own, or for no thread id the contact's latest; opened when missing.
async fn conversations_for(
    tx: &mut TenantTx,
    dms: &[CheckedDm],
    kept: &[usize],
    contacts: &HashMap<String, (Uuid, Option<Uuid>)>,
) -> DomainResult<HashMap<(Uuid, Option<String>), Uuid>> {
    let mut named: Vec<(Uuid, String)> = Vec::new();
    let mut unnamed: Vec<Uuid> = Vec::new();
    for &i in kept {
        let contact = contacts[&dms[i].username].0;
        match &dms[i].thread_id {
            Some(t) => named.push((contact, t.clone())),
            None => unnamed.push(contact),
        }
    }
    named.sort_unstable();
    named.dedup();
    unnamed.sort_unstable();
    unnamed.dedup();
    let (named_contacts, named_threads): (Vec<Uuid>, Vec<String>) = named.iter().cloned().unzip();
    sqlx::query(
        "INSERT INTO instagram_conversations (user_id, contact_id, thread_id)
         SELECT $1, c, t FROM unnest($2::uuid[], $3::text[]) AS x(c, t)
         ON CONFLICT (user_id, contact_id, (coalesce(thread_id, ''))) DO NOTHING",
    )
    .bind(tx.user_id())
    .bind(&named_contacts)
    .bind(&named_threads)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO instagram_conversations (user_id, contact_id)
         SELECT $1, c FROM unnest($2::uuid[]) AS x(c)
          WHERE NOT EXISTS (SELECT 1 FROM instagram_conversations v
                             WHERE v.user_id = $1 AND v.contact_id = x.c)
         ON CONFLICT (user_id, contact_id, (coalesce(thread_id, ''))) DO NOTHING",
    )
    .bind(tx.user_id())
    .bind(&unnamed)
    .execute(&mut **tx)
    .await?;
    let mut all: Vec<Uuid> = named_contacts.iter().chain(&unnamed).copied().collect();
    all.sort_unstable();
    all.dedup();
    // newest first, so the first row per contact is its latest conversation
    let rows: Vec<(Uuid, Uuid, Option<String>)> = sqlx::query_as(
        "SELECT id, contact_id, thread_id FROM instagram_conversations
          WHERE user_id = $1 AND contact_id = ANY($2)
          ORDER BY contact_id, last_message_at DESC NULLS LAST, created_at DESC, id",
    )
    .bind(tx.user_id())
    .bind(&all)
    .fetch_all(&mut **tx)
    .await?;
    let mut map = HashMap::new();
    for (id, contact, thread) in rows {
        map.entry((contact, None)).or_insert(id);
        if thread.is_some() {
            map.insert((contact, thread), id);
        }
    }
    Ok(map)
}

/// Inserts the messages at `at` (each key once), skipping stored ones; the new ids by
/// key.
async fn insert_messages(
    tx: &mut TenantTx,
    dms: &[CheckedDm],
    at: &[usize],
    contacts: &HashMap<String, (Uuid, Option<Uuid>)>,
    conversations: &HashMap<(Uuid, Option<String>), Uuid>,
    verdicts: &[Verdict],
) -> DomainResult<HashMap<Key, Uuid>> {
    let n = at.len();
    let (mut conv, mut contact, mut text, mut kind) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut out, mut auto, mut sent, mut raw, mut spam) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for &i in at {
        let d = &dms[i];
        let c = contacts[&d.username].0;
        contact.push(c);
        conv.push(conversations[&(c, d.thread_id.clone())]);
        text.push(d.text.as_str());
        kind.push(d.message_type.as_str());
        out.push(d.is_outbound);
        auto.push(d.automated);
        sent.push(d.sent_at);
        raw.push(d.raw_data.clone());
        spam.push(match &verdicts[i] {
            Verdict::Flag(k) => Some(k.as_str()),
            _ => None,
        });
    }
    let rows: Vec<(Uuid, Uuid, String, DateTime<Utc>)> = sqlx::query_as(
        "INSERT INTO instagram_messages (user_id, conversation_id, contact_id, message_text, message_type,
                                         is_outbound, sent_by_automation, sent_at, raw_data, spam_pattern)
         SELECT $1, v, c, t, k, o, a, s, r, p
           FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::bool[], $7::bool[],
                       $8::timestamptz[], $9::jsonb[], $10::text[]) AS x(v, c, t, k, o, a, s, r, p)
         ON CONFLICT (user_id, contact_id, message_text, sent_at) DO NOTHING
         RETURNING id, contact_id, message_text, sent_at",
    )
    .bind(tx.user_id())
    .bind(&conv)
    .bind(&contact)
    .bind(&text)
    .bind(&kind)
    .bind(&out)
    .bind(&auto)
    .bind(&sent)
    .bind(&raw)
    .bind(&spam)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, c, t, s)| ((c, t, s), id))
        .collect())
}

/// The stored ids of the kept messages that were not inserted now (duplicates).
async fn existing_ids(
    tx: &mut TenantTx,
    dms: &[CheckedDm],
    kept: &[usize],
    contacts: &HashMap<String, (Uuid, Option<Uuid>)>,
    inserted: &HashMap<Key, Uuid>,
) -> DomainResult<HashMap<Key, Uuid>> {
    let mut contact = Vec::new();
    let mut text = Vec::new();
    let mut sent = Vec::new();
    for &i in kept {
        let d = &dms[i];
        let c = contacts[&d.username].0;
        if !inserted.contains_key(&(c, d.text.clone(), d.sent_at)) {
            contact.push(c);
            text.push(d.text.as_str());
            sent.push(d.sent_at);
        }
    }
    if contact.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(Uuid, Uuid, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT m.id, m.contact_id, m.message_text, m.sent_at
           FROM unnest($2::uuid[], $3::text[], $4::timestamptz[]) AS x(c, t, s)
           JOIN instagram_messages m ON m.user_id = $1 AND m.contact_id = x.c
                                    AND m.message_text = x.t AND m.sent_at = x.s",
    )
    .bind(tx.user_id())
    .bind(&contact)
    .bind(&text)
    .bind(&sent)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, c, t, s)| ((c, t, s), id))
        .collect())
}

/// What the people graph made of the new messages.
struct People {
    created: usize,
    /// The person each username's events went to.
    by_username: HashMap<String, Uuid>,
}

/// The platform id of a DM's person event: stable for the same contact, time and
/// text, so the event is stored once even if the message were ingested again.
fn platform_id(d: &CheckedDm) -> String {
    let mut h = Sha256::new();
    h.update(d.username.as_bytes());
    h.update([0]);
    h.update(d.sent_at.timestamp_micros().to_be_bytes());
    h.update(d.text.as_bytes());
    let digest = h.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("igdm:{hex}")
}

/// Writes a `dm_sent` / `dm_reply` person event for each new message at `at`.
async fn person_events(
    tx: &mut TenantTx,
    dms: &[CheckedDm],
    at: &[usize],
    contacts: &HashMap<String, (Uuid, Option<Uuid>)>,
) -> DomainResult<People> {
    if at.is_empty() {
        return Ok(People {
            created: 0,
            by_username: HashMap::new(),
        });
    }
    let now = Utc::now();
    let mut events = Vec::with_capacity(at.len());
    for &i in at {
        let d = &dms[i];
        let excerpt: String = d.text.chars().take(MAX_EXCERPT_CHARS).collect();
        // a contact linked to a person speaks for that person; otherwise the
        // `instagram` identity finds (or creates) them
        let person = contacts[&d.username].1;
        let input = EventInput {
            person_id: person,
            identity: person.is_none().then(|| IdentityRef {
                channel: "instagram".into(),
                handle: d.username.clone(),
                name: d.display_name.clone(),
            }),
            channel: Some("instagram".into()),
            event_type: if d.is_outbound { "dm_sent" } else { "dm_reply" }.into(),
            platform_id: Some(platform_id(d)),
            content_excerpt: Some(excerpt),
            sentiment: None,
            traffic_type: None,
            metadata: Some(json!({"message_type": d.message_type, "automated": d.automated})),
            occurred_at: Some(d.sent_at),
        };
        // the message passed stricter rules than an event's; a refusal here is a bug
        let event = check_event(&input, now).map_err(|problems| {
            DomainError::Invalid(
                problems
                    .into_iter()
                    .map(|(f, m)| (format!("/messages/{i}{f}"), m))
                    .collect(),
            )
        })?;
        events.push(event);
    }
    let outcome = ingest::store_checked(tx, events).await?;
    let by_username = at
        .iter()
        .zip(&outcome.results)
        .map(|(&i, r)| (dms[i].username.clone(), r.person_id))
        .collect();
    Ok(People {
        created: outcome.created,
        by_username,
    })
}

/// Each conversation's newest new message becomes its last message, when newer than
/// the one it shows; theirs leaves it unread, ours marks it read.
async fn update_conversations(
    tx: &mut TenantTx,
    dms: &[CheckedDm],
    at: &[usize],
    contacts: &HashMap<String, (Uuid, Option<Uuid>)>,
    conversations: &HashMap<(Uuid, Option<String>), Uuid>,
) -> DomainResult<()> {
    let mut newest: HashMap<Uuid, usize> = HashMap::new();
    for &i in at {
        let d = &dms[i];
        let conv = conversations[&(contacts[&d.username].0, d.thread_id.clone())];
        let e = newest.entry(conv).or_insert(i);
        if (d.sent_at, d.is_outbound) > (dms[*e].sent_at, dms[*e].is_outbound) {
            *e = i;
        }
    }
    let mut ids: Vec<Uuid> = newest.keys().copied().collect();
    ids.sort_unstable();
    let at_: Vec<DateTime<Utc>> = ids.iter().map(|c| dms[newest[c]].sent_at).collect();
    let previews: Vec<String> = ids.iter().map(|c| preview(&dms[newest[c]].text)).collect();
    let out: Vec<bool> = ids.iter().map(|c| dms[newest[c]].is_outbound).collect();
    sqlx::query(
        "UPDATE instagram_conversations v
            SET last_message_at = x.s, last_message_preview = x.p, last_message_is_outbound = x.o,
                is_read = x.o
           FROM unnest($2::uuid[], $3::timestamptz[], $4::text[], $5::bool[]) AS x(id, s, p, o)
          WHERE v.user_id = $1 AND v.id = x.id
            AND (v.last_message_at IS NULL OR v.last_message_at <= x.s)",
    )
    .bind(tx.user_id())
    .bind(&ids)
    .bind(&at_)
    .bind(&previews)
    .bind(&out)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Adds the new messages to each contact's totals, moves `last_meaningful_touch` on
/// (their messages, and ours unless automated) and links the contact to its person.
async fn update_contacts(
    tx: &mut TenantTx,
    dms: &[CheckedDm],
    at: &[usize],
    contacts: &HashMap<String, (Uuid, Option<Uuid>)>,
    people: &HashMap<String, Uuid>,
) -> DomainResult<()> {
    #[derive(Default)]
    struct Sums {
        sent: i32,
        received: i32,
        touch: Option<DateTime<Utc>>,
    }
    let mut sums: HashMap<&str, Sums> = HashMap::new();
    for &i in at {
        let d = &dms[i];
        let s = sums.entry(d.username.as_str()).or_default();
        if d.is_outbound {
            s.sent += 1;
        } else {
            s.received += 1;
        }
        if !(d.is_outbound && d.automated) {
            s.touch = s.touch.max(Some(d.sent_at));
        }
    }
    let mut names: Vec<&str> = sums.keys().copied().collect();
    names.sort_unstable();
    let ids: Vec<Uuid> = names.iter().map(|u| contacts[*u].0).collect();
    let sent: Vec<i32> = names.iter().map(|u| sums[u].sent).collect();
    let received: Vec<i32> = names.iter().map(|u| sums[u].received).collect();
    let touch: Vec<Option<DateTime<Utc>>> = names.iter().map(|u| sums[u].touch).collect();
    let person: Vec<Option<Uuid>> = names.iter().map(|u| people.get(*u).copied()).collect();
    sqlx::query(
        "UPDATE instagram_contacts k
            SET total_messages_sent = coalesce(k.total_messages_sent, 0) + x.sent,
                total_messages_received = coalesce(k.total_messages_received, 0) + x.received,
                last_meaningful_touch = greatest(k.last_meaningful_touch, x.touch),
                person_id = coalesce(k.person_id, x.person)
           FROM unnest($2::uuid[], $3::int[], $4::int[], $5::timestamptz[], $6::uuid[])
                AS x(id, sent, received, touch, person)
          WHERE k.user_id = $1 AND k.id = x.id",
    )
    .bind(tx.user_id())
    .bind(&ids)
    .bind(&sent)
    .bind(&received)
    .bind(&touch)
    .bind(&person)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_ids_are_stable_and_distinct() {
        let d = CheckedDm {
            username: "sarah".into(),
            display_name: None,
            thread_id: None,
            text: "hey".into(),
            message_type: "text".into(),
            is_outbound: false,
            automated: false,
            sent_at: "2026-11-30T10:00:00Z".parse().unwrap(),
            raw_data: None,
        };
        let mut other = d.clone();
        other.text = "hey!".into();
        assert_eq!(platform_id(&d), platform_id(&d.clone()));
        assert_ne!(platform_id(&d), platform_id(&other));
        assert!(platform_id(&d).starts_with("igdm:") && platform_id(&d).len() == 37);
    }
}
