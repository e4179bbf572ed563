//! `everreach bench pages`: the server time of the web UI's people pages on a tenant
//! of N people (default 10,000) and M events (default 1,000,000), each page beside
//! the bare SQL of the same data in the same run (DESIGN § Benchmarks).
//!
//! - data, made through the real code: each person is created by ingestion
//!   (`ingest::ingest_tx`) from an e-mail event carrying their name; their other
//!   identities (Instagram for everyone, Twitter for one in 3, LinkedIn for one in
//!   10) are added to them in one tenant-scoped `INSERT` (what the identities
//!   resource does, in bulk); then the events, in batches of 10,000 through
//!   `ingest::ingest_tx`, each on one of its person's channels, each person's over a
//!   year ending at a recency of their own (so warmth and activity states spread).
//!   One person, the "heavy" one, ends with exactly 10,000 events (N ≥ 100,000
//!   events; a tenth of them below that): 20 messages logged through
//!   `outbound::create` before the stream (so replies mark them), their share of
//!   the stream, and a "twin" (a TikTok identity of theirs, one event) merged into
//!   them through `merge::merge`, so the page has a history; one more person, a
//!   Threads identity of the same handle stem and name, is their merge suggestion.
//!   Then the `people.insights` jobs the writes queued are run one by one
//!   (`insights::run`, as `bench ingest` does: warmth sorting is real) and the
//!   match keys and candidates built (`match_keys::refresh_everyone`, as the
//!   `people.match_keys` jobs would) — search and suggestions read them;
//! - ours: an `AppState` built as `serve` builds it (rate limits no bench reaches),
//!   the bench user signed in (`Accounts::sign_in`: a session cookie), and
//!   `everreach_web::app(state)` driven in-process with `tower::ServiceExt::oneshot`,
//!   one request at a time, timed from the request to its whole body collected —
//!   session lookup, rate limit, tenant transaction, queries, askama, the API's
//!   layers. Three cases: `GET /people` (by warmth, the first page of 50),
//!   `GET /people?q=…` (part of a handle or e-mail, a different person each time),
//!   `GET /people/{heavy}`. Every response must be 200 and name the expected person;
//! - baseline, alternating request by request with ours: every statement the page
//!   runs to read what it shows, as the page's code writes it, on one connection of
//!   the app pool holding the tenant for its session (row-level security applies to
//!   both sides), no transaction and no rendering — list: the directory page and its
//!   touches (channels, last touch) and the saved views; search: the search (the
//!   query folded before timing), its touches and the saved views; person: the
//!   person, identities, insights, the first 30 timeline events, suggestions, merge
//!   history with the names it shows, messages;
//! - `ratio` per case = baseline p99 ÷ our p99 (below 1 by construction: it is the
//!   share of the bare database time the page keeps); the top-level `ratio` is the
//!   lowest. Target: our p99 ≤ 50 ms for each page.
//!
//! Every request logs its line at info, as under `serve` (that cost is in our
//! figures); `RUST_LOG=warn` leaves stderr to the bench's own lines. The bench
//! user, and everything it owns, is deleted at the end.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::{DateTime, Duration, Utc};
use everreach_api::rate_limit::Limits;
use everreach_core::Config;
use everreach_core::accounts::{Accounts, Email, Password};
use everreach_core::db::tenant::TenantTx;
use everreach_core::db::{Database, DbTarget};
use everreach_core::people::handle::{Channel, normalize_handle};
use everreach_core::people::model::{EventInput, IdentityRef, NewMessage};
use everreach_core::people::profile::{Identity, Insight, Person, Touches};
use everreach_core::people::search::{self, PersonRow};
use everreach_core::people::timeline::{self, TimelineEvent, TimelineFilter};
use everreach_core::people::{insights, match_keys, merge, outbound};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use tower::ServiceExt;
use uuid::Uuid;

use super::Latency;
use crate::commands::open_with_keys;
use crate::progress::Progress;

#[derive(Debug, Clone)]
pub struct Options {
    pub people: u64,
    pub events: u64,
    pub json: bool,
    /// Leave the bench user and its data in place (`--keep`, hidden): for EXPLAINs.
    pub keep: bool,
}

/// Timed requests per case (and as many baseline reads), after [`WARMUP`] of each.
const REQUESTS: usize = 300;
const WARMUP: usize = 20;
const BATCH: usize = 10_000;
/// The heavy person's events, when the run has at least ten times as many.
const HEAVY_EVENTS: u64 = 10_000;
/// Messages logged to the heavy person (each is also an event of theirs).
const MESSAGES: u64 = 20;
const TARGET_P99_MS: f64 = 50.0;
/// The people page's size and the person page's timeline page (the web crate's).
const LIST_PAGE: i64 = 50;
const TIMELINE_PAGE: i64 = 30;
const HOST: &str = "127.0.0.1:8080";

