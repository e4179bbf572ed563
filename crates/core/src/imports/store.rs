//! Imports uploaded through the API or the Imports page (`imports`,
//! `import_chunks`): the upload streamed into the database in 1 MiB pieces within
//! one transaction that also queues the `imports.run` job (so an upload is whole and
//! queued, or absent), and what the job does with it — [`run`] claims the row, writes
//! the pieces to a private temporary file, runs the importer of its kind while a
//! ticker records its progress on the row every half second, then stores the report
//! and drops the pieces. The bytes live in the database, not on the web server's
//! disk, so any worker (`everreach worker` on another machine) can run the import.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{ImportError, Progress, Report, contacts, instagram, linkedin, mbox};
use crate::audit::Operation;
use crate::db::tenant::{Actor, TenantTx};
use crate::error::{DomainError, DomainResult};
use crate::jobs::{self, JobError, SendOptions};

/// The queue of import runs (the job names its tenant and carries the import's id).
pub const QUEUE: &str = "imports.run";

/// Bytes per stored piece.
pub const CHUNK: usize = 1024 * 1024;

/// Largest upload (bigger exports: `everreach import` on the machine itself).
pub const MAX_UPLOAD: u64 = 1024 * 1024 * 1024;

/// The kinds of file an upload may be. Only those with an importer are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Instagram's "Download your information" export (JSON), zipped.
    Instagram,
    /// LinkedIn's data export: Connections.csv, or the export's zip.
    Linkedin,
    /// Contacts in a CSV file.
    Csv,
    /// Contacts in a vCard file.
    Vcard,
    /// A mailbox (.mbox: Gmail Takeout, Thunderbird, Apple Mail).
    Mbox,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Instagram,
        Kind::Linkedin,
        Kind::Csv,
        Kind::Vcard,
        Kind::Mbox,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Instagram => "instagram",
            Kind::Linkedin => "linkedin",
            Kind::Csv => "csv",
            Kind::Vcard => "vcard",
            Kind::Mbox => "mbox",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// What a person calls it.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Instagram => "Instagram export (.zip)",
            Kind::Linkedin => "LinkedIn export (Connections.csv or .zip)",
            Kind::Csv => "Contacts (.csv)",
            Kind::Vcard => "Contacts (.vcf)",
            Kind::Mbox => "Mailbox (.mbox, or Gmail Takeout's .zip)",
        }
    }

    /// The kind a file's first bytes say it is, when they say: a zip is taken for an
    /// Instagram export (pick LinkedIn for LinkedIn's zip).
    pub fn guess(head: &[u8]) -> Option<Kind> {
        if head.starts_with(b"PK\x03\x04") {
            return Some(Kind::Instagram);
        }
        let text = everreach_formats::text::decode(&head[..head.len().min(4096)], None);
        let upper = text.trim_start_matches('\u{feff}').to_ascii_uppercase();
        let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
        if head.starts_with(b"From ") || (has(b"\nFrom ") && has(b"\nDate: ")) {
            Some(Kind::Mbox)
        } else if upper.trim_start().starts_with("BEGIN:VCARD") {
            Some(Kind::Vcard)
        } else if upper.starts_with("NOTES:")
            || upper.contains("FIRST NAME,LAST NAME,URL")
            || upper.starts_with("CONVERSATION ID,")
        {
            Some(Kind::Linkedin)
        } else if upper
            .lines()
            .next()
            .is_some_and(|l| [',', ';', '\t', '|'].iter().any(|d| l.contains(*d)))
        {
            Some(Kind::Csv)
        } else {
            None
        }
    }
}

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewImport {
    pub kind: Kind,
    /// The file's name as uploaded (its last path component, at most 255 characters).
    pub file_name: String,
    pub dry_run: bool,
    /// Instagram: the owner's display name, when the export cannot say.
    pub owner: Option<String>,
    /// CSV: `field=Column,…` over the automatic mapping.
    pub map: Option<String>,
    /// mbox: the user's own addresses (their account's), which say what they sent.
    pub me: Vec<String>,
}

