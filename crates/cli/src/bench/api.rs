//! `everreach bench api`: an authenticated single-row read (`GET /api/v1/me` with a
//! bearer token) under N concurrent keep-alive connections from a load generator in
//! another process, against the real server on the database in use.
//!
//! Baseline, measured in the same run: the same database work without HTTP — the
//! token lookup and the tenant-scoped read of the user, from N tasks in-process. The
//! ratio (API requests/s ÷ baseline operations/s) is the share of the database-bound
//! ceiling the whole HTTP stack (parsing, auth, rate limit, JSON, metrics) keeps; it
//! is below 1 by construction. `/healthz` (no database) is reported beside it as the
//! HTTP-only ceiling.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use everreach_api::rate_limit::Limits;
use everreach_core::Config;
use everreach_core::accounts::{Accounts, Email, Password};
use everreach_core::db::{DbTarget, tenant};
use serde_json::json;

use super::Latency;
use super::load::LoadResult;
use crate::commands::open_with_keys;

/// Options of `everreach bench api`.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub connections: usize,
    pub seconds: f64,
    pub json: bool,
}

pub async fn run(target: DbTarget, config: Config, opts: Options) -> anyhow::Result<()> {
    if opts.connections == 0 || opts.seconds <= 0.0 {
        bail!("--connections and --seconds must be positive");
    }
    let (db, keyring) = open_with_keys(target, &config).await?;
    let accounts = Accounts::new(db.app.clone());
    let email = Email::parse(&format!(
        "bench-{}@bench.invalid",
        uuid::Uuid::new_v4().simple()
    ))
    .map_err(anyhow::Error::msg)?;
    let password = Password::parse("benchmark password only").map_err(anyhow::Error::msg)?;
    let user = accounts.sign_up(&email, &password, Some("bench")).await?;
    let (_, token) = accounts.create_api_token(user.id, "bench").await?;

    // The server as `serve` runs it, with limits no benchmark reaches.
    let unlimited = Limits {
        auth_per_minute: u32::MAX,
        account_per_minute: u32::MAX,
        public_per_minute: u32::MAX,
        read_per_minute: u32::MAX,
        write_per_minute: u32::MAX,
    };
    let state = everreach_api::AppState::new(db.clone(), Arc::new(keyring), unlimited).await?;
    let app = everreach_api::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let warmup = Options {
        seconds: 1.0,
        ..opts
    };
    load(addr, "/api/v1/me", &token, warmup).await?;
    let me = load(addr, "/api/v1/me", &token, opts).await?;
    let healthz = load(addr, "/healthz", &token, opts).await?;
    let direct = direct_database(&accounts, &token, opts).await?;
    server.abort();

    let mut tx = tenant::begin(&db.app, user.id).await?;
    sqlx::query("SELECT delete_own_account()")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;

    let ratio = me.requests_per_second / direct.0;
    eprintln!(
        "bench api: GET /api/v1/me, {} connections, {:.0} s: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
        opts.connections, opts.seconds, me.requests_per_second, me.p50_ms, me.p99_ms, me.errors
    );
    eprintln!(
        "  baseline (same database work, no HTTP): {:.0} ops/s, p50 {:.2} ms, p99 {:.2} ms; ratio {:.2}",
        direct.0, direct.1.p50_ms, direct.1.p99_ms, ratio
    );
    eprintln!(
        "  /healthz (HTTP only): {:.0} req/s, p99 {:.2} ms",
        healthz.requests_per_second, healthz.p99_ms
    );
    if me.errors > 0 {
        bail!("{} of {} requests failed", me.errors, me.requests);
    }
    if opts.json {
        let out = json!({
            "bench": "api",
            "request": "GET /api/v1/me (bearer token)",
            "connections": opts.connections,
            "seconds": opts.seconds,
            "requests_per_second": me.requests_per_second,
            "p50_ms": me.p50_ms,
            "p99_ms": me.p99_ms,
            "max_ms": me.max_ms,
            "errors": me.errors,
            "healthz": { "requests_per_second": healthz.requests_per_second, "p50_ms": healthz.p50_ms, "p99_ms": healthz.p99_ms },
            "baseline": {
                "what": "token lookup + tenant read of the user, no HTTP, same concurrency, in-process",
                "ops_per_second": direct.0,
                "p50_ms": direct.1.p50_ms,
                "p99_ms": direct.1.p99_ms,
            },
            "ratio": ratio,
        });
        #[expect(clippy::print_stdout, reason = "the benchmark's JSON is its output")]
        {
            println!("{out}");
        }
    }
    Ok(())
}

/// Runs `everreach bench load` as a separate process and reads its JSON line.
async fn load(
    addr: SocketAddr,
    path: &str,
    token: &str,
    opts: Options,
) -> anyhow::Result<LoadResult> {
    let exe = std::env::current_exe().context("finding our own executable")?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["bench", "load", "--addr", &addr.to_string(), "--path", path])
        .args([
            "--connections",
            &opts.connections.to_string(),
            "--seconds",
            &opts.seconds.to_string(),
        ])
        .env("EVERREACH_BENCH_TOKEN", token)
        .env("RUST_LOG", "error")
        .stderr(std::process::Stdio::inherit());
    let out = tokio::task::spawn_blocking(move || cmd.output()).await??;
    if !out.status.success() {
        bail!("the load generator failed ({})", out.status);
    }
    let stdout = String::from_utf8(out.stdout)?;
    let line = stdout
        .lines()
        .last()
        .context("the load generator printed nothing")?;
    Ok(serde_json::from_str(line)?)
}

/// The same database work as `GET /api/v1/me`, without HTTP: operations/s and latency.
async fn direct_database(
    accounts: &Accounts,
    token: &str,
    opts: Options,
) -> anyhow::Result<(f64, Latency)> {
    let deadline = Instant::now() + Duration::from_secs_f64(opts.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..opts.connections {
        let accounts = accounts.clone();
        let token = token.to_string();
        tasks.push(tokio::spawn(async move {
            let mut micros = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                let who = accounts
                    .authenticate_token(&token)
                    .await?
                    .context("the bench token stopped working")?;
                accounts.user(who.user_id).await?;
                micros.push(t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
            }
            anyhow::Ok(micros)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    let rate = all.len() as f64 / started.elapsed().as_secs_f64();
    Ok((rate, Latency::of(&mut all)))
}
