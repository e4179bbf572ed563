//! `everreach bench segments`: three representative segment definitions compiled by
//! `everreach_core::segments` against the same predicates written by hand in SQL,
//! on one tenant of N people (default 100,000; the run: 1,000,000) and M
//! events (default 1,000,000; the issue's: 10,000,000), in the same run (DESIGN §
//! Benchmarks); then the incremental membership update after one event.
//!
//! - data, made by SQL (`generate_series`; this bench measures queries, not
//!   ingestion): people (half with an e-mail, 20 companies), identities (Instagram
//!   for 3 in 5, e-mail for half, LinkedIn for 1 in 5), insights for everyone
//!   (activity state, warmth 0–100, last active over a year), Instagram contacts for
//!   the Instagram people (stage, score, tags), and events spread over the people
//!   and the last year (replies, comments, likes, e-mails, opens, clicks, our own
//!   sends; one in ten paid). Deterministic for a size. Then `VACUUM (ANALYZE)`;
//! - (a) each definition's count, ours (`Compiled::count`: the compiled statement)
//!   against the hand-written statement, each in a tenant transaction (app role,
//!   row security), alternating, after one warm-up each; the median of `--runs`.
//!   Both must count the same people, or the bench fails. `ratio` = hand-written
//!   seconds ÷ ours, per definition and over the three (target ≥ 0.833: ours ≤ 1.2×);
//! - (b) incremental: the three saved as segments (members filled), then for
//!   `--samples` random people one new event each is written and committed, and the
//!   membership update that follows is timed — `store::refresh_people` for that
//!   person over every segment of the tenant, in its own transaction with its commit,
//!   as the people-insights job does it (target p99 ≤ 100 ms); its baseline is the
//!   three hand-written statements restricted to that person (reads only).
//!
//! The bench user, and everything it owns, is deleted at the end (unless `--keep`).

use std::time::Instant;

use anyhow::{Context, bail};
use chrono::Utc;
use everreach_core::db::tenant::TenantTx;
use everreach_core::db::{Database, DbTarget};
use everreach_core::segments::store::{self, SegmentInput};
use everreach_core::segments::{Scope, compile, parse};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::Latency;
use crate::progress::Progress;

#[derive(Debug, Clone)]
pub struct Options {
    pub people: u64,
    pub events: u64,
    pub runs: usize,
    pub samples: usize,
    pub json: bool,
    /// Leave the bench user and its data in place (`--keep`, hidden): for EXPLAINs.
    pub keep: bool,
}

const TARGET_RATIO: f64 = 1.0 / 1.2;
const TARGET_P99_MS: f64 = 100.0;
/// People and events written per statement while making the data.
const CHUNK: u64 = 100_000;

/// One definition and the same predicates written by hand (`$1` the tenant, `$2`
/// now; `{only}` is where the incremental baseline restricts to one person, `$3`).
struct Case {
    name: &'static str,
    definition: Value,
    hand: &'static str,
}

fn cases() -> [Case; 3] {
    [
        Case {
            name: "warm_instagram_active_30d",
            definition: json!({"all": [
                {"identity": {"channel": "instagram"}},
                {"field": "insight.warmth", "op": "gte", "value": 60},
                {"field": "insight.last_active", "op": "within", "value": "last 30 days"}
            ]}),
            hand: "SELECT count(*) FROM people p
                     JOIN person_insights i ON i.user_id = p.user_id AND i.person_id = p.id
                    WHERE p.user_id = $1 {only}
                      AND i.warmth_score >= 60
                      AND i.last_active_at >= $2 - interval '30 days'
                      AND EXISTS (SELECT 1 FROM identities d
                                   WHERE d.user_id = p.user_id AND d.person_id = p.id AND d.channel = 'instagram')",
        },
        Case {
            name: "instagram_repliers_3_in_90d_no_email",
            definition: json!({"all": [
                {"event": {"type": "dm_reply", "channel": "instagram", "within": "last 90 days",
                           "count": {"op": "gte", "value": 3}}},
                {"not": {"identity": {"channel": "email"}}}
            ]}),
            hand: "SELECT count(*) FROM people p
                    WHERE p.user_id = $1 {only}
                      AND p.id IN (SELECT e.person_id FROM person_events e
                                    WHERE e.user_id = $1 AND e.event_type = 'dm_reply' AND e.channel = 'instagram'
                                      AND e.occurred_at >= $2 - interval '90 days' {only_e}
                                    GROUP BY e.person_id HAVING count(*) >= 3)
                      AND NOT EXISTS (SELECT 1 FROM identities d
                                       WHERE d.user_id = p.user_id AND d.person_id = p.id AND d.channel = 'email')",
        },
        Case {
            name: "late_pipeline_or_recent_commenters",
            definition: json!({"any": [
                {"field": "crm.stage", "op": "in", "value": ["trust_signals", "fit_repeats", "permissioned_offer"]},
                {"all": [
                    {"event": {"type": "comment", "within": "last 7 days"}},
                    {"not": {"field": "insight.activity_state", "op": "eq", "value": "dormant"}}
                ]}
            ]}),
            hand: "SELECT count(*) FROM people p
                    WHERE p.user_id = $1 {only}
                      AND (EXISTS (SELECT 1 FROM instagram_contacts c
                                    WHERE c.user_id = p.user_id AND c.person_id = p.id
                                      AND c.relationship_stage IN ('trust_signals', 'fit_repeats', 'permissioned_offer'))
                           OR (EXISTS (SELECT 1 FROM person_events e
                                        WHERE e.user_id = p.user_id AND e.person_id = p.id
                                          AND e.event_type = 'comment' AND e.occurred_at >= $2 - interval '7 days')
                               AND NOT EXISTS (SELECT 1 FROM person_insights i
                                                WHERE i.user_id = p.user_id AND i.person_id = p.id
                                                  AND i.activity_state = 'dormant')))",
        },
    ]
}

