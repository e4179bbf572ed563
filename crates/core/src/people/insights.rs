//! `person_insights`, the computed lens of one person, and identities' first/last seen
//! times: brought up to date by a job on queue [`QUEUE`] whenever ingestion or a merge
//! changes what we know of someone. One job per writing transaction ([`Recompute`])
//! lists the people it touched (deduplicated), the identities whose seen times it
//! widens, and that transaction's id; the job widens those identities, then
//! recomputes the people, skipping anyone whose insights were computed by a
//! transaction that already saw those writes (`computed_snapshot`), so a burst of
//! batches about the same people costs one recompute each, race-free, and enqueueing
//! costs one row per 10,000 entries however many people a batch touches. Widening
//! seen times here rather than in the batch keeps ingestion free of row locks on
//! existing identities. Warmth and activity state decay with time alone, so a
//! nightly job on [`NIGHTLY_QUEUE`] ([`enqueue_everyone`]) queues everyone of every
//! tenant for a recompute too. A recompute reads each person's own events once
//! (`super::lens` makes the figures of them) and stores `last_active_at`,
//! `activity_state`, `channel_preferences`, `seasonality`, `avg_reply_time` (from our
//! messages' reply times), `warmth_score`, `interests` (TF-IDF against the tenant's
//! people, `super::interests`), `tone_preferences` (`super::tone`), and
//! `best_channel` / `best_send_hour` with their evidence — no language model.
//! docs/SCORING.md gives every formula.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::db::tenant::TenantTx;

use super::interests::{self, Count, count_terms, df_changes, top_interests};
use super::lens::{Activity, BestSend, OwnEvent, activity, best_send, messages};
use super::store;
use super::text::{AUTHORED_TYPES, terms_of};
use super::tone::{self, Tone};
use crate::jobs::{self, JobError, SendOptions};

/// The queue of insight recomputes (created by migration).
pub const QUEUE: &str = "people.insights";

/// The nightly queue: one job a night that queues every tenant's people for a
/// recompute (created by the runner when it registers the handler).
pub const NIGHTLY_QUEUE: &str = "people.insights.nightly";

/// Event types that are our own doing, not the person's activity.
pub const OUTBOUND_TYPES: [&str; 2] = ["email_sent", "dm_sent"];

/// Most entries (people plus identities) one job lists: its payload stays under
/// 600 KB, far from the 1 MiB limit.
pub const MAX_ENTRIES_PER_JOB: usize = 10_000;

/// An identity seen from `.1` to `.2` by a write: `(identity id, earliest, latest)`.
pub type Seen = (i64, DateTime<Utc>, DateTime<Utc>);

/// The data of one `people.insights` job.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recompute {
    /// People whose insights the write may have changed.
    pub person_ids: Vec<Uuid>,
    /// Identities whose seen times the write widens: `identity_ids[i]` was seen from
    /// `seen_from_us[i]` to `seen_to_us[i]` (microseconds since 1970).
    #[serde(default)]
    pub identity_ids: Vec<i64>,
    #[serde(default)]
    pub seen_from_us: Vec<i64>,
    #[serde(default)]
    pub seen_to_us: Vec<i64>,
    /// The writing transaction (`pg_current_xact_id()`).
    pub after_xid: i64,
}

impl Recompute {
    /// The identities to widen, or what is wrong with the job's data.
    pub fn seen(&self) -> Result<Vec<Seen>, String> {
        let n = self.identity_ids.len();
        if self.seen_from_us.len() != n || self.seen_to_us.len() != n {
            return Err(format!(
                "identity_ids, seen_from_us and seen_to_us must be as long as each other (they are {n}, {} and {})",
                self.seen_from_us.len(),
                self.seen_to_us.len()
            ));
        }
        let time = |us: i64| {
            DateTime::from_timestamp_micros(us)
                .ok_or_else(|| format!("{us} is not a time in microseconds since 1970"))
        };
        (0..n)
            .map(|i| {
                Ok((
                    self.identity_ids[i],
                    time(self.seen_from_us[i])?,
                    time(self.seen_to_us[i])?,
                ))
            })
            .collect()
    }
}

