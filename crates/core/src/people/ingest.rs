//! Event ingestion: one batch of up to 10,000 events (the API's single and batch
//! routes, `everreach import events`, and `bench ingest` all come here). Checks every
//! item first and stores nothing if one is wrong; then, in the caller's transaction,
//! resolves identities (creating people), inserts the events skipping duplicates,
//! marks replies on our messages, enqueues one insight job that recomputes the
//! people touched and widens the seen times of the existing identities named, and
//! records one `person_event.ingested` domain event with the batch's counts (one per
//! batch, not one per item: a row per item would cost ingest a fifth of its speed).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::insights::{self, Seen};
use super::model::{
    BatchOutcome, EventChannel, EventInput, FieldProblem, ItemResult, ItemStatus, NewEvent,
    REPLY_TYPES, Subject, check_batch,
};
use super::store::{self, EventColumns, IdentityKey, Resolved};
use crate::db::tenant::TenantTx;
use crate::error::{DomainError, DomainResult};

/// The foreign key from `person_events` to `people`.
const PERSON_FK: &str = "person_events_user_id_person_id_fkey";

/// Whether `e` is a deadlock or serialization failure, or an event whose person a
/// concurrent merge or erase removed after its identity was read (the person
/// foreign key failed): the transaction was rolled back whole, and running it again
/// (reading the identities afresh) is safe.
pub fn is_retryable(e: &DomainError) -> bool {
    matches!(e, DomainError::Db(sqlx::Error::Database(d))
        if matches!(d.code().as_deref(), Some("40P01") | Some("40001"))
            || d.constraint() == Some(PERSON_FK))
}

/// Checks and stores one batch in its own tenant transaction, running it again (up to
/// three times) if it lost a race with a concurrent write about the same people
/// ([`is_retryable`]). What the batch API runs.
pub async fn ingest_tx(
    pool: &sqlx::PgPool,
    user_id: Uuid,
    inputs: &[EventInput],
) -> DomainResult<BatchOutcome> {
    // checked again on a retry rather than kept: a try moves the events
    with_retries(pool, user_id, || {
        check_batch(inputs, Utc::now()).map_err(DomainError::Invalid)
    })
    .await
}

/// [`store_checked`] in its own tenant transaction, retried like [`ingest_tx`] (each
/// try stores a copy of `events`).
pub async fn store_tx(
    pool: &sqlx::PgPool,
    user_id: Uuid,
    events: &[NewEvent],
) -> DomainResult<BatchOutcome> {
    with_retries(pool, user_id, || Ok(events.to_vec())).await
}

/// Stores the events `make` gives in a tenant transaction of their own, up to three
/// tries while the failure [`is_retryable`].
async fn with_retries(
    pool: &sqlx::PgPool,
    user_id: Uuid,
    mut make: impl FnMut() -> DomainResult<Vec<NewEvent>>,
) -> DomainResult<BatchOutcome> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let events = make()?;
        let mut tx = TenantTx::begin(pool, user_id).await?;
        let stored = match store_checked(&mut tx, events).await {
            Ok(outcome) => tx.commit().await.map(|()| outcome).map_err(DomainError::Db),
            Err(e) => Err(e),
        };
        match stored {
            Err(e) if attempt < 3 && is_retryable(&e) => {
                tracing::info!(
                    attempt,
                    "an ingest batch lost a race with a concurrent write; running it again"
                );
            }
            other => return other,
        }
    }
}