fn hand_sql(case: &Case, one_person: bool) -> String {
    let (only, only_e) = if one_person {
        ("AND p.id = $3", "AND e.person_id = $3")
    } else {
        ("", "")
    };
    case.hand
        .replace("{only_e}", only_e)
        .replace("{only}", only)
}

pub async fn run(target: DbTarget, opts: Options) -> anyhow::Result<()> {
    if opts.people < 1_000 {
        bail!("--people must be at least 1000");
    }
    if opts.events < opts.people {
        bail!("--events must be at least --people");
    }
    if opts.runs < 3 || opts.samples < 20 {
        bail!("--runs must be at least 3 and --samples at least 20");
    }
    let db = Database::open(target).await?;
    let tag = &Uuid::new_v4().simple().to_string()[..8];
    let user: Uuid = sqlx::query_scalar("SELECT sign_up_user($1, NULL, $2)")
        .bind(format!("bench-segments-{tag}@bench.invalid"))
        .bind("bench segments")
        .fetch_one(&db.app)
        .await?;
    let result = measure(&db, &opts, user).await;
    if opts.keep {
        eprintln!(
            "bench segments: kept the bench user {user} and its rows; remove them with DELETE FROM jobs WHERE user_id = '{user}'; DELETE FROM users WHERE id = '{user}';"
        );
    } else {
        eprintln!("bench segments: removing the bench user and its rows…");
        super::remove_users(&db, &[user]).await?;
    }
    super::print_json(&result?, opts.json);
    Ok(())
}

async fn settle(admin: &PgPool) -> anyhow::Result<()> {
    sqlx::query(
        "VACUUM (ANALYZE) people, identities, person_events, person_insights, instagram_contacts, segment_members",
    )
    .execute(admin)
    .await?;
    if let Err(e) = sqlx::query("CHECKPOINT").execute(admin).await {
        tracing::warn!(error = %e, "CHECKPOINT refused; figures may include checkpoint work");
    }
    Ok(())
}

/// The bench's people ids: `md5(tag || n)` as a uuid, so events can name person n.
const PERSON_ID: &str = "md5($2 || n)::uuid";

