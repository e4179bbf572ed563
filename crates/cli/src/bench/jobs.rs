//! `everreach bench jobs`: the queue's throughput, with its physical limit measured in
//! the same run (DESIGN § Benchmarks).
//!
//! - enqueue: `send_many` in batches of 1,000 (`enqueue_jobs_s`);
//! - single enqueue: one `send` per call (`send_now`: its own autocommit statement)
//!   from 16 concurrent callers
//!   (`single_enqueue_jobs_s`);
//! - drain: the runner at its default concurrency with a no-op handler
//!   (`drain_jobs_s`);
//! - baseline: a bare SQL loop claiming and completing (moving to history) the same
//!   number of jobs in batches of 100 with SKIP LOCKED, as many loops as the runner has
//!   (`baseline.loop_jobs_s`); `ratio` = drain ÷ loop;
//! - with `--history N`: N finished jobs kept in the same queue's history, then the
//!   drain again (`history_drain_jobs_s`, `history_ratio` = that ÷ the first drain).
//!
//! `--peer SCRIPT` also runs pg-boss (`../shared/bench/pgboss-peer`) on the same
//! database and reports its figures and our ratios to them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use everreach_core::db::{Database, DbTarget};
use everreach_core::jobs::{self, SendOptions};
use everreach_jobs::{QueueOptions, Registry, Runner, RunnerOptions, handler};
use serde_json::{Value, json};
use sqlx::PgPool;

#[derive(Debug, Clone)]
pub struct Options {
    pub jobs: u64,
    pub history: u64,
    pub peer: Option<std::path::PathBuf>,
    pub json: bool,
}

pub async fn run(target: DbTarget, opts: Options) -> anyhow::Result<()> {
    if opts.jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    let db = Database::open(target.clone()).await?;
    let pool = db.app.clone();
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let queue = format!("bench.{tag}");
    let n = opts.jobs;

    for q in [
        queue.clone(),
        format!("{queue}.send"),
        format!("{queue}.loop"),
    ] {
        jobs::create_queue(&pool, &q).await?;
    }
    let enqueue = enqueue_bulk(&pool, &queue, n).await?;
    settle(&db.admin).await?;
    let drain = drain_with_runner(&pool, &queue, n).await?;
    settle(&db.admin).await?;
    let single = enqueue_single(&pool, &format!("{queue}.send"), n).await?;
    sqlx::query("DELETE FROM jobs WHERE name = $1")
        .bind(format!("{queue}.send"))
        .execute(&db.admin)
        .await?;
    enqueue_bulk(&pool, &format!("{queue}.loop"), n).await?;
    settle(&db.admin).await?;
    let bare = drain_with_sql_loop(
        &pool,
        &format!("{queue}.loop"),
        n,
        QueueOptions::default().loops,
    )
    .await?;

    let mut out = json!({
        "bench": "jobs",
        "jobs": n,
        "enqueue_jobs_s": enqueue,
        "single_enqueue_jobs_s": single,
        "drain_jobs_s": drain,
        "runner": { "loops": QueueOptions::default().loops, "batch_size": QueueOptions::default().batch_size },
        "baseline": { "what": "bare SQL loop: claim 100 with SKIP LOCKED, complete them; same number of loops", "loop_jobs_s": bare },
        "ratio": drain / bare,
    });
    eprintln!(
        "bench jobs ({n} jobs): enqueue {enqueue:.0}/s, single enqueue {single:.0}/s, drain {drain:.0}/s; bare SQL loop {bare:.0}/s (ratio {:.2})",
        drain / bare
    );

    if opts.history > 0 {
        let kept = add_history(&pool, &queue, opts.history).await?;
        enqueue_bulk(&pool, &queue, n).await?;
        settle(&db.admin).await?;
        let with_history = drain_with_runner(&pool, &queue, n).await?;
        out["history"] = json!(kept);
        out["history_drain_jobs_s"] = json!(with_history);
        out["history_ratio"] = json!(with_history / drain);
        eprintln!(
            "  with {kept} finished jobs kept: drain {with_history:.0}/s (history_ratio {:.2})",
            with_history / drain
        );
    }
    sqlx::query("DELETE FROM jobs WHERE name LIKE $1")
        .bind(format!("{queue}%"))
        .execute(&db.admin)
        .await?;
    sqlx::query("DELETE FROM job_queues WHERE name LIKE $1 OR name LIKE $2")
        .bind(format!("{queue}%"))
        .bind(format!("__state__completed__{queue}%"))
        .execute(&db.admin)
        .await?;

    if let Some(script) = &opts.peer {
        let peer = run_peer(script, &target.admin_url(), n).await?;
        let ratio =
            |ours: f64, key: &str| peer[key].as_f64().filter(|p| *p > 0.0).map(|p| ours / p);
        out["peer_drain_ratio"] = json!(ratio(drain, "drain_jobs_s"));
        out["peer_single_enqueue_ratio"] = json!(ratio(single, "single_enqueue_jobs_s"));
        out["peer_enqueue_ratio"] = json!(ratio(enqueue, "enqueue_jobs_s"));
        eprintln!("  pg-boss: {peer}");
        out["peer"] = peer;
    }
    if opts.json {
        #[expect(clippy::print_stdout, reason = "the benchmark's JSON is its output")]
        {
            println!("{out}");
        }
    }
    Ok(())
}

