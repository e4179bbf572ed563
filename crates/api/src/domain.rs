//! One registration per domain ([`Domain`]), listed once in [`DOMAINS`]: its routes,
//! the generic resource operations it takes over or refuses, the row rules it hands
//! the generic layer, its job handlers and schedules, the queues it sends to, its
//! OpenAPI tags and its state. The router ([`crate::router`]), the OpenAPI document
//! ([`crate::openapi::document`]) and the job runner (`everreach serve`/`worker`,
//! through [`register_jobs`]) all read this one list, so adding a domain is its own
//! folders plus one line here.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use everreach_core::db::Database;
use everreach_core::jobs::JobError;
use everreach_core::resources::rules::TableRule;
use everreach_core::secrets::Keyring;
use everreach_jobs::Registry;

use crate::AppState;
use crate::error::ApiError;

type Routes = utoipa_axum::router::OpenApiRouter<AppState>;

/// Every domain this build has.
pub const DOMAINS: &[Domain] = &[
    crate::people::DOMAIN,
    crate::crm::DOMAIN,
    crate::imports::DOMAIN,
    crate::segments::DOMAIN,
];

/// A generic resource operation (`/api/v1/<resource>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    Update,
    Delete,
}

/// What a domain does about a generic operation that would bypass its rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handling {
    /// The domain's own route (and its documentation) takes its place.
    TakenOver,
    /// Not offered: the operation answers 405 with this reason, which says what to
    /// do instead.
    Refused(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenericOp {
    /// The resource path, e.g. `person-events`.
    pub resource: &'static str,
    pub op: Op,
    pub handling: Handling,
}

/// What a domain's state is built from.
#[derive(Debug)]
pub struct Deps<'a> {
    pub db: &'a Database,
    pub keyring: &'a Arc<Keyring>,
    /// Where people reach this installation (`EVERREACH_PUBLIC_URL`), no trailing slash.
    pub public_url: &'a str,
}

/// One domain's registration.
#[derive(Debug)]
pub struct Domain {
    pub name: &'static str,
    /// OpenAPI tags its routes use: `(name, description)`.
    pub tags: &'static [(&'static str, &'static str)],
    /// Routes for a signed-in user (authentication, idempotency and rate limits are
    /// added by the router).
    pub signed_in_routes: fn() -> Routes,
    /// Routes anyone may reach (their own token is the authority), unguarded.
    pub public_routes: fn() -> Routes,
    /// Generic resource operations taken over or refused.
    pub generic: &'static [GenericOp],
    /// Rules the generic resources apply to this domain's tables.
    pub table_rules: &'static [TableRule],
    /// Adds the domain's job handlers and schedules to the runner.
    pub register_jobs: fn(&mut Registry) -> Result<(), JobError>,
    /// Every queue the domain sends to (a test holds each to a handler).
    pub sends_to: &'static [&'static str],
    /// Builds the domain's state, reached in handlers through [`Dep`].
    pub state: fn(&Deps<'_>) -> DomainState,
}

/// A domain's state value, stored in [`AppState`] by its type.
pub type DomainState = Arc<dyn Any + Send + Sync>;

/// The generic operations every domain takes over or refuses.
pub fn generic_ops() -> Vec<GenericOp> {
    DOMAINS
        .iter()
        .flat_map(|d| d.generic.iter().copied())
        .collect()
}

/// Every domain's row rules for the generic resources.
pub fn table_rules() -> Vec<TableRule> {
    DOMAINS
        .iter()
        .flat_map(|d| d.table_rules.iter().copied())
        .collect()
}

/// Every domain's job handlers and schedules, after the platform's maintenance ones.
pub fn register_jobs(registry: &mut Registry) -> Result<(), JobError> {
    everreach_jobs::maintenance::register(registry)?;
    for d in DOMAINS {
        (d.register_jobs)(registry)?;
    }
    Ok(())
}

/// The states of every domain, by type.
#[derive(Debug, Clone, Default)]
pub struct DomainStates(HashMap<TypeId, DomainState>);

impl DomainStates {
    pub fn build(deps: &Deps<'_>) -> DomainStates {
        let mut states = HashMap::new();
        for d in DOMAINS {
            let state = (d.state)(deps);
            states.insert((*state).type_id(), state);
        }
        DomainStates(states)
    }

    fn get<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.0
            .get(&TypeId::of::<T>())
            .and_then(|s| s.clone().downcast::<T>().ok())
    }
}

/// A domain's state in a handler: `Dep(tracker): Dep<Tracker>`.
#[derive(Debug)]
pub struct Dep<T>(pub Arc<T>);

/// No domain state of that type is registered: a wiring mistake, logged as a 500.
#[derive(Debug, thiserror::Error)]
#[error("no domain registered a state of type {0}")]
struct MissingState(&'static str);

impl<T: Send + Sync + 'static> FromRequestParts<AppState> for Dep<T> {
    type Rejection = ApiError;

    async fn from_request_parts(_: &mut Parts, state: &AppState) -> Result<Dep<T>, ApiError> {
        state
            .domains
            .get::<T>()
            .map(Dep)
            .ok_or_else(|| ApiError::internal(MissingState(std::any::type_name::<T>())))
    }
}