async fn make_data(db: &Database, opts: &Options, user: Uuid) -> anyhow::Result<f64> {
    let started = Instant::now();
    let tag = user.simple().to_string();
    let people = opts.people as i64;
    let mut progress = Progress::new(opts.people + opts.events, "rows");
    let mut from = 0i64;
    while from < people {
        let to = (from + CHUNK as i64).min(people);
        let statements = [
            format!(
                "INSERT INTO people (user_id, id, full_name, primary_email, company, created_at)
                 SELECT $1, {PERSON_ID}, 'Person ' || n,
                        CASE WHEN n % 2 = 0 THEN 'p' || n || '@example.com' END,
                        'Company ' || (n % 20), now() - make_interval(days => (n % 700)::int)
                   FROM generate_series($3::int8, $4::int8 - 1) n"
            ),
            format!(
                "INSERT INTO identities (user_id, person_id, channel, handle, is_verified)
                 SELECT $1, {PERSON_ID}, c.channel, c.channel || '_' || n, n % 3 = 0
                   FROM generate_series($3::int8, $4::int8 - 1) n,
                        LATERAL (VALUES ('instagram', n % 5 < 3), ('email', n % 2 = 0), ('linkedin', n % 5 = 4)) c(channel, has)
                  WHERE c.has"
            ),
            format!(
                "INSERT INTO person_insights (user_id, person_id, activity_state, warmth_score, last_active_at, best_channel)
                 SELECT $1, {PERSON_ID}, (ARRAY['active','warming','cool','dormant'])[1 + (n * 7 % 4)],
                        (n * 37 % 101)::numeric, now() - make_interval(days => (n * 13 % 365)::int),
                        (ARRAY['instagram','email','linkedin'])[1 + n % 3]
                   FROM generate_series($3::int8, $4::int8 - 1) n"
            ),
            format!(
                "INSERT INTO instagram_contacts (user_id, person_id, instagram_username, relationship_stage, relationship_score, tags)
                 SELECT $1, {PERSON_ID}, 'instagram_' || n,
                        (ARRAY['first_touch','context_captured','micro_win_delivered','cadence_established',
                               'trust_signals','fit_repeats','permissioned_offer','post_win'])[1 + (n * 11 % 8)],
                        (n * 29 % 101)::int, ARRAY['tag' || (n % 7)]
                   FROM generate_series($3::int8, $4::int8 - 1) n WHERE n % 5 < 3"
            ),
        ];
        for sql in statements {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(user)
                .bind(&tag)
                .bind(from)
                .bind(to)
                .execute(&db.admin)
                .await
                .context("making the bench people")?;
        }
        progress.inc((to - from) as u64);
        from = to;
    }
    let events = opts.events as i64;
    let mut from = 0i64;
    while from < events {
        let to = (from + CHUNK as i64).min(events);
        // person: a hash of the event number; type and channel from its own hash
        sqlx::query(
            "INSERT INTO person_events (user_id, person_id, channel, event_type, traffic_type, occurred_at)
             SELECT $1, md5($2 || (h % $5))::uuid, t.channel, t.kind,
                    CASE WHEN h % 10 = 0 THEN 'paid' ELSE 'organic' END,
                    now() - make_interval(secs => (h % 31536000)::float8)
               FROM (SELECT n, abs(hashint8(n * 7919 + 17)) AS h FROM generate_series($3::int8, $4::int8 - 1) n) g,
                    LATERAL (SELECT (ARRAY['instagram','instagram','instagram','email','email','linkedin','instagram','email','x','instagram'])[1 + (g.n % 10)] AS channel,
                                    (ARRAY['dm_reply','comment','like','email_received','email_opened','comment','dm_sent','link_click','like','dm_reply'])[1 + (g.n % 10)] AS kind) t",
        )
        .bind(user)
        .bind(&tag)
        .bind(from)
        .bind(to)
        .bind(people)
        .execute(&db.admin)
        .await
        .context("making the bench events")?;
        progress.inc((to - from) as u64);
        from = to;
    }
    progress.finish();
    settle(&db.admin).await?;
    Ok(started.elapsed().as_secs_f64())
}

/// A deterministic random number for `x` (splitmix64).
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn ours_once(db: &Database, user: Uuid, definition: &Value) -> anyhow::Result<(f64, i64)> {
    let def = parse(definition).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let started = Instant::now();
    let compiled =
        compile(&def, &|_| None, Scope::All, Utc::now()).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut tx = TenantTx::begin(&db.app, user).await?;
    let n = compiled.count(&mut tx, user).await?;
    tx.commit().await?;
    Ok((started.elapsed().as_secs_f64(), n))
}

async fn hand_once(db: &Database, user: Uuid, sql: &str) -> anyhow::Result<(f64, i64)> {
    let started = Instant::now();
    let mut tx = TenantTx::begin(&db.app, user).await?;
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(user)
        .bind(Utc::now())
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok((started.elapsed().as_secs_f64(), n))
}

