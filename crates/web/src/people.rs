//! The people list (`/people`): search as you type across name, handle and e-mail
//! (accents ignored), filters by channel and activity state and the sort kept in the
//! URL (a view can be linked or bookmarked), cursor pagination, columns for channels,
//! last and next touch; select several people and merge two of them after a
//! side-by-side preview (`/people/merge`).

use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use everreach_api::AppState;
use everreach_api::error::ApiError;
use everreach_core::db::tenant::TenantTx;
use everreach_core::people::handle::CHANNELS;
use everreach_core::people::merge;
use everreach_core::people::profile::{self, Person};
use everreach_core::people::search::{self, Filter, Order};
use uuid::Uuid;

use crate::accounts::query;
use crate::error::{PageError, PageResult};
use crate::fmt::{self, When};
use crate::form::{Form, UserForm, encode};
use crate::person::channel_label;
use crate::session::Signed;
use crate::shell::{self, Nav, Shell};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/people", get(list))
        .route("/people/merge", get(merge_preview).post(merge_chosen))
        .route("/people/views", post(save_view))
        .route("/people/views/{id}/delete", post(delete_view))
}

/// Rows per page.
const PAGE: i64 = 50;

#[derive(Debug, Clone)]
pub struct Row {
    pub id: Uuid,
    pub name: String,
    pub detail: String,
    /// `(channel, label)`.
    pub channels: Vec<(String, String)>,
    pub state: String,
    pub warmth: String,
    pub last_touch: Option<When>,
    pub next_touch: Option<When>,
}

#[derive(Template)]
#[template(path = "people.html")]
struct PeoplePage {
    shell: Shell,
    q: String,
    channel: String,
    state: String,
    sort: String,
    hint: Option<&'static str>,
    rows: Vec<Row>,
    next: Option<String>,
    channels: Vec<(String, String)>,
    filtered: bool,
    /// The user's e-mail, for the import command of the empty state.
    email: String,
    views: Vec<(Uuid, String, String)>,
    problems: crate::form::Problems,
    /// The list's query without its cursor (what "Save this view" keeps).
    view_query: String,
    view_problem: Option<String>,
    view_name: String,
}

/// The list's query: what it was asked for, checked.
struct ListQuery {
    q: String,
    channel: Option<String>,
    state: Option<String>,
    order: Order,
    sort: String,
    cursor: Option<(String, Uuid)>,
}

const STATES: [&str; 4] = ["active", "warming", "cool", "dormant"];

fn read_query(q: &Form) -> ListQuery {
    let channel = everreach_core::people::Channel::parse(q.get("channel"))
        .ok()
        .map(|c| c.as_str().to_string());
    let state = Some(q.get("state").to_string()).filter(|s| STATES.contains(&s.as_str()));
    let (order, sort) = match Order::parse(q.get("sort")) {
        Some(o) => (o, q.get("sort").to_string()),
        None => (Order::Warmth, "warmth".to_string()),
    };
    let cursor = everreach_api::cursor::decode_key(q.get("cursor"), 2)
        .ok()
        .and_then(|parts| Some((parts[0].clone(), parts[1].parse().ok()?)));
    ListQuery {
        q: q.get("q").chars().take(200).collect(),
        channel,
        state,
        order,
        sort,
        cursor,
    }
}

/// The list's query as a string, without a cursor, in a fixed order.
fn view_query(lq: &ListQuery) -> String {
    let mut params = Vec::new();
    if !lq.q.is_empty() {
        params.push(("q", lq.q.clone()));
    }
    if let Some(c) = &lq.channel {
        params.push(("channel", c.clone()));
    }
    if let Some(s) = &lq.state {
        params.push(("state", s.clone()));
    }
    if lq.sort != "warmth" {
        params.push(("sort", lq.sort.clone()));
    }
    params
        .into_iter()
        .map(|(k, v)| format!("{k}={}", encode(&v)))
        .collect::<Vec<_>>()
        .join("&")
}

async fn list(
    State(state): State<AppState>,
    me: Signed,
    RawQuery(raw): RawQuery,
) -> PageResult<Response> {
    list_page(&state, &me, query(raw), None).await
}

