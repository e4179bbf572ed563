//! The `everreach` binary as a user runs it: `serve` on the embedded database and on
//! `DATABASE_URL`, shutdown and crash recovery, and one-line errors for bad set-ups.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a panic is a failed assertion with its line"
)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use everreach_testkit::TestDb;

fn everreach() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_everreach"));
    for var in [
        "DATABASE_URL",
        "EVERREACH_ENCRYPTION_KEY",
        "EVERREACH_ENCRYPTION_KEYS_OLD",
        "EVERREACH_ADDR",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("RUST_LOG", "warn");
    cmd
}

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn scratch_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "everreach-cli-{name}-{}",
        uuid::Uuid::new_v4().simple()
    ))
}

/// Status code of GET `path`, or None while nothing answers.
fn get_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}

fn wait_ready(addr: SocketAddr, server: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if let Some(status) = server.try_wait().unwrap() {
            let mut err = String::new();
            server
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("serve exited early ({status}): {err}");
        }
        if get_status(addr, "/readyz") == Some(200) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("serve was not ready on {addr} within 120 s");
}

fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the process did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn postmaster_pid(data_dir: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(data_dir.join("pgdata/postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

fn one_line_error(out: &Output) -> String {
    assert!(!out.status.success(), "expected a failure");
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("everreach:"))
        .collect();
    assert_eq!(lines.len(), 1, "one error line, got: {stderr}");
    lines[0].to_string()
}

#[test]
fn serve_runs_on_the_embedded_database_and_stops_it_cleanly_even_after_a_crash() {
    let data = scratch_dir("embedded");
    let addr = free_addr();
    let start = || {
        everreach()
            .args(["serve", "--addr", &addr.to_string()])
            .env("EVERREACH_DATA_DIR", &data)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut server = start();
    wait_ready(addr, &mut server);
    assert_eq!(get_status(addr, "/healthz"), Some(200));

    // `db url` names the running cluster's socket, for psql.
    let url = everreach()
        .args(["db", "url"])
        .env("EVERREACH_DATA_DIR", &data)
        .output()
        .unwrap();
    let url = String::from_utf8(url.stdout).unwrap();
    assert!(
        url.starts_with("postgresql://everreach_app@localhost/everreach?host=/tmp/everreach-"),
        "{url}"
    );

    // Killed with -9: the server follows (parent-death signal) and the next start recovers.
    let pg = postmaster_pid(&data).expect("a running postmaster");
    signal(&server, "KILL");
    wait_exit(&mut server);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{pg}/status")).exists()
        && !std::fs::read_to_string(format!("/proc/{pg}/status"))
            .unwrap_or_default()
            .contains("zombie")
    {
        assert!(
            Instant::now() < deadline,
            "postgres outlived a killed serve"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut server = start();
    wait_ready(addr, &mut server);

    // SIGTERM: graceful stop, server stopped, exit 0.
    signal(&server, "TERM");
    assert!(wait_exit(&mut server).success());
    assert_eq!(postmaster_pid(&data), None, "the cluster was stopped");
    std::fs::remove_dir_all(&data).unwrap();
}

#[tokio::test]
async fn serve_uses_database_url_when_set() {
    let db = TestDb::new().await;
    let addr = free_addr();
    let data = scratch_dir("external");
    let mut server = everreach()
        .args(["serve", "--addr", &addr.to_string()])
        .env("DATABASE_URL", db.target.admin_url())
        .env("EVERREACH_DATA_DIR", &data)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ready = tokio::task::spawn_blocking(move || {
        wait_ready(addr, &mut server);
        signal(&server, "INT");
        wait_exit(&mut server)
    });
    assert!(ready.await.unwrap().success());
    assert!(
        !data.join("pgdata").exists(),
        "no embedded cluster with DATABASE_URL"
    );
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn a_malformed_database_url_is_one_line_naming_it() {
    let out = everreach()
        .arg("migrate")
        .env("DATABASE_URL", "mysql://root:hunter2@db/x")
        .output()
        .unwrap();
    let line = one_line_error(&out);
    assert!(
        line.contains("DATABASE_URL") && line.contains("postgresql://"),
        "{line}"
    );
    assert!(!line.contains("hunter2"), "the password leaked: {line}");
}

#[test]
fn an_unreachable_server_is_one_line_naming_it() {
    let out = everreach()
        .arg("migrate")
        .env("DATABASE_URL", "postgres://u:pw@127.0.0.1:1/everreach")
        .output()
        .unwrap();
    let line = one_line_error(&out);
    assert!(
        line.contains("cannot connect") && line.contains("127.0.0.1:1"),
        "{line}"
    );
}

#[test]
fn an_unwritable_data_directory_is_one_line_naming_it() {
    let out = everreach()
        .arg("migrate")
        .env("EVERREACH_DATA_DIR", "/proc/everreach-data")
        .output()
        .unwrap();
    let line = one_line_error(&out);
    assert!(
        line.contains("/proc/everreach-data") && line.contains("EVERREACH_DATA_DIR"),
        "{line}"
    );
}

#[tokio::test]
async fn a_wrong_encryption_key_is_refused_and_rotation_moves_to_a_new_one() {
    let db = TestDb::new().await;
    let data = scratch_dir("keys");
    let key_a = "a".repeat(64);
    let key_b = "b".repeat(64);
    let run = |key: &str, old: Option<&str>| {
        let mut cmd = everreach();
        cmd.args(["keys", "rotate"])
            .env("DATABASE_URL", db.target.admin_url())
            .env("EVERREACH_DATA_DIR", &data)
            .env("EVERREACH_ENCRYPTION_KEY", key);
        if let Some(old) = old {
            cmd.env("EVERREACH_ENCRYPTION_KEYS_OLD", old);
        }
        cmd.output().unwrap()
    };
    assert!(run(&key_a, None).status.success());
    let line = one_line_error(&run(&key_b, None));
    assert!(
        line.contains("EVERREACH_ENCRYPTION_KEY") && line.contains("not configured"),
        "{line}"
    );
    let rotated = run(&key_b, Some(&key_a));
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    let line = one_line_error(&run(&key_a, None));
    assert!(
        line.contains("not configured"),
        "after rotation the old key alone is refused: {line}"
    );
    let bad = one_line_error(&run("not-a-key", None));
    assert!(bad.contains("openssl rand -base64 32"), "{bad}");
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test]
async fn user_create_and_token_create_make_a_working_token() {
    let db = TestDb::new().await;
    let data = scratch_dir("users");
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut child = everreach()
            .args(args)
            .env("DATABASE_URL", db.target.admin_url())
            .env("EVERREACH_DATA_DIR", &data)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        child.wait_with_output().unwrap()
    };
    let created = run(
        &[
            "user",
            "create",
            "--email",
            "Ops@Example.com",
            "--password-stdin",
            "--role",
            "viewer",
        ],
        Some("a long enough password\n"),
    );
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let token = run(
        &[
            "token",
            "create",
            "--email",
            "ops@example.com",
            "--name",
            "ci",
        ],
        None,
    );
    assert!(
        token.status.success(),
        "{}",
        String::from_utf8_lossy(&token.stderr)
    );
    let stdout = String::from_utf8(token.stdout).unwrap();
    let last = stdout.lines().last().unwrap();
    let accounts = everreach_core::accounts::Accounts::new(db.app.clone());
    let principal = accounts
        .authenticate_token(last)
        .await
        .unwrap()
        .expect("the printed token signs in");
    assert_eq!(principal.role, everreach_core::accounts::Role::Viewer);

    let short = run(
        &[
            "user",
            "create",
            "--email",
            "x@example.com",
            "--password-stdin",
        ],
        Some("short\n"),
    );
    assert!(one_line_error(&short).contains("password"));
    let nobody = run(
        &[
            "token",
            "create",
            "--email",
            "nobody@example.com",
            "--name",
            "x",
        ],
        None,
    );
    assert!(one_line_error(&nobody).contains("user create"));
    let _ = std::fs::remove_dir_all(&data);
}

/// Runs `everreach bench …` on the test database and returns its JSON line.
fn bench_json(db: &TestDb, name: &str, args: &[&str]) -> serde_json::Value {
    let data = scratch_dir(name);
    let out = everreach()
        .arg("bench")
        .args(args)
        .arg("--json")
        .env("DATABASE_URL", db.target.admin_url())
        .env("EVERREACH_DATA_DIR", &data)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&data);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

#[tokio::test]
async fn bench_api_measures_the_api_and_its_baseline_and_prints_json() {
    let db = TestDb::new().await;
    let result = bench_json(
        &db,
        "bench",
        &["api", "--connections", "4", "--seconds", "0.5"],
    );
    assert_eq!(result["bench"], "api");
    assert_eq!(result["errors"], 0);
    assert!(result["requests_per_second"].as_f64().unwrap() > 0.0);
    assert!(result["baseline"]["ops_per_second"].as_f64().unwrap() > 0.0);
    assert!(result["ratio"].as_f64().unwrap() > 0.0);
    assert!(result["p99_ms"].as_f64().unwrap() >= result["p50_ms"].as_f64().unwrap());
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&db.admin)
        .await
        .unwrap();
    assert_eq!(users, 0, "the bench removes its user");
}

#[tokio::test]
async fn bench_jobs_reports_every_figure_with_its_baseline() {
    let db = TestDb::new().await;
    let result = bench_json(
        &db,
        "bench-jobs",
        &["jobs", "--jobs", "300", "--history", "2000"],
    );
    for field in [
        "enqueue_jobs_s",
        "single_enqueue_jobs_s",
        "drain_jobs_s",
        "ratio",
        "history_ratio",
    ] {
        assert!(result[field].as_f64().unwrap() > 0.0, "{field}: {result}");
    }
    assert!(result["baseline"]["loop_jobs_s"].as_f64().unwrap() > 0.0);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs")
        .fetch_one(&db.admin)
        .await
        .unwrap();
    assert_eq!(left, 0, "the bench removes its jobs");
}

/// A child process killed when the test ends early (a failed assertion), so no
/// worker outlives its test holding the output pipe open.
struct Reaped(Option<std::process::Child>);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test]
async fn worker_runs_maintenance_jobs_and_stops_on_sigterm() {
    let db = TestDb::new().await;
    let data = scratch_dir("worker");
    let mut guard = Reaped(Some(
        everreach()
            .arg("worker")
            .env("DATABASE_URL", db.target.admin_url())
            .env("EVERREACH_DATA_DIR", &data)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        // the four maintenance schedules (domains add their own beside them)
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM job_schedules WHERE name LIKE 'maintenance.%'",
        )
        .fetch_one(&db.admin)
        .await
        .unwrap_or(0);
        if n == 4 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the worker never registered its schedules"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut tx = db.app.begin().await.unwrap();
    let id = everreach_core::jobs::send(
        &mut tx,
        "maintenance.cache",
        &serde_json::json!({}),
        &Default::default(),
    )
    .await
    .unwrap()
    .unwrap();
    tx.commit().await.unwrap();
    loop {
        let state: String = sqlx::query_scalar("SELECT state::text FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_one(&db.admin)
            .await
            .unwrap();
        if state == "completed" {
            break;
        }
        assert!(Instant::now() < deadline, "the worker did not run the job");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut worker = guard.0.take().unwrap();
    signal(&worker, "TERM");
    let status = tokio::task::spawn_blocking(move || wait_exit(&mut worker))
        .await
        .unwrap();
    assert!(status.success());
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test]
async fn jobs_list_retry_and_cancel_from_the_command_line() {
    let db = TestDb::new().await;
    let data = scratch_dir("jobs-cli");
    everreach_core::jobs::create_queue(&db.app, "cli.check")
        .await
        .unwrap();
    let mut tx = db.app.begin().await.unwrap();
    let id = everreach_core::jobs::send(
        &mut tx,
        "cli.check",
        &serde_json::json!({}),
        &Default::default(),
    )
    .await
    .unwrap()
    .unwrap();
    tx.commit().await.unwrap();
    let run = |args: &[&str]| {
        everreach()
            .args(args)
            .env("DATABASE_URL", db.target.admin_url())
            .env("EVERREACH_DATA_DIR", &data)
            .output()
            .unwrap()
    };
    let listed = run(&["jobs", "list", "--queue", "cli.check"]);
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(
        stdout.contains(&id.to_string()) && stdout.contains("created"),
        "{stdout}"
    );
    assert!(run(&["jobs", "cancel", &id.to_string()]).status.success());
    assert!(run(&["jobs", "retry", &id.to_string()]).status.success());
    assert!(one_line_error(&run(&["jobs", "retry", "not-a-uuid"])).contains("jobs list"));
    assert!(one_line_error(&run(&["jobs", "list", "--state", "sleeping"])).contains("--state"));
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test]
async fn import_events_reports_bad_lines_by_number_and_stores_nothing_then_imports() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let dir = scratch_dir("import");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("events.jsonl");
    let good = r#"{"identity": {"channel": "instagram", "handle": "@Grace"}, "event_type": "liked", "platform_id": "p1"}"#;
    std::fs::write(
        &file,
        format!(
            "{good}\n\n{{\"identity\": {{\"channel\": \"instagram\", \"handle\": \"x\"}}, \"event_type\": \n{{\"identity\": {{\"channel\": \"myspace\", \"handle\": \"tom\"}}, \"event_type\": \"liked\"}}\n{{\"identity\": {{\"channel\": \"email\", \"handle\": \"a@b.io\"}}, \"event_type\": \"x\", \"sentiment\": 3}}\n"
        ),
    )
    .unwrap();
    let run = |path: &Path| {
        everreach()
            .args(["import", "events"])
            .arg(path)
            .args(["--email", "alice@example.com"])
            .env("DATABASE_URL", db.target.admin_url())
            .env("EVERREACH_DATA_DIR", &dir)
            .output()
            .unwrap()
    };
    let out = run(&file);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let name = file.display().to_string();
    assert!(err.contains(&format!("{name}:3: not valid JSON")), "{err}");
    assert!(
        err.contains(&format!("{name}:4: identity/channel")),
        "{err}"
    );
    assert!(err.contains(&format!("{name}:5: sentiment")), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");
    let count = async || -> i64 {
        let mut tx = everreach_core::db::tenant::begin(&db.app, alice)
            .await
            .unwrap();
        let n = sqlx::query_scalar("SELECT count(*) FROM person_events")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        n
    };
    assert_eq!(count().await, 0, "nothing from a rejected file is stored");

    let lines: Vec<String> = (0..25)
        .map(|i| format!(r#"{{"identity": {{"channel": "email", "handle": "p{}@example.com"}}, "event_type": "opened_email", "platform_id": "m{i}"}}"#, i % 5))
        .collect();
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let out = everreach()
        .args(["import", "events"])
        .arg(&file)
        .args(["--email", "alice@example.com", "--batch", "10"])
        .env("DATABASE_URL", db.target.admin_url())
        .env("EVERREACH_DATA_DIR", &dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("25 stored, 0 duplicates skipped, 5 new people"),
        "{err}"
    );
    assert!(err.contains("100.0%"), "progress is shown: {err}");
    assert_eq!(count().await, 25);
    // Again: every line is a duplicate.
    let again = run(&file);
    assert!(String::from_utf8_lossy(&again.stderr).contains("0 stored, 25 duplicates"));
    assert!(one_line_error(&run(&dir.join("missing.jsonl"))).contains("missing.jsonl"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn bench_ingest_reports_ingest_and_timeline_with_baselines() {
    let db = TestDb::new().await;
    let result = bench_json(&db, "bench-ingest", &["ingest", "--events", "2000"]);
    assert_eq!(result["bench"], "ingest");
    for field in ["events_per_second", "ratio"] {
        assert!(result[field].as_f64().unwrap() > 0.0, "{field}: {result}");
    }
    assert!(
        result["baseline"]["copy_events_per_second"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert!(result["timeline"]["p99_ms"].as_f64().unwrap() > 0.0);
    assert!(result["timeline"]["baseline_p99_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(result["timeline"]["person_events"], 20);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM person_events")
        .fetch_one(&db.admin)
        .await
        .unwrap();
    assert_eq!(left, 0, "the bench removes its rows");
}

#[tokio::test]
async fn bench_insights_reports_the_full_and_incremental_recompute_with_baselines() {
    let db = TestDb::new().await;
    let result = bench_json(
        &db,
        "bench-insights",
        &[
            "insights",
            "--people",
            "100",
            "--events",
            "400",
            "--samples",
            "200",
        ],
    );
    assert_eq!(result["bench"], "insights");
    assert_eq!(result["people"], 100);
    assert_eq!(result["full"]["people_recomputed"], 100);
    assert_eq!(result["baseline"]["rows"], 100);
    for field in [
        "ratio",
        "full.seconds",
        "baseline.seconds",
        "incremental.p99_ms",
        "incremental.baseline.p99_ms",
    ] {
        let value = field.split('.').fold(&result, |v, k| &v[k]);
        assert!(value.as_f64().unwrap() > 0.0, "{field}: {result}");
    }
    assert_eq!(result["incremental"]["samples"], 200);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM person_term_df")
        .fetch_one(&db.admin)
        .await
        .unwrap();
    assert_eq!(left, 0, "the bench removes its rows");
}

/// A worker process killed with SIGKILL in the middle of a job (its handler blocked on
/// a row lock the test holds) never finishes it; another worker process completes the
/// job once it has expired, as a retry.
#[tokio::test]
async fn a_killed_workers_job_completes_in_another_worker_after_it_expires() {
    let db = TestDb::new().await;
    let data = scratch_dir("killed-worker");
    let spawn_worker = || {
        everreach()
            .arg("worker")
            .env("DATABASE_URL", db.target.admin_url())
            .env("EVERREACH_DATA_DIR", &data)
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let state = |id: uuid::Uuid| {
        let pool = db.admin.clone();
        async move {
            sqlx::query_as::<_, (String, i32)>(
                "SELECT state::text, retry_count FROM jobs WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    // The job's handler (the cache purge) will wait on this row lock.
    sqlx::query("INSERT INTO cache (key, value, expires_at) VALUES ('held', '1', now() - interval '1 minute')")
        .execute(&db.app)
        .await
        .unwrap();
    let mut holder = db.app.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM cache WHERE key = 'held' FOR UPDATE")
        .execute(&mut *holder)
        .await
        .unwrap();
    everreach_core::jobs::create_queue(&db.app, "maintenance.cache")
        .await
        .unwrap();
    let mut tx = db.app.begin().await.unwrap();
    let opts = everreach_core::jobs::SendOptions {
        expire_in_seconds: 3,
        retry_delay: 0,
        retry_backoff: false,
        ..Default::default()
    };
    let id =
        everreach_core::jobs::send(&mut tx, "maintenance.cache", &serde_json::json!({}), &opts)
            .await
            .unwrap()
            .unwrap();
    tx.commit().await.unwrap();

    let mut first = spawn_worker();
    let deadline = Instant::now() + Duration::from_secs(60);
    while state(id).await.0 != "active" {
        assert!(
            Instant::now() < deadline,
            "the first worker never took the job"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await; // inside the handler, blocked
    signal(&first, "KILL");
    let killed = tokio::task::spawn_blocking(move || wait_exit(&mut first))
        .await
        .unwrap();
    assert!(!killed.success(), "killed by SIGKILL");
    holder.rollback().await.unwrap();
    assert_eq!(state(id).await.0, "active", "nobody finished it");

    let mut second = spawn_worker();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (s, retries) = state(id).await;
        if s == "completed" {
            assert!(retries >= 1, "it ran again as a retry");
            break;
        }
        assert!(Instant::now() < deadline, "still {s} after a minute");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    signal(&second, "TERM");
    let stopped = tokio::task::spawn_blocking(move || wait_exit(&mut second))
        .await
        .unwrap();
    assert!(stopped.success());
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test]
async fn mail_outbox_shows_held_mail_opened_newest_last() {
    let db = TestDb::new().await;
    let data = scratch_dir("outbox");
    let key = "c".repeat(64);
    let keyring = std::sync::Arc::new(everreach_core::secrets::Keyring::from_raw(
        vec![[0xcc; 32]],
        None,
    ));
    let mailer = everreach_core::platform::mailer::Mailer::outbox(db.app.clone(), keyring);
    for (to, body) in [
        ("ada@example.com", "first https://x.example/a?token=erv_one"),
        ("bob@example.com", "not for ada"),
        ("ada@example.com", "second link"),
    ] {
        mailer
            .send(everreach_core::platform::mailer::Mail {
                to: to.into(),
                subject: "Hello".into(),
                body: body.into(),
            })
            .await
            .unwrap();
    }
    let run = |args: &[&str]| {
        everreach()
            .args(args)
            .env("DATABASE_URL", db.target.admin_url())
            .env("EVERREACH_DATA_DIR", &data)
            .env("EVERREACH_ENCRYPTION_KEY", &key)
            .output()
            .unwrap()
    };
    let out = run(&["mail", "outbox", "--to", "ada@example.com", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mails: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(mails.len(), 2);
    assert!(
        mails[0]["body"].as_str().unwrap().contains("erv_one"),
        "opened, oldest first"
    );
    assert_eq!(mails[1]["body"], "second link");
    assert_eq!(mails[1]["status"], "held");
    let text = run(&["mail", "outbox"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("to bob@example.com") && text.contains("Subject: Hello"),
        "{text}"
    );
    let bad = one_line_error(&run(&["mail", "outbox", "--limit", "0"]));
    assert!(bad.contains("--limit"), "{bad}");
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test]
async fn seed_patterns_adds_only_what_a_user_lacks_and_names_an_unknown_email() {
    let db = TestDb::new().await;
    let ada = everreach_core::accounts::Accounts::new(db.app.clone())
        .sign_up(
            &everreach_core::accounts::Email::parse("ada@example.com").unwrap(),
            &everreach_core::accounts::Password::parse("a long enough password").unwrap(),
            None,
        )
        .await
        .unwrap();
    let dir = scratch_dir("seed");
    let run = |email: &str| {
        everreach()
            .args(["seed-patterns", "--email", email])
            .env("DATABASE_URL", db.target.admin_url())
            .env("EVERREACH_DATA_DIR", &dir)
            .output()
            .unwrap()
    };
    // Sign-up seeded everything already.
    let out = run("Ada@Example.com");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("nothing to add for Ada@Example.com: all 83 of 001's rows (35 known handles, 7 selectors, 5 skip patterns, 3 spam patterns, 20 next-best-action templates, 13 fit signals) are already there"),
        "{err}"
    );

    // Two rows gone: exactly those come back, audited.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DELETE FROM automation_patterns WHERE user_id = '{0}' AND pattern_key = 'saraheashley';
         DELETE FROM fit_signals WHERE user_id = '{0}' AND signal_key = 'no_topics';",
        ada.id
    )))
    .execute(&db.admin)
    .await
    .unwrap();
    let out = run("ada@example.com");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("added 1 known handle, 0 selectors, 0 skip patterns, 0 spam patterns, 0 next-best-action templates, 1 fit signal for ada@example.com"),
        "{err}"
    );
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE user_id = $1 AND table_name = 'fit_signals'
            AND new_values->>'added' = '1'",
    )
    .bind(ada.id)
    .fetch_one(&db.admin)
    .await
    .unwrap();
    assert_eq!(audited, 1, "the addition is audited");

    // A user made without the sign-up service (no seeded rows) gets all of them.
    db.create_user("bare@example.com").await;
    let out = run("bare@example.com");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("added 35 known handles, 7 selectors, 5 skip patterns, 3 spam patterns, 20 next-best-action templates, 13 fit signals for bare@example.com"),
        "{err}"
    );

    let nobody = run("nobody@example.com");
    assert!(
        one_line_error(&nobody).contains("\"nobody@example.com\""),
        "{}",
        String::from_utf8_lossy(&nobody.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn import_dms_reports_bad_lines_then_imports_and_a_second_run_adds_nothing() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let dir = scratch_dir("import-dms");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("dms.jsonl");
    std::fs::write(
        &file,
        concat!(
            r#"{"instagram_username": "grace", "message_text": "hi!", "is_outbound": false, "sent_at": "2026-11-30T10:00:00Z"}"#,
            "\n",
            r#"{"instagram_username": "grace", "message_text": "", "is_outbound": false, "sent_at": "2026-11-30T10:01:00Z"}"#,
            "\n",
            r#"{"instagram_username": "grace", "message_text": "yo", "sent_at": "2026-11-30T10:02:00Z", "mood": 3}"#,
            "\n"
        ),
    )
    .unwrap();
    let run = || {
        everreach()
            .args(["import", "dms"])
            .arg(&file)
            .args(["--email", "alice@example.com"])
            .env("DATABASE_URL", db.target.admin_url())
            .env("EVERREACH_DATA_DIR", &dir)
            .output()
            .unwrap()
    };
    let out = run();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let name = file.display().to_string();
    assert!(!out.status.success());
    assert!(err.contains(&format!("{name}:2: message_text")), "{err}");
    assert!(
        err.contains(&format!("{name}:3: mood"))
            || err.contains(&format!("{name}:3: unknown field")),
        "{err}"
    );
    assert!(err.contains("nothing was imported"), "{err}");

    let good: Vec<String> = (0..12)
        .map(|i| format!(r#"{{"instagram_username": "p{}", "message_text": "message {i}", "is_outbound": {}, "sent_at": "2026-11-30T10:{i:02}:00Z"}}"#, i % 3, i % 2 == 0))
        .collect();
    std::fs::write(&file, good.join("\n") + "\n").unwrap();
    let out = run();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{err}");
    assert!(err.contains("12 stored, 0 duplicates skipped"), "{err}");
    assert!(err.contains("3 new contacts"), "{err}");
    let out = run();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(err.contains("0 stored, 12 duplicates skipped"), "{err}");
    let mut tx = everreach_core::db::tenant::begin(&db.app, alice)
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM instagram_messages")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(n, 12);
}

#[tokio::test]
async fn import_instagram_reads_an_export_folder_or_zip_repairs_its_text_and_adds_nothing_twice() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    db.create_user("bob@example.com").await;
    let dir = scratch_dir("import-instagram");
    std::fs::create_dir_all(&dir).unwrap();
    let export = everreach_testkit::files::instagram_export();
    let zip = dir.join("instagram-cleo.zip");
    everreach_testkit::files::zip_dir(&export, &zip).unwrap();
    let run = |path: &Path, email: &str, extra: &[&str]| {
        everreach()
            .args(["import", "instagram"])
            .arg(path)
            .args(["--email", email, "--json"])
            .args(extra)
            .env("DATABASE_URL", db.target.admin_url())
            .env("EVERREACH_DATA_DIR", &dir)
            .output()
            .unwrap()
    };
    let report = |out: &Output| -> serde_json::Value {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };

    // A dry run stores nothing and says what an import would do.
    let dry = report(&run(&export, "bob@example.com", &["--dry-run"]));
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["created"], 6 + 3, "{dry}");

    let first = report(&run(&export, "alice@example.com", &[]));
    // 4 + 2 one-to-one messages, and 3 follows; the group's message skipped; the
    // message with no time and the file that is not a thread rejected.
    assert_eq!(first["created"], 9, "{first}");
    assert_eq!(
        first["reasons"]["a group thread (the CRM keeps one-to-one conversations)"], 1,
        "{first}"
    );
    assert_eq!(first["rejected"], 2, "{first}");
    let problems = first["problems"].to_string();
    assert!(
        problems.contains("notathread_1/message_1.json")
            && problems.contains("not an Instagram thread"),
        "{problems}"
    );
    assert!(
        problems.contains("message 3: it has no timestamp_ms"),
        "{problems}"
    );
    assert_eq!(first["details"]["contacts_created"], 2, "{first}");

    // Again, from the zip: everything is already there.
    let again = report(&run(&zip, "alice@example.com", &[]));
    assert_eq!(again["created"], 0, "{again}");
    assert_eq!(again["reasons"]["already imported"], 9, "{again}");

    let mut tx = everreach_core::db::tenant::begin(&db.app, alice)
        .await
        .unwrap();
    let (name, total): (Option<String>, i64) = sqlx::query_as(
        "SELECT c.display_name, (SELECT count(*) FROM instagram_messages m WHERE m.contact_id = c.id)
           FROM instagram_contacts c WHERE c.instagram_username = 'julia.r'",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(name.as_deref(), Some("Júlia Ribeiro"));
    assert_eq!(total, 4);
    let (text, outbound): (String, bool) = sqlx::query_as(
        "SELECT message_text, is_outbound FROM instagram_messages ORDER BY sent_at LIMIT 1",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(text, "olá! 🔥 adorei o teu post sobre cerâmica");
    assert!(!outbound, "Júlia wrote first; Cleo (the owner) is outbound");
    let ours: i64 = sqlx::query_scalar("SELECT count(*) FROM instagram_messages WHERE is_outbound")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(ours, 3);
    let photo: String = sqlx::query_scalar(
        "SELECT message_type FROM instagram_messages WHERE message_text = '[photo]'",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(photo, "photo");
    let follows: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM identities WHERE channel = 'instagram' AND handle IN ('julia.r', 'nina.paints', 'sam.builds')",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(follows, 3);
    tx.commit().await.unwrap();

    // Something that is not an export says what it needs.
    let out = run(
        &dir.join("instagram-cleo.zip.missing"),
        "alice@example.com",
        &[],
    );
    assert!(!out.status.success());
    assert!(
        one_line_error(&out).contains("instagram-cleo.zip.missing"),
        "{}",
        one_line_error(&out)
    );
}

#[tokio::test]
async fn import_linkedin_csv_and_vcard_make_one_person_per_human_and_add_nothing_twice() {
    use everreach_testkit::files::fixture;
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let dir = scratch_dir("import-contacts");
    std::fs::create_dir_all(&dir).unwrap();
    let run = |kind: &str, path: &Path, extra: &[&str]| -> serde_json::Value {
        let out = everreach()
            .args(["import", kind])
            .arg(path)
            .args(["--email", "alice@example.com", "--json"])
            .args(extra)
            .env("DATABASE_URL", db.target.admin_url())
            .env("EVERREACH_DATA_DIR", &dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };

    // LinkedIn: two connections (the one with no URL or e-mail rejected), three
    // messages (the one with a bad date rejected by the reader).
    let li = run("linkedin", &fixture("linkedin-export"), &[]);
    assert_eq!(li["created"], 2 + 3, "{li}");
    assert_eq!(li["rejected"], 2, "{li}");
    let problems = li["problems"].to_string();
    assert!(
        problems.contains("Connections.csv")
            && problems.contains("no valid e-mail address or profile"),
        "{problems}"
    );
    assert!(
        problems.contains("messages.csv") && problems.contains("last tuesday"),
        "{problems}"
    );

    // CSV: Jane is already known by her e-mail (LinkedIn shared it): not a new person.
    let dry = run("csv", &fixture("contacts.csv"), &["--dry-run"]);
    assert!(
        dry["mapping"]
            .as_str()
            .unwrap()
            .contains("email ← E-mail Address"),
        "{dry}"
    );
    let csv = run("csv", &fixture("contacts.csv"), &[]);
    assert_eq!(csv["created"], 2, "Ada and Grace: {csv}");
    assert_eq!(csv["rejected"], 1, "nobody known: {csv}");

    // vCard: Zoë and Jürgen; the truncated card reported by its line.
    let vcf = run("vcard", &fixture("contacts.vcf"), &[]);
    assert_eq!(vcf["created"], 2, "{vcf}");
    assert!(
        vcf["problems"].to_string().contains("contacts.vcf"),
        "{vcf}"
    );

    // Everything again: nothing new.
    for (kind, path) in [
        ("linkedin", fixture("linkedin-export")),
        ("csv", fixture("contacts.csv")),
        ("vcard", fixture("contacts.vcf")),
    ] {
        let again = run(kind, &path, &[]);
        assert_eq!(again["created"], 0, "{kind}: {again}");
        assert_eq!(again["updated"], 0, "{kind}: {again}");
    }

    let mut tx = everreach_core::db::tenant::begin(&db.app, alice)
        .await
        .unwrap();
    let people: Vec<(Option<String>, Option<String>, Option<String>)> =
        sqlx::query_as("SELECT full_name, company, role FROM people ORDER BY full_name")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    let names: Vec<&str> = people.iter().filter_map(|p| p.0.as_deref()).collect();
    // Cleo (the owner) is on no one's timeline: only the others are people.
    assert_eq!(
        names,
        [
            "Ada Lovelace",
            "Bob Roe",
            "Grace Hopper",
            "Jane Doe",
            "Jürgen Müller",
            "Zoë Martin"
        ]
    );
    let jane = people
        .iter()
        .find(|p| p.0.as_deref() == Some("Jane Doe"))
        .unwrap();
    assert_eq!(
        (jane.1.as_deref(), jane.2.as_deref()),
        (Some("Acme, Inc."), Some("CTO"))
    );
    let contacts: i64 =
        sqlx::query_scalar("SELECT count(*) FROM contacts WHERE person_id IS NOT NULL")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(
        contacts, 5,
        "one e-mail contact each: Jane, Ada, Grace, Zoë, Jürgen"
    );
    let orgs: i64 = sqlx::query_scalar("SELECT count(*) FROM organizations WHERE name IN ('Acme, Inc.', 'Studio Zoë', 'Analytical Engines')")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(orgs, 3);
    let ig: i64 = sqlx::query_scalar("SELECT count(*) FROM identities WHERE channel = 'instagram' AND handle IN ('zoe.makes', 'ada.codes')")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(ig, 2);
    let events: Vec<(String, i64)> = sqlx::query_as(
        "SELECT event_type, count(*) FROM person_events WHERE channel = 'linkedin' GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    assert_eq!(
        events,
        [
            ("connected".to_string(), 2),
            ("dm_reply".to_string(), 2),
            ("dm_sent".to_string(), 1)
        ]
    );
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn import_mbox_reads_a_gmail_takeout_zip_as_the_same_mail() {
    use everreach_testkit::files::{fixture, zip_dir};
    let db = TestDb::new().await;
    db.create_user("cleo@example.com").await;
    let dir = scratch_dir("import-takeout");
    let mail = dir.join("tree/Takeout/Mail");
    std::fs::create_dir_all(&mail).unwrap();
    std::fs::copy(
        fixture("mail.mbox"),
        mail.join("All mail Including Spam and Trash.mbox"),
    )
    .unwrap();
    std::fs::write(
        dir.join("tree/Takeout/archive_browser.html"),
        "<html></html>",
    )
    .unwrap();
    let takeout = dir.join("takeout.zip");
    zip_dir(&dir.join("tree"), &takeout).unwrap();
    let empty = dir.join("empty.zip");
    std::fs::remove_dir_all(&mail).unwrap();
    zip_dir(&dir.join("tree"), &empty).unwrap();
    let run = |file: &Path| {
        everreach()
            .args(["import", "mbox"])
            .arg(file)
            .args(["--email", "cleo@example.com", "--json"])
            .env("DATABASE_URL", db.target.admin_url())
            .env("EVERREACH_DATA_DIR", &dir)
            .output()
            .unwrap()
    };
    let out = run(&takeout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["created"], 4, "{report}");
    assert!(
        report["problems"]
            .to_string()
            .contains("takeout.zip:Takeout/Mail/All mail Including Spam and Trash.mbox"),
        "problems name the mailbox inside the zip: {report}"
    );
    let out = run(&fixture("mail.mbox"));
    let again: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        again["created"], 0,
        "the same mail unzipped adds nothing: {again}"
    );
    let out = run(&empty);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no .mbox file"), "{err}");
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("everreach-entry-")
        })
        .collect();
    assert!(
        left.is_empty(),
        "the copies out of the zip are removed: {left:?}"
    );
}

#[tokio::test]
async fn import_mbox_stores_mail_once_with_contacts_interactions_and_stats() {
    use everreach_testkit::files::fixture;
    let db = TestDb::new().await;
    let alice = db.create_user("cleo@example.com").await;
    let dir = scratch_dir("import-mbox");
    std::fs::create_dir_all(&dir).unwrap();
    let run = || -> serde_json::Value {
        let out = everreach()
            .args(["import", "mbox"])
            .arg(fixture("mail.mbox"))
            .args(["--email", "cleo@example.com", "--json"])
            .env("DATABASE_URL", db.target.admin_url())
            .env("EVERREACH_DATA_DIR", &dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let first = run();
    // m1, m2, the one without an id, the truncated one; m1's duplicate skipped; the
    // garbage before the first separator reported.
    assert_eq!(first["created"], 4, "{first}");
    assert_eq!(first["reasons"]["already imported"], 1, "{first}");
    assert!(
        first["problems"].to_string().contains("mail.mbox"),
        "{first}"
    );
    let again = run();
    assert_eq!(again["created"], 0, "{again}");
    assert_eq!(again["reasons"]["already imported"], 5, "{again}");

    let mut tx = everreach_core::db::tenant::begin(&db.app, alice)
        .await
        .unwrap();
    let (subject, body, sent, attachments, thread): (String, String, bool, i32, Option<String>) = sqlx::query_as(
        "SELECT subject, body_text, is_sent, attachment_count, thread_id FROM emails WHERE internet_message_id = 'm1@acme.io'",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(subject, "Grüße aus Berlin");
    assert!(
        body.contains("schöne Grüße") && body.contains("From the team"),
        "{body}"
    );
    assert!(!sent);
    assert_eq!(attachments, 0);
    assert_eq!(thread.as_deref(), Some("1811111111111111111"));
    let (sent, attachments): (bool, i32) = sqlx::query_as(
        "SELECT is_sent, attachment_count FROM emails WHERE internet_message_id = 'm2@example.com'",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert!(sent && attachments == 1);
    // Jürgen: a contact at acme.io's organization, with stats; Jane (gmail) has none.
    let (name, org, received, sent_n, avg): (Option<String>, Option<String>, i32, i32, Option<String>) = sqlx::query_as(
        "SELECT c.name, o.domain, s.total_emails_received, s.total_emails_sent, s.avg_response_time::text
           FROM contacts c LEFT JOIN organizations o ON o.user_id = c.user_id AND o.id = c.organization_id
           JOIN contact_stats s ON s.user_id = c.user_id AND s.contact_id = c.id
          WHERE c.email = 'juergen@acme.io'",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(name.as_deref(), Some("Jürgen Müller"));
    assert_eq!(org.as_deref(), Some("acme.io"));
    assert_eq!(
        (received, sent_n),
        (2, 1),
        "m1 and the truncated one in, m2 out"
    );
    assert_eq!(
        avg.as_deref(),
        Some("02:00:00"),
        "replied two hours later in the thread"
    );
    let jane_org: Option<uuid::Uuid> =
        sqlx::query_scalar("SELECT organization_id FROM contacts WHERE email = 'jane@gmail.com'")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert!(jane_org.is_none(), "webmail is no organization");
    let cleo: i64 =
        sqlx::query_scalar("SELECT count(*) FROM contacts WHERE email = 'cleo@example.com'")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(cleo, 0, "the user is not their own contact");
    let events: Vec<(String, i64)> = sqlx::query_as(
        "SELECT event_type, count(*) FROM person_events WHERE channel = 'email' GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    assert_eq!(
        events,
        [
            ("email_received".to_string(), 3),
            ("email_sent".to_string(), 2)
        ],
        "received: m1, the newsletter, the truncated one; sent: m2 to Jürgen and Jane"
    );
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn bench_segments_reports_each_definition_beside_its_hand_written_twin() {
    let db = TestDb::new().await;
    let result = bench_json(
        &db,
        "bench-segments",
        &[
            "segments",
            "--people",
            "2000",
            "--events",
            "20000",
            "--runs",
            "3",
            "--samples",
            "20",
        ],
    );
    assert_eq!(result["bench"], "segments");
    let definitions = result["definitions"].as_array().unwrap();
    assert_eq!(definitions.len(), 3);
    for d in definitions {
        // the bench fails outright when the two counts differ; each matched someone
        assert!(d["members"].as_i64().unwrap() > 0, "{d}");
        assert!(d["ratio"].as_f64().unwrap() > 0.0, "{d}");
    }
    for field in ["ratio", "ours_ms", "baseline.ms", "incremental.ours.p99_ms"] {
        let value = field.split('.').fold(&result, |v, k| &v[k]);
        assert!(value.as_f64().unwrap() > 0.0, "{field}: {result}");
    }
    assert_eq!(result["incremental"]["samples"], 20);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM person_events")
        .fetch_one(&db.admin)
        .await
        .unwrap();
    assert_eq!(left, 0, "the bench removes its rows");
}

#[tokio::test]
async fn segments_preview_a_file_refresh_and_write_out_members_for_scripts() {
    let db = TestDb::new().await;
    let ada = everreach_core::accounts::Accounts::new(db.app.clone())
        .sign_up(
            &everreach_core::accounts::Email::parse("ada@example.com").unwrap(),
            &everreach_core::accounts::Password::parse("a long enough password").unwrap(),
            None,
        )
        .await
        .unwrap();
    let mut tx = everreach_core::db::tenant::begin(&db.app, ada.id)
        .await
        .unwrap();
    for (name, company) in [("Ann, the potter", "Clay"), ("Bo", "Clay"), ("Cy", "Else")] {
        sqlx::query("INSERT INTO people (user_id, full_name, company) VALUES ($1, $2, $3)")
            .bind(ada.id)
            .bind(name)
            .bind(company)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    let clay = everreach_core::segments::store::create(
        &mut tx,
        &everreach_core::segments::store::SegmentInput {
            name: "Clay".into(),
            description: None,
            definition: serde_json::json!({"field": "person.company", "op": "eq", "value": "Clay"}),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let dir = scratch_dir("segments");
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut child = everreach()
            .arg("segments")
            .args(args)
            .env("DATABASE_URL", db.target.admin_url())
            .env("EVERREACH_DATA_DIR", &dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
        drop(input);
        child.wait_with_output().unwrap()
    };
    let text = |o: &Output| String::from_utf8_lossy(&o.stdout).to_string();

    let out = run(&["list", "--email", "ada@example.com"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text(&out).contains(&format!("{}          2  Clay", clay.id)),
        "{}",
        text(&out)
    );

    let out = run(
        &["preview", "--email", "ada@example.com", "-"],
        Some(r#"{"field": "person.company", "op": "eq", "value": "Else"}"#),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text(&out).starts_with("1 people match\n"), "{}", text(&out));
    assert!(text(&out).contains("  Cy  "), "{}", text(&out));

    // a bad definition: every error at its pointer, exit code 1
    let out = run(
        &["preview", "--email", "ada@example.com", "-"],
        Some(r#"{"all": [{"field": "person.colour", "op": "eq", "value": 1}]}"#),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("-: the definition is not valid:\n  /all/0/field: unknown field"),
        "{err}"
    );
    let out = run(
        &["preview", "--email", "ada@example.com", "-"],
        Some("{nope"),
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("-:1:2: not JSON"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Cy joins Clay: a refresh of all (with insights) lets her in
    sqlx::query("UPDATE people SET company = 'Clay' WHERE full_name = 'Cy'")
        .execute(&db.admin)
        .await
        .unwrap();
    let out = run(&["refresh", "--email", "ada@example.com", "--all"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        text(&out),
        "1 segments refreshed with their insights: 1 entered, 0 left\n"
    );
    let id = clay.id.to_string();
    let out = run(&["members", "--email", "ada@example.com", &id], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = text(&out);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "person_id,full_name,primary_email,added_at");
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(csv.contains(",\"Ann, the potter\","), "{csv}");
    let out = run(
        &["members", "--email", "ada@example.com", "--json", &id],
        None,
    );
    assert_eq!(text(&out).lines().count(), 3);

    let out = run(&["refresh", "--email", "ada@example.com"], None);
    assert!(one_line_error(&out).contains("give one segment id, or --all"));
    let out = run(&["members", "--email", "nobody@example.com", &id], None);
    assert!(one_line_error(&out).contains("user create"));
    let _ = std::fs::remove_dir_all(&dir);
}
