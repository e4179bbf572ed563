//! `GET /outbound-messages/{id}/tracking` (a message's signed links) and the public
//! tracking pixel and click redirect under `/track`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use everreach_core::db::tenant::TenantTx;
use everreach_core::people::outbound::{self, Message};
use everreach_core::people::tracking::{self, Tracked, Tracker, links_in};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::CurrentUser;
use crate::domain::Dep;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::ApiQuery;

#[derive(Debug, Serialize, ToSchema)]
pub struct Tracking {
    /// Put this in the message as a 1×1 image: loading it records the open.
    open_url: String,
    /// For each link in the body, the signed link to send instead.
    click_urls: BTreeMap<String, String>,
}

/// The open pixel of message `t` and a signed click link for each link in `m`'s body.
pub(super) fn tracking(tracker: &Tracker, t: Tracked, m: &Message) -> Tracking {
    let click_urls = m
        .body
        .as_deref()
        .map(links_in)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|l| tracker.click_url(t, &l).map(|u| (l, u)))
        .collect();
    Tracking {
        open_url: tracker.open_url(t),
        click_urls,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinksQuery {
    /// Also sign this destination (an absolute http(s) URL).
    url: Option<String>,
}

/// The tracking links of a message: its open pixel, a signed link for each link in
/// its body, and for `?url=` if given — for writers only, and only a link of the
/// message or a URL on a domain of the tenant's allowlist (`/tracking-domains`).
#[utoipa::path(get, path = "/outbound-messages/{id}/tracking", tag = "outbound-messages",
    params(("id" = Uuid, Path), LinksQuery),
    responses((status = 200, body = Tracking, description = "The links"),
              (status = 403, body = Problem, description = "A viewer asked to sign a destination"),
              (status = 404, body = Problem, description = "No such message of yours"),
              (status = 422, body = Problem, description = "url is not an absolute http(s) URL, or neither in the message nor on an allowed domain")))]
pub(crate) async fn links(
    State(state): State<AppState>,
    Dep(tracker): Dep<Tracker>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<LinksQuery>,
) -> ApiResult<Json<Tracking>> {
    let id = crate::extract::path_id(&id)?;
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    let message = outbound::get(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let t = Tracked {
        user_id: user.id,
        message_id: id,
    };
    let mut out = tracking(&tracker, t, &message);
    if let Some(url) = q.url {
        if !user.role.can_write() {
            tx.rollback().await?;
            return Err(ApiError::Forbidden(
                "signing a destination is for members who can write; viewers can read the message's own links".into(),
            ));
        }
        let signed = tracker.click_url(t, &url).ok_or_else(|| {
            ApiError::invalid(
                "/url",
                "must be an absolute http(s) URL such as https://example.com/post",
            )
        })?;
        if !tracking::may_sign(&mut tx, message.body.as_deref(), &url).await? {
            return Err(ApiError::invalid(
                "/url",
                "is neither a link in this message nor on a domain of your tracking allowlist: add its domain with POST /api/v1/tracking-domains",
            ));
        }
        out.click_urls.insert(url, signed);
    }
    tx.commit().await?;
    Ok(Json(out))
}

/// A transparent 1×1 GIF.
const PIXEL: [u8; 43] = [
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// The open pixel: records the first open of the message and answers a transparent
/// GIF. A token that was not signed here is a 404.
#[utoipa::path(get, path = "/track/open/{token}", tag = "tracking", params(("token" = String, Path)),
    responses((status = 200, content_type = "image/gif", description = "The pixel"),
              (status = 404, body = Problem, description = "Not a tracking token of this installation"),
              (status = 429, body = Problem, description = "Too many requests from this client")))]
pub(crate) async fn track_open(
    State(state): State<AppState>,
    Dep(tracker): Dep<Tracker>,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    let t = tracker.verify_open(&token).ok_or(ApiError::NotFound)?;
    let mut tx = tracking::begin_recording(&state.db.app, t.user_id).await?;
    tracking::record_open(&mut tx, t.message_id).await?;
    tx.commit().await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/gif"),
            (header::CACHE_CONTROL, "no-store, max-age=0"),
        ],
        PIXEL,
    )
        .into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClickQuery {
    /// The destination the link was signed for.
    u: String,
}

/// The click redirect: records the first click (and an open, if none was seen) and
/// redirects to the destination the link was signed for. Any other destination, or a
/// token not signed here, is a 404: this is not an open redirect.
#[utoipa::path(get, path = "/track/click/{token}", tag = "tracking", params(("token" = String, Path), ClickQuery),
    responses((status = 302, description = "To the destination"),
              (status = 404, body = Problem, description = "Not a tracking link of this installation"),
              (status = 429, body = Problem, description = "Too many requests from this client")))]
pub(crate) async fn track_click(
    State(state): State<AppState>,
    Dep(tracker): Dep<Tracker>,
    Path(token): Path<String>,
    ApiQuery(q): ApiQuery<ClickQuery>,
) -> ApiResult<Response> {
    let t = tracker
        .verify_click(&token, &q.u)
        .ok_or(ApiError::NotFound)?;
    let mut tx = tracking::begin_recording(&state.db.app, t.user_id).await?;
    tracking::record_click(&mut tx, t.message_id, &q.u).await?;
    tx.commit().await?;
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, q.u.as_str()),
            (header::CACHE_CONTROL, "no-store"),
        ],
    )
        .into_response())
}
