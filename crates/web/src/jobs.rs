//! The Jobs page (`/jobs`, company admins): the background jobs acting for the
//! company's members — counts per queue and state, the failed ones with their error,
//! and retry / cancel.

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use everreach_api::AppState;
use everreach_api::error::ApiError;
use everreach_core::db::tenant;
use everreach_core::jobs::admin::{self, JobFilter, STATES};
use uuid::Uuid;

use crate::accounts::query;
use crate::error::{PageError, PageResult};
use crate::fmt::{self, When};
use crate::form::UserForm;
use crate::session::Signed;
use crate::shell::{self, Nav, Shell};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/jobs", get(page))
        .route("/jobs/{id}/retry", post(retry))
        .route("/jobs/{id}/cancel", post(cancel))
}

#[derive(Debug, Clone)]
pub struct QueueRow {
    pub queue: String,
    /// Count per state, in [`STATES`] order.
    pub counts: Vec<i64>,
}

#[derive(Debug, Clone)]
pub struct JobItem {
    pub id: Uuid,
    pub queue: String,
    pub state: String,
    pub error: String,
    pub created: Option<When>,
    pub retries: String,
    pub can_retry: bool,
    pub can_cancel: bool,
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage {
    shell: Shell,
    states: Vec<&'static str>,
    queues: Vec<QueueRow>,
    jobs: Vec<JobItem>,
    state: String,
}

/// A failed job's error as text: the handler's message, else its output as JSON.
fn error_of(output: &Option<serde_json::Value>) -> String {
    match output {
        None => String::new(),
        Some(v) => v
            .get("message")
            .or_else(|| v.get("error"))
            .and_then(|m| m.as_str())
            .map_or_else(|| v.to_string(), str::to_string),
    }
}

async fn page(
    State(state): State<AppState>,
    me: Signed,
    RawQuery(q): RawQuery,
) -> PageResult<Response> {
    me.require_admin()?;
    let q = query(q);
    let show = Some(q.get("state"))
        .filter(|s| STATES.contains(s))
        .unwrap_or("failed")
        .to_string();
    let tz = fmt::zone(me.user.timezone.as_deref());
    let mut tx = tenant::begin(&state.db.app, me.user_id()).await?;
    let counts = admin::counts(&mut tx, Some(me.principal.company_id)).await?;
    let filter = JobFilter {
        state: Some(show.clone()),
        company_id: Some(me.principal.company_id),
        ..JobFilter::default()
    };
    let jobs = admin::list(&mut tx, &filter, 100).await?;
    tx.commit().await?;
    let mut queues: Vec<QueueRow> = Vec::new();
    for (queue, st, n) in counts {
        if queues.last().is_none_or(|r| r.queue != queue) {
            queues.push(QueueRow {
                queue: queue.clone(),
                counts: vec![0; STATES.len()],
            });
        }
        if let (Some(row), Some(i)) = (queues.last_mut(), STATES.iter().position(|s| *s == st)) {
            row.counts[i] = n;
        }
    }
    Ok(shell::render(&JobsPage {
        shell: me.shell("Jobs", Nav::Jobs),
        states: STATES.to_vec(),
        queues,
        jobs: jobs
            .into_iter()
            .map(|j| JobItem {
                id: j.id,
                can_retry: matches!(j.state.as_str(), "failed" | "expired" | "cancelled"),
                can_cancel: matches!(j.state.as_str(), "created" | "retry" | "active"),
                error: error_of(&j.output),
                created: fmt::when_opt(j.created_on, tz),
                retries: format!(
                    "{} of {}",
                    j.retry_count.unwrap_or(0),
                    j.retry_limit.unwrap_or(0)
                ),
                queue: j.name,
                state: j.state,
            })
            .collect(),
        state: show,
    }))
}

async fn own(state: &AppState, me: &Signed, id: &str) -> PageResult<Uuid> {
    me.require_admin()?;
    let id = everreach_api::extract::path_id(id)?;
    let mut tx = tenant::begin(&state.db.app, me.user_id()).await?;
    let found = admin::find(&mut tx, id, Some(me.principal.company_id)).await?;
    tx.commit().await?;
    found
        .map(|j| j.id)
        .ok_or(PageError::Api(ApiError::NotFound))
}

async fn retry(
    State(state): State<AppState>,
    Path(id): Path<String>,
    UserForm { me, .. }: UserForm,
) -> PageResult<Response> {
    let id = own(&state, &me, &id).await?;
    if !everreach_core::jobs::retry(&state.db.app, id).await? {
        return Err(PageError::Api(ApiError::Conflict {
            field: None,
            detail: "only a failed, expired or cancelled job can be retried".into(),
        }));
    }
    Ok(Redirect::to("/jobs").into_response())
}

async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    UserForm { me, .. }: UserForm,
) -> PageResult<Response> {
    let id = own(&state, &me, &id).await?;
    if !everreach_core::jobs::cancel(&state.db.app, id).await? {
        return Err(PageError::Api(ApiError::Conflict {
            field: None,
            detail: "a finished job cannot be cancelled".into(),
        }));
    }
    Ok(Redirect::to("/jobs").into_response())
}
