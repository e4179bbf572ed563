//! Forms. [`UserForm`] and [`VisitorForm`] read an `application/x-www-form-urlencoded`
//! body and refuse it (403) unless it comes from our own origin with the right CSRF
//! token, so no handler can forget the check. A form that fails validation comes
//! back with [`Problems`]: an error summary at the top linking to each field, the
//! message beside the field, and what the user typed kept (the GOV.UK Design System
//! pattern); [`Field`] is one labelled input as the templates draw it.

use axum::extract::{FromRequest, FromRequestParts, Request};
use everreach_api::AppState;
use everreach_api::error::ApiError;

use crate::csrf;
use crate::error::PageError;
use crate::session::{Signed, Visitor};

/// The largest form body we read.
const FORM_LIMIT: usize = 256 * 1024;

/// A form's fields in the order sent.
#[derive(Debug, Clone, Default)]
pub struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    pub fn parse(body: &[u8]) -> Form {
        Form {
            fields: form_urlencoded::parse(body).into_owned().collect(),
        }
    }

    /// The first value of `name`, trimmed; "" when absent.
    pub fn get(&self, name: &str) -> &str {
        self.raw(name).trim()
    }

    /// The first value of `name` as sent (passwords are not trimmed).
    pub fn raw(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name` (checkboxes).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// `Some(value)` unless empty.
    pub fn opt(&self, name: &str) -> Option<String> {
        Some(self.get(name).to_string()).filter(|v| !v.is_empty())
    }
}

async fn read(req: Request) -> Result<(axum::http::request::Parts, Form), PageError> {
    let (parts, body) = req.into_parts();
    if !csrf::same_origin(&parts.headers) {
        return Err(PageError::Csrf);
    }
    let bytes = axum::body::to_bytes(body, FORM_LIMIT).await.map_err(|_| {
        PageError::Api(ApiError::BadRequest(
            "the form is larger than 256 KiB".into(),
        ))
    })?;
    Ok((parts, Form::parse(&bytes)))
}

/// A form a signed-in user sent, its CSRF token checked against their session.
#[derive(Debug)]
pub struct UserForm {
    pub me: Signed,
    pub form: Form,
}

impl FromRequest<AppState> for UserForm {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, PageError> {
        let (mut parts, form) = read(req).await?;
        let me = Signed::from_request_parts(&mut parts, state).await?;
        if !csrf::matches(&me.session, form.raw(csrf::FIELD)) {
            return Err(PageError::Csrf);
        }
        Ok(UserForm { me, form })
    }
}

/// A file upload (`multipart/form-data`) a signed-in user sent: its origin checked,
/// and its first field must be `_csrf` with their session's token, read before any
/// file byte is; the rest of the form is the handler's to stream.
#[derive(Debug)]
pub struct UserUpload {
    pub me: Signed,
    pub form: axum::extract::Multipart,
}

impl FromRequest<AppState> for UserUpload {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, PageError> {
        let (mut parts, body) = req.into_parts();
        if !csrf::same_origin(&parts.headers) {
            return Err(PageError::Csrf);
        }
        let me = Signed::from_request_parts(&mut parts, state).await?;
        let req = Request::from_parts(parts, body);
        let mut form = axum::extract::Multipart::from_request(req, state)
            .await
            .map_err(|_| PageError::Csrf)?;
        let token = match form.next_field().await {
            Ok(Some(field)) if field.name() == Some(csrf::FIELD) => {
                field.text().await.unwrap_or_default()
            }
            _ => return Err(PageError::Csrf),
        };
        if !csrf::matches(&me.session, &token) {
            return Err(PageError::Csrf);
        }
        Ok(UserUpload { me, form })
    }
}

/// A form someone not signed in sent, its CSRF token checked against their cookie.
#[derive(Debug)]
pub struct VisitorForm {
    pub visitor: Visitor,
    pub form: Form,
    /// The client's address (through trusted proxies), for rate limits.
    pub client: std::net::IpAddr,
}

impl FromRequest<AppState> for VisitorForm {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, PageError> {
        let client = everreach_api::client_of(state, &req);
        let (mut parts, form) = read(req).await?;
        let visitor = Visitor::from_request_parts(&mut parts, state).await?;
        if !visitor.accepts(form.raw(csrf::FIELD)) {
            return Err(PageError::Csrf);
        }
        Ok(VisitorForm {
            visitor,
            form,
            client,
        })
    }
}

/// What is wrong with a sent form: `(field name, message)` in the form's order.
#[derive(Debug, Clone, Default)]
pub struct Problems(pub Vec<(String, String)>);

impl Problems {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push((field.to_string(), message.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn on(&self, field: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.clone())
    }

    /// The problems of an `ApiError::Invalid` or a field conflict (JSON pointers such
    /// as `/email` become field names); `None` for any other error.
    pub fn from_api(e: &ApiError) -> Option<Problems> {
        let errors = match e {
            ApiError::Invalid(errors) => errors
                .iter()
                .map(|f| {
                    (
                        f.field.trim_start_matches('/').to_string(),
                        f.message.clone(),
                    )
                })
                .collect(),
            ApiError::Conflict {
                field: Some(field),
                detail,
            } => vec![(field.trim_start_matches('/').to_string(), detail.clone())],
            _ => return None,
        };
        Some(Problems(errors))
    }
}

/// One labelled input.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    /// `text`, `email`, `password`, `select`, `textarea` …
    pub kind: &'static str,
    pub value: String,
    pub error: Option<String>,
    pub hint: Option<&'static str>,
    pub autocomplete: &'static str,
    pub required: bool,
    /// For `select`: `(value, label)`.
    pub options: Vec<(String, String)>,
}

impl Field {
    pub fn new(name: &'static str, label: &'static str, kind: &'static str) -> Field {
        Field {
            name,
            label,
            kind,
            value: String::new(),
            error: None,
            hint: None,
            autocomplete: "off",
            required: false,
            options: Vec::new(),
        }
    }

    pub fn value(mut self, value: impl Into<String>) -> Field {
        self.value = value.into();
        self
    }

    pub fn hint(mut self, hint: &'static str) -> Field {
        self.hint = Some(hint);
        self
    }

    pub fn autocomplete(mut self, token: &'static str) -> Field {
        self.autocomplete = token;
        self
    }

    pub fn required(mut self) -> Field {
        self.required = true;
        self
    }

    pub fn options(mut self, options: Vec<(String, String)>) -> Field {
        self.options = options;
        self
    }

    /// The field with its value from `form` (never for passwords: those are typed
    /// again) and its problem from `problems`.
    pub fn from(mut self, form: &Form, problems: &Problems) -> Field {
        if self.kind != "password" {
            self.value = form.get(self.name).to_string();
        }
        self.error = problems.on(self.name);
        self
    }

    /// `aria-describedby` of the input: its hint and its error.
    pub fn described_by(&self) -> String {
        let mut ids = Vec::new();
        if self.hint.is_some() {
            ids.push(format!("{}-hint", self.name));
        }
        if self.error.is_some() {
            ids.push(format!("{}-error", self.name));
        }
        ids.join(" ")
    }
}

/// `text` percent-encoded for a URL query.
pub fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