const FIRST: [(&str, &str); 20] = [
    ("Ana", "ana"),
    ("Júlia", "julia"),
    ("Zoë", "zoe"),
    ("Bruno", "bruno"),
    ("Chloé", "chloe"),
    ("David", "david"),
    ("Elena", "elena"),
    ("Felix", "felix"),
    ("Grace", "grace"),
    ("Hugo", "hugo"),
    ("Inês", "ines"),
    ("Jonas", "jonas"),
    ("Kiran", "kiran"),
    ("Léa", "lea"),
    ("Marco", "marco"),
    ("Nora", "nora"),
    ("Omar", "omar"),
    ("Paula", "paula"),
    ("René", "rene"),
    ("Sofia", "sofia"),
];
/// Surnames are three of these (4,096 of them, a few people each): a small
/// vocabulary of real surnames makes every person's name alike to hundreds of
/// others', and `match_keys::refresh_everyone` then overruns the statement timeout
/// on its similar-names join (BENCHMARKS.md, `bench pages`).
const SYLLABLES: [&str; 16] = [
    "ba", "ko", "ri", "ten", "mar", "lo", "vi", "san", "del", "gu", "ne", "to", "ra", "fe", "mo",
    "li",
];

/// Person `p`'s name and the slugs their handles are made of (first name, surname).
fn name_of(p: u64) -> (String, &'static str, String) {
    let (first, f) = FIRST[(p % 20) as usize];
    let k = p * 2_654_435_761 % 4_096;
    let last: String = [k % 16, k / 16 % 16, k / 256]
        .iter()
        .map(|&s| SYLLABLES[s as usize])
        .collect();
    let mut shown = last.clone();
    shown[..1].make_ascii_uppercase();
    (format!("{first} {shown}"), f, last)
}

/// Person `p`'s identities as sent (already in their canonical form): e-mail and
/// Instagram for everyone, Twitter for one in 3, LinkedIn for one in 10.
fn identities_of(p: u64) -> Vec<(Channel, String)> {
    let (_, f, l) = name_of(p);
    let mut out = vec![
        (Channel::Email, format!("{f}.{l}.{p}@example.com")),
        (Channel::Instagram, format!("{f}.{l}{p}")),
    ];
    if p.is_multiple_of(3) {
        out.push((Channel::Twitter, format!("{l}{p}")));
    }
    if p.is_multiple_of(10) {
        out.push((
            Channel::Linkedin,
            format!("https://www.linkedin.com/in/{f}-{l}-{p}"),
        ));
    }
    out
}

fn event_types(channel: Channel) -> [&'static str; 3] {
    match channel {
        Channel::Email => ["opened_email", "clicked_link", "email_received"],
        Channel::Instagram => ["liked", "commented", "dm_reply"],
        Channel::Twitter => ["liked", "mentioned", "shared"],
        _ => ["commented", "liked", "shared"],
    }
}

/// How long ago person `p` was last active (the heavy person, 0: today).
fn recency(p: u64) -> Duration {
    Duration::hours(((p * 7_919) % (240 * 24)) as i64)
}

/// An event about `(channel, handle)`; `n` varies its sentiment, excerpt and
/// traffic type.
fn event(
    channel: Channel,
    handle: &str,
    name: Option<String>,
    kind: &str,
    platform_id: String,
    at: DateTime<Utc>,
    n: u64,
) -> EventInput {
    EventInput {
        person_id: None,
        identity: Some(IdentityRef {
            channel: channel.as_str().to_string(),
            handle: handle.to_string(),
            name,
        }),
        channel: None,
        event_type: kind.to_string(),
        content_excerpt: n
            .is_multiple_of(2)
            .then(|| format!("event {n}: great post, thanks for sharing")),
        platform_id: Some(platform_id),
        sentiment: Some(((n % 21) as f64 - 10.0) / 10.0),
        traffic_type: Some(
            if n.is_multiple_of(10) {
                "paid"
            } else {
                "organic"
            }
            .to_string(),
        ),
        metadata: Some(json!({"source": "bench", "n": n})),
        occurred_at: Some(at),
    }
}

/// The plan of the data set: who the stream's event `i` is about.
#[derive(Debug, Clone, Copy)]
struct Plan {
    /// Regular people (0 is the heavy one); with the lookalike, everyone (`--people`).
    people: u64,
    /// Events of the stream (after each person's first and the messages).
    stream: u64,
    /// Of the stream, the heavy person's.
    heavy_stream: u64,
    heavy_total: u64,
}

