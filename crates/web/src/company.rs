//! The company page (`/settings/company`, admins): members with their role (changed
//! in place), deactivating, reactivating or removing a member, and invitations —
//! invite by e-mail with a role (mailed a link to `/accept-invitation`), resend,
//! revoke.

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use everreach_api::AppState;
use everreach_api::error::ApiError;
use everreach_core::accounts::company::{Access, Invitation};
use everreach_core::accounts::{AccountError, Email, Role, mails};
use uuid::Uuid;

use crate::accounts::query;
use crate::error::{PageError, PageResult};
use crate::fmt::{self, When};
use crate::form::{Field, Form, Problems, UserForm};
use crate::session::Signed;
use crate::shell::{self, Nav, Shell};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/company", get(page))
        .route("/settings/company/invitations", post(invite))
        .route("/settings/company/invitations/{id}/resend", post(resend))
        .route("/settings/company/invitations/{id}/revoke", post(revoke))
        .route("/settings/company/members/{id}/access", post(set_access))
        .route("/settings/company/members/{id}/remove", post(remove))
}

#[derive(Debug, Clone)]
pub struct MemberRow {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub role: String,
    pub active: bool,
    pub me: bool,
    pub last_login: Option<When>,
}

#[derive(Debug, Clone)]
pub struct InvitationRow {
    pub id: Uuid,
    pub email: String,
    pub role: String,
    pub expires: When,
}

#[derive(Template)]
#[template(path = "settings_company.html")]
struct CompanyPage {
    shell: Shell,
    company: String,
    members: Vec<MemberRow>,
    invitations: Vec<InvitationRow>,
    roles: Vec<(String, String)>,
    fields: Vec<Field>,
    problems: Problems,
}

fn roles() -> Vec<(String, String)> {
    [
        ("admin", "Admin — everything, and the company"),
        ("manager", "Manager — all data"),
        ("user", "Member — all data"),
        ("viewer", "Viewer — reads only"),
    ]
    .iter()
    .map(|(v, l)| (v.to_string(), l.to_string()))
    .collect()
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Manager => "manager",
        Role::User => "user",
        Role::Viewer => "viewer",
    }
}

async fn render(
    state: &AppState,
    me: &Signed,
    form: Option<&Form>,
    problems: Problems,
    notice: Option<String>,
) -> PageResult<Response> {
    me.require_admin()?;
    let who = me.principal;
    let tz = fmt::zone(me.user.timezone.as_deref());
    let company = state.companies.company(&who).await?;
    let members = state.companies.members(&who).await?;
    let invitations = state.companies.invitations(&who).await?;
    let fields = vec![
        Field::new("email", "E-mail address", "email")
            .hint("They get a link to choose a password; it works for 7 days."),
        Field::new("role", "Role", "select")
            .options(roles())
            .value("user"),
    ];
    let fields = match form {
        Some(f) => fields.into_iter().map(|x| x.from(f, &problems)).collect(),
        None => fields,
    };
    let mut shell = me.shell("Company", Nav::Settings);
    shell.has_errors = !problems.is_empty();
    shell.notice = notice;
    let has_errors = !problems.is_empty();
    Ok(shell::render_form(
        has_errors,
        &CompanyPage {
            shell,
            company: company.name,
            members: members
                .into_iter()
                .map(|m| MemberRow {
                    me: m.id == who.user_id,
                    name: m.full_name.clone().unwrap_or_else(|| m.username.clone()),
                    email: m.email,
                    role: role_name(m.role).to_string(),
                    active: m.is_active.unwrap_or(true),
                    last_login: fmt::when_opt(m.last_login_at, tz),
                    id: m.id,
                })
                .collect(),
            invitations: invitations
                .into_iter()
                .map(|i| InvitationRow {
                    id: i.id,
                    email: i.email,
                    role: role_name(i.role).to_string(),
                    expires: fmt::when(i.expires_at, tz),
                })
                .collect(),
            roles: roles(),
            fields,
            problems,
        },
    ))
}

