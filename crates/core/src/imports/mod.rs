//! Importers for the files people already have (issue 14): each reads a file or a
//! folder with `everreach-formats` and stores what it finds through the domains'
//! own ingestion (the people graph, the Instagram CRM), so an import obeys every
//! rule the API does.
//!
//! Every importer:
//! - reads in bounded pieces (one thread file, one batch of rows), never the whole
//!   export at once;
//! - stores in bounded transactions ([`BATCH`] items each), so an interrupted import
//!   leaves whole batches behind and can simply be run again;
//! - is idempotent: what is already stored is recognised by the domain's dedupe key
//!   and counted as skipped ("already imported");
//! - reports problems per file and line ([`everreach_formats::Problem`]) and goes on;
//! - ends with a [`Report`]: created, updated, skipped and rejected, with reasons;
//! - tells a [`Progress`] how far it is (the CLI draws a bar, a job records it).
//!
//! `cards.rs` stores a person as a file describes them (people graph, identities, a
//! 002 contact per e-mail, the organization), for `linkedin.rs` (Connections.csv,
//! messages.csv) and `contacts.rs` (CSV, vCard). `mbox.rs`: a mailbox into the
//! e-mail CRM (emails, contacts, organizations, interactions, stats) and the people
//! graph.
//! `instagram.rs`: the "Download your information" export (threads → the Instagram
//! CRM; followers and following → identities on the people graph). `store.rs`:
//! uploads (the API, the Imports page) kept in the database and run by the
//! `imports.run` job.

pub mod cards;
pub mod contacts;
pub mod instagram;
pub mod linkedin;
pub mod mbox;
pub mod store;

use std::collections::BTreeMap;

use everreach_formats::Problem;
use serde::Serialize;

/// Items stored per transaction.
pub const BATCH: usize = 500;

/// Problems kept in a report (all are counted).
pub const MAX_PROBLEMS: usize = 1_000;

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Report {
    /// `instagram`, `linkedin`, `csv`, `vcard`, `mbox`.
    pub kind: String,
    /// Nothing was stored: the counts say what an import would do.
    pub dry_run: bool,
    /// Files read.
    pub files: u64,
    /// Items stored new.
    pub created: u64,
    /// Items that changed something already stored.
    pub updated: u64,
    /// Items left out on purpose (already imported, a skip pattern, a group thread).
    pub skipped: u64,
    /// Items that could not be read or broke a rule (see `problems`).
    pub rejected: u64,
    /// Why items were skipped or rejected, with how many.
    pub reasons: BTreeMap<String, u64>,
    /// What else the import found (`contacts_created`, `people_created`, …).
    pub details: BTreeMap<String, u64>,
    /// The first [`MAX_PROBLEMS`] problems, by file and line.
    #[schema(value_type = Vec<Object>)]
    pub problems: Vec<Problem>,
    /// All problems found.
    pub problems_total: u64,
    /// CSV: how the columns were mapped (`email ← E-mail, name ← Full Name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapping: Option<String>,
}

impl Report {
    pub fn new(kind: &str, dry_run: bool) -> Report {
        Report {
            kind: kind.to_string(),
            dry_run,
            ..Report::default()
        }
    }

    /// `n` items skipped for `reason`.
    pub fn skip(&mut self, reason: &str, n: u64) {
        if n > 0 {
            self.skipped += n;
            *self.reasons.entry(reason.to_string()).or_default() += n;
        }
    }

    /// One item rejected: `problem` says where and why; `reason` groups it.
    pub fn reject(&mut self, reason: &str, problem: Problem) {
        self.rejected += 1;
        *self.reasons.entry(reason.to_string()).or_default() += 1;
        self.problem(problem);
    }

    /// A problem that rejects no counted item (a whole file, a note).
    pub fn problem(&mut self, problem: Problem) {
        self.problems_total += 1;
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(problem);
        }
    }

    /// Adds `n` to detail `key`.
    pub fn detail(&mut self, key: &str, n: u64) {
        *self.details.entry(key.to_string()).or_default() += n;
    }
}

