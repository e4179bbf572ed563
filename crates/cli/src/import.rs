//! `everreach import events FILE.jsonl --email USER`: one event per line, in the
//! shape of `POST /api/v1/person-events`; `everreach import dms FILE.jsonl --email
//! USER`: one Instagram DM per line, in the shape of an item of `POST
//! /api/v1/instagram-messages/batch`. The whole file is checked first — every
//! malformed line and broken rule is reported as `FILE:LINE: field: why`, and then
//! nothing is stored; a clean file is stored in batches through the same code as the
//! batch API (each batch one transaction, duplicates skipped, so a run that stops
//! half-way can simply be run again), with a progress bar on stderr.
//!
//! `everreach import instagram | linkedin | csv | vcard | mbox PATH --email USER`: an
//! export or contacts file, read and stored by
//! `everreach_core::imports` (problems per file and line, bounded transactions,
//! idempotent), ending with its report on stderr (`--json`: on stdout).

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::Utc;
use everreach_core::accounts::store;
use everreach_core::crm::model as dm_model;
use everreach_core::db::{Database, DbTarget, tenant};
use everreach_core::people::ingest;
use everreach_core::people::model::{EventInput, MAX_BATCH, NewEvent, Subject, check_event};
use uuid::Uuid;

use crate::progress::Progress;

/// At most this many problems are printed (all are counted).
const SHOWN_PROBLEMS: usize = 50;

#[derive(Debug)]
pub struct Options {
    pub file: PathBuf,
    pub email: String,
    pub batch: usize,
}

/// One line as `T`, or why not (`field: why`).
fn parse_json<T: serde::de::DeserializeOwned>(line: &str) -> Result<T, Vec<String>> {
    let de = &mut serde_json::Deserializer::from_str(line);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let why = inner.to_string();
        let why = why
            .rsplit_once(" at line ")
            .map_or(why.as_str(), |(w, _)| w)
            .to_string();
        if inner.is_syntax() || inner.is_eof() {
            vec![format!("not valid JSON ({why}, column {})", inner.column())]
        } else if path == "." {
            vec![why]
        } else {
            vec![format!("{path}: {why}")]
        }
    })
}

/// Rule problems `(pointer, why)` as `field: why`.
fn said(problems: Vec<(String, String)>) -> Vec<String> {
    problems
        .into_iter()
        .map(|(field, why)| format!("{}: {why}", field.trim_start_matches('/')))
        .collect()
}

/// One line's event, or why not.
fn parse_line(line: &str, now: chrono::DateTime<Utc>) -> Result<NewEvent, Vec<String>> {
    let input: EventInput = parse_json(line)?;
    check_event(&input, now).map_err(said)
}

fn lines(path: &Path) -> anyhow::Result<impl Iterator<Item = (usize, std::io::Result<String>)>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(BufReader::new(file)
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l)))
}

/// Pass 1: parses every non-blank line of `path`, printing each problem as
/// `FILE:LINE: why` (the first [`SHOWN_PROBLEMS`]) and handing good items to `keep`;
/// fails, naming how many problems in how many `what`s, when any line is wrong or
/// the file holds none. The number of items.
fn check_file<T>(
    path: &Path,
    what: &str,
    parse: impl Fn(&str) -> Result<T, Vec<String>>,
    mut keep: impl FnMut(T),
) -> anyhow::Result<usize> {
    let name = path.display().to_string();
    let (mut problems, mut total) = (0usize, 0usize);
    for (n, line) in lines(path)? {
        let line = line.with_context(|| format!("{name}:{n}: cannot be read as UTF-8 text"))?;
        if line.trim().is_empty() {
            continue;
        }
        total += 1;
        match parse(&line) {
            Ok(item) => keep(item),
            Err(whys) => {
                for why in whys {
                    problems += 1;
                    if problems <= SHOWN_PROBLEMS {
                        eprintln!("{name}:{n}: {why}");
                    }
                }
            }
        }
    }
    if problems > 0 {
        if problems > SHOWN_PROBLEMS {
            eprintln!("… and {} more", problems - SHOWN_PROBLEMS);
        }
        bail!(
            "{name}: {problems} problems in {total} {what}; nothing was imported — fix the lines above and run again"
        );
    }
    if total == 0 {
        bail!("{name} holds no {what} (one JSON object per line)");
    }
    Ok(total)
}

