//! The queue and its runner on real PostgreSQL: pg-boss semantics, and the failure
//! cases that make a queue trustworthy (rollbacks, crashes, panics, two workers).
#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a panic is a failed assertion with its line"
)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use everreach_core::jobs::{self, SendOptions};
use everreach_jobs::{HandlerError, QueueOptions, Registry, Runner, RunnerOptions, handler};
use everreach_testkit::TestDb;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

async fn send(pool: &PgPool, name: &str, data: Value, opts: &SendOptions) -> Option<Uuid> {
    jobs::create_queue(pool, name).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    let id = jobs::send(&mut tx, name, &data, opts).await.unwrap();
    tx.commit().await.unwrap();
    id
}

async fn state(pool: &PgPool, id: Uuid) -> (String, i32, Option<Value>) {
    sqlx::query_as("SELECT state::text, retry_count, output FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

fn fast() -> RunnerOptions {
    RunnerOptions {
        poll_interval: Duration::from_millis(100),
        expire_interval: Duration::from_millis(200),
        schedule_interval: None,
        shutdown_timeout: Duration::from_secs(5),
    }
}

async fn wait_for(mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_state(pool: &PgPool, id: Uuid, want: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (s, _, _) = state(pool, id).await;
        if s == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job {id} is {s}, not {want}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn a_job_exists_only_if_its_transaction_commits() {
    let db = TestDb::new().await;
    jobs::create_queue(&db.app, "q").await.unwrap();
    let mut tx = db.app.begin().await.unwrap();
    jobs::send(&mut tx, "q", &json!({"n": 1}), &SendOptions::default())
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs")
        .fetch_one(&db.app)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn a_singleton_key_allows_one_live_job() {
    let db = TestDb::new().await;
    let opts = SendOptions {
        singleton_key: Some("person:1".into()),
        ..SendOptions::default()
    };
    let first = send(&db.app, "recompute", json!({}), &opts).await;
    assert!(first.is_some());
    assert_eq!(
        send(&db.app, "recompute", json!({}), &opts).await,
        None,
        "deduplicated while queued"
    );
    assert!(
        send(&db.app, "other", json!({}), &opts).await.is_some(),
        "keys are per queue"
    );
    let claimed = jobs::fetch(&db.app, "recompute", 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        send(&db.app, "recompute", json!({}), &opts).await,
        None,
        "deduplicated while active"
    );
    jobs::complete(&db.app, &[(claimed[0].id, Value::Null)])
        .await
        .unwrap();
    assert!(
        send(&db.app, "recompute", json!({}), &opts).await.is_some(),
        "free again once finished"
    );
}

#[tokio::test]
async fn fetching_respects_start_after_and_priority() {
    let db = TestDb::new().await;
    let later = SendOptions {
        start_after: Some(chrono::Utc::now() + chrono::Duration::hours(1)),
        ..SendOptions::default()
    };
    send(&db.app, "q", json!({"n": "later"}), &later).await;
    send(
        &db.app,
        "q",
        json!({"n": "low"}),
        &SendOptions {
            priority: -1,
            ..SendOptions::default()
        },
    )
    .await;
    send(
        &db.app,
        "q",
        json!({"n": "normal"}),
        &SendOptions::default(),
    )
    .await;
    send(
        &db.app,
        "q",
        json!({"n": "urgent"}),
        &SendOptions {
            priority: 10,
            ..SendOptions::default()
        },
    )
    .await;
    let order: Vec<String> = jobs::fetch(&db.app, "q", 10)
        .await
        .unwrap()
        .iter()
        .map(|j| j.data.as_ref().unwrap()["n"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        order,
        vec!["urgent", "normal", "low"],
        "the delayed job waits"
    );
}

#[tokio::test]
async fn failures_retry_with_growing_backoff_then_fail() {
    let db = TestDb::new().await;
    let opts = SendOptions {
        retry_limit: 2,
        retry_delay: 2,
        retry_backoff: true,
        ..SendOptions::default()
    };
    let id = send(&db.app, "flaky", json!({}), &opts).await.unwrap();
    let mut delays = Vec::new();
    for _ in 0..2 {
        sqlx::query("UPDATE jobs SET start_after = now() WHERE id = $1")
            .bind(id)
            .execute(&db.app)
            .await
            .unwrap();
        let job = jobs::fetch(&db.app, "flaky", 1).await.unwrap().remove(0);
        jobs::fail(&db.app, &[(job.id, "boom".into())])
            .await
            .unwrap();
        let delay: f64 = sqlx::query_scalar(
            "SELECT extract(epoch FROM start_after - now())::float8 FROM jobs WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&db.app)
        .await
        .unwrap();
        delays.push(delay);
        assert_eq!(state(&db.app, id).await.0, "retry");
    }
    // 2 s ×2^0 and 2 s ×2^1, each with ±25% jitter.
    assert!((1.4..=2.6).contains(&delays[0]), "{delays:?}");
    assert!((2.9..=5.1).contains(&delays[1]), "{delays:?}");
    sqlx::query("UPDATE jobs SET start_after = now() WHERE id = $1")
        .bind(id)
        .execute(&db.app)
        .await
        .unwrap();
    let job = jobs::fetch(&db.app, "flaky", 1).await.unwrap().remove(0);
    jobs::fail(&db.app, &[(job.id, "boom again".into())])
        .await
        .unwrap();
    let (s, retries, output) = state(&db.app, id).await;
    assert_eq!((s.as_str(), retries), ("failed", 2));
    assert_eq!(output.unwrap()["error"], "boom again");
}

#[tokio::test]
async fn an_expired_job_is_retried_and_cancel_and_retry_work_by_hand() {
    let db = TestDb::new().await;
    let id = send(
        &db.app,
        "slow",
        json!({}),
        &SendOptions {
            retry_limit: 1,
            ..SendOptions::default()
        },
    )
    .await
    .unwrap();
    jobs::fetch(&db.app, "slow", 1).await.unwrap();
    sqlx::query("UPDATE jobs SET started_on = now() - interval '1 hour' WHERE id = $1")
        .bind(id)
        .execute(&db.app)
        .await
        .unwrap();
    assert_eq!(jobs::expire(&db.app).await.unwrap(), 1);
    assert_eq!(state(&db.app, id).await.0, "retry");
    sqlx::query("UPDATE jobs SET start_after = now() WHERE id = $1")
        .bind(id)
        .execute(&db.app)
        .await
        .unwrap();
    jobs::fetch(&db.app, "slow", 1).await.unwrap();
    sqlx::query("UPDATE jobs SET started_on = now() - interval '1 hour' WHERE id = $1")
        .bind(id)
        .execute(&db.app)
        .await
        .unwrap();
    jobs::expire(&db.app).await.unwrap();
    assert_eq!(state(&db.app, id).await.0, "expired", "out of retries");

    assert!(jobs::retry(&db.app, id).await.unwrap());
    assert_eq!(state(&db.app, id).await.0, "retry");
    assert!(jobs::cancel(&db.app, id).await.unwrap());
    assert_eq!(state(&db.app, id).await.0, "cancelled");
    assert!(
        !jobs::cancel(&db.app, id).await.unwrap(),
        "a finished job cannot be cancelled"
    );
    assert!(jobs::fetch(&db.app, "slow", 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn bad_names_and_oversized_payloads_are_refused() {
    let db = TestDb::new().await;
    let mut tx = db.app.begin().await.unwrap();
    let err = jobs::send(&mut tx, "no spaces", &json!({}), &SendOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not valid"), "{err}");
    let big = json!({"blob": "x".repeat(1024 * 1024 + 1)});
    let err = jobs::send(&mut tx, "q", &big, &SendOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("1 MiB"), "{err}");
    let mut registry = Registry::new();
    assert!(
        registry
            .register("bad name", handler(|_| async { Ok(None) }))
            .is_err()
    );
}

#[tokio::test]
async fn the_runner_completes_jobs_runs_on_complete_and_survives_a_panic() {
    let db = TestDb::new().await;
    let mut registry = Registry::new();
    registry
        .register(
            "work",
            handler(|ctx| async move {
                match ctx.data()["n"].as_i64() {
                    Some(0) => panic!("zero is not allowed"),
                    Some(n) => Ok(Some(json!({"double": n * 2}))),
                    None => Err(HandlerError::new("no n")),
                }
            }),
        )
        .unwrap();
    let runner = Runner::start(db.app.clone(), registry, fast())
        .await
        .unwrap();
    let panics = send(
        &db.app,
        "work",
        json!({"n": 0}),
        &SendOptions {
            retry_limit: 0,
            ..SendOptions::default()
        },
    )
    .await
    .unwrap();
    let ok = send(
        &db.app,
        "work",
        json!({"n": 21}),
        &SendOptions {
            on_complete: true,
            ..SendOptions::default()
        },
    )
    .await
    .unwrap();
    wait_state(&db.app, ok, "completed").await;
    wait_state(&db.app, panics, "failed").await;
    let (_, _, output) = state(&db.app, panics).await;
    assert!(
        output.unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("zero is not allowed")
    );
    assert_eq!(state(&db.app, ok).await.2.unwrap()["double"], 42);
    let follow: Value =
        sqlx::query_scalar("SELECT data FROM jobs WHERE name = '__state__completed__work'")
            .fetch_one(&db.app)
            .await
            .unwrap();
    assert_eq!(follow["output"]["double"], 42);
    assert_eq!(follow["id"], ok.to_string());
    runner.shutdown().await;
}

#[tokio::test]
async fn two_runners_never_run_one_job_twice() {
    let db = TestDb::new().await;
    let seen: Arc<Mutex<HashMap<u64, u32>>> = Arc::default();
    let make = |seen: Arc<Mutex<HashMap<u64, u32>>>| {
        let mut registry = Registry::new();
        registry
            .register_with(
                "count",
                handler(move |ctx| {
                    let seen = seen.clone();
                    async move {
                        let n = ctx.data()["n"].as_u64().unwrap();
                        *seen.lock().unwrap().entry(n).or_default() += 1;
                        Ok(None)
                    }
                }),
                QueueOptions {
                    loops: 3,
                    batch_size: 7,
                    parallel: 4,
                },
            )
            .unwrap();
        registry
    };
    let a = Runner::start(db.app.clone(), make(seen.clone()), fast())
        .await
        .unwrap();
    let b = Runner::start(db.app.clone(), make(seen.clone()), fast())
        .await
        .unwrap();
    let mut tx = db.app.begin().await.unwrap();
    let data: Vec<Value> = (0..600).map(|n| json!({"n": n})).collect();
    assert_eq!(
        jobs::send_many(&mut tx, "count", &data, &SendOptions::default())
            .await
            .unwrap(),
        600
    );
    tx.commit().await.unwrap();
    wait_for(|| seen.lock().unwrap().len() == 600).await;
    a.shutdown().await;
    b.shutdown().await;
    let twice: Vec<u64> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, c)| **c != 1)
        .map(|(n, _)| *n)
        .collect();
    assert!(twice.is_empty(), "ran more than once: {twice:?}");
    let completed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobs WHERE name = 'count' AND state = 'completed'",
    )
    .fetch_one(&db.app)
    .await
    .unwrap();
    assert_eq!(completed, 600);
}

#[tokio::test]
async fn a_job_of_a_worker_that_died_completes_after_it_expires() {
    let db = TestDb::new().await;
    let opts = SendOptions {
        expire_in_seconds: 1,
        retry_delay: 0,
        retry_backoff: false,
        ..SendOptions::default()
    };
    let id = send(&db.app, "resilient", json!({}), &opts).await.unwrap();
    // A worker claims it and dies: nothing will ever complete it.
    assert_eq!(jobs::fetch(&db.app, "resilient", 1).await.unwrap().len(), 1);
    let mut registry = Registry::new();
    registry
        .register("resilient", handler(|_| async { Ok(Some(json!("done"))) }))
        .unwrap();
    let runner = Runner::start(db.app.clone(), registry, fast())
        .await
        .unwrap();
    wait_state(&db.app, id, "completed").await;
    assert_eq!(state(&db.app, id).await.1, 1, "it ran again as a retry");
    runner.shutdown().await;
}

#[tokio::test]
async fn a_handler_past_its_expire_in_is_cancelled_not_left_beside_its_retry() {
    let db = TestDb::new().await;
    let opts = SendOptions {
        expire_in_seconds: 1,
        retry_limit: 0,
        ..SendOptions::default()
    };
    let finished = Arc::new(Mutex::new(0u32));
    let seen = finished.clone();
    let mut registry = Registry::new();
    registry
        .register(
            "slow",
            handler(move |_| {
                let seen = seen.clone();
                async move {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    *seen.lock().unwrap() += 1;
                    Ok(None)
                }
            }),
        )
        .unwrap();
    let id = send(&db.app, "slow", json!({}), &opts).await.unwrap();
    let runner = Runner::start(db.app.clone(), registry, fast())
        .await
        .unwrap();
    // The runner's cancellation and its expiry sweep race; either ends the job.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let output = loop {
        let (s, _, output) = state(&db.app, id).await;
        if s == "failed" || s == "expired" {
            break output;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        output.unwrap().to_string().contains("expire"),
        "the job says why it stopped"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        *finished.lock().unwrap(),
        0,
        "the handler was stopped, not left running"
    );
    runner.shutdown().await;
}

#[tokio::test]
async fn handlers_act_in_their_jobs_tenant() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let mut registry = Registry::new();
    registry
        .register(
            "whoami",
            handler(|ctx| async move {
                let mut tx = ctx.tenant_tx().await?;
                let (user, actor): (Option<Uuid>, Option<String>) =
                    sqlx::query_as("SELECT current_user_id(), current_actor()")
                        .fetch_one(&mut *tx)
                        .await?;
                Ok(Some(json!({"user": user, "actor": actor})))
            }),
        )
        .unwrap();
    let runner = Runner::start(db.app.clone(), registry, fast())
        .await
        .unwrap();
    let id = send(&db.app, "whoami", json!({}), &SendOptions::for_user(alice))
        .await
        .unwrap();
    let anonymous = send(
        &db.app,
        "whoami",
        json!({}),
        &SendOptions {
            retry_limit: 0,
            ..SendOptions::default()
        },
    )
    .await
    .unwrap();
    wait_state(&db.app, id, "completed").await;
    let output = state(&db.app, id).await.2.unwrap();
    assert_eq!(output, json!({"user": alice, "actor": "worker"}));
    wait_state(&db.app, anonymous, "failed").await;
    runner.shutdown().await;
}

#[tokio::test]
async fn history_lives_apart_from_the_queue() {
    let db = TestDb::new().await;
    let id = send(&db.app, "q", json!({}), &SendOptions::default())
        .await
        .unwrap();
    let where_is = |id: Uuid| {
        let pool = db.admin.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT tableoid::regclass::text FROM jobs WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(where_is(id).await, "jobs_queue");
    let job = jobs::fetch(&db.app, "q", 1).await.unwrap().remove(0);
    jobs::complete(&db.app, &[(job.id, json!(1))])
        .await
        .unwrap();
    assert_eq!(where_is(id).await, "jobs_history");
    sqlx::query("UPDATE jobs SET keep_until = now() - interval '1 second' WHERE id = $1")
        .bind(id)
        .execute(&db.app)
        .await
        .unwrap();
    assert_eq!(jobs::purge(&db.app, 100).await.unwrap(), 1);
}

#[tokio::test]
async fn a_sleeping_runner_is_woken_by_notify_not_by_polling() {
    let db = TestDb::new().await;
    let mut registry = Registry::new();
    registry
        .register("wake", handler(|_| async { Ok(None) }))
        .unwrap();
    let slow_poll = RunnerOptions {
        poll_interval: Duration::from_secs(120),
        ..fast()
    };
    let runner = Runner::start(db.app.clone(), registry, slow_poll)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await; // the loops found nothing and sleep
    let started = std::time::Instant::now();
    let id = send(&db.app, "wake", json!({}), &SendOptions::default())
        .await
        .unwrap();
    wait_state(&db.app, id, "completed").await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "woken by NOTIFY, not the 120 s poll"
    );
    runner.shutdown().await;
}

#[tokio::test]
async fn each_slot_fires_once_with_two_schedulers_ticking() {
    use everreach_jobs::scheduler::{self, Schedule};
    let db = TestDb::new().await;
    let schedule = Schedule::new(
        "report.hourly",
        "0 * * * *",
        "Europe/Berlin",
        json!({"kind": "hourly"}),
    )
    .unwrap();
    scheduler::register(&db.app, &schedule).await.unwrap();
    // The last slot fired was three hours ago: one slot (the latest) is due.
    sqlx::query(
        "UPDATE job_schedules SET last_slot = date_trunc('hour', now()) - interval '3 hours'",
    )
    .execute(&db.app)
    .await
    .unwrap();
    let now = chrono::Utc::now();
    let (a, b) = tokio::join!(scheduler::tick(&db.app, now), scheduler::tick(&db.app, now));
    assert_eq!(a.unwrap() + b.unwrap(), 1, "one of the two fired the slot");
    let again = scheduler::tick(&db.app, now).await.unwrap();
    assert_eq!(again, 0, "a fired slot does not fire again");
    let sent: Vec<Value> = sqlx::query_scalar("SELECT data FROM jobs WHERE name = 'report.hourly'")
        .fetch_all(&db.app)
        .await
        .unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["data"]["kind"], "hourly");
    let slot: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(sent[0]["slot"].clone()).unwrap();
    assert_eq!(slot.timestamp() % 3600, 0, "a slot on the hour");
    assert!(now - slot < chrono::Duration::hours(1));
}

#[tokio::test]
async fn bad_schedules_are_refused_with_the_reason() {
    use everreach_jobs::scheduler::Schedule;
    let err = Schedule::new("q", "every hour", "UTC", json!(null))
        .unwrap_err()
        .to_string();
    assert!(err.contains("five"), "{err}");
    let err = Schedule::new("q", "0 * * * *", "Mars/Olympus", json!(null))
        .unwrap_err()
        .to_string();
    assert!(err.contains("IANA"), "{err}");
}

#[tokio::test]
async fn upkeep_keeps_partitions_three_months_ahead_and_purges() {
    use everreach_jobs::maintenance;
    let db = TestDb::new().await;
    // Drop next months' partitions (as if upkeep had not run for a while); emails'
    // are referenced by foreign keys and stay.
    for table in ["events", "content_performance", "analytics.events"] {
        for months in 1..=3 {
            let name: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT '{table}_' || to_char(date_trunc('month', now()) + interval '{months} months', 'YYYY_MM')"
            )))
            .fetch_one(&db.admin)
            .await
            .unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP TABLE IF EXISTS {name}")))
                .execute(&db.admin)
                .await
                .unwrap();
        }
    }
    let created = maintenance::upkeep_partitions(&db.app).await.unwrap();
    assert!(created >= 9, "created {created}");
    for months in 1..=3 {
        for table in [
            "public.emails",
            "public.events",
            "public.content_performance",
            "analytics.events",
            "analytics.performance_metrics",
        ] {
            let exists: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT to_regclass('{table}_' || to_char(date_trunc('month', now()) + interval '{months} months', 'YYYY_MM')) IS NOT NULL"
            )))
            .fetch_one(&db.app)
            .await
            .unwrap();
            assert!(exists, "{table} has no partition {months} months ahead");
        }
    }
    sqlx::query("INSERT INTO cache (key, value, expires_at) VALUES ('old', '1', now() - interval '1 minute'), ('fresh', '2', now() + interval '1 hour')")
        .execute(&db.app)
        .await
        .unwrap();
    assert_eq!(maintenance::purge_cache(&db.app).await.unwrap(), 1);
    let mut registry = Registry::new();
    maintenance::register(&mut registry).unwrap();
    Runner::start(db.app.clone(), registry, fast())
        .await
        .unwrap()
        .shutdown()
        .await;
    let schedules: i64 =
        sqlx::query_scalar("SELECT count(*) FROM job_schedules WHERE name LIKE 'maintenance.%'")
            .fetch_one(&db.app)
            .await
            .unwrap();
    assert_eq!(schedules, 4);
}

