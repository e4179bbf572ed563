//! `everreach bench ingest`: people-graph event ingestion and timeline reads, each
//! beside its baseline in the same run (DESIGN § Benchmarks).
//!
//! - ingest: N events as JSON batches of 10,000, each decoded and stored exactly as
//!   `POST /api/v1/person-events/batch` does (`ingest::ingest_tx`, one tenant
//!   transaction: checks, identity resolution creating people, dedupe insert, reply
//!   marking, recompute jobs) — `events_per_second`;
//! - baseline: raw `COPY` of the same rows (person ids already known) into the same
//!   `person_events`, same indexes, as another bench tenant —
//!   `baseline.copy_events_per_second`; `ratio` = ours ÷ COPY. The two alternate in
//!   rounds of 100,000 events (COPY first), so both meet the table at the same sizes;
//!   each phase starts after VACUUM and CHECKPOINT;
//! - deferred work: the `people.insights` jobs the batches queued, run one by one
//!   after the import (`insights::run`: widen seen times, recompute people) —
//!   `insight_jobs.seconds` and `slowest_job_seconds` (no baseline: a figure for
//!   what ingestion leaves behind);
//! - timeline: 2,000 first pages (50 events) of a person with N/100 events through
//!   `timeline::page` in a tenant transaction (the API's code), against the bare
//!   `SELECT … LIMIT 50` on the owner's connection — `timeline.p99_ms`, its
//!   `baseline_p99_ms` and `timeline.ratio` = baseline ÷ ours.
//!
//! The COPY needs a role that bypasses row-level security (the embedded superuser).
//! Both bench users, and everything they own, are deleted at the end.

use std::time::Instant;

use anyhow::{Context, bail};
use chrono::{Duration, Utc};
use everreach_core::db::{Database, DbTarget, tenant};
use everreach_core::people::model::EventInput;
use everreach_core::people::timeline::{self, TimelineFilter};
use everreach_core::people::{ingest, insights};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::Latency;
use crate::progress::Progress;

#[derive(Debug, Clone)]
pub struct Options {
    pub events: u64,
    pub json: bool,
}

const BATCH: usize = 10_000;
/// Events per round of COPY-then-ours.
const ROUND: u64 = 100_000;
const TIMELINE_READS: usize = 2_000;
const EVENT_TYPES: [&str; 6] = [
    "liked",
    "commented",
    "dm_reply",
    "opened_email",
    "clicked_link",
    "shared",
];

/// Event `i`'s person: one in 100 events goes to person 0 (the busy timeline), the
/// rest spread over `people` people.
fn person_of(i: u64, people: u64) -> u64 {
    if i.is_multiple_of(100) {
        0
    } else {
        1 + i % (people - 1)
    }
}

fn event_json(i: u64, people: u64, now: chrono::DateTime<Utc>) -> Value {
    let p = person_of(i, people);
    json!({
        "identity": {"channel": "instagram", "handle": format!("bench_user_{p}")},
        "event_type": EVENT_TYPES[(i % 6) as usize],
        "platform_id": format!("post-{i}"),
        "content_excerpt": format!("event {i}: great post, thanks for sharing"),
        "sentiment": ((i % 21) as f64 - 10.0) / 10.0,
        "traffic_type": if i.is_multiple_of(10) { "paid" } else { "organic" },
        "metadata": {"source": "bench", "n": i},
        "occurred_at": now - Duration::seconds((i % 31_536_000) as i64),
    })
}

/// A COPY text field: `\N` for NULL, backslash, tab and newlines escaped.
fn copy_field(out: &mut String, value: Option<&str>) {
    match value {
        None => out.push_str("\\N"),
        Some(v) => {
            for c in v.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\t' => out.push_str("\\t"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
        }
    }
}

/// The COPY text of events `range` for the baseline tenant.
fn copy_text(
    range: std::ops::Range<u64>,
    people: u64,
    now: chrono::DateTime<Utc>,
    copy_user: Uuid,
    copy_people: &[Uuid],
) -> String {
    let mut data = String::with_capacity((range.end - range.start) as usize * 200);
    for k in range {
        let e = event_json(k, people, now);
        let s = |f: &str| e[f].as_str().map(str::to_string);
        data.push_str(&copy_user.to_string());
        data.push('\t');
        data.push_str(&copy_people[person_of(k, people) as usize].to_string());
        data.push_str("\tinstagram\t");
        for (field, value) in [
            ("event_type", s("event_type")),
            ("platform_id", s("platform_id")),
            ("content_excerpt", s("content_excerpt")),
            ("sentiment", e["sentiment"].as_f64().map(|v| v.to_string())),
            ("traffic_type", s("traffic_type")),
            ("metadata", Some(e["metadata"].to_string())),
            ("occurred_at", s("occurred_at")),
        ] {
            copy_field(&mut data, value.as_deref());
            data.push(if field == "occurred_at" { '\n' } else { '\t' });
        }
    }
    data
}