/// An import as the API and the pages show it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ImportView {
    pub id: Uuid,
    /// `instagram` (more kinds as their importers arrive).
    pub kind: String,
    /// `queued` → `running` → `done` | `failed`.
    pub status: String,
    pub file_name: String,
    pub file_size: i64,
    /// The file's SHA-256 (hex).
    pub sha256: String,
    /// Nothing is stored: the report says what an import would do.
    pub dry_run: bool,
    #[schema(value_type = Object)]
    pub options: Value,
    /// Work done so far, of `progress_total` (in `progress_unit`: files, lines …).
    pub progress_done: i64,
    pub progress_total: Option<i64>,
    pub progress_unit: Option<String>,
    /// Once done: created, updated, skipped, rejected, reasons and problems by file
    /// and line.
    #[schema(value_type = Option<Object>)]
    pub report: Option<Value>,
    /// Why it failed (the file could not be read at all).
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, kind, status, file_name, file_size, sha256, dry_run, options, progress_done, \
                       progress_total, progress_unit, report, error, created_at, started_at, finished_at";

/// The file name as kept: its last component, trimmed, at most 255 characters.
pub fn clean_file_name(raw: &str) -> Option<String> {
    let name = raw.rsplit(['/', '\\']).next().unwrap_or("").trim();
    let name: String = name.chars().filter(|c| !c.is_control()).take(255).collect();
    (!name.is_empty()).then_some(name)
}

/// An upload under way: the pieces are written in the transaction it holds.
#[derive(Debug)]
pub struct Upload {
    tx: TenantTx,
    id: Uuid,
    seq: i32,
    buf: Vec<u8>,
    hasher: Sha256,
    size: u64,
    new: NewImport,
}

impl Upload {
    /// Starts an upload for the transaction's tenant.
    pub async fn begin(pool: &sqlx::PgPool, user_id: Uuid, new: NewImport) -> DomainResult<Upload> {
        let mut tx = TenantTx::begin(pool, user_id).await?;
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO imports (user_id, id, kind, status, file_name, file_size, sha256, dry_run, options)
             VALUES ($1, $2, $3, 'queued', $4, 0, '', $5, $6)",
        )
        .bind(user_id)
        .bind(id)
        .bind(new.kind.as_str())
        .bind(&new.file_name)
        .bind(new.dry_run)
        .bind(json!({ "owner": new.owner, "map": new.map, "me": new.me }))
        .execute(&mut *tx)
        .await?;
        Ok(Upload {
            tx,
            id,
            seq: 0,
            buf: Vec::with_capacity(CHUNK),
            hasher: Sha256::new(),
            size: 0,
            new,
        })
    }

    /// Bytes received so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Adds `bytes`; refused past [`MAX_UPLOAD`].
    pub async fn write(&mut self, mut bytes: &[u8]) -> DomainResult<()> {
        self.size += bytes.len() as u64;
        if self.size > MAX_UPLOAD {
            return Err(DomainError::invalid(
                "/file",
                format!(
                    "is larger than {} MiB: import it on the server with `everreach import {}`",
                    MAX_UPLOAD / (1024 * 1024),
                    self.new.kind.as_str()
                ),
            ));
        }
        self.hasher.update(bytes);
        while !bytes.is_empty() {
            let take = (CHUNK - self.buf.len()).min(bytes.len());
            self.buf.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.buf.len() == CHUNK {
                self.flush().await?;
            }
        }
        Ok(())
    }

    async fn flush(&mut self) -> DomainResult<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let user_id = self.tx.user_id();
        sqlx::query(
            "INSERT INTO import_chunks (user_id, import_id, seq, data) VALUES ($1, $2, $3, $4)",
        )
        .bind(user_id)
        .bind(self.id)
        .bind(self.seq)
        .bind(&self.buf)
        .execute(&mut *self.tx)
        .await?;
        self.seq += 1;
        self.buf.clear();
        Ok(())
    }

    /// Stores the rest, records size and hash, queues the run, commits; the import.
    pub async fn finish(mut self) -> DomainResult<ImportView> {
        if self.size == 0 {
            return Err(DomainError::invalid(
                "/file",
                "is empty: choose the export file",
            ));
        }
        self.flush().await?;
        let sha: String = self
            .hasher
            .clone()
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let user_id = self.tx.user_id();
        let view: ImportView = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE imports SET file_size = $3, sha256 = $4 WHERE user_id = $1 AND id = $2 RETURNING {COLUMNS}"
        )))
        .bind(user_id)
        .bind(self.id)
        .bind(self.size as i64)
        .bind(&sha)
        .fetch_one(&mut *self.tx)
        .await?;
        let opts = SendOptions {
            user_id: Some(user_id),
            retry_limit: 2,
            // a large export takes a while: not expired as if its worker had died
            expire_in_seconds: 3 * 60 * 60,
            ..SendOptions::default()
        };
        jobs::send(&mut self.tx, QUEUE, &json!({ "import_id": self.id }), &opts)
            .await
            .map_err(|e| match e {
                JobError::Db(e) => DomainError::Db(e),
                other => DomainError::Db(sqlx::Error::Protocol(other.to_string())),
            })?;
        let snapshot = json!({"id": view.id, "kind": view.kind, "file_name": view.file_name,
                              "file_size": view.file_size, "sha256": view.sha256, "dry_run": view.dry_run});
        self.tx
            .audit("imports", Operation::Insert, None, Some(&snapshot))
            .await?;
        self.tx
            .log_event("imports", view.id, "import.queued", &snapshot)
            .await?;
        self.tx.commit().await?;
        Ok(view)
    }
}

