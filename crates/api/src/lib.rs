//! The HTTP API: one `router()` per area, merged here. For now the operational
//! endpoints; the `/api/v1` resources arrive with the accounts/API issue and follow
//! docs/API.md.

mod ops;

use axum::Router;
use everreach_core::db::Database;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Database,
}

pub fn router(state: AppState) -> Router {
    Router::new().merge(ops::router()).with_state(state)
}
