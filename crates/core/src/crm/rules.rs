//! The CRM's rules for the generic resources, handed over through the domain's
//! registration:
//! - `instagram_contacts`: the score, its components, the fit-signal hits and the
//!   message totals are computed, so writing them is refused (naming the field and
//!   what to change instead); `relationship_stage` pins a stage (kept in
//!   `stage_override`; `null` lifts it), one of the eight; `trust_signals` and
//!   `value_delivered_log` entries are checked; after every write the contact is
//!   rescored in the same transaction.
//! - `next_best_actions`: a lane of the six, a stage of the eight (or none), and
//!   only the known placeholders.
//! - `fit_signals`: a write queues a rescore of the tenant's contacts (a signal
//!   applies to messages already stored).
//! - `automation_patterns`: one of the four types; a skip pattern must compile, a spam pattern's action be
//!   `flag` or `skip`.

use std::future::Future;
use std::pin::Pin;

use serde_json::{Map, Value};
use uuid::Uuid;

use super::nba::{LANES, PLACEHOLDERS, unknown_placeholders};
use super::patterns::{PATTERN_TYPES, compile_skip, spam_action};
use super::revio::{STAGES, TRUST_KINDS, is_stage};
use crate::db::tenant::TenantTx;
use crate::error::DomainError;
use crate::resources::rules::TableRule;
use crate::resources::validate::{Mode, Problems};

pub const TABLE_RULES: &[TableRule] = &[
    TableRule {
        table: "instagram_contacts",
        apply: contact,
        after_write: Some(rescore_rows),
    },
    TableRule {
        table: "next_best_actions",
        apply: template,
        after_write: None,
    },
    TableRule {
        table: "fit_signals",
        apply: no_rule,
        after_write: Some(rescore_tenant_later),
    },
    TableRule {
        table: "automation_patterns",
        apply: pattern,
        after_write: None,
    },
];

/// Columns scoring and ingestion compute, with what to change instead.
const COMPUTED: [(&str, &str); 9] = [
    ("relationship_score", "the sum of the five components"),
    ("resonance_score", "their replies: ingest the DMs"),
    (
        "need_clarity_score",
        "the context card: fill what_theyre_building, current_friction, their_definition_of_win, constraints, preferred_contact_style",
    ),
    (
        "value_delivered_score",
        "value_delivered_log: add an entry {\"what\", \"at\"}",
    ),
    (
        "reliability_score",
        "our cadence and replies: ingest the DMs",
    ),
    (
        "consent_level",
        "trust_signals: record {\"kind\": \"consent_given\"} or {\"kind\": \"consent_withdrawn\"} with its \"at\"",
    ),
    ("fit_signals", "their messages against your fit_signals"),
    ("total_messages_sent", "ingested DMs"),
    ("total_messages_received", "ingested DMs"),
];

fn contact(body: &mut Map<String, Value>, _: Mode) -> Problems {
    let mut problems = Vec::new();
    for (column, from) in COMPUTED {
        if body.contains_key(column) {
            problems.push((
                format!("/{column}"),
                format!("is computed (0–20 per component, their sum for the score) and cannot be set: it follows {from}"),
            ));
        }
    }
    // relationship_stage pins a stage; stage_override is the same, by its own name
    for field in ["relationship_stage", "stage_override"] {
        let Some(v) = body.remove(field) else {
            continue;
        };
        match v {
            Value::Null => {
                body.insert("stage_override".into(), Value::Null);
            }
            Value::String(s) if is_stage(s.trim()) => {
                body.insert("stage_override".into(), Value::String(s.trim().into()));
            }
            other => problems.push((
                format!("/{field}"),
                format!(
                    "{other} is not a stage: use one of {} (or null to let the evidence decide)",
                    STAGES.join(", ")
                ),
            )),
        }
    }
    if let Some(v) = body.get("trust_signals") {
        check_entries(v, "/trust_signals", &mut problems, |i, e, problems| {
            match e.get("kind").and_then(Value::as_str) {
                Some(k) if TRUST_KINDS.contains(&k) => {}
                _ => problems.push((
                    format!("/trust_signals/{i}/kind"),
                    format!("is required, one of {}", TRUST_KINDS.join(", ")),
                )),
            }
            check_at(e, &format!("/trust_signals/{i}"), problems);
            check_text(e, "note", &format!("/trust_signals/{i}"), false, problems);
        });
    }
    if let Some(v) = body.get("value_delivered_log") {
        check_entries(
            v,
            "/value_delivered_log",
            &mut problems,
            |i, e, problems| {
                check_text(
                    e,
                    "what",
                    &format!("/value_delivered_log/{i}"),
                    true,
                    problems,
                );
                check_at(e, &format!("/value_delivered_log/{i}"), problems);
            },
        );
    }
    problems
}

