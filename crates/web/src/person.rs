//! The person page (`/people/{id}`): name and fields (edited in place), identities
//! (add, remove), insights explained in words, merge suggestions with their evidence
//! (merge → an undo banner), merge history (undo), sent messages with their opens,
//! clicks and replies, and the unified timeline (filter by channel; the next page
//! loads as it scrolls into view, or by a link without JavaScript); export (a
//! download) and erase (a confirmation page naming the person).

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use everreach_api::AppState;
use everreach_api::error::ApiError;
use everreach_core::db::tenant::TenantTx;
use everreach_core::people::handle::CHANNELS;
use everreach_core::people::merge;
use everreach_core::people::profile::{self, Person, Profile};
use everreach_core::people::timeline::{self, TimelineFilter};
use everreach_core::people::{Channel, rights};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::accounts::query;
use crate::error::{PageError, PageResult};
use crate::fmt::{self, When};
use crate::form::{Field, Form, Problems, UserForm};
use crate::session::Signed;
use crate::shell::{self, Nav, Shell};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/people/{id}", get(page))
        .route("/people/{id}/timeline", get(timeline_more))
        .route("/people/{id}/fields", post(save_fields))
        .route("/people/{id}/identities", post(add_identity))
        .route(
            "/people/{id}/identities/{identity}/remove",
            post(remove_identity),
        )
        .route("/people/{id}/merge", post(merge_in))
        .route("/people/{id}/dismiss", post(dismiss))
        .route("/merges/{id}/undo", post(undo))
        .route("/people/{id}/export", get(export))
        .route("/people/{id}/erase", get(erase_page).post(erase))
}

/// Events per timeline page.
const TIMELINE_PAGE: i64 = 30;

fn person_id(raw: &str) -> Result<Uuid, PageError> {
    raw.parse().map_err(|_| PageError::Api(ApiError::NotFound))
}

/// One timeline row.
#[derive(Debug, Clone)]
pub struct Row {
    pub channel: String,
    pub what: String,
    pub excerpt: Option<String>,
    pub when: When,
    pub outbound: bool,
}

/// A timeline page: its rows and the query of the next page, if any.
#[derive(Debug, Template)]
#[template(path = "person_timeline.html")]
pub struct TimelinePart {
    pub person_id: Uuid,
    pub rows: Vec<Row>,
    pub more: Option<String>,
}

/// A sent message with what came of it.
#[derive(Debug, Clone)]
pub struct MessageRow {
    pub channel: String,
    pub label: String,
    pub subject: String,
    pub sent: Option<When>,
    pub opened: Option<When>,
    pub clicked: Option<When>,
    pub replied: Option<When>,
}

