//! The SQL of the queue. Live jobs are read and changed through the parent `jobs`
//! with a state filter, which prunes to the `jobs_queue` partition.

use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::model::{Job, JobError, MAX_PAYLOAD_BYTES, SendOptions, check_name};

const JOB_COLUMNS: &str = "j.id, j.name, j.data, j.user_id, coalesce(j.priority, 0) AS priority, coalesce(j.retry_count, 0) AS retry_count, \
     coalesce(j.retry_limit, 0) AS retry_limit, coalesce(j.on_complete, false) AS on_complete, \
     coalesce(j.created_on, now()) AS created_on, \
     coalesce(extract(epoch FROM j.expire_in)::float8, 900) AS expire_in_seconds";

/// The delay before retry number `retry_count + 1`: `retry_delay` seconds, doubled per
/// earlier retry with ±25% jitter when `retry_backoff` (at least 1 s, at most 1 hour).
const BACKOFF: &str = "make_interval(secs => CASE WHEN coalesce(j.retry_backoff, true)
        THEN least(3600, greatest(coalesce(j.retry_delay, 0), 1) * power(2, coalesce(j.retry_count, 0)) * (0.75 + random() / 2))
        ELSE coalesce(j.retry_delay, 0) END)";

fn check_payload(name: &str, data: &Value) -> Result<(), JobError> {
    let size = serde_json::to_vec(data)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_PAYLOAD_BYTES {
        return Err(JobError::PayloadTooLarge {
            name: name.to_string(),
            size,
        });
    }
    Ok(())
}

/// Wakes the queue's workers only when they may be asleep: when no other job of the
/// queue is waiting to run. A NOTIFY makes its transaction's commit take a lock on
/// the database that serialises every notifying commit (fsync included), so one per
/// send would cap enqueueing; workers with jobs waiting do not sleep, and a wake-up
/// lost to a race costs at most the poll interval.
const WAKE_IF_IDLE: &str = "(SELECT pg_notify('jobs', $1) WHERE NOT EXISTS (
        SELECT 1 FROM jobs w WHERE w.name = $1 AND w.state IN ('created', 'retry') AND w.start_after <= now()
           AND w.id <> ALL (SELECT id FROM ins) LIMIT 1)) AS wake";

fn send_sql(on_conflict: &str) -> String {
    format!(
        "WITH ins AS (
            INSERT INTO jobs (id, name, data, priority, start_after, singleton_key, retry_limit, retry_delay,
                              retry_backoff, expire_in, keep_until, on_complete, user_id)
            SELECT $13, $1, $2, $3, coalesce($4, now()), $5, $6, $7, $8, make_interval(secs => $9),
                   now() + make_interval(days => $10), $11, $12
              FROM job_queues q WHERE q.name = $1
            {on_conflict}
            RETURNING id)
         SELECT id FROM ins LEFT JOIN LATERAL {WAKE_IF_IDLE} ON true"
    )
}

static SEND_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| send_sql(""));
static SEND_SINGLETON_SQL: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| send_sql("ON CONFLICT DO NOTHING"));

// Job ids are UUIDv7 (time-ordered), made here rather than by the column's
// gen_random_uuid(): the primary key of a history of millions then grows at its end
// instead of at random pages, which keeps finishing a job as cheap with a large
// history as with none.

/// Enqueues one job in the caller's transaction; `None` when a live job of this queue
/// already has its `singleton_key`. Workers are woken when the transaction commits.
pub async fn send(
    conn: &mut PgConnection,
    name: &str,
    data: &Value,
    opts: &SendOptions,
) -> Result<Option<Uuid>, JobError> {
    check_name(name)?;
    check_payload(name, data)?;
    opts.check()?;
    // Only a singleton needs ON CONFLICT: its speculative insertion costs every other
    // send for nothing.
    let sql = if opts.singleton_key.is_some() {
        &*SEND_SINGLETON_SQL
    } else {
        &*SEND_SQL
    };
    let id = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(name)
        .bind(data)
        .bind(opts.priority)
        .bind(opts.start_after)
        .bind(&opts.singleton_key)
        .bind(opts.retry_limit)
        .bind(opts.retry_delay)
        .bind(opts.retry_backoff)
        .bind(opts.expire_in_seconds as f64)
        .bind(opts.keep_days as i32)
        .bind(opts.on_complete)
        .bind(opts.user_id)
        .bind(Uuid::now_v7())
        .fetch_optional(&mut *conn)
        .await?;
    if id.is_none() && !queue_exists(conn, name).await? {
        return Err(JobError::UnknownQueue(name.to_string()));
    }
    Ok(id)
}