/// Stores events that passed [`check_batch`] (taking them: their excerpts and
/// metadata move into the insert rather than being copied).
pub async fn store_checked(
    tx: &mut TenantTx,
    mut events: Vec<NewEvent>,
) -> DomainResult<BatchOutcome> {
    // Who each item is about.
    let mut seen: HashMap<IdentityKey, (DateTime<Utc>, DateTime<Utc>)> = HashMap::new();
    let mut named_people: HashSet<Uuid> = HashSet::new();
    for e in &events {
        match &e.subject {
            Subject::Identity(channel, handle) => {
                let key = IdentityKey {
                    channel: *channel,
                    handle: handle.clone(),
                };
                let span = seen.entry(key).or_insert((e.occurred_at, e.occurred_at));
                span.0 = span.0.min(e.occurred_at);
                span.1 = span.1.max(e.occurred_at);
            }
            Subject::Person(id) => {
                named_people.insert(*id);
            }
        }
    }
    if !named_people.is_empty() {
        let wanted: Vec<Uuid> = named_people.iter().copied().collect();
        let found: HashSet<Uuid> = store::existing_people(tx, &wanted)
            .await?
            .into_iter()
            .collect();
        let problems: Vec<FieldProblem> = events
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match e.subject {
                Subject::Person(id) if !found.contains(&id) => Some((
                    format!("/events/{i}/person_id"),
                    format!("no person {id}: create the person first or name an identity"),
                )),
                _ => None,
            })
            .collect();
        if !problems.is_empty() {
            return Err(DomainError::Invalid(problems));
        }
    }
    let keys: Vec<(IdentityKey, DateTime<Utc>, DateTime<Utc>)> = seen
        .iter()
        .map(|(k, (lo, hi))| (k.clone(), *lo, *hi))
        .collect();
    // The first name each identity is given in the batch.
    let mut names: HashMap<IdentityKey, String> = HashMap::new();
    for e in &events {
        if let (Subject::Identity(channel, handle), Some(name)) = (&e.subject, &e.identity_name) {
            names
                .entry(IdentityKey {
                    channel: *channel,
                    handle: handle.clone(),
                })
                .or_insert_with(|| name.clone());
        }
    }
    let resolved = store::resolve_identities(tx, &keys, &names).await?;
    let named: Vec<(i64, &str)> = names
        .iter()
        .filter_map(|(k, n)| {
            resolved
                .get(k)
                .filter(|r| !r.created)
                .map(|r| (r.identity_id, n.as_str()))
        })
        .collect();
    if !named.is_empty() {
        store::name_identities(tx, &named).await?;
    }

    // The rows, each with its own id.
    let ids = store::next_event_ids(tx, events.len()).await?;
    let mut rows = EventColumns::default();
    let mut people = Vec::with_capacity(events.len());
    let mut first_sight: HashSet<Uuid> = HashSet::new();
    let mut person_created = Vec::with_capacity(events.len());
    // the existing identity each item names, if it names one
    let mut identity_of: Vec<Option<Resolved>> = Vec::with_capacity(events.len());
    for (e, id) in events.iter_mut().zip(&ids) {
        let (person_id, created) = match &e.subject {
            Subject::Person(id) => {
                identity_of.push(None);
                (*id, false)
            }
            Subject::Identity(channel, handle) => {
                let r = *resolved
                    .get(&IdentityKey {
                        channel: *channel,
                        handle: handle.clone(),
                    })
                    .ok_or(sqlx::Error::RowNotFound)?;
                identity_of.push((!r.created).then_some(r));
                // Only the first item naming a new person reports it as created.
                (r.person_id, r.created && first_sight.insert(r.person_id))
            }
        };
        people.push(person_id);
        person_created.push(created);
        rows.id.push(*id);
        rows.person_id.push(person_id);
        rows.channel.push(e.channel.as_str());
        rows.event_type.push(e.event_type.clone());
        rows.platform_id.push(e.platform_id.clone());
        rows.content_excerpt.push(e.content_excerpt.take());
        rows.sentiment.push(e.sentiment);
        rows.traffic_type.push(e.traffic_type);
        rows.metadata.push(e.metadata.take());
        rows.occurred_at.push(e.occurred_at);
    }
    let stored: HashSet<i64> = store::insert_events(tx, &rows).await?.into_iter().collect();

    // Duplicates: point each at the row that holds its key.
    let dup_keys: Vec<(Uuid, &str, &str, &str)> = events
        .iter()
        .zip(&ids)
        .zip(&people)
        .filter(|((_, id), _)| !stored.contains(id))
        .filter_map(|((e, _), p)| {
            e.platform_id
                .as_deref()
                .map(|pl| (*p, e.channel.as_str(), e.event_type.as_str(), pl))
        })
        .collect();
    let mut earlier: HashMap<(Uuid, String, String, String), i64> = HashMap::new();
    if !dup_keys.is_empty() {
        for (p, c, t, pl, id) in store::find_events_by_key(tx, &dup_keys).await? {
            earlier.insert((p, c, t, pl), id);
        }
    }
    let mut results = Vec::with_capacity(events.len());
    let mut replies = Vec::new();
    for (index, ((e, id), person_id)) in events.iter().zip(&ids).zip(&people).enumerate() {
        let created = stored.contains(id);
        let event_id = if created {
            Some(*id)
        } else {
            e.platform_id.as_ref().and_then(|pl| {
                let key = (
                    *person_id,
                    e.channel.as_str().to_string(),
                    e.event_type.clone(),
                    pl.clone(),
                );
                earlier.get(&key).copied()
            })
        };
        if created
            && REPLY_TYPES.contains(&e.event_type.as_str())
            && matches!(e.channel, EventChannel::Network(_))
        {
            replies.push((*person_id, e.channel.as_str(), e.occurred_at));
        }
        results.push(ItemResult {
            index,
            status: if created {
                ItemStatus::Created
            } else {
                ItemStatus::Duplicate
            },
            event_id,
            person_id: *person_id,
            person_created: person_created[index],
        });
    }
    for (message_id, person_id, replied_at) in store::mark_replied(tx, &replies).await? {
        tx.log_event(
            "outbound_message",
            message_id,
            "outbound_message.replied",
            &json!({ "person_id": person_id, "replied_at": replied_at }),
        )
        .await?;
    }

    let (touched, widen) = for_the_job(&results, &events, &identity_of);
    let touched_count = touched.len();
    insights::enqueue(tx, touched.into_iter(), &widen).await?;

    let created = results
        .iter()
        .filter(|r| r.status == ItemStatus::Created)
        .count();
    let outcome = BatchOutcome {
        created,
        duplicates: results.len() - created,
        people_created: results.iter().filter(|r| r.person_created).count(),
        results,
    };
    if outcome.created > 0 {
        let batch_id = Uuid::now_v7();
        tx.log_event(
            "person_event_batch",
            batch_id,
            "person_event.ingested",
            &json!({
                "created": outcome.created,
                "duplicates": outcome.duplicates,
                "people_created": outcome.people_created,
                "people_touched": touched_count,
                "event_ids_from": ids.first(),
                "event_ids_to": ids.last(),
            }),
        )
        .await?;
    }
    Ok(outcome)
}

