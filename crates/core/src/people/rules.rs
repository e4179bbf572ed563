//! The people graph's rules for the generic resources (`/api/v1/identities`,
//! `/api/v1/people`), handed over through the domain's registration:
//!
//! - `identities`: `handle` is normalised for its `channel` ([`super::handle`]), so
//!   the unique key holds on who the handle is; an identity belongs to a person.
//! - `people`: `primary_email` is stored trimmed and lower-cased.
//! - after a generic write of `people`, `identities`, `contacts` or
//!   `instagram_contacts`, the people it names get their match keys rebuilt
//!   (`people.match_keys`), so suggestions and search follow an edit within seconds.

use std::future::Future;
use std::pin::Pin;

use serde_json::{Map, Value};
use uuid::Uuid;

use super::handle::{Channel, normalize_handle};
use crate::db::tenant::TenantTx;
use crate::resources::rules::TableRule;
use crate::resources::validate::{Mode, Problems};

/// Every rule of the people graph for the generic layer.
pub const TABLE_RULES: &[TableRule] = &[
    TableRule {
        table: "identities",
        apply: identity,
        after_write: Some(refresh_keys),
    },
    TableRule {
        table: "people",
        apply: person,
        after_write: Some(refresh_keys),
    },
    TableRule {
        table: "contacts",
        apply: no_rule,
        after_write: Some(refresh_keys),
    },
    TableRule {
        table: "instagram_contacts",
        apply: no_rule,
        after_write: Some(refresh_keys),
    },
];

fn no_rule(_: &mut Map<String, Value>, _: Mode) -> Problems {
    Vec::new()
}

/// The people `rows` name (a `people` row by its `id`, the others by `person_id`).
fn people_named(rows: &[Value]) -> Vec<Uuid> {
    let mut people: Vec<Uuid> = rows
        .iter()
        .filter_map(|row| {
            let id = if row.get("person_id").is_some() {
                &row["person_id"]
            } else {
                &row["id"]
            };
            id.as_str().and_then(|s| s.parse().ok())
        })
        .collect();
    people.sort_unstable();
    people.dedup();
    people
}

fn refresh_keys<'a>(
    tx: &'a mut TenantTx,
    rows: &'a [Value],
) -> Pin<Box<dyn Future<Output = Result<(), sqlx::Error>> + Send + 'a>> {
    Box::pin(async move {
        let people = people_named(rows);
        if people.is_empty() {
            return Ok(());
        }
        super::match_keys::enqueue(tx, &people).await
    })
}

fn person(body: &mut Map<String, Value>, _: Mode) -> Problems {
    if let Some(Value::String(email)) = body.get_mut("primary_email") {
        *email = email.trim().to_lowercase();
    }
    Vec::new()
}

fn identity(body: &mut Map<String, Value>, mode: Mode) -> Problems {
    let mut problems = Vec::new();
    if mode == Mode::Create && !matches!(body.get("person_id"), Some(Value::String(_))) {
        problems.push((
            "/person_id".into(),
            "an identity belongs to a person: give person_id (ingesting an event for a new handle creates both)".into(),
        ));
    }
    if mode == Mode::Patch && body.get("person_id").is_some_and(Value::is_null) {
        problems.push((
            "/person_id".into(),
            "cannot be removed: an identity belongs to a person".into(),
        ));
    }
    let channel = body
        .get("channel")
        .and_then(Value::as_str)
        .map(str::to_string);
    let handle = body
        .get("handle")
        .and_then(Value::as_str)
        .map(str::to_string);
    match (channel, handle) {
        (Some(c), Some(h)) => match Channel::parse(&c) {
            Err(e) => problems.push(("/channel".into(), e.to_string())),
            Ok(channel) => match normalize_handle(channel, &h) {
                Ok(normal) => {
                    body.insert("channel".into(), Value::String(channel.as_str().into()));
                    body.insert("handle".into(), Value::String(normal));
                }
                Err(e) => problems.push(("/handle".into(), e.to_string())),
            },
        },
        (None, Some(_)) | (Some(_), None) if mode == Mode::Patch => problems.push((
            "/handle".into(),
            "change channel and handle together, so the handle is normalised for its channel"
                .into(),
        )),
        (None, _) if mode == Mode::Create => {
            problems.push(("/channel".into(), "is required".into()))
        }
        _ => {}
    }
    problems
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::resources::rules::apply;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn identity_handles_are_normalised_and_need_a_person() {
        let mut b = body(json!({"person_id": "p", "channel": "X", "handle": "@Ada"}));
        assert!(apply(TABLE_RULES, "identities", &mut b, Mode::Create).is_empty());
        assert_eq!(b["channel"], "twitter");
        assert_eq!(b["handle"], "ada");
        let mut b = body(json!({"channel": "instagram", "handle": " @ "}));
        let fields: Vec<String> = apply(TABLE_RULES, "identities", &mut b, Mode::Create)
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(fields, ["/person_id", "/handle"]);
        let mut b = body(json!({"handle": "ada"}));
        assert_eq!(
            apply(TABLE_RULES, "identities", &mut b, Mode::Patch)[0].0,
            "/handle"
        );
        let mut b = body(json!({"is_verified": true}));
        assert!(apply(TABLE_RULES, "identities", &mut b, Mode::Patch).is_empty());
    }

    #[test]
    fn written_rows_name_their_people() {
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        let rows = [
            json!({"id": 7, "person_id": b}),
            json!({"id": 8, "person_id": a}),
            json!({"id": 9, "person_id": null}),
        ];
        assert_eq!(people_named(&rows), [a, b]);
        assert_eq!(people_named(&[json!({"id": a, "full_name": "Ada"})]), [a]);
    }

    #[test]
    fn primary_emails_are_lower_cased() {
        let mut b = body(json!({"primary_email": " Ada@Example.COM "}));
        assert!(apply(TABLE_RULES, "people", &mut b, Mode::Create).is_empty());
        assert_eq!(b["primary_email"], "ada@example.com");
    }
}
