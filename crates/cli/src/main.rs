//! `everreach`: the only binary. Subcommands run the server, migrations, key rotation
//! and database utilities; each opens the database the same way (the embedded
//! cluster under EVERREACH_DATA_DIR unless DATABASE_URL is set). Errors end the process
//! with one line naming the problem and the fix, and a non-zero exit code.

mod bench;
mod commands;
mod database;
mod import;
mod jobs;
mod progress;
mod seed;
mod segments;
mod users;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use everreach_core::Config;

#[derive(Debug, Parser)]
#[command(
    name = "everreach",
    version,
    about = "Relationship OS and content engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP API (migrating first), on the embedded database unless DATABASE_URL is set.
    Serve {
        /// Listen address, HOST:PORT.
        #[arg(long, env = "EVERREACH_ADDR", default_value = "127.0.0.1:8080")]
        addr: std::net::SocketAddr,
        /// Serve HTTP only; run job workers elsewhere with `everreach worker`.
        #[arg(long)]
        no_workers: bool,
    },
    /// Run job workers and the scheduler only (for scale-out beside `serve --no-workers`).
    Worker,
    /// Apply pending migrations and exit.
    Migrate,
    /// Database utilities.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Encryption keys of secrets at rest.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// User accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Bring data in from files.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Give a user 001's automation patterns, next-best-action templates and fit
    /// signals: adds only the ones they lack (sign-up already adds them all), so it is
    /// safe to run again.
    SeedPatterns {
        /// The user's e-mail.
        #[arg(long)]
        email: String,
    },
    /// Outgoing mail (verification, invitation and password-reset links).
    Mail {
        #[command(subcommand)]
        command: MailCommand,
    },
    /// Segments: list them, preview a definition file, refresh, write out members.
    Segments {
        #[command(subcommand)]
        command: SegmentsCommand,
    },
    /// Background jobs: list them, retry or cancel one.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// Benchmarks (results go in BENCHMARKS.md).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// People-graph events from a JSON Lines file (one event per line, as POST
    /// /api/v1/person-events takes); checked whole first, then stored in batches.
    Events {
        /// The .jsonl file.
        file: std::path::PathBuf,
        /// The user whose people these are.
        #[arg(long)]
        email: String,
        /// Events per transaction (1 to 10,000).
        #[arg(long, default_value_t = 10_000)]
        batch: usize,
    },
    /// Instagram DMs from a JSON Lines file (one message per line, as an item of
    /// POST /api/v1/instagram-messages/batch); checked whole first, then stored in
    /// batches: contacts, threads, timelines and scores follow.
    Dms {
        /// The .jsonl file.
        file: std::path::PathBuf,
        /// The user whose DMs these are.
        #[arg(long)]
        email: String,
        /// Messages per transaction (1 to 1,000).
        #[arg(long, default_value_t = 1_000)]
        batch: usize,
    },
    /// Instagram's "Download your information" export in JSON (its folder or its
    /// .zip): one-to-one threads become contacts, conversations and messages
    /// (timelines and scores follow); followers and following become identities.
    /// Safe to run again: what is stored already is skipped.
    Instagram {
        /// The export's folder or .zip.
        path: std::path::PathBuf,
        /// The user whose export this is.
        #[arg(long)]
        email: String,
        /// Your display name as Instagram shows it, when the export cannot say which
        /// participant is you (no personal_information.json and a single thread).
        #[arg(long)]
        owner: Option<String>,
        /// Read and check everything, store nothing: the report says what an import
        /// would do.
        #[arg(long)]
        dry_run: bool,
        /// Print the report as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// LinkedIn's data export: Connections.csv alone, or the export's folder or
    /// .zip (Connections.csv and messages.csv): connections become people with their
    /// profile, e-mail, company and position and a "connected" event; messages become
    /// timeline events. Safe to run again.
    Linkedin {
        /// Connections.csv, or the export's folder or .zip.
        path: std::path::PathBuf,
        #[arg(long)]
        email: String,
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
    /// Contacts from a CSV file (any delimiter; Google, Outlook and most exports):
    /// columns are mapped automatically — a dry run shows how — or by --map. Each
    /// row becomes a person with their e-mails and profiles, and an e-mail contact.
    Csv {
        /// The .csv file.
        path: std::path::PathBuf,
        #[arg(long)]
        email: String,
        /// Columns for our fields, over the automatic mapping:
        /// `name=Full Name,email=E-mail,company=Org` (fields: name, first_name,
        /// last_name, email, phone, company, title, url, instagram, linkedin,
        /// twitter, notes, connected_on).
        #[arg(long)]
        map: Option<String>,
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
    /// A mailbox (.mbox: Gmail Takeout, Thunderbird, Apple Mail) into the e-mail
    /// CRM: e-mails (deduplicated by Message-ID), contacts and organizations by
    /// domain, interactions and contact statistics, and e-mail events on each
    /// correspondent's timeline. Safe to run again.
    Mbox {
        /// The .mbox file.
        path: std::path::PathBuf,
        /// The user whose mail this is (their address counts as theirs).
        #[arg(long)]
        email: String,
        /// More of your own addresses (comma-separated); senders of messages
        /// labelled Sent count as yours too.
        #[arg(long, value_delimiter = ',')]
        me: Vec<String>,
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
    /// Contacts from a vCard file (.vcf, 3.0 or 4.0, many cards): each card becomes
    /// a person with their e-mails and social profiles, an e-mail contact, and its
    /// organization and title.
    Vcard {
        /// The .vcf file.
        path: std::path::PathBuf,
        #[arg(long)]
        email: String,
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum JobsCommand {
    /// The newest jobs, with filters.
    List {
        #[arg(long)]
        queue: Option<String>,
        /// created, retry, active, completed, expired, cancelled or failed.
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Put a failed, expired or cancelled job back in its queue.
    Retry { id: String },
    /// Cancel a job that has not finished.
    Cancel { id: String },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// An authenticated single-row read (GET /api/v1/me) under concurrent load.
    Api {
        #[arg(long, default_value_t = 64)]
        connections: usize,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Print one JSON object on the last line of stdout.
        #[arg(long)]
        json: bool,
    },
    /// The job queue: enqueue, single enqueue, drain, against a bare SQL loop.
    Jobs {
        #[arg(long, default_value_t = 50_000)]
        jobs: u64,
        /// Keep this many finished jobs in the queue's history, then drain again.
        #[arg(long, default_value_t = 0)]
        history: u64,
        /// Also run pg-boss with this script (../shared/bench/pgboss-peer).
        #[arg(long)]
        peer: Option<std::path::PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// People-graph ingestion (the batch API's code) against raw COPY, and timeline reads.
    Ingest {
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        #[arg(long)]
        json: bool,
    },
    /// Merge suggestions and people search on N people, against computing them from scratch.
    Suggest {
        #[arg(long, default_value_t = 100_000)]
        people: u64,
        #[arg(long)]
        json: bool,
    },
    /// The people pages (list, search, a person with 10,000 events) served in-process,
    /// against the bare SQL of the same data.
    Pages {
        #[arg(long, default_value_t = 10_000)]
        people: u64,
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        #[arg(long)]
        json: bool,
        /// Keep the bench user and its data (to EXPLAIN the pages' queries after).
        #[arg(long, hide = true)]
        keep: bool,
    },
    /// Person insights: a full recompute (the nightly path) against one hand-written
    /// SQL pass, and one person's recompute after a new message.
    Insights {
        #[arg(long, default_value_t = 10_000)]
        people: u64,
        #[arg(long, default_value_t = 200_000)]
        events: u64,
        /// Incremental recomputes timed (at least 200).
        #[arg(long, default_value_t = 300)]
        samples: usize,
        #[arg(long)]
        json: bool,
        /// Keep the bench user and its data (to EXPLAIN the statements after).
        #[arg(long, hide = true)]
        keep: bool,
    },
    /// Segments: three definitions compiled against the same predicates written by
    /// hand in SQL, and the membership update after one event.
    Segments {
        #[arg(long, default_value_t = 100_000)]
        people: u64,
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Timed runs of each query (the median is kept).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Incremental updates timed.
        #[arg(long, default_value_t = 200)]
        samples: usize,
        #[arg(long)]
        json: bool,
        /// Keep the bench user and its data (to EXPLAIN the statements after).
        #[arg(long, hide = true)]
        keep: bool,
    },
    /// The mbox importer end to end on a generated mailbox against parsing the same
    /// file alone: messages/s of each, ratio, and peak memory at N and N/4.
    ImportMbox {
        #[arg(long, default_value_t = 100_000)]
        messages: u64,
        #[arg(long)]
        json: bool,
        /// Keep the bench users and their rows (to EXPLAIN the statements after).
        #[arg(long, hide = true)]
        keep: bool,
    },
    /// The load generator `bench api` runs as its own process (token in EVERREACH_BENCH_TOKEN).
    #[command(hide = true)]
    Load {
        #[arg(long)]
        addr: std::net::SocketAddr,
        #[arg(long)]
        path: String,
        #[arg(long)]
        connections: usize,
        #[arg(long)]
        seconds: f64,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user (with their personal company); the password is read from stdin.
    Create {
        #[arg(long)]
        email: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// admin (the default: admin of their own company), manager, user or viewer.
        #[arg(long, default_value = "admin")]
        role: String,
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create an API token for a user; prints it once, alone on the last line.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Print the connection URL in use (for psql).
    Url {
        /// The schema owner's URL instead of the application role's.
        #[arg(long)]
        admin: bool,
    },
}

#[derive(Debug, Subcommand)]
enum SegmentsCommand {
    /// The user's segments with their member counts.
    List {
        #[arg(long)]
        email: String,
    },
    /// Who a definition (a JSON file, docs/SEGMENTS.md; `-` for stdin) matches now,
    /// saving nothing; a bad definition lists each error at its JSON pointer.
    Preview {
        #[arg(long)]
        email: String,
        file: String,
        /// Members to list after the count (0–100).
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Bring one segment's members up to date now, or every segment's (`--all`, with
    /// their insights, as the hourly job does).
    Refresh {
        #[arg(long)]
        email: String,
        id: Option<String>,
        #[arg(long)]
        all: bool,
    },
    /// Every member of a segment, newest first: CSV, or JSON lines with `--json`.
    Members {
        #[arg(long)]
        email: String,
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum MailCommand {
    /// The newest mails of the outbox, opened: where mail waits when no
    /// EVERREACH_SMTP_URL is set (and what was sent or failed when one is).
    Outbox {
        /// Only mail to this address.
        #[arg(long)]
        to: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: i64,
        /// One JSON object per mail instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Make a new key current, re-encrypt every secret with it, and retire the old keys
    /// that no stored secret names any more.
    Rotate,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = Config::from_env()
        .map_err(anyhow::Error::from)
        .and_then(|config| commands::run(cli.command, config));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("everreach: {e:#}");
            ExitCode::FAILURE
        }
    }
}