async fn bench_user(pool: &PgPool, tag: &str, which: &str) -> anyhow::Result<Uuid> {
    Ok(sqlx::query_scalar("SELECT sign_up_user($1, NULL, $2)")
        .bind(format!("bench-{which}-{tag}@bench.invalid"))
        .bind(format!("bench {which}"))
        .fetch_one(pool)
        .await?)
}

pub async fn run(target: DbTarget, opts: Options) -> anyhow::Result<()> {
    if opts.events < 200 {
        bail!("--events must be at least 200");
    }
    let db = Database::open(target).await?;
    let n = opts.events;
    let people = (n / 100).max(2);
    let tag = Uuid::new_v4().simple().to_string()[..8].to_string();
    let ours_user = bench_user(&db.app, &tag, "ours").await?;
    let copy_user = bench_user(&db.app, &tag, "copy").await?;
    let now = Utc::now();
    let result = measure(&db, n, people, now, ours_user, copy_user).await;
    eprintln!("bench ingest: removing the bench users and their rows…");
    super::remove_users(&db, &[ours_user, copy_user]).await?;
    super::print_json(&result?, opts.json);
    Ok(())
}

async fn measure(
    db: &Database,
    n: u64,
    people: u64,
    now: chrono::DateTime<Utc>,
    ours_user: Uuid,
    copy_user: Uuid,
) -> anyhow::Result<Value> {
    // Baseline tenant's people exist before anything is timed.
    let copy_people: Vec<Uuid> = (0..people).map(|_| Uuid::now_v7()).collect();
    sqlx::query("INSERT INTO people (user_id, id) SELECT $1, unnest($2::uuid[])")
        .bind(copy_user)
        .bind(&copy_people)
        .execute(&db.admin)
        .await?;
    // Rounds of COPY then ours, so both meet the table at the same sizes.
    let (mut copy_secs, mut ours_secs) = (0.0, 0.0);
    let (mut copied, mut stored) = (0u64, 0u64);
    let mut progress = Progress::new(n, "events");
    let mut start = 0;
    while start < n {
        let end = (start + ROUND).min(n);
        // Made before timing: the COPY text and the JSON bodies the API would receive.
        let data = copy_text(start..end, people, now, copy_user, &copy_people);
        let mut bodies: Vec<Vec<u8>> = Vec::new();
        let mut i = start;
        while i < end {
            let stop = (i + BATCH as u64).min(end);
            let events: Vec<Value> = (i..stop).map(|k| event_json(k, people, now)).collect();
            bodies.push(serde_json::to_vec(&json!({ "events": events }))?);
            i = stop;
        }

        settle(&db.admin).await?;
        let started = Instant::now();
        let mut conn = db.admin.acquire().await?;
        let mut copy = conn
            .copy_in_raw(
                "COPY person_events (user_id, person_id, channel, event_type, platform_id, content_excerpt,
                                     sentiment, traffic_type, metadata, occurred_at) FROM STDIN",
            )
            .await
            .context("COPY needs a role that bypasses row-level security (the embedded superuser)")?;
        for chunk in data.as_bytes().chunks(1 << 20) {
            copy.send(chunk).await?;
        }
        copied += copy.finish().await?;
        copy_secs += started.elapsed().as_secs_f64();
        drop(conn);

        settle(&db.admin).await?;
        let started = Instant::now();
        for body in &bodies {
            #[derive(serde::Deserialize)]
            struct Batch {
                events: Vec<EventInput>,
            }
            let batch: Batch = serde_json::from_slice(body)?;
            let outcome = ingest::ingest_tx(&db.app, ours_user, &batch.events)
                .await
                .map_err(|e| anyhow::anyhow!("ingesting: {e:?}"))?;
            stored += outcome.created as u64;
        }
        ours_secs += started.elapsed().as_secs_f64();
        progress.set_message(format!(
            "COPY {:.0}/s, ours {:.0}/s so far",
            copied as f64 / copy_secs,
            stored as f64 / ours_secs
        ));
        progress.inc(end - start);
        start = end;
    }
    progress.finish();
    if stored != n || copied != n {
        bail!("stored {stored} and copied {copied} of {n} events");
    }
    let copy_rate = copied as f64 / copy_secs;
    let ours_rate = stored as f64 / ours_secs;
    eprintln!(
        "bench ingest: COPY {copied} rows in {copy_secs:.2} s ({copy_rate:.0}/s); ours {stored} events in {ours_secs:.2} s ({ours_rate:.0}/s), ratio {:.2}",
        ours_rate / copy_rate
    );

    let jobs = drain_insight_jobs(db, ours_user).await?;

    // Timeline of the busy person, through the API's code and bare.
    settle(&db.admin).await?;
    let mut tx = tenant::begin(&db.app, ours_user).await?;
    let busy: Uuid = sqlx::query_scalar(
        "SELECT person_id FROM identities WHERE user_id = $1 AND handle = 'bench_user_0'",
    )
    .bind(ours_user)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let busy_events = n.div_ceil(100);
    let filter = TimelineFilter {
        limit: 50,
        ..TimelineFilter::default()
    };
    let mut ours_us = Vec::with_capacity(TIMELINE_READS);
    for _ in 0..TIMELINE_READS {
        let t = Instant::now();
        let mut tx = tenant::begin_snapshot(&db.app, ours_user).await?;
        let page = timeline::page(&mut tx, busy, &filter).await?;
        tx.commit().await?;
        ours_us.push(t.elapsed().as_micros() as u32);
        if page.len() as u64 != busy_events.min(50) {
            bail!("the timeline page has {} events", page.len());
        }
    }
    let sql = timeline::page_sql(&filter);
    let mut bare_us = Vec::with_capacity(TIMELINE_READS);
    for _ in 0..TIMELINE_READS {
        let t = Instant::now();
        let rows: Vec<(i64,)> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT id FROM ({sql}) page")))
                .bind(ours_user)
                .bind(busy)
                .bind(50_i64)
                .fetch_all(&db.admin)
                .await?;
        bare_us.push(t.elapsed().as_micros() as u32);
        if rows.len() as u64 != busy_events.min(50) {
            bail!("the bare page has {} events", rows.len());
        }
    }
    let ours_lat = Latency::of(&mut ours_us);
    let bare_lat = Latency::of(&mut bare_us);
    eprintln!(
        "bench ingest: timeline of {busy_events} events, first page of 50: p50 {:.2} ms p99 {:.2} ms; bare p99 {:.2} ms",
        ours_lat.p50_ms, ours_lat.p99_ms, bare_lat.p99_ms
    );
    Ok(json!({
        "bench": "ingest",
        "events": n,
        "people": people,
        "batch": BATCH,
        "events_per_second": ours_rate,
        "seconds": ours_secs,
        "baseline": {
            "what": "one raw COPY of the same rows into person_events (same indexes), people pre-created",
            "copy_events_per_second": copy_rate,
            "seconds": copy_secs,
        },
        "ratio": ours_rate / copy_rate,
        "insight_jobs": jobs,
        "timeline": {
            "person_events": busy_events,
            "page": 50,
            "reads": TIMELINE_READS,
            "p50_ms": ours_lat.p50_ms,
            "p99_ms": ours_lat.p99_ms,
            "baseline_p50_ms": bare_lat.p50_ms,
            "baseline_p99_ms": bare_lat.p99_ms,
            "ratio": bare_lat.p99_ms / ours_lat.p99_ms.max(1e-9),
        },
    }))
}