/// A file copied out of a zip to read as a plain file (twice if need be, and held
/// across awaits, which a zip entry's reader cannot be); removed when dropped.
#[derive(Debug)]
pub struct Scratch {
    pub path: std::path::PathBuf,
}

impl Scratch {
    /// Copies `entry` of `tree` out, refusing it past `max` inflated bytes; errors
    /// name the file as `label`.
    pub fn copy_out(
        tree: &mut everreach_formats::archive::Tree,
        entry: &str,
        max: u64,
        label: &str,
    ) -> Result<Scratch, ImportError> {
        let scratch = Scratch {
            path: std::env::temp_dir().join(format!("everreach-entry-{}", uuid::Uuid::now_v7())),
        };
        let copied = std::fs::File::create(&scratch.path).and_then(|mut to| {
            let mut from = tree.open_file(entry, max).map_err(std::io::Error::other)?;
            std::io::copy(&mut from, &mut to)
        });
        copied.map_err(|e| ImportError::Input(format!("{label}: cannot be read: {e}")))?;
        Ok(scratch)
    }

    pub fn open(&self) -> Result<std::fs::File, ImportError> {
        std::fs::File::open(&self.path)
            .map_err(|e| ImportError::Input(format!("a scratch copy cannot be read: {e}")))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// How an import names its file in problems: the upload's name when it has one,
/// else the path given.
pub fn shown(file_name: Option<&str>, path: &std::path::Path) -> String {
    file_name.map_or_else(|| path.display().to_string(), str::to_string)
}

/// Stores checked person events [`BATCH`] to a transaction through the people
/// graph's ingestion, counting them in `report` (only counting them in a dry run).
pub async fn store_events(
    pool: &sqlx::PgPool,
    user_id: uuid::Uuid,
    events: &[crate::people::model::NewEvent],
    dry_run: bool,
    report: &mut Report,
) -> Result<(), ImportError> {
    if dry_run {
        report.created += events.len() as u64;
        return Ok(());
    }
    for chunk in events.chunks(BATCH) {
        let o = crate::people::ingest::store_tx(pool, user_id, chunk).await?;
        report.created += o.created as u64;
        report.skip("already imported", o.duplicates as u64);
        report.detail("people_created", o.people_created as u64);
    }
    Ok(())
}

/// A domain check's problems `(pointer, why)` as one line: `field: why; field: why`.
pub fn said(problems: Vec<crate::error::FieldProblem>) -> String {
    problems
        .into_iter()
        .map(|(f, w)| format!("{}: {w}", f.trim_start_matches('/')))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Where an import is: told the total once known, then each step.
pub trait Progress: Send {
    /// The amount of work (files, bytes or items; `unit` names it).
    fn total(&mut self, total: u64, unit: &'static str);
    /// `n` more done.
    fn advance(&mut self, n: u64);
}

/// A progress nobody watches.
#[derive(Debug, Default, Clone, Copy)]
pub struct Quiet;

impl Progress for Quiet {
    fn total(&mut self, _: u64, _: &'static str) {}
    fn advance(&mut self, _: u64) {}
}

/// Why an import could not run at all (an unreadable path, a refused archive, no
/// such user): every other problem is in the report.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Domain(#[from] crate::error::DomainError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_counts_every_problem_and_keeps_the_first_thousand() {
        let mut r = Report::new("csv", false);
        for i in 0..1_500 {
            r.reject("no e-mail", Problem::new("a.csv", Some(i), "no e-mail"));
        }
        r.skip("already imported", 3);
        r.skip("nothing", 0);
        assert_eq!(r.rejected, 1_500);
        assert_eq!(r.problems_total, 1_500);
        assert_eq!(r.problems.len(), MAX_PROBLEMS);
        assert_eq!(r.reasons["no e-mail"], 1_500);
        assert_eq!(r.reasons["already imported"], 3);
        assert!(!r.reasons.contains_key("nothing"));
    }
}
