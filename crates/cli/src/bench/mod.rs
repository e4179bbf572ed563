//! `everreach bench …`: benchmarks that run on the embedded database (or
//! `DATABASE_URL`), make their own data, and measure our path and its baseline in the
//! same run (DESIGN § Benchmarks). With `--json` the last line of stdout is one JSON
//! object `{"bench": NAME, …, "baseline": {…}, "ratio": R}`.

pub mod api;
pub mod import_mbox;
pub mod ingest;
pub mod insights;
pub mod jobs;
pub mod load;
pub mod pages;
pub mod segments;
pub mod suggest;

/// Deletes bench users and everything they own (their jobs first: jobs are not
/// tenant rows and would outlive them).
pub async fn remove_users(
    db: &everreach_core::db::Database,
    users: &[uuid::Uuid],
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM jobs WHERE user_id = ANY($1)")
        .bind(users)
        .execute(&db.admin)
        .await?;
    sqlx::query("DELETE FROM users WHERE id = ANY($1)")
        .bind(users)
        .execute(&db.admin)
        .await?;
    Ok(())
}

/// Prints a benchmark's JSON result as the last line of stdout, when asked for.
pub fn print_json(out: &serde_json::Value, json: bool) {
    if json {
        #[expect(clippy::print_stdout, reason = "the benchmark's JSON is its output")]
        {
            println!("{out}");
        }
    }
}

/// Latency percentiles of a run, in milliseconds.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    /// From latencies in microseconds (sorted in place).
    pub fn of(micros: &mut [u32]) -> Latency {
        micros.sort_unstable();
        let at = |q: f64| {
            if micros.is_empty() {
                return 0.0;
            }
            let i = ((micros.len() as f64 - 1.0) * q).round() as usize;
            f64::from(micros[i]) / 1000.0
        };
        Latency {
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut micros: Vec<u32> = (1..=1000).map(|n| n * 1000).collect();
        let l = Latency::of(&mut micros);
        assert_eq!(l.p50_ms, 501.0);
        assert_eq!(l.p99_ms, 990.0);
        assert_eq!(l.max_ms, 1000.0);
    }
}