impl Plan {
    fn new(people: u64, events: u64) -> anyhow::Result<Plan> {
        let heavy_total = HEAVY_EVENTS.min(events / 10);
        // first events: one per regular person, the lookalike's and the twin's
        let fixed = people + 2 + MESSAGES;
        // the heavy person's own: first event, messages, twin's event
        let heavy_stream = heavy_total.saturating_sub(2 + MESSAGES);
        if events < fixed + heavy_stream + people {
            bail!(
                "--events must be at least {}",
                fixed + heavy_stream + people
            );
        }
        Ok(Plan {
            people,
            stream: events - fixed,
            heavy_stream,
            heavy_total,
        })
    }

    /// The person of stream event `i`: exactly `heavy_stream` of them (spread evenly)
    /// are the heavy person's, the rest go round the other people.
    fn person_of(&self, i: u64) -> u64 {
        let (h, s) = (self.heavy_stream, self.stream);
        if i * h / s != (i + 1) * h / s {
            0
        } else {
            1 + i % (self.people - 1)
        }
    }
}

/// The latencies of one case, ours and the baseline's, in microseconds.
#[derive(Debug, Default)]
struct Timings {
    ours: Vec<u32>,
    bare: Vec<u32>,
}

impl Timings {
    fn report(mut self, what: &str) -> (Value, f64, Latency) {
        let ours = Latency::of(&mut self.ours);
        let bare = Latency::of(&mut self.bare);
        let ratio = bare.p99_ms / ours.p99_ms.max(1e-9);
        eprintln!(
            "bench pages: {what}: p50 {:.2} ms, p99 {:.2} ms; bare SQL p50 {:.2} ms, p99 {:.2} ms; ratio {ratio:.2}{}",
            ours.p50_ms,
            ours.p99_ms,
            bare.p50_ms,
            bare.p99_ms,
            if ours.p99_ms > TARGET_P99_MS {
                " — over the 50 ms target"
            } else {
                ""
            }
        );
        (
            json!({
                "p50_ms": ours.p50_ms,
                "p99_ms": ours.p99_ms,
                "max_ms": ours.max_ms,
                "baseline": bare,
                "ratio": ratio,
                "target_p99_ms": TARGET_P99_MS,
                "within_target": ours.p99_ms <= TARGET_P99_MS,
            }),
            ratio,
            bare,
        )
    }
}

fn micros_since(t: Instant) -> u32 {
    t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32
}

pub async fn run(target: DbTarget, config: Config, opts: Options) -> anyhow::Result<()> {
    if opts.people < 2_000 {
        bail!("--people must be at least 2000");
    }
    let plan = Plan::new(opts.people - 1, opts.events)?;
    let (db, keyring) = open_with_keys(target, &config).await?;
    let accounts = Accounts::new(db.app.clone());
    let email = Email::parse(&format!(
        "bench-pages-{}@bench.invalid",
        &Uuid::new_v4().simple().to_string()[..8]
    ))
    .map_err(anyhow::Error::msg)?;
    let password = Password::parse("benchmark password only").map_err(anyhow::Error::msg)?;
    let user = accounts
        .sign_up(&email, &password, Some("bench pages"))
        .await?;
    let result = measure(&db, Arc::new(keyring), &accounts, &email, plan, user.id).await;
    if opts.keep {
        eprintln!(
            "bench pages: kept the bench user {} ({}) and its rows; remove them with DELETE FROM jobs WHERE user_id = '{0}'; DELETE FROM users WHERE id = '{0}';",
            user.id,
            email.as_str()
        );
    } else {
        eprintln!("bench pages: removing the bench user and its rows…");
        super::remove_users(&db, &[user.id]).await?;
    }
    super::print_json(&result?, opts.json);
    Ok(())
}

/// What the set-up made that the cases need.
#[derive(Debug)]
struct Made {
    heavy: Uuid,
    heavy_name: String,
    /// Regular person `p`'s id.
    ids: Vec<Uuid>,
    seconds: f64,
    insight_jobs: Value,
    match_keys: Value,
    candidate_pairs: i64,
}