pub async fn events(target: DbTarget, opts: Options) -> anyhow::Result<()> {
    if opts.batch == 0 || opts.batch > MAX_BATCH {
        bail!("--batch must be from 1 to {MAX_BATCH}");
    }
    let name = opts.file.display().to_string();
    let now = Utc::now();

    // Pass 1: check everything, store nothing.
    let mut named_people: HashSet<Uuid> = HashSet::new();
    let total = check_file(
        &opts.file,
        "events",
        |line| parse_line(line, now),
        |e| {
            if let Subject::Person(id) = e.subject {
                named_people.insert(id);
            }
        },
    )?;

    let db = Database::open(target).await?;
    let Some(user_id) = store::lookup_user_id(&db.app, &opts.email).await? else {
        bail!(
            "no user has the e-mail {:?}; create one with `everreach user create`",
            opts.email
        );
    };
    if !named_people.is_empty() {
        let wanted: Vec<Uuid> = named_people.iter().copied().collect();
        let mut tx = tenant::begin(&db.app, user_id).await?;
        let found: HashSet<Uuid> = everreach_core::people::store::existing_people(&mut tx, &wanted)
            .await?
            .into_iter()
            .collect();
        tx.commit().await?;
        let missing: Vec<&Uuid> = wanted.iter().filter(|id| !found.contains(id)).collect();
        if !missing.is_empty() {
            bail!(
                "{name}: {} person_id values name no person of {} (e.g. {}); nothing was imported",
                missing.len(),
                opts.email,
                missing[0]
            );
        }
    }

    // Pass 2: store, a batch per transaction.
    let mut progress = Progress::new(total as u64, "events");
    let (mut created, mut duplicates, mut people) = (0usize, 0usize, 0usize);
    let mut batch: Vec<NewEvent> = Vec::with_capacity(opts.batch);
    let mut flush = async |batch: &mut Vec<NewEvent>| -> anyhow::Result<()> {
        let outcome = ingest::store_tx(&db.app, user_id, batch).await?;
        created += outcome.created;
        duplicates += outcome.duplicates;
        people += outcome.people_created;
        progress.inc(batch.len() as u64);
        batch.clear();
        Ok(())
    };
    for (n, line) in lines(&opts.file)? {
        let line = line.with_context(|| format!("{name}:{n}: cannot be read"))?;
        if line.trim().is_empty() {
            continue;
        }
        let event = parse_line(&line, now).map_err(|whys| {
            anyhow::anyhow!(
                "{name}:{n}: {} (the file changed while importing?)",
                whys.join("; ")
            )
        })?;
        batch.push(event);
        if batch.len() == opts.batch {
            flush(&mut batch).await?;
        }
    }
    if !batch.is_empty() {
        flush(&mut batch).await?;
    }
    let seconds = progress.finish().as_secs_f64();
    eprintln!(
        "everreach: imported {total} events from {name} in {seconds:.1} s: {created} stored, {duplicates} duplicates skipped, {people} new people"
    );
    if created > 0 {
        eprintln!(
            "everreach: the people's insights and identities' seen times are brought up to date by the people.insights jobs; a running `everreach serve` or `everreach worker` does them (`everreach jobs list --queue people.insights` shows them)"
        );
    }
    Ok(())
}

/// `everreach import dms`: Instagram DMs, one per line; checked whole, then stored in
/// batches of up to 1,000 through DM ingestion.
pub async fn dms(target: DbTarget, opts: Options) -> anyhow::Result<()> {
    if opts.batch == 0 || opts.batch > dm_model::MAX_BATCH {
        bail!("--batch must be from 1 to {}", dm_model::MAX_BATCH);
    }
    let name = opts.file.display().to_string();
    let now = Utc::now();
    let parse = |line: &str| -> Result<dm_model::DmInput, Vec<String>> {
        let input: dm_model::DmInput = parse_json(line)?;
        dm_model::check_dm(&input, now).map_err(said)?;
        Ok(input)
    };

    // Pass 1: check everything, store nothing.
    let total = check_file(&opts.file, "messages", |line| parse(line), |_| {})?;
    let db = Database::open(target).await?;
    let Some(user_id) = store::lookup_user_id(&db.app, &opts.email).await? else {
        bail!(
            "no user has the e-mail {:?}; create one with `everreach user create`",
            opts.email
        );
    };

    // Pass 2: store, a batch per transaction.
    let mut progress = Progress::new(total as u64, "messages");
    let mut sum = dm_model::DmOutcome::default();
    let mut batch: Vec<dm_model::DmInput> = Vec::with_capacity(opts.batch);
    let mut flush = async |batch: &mut Vec<dm_model::DmInput>| -> anyhow::Result<()> {
        let o = everreach_core::crm::dm::ingest_tx(&db.app, user_id, batch).await?;
        sum.created += o.created;
        sum.duplicates += o.duplicates;
        sum.flagged += o.flagged;
        sum.skipped += o.skipped;
        sum.contacts_created += o.contacts_created;
        progress.inc(batch.len() as u64);
        batch.clear();
        Ok(())
    };
    for (n, line) in lines(&opts.file)? {
        let line = line.with_context(|| format!("{name}:{n}: cannot be read"))?;
        if line.trim().is_empty() {
            continue;
        }
        let input = parse(&line).map_err(|whys| {
            anyhow::anyhow!(
                "{name}:{n}: {} (the file changed while importing?)",
                whys.join("; ")
            )
        })?;
        batch.push(input);
        if batch.len() == opts.batch {
            flush(&mut batch).await?;
        }
    }
    if !batch.is_empty() {
        flush(&mut batch).await?;
    }
    let seconds = progress.finish().as_secs_f64();
    eprintln!(
        "everreach: imported {total} messages from {name} in {seconds:.1} s: {} stored, {} duplicates skipped, {} flagged as spam, {} skipped by patterns, {} new contacts",
        sum.created, sum.duplicates, sum.flagged, sum.skipped, sum.contacts_created
    );
    Ok(())
}

