//! SQL of the people graph. Tenant id first; every function runs inside the caller's
//! tenant transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::Row;
use uuid::Uuid;

use crate::db::tenant::TenantTx;

use super::handle::Channel;

/// Who a `(channel, handle)` resolved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    pub person_id: Uuid,
    pub identity_id: i64,
    /// Whether this call created the person (and the identity).
    pub created: bool,
    /// The identity's seen times as read (a new one's: the batch's span).
    pub first_seen_at: Option<DateTime<Utc>>,
    pub last_seen_at: Option<DateTime<Utc>>,
}

impl Resolved {
    /// Whether seeing this identity from `lo` to `hi` widens its seen times.
    pub fn widened_by(&self, lo: DateTime<Utc>, hi: DateTime<Utc>) -> bool {
        self.first_seen_at.is_none_or(|f| lo < f) || self.last_seen_at.is_none_or(|l| hi > l)
    }
}

/// An identity a batch names: channel and normalised handle.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdentityKey {
    pub channel: Channel,
    /// Normalised.
    pub handle: String,
}

/// Finds the people behind many `(channel, handle)` identities at once (handles
/// already normalised): reads the existing ones, creates a person and an identity for
/// each new one, and — under a concurrent batch creating the same handle — takes the
/// winner's person and drops its own. `keys` must be distinct, each with the earliest
/// and latest time the batch saw it: new identities start with them; existing ones
/// are only read (no row lock: concurrent batches about the same people never wait
/// for each other here) and their seen times are widened later by the insight job
/// ([`widen_seen`]). New keys are inserted in sorted order, so two batches creating
/// the same handles never wait on each other in opposite orders. A new person takes
/// the name the channel gave (`names`) as `full_name`, and an e-mail handle as
/// `primary_email`; a new identity keeps its name in `extra.name`.
pub async fn resolve_identities(
    tx: &mut TenantTx,
    keys: &[(IdentityKey, DateTime<Utc>, DateTime<Utc>)],
    names: &HashMap<IdentityKey, String>,
) -> Result<HashMap<IdentityKey, Resolved>, sqlx::Error> {
    let user_id = tx.user_id();
    let mut out = HashMap::with_capacity(keys.len());
    if keys.is_empty() {
        return Ok(out);
    }
    let mut sorted: Vec<&(IdentityKey, DateTime<Utc>, DateTime<Utc>)> = keys.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for row in find_identities(tx, &sorted).await? {
        take(&mut out, row, false)?;
    }
    let missing: Vec<&&(IdentityKey, DateTime<Utc>, DateTime<Utc>)> =
        sorted.iter().filter(|k| !out.contains_key(&k.0)).collect();
    if missing.is_empty() {
        return Ok(out);
    }
    let person_ids: Vec<Uuid> = missing.iter().map(|_| Uuid::now_v7()).collect();
    let new_names: Vec<Option<&str>> = missing
        .iter()
        .map(|k| names.get(&k.0).map(String::as_str))
        .collect();
    let emails: Vec<Option<&str>> = missing
        .iter()
        .map(|k| (k.0.channel == Channel::Email).then_some(k.0.handle.as_str()))
        .collect();
    sqlx::query(
        "INSERT INTO people (user_id, id, full_name, primary_email)
         SELECT $1, p, n, e FROM unnest($2::uuid[], $3::text[], $4::text[]) AS u(p, n, e)",
    )
    .bind(user_id)
    .bind(&person_ids)
    .bind(&new_names)
    .bind(&emails)
    .execute(&mut **tx)
    .await?;
    // An identity left without a person (person_id is nullable in 000) is adopted.
    let created: Vec<IdentityRow> = sqlx::query_as(
        "INSERT INTO identities (user_id, person_id, channel, handle, first_seen_at, last_seen_at, extra)
         SELECT $1, p, c, h, f, l, CASE WHEN n IS NULL THEN NULL ELSE jsonb_build_object('name', n) END
           FROM unnest($2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::text[])
                AS u(p, c, h, f, l, n)
         ON CONFLICT (user_id, channel, handle) DO UPDATE SET person_id = EXCLUDED.person_id
             WHERE identities.person_id IS NULL
         RETURNING channel, handle, person_id, id, first_seen_at, last_seen_at",
    )
    .bind(user_id)
    .bind(&person_ids)
    .bind(missing.iter().map(|k| k.0.channel.as_str()).collect::<Vec<_>>())
    .bind(missing.iter().map(|k| k.0.handle.as_str()).collect::<Vec<_>>())
    .bind(missing.iter().map(|k| k.1).collect::<Vec<_>>())
    .bind(missing.iter().map(|k| k.2).collect::<Vec<_>>())
    .bind(&new_names)
    .fetch_all(&mut **tx)
    .await?;
    for row in created {
        take(&mut out, row, true)?;
    }
    if out.len() == keys.len() {
        return Ok(out);
    }
    // Lost races: another transaction created these first (we waited for its commit).
    let used: std::collections::HashSet<Uuid> = out.values().map(|r| r.person_id).collect();
    let orphans: Vec<Uuid> = person_ids
        .into_iter()
        .filter(|p| !used.contains(p))
        .collect();
    sqlx::query("DELETE FROM people WHERE user_id = $1 AND id = ANY($2)")
        .bind(user_id)
        .bind(&orphans)
        .execute(&mut **tx)
        .await?;
    let lost: Vec<&(IdentityKey, DateTime<Utc>, DateTime<Utc>)> = missing
        .iter()
        .filter(|k| !out.contains_key(&k.0))
        .map(|k| **k)
        .collect();
    for row in find_identities(tx, &lost).await? {
        take(&mut out, row, false)?;
    }
    if out.len() == keys.len() {
        Ok(out)
    } else {
        Err(sqlx::Error::RowNotFound)
    }
}

