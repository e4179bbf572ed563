//! Who is calling: a bearer API token (`Authorization: Bearer er_…`, for scripts and
//! the CLI) or the web session cookie. The middleware resolves the caller once per
//! request, refuses writes from viewers, applies the caller's rate limit, and leaves a
//! [`CurrentUser`] for handlers; the tenant id of every query comes only from it.

use axum::extract::{FromRequestParts, OriginalUri, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use everreach_core::accounts::{Principal, Role};
use uuid::Uuid;

use crate::AppState;
use crate::error::ApiError;
use crate::rate_limit::Class;

/// Name of the web session cookie.
pub const SESSION_COOKIE: &str = "everreach_session";

/// The authenticated caller, for handlers.
#[derive(Debug, Clone, Copy)]
pub struct CurrentUser {
    pub id: Uuid,
    pub role: Role,
    pub company_id: Uuid,
    pub via: Via,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Session,
    ApiToken,
}

impl CurrentUser {
    pub fn principal(&self) -> Principal {
        Principal {
            user_id: self.id,
            role: self.role,
            company_id: self.company_id,
        }
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.role == Role::Admin {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "only a company admin may do this".into(),
            ))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CurrentUser>()
            .copied()
            .ok_or_else(|| ApiError::Unauthorized("sign in or send an API token".into()))
    }
}

/// Paths under /api/v1 where a viewer may still write: their own sign-in state.
fn viewer_may_write(path: &str) -> bool {
    path.starts_with("/api/v1/auth/")
        || path.starts_with("/api/v1/me/api-tokens")
        || path == "/api/v1/me/password"
        || path == "/api/v1/me/verify-email"
}

/// Resolves the caller or answers 401; then the viewer rule and the rate limit.
pub async fn require_user(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let user = authenticate(&state, req.headers()).await?;
    let writes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let path = req
        .extensions()
        .get::<OriginalUri>()
        .map_or_else(|| req.uri().path().to_string(), |u| u.path().to_string());
    if writes && !user.role.can_write() && !viewer_may_write(&path) {
        return Err(ApiError::Forbidden(
            "viewers can read but not change anything".into(),
        ));
    }
    if writes && user.via == Via::Session && cross_site(req.headers()) {
        return Err(ApiError::Forbidden(
            "cross-site requests with the session cookie are refused".into(),
        ));
    }
    let class = if writes { Class::Write } else { Class::Read };
    state.limits.check(&user.id.to_string(), class)?;
    req.extensions_mut().insert(user);
    Ok(next.run(req).await)
}

async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<CurrentUser, ApiError> {
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let value = auth
            .to_str()
            .map_err(|_| ApiError::Unauthorized("the Authorization header is not text".into()))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| ApiError::Unauthorized("use `Authorization: Bearer <token>`".into()))?
            .trim();
        let principal = state.accounts.authenticate_token(token).await?;
        return principal.map(|p| current(p, Via::ApiToken)).ok_or_else(|| {
            ApiError::Unauthorized("the API token is unknown, revoked or expired".into())
        });
    }
    if let Some(cookie) = session_cookie(headers) {
        let principal = state.accounts.authenticate_session(&cookie).await?;
        return principal.map(|p| current(p, Via::Session)).ok_or_else(|| {
            ApiError::Unauthorized("the session has expired; sign in again".into())
        });
    }
    Err(ApiError::Unauthorized(
        "sign in or send an API token".into(),
    ))
}

fn current(p: Principal, via: Via) -> CurrentUser {
    CurrentUser {
        id: p.user_id,
        role: p.role,
        company_id: p.company_id,
        via,
    }
}

/// The session cookie's value, if the request carries one.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie(headers, SESSION_COOKIE)
}

/// The value of cookie `name`, if the request carries it with a value.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_string())
        .filter(|v| !v.is_empty())
}

/// A browser's cross-site request: its `Origin` names another host than `Host`.
fn cross_site(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    origin_host != host
}

/// `Set-Cookie` for a new session (HttpOnly, Secure, SameSite=Lax, 30 days).
pub fn session_set_cookie(token: &str) -> String {
    let max_age = everreach_core::accounts::service::SESSION_TTL.num_seconds();
    format!("{SESSION_COOKIE}={token}; Path=/; Max-Age={max_age}; HttpOnly; Secure; SameSite=Lax")
}

/// `Set-Cookie` that removes the session cookie.
pub fn session_clear_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax")
}
