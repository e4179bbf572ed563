//! Imports by upload (core in `everreach_core::imports`) and the domain's
//! registration ([`DOMAIN`]): `POST /imports` takes a multipart upload — the fields
//! `kind` (guessed from the file when absent), `dry_run`, `owner`, then `file` —
//! streams the file into the database and queues the `imports.run` job
//! (`everreach_jobs::imports`), answering 202 with the import; `GET /imports` and
//! `GET /imports/{id}` show where it is (status, progress) and, once done, its report.
//! An upload is not held for `Idempotency-Key` replay (the middleware passes it
//! through): sending the same file twice is harmless, since an import adds nothing
//! twice.

use std::sync::Arc;

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{StatusCode, header};
use everreach_core::db::tenant::TenantTx;
use everreach_core::imports::store::{self, ImportView, Kind, NewImport, Upload};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::CurrentUser;
use crate::domain::{Deps, Domain, DomainState};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiQuery, path_id};

pub const DOMAIN: Domain = Domain {
    name: "imports",
    tags: &[(
        "imports",
        "Imports of the files people already have (an Instagram export …): uploaded, run as a job, reported",
    )],
    signed_in_routes,
    public_routes: OpenApiRouter::new,
    generic: &[],
    table_rules: &[],
    register_jobs: everreach_jobs::imports::register,
    sends_to: &[store::QUEUE],
    state,
};

/// The domain keeps no state of its own.
#[derive(Debug)]
struct Imports;

fn state(_: &Deps<'_>) -> DomainState {
    Arc::new(Imports)
}

fn signed_in_routes() -> OpenApiRouter<AppState> {
    let upload = OpenApiRouter::new()
        .routes(routes!(upload_import, list_imports))
        .layer(DefaultBodyLimit::max(
            store::MAX_UPLOAD as usize + 1024 * 1024,
        ));
    OpenApiRouter::new()
        .merge(upload)
        .routes(routes!(get_import))
}

/// The upload's fields, in this order (the file last).
#[derive(Debug, ToSchema)]
#[expect(
    dead_code,
    reason = "documents the multipart form; read field by field"
)]
pub struct UploadForm {
    /// `instagram`, `linkedin`, `csv`, `vcard` or `mbox`; guessed from the file when absent
    /// (a zip is taken for an Instagram export: say `linkedin` for LinkedIn's).
    kind: Option<Kind>,
    /// `true`: read and check everything, store nothing.
    dry_run: Option<bool>,
    /// Instagram: your display name as Instagram shows it, when the export cannot say
    /// which participant is you.
    owner: Option<String>,
    /// CSV: columns for our fields over the automatic mapping,
    /// `name=Full Name,email=E-mail` (the report's `mapping` shows the result).
    map: Option<String>,
    /// The file (at most 1 GiB).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

fn bad_multipart(e: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(format!("the upload is not a readable multipart form: {e}"))
}

/// Uploads a file to import: it is stored, then imported by a job. Answers at once
/// with the import (`queued`); `GET /imports/{id}` shows its progress and report.
#[utoipa::path(post, path = "/imports", tag = "imports",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 202, body = ImportView, description = "Stored and queued",
               headers(("Location" = String, description = "The import"))),
              (status = 400, body = Problem, description = "Not a multipart form"),
              (status = 413, body = Problem, description = "Larger than 1 GiB"),
              (status = 422, body = Problem, description = "A field is wrong: errors name it (/kind, /dry_run, /owner, /file)")))]
