//! Settings: profile and time zone, password, e-mail confirmation, sessions (sign out
//! everywhere) and API tokens (created and shown once with a copy button; revoked).
//! The company's members, roles and invitations are on `/settings/company` (admins).

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use everreach_api::AppState;
use everreach_api::auth::session_clear_cookie;
use everreach_api::error::ApiError;
use everreach_core::accounts::store::ProfilePatch;
use everreach_core::accounts::{AccountError, Password, mails};

use crate::accounts::query;
use crate::error::{PageError, PageResult};
use crate::fmt::{self, When};
use crate::form::{Field, Form, Problems, UserForm};
use crate::session::Signed;
use crate::shell::{self, Nav, Shell};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings", get(page))
        .route("/settings/profile", post(save_profile))
        .route("/settings/password", post(change_password))
        .route("/settings/verify-email", post(resend_verification))
        .route("/settings/sign-out-everywhere", post(sign_out_everywhere))
        .route("/settings/tokens", get(tokens_page).post(create_token))
        .route("/settings/tokens/{id}/revoke", post(revoke_token))
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    shell: Shell,
    email: String,
    verified: bool,
    profile: Vec<Field>,
    password: Vec<Field>,
    problems: Problems,
}

/// Every IANA zone name, for the time zone picker.
fn zones() -> Vec<(String, String)> {
    let mut z: Vec<(String, String)> = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|t| (t.name().to_string(), t.name().replace('_', " ")))
        .collect();
    z.sort();
    z
}

fn settings(
    me: &Signed,
    form: Option<&Form>,
    problems: Problems,
    notice: Option<&str>,
) -> Response {
    let profile = vec![
        Field::new("full_name", "Your name", "text")
            .autocomplete("name")
            .value(
                me.user
                    .full_name
                    .clone()
                    .or(me.user.name.clone())
                    .unwrap_or_default(),
            ),
        Field::new("timezone", "Time zone", "select")
            .options(zones())
            .value(me.user.timezone.clone().unwrap_or_else(|| "UTC".into()))
            .hint("Times on every page are shown in it."),
    ];
    let password = vec![
        Field::new("current_password", "Current password", "password")
            .autocomplete("current-password"),
        Field::new("new_password", "New password", "password")
            .autocomplete("new-password")
            .hint("At least 10 characters. Your other sessions end; API tokens keep working."),
    ];
    let (profile, password) = match form {
        Some(f) => (
            profile.into_iter().map(|x| x.from(f, &problems)).collect(),
            password.into_iter().map(|x| x.from(f, &problems)).collect(),
        ),
        None => (profile, password),
    };
    let mut shell = me.shell("Settings", Nav::Settings);
    shell.has_errors = !problems.is_empty();
    shell.notice = notice.map(str::to_string);
    let has_errors = !problems.is_empty();
    shell::render_form(
        has_errors,
        &SettingsPage {
            shell,
            email: me.user.email.clone(),
            verified: me.user.email_verified.unwrap_or(false),
            profile,
            password,
            problems,
        },
    )
}

async fn page(me: Signed, RawQuery(q): RawQuery) -> Response {
    let notice = match query(q).get("done") {
        "profile" => Some("Your profile is saved."),
        "password" => Some("Your password is changed. Your other sessions have ended."),
        "verification" => Some("A confirmation link is on its way to your e-mail address."),
        _ => None,
    };
    settings(&me, None, Problems::default(), notice)
}

async fn save_profile(
    State(state): State<AppState>,
    UserForm { me, form }: UserForm,
) -> PageResult<Response> {
    let mut problems = Problems::default();
    let name = form.get("full_name");
    if name.chars().count() > 255 {
        problems.add("full_name", "Your name must be at most 255 characters");
    }
    let tz = form.get("timezone");
    if tz.parse::<chrono_tz::Tz>().is_err() {
        problems.add("timezone", "Choose a time zone from the list");
    }
    if !problems.is_empty() {
        return Ok(settings(&me, Some(&form), problems, None));
    }
    let patch = ProfilePatch {
        full_name: Some(name.to_string()),
        name: Some(name.to_string()),
        timezone: Some(tz.to_string()),
        ..ProfilePatch::default()
    };
    state.accounts.update_profile(me.user_id(), &patch).await?;
    Ok(Redirect::to("/settings?done=profile").into_response())
}