/// Enqueues, in the caller's transaction and marked with its id, the recompute of
/// `people` and the widening of `seen`; returns how many jobs were made. The queue exists (migration) and the payload is bounded, so
/// only a database error can come back.
pub async fn enqueue(
    tx: &mut TenantTx,
    people: impl Iterator<Item = Uuid>,
    seen: &[Seen],
) -> Result<u64, sqlx::Error> {
    let user_id = tx.user_id();
    let mut people: Vec<Uuid> = people.collect();
    if people.is_empty() && seen.is_empty() {
        return Ok(0);
    }
    people.sort_unstable();
    people.dedup();
    let xid: i64 = sqlx::query_scalar("SELECT pg_current_xact_id()::text::bigint")
        .fetch_one(&mut **tx)
        .await?;
    let opts = SendOptions {
        user_id: Some(user_id),
        // a short debounce: batches in quick succession are recomputed together
        start_after: Some(Utc::now() + chrono::Duration::seconds(1)),
        ..SendOptions::default()
    };
    let mut sent = 0;
    let (mut people, mut seen) = (&people[..], seen);
    while !people.is_empty() || !seen.is_empty() {
        let np = people.len().min(MAX_ENTRIES_PER_JOB);
        let ns = seen.len().min(MAX_ENTRIES_PER_JOB - np);
        let job = Recompute {
            person_ids: people[..np].to_vec(),
            identity_ids: seen[..ns].iter().map(|s| s.0).collect(),
            seen_from_us: seen[..ns].iter().map(|s| s.1.timestamp_micros()).collect(),
            seen_to_us: seen[..ns].iter().map(|s| s.2.timestamp_micros()).collect(),
            after_xid: xid,
        };
        (people, seen) = (&people[np..], &seen[ns..]);
        let data = serde_json::to_value(&job).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        let sent_one = jobs::send(tx, QUEUE, &data, &opts)
            .await
            .map_err(|e| match e {
                JobError::Db(e) => e,
                other => sqlx::Error::Protocol(other.to_string()),
            })?;
        if sent_one.is_some() {
            sent += 1;
        }
    }
    Ok(sent)
}

/// Queues every person of the transaction's tenant for a recompute (insights that
/// decay with time: warmth, activity state), [`MAX_ENTRIES_PER_JOB`] to a job;
/// returns how many people were queued.
pub async fn enqueue_everyone(tx: &mut TenantTx) -> Result<usize, sqlx::Error> {
    let user_id = tx.user_id();
    let people: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM people WHERE user_id = $1 ORDER BY id")
            .bind(user_id)
            .fetch_all(&mut **tx)
            .await?;
    let n = people.len();
    enqueue(tx, people.into_iter(), &[]).await?;
    Ok(n)
}

/// What one job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    /// Identities whose seen times were widened (the others were as wide, or gone).
    pub widened: u64,
    /// People recomputed (the rest were up to date or gone).
    pub recomputed: usize,
}

/// People recomputed in one transaction: their rows stay locked until it commits,
/// and an edit of one of them waits that long (~0.3 s for 1,000 people with 100
/// events each in `bench ingest`).
pub const RECOMPUTE_CHUNK: usize = 1_000;

/// Runs one job for tenant `user_id`: widens the identities' seen times and commits,
/// then recomputes the stale among the listed people (and queues a refresh of their
/// match keys, `people.match_keys`, in the same transaction), [`RECOMPUTE_CHUNK`] to a
/// transaction, so the job never holds identity row locks while it waits on a person
/// and holds each person's lock briefly. In the same transaction, every segment is
/// refreshed for those people (`segments::store::refresh_people`). Running it again is harmless (every step is
/// idempotent).
pub async fn run(
    pool: &sqlx::PgPool,
    user_id: Uuid,
    actor: crate::db::tenant::Actor,
    job: &Recompute,
    seen: &[Seen],
) -> Result<Done, sqlx::Error> {
    let mut tx = crate::db::tenant::begin_as(pool, user_id, actor).await?;
    let widened = store::widen_seen(&mut tx, seen).await?;
    tx.commit().await?;
    let mut recomputed = 0;
    for chunk in job.person_ids.chunks(RECOMPUTE_CHUNK) {
        let mut tx = crate::db::tenant::begin_as(pool, user_id, actor).await?;
        recomputed += recompute_stale(&mut tx, chunk, job.after_xid).await?;
        // their segments follow their new events and insights at once
        crate::segments::store::refresh_people(&mut tx, chunk)
            .await
            .map_err(|e| match e {
                crate::error::DomainError::Db(e) => e,
                other => sqlx::Error::Protocol(other.to_string()),
            })?;
        tx.commit().await?;
    }
    Ok(Done {
        widened,
        recomputed,
    })
}