#[tokio::test]
async fn expired_credentials_are_purged_and_live_ones_stay() {
    use everreach_core::db::tenant;
    use everreach_jobs::maintenance;
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let mut tx = tenant::begin(&db.app, alice).await.unwrap();
    for (age, tag) in [
        ("- interval '1 second'", "old"),
        ("+ interval '1 hour'", "new"),
    ] {
        let sql = format!(
            "INSERT INTO idempotency_keys (user_id, key, request_hash, created_at)
                 VALUES ('{alice}', '{tag}', 'h', now() - interval '24 hours' {age});
             INSERT INTO sessions (user_id, token_hash, expires_at) VALUES ('{alice}', 's-{tag}', now() {age});
             INSERT INTO email_verification_tokens (user_id, token_hash, email, expires_at)
                 VALUES ('{alice}', 'v-{tag}', 'alice@example.com', now() {age});
             INSERT INTO password_reset_tokens (user_id, token_hash, expires_at) VALUES ('{alice}', 'p-{tag}', now() {age});"
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    for (age, tag) in [
        ("- interval '1 second'", "old"),
        ("+ interval '1 hour'", "new"),
    ] {
        let sql = format!(
            "INSERT INTO company_invitations (company_id, email, token_hash, expires_at)
                 VALUES ((SELECT company_id FROM users WHERE id = '{alice}'), '{tag}@example.com', 'i-{tag}', now() {age});
             INSERT INTO mail_outbox (id, to_address, subject, body, expires_at)
                 VALUES (gen_random_uuid(), '{tag}@example.com', 'hello', 'er2:sealed', now() {age});"
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&db.admin)
            .await
            .unwrap();
    }
    let purged = maintenance::purge_credentials(&db.app).await.unwrap();
    assert_eq!(
        purged,
        json!({"idempotency_keys": 1, "sessions": 1, "email_verification_tokens": 1,
               "password_reset_tokens": 1, "company_invitations": 1, "mail_outbox": 1})
    );
    let mut tx = tenant::begin(&db.app, alice).await.unwrap();
    for table in [
        "idempotency_keys",
        "sessions",
        "email_verification_tokens",
        "password_reset_tokens",
    ] {
        let left: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT to_jsonb(t)::text FROM {table} t"
        )))
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        assert!(
            left.len() == 1 && !left[0].contains("old"),
            "{table} keeps its live row only: {left:?}"
        );
    }
    tx.commit().await.unwrap();
    for table in ["company_invitations", "mail_outbox"] {
        let left: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT to_jsonb(t)::text FROM {table} t"
        )))
        .fetch_all(&db.admin)
        .await
        .unwrap();
        assert!(
            left.len() == 1 && !left[0].contains("old"),
            "{table} keeps its live row only: {left:?}"
        );
    }
}

