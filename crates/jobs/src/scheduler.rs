//! Recurring jobs: cron schedules in `job_schedules`, each firing one job per slot.
//!
//! Every process with a runner ticks (once a second); a due slot is claimed by
//! `UPDATE … SET last_slot = $slot WHERE last_slot < $slot` and the job sent in the
//! same transaction, so however many processes tick, one of them fires the slot and
//! the others see it claimed. A process that was down fires the latest missed slot
//! once, not every slot it missed.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use everreach_core::jobs::{self, JobError, SendOptions};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::cron::{Cron, CronError};

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error(transparent)]
    Cron(#[from] CronError),
    #[error("time zone {0:?} is not an IANA zone such as Europe/Berlin or UTC")]
    Zone(String),
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// One recurring job.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub queue: String,
    pub cron: Cron,
    pub zone: Tz,
    pub data: Value,
}

impl Schedule {
    pub fn new(
        queue: &str,
        cron: &str,
        zone: &str,
        data: Value,
    ) -> Result<Schedule, ScheduleError> {
        jobs::model::check_name(queue)?;
        let zone: Tz = zone
            .parse()
            .map_err(|_| ScheduleError::Zone(zone.to_string()))?;
        Ok(Schedule {
            queue: queue.to_string(),
            cron: Cron::parse(cron)?,
            zone,
            data,
        })
    }
}

/// Creates or updates a schedule; a new one fires from its next slot on.
pub async fn register(pool: &PgPool, schedule: &Schedule) -> Result<(), ScheduleError> {
    jobs::create_queue(pool, &schedule.queue).await?;
    sqlx::query(
        "INSERT INTO job_schedules (name, cron, timezone, data, last_slot) VALUES ($1, $2, $3, $4, now())
         ON CONFLICT (name) DO UPDATE SET cron = EXCLUDED.cron, timezone = EXCLUDED.timezone, data = EXCLUDED.data",
    )
    .bind(&schedule.queue)
    .bind(schedule.cron.as_str())
    .bind(schedule.zone.name())
    .bind(&schedule.data)
    .execute(pool)
    .await?;
    Ok(())
}

/// name, cron, timezone, data, last_slot
type ScheduleRow = (String, String, String, Option<Value>, Option<DateTime<Utc>>);

/// Fires every schedule with a slot due at `now`; returns how many this call fired.
pub async fn tick(pool: &PgPool, now: DateTime<Utc>) -> Result<usize, sqlx::Error> {
    let rows: Vec<ScheduleRow> =
        sqlx::query_as("SELECT name::text, cron, timezone, data, last_slot FROM job_schedules")
            .fetch_all(pool)
            .await?;
    let mut fired = 0;
    for (name, cron, zone, data, last_slot) in rows {
        let schedule = match Schedule::new(&name, &cron, &zone, data.unwrap_or(Value::Null)) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(schedule = %name, error = %e, "skipping a schedule that does not parse");
                continue;
            }
        };
        let since = last_slot.unwrap_or(now);
        let Some(slot) = schedule.cron.due(since, now, schedule.zone) else {
            continue;
        };
        let mut tx = pool.begin().await?;
        let claimed = sqlx::query(
            "UPDATE job_schedules SET last_slot = $2 WHERE name = $1 AND (last_slot IS NULL OR last_slot < $2)",
        )
        .bind(&name)
        .bind(slot)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            continue; // another process fired this slot
        }
        let payload = json!({ "slot": slot, "data": schedule.data });
        if let Err(e) = jobs::send(&mut tx, &name, &payload, &SendOptions::default()).await {
            tracing::warn!(schedule = %name, error = %e, "could not send the scheduled job");
            continue;
        }
        tx.commit().await?;
        fired += 1;
    }
    Ok(fired)
}