async fn set_up(db: &Database, plan: Plan, user: Uuid) -> anyhow::Result<Made> {
    let started = Instant::now();
    let now = Utc::now();
    let ingest = |events: Vec<EventInput>| async move {
        everreach_core::people::ingest::ingest_tx(&db.app, user, &events)
            .await
            .map_err(|e| anyhow::anyhow!("ingesting the bench events: {e:?}"))
    };
    let (heavy_name, hf, hl) = name_of(0);

    // Everyone, from an e-mail event carrying their name; the lookalike (same handle
    // stem and name as the heavy person, on Threads) and the twin (TikTok, merged in
    // below).
    eprintln!("bench pages: creating {} people…", plan.people);
    let mut firsts: Vec<EventInput> = (0..plan.people)
        .map(|p| {
            let (name, _, _) = name_of(p);
            let mine = identities_of(p);
            event(
                Channel::Email,
                &mine[0].1,
                Some(name),
                "email_received",
                format!("first-{p}"),
                now - recency(p) - Duration::days(400),
                p,
            )
        })
        .collect();
    let long_ago = now - Duration::days(300);
    firsts.push(event(
        Channel::Threads,
        &format!("{hf}_{hl}0"),
        Some(heavy_name.clone()),
        "liked",
        "lookalike".into(),
        long_ago,
        1,
    ));
    firsts.push(event(
        Channel::Tiktok,
        &format!("{hf}.{hl}.0"),
        Some(heavy_name.clone()),
        "liked",
        "twin".into(),
        long_ago,
        1,
    ));
    for chunk in firsts.chunks(BATCH) {
        ingest(chunk.to_vec()).await?;
    }

    // Each person's id, and their other identities.
    let mut tx = TenantTx::begin(&db.app, user).await?;
    let by_email: HashMap<String, Uuid> = sqlx::query_as::<_, (String, Uuid)>(
        "SELECT handle, person_id FROM identities WHERE user_id = $1 AND channel = 'email'",
    )
    .bind(user)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    let twin: Uuid = sqlx::query_scalar(
        "SELECT person_id FROM identities WHERE user_id = $1 AND channel = 'tiktok'",
    )
    .bind(user)
    .fetch_one(&mut *tx)
    .await?;
    let mut ids = Vec::with_capacity(plan.people as usize);
    let (mut owners, mut channels, mut handles) = (Vec::new(), Vec::new(), Vec::new());
    for p in 0..plan.people {
        let mut mine = identities_of(p).into_iter();
        let (_, email) = mine.next().context("an e-mail identity")?;
        let id = *by_email
            .get(&email)
            .with_context(|| format!("person {p} was not created"))?;
        ids.push(id);
        for (channel, handle) in mine {
            owners.push(id);
            channels.push(channel.as_str());
            handles.push(normalize_handle(channel, &handle)?);
        }
    }
    sqlx::query(
        "INSERT INTO identities (user_id, person_id, channel, handle, first_seen_at, last_seen_at)
         SELECT $1, p, c, h, now(), now() FROM unnest($2::uuid[], $3::text[], $4::text[]) AS u(p, c, h)",
    )
    .bind(user)
    .bind(&owners)
    .bind(&channels)
    .bind(&handles)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let heavy = ids[0];

    // The heavy person's messages, before the stream so its replies mark them.
    let mut tx = TenantTx::begin(&db.app, user).await?;
    for m in 0..MESSAGES {
        outbound::create(
            &mut tx,
            &NewMessage {
                person_id: heavy,
                segment_id: None,
                channel: if m.is_multiple_of(2) {
                    "email"
                } else {
                    "instagram"
                }
                .into(),
                goal_type: Some("nurture".into()),
                variant: Some(if m.is_multiple_of(3) { "A" } else { "B" }.into()),
                subject: Some(format!("Catching up, part {m}")),
                body: Some("Hello again — how is the new project going?".into()),
                sent_at: Some(now - Duration::days(360 - 15 * m as i64)),
                metadata: None,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("logging a message: {e:?}"))?;
    }
    tx.commit().await?;

    // The stream.
    let mut progress = Progress::new(plan.stream, "events");
    let mut i = 0;
    while i < plan.stream {
        let end = (i + BATCH as u64).min(plan.stream);
        let batch: Vec<EventInput> = (i..end)
            .map(|k| {
                let p = plan.person_of(k);
                let mine = identities_of(p);
                let (channel, handle) = &mine[(k % mine.len() as u64) as usize];
                let types = event_types(*channel);
                let ago = recency(p) + Duration::seconds(((k * 7_919) % 31_536_000) as i64);
                event(
                    *channel,
                    handle,
                    None,
                    types[(k % 3) as usize],
                    format!("post-{k}"),
                    now - ago,
                    k + p,
                )
            })
            .collect();
        ingest(batch).await?;
        progress.inc(end - i);
        i = end;
    }
    progress.finish();

    // The twin merged into the heavy person: their page has a history.
    let mut tx = TenantTx::begin(&db.app, user).await?;
    merge::merge(&mut tx, heavy, twin, false)
        .await
        .map_err(|e| anyhow::anyhow!("merging the twin: {e:?}"))?;
    tx.commit().await?;

    eprintln!("bench pages: running the insight jobs the writes queued…");
    let insight_jobs = super::ingest::drain_insight_jobs(db, user).await?;
    // As the `people.match_keys` jobs the recomputes queue: 1,000 people a job.
    eprintln!("bench pages: building the match keys and merge candidates…");
    let everyone: Vec<Uuid> = {
        let mut tx = TenantTx::begin(&db.app, user).await?;
        let ids = sqlx::query_scalar("SELECT id FROM people WHERE user_id = $1 ORDER BY id")
            .bind(user)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        ids
    };
    let keys_started = Instant::now();
    let mut slowest = 0.0_f64;
    for chunk in everyone.chunks(insights::RECOMPUTE_CHUNK) {
        let one = Instant::now();
        let mut tx = TenantTx::begin(&db.app, user).await?;
        match_keys::refresh(&mut tx, chunk).await?;
        tx.commit().await?;
        slowest = slowest.max(one.elapsed().as_secs_f64());
    }
    let match_keys = json!({
        "jobs": everyone.len().div_ceil(insights::RECOMPUTE_CHUNK),
        "seconds": keys_started.elapsed().as_secs_f64(),
        "slowest_job_seconds": slowest,
    });
    eprintln!("bench pages: match keys: {match_keys}");
    sqlx::query(
        "VACUUM (ANALYZE) people, identities, person_events, person_insights, person_match_keys,
                          person_merge_candidates, person_merges, outbound_messages",
    )
    .execute(&db.admin)
    .await?;
    if let Err(e) = sqlx::query("CHECKPOINT").execute(&db.admin).await {
        tracing::warn!(error = %e, "CHECKPOINT refused; figures may include checkpoint work");
    }

    // What the plan promised.
    let mut tx = TenantTx::begin(&db.app, user).await?;
    let (people, events, heavy_events, pairs): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM people WHERE user_id = $1),
                (SELECT count(*) FROM person_events WHERE user_id = $1),
                (SELECT count(*) FROM person_events WHERE user_id = $1 AND person_id = $2),
                (SELECT count(*) FROM person_merge_candidates WHERE user_id = $1)",
    )
    .bind(user)
    .bind(heavy)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let want_events = plan.stream + plan.people + 2 + MESSAGES;
    if people as u64 != plan.people + 1
        || events as u64 != want_events
        || heavy_events as u64 != plan.heavy_total
    {
        bail!(
            "the data set is not as planned: {people} people (want {}), {events} events (want {want_events}), the heavy person {heavy_events} (want {})",
            plan.people + 1,
            plan.heavy_total
        );
    }
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "bench pages: {people} people, {events} events (the heavy person {heavy_events}), {pairs} candidate pairs; set up in {seconds:.0} s"
    );
    Ok(Made {
        heavy,
        heavy_name,
        ids,
        seconds,
        insight_jobs,
        match_keys,
        candidate_pairs: pairs,
    })
}