/// Recomputes those of `people` whose insights were not computed by a transaction
/// that saw transaction `after_xid`'s writes (never computed, or computed from a
/// snapshot in which `after_xid` was still running); returns how many were
/// recomputed (people gone since are skipped).
pub async fn recompute_stale(
    tx: &mut TenantTx,
    people: &[Uuid],
    after_xid: i64,
) -> Result<usize, sqlx::Error> {
    let user_id = tx.user_id();
    let stale: Vec<Uuid> = sqlx::query_scalar(
        "SELECT p FROM unnest($2::uuid[]) AS p
          WHERE NOT EXISTS (SELECT 1 FROM person_insights i
                             WHERE i.user_id = $1 AND i.person_id = p
                               AND pg_visible_in_snapshot($3::text::xid8, i.computed_snapshot::pg_snapshot))",
    )
    .bind(user_id)
    .bind(people)
    .bind(after_xid)
    .fetch_all(&mut **tx)
    .await?;
    let recomputed = recompute_many(tx, &stale).await?;
    // What they can be matched on may have changed too (people skipped here were
    // queued by the recompute that saw the write).
    if recomputed > 0 {
        super::match_keys::enqueue(tx, &stale).await?;
    }
    Ok(recomputed)
}

/// How recently someone was active, as 000's activity states.
pub fn activity_state(last_active: Option<DateTime<Utc>>, now: DateTime<Utc>) -> &'static str {
    match last_active.map(|t| (now - t).num_days()) {
        Some(d) if d <= 7 => "active",
        Some(d) if d <= 30 => "warming",
        Some(d) if d <= 90 => "cool",
        _ => "dormant",
    }
}

/// Warmth from 0 to 100: recency (half-life 30 days, up to 50), frequency (events in
/// the last 90 days, 20 or more is full, up to 30) and mean sentiment (-1..1 mapped
/// to 0..20; neutral when unknown).
pub fn warmth_score(
    last_active: Option<DateTime<Utc>>,
    events_90d: i64,
    mean_sentiment: Option<f64>,
    now: DateTime<Utc>,
) -> f64 {
    let recency = last_active.map_or(0.0, |t| {
        let days = (now - t).num_seconds().max(0) as f64 / 86_400.0;
        50.0 * 0.5_f64.powf(days / 30.0)
    });
    let frequency = 30.0 * (events_90d.max(0) as f64 / 20.0).min(1.0);
    let sentiment = 20.0 * (mean_sentiment.unwrap_or(0.0).clamp(-1.0, 1.0) + 1.0) / 2.0;
    ((recency + frequency + sentiment) * 100.0).round() / 100.0
}

/// Shares of a count per key, rounded to two decimals (empty when there are none).
pub fn shares(counts: &[(String, i64)]) -> Map<String, Value> {
    let total: i64 = counts.iter().map(|c| c.1).sum();
    let mut out = Map::new();
    if total == 0 {
        return out;
    }
    for (k, n) in counts {
        let share = (*n as f64 / total as f64 * 100.0).round() / 100.0;
        out.insert(k.clone(), json!(share));
    }
    out
}

/// The recompute's one read of the people's events: every event of theirs that is
/// not ours, with its text only when it is their own words.
const EVENTS_SQL: &str =
    "SELECT person_id, channel, event_type, occurred_at, sentiment::float8 AS sentiment,
                CASE WHEN event_type = ANY($4) THEN content_excerpt END AS content_excerpt
           FROM person_events
          WHERE user_id = $1 AND person_id = ANY($2) AND event_type <> ALL($3)";

/// What a recompute makes of one person before interests are weighed.
struct Read {
    activity: Activity,
    best: Option<BestSend>,
    tone: Option<Tone>,
    /// Their messages' terms (`None`: no message at all).
    terms: Option<BTreeMap<String, Count>>,
    messages: usize,
}

/// The words of a person's own name as terms are written (lower-case, accents
/// kept): a name is who they are, not what they talk about.
pub fn name_words(name: Option<&str>) -> HashSet<String> {
    name.map(|n| terms_of(n, "en").into_iter().map(|t| t.word).collect())
        .unwrap_or_default()
}

