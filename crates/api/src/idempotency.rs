//! `Idempotency-Key` on POSTs of a signed-in caller (docs/API.md "Idempotency"): the
//! first request with a key runs and its response is stored; a retry with the same
//! key and the same request gets that response back (`idempotent-replayed: true`)
//! instead of acting twice. The same key with another request is a 422; a retry
//! while the first is still running is a 409. Keys live 24 hours (then the
//! maintenance schedule purges them). A 5xx is not stored, so the client may retry it.
//!
//! - A request that died (client gone, process killed) holds its key for [`LEASE`]
//!   only; after that a retry runs it again instead of getting 409 for a day.
//! - A response that carries a credential (a handler marks it [`CarriesCredential`],
//!   e.g. a new API token) is never stored: its key records only that it ran, and
//!   a replay answers 409 naming what was created, so the client can find and
//!   revoke it. A credential is shown exactly once.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use everreach_core::db::tenant;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::ApiError;

pub static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// How long a request that has not finished holds its key.
pub const LEASE: std::time::Duration = std::time::Duration::from_secs(120);

/// Marks a response whose body holds a credential: it is not kept for replay.
#[derive(Debug, Clone, Copy)]
pub struct CarriesCredential;
static REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

pub async fn idempotency(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(raw_key) = req.headers().get(&IDEMPOTENCY_KEY) else {
        return Ok(next.run(req).await);
    };
    // an upload is streamed, never buffered for replay: importing a file twice adds
    // nothing, so a retried upload is harmless
    if req.method() != Method::POST || req.uri().path().ends_with(crate::extract::UPLOAD_PATH) {
        return Ok(next.run(req).await);
    }
    let key = raw_key
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::invalid(
                "/Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )
        })?
        .to_string();
    let user = req
        .extensions()
        .get::<CurrentUser>()
        .copied()
        .ok_or_else(|| ApiError::Unauthorized("sign in or send an API token".into()))?;

    let (parts, body) = req.into_parts();
    let limit = crate::extract::body_limit(parts.uri.path());
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge { limit })?;
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str());
    hasher.update(b"\0");
    hasher.update(parts.uri.path());
    hasher.update(b"\0");
    hasher.update(&bytes);
    let hash: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();

    let mut tx = tenant::begin(&state.db.app, user.id).await?;
    // A key is free when it is new, past its 24 hours, or held by a request that has
    // not finished within the lease (it died).
    let claimed: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
        "INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, key) DO UPDATE
            SET request_hash = EXCLUDED.request_hash, created_at = clock_timestamp(), completed_at = NULL,
                response_status = NULL, response_content_type = NULL, response_location = NULL,
                response_body = NULL, credential_withheld = false
          WHERE idempotency_keys.created_at < now() - interval '24 hours'
             OR (idempotency_keys.completed_at IS NULL
                 AND idempotency_keys.created_at < now() - make_interval(secs => $4))
         RETURNING created_at",
    )
    .bind(user.id)
    .bind(&key)
    .bind(&hash)
    .bind(LEASE.as_secs_f64())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(claimed_at) = claimed else {
        let stored: Stored = sqlx::query_as(
            "SELECT request_hash, response_status, response_content_type, response_location, response_body,
                    credential_withheld
             FROM idempotency_keys WHERE user_id = $1 AND key = $2",
        )
        .bind(user.id)
        .bind(&key)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        return replay(stored, &hash);
    };
    tx.commit().await?;

    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let status = response.status();
    let mut tx = tenant::begin(&state.db.app, user.id).await?;
    // Only our own claim is finished or released: if the lease ran out and a retry
    // claimed the key again, that retry's row is left alone.
    if status.is_server_error() {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND created_at = $3",
        )
        .bind(user.id)
        .bind(&key)
        .bind(claimed_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        return Ok(response);
    }
    if response.extensions().get::<CarriesCredential>().is_some() {
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        sqlx::query(
            "UPDATE idempotency_keys SET completed_at = now(), response_status = $4, response_location = $5,
                    credential_withheld = true
             WHERE user_id = $1 AND key = $2 AND created_at = $3",
        )
        .bind(user.id)
        .bind(&key)
        .bind(claimed_at)
        .bind(status.as_u16() as i16)
        .bind(location)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|e| ApiError::internal(std::io::Error::other(e.to_string())))?;
    let header_text = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    sqlx::query(
        "UPDATE idempotency_keys SET completed_at = now(), response_status = $3, response_content_type = $4,
                response_location = $5, response_body = $6
         WHERE user_id = $1 AND key = $2 AND created_at = $7",
    )
    .bind(user.id)
    .bind(&key)
    .bind(status.as_u16() as i16)
    .bind(header_text(header::CONTENT_TYPE))
    .bind(header_text(header::LOCATION))
    .bind(body.to_vec())
    .bind(claimed_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Response::from_parts(parts, Body::from(body)))
}

type Stored = (
    String,
    Option<i16>,
    Option<String>,
    Option<String>,
    Option<Vec<u8>>,
    bool,
);

fn replay(
    (request_hash, status, content_type, location, body, withheld): Stored,
    hash: &str,
) -> Result<Response, ApiError> {
    if request_hash != hash {
        return Err(ApiError::invalid(
            "/Idempotency-Key",
            "was already used with a different request",
        ));
    }
    let Some(status) = status.and_then(|s| StatusCode::from_u16(s as u16).ok()) else {
        return Err(ApiError::Conflict {
            field: Some("/Idempotency-Key".into()),
            detail: "a request with this key is still being handled; retry shortly".into(),
        });
    };
    if withheld {
        let created = location.map_or_else(String::new, |l| format!(" ({l})"));
        return Err(ApiError::Conflict {
            field: Some("/Idempotency-Key".into()),
            detail: format!(
                "the first request with this key succeeded{created}, and its answer held a credential, \
                 which is shown only once and not replayed; list what you created (GET /api/v1/me/api-tokens), \
                 revoke it if you did not receive it, and create another with a new key"
            ),
        });
    }
    let mut response = (status, body.unwrap_or_default()).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, content_type),
        (header::LOCATION, location),
    ] {
        if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(name, v);
        }
    }
    headers.insert(REPLAYED.clone(), HeaderValue::from_static("true"));
    Ok(response)
}
