//! Segments (core in `everreach_core::segments`) and the domain's registration
//! ([`DOMAIN`]): a definition in the segment language (docs/SEGMENTS.md) is
//! previewed without saving (`POST /segments/preview`: the count and the first
//! members), saved with its members filled (`POST /segments`, `PATCH
//! /segments/{id}`: every error at its JSON pointer under `/definition`, nothing
//! saved), refreshed by a diff (`POST /segments/{id}/refresh`) and listed
//! (`GET /segments/{id}/members`); their insights, organic and paid apart, are read
//! and recomputed at `/segments/{id}/insights`. `GET /segments/schema` serves the
//! language as a JSON Schema; the jobs that keep members and insights current are
//! `everreach_jobs::segments`. Membership is materialised from the definition only: the generic
//! writes of `segment_members` and `segment_insights` are refused.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use chrono::{DateTime, Utc};
use everreach_core::db::tenant::TenantTx;
use everreach_core::jobs::JobError;
use everreach_core::segments::insights::{self, SegmentInsight};
use everreach_core::segments::store::{
    self, MemberView, Preview, Refreshed, SegmentInput, SegmentPatch, SegmentView,
};
use everreach_core::segments::{Scope, json_schema, refresh};
use everreach_jobs::Registry;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::CurrentUser;
use crate::domain::{Deps, Domain, DomainState, GenericOp, Handling, Op};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery, path_id};

pub const DOMAIN: Domain = Domain {
    name: "segments",
    tags: &[(
        "segments",
        "Segments: live groups of people by a definition (docs/SEGMENTS.md), previewed, saved and kept current",
    )],
    signed_in_routes,
    public_routes: OpenApiRouter::new,
    generic: &[
        GenericOp {
            resource: "segments",
            op: Op::Create,
            handling: Handling::TakenOver,
        },
        GenericOp {
            resource: "segments",
            op: Op::Update,
            handling: Handling::TakenOver,
        },
        GenericOp {
            resource: "segments",
            op: Op::Delete,
            handling: Handling::TakenOver,
        },
        GenericOp {
            resource: "segment-members",
            op: Op::Create,
            handling: Handling::Refused(
                "members follow the segment's definition: change it (PATCH /api/v1/segments/{id}) or refresh (POST /api/v1/segments/{id}/refresh)",
            ),
        },
        GenericOp {
            resource: "segment-members",
            op: Op::Update,
            handling: Handling::Refused(
                "members follow the segment's definition: change it with PATCH /api/v1/segments/{id}",
            ),
        },
        GenericOp {
            resource: "segment-members",
            op: Op::Delete,
            handling: Handling::Refused(
                "members follow the segment's definition: to leave someone out, add a `not` to it (PATCH /api/v1/segments/{id})",
            ),
        },
        GenericOp {
            resource: "segment-insights",
            op: Op::Create,
            handling: Handling::Refused(
                "segment insights are computed from the members' engagement",
            ),
        },
        GenericOp {
            resource: "segment-insights",
            op: Op::Update,
            handling: Handling::Refused(
                "segment insights are computed from the members' engagement",
            ),
        },
    ],
    table_rules: &[],
    register_jobs,
    sends_to: &[refresh::QUEUE, refresh::HOURLY_QUEUE],
    state,
};

/// The domain keeps no state of its own.
#[derive(Debug)]
struct Segments;

fn state(_: &Deps<'_>) -> DomainState {
    Arc::new(Segments)
}

/// The hourly refresh of every segment and its insights (`everreach_jobs::segments`).
fn register_jobs(registry: &mut Registry) -> Result<(), JobError> {
    everreach_jobs::segments::register(registry)
}

fn signed_in_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(preview_segment))
        .routes(routes!(segment_schema))
        .routes(routes!(create_segment))
        .routes(routes!(patch_segment, delete_segment))
        .routes(routes!(refresh_segment))
        .routes(routes!(segment_members_page))
        .routes(routes!(segment_insights_rows, recompute_segment_insights))
}

/// A definition to preview.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// The definition (docs/SEGMENTS.md).
    #[schema(schema_with = store::definition_schema)]
    pub definition: serde_json::Value,
    /// How many members to list (0–100, default 20).
    pub limit: Option<i64>,
}

/// Who a definition matches now, without saving anything: the count and the first
/// members by name. A bad definition is a 422 naming each bad node.
#[utoipa::path(post, path = "/segments/preview", tag = "segments", request_body = PreviewRequest,
    responses((status = 200, body = Preview, description = "The count and the first members"),
              (status = 422, body = Problem, description = "The definition is wrong: each error names its JSON pointer under /definition")))]
pub(crate) async fn preview_segment(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<PreviewRequest>,
) -> ApiResult<Json<Preview>> {
    let mut tx = TenantTx::begin_snapshot(&state.db.app, user.id).await?;
    let preview = store::preview(&mut tx, &body.definition, body.limit.unwrap_or(20)).await?;
    tx.commit().await?;
    Ok(Json(preview))
}

/// The segment language as a JSON Schema (draft 2020-12).
#[utoipa::path(get, path = "/segments/schema", tag = "segments",
    responses((status = 200, body = Object, description = "The JSON Schema of a definition")))]