async fn measure(db: &Database, opts: &Options, user: Uuid) -> anyhow::Result<Value> {
    eprintln!(
        "bench segments: making {} people and {} events…",
        opts.people, opts.events
    );
    let data_seconds = make_data(db, opts, user).await?;
    eprintln!("bench segments: data made in {data_seconds:.0} s");

    // (a) each definition against its hand-written twin
    let mut per_case = Vec::new();
    let (mut ours_total, mut hand_total) = (0.0, 0.0);
    for case in cases() {
        let hand = hand_sql(&case, false);
        let (_, n_ours) = ours_once(db, user, &case.definition).await?;
        let (_, n_hand) = hand_once(db, user, &hand).await?;
        if n_ours != n_hand {
            bail!(
                "{}: the compiled query counts {n_ours} people, the hand-written one {n_hand}",
                case.name
            );
        }
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..opts.runs {
            ours.push(ours_once(db, user, &case.definition).await?.0);
            theirs.push(hand_once(db, user, &hand).await?.0);
        }
        let (o, h) = (median(&mut ours), median(&mut theirs));
        ours_total += o;
        hand_total += h;
        eprintln!(
            "bench segments: {}: {n_ours} people; ours {:.1} ms, hand-written {:.1} ms, ratio {:.3}",
            case.name,
            o * 1e3,
            h * 1e3,
            h / o
        );
        per_case.push(json!({
            "name": case.name, "members": n_ours,
            "ours_ms": o * 1e3, "hand_written_ms": h * 1e3, "ratio": h / o,
        }));
    }
    let ratio = hand_total / ours_total;

    // (b) incremental: save the three, then one event and one membership update at a time
    let mut tx = TenantTx::begin(&db.app, user).await?;
    for case in cases() {
        store::create(
            &mut tx,
            &SegmentInput {
                name: case.name.into(),
                description: None,
                definition: case.definition.clone(),
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("saving {}: {e:?}", case.name))?;
    }
    tx.commit().await?;
    settle(&db.admin).await?;
    let tag = user.simple().to_string();
    let (mut ours_us, mut hand_us) = (Vec::new(), Vec::new());
    let mut changed = 0u64;
    for i in 0..opts.samples + 5 {
        let n = (mix(i as u64 ^ 0x5E6) % opts.people) as i64;
        let person: Uuid = sqlx::query_scalar("SELECT md5($1 || $2::int8)::uuid")
            .bind(&tag)
            .bind(n)
            .fetch_one(&db.admin)
            .await?;
        let kind = ["dm_reply", "comment"][i % 2];
        let mut tx = TenantTx::begin(&db.app, user).await?;
        sqlx::query(
            "INSERT INTO person_events (user_id, person_id, channel, event_type, occurred_at)
             VALUES ($1, $2, 'instagram', $3, now())",
        )
        .bind(user)
        .bind(person)
        .bind(kind)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;

        let started = Instant::now();
        let mut tx = TenantTx::begin(&db.app, user).await?;
        let done = store::refresh_people(&mut tx, &[person])
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        tx.commit().await?;
        let ours = started.elapsed();

        let started = Instant::now();
        let mut tx = TenantTx::begin(&db.app, user).await?;
        for case in cases() {
            let _: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(hand_sql(&case, true)))
                .bind(user)
                .bind(Utc::now())
                .bind(person)
                .fetch_one(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        let hand = started.elapsed();
        if i >= 5 {
            changed += done.entered + done.left;
            ours_us.push(u32::try_from(ours.as_micros()).unwrap_or(u32::MAX));
            hand_us.push(u32::try_from(hand.as_micros()).unwrap_or(u32::MAX));
        }
    }
    let inc = Latency::of(&mut ours_us);
    let inc_hand = Latency::of(&mut hand_us);
    eprintln!(
        "bench segments: incremental update after one event: p50 {:.1} ms, p99 {:.1} ms (target ≤ {TARGET_P99_MS} ms); hand-written reads p50 {:.1} ms; {changed} membership changes",
        inc.p50_ms, inc.p99_ms, inc_hand.p50_ms
    );
    eprintln!(
        "bench segments: over the three definitions, ours {:.1} ms, hand-written {:.1} ms: ratio {ratio:.3} (target ≥ {TARGET_RATIO:.3})",
        ours_total * 1e3,
        hand_total * 1e3
    );
    Ok(json!({
        "bench": "segments",
        "people": opts.people,
        "events": opts.events,
        "runs": opts.runs,
        "data_seconds": data_seconds,
        "definitions": per_case,
        "ours_ms": ours_total * 1e3,
        "baseline": {"what": "the same predicates written by hand in SQL", "ms": hand_total * 1e3},
        "ratio": ratio,
        "target_ratio": TARGET_RATIO,
        "incremental": {
            "samples": opts.samples, "ours": inc, "baseline_reads": inc_hand,
            "membership_changes": changed, "target_p99_ms": TARGET_P99_MS,
        },
    }))
}