#[derive(Debug, Clone)]
pub struct SuggestionRow {
    pub other_id: Uuid,
    pub other: String,
    pub other_detail: String,
    pub score_pct: i64,
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct HistoryRow {
    pub id: Uuid,
    pub kind: String,
    pub text: String,
    pub when: When,
    pub undoable: bool,
}

#[derive(Debug, Clone)]
pub struct IdentityRow {
    pub id: i64,
    pub channel: String,
    pub label: String,
    pub handle: String,
    pub verified: bool,
    pub last_seen: Option<When>,
}

#[derive(Template)]
#[template(path = "person.html")]
struct PersonPage {
    shell: Shell,
    id: Uuid,
    name: String,
    person: Person,
    editing: bool,
    fields: Vec<Field>,
    identities: Vec<IdentityRow>,
    identity_fields: Vec<Field>,
    /// The add-identity form came back with a problem: keep it open.
    identity_open: bool,
    insights: Vec<(&'static str, String)>,
    suggestions: Vec<SuggestionRow>,
    history: Vec<HistoryRow>,
    messages: Vec<MessageRow>,
    channel: String,
    channels: Vec<String>,
    timeline: TimelinePart,
    /// A merge just done: its id and who was merged in.
    merged: Option<(Uuid, String)>,
    problems: Problems,
}

fn event_words(event_type: &str) -> String {
    match event_type {
        "email_sent" => "You e-mailed them".into(),
        "email_received" => "They e-mailed you".into(),
        "dm_sent" => "You sent a message".into(),
        "dm_reply" | "dm_received" => "They sent a message".into(),
        "opened_email" | "email_opened" => "They opened your e-mail".into(),
        "clicked_link" | "link_clicked" => "They clicked a link".into(),
        "follow" | "followed" => "They followed you".into(),
        "comment" | "commented" => "They commented".into(),
        "like" | "liked" => "They liked a post".into(),
        "mention" | "mentioned" => "They mentioned you".into(),
        other => {
            let mut text = other.replace('_', " ");
            if let Some(first) = text.get(0..1) {
                text = first.to_uppercase() + &text[1..];
            }
            text
        }
    }
}

async fn timeline_part(
    tx: &mut TenantTx,
    person: Uuid,
    channel: Option<String>,
    after: Option<(DateTime<Utc>, i64)>,
    tz: chrono_tz::Tz,
) -> Result<TimelinePart, sqlx::Error> {
    let filter = TimelineFilter {
        channel: channel.clone(),
        after,
        limit: TIMELINE_PAGE,
        ..TimelineFilter::default()
    };
    let events = timeline::page(tx, person, &filter).await?;
    let more = (events.len() as i64 == TIMELINE_PAGE)
        .then(|| events.last())
        .flatten()
        .map(|e| {
            let mut q = format!(
                "before={}&before_id={}",
                crate::form::encode(&e.occurred_at.to_rfc3339()),
                e.id
            );
            if let Some(c) = &channel {
                q.push_str(&format!("&channel={}", crate::form::encode(c)));
            }
            q
        });
    let rows = events
        .into_iter()
        .map(|e| Row {
            outbound: everreach_core::people::insights::OUTBOUND_TYPES
                .contains(&e.event_type.as_str()),
            what: event_words(&e.event_type),
            channel: e.channel,
            excerpt: e.content_excerpt.filter(|t| !t.trim().is_empty()),
            when: fmt::when(e.occurred_at, tz),
        })
        .collect();
    Ok(TimelinePart {
        person_id: person,
        rows,
        more,
    })
}

/// `before` / `before_id` of a timeline query.
fn cursor_of(q: &Form) -> Option<(DateTime<Utc>, i64)> {
    let t = DateTime::parse_from_rfc3339(q.get("before")).ok()?;
    let id = q.get("before_id").parse().ok()?;
    Some((t.with_timezone(&Utc), id))
}

fn channel_of(q: &Form) -> Option<String> {
    let c = q.get("channel");
    Channel::parse(c).ok().map(|c| c.as_str().to_string())
}

fn insights_in_words(p: &Profile) -> Vec<(&'static str, String)> {
    let Some(i) = &p.insight else {
        return vec![(
            "Insights",
            "Not computed yet: they appear once this person has activity (a few seconds after an import).".into(),
        )];
    };
    let mut out = Vec::new();
    if let Some(w) = i.warmth_score {
        let band = match w {
            w if w >= 60.0 => "warm",
            w if w >= 30.0 => "lukewarm",
            _ => "cold",
        };
        out.push((
            "Warmth",
            format!(
                "{:.0} of 100 — {band}. Built from how recently they were active (up to 50), how often in the last 90 days (up to 30) and how positive they sound (up to 20).",
                w
            ),
        ));
    }
    if let Some(s) = &i.activity_state {
        let words = match s.as_str() {
            "active" => "Active: they did something in the last 7 days.",
            "warming" => "Warming: last active within 30 days.",
            "cool" => "Cool: last active 1 to 3 months ago.",
            _ => "Dormant: nothing from them in over 3 months.",
        };
        out.push(("Activity", words.into()));
    }
    if let Some(Value::Object(shares)) = &i.channel_preferences {
        let mut v: Vec<(&String, f64)> = shares
            .iter()
            .filter_map(|(k, v)| v.as_f64().map(|f| (k, f)))
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        if !v.is_empty() {
            let parts: Vec<String> = v
                .iter()
                .map(|(k, f)| format!("{} ({:.0}%)", channel_label(k), f * 100.0))
                .collect();
            out.push((
                "Channels",
                format!("Mostly {} — over the last 6 months.", parts.join(", then ")),
            ));
        }
    }
    out.extend(interests_in_words(i.interests.as_ref()));
    out.extend(tone_in_words(i.tone_preferences.as_ref()));
    if let (Some(channel), Some(hour), Some(e)) =
        (&i.best_channel, i.best_send_hour, &i.best_send_evidence)
    {
        let n = |k: &str| e.get(k).and_then(Value::as_i64).unwrap_or(0);
        let what = if e.get("basis").and_then(Value::as_str) == Some("replies") {
            "replies"
        } else {
            "events"
        };
        out.push((
            "Best time to reach",
            format!(
                "{} around {hour:02}:00 your time — {} of their {} {what} of the last year came on {}, {} in that hour.",
                channel_label(channel),
                n("channel_events"),
                n("events"),
                channel_label(channel),
                n("hour_events"),
            ),
        ));
    }
    if let Some(Value::Object(season)) = &i.seasonality
        && let Some(Value::Array(days)) = season.get("weekday_mon_first")
    {
        let counts: Vec<i64> = days.iter().map(|d| d.as_i64().unwrap_or(0)).collect();
        if let Some((best, n)) = counts.iter().enumerate().max_by_key(|(_, n)| **n)
            && *n > 0
        {
            let names = [
                "Mondays",
                "Tuesdays",
                "Wednesdays",
                "Thursdays",
                "Fridays",
                "Saturdays",
                "Sundays",
            ];
            out.push((
                "Best time",
                format!(
                    "Most active on {} ({n} event{} in the last year).",
                    names[best],
                    if *n == 1 { "" } else { "s" }
                ),
            ));
        }
    }
    if let Some(secs) = i.avg_reply_secs {
        out.push((
            "Replies",
            format!(
                "They answer your messages in {} on average.",
                fmt::duration(secs)
            ),
        ));
    }
    if let Some(t) = i.last_active_at {
        out.push(("Last active", fmt::ago(t, Utc::now())));
    }
    out
}

/// "Writes most about glaze recipes, pottery and workshops", from the stored interests.
fn interests_in_words(interests: Option<&Value>) -> Option<(&'static str, String)> {
    let list = interests?.as_array()?;
    let terms: Vec<String> = list
        .iter()
        .filter_map(|i| {
            let term = i.get("term")?.as_str()?;
            let events = i.get("events")?.as_i64()?;
            Some(format!(
                "{term} ({events} message{})",
                if events == 1 { "" } else { "s" }
            ))
        })
        .collect();
    if terms.is_empty() {
        return Some((
            "Interests",
            "Nothing stands out in their messages yet.".into(),
        ));
    }
    Some((
        "Interests",
        format!(
            "Writes most about {} — the words and phrases they use often and others you know use less.",
            terms.join(", ")
        ),
    ))
}

/// "Casual, uses emoji, short messages; writes in English (12 messages)."
fn tone_in_words(tone: Option<&Value>) -> Option<(&'static str, String)> {
    let tone = tone?;
    let messages = tone.get("messages").and_then(Value::as_i64).unwrap_or(0);
    let words: Vec<&str> = tone
        .get("labels")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(|label| match label {
                    "formal" => "formal",
                    "casual" => "casual",
                    "emoji" => "uses emoji",
                    "short-form" => "short messages",
                    "medium-form" => "medium-length messages",
                    "long-form" => "long messages",
                    "inquisitive" => "asks questions",
                    other => other,
                })
                .collect()
        })
        .unwrap_or_default();
    let language = match tone.get("language").and_then(Value::as_str) {
        Some("en") => "English",
        Some("es") => "Spanish",
        Some("pt") => "Portuguese",
        Some("fr") => "French",
        Some("de") => "German",
        _ => "a language we could not tell",
    };
    let plural = if messages == 1 { "" } else { "s" };
    let text = if words.is_empty() {
        format!("Too few messages to judge ({messages} so far); writes in {language}.")
    } else {
        let mut first = words.join(", ");
        if let Some(c) = first.get(..1) {
            first = c.to_uppercase() + &first[1..];
        }
        format!("{first}; writes in {language} (from {messages} message{plural}).")
    };
    Some(("Tone", text))
}

