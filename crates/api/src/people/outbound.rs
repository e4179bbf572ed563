//! `POST /outbound-messages`, `DELETE /outbound-messages/{id}` and
//! `GET /outbound-messages/stats`; the tracking links are `tracking.rs`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use everreach_core::db::tenant::TenantTx;
use everreach_core::people::model::NewMessage;
use everreach_core::people::outbound::{self, GroupBy, Message, StatRow};
use everreach_core::people::tracking::{Tracked, Tracker};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::tracking::{Tracking, tracking};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::domain::Dep;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery};

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageOut {
    message: Message,
    tracking: Tracking,
}

/// Logs a message sent to a person (it also appears on their timeline as
/// `email_sent` or `dm_sent`), and answers its tracking links.
#[utoipa::path(post, path = "/outbound-messages", tag = "outbound-messages", operation_id = "create_outbound_messages", request_body = NewMessage,
    responses((status = 201, body = MessageOut, description = "Logged"),
              (status = 422, body = Problem, description = "Invalid; errors name each field (an unknown person is /person_id)")))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Dep(tracker): Dep<Tracker>,
    user: CurrentUser,
    ApiJson(body): ApiJson<NewMessage>,
) -> ApiResult<(StatusCode, Json<MessageOut>)> {
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    let message = outbound::create(&mut tx, &body).await?;
    tx.commit().await?;
    let t = Tracked {
        user_id: user.id,
        message_id: message.id,
    };
    let tracking = tracking(&tracker, t, &message);
    Ok((StatusCode::CREATED, Json(MessageOut { message, tracking })))
}

/// Deletes a message logged by mistake, with the timeline events it made (sent,
/// opened, clicked); the person's insights are recomputed.
#[utoipa::path(delete, path = "/outbound-messages/{id}", tag = "outbound-messages", operation_id = "delete_outbound_messages",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted"),
              (status = 404, body = Problem, description = "No such message of yours")))]
pub(crate) async fn delete_message(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = crate::extract::path_id(&id)?;
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    outbound::delete(&mut tx, id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// variant (per goal type and variant, the default), goal_type or channel.
    group_by: Option<String>,
    /// Only messages sent at or after this time (RFC 3339).
    since: Option<String>,
    /// Only messages sent before this time (RFC 3339).
    until: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatsOut {
    items: Vec<StatRow>,
}

/// Sent, opened, clicked and replied counts with their rates, per goal type and
/// variant (or per goal type, or channel).
#[utoipa::path(get, path = "/outbound-messages/stats", tag = "outbound-messages", params(StatsQuery),
    responses((status = 200, body = StatsOut, description = "One row per group"),
              (status = 422, body = Problem, description = "An unknown group_by or a bad time")))]
pub(crate) async fn stats(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> ApiResult<Json<StatsOut>> {
    let group_by = match q.group_by.as_deref() {
        None => GroupBy::Variant,
        Some(g) => GroupBy::parse(g).ok_or_else(|| {
            ApiError::invalid("/group_by", "must be variant, goal_type or channel")
        })?,
    };
    let since = crate::cursor::time_param("since", q.since.as_deref())?;
    let until = crate::cursor::time_param("until", q.until.as_deref())?;
    let mut tx = TenantTx::begin_snapshot(&state.db.app, user.id).await?;
    let items = outbound::stats(&mut tx, group_by, since, until).await?;
    tx.commit().await?;
    Ok(Json(StatsOut { items }))
}
