//! `/api/v1/company*`: the caller's company, and for its admins the members (role,
//! tier, activation), invitations and the audit log. `/api/v1/auth/accept-invitation`
//! lets an invited member choose a password.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use everreach_core::accounts::company::{Access, AuditEntry, Company, Invitation, Member};
use everreach_core::accounts::{Email, Password, Role, SubscriptionTier, mails};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::extract::{ApiJson, ApiQuery};

pub fn signed_in_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(company))
        .routes(routes!(members))
        .routes(routes!(update_member, remove_member))
        .routes(routes!(invitations, invite))
        .routes(routes!(revoke_invitation))
        .routes(routes!(resend_invitation))
        .routes(routes!(audit_log))
}

pub fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(accept_invitation))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CompanyOut {
    #[schema(value_type = Object)]
    company: Company,
}

/// The caller's company.
#[utoipa::path(get, path = "/company", tag = "company", responses((status = 200, body = CompanyOut, description = "OK")))]
pub(crate) async fn company(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<CompanyOut>> {
    Ok(Json(CompanyOut {
        company: state.companies.company(&user.principal()).await?,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MembersOut {
    #[schema(value_type = Vec<Object>)]
    items: Vec<Member>,
}

/// The company's members (admins only).
#[utoipa::path(get, path = "/company/members", tag = "company",
    responses((status = 200, body = MembersOut, description = "OK"), (status = 403, body = Problem, description = "Not an admin")))]
pub(crate) async fn members(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<MembersOut>> {
    user.require_admin()?;
    Ok(Json(MembersOut {
        items: state.companies.members(&user.principal()).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberPatch {
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "manager")]
    role: Option<Role>,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "pro")]
    subscription_tier: Option<SubscriptionTier>,
    #[serde(default)]
    is_active: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberOut {
    #[schema(value_type = Object)]
    member: Member,
}

/// Changes a member's role, tier or activation (admins only).
#[utoipa::path(patch, path = "/company/members/{id}", tag = "company", params(("id" = Uuid, Path)), request_body = MemberPatch,
    responses((status = 200, body = MemberOut, description = "OK"), (status = 403, body = Problem, description = "Not an admin"),
              (status = 404, body = Problem, description = "Not a member of your company"),
              (status = 409, body = Problem, description = "The company would have no active admin")))]
pub(crate) async fn update_member(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MemberPatch>,
) -> ApiResult<Json<MemberOut>> {
    user.require_admin()?;
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound)?;
    if body.role.is_none() && body.subscription_tier.is_none() && body.is_active.is_none() {
        return Err(ApiError::invalid("/", "names no field to change"));
    }
    let access = Access {
        role: body.role,
        subscription_tier: body.subscription_tier,
        is_active: body.is_active,
    };
    Ok(Json(MemberOut {
        member: state
            .companies
            .set_access(&user.principal(), id, access)
            .await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteIn {
    email: String,
    /// admin, manager, user (the default) or viewer.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "user")]
    role: Option<Role>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationOut {
    #[schema(value_type = Object)]
    invitation: Invitation,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationsOut {
    #[schema(value_type = Vec<Object>)]
    items: Vec<Invitation>,
}

async fn mail_invitation(
    state: &AppState,
    user: &CurrentUser,
    invitation: &Invitation,
    link: &str,
) -> ApiResult<()> {
    let company = state.companies.company(&user.principal()).await?;
    let mail = mails::invitation(&state.public_url, &invitation.email, &company.name, link);
    state
        .mailer
        .send(mail)
        .await
        .map_err(crate::accounts::mail_error)
}

/// Invites an e-mail into the company (admins only): a pending invitation for 7
/// days, mailed with a link to choose a password. Nothing is created for the address
/// until it accepts, so it can still sign up on its own.
#[utoipa::path(post, path = "/company/invitations", tag = "company", request_body = InviteIn,
    responses((status = 201, body = InvitationOut, description = "Invited"), (status = 403, body = Problem, description = "Not an admin"),
              (status = 409, body = Problem, description = "Already a member, or already invited (resend that invitation)")))]
pub(crate) async fn invite(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<InviteIn>,
) -> ApiResult<(StatusCode, Json<InvitationOut>)> {
    user.require_admin()?;
    let email = Email::parse(&body.email).map_err(|m| ApiError::invalid("/email", m))?;
    let (invitation, link) = state
        .companies
        .invite(&user.principal(), &email, body.role.unwrap_or(Role::User))
        .await?;
    mail_invitation(&state, &user, &invitation, &link).await?;
    Ok((StatusCode::CREATED, Json(InvitationOut { invitation })))
}

/// The company's pending invitations (admins only); expired ones until they are purged.
#[utoipa::path(get, path = "/company/invitations", tag = "company",
    responses((status = 200, body = InvitationsOut, description = "OK"), (status = 403, body = Problem, description = "Not an admin")))]
pub(crate) async fn invitations(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<InvitationsOut>> {
    user.require_admin()?;
    Ok(Json(InvitationsOut {
        items: state.companies.invitations(&user.principal()).await?,
    }))
}

/// Revokes a pending invitation (admins only): its link stops working.
#[utoipa::path(delete, path = "/company/invitations/{id}", tag = "company", params(("id" = Uuid, Path)),
    responses((status = 204, description = "Revoked"), (status = 403, body = Problem, description = "Not an admin"),
              (status = 404, body = Problem, description = "No such pending invitation")))]
pub(crate) async fn revoke_invitation(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    user.require_admin()?;
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound)?;
    state
        .companies
        .revoke_invitation(&user.principal(), id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Mails a pending invitation again with a new link, valid 7 more days (admins
/// only); the earlier link stops working.
#[utoipa::path(post, path = "/company/invitations/{id}/resend", tag = "company", params(("id" = Uuid, Path)),
    responses((status = 200, body = InvitationOut, description = "Sent again"), (status = 403, body = Problem, description = "Not an admin"),
              (status = 404, body = Problem, description = "No such pending invitation")))]
pub(crate) async fn resend_invitation(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<InvitationOut>> {
    user.require_admin()?;
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound)?;
    let (invitation, link) = state
        .companies
        .resend_invitation(&user.principal(), id)
        .await?;
    mail_invitation(&state, &user, &invitation, &link).await?;
    Ok(Json(InvitationOut { invitation }))
}

/// Removes a member from the company (admins only). They keep their account and
/// what they own, in a personal company of their own, and are signed out everywhere
/// (sessions ended, API tokens revoked).
#[utoipa::path(delete, path = "/company/members/{id}", tag = "company", params(("id" = Uuid, Path)),
    responses((status = 204, description = "Removed"), (status = 403, body = Problem, description = "Not an admin"),
              (status = 404, body = Problem, description = "Not a member of your company"),
              (status = 409, body = Problem, description = "You cannot remove yourself")))]
pub(crate) async fn remove_member(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    user.require_admin()?;
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound)?;
    state.companies.remove_member(&user.principal(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptIn {
    token: String,
    /// At least 10 characters.
    password: String,
}

/// Accepts an invitation by choosing a password; signs the new member in.
#[utoipa::path(post, path = "/auth/accept-invitation", tag = "auth", request_body = AcceptIn,
    responses((status = 200, description = "Signed in (session cookie set)"), (status = 422, body = Problem, description = "Invalid, used or expired link")))]
pub(crate) async fn accept_invitation(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<AcceptIn>,
) -> ApiResult<Response> {
    let password = Password::parse(&body.password)
        .map_err(|m| ApiError::Invalid(vec![FieldError::new("/password", m)]))?;
    let user_id = state
        .companies
        .accept_invitation(body.token.trim(), &password)
        .await?;
    let user = state.accounts.user(user_id).await?;
    let (user, token) = state
        .accounts
        .sign_in(&user.email, password.expose(), None)
        .await?;
    Ok(crate::accounts::with_session(StatusCode::OK, user, &token))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// next_cursor of the previous page.
    cursor: Option<String>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    #[schema(value_type = Vec<Object>)]
    items: Vec<AuditEntry>,
    next_cursor: Option<String>,
}

/// Every create, update and delete made through the API by the company's members,
/// newest first (admins only; secrets redacted).
#[utoipa::path(get, path = "/audit-log", tag = "company", params(AuditQuery),
    responses((status = 200, body = AuditPage, description = "A page"), (status = 403, body = Problem, description = "Not an admin")))]
pub(crate) async fn audit_log(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    user.require_admin()?;
    let limit = crate::cursor::page_limit(q.limit)?;
    let before = q.cursor.as_deref().map(crate::cursor::decode).transpose()?;
    let items = state
        .companies
        .audit_log(&user.principal(), before, limit)
        .await?;
    let next_cursor = crate::cursor::next(&items, limit, |e| e.timestamp.map(|t| (t, e.id)));
    Ok(Json(AuditPage { items, next_cursor }))
}
