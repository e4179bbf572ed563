//! `everreach jobs list|retry|cancel`: the operator's view of every job.

use anyhow::bail;
use everreach_core::db::{Database, DbTarget};
use everreach_core::jobs::admin::{self, JobFilter, STATES};
use uuid::Uuid;

use crate::JobsCommand;

pub async fn run(target: DbTarget, command: JobsCommand) -> anyhow::Result<()> {
    let db = Database::open(target).await?;
    match command {
        JobsCommand::List {
            queue,
            state,
            limit,
        } => {
            if let Some(s) = &state
                && !STATES.contains(&s.as_str())
            {
                bail!("--state {s:?} is not one of {}", STATES.join(", "));
            }
            if !(1..=10_000).contains(&limit) {
                bail!("--limit must be from 1 to 10000");
            }
            let mut conn = db.app.acquire().await?;
            let rows = admin::list(
                &mut conn,
                &JobFilter {
                    name: queue,
                    state,
                    ..JobFilter::default()
                },
                limit,
            )
            .await?;
            let mut out = format!(
                "{:<36}  {:<28}  {:<9}  {:>7}  {}\n",
                "id", "queue", "state", "retries", "created"
            );
            for j in rows {
                let created = j
                    .created_on
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_default();
                let retries = format!(
                    "{}/{}",
                    j.retry_count.unwrap_or(0),
                    j.retry_limit.unwrap_or(0)
                );
                out.push_str(&format!(
                    "{:<36}  {:<28}  {:<9}  {:>7}  {created}\n",
                    j.id, j.name, j.state, retries
                ));
            }
            #[expect(clippy::print_stdout, reason = "the listing is this command's output")]
            {
                print!("{out}");
            }
        }
        JobsCommand::Retry { id } => {
            let id = parse(&id)?;
            if !everreach_core::jobs::retry(&db.app, id).await? {
                bail!(
                    "job {id} is not failed, expired or cancelled (or does not exist): nothing to retry"
                );
            }
            eprintln!("everreach: job {id} is queued again");
        }
        JobsCommand::Cancel { id } => {
            let id = parse(&id)?;
            if !everreach_core::jobs::cancel(&db.app, id).await? {
                bail!("job {id} has finished (or does not exist): nothing to cancel");
            }
            eprintln!("everreach: job {id} is cancelled");
        }
    }
    Ok(())
}

fn parse(id: &str) -> anyhow::Result<Uuid> {
    Uuid::parse_str(id).map_err(|_| {
        anyhow::anyhow!("{id:?} is not a job id (a UUID, as `everreach jobs list` shows)")
    })
}
