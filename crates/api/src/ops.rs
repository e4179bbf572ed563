//! Operational endpoints: `/healthz` (the process answers), `/readyz` (the database
//! answers through the app role and every migration is applied) and `/metrics`.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use everreach_core::db::migrate;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiError;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(crate::observe::metrics))
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "ops", security(), responses((status = 200, body = String, description = "OK")))]
pub(crate) async fn healthz() -> &'static str {
    "ok"
}

/// The database answers through the app role and every migration is applied.
#[utoipa::path(get, path = "/readyz", tag = "ops", security(),
    responses((status = 200, description = "ready"), (status = 503, body = crate::error::Problem, description = "Not ready")))]
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    let database = sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(&state.db.app)
        .await;
    if let Err(e) = &database {
        tracing::warn!(error = %e, "readyz: database unreachable");
        return ApiError::Unavailable("the database does not answer".into()).into_response();
    }
    match migrate::is_current(&state.db.admin).await {
        Ok(true) => Json(json!({ "status": "ready" })).into_response(),
        Ok(false) => {
            ApiError::Unavailable("migrations are pending: run `everreach migrate`".into())
                .into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "readyz: migration history unreadable");
            ApiError::Unavailable("the migration history cannot be read".into()).into_response()
        }
    }
}