async fn measure(
    db: &Database,
    keyring: Arc<everreach_core::secrets::Keyring>,
    accounts: &Accounts,
    email: &Email,
    plan: Plan,
    user: Uuid,
) -> anyhow::Result<Value> {
    let made = set_up(db, plan, user).await?;

    // The server as `serve` builds it, with limits no benchmark reaches.
    let unlimited = Limits {
        auth_per_minute: u32::MAX,
        account_per_minute: u32::MAX,
        public_per_minute: u32::MAX,
        read_per_minute: u32::MAX,
        write_per_minute: u32::MAX,
    };
    let state = everreach_api::AppState::new(db.clone(), keyring, unlimited).await?;
    let app = everreach_web::app(state);
    let (_, session) = accounts
        .sign_in(
            email.as_str(),
            "benchmark password only",
            Some("everreach bench pages"),
        )
        .await?;
    let cookie = format!("{}={session}", everreach_api::auth::SESSION_COOKIE);
    let get = |path: String| {
        let app = app.clone();
        let cookie = cookie.clone();
        async move {
            let request = Request::builder()
                .uri(&path)
                .header(header::HOST, HOST)
                .header(header::COOKIE, cookie)
                .body(Body::empty())?;
            let response = app.oneshot(request).await?;
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
            anyhow::Ok((status, String::from_utf8_lossy(&body).into_owned(), path))
        }
    };
    let check = |(status, body, path): (StatusCode, String, String), want: &str| {
        if status != StatusCode::OK {
            bail!(
                "GET {path} answered {status}: {}",
                body.chars().take(500).collect::<String>()
            );
        }
        if !body.contains(want) {
            bail!("GET {path} does not show {want:?}");
        }
        Ok(())
    };

    // The baseline's connection: the app role, the tenant set for the session.
    let mut bare = db.app.acquire().await?.detach();
    sqlx::query("SELECT set_config('app.user_id', $1, false)")
        .bind(user.to_string())
        .execute(&mut bare)
        .await?;

    // The people list, warmest first.
    let mut list = Timings::default();
    for n in 0..WARMUP + REQUESTS {
        let t = Instant::now();
        let rows = bare_list(&mut bare, user).await?;
        let took = micros_since(t);
        let first = rows.first().context("the bare list is empty")?.id;
        let t = Instant::now();
        let page = get("/people".to_string()).await?;
        let ours = micros_since(t);
        check(page, &format!("href=\"/people/{first}\""))?;
        if n >= WARMUP {
            list.bare.push(took);
            list.ours.push(ours);
        }
    }
    let (list, list_ratio, _) = list.report("GET /people (warmest first, 50)");

    // Search: part of a handle or e-mail of a different person each time.
    let parts: Vec<(String, Uuid)> = (0..WARMUP + REQUESTS)
        .map(|n| {
            let p = 1_000 + (n as u64 * 7_919) % (plan.people - 1_000);
            let (_, f, l) = name_of(p);
            let part = match n % 3 {
                0 => format!("{l}{p}"),
                1 => format!("{f}.{l}{p}"),
                _ => format!("{f}.{l}.{p}"),
            };
            (part, made.ids[p as usize])
        })
        .collect();
    let mut search = Timings::default();
    for (n, (part, want)) in parts.iter().enumerate() {
        let t = Instant::now();
        let rows = bare_search(&mut bare, user, part).await?;
        let took = micros_since(t);
        if !rows.iter().any(|r| r.id == *want) {
            bail!("the bare search for {part:?} does not find {want}");
        }
        let t = Instant::now();
        let page = get(format!("/people?q={part}")).await?;
        let ours = micros_since(t);
        check(page, &format!("href=\"/people/{want}\""))?;
        if n >= WARMUP {
            search.bare.push(took);
            search.ours.push(ours);
        }
    }
    let (search, search_ratio, _) = search.report("GET /people?q=… (part of a handle)");

    // The heavy person's page.
    let mut person = Timings::default();
    let mut shown = None;
    for n in 0..WARMUP + REQUESTS {
        let t = Instant::now();
        let read = bare_person(&mut bare, user, made.heavy).await?;
        let took = micros_since(t);
        if read.timeline_events != TIMELINE_PAGE as usize || read.merges == 0 {
            bail!("the bare person page read {read:?}");
        }
        shown = Some(read);
        let t = Instant::now();
        let page = get(format!("/people/{}", made.heavy)).await?;
        let ours = micros_since(t);
        check(page.clone(), &made.heavy_name)?;
        check(page, "before_id=")?;
        if n >= WARMUP {
            person.bare.push(took);
            person.ours.push(ours);
        }
    }
    let (person, person_ratio, _) =
        person.report(&format!("GET /people/{{id}} ({} events)", plan.heavy_total));
    bare.close().await.ok();

    let ratio = list_ratio.min(search_ratio).min(person_ratio);
    Ok(json!({
        "bench": "pages",
        "people": plan.people + 1,
        "events": plan.stream + plan.people + 2 + MESSAGES,
        "heavy_person_events": plan.heavy_total,
        "heavy_person_page": shown,
        "requests_per_case": REQUESTS,
        "setup_seconds": made.seconds,
        "insight_jobs": made.insight_jobs,
        "match_key_jobs": made.match_keys,
        "candidate_pairs": made.candidate_pairs,
        "list": list,
        "search": search,
        "person": person,
        "baseline": {
            "what": "every statement each page runs to read what it shows, on one app-role connection holding the tenant for its session; no transaction, no session lookup, no rendering",
            "list_p99_ms": list["baseline"]["p99_ms"],
            "search_p99_ms": search["baseline"]["p99_ms"],
            "person_p99_ms": person["baseline"]["p99_ms"],
        },
        "ratio": ratio,
    }))
}

