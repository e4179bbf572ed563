//! The outreach queue (core in `everreach_core::crm::outreach`): `POST /outreach`
//! (queue a DM), `GET /outreach` (the queue, newest first, by status, with why each
//! open message waits), `GET /outreach/{id}`, `POST /outreach/{id}/cancel`,
//! `POST /outreach/{id}/retry` (a failed one), and `GET`/`PUT /outreach/settings`
//! (the daily cap and quiet hours, with today's use). Sending is the
//! `crm.outreach.send` job's (`everreach_jobs::crm`). The clock is read here, once per
//! request, and handed to the core.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use chrono::Utc;
use everreach_core::crm::outreach::{
    self, ListFilter, NewOutreach, OutreachItem, SettingsInput, SettingsView, Status,
};
use everreach_core::db::tenant::TenantTx;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::path_id;
use crate::extract::{ApiJson, ApiQuery};

/// Queues a DM to one of your contacts (by `contact_id` or `username`; an unknown
/// contact is a 422 naming the field — nothing is created). It goes in priority order
/// (1 first, default 5), not before `scheduled_at`, within your daily cap and outside
/// your quiet hours; `waiting_for` and `next_attempt_at` say what it waits for.
#[utoipa::path(post, path = "/outreach", tag = "outreach", request_body = NewOutreach,
    responses((status = 201, body = OutreachItem, description = "Queued (pending)",
               headers(("Location" = String, description = "The queued message"))),
              (status = 422, body = Problem, description = "Invalid; errors name each field (an unknown contact is /contact_id or /username)")))]
pub(crate) async fn enqueue(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<NewOutreach>,
) -> ApiResult<(
    StatusCode,
    [(header::HeaderName, String); 1],
    Json<OutreachItem>,
)> {
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    let item = outreach::enqueue(&mut tx, &body, Utc::now()).await?;
    tx.commit().await?;
    let location = format!("/api/v1/outreach/{}", item.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(item),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutreachQuery {
    /// pending, scheduled, sent, failed or cancelled.
    status: Option<String>,
    cursor: Option<String>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutreachPage {
    items: Vec<OutreachItem>,
    next_cursor: Option<String>,
}

/// Your outreach queue, newest first (optionally one status), each open message
/// with what it waits for.
#[utoipa::path(get, path = "/outreach", tag = "outreach", params(OutreachQuery),
    responses((status = 200, body = OutreachPage, description = "A page"),
              (status = 422, body = Problem, description = "An unknown status, a bad cursor or limit")))]
pub(crate) async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<OutreachQuery>,
) -> ApiResult<Json<OutreachPage>> {
    let limit = crate::cursor::page_limit(q.limit)?;
    let status = q
        .status
        .as_deref()
        .map(|s| {
            Status::parse(s.trim()).ok_or_else(|| {
                ApiError::invalid(
                    "/status",
                    "must be one of pending, scheduled, sent, failed, cancelled",
                )
            })
        })
        .transpose()?;
    let before = q.cursor.as_deref().map(crate::cursor::decode).transpose()?;
    let filter = ListFilter {
        status,
        before,
        limit,
    };
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    let items = outreach::list(&mut tx, &filter, Utc::now()).await?;
    tx.commit().await?;
    let next_cursor = crate::cursor::next(&items, limit, |i| Some((i.created_at, i.id)));
    Ok(Json(OutreachPage { items, next_cursor }))
}

/// One queued message, with what it waits for.
#[utoipa::path(get, path = "/outreach/{id}", tag = "outreach", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = OutreachItem, description = "The message"),
              (status = 404, body = Problem, description = "No such message of yours")))]
pub(crate) async fn get_one(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<OutreachItem>> {
    let id = path_id(&id)?;
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    let item = outreach::get(&mut tx, id, Utc::now()).await?;
    tx.commit().await?;
    Ok(Json(item))
}

/// Cancels a pending or scheduled message. One being sent is waited for; a message
/// already sent, failed or cancelled is a 409 naming its status.
#[utoipa::path(post, path = "/outreach/{id}/cancel", tag = "outreach", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = OutreachItem, description = "Cancelled"),
              (status = 404, body = Problem, description = "No such message of yours"),
              (status = 409, body = Problem, description = "Not pending or scheduled: the detail names its status")))]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<OutreachItem>> {
    let id = path_id(&id)?;
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    let item = outreach::cancel(&mut tx, id, Utc::now()).await?;
    tx.commit().await?;
    Ok(Json(item))
}

/// Puts a failed message back in the queue (pending; its attempts and error
/// cleared). Any other status is a 409 naming it.
#[utoipa::path(post, path = "/outreach/{id}/retry", tag = "outreach", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = OutreachItem, description = "Pending again"),
              (status = 404, body = Problem, description = "No such message of yours"),
              (status = 409, body = Problem, description = "Not failed: the detail names its status")))]
pub(crate) async fn retry(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<OutreachItem>> {
    let id = path_id(&id)?;
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    let item = outreach::retry(&mut tx, id, Utc::now()).await?;
    tx.commit().await?;
    Ok(Json(item))
}

/// Your daily cap and quiet hours (20 a day, quiet 21:00–08:00 until you change
/// them), in your time zone, with today's use: sent, claimed, remaining, whether it
/// is quiet now.
#[utoipa::path(get, path = "/outreach/settings", tag = "outreach",
    responses((status = 200, body = SettingsView, description = "Limits and today's use")))]
pub(crate) async fn get_settings(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<SettingsView>> {
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    let view = outreach::settings(&mut tx, Utc::now()).await?;
    tx.commit().await?;
    Ok(Json(view))
}

/// Sets your daily cap (0 pauses sending) and quiet hours (local `HH:MM`; a window
/// may cross midnight; equal times: none). Messages already claimed are still sent.
#[utoipa::path(put, path = "/outreach/settings", tag = "outreach", request_body = SettingsInput,
    responses((status = 200, body = SettingsView, description = "Saved; today's use"),
              (status = 422, body = Problem, description = "Invalid; errors name each field")))]
pub(crate) async fn put_settings(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<SettingsInput>,
) -> ApiResult<Json<SettingsView>> {
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    let view = outreach::put_settings(&mut tx, &body, Utc::now()).await?;
    tx.commit().await?;
    Ok(Json(view))
}