pub(crate) async fn upload_import(
    State(state): State<AppState>,
    user: CurrentUser,
    form: Result<Multipart, MultipartRejection>,
) -> ApiResult<(
    StatusCode,
    [(header::HeaderName, String); 1],
    Json<ImportView>,
)> {
    // axum's own rejection is plain text: answer as every other error does
    let mut form = form.map_err(|e| {
        ApiError::UnsupportedMediaType(format!(
            "send the upload as multipart/form-data with a boundary ({e})"
        ))
    })?;
    let mut kind: Option<Kind> = None;
    let mut dry_run = false;
    let mut owner: Option<String> = None;
    let mut map: Option<String> = None;
    while let Some(mut field) = form.next_field().await.map_err(bad_multipart)? {
        let name = field.name().unwrap_or("").to_string();
        match name.as_str() {
            "kind" | "dry_run" | "owner" | "map" => {
                let text = field.text().await.map_err(bad_multipart)?;
                let text = text.trim();
                match name.as_str() {
                    "kind" if text.is_empty() => {}
                    "kind" => {
                        kind = Some(Kind::parse(text).ok_or_else(|| {
                            ApiError::invalid(
                                "/kind",
                                format!(
                                    "{text:?} cannot be imported by upload: use {}",
                                    Kind::ALL.map(Kind::as_str).join(", ")
                                ),
                            )
                        })?)
                    }
                    "dry_run" => {
                        dry_run = match text {
                            "" | "false" | "0" | "off" => false,
                            "true" | "1" | "on" => true,
                            _ => {
                                return Err(ApiError::invalid("/dry_run", "must be true or false"));
                            }
                        }
                    }
                    "map" => {
                        map = Some(text.to_string()).filter(|m| !m.is_empty());
                        if map.as_ref().is_some_and(|m| m.len() > 2000) {
                            return Err(ApiError::invalid(
                                "/map",
                                "must be at most 2,000 characters",
                            ));
                        }
                    }
                    _ => {
                        owner = Some(text.to_string()).filter(|o| !o.is_empty());
                        if owner.as_ref().is_some_and(|o| o.chars().count() > 200) {
                            return Err(ApiError::invalid(
                                "/owner",
                                "must be at most 200 characters",
                            ));
                        }
                    }
                }
            }
            "file" => {
                let file_name = field
                    .file_name()
                    .and_then(store::clean_file_name)
                    .unwrap_or_else(|| "upload".to_string());
                let first = field
                    .chunk()
                    .await
                    .map_err(bad_multipart)?
                    .unwrap_or_default();
                let kind = match kind.or_else(|| Kind::guess(&first)) {
                    Some(k) => k,
                    None if first.is_empty() => {
                        return Err(ApiError::invalid(
                            "/file",
                            "is empty: choose the export file",
                        ));
                    }
                    None => {
                        return Err(ApiError::invalid(
                            "/kind",
                            "cannot be guessed from the file: say which it is (instagram, linkedin, csv, vcard or mbox)",
                        ));
                    }
                };
                // a mailbox is read knowing whose it is: what they sent is theirs
                let me = if kind == Kind::Mbox {
                    vec![state.accounts.user(user.id).await?.email]
                } else {
                    Vec::new()
                };
                let new = NewImport {
                    kind,
                    file_name,
                    dry_run,
                    owner: owner.clone(),
                    map: map.clone(),
                    me,
                };
                let mut upload = Upload::begin(&state.db.app, user.id, new).await?;
                upload.write(&first).await?;
                while let Some(bytes) = field.chunk().await.map_err(bad_multipart)? {
                    upload.write(&bytes).await?;
                }
                let view = upload.finish().await?;
                let location = format!("/api/v1/imports/{}", view.id);
                return Ok((
                    StatusCode::ACCEPTED,
                    [(header::LOCATION, location)],
                    Json(view),
                ));
            }
            other => {
                return Err(ApiError::invalid(
                    &format!("/{other}"),
                    "is not a field of an upload: send kind, dry_run, owner, map, then file",
                ));
            }
        }
    }
    Err(ApiError::invalid(
        "/file",
        "is required: the file to import, as the form's last field",
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportsQuery {
    cursor: Option<String>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportsPage {
    items: Vec<ImportView>,
    next_cursor: Option<String>,
}

/// Your imports, newest first.
#[utoipa::path(get, path = "/imports", tag = "imports", params(ImportsQuery),
    responses((status = 200, body = ImportsPage, description = "A page"),
              (status = 422, body = Problem, description = "A bad cursor or limit")))]
pub(crate) async fn list_imports(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<ImportsQuery>,
) -> ApiResult<Json<ImportsPage>> {
    let limit = crate::cursor::page_limit(q.limit)?;
    let before = q.cursor.as_deref().map(crate::cursor::decode).transpose()?;
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    let items = store::list(&mut tx, before, limit).await?;
    tx.commit().await?;
    let next_cursor = crate::cursor::next(&items, limit, |i| Some((i.created_at, i.id)));
    Ok(Json(ImportsPage { items, next_cursor }))
}

/// One import: its status, progress and, once done, its report.
#[utoipa::path(get, path = "/imports/{id}", tag = "imports", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ImportView, description = "The import"),
              (status = 404, body = Problem, description = "No such import of yours")))]
pub(crate) async fn get_import(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<ImportView>> {
    let id = path_id(&id)?;
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    let view = store::get(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(view))
}