async fn queue_exists(conn: &mut PgConnection, name: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM job_queues WHERE name = $1)")
        .bind(name)
        .fetch_one(conn)
        .await
}

/// Creates a queue (and its completion queue); does nothing if it exists.
pub async fn create_queue(pool: &PgPool, name: &str) -> Result<(), JobError> {
    check_name(name)?;
    let completion = super::model::completion_queue(name);
    let completion = if completion.len() <= 100 {
        completion
    } else {
        name.to_string()
    };
    sqlx::query("INSERT INTO job_queues (name) VALUES ($1), ($2) ON CONFLICT DO NOTHING")
        .bind(name)
        .bind(completion)
        .execute(pool)
        .await?;
    Ok(())
}

/// Enqueues one job on its own (autocommit, one round trip), for callers that are not
/// in a transaction of their own.
pub async fn send_now(
    pool: &PgPool,
    name: &str,
    data: &Value,
    opts: &SendOptions,
) -> Result<Option<Uuid>, JobError> {
    let mut conn = pool.acquire().await?;
    send(&mut conn, name, data, opts).await
}

/// Enqueues many jobs of one queue in one statement; returns how many were created.
/// A singleton key makes no sense for a batch and is refused.
pub async fn send_many(
    conn: &mut PgConnection,
    name: &str,
    data: &[Value],
    opts: &SendOptions,
) -> Result<u64, JobError> {
    check_name(name)?;
    opts.check()?;
    if opts.singleton_key.is_some() {
        return Err(JobError::BadOption(
            "send_many takes no singleton_key".into(),
        ));
    }
    for d in data {
        check_payload(name, d)?;
    }
    let created: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "WITH ins AS (
            INSERT INTO jobs (id, name, data, priority, start_after, retry_limit, retry_delay, retry_backoff,
                              expire_in, keep_until, on_complete, user_id)
            SELECT i, $1, d, $3, coalesce($4, now()), $5, $6, $7, make_interval(secs => $8),
                   now() + make_interval(days => $9), $10, $11
            FROM unnest($2::jsonb[], $12::uuid[]) AS u(d, i)
            WHERE EXISTS (SELECT 1 FROM job_queues q WHERE q.name = $1)
            RETURNING id)
         SELECT count(*) FROM ins LEFT JOIN LATERAL {WAKE_IF_IDLE} ON true"
    )))
    .bind(name)
    .bind(data)
    .bind(opts.priority)
    .bind(opts.start_after)
    .bind(opts.retry_limit)
    .bind(opts.retry_delay)
    .bind(opts.retry_backoff)
    .bind(opts.expire_in_seconds as f64)
    .bind(opts.keep_days as i32)
    .bind(opts.on_complete)
    .bind(opts.user_id)
    .bind(data.iter().map(|_| Uuid::now_v7()).collect::<Vec<Uuid>>())
    .fetch_optional(&mut *conn)
    .await?
    .unwrap_or(0);
    if created == 0 && !data.is_empty() && !queue_exists(conn, name).await? {
        return Err(JobError::UnknownQueue(name.to_string()));
    }
    Ok(created as u64)
}