fn person_fields(p: &Person, form: Option<&Form>, problems: &Problems) -> Vec<Field> {
    let fields = vec![
        Field::new("full_name", "Name", "text")
            .value(p.full_name.clone().unwrap_or_default())
            .autocomplete("off"),
        Field::new("primary_email", "E-mail address", "email")
            .value(p.primary_email.clone().unwrap_or_default()),
        Field::new("company", "Company", "text").value(p.company.clone().unwrap_or_default()),
        Field::new("role", "Role", "text").value(p.role.clone().unwrap_or_default()),
        Field::new("keep_in_touch_days", "Keep in touch every (days)", "number")
            .value(p.keep_in_touch_days.map(|d| d.to_string()).unwrap_or_default())
            .hint("1 to 365. A message or e-mail on any channel resets it. Leave blank to follow their activity."),
    ];
    match form {
        Some(f) => fields.into_iter().map(|x| x.from(f, problems)).collect(),
        None => fields,
    }
}

fn identity_fields(form: Option<&Form>, problems: &Problems) -> Vec<Field> {
    let channels: Vec<(String, String)> = CHANNELS
        .iter()
        .map(|c| {
            (
                c.as_str().to_string(),
                channel_label(c.as_str()).to_string(),
            )
        })
        .collect();
    let fields = vec![
        Field::new("channel", "Channel", "select")
            .options(channels)
            .value("email"),
        Field::new("handle", "Handle or address", "text")
            .hint("An e-mail address, @handle or profile URL."),
    ];
    match form {
        Some(f) => fields.into_iter().map(|x| x.from(f, problems)).collect(),
        None => fields,
    }
}

