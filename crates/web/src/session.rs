//! Who is looking at a page. [`Signed`] is a page's signed-in user — the API's
//! session cookie checked by the same core call the API uses, then the API's rate
//! limit for that user; without a valid session the page redirects to sign-in and
//! back. [`Visitor`] is someone not signed in, with the secret their forms' CSRF
//! token derives from (set as a cookie on their first page).
//!
//! The tenant of every query a page makes comes only from [`Signed::user_id`].

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, header};
use axum::response::Response;
use everreach_api::AppState;
use everreach_api::auth::session_cookie;
use everreach_api::rate_limit::Class;
use everreach_core::accounts::{Principal, Role, User};
use uuid::Uuid;

use crate::csrf;
use crate::error::PageError;
use crate::shell::{Badge, Nav, Shell};

/// A signed-in user's request.
#[derive(Debug, Clone)]
pub struct Signed {
    pub principal: Principal,
    pub user: User,
    /// The session cookie's value (the CSRF secret; sign-out ends this session).
    pub session: String,
}

impl Signed {
    pub fn user_id(&self) -> Uuid {
        self.principal.user_id
    }

    pub fn is_admin(&self) -> bool {
        self.principal.role == Role::Admin
    }

    pub fn may_write(&self) -> bool {
        self.principal.role.can_write()
    }

    /// Refuses a viewer's change.
    pub fn require_writer(&self) -> Result<(), PageError> {
        if self.may_write() {
            Ok(())
        } else {
            Err(PageError::Api(everreach_api::error::ApiError::Forbidden(
                "viewers can read but not change anything; ask an admin for the member role".into(),
            )))
        }
    }

    pub fn require_admin(&self) -> Result<(), PageError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(PageError::Api(everreach_api::error::ApiError::Forbidden(
                "only a company admin may see or do this".into(),
            )))
        }
    }

    pub fn csrf(&self) -> String {
        csrf::token_for(&self.session)
    }

    /// The shell of a page in section `nav`.
    pub fn shell(&self, title: &str, nav: Nav) -> Shell {
        let mut shell = Shell::bare(title);
        let label = self
            .user
            .full_name
            .clone()
            .or_else(|| self.user.name.clone())
            .unwrap_or_else(|| self.user.email.clone());
        shell.user = Some(Badge {
            label,
            email: self.user.email.clone(),
            admin: self.is_admin(),
            writer: self.may_write(),
        });
        shell.csrf = self.csrf();
        shell.nav = nav;
        shell
    }
}

fn path_and_query(parts: &Parts) -> String {
    let uri = parts
        .extensions
        .get::<OriginalUri>()
        .map_or_else(|| parts.uri.clone(), |u| u.0.clone());
    uri.path_and_query()
        .map_or_else(|| "/".to_string(), |p| p.as_str().to_string())
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        if let Some(found) = parts.extensions.get::<Signed>() {
            return Ok(found.clone());
        }
        let next = if parts.method == Method::GET {
            path_and_query(parts)
        } else {
            "/".to_string()
        };
        let session = session_cookie(&parts.headers)
            .ok_or_else(|| PageError::SignIn { next: next.clone() })?;
        let principal = state
            .accounts
            .authenticate_session(&session)
            .await?
            .ok_or(PageError::SignIn { next })?;
        let writes = parts.method != Method::GET && parts.method != Method::HEAD;
        state.limits.check(
            &principal.user_id.to_string(),
            if writes { Class::Write } else { Class::Read },
        )?;
        let user = state.accounts.user(principal.user_id).await?;
        let signed = Signed {
            principal,
            user,
            session,
        };
        parts.extensions.insert(signed.clone());
        Ok(signed)
    }
}

/// Someone not signed in: the secret of their forms' CSRF token, and whether it is
/// new (then [`Visitor::keep`] sets its cookie on the response).
#[derive(Debug, Clone)]
pub struct Visitor {
    secret: String,
    fresh: bool,
    pub signed_in: bool,
}

impl Visitor {
    pub fn csrf(&self) -> String {
        csrf::token_for(&self.secret)
    }

    /// A shell for an anonymous page.
    pub fn shell(&self, title: &str) -> Shell {
        let mut shell = Shell::bare(title);
        shell.csrf = self.csrf();
        shell
    }

    /// `response` with the secret's cookie when it is new.
    pub fn keep(&self, mut response: Response) -> Response {
        if self.fresh
            && let Ok(v) = HeaderValue::from_str(&csrf::set_cookie(&self.secret))
        {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
        response
    }

    /// Whether `token` is this visitor's form token.
    pub fn accepts(&self, token: &str) -> bool {
        !self.fresh && csrf::matches(&self.secret, token)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Visitor {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, PageError> {
        let signed_in = session_cookie(&parts.headers).is_some();
        Ok(match csrf::cookie(&parts.headers, csrf::ANON_COOKIE) {
            Some(secret) => Visitor {
                secret,
                fresh: false,
                signed_in,
            },
            None => Visitor {
                secret: csrf::new_secret(),
                fresh: true,
                signed_in,
            },
        })
    }
}