/// Runs the insight jobs `user`'s batches queued, oldest first, one at a time after
/// the whole import (a worker that fell behind): their count, time and what they
/// did. Run this late, they coalesce — the first recomputes everyone, the rest find
/// them up to date — so the total is the best case; the slowest job (a full
/// recompute of a batch's people) is what each batch would cost a worker keeping
/// up.
pub(super) async fn drain_insight_jobs(db: &Database, user: Uuid) -> anyhow::Result<Value> {
    let queued: Vec<Value> = sqlx::query_scalar(
        "SELECT data FROM jobs WHERE name = $1 AND user_id = $2 ORDER BY created_on, id",
    )
    .bind(insights::QUEUE)
    .bind(user)
    .fetch_all(&db.admin)
    .await?;
    settle(&db.admin).await?;
    let started = Instant::now();
    let (mut widened, mut recomputed, mut slowest) = (0, 0, 0.0_f64);
    for data in &queued {
        let job: insights::Recompute = serde_json::from_value(data.clone())?;
        let seen = job.seen().map_err(anyhow::Error::msg)?;
        let one = Instant::now();
        let done = insights::run(&db.app, user, tenant::Actor::Worker, &job, &seen).await?;
        slowest = slowest.max(one.elapsed().as_secs_f64());
        widened += done.widened;
        recomputed += done.recomputed;
    }
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "bench ingest: {} insight jobs in {seconds:.2} s ({widened} identities widened, {recomputed} people recomputed; slowest job {slowest:.2} s)",
        queued.len()
    );
    Ok(json!({
        "jobs": queued.len(),
        "seconds": seconds,
        "slowest_job_seconds": slowest,
        "identities_widened": widened,
        "people_recomputed": recomputed,
    }))
}

async fn settle(admin: &PgPool) -> anyhow::Result<()> {
    sqlx::query("VACUUM (ANALYZE) person_events")
        .execute(admin)
        .await?;
    if let Err(e) = sqlx::query("CHECKPOINT").execute(admin).await {
        tracing::warn!(error = %e, "CHECKPOINT refused; figures may include checkpoint work");
    }
    Ok(())
}
