//! `POST /instagram-messages/batch`: DM ingestion.

use axum::Json;
use axum::extract::State;
use everreach_core::crm::dm;
use everreach_core::crm::model::{DmInput, DmOutcome};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, BATCH_BODY_LIMIT};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DmBatch {
    /// 1 to 1,000 messages.
    messages: Vec<DmInput>,
}

/// Stores up to 1,000 Instagram DMs in one transaction: all of them or, if any is
/// invalid, none (422 naming each bad field as `/messages/<index>/<field>`). Each is
/// stored once per `(contact, message_text, sent_at)`; the contact and conversation
/// are created as needed; skip patterns drop system lines and spam patterns flag or
/// drop incoming messages; every new message that is not spam appears on the
/// person's timeline as `dm_sent` or `dm_reply`. The answer says per message what
/// became of it.
#[utoipa::path(post, path = "/instagram-messages/batch", tag = "instagram-messages", request_body = DmBatch,
    responses((status = 200, body = DmOutcome, description = "Stored; per-message results in order"),
              (status = 413, body = Problem, description = "The body is over 32 MiB"),
              (status = 422, body = Problem, description = "Invalid messages (nothing stored), or more than 1,000")))]
pub(crate) async fn ingest_dm_batch(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(batch): ApiJson<DmBatch, BATCH_BODY_LIMIT>,
) -> ApiResult<Json<DmOutcome>> {
    Ok(Json(
        dm::ingest_tx(&state.db.app, user.id, &batch.messages).await?,
    ))
}