/// Claims up to `limit` runnable jobs of a queue (priority, then age), now active.
pub async fn fetch(pool: &PgPool, name: &str, limit: i64) -> Result<Vec<Job>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH next AS (
            SELECT id, state FROM jobs
             WHERE name = $1 AND state IN ('created', 'retry') AND start_after <= now()
             ORDER BY priority DESC, created_on, id
             LIMIT $2
             FOR UPDATE SKIP LOCKED)
         UPDATE jobs j SET state = 'active', started_on = now()
           FROM next WHERE j.id = next.id AND j.state = next.state
         RETURNING {JOB_COLUMNS}"
    )))
    .bind(name)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Every column of `jobs`, for moving a row between partitions.
const ALL: &str = "id, name, data, priority, retry_limit, retry_count, retry_delay, retry_backoff, start_after, \
    started_on, singleton_key, expire_in, created_on, completed_on, keep_until, on_complete, output, state, user_id";

/// Moving a job into history is a DELETE and an INSERT, not an UPDATE of `state`: a
/// concurrent `FOR UPDATE SKIP LOCKED` that meets a row an UPDATE moved to another
/// partition raises an error instead of skipping it, a deleted row it just skips.
fn move_to_history(source: &str, state: &str, output: &str) -> String {
    let columns: Vec<&str> = ALL.split(", ").collect();
    let values: Vec<String> = columns
        .iter()
        .map(|c| match *c {
            "state" => state.to_string(),
            "output" => output.to_string(),
            "completed_on" => "now()".to_string(),
            other => format!("m.{other}"),
        })
        .collect();
    format!(
        "INSERT INTO jobs ({ALL}) SELECT {} FROM {source} m",
        values.join(", ")
    )
}

/// Completes active jobs with their outputs (moving them to history), enqueueing the
/// `on_complete` follow-ups in the same statement. Returns how many completed.
pub async fn complete(pool: &PgPool, done: &[(Uuid, Value)]) -> Result<u64, sqlx::Error> {
    if done.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = done.iter().map(|d| d.0).collect();
    let outputs: Vec<Value> = done.iter().map(|d| d.1.clone()).collect();
    let sql = format!(
        "WITH o AS (SELECT * FROM unnest($1::uuid[], $2::jsonb[]) AS o(id, new_output)),
         m AS (DELETE FROM jobs j USING o WHERE j.state = 'active' AND j.id = o.id RETURNING j.*, o.new_output),
         done AS ({} RETURNING id, name, data, output, user_id, on_complete),
         follow AS (
            INSERT INTO jobs (name, data, user_id)
            SELECT '__state__completed__' || name,
                   jsonb_build_object('id', id, 'name', name, 'data', data, 'output', output), user_id
              FROM done WHERE on_complete
            RETURNING name),
         woken AS (SELECT pg_notify('jobs', name) FROM follow)
         SELECT (SELECT count(*) FROM done), (SELECT count(*) FROM woken)",
        move_to_history("m", "'completed'", "nullif(m.new_output, 'null'::jsonb)")
    );
    let (n, _followups): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&ids)
        .bind(&outputs)
        .fetch_one(pool)
        .await?;
    Ok(n as u64)
}

/// Out of retries: moves the given active jobs to history as `state` with `output`.
async fn finish(
    pool: &PgPool,
    filter: &str,
    state: &str,
    output: &str,
    ids: &[Uuid],
    errors: &[Value],
) -> Result<u64, sqlx::Error> {
    let sql = format!(
        "WITH o AS (SELECT * FROM unnest($1::uuid[], $2::jsonb[]) AS o(id, err)),
         m AS (DELETE FROM jobs j USING o WHERE j.state = 'active' AND j.id = o.id AND {filter} RETURNING j.*, o.err),
         ins AS ({} RETURNING 1)
         SELECT count(*) FROM ins",
        move_to_history("m", state, output)
    );
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(ids)
        .bind(errors)
        .fetch_one(pool)
        .await?;
    Ok(n as u64)
}

/// Fails active jobs: each goes to `retry` after its backoff while retries remain,
/// else to `failed`; the error is kept in `output`.
pub async fn fail(pool: &PgPool, failed: &[(Uuid, String)]) -> Result<u64, sqlx::Error> {
    retry_or_finish(pool, failed, "true", "'failed'").await
}

