//! `everreach bench import-mbox --messages N`: the mbox importer end to end on a
//! generated mailbox (`everreach_formats::mbox::generate_mbox`: plain, multipart,
//! encoded-word, quoted-printable and attachment messages between nine
//! correspondents) against its baseline in the same run — reading and parsing the
//! same file without writing anything. Figures: messages per second of each,
//! `ratio` = ours ÷ parse-only (the share of parsing speed the whole import keeps),
//! and the process's peak resident memory while importing N messages and while
//! importing N/4 (reset between them through `/proc/self/clear_refs`): flat memory
//! means the two peaks are close whatever N is.

use std::time::Instant;

use anyhow::bail;
use everreach_core::db::{Database, DbTarget};
use everreach_core::imports::{Quiet, mbox};
use everreach_formats::mbox::{Mbox, generate_mbox};
use serde_json::json;
use uuid::Uuid;

#[derive(Debug)]
pub struct Options {
    pub messages: u64,
    pub json: bool,
    /// Keep the bench users and their rows (to EXPLAIN the statements after).
    pub keep: bool,
}

/// Peak resident memory of this process so far (VmHWM), in MiB.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// Resets the peak to the current resident size (Linux: `5` to clear_refs).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn write_mbox(path: &std::path::Path, n: u64) -> anyhow::Result<u64> {
    let file = std::fs::File::create(path)?;
    let mut w = std::io::BufWriter::new(file);
    generate_mbox(n as usize, &mut w)?;
    drop(w);
    Ok(std::fs::metadata(path)?.len())
}

async fn import(db: &Database, user: Uuid, path: &std::path::Path) -> anyhow::Result<(f64, u64)> {
    let opts = mbox::Options {
        dry_run: false,
        me: vec!["me@bench.invalid".into()],
        file_name: None,
    };
    let started = Instant::now();
    let report = mbox::run(&db.app, user, path, &opts, &mut Quiet)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((started.elapsed().as_secs_f64(), report.created))
}

pub async fn run(target: DbTarget, opts: Options) -> anyhow::Result<()> {
    if opts.messages < 1_000 {
        bail!("--messages must be at least 1000");
    }
    let db = Database::open(target).await?;
    let dir =
        std::env::temp_dir().join(format!("everreach-bench-mbox-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let (full, quarter) = (dir.join("full.mbox"), dir.join("quarter.mbox"));
    eprintln!("bench import-mbox: writing {} messages…", opts.messages);
    let bytes = write_mbox(&full, opts.messages)?;
    write_mbox(&quarter, opts.messages / 4)?;

    // Baseline: read and parse the same file, write nothing.
    let started = Instant::now();
    let mut parsed = 0u64;
    for m in Mbox::new(std::fs::File::open(&full)?, "full.mbox").flatten() {
        parsed += u64::from(!m.from.is_empty());
    }
    let parse_s = started.elapsed().as_secs_f64();

    let mut users = Vec::new();
    let mut sign_up = async |name: &str| -> anyhow::Result<Uuid> {
        let user: Uuid = sqlx::query_scalar("SELECT sign_up_user($1, NULL, $2)")
            .bind(format!(
                "bench-mbox-{name}-{}@bench.invalid",
                &Uuid::new_v4().simple().to_string()[..8]
            ))
            .bind("bench import-mbox")
            .fetch_one(&db.app)
            .await?;
        users.push(user);
        Ok(user)
    };
    let small = sign_up("quarter").await?;
    let big = sign_up("full").await?;
    let result = async {
        let can_reset = reset_peak();
        let (q_s, q_created) = import(&db, small, &quarter).await?;
        let quarter_peak = peak_rss_mb();
        reset_peak();
        eprintln!("bench import-mbox: importing {} messages…", opts.messages);
        let (full_s, created) = import(&db, big, &full).await?;
        let full_peak = peak_rss_mb();
        let ours = created as f64 / full_s;
        let baseline = parsed as f64 / parse_s;
        anyhow::Ok(json!({
            "bench": "import-mbox",
            "messages": opts.messages,
            "file_mb": (bytes as f64 / 1_048_576.0 * 10.0).round() / 10.0,
            "imported": created,
            "seconds": (full_s * 100.0).round() / 100.0,
            "messages_per_s": ours.round(),
            "peak_rss_mb": full_peak.map(|m| m.round()),
            "quarter": {
                "messages": opts.messages / 4,
                "imported": q_created,
                "messages_per_s": (q_created as f64 / q_s).round(),
                "peak_rss_mb": quarter_peak.map(|m| m.round()),
            },
            "peak_reset_per_run": can_reset,
            "baseline": {
                "what": "read and parse the same file, write nothing",
                "messages_per_s": baseline.round(),
                "seconds": (parse_s * 100.0).round() / 100.0,
            },
            "ratio": ((ours / baseline) * 1000.0).round() / 1000.0,
        }))
    }
    .await;
    if opts.keep {
        eprintln!("bench import-mbox: kept the bench users {users:?} and their rows");
    } else {
        eprintln!("bench import-mbox: removing the bench users and their rows…");
        super::remove_users(&db, &users).await?;
        // the removed rows are dead tuples the next run's foreign-key checks would
        // wade through: vacuum so every run starts from the same state
        eprintln!("bench import-mbox: vacuuming the mail tables…");
        sqlx::query(
            "VACUUM (ANALYZE) emails, email_interactions, email_message_keys, contacts, contact_stats,
                              organizations, person_events, people, identities",
        )
        .execute(&db.admin)
        .await?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let out = result?;
    eprintln!(
        "bench import-mbox: {} messages/s end to end ({} s), parse-only {} messages/s; ratio {}; peak RSS {} MB (N/4: {} MB)",
        out["messages_per_s"],
        out["seconds"],
        out["baseline"]["messages_per_s"],
        out["ratio"],
        out["peak_rss_mb"],
        out["quarter"]["peak_rss_mb"]
    );
    super::print_json(&out, opts.json);
    Ok(())
}