/// The list for `form` (its query); `view_problem`: the name typed into "save this
/// view" and what is wrong with it.
async fn list_page(
    state: &AppState,
    me: &Signed,
    form: Form,
    view_problem: Option<(String, String)>,
) -> PageResult<Response> {
    let lq = read_query(&form);
    let tz = fmt::zone(me.user.timezone.as_deref());
    let filter = Filter {
        channel: lq.channel.clone(),
        activity_state: lq.state.clone(),
    };
    let text = lq.q.trim().to_string();
    let searching = text.chars().count() >= 2;
    let mut tx = TenantTx::begin_snapshot(&state.db.app, me.user_id()).await?;
    let found = if searching {
        search::search(&mut tx, &text, &filter, lq.cursor.clone(), PAGE).await?
    } else {
        search::directory(&mut tx, lq.order, &filter, lq.cursor.clone(), PAGE).await?
    };
    let ids: Vec<Uuid> = found.iter().map(|p| p.id).collect();
    let touches = profile::touches(&mut tx, &ids).await?;
    let views = everreach_core::people::views::list(&mut tx, "people").await?;
    tx.commit().await?;
    let next = (found.len() as i64 == PAGE)
        .then(|| found.last())
        .flatten()
        .map(|p| {
            let cursor = everreach_api::cursor::encode_key(&[p.sort_key.clone(), p.id.to_string()]);
            let mut params = vec![("cursor", cursor)];
            if !lq.q.is_empty() {
                params.push(("q", lq.q.clone()));
            }
            if let Some(c) = &lq.channel {
                params.push(("channel", c.clone()));
            }
            if let Some(s) = &lq.state {
                params.push(("state", s.clone()));
            }
            params.push(("sort", lq.sort.clone()));
            params
                .into_iter()
                .map(|(k, v)| format!("{k}={}", encode(&v)))
                .collect::<Vec<_>>()
                .join("&")
        });
    let rows = found
        .into_iter()
        .map(|p| {
            let t = touches.iter().find(|t| t.person_id == p.id);
            let last = t.and_then(|t| t.last_touch);
            let name = p
                .full_name
                .clone()
                .filter(|n| !n.trim().is_empty())
                .or_else(|| p.primary_email.clone())
                .unwrap_or_else(|| "Unnamed person".into());
            let detail = match (&p.matched, &p.primary_email) {
                (Some(m), _) if !name.to_lowercase().contains(&m.to_lowercase()) => {
                    format!("matched {m}")
                }
                (_, Some(e)) if *e != name => e.clone(),
                _ => p.company.clone().unwrap_or_default(),
            };
            Row {
                id: p.id,
                name,
                detail,
                channels: t
                    .map(|t| {
                        t.channels
                            .iter()
                            .map(|c| (c.clone(), channel_label(c).to_string()))
                            .collect()
                    })
                    .unwrap_or_default(),
                state: p.activity_state.clone().unwrap_or_default(),
                warmth: p.warmth_score.map_or(String::new(), |w| format!("{w:.0}")),
                last_touch: fmt::when_opt(last, tz),
                next_touch: fmt::when_opt(
                    profile::next_touch(
                        last,
                        p.activity_state.as_deref(),
                        t.and_then(|t| t.keep_in_touch_days),
                    ),
                    tz,
                ),
            }
        })
        .collect();
    let mut shell = me.shell("People", Nav::People);

    shell.notice = match form.get("done") {
        "erased" => Some("The person and everything about them is erased.".into()),
        "view-saved" => Some("View saved: it is one click away above the list.".into()),
        "view-deleted" => Some("View deleted.".into()),
        _ if form.get("welcome") == "1" => {
            Some("Welcome to EverReach. Your people appear here as their events arrive.".into())
        }
        _ => None,
    };
    let has_errors = view_problem.is_some();
    shell.has_errors = has_errors;
    let (view_name, view_problem) =
        view_problem.map_or((String::new(), None), |(n, p)| (n, Some(p)));
    let page = PeoplePage {
        shell,
        hint: (!text.is_empty() && !searching).then_some("Type at least 2 characters to search."),
        filtered: searching || lq.channel.is_some() || lq.state.is_some(),
        email: me.user.email.clone(),
        views: views.into_iter().map(|v| (v.id, v.name, v.query)).collect(),
        view_query: view_query(&lq),
        problems: crate::form::Problems(
            view_problem
                .iter()
                .map(|p| ("name".to_string(), p.clone()))
                .collect(),
        ),
        view_problem,
        view_name,
        q: lq.q,
        channel: lq.channel.unwrap_or_default(),
        state: lq.state.unwrap_or_default(),
        sort: lq.sort,
        rows,
        next,
        channels: CHANNELS
            .iter()
            .map(|c| {
                (
                    c.as_str().to_string(),
                    channel_label(c.as_str()).to_string(),
                )
            })
            .collect(),
    };
    Ok(shell::render_form(has_errors, &page))
}