/// Checks each object of a JSON array with `each`.
fn check_entries(
    v: &Value,
    field: &str,
    problems: &mut Problems,
    each: impl Fn(usize, &Map<String, Value>, &mut Problems),
) {
    match v {
        Value::Null => {}
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::Object(o) => each(i, o, problems),
                    _ => problems.push((format!("{field}/{i}"), "must be an object".into())),
                }
            }
        }
        _ => problems.push((field.into(), "must be an array of objects".into())),
    }
}

fn check_at(e: &Map<String, Value>, at: &str, problems: &mut Problems) {
    match e.get("at") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => {}
        Some(_) => problems.push((
            format!("{at}/at"),
            "must be a time in RFC 3339 (e.g. 2026-12-01T09:30:00Z)".into(),
        )),
    }
}

fn check_text(
    e: &Map<String, Value>,
    key: &str,
    at: &str,
    required: bool,
    problems: &mut Problems,
) {
    match e.get(key) {
        None | Some(Value::Null) if !required => {}
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= 500 => {}
        _ => problems.push((
            format!("{at}/{key}"),
            format!(
                "must be {}text of 1 to 500 characters",
                if required { "" } else { "absent or " }
            ),
        )),
    }
}

/// The contacts `rows` name, rescored in the write's transaction.
fn rescore_rows<'a>(
    tx: &'a mut TenantTx,
    rows: &'a [Value],
) -> Pin<Box<dyn Future<Output = Result<(), sqlx::Error>> + Send + 'a>> {
    Box::pin(async move {
        let mut ids: Vec<Uuid> = rows
            .iter()
            .filter_map(|r| {
                r.get("id")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse().ok())
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        super::score::rescore(tx, &ids).await.map_err(|e| match e {
            DomainError::Db(e) => e,
            other => sqlx::Error::Protocol(other.to_string()),
        })
    })
}

fn no_rule(_: &mut Map<String, Value>, _: Mode) -> Problems {
    Vec::new()
}

/// A fit signal applies to messages already stored: the tenant's contacts are
/// rescored by a job once the write commits.
fn rescore_tenant_later<'a>(
    tx: &'a mut TenantTx,
    _: &'a [Value],
) -> Pin<Box<dyn Future<Output = Result<(), sqlx::Error>> + Send + 'a>> {
    Box::pin(super::score::enqueue_rescore(tx))
}

fn template(body: &mut Map<String, Value>, _: Mode) -> Problems {
    let mut problems = Vec::new();
    if let Some(lane) = body.get("lane").and_then(Value::as_str)
        && !LANES.contains(&lane)
    {
        problems.push((
            "/lane".into(),
            format!("{lane:?} is not a lane: use one of {}", LANES.join(", ")),
        ));
    }
    if let Some(stage) = body.get("stage").and_then(Value::as_str)
        && stage != "any"
        && !is_stage(stage)
    {
        problems.push((
            "/stage".into(),
            format!(
                "{stage:?} is not a stage: use one of {}, or \"any\" (001's word) or null for any stage",
                STAGES.join(", ")
            ),
        ));
    }
    problems.extend(placeholder_problems(body));
    problems
}