// The statements the pages run, as their code writes them (`search::directory`,
// `profile::touches`, `views::list`, `search::search`, `profile::load`,
// `timeline::page`, `profile::suggestions_for`, `merge::list`, the person page's
// history names, `profile::messages`).

const DIRECTORY_SQL: &str = "SELECT p.id, p.full_name, p.primary_email, p.company, p.role, i.warmth_score::float8 AS warmth_score,
                   i.activity_state, i.last_active_at, NULL::text AS matched, coalesce(i.warmth_score::float8, -1)::text AS sort_key
           FROM people p
           LEFT JOIN person_insights i ON i.user_id = p.user_id AND i.person_id = p.id
          WHERE p.user_id = $1
            AND ($2::text IS NULL OR coalesce(i.warmth_score::float8, -1) < $2::float8 OR (coalesce(i.warmth_score::float8, -1) = $2::float8 AND p.id > $3))
            AND ($5::text IS NULL OR EXISTS (SELECT 1 FROM identities x
                                    WHERE x.user_id = p.user_id AND x.person_id = p.id AND x.channel = $5))
     AND ($6::text IS NULL OR i.activity_state = $6)
          ORDER BY coalesce(i.warmth_score::float8, -1) DESC, p.id
          LIMIT $4";

const TOUCHES_SQL: &str = "SELECT p.id AS person_id,
                coalesce((SELECT array_agg(DISTINCT i.channel ORDER BY i.channel) FROM identities i
                           WHERE i.user_id = $1 AND i.person_id = p.id AND i.channel IS NOT NULL),
                         '{}') AS channels,
                (SELECT e.occurred_at FROM person_events e
                  WHERE e.user_id = $1 AND e.person_id = p.id
                  ORDER BY e.occurred_at DESC LIMIT 1) AS last_touch,
                (SELECT x.keep_in_touch_days FROM people x WHERE x.user_id = $1 AND x.id = p.id) AS keep_in_touch_days
           FROM unnest($2::uuid[]) AS p(id)";

