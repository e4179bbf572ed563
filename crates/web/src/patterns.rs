//! Patterns and templates (`/settings/patterns`): the user's next-best-action
//! templates (001's `next_best_actions`, by lane and stage), fit signals
//! (`fit_signals`, by product) and automation patterns (`automation_patterns`: known
//! handles, selectors, skip and spam patterns), listed, edited and added one at a
//! time on `/settings/patterns/{kind}/{id | new}`, and switched off with their
//! Active box (a seeded row switched off stays off: seeding never re-adds it).
//! Writes go through the generic resources, so the domain's checks (lanes, stages,
//! placeholders, patterns that compile) come back beside their field.

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use everreach_api::AppState;
use everreach_api::error::ApiError;
use everreach_core::crm::library::{self, PatternRow, SignalRow, TemplateRow};
use everreach_core::crm::nba::LANES;
use everreach_core::crm::patterns::PATTERN_TYPES;
use everreach_core::crm::revio::STAGES;
use everreach_core::db::tenant::TenantTx;
use serde_json::{Map, Value, json};

use crate::accounts::query;
use crate::error::{PageError, PageResult};
use crate::form::{Field, Form, Problems, UserForm};
use crate::session::Signed;
use crate::shell::{self, Nav, Shell};
use crate::today::stage_words;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/patterns", get(page))
        .route("/settings/patterns/{kind}/{id}", get(edit_page).post(save))
}

/// The three kinds of row the page edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Templates,
    Signals,
    Patterns,
}

impl Kind {
    fn parse(slug: &str) -> Option<Kind> {
        match slug {
            "templates" => Some(Kind::Templates),
            "signals" => Some(Kind::Signals),
            "patterns" => Some(Kind::Patterns),
            _ => None,
        }
    }

    pub fn slug(self) -> &'static str {
        match self {
            Kind::Templates => "templates",
            Kind::Signals => "signals",
            Kind::Patterns => "patterns",
        }
    }

    /// The generic resource it is written through.
    fn resource(self) -> &'static str {
        match self {
            Kind::Templates => "next-best-actions",
            Kind::Signals => "fit-signals",
            Kind::Patterns => "automation-patterns",
        }
    }

    pub fn singular(self) -> &'static str {
        match self {
            Kind::Templates => "template",
            Kind::Signals => "fit signal",
            Kind::Patterns => "pattern",
        }
    }

    /// The form's fields with the row's values (`row` is the resource's JSON).
    fn fields(self, row: &Value) -> Vec<Field> {
        let text = |name: &str| -> String {
            match row.get(name) {
                Some(Value::String(s)) => s.clone(),
                _ => String::new(),
            }
        };
        match self {
            Kind::Templates => vec![
                Field::new("lane", "Lane", "select")
                    .options(LANES.iter().map(|l| (l.to_string(), l.to_string())).collect())
                    .value(text("lane"))
                    .hint("friendship 80+, service 60–79, curiosity 40–59, rewarm under 40; offer needs consent, retention follows a purchase."),
                Field::new("stage", "Stage", "select")
                    .options(
                        std::iter::once(("any".to_string(), "Any stage".to_string()))
                            .chain(STAGES.iter().map(|s| (s.to_string(), stage_words(s))))
                            .collect(),
                    )
                    .value(text("stage")),
                Field::new("action_key", "Key", "text")
                    .value(text("action_key"))
                    .hint("A short name, unique in its lane, e.g. ask_progress.")
                    .required(),
                Field::new("action_text", "What to say", "textarea")
                    .value(text("action_text"))
                    .hint("Placeholders: {first_name}, {display_name}, {what_theyre_building}, {current_friction}, {their_definition_of_win}; ___ is a blank you fill in.")
                    .required(),
            ],
            Kind::Signals => vec![
                Field::new("product", "Product", "text")
                    .value(text("product"))
                    .hint("e.g. everreach")
                    .required(),
                Field::new("signal_key", "Key", "text")
                    .value(text("signal_key"))
                    .hint("Unique per product, e.g. follow_up_messy.")
                    .required(),
                Field::new("signal_description", "What they say", "text")
                    .value(text("signal_description"))
                    .hint("The phrase matched in their messages, ignoring case and punctuation, e.g. I keep forgetting to follow up.")
                    .required(),
                Field::new("offer_template", "Offer", "textarea")
                    .value(text("offer_template"))
                    .hint("Suggested once the fit repeats and they have consented."),
            ],
            Kind::Patterns => vec![
                Field::new("pattern_type", "Type", "select")
                    .options(
                        PATTERN_TYPES
                            .iter()
                            .map(|(t, what)| (t.to_string(), format!("{} — {what}", t.replace('_', " "))))
                            .collect(),
                    )
                    .value(text("pattern_type")),
                Field::new("pattern_key", "Key", "text")
                    .value(text("pattern_key"))
                    .hint("Unique per type: the username of a known handle, the name of a pattern.")
                    .required(),
                Field::new("pattern_value", "Value", "text")
                    .value(text("pattern_value"))
                    .required(),
                Field::new("action", "Spam action", "select")
                    .options(vec![
                        ("flag".into(), "flag — keep it, marked as spam".into()),
                        ("skip".into(), "skip — drop it".into()),
                    ])
                    .value(
                        row.pointer("/metadata/action")
                            .and_then(Value::as_str)
                            .unwrap_or("flag")
                            .to_string(),
                    )
                    .hint("Spam patterns only."),
            ],
        }
    }
}