struct Render<'a> {
    editing: bool,
    form: Option<&'a Form>,
    problems: Problems,
    identity_form: Option<&'a Form>,
    identity_problems: Problems,
}

async fn render(
    state: &AppState,
    me: &Signed,
    id: Uuid,
    q: &Form,
    r: Render<'_>,
) -> PageResult<Response> {
    let tz = fmt::zone(me.user.timezone.as_deref());
    let mut tx = TenantTx::begin_snapshot(&state.db.app, me.user_id()).await?;
    let Some(profile) = profile::load(&mut tx, id).await? else {
        return Err(PageError::Api(ApiError::NotFound));
    };
    let channel = channel_of(q);
    let timeline = timeline_part(&mut tx, id, channel.clone(), cursor_of(q), tz).await?;
    let suggestions = profile::suggestions_for(&mut tx, id, 10).await?;
    let history = merge::list(&mut tx, Some(id), None, 20).await?;
    let messages = profile::messages(&mut tx, id, 20).await?;
    let merged_id = q.get("merged").parse::<Uuid>().ok();
    let names = {
        let mut ids: Vec<Uuid> = history
            .iter()
            .flat_map(|h| [h.survivor_id, h.merged_id])
            .collect();
        ids.sort_unstable();
        ids.dedup();
        history_names(&mut tx, &ids).await?
    };
    tx.commit().await?;

    let undone: Vec<Uuid> = history.iter().filter_map(|h| h.undoes).collect();
    let history_rows: Vec<HistoryRow> = history
        .iter()
        .map(|h| {
            let merged = names
                .iter()
                .find(|(i, _)| *i == h.merged_id)
                .map_or("someone".to_string(), |n| n.1.clone());
            HistoryRow {
                id: h.id,
                kind: h.kind.clone(),
                text: if h.kind == "merge" {
                    format!("{merged} merged in ({})", moved_words(&h.counts))
                } else {
                    format!("Merge of {merged} undone")
                },
                when: fmt::when(h.created_at, tz),
                undoable: h.kind == "merge" && !undone.contains(&h.id) && h.survivor_id == id,
            }
        })
        .collect();
    let merged = merged_id.and_then(|m| {
        history_rows
            .iter()
            .find(|h| h.id == m && h.undoable)
            .map(|h| (m, h.text.clone()))
    });
    let name = profile.person.label();
    let mut shell = me.shell(&name, Nav::People);
    shell.has_errors = !r.problems.is_empty() || !r.identity_problems.is_empty();
    match q.get("done") {
        "undone" => {
            shell.notice = Some("The merge is undone: both people are back as they were.".into())
        }
        "identity-added" => shell.notice = Some("Identity added.".into()),
        "identity-removed" => shell.notice = Some("Identity removed.".into()),
        "saved" => shell.notice = Some("Saved.".into()),
        "dismissed" => {
            shell.notice =
                Some("Noted: they will not be suggested as the same person again.".into())
        }
        _ => {}
    }
    let page = PersonPage {
        shell,
        id,
        name,
        editing: r.editing || !r.problems.is_empty(),
        fields: person_fields(&profile.person, r.form, &r.problems),
        identities: profile
            .identities
            .iter()
            .map(|i| IdentityRow {
                id: i.id,
                channel: i.channel.clone().unwrap_or_else(|| "other".into()),
                label: channel_label(i.channel.as_deref().unwrap_or("other")).to_string(),
                handle: i.handle.clone(),
                verified: i.is_verified.unwrap_or(false),
                last_seen: fmt::when_opt(i.last_seen_at, tz),
            })
            .collect(),
        identity_fields: identity_fields(r.identity_form, &r.identity_problems),
        identity_open: !r.identity_problems.is_empty(),
        insights: insights_in_words(&profile),
        suggestions: suggestions
            .into_iter()
            .map(|(s, other)| SuggestionRow {
                other_id: other.id,
                other: other.label(),
                other_detail: [other.primary_email.clone(), other.company.clone()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" · "),
                score_pct: (s.score * 100.0).round() as i64,
                evidence: s
                    .evidence
                    .iter()
                    .map(|e| {
                        format!(
                            "{}: {} ({} / {})",
                            evidence_words(e.kind),
                            e.value,
                            e.sources[0],
                            e.sources[1]
                        )
                    })
                    .collect(),
            })
            .collect(),
        history: history_rows,
        messages: messages
            .into_iter()
            .map(|m| MessageRow {
                label: channel_label(&m.channel).to_string(),
                channel: m.channel,
                subject: m
                    .subject
                    .or_else(|| m.body.map(|b| b.chars().take(80).collect()))
                    .unwrap_or_default(),
                sent: fmt::when_opt(m.sent_at, tz),
                opened: fmt::when_opt(m.opened_at, tz),
                clicked: fmt::when_opt(m.clicked_at, tz),
                replied: fmt::when_opt(m.replied_at, tz),
            })
            .collect(),
        channel: channel.unwrap_or_default(),
        channels: CHANNELS.iter().map(|c| c.as_str().to_string()).collect(),
        timeline,
        merged,
        person: profile.person,
        problems: r.problems.clone(),
    };
    Ok(shell::render_form(page.shell.has_errors, &page))
}