const VIEWS_SQL: &str = "SELECT id, name::text, query, created_at FROM saved_views
          WHERE user_id = $1 AND list = $2 ORDER BY lower(name), id";

async fn bare_touches_and_views(
    conn: &mut PgConnection,
    user: Uuid,
    ids: &[Uuid],
) -> anyhow::Result<()> {
    let touches: Vec<Touches> = sqlx::query_as(TOUCHES_SQL)
        .bind(user)
        .bind(ids)
        .fetch_all(&mut *conn)
        .await?;
    if touches.len() != ids.len() {
        bail!("the bare touches read {} rows", touches.len());
    }
    let _views: Vec<(Uuid, String, String, DateTime<Utc>)> = sqlx::query_as(VIEWS_SQL)
        .bind(user)
        .bind("people")
        .fetch_all(&mut *conn)
        .await?;
    Ok(())
}

async fn bare_list(conn: &mut PgConnection, user: Uuid) -> anyhow::Result<Vec<PersonRow>> {
    let rows: Vec<PersonRow> = sqlx::query_as(DIRECTORY_SQL)
        .bind(user)
        .bind(None::<String>)
        .bind(None::<Uuid>)
        .bind(LIST_PAGE)
        .bind(None::<String>)
        .bind(None::<String>)
        .fetch_all(&mut *conn)
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    bare_touches_and_views(conn, user, &ids).await?;
    Ok(rows)
}

/// The search for `part` (ASCII: already as `everreach_fold` leaves it).
async fn bare_search(
    conn: &mut PgConnection,
    user: Uuid,
    part: &str,
) -> anyhow::Result<Vec<PersonRow>> {
    let rows: Vec<PersonRow> = sqlx::query_as(sqlx::AssertSqlSafe(search::SEARCH_SQL.as_str()))
        .bind(user)
        .bind(part)
        .bind(search::like_literal(part))
        .bind(None::<f64>)
        .bind(None::<Uuid>)
        .bind(LIST_PAGE)
        .bind(None::<String>)
        .bind(None::<String>)
        .fetch_all(&mut *conn)
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    bare_touches_and_views(conn, user, &ids).await?;
    Ok(rows)
}

/// What the person page shows: rows of each part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
struct Shown {
    identities: usize,
    timeline_events: usize,
    suggestions: usize,
    merges: usize,
    messages: usize,
}

