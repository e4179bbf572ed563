//! The one error type of domain code ([`DomainError`]): what every domain service
//! returns, mapped to problem+json in one place (`everreach_api::error`).
//!
//! - `Invalid`: every `(JSON pointer, message)` found at once; nothing was stored.
//! - `NotFound`: no such row of this tenant's (another tenant's row is not found).
//! - `Conflict`: the request clashes with what is stored; `field` names the input to
//!   change when there is one (e.g. `/force`).
//! - `Db`: the database failed; the API turns constraint errors it recognises into
//!   4xx naming the field, and the rest into a 500 that reveals nothing.

/// One invalid input: a JSON pointer into the request and a plain message.
pub type FieldProblem = (String, String);

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("the input is invalid")]
    Invalid(Vec<FieldProblem>),
    #[error("not found")]
    NotFound,
    #[error("{detail}")]
    Conflict {
        field: Option<String>,
        detail: String,
    },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl DomainError {
    /// One invalid field.
    pub fn invalid(field: &str, message: impl Into<String>) -> DomainError {
        DomainError::Invalid(vec![(field.to_string(), message.into())])
    }

    /// A conflict with no one field to blame.
    pub fn conflict(detail: impl Into<String>) -> DomainError {
        DomainError::Conflict {
            field: None,
            detail: detail.into(),
        }
    }

    /// A conflict the client resolves by changing `field`.
    pub fn conflict_on(field: &str, detail: impl Into<String>) -> DomainError {
        DomainError::Conflict {
            field: Some(field.to_string()),
            detail: detail.into(),
        }
    }
}

pub type DomainResult<T> = Result<T, DomainError>;