/// One import of the tenant.
pub async fn get(tx: &mut TenantTx, id: Uuid) -> DomainResult<ImportView> {
    let row: Option<ImportView> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM imports WHERE user_id = $1 AND id = $2"
    )))
    .bind(tx.user_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    row.ok_or(DomainError::NotFound)
}

/// The tenant's imports, newest first, before the `(created_at, id)` cursor.
pub async fn list(
    tx: &mut TenantTx,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> DomainResult<Vec<ImportView>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM imports
          WHERE user_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
          ORDER BY created_at DESC, id DESC LIMIT $4"
    )))
    .bind(tx.user_id())
    .bind(before.map(|b| b.0))
    .bind(before.map(|b| b.1))
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?)
}

/// Progress as the ticker sees it.
#[derive(Debug, Default)]
struct Seen {
    done: u64,
    total: Option<u64>,
    unit: &'static str,
}

/// A [`Progress`] the ticker reads.
#[derive(Debug, Clone, Default)]
struct Shared(Arc<Mutex<Seen>>);

impl Progress for Shared {
    fn total(&mut self, total: u64, unit: &'static str) {
        if let Ok(mut s) = self.0.lock() {
            s.total = Some(total);
            s.unit = unit;
        }
    }

    fn advance(&mut self, n: u64) {
        if let Ok(mut s) = self.0.lock() {
            s.done += n;
        }
    }
}

/// Where the uploaded file is written while it is imported.
fn scratch_file(id: Uuid) -> PathBuf {
    std::env::temp_dir().join(format!("everreach-import-{id}"))
}