/// The person page's statements.
async fn bare_person(conn: &mut PgConnection, user: Uuid, id: Uuid) -> anyhow::Result<Shown> {
    let person: Option<Person> = sqlx::query_as(
        "SELECT id, full_name, primary_email, company, role, keep_in_touch_days, created_at, updated_at
           FROM people WHERE user_id = $1 AND id = $2",
    )
    .bind(user)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    person.context("the bare person read found nobody")?;
    let identities: Vec<Identity> = sqlx::query_as(
        "SELECT id, channel, handle, is_verified, first_seen_at, last_seen_at
           FROM identities WHERE user_id = $1 AND person_id = $2 ORDER BY channel, handle",
    )
    .bind(user)
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let _insight: Option<Insight> = sqlx::query_as(
        "SELECT warmth_score::float8 AS warmth_score, activity_state, channel_preferences,
                extract(epoch FROM avg_reply_time)::float8 AS avg_reply_secs, last_active_at,
                seasonality, interests, tone_preferences, best_channel, best_send_hour,
                best_send_evidence, updated_at
           FROM person_insights WHERE user_id = $1 AND person_id = $2",
    )
    .bind(user)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let filter = TimelineFilter {
        limit: TIMELINE_PAGE,
        ..TimelineFilter::default()
    };
    let events: Vec<TimelineEvent> =
        sqlx::query_as(sqlx::AssertSqlSafe(timeline::page_sql(&filter)))
            .bind(user)
            .bind(id)
            .bind(TIMELINE_PAGE)
            .fetch_all(&mut *conn)
            .await?;
    /// A suggestion and the other person, as `profile::suggestions_for` reads them.
    type SuggestionRow = (
        Uuid,
        Uuid,
        f64,
        Value,
        DateTime<Utc>,
        Uuid,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
    );
    let suggestions: Vec<SuggestionRow> = sqlx::query_as(
        "SELECT c.person_a, c.person_b, c.score::float8 AS score, c.evidence, c.computed_at,
                o.id, o.full_name, o.primary_email, o.company, o.role, o.keep_in_touch_days, o.created_at, o.updated_at
           FROM person_merge_candidates c
           JOIN people o ON o.user_id = c.user_id
                        AND o.id = CASE WHEN c.person_a = $2 THEN c.person_b ELSE c.person_a END
          WHERE c.user_id = $1 AND (c.person_a = $2 OR c.person_b = $2)
            AND NOT EXISTS (SELECT 1 FROM person_merge_dismissals d
                             WHERE d.user_id = $1 AND d.person_a = c.person_a AND d.person_b = c.person_b)
          ORDER BY c.score DESC, o.id
          LIMIT $3",
    )
    .bind(user)
    .bind(id)
    .bind(10_i64)
    .fetch_all(&mut *conn)
    .await?;
    let history: Vec<merge::MergeSummary> = sqlx::query_as(
        "SELECT id, kind, survivor_id, merged_id, undoes, actor_id,
                (SELECT coalesce(jsonb_object_agg(k, CASE WHEN jsonb_typeof(v) = 'array' THEN to_jsonb(jsonb_array_length(v)) ELSE v END), '{}')
                   FROM jsonb_each(moved) AS e(k, v) WHERE k NOT LIKE '%_before') AS counts,
                created_at
           FROM person_merges
          WHERE user_id = $1 AND ($2::uuid IS NULL OR survivor_id = $2 OR merged_id = $2)
            AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
          ORDER BY created_at DESC, id DESC LIMIT $5",
    )
    .bind(user)
    .bind(Some(id))
    .bind(None::<DateTime<Utc>>)
    .bind(None::<Uuid>)
    .bind(20_i64)
    .fetch_all(&mut *conn)
    .await?;
    let messages: Vec<outbound::Message> = sqlx::query_as(
        "SELECT id, person_id, segment_id, channel, goal_type, variant, subject, body, sent_at,
                opened_at, clicked_at, replied_at, metadata
           FROM outbound_messages WHERE user_id = $1 AND person_id = $2
          ORDER BY sent_at DESC NULLS LAST, id LIMIT $3",
    )
    .bind(user)
    .bind(id)
    .bind(20_i64)
    .fetch_all(&mut *conn)
    .await?;
    let mut named: Vec<Uuid> = history
        .iter()
        .flat_map(|h| [h.survivor_id, h.merged_id])
        .collect();
    named.sort_unstable();
    named.dedup();
    let _names: Vec<(Uuid, Option<String>)> = sqlx::query_as(
        "SELECT p.id, coalesce(
                    (SELECT coalesce(m.moved->'merged_before'->>'full_name', m.moved->'merged_before'->>'primary_email')
                       FROM person_merges m WHERE m.user_id = $1 AND m.merged_id = p.id AND m.kind = 'merge'
                      ORDER BY m.created_at DESC LIMIT 1),
                    (SELECT coalesce(x.full_name, x.primary_email) FROM people x WHERE x.user_id = $1 AND x.id = p.id))
           FROM unnest($2::uuid[]) AS p(id)",
    )
    .bind(user)
    .bind(&named)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Shown {
        identities: identities.len(),
        timeline_events: events.len(),
        suggestions: suggestions.len(),
        merges: history.len(),
        messages: messages.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heavy_person_gets_exactly_their_share_of_the_stream() {
        let plan = Plan::new(9_999, 1_000_000).unwrap();
        let heavy = (0..plan.stream).filter(|&i| plan.person_of(i) == 0).count() as u64;
        assert_eq!(heavy, plan.heavy_stream);
        assert_eq!(plan.heavy_total, 10_000);
        assert!((0..plan.stream).all(|i| plan.person_of(i) < plan.people));
    }

    #[test]
    fn handles_are_already_canonical() {
        for p in [0, 3, 10, 9_999, 123_456] {
            for (channel, handle) in identities_of(p) {
                assert_eq!(normalize_handle(channel, &handle).unwrap(), handle);
            }
        }
    }
}
