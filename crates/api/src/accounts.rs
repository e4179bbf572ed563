//! `/api/v1/auth/*` (sign-up, sign-in, sign-out here or everywhere, e-mail
//! verification, password reset) and `/api/v1/me*` (the signed-in user, their
//! password, their API tokens, their data rights).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use everreach_core::accounts::store::{ApiToken, ProfilePatch};
use everreach_core::accounts::{AccountError, Email, Password, User, mails};
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
        .routes(routes!(request_password_reset))
        .routes(routes!(reset_password))
}

/// Routes for a signed-in caller.
pub fn signed_in_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_out))
        .routes(routes!(sign_out_everywhere))
        .routes(routes!(change_password))
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
    state.limits.check_account(&body.email)?;
    let (user, token) = state
        .accounts
        .sign_in(&body.email, &body.password, user_agent(&headers))
        .await?;
    Ok(with_session(StatusCode::OK, user, &token))
}

/// Ends every web session of the signed-in user, on every device, this one included.
/// API tokens stay valid until revoked.
#[utoipa::path(post, path = "/auth/sign-out-everywhere", tag = "auth",
    responses((status = 200, body = SignedOut, description = "Every session ended")))]
async fn sign_out_everywhere(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Response> {
    let sessions_ended = state.accounts.sign_out_everywhere(user.id).await?;
    let mut response = Json(SignedOut { sessions_ended }).into_response();
    if let Ok(v) = auth::session_clear_cookie().parse() {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignedOut {
    /// How many web sessions ended.
    sessions_ended: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeIn {
    current_password: String,
    /// At least 10 characters.
    new_password: String,
}

/// Changes the password; needs the current one. Every other web session ends (this
/// one stays); API tokens stay valid.
#[utoipa::path(post, path = "/me/password", tag = "me", request_body = PasswordChangeIn,
    responses((status = 204, description = "Changed"), (status = 401, body = Problem, description = "The current password is wrong"),
              (status = 422, body = Problem, description = "The new password is too short or too long")))]
async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PasswordChangeIn>,
) -> ApiResult<StatusCode> {
    let new = Password::parse(&body.new_password)
        .map_err(|m| ApiError::Invalid(vec![FieldError::new("/new_password", m)]))?;
    if body.current_password.chars().count() > 1024 {
        return Err(ApiError::Unauthorized(
            "the current password is wrong".into(),
        ));
    }
    let cookie = auth::session_cookie(&headers);
    state
        .accounts
        .change_password(user.id, &body.current_password, &new, cookie.as_deref())
        .await
        .map_err(|e| match e {
            AccountError::InvalidCredentials => {
                ApiError::Unauthorized("the current password is wrong".into())
            }
            e => e.into(),
        })?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequestIn {
    email: String,
}

/// Mails a password reset link to the address if it has an active account. The
/// answer is the same whether it has one or not.
#[utoipa::path(post, path = "/auth/password-reset", tag = "auth", request_body = ResetRequestIn,
    responses((status = 202, description = "If the address has an account, a link is on its way")))]
async fn request_password_reset(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ResetRequestIn>,
) -> ApiResult<StatusCode> {
    let Ok(email) = Email::parse(&body.email) else {
        return Err(ApiError::invalid("/email", "is not an e-mail address"));
    };
    state.limits.check_account(email.as_str())?;
    if let Some((to, token)) = state
        .accounts
        .request_password_reset(email.as_str())
        .await?
    {
        let mail = mails::password_reset(&state.public_url, &to, &token);
        state.mailer.send(mail).await.map_err(mail_error)?;
    }
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetIn {
    /// The token of the link in the mail.
    token: String,
    /// The new password, at least 10 characters.
    password: String,
}

/// Uses a password reset link: sets the new password and ends every web session of
/// the account. Sign in with the new password afterwards.
#[utoipa::path(post, path = "/auth/password-reset/confirm", tag = "auth", request_body = ResetIn,
    responses((status = 204, description = "The password is changed"),
              (status = 422, body = Problem, description = "Invalid, used or expired link, or a password too short")))]
async fn reset_password(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ResetIn>,
) -> ApiResult<StatusCode> {
    let password = Password::parse(&body.password)
        .map_err(|m| ApiError::Invalid(vec![FieldError::new("/password", m)]))?;
    state
        .accounts
        .reset_password(body.token.trim(), &password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
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

/// Mails a link proving the user reads their e-mail (through SMTP, or into the
/// outbox the operator reads with `everreach mail outbox`).
#[utoipa::path(post, path = "/me/verify-email", tag = "me", responses((status = 202, description = "Accepted")))]
async fn request_email_verification(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<StatusCode> {
    let me = state.accounts.user(user.id).await?;
    let token = state.accounts.request_email_verification(user.id).await?;
    let mail = mails::verification(&state.public_url, &me.email, &token);
    state.mailer.send(mail).await.map_err(mail_error)?;
    Ok(StatusCode::ACCEPTED)
}

pub(crate) fn mail_error(e: everreach_core::platform::mailer::MailError) -> ApiError {
    ApiError::internal(e)
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
) -> ApiResult<Response> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("/name", "must be 1 to 100 characters"));
    }
    let (api_token, token) = state.accounts.create_api_token(user.id, name).await?;
    let mut response =
        (StatusCode::CREATED, Json(TokenCreated { api_token, token })).into_response();
    response
        .extensions_mut()
        .insert(crate::idempotency::CarriesCredential);
    Ok(response)
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

/// Everything the signed-in user owns, as one JSON document:
/// `{"format", "exported_at", "user", "tables": {"<table>": [rows…]}}`. Secrets are
/// redacted and credentials left out. The document is read from one snapshot into a
/// private temporary file first, then sent from there: a slow reader never holds a
/// database connection, and a failure is a clean 500 rather than a truncated file.
#[utoipa::path(get, path = "/me/export", tag = "me",
    responses((status = 200, content_type = "application/json", description = "The export")))]
pub(crate) async fn export(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Response> {
    let file = spool_export(&state, user.id)
        .await
        .map_err(ApiError::internal)?;
    let body = axum::body::Body::from_stream(file_stream(file));
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    response.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        axum::http::HeaderValue::from_static("attachment; filename=\"everreach-export.json\""),
    );
    Ok(response)
}

/// Writes the export of `user_id` into an unlinked 0600 temporary file, rewound.
async fn spool_export(state: &AppState, user_id: Uuid) -> std::io::Result<tokio::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    use tokio::io::{AsyncSeekExt, AsyncWriteExt};
    let path = std::env::temp_dir().join(format!("everreach-export-{}", Uuid::new_v4()));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    // Unlinked at once: the file lives only as long as this handle.
    std::fs::remove_file(&path)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(8);
    let pool = state.db.app.clone();
    let producer =
        tokio::spawn(
            async move { everreach_core::accounts::export::export(&pool, user_id, tx).await },
        );
    let mut writer = tokio::io::BufWriter::new(tokio::fs::File::from_std(file));
    while let Some(chunk) = rx.recv().await {
        writer.write_all(&chunk).await?;
    }
    writer.flush().await?;
    match producer.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(std::io::Error::other(e)),
        Err(e) => return Err(std::io::Error::other(e.to_string())),
    }
    let mut file = writer.into_inner();
    file.rewind().await?;
    Ok(file)
}

/// The file's bytes as a body stream, 64 KiB at a time.
fn file_stream(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> {
    futures_util::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(bytes::Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    })
}
