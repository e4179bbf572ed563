//! Segments (`/segments`; the domain is `everreach_core::segments`): the list with
//! member counts; the builder (`/segments/new`, `/segments/{id}/edit`), where the
//! common conditions are plain fields that make an `all` definition and a raw JSON
//! box takes any definition instead. A wrong condition comes back beside the field
//! that made it; a wrong node of the JSON beside the box, named by its JSON pointer
//! and line. The count of who matches follows the form as it changes (htmx posts
//! it to `/segments/preview` and the count is announced politely); without
//! JavaScript the Preview button shows the same count and the first members.
//! `/segments/{id}` shows the members (newest first, a page at a time), Refresh,
//! Edit and Delete, and the insights with organic and paid side by side.

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use everreach_api::AppState;
use everreach_api::error::ApiError;
use everreach_core::crm::revio::STAGES;
use everreach_core::db::tenant::TenantTx;
use everreach_core::error::DomainError;
use everreach_core::segments::Scope;
use everreach_core::segments::fields::CHANNELS;
use everreach_core::segments::insights::{self, SegmentInsight, WEEKDAYS};
use everreach_core::segments::store::{self, MemberView, SegmentInput, SegmentView};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::accounts::query;
use crate::error::{PageError, PageResult};
use crate::fmt::{self, When};
use crate::form::{Field, Form, Problems, UserForm};
use crate::session::Signed;
use crate::shell::{self, Nav, Shell};
use crate::today::stage_words;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/segments", get(list_page))
        .route("/segments/new", get(new_page).post(save_new))
        .route("/segments/preview", post(preview_fragment))
        .route("/segments/{id}", get(segment_page))
        .route("/segments/{id}/edit", get(edit_page).post(save_edit))
        .route("/segments/{id}/refresh", post(refresh))
        .route("/segments/{id}/insights", post(recompute_insights))
        .route("/segments/{id}/delete", post(delete))
}

/// Members on one page of `/segments/{id}`.
const PAGE: i64 = 50;
/// Members a preview lists.
const PREVIEW: i64 = 10;

#[derive(Template)]
#[template(path = "segments.html")]
struct ListPage {
    shell: Shell,
    segments: Vec<SegmentView>,
}

async fn list_page(
    State(state): State<AppState>,
    me: Signed,
    RawQuery(q): RawQuery,
) -> PageResult<Response> {
    let mut tx = TenantTx::begin_snapshot(&state.db.app, me.user_id()).await?;
    let segments = store::list(&mut tx).await?;
    tx.commit().await?;
    let mut shell = me.shell("Segments", Nav::Segments);
    shell.notice = match query(q).get("done") {
        "deleted" => Some("Deleted.".into()),
        _ => None,
    };
    Ok(shell::render(&ListPage { shell, segments }))
}

/// The builder's plain fields, in the order their conditions are made.
const CONDITIONS: [&str; 6] = [
    "channel",
    "activity",
    "warmth",
    "active_days",
    "stage",
    "tag",
];

fn builder_fields() -> Vec<Field> {
    let any = |label: &str| (String::new(), label.to_string());
    vec![
        Field::new("name", "Name", "text")
            .hint("What the segment is, e.g. Warm Instagram people.")
            .required(),
        Field::new("description", "Description", "textarea"),
        Field::new("channel", "Has a profile on", "select").options(
            std::iter::once(any("Any channel"))
                .chain(CHANNELS.iter().map(|c| (c.to_string(), c.to_string())))
                .collect(),
        ),
        Field::new("activity", "Activity", "select").options(vec![
            any("Any activity"),
            ("active".into(), "active (last 7 days)".into()),
            ("warming".into(), "warming".into()),
            ("cool".into(), "cool".into()),
            ("dormant".into(), "dormant".into()),
        ]),
        Field::new("warmth", "Warmth at least", "number").hint("0 to 100; empty for any."),
        Field::new("active_days", "Active in the last … days", "number")
            .hint("Their last activity is this recent; empty for any."),
        Field::new("stage", "Relationship stage", "select").options(
            std::iter::once(any("Any stage"))
                .chain(STAGES.iter().map(|s| (s.to_string(), stage_words(s))))
                .collect(),
        ),
        Field::new("tag", "Has the tag", "text").hint("An Instagram CRM tag, e.g. founder."),
        Field::new("definition", "Or the definition as JSON", "textarea").hint(
            "Any definition of the segment language (docs/SEGMENTS.md). When filled, it is used instead of the fields above.",
        ),
    ]
}

