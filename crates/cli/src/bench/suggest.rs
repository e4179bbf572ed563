//! `everreach bench suggest`: merge suggestions and people search on a tenant of N
//! people (default 100,000), each beside its baseline in the same run.
//!
//! - data: N people ingested through the batch API's code, one Instagram identity
//!   each; one in 50 also has a Twitter identity of the same handle stem and one in
//!   100 an e-mail identity with a name, so there are pairs to find; then
//!   `match_keys::refresh_everyone` (what the `people.match_keys` jobs do) — its time
//!   is `rebuild_seconds`;
//! - suggestions: 200 reads of the first page (50) and 200 of a page deep in the list
//!   through `suggest::page` in a tenant transaction (the API's code) — p50/p99;
//! - baseline: the same suggestions computed from scratch for the whole tenant, as
//!   `GET /people/merge-suggestions` did before the incremental table (every fact of
//!   every person gathered and self-joined: `match_keys::refresh_everyone` in a
//!   transaction that is rolled back), 3 runs — `baseline.p50_ms`; `ratio` =
//!   baseline p50 ÷ our p99;
//! - search: 200 searches for part of a handle through `search::search` — p50/p99.
//!
//! The bench user, and everything it owns, is deleted at the end.

use std::time::Instant;

use anyhow::bail;
use everreach_core::db::tenant::TenantTx;
use everreach_core::db::{Database, DbTarget};
use everreach_core::people::model::EventInput;
use everreach_core::people::{ingest, match_keys, search, suggest};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::Latency;
use crate::progress::Progress;

#[derive(Debug, Clone)]
pub struct Options {
    pub people: u64,
    pub json: bool,
}

const READS: usize = 200;

async fn bench_user(pool: &PgPool, tag: &str) -> anyhow::Result<Uuid> {
    Ok(sqlx::query_scalar("SELECT sign_up_user($1, NULL, $2)")
        .bind(format!("bench-suggest-{tag}@bench.invalid"))
        .bind("bench suggest")
        .fetch_one(pool)
        .await?)
}

/// The events of people `range`: each person's identities (see the module doc).
fn events(range: std::ops::Range<u64>) -> anyhow::Result<Vec<EventInput>> {
    let mut out = Vec::new();
    for p in range {
        let stem = format!("bn.{p:06}");
        let push = |channel: &str, handle: String, name: Option<String>| {
            serde_json::from_value(json!({
                "identity": {"channel": channel, "handle": handle, "name": name},
                "event_type": "liked", "platform_id": format!("{channel}-{p}")}))
        };
        out.push(push("instagram", stem.clone(), None)?);
        if p.is_multiple_of(50) {
            out.push(push("twitter", stem.replace('.', "_"), None)?);
        }
        if p.is_multiple_of(100) {
            out.push(push(
                "email",
                format!("{stem}@example.com"),
                Some(format!("Bench Person {p}")),
            )?);
        }
    }
    Ok(out)
}

pub async fn run(target: DbTarget, opts: Options) -> anyhow::Result<()> {
    if opts.people < 1_000 {
        bail!("--people must be at least 1000");
    }
    let db = Database::open(target).await?;
    let tag = Uuid::new_v4().simple().to_string()[..8].to_string();
    let user = bench_user(&db.app, &tag).await?;
    let result = measure(&db, opts.people, user).await;
    eprintln!("bench suggest: removing the bench user and its rows…");
    super::remove_users(&db, &[user]).await?;
    super::print_json(&result?, opts.json);
    Ok(())
}

async fn measure(db: &Database, people: u64, user: Uuid) -> anyhow::Result<serde_json::Value> {
    let mut progress = Progress::new(people, "people");
    let mut p = 0;
    while p < people {
        let end = (p + 5_000).min(people);
        let batch = events(p..end)?;
        ingest::ingest_tx(&db.app, user, &batch)
            .await
            .map_err(|e| anyhow::anyhow!("ingesting the bench people: {e:?}"))?;
        progress.inc(end - p);
        p = end;
    }
    progress.finish();
    sqlx::query("VACUUM ANALYZE people, identities")
        .execute(&db.admin)
        .await?;

    eprintln!("bench suggest: building the match keys and candidates…");
    let started = Instant::now();
    let mut tx = TenantTx::begin(&db.app, user).await?;
    let pairs = match_keys::refresh_everyone(&mut tx).await?;
    tx.commit().await?;
    let rebuild = started.elapsed().as_secs_f64();
    sqlx::query("VACUUM ANALYZE person_match_keys, person_merge_candidates")
        .execute(&db.admin)
        .await?;

    // A cursor deep in the list: the suggestion at three quarters.
    let mut tx = TenantTx::begin(&db.app, user).await?;
    let all = suggest::page(&mut tx, 0.5, None, 100_000).await?;
    tx.commit().await?;
    let deep = all
        .get(all.len() * 3 / 4)
        .map(|s| (s.score, s.person_a, s.person_b));
    let mut first = Vec::with_capacity(READS);
    let mut deeper = Vec::with_capacity(READS);
    for _ in 0..READS {
        for (after, out) in [(None, &mut first), (deep, &mut deeper)] {
            let t = Instant::now();
            let mut tx = TenantTx::begin_snapshot(&db.app, user).await?;
            let page = suggest::page(&mut tx, 0.5, after, 50).await?;
            tx.commit().await?;
            out.push(t.elapsed().as_micros() as u32);
            if page.is_empty() {
                bail!("a page of suggestions was empty");
            }
        }
    }
    let (first, deeper) = (Latency::of(&mut first), Latency::of(&mut deeper));

    let mut searches = Vec::with_capacity(READS);
    for i in 0..READS {
        let t = Instant::now();
        let mut tx = TenantTx::begin_snapshot(&db.app, user).await?;
        let part = format!("{:06}", (i as u64 * 7_919) % people);
        let found = search::search(&mut tx, &part, &search::Filter::default(), None, 50).await?;
        tx.commit().await?;
        searches.push(t.elapsed().as_micros() as u32);
        if found.is_empty() {
            bail!("a search found nobody");
        }
    }
    let searches = Latency::of(&mut searches);

    eprintln!("bench suggest: the baseline (suggestions from scratch, 3 runs)…");
    let mut scratch = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let mut tx = TenantTx::begin(&db.app, user).await?;
        match_keys::refresh_everyone(&mut tx).await?;
        tx.rollback().await?;
        scratch.push(t.elapsed().as_micros() as u32);
    }
    let baseline = Latency::of(&mut scratch);
    let out = json!({
        "bench": "suggest",
        "people": people,
        "candidate_pairs": pairs,
        "rebuild_seconds": rebuild,
        "suggestions_first_page": first,
        "suggestions_deep_page": deeper,
        "search": searches,
        "baseline": { "from_scratch_p50_ms": baseline.p50_ms },
        "ratio": baseline.p50_ms / first.p99_ms.max(deeper.p99_ms),
    });
    eprintln!(
        "bench suggest: {people} people, {pairs} candidate pairs; suggestions p99 {:.1} ms (first page) / {:.1} ms (deep); search p99 {:.1} ms; from scratch {:.0} ms; rebuild {rebuild:.1} s",
        first.p99_ms, deeper.p99_ms, searches.p99_ms, baseline.p50_ms
    );
    Ok(out)
}