#[derive(Template)]
#[template(path = "patterns.html")]
struct PatternsPage {
    shell: Shell,
    templates: Vec<TemplateRow>,
    signals: Vec<SignalRow>,
    patterns: Vec<PatternRow>,
}

async fn page(
    State(state): State<AppState>,
    me: Signed,
    RawQuery(q): RawQuery,
) -> PageResult<Response> {
    let mut tx = TenantTx::begin_snapshot(&state.db.app, me.user_id()).await?;
    let templates = library::templates(&mut tx).await?;
    let signals = library::signals(&mut tx).await?;
    let patterns = library::patterns(&mut tx).await?;
    tx.commit().await?;
    let mut shell = me.shell("Patterns and templates", Nav::Settings);
    shell.notice = match query(q).get("done") {
        "saved" => Some("Saved. Suggestions and ingestion use it from now on.".into()),
        "added" => Some("Added. Suggestions and ingestion use it from now on.".into()),
        _ => None,
    };
    Ok(shell::render(&PatternsPage {
        shell,
        templates,
        signals,
        patterns,
    }))
}

#[derive(Template)]
#[template(path = "pattern_edit.html")]
struct EditPage {
    shell: Shell,
    kind: &'static str,
    singular: &'static str,
    /// `None` for a new row.
    id: Option<String>,
    fields: Vec<Field>,
    active: bool,
    problems: Problems,
}

/// `new`, or the id of one of the user's rows (404 for another's or a bad id).
fn target(kind: &str, id: &str) -> PageResult<(Kind, Option<String>)> {
    let kind = Kind::parse(kind).ok_or(PageError::Api(ApiError::NotFound))?;
    if id == "new" {
        return Ok((kind, None));
    }
    everreach_api::extract::path_id(id)?;
    Ok((kind, Some(id.to_string())))
}

fn render_edit(
    me: &Signed,
    kind: Kind,
    id: Option<String>,
    row: &Value,
    form: Option<&Form>,
    problems: Problems,
) -> Response {
    let mut fields = kind.fields(row);
    let active = match form {
        Some(f) => {
            fields = fields.into_iter().map(|x| x.from(f, &problems)).collect();
            f.get("is_active") == "on"
        }
        None => row
            .get("is_active")
            .and_then(Value::as_bool)
            .unwrap_or(true),
    };
    let verb = if id.is_some() { "Edit" } else { "Add" };
    let mut shell = me.shell(&format!("{verb} a {}", kind.singular()), Nav::Settings);
    shell.has_errors = !problems.is_empty();
    shell::render_form(
        !problems.is_empty(),
        &EditPage {
            shell,
            kind: kind.slug(),
            singular: kind.singular(),
            id,
            fields,
            active,
            problems,
        },
    )
}