/// `terms` without those holding a word of `own` (their name): "júlia" and "júlia
/// ribeiro" go, "design systems" stays.
pub fn without_own_name(terms: &mut BTreeMap<String, Count>, own: &HashSet<String>) {
    if !own.is_empty() {
        terms.retain(|term, _| !term.split(' ').any(|w| own.contains(w)));
    }
}

fn read_person(events: &[OwnEvent], name: Option<&str>, tz: Tz, now: DateTime<Utc>) -> Read {
    let texts = messages(events);
    let tone = tone::tone(&texts);
    let own = name_words(name);
    let terms = tone.as_ref().map(|t| {
        let mut terms = count_terms(texts.iter().copied(), t.language);
        without_own_name(&mut terms, &own);
        terms
    });
    Read {
        activity: activity(events, now),
        best: best_send(events, tz, now),
        messages: tone.as_ref().map_or(0, |t| t.messages),
        tone,
        terms,
    }
}

/// The user's time zone (`users.timezone`), UTC when unset or unknown.
async fn user_zone(tx: &mut TenantTx) -> Result<Tz, sqlx::Error> {
    let user_id = tx.user_id();
    let name: Option<String> = sqlx::query_scalar("SELECT timezone FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&mut **tx)
        .await?
        .flatten();
    Ok(name.and_then(|n| n.parse().ok()).unwrap_or(Tz::UTC))
}

/// Recomputes and stores the insights of `people` (those gone since are skipped) in
/// a few set-wide statements whatever their number; returns how many were stored.
pub async fn recompute_many(tx: &mut TenantTx, people: &[Uuid]) -> Result<usize, sqlx::Error> {
    let user_id = tx.user_id();
    if people.is_empty() {
        return Ok(0);
    }
    // Those still there, locked (until commit) in id order: one recompute of a person
    // at a time, or one that read before a write could commit after a newer one and
    // leave stale insights. A row lock, not an advisory lock: ten thousand of those
    // would fill the server's lock table. It does not block ingestion's foreign-key
    // checks (KEY SHARE); a merge or erase of one of them waits for us, or we for it
    // (and then skip the person it removed).
    let (present, names): (Vec<Uuid>, Vec<Option<String>>) = sqlx::query_as::<_, (Uuid, Option<String>)>(
        "SELECT id, full_name FROM people WHERE user_id = $1 AND id = ANY($2) ORDER BY id FOR NO KEY UPDATE",
    )
    .bind(user_id)
    .bind(people)
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .unzip();
    if present.is_empty() {
        return Ok(0);
    }
    // Taken before any event is read (and after the locks): whatever it shows, the
    // reads below see too.
    let snapshot: String = sqlx::query_scalar("SELECT pg_current_snapshot()::text")
        .fetch_one(&mut **tx)
        .await?;
    let now = Utc::now();
    let tz = user_zone(tx).await?;
    let events: Vec<OwnEvent> = sqlx::query_as(EVENTS_SQL)
        .bind(user_id)
        .bind(&present)
        .bind(&OUTBOUND_TYPES[..])
        .bind(&AUTHORED_TYPES[..])
        .fetch_all(&mut **tx)
        .await?;
    let mut by_person: HashMap<Uuid, Vec<OwnEvent>> = HashMap::new();
    for e in events {
        by_person.entry(e.person_id).or_default().push(e);
    }
    let reads: Vec<Read> = present
        .iter()
        .zip(&names)
        .map(|(p, name)| {
            let events = by_person.get(p).map_or(&[][..], Vec::as_slice);
            read_person(events, name.as_deref(), tz, now)
        })
        .collect();
    drop(by_person);

    // Document frequencies as they will be once this recompute's terms are stored.
    let old: HashMap<Uuid, Vec<String>> = sqlx::query_as::<_, (Uuid, Vec<String>)>(
        "SELECT person_id, coalesce(terms, '{}') FROM person_insights WHERE user_id = $1 AND person_id = ANY($2)",
    )
    .bind(user_id)
    .bind(&present)
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .collect();
    let new_terms: Vec<Vec<String>> = reads
        .iter()
        .map(|r| {
            r.terms
                .as_ref()
                .map_or_else(Vec::new, |t| t.keys().cloned().collect())
        })
        .collect();
    let changes = df_changes(
        present
            .iter()
            .zip(&new_terms)
            .map(|(p, new)| (old.get(p).map_or(&[][..], Vec::as_slice), new.as_slice())),
    );
    let mut wanted: Vec<&str> = new_terms.iter().flatten().map(String::as_str).collect();
    wanted.push(interests::EVERYONE);
    wanted.sort_unstable();
    wanted.dedup();
    let stored: HashMap<String, i64> = sqlx::query_as::<_, (String, i32)>(
        "SELECT term, people FROM person_term_df WHERE user_id = $1 AND term = ANY($2)",
    )
    .bind(user_id)
    .bind(&wanted)
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .map(|(t, n)| (t, i64::from(n)))
    .collect();
    let df = |term: &str| -> u64 {
        let n = stored.get(term).copied().unwrap_or(0) + changes.get(term).copied().unwrap_or(0);
        n.max(0) as u64
    };
    let everyone = df(interests::EVERYONE);

    let mut rows = InsightColumns::default();
    for ((person, read), terms) in present.iter().zip(&reads).zip(new_terms) {
        let a = &read.activity;
        rows.person_id.push(*person);
        rows.channel_preferences
            .push(Value::Object(shares(&a.channels)));
        rows.activity_state.push(activity_state(a.last_active, now));
        rows.last_active_at.push(a.last_active);
        rows.seasonality
            .push(json!({ "weekday_mon_first": a.weekday, "month_jan_first": a.month }));
        rows.warmth_score.push(warmth_score(
            a.last_active,
            a.events_90d,
            a.mean_sentiment,
            now,
        ));
        rows.interests.push(read.terms.as_ref().map(|counts| {
            json!(top_interests(
                counts,
                read.messages,
                df,
                everyone,
                interests::TOP_INTERESTS
            ))
        }));
        rows.tone_preferences
            .push(read.tone.as_ref().map(|t| json!(t)));
        rows.terms.push(terms.join("\n"));
        rows.best_channel
            .push(read.best.as_ref().map(|b| b.channel.clone()));
        rows.best_send_hour
            .push(read.best.as_ref().map(|b| i16::from(b.hour)));
        rows.best_send_evidence
            .push(read.best.as_ref().map(|b| json!(b)));
    }
    // Terms travel newline-joined (a term never holds one): an array per row cannot
    // be unnested from a two-dimensional array of ragged rows.
    sqlx::query(
        "INSERT INTO person_insights (user_id, person_id, channel_preferences, avg_reply_time, activity_state,
                                      last_active_at, seasonality, warmth_score, interests, tone_preferences,
                                      terms, best_channel, best_send_hour, best_send_evidence, computed_snapshot)
         SELECT $1, u.p, u.cp,
                (SELECT avg(m.replied_at - m.sent_at) FROM outbound_messages m
                  WHERE m.user_id = $1 AND m.person_id = u.p AND m.replied_at IS NOT NULL),
                u.st, u.la, u.se, u.w::numeric, u.i, u.tp,
                CASE WHEN u.t = '' THEN '{}'::text[] ELSE string_to_array(u.t, E'\\n') END,
                u.bc, u.bh, u.be, $14
           FROM unnest($2::uuid[], $3::jsonb[], $4::text[], $5::timestamptz[], $6::jsonb[], $7::float8[],
                       $8::jsonb[], $9::jsonb[], $10::text[], $11::text[], $12::int2[], $13::jsonb[])
                AS u(p, cp, st, la, se, w, i, tp, t, bc, bh, be)
         ON CONFLICT (user_id, person_id) DO UPDATE SET
             channel_preferences = EXCLUDED.channel_preferences, avg_reply_time = EXCLUDED.avg_reply_time,
             activity_state = EXCLUDED.activity_state, last_active_at = EXCLUDED.last_active_at,
             seasonality = EXCLUDED.seasonality, warmth_score = EXCLUDED.warmth_score,
             interests = EXCLUDED.interests, tone_preferences = EXCLUDED.tone_preferences,
             terms = EXCLUDED.terms, best_channel = EXCLUDED.best_channel,
             best_send_hour = EXCLUDED.best_send_hour, best_send_evidence = EXCLUDED.best_send_evidence,
             computed_snapshot = EXCLUDED.computed_snapshot",
    )
    .bind(user_id)
    .bind(&rows.person_id)
    .bind(&rows.channel_preferences)
    .bind(&rows.activity_state)
    .bind(&rows.last_active_at)
    .bind(&rows.seasonality)
    .bind(&rows.warmth_score)
    .bind(&rows.interests)
    .bind(&rows.tone_preferences)
    .bind(&rows.terms)
    .bind(&rows.best_channel)
    .bind(&rows.best_send_hour)
    .bind(&rows.best_send_evidence)
    .bind(snapshot)
    .execute(&mut **tx)
    .await?;
    Ok(present.len())
}