/// The definition the form describes, and for each condition of its `all` the field
/// that made it; or the problems of the fields.
fn definition_of(form: &Form) -> Result<(Value, Vec<&'static str>), Problems> {
    let mut problems = Problems::default();
    let raw = form.get("definition");
    if !raw.is_empty() {
        return match serde_json::from_str::<Value>(raw) {
            Ok(v) => Ok((v, Vec::new())),
            Err(e) => {
                problems.add(
                    "definition",
                    format!(
                        "Line {}, column {}: this is not JSON ({}). Fix it, or empty the box to use the fields.",
                        e.line(),
                        e.column(),
                        e.to_string().split(" at line").next().unwrap_or("")
                    ),
                );
                Err(problems)
            }
        };
    }
    let mut all = Vec::new();
    let mut made_by = Vec::new();
    for name in CONDITIONS {
        let v = form.get(name);
        if v.is_empty() {
            continue;
        }
        let condition = match name {
            "channel" => json!({"identity": {"channel": v}}),
            "activity" => json!({"field": "insight.activity_state", "op": "eq", "value": v}),
            "warmth" => match v.parse::<f64>() {
                Ok(n) => json!({"field": "insight.warmth", "op": "gte", "value": n}),
                Err(_) => {
                    problems.add(name, "Enter a number from 0 to 100, or leave it empty");
                    continue;
                }
            },
            "active_days" => match v.parse::<u32>() {
                Ok(n) if n >= 1 => {
                    json!({"field": "insight.last_active", "op": "within", "value": format!("last {n} days")})
                }
                _ => {
                    problems.add(
                        name,
                        "Enter a whole number of days from 1, or leave it empty",
                    );
                    continue;
                }
            },
            "stage" => json!({"field": "crm.stage", "op": "eq", "value": v}),
            _ => json!({"field": "crm.tags", "op": "has_any", "value": [v]}),
        };
        all.push(condition);
        made_by.push(name);
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    if all.is_empty() {
        problems.add(
            "channel",
            "Choose at least one condition, or write the definition as JSON below",
        );
        return Err(problems);
    }
    Ok((json!({ "all": all }), made_by))
}

/// The line of `text` (pretty or not) where the node at `pointer` starts, found by
/// walking the pointer's keys and indexes through the text; `None` when it cannot
/// tell.
fn line_of(text: &str, pointer: &str) -> Option<usize> {
    let mut at = 0usize;
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        if let Ok(index) = token.parse::<usize>() {
            // the index-th element of the array that starts at or after `at`
            let open = at + text.get(at..)?.find('[')?;
            at = nth_element(text, open, index)?;
        } else {
            let needle = format!("\"{token}\"");
            at += text.get(at..)?.find(&needle)? + needle.len();
        }
    }
    Some(text.get(..at)?.matches('\n').count() + 1)
}

/// The byte offset of the `index`-th element of the array opening at `open`.
fn nth_element(text: &str, open: usize, index: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let (mut depth, mut n, mut in_string, mut escaped) = (0i32, 0usize, false, false);
    let mut i = open + 1;
    let mut start = None;
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
        } else {
            match c {
                b'"' => in_string = true,
                b'[' | b'{' => depth += 1,
                b']' | b'}' if depth == 0 => return None,
                b']' | b'}' => depth -= 1,
                b',' if depth == 0 => n += 1,
                _ => {}
            }
            if n == index && start.is_none() && !c.is_ascii_whitespace() && c != b',' {
                start = Some(i);
                return start;
            }
        }
        i += 1;
    }
    None
}

