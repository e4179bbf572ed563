//! The web UI: pages rendered on the server from askama templates compiled into the
//! binary, enhanced with htmx (vendored), served by the same binary as the API —
//! pages at `/`, the API under `/api/v1`. Handlers call the core services directly
//! (not the HTTP API) under the API's session cookie, tenancy and error type.
//!
//! A page is a handler in the module of its area (`accounts`, `people` …), a
//! template in `crates/web/templates/` extending `base.html`, and its forms go
//! through [`form::UserForm`] / [`form::VisitorForm`] (CSRF and origin checked).
//! docs/ARCHITECTURE.md ("Adding pages") gives the recipe.

pub mod accounts;
pub mod activity;
pub mod assets;
pub mod company;
pub mod contact;
pub mod csrf;
pub mod error;
pub mod fmt;
pub mod form;
pub mod imports;
pub mod inbox;
pub mod jobs;
pub mod outreach;
pub mod patterns;
pub mod people;
pub mod person;
pub mod segments;
pub mod session;
pub mod settings;
pub mod shell;
pub mod today;

use axum::Router;
use axum::routing::get;
use everreach_api::AppState;

/// The generic resource at API path `name` (`people`, `identities`, `saved-views`),
/// whose create/patch/delete validate, apply the domain's rules and audit.
pub(crate) fn resource(
    state: &AppState,
    name: &str,
) -> Result<everreach_core::resources::catalog::Resource, error::PageError> {
    state
        .resources
        .catalog()
        .get(name)
        .cloned()
        .ok_or(error::PageError::Api(
            everreach_api::error::ApiError::NotFound,
        ))
}

/// Patches row `id` of generic resource `name` for the signed-in user (validation,
/// the domain's rules, audit); the problems by field when refused as bad input.
pub(crate) async fn patch_resource(
    state: &AppState,
    me: &session::Signed,
    name: &str,
    id: &str,
    body: serde_json::Map<String, serde_json::Value>,
) -> Result<Option<form::Problems>, error::PageError> {
    let r = resource(state, name)?;
    match state.resources.patch(me.user_id(), &r, id, body).await {
        Ok(_) => Ok(None),
        Err(e) => {
            let api = everreach_api::error::ApiError::from(e);
            form::Problems::from_api(&api)
                .map(Some)
                .ok_or(error::PageError::Api(api))
        }
    }
}

/// The pages' routes (without state): what [`app`] merges beside the API.
pub fn pages() -> Router<AppState> {
    Router::new()
        .merge(accounts::routes())
        .merge(today::routes())
        .merge(inbox::routes())
        .merge(outreach::routes())
        .merge(patterns::routes())
        .merge(contact::routes())
        .merge(people::routes())
        .merge(segments::routes())
        .merge(imports::routes())
        .merge(person::routes())
        .merge(settings::routes())
        .merge(company::routes())
        .merge(activity::routes())
        .merge(jobs::routes())
        .route("/assets/{name}", get(assets::serve))
}

/// The whole HTTP surface: the API and the pages, with one set of layers.
pub fn app(state: AppState) -> Router {
    everreach_api::router_with(state, pages(), error::not_found)
}