/// Runs import `id` of tenant `user_id` (the `imports.run` job): claims it (one that
/// is done or failed is left alone), writes its file out, imports it, stores the
/// report and drops the pieces. A file that cannot be imported at all fails the
/// import, saying why; a database error is returned (the job runs again, and the
/// import, being idempotent, adds nothing twice).
pub async fn run(pool: &sqlx::PgPool, user_id: Uuid, id: Uuid) -> DomainResult<ImportView> {
    let mut tx = TenantTx::begin_as(pool, user_id, Actor::Worker).await?;
    let row: Option<(String, bool, Value, String)> = sqlx::query_as(
        "UPDATE imports SET status = 'running', started_at = coalesce(started_at, now())
          WHERE user_id = $1 AND id = $2 AND status IN ('queued', 'running')
          RETURNING kind, dry_run, options, file_name",
    )
    .bind(user_id)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let Some((kind, dry_run, options, file_name)) = row else {
        let mut tx = TenantTx::begin_snapshot(pool, user_id).await?;
        let view = get(&mut tx, id).await?;
        tx.commit().await?;
        return Ok(view);
    };

    let path = scratch_file(id);
    let written = write_out(pool, user_id, id, &path).await;
    let outcome = match written {
        Ok(()) => {
            let input = Input {
                kind: &kind,
                dry_run,
                options: &options,
                file_name: &file_name,
            };
            import_file(pool, user_id, id, &input, &path).await
        }
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_file(&path);
    // PostgreSQL text and jsonb hold no NUL: one from a binary file's bytes becomes
    // U+FFFD, so the report (or the reason) is stored rather than failing the job.
    let (status, report, error) = match outcome {
        Ok(report) => ("done", Some(without_nul(json!(report))), None),
        Err(ImportError::Input(why)) => (
            "failed",
            None,
            Some(format!("{file_name}: {why}").replace('\0', "\u{fffd}")),
        ),
        Err(ImportError::Domain(e)) => return Err(e),
        Err(ImportError::Db(e)) => return Err(DomainError::Db(e)),
    };
    let mut tx = TenantTx::begin_as(pool, user_id, Actor::Worker).await?;
    let view: ImportView = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE imports SET status = $3, report = $4, error = $5, finished_at = now(),
                progress_done = coalesce(progress_total, progress_done)
          WHERE user_id = $1 AND id = $2 RETURNING {COLUMNS}"
    )))
    .bind(user_id)
    .bind(id)
    .bind(status)
    .bind(&report)
    .bind(&error)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM import_chunks WHERE user_id = $1 AND import_id = $2")
        .bind(user_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let counts = report.as_ref().map(|r| {
        json!({"created": r["created"], "updated": r["updated"], "skipped": r["skipped"], "rejected": r["rejected"]})
    });
    tx.log_event(
        "imports",
        id,
        if status == "done" {
            "import.done"
        } else {
            "import.failed"
        },
        &json!({"kind": kind, "dry_run": dry_run, "counts": counts, "error": error}),
    )
    .await?;
    tx.commit().await?;
    Ok(view)
}

/// Writes the stored pieces of import `id` to `path` (created private, 0600).
async fn write_out(
    pool: &sqlx::PgPool,
    user_id: Uuid,
    id: Uuid,
    path: &std::path::Path,
) -> Result<(), ImportError> {
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    let mut file = open.open(path).map_err(|e| {
        ImportError::Input(format!(
            "cannot write a scratch file at {}: {e}",
            path.display()
        ))
    })?;
    let mut tx = TenantTx::begin_snapshot(pool, user_id).await?;
    {
        let mut pieces = sqlx::query_scalar::<_, Vec<u8>>(
            "SELECT data FROM import_chunks WHERE user_id = $1 AND import_id = $2 ORDER BY seq",
        )
        .bind(user_id)
        .bind(id)
        .fetch(&mut *tx);
        while let Some(piece) = pieces.try_next().await? {
            file.write_all(&piece)
                .map_err(|e| ImportError::Input(format!("cannot write a scratch file: {e}")))?;
        }
    }
    tx.commit().await?;
    file.flush()
        .map_err(|e| ImportError::Input(format!("cannot write a scratch file: {e}")))?;
    Ok(())
}

/// What the row says to import.
struct Input<'a> {
    kind: &'a str,
    dry_run: bool,
    options: &'a Value,
    file_name: &'a str,
}

