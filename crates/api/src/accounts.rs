//! `/api/v1/auth/*` (sign-up, sign-in, sign-out, e-mail verification) and
//! `/api/v1/me*` (the signed-in user, their API tokens, their data rights).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use everreach_core::accounts::store::{ApiToken, ProfilePatch};
use everreach_core::accounts::{Email, Password, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::auth::{self, CurrentUser};
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::extract::ApiJson;

/// Routes anyone may call (rate-limited per client address).
pub fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_up))
        .routes(routes!(sign_in))
        .routes(routes!(confirm_email))
}

/// Routes for a signed-in caller.
pub fn signed_in_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_out))
        .routes(routes!(me, update_me, delete_me))
        .routes(routes!(export))
        .routes(routes!(request_email_verification))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUpIn {
    /// Your e-mail address; it is how you sign in.
    email: String,
    /// At least 10 characters.
    password: String,
    /// How you want to be called.
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInIn {
    email: String,
    password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    #[schema(value_type = Object)]
    user: User,
}

pub(crate) fn with_session(status: StatusCode, user: User, token: &str) -> Response {
    let mut response = (status, Json(UserOut { user })).into_response();
    if let Ok(v) = auth::session_set_cookie(token).parse() {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

fn user_agent(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
}

/// Creates an account (and its personal company) and signs it in.
#[utoipa::path(post, path = "/auth/sign-up", tag = "auth", request_body = SignUpIn,
    responses((status = 201, body = UserOut, description = "signed up and signed in (session cookie set)"),
              (status = 409, body = Problem, description = "the e-mail has an account"),
              (status = 422, body = Problem, description = "Invalid input; `errors` names each field")))]
async fn sign_up(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SignUpIn>,
) -> ApiResult<Response> {
    let mut errors = Vec::new();
    let email = Email::parse(&body.email)
        .map_err(|m| errors.push(FieldError::new("/email", m)))
        .ok();
    let password = Password::parse(&body.password)
        .map_err(|m| errors.push(FieldError::new("/password", m)))
        .ok();
    let name = body
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if name.is_some_and(|n| n.chars().count() > 255) {
        errors.push(FieldError::new("/name", "must be at most 255 characters"));
    }
    let (Some(email), Some(password), true) = (email, password, errors.is_empty()) else {
        return Err(ApiError::Invalid(errors));
    };
    state.accounts.sign_up(&email, &password, name).await?;
    let (user, token) = state
        .accounts
        .sign_in(email.as_str(), password.expose(), user_agent(&headers))
        .await?;
    Ok(with_session(StatusCode::CREATED, user, &token))
}

/// Signs in with e-mail and password; sets the session cookie.
#[utoipa::path(post, path = "/auth/sign-in", tag = "auth", request_body = SignInIn,
    responses((status = 200, body = UserOut, description = "OK"), (status = 401, body = Problem, description = "wrong e-mail or password"),
              (status = 403, body = Problem, description = "the account is deactivated")))]
async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SignInIn>,
) -> ApiResult<Response> {
    if body.password.chars().count() > 1024 || body.email.chars().count() > 255 {
        return Err(ApiError::Unauthorized(
            "the e-mail or password is wrong".into(),
        ));
    }
    let (user, token) = state
        .accounts
        .sign_in(&body.email, &body.password, user_agent(&headers))
        .await?;
    Ok(with_session(StatusCode::OK, user, &token))
}