/// An identity as resolution reads it.
#[derive(sqlx::FromRow)]
struct IdentityRow {
    channel: String,
    handle: String,
    person_id: Uuid,
    id: i64,
    first_seen_at: Option<DateTime<Utc>>,
    last_seen_at: Option<DateTime<Utc>>,
}

/// Records a resolved identity row.
fn take(
    out: &mut HashMap<IdentityKey, Resolved>,
    row: IdentityRow,
    created: bool,
) -> Result<(), sqlx::Error> {
    out.insert(
        key_of(&row.channel, row.handle)?,
        Resolved {
            person_id: row.person_id,
            identity_id: row.id,
            created,
            first_seen_at: row.first_seen_at,
            last_seen_at: row.last_seen_at,
        },
    );
    Ok(())
}

/// The identities of `keys` that have a person (a plain read: no row is locked or
/// written).
async fn find_identities(
    tx: &mut TenantTx,
    keys: &[&(IdentityKey, DateTime<Utc>, DateTime<Utc>)],
) -> Result<Vec<IdentityRow>, sqlx::Error> {
    let user_id = tx.user_id();
    sqlx::query_as(
        "SELECT i.channel, i.handle, i.person_id, i.id, i.first_seen_at, i.last_seen_at
           FROM unnest($2::text[], $3::text[]) AS k(c, h)
           JOIN identities i ON i.user_id = $1 AND i.channel = k.c AND i.handle = k.h
          WHERE i.person_id IS NOT NULL",
    )
    .bind(user_id)
    .bind(
        keys.iter()
            .map(|k| k.0.channel.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(keys.iter().map(|k| k.0.handle.as_str()).collect::<Vec<_>>())
    // planned with the arrays in hand (an unnamed statement), so a batch of thousands
    // gets a hash join and a handful an index probe each, instead of the cached
    // generic plan's probes for all
    .persistent(false)
    .fetch_all(&mut **tx)
    .await
}

/// Widens identities' first/last seen times to `(identity id, earliest, latest)`;
/// rows already as wide are not rewritten and identities gone since are skipped.
/// Returns how many were widened. The widenings of one tenant take turns (a
/// transaction-scoped advisory lock per tenant): consecutive batches name mostly the
/// same identities, and two such updates running at once could lock them in
/// different orders (the plan, not the list, sets the order) and deadlock. A
/// deadlock with a concurrent merge moving some of the same identities stays
/// possible, rarely; it fails the job, which is retried.
pub async fn widen_seen(
    tx: &mut TenantTx,
    seen: &[(i64, DateTime<Utc>, DateTime<Utc>)],
) -> Result<u64, sqlx::Error> {
    let user_id = tx.user_id();
    if seen.is_empty() {
        return Ok(0);
    }
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended('identities_seen:' || $1::text, 0))",
    )
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    Ok(sqlx::query(
        "UPDATE identities i
            SET first_seen_at = least(i.first_seen_at, k.lo), last_seen_at = greatest(i.last_seen_at, k.hi)
           FROM unnest($2::int8[], $3::timestamptz[], $4::timestamptz[]) AS k(id, lo, hi)
          WHERE i.user_id = $1 AND i.id = k.id
            AND (i.first_seen_at IS NULL OR i.last_seen_at IS NULL OR k.lo < i.first_seen_at OR k.hi > i.last_seen_at)",
    )
    .bind(user_id)
    .bind(seen.iter().map(|s| s.0).collect::<Vec<_>>())
    .bind(seen.iter().map(|s| s.1).collect::<Vec<_>>())
    .bind(seen.iter().map(|s| s.2).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

fn key_of(channel: &str, handle: String) -> Result<IdentityKey, sqlx::Error> {
    let channel = Channel::parse(channel).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(IdentityKey { channel, handle })
}

/// Which of `ids` are people of this tenant.
pub async fn existing_people(tx: &mut TenantTx, ids: &[Uuid]) -> Result<Vec<Uuid>, sqlx::Error> {
    let user_id = tx.user_id();
    sqlx::query_scalar("SELECT id FROM people WHERE user_id = $1 AND id = ANY($2)")
        .bind(user_id)
        .bind(ids)
        .fetch_all(&mut **tx)
        .await
}

/// The columns of an event row, in `insert_events` order.
#[derive(Debug, Default)]
pub struct EventColumns {
    pub id: Vec<i64>,
    pub person_id: Vec<Uuid>,
    pub channel: Vec<&'static str>,
    pub event_type: Vec<String>,
    pub platform_id: Vec<Option<String>>,
    pub content_excerpt: Vec<Option<String>>,
    pub sentiment: Vec<Option<f64>>,
    pub traffic_type: Vec<&'static str>,
    pub metadata: Vec<Option<Value>>,
    pub occurred_at: Vec<DateTime<Utc>>,
}

/// `n` fresh person_events ids, so each item of a batch knows its row before the
/// insert says which rows were new.
pub async fn next_event_ids(tx: &mut TenantTx, n: usize) -> Result<Vec<i64>, sqlx::Error> {
    // one array, not n rows: the protocol cost of 10,000 rows was most of this call
    sqlx::query_scalar(
        "SELECT array_agg(nextval('person_events_id_seq')) FROM generate_series(1, $1)",
    )
    .bind(n as i64)
    .fetch_one(&mut **tx)
    .await
    .map(|ids: Option<Vec<i64>>| ids.unwrap_or_default())
}

const INSERT_EVENTS: &str = "INSERT INTO person_events (id, user_id, person_id, channel, event_type, platform_id, content_excerpt,
                                sentiment, traffic_type, metadata, occurred_at)
     SELECT i, $1, p, c, e, pl, ce, s::numeric, t, m, o
       FROM unnest($2::int8[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::float8[],
                   $9::text[], $10::jsonb[], $11::timestamptz[]) AS u(i, p, c, e, pl, ce, s, t, m, o)";

/// The unique index that makes a repeated event a duplicate.
pub const DEDUPE_INDEX: &str = "idx_person_events_dedupe";

/// Inserts the events, skipping repeats of a stored `(person, channel, event_type,
/// platform_id)` (and of an earlier row of the same batch); returns the ids stored.
///
/// Most batches hold only new events, so the rows first go in by a plain INSERT
/// inside a savepoint: `ON CONFLICT DO NOTHING` makes every row a speculative
/// insertion, which cost ~15% of the batch path in `bench ingest`. A batch that does
/// hold a repeat hits the dedupe index, rolls back to the savepoint and is inserted
/// again with `ON CONFLICT DO NOTHING`. Must run inside a transaction.
pub async fn insert_events(
    tx: &mut TenantTx,
    rows: &EventColumns,
) -> Result<Vec<i64>, sqlx::Error> {
    let user_id = tx.user_id();
    sqlx::query("SAVEPOINT insert_events")
        .execute(&mut **tx)
        .await?;
    let plain = bind_event_columns(sqlx::query(INSERT_EVENTS), user_id, rows)
        .execute(&mut **tx)
        .await;
    match plain {
        Ok(_) => {
            sqlx::query("RELEASE SAVEPOINT insert_events")
                .execute(&mut **tx)
                .await?;
            Ok(rows.id.clone())
        }
        Err(sqlx::Error::Database(d)) if d.constraint() == Some(DEDUPE_INDEX) => {
            sqlx::query("ROLLBACK TO SAVEPOINT insert_events")
                .execute(&mut **tx)
                .await?;
            let sql = format!(
                "{INSERT_EVENTS}
                 ON CONFLICT (user_id, person_id, channel, event_type, platform_id) WHERE platform_id IS NOT NULL
                 DO NOTHING RETURNING id"
            );
            let rows = bind_event_columns(sqlx::query(sqlx::AssertSqlSafe(sql)), user_id, rows)
                .fetch_all(&mut **tx)
                .await?;
            rows.iter().map(|r| r.try_get::<i64, _>(0)).collect()
        }
        Err(e) => Err(e),
    }
}

fn bind_event_columns<'q>(
    q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    user_id: Uuid,
    rows: &'q EventColumns,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    q.bind(user_id)
        .bind(&rows.id)
        .bind(&rows.person_id)
        .bind(&rows.channel)
        .bind(&rows.event_type)
        .bind(&rows.platform_id)
        .bind(&rows.content_excerpt)
        .bind(&rows.sentiment)
        .bind(&rows.traffic_type)
        .bind(&rows.metadata)
        .bind(&rows.occurred_at)
}

/// The stored ids of events by their dedupe key `(person, channel, event_type,
/// platform_id)`.
pub async fn find_events_by_key(
    tx: &mut TenantTx,
    keys: &[(Uuid, &str, &str, &str)],
) -> Result<Vec<(Uuid, String, String, String, i64)>, sqlx::Error> {
    let user_id = tx.user_id();
    sqlx::query_as(
        "SELECT e.person_id, e.channel, e.event_type, e.platform_id, e.id
           FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[]) AS k(p, c, t, pl)
           JOIN person_events e ON e.user_id = $1 AND e.person_id = k.p AND e.channel = k.c
                                AND e.event_type = k.t AND e.platform_id = k.pl",
    )
    .bind(user_id)
    .bind(keys.iter().map(|k| k.0).collect::<Vec<_>>())
    .bind(keys.iter().map(|k| k.1).collect::<Vec<_>>())
    .bind(keys.iter().map(|k| k.2).collect::<Vec<_>>())
    .bind(keys.iter().map(|k| k.3).collect::<Vec<_>>())
    .fetch_all(&mut **tx)
    .await
}

/// Keeps the name a channel gave for existing identities (`(identity id, name)`) in
/// `extra.name`, where it differs, and makes it the person's `full_name` while they
/// have none.
pub async fn name_identities(tx: &mut TenantTx, named: &[(i64, &str)]) -> Result<u64, sqlx::Error> {
    let user_id = tx.user_id();
    if named.is_empty() {
        return Ok(0);
    }
    Ok(sqlx::query(
        "WITH named AS (
             UPDATE identities i SET extra = coalesce(i.extra, '{}'::jsonb) || jsonb_build_object('name', u.n)
               FROM unnest($2::int8[], $3::text[]) AS u(id, n)
              WHERE i.user_id = $1 AND i.id = u.id AND i.extra->>'name' IS DISTINCT FROM u.n
             RETURNING i.person_id, u.n)
         UPDATE people p SET full_name = named.n FROM named
          WHERE p.user_id = $1 AND p.id = named.person_id AND p.full_name IS NULL",
    )
    .bind(user_id)
    .bind(named.iter().map(|n| n.0).collect::<Vec<_>>())
    .bind(named.iter().map(|n| n.1).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// A reply from the person on a channel answers every earlier message we sent them
/// there: sets `replied_at` (once) to the first reply after each message. Returns
/// the messages answered: `(id, person, replied_at)`.
pub async fn mark_replied(
    tx: &mut TenantTx,
    replies: &[(Uuid, &str, DateTime<Utc>)],
) -> Result<Vec<(Uuid, Uuid, DateTime<Utc>)>, sqlx::Error> {
    let user_id = tx.user_id();
    if replies.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as(
        "WITH r AS (SELECT * FROM unnest($2::uuid[], $3::text[], $4::timestamptz[]) AS r(p, c, at))
         UPDATE outbound_messages m
            SET replied_at = (SELECT min(r.at) FROM r WHERE r.p = m.person_id AND r.c = m.channel AND r.at >= m.sent_at)
          WHERE m.user_id = $1 AND m.replied_at IS NULL AND m.person_id = ANY($2)
            AND EXISTS (SELECT 1 FROM r WHERE r.p = m.person_id AND r.c = m.channel AND r.at >= m.sent_at)
         RETURNING m.id, m.person_id, m.replied_at",
    )
    .bind(user_id)
    .bind(replies.iter().map(|r| r.0).collect::<Vec<_>>())
    .bind(replies.iter().map(|r| r.1).collect::<Vec<_>>())
    .bind(replies.iter().map(|r| r.2).collect::<Vec<_>>())
    .fetch_all(&mut **tx)
    .await
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    #[test]
    fn an_identity_is_widened_only_by_times_outside_its_seen_span() {
        let t = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        let r = Resolved {
            person_id: Uuid::nil(),
            identity_id: 1,
            created: false,
            first_seen_at: Some(t - Duration::days(1)),
            last_seen_at: Some(t),
        };
        assert!(!r.widened_by(t - Duration::days(1), t), "the same span");
        assert!(!r.widened_by(t - Duration::hours(1), t - Duration::hours(1)));
        assert!(r.widened_by(t - Duration::days(2), t), "earlier");
        assert!(r.widened_by(t, t + Duration::seconds(1)), "later");
        let never = Resolved {
            first_seen_at: None,
            last_seen_at: None,
            ..r
        };
        assert!(never.widened_by(t, t), "no seen times yet");
    }
}