/// The domain's problems as the builder shows them: a name or description problem
/// beside its field; a definition problem beside the field that made the condition,
/// or beside the JSON box with its pointer and line.
fn builder_problems(
    e: DomainError,
    made_by: &[&'static str],
    raw: &str,
) -> Result<Problems, PageError> {
    let api = ApiError::from(e);
    let Some(found) = Problems::from_api(&api) else {
        return Err(PageError::Api(api));
    };
    let mut problems = Problems::default();
    for (field, message) in found.0 {
        let Some(rest) = field.strip_prefix("definition") else {
            problems.add(&field, message);
            continue;
        };
        if made_by.is_empty() {
            let pointer = if rest.is_empty() { "/" } else { rest };
            let line = line_of(raw, rest)
                .map(|l| format!(" (line {l})"))
                .unwrap_or_default();
            problems.add("definition", format!("At {pointer}{line}: {message}"));
        } else {
            // /all/<k>/… is the k-th condition the fields made
            let field = rest
                .strip_prefix("/all/")
                .and_then(|r| r.split('/').next())
                .and_then(|k| k.parse::<usize>().ok())
                .and_then(|k| made_by.get(k))
                .copied()
                .unwrap_or("channel");
            problems.add(field, message);
        }
    }
    Ok(problems)
}

#[derive(Template)]
#[template(path = "segment_edit.html")]
struct EditPage {
    shell: Shell,
    /// `None` for a new segment.
    id: Option<Uuid>,
    /// Name and description.
    about_fields: Vec<Field>,
    condition_fields: Vec<Field>,
    /// The raw JSON box (one field).
    definition_fields: Vec<Field>,
    problems: Problems,
    preview: Option<PreviewView>,
}

/// What a preview shows.
struct PreviewView {
    count: i64,
    members: Vec<MemberView>,
    /// Why there is no count (the definition is not complete or not valid).
    error: Option<String>,
}

fn render_edit(
    me: &Signed,
    id: Option<Uuid>,
    form: Option<&Form>,
    problems: Problems,
    preview: Option<PreviewView>,
) -> Response {
    let mut fields = builder_fields();
    if let Some(f) = form {
        fields = fields.into_iter().map(|x| x.from(f, &problems)).collect();
    }
    let take = |fields: &mut Vec<Field>, name: &str| {
        let i = fields.iter().position(|f| f.name == name).unwrap_or(0);
        fields.remove(i)
    };
    let name_field = take(&mut fields, "name");
    let description_field = take(&mut fields, "description");
    let definition_field = take(&mut fields, "definition");
    let title = if id.is_some() {
        "Edit the segment"
    } else {
        "New segment"
    };
    let mut shell = me.shell(title, Nav::Segments);
    shell.has_errors = !problems.is_empty();
    shell::render_form(
        !problems.is_empty(),
        &EditPage {
            shell,
            id,
            about_fields: vec![name_field, description_field],
            condition_fields: fields,
            definition_fields: vec![definition_field],
            problems,
            preview,
        },
    )
}

async fn new_page(me: Signed) -> PageResult<Response> {
    me.require_writer()?;
    Ok(render_edit(&me, None, None, Problems::default(), None))
}

async fn edit_page(
    State(state): State<AppState>,
    me: Signed,
    Path(id): Path<String>,
) -> PageResult<Response> {
    me.require_writer()?;
    let id = everreach_api::extract::path_id(&id)?;
    let mut tx = TenantTx::begin_snapshot(&state.db.app, me.user_id()).await?;
    let segment = store::get(&mut tx, id).await?;
    tx.commit().await?;
    let definition = segment
        .definition
        .as_ref()
        .map(|d| serde_json::to_string_pretty(d).unwrap_or_default());
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("name", &segment.name)
        .append_pair("description", segment.description.as_deref().unwrap_or(""))
        .append_pair("definition", definition.as_deref().unwrap_or(""))
        .finish();
    let form = Form::parse(body.as_bytes());
    Ok(render_edit(
        &me,
        Some(id),
        Some(&form),
        Problems::default(),
        None,
    ))
}

async fn preview_of(
    state: &AppState,
    me: &Signed,
    form: &Form,
) -> PageResult<Result<PreviewView, Problems>> {
    let (definition, made_by) = match definition_of(form) {
        Ok(d) => d,
        Err(p) => return Ok(Err(p)),
    };
    let mut tx = TenantTx::begin_snapshot(&state.db.app, me.user_id()).await?;
    let result = store::preview(&mut tx, &definition, PREVIEW).await;
    tx.commit().await?;
    match result {
        Ok(p) => Ok(Ok(PreviewView {
            count: p.count,
            members: p.members,
            error: None,
        })),
        Err(e) => Ok(Err(builder_problems(e, &made_by, form.get("definition"))?)),
    }
}

#[derive(Template)]
#[template(path = "segment_preview.html")]
struct PreviewFragment {
    preview: Option<PreviewView>,
}

/// The live count (htmx): "N people match" and the first few, or why not yet.
async fn preview_fragment(
    State(state): State<AppState>,
    UserForm { me, form }: UserForm,
) -> PageResult<Response> {
    let preview = match preview_of(&state, &me, &form).await? {
        Ok(p) => p,
        Err(problems) => PreviewView {
            count: 0,
            members: Vec::new(),
            error: Some(
                problems
                    .0
                    .first()
                    .map(|(_, m)| m.clone())
                    .unwrap_or_default(),
            ),
        },
    };
    Ok(shell::render(&PreviewFragment {
        preview: Some(preview),
    }))
}

async fn save_form(
    state: &AppState,
    me: &Signed,
    id: Option<Uuid>,
    form: &Form,
) -> PageResult<Response> {
    me.require_writer()?;
    let previewing = form.get("action") == "preview";
    let mut problems = Problems::default();
    if !previewing && form.get("name").is_empty() {
        problems.add("name", "Enter a name for the segment");
    }
    let (definition, made_by) = match definition_of(form) {
        Ok(d) => d,
        Err(p) => {
            problems.0.extend(p.0);
            return Ok(render_edit(me, id, Some(form), problems, None));
        }
    };
    if previewing {
        let preview = match preview_of(state, me, form).await? {
            Ok(p) => Some(p),
            Err(p) => {
                problems.0.extend(p.0);
                None
            }
        };
        return Ok(render_edit(me, id, Some(form), problems, preview));
    }
    if !problems.is_empty() {
        return Ok(render_edit(me, id, Some(form), problems, None));
    }
    let input = SegmentInput {
        name: form.get("name").to_string(),
        description: form.opt("description"),
        definition,
    };
    let mut tx = TenantTx::begin(&state.db.app, me.user_id()).await?;
    let saved = match id {
        Some(id) => store::update(&mut tx, id, &input).await,
        None => store::create(&mut tx, &input).await,
    };
    match saved {
        Ok(segment) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/segments/{}?done=saved", segment.id)).into_response())
        }
        Err(e) => {
            drop(tx);
            let problems = builder_problems(e, &made_by, form.get("definition"))?;
            Ok(render_edit(me, id, Some(form), problems, None))
        }
    }
}

