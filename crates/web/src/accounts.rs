//! The account pages: first run (no user yet: create the first account), sign-up,
//! sign-in, sign-out, and the pages the mailed links open — verify e-mail, accept an
//! invitation, reset a password. Each link page shows a button or a form; the
//! token is used only by the POST, so a mail scanner that fetches the link uses
//! nothing up.

use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use everreach_api::AppState;
use everreach_api::auth::{session_clear_cookie, session_cookie, session_set_cookie};
use everreach_api::error::ApiError;
use everreach_core::accounts::{AccountError, Email, Password, mails};

use crate::error::{PageError, PageResult};
use crate::form::{Field, Form, Problems, UserForm, VisitorForm};
use crate::session::Visitor;
use crate::shell::{self, Shell};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/first-run", get(first_run_page).post(first_run))
        .route("/sign-up", get(sign_up_page).post(sign_up))
        .route("/sign-in", get(sign_in_page).post(sign_in))
        .route("/sign-out", post(sign_out))
        .route("/verify-email", get(verify_page).post(verify))
        .route("/accept-invitation", get(accept_page).post(accept))
        .route("/reset-password", get(reset_page).post(reset))
}

#[derive(Template)]
#[template(path = "account_form.html")]
struct AccountForm {
    shell: Shell,
    heading: &'static str,
    intro: String,
    action: &'static str,
    hidden: Vec<(&'static str, String)>,
    fields: Vec<Field>,
    submit: &'static str,
    links: Vec<(&'static str, &'static str)>,
    problems: Problems,
}

impl AccountForm {
    fn respond(mut self, visitor: &Visitor) -> Response {
        self.shell.has_errors = !self.problems.is_empty();
        visitor.keep(shell::render_form(self.shell.has_errors, &self))
    }
}

#[derive(Template)]
#[template(path = "account_message.html")]
struct AccountMessage {
    shell: Shell,
    heading: &'static str,
    message: String,
    next: Option<(&'static str, &'static str)>,
}

fn message(
    heading: &'static str,
    text: impl Into<String>,
    next: Option<(&'static str, &'static str)>,
) -> Response {
    shell::render(&AccountMessage {
        shell: Shell::bare(heading),
        heading,
        message: text.into(),
        next,
    })
}

/// The query string as form fields.
pub fn query(raw: Option<String>) -> Form {
    Form::parse(raw.unwrap_or_default().as_bytes())
}

/// `next` if it is a path of this site (never another host), else `fallback`.
fn local_path(next: &str, fallback: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(char::is_control);
    if ok { next } else { fallback }.to_string()
}

/// Signs `email` in and sends the browser to `to` with the session cookie.
async fn signed_in_redirect(
    state: &AppState,
    email: &str,
    password: &str,
    to: &str,
) -> Result<Response, AccountError> {
    let (_, token) = state.accounts.sign_in(email, password, Some("web")).await?;
    Ok((
        [(header::SET_COOKIE, session_set_cookie(&token))],
        Redirect::to(to),
    )
        .into_response())
}

/// `/`: people for a signed-in user, first run before anyone has an account, else
/// sign-in.
async fn home(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> PageResult<Response> {
    if let Some(cookie) = session_cookie(&headers)
        && state
            .accounts
            .authenticate_session(&cookie)
            .await?
            .is_some()
    {
        return Ok(Redirect::to("/people").into_response());
    }
    if !state.accounts.has_users().await? {
        return Ok(Redirect::to("/first-run").into_response());
    }
    Ok(Redirect::to("/sign-in").into_response())
}

fn sign_up_form(visitor: &Visitor, form: &Form, problems: Problems, first: bool) -> Response {
    let (title, heading, intro, action) = if first {
        (
            "Welcome",
            "Welcome to EverReach",
            "Nobody has an account here yet. Create the first one: you will be the admin of your company and can invite the rest of your team.",
            "/first-run",
        )
    } else {
        (
            "Create an account",
            "Create an account",
            "One place for everyone you talk to. Your account starts with its own company; you can invite others later.",
            "/sign-up",
        )
    };
    AccountForm {
        shell: visitor.shell(title),
        heading,
        intro: intro.into(),
        action,
        hidden: Vec::new(),
        fields: vec![
            Field::new("name", "Your name", "text")
                .autocomplete("name")
                .hint("How EverReach greets you. You can change it later.")
                .from(form, &problems),
            Field::new("email", "E-mail address", "email")
                .autocomplete("email")
                .required()
                .hint("You sign in with it.")
                .from(form, &problems),
            Field::new("password", "Password", "password")
                .autocomplete("new-password")
                .required()
                .hint("At least 10 characters.")
                .from(form, &problems),
        ],
        submit: "Create account",
        links: if first {
            Vec::new()
        } else {
            vec![("/sign-in", "I already have an account")]
        },
        problems,
    }
    .respond(visitor)
}

async fn first_run_page(State(state): State<AppState>, visitor: Visitor) -> PageResult<Response> {
    if state.accounts.has_users().await? {
        return Ok(Redirect::to("/sign-in").into_response());
    }
    Ok(sign_up_form(
        &visitor,
        &Form::default(),
        Problems::default(),
        true,
    ))
}

async fn first_run(State(state): State<AppState>, posted: VisitorForm) -> PageResult<Response> {
    create_account(state, posted, true).await
}

async fn sign_up_page(visitor: Visitor) -> Response {
    sign_up_form(&visitor, &Form::default(), Problems::default(), false)
}

async fn sign_up(State(state): State<AppState>, posted: VisitorForm) -> PageResult<Response> {
    create_account(state, posted, false).await
}

/// Sign-up and first run: the account, its session, and a verification mail.
async fn create_account(state: AppState, posted: VisitorForm, first: bool) -> PageResult<Response> {
    let VisitorForm {
        visitor,
        form,
        client,
    } = posted;
    state.limits.check_client(client)?;
    let mut problems = Problems::default();
    let name = form.get("name");
    if name.chars().count() > 255 {
        problems.add("name", "Your name must be at most 255 characters");
    }
    let email = Email::parse(form.get("email"))
        .map_err(|m| problems.add("email", format!("E-mail address {m}")))
        .ok();
    let password = Password::parse(form.raw("password"))
        .map_err(|m| problems.add("password", format!("Password {m}")))
        .ok();
    let (Some(email), Some(password), true) = (email, password, problems.is_empty()) else {
        return Ok(sign_up_form(&visitor, &form, problems, first));
    };
    let name = Some(name).filter(|n| !n.is_empty());
    let user = match state.accounts.sign_up(&email, &password, name).await {
        Ok(user) => user,
        Err(AccountError::EmailTaken) => {
            problems.add(
                "email",
                "An account with this e-mail address already exists: sign in instead",
            );
            return Ok(sign_up_form(&visitor, &form, problems, first));
        }
        Err(e) => return Err(e.into()),
    };
    let response = signed_in_redirect(
        &state,
        email.as_str(),
        password.expose(),
        "/people?welcome=1",
    )
    .await?;
    send_verification(&state, user.id, email.as_str()).await;
    Ok(response)
}

/// Mails a verification link to `email`'s new account; a failure is logged, not
/// shown (the user can ask again in Settings).
async fn send_verification(state: &AppState, user_id: uuid::Uuid, email: &str) {
    let token = match state.accounts.request_email_verification(user_id).await {
        Ok(token) => token,
        Err(e) => {
            tracing::warn!(error = %e, "no verification link for a new account");
            return;
        }
    };
    let mail = mails::verification(&state.public_url, email, &token);
    if let Err(e) = state.mailer.send(mail).await {
        tracing::warn!(error = %e, "the verification mail of a new account was not sent");
    }
}

fn sign_in_form(visitor: &Visitor, form: &Form, problems: Problems, done: &str) -> Response {
    let intro = match done {
        "signed-out" => "You have signed out.",
        "password-reset" => "Your password is changed. Sign in with the new one.",
        "everywhere" => "Every session has ended. Sign in again on this device.",
        _ => "",
    };
    AccountForm {
        shell: visitor.shell("Sign in"),
        heading: "Sign in to EverReach",
        intro: intro.into(),
        action: "/sign-in",
        hidden: vec![("next", local_path(form.get("next"), "/people"))],
        fields: vec![
            Field::new("email", "E-mail address", "email")
                .autocomplete("username")
                .required()
                .from(form, &problems),
            Field::new("password", "Password", "password")
                .autocomplete("current-password")
                .required()
                .from(form, &problems),
        ],
        submit: "Sign in",
        links: vec![
            ("/reset-password", "I forgot my password"),
            ("/sign-up", "Create an account"),
        ],
        problems,
    }
    .respond(visitor)
}

async fn sign_in_page(visitor: Visitor, RawQuery(q): RawQuery) -> Response {
    let q = query(q);
    let done = q.get("done").to_string();
    sign_in_form(&visitor, &q, Problems::default(), &done)
}

async fn sign_in(State(state): State<AppState>, posted: VisitorForm) -> PageResult<Response> {
    let VisitorForm {
        visitor,
        form,
        client,
    } = posted;
    state.limits.check_client(client)?;
    let mut problems = Problems::default();
    let (email, password) = (form.get("email"), form.raw("password"));
    if email.is_empty() {
        problems.add("email", "Enter your e-mail address");
    }
    if password.is_empty() {
        problems.add("password", "Enter your password");
    }
    if email.chars().count() > 255 || password.chars().count() > 1024 {
        problems.add("email", "The e-mail address or password is wrong");
    }
    if !problems.is_empty() {
        return Ok(sign_in_form(&visitor, &form, problems, ""));
    }
    state.limits.check_account(email)?;
    let next = local_path(form.get("next"), "/people");
    match signed_in_redirect(&state, email, password, &next).await {
        Ok(r) => Ok(r),
        Err(AccountError::InvalidCredentials) => {
            problems.add("email", "The e-mail address or password is wrong");
            Ok(sign_in_form(&visitor, &form, problems, ""))
        }
        Err(AccountError::Inactive) => {
            problems.add("email", AccountError::Inactive.to_string());
            Ok(sign_in_form(&visitor, &form, problems, ""))
        }
        Err(e) => Err(e.into()),
    }
}

async fn sign_out(State(state): State<AppState>, posted: UserForm) -> PageResult<Response> {
    state
        .accounts
        .sign_out(&posted.me.principal, &posted.me.session)
        .await?;
    Ok((
        [(header::SET_COOKIE, session_clear_cookie())],
        Redirect::to("/sign-in?done=signed-out"),
    )
        .into_response())
}

/// A link page's token, or the page saying the link is broken.
fn token_of(form: &Form) -> Option<String> {
    Some(form.get("token").to_string()).filter(|t| !t.is_empty() && t.len() <= 200)
}

fn broken_link(what: &'static str) -> Response {
    let mut r = message(
        "This link does not work",
        format!(
            "The {what} link is invalid, was used already, or has expired. Links work once and only for a while."
        ),
        Some(("/", "Go to the start")),
    );
    *r.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    r
}

async fn verify_page(visitor: Visitor, RawQuery(q): RawQuery) -> Response {
    let Some(token) = token_of(&query(q)) else {
        return broken_link("e-mail confirmation");
    };
    AccountForm {
        shell: visitor.shell("Confirm your e-mail address"),
        heading: "Confirm your e-mail address",
        intro: "Press the button to confirm that this address is yours.".into(),
        action: "/verify-email",
        hidden: vec![("token", token)],
        fields: Vec::new(),
        submit: "Confirm my e-mail address",
        links: Vec::new(),
        problems: Problems::default(),
    }
    .respond(&visitor)
}

async fn verify(State(state): State<AppState>, posted: VisitorForm) -> PageResult<Response> {
    state.limits.check_client(posted.client)?;
    let Some(token) = token_of(&posted.form) else {
        return Ok(broken_link("e-mail confirmation"));
    };
    match state.accounts.confirm_email(&token).await {
        Ok(_) => Ok(message(
            "E-mail address confirmed",
            "Thank you: your e-mail address is confirmed.",
            Some(("/", "Continue to EverReach")),
        )),
        Err(AccountError::InvalidLink) => Ok(broken_link("e-mail confirmation")),
        Err(e) => Err(e.into()),
    }
}

fn accept_form(visitor: &Visitor, token: String, form: &Form, problems: Problems) -> Response {
    AccountForm {
        shell: visitor.shell("Join your team"),
        heading: "Join your team on EverReach",
        intro:
            "You were invited to a company on EverReach. Choose a password to create your account."
                .into(),
        action: "/accept-invitation",
        hidden: vec![("token", token)],
        fields: vec![
            Field::new("password", "Choose a password", "password")
                .autocomplete("new-password")
                .required()
                .hint("At least 10 characters.")
                .from(form, &problems),
        ],
        submit: "Join",
        links: Vec::new(),
        problems,
    }
    .respond(visitor)
}

async fn accept_page(visitor: Visitor, RawQuery(q): RawQuery) -> Response {
    match token_of(&query(q)) {
        Some(token) => accept_form(&visitor, token, &Form::default(), Problems::default()),
        None => broken_link("invitation"),
    }
}

async fn accept(State(state): State<AppState>, posted: VisitorForm) -> PageResult<Response> {
    let VisitorForm {
        visitor,
        form,
        client,
    } = posted;
    state.limits.check_client(client)?;
    let Some(token) = token_of(&form) else {
        return Ok(broken_link("invitation"));
    };
    let password = match Password::parse(form.raw("password")) {
        Ok(p) => p,
        Err(m) => {
            let mut problems = Problems::default();
            problems.add("password", format!("Password {m}"));
            return Ok(accept_form(&visitor, token, &form, problems));
        }
    };
    let member = match state.companies.accept_invitation(&token, &password).await {
        Ok(member) => member,
        Err(AccountError::InvalidLink) => return Ok(broken_link("invitation")),
        Err(AccountError::EmailTaken) => {
            return Ok(message(
                "You already have an account",
                "This address has an account by now. Sign in with it; an admin of the company can add you to it.",
                Some(("/sign-in", "Sign in")),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let email = state.accounts.user(member).await?.email;
    Ok(signed_in_redirect(&state, &email, password.expose(), "/people?welcome=1").await?)
}

fn reset_request_form(visitor: &Visitor, form: &Form, problems: Problems) -> Response {
    AccountForm {
        shell: visitor.shell("Reset your password"),
        heading: "Reset your password",
        intro: "Give the e-mail address you sign in with. We will mail it a link to choose a new password.".into(),
        action: "/reset-password",
        hidden: Vec::new(),
        fields: vec![
            Field::new("email", "E-mail address", "email")
                .autocomplete("username")
                .required()
                .from(form, &problems),
        ],
        submit: "Mail me a link",
        links: vec![("/sign-in", "Back to sign in")],
        problems,
    }
    .respond(visitor)
}

fn reset_form(visitor: &Visitor, token: String, form: &Form, problems: Problems) -> Response {
    AccountForm {
        shell: visitor.shell("Choose a new password"),
        heading: "Choose a new password",
        intro: "Every session of your account ends when the password changes.".into(),
        action: "/reset-password",
        hidden: vec![("token", token)],
        fields: vec![
            Field::new("password", "New password", "password")
                .autocomplete("new-password")
                .required()
                .hint("At least 10 characters.")
                .from(form, &problems),
        ],
        submit: "Change password",
        links: Vec::new(),
        problems,
    }
    .respond(visitor)
}

async fn reset_page(visitor: Visitor, RawQuery(q): RawQuery) -> Response {
    let q = query(q);
    match token_of(&q) {
        Some(token) => reset_form(&visitor, token, &Form::default(), Problems::default()),
        None => reset_request_form(&visitor, &Form::default(), Problems::default()),
    }
}

async fn reset(State(state): State<AppState>, posted: VisitorForm) -> PageResult<Response> {
    let VisitorForm {
        visitor,
        form,
        client,
    } = posted;
    state.limits.check_client(client)?;
    let mut problems = Problems::default();
    let Some(token) = token_of(&form) else {
        let email = match Email::parse(form.get("email")) {
            Ok(e) => e,
            Err(m) => {
                problems.add("email", format!("E-mail address {m}"));
                return Ok(reset_request_form(&visitor, &form, problems));
            }
        };
        state.limits.check_account(email.as_str())?;
        if let Some((to, token)) = state
            .accounts
            .request_password_reset(email.as_str())
            .await?
        {
            let mail = mails::password_reset(&state.public_url, &to, &token);
            state.mailer.send(mail).await.map_err(ApiError::internal)?;
        }
        return Ok(message(
            "Check your e-mail",
            format!(
                "If an account uses {}, a link to choose a new password is on its way. It works once, for an hour.",
                email.as_str()
            ),
            Some(("/sign-in", "Back to sign in")),
        ));
    };
    let password = match Password::parse(form.raw("password")) {
        Ok(p) => p,
        Err(m) => {
            problems.add("password", format!("Password {m}"));
            return Ok(reset_form(&visitor, token, &form, problems));
        }
    };
    match state.accounts.reset_password(&token, &password).await {
        Ok(_) => Ok(Redirect::to("/sign-in?done=password-reset").into_response()),
        Err(AccountError::InvalidLink) => Ok(broken_link("password reset")),
        Err(e) => Err(PageError::from(e)),
    }
}