async fn page(
    State(state): State<AppState>,
    me: Signed,
    RawQuery(q): RawQuery,
) -> PageResult<Response> {
    let notice = match query(q).get("done") {
        "invited" => Some("Invitation sent.".to_string()),
        "resent" => Some("A new invitation link is on its way.".to_string()),
        "revoked" => Some("Invitation revoked: its link no longer works.".to_string()),
        "access" => Some("Member updated.".to_string()),
        "removed" => Some(
            "Member removed. They keep their account and their own data in a company of their own."
                .to_string(),
        ),
        _ => None,
    };
    render(&state, &me, None, Problems::default(), notice).await
}

async fn send_invitation(
    state: &AppState,
    me: &Signed,
    invitation: &Invitation,
    link: &str,
) -> PageResult<()> {
    let company = state.companies.company(&me.principal).await?;
    let mail = mails::invitation(&state.public_url, &invitation.email, &company.name, link);
    state.mailer.send(mail).await.map_err(ApiError::internal)?;
    Ok(())
}

async fn invite(
    State(state): State<AppState>,
    UserForm { me, form }: UserForm,
) -> PageResult<Response> {
    me.require_admin()?;
    let mut problems = Problems::default();
    let email = Email::parse(form.get("email"))
        .map_err(|m| problems.add("email", format!("E-mail address {m}")))
        .ok();
    let role = Role::parse(form.get("role"));
    if role.is_none() {
        problems.add("role", "Choose a role from the list");
    }
    let (Some(email), Some(role), true) = (email, role, problems.is_empty()) else {
        return render(&state, &me, Some(&form), problems, None).await;
    };
    match state.companies.invite(&me.principal, &email, role).await {
        Ok((invitation, link)) => {
            send_invitation(&state, &me, &invitation, &link).await?;
            Ok(Redirect::to("/settings/company?done=invited").into_response())
        }
        Err(AccountError::AlreadyInvited) => {
            problems.add("email", AccountError::AlreadyInvited.to_string());
            render(&state, &me, Some(&form), problems, None).await
        }
        Err(e) => Err(e.into()),
    }
}

fn id_of(raw: &str) -> PageResult<Uuid> {
    raw.parse().map_err(|_| PageError::Api(ApiError::NotFound))
}

async fn resend(
    State(state): State<AppState>,
    Path(id): Path<String>,
    UserForm { me, .. }: UserForm,
) -> PageResult<Response> {
    me.require_admin()?;
    let (invitation, link) = state
        .companies
        .resend_invitation(&me.principal, id_of(&id)?)
        .await?;
    send_invitation(&state, &me, &invitation, &link).await?;
    Ok(Redirect::to("/settings/company?done=resent").into_response())
}

async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
    UserForm { me, .. }: UserForm,
) -> PageResult<Response> {
    me.require_admin()?;
    state
        .companies
        .revoke_invitation(&me.principal, id_of(&id)?)
        .await?;
    Ok(Redirect::to("/settings/company?done=revoked").into_response())
}

async fn set_access(
    State(state): State<AppState>,
    Path(id): Path<String>,
    UserForm { me, form }: UserForm,
) -> PageResult<Response> {
    me.require_admin()?;
    let role = match form.get("role") {
        "" => None,
        r => Some(
            Role::parse(r).ok_or(PageError::Api(ApiError::invalid("/role", "is not a role")))?,
        ),
    };
    let is_active = match form.get("active") {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    };
    let access = Access {
        role,
        is_active,
        ..Access::default()
    };
    state
        .companies
        .set_access(&me.principal, id_of(&id)?, access)
        .await?;
    Ok(Redirect::to("/settings/company?done=access").into_response())
}

async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
    UserForm { me, .. }: UserForm,
) -> PageResult<Response> {
    me.require_admin()?;
    state
        .companies
        .remove_member(&me.principal, id_of(&id)?)
        .await?;
    Ok(Redirect::to("/settings/company?done=removed").into_response())
}