#[tokio::test]
async fn events_enqueue_their_subscribers_jobs_in_the_same_transaction() {
    use everreach_core::db::tenant;
    use everreach_core::platform::events;
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    events::subscribe(&db.app, "insights.recompute", "person_event.%", true)
        .await
        .unwrap();
    let bob = db.create_user("bob@example.com").await;
    let person = Uuid::new_v4();
    let log_as = |who: Uuid, event_type: &'static str, entity: Uuid, commit: bool| {
        let pool = db.app.clone();
        async move {
            let mut tx = tenant::begin(&pool, who).await.unwrap();
            events::log(&mut tx, who, "person", entity, event_type, &json!({}))
                .await
                .unwrap();
            if commit {
                tx.commit().await.unwrap();
            }
        }
    };
    let log = |event_type: &'static str, entity: Uuid, commit: bool| {
        log_as(alice, event_type, entity, commit)
    };
    log("person_event.created", person, true).await;
    log("person_event.created", person, true).await; // same person: deduplicated
    // another tenant naming the same entity id is not swallowed by alice's live job
    log_as(bob, "person_event.created", person, true).await;
    log("person_event.created", Uuid::new_v4(), true).await;
    log("contact.updated", person, true).await; // not subscribed
    log("person_event.created", Uuid::new_v4(), false).await; // rolled back
    let jobs: Vec<(Value, Option<Uuid>)> = sqlx::query_as(
        "SELECT data, user_id FROM jobs WHERE name = 'insights.recompute' ORDER BY created_on",
    )
    .fetch_all(&db.app)
    .await
    .unwrap();
    assert_eq!(jobs.len(), 3, "{jobs:?}");
    assert_eq!(jobs[0].0["entity_id"], person.to_string());
    assert_eq!(
        jobs[0].1,
        Some(alice),
        "the job acts for the event's tenant"
    );
    assert_eq!(jobs[1].0["entity_id"], person.to_string());
    assert_eq!(jobs[1].1, Some(bob));
}

