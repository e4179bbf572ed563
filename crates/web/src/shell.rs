//! What every page shares: [`Shell`] (title, the signed-in user for the navigation,
//! the CSRF token its forms carry, asset URLs, a notice), and [`render`], which turns
//! a template into a response with the headers every page gets — a strict Content
//! Security Policy (scripts and styles from our own origin only), no framing, no
//! caching of pages that show a user's data.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::assets::{self, Urls};

/// The navigation's sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    None,
    Today,
    Inbox,
    Outreach,
    People,
    Segments,
    Imports,
    Activity,
    Jobs,
    Settings,
}

/// The signed-in user as the navigation shows them.
#[derive(Debug, Clone)]
pub struct Badge {
    pub label: String,
    pub email: String,
    pub admin: bool,
    /// May change data (not a viewer).
    pub writer: bool,
}

#[derive(Debug, Clone)]
pub struct Shell {
    pub title: String,
    pub user: Option<Badge>,
    /// The token every form of this page carries in `_csrf`.
    pub csrf: String,
    pub nav: Nav,
    pub assets: Urls,
    /// A one-line message at the top (a done action).
    pub notice: Option<String>,
    /// The page has a form that came back with errors ("Error: " in the title).
    pub has_errors: bool,
}

impl Shell {
    /// A page with no user and no forms (errors).
    pub fn bare(title: &str) -> Shell {
        Shell {
            title: title.to_string(),
            user: None,
            csrf: String::new(),
            nav: Nav::None,
            assets: assets::urls(),
            notice: None,
            has_errors: false,
        }
    }

    /// The user may change data (not a viewer).
    pub fn writer(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.writer)
    }

    /// The user is a company admin.
    pub fn admin(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.admin)
    }

    /// `aria-current` for the navigation link of `section` (`people`, `activity` …).
    pub fn current(&self, section: &str) -> &'static str {
        let here = match self.nav {
            Nav::None => "",
            Nav::Today => "today",
            Nav::Inbox => "inbox",
            Nav::Outreach => "outreach",
            Nav::People => "people",
            Nav::Segments => "segments",
            Nav::Imports => "imports",
            Nav::Activity => "activity",
            Nav::Jobs => "jobs",
            Nav::Settings => "settings",
        };
        if here == section { "page" } else { "false" }
    }
}

/// Renders a page with a form: 422 when it came back with problems, else 200.
pub fn render_form(has_errors: bool, page: &impl Template) -> Response {
    let status = if has_errors {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render_status(status, page)
}

/// Renders `page` as a 200.
pub fn render(page: &impl Template) -> Response {
    render_status(StatusCode::OK, page)
}

/// Renders `page` with `status` and the page headers; a template that fails to
/// render (a bug) is logged and answered with a plain 500 naming the request id.
pub fn render_status(status: StatusCode, page: &impl Template) -> Response {
    let body = match page.render() {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %e, "a page template failed to render");
            let id = everreach_api::observe::current_request_id().unwrap_or_default();
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!("Something went wrong on our side. Request id: {id}\n"),
            )
                .into_response();
        }
    };
    let mut response = (status, body).into_response();
    page_headers(response.headers_mut());
    response
}

/// The headers every HTML page carries.
pub fn page_headers(h: &mut axum::http::HeaderMap) {
    let set = |h: &mut axum::http::HeaderMap, name: header::HeaderName, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(h, header::CONTENT_TYPE, "text/html; charset=utf-8");
    set(h, header::CACHE_CONTROL, "no-store");
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
    );
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "same-origin");
}