async fn history_names(
    tx: &mut TenantTx,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    // the merged person's row is gone after a merge: their name is in the record
    let rows: Vec<(Uuid, Option<String>)> = sqlx::query_as(
        "SELECT p.id, coalesce(
                    (SELECT coalesce(m.moved->'merged_before'->>'full_name', m.moved->'merged_before'->>'primary_email')
                       FROM person_merges m WHERE m.user_id = $1 AND m.merged_id = p.id AND m.kind = 'merge'
                      ORDER BY m.created_at DESC LIMIT 1),
                    (SELECT coalesce(x.full_name, x.primary_email) FROM people x WHERE x.user_id = $1 AND x.id = p.id))
           FROM unnest($2::uuid[]) AS p(id)",
    )
    .bind(tx.user_id())
    .bind(ids)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(i, n)| (i, n.unwrap_or_else(|| "someone".into())))
        .collect())
}

fn moved_words(counts: &Value) -> String {
    let Value::Object(map) = counts else {
        return "nothing moved".into();
    };
    let parts: Vec<String> = map
        .iter()
        .filter_map(|(k, v)| {
            v.as_i64().filter(|n| *n > 0).map(|n| {
                let (one, many) = match k.as_str() {
                    "identities" => ("identity", "identities"),
                    "person_events" => ("event", "events"),
                    "outbound_messages" => ("message", "messages"),
                    "segment_members" => ("segment", "segments"),
                    "instagram_contacts" => ("Instagram contact", "Instagram contacts"),
                    "contacts" => ("contact", "contacts"),
                    other => (other, other),
                };
                format!("{n} {}", if n == 1 { one } else { many }).replace('_', " ")
            })
        })
        .collect();
    if parts.is_empty() {
        "nothing moved".into()
    } else {
        parts.join(", ")
    }
}