fn placeholder_problems(body: &Map<String, Value>) -> Problems {
    match body.get("action_text").and_then(Value::as_str) {
        Some(text) => {
            let unknown = unknown_placeholders(text);
            if unknown.is_empty() {
                Vec::new()
            } else {
                vec![(
                    "/action_text".into(),
                    format!(
                        "unknown placeholder(s) {}: use {} (or ___ for a blank you fill in)",
                        unknown
                            .iter()
                            .map(|p| format!("{{{p}}}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        PLACEHOLDERS
                            .iter()
                            .map(|p| format!("{{{p}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )]
            }
        }
        None => Vec::new(),
    }
}

fn pattern(body: &mut Map<String, Value>, _: Mode) -> Problems {
    let kind = body.get("pattern_type").and_then(Value::as_str);
    let value = body.get("pattern_value").and_then(Value::as_str);
    let mut problems = Vec::new();
    if let Some(k) = kind
        && !PATTERN_TYPES.iter().any(|(t, _)| *t == k)
    {
        problems.push((
            "/pattern_type".into(),
            format!(
                "{k:?} is not a pattern type: use one of {}",
                PATTERN_TYPES.map(|(t, _)| t).join(", ")
            ),
        ));
    }
    if let (Some("skip_pattern"), Some(v)) = (kind, value)
        && let Err(e) = compile_skip(v)
    {
        problems.push((
            "/pattern_value".into(),
            format!("is not a regular expression: {e}"),
        ));
    }
    if kind == Some("spam_pattern")
        && let Err(e) = spam_action(body.get("metadata"))
    {
        problems.push(("/metadata/action".into(), e));
    }
    problems
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(
        rule: fn(&mut Map<String, Value>, Mode) -> Problems,
        body: Value,
    ) -> (Map<String, Value>, Vec<String>) {
        let mut body = body.as_object().cloned().unwrap_or_default();
        let problems = rule(&mut body, Mode::Patch);
        (body, problems.into_iter().map(|(f, _)| f).collect())
    }

    #[test]
    fn computed_columns_are_refused_by_name() {
        let (_, fields) = run(
            contact,
            json!({"resonance_score": 25, "consent_level": 20, "notes": "ok"}),
        );
        assert_eq!(fields, ["/resonance_score", "/consent_level"]);
    }

    #[test]
    fn a_stage_is_pinned_or_lifted_and_unknown_stages_are_named() {
        let (body, fields) = run(contact, json!({"relationship_stage": "trust_signals"}));
        assert!(fields.is_empty());
        assert_eq!(body.get("stage_override"), Some(&json!("trust_signals")));
        assert!(!body.contains_key("relationship_stage"));
        let (body, _) = run(contact, json!({"relationship_stage": null}));
        assert_eq!(body.get("stage_override"), Some(&Value::Null));
        let (_, fields) = run(contact, json!({"relationship_stage": "besties"}));
        assert_eq!(fields, ["/relationship_stage"]);
    }

    #[test]
    fn trust_and_value_entries_are_checked() {
        let (_, fields) = run(
            contact,
            json!({"trust_signals": [{"kind": "consent_given", "at": "2026-12-01T00:00:00Z"}, {"kind": "vibes"}, 3],
                   "value_delivered_log": [{"what": "sent a template"}, {"what": "", "at": "yesterday"}]}),
        );
        assert_eq!(
            fields,
            [
                "/trust_signals/1/kind",
                "/trust_signals/2",
                "/value_delivered_log/1/what",
                "/value_delivered_log/1/at"
            ]
        );
    }

    #[test]
    fn templates_use_known_placeholders() {
        let (_, ok) = run(
            template,
            json!({"action_text": "hey {first_name}, how's ___ going?"}),
        );
        assert!(ok.is_empty());
        let (_, bad) = run(template, json!({"action_text": "hey {name}"}));
        assert_eq!(bad, ["/action_text"]);
        let (_, bad) = run(
            template,
            json!({"lane": "sales", "stage": "besties", "action_text": "hi"}),
        );
        assert_eq!(bad, ["/lane", "/stage"]);
        let (_, ok) = run(template, json!({"lane": "curiosity", "stage": null}));
        assert!(ok.is_empty());
        let (_, ok) = run(template, json!({"lane": "friendship", "stage": "any"}));
        assert!(ok.is_empty(), "001's own rows say any");
    }

    #[test]
    fn patterns_must_work() {
        let (_, bad) = run(
            pattern,
            json!({"pattern_type": "skip_pattern", "pattern_value": "(oops"}),
        );
        assert_eq!(bad, ["/pattern_value"]);
        let (_, bad) = run(
            pattern,
            json!({"pattern_type": "spam_pattern", "pattern_value": "x", "metadata": {"action": "nuke"}}),
        );
        assert_eq!(bad, ["/metadata/action"]);
        let (_, bad) = run(
            pattern,
            json!({"pattern_type": "regex", "pattern_value": "x"}),
        );
        assert_eq!(bad, ["/pattern_type"]);
    }
}
