//! The people graph's routes (seed 000; core in `everreach_core::people`):
//! event ingestion and timelines (`events.rs`), merges and suggestions
//! (`merge.rs`), our messages and their tracking links (`outbound.rs`), and one
//! person's export and erasure (`rights.rs`). Plain reads and edits of `people`,
//! `identities`, `person-events` and `outbound-messages` stay generic resources; the
//! generic operations these routes take over are listed in [`REPLACED`].

mod events;
mod merge;
mod outbound;
mod rights;

use axum::extract::DefaultBodyLimit;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::error::ApiError;

/// Generic resource operations served here instead (see `resources::Replaced`).
pub const REPLACED: &[(&str, &str)] = &[
    ("person-events", "create"),
    ("outbound-messages", "create"),
    ("people", "delete"),
];

pub fn signed_in_routes() -> OpenApiRouter<AppState> {
    let batch = OpenApiRouter::new()
        .routes(routes!(events::ingest_batch))
        .layer(DefaultBodyLimit::max(crate::extract::BATCH_BODY_LIMIT));
    OpenApiRouter::new()
        .routes(routes!(events::ingest_one))
        .merge(batch)
        .routes(routes!(events::timeline))
        .routes(routes!(merge::merge))
        .routes(routes!(merge::undo))
        .routes(routes!(merge::list_merges))
        .routes(routes!(merge::suggestions))
        .routes(routes!(outbound::create))
        .routes(routes!(outbound::stats))
        .routes(routes!(outbound::links))
        .routes(routes!(rights::export))
        .routes(routes!(rights::erase))
}

/// The tracking pixel and click redirect: reached by whoever reads the message, so
/// not signed in; the signed token is the authority.
pub fn tracking_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(outbound::track_open))
        .routes(routes!(outbound::track_click))
}

/// A path id that is not a UUID names nothing: 404, as for another tenant's id.
fn path_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::NotFound)
}