/// Where an export comes from and how to report.
#[derive(Debug)]
pub struct ExportOptions {
    pub path: PathBuf,
    pub email: String,
    pub json: bool,
}

/// An importer's progress drawn as the standard bar, once its total is known.
#[derive(Debug, Default)]
struct Bar(Option<Progress>);

impl everreach_core::imports::Progress for Bar {
    fn total(&mut self, total: u64, unit: &'static str) {
        self.0 = Some(Progress::new(total, unit));
    }

    fn advance(&mut self, n: u64) {
        if let Some(p) = &mut self.0 {
            p.inc(n);
        }
    }
}

/// The report on stderr: the counts, the reasons, the first problems.
fn print_report(name: &str, r: &everreach_core::imports::Report, seconds: f64) {
    let verb = if r.dry_run {
        "dry run (nothing stored) of"
    } else {
        "imported"
    };
    eprintln!(
        "everreach: {verb} {name} in {seconds:.1} s: {} files; {} created, {} updated, {} skipped, {} rejected",
        r.files, r.created, r.updated, r.skipped, r.rejected
    );
    for (reason, n) in &r.reasons {
        eprintln!("  {n:>8}  {reason}");
    }
    for (key, n) in &r.details {
        eprintln!("  {key}: {n}");
    }
    if let Some(m) = &r.mapping {
        eprintln!("  columns: {m}");
    }
    for p in r.problems.iter().take(SHOWN_PROBLEMS) {
        eprintln!("{p}");
    }
    if r.problems_total as usize > SHOWN_PROBLEMS {
        eprintln!(
            "… and {} more problems (--json lists the first {})",
            r.problems_total as usize - SHOWN_PROBLEMS,
            everreach_core::imports::MAX_PROBLEMS
        );
    }
}

/// Which importer, with its options.
#[derive(Debug)]
pub enum Importer {
    Instagram(everreach_core::imports::instagram::Options),
    Linkedin(everreach_core::imports::linkedin::Options),
    Csv(everreach_core::imports::contacts::Options),
    Vcard(everreach_core::imports::contacts::Options),
    Mbox(everreach_core::imports::mbox::Options),
}

/// `everreach import instagram | linkedin | csv | vcard`.
pub async fn export(
    target: DbTarget,
    opts: ExportOptions,
    importer: Importer,
) -> anyhow::Result<()> {
    use everreach_core::imports;
    let db = Database::open(target).await?;
    let Some(user_id) = store::lookup_user_id(&db.app, &opts.email).await? else {
        bail!(
            "no user has the e-mail {:?}; create one with `everreach user create`",
            opts.email
        );
    };
    let started = std::time::Instant::now();
    let mut bar = Bar::default();
    let (pool, path) = (&db.app, opts.path.as_path());
    let result = match &importer {
        Importer::Instagram(o) => imports::instagram::run(pool, user_id, path, o, &mut bar).await,
        Importer::Linkedin(o) => imports::linkedin::run(pool, user_id, path, o, &mut bar).await,
        Importer::Csv(o) => imports::contacts::csv(pool, user_id, path, o, &mut bar).await,
        Importer::Vcard(o) => imports::contacts::vcard(pool, user_id, path, o, &mut bar).await,
        Importer::Mbox(o) => imports::mbox::run(pool, user_id, path, o, &mut bar).await,
    };
    let report = result.map_err(|e| match e {
        imports::ImportError::Input(why) => anyhow::anyhow!("{}: {why}", opts.path.display()),
        other => other.into(),
    })?;
    if let Some(p) = bar.0 {
        p.finish();
    }
    print_report(
        &opts.path.display().to_string(),
        &report,
        started.elapsed().as_secs_f64(),
    );
    if opts.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}
