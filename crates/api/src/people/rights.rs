//! `GET /people/{id}/export` and `DELETE /people/{id}`: one person's data rights.

use axum::Json;
use axum::extract::{Path, State};
use everreach_core::db::tenant::TenantTx;
use everreach_core::people::rights;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiResult, Problem};

/// Everything held about one person, across every table: their row, identities,
/// events, insights, segment memberships, messages, channel records (with their
/// conversations, DMs, e-mail links), merge records and domain events.
#[utoipa::path(get, path = "/people/{id}/export", tag = "people", operation_id = "export_person", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Object, description = "{format, exported_at, person, tables: {table: [rows]}}"),
              (status = 404, body = Problem, description = "No such person of yours")))]
pub(crate) async fn export(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let person_id = crate::extract::path_id(&id)?;
    let mut tx = TenantTx::begin_snapshot(&state.db.app, user.id).await?;
    let out = rights::export(&mut tx, person_id).await?;
    tx.commit().await?;
    Ok(Json(out))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Erased {
    /// Rows removed per table, and audit rows scrubbed.
    #[schema(value_type = Object)]
    removed: Map<String, Value>,
}

/// Erases a person and every row about them (the same set the export shows); the
/// audit log keeps that it happened, not what they were.
#[utoipa::path(delete, path = "/people/{id}", tag = "people", operation_id = "erase_person", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Erased, description = "Erased; counts per table"),
              (status = 404, body = Problem, description = "No such person of yours")))]
pub(crate) async fn erase(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Erased>> {
    let person_id = crate::extract::path_id(&id)?;
    let mut tx = TenantTx::begin(&state.db.app, user.id).await?;
    let removed = rights::erase(&mut tx, person_id).await?;
    tx.commit().await?;
    Ok(Json(Erased { removed }))
}
