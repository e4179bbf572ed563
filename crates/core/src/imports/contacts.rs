//! `everreach import csv` and `everreach import vcard`: address books and contact
//! lists, each row or card a [`super::cards::Card`] (people, identities, a 002 contact
//! per e-mail, the organization, filled never overwritten).
//!
//! - **CSV** (`everreach_formats::table::mapping`): any delimiter, a BOM, notes
//!   before the header, quoted newlines; columns mapped automatically (Google's and
//!   Outlook's exports, common names in any case) or by `--map name=Full Name,…`,
//!   which a dry run shows (`details`: the mapping). A file with no e-mail or name
//!   column is refused with what to map.
//! - **vCard** 3.0/4.0 (`everreach_formats::vcard`): many cards a file; folded,
//!   quoted-printable, base64 and non-UTF-8 values; social profile URLs become
//!   identities; ORG and TITLE the organization and title.
//!
//! Rows and cards are read as a stream and stored [`super::BATCH`] at a time.

use std::io::Read;
use std::path::Path;

use everreach_formats::social::{Network, Profile};
use everreach_formats::table::mapping::{Contacts, Row};
use everreach_formats::vcard::{self, Cards};
use uuid::Uuid;

use super::cards::{self, Card};
use super::{BATCH, ImportError, Progress, Report};
use crate::people::Channel;

/// How to import a contacts file.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub dry_run: bool,
    /// CSV: `field=Column,…` over the automatic mapping.
    pub map: Option<String>,
    /// How problems name the file (an upload's name); default: its path.
    pub file_name: Option<String>,
}

fn channel(network: Network) -> Channel {
    match network {
        Network::Instagram => Channel::Instagram,
        Network::LinkedIn => Channel::Linkedin,
        Network::Twitter => Channel::Twitter,
    }
}

fn profiles(found: Vec<Profile>) -> Vec<(Channel, String)> {
    found
        .into_iter()
        .map(|p| (channel(p.network), p.handle))
        .collect()
}

fn open(path: &Path) -> Result<std::fs::File, ImportError> {
    std::fs::File::open(path).map_err(|e| ImportError::Input(format!("cannot be read: {e}")))
}

/// Lines of the file at `path` for which `counts` holds (a first pass for the
/// progress total; streaming, constant memory).
fn count_lines(path: &Path, counts: impl Fn(&[u8]) -> bool) -> u64 {
    let Ok(file) = std::fs::File::open(path) else {
        return 0;
    };
    let mut lines = everreach_formats::text::Lines::new(
        std::io::BufReader::new(everreach_formats::text::Utf8Reader::new(file)),
        64 * 1024,
    );
    let mut n = 0;
    while let Ok(Some(line)) = lines.next_line() {
        if let everreach_formats::text::Line::Text(_, text) = line
            && counts(&text)
        {
            n += 1;
        }
    }
    n
}

/// Stores what `rows` yields, a batch at a time.
async fn store_stream(
    pool: &sqlx::PgPool,
    user_id: Uuid,
    rows: impl Iterator<Item = Result<Card, everreach_formats::Problem>>,
    dry_run: bool,
    report: &mut Report,
    progress: &mut dyn Progress,
) -> Result<(), ImportError> {
    let mut batch = Vec::with_capacity(BATCH);
    for row in rows {
        match row {
            Ok(card) => batch.push(card),
            Err(p) => report.reject("a row that cannot be read", p),
        }
        if batch.len() == BATCH {
            cards::store_all(pool, user_id, &batch, dry_run, report).await?;
            progress.advance(batch.len() as u64);
            batch.clear();
        }
    }
    cards::store_all(pool, user_id, &batch, dry_run, report).await?;
    progress.advance(batch.len() as u64);
    Ok(())
}

fn card_of_row(row: Row, file: &str) -> Card {
    let found = profiles(row.profiles());
    Card {
        file: file.to_string(),
        line: Some(row.line),
        name: row.display_name(),
        first_name: row.first_name,
        last_name: row.last_name,
        emails: row.emails,
        phones: row.phones,
        profiles: found,
        company: row.company,
        title: row.title,
        note: row.notes,
        source: "csv",
        event: None,
    }
}

/// Imports the CSV at `path` for `user_id`.
pub async fn csv(
    pool: &sqlx::PgPool,
    user_id: Uuid,
    path: &Path,
    opts: &Options,
    progress: &mut dyn Progress,
) -> Result<Report, ImportError> {
    let mut report = Report::new("csv", opts.dry_run);
    let shown = super::shown(opts.file_name.as_deref(), path);
    let file = open(path)?;
    progress.total(
        count_lines(path, |l| !l.iter().all(u8::is_ascii_whitespace)).saturating_sub(1),
        "rows",
    );
    report.files = 1;
    let rows = Contacts::open(file, &shown, opts.map.as_deref())
        .map_err(|p| ImportError::Input(p.message.clone()))?;
    report.mapping = Some(rows.mapping().describe(rows.table().header()));
    let rows = rows.map(|r| r.map(|row| card_of_row(row, &shown)));
    store_stream(pool, user_id, rows, opts.dry_run, &mut report, progress).await?;
    Ok(report)
}

fn card_of_vcard(c: vcard::Card, file: &str) -> Card {
    let name = c.display_name();
    let found = profiles(c.profiles());
    Card {
        file: file.to_string(),
        line: Some(c.line),
        name,
        first_name: c.given,
        last_name: c.family,
        emails: c.emails.into_iter().map(|v| v.value).collect(),
        phones: c.phones.into_iter().map(|v| v.value).collect(),
        profiles: found,
        company: c.org,
        title: c.title,
        note: c.note,
        source: "vcard",
        event: None,
    }
}

/// Imports the vCard file at `path` for `user_id`.
pub async fn vcard(
    pool: &sqlx::PgPool,
    user_id: Uuid,
    path: &Path,
    opts: &Options,
    progress: &mut dyn Progress,
) -> Result<Report, ImportError> {
    let mut report = Report::new("vcard", opts.dry_run);
    let shown = super::shown(opts.file_name.as_deref(), path);
    let mut head = Vec::new();
    let _ = everreach_formats::text::Utf8Reader::new(open(path)?)
        .take(256)
        .read_to_end(&mut head);
    if !String::from_utf8_lossy(&head)
        .to_ascii_uppercase()
        .contains("BEGIN:VCARD")
    {
        return Err(ImportError::Input(
            "not a vCard file: it does not begin with BEGIN:VCARD".into(),
        ));
    }
    let file = open(path)?;
    progress.total(
        count_lines(path, |l| {
            l.trim_ascii().eq_ignore_ascii_case(b"BEGIN:VCARD")
        }),
        "cards",
    );
    report.files = 1;
    let cards = Cards::new(file, &shown).map(|c| c.map(|card| card_of_vcard(card, &shown)));
    store_stream(pool, user_id, cards, opts.dry_run, &mut report, progress).await?;
    Ok(report)
}
