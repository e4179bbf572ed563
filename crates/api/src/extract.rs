//! `ApiJson<T>`: the JSON body extractor every handler uses. It answers malformed
//! JSON with 400, a wrong content type with 415, an oversized body with 413 and
//! wrong types, unknown fields or missing fields with 422 naming the field as a JSON
//! pointer — where axum's own `Json` would answer in plain text. `ApiQuery<T>` does
//! the same for the query string: a parameter of the wrong type or a missing one is a
//! 422 naming it (axum's `Query` answers 400 in plain text).

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};

/// A path id that is not a UUID names nothing: 404, as for another tenant's id
/// (never a 400 that would tell the two apart). API handlers and pages both use it.
pub fn path_id(id: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(id).map_err(|_| ApiError::NotFound)
}

/// Largest JSON body accepted (1 MiB); bigger ones get 413 before being read whole.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// Largest body of a batch route (10,000 events); the route sets it with
/// `DefaultBodyLimit::max(BATCH_BODY_LIMIT)` and takes `ApiJson<T, BATCH_BODY_LIMIT>`.
pub const BATCH_BODY_LIMIT: usize = 32 * 1024 * 1024;

/// The path of uploads (multipart, up to 1 GiB): never buffered by a middleware.
pub const UPLOAD_PATH: &str = "/imports";

/// The path of the one route that takes [`BATCH_BODY_LIMIT`].
pub const BATCH_PATH: &str = "/person-events/batch";

/// The body limit of the route at `path` (full, or as seen inside the `/api/v1`
/// nest): [`BATCH_BODY_LIMIT`] for the event batch, [`BODY_LIMIT`] for every other.
/// Middleware that reads a body before the route (idempotency) asks here.
pub fn body_limit(path: &str) -> usize {
    if path.ends_with(BATCH_PATH) {
        BATCH_BODY_LIMIT
    } else {
        BODY_LIMIT
    }
}

/// A JSON body; `LIMIT` is what a 413 reports (the route's `DefaultBodyLimit`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T, const LIMIT: usize = BODY_LIMIT>(pub T);

impl<S, T, const LIMIT: usize> FromRequest<S> for ApiJson<T, LIMIT>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                let mime = ct
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                mime == "application/json"
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType(
                "send the body as JSON with `Content-Type: application/json`".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge { limit: LIMIT }
            } else {
                ApiError::BadRequest("the request body could not be read".into())
            }
        })?;
        parse(&bytes).map(ApiJson)
    }
}

/// The query string as `T`; a parameter that does not fit is a 422 naming it
/// (`/limit`), a missing required one a 422 saying it is required.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parse_query(parts.uri.query().unwrap_or_default()).map(ApiQuery)
    }
}

/// Deserialises a query string (without its `?`) with the name of the first wrong
/// parameter.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        if let Some(name) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.strip_suffix('`'))
        {
            return ApiError::invalid(&format!("/{}", escape(name)), "is required");
        }
        let field = if path == "." || path.is_empty() {
            "/".to_string()
        } else {
            format!("/{}", escape(&path))
        };
        ApiError::invalid(&field, format!("is not valid: {message}"))
    })
}

/// Deserialises with the path of the first wrong field. Every body is a JSON object:
/// an array is refused before serde, which would fill a struct's fields from it by
/// position (`[null, null]` as a patch of two fields).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[')
        && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
    {
        return Err(ApiError::invalid("/", "must be a JSON object"));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = pointer(&e.path().to_string());
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                ApiError::BadRequest(format!(
                    "the body is not valid JSON (line {}, column {})",
                    inner.line(),
                    inner.column()
                ))
            }
            serde_json::error::Category::Io => {
                ApiError::BadRequest("the request body could not be read".into())
            }
            serde_json::error::Category::Data => {
                // For an unknown field the path already ends with the offending key.
                ApiError::Invalid(vec![FieldError::new(
                    path,
                    data_message(&inner.to_string()),
                )])
            }
        }
    })
}

/// serde's "invalid type: integer `3`, expected a string at line 1 column 9" without
/// the position, which means nothing to an API client.
fn data_message(text: &str) -> String {
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text.to_string(),
    }
}

/// serde_path_to_error's `a.b[0].c` (or `.` for the root) as a JSON pointer `/a/b/0/c`.
fn pointer(path: &str) -> String {
    if path == "." || path.is_empty() {
        return "/".into();
    }
    let mut out = String::new();
    for part in path.split('.') {
        let mut rest = part;
        while let Some(open) = rest.find('[') {
            let (name, tail) = rest.split_at(open);
            if !name.is_empty() {
                out.push('/');
                out.push_str(&escape(name));
            }
            let close = tail.find(']').unwrap_or(tail.len());
            out.push('/');
            out.push_str(&tail[1..close]);
            rest = tail.get(close + 1..).unwrap_or("");
        }
        if !rest.is_empty() {
            out.push('/');
            out.push_str(&escape(rest));
        }
    }
    out
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "fields exist to be deserialised")]
    struct Body {
        email: String,
        tags: Vec<u8>,
    }

    fn field_of(json: &str) -> (String, String) {
        match parse::<Body>(json.as_bytes()) {
            Err(ApiError::Invalid(errors)) => (errors[0].field.clone(), errors[0].message.clone()),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn wrong_types_unknown_and_missing_fields_are_named() {
        assert_eq!(field_of(r#"{"email": 3, "tags": []}"#).0, "/email");
        assert_eq!(field_of(r#"{"email": "a", "tags": [1, "x"]}"#).0, "/tags/1");
        let (field, message) = field_of(r#"{"email": "a", "tags": [], "admin": true}"#);
        assert_eq!(field, "/admin");
        assert!(message.starts_with("unknown field"), "{message}");
        assert!(
            field_of(r#"{"tags": []}"#)
                .1
                .contains("missing field `email`")
        );
    }

    #[test]
    fn an_array_is_not_a_body_even_where_serde_would_take_it() {
        #[derive(Debug, Deserialize)]
        #[expect(dead_code, reason = "fields exist to be deserialised")]
        struct Patch {
            name: Option<String>,
            bio: Option<String>,
        }
        match parse::<Patch>(b" [null, null]") {
            Err(ApiError::Invalid(errors)) => assert_eq!(errors[0].field, "/"),
            other => panic!("expected Invalid, got {other:?}"),
        }
        assert!(matches!(
            parse::<Patch>(b"[null,"),
            Err(ApiError::BadRequest(_))
        ));
    }

    #[test]
    fn malformed_json_is_a_bad_request_with_its_position() {
        match parse::<Body>(b"{\"email\": ") {
            Err(ApiError::BadRequest(detail)) => assert!(detail.contains("line 1"), "{detail}"),
            other => panic!("expected BadRequest, got {other:?}"),
        }
    }
}
