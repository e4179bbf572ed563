//! Event ingestion: one batch of up to 10,000 events (the API's single and batch
//! routes, `everreach import events`, and `bench ingest` all come here). Checks every
//! item first and stores nothing if one is wrong; then, in the caller's transaction,
//! resolves identities (creating people), inserts the events skipping duplicates,
//! marks replies on our messages, widens identities' seen times and enqueues one
//! deduplicated insight recompute per person touched.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::insights;
use super::model::{
    BatchOutcome, EventChannel, EventInput, FieldProblem, ItemResult, ItemStatus, NewEvent,
    REPLY_TYPES, Subject, check_batch,
};
use super::store::{self, EventColumns, IdentityKey};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Items broke rules: `(JSON pointer, message)` for each; nothing was stored.
    #[error("the batch has invalid events")]
    Invalid(Vec<FieldProblem>),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Whether `e` is a deadlock or serialization failure: the transaction was rolled
/// back whole, and running it again is safe.
pub fn is_retryable(e: &IngestError) -> bool {
    matches!(e, IngestError::Db(sqlx::Error::Database(d))
        if matches!(d.code().as_deref(), Some("40P01") | Some("40001")))
}

/// Checks and stores one batch in its own tenant transaction, running it again (up to
/// three times) if it lost a deadlock to a concurrent batch about the same people.
/// What the batch API runs.
pub async fn ingest_tx(
    pool: &sqlx::PgPool,
    user_id: Uuid,
    inputs: &[EventInput],
) -> Result<BatchOutcome, IngestError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        // checked again on a retry rather than kept: the first try moves the events
        let events = check_batch(inputs, Utc::now()).map_err(IngestError::Invalid)?;
        match in_own_tx(pool, user_id, events).await {
            Err(e) if attempt < 3 && is_retryable(&e) => {
                tracing::info!(attempt, "an ingest batch lost a deadlock; running it again");
            }
            other => return other,
        }
    }
}

/// [`store_checked`] in its own tenant transaction, retried like [`ingest_tx`] (each
/// try stores a copy of `events`).
pub async fn store_tx(
    pool: &sqlx::PgPool,
    user_id: Uuid,
    events: &[NewEvent],
) -> Result<BatchOutcome, IngestError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match in_own_tx(pool, user_id, events.to_vec()).await {
            Err(e) if attempt < 3 && is_retryable(&e) => {
                tracing::info!(attempt, "an ingest batch lost a deadlock; running it again");
            }
            other => return other,
        }
    }
}

async fn in_own_tx(
    pool: &sqlx::PgPool,
    user_id: Uuid,
    events: Vec<NewEvent>,
) -> Result<BatchOutcome, IngestError> {
    let mut tx = crate::db::tenant::begin(pool, user_id).await?;
    let outcome = store_checked(&mut tx, user_id, events).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// Stores events that passed [`check_batch`] (taking them: their excerpts and
/// metadata move into the insert rather than being copied).
pub async fn store_checked(
    conn: &mut PgConnection,
    user_id: Uuid,
    mut events: Vec<NewEvent>,
) -> Result<BatchOutcome, IngestError> {
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
        let found: HashSet<Uuid> = store::existing_people(conn, user_id, &wanted)
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
            return Err(IngestError::Invalid(problems));
        }
    }
    let keys: Vec<(IdentityKey, DateTime<Utc>, DateTime<Utc>)> = seen
        .iter()
        .map(|(k, (lo, hi))| (k.clone(), *lo, *hi))
        .collect();
    let resolved = store::resolve_identities(conn, user_id, &keys).await?;

    // The rows, each with its own id.
    let ids = store::next_event_ids(conn, events.len()).await?;
    let mut rows = EventColumns::default();
    let mut people = Vec::with_capacity(events.len());
    let mut first_sight: HashSet<Uuid> = HashSet::new();
    let mut person_created = Vec::with_capacity(events.len());
    for (e, id) in events.iter_mut().zip(&ids) {
        let (person_id, created) = match &e.subject {
            Subject::Person(id) => (*id, false),
            Subject::Identity(channel, handle) => {
                let r = resolved
                    .get(&IdentityKey {
                        channel: *channel,
                        handle: handle.clone(),
                    })
                    .ok_or(sqlx::Error::RowNotFound)?;
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
    let stored: HashSet<i64> = store::insert_events(conn, user_id, &rows)
        .await?
        .into_iter()
        .collect();

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
        for (p, c, t, pl, id) in store::find_events_by_key(conn, user_id, &dup_keys).await? {
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
    store::mark_replied(conn, user_id, &replies).await?;

    let touched: HashSet<Uuid> = results
        .iter()
        .filter(|r| r.status == ItemStatus::Created)
        .map(|r| r.person_id)
        .collect();
    insights::enqueue(conn, user_id, touched.into_iter()).await?;

    let created = results
        .iter()
        .filter(|r| r.status == ItemStatus::Created)
        .count();
    Ok(BatchOutcome {
        created,
        duplicates: results.len() - created,
        people_created: results.iter().filter(|r| r.person_created).count(),
        results,
    })
}