async fn enqueue_bulk(pool: &PgPool, queue: &str, n: u64) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut sent = 0;
    while sent < n {
        let batch: Vec<Value> = (sent..(sent + 1000).min(n))
            .map(|i| json!({ "i": i }))
            .collect();
        let mut tx = pool.begin().await?;
        sent += jobs::send_many(&mut tx, queue, &batch, &SendOptions::default()).await?;
        tx.commit().await?;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

async fn enqueue_single(pool: &PgPool, queue: &str, n: u64) -> anyhow::Result<f64> {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut callers = Vec::new();
    for _ in 0..16 {
        let (pool, next, queue) = (pool.clone(), next.clone(), queue.to_string());
        callers.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < n {
                jobs::send_now(&pool, &queue, &json!({ "i": 1 }), &SendOptions::default()).await?;
            }
            anyhow::Ok(())
        }));
    }
    for caller in callers {
        caller.await??;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

async fn completed(pool: &PgPool, queue: &str) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM jobs WHERE name = $1 AND state = 'completed'")
            .bind(queue)
            .fetch_one(pool)
            .await?,
    )
}

/// Drains the queue's `n` waiting jobs with the runner; jobs/s until all completed.
async fn drain_with_runner(pool: &PgPool, queue: &str, n: u64) -> anyhow::Result<f64> {
    let before = completed(pool, queue).await?;
    let handled = Arc::new(AtomicU64::new(0));
    let counter = handled.clone();
    let mut registry = Registry::new();
    registry.register(
        queue,
        handler(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
            async { Ok(None) }
        }),
    )?;
    let started = Instant::now();
    let runner = Runner::start(
        pool.clone(),
        registry,
        RunnerOptions {
            schedule_interval: None,
            ..RunnerOptions::default()
        },
    )
    .await?;
    let deadline = started + Duration::from_secs(600);
    while handled.load(Ordering::Relaxed) < n {
        if Instant::now() > deadline {
            bail!("the drain did not finish in 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    while completed(pool, queue).await? < before + n as i64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    runner.shutdown().await;
    Ok(n as f64 / elapsed)
}

/// The physical limit: claim and complete in batches of 100, nothing else.
async fn drain_with_sql_loop(
    pool: &PgPool,
    queue: &str,
    n: u64,
    loops: usize,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..loops {
        let (pool, queue) = (pool.clone(), queue.to_string());
        tasks.push(tokio::spawn(async move {
            loop {
                let ids: Vec<uuid::Uuid> = sqlx::query_scalar(
                    "WITH next AS (SELECT id, state FROM jobs WHERE name = $1 AND state IN ('created', 'retry')
                                    AND start_after <= now() ORDER BY priority DESC, created_on, id
                                    LIMIT 100 FOR UPDATE SKIP LOCKED)
                     UPDATE jobs j SET state = 'active', started_on = now() FROM next
                      WHERE j.id = next.id AND j.state = next.state RETURNING j.id",
                )
                .bind(&queue)
                .fetch_all(&pool)
                .await?;
                if ids.is_empty() {
                    return anyhow::Ok(());
                }
                // Completing moves the row to history (DELETE + INSERT, as the queue does:
                // an UPDATE across partitions breaks concurrent SKIP LOCKED claims).
                sqlx::query(
                    "WITH m AS (DELETE FROM jobs WHERE state = 'active' AND id = ANY($1) RETURNING *)
                     INSERT INTO jobs (id, name, data, priority, retry_limit, retry_count, retry_delay, retry_backoff,
                                       start_after, started_on, singleton_key, expire_in, created_on, completed_on,
                                       keep_until, on_complete, output, state, user_id)
                     SELECT id, name, data, priority, retry_limit, retry_count, retry_delay, retry_backoff, start_after,
                            started_on, singleton_key, expire_in, created_on, now(), keep_until, on_complete, output,
                            'completed', user_id FROM m",
                )
                    .bind(&ids)
                    .execute(&pool)
                    .await?;
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let done = completed(pool, queue).await?;
    if done < n as i64 {
        bail!("the SQL loop completed {done} of {n} jobs");
    }
    Ok(n as f64 / elapsed)
}

/// `count` finished jobs of the queue, kept (keep_until in the future).
async fn add_history(pool: &PgPool, queue: &str, count: u64) -> anyhow::Result<u64> {
    let mut added = 0;
    while added < count {
        let chunk = (count - added).min(100_000);
        sqlx::query(
            "INSERT INTO jobs (name, data, state, started_on, completed_on, keep_until)
             SELECT $1, jsonb_build_object('i', g), 'completed', now(), now(), now() + interval '14 days'
             FROM generate_series(1, $2) g",
        )
        .bind(queue)
        .bind(chunk as i64)
        .execute(pool)
        .await?;
        added += chunk;
    }
    Ok(added)
}

/// Every drain starts from the same settled state — the table vacuumed and analysed
/// (as autovacuum leaves it) and checkpointed — so it does not pay for its setup:
/// no autovacuum of fresh rows or checkpoint racing the measurement.
async fn settle(admin: &PgPool) -> anyhow::Result<()> {
    sqlx::query("VACUUM (ANALYZE) jobs").execute(admin).await?;
    // Needs a superuser or pg_checkpoint; without it the figures are only noisier.
    if let Err(e) = sqlx::query("CHECKPOINT").execute(admin).await {
        tracing::warn!(error = %e, "CHECKPOINT refused; drains may include checkpoint work");
    }
    Ok(())
}

async fn run_peer(script: &std::path::Path, admin_url: &str, n: u64) -> anyhow::Result<Value> {
    let mut cmd = std::process::Command::new("bash");
    cmd.arg(script)
        .arg(admin_url)
        .arg(n.to_string())
        .stderr(std::process::Stdio::inherit());
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await?
        .context("running the pg-boss peer")?;
    if !out.status.success() {
        bail!("the pg-boss peer failed ({})", out.status);
    }
    let stdout = String::from_utf8(out.stdout)?;
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .context("the peer printed no JSON")?;
    Ok(serde_json::from_str(line)?)
}