/// The columns of the insight rows one recompute stores.
#[derive(Default)]
struct InsightColumns {
    person_id: Vec<Uuid>,
    channel_preferences: Vec<Value>,
    activity_state: Vec<&'static str>,
    last_active_at: Vec<Option<DateTime<Utc>>>,
    seasonality: Vec<Value>,
    warmth_score: Vec<f64>,
    interests: Vec<Option<Value>>,
    tone_preferences: Vec<Option<Value>>,
    terms: Vec<String>,
    best_channel: Vec<Option<String>>,
    best_send_hour: Vec<Option<i16>>,
    best_send_evidence: Vec<Option<Value>>,
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    #[test]
    fn a_persons_own_name_and_event_words_are_never_interests() {
        let mut terms = count_terms(
            [
                "Júlia commented: loving the design systems talk",
                "replied to Júlia Ribeiro about design systems",
            ],
            "en",
        );
        without_own_name(&mut terms, &name_words(Some("Júlia Ribeiro")));
        let kept: Vec<&str> = terms.keys().map(String::as_str).collect();
        assert!(kept.contains(&"design systems"), "{kept:?}");
        for gone in ["júlia", "ribeiro", "júlia ribeiro", "commented", "replied"] {
            assert!(!kept.contains(&gone), "{gone} in {kept:?}");
        }
        assert!(name_words(None).is_empty());
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
    }

