//! Operational endpoints: `/healthz` (the process answers) and `/readyz` (the database
//! answers through the app role and every migration is applied).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use everreach_core::db::migrate;
use serde_json::json;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    let database = sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(&state.db.app)
        .await;
    let migrations = migrate::is_current(&state.db.admin).await;
    match (database, migrations) {
        (Ok(_), Ok(true)) => Json(json!({ "status": "ready" })).into_response(),
        (db, mig) => {
            if let Err(e) = &db {
                tracing::warn!(error = %e, "readyz: database unreachable");
            }
            let detail = match (db.is_ok(), mig) {
                (false, _) => "the database does not answer",
                (true, Ok(false)) => "migrations are pending: run `everreach migrate`",
                (true, _) => "the migration history cannot be read",
            };
            let body = json!({
                "type": "https://everreach.dev/problems/not-ready",
                "title": "Not ready",
                "status": 503,
                "detail": detail,
            });
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(axum::http::header::CONTENT_TYPE, "application/problem+json")],
                body.to_string(),
            )
                .into_response()
        }
    }
}
