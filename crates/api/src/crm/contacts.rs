//! `GET /instagram-contacts/{id}/score` and `GET /instagram-contacts/{id}/next-best-action`.

use axum::Json;
use axum::extract::{Path, State};
use everreach_core::crm::nba::NextBestAction;
use everreach_core::crm::score::{self, ScoreView};
use everreach_core::db::tenant::TenantTx;

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiResult, Problem};
use crate::extract::path_id;

/// The contact's Revio score: each of the five components (0–20) with why and the
/// rows behind it (messages, card fields, value-delivered entries, trust and fit
/// signals), their sum, the stage the evidence reaches and the one shown (a pinned
/// stage wins), and the stage history.
#[utoipa::path(get, path = "/instagram-contacts/{id}/score", tag = "instagram-contacts",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ScoreView, description = "The score, explained"),
              (status = 404, body = Problem, description = "No such contact of yours")))]
pub(crate) async fn contact_score(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<ScoreView>> {
    let id = path_id(&id)?;
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    let view = score::explain(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(view))
}

/// What to say next: the lane (friendship 80+, service 60–79, curiosity 40–59,
/// rewarm under 40; offer only with a repeating fit signal, trust shown and explicit
/// consent; retention after a purchase), the best of your active templates for the
/// contact's stage filled from their context card, and the reason why.
#[utoipa::path(get, path = "/instagram-contacts/{id}/next-best-action", tag = "instagram-contacts",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = NextBestAction, description = "The suggestion (no text when the lane has no active template)"),
              (status = 404, body = Problem, description = "No such contact of yours")))]
pub(crate) async fn contact_next_best_action(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<NextBestAction>> {
    let id = path_id(&id)?;
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    let action = score::next_best_action(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(action))
}