#[tokio::test]
async fn sending_to_a_queue_nobody_created_is_refused() {
    let db = TestDb::new().await;
    let mut tx = db.app.begin().await.unwrap();
    let err = jobs::send(
        &mut tx,
        "nobody.works.this",
        &json!({}),
        &SendOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("no queue named \"nobody.works.this\""),
        "{err}"
    );
    drop(tx);
    let mut tx = db.app.begin().await.unwrap();
    let err = jobs::send_many(
        &mut tx,
        "nobody.works.this",
        &[json!({})],
        &SendOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("no queue named"), "{err}");
    drop(tx);
    jobs::create_queue(&db.app, "works.now").await.unwrap();
    assert!(
        send(&db.app, "works.now", json!({}), &SendOptions::default())
            .await
            .is_some()
    );
}

#[tokio::test]
async fn the_people_insights_job_widens_seen_times_and_recomputes() {
    use everreach_core::db::tenant;
    use everreach_core::people::{ingest, model::EventInput};
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let ingest = async |occurred_at: chrono::DateTime<chrono::Utc>, platform_id: &str| {
        let input: EventInput = serde_json::from_value(json!({
            "identity": {"channel": "instagram", "handle": "grace"},
            "event_type": "liked", "platform_id": platform_id, "occurred_at": occurred_at}))
        .unwrap();
        ingest::ingest_tx(&db.app, alice, &[input]).await.unwrap();
    };
    let now = chrono::Utc::now();
    ingest(now - chrono::Duration::days(2), "1").await;
    // seen again a day earlier: the batch leaves the identity alone, the job widens it
    ingest(now - chrono::Duration::days(3), "2").await;
    let first_seen = async || -> chrono::DateTime<chrono::Utc> {
        let mut tx = tenant::begin(&db.app, alice).await.unwrap();
        sqlx::query_scalar("SELECT first_seen_at FROM identities WHERE handle = 'grace'")
            .fetch_one(&mut *tx)
            .await
            .unwrap()
    };
    assert!(first_seen().await > now - chrono::Duration::days(3));
    // and a job whose data is not a recompute fails with the reason
    let mut tx = db.app.begin().await.unwrap();
    let broken = jobs::send(
        &mut tx,
        "people.insights",
        &json!({"person_ids": "nope"}),
        &SendOptions {
            retry_limit: 0,
            ..SendOptions::for_user(alice)
        },
    )
    .await
    .unwrap()
    .unwrap();
    tx.commit().await.unwrap();

    let mut registry = Registry::new();
    everreach_jobs::people::register(&mut registry).unwrap();
    let runner = Runner::start(db.app.clone(), registry, fast())
        .await
        .unwrap();
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM jobs WHERE name = 'people.insights' AND id <> $1 ORDER BY created_on, id",
    )
    .bind(broken)
    .fetch_all(&db.admin)
    .await
    .unwrap();
    assert_eq!(ids.len(), 2);
    for id in &ids {
        wait_state(&db.app, *id, "completed").await;
    }
    wait_state(&db.app, broken, "failed").await;
    runner.shutdown().await;
    let (_, _, output) = state(&db.app, ids[1]).await;
    assert_eq!(output.unwrap()["widened"], 1);
    assert_eq!(
        first_seen().await.timestamp_micros(),
        (now - chrono::Duration::days(3)).timestamp_micros()
    );
    let mut tx = tenant::begin(&db.app, alice).await.unwrap();
    let computed: i64 = sqlx::query_scalar("SELECT count(*) FROM person_insights")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(computed, 1);
    let (_, _, output) = state(&db.app, broken).await;
    assert!(
        output
            .unwrap()
            .to_string()
            .contains("not a people.insights job"),
        "the failure says why"
    );
}

