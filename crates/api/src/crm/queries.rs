//! 001's documented queries as endpoints: `GET /instagram-contacts/health`,
//! `/instagram-contacts/needing-attention`, `/instagram-contacts/weekly-tasks`,
//! `/instagram-messages/search` and `/fit-signals/active`.

use axum::Json;
use axum::extract::State;
use everreach_core::crm::queries::{
    self, ActiveFitSignal, ContactRow, Health, MessageHit, WeeklyTasks,
};
use everreach_core::db::tenant::TenantTx;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::ApiQuery;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HealthQuery {
    /// The contact's Instagram username (`@` and case ignored).
    username: String,
}

/// 001's "relationship health score" of one contact: score, stage, the five
/// components and whole days since the last meaningful touch.
#[utoipa::path(get, path = "/instagram-contacts/health", tag = "instagram-contacts", params(HealthQuery),
    responses((status = 200, body = Health, description = "The contact's health"),
              (status = 404, body = Problem, description = "No contact of yours has that username"),
              (status = 422, body = Problem, description = "Not an Instagram username")))]
pub(crate) async fn contact_health(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<HealthQuery>,
) -> ApiResult<Json<Health>> {
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    let health = queries::health(&mut tx, &q.username).await?;
    tx.commit().await?;
    Ok(Json(health))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AttentionQuery {
    /// Untouched for at least this many days: 1 to 3650, default 30.
    #[param(minimum = 1, maximum = 3650)]
    days: Option<i32>,
    /// 1 to 100, default 10.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

fn bounded<T: PartialOrd + Copy + std::fmt::Display>(
    value: Option<T>,
    default: T,
    (low, high): (T, T),
    field: &str,
) -> ApiResult<T> {
    match value {
        None => Ok(default),
        Some(v) if v >= low && v <= high => Ok(v),
        Some(_) => Err(ApiError::invalid(
            field,
            format!("must be from {low} to {high}"),
        )),
    }
}

/// 001's "contacts needing attention": no meaningful touch for `days` days (or
/// never), best score first.
#[utoipa::path(get, path = "/instagram-contacts/needing-attention", tag = "instagram-contacts", params(AttentionQuery),
    responses((status = 200, body = Vec<ContactRow>, description = "The contacts"),
              (status = 422, body = Problem, description = "days or limit out of range")))]
pub(crate) async fn needing_attention(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<AttentionQuery>,
) -> ApiResult<Json<Vec<ContactRow>>> {
    let days = bounded(q.days, 30, (1, 3650), "/days")?;
    let limit = bounded(q.limit, 10, (1, 100), "/limit")?;
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    let rows = queries::needing_attention(&mut tx, days, limit).await?;
    tx.commit().await?;
    Ok(Json(rows))
}

/// 001's "weekly tasks by score range": 10 contacts scoring 60 and up (micro-wins),
/// 10 at 40–59 (curiosity), 5 under 40 (rewarm), best score first in each.
#[utoipa::path(get, path = "/instagram-contacts/weekly-tasks", tag = "instagram-contacts",
    responses((status = 200, body = WeeklyTasks, description = "The three bands")))]
pub(crate) async fn weekly_tasks(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<WeeklyTasks>> {
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    let tasks = queries::weekly_tasks(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(tasks))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageSearchQuery {
    /// Text the message contains, case ignored (1 to 200 characters; from 3 the
    /// trigram index serves it).
    q: String,
    /// 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

/// 001's "search messages": messages containing `q`, newest first, with the contact's
/// username.
#[utoipa::path(get, path = "/instagram-messages/search", tag = "instagram-messages", params(MessageSearchQuery),
    responses((status = 200, body = Vec<MessageHit>, description = "Matching messages"),
              (status = 422, body = Problem, description = "An empty or over-long q, or a bad limit")))]
pub(crate) async fn search_messages(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<MessageSearchQuery>,
) -> ApiResult<Json<Vec<MessageHit>>> {
    let text = q.q.trim();
    if text.is_empty() || text.chars().count() > 200 || text.contains('\0') {
        return Err(ApiError::invalid(
            "/q",
            "must be 1 to 200 characters of text to find",
        ));
    }
    let limit = bounded(q.limit, 20, (1, 100), "/limit")?;
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    let hits = queries::search_messages(&mut tx, text, limit).await?;
    tx.commit().await?;
    Ok(Json(hits))
}

/// 001's "get fit signals": your active fit signals by product.
#[utoipa::path(get, path = "/fit-signals/active", tag = "instagram-contacts",
    responses((status = 200, body = Vec<ActiveFitSignal>, description = "Active fit signals")))]
pub(crate) async fn active_fit_signals(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<Vec<ActiveFitSignal>>> {
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    let rows = queries::active_fit_signals(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(rows))
}
