//! `POST /person-events` (one), `POST /person-events/batch` (up to 10,000),
//! `DELETE /person-events/{id}` and
//! `GET /people/{id}/timeline`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use everreach_core::DomainError;
use everreach_core::db::tenant::TenantTx;
use everreach_core::people::ingest;
use everreach_core::people::model::{BatchOutcome, EventInput, ItemResult, ItemStatus};
use everreach_core::people::rights;
use everreach_core::people::timeline::{self, TimelineEvent, TimelineFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::extract::{ApiJson, ApiQuery, BATCH_BODY_LIMIT};

/// Strips the `/events/0` prefix the batch rules give a lone event's fields.
fn single(e: DomainError) -> ApiError {
    match e {
        DomainError::Invalid(problems) => ApiError::Invalid(
            problems
                .into_iter()
                .map(|(f, m)| FieldError::new(f.strip_prefix("/events/0").unwrap_or(&f), m))
                .collect(),
        ),
        other => other.into(),
    }
}

/// Records one event about a person, named by `person_id` or by an identity
/// `{channel, handle}` (found, or created with a new person). A repeat of a stored
/// `(channel, event_type, platform_id)` for the person is not stored again (200).
#[utoipa::path(post, path = "/person-events", tag = "person-events", request_body = EventInput,
    responses((status = 201, body = ItemResult, description = "Stored"),
              (status = 200, body = ItemResult, description = "Already stored: nothing changed"),
              (status = 422, body = Problem, description = "Invalid; errors name each field")))]
pub(crate) async fn ingest_one(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(event): ApiJson<EventInput>,
) -> ApiResult<(StatusCode, Json<ItemResult>)> {
    let outcome = ingest::ingest_tx(&state.db.app, user.id, std::slice::from_ref(&event))
        .await
        .map_err(single)?;
    // one event in, one result out (store_checked answers every item)
    let result = outcome.results.into_iter().next().ok_or_else(|| {
        ApiError::internal(std::io::Error::other(
            "ingest answered no result for one event",
        ))
    })?;
    let status = if result.status == ItemStatus::Created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(result)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBatch {
    /// 1 to 10,000 events.
    events: Vec<EventInput>,
}

/// Records up to 10,000 events in one transaction: all of them or, if any is
/// invalid, none (422 naming each bad field as `/events/<index>/<field>`). The answer
/// says per item whether it was stored or was a duplicate, and which person it went
/// to. Each person touched gets one insight recompute queued.
#[utoipa::path(post, path = "/person-events/batch", tag = "person-events", request_body = EventBatch,
    responses((status = 200, body = BatchOutcome, description = "Stored; per-item results in order"),
              (status = 413, body = Problem, description = "The body is over 32 MiB"),
              (status = 422, body = Problem, description = "Invalid items (nothing stored) or more than 10,000")))]
pub(crate) async fn ingest_batch(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(batch): ApiJson<EventBatch, BATCH_BODY_LIMIT>,
) -> ApiResult<Json<BatchOutcome>> {
    // the count (at most 10,000) is one of check_batch's rules
    Ok(Json(
        ingest::ingest_tx(&state.db.app, user.id, &batch.events).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TimelineQuery {
    /// Only this channel (email, instagram, …, site).
    channel: Option<String>,
    /// Only these event types, comma-separated (e.g. `dm_reply,commented`).
    event_type: Option<String>,
    /// Only events at or after this time (RFC 3339).
    since: Option<String>,
    /// Only events before this time (RFC 3339).
    until: Option<String>,
    cursor: Option<String>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimelinePage {
    items: Vec<TimelineEvent>,
    /// `null` on the last page.
    next_cursor: Option<String>,
}

/// A person's events, newest first, a page at a time.
#[utoipa::path(get, path = "/people/{id}/timeline", tag = "people", params(("id" = uuid::Uuid, Path), TimelineQuery),
    responses((status = 200, body = TimelinePage, description = "A page"),
              (status = 404, body = Problem, description = "No such person of yours"),
              (status = 422, body = Problem, description = "An invalid filter")))]
pub(crate) async fn timeline(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<TimelineQuery>,
) -> ApiResult<Json<TimelinePage>> {
    let person_id = crate::extract::path_id(&id)?;
    let limit = crate::cursor::page_limit(q.limit)?;
    let channel = q
        .channel
        .as_deref()
        .map(|c| {
            everreach_core::people::model::EventChannel::parse(c)
                .map(|c| c.as_str().to_string())
                .map_err(|e| ApiError::invalid("/channel", e))
        })
        .transpose()?;
    let filter = TimelineFilter {
        channel,
        event_types: q
            .event_type
            .as_deref()
            .map(|t| {
                t.split(',')
                    .map(|s| s.trim().to_ascii_lowercase())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        since: crate::cursor::time_param("since", q.since.as_deref())?,
        until: crate::cursor::time_param("until", q.until.as_deref())?,
        after: q
            .cursor
            .as_deref()
            .map(crate::cursor::decode_as::<i64>)
            .transpose()?,
        limit,
    };
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    let items = timeline::page(&mut tx, person_id, &filter).await?;
    if items.is_empty() && !rights::exists(&mut tx, person_id).await? {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    let next_cursor = crate::cursor::next(&items, limit, |e| Some((e.occurred_at, e.id)));
    Ok(Json(TimelinePage { items, next_cursor }))
}

/// Deletes one event (a wrong import, a test message); the person's insights are
/// recomputed. Events are not edited: delete and ingest the corrected one.
#[utoipa::path(delete, path = "/person-events/{id}", tag = "person-events", operation_id = "delete_person_events",
    params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted"),
              (status = 404, body = Problem, description = "No such event of yours")))]
pub(crate) async fn delete_event(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: i64 = id.parse().map_err(|_| ApiError::NotFound)?;
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    ingest::delete_event(&mut tx, id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
