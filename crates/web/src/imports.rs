//! The Imports page (`/imports`): upload a file to import (its kind guessed from
//! the content or picked; a dry run; the Instagram owner when the export cannot say)
//! and the list of imports; `/imports/{id}` shows one — its progress while the
//! `imports.run` job works (htmx asks `/imports/{id}/progress` every second and the
//! region is announced politely; without JavaScript a Refresh link does the same) and,
//! once done, the report: counts, reasons, and every problem by file and line.
//! Uploads stream into the database through `core::imports::store` as the API's do.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use everreach_api::AppState;
use everreach_api::error::ApiError;
use everreach_core::db::tenant::TenantTx;
use everreach_core::error::DomainError;
use everreach_core::imports::store::{self, ImportView, Kind, NewImport, Upload};
use serde_json::Value;
use uuid::Uuid;

use crate::error::{PageError, PageResult};
use crate::fmt::{self, When};
use crate::form::{Field, Form, Problems, UserUpload};
use crate::session::Signed;
use crate::shell::{self, Nav, Shell};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/imports", get(page).post(upload))
        .route("/imports/{id}", get(detail))
        .route("/imports/{id}/progress", get(progress))
}

/// An import as the pages show it.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: Uuid,
    pub file_name: String,
    pub kind: String,
    pub status: String,
    pub dry_run: bool,
    pub size: String,
    pub done: i64,
    pub total: Option<i64>,
    pub unit: String,
    pub created: When,
    pub finished: Option<When>,
    pub error: Option<String>,
    /// `(created, updated, skipped, rejected)` once done.
    pub counts: Option<(u64, u64, u64, u64)>,
    /// `(reason, count)`.
    pub reasons: Vec<(String, u64)>,
    /// `(key, count)`.
    pub details: Vec<(String, u64)>,
    /// `(file, line, message)`.
    pub problems: Vec<(String, String, String)>,
    pub problems_total: u64,
    /// CSV: how the columns were read.
    pub mapping: Option<String>,
}

impl Row {
    pub fn running(&self) -> bool {
        self.status == "queued" || self.status == "running"
    }

    /// Percent done, when the total is known.
    pub fn percent(&self) -> Option<i64> {
        self.total
            .filter(|t| *t > 0)
            .map(|t| (self.done * 100 / t).clamp(0, 100))
    }
}

fn size(bytes: i64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 {
        format!("{:.1} MB", b / (1024.0 * 1024.0))
    } else if b >= 1024.0 {
        format!("{:.0} KB", b / 1024.0)
    } else {
        format!("{bytes} bytes")
    }
}

