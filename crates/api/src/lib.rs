//! The HTTP API: JSON under `/api/v1` (conventions in docs/API.md), the operational
//! endpoints, the OpenAPI document and Swagger UI. The platform's areas (accounts,
//! company, jobs, events) are merged here by hand; every domain comes from its one
//! registration in [`domain::DOMAINS`]. One error type ([`error::ApiError`]) answered
//! as problem+json.

pub mod accounts;
pub mod auth;
pub mod company;
pub mod crm;
pub mod cursor;
pub mod domain;
pub mod error;
pub mod events;
pub mod extract;
pub mod idempotency;
pub mod imports;
pub mod jobs;
pub mod observe;
pub mod openapi;
pub mod ops;
pub mod people;
pub mod rate_limit;
pub mod resources;
pub mod segments;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use everreach_core::accounts::Accounts;
use everreach_core::accounts::company::Companies;
use everreach_core::db::Database;
use everreach_core::platform::mailer::Mailer;
use everreach_core::resources::{Catalog, Resources};
use everreach_core::secrets::Keyring;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::rate_limit::{Limits, RateLimiter, TrustedProxies};

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Database,
    pub accounts: Accounts,
    pub companies: Companies,
    pub resources: Resources,
    pub limits: Arc<RateLimiter>,
    /// Proxies whose `X-Forwarded-For` names the client (`EVERREACH_TRUSTED_PROXIES`).
    pub trusted_proxies: Arc<TrustedProxies>,
    pub metrics: Arc<observe::Metrics>,
    /// The bearer token `/metrics` asks for (`EVERREACH_METRICS_TOKEN`); `None`:
    /// loopback clients only.
    pub metrics_token: Option<Arc<str>>,
    pub events: events::EventHub,
    pub keyring: Arc<Keyring>,
    /// Where people reach this installation: the base of links we send out.
    pub public_url: String,
    /// Every registered domain's state ([`domain::Dep`] reaches it in a handler).
    pub domains: Arc<domain::DomainStates>,
    /// Verification, invitation and password-reset mail (the outbox until
    /// [`AppState::with_mailer`] gives it SMTP).
    pub mailer: Mailer,
}

impl AppState {
    /// Reads the resource catalog from the database, then builds the state.
    pub async fn new(
        db: Database,
        keyring: Arc<Keyring>,
        limits: Limits,
    ) -> Result<AppState, sqlx::Error> {
        let catalog = Arc::new(Catalog::load(&db.admin).await?);
        let hub = events::EventHub::start(db.app.clone());
        let state = AppState {
            accounts: Accounts::new(db.app.clone()),
            companies: Companies::new(db.app.clone()),
            resources: Resources::new(db.app.clone(), catalog, keyring.clone())
                .with_rules(domain::table_rules()),
            limits: Arc::new(RateLimiter::new(limits)),
            trusted_proxies: Arc::default(),
            metrics: Arc::default(),
            metrics_token: None,
            events: hub,
            mailer: Mailer::outbox(db.app.clone(), keyring.clone()),
            keyring,
            public_url: String::new(),
            domains: Arc::default(),
            db,
        };
        Ok(state.with_public_url(DEFAULT_PUBLIC_URL))
    }

    /// Believe `X-Forwarded-For` from these proxies.
    pub fn with_trusted_proxies(mut self, proxies: TrustedProxies) -> AppState {
        self.trusted_proxies = Arc::new(proxies);
        self
    }

    /// `/metrics` for holders of `token` (otherwise loopback only).
    pub fn with_metrics_token(mut self, token: Option<String>) -> AppState {
        self.metrics_token = token.map(Arc::from);
        self
    }

    /// Mail through `mailer` (SMTP) instead of the outbox only.
    pub fn with_mailer(mut self, mailer: Mailer) -> AppState {
        self.mailer = mailer;
        self
    }

    /// Where people reach this installation: the base of the links we send out, such
    /// as tracking links (`EVERREACH_PUBLIC_URL`). Builds every domain's state.
    pub fn with_public_url(mut self, public_url: &str) -> AppState {
        self.public_url = public_url.trim_end_matches('/').to_string();
        self.domains = Arc::new(domain::DomainStates::build(&domain::Deps {
            db: &self.db,
            keyring: &self.keyring,
            public_url: &self.public_url,
        }));
        self
    }
}

/// The base of tracking links until [`AppState::with_public_url`] says otherwise.
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