/// Ends the current web session (an API token stays valid until revoked).
#[utoipa::path(post, path = "/auth/sign-out", tag = "auth", responses((status = 204, description = "No content")))]
async fn sign_out(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if let Some(cookie) = auth::session_cookie(&headers) {
        state.accounts.sign_out(&user.principal(), &cookie).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = auth::session_clear_cookie().parse() {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// The signed-in user.
#[utoipa::path(get, path = "/me", tag = "me", responses((status = 200, body = UserOut, description = "OK"), (status = 401, body = Problem, description = "Not signed in, or the credentials are wrong")))]
async fn me(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<UserOut>> {
    Ok(Json(UserOut {
        user: state.accounts.user(user.id).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MePatch {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    full_name: Option<String>,
    #[serde(default)]
    avatar_url: Option<String>,
    /// An IANA time zone such as `Europe/Berlin`.
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    onboarding_completed: Option<bool>,
}

/// Changes the signed-in user's profile.
#[utoipa::path(patch, path = "/me", tag = "me", request_body = MePatch,
    responses((status = 200, body = UserOut, description = "OK"), (status = 422, body = Problem, description = "Invalid input; `errors` names each field")))]
async fn update_me(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<MePatch>,
) -> ApiResult<Json<UserOut>> {
    let mut errors = Vec::new();
    for (field, value, max) in [
        ("/name", &body.name, 255),
        ("/full_name", &body.full_name, 255),
        ("/timezone", &body.timezone, 50),
    ] {
        if value.as_ref().is_some_and(|v| v.chars().count() > max) {
            errors.push(FieldError::new(
                field,
                format!("must be at most {max} characters"),
            ));
        }
    }
    if let Some(url) = &body.avatar_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        errors.push(FieldError::new("/avatar_url", "must be an http(s) URL"));
    }
    if let Some(tz) = &body.timezone
        && errors.is_empty()
    {
        let known: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)")
                .bind(tz)
                .fetch_one(&state.db.app)
                .await?;
        if !known {
            errors.push(FieldError::new(
                "/timezone",
                "is not an IANA time zone such as Europe/Berlin",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let patch = ProfilePatch {
        name: body.name,
        full_name: body.full_name,
        avatar_url: body.avatar_url,
        timezone: body.timezone,
        onboarding_completed: body.onboarding_completed,
    };
    Ok(Json(UserOut {
        user: state.accounts.update_profile(user.id, &patch).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReauthIn {
    /// The account's password, again.
    password: String,
}

/// Erases the signed-in user and every row they own. Needs the password again.
#[utoipa::path(delete, path = "/me", tag = "me", request_body = ReauthIn,
    responses((status = 204, description = "erased"), (status = 401, body = Problem, description = "wrong password")))]
async fn delete_me(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<ReauthIn>,
) -> ApiResult<Response> {
    let me = state.accounts.user(user.id).await?;
    state
        .accounts
        .delete_account(user.id, &me.email, &body.password)
        .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = auth::session_clear_cookie().parse() {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// Sends a link proving the user reads their e-mail. Until outgoing mail is
/// configured, the link is written to the server log.
#[utoipa::path(post, path = "/me/verify-email", tag = "me", responses((status = 202, description = "Accepted")))]
async fn request_email_verification(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<StatusCode> {
    let token = state.accounts.request_email_verification(user.id).await?;
    tracing::info!(user_id = %user.id, "e-mail verification link: /verify-email?token={token}");
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmEmailIn {
    token: String,
}

/// Uses an e-mail verification link.
#[utoipa::path(post, path = "/auth/verify-email", tag = "auth", request_body = ConfirmEmailIn,
    responses((status = 200, description = "verified"), (status = 422, body = Problem, description = "invalid, used or expired")))]
async fn confirm_email(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ConfirmEmailIn>,
) -> ApiResult<Json<serde_json::Value>> {
    let user_id = state.accounts.confirm_email(body.token.trim()).await?;
    Ok(Json(
        serde_json::json!({ "user_id": user_id, "email_verified": true }),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    #[schema(value_type = Vec<Object>)]
    items: Vec<ApiToken>,
}

/// The user's API tokens (never the tokens themselves).
#[utoipa::path(get, path = "/me/api-tokens", tag = "me", responses((status = 200, body = TokenList, description = "OK")))]
async fn list_tokens(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<TokenList>> {
    Ok(Json(TokenList {
        items: state.accounts.list_api_tokens(user.id).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenIn {
    /// What the token is for, e.g. "laptop CLI".
    name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenCreated {
    #[schema(value_type = Object)]
    api_token: ApiToken,
    /// Shown this once: store it now.
    token: String,
}

/// Creates an API token; the response is the only time it is shown.
#[utoipa::path(post, path = "/me/api-tokens", tag = "me", request_body = TokenIn,
    responses((status = 201, body = TokenCreated, description = "Created"), (status = 409, body = Problem, description = "a live token has this name")))]
async fn create_token(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<TokenIn>,
) -> ApiResult<(StatusCode, Json<TokenCreated>)> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("/name", "must be 1 to 100 characters"));
    }
    let (api_token, token) = state.accounts.create_api_token(user.id, name).await?;
    Ok((StatusCode::CREATED, Json(TokenCreated { api_token, token })))
}

/// Revokes one of the user's API tokens.
#[utoipa::path(delete, path = "/me/api-tokens/{id}", tag = "me", params(("id" = Uuid, Path)),
    responses((status = 204, description = "No content"), (status = 404, body = Problem, description = "Not found")))]
async fn revoke_token(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound)?;
    state.accounts.revoke_api_token(user.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Everything the signed-in user owns, as one JSON document streamed row by row:
/// `{"format", "exported_at", "user", "tables": {"<table>": [rows…]}}`. Secrets are
/// redacted and credentials left out.
#[utoipa::path(get, path = "/me/export", tag = "me",
    responses((status = 200, content_type = "application/json", description = "The export, streamed")))]
pub(crate) async fn export(State(state): State<AppState>, user: CurrentUser) -> Response {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(8);
    let pool = state.db.app.clone();
    let user_id = user.id;
    // The producer lives exactly as long as the response body is read.
    tokio::spawn(async move {
        if let Err(e) = everreach_core::accounts::export::export(&pool, user_id, tx).await {
            tracing::error!(error = %e, %user_id, "export failed midway; the client gets a truncated document");
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok::<_, std::convert::Infallible>(bytes::Bytes::from(c))))
    });
    let mut response = axum::body::Body::from_stream(stream).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    response.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        axum::http::HeaderValue::from_static("attachment; filename=\"everreach-export.json\""),
    );
    response
}
