//! `Idempotency-Key` on POSTs of a signed-in caller (docs/API.md "Idempotency"): the
//! first request with a key runs and its response is stored; a retry with the same
//! key and the same request gets that response back (`idempotent-replayed: true`)
//! instead of acting twice. The same key with another request is a 422; a retry
//! while the first is still running is a 409. Keys live 24 hours. A 5xx is not
//! stored, so the client may retry it.

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
static REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

pub async fn idempotency(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(raw_key) = req.headers().get(&IDEMPOTENCY_KEY) else {
        return Ok(next.run(req).await);
    };
    if req.method() != Method::POST {
        return Ok(next.run(req).await);
    }
    let key = raw_key
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 255)
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
    let claimed: Option<i32> = sqlx::query_scalar(
        "INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, key) DO UPDATE
            SET request_hash = EXCLUDED.request_hash, created_at = now(), completed_at = NULL,
                response_status = NULL, response_content_type = NULL, response_location = NULL, response_body = NULL
          WHERE idempotency_keys.created_at < now() - interval '24 hours'
         RETURNING 1",
    )
    .bind(user.id)
    .bind(&key)
    .bind(&hash)
    .fetch_optional(&mut *tx)
    .await?;
    if claimed.is_none() {
        let stored: Stored = sqlx::query_as(
            "SELECT request_hash, response_status, response_content_type, response_location, response_body
             FROM idempotency_keys WHERE user_id = $1 AND key = $2",
        )
        .bind(user.id)
        .bind(&key)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        return replay(stored, &hash);
    }
    tx.commit().await?;

    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let status = response.status();
    let mut tx = tenant::begin(&state.db.app, user.id).await?;
    if status.is_server_error() {
        sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2")
            .bind(user.id)
            .bind(&key)
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
         WHERE user_id = $1 AND key = $2",
    )
    .bind(user.id)
    .bind(&key)
    .bind(status.as_u16() as i16)
    .bind(header_text(header::CONTENT_TYPE))
    .bind(header_text(header::LOCATION))
    .bind(body.to_vec())
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
);

fn replay(
    (request_hash, status, content_type, location, body): Stored,
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
