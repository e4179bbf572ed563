//! `/api/v1/jobs`: a company admin's view of the background jobs acting for the
//! company's members, with retry and cancel. Installation-wide jobs (maintenance)
//! are the operator's, through `everreach jobs`.

use axum::Json;
use axum::extract::{Path, State};
use everreach_core::db::tenant;
use everreach_core::jobs::admin::{self, JobFilter, JobRow, STATES};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::ApiQuery;

pub fn signed_in_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_jobs))
        .routes(routes!(retry_job))
        .routes(routes!(cancel_job))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobsQuery {
    /// Queue name.
    queue: Option<String>,
    /// created, retry, active, completed, expired, cancelled or failed.
    state: Option<String>,
    cursor: Option<String>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobsPage {
    #[schema(value_type = Vec<Object>)]
    items: Vec<JobRow>,
    next_cursor: Option<String>,
}

/// The company's jobs, newest first (admins only).
#[utoipa::path(get, path = "/jobs", tag = "jobs", params(JobsQuery),
    responses((status = 200, body = JobsPage, description = "A page"), (status = 403, body = Problem, description = "Not an admin"),
              (status = 422, body = Problem, description = "An invalid filter")))]
pub(crate) async fn list_jobs(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<JobsQuery>,
) -> ApiResult<Json<JobsPage>> {
    user.require_admin()?;
    let limit = crate::cursor::page_limit(q.limit)?;
    if let Some(s) = &q.state
        && !STATES.contains(&s.as_str())
    {
        return Err(ApiError::invalid(
            "/state",
            format!("must be one of {}", STATES.join(", ")),
        ));
    }
    let before = q.cursor.as_deref().map(crate::cursor::decode).transpose()?;
    let filter = JobFilter {
        name: q.queue,
        state: q.state,
        company_id: Some(user.company_id),
        before,
    };
    let mut tx = tenant::begin(&state.db.app, user.id).await?;
    let items = admin::list(&mut tx, &filter, limit).await?;
    tx.commit().await?;
    let next_cursor = crate::cursor::next(&items, limit, |j| j.created_on.map(|t| (t, j.id)));
    Ok(Json(JobsPage { items, next_cursor }))
}

async fn own_job(state: &AppState, user: &CurrentUser, id: &str) -> ApiResult<Uuid> {
    user.require_admin()?;
    let id = Uuid::parse_str(id).map_err(|_| ApiError::NotFound)?;
    let mut tx = tenant::begin(&state.db.app, user.id).await?;
    let found = admin::find(&mut tx, id, Some(user.company_id)).await?;
    tx.commit().await?;
    found.map(|j| j.id).ok_or(ApiError::NotFound)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobOut {
    #[schema(value_type = Object)]
    job: JobRow,
}

async fn reread(state: &AppState, user: &CurrentUser, id: Uuid) -> ApiResult<Json<JobOut>> {
    let mut tx = tenant::begin(&state.db.app, user.id).await?;
    let job = admin::find(&mut tx, id, Some(user.company_id))
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(Json(JobOut { job }))
}

/// Puts a failed, expired or cancelled job back in its queue.
#[utoipa::path(post, path = "/jobs/{id}/retry", tag = "jobs", params(("id" = Uuid, Path)),
    responses((status = 200, body = JobOut, description = "Queued again"), (status = 404, body = Problem, description = "No such job of your company"),
              (status = 409, body = Problem, description = "The job has not finished")))]
pub(crate) async fn retry_job(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<JobOut>> {
    let id = own_job(&state, &user, &id).await?;
    if !everreach_core::jobs::retry(&state.db.app, id).await? {
        return Err(ApiError::Conflict {
            field: None,
            detail: "only a failed, expired or cancelled job can be retried".into(),
        });
    }
    reread(&state, &user, id).await
}

/// Cancels a job that has not finished.
#[utoipa::path(post, path = "/jobs/{id}/cancel", tag = "jobs", params(("id" = Uuid, Path)),
    responses((status = 200, body = JobOut, description = "Cancelled"), (status = 404, body = Problem, description = "No such job of your company"),
              (status = 409, body = Problem, description = "The job has finished")))]
pub(crate) async fn cancel_job(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<JobOut>> {
    let id = own_job(&state, &user, &id).await?;
    if !everreach_core::jobs::cancel(&state.db.app, id).await? {
        return Err(ApiError::Conflict {
            field: None,
            detail: "a finished job cannot be cancelled".into(),
        });
    }
    reread(&state, &user, id).await
}