pub(crate) async fn segment_schema(_user: CurrentUser) -> Json<serde_json::Value> {
    Json(json_schema())
}

/// Saves a segment and fills its members.
#[utoipa::path(post, path = "/segments", tag = "segments", request_body = SegmentInput,
    responses((status = 201, body = SegmentView, description = "Saved, with its member count",
               headers(("Location" = String, description = "The segment"))),
              (status = 422, body = Problem, description = "A field is wrong: /name, /description, or the definition's node under /definition")))]
pub(crate) async fn create_segment(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<SegmentInput>,
) -> ApiResult<(
    StatusCode,
    [(header::HeaderName, String); 1],
    Json<SegmentView>,
)> {
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    let segment = store::create(&mut tx, &body).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/segments/{}", segment.id))],
        Json(segment),
    ))
}

/// Changes a segment's name, description or definition; its members are refreshed.
#[utoipa::path(patch, path = "/segments/{id}", tag = "segments", params(("id" = uuid::Uuid, Path)),
    request_body = SegmentPatch,
    responses((status = 200, body = SegmentView, description = "Saved, members refreshed"),
              (status = 404, body = Problem, description = "No such segment of yours"),
              (status = 422, body = Problem, description = "A field is wrong (a definition naming this segment again is a cycle)")))]
pub(crate) async fn patch_segment(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SegmentPatch>,
) -> ApiResult<Json<SegmentView>> {
    let id = path_id(&id)?;
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    let segment = store::patch(&mut tx, id, &body).await?;
    tx.commit().await?;
    Ok(Json(segment))
}

/// Deletes a segment with its members and insights.
#[utoipa::path(delete, path = "/segments/{id}", tag = "segments", params(("id" = uuid::Uuid, Path)),
    responses((status = 204, description = "Deleted"),
              (status = 404, body = Problem, description = "No such segment of yours"),
              (status = 409, body = Problem, description = "Another segment's definition uses it: the detail names them")))]
pub(crate) async fn delete_segment(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = path_id(&id)?;
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    store::delete(&mut tx, id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Brings a segment's members up to date now (people who match enter, people who
/// no longer do leave, the others keep when they entered).
#[utoipa::path(post, path = "/segments/{id}/refresh", tag = "segments", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Refreshed, description = "Who entered and left"),
              (status = 404, body = Problem, description = "No such segment of yours")))]
pub(crate) async fn refresh_segment(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Refreshed>> {
    let id = path_id(&id)?;
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    let done = store::refresh(&mut tx, id, Scope::All).await?;
    tx.commit().await?;
    Ok(Json(done))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MembersQuery {
    /// Page size (1–500, default 50).
    pub limit: Option<i64>,
    /// The `added_at` of the last member of the previous page.
    pub before_added_at: Option<DateTime<Utc>>,
    /// The `person_id` of the last member of the previous page.
    pub before_person_id: Option<uuid::Uuid>,
}

/// The segment's members, newest first.
#[utoipa::path(get, path = "/segments/{id}/members", tag = "segments",
    params(("id" = uuid::Uuid, Path), MembersQuery),
    responses((status = 200, body = Vec<MemberView>, description = "A page of members"),
              (status = 404, body = Problem, description = "No such segment of yours"),
              (status = 422, body = Problem, description = "A parameter is wrong")))]
pub(crate) async fn segment_members_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<MembersQuery>,
) -> ApiResult<Json<Vec<MemberView>>> {
    let id = path_id(&id)?;
    let before = match (q.before_added_at, q.before_person_id) {
        (Some(at), Some(person)) => Some((at, person)),
        (None, None) => None,
        _ => {
            return Err(ApiError::invalid(
                "/before_added_at",
                "give before_added_at and before_person_id together (the last member of the previous page)",
            ));
        }
    };
    let mut tx = TenantTx::begin_snapshot(&state.db.app, user.id).await?;
    let page = store::members(&mut tx, id, q.limit.unwrap_or(50), before).await?;
    tx.commit().await?;
    Ok(Json(page))
}

/// The segment's insights: one row per traffic type (organic, then paid), each from
/// that traffic type's events alone; empty until first computed (hourly, or `POST`).
#[utoipa::path(get, path = "/segments/{id}/insights", tag = "segments", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Vec<SegmentInsight>, description = "Organic and paid rows"),
              (status = 404, body = Problem, description = "No such segment of yours")))]
pub(crate) async fn segment_insights_rows(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<SegmentInsight>>> {
    let id = path_id(&id)?;
    let mut tx = TenantTx::begin_snapshot(&state.db.app, user.id).await?;
    let rows = insights::for_segment(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(rows))
}

/// Recomputes the segment's insights now from its current members' events.
#[utoipa::path(post, path = "/segments/{id}/insights", tag = "segments", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Vec<SegmentInsight>, description = "The new organic and paid rows"),
              (status = 404, body = Problem, description = "No such segment of yours")))]
pub(crate) async fn recompute_segment_insights(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<SegmentInsight>>> {
    let id = path_id(&id)?;
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    let rows = insights::recompute(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(rows))
}