/// `POST /people/views`: saves the list's current query under a name.
async fn save_view(
    State(state): State<AppState>,
    UserForm { me, form }: UserForm,
) -> PageResult<Response> {
    me.require_writer()?;
    let name = form.get("name").to_string();
    let listed = query(Some(form.get("query").to_string()));
    let again = |problem: &str| (name.clone(), problem.to_string());
    if name.is_empty() {
        return list_page(
            &state,
            &me,
            listed,
            Some(again("Enter a name for the view")),
        )
        .await;
    }
    if name.chars().count() > 100 {
        return list_page(
            &state,
            &me,
            listed,
            Some(again("The name must be at most 100 characters")),
        )
        .await;
    }
    let views = crate::resource(&state, "saved-views")?;
    let mut body = serde_json::Map::new();
    body.insert("name".into(), serde_json::json!(name));
    body.insert(
        "query".into(),
        serde_json::json!(view_query(&read_query(&listed))),
    );
    match state.resources.create(me.user_id(), &views, body).await {
        Ok(_) => Ok(Redirect::to("/people?done=view-saved").into_response()),
        Err(e) => match ApiError::from(e) {
            ApiError::Conflict { .. } => {
                list_page(
                    &state,
                    &me,
                    listed,
                    Some(again("You have a view with this name: choose another")),
                )
                .await
            }
            ApiError::Invalid(errors) => {
                let message = errors
                    .first()
                    .map_or("is not valid".to_string(), |f| f.message.clone());
                list_page(
                    &state,
                    &me,
                    listed,
                    Some(again(&format!("The name {message}"))),
                )
                .await
            }
            other => Err(PageError::Api(other)),
        },
    }
}

async fn delete_view(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    UserForm { me, .. }: UserForm,
) -> PageResult<Response> {
    me.require_writer()?;
    let id: Uuid = id.parse().map_err(|_| PageError::Api(ApiError::NotFound))?;
    let views = crate::resource(&state, "saved-views")?;
    state
        .resources
        .delete(me.user_id(), &views, &id.to_string())
        .await?;
    Ok(Redirect::to("/people?done=view-deleted").into_response())
}

#[derive(Template)]
#[template(path = "people_merge.html")]
struct MergePreview {
    shell: Shell,
    people: Vec<(Person, i64, i64)>,
}

fn chosen(form: &Form) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = form
        .all("ids")
        .iter()
        .filter_map(|i| i.parse().ok())
        .collect();
    ids.dedup();
    ids
}

/// `GET /people/merge?ids=…&ids=…`: the two chosen people side by side, to pick who
/// stays.
async fn merge_preview(
    State(state): State<AppState>,
    me: Signed,
    RawQuery(raw): RawQuery,
) -> PageResult<Response> {
    let ids = chosen(&query(raw));
    if ids.len() != 2 {
        return Err(PageError::Api(ApiError::invalid(
            "/ids",
            "select exactly two people on the list to merge them",
        )));
    }
    let mut tx = TenantTx::begin_snapshot(&state.db.app, me.user_id()).await?;
    let found = profile::people(&mut tx, &ids).await?;
    if found.len() != 2 {
        return Err(PageError::Api(ApiError::NotFound));
    }
    let mut people = Vec::new();
    for id in &ids {
        let Some(p) = found.iter().find(|p| p.id == *id) else {
            return Err(PageError::Api(ApiError::NotFound));
        };
        let counts: (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM identities WHERE user_id = $1 AND person_id = $2),
                    (SELECT count(*) FROM person_events WHERE user_id = $1 AND person_id = $2)",
        )
        .bind(me.user_id())
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        people.push((p.clone(), counts.0, counts.1));
    }
    tx.commit().await?;
    Ok(shell::render(&MergePreview {
        shell: me.shell("Merge two people", Nav::People),
        people,
    }))
}

async fn merge_chosen(
    State(state): State<AppState>,
    UserForm { me, form }: UserForm,
) -> PageResult<Response> {
    me.require_writer()?;
    let ids = chosen(&form);
    let survivor: Uuid = form
        .get("survivor")
        .parse()
        .map_err(|_| PageError::Api(ApiError::invalid("/survivor", "choose who stays")))?;
    let Some(other) = ids.iter().copied().find(|i| *i != survivor) else {
        return Err(PageError::Api(ApiError::invalid(
            "/ids",
            "select two different people",
        )));
    };
    if ids.len() != 2 || !ids.contains(&survivor) {
        return Err(PageError::Api(ApiError::invalid(
            "/ids",
            "select exactly two people",
        )));
    }
    let mut tx = TenantTx::begin(&state.db.app, me.user_id()).await?;
    let summary = merge::merge(&mut tx, survivor, other, false).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/people/{survivor}?merged={}", summary.id)).into_response())
}