/// Active jobs past their `expire_in` (their worker died or hangs): retried like a
/// failure while retries remain, else `expired`. Returns how many.
pub async fn expire(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let due: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, 'expired: active longer than ' || expire_in::text FROM jobs
         WHERE state = 'active' AND started_on + expire_in < now()",
    )
    .fetch_all(pool)
    .await?;
    // Only jobs still overdue at the moment of the change are touched (one may have
    // completed in between).
    retry_or_finish(
        pool,
        &due,
        "j.started_on + j.expire_in < now()",
        "'expired'",
    )
    .await
}

/// The active jobs among `jobs` that match `filter` go to `retry` (after their
/// backoff) while retries remain, else to history as `terminal`; `output` keeps the
/// error either way.
async fn retry_or_finish(
    pool: &PgPool,
    jobs: &[(Uuid, String)],
    filter: &str,
    terminal: &str,
) -> Result<u64, sqlx::Error> {
    if jobs.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = jobs.iter().map(|f| f.0).collect();
    let errors: Vec<Value> = jobs
        .iter()
        .map(|f| serde_json::json!({ "error": f.1 }))
        .collect();
    let retries_left = "coalesce(j.retry_count, 0) < coalesce(j.retry_limit, 0)";
    let retried = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE jobs j SET state = 'retry', start_after = now() + {BACKOFF},
                retry_count = coalesce(j.retry_count, 0) + 1, output = o.output
          FROM unnest($1::uuid[], $2::jsonb[]) AS o(id, output)
         WHERE j.state = 'active' AND j.id = o.id AND {filter} AND {retries_left}"
    )))
    .bind(&ids)
    .bind(&errors)
    .execute(pool)
    .await?
    .rows_affected();
    let finished = finish(
        pool,
        &format!("{filter} AND NOT ({retries_left})"),
        terminal,
        "m.err",
        &ids,
        &errors,
    )
    .await?;
    Ok(retried + finished)
}

/// Cancels a job that has not finished; false when there is none such.
pub async fn cancel(pool: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "WITH m AS (DELETE FROM jobs WHERE id = $1 AND state IN ('created', 'retry', 'active') RETURNING *),
         ins AS ({} RETURNING 1)
         SELECT count(*) FROM ins",
        move_to_history("m", "'cancelled'", "m.output")
    );
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_one(pool)
        .await?;
    Ok(n == 1)
}

/// Puts a failed, expired or cancelled job back in the queue, to run now.
pub async fn retry(pool: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    let values = ALL
        .replace("completed_on", "NULL")
        .replace("start_after", "now()")
        .replace("state", "'retry'");
    let sql = format!(
        "WITH m AS (DELETE FROM jobs WHERE id = $1 AND state IN ('failed', 'expired', 'cancelled') RETURNING *),
         ins AS (INSERT INTO jobs ({ALL}) SELECT {values} FROM m RETURNING name)
         SELECT count(*) FROM ins, pg_notify('jobs', ins.name)"
    );
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_one(pool)
        .await?;
    Ok(n == 1)
}

/// Deletes finished jobs past `keep_until`, at most `limit` at a time.
pub async fn purge(pool: &PgPool, limit: i64) -> Result<u64, sqlx::Error> {
    let n = sqlx::query(
        "DELETE FROM jobs WHERE (id, state) IN (
            SELECT id, state FROM jobs WHERE state IN ('completed', 'failed', 'cancelled', 'expired')
               AND keep_until < now() LIMIT $1)",
    )
    .bind(limit)
    .execute(pool)
    .await?;
    Ok(n.rows_affected())
}

/// Live jobs per queue and state (for `/metrics`).
pub async fn queue_depth(pool: &PgPool) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT name::text, state::text, count(*) FROM jobs WHERE state IN ('created', 'retry', 'active')
         GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await
}