async fn save_new(
    State(state): State<AppState>,
    UserForm { me, form }: UserForm,
) -> PageResult<Response> {
    save_form(&state, &me, None, &form).await
}

async fn save_edit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    UserForm { me, form }: UserForm,
) -> PageResult<Response> {
    let id = everreach_api::extract::path_id(&id)?;
    // another tenant's id is a 404 before anything is checked
    let mut tx = TenantTx::begin_snapshot(&state.db.app, me.user_id()).await?;
    store::get(&mut tx, id).await?;
    tx.commit().await?;
    save_form(&state, &me, Some(id), &form).await
}

/// One insights column as the page shows it.
struct InsightColumn {
    traffic: &'static str,
    computed: Option<When>,
    topics: Vec<(String, String)>,
    platforms: Vec<(String, String)>,
    formats: Vec<(String, String)>,
    style: Option<String>,
    styles: Vec<(String, String)>,
    events: i64,
    engaged: i64,
    /// `(weekday, [six shares as percent text])`.
    times: Vec<(&'static str, Vec<String>)>,
    reach: Option<String>,
    rate: Option<String>,
}

fn percent(share: f64) -> String {
    let p = share * 100.0;
    if p > 0.0 && p < 1.0 {
        "<1%".into()
    } else {
        format!("{p:.0}%")
    }
}

fn tops(v: &Option<Value>) -> Vec<(String, String)> {
    v.as_ref()
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .take(5)
                .map(|e| {
                    (
                        e["name"].as_str().unwrap_or("").replace('_', " "),
                        percent(e["share"].as_f64().unwrap_or(0.0)),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn column(traffic: &'static str, row: Option<&SegmentInsight>, tz: chrono_tz::Tz) -> InsightColumn {
    let style = row.and_then(|r| r.engagement_style.as_ref());
    let times = row.and_then(|r| r.best_times.as_ref());
    InsightColumn {
        traffic,
        computed: row.and_then(|r| fmt::when_opt(r.updated_at, tz)),
        topics: tops(&row.and_then(|r| r.top_topics.clone())),
        platforms: tops(&row.and_then(|r| r.top_platforms.clone())),
        formats: tops(&row.and_then(|r| r.top_formats.clone())),
        style: style.and_then(|s| s["style"].as_str()).map(str::to_string),
        styles: style
            .and_then(|s| s["shares"].as_object())
            .map(|o| {
                ["conversational", "reactive", "sharing", "passive", "other"]
                    .iter()
                    .filter_map(|k| {
                        let v = o.get(*k)?.as_f64()?;
                        (v > 0.0).then(|| (k.to_string(), percent(v)))
                    })
                    .collect()
            })
            .unwrap_or_default(),
        events: style.and_then(|s| s["events"].as_i64()).unwrap_or(0),
        engaged: style
            .and_then(|s| s["members_engaged"].as_i64())
            .unwrap_or(0),
        times: WEEKDAYS
            .iter()
            .map(|d| {
                let cells = times
                    .and_then(|t| t["shares"][*d].as_array())
                    .map(|a| {
                        a.iter()
                            .map(|v| {
                                let s = v.as_f64().unwrap_or(0.0);
                                if s == 0.0 { "·".into() } else { percent(s) }
                            })
                            .collect()
                    })
                    .unwrap_or_else(|| vec!["·".to_string(); 6]);
                (*d, cells)
            })
            .collect(),
        reach: row.and_then(|r| match (r.reach_low, r.reach_high) {
            (Some(l), Some(h)) if l == h => Some(format!("{l} people a week")),
            (Some(l), Some(h)) => Some(format!("{l}–{h} people a week")),
            _ => None,
        }),
        rate: row.and_then(|r| match (r.engagement_rate_low, r.engagement_rate_high) {
            (Some(l), Some(h)) if percent(l) == percent(h) => {
                Some(format!("{} of members", percent(l)))
            }
            (Some(l), Some(h)) => Some(format!("{}–{} of members", percent(l), percent(h))),
            _ => None,
        }),
    }
}

#[derive(Template)]
#[template(path = "segment.html")]
struct SegmentPage {
    shell: Shell,
    segment: SegmentView,
    members: Vec<(MemberView, Option<When>)>,
    older: Option<String>,
    newest: bool,
    insights: Vec<InsightColumn>,
    computed: bool,
    definition: String,
    error: Option<String>,
}

/// `before=<added_at RFC 3339>_<person id>`: the last member of the previous page.
fn parse_before(v: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let (at, id) = v.rsplit_once('_')?;
    Some((
        DateTime::parse_from_rfc3339(at).ok()?.to_utc(),
        id.parse().ok()?,
    ))
}

async fn render_segment(
    state: &AppState,
    me: &Signed,
    id: Uuid,
    before: Option<(DateTime<Utc>, Uuid)>,
    notice: Option<String>,
    error: Option<String>,
) -> PageResult<Response> {
    let tz = fmt::zone(me.user.timezone.as_deref());
    let mut tx = TenantTx::begin_snapshot(&state.db.app, me.user_id()).await?;
    let segment = store::get(&mut tx, id).await?;
    let page = store::members(&mut tx, id, PAGE, before).await?;
    let rows = insights::for_segment(&mut tx, id).await?;
    tx.commit().await?;
    let older = (page.len() as i64 == PAGE)
        .then(|| page.last())
        .flatten()
        .and_then(|m| {
            m.added_at
                .map(|at| crate::form::encode(&format!("{}_{}", at.to_rfc3339(), m.person_id)))
        });
    let insights = ["organic", "paid"]
        .into_iter()
        .map(|t| column(t, rows.iter().find(|r| r.traffic_type == t), tz))
        .collect();
    let definition = segment
        .definition
        .as_ref()
        .map(|d| serde_json::to_string_pretty(d).unwrap_or_default())
        .unwrap_or_default();
    let mut shell = me.shell(&segment.name, Nav::Segments);
    shell.notice = notice;
    let page = SegmentPage {
        shell,
        members: page
            .into_iter()
            .map(|m| {
                let when = fmt::when_opt(m.added_at, tz);
                (m, when)
            })
            .collect(),
        older,
        newest: before.is_none(),
        computed: !rows.is_empty(),
        insights,
        segment,
        definition,
        error,
    };
    Ok(if page.error.is_some() {
        shell::render_status(axum::http::StatusCode::CONFLICT, &page)
    } else {
        shell::render(&page)
    })
}

async fn segment_page(
    State(state): State<AppState>,
    me: Signed,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> PageResult<Response> {
    let id = everreach_api::extract::path_id(&id)?;
    let q = query(q);
    let before = match q.get("before") {
        "" => None,
        v => Some(parse_before(v).ok_or(PageError::Api(ApiError::invalid(
            "/before",
            "not a page of this list: follow the Older link",
        )))?),
    };
    let notice = match q.get("done") {
        "saved" => Some("Saved, and its members filled.".to_string()),
        "refreshed" => Some("Members brought up to date.".to_string()),
        "insights" => Some("Insights recomputed from the members' engagement.".to_string()),
        _ => None,
    };
    render_segment(&state, &me, id, before, notice, None).await
}

async fn refresh(
    State(state): State<AppState>,
    Path(id): Path<String>,
    UserForm { me, form: _ }: UserForm,
) -> PageResult<Response> {
    me.require_writer()?;
    let id = everreach_api::extract::path_id(&id)?;
    let mut tx = TenantTx::begin(&state.db.app, me.user_id()).await?;
    store::refresh(&mut tx, id, Scope::All).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/segments/{id}?done=refreshed")).into_response())
}

async fn recompute_insights(
    State(state): State<AppState>,
    Path(id): Path<String>,
    UserForm { me, form: _ }: UserForm,
) -> PageResult<Response> {
    me.require_writer()?;
    let id = everreach_api::extract::path_id(&id)?;
    let mut tx = TenantTx::begin(&state.db.app, me.user_id()).await?;
    insights::recompute(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/segments/{id}?done=insights#insights")).into_response())
}

async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    UserForm { me, form: _ }: UserForm,
) -> PageResult<Response> {
    me.require_writer()?;
    let id = everreach_api::extract::path_id(&id)?;
    let mut tx = TenantTx::begin(&state.db.app, me.user_id()).await?;
    match store::delete(&mut tx, id).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(Redirect::to("/segments?done=deleted").into_response())
        }
        Err(DomainError::Conflict { detail, .. }) => {
            drop(tx);
            render_segment(
                &state,
                &me,
                id,
                None,
                None,
                Some(format!("Not deleted: {detail}.")),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Form {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        Form::parse(body.as_bytes())
    }

    #[test]
    fn the_fields_make_an_all_and_remember_which_made_what() {
        let (d, by) = definition_of(&form(&[
            ("channel", "instagram"),
            ("warmth", "60"),
            ("active_days", "30"),
        ]))
        .unwrap();
        assert_eq!(
            d,
            json!({"all": [
                {"identity": {"channel": "instagram"}},
                {"field": "insight.warmth", "op": "gte", "value": 60.0},
                {"field": "insight.last_active", "op": "within", "value": "last 30 days"}
            ]})
        );
        assert_eq!(by, ["channel", "warmth", "active_days"]);
        let p = definition_of(&form(&[("warmth", "warm")])).unwrap_err();
        assert!(p.on("warmth").is_some());
        let p = definition_of(&form(&[])).unwrap_err();
        assert!(p.on("channel").unwrap().contains("at least one"));
        let p = definition_of(&form(&[("definition", "{\n  \"all\": [\n}")])).unwrap_err();
        assert!(p.on("definition").unwrap().starts_with("Line 3, column 1"));
    }

    #[test]
    fn a_pointer_finds_its_line_in_the_json_typed() {
        let text = "{\n  \"all\": [\n    {\"identity\": {}},\n    {\"field\": \"x\",\n     \"op\": \"eq\"}\n  ]\n}";
        assert_eq!(line_of(text, "/all/1/field"), Some(4));
        assert_eq!(line_of(text, "/all/1/op"), Some(5));
        assert_eq!(line_of(text, "/all/0"), Some(3));
        assert_eq!(line_of(text, "/nope"), None);
        assert_eq!(line_of("{\"a\": [\"x,]\", 2]}", "/a/1"), Some(1));
    }

    #[test]
    fn before_is_a_time_and_a_person() {
        let id = Uuid::nil();
        let v = format!("2026-12-05T10:00:00+00:00_{id}");
        assert_eq!(parse_before(&v).unwrap().1, id);
        assert!(parse_before("yesterday").is_none());
    }
}
