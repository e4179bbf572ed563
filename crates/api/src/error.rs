//! The one error type of the HTTP layer, answered as RFC 9457
//! `application/problem+json`: a stable `type`, a `title`, the `status`, a human
//! `detail`, for invalid input `errors: [{field (JSON pointer), message}]`, and the
//! request id. Server errors are logged with their cause chain and reveal nothing —
//! never SQL text, never a stack trace.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use everreach_core::DomainError;
use everreach_core::accounts::AccountError;
use serde::Serialize;

const TYPE_BASE: &str = "https://everreach.dev/problems/";

/// One invalid input: where (a JSON pointer such as `/email`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    /// A method this resource does not offer, with what to do instead.
    #[error("{0}")]
    Refused(String),
    #[error("{detail}")]
    Conflict {
        field: Option<String>,
        detail: String,
    },
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the input is invalid")]
    Invalid(Vec<FieldError>),
    #[error("too many requests; retry in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("the service is not available: {0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[source] anyhow_like::Cause),
}

/// A boxed cause for 500s: logged, never shown.
pub mod anyhow_like {
    pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;
}

impl ApiError {
    pub fn invalid(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::Invalid(vec![FieldError::new(field, message)])
    }

    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> ApiError {
        ApiError::Internal(Box::new(e))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed | ApiError::Refused(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable `type` slug.
    fn slug(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad-request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound => "not-found",
            ApiError::MethodNotAllowed | ApiError::Refused(_) => "method-not-allowed",
            ApiError::Conflict { .. } => "conflict",
            ApiError::PayloadTooLarge { .. } => "payload-too-large",
            ApiError::UnsupportedMediaType(_) => "unsupported-media-type",
            ApiError::Invalid(_) => "invalid-input",
            ApiError::TooManyRequests { .. } => "rate-limited",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn problem(&self) -> Problem {
        let status = self.status();
        let errors = match self {
            ApiError::Invalid(errors) => errors.clone(),
            ApiError::Conflict {
                field: Some(f),
                detail,
            } => vec![FieldError::new(f.clone(), detail.clone())],
            _ => Vec::new(),
        };
        let detail = match self {
            ApiError::Internal(_) => {
                "something went wrong on our side; it has been logged".to_string()
            }
            ApiError::Invalid(errors) if errors.len() == 1 => {
                format!("{} {}", errors[0].field, errors[0].message)
            }
            other => other.to_string(),
        };
        Problem {
            kind: format!("{TYPE_BASE}{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail,
            errors,
        }
    }
}

impl ApiError {
    /// Logs an internal error with its cause chain (what the answer never shows).
    pub fn log_if_internal(&self) {
        if let ApiError::Internal(cause) = self {
            let mut chain = cause.to_string();
            let mut source = cause.source();
            while let Some(s) = source {
                chain.push_str(": ");
                chain.push_str(&s.to_string());
                source = s.source();
            }
            tracing::error!(error = %chain, "internal error");
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log_if_internal();
        let mut response = (self.status(), axum::Json(self.problem())).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let ApiError::TooManyRequests { retry_after_secs } = self
            && let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            headers.insert(header::RETRY_AFTER, v);
        }
        if let ApiError::Unauthorized(_) = self {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"everreach\""),
            );
        }
        response
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> ApiError {
        db_error(e)
    }
}

/// Database errors a client caused become 4xx naming the field; the rest are 500s.
pub fn db_error(e: sqlx::Error) -> ApiError {
    if let sqlx::Error::Database(d) = &e {
        let constraint = d.constraint().unwrap_or_default().to_string();
        match d.code().as_deref() {
            Some("23505") => {
                let field = field_of_constraint(&constraint);
                let detail = match &field {
                    Some(f) => format!("{f} is already taken"),
                    None => "a row with these values already exists".into(),
                };
                return ApiError::Conflict {
                    field: field.map(|f| format!("/{f}")),
                    detail,
                };
            }
            Some("23503") => {
                return ApiError::invalid(
                    &field_of_constraint(&constraint)
                        .map(|f| format!("/{f}"))
                        .unwrap_or_else(|| "/".into()),
                    "refers to something that does not exist",
                );
            }
            Some("23514") | Some("23502") | Some("22P02") | Some("22001") | Some("22003")
            | Some("22007") | Some("22008") | Some("22023") => {
                let column = d
                    .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                    .and_then(|p| p.column());
                let field = column
                    .map(str::to_string)
                    .or_else(|| field_of_constraint(&constraint));
                return ApiError::invalid(
                    &field.map(|f| format!("/{f}")).unwrap_or_else(|| "/".into()),
                    "is not an allowed value",
                );
            }
            // text with a NUL, JSON with \u0000, a value too big for an index
            Some("22021") | Some("22P05") | Some("54000") => {
                return ApiError::invalid(
                    "/",
                    "holds a value the database cannot store (a NUL character, or a key too long to index)",
                );
            }
            Some("42501") => return ApiError::Forbidden("this change is not allowed".into()),
            // lost a race with a concurrent write: nothing was stored, the same request
            // again will go through
            Some("40P01") | Some("40001") => {
                return ApiError::Unavailable(
                    "a concurrent change collided with this one and nothing was stored; retry"
                        .into(),
                );
            }
            _ => {}
        }
    }
    if matches!(e, sqlx::Error::PoolTimedOut) {
        return ApiError::Unavailable("the database is busy; retry shortly".into());
    }
    ApiError::internal(e)
}

/// `users_email_key` → `email`; `idx_api_tokens_live_name` → `name`; a CHECK named
/// `<table>_<column>_check` → `column`.
fn field_of_constraint(constraint: &str) -> Option<String> {
    const KNOWN: &[(&str, &str)] = &[
        ("users_email_key", "email"),
        ("users_username_key", "username"),
        ("idx_api_tokens_live_name", "name"),
    ];
    if let Some((_, f)) = KNOWN.iter().find(|(c, _)| *c == constraint) {
        return Some((*f).to_string());
    }
    let trimmed = constraint
        .strip_suffix("_key")
        .or_else(|| constraint.strip_suffix("_check"))
        .or_else(|| constraint.strip_suffix("_fkey"))?;
    trimmed.rsplit_once('_').map(|(_, col)| col.to_string())
}

/// At most this many field errors are listed in one answer (a batch of 10,000 bad
/// events would otherwise answer megabytes of them).
pub const MAX_LISTED_ERRORS: usize = 1_000;

/// The one mapping of domain errors to problem+json.
impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> ApiError {
        match e {
            DomainError::Invalid(problems) => ApiError::Invalid(
                problems
                    .into_iter()
                    .take(MAX_LISTED_ERRORS)
                    .map(|(f, m)| FieldError::new(f, m))
                    .collect(),
            ),
            DomainError::NotFound => ApiError::NotFound,
            DomainError::Conflict { field, detail } => ApiError::Conflict { field, detail },
            DomainError::Db(e) => db_error(e),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> ApiError {
        match e {
            AccountError::EmailTaken => ApiError::Conflict {
                field: Some("/email".into()),
                detail: e.to_string(),
            },
            AccountError::InvalidCredentials => ApiError::Unauthorized(e.to_string()),
            AccountError::Inactive => ApiError::Forbidden(e.to_string()),
            AccountError::NotFound => ApiError::NotFound,
            AccountError::TokenNameTaken(_) => ApiError::Conflict {
                field: Some("/name".into()),
                detail: e.to_string(),
            },
            AccountError::InvalidLink => ApiError::invalid("/token", e.to_string()),
            AccountError::NotAdmin => ApiError::Forbidden(e.to_string()),
            AccountError::LastAdmin | AccountError::CannotRemoveSelf => ApiError::Conflict {
                field: None,
                detail: e.to_string(),
            },
            AccountError::AlreadyInvited => ApiError::Conflict {
                field: Some("/email".into()),
                detail: e.to_string(),
            },
            AccountError::Db(e) => db_error(e),
            AccountError::Domain(e) => e.into(),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