async fn edit_page(
    State(state): State<AppState>,
    me: Signed,
    Path((kind, id)): Path<(String, String)>,
) -> PageResult<Response> {
    me.require_writer()?;
    let (kind, id) = target(&kind, &id)?;
    let row = match &id {
        Some(id) => {
            let r = crate::resource(&state, kind.resource())?;
            state.resources.get(me.user_id(), &r, id).await?
        }
        None => json!({"is_active": true}),
    };
    Ok(render_edit(&me, kind, id, &row, None, Problems::default()))
}

/// The body a form writes: every field (empty optional text is null), the Active
/// box, and a spam pattern's action merged into its metadata.
fn body(kind: Kind, form: &Form, old: &Value) -> Map<String, Value> {
    let mut body = Map::new();
    for f in kind.fields(&Value::Null) {
        if f.name == "action" {
            continue;
        }
        let v = form.get(f.name);
        let value = if v.is_empty() && !f.required {
            Value::Null
        } else {
            json!(v)
        };
        body.insert(f.name.to_string(), value);
    }
    body.insert("is_active".into(), json!(form.get("is_active") == "on"));
    if kind == Kind::Patterns {
        let mut metadata = old
            .get("metadata")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if form.get("pattern_type") == "spam_pattern" {
            metadata.insert("action".into(), json!(form.get("action")));
        } else {
            metadata.remove("action");
        }
        body.insert("metadata".into(), Value::Object(metadata));
    }
    body
}

async fn save(
    State(state): State<AppState>,
    Path((kind, id)): Path<(String, String)>,
    UserForm { me, form }: UserForm,
) -> PageResult<Response> {
    me.require_writer()?;
    let (kind, id) = target(&kind, &id)?;
    let r = crate::resource(&state, kind.resource())?;
    let old = match &id {
        Some(id) => state.resources.get(me.user_id(), &r, id).await?,
        None => Value::Null,
    };
    let mut problems = Problems::default();
    for f in kind.fields(&Value::Null) {
        if f.required && form.get(f.name).is_empty() {
            problems.add(f.name, format!("Enter the {}", f.label.to_lowercase()));
        }
    }
    if !problems.is_empty() {
        return Ok(render_edit(&me, kind, id, &old, Some(&form), problems));
    }
    let body = body(kind, &form, &old);
    let result = match &id {
        Some(id) => state.resources.patch(me.user_id(), &r, id, body).await,
        None => state.resources.create(me.user_id(), &r, body).await,
    };
    match result {
        Ok(_) => {
            let done = if id.is_some() { "saved" } else { "added" };
            Ok(
                Redirect::to(&format!("/settings/patterns?done={done}#{}", kind.slug()))
                    .into_response(),
            )
        }
        Err(e) => {
            let api = ApiError::from(e);
            let mut found = Problems::from_api(&api).ok_or(PageError::Api(api))?;
            for (field, _) in &mut found.0 {
                if field.starts_with("metadata") {
                    *field = "action".into();
                }
            }
            Ok(render_edit(&me, kind, id, &old, Some(&form), found))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_becomes_a_body_with_nulls_for_empty_optional_fields() {
        let f = Form::parse(b"lane=service&stage=&action_key=k&action_text=hi&is_active=on");
        let b = body(Kind::Templates, &f, &Value::Null);
        assert_eq!(b.get("stage"), Some(&Value::Null));
        assert_eq!(b.get("lane"), Some(&json!("service")));
        assert_eq!(b.get("is_active"), Some(&json!(true)));
        let f = Form::parse(
            b"pattern_type=spam_pattern&pattern_key=crypto&pattern_value=bitcoin&action=skip",
        );
        let b = body(Kind::Patterns, &f, &json!({"metadata": {"note": "x"}}));
        assert_eq!(
            b.get("metadata"),
            Some(&json!({"note": "x", "action": "skip"}))
        );
        assert_eq!(b.get("is_active"), Some(&json!(false)));
        assert!(!b.contains_key("action"));
    }

    #[test]
    fn only_known_kinds_and_uuids_are_targets() {
        assert!(target("templates", "new").unwrap().1.is_none());
        assert!(target("bogus", "new").is_err());
        assert!(target("signals", "not-a-uuid").is_err());
    }
}
