//! What a page answers when something fails: the API's own error type
//! ([`ApiError`], so domain, account and database errors map the same way) shown
//! as a plain page with the status, what to do, and the request id — never a stack
//! trace or SQL. A request that needs a session without one goes to sign-in.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use everreach_api::error::ApiError;

use crate::shell::Shell;

/// An error a page handler returns.
#[derive(Debug)]
pub enum PageError {
    /// No (valid) session: sign in, then come back to `next`.
    SignIn {
        next: String,
    },
    /// The form's CSRF token or origin is wrong.
    Csrf,
    Api(ApiError),
}

pub type PageResult<T> = Result<T, PageError>;

impl<E: Into<ApiError>> From<E> for PageError {
    fn from(e: E) -> PageError {
        PageError::Api(e.into())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    shell: Shell,
    status: u16,
    heading: &'static str,
    detail: String,
    request_id: Option<String>,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, heading, detail, retry_after) = match self {
            PageError::SignIn { next } => {
                let to = if next == "/" || next.is_empty() {
                    "/sign-in".to_string()
                } else {
                    format!("/sign-in?next={}", crate::form::encode(&next))
                };
                return Redirect::to(&to).into_response();
            }
            PageError::Csrf => (
                StatusCode::FORBIDDEN,
                "This form has expired",
                "The form was sent without its security token, or from another site. Go back, reload the page and send it again.".to_string(),
                None,
            ),
            PageError::Api(ApiError::Unauthorized(_)) => {
                return Redirect::to("/sign-in").into_response();
            }
            PageError::Api(e) => {
                e.log_if_internal();
                let status = e.status();
                let heading = match status.as_u16() {
                    404 => "Page not found",
                    403 => "You cannot do this",
                    409 => "This clashes with what is stored",
                    429 => "Too many requests",
                    400..=499 => "This request was not understood",
                    _ => "Something went wrong on our side",
                };
                let retry = match &e {
                    ApiError::TooManyRequests { retry_after_secs } => Some(*retry_after_secs),
                    _ => None,
                };
                let detail = match &e {
                    ApiError::NotFound => "There is nothing here: the address may be mistyped, or what it showed was merged, erased, or belongs to another account.".to_string(),
                    _ => e.problem().detail,
                };
                (status, heading, detail, retry)
            }
        };
        let page = ErrorPage {
            shell: Shell::bare(heading),
            status: status.as_u16(),
            heading,
            detail,
            request_id: everreach_api::observe::current_request_id(),
        };
        let mut response = crate::shell::render_status(status, &page);
        if let Some(secs) = retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

/// The page for a path no route takes.
pub async fn not_found() -> PageError {
    PageError::Api(ApiError::NotFound)
}