    #[test]
    fn activity_states_follow_recency() {
        let ago = |d| Some(now() - Duration::days(d));
        assert_eq!(activity_state(ago(0), now()), "active");
        assert_eq!(activity_state(ago(7), now()), "active");
        assert_eq!(activity_state(ago(8), now()), "warming");
        assert_eq!(activity_state(ago(30), now()), "warming");
        assert_eq!(activity_state(ago(31), now()), "cool");
        assert_eq!(activity_state(ago(91), now()), "dormant");
        assert_eq!(activity_state(None, now()), "dormant");
    }

    #[test]
    fn warmth_rises_with_recency_frequency_and_sentiment() {
        assert_eq!(warmth_score(None, 0, None, now()), 10.0);
        assert_eq!(warmth_score(Some(now()), 20, Some(1.0), now()), 100.0);
        assert_eq!(
            warmth_score(Some(now() - Duration::days(30)), 0, None, now()),
            35.0
        );
        assert!(
            warmth_score(Some(now()), 5, Some(-1.0), now())
                < warmth_score(Some(now()), 5, Some(0.5), now())
        );
        assert_eq!(warmth_score(Some(now()), 500, Some(9.0), now()), 100.0);
    }

    #[test]
    fn a_jobs_seen_times_round_trip_and_bad_ones_are_named() {
        let t = now();
        let job = Recompute {
            identity_ids: vec![7],
            seen_from_us: vec![t.timestamp_micros() - 1],
            seen_to_us: vec![t.timestamp_micros()],
            ..Recompute::default()
        };
        let back: Recompute = serde_json::from_value(serde_json::to_value(&job).unwrap()).unwrap();
        assert_eq!(
            back.seen().unwrap(),
            vec![(7, t - Duration::microseconds(1), t)]
        );
        // jobs queued before seen times moved here have none
        let old: Recompute =
            serde_json::from_value(json!({"person_ids": [], "after_xid": 5})).unwrap();
        assert_eq!(old.seen().unwrap(), vec![]);
        let short = Recompute {
            seen_to_us: vec![],
            ..job.clone()
        };
        assert!(short.seen().unwrap_err().contains("as long as each other"));
        let absurd = Recompute {
            seen_from_us: vec![i64::MAX],
            ..job
        };
        assert!(absurd.seen().unwrap_err().contains("microseconds"));
    }

    #[test]
    fn shares_sum_to_one_and_empty_is_empty() {
        let s = shares(&[("email".into(), 3), ("instagram".into(), 1)]);
        assert_eq!(s["email"], json!(0.75));
        assert_eq!(s["instagram"], json!(0.25));
        assert!(shares(&[]).is_empty());
    }
}