async fn change_password(
    State(state): State<AppState>,
    UserForm { me, form }: UserForm,
) -> PageResult<Response> {
    let mut problems = Problems::default();
    let current = form.raw("current_password");
    if current.is_empty() {
        problems.add("current_password", "Enter your current password");
    }
    let new = Password::parse(form.raw("new_password"))
        .map_err(|m| problems.add("new_password", format!("New password {m}")))
        .ok();
    let Some(new) = new.filter(|_| problems.is_empty()) else {
        return Ok(settings(&me, Some(&form), problems, None));
    };
    match state
        .accounts
        .change_password(me.user_id(), current, &new, Some(&me.session))
        .await
    {
        Ok(()) => Ok(Redirect::to("/settings?done=password").into_response()),
        Err(AccountError::InvalidCredentials) => {
            problems.add("current_password", "The current password is wrong");
            Ok(settings(&me, Some(&form), problems, None))
        }
        Err(e) => Err(e.into()),
    }
}

async fn resend_verification(
    State(state): State<AppState>,
    UserForm { me, .. }: UserForm,
) -> PageResult<Response> {
    let token = state
        .accounts
        .request_email_verification(me.user_id())
        .await?;
    let mail = mails::verification(&state.public_url, &me.user.email, &token);
    state.mailer.send(mail).await.map_err(ApiError::internal)?;
    Ok(Redirect::to("/settings?done=verification").into_response())
}

async fn sign_out_everywhere(
    State(state): State<AppState>,
    UserForm { me, .. }: UserForm,
) -> PageResult<Response> {
    state.accounts.sign_out_everywhere(me.user_id()).await?;
    Ok((
        [(header::SET_COOKIE, session_clear_cookie())],
        Redirect::to("/sign-in?done=everywhere"),
    )
        .into_response())
}

#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: uuid::Uuid,
    pub name: String,
    pub prefix: String,
    pub created: When,
    pub last_used: Option<When>,
    pub revoked: bool,
}

#[derive(Template)]
#[template(path = "settings_tokens.html")]
struct TokensPage {
    shell: Shell,
    tokens: Vec<TokenRow>,
    fields: Vec<Field>,
    problems: Problems,
    /// A token just created: shown this once.
    created: Option<(String, String)>,
}

async fn tokens(
    state: &AppState,
    me: &Signed,
    form: Option<&Form>,
    problems: Problems,
    created: Option<(String, String)>,
) -> PageResult<Response> {
    let tz = fmt::zone(me.user.timezone.as_deref());
    let list = state.accounts.list_api_tokens(me.user_id()).await?;
    let fields = vec![
        Field::new("name", "Token name", "text")
            .hint("What will use it, e.g. “laptop CLI” or “Zapier”."),
    ];
    let fields = match form {
        Some(f) => fields.into_iter().map(|x| x.from(f, &problems)).collect(),
        None => fields,
    };
    let mut shell = me.shell("API tokens", Nav::Settings);
    shell.has_errors = !problems.is_empty();
    if form.is_some() && created.is_none() && problems.is_empty() {
        shell.notice = Some("Token revoked.".into());
    }
    let has_errors = !problems.is_empty();
    Ok(shell::render_form(
        has_errors,
        &TokensPage {
            shell,
            tokens: list
                .into_iter()
                .map(|t| TokenRow {
                    id: t.id,
                    name: t.name,
                    prefix: t.token_prefix,
                    created: fmt::when(t.created_at, tz),
                    last_used: fmt::when_opt(t.last_used_at, tz),
                    revoked: t.revoked_at.is_some(),
                })
                .collect(),
            fields,
            problems,
            created,
        },
    ))
}

async fn tokens_page(State(state): State<AppState>, me: Signed) -> PageResult<Response> {
    tokens(&state, &me, None, Problems::default(), None).await
}

async fn create_token(
    State(state): State<AppState>,
    UserForm { me, form }: UserForm,
) -> PageResult<Response> {
    let mut problems = Problems::default();
    let name = form.get("name");
    if name.is_empty() {
        problems.add("name", "Enter a name for the token");
    } else if name.chars().count() > 100 {
        problems.add("name", "The name must be at most 100 characters");
    }
    if problems.is_empty() {
        match state.accounts.create_api_token(me.user_id(), name).await {
            Ok((row, token)) => {
                return tokens(
                    &state,
                    &me,
                    None,
                    Problems::default(),
                    Some((row.name, token)),
                )
                .await;
            }
            Err(AccountError::TokenNameTaken(_)) => {
                problems.add(
                    "name",
                    "You have a live token with this name: choose another",
                );
            }
            Err(e) => return Err(e.into()),
        }
    }
    tokens(&state, &me, Some(&form), problems, None).await
}

async fn revoke_token(
    State(state): State<AppState>,
    Path(id): Path<String>,
    UserForm { me, .. }: UserForm,
) -> PageResult<Response> {
    let id = id.parse().map_err(|_| PageError::Api(ApiError::NotFound))?;
    state.accounts.revoke_api_token(me.user_id(), id).await?;
    Ok(Redirect::to("/settings/tokens").into_response())
}