/// Deletes one event (a wrong import, a test message): its row goes, an audit row
/// keeps what it was, the person's insights are recomputed, and the domain event
/// `person_event.deleted` is recorded. Events are never edited: a correction is a
/// delete and a new ingest.
pub async fn delete_event(tx: &mut TenantTx, event_id: i64) -> DomainResult<()> {
    let user_id = tx.user_id();
    let deleted: Option<(Uuid, serde_json::Value)> = sqlx::query_as(
        "DELETE FROM person_events e WHERE user_id = $1 AND id = $2 RETURNING person_id, to_jsonb(e)",
    )
    .bind(user_id)
    .bind(event_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((person_id, row)) = deleted else {
        return Err(DomainError::NotFound);
    };
    tx.audit(
        "person_events",
        crate::audit::Operation::Delete,
        Some(&row),
        None,
    )
    .await?;
    insights::enqueue(tx, [person_id].into_iter(), &[]).await?;
    tx.log_event(
        "person",
        person_id,
        "person_event.deleted",
        &json!({ "event_id": event_id, "channel": row["channel"], "event_type": row["event_type"] }),
    )
    .await?;
    Ok(())
}

/// What the insight job hears of a batch, from the events it stored (`results` of
/// `events`, with the existing identity each named): the people touched, to
/// recompute, and the existing identities those events saw beyond their first/last
/// seen times, to widen (sorted by id).
fn for_the_job(
    results: &[ItemResult],
    events: &[NewEvent],
    identity_of: &[Option<Resolved>],
) -> (HashSet<Uuid>, Vec<Seen>) {
    let mut spans: HashMap<i64, (Resolved, DateTime<Utc>, DateTime<Utc>)> = HashMap::new();
    let mut touched = HashSet::new();
    for ((item, e), r) in results.iter().zip(events).zip(identity_of) {
        if item.status != ItemStatus::Created {
            continue;
        }
        touched.insert(item.person_id);
        if let Some(r) = r {
            let at = e.occurred_at;
            let span = spans.entry(r.identity_id).or_insert((*r, at, at));
            span.1 = span.1.min(at);
            span.2 = span.2.max(at);
        }
    }
    let mut widen: Vec<Seen> = spans
        .into_iter()
        .filter(|(_, (r, lo, hi))| r.widened_by(*lo, *hi))
        .map(|(id, (_, lo, hi))| (id, lo, hi))
        .collect();
    widen.sort_unstable_by_key(|w| w.0);
    (touched, widen)
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::people::model::EventInput;

    #[test]
    fn the_job_widens_identities_seen_beyond_their_span_by_stored_events_only() {
        let t = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        let at = |hours: i64| (t + Duration::hours(hours)).to_rfc3339();
        let inputs: Vec<EventInput> = [
            // grace: stored, later than her last sighting
            ("grace", "1", at(2)),
            // ada: stored, inside her span
            ("ada", "2", at(-1)),
            // ada: a duplicate far outside it
            ("ada", "3", at(-100)),
            // lin: new
            ("lin", "4", at(-5)),
        ]
        .into_iter()
        .map(|(h, p, o)| {
            serde_json::from_value(serde_json::json!({
                "identity": {"channel": "instagram", "handle": h},
                "event_type": "liked", "platform_id": p, "occurred_at": o}))
            .expect("an event")
        })
        .collect();
        let events = check_batch(&inputs, t + Duration::days(1)).expect("valid");
        let existing = |id: i64| Resolved {
            person_id: Uuid::from_u128(id as u128),
            identity_id: id,
            created: false,
            first_seen_at: Some(t - Duration::days(1)),
            last_seen_at: Some(t),
        };
        let identity_of = [
            Some(existing(1)),
            Some(existing(2)),
            Some(existing(2)),
            None,
        ];
        let item = |index: usize, person: u128, stored: bool| ItemResult {
            index,
            status: if stored {
                ItemStatus::Created
            } else {
                ItemStatus::Duplicate
            },
            event_id: Some(index as i64),
            person_id: Uuid::from_u128(person),
            person_created: false,
        };
        let results = [
            item(0, 1, true),
            item(1, 2, true),
            item(2, 2, false),
            item(3, 9, true),
        ];
        let (touched, widen) = for_the_job(&results, &events, &identity_of);
        assert_eq!(
            widen,
            vec![(1, t + Duration::hours(2), t + Duration::hours(2))]
        );
        let mut touched: Vec<Uuid> = touched.into_iter().collect();
        touched.sort();
        assert_eq!(
            touched,
            vec![Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(9)],
            "everyone with a stored event"
        );
    }
}
