//! `POST /people/{id}/merge`, `POST /people/merges/{id}/undo`, `GET /people/merges`,
//! `GET /people/merge-suggestions`, and the "not the same person" answers
//! (`POST`/`DELETE /people/{id}/not-same`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use everreach_core::db::tenant::TenantTx;
use everreach_core::people::merge::{self, MergeSummary};
use everreach_core::people::suggest::{self, Suggestion};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The person merged into this one (and deleted).
    other_id: Uuid,
    /// Merge even though both have a verified identity on the same channel.
    #[serde(default)]
    force: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MergeOut {
    merge: MergeSummary,
}

/// Merges `other_id` into this person: identities, events, messages, segment
/// memberships and channel records move here in one transaction, blank fields are
/// filled from the other person, the other person is deleted, and the record of the
/// merge (what moved) is kept so it can be undone.
#[utoipa::path(post, path = "/people/{id}/merge", tag = "people", params(("id" = Uuid, Path, description = "The survivor")),
    request_body = MergeRequest,
    responses((status = 200, body = MergeOut, description = "Merged"),
              (status = 404, body = Problem, description = "Either person is not yours"),
              (status = 409, body = Problem, description = "Both have a verified identity on one channel (send force)"),
              (status = 422, body = Problem, description = "A person cannot merge into themselves")))]
pub(crate) async fn merge(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MergeRequest>,
) -> ApiResult<Json<MergeOut>> {
    let survivor = crate::extract::path_id(&id)?;
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    let summary = merge::merge(&mut tx, survivor, body.other_id, body.force).await?;
    tx.commit().await?;
    Ok(Json(MergeOut { merge: summary }))
}

/// Undoes a merge: the merged person comes back with the same id, and every row the
/// merge moved or dropped returns as it was. A merge is undone once, and only while
/// its survivor exists (undo later merges first).
#[utoipa::path(post, path = "/people/merges/{id}/undo", tag = "people", params(("id" = Uuid, Path, description = "The merge")),
    responses((status = 200, body = MergeOut, description = "Undone"),
              (status = 404, body = Problem, description = "No such merge of yours"),
              (status = 409, body = Problem, description = "Already undone, or the survivor is gone")))]
pub(crate) async fn undo(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<MergeOut>> {
    let merge_id = crate::extract::path_id(&id)?;
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    let summary = merge::undo(&mut tx, merge_id).await?;
    tx.commit().await?;
    Ok(Json(MergeOut { merge: summary }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MergesQuery {
    /// Only merges naming this person (as survivor or merged).
    person_id: Option<Uuid>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MergesPage {
    items: Vec<MergeSummary>,
    /// The next page's cursor; null on the last page.
    next_cursor: Option<String>,
}

/// Merges and undos, newest first, with how many rows of each table moved.
#[utoipa::path(get, path = "/people/merges", tag = "people", params(MergesQuery),
    responses((status = 200, body = MergesPage, description = "The records")))]
pub(crate) async fn list_merges(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<MergesQuery>,
) -> ApiResult<Json<MergesPage>> {
    let limit = crate::cursor::page_limit(q.limit)?;
    let before = q.cursor.as_deref().map(crate::cursor::decode).transpose()?;
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    let items = merge::list(&mut tx, q.person_id, before, limit).await?;
    tx.commit().await?;
    let next_cursor = crate::cursor::next(&items, limit, |m| Some((m.created_at, m.id)));
    Ok(Json(MergesPage { items, next_cursor }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuggestionsQuery {
    /// Only pairs scoring at least this (0 to 1, default 0.5).
    #[param(minimum = 0.0, maximum = 1.0)]
    min_score: Option<f64>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SuggestionsOut {
    items: Vec<Suggestion>,
    /// The next page's cursor; null on the last page.
    next_cursor: Option<String>,
}

/// Pairs of people who are probably one human, best first, each with its evidence:
/// strong (the same e-mail in an identity, bio or contact; the same LinkedIn
/// profile; the same name and company) or weak, scored lower (the same handle stem on
/// two networks; similar names). Pairs that both have a verified identity on one
/// channel, and pairs answered "not the same person", are left out. Built in the
/// background within seconds of a change.
#[utoipa::path(get, path = "/people/merge-suggestions", tag = "people", params(SuggestionsQuery),
    responses((status = 200, body = SuggestionsOut, description = "Suggestions"),
              (status = 422, body = Problem, description = "An invalid min_score, limit or cursor")))]
pub(crate) async fn suggestions(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<SuggestionsQuery>,
) -> ApiResult<Json<SuggestionsOut>> {
    let limit = crate::cursor::page_limit(q.limit)?;
    let min_score = q.min_score.unwrap_or(0.5);
    if !(0.0..=1.0).contains(&min_score) {
        return Err(ApiError::invalid("/min_score", "must be from 0 to 1"));
    }
    let after = q
        .cursor
        .as_deref()
        .map(|c| {
            let parts = crate::cursor::decode_key(c, 3)?;
            let bad = || ApiError::invalid("/cursor", "is not a cursor this list gave out");
            Ok::<_, ApiError>((
                parts[0].parse::<f64>().map_err(|_| bad())?,
                parts[1].parse::<Uuid>().map_err(|_| bad())?,
                parts[2].parse::<Uuid>().map_err(|_| bad())?,
            ))
        })
        .transpose()?;
    let mut tx = TenantTx::begin_snapshot(&state.db.app, user.id).await?;
    let items = suggest::page(&mut tx, min_score, after, limit).await?;
    tx.commit().await?;
    let next_cursor = (items.len() as i64 == limit)
        .then(|| items.last())
        .flatten()
        .map(|s| {
            crate::cursor::encode_key(&[
                s.score.to_string(),
                s.person_a.to_string(),
                s.person_b.to_string(),
            ])
        });
    Ok(Json(SuggestionsOut { items, next_cursor }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotSameRequest {
    /// The other person.
    other_id: Uuid,
}

/// Answers a suggestion "not the same person": the pair is never suggested again.
/// Saying it twice is harmless.
#[utoipa::path(post, path = "/people/{id}/not-same", tag = "people", params(("id" = Uuid, Path)),
    request_body = NotSameRequest,
    responses((status = 204, description = "Kept"),
              (status = 404, body = Problem, description = "Either person is not yours"),
              (status = 422, body = Problem, description = "The same person twice")))]
pub(crate) async fn not_same(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NotSameRequest>,
) -> ApiResult<StatusCode> {
    let person = crate::extract::path_id(&id)?;
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    suggest::dismiss(&mut tx, person, body.other_id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes a "not the same person" answer back: the pair may be suggested again.
#[utoipa::path(delete, path = "/people/{id}/not-same/{other_id}", tag = "people",
    params(("id" = Uuid, Path), ("other_id" = Uuid, Path)),
    responses((status = 204, description = "Taken back"),
              (status = 404, body = Problem, description = "No such answer of yours")))]
pub(crate) async fn undo_not_same(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, other)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (person, other) = (
        crate::extract::path_id(&id)?,
        crate::extract::path_id(&other)?,
    );
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    suggest::undismiss(&mut tx, person, other).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