type Routes = OpenApiRouter<AppState>;

/// Every route with its documentation. `guard_signed_in` and `guard_public` add the
/// middleware (which needs the state) — [`router`] passes the real ones, the OpenAPI
/// document is built with none, so it needs no database.
fn routes(
    guard_signed_in: impl FnOnce(Routes) -> Routes,
    guard_public: impl FnOnce(Routes) -> Routes,
    guard_domain_public: impl FnOnce(Routes) -> Routes,
) -> Routes {
    let mut signed_in = accounts::signed_in_routes()
        .merge(company::signed_in_routes())
        .merge(jobs::signed_in_routes())
        .merge(events::signed_in_routes());
    let mut public = OpenApiRouter::new();
    for d in domain::DOMAINS {
        signed_in = signed_in.merge((d.signed_in_routes)());
        public = public.merge(openapi::public((d.public_routes)()));
    }
    let api = OpenApiRouter::new()
        .merge(guard_signed_in(signed_in))
        .merge(guard_public(openapi::public(
            accounts::public_routes().merge(company::public_routes()),
        )))
        .merge(guard_domain_public(public));
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .nest("/api/v1", api)
        .merge(ops::routes())
}

/// The API alone: everything else answers a problem+json 404.
pub fn router(state: AppState) -> Router {
    router_with(state, Router::new(), || async { ApiError::NotFound })
}

/// The API beside `pages` (the web UI's routes, `crates/web`): a path no route
/// takes answers problem+json under `/api/` and `page_not_found` elsewhere; a method
/// a route does not offer, a problem+json 405 under `/api/` and the page's 405 page
/// elsewhere. Every layer (request id, metrics, body limit) covers both.
pub fn router_with<H, T>(state: AppState, pages: Router<AppState>, page_not_found: H) -> Router
where
    H: axum::handler::Handler<T, AppState>,
    T: 'static,
{
    let (signed_in_state, public_state, tracking_state) =
        (state.clone(), state.clone(), state.clone());
    let (routes, mut document) = routes(
        |r| {
            r.route_layer(from_fn_with_state(
                signed_in_state.clone(),
                idempotency::idempotency,
            ))
            .route_layer(from_fn_with_state(signed_in_state, auth::require_user))
        },
        |r| r.route_layer(from_fn_with_state(public_state, limit_by_client)),
        |r| r.route_layer(from_fn_with_state(tracking_state, limit_public_by_client)),
    )
    .split_for_parts();
    let catalog = state.resources.catalog();
    let generic = domain::generic_ops();
    openapi::add_domains(&mut document, &catalog.resources, &generic);
    let resource_routes = resources::routes(catalog, &generic)
        .route_layer(from_fn_with_state(state.clone(), idempotency::idempotency))
        .route_layer(from_fn_with_state(state.clone(), auth::require_user));
    let routes = routes.merge(resource_routes);
    let not_found_state = state.clone();
    routes
        .merge(
            utoipa_swagger_ui::SwaggerUi::new("/api/docs")
                .external_url_unchecked("/api/v1/openapi.json", openapi::to_json(&document)),
        )
        .merge(pages)
        .fallback(move |req: Request| async move {
            if is_api_path(req.uri().path()) {
                ApiError::NotFound.into_response()
            } else {
                axum::handler::Handler::call(page_not_found, req, not_found_state).await
            }
        })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(from_fn_with_state(state.clone(), observe::observe))
        .layer(DefaultBodyLimit::max(extract::BODY_LIMIT))
        .with_state(state)
}

/// Whether `path` belongs to the API (problem+json answers) rather than the pages.
pub fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// The client of a request: its peer, or through a trusted proxy the address it
/// forwarded for.
pub fn client_of(state: &AppState, req: &Request) -> std::net::IpAddr {
    let peer = rate_limit::peer_or_unspecified(
        req.extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0),
    );
    state.trusted_proxies.client(peer, req.headers())
}

/// Rate limit for the domains' public routes (tracking pixel and click), per client.
async fn limit_public_by_client(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    state.limits.check_public(client_of(&state, &req))?;
    Ok(next.run(req).await)
}

/// Rate limit for routes without a signed-in caller, keyed by the client address
/// (through trusted proxies only; IPv6 per /64).
async fn limit_by_client(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    state.limits.check_client(client_of(&state, &req))?;
    Ok(next.run(req).await)
}