fn row(v: &ImportView, tz: chrono_tz::Tz) -> Row {
    let r = v.report.as_ref();
    let n = |k: &str| {
        r.and_then(|r| r.get(k))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    let pairs = |k: &str| -> Vec<(String, u64)> {
        r.and_then(|r| r.get(k))
            .and_then(Value::as_object)
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.replace('_', " "), v.as_u64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default()
    };
    Row {
        id: v.id,
        file_name: v.file_name.clone(),
        kind: v.kind.clone(),
        status: v.status.clone(),
        dry_run: v.dry_run,
        size: size(v.file_size),
        done: v.progress_done,
        total: v.progress_total,
        unit: v.progress_unit.clone().unwrap_or_else(|| "files".into()),
        created: fmt::when(v.created_at, tz),
        finished: fmt::when_opt(v.finished_at, tz),
        error: v.error.clone(),
        counts: r.map(|_| (n("created"), n("updated"), n("skipped"), n("rejected"))),
        reasons: pairs("reasons"),
        details: pairs("details"),
        problems: r
            .and_then(|r| r.get("problems"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|p| {
                        (
                            p["file"].as_str().unwrap_or("").to_string(),
                            p["line"]
                                .as_u64()
                                .map(|l| l.to_string())
                                .unwrap_or_default(),
                            p["message"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
        problems_total: n("problems_total"),
        mapping: r
            .and_then(|r| r.get("mapping"))
            .and_then(Value::as_str)
            .map(str::to_string),
    }
}

#[derive(Template)]
#[template(path = "imports.html")]
struct ImportsPage {
    shell: Shell,
    fields: Vec<Field>,
    dry_run: bool,
    problems: Problems,
    rows: Vec<Row>,
}

fn kinds() -> Vec<(String, String)> {
    std::iter::once((String::new(), "Guess from the file".to_string()))
        .chain(
            Kind::ALL
                .iter()
                .map(|k| (k.as_str().to_string(), k.label().to_string())),
        )
        .collect()
}

async fn render(
    state: &AppState,
    me: &Signed,
    sent: Option<&Form>,
    problems: Problems,
) -> PageResult<Response> {
    let tz = fmt::zone(me.user.timezone.as_deref());
    let mut tx = TenantTx::begin_snapshot(&state.db.app, me.user_id()).await?;
    let views = store::list(&mut tx, None, 50).await?;
    tx.commit().await?;
    let mut fields = vec![
        Field::new("kind", "What it is", "select").options(kinds()),
        Field::new("owner", "Your name on Instagram (optional)", "text").hint(
            "Only when the export cannot say which participant is you: your display name as Instagram shows it.",
        ),
        Field::new("map", "CSV columns (optional)", "text").hint(
            "Only for a CSV whose columns are not recognised: name=Full Name,email=E-mail. A dry run shows how the columns were read.",
        ),
        Field::new("file", "File", "file").hint(
            "Instagram: Download your information, JSON format (.zip). LinkedIn: Get a copy of your data (Connections.csv or the .zip). Or a .csv or .vcf of contacts, or a mailbox (.mbox, from Gmail Takeout: unzip it first). Up to 1 GB.",
        ),
    ];
    let mut dry_run = false;
    if let Some(f) = sent {
        fields = fields.into_iter().map(|x| x.from(f, &problems)).collect();
        dry_run = f.get("dry_run") == "on";
    }
    let mut shell = me.shell("Imports", Nav::Imports);
    shell.has_errors = !problems.is_empty();
    Ok(shell::render_form(
        !problems.is_empty(),
        &ImportsPage {
            shell,
            fields,
            dry_run,
            problems,
            rows: views.iter().map(|v| row(v, tz)).collect(),
        },
    ))
}

async fn page(State(state): State<AppState>, me: Signed) -> PageResult<Response> {
    render(&state, &me, None, Problems::default()).await
}

/// The upload: text fields first, then the file, streamed into the database.
async fn upload(
    State(state): State<AppState>,
    UserUpload { me, mut form }: UserUpload,
) -> PageResult<Response> {
    me.require_writer()?;
    let mut sent: Vec<(String, String)> = Vec::new();
    let kept = |sent: &[(String, String)]| {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(sent)
            .finish();
        Form::parse(body.as_bytes())
    };
    let bad = |e: axum::extract::multipart::MultipartError| {
        PageError::Api(ApiError::BadRequest(format!(
            "the upload was cut short or is not a form ({e}): try again"
        )))
    };
    while let Some(mut field) = form.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_string();
        if name != "file" {
            let text = field.text().await.map_err(bad)?;
            sent.push((name, text.trim().to_string()));
            continue;
        }
        let form = kept(&sent);
        let mut problems = Problems::default();
        let kind = match form.get("kind") {
            "" => None,
            k => match Kind::parse(k) {
                Some(k) => Some(k),
                None => {
                    problems.add("kind", "Choose what the file is from the list");
                    None
                }
            },
        };
        let owner = form.opt("owner");
        let map = form.opt("map");
        if owner.as_ref().is_some_and(|o| o.chars().count() > 200) {
            problems.add("owner", "Your name must be at most 200 characters");
        }
        let first = field.chunk().await.map_err(bad)?.unwrap_or_default();
        if first.is_empty() {
            problems.add("file", "Choose the file to import");
        }
        let kind = kind.or_else(|| Kind::guess(&first));
        if kind.is_none() && problems.is_empty() {
            problems.add(
                "kind",
                "This file is not one we can recognise: choose what it is from the list",
            );
        }
        let Some(kind) = kind.filter(|_| problems.is_empty()) else {
            if !first.is_empty() {
                problems.add("file", "Choose the file again: browsers do not keep it");
            }
            return render(&state, &me, Some(&form), problems).await;
        };
        let new = NewImport {
            kind,
            file_name: field
                .file_name()
                .and_then(store::clean_file_name)
                .unwrap_or_else(|| "upload".into()),
            dry_run: form.get("dry_run") == "on",
            owner,
            map,
            me: if kind == Kind::Mbox {
                vec![me.user.email.clone()]
            } else {
                Vec::new()
            },
        };
        let mut upload = Upload::begin(&state.db.app, me.user_id(), new).await?;
        let written = async {
            upload.write(&first).await?;
            while let Some(bytes) = field.chunk().await.map_err(|e| {
                DomainError::invalid(
                    "/file",
                    format!("the upload was cut short ({e}): try again"),
                )
            })? {
                upload.write(&bytes).await?;
            }
            Ok::<(), DomainError>(())
        }
        .await;
        return match written {
            Ok(()) => {
                let view = upload.finish().await?;
                Ok(Redirect::to(&format!("/imports/{}", view.id)).into_response())
            }
            Err(DomainError::Invalid(found)) => {
                drop(upload);
                let mut problems = Problems::default();
                for (_, message) in found {
                    problems.add("file", message);
                }
                render(&state, &me, Some(&form), problems).await
            }
            Err(e) => Err(e.into()),
        };
    }
    let form = kept(&sent);
    let mut problems = Problems::default();
    problems.add("file", "Choose the file to import (the export's .zip)");
    render(&state, &me, Some(&form), problems).await
}

#[derive(Template)]
#[template(path = "import.html")]
struct ImportPage {
    shell: Shell,
    r: Row,
}

#[derive(Template)]
#[template(path = "import_progress.html")]
struct ProgressFragment {
    r: Row,
}

async fn load(state: &AppState, me: &Signed, id: &str) -> PageResult<Row> {
    let id = everreach_api::extract::path_id(id)?;
    let tz = fmt::zone(me.user.timezone.as_deref());
    let mut tx = TenantTx::begin_snapshot(&state.db.app, me.user_id()).await?;
    let view = store::get(&mut tx, id).await?;
    tx.commit().await?;
    Ok(row(&view, tz))
}

async fn detail(
    State(state): State<AppState>,
    me: Signed,
    Path(id): Path<String>,
) -> PageResult<Response> {
    let r = load(&state, &me, &id).await?;
    let shell = me.shell(&format!("Import of {}", r.file_name), Nav::Imports);
    Ok(shell::render(&ImportPage { shell, r }))
}

/// The progress region alone (what htmx polls), or the report once done.
async fn progress(
    State(state): State<AppState>,
    me: Signed,
    Path(id): Path<String>,
) -> PageResult<Response> {
    let r = load(&state, &me, &id).await?;
    Ok(shell::render(&ProgressFragment { r }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_words() {
        assert_eq!(size(512), "512 bytes");
        assert_eq!(size(2048), "2 KB");
        assert_eq!(size(3 * 1024 * 1024 + 1024 * 512), "3.5 MB");
    }
}