#[tokio::test]
async fn the_nightly_recompute_reaches_everyone_and_match_keys_follow_the_insight_job() {
    use everreach_core::db::tenant;
    use everreach_core::people::{ingest, model::EventInput};
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let bob = db.create_user("bob@example.com").await;
    let event = |channel: &str, handle: &str| -> EventInput {
        serde_json::from_value(json!({"identity": {"channel": channel, "handle": handle},
                                      "event_type": "liked", "platform_id": handle}))
        .unwrap()
    };
    ingest::ingest_tx(
        &db.app,
        alice,
        &[
            event("instagram", "ana.smith"),
            event("twitter", "anasmith"),
        ],
    )
    .await
    .unwrap();
    ingest::ingest_tx(&db.app, bob, &[event("instagram", "lin")])
        .await
        .unwrap();
    sqlx::query("DELETE FROM jobs")
        .execute(&db.admin)
        .await
        .unwrap();

    let (tenants, people) = everreach_jobs::people::recompute_everyone(&db.app)
        .await
        .unwrap();
    assert_eq!((tenants, people), (2, 3));
    let queued: Vec<(Option<Uuid>, i64)> = sqlx::query_as(
        "SELECT user_id, jsonb_array_length(data->'person_ids')::int8 FROM jobs
          WHERE name = 'people.insights' ORDER BY (user_id = $1) DESC",
    )
    .bind(alice)
    .fetch_all(&db.admin)
    .await
    .unwrap();
    assert_eq!(queued, vec![(Some(alice), 2), (Some(bob), 1)]);

    // The runner works the insight jobs, which queue the match keys, which find Ana.
    let mut registry = Registry::new();
    everreach_jobs::people::register(&mut registry).unwrap();
    let runner = Runner::start(db.app.clone(), registry, fast())
        .await
        .unwrap();
    let pool = db.app.clone();
    let mut found = 0;
    for _ in 0..200 {
        let mut tx = tenant::begin(&pool, alice).await.unwrap();
        found = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM person_merge_candidates")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        drop(tx);
        if found > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    runner.shutdown().await;
    assert_eq!(found, 1, "ana.smith and anasmith share a handle stem");
    let schedules: Vec<String> =
        sqlx::query_scalar("SELECT name::text FROM job_schedules ORDER BY 1")
            .fetch_all(&db.admin)
            .await
            .unwrap();
    assert_eq!(schedules, ["people.insights.nightly"]);
}

#[tokio::test]
async fn the_outreach_job_sends_every_tenants_due_messages() {
    use everreach_core::crm::outreach::{self, NewOutreach, SettingsInput};
    use everreach_core::db::tenant;
    let db = TestDb::new().await;
    let now = chrono::Utc::now();
    // alice has two due, bob one due and one for next week, carol only next week's
    let mut due = HashMap::new();
    for (email, messages) in [
        ("alice@example.com", vec![None, None]),
        ("bob@example.com", vec![None, Some(7)]),
        ("carol@example.com", vec![Some(7)]),
    ] {
        let user = db.create_user(email).await;
        let mut tx = tenant::begin(&db.app, user).await.unwrap();
        sqlx::query(
            "INSERT INTO instagram_contacts (user_id, instagram_username) VALUES ($1, 'grace')",
        )
        .bind(user)
        .execute(&mut *tx)
        .await
        .unwrap();
        let never_quiet = SettingsInput {
            daily_cap: Some(20),
            quiet_start: Some("00:00".into()),
            quiet_end: Some("00:00".into()),
        };
        outreach::put_settings(&mut tx, &never_quiet, now)
            .await
            .unwrap();
        for (i, days) in messages.iter().enumerate() {
            let input = NewOutreach {
                contact_id: None,
                username: Some("grace".into()),
                message_text: Some(format!("hello {i}")),
                priority: None,
                scheduled_at: days.map(|d| now + chrono::Duration::days(d)),
            };
            outreach::enqueue(&mut tx, &input, now).await.unwrap();
        }
        tx.commit().await.unwrap();
        due.insert(user, messages.iter().filter(|m| m.is_none()).count() as i64);
    }
    let mut tenants = outreach::tenants_due(&db.app, now).await.unwrap();
    tenants.sort_unstable();
    let mut expected: Vec<Uuid> = due
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(u, _)| *u)
        .collect();
    expected.sort_unstable();
    assert_eq!(tenants, expected, "carol has nothing due");

    let mut registry = Registry::new();
    everreach_jobs::crm::register(&mut registry).unwrap();
    assert!(
        registry
            .schedules()
            .iter()
            .any(|s| s.queue == outreach::QUEUE),
        "it runs on a schedule"
    );
    let runner = Runner::start(db.app.clone(), registry, fast())
        .await
        .unwrap();
    let id = send(
        &db.app,
        outreach::QUEUE,
        json!(null),
        &SendOptions::default(),
    )
    .await
    .unwrap();
    wait_state(&db.app, id, "completed").await;
    runner.shutdown().await;
    let output = state(&db.app, id).await.2.unwrap();
    assert_eq!(output["tenants"], 2, "{output}");
    assert_eq!(output["sent"], 3, "{output}");
    assert_eq!(output["errors"], 0, "{output}");
    for (user, n) in due {
        let mut tx = tenant::begin(&db.app, user).await.unwrap();
        let (sent, messages): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM outreach_queue WHERE status = 'sent'),
                    (SELECT count(*) FROM instagram_messages WHERE is_outbound AND sent_by_automation)",
        )
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        assert_eq!(
            (sent, messages),
            (n, n),
            "each due message sent and recorded once"
        );
    }
}