/// Runs the importer of the input's kind on `path`, recording progress on the row
/// meanwhile.
async fn import_file(
    pool: &sqlx::PgPool,
    user_id: Uuid,
    id: Uuid,
    input: &Input<'_>,
    path: &std::path::Path,
) -> Result<Report, ImportError> {
    let Input {
        kind,
        dry_run,
        options,
        file_name,
    } = *input;
    let progress = Shared::default();
    let ticker = {
        let (pool, seen) = (pool.clone(), progress.0.clone());
        tokio::spawn(async move {
            let mut last: Option<(u64, Option<u64>)> = None;
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let now = seen
                    .lock()
                    .map(|s| (s.done, s.total, s.unit))
                    .unwrap_or((0, None, ""));
                if last == Some((now.0, now.1)) {
                    continue;
                }
                last = Some((now.0, now.1));
                let Ok(mut tx) = TenantTx::begin_as(&pool, user_id, Actor::Worker).await else {
                    continue;
                };
                let updated = sqlx::query(
                    "UPDATE imports SET progress_done = $3, progress_total = $4, progress_unit = $5
                      WHERE user_id = $1 AND id = $2 AND status = 'running'",
                )
                .bind(user_id)
                .bind(id)
                .bind(now.0 as i64)
                .bind(now.1.map(|t| t as i64))
                .bind(now.2)
                .execute(&mut *tx)
                .await;
                if updated.is_ok() {
                    let _ = tx.commit().await;
                }
            }
        })
    };
    let mut p = progress.clone();
    let option = |k: &str| options.get(k).and_then(Value::as_str).map(str::to_string);
    let file_name = Some(file_name.to_string());
    let contacts_opts = || contacts::Options {
        dry_run,
        map: option("map"),
        file_name: file_name.clone(),
    };
    let result = match Kind::parse(kind) {
        Some(Kind::Instagram) => {
            let opts = instagram::Options {
                owner: option("owner"),
                dry_run,
                file_name: file_name.clone(),
            };
            instagram::run(pool, user_id, path, &opts, &mut p).await
        }
        Some(Kind::Linkedin) => {
            let opts = linkedin::Options {
                dry_run,
                file_name: file_name.clone(),
            };
            linkedin::run(pool, user_id, path, &opts, &mut p).await
        }
        Some(Kind::Csv) => contacts::csv(pool, user_id, path, &contacts_opts(), &mut p).await,
        Some(Kind::Vcard) => contacts::vcard(pool, user_id, path, &contacts_opts(), &mut p).await,
        Some(Kind::Mbox) => {
            let opts = mbox::Options {
                dry_run,
                me: options
                    .get("me")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
                file_name: file_name.clone(),
            };
            mbox::run(pool, user_id, path, &opts, &mut p).await
        }
        None => Err(ImportError::Input(format!(
            "{kind:?} files cannot be imported by upload yet"
        ))),
    };
    ticker.abort();
    let last = progress.0.lock().map(|s| (s.done, s.total, s.unit)).ok();
    if let Some((done, total, unit)) = last {
        let mut tx = TenantTx::begin_as(pool, user_id, Actor::Worker).await?;
        sqlx::query(
            "UPDATE imports SET progress_done = $3, progress_total = $4, progress_unit = $5
              WHERE user_id = $1 AND id = $2",
        )
        .bind(user_id)
        .bind(id)
        .bind(done as i64)
        .bind(total.map(|t| t as i64))
        .bind(unit)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    result
}

/// `v` with every NUL character in its strings replaced by U+FFFD.
fn without_nul(v: Value) -> Value {
    match v {
        Value::String(s) if s.contains('\0') => Value::String(s.replace('\0', "\u{fffd}")),
        Value::Array(a) => Value::Array(a.into_iter().map(without_nul).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| (k.replace('\0', "\u{fffd}"), without_nul(v)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_characters_leave_every_string_and_key_of_a_report() {
        let report = json!({"problems": [{"message": "columns: a\0b", "line": 2}], "k\0": ["\0"]});
        let clean = without_nul(report);
        assert_eq!(
            clean,
            json!({"problems": [{"message": "columns: a\u{fffd}b", "line": 2}], "k\u{fffd}": ["\u{fffd}"]})
        );
    }

    #[test]
    fn file_names_keep_their_last_component_and_kinds_are_guessed() {
        assert_eq!(
            clean_file_name("C:\\Users\\me\\insta.zip").as_deref(),
            Some("insta.zip")
        );
        assert_eq!(
            clean_file_name("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(clean_file_name(" \n").as_deref(), None);
        assert_eq!(Kind::guess(b"PK\x03\x04rest"), Some(Kind::Instagram));
        assert_eq!(
            Kind::guess(b"BEGIN:VCARD\r\nVERSION:3.0"),
            Some(Kind::Vcard)
        );
        assert_eq!(
            Kind::guess("\u{feff}Name;E-mail\r\n".as_bytes()),
            Some(Kind::Csv)
        );
        assert_eq!(
            Kind::guess(b"Notes:\r\n\"When exporting"),
            Some(Kind::Linkedin)
        );
        assert_eq!(Kind::guess(b"hello there"), None);
        assert_eq!(Kind::parse("instagram"), Some(Kind::Instagram));
        assert_eq!(
            Kind::guess(b"From a@b Mon Dec  2 10:00:00 2024"),
            Some(Kind::Mbox)
        );
        assert_eq!(Kind::parse("mbox"), Some(Kind::Mbox));
        assert_eq!(Kind::parse("pst"), None);
    }
}