fn evidence_words(kind: everreach_core::people::suggest::EvidenceKind) -> &'static str {
    use everreach_core::people::suggest::EvidenceKind as K;
    match kind {
        K::SameEmail => "Same e-mail address",
        K::SameLinkedin => "Same LinkedIn profile",
        K::SameNameAndCompany => "Same name and company",
        K::SameHandleStem => "Same handle",
        K::SimilarName => "Similar name",
    }
}

async fn page(
    State(state): State<AppState>,
    me: Signed,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> PageResult<Response> {
    let q = query(q);
    let r = Render {
        editing: q.get("edit") == "fields",
        form: None,
        problems: Problems::default(),
        identity_form: None,
        identity_problems: Problems::default(),
    };
    render(&state, &me, person_id(&id)?, &q, r).await
}

/// `GET /people/{id}/timeline?before=…`: the next timeline rows (htmx swaps them in
/// for the "older events" row).
async fn timeline_more(
    State(state): State<AppState>,
    me: Signed,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> PageResult<Response> {
    let q = query(q);
    let id = person_id(&id)?;
    let tz = fmt::zone(me.user.timezone.as_deref());
    let mut tx = TenantTx::begin_snapshot(&state.db.app, me.user_id()).await?;
    if !rights::exists(&mut tx, id).await? {
        return Err(PageError::Api(ApiError::NotFound));
    }
    let part = timeline_part(&mut tx, id, channel_of(&q), cursor_of(&q), tz).await?;
    tx.commit().await?;
    Ok(shell::render(&part))
}

async fn save_fields(
    State(state): State<AppState>,
    Path(id): Path<String>,
    UserForm { me, form }: UserForm,
) -> PageResult<Response> {
    me.require_writer()?;
    let id = person_id(&id)?;
    let mut body = Map::new();
    for name in ["full_name", "primary_email", "company", "role"] {
        let v = form.get(name);
        body.insert(
            name.into(),
            if v.is_empty() { Value::Null } else { json!(v) },
        );
    }
    // a number, or the text as typed (the resource names what is wrong with it)
    let every = form.get("keep_in_touch_days").trim();
    body.insert(
        "keep_in_touch_days".into(),
        match every.parse::<i64>() {
            _ if every.is_empty() => Value::Null,
            Ok(n) => json!(n),
            Err(_) => json!(every),
        },
    );
    let people = crate::resource(&state, "people")?;
    match state
        .resources
        .patch(me.user_id(), &people, &id.to_string(), body)
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/people/{id}?done=saved")).into_response()),
        Err(e) => {
            let api = ApiError::from(e);
            let Some(problems) = Problems::from_api(&api) else {
                return Err(PageError::Api(api));
            };
            let r = Render {
                editing: true,
                form: Some(&form),
                problems,
                identity_form: None,
                identity_problems: Problems::default(),
            };
            render(&state, &me, id, &Form::default(), r).await
        }
    }
}

async fn add_identity(
    State(state): State<AppState>,
    Path(id): Path<String>,
    UserForm { me, form }: UserForm,
) -> PageResult<Response> {
    me.require_writer()?;
    let id = person_id(&id)?;
    let mut problems = Problems::default();
    if form.get("handle").is_empty() {
        problems.add("handle", "Enter the handle or address");
    }
    if problems.is_empty() {
        let identities = crate::resource(&state, "identities")?;
        let mut body = Map::new();
        body.insert("person_id".into(), json!(id));
        body.insert("channel".into(), json!(form.get("channel")));
        body.insert("handle".into(), json!(form.get("handle")));
        match state
            .resources
            .create(me.user_id(), &identities, body)
            .await
        {
            Ok(_) => {
                return Ok(
                    Redirect::to(&format!("/people/{id}?done=identity-added#identities"))
                        .into_response(),
                );
            }
            Err(e) => {
                let api = ApiError::from(e);
                match Problems::from_api(&api) {
                    Some(p) => {
                        for (f, m) in p.0 {
                            let field = if f == "channel" { "channel" } else { "handle" };
                            problems.add(field, m);
                        }
                    }
                    None => return Err(PageError::Api(api)),
                }
            }
        }
    }
    let r = Render {
        editing: false,
        form: None,
        problems: Problems::default(),
        identity_form: Some(&form),
        identity_problems: problems,
    };
    render(&state, &me, id, &Form::default(), r).await
}

async fn remove_identity(
    State(state): State<AppState>,
    Path((id, identity)): Path<(String, String)>,
    UserForm { me, .. }: UserForm,
) -> PageResult<Response> {
    me.require_writer()?;
    let id = person_id(&id)?;
    let identity: i64 = identity
        .parse()
        .map_err(|_| PageError::Api(ApiError::NotFound))?;
    let identities = crate::resource(&state, "identities")?;
    state
        .resources
        .delete(me.user_id(), &identities, &identity.to_string())
        .await?;
    Ok(Redirect::to(&format!("/people/{id}?done=identity-removed#identities")).into_response())
}

fn other_of(form: &Form) -> Result<Uuid, PageError> {
    form.get("other")
        .parse()
        .map_err(|_| PageError::Api(ApiError::invalid("/other", "is not a person of yours")))
}

/// Merges `other` into this person, then shows the page with an undo banner.
async fn merge_in(
    State(state): State<AppState>,
    Path(id): Path<String>,
    UserForm { me, form }: UserForm,
) -> PageResult<Response> {
    me.require_writer()?;
    let id = person_id(&id)?;
    let other = other_of(&form)?;
    let mut tx = TenantTx::begin(&state.db.app, me.user_id()).await?;
    let summary = merge::merge(&mut tx, id, other, form.get("force") == "1").await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/people/{id}?merged={}", summary.id)).into_response())
}

async fn dismiss(
    State(state): State<AppState>,
    Path(id): Path<String>,
    UserForm { me, form }: UserForm,
) -> PageResult<Response> {
    me.require_writer()?;
    let id = person_id(&id)?;
    let other = other_of(&form)?;
    let mut tx = TenantTx::begin(&state.db.app, me.user_id()).await?;
    everreach_core::people::suggest::dismiss(&mut tx, id, other).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/people/{id}?done=dismissed#suggestions")).into_response())
}

async fn undo(
    State(state): State<AppState>,
    Path(id): Path<String>,
    UserForm { me, .. }: UserForm,
) -> PageResult<Response> {
    me.require_writer()?;
    let merge_id = person_id(&id)?;
    let mut tx = TenantTx::begin(&state.db.app, me.user_id()).await?;
    let summary = merge::undo(&mut tx, merge_id).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/people/{}?done=undone", summary.survivor_id)).into_response())
}

async fn export(
    State(state): State<AppState>,
    me: Signed,
    Path(id): Path<String>,
) -> PageResult<Response> {
    let id = person_id(&id)?;
    let mut tx = TenantTx::begin_snapshot(&state.db.app, me.user_id()).await?;
    let data = rights::export(&mut tx, id).await?;
    tx.commit().await?;
    let body = serde_json::to_vec_pretty(&data).map_err(ApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"person-{id}.json\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response())
}

#[derive(Template)]
#[template(path = "person_erase.html")]
struct ErasePage {
    shell: Shell,
    id: Uuid,
    name: String,
}

async fn erase_page(
    State(state): State<AppState>,
    me: Signed,
    Path(id): Path<String>,
) -> PageResult<Response> {
    let id = person_id(&id)?;
    let mut tx = TenantTx::begin_snapshot(&state.db.app, me.user_id()).await?;
    let profile = profile::load(&mut tx, id)
        .await?
        .ok_or(PageError::Api(ApiError::NotFound))?;
    tx.commit().await?;
    let name = profile.person.label();
    Ok(shell::render(&ErasePage {
        shell: me.shell(&format!("Erase {name}"), Nav::People),
        id,
        name,
    }))
}

async fn erase(
    State(state): State<AppState>,
    Path(id): Path<String>,
    UserForm { me, .. }: UserForm,
) -> PageResult<Response> {
    me.require_writer()?;
    let id = person_id(&id)?;
    let mut tx = TenantTx::begin(&state.db.app, me.user_id()).await?;
    rights::erase(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Redirect::to("/people?done=erased").into_response())
}

/// A channel as people read it.
pub fn channel_label(channel: &str) -> &str {
    match channel {
        "email" => "E-mail",
        "instagram" => "Instagram",
        "linkedin" => "LinkedIn",
        "twitter" => "X (Twitter)",
        "facebook" => "Facebook",
        "tiktok" => "TikTok",
        "youtube" => "YouTube",
        "threads" => "Threads",
        "bluesky" => "Bluesky",
        "pinterest" => "Pinterest",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn interests_and_tone_in_words() {
        let interests = json!([
            {"term": "glaze recipes", "weight": 2.95, "events": 3, "count": 3, "people": 1},
            {"term": "pottery", "weight": 2.38, "events": 1, "count": 2, "people": 1}
        ]);
        let (_, text) = interests_in_words(Some(&interests)).unwrap();
        assert!(
            text.starts_with("Writes most about glaze recipes (3 messages), pottery (1 message)"),
            "{text}"
        );
        assert_eq!(interests_in_words(None), None);
        let tone =
            json!({"labels": ["casual", "emoji", "short-form"], "messages": 4, "language": "pt"});
        let (_, text) = tone_in_words(Some(&tone)).unwrap();
        assert_eq!(
            text,
            "Casual, uses emoji, short messages; writes in Portuguese (from 4 messages)."
        );
        let few = json!({"labels": [], "messages": 1, "language": "unknown"});
        let (_, text) = tone_in_words(Some(&few)).unwrap();
        assert!(
            text.starts_with("Too few messages to judge (1 so far)"),
            "{text}"
        );
    }
}
