//! The people graph as a domain of the template: generic writes that would bypass its
//! rules are refused or go through it, and every domain event docs/EVENTS.md lists
//! is emitted where it says.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{As, Member, TestApp};
use crate::people::ig;

/// `(event_type, payload)` of the tenant's domain events, oldest first.
async fn domain_events(app: &TestApp, who: &Member) -> Vec<(String, Value)> {
    sqlx::query_as(
        "SELECT event_type::text, payload FROM events WHERE user_id = $1 ORDER BY created_at, id",
    )
    .bind(who.id)
    .fetch_all(&app.db.admin)
    .await
    .unwrap()
}

#[tokio::test]
async fn generic_writes_that_would_bypass_the_domain_are_refused_or_go_through_it() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let bob = app.member("bob@example.com").await;
    let r = app
        .ingest(
            &alice,
            vec![ig("grace", "liked", "p1"), ig("grace", "commented", "p2")],
        )
        .await;
    let event_id = r["results"][0]["event_id"].as_i64().unwrap();
    let person = r["results"][0]["person_id"].as_str().unwrap().to_string();

    // Events are not edited; insights are not written by hand.
    for (method, path, body) in [
        (
            Method::PATCH,
            format!("/api/v1/person-events/{event_id}"),
            Some(json!({"event_type": "x"})),
        ),
        (
            Method::POST,
            "/api/v1/person-insights".to_string(),
            Some(json!({"person_id": person})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/person-insights/{person}"),
            Some(json!({"warmth_score": 99})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/person-insights/{person}"),
            None,
        ),
    ] {
        let refused = app.send(method.clone(), &path, body, &alice.auth()).await;
        let problem = refused.problem(405);
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains(if path.contains("insights") {
                    "computed"
                } else {
                    "delete it"
                }),
            "{method} {path}: {problem}"
        );
    }

    // A delete goes through the domain: the row, an audit row, a recompute, an event.
    app.send(
        Method::DELETE,
        &format!("/api/v1/person-events/{event_id}"),
        None,
        &bob.auth(),
    )
    .await
    .problem(404);
    let jobs_before: i64 =
        sqlx::query_scalar("SELECT count(*) FROM jobs WHERE name = 'people.insights'")
            .fetch_one(&app.db.admin)
            .await
            .unwrap();
    let deleted = app
        .send(
            Method::DELETE,
            &format!("/api/v1/person-events/{event_id}"),
            None,
            &alice.auth(),
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    app.get(&format!("/api/v1/person-events/{event_id}"), &alice.auth())
        .await
        .problem(404);
    let jobs_after: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobs WHERE name = 'people.insights' AND data->'person_ids' ? $1",
    )
    .bind(&person)
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    assert!(
        jobs_after >= 1 && jobs_before >= 1,
        "the person is queued for a recompute"
    );
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE table_name = 'person_events' AND operation = 'DELETE' AND (old_values->>'id')::bigint = $1",
    )
    .bind(event_id)
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(audited, 1);
    app.send(
        Method::DELETE,
        &format!("/api/v1/person-events/{event_id}"),
        None,
        &alice.auth(),
    )
    .await
    .problem(404);

    // A sent message: not edited; deleted with the timeline events it made.
    let m = app
        .post(
            "/api/v1/outbound-messages",
            json!({"person_id": person, "channel": "instagram", "body": "hi"}),
            &alice.auth(),
        )
        .await;
    let message = m.body["message"]["id"].as_str().unwrap().to_string();
    app.send(
        Method::PATCH,
        &format!("/api/v1/outbound-messages/{message}"),
        Some(json!({"variant": "B"})),
        &alice.auth(),
    )
    .await
    .problem(405);
    let path = format!("/api/v1/people/{person}/timeline");
    let timeline = async || {
        app.get(&path, &alice.auth()).await.body["items"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(timeline().await, 2, "the comment and dm_sent");
    let gone = app
        .send(
            Method::DELETE,
            &format!("/api/v1/outbound-messages/{message}"),
            None,
            &alice.auth(),
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.body);
    assert_eq!(timeline().await, 1, "dm_sent went with its message");
}

/// The event names docs/EVENTS.md lists (the first column of its table).
pub fn documented_events() -> BTreeSet<String> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/EVENTS.md"))
        .unwrap();
    doc.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn every_documented_event_is_emitted_where_it_says() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let r = app
        .ingest(
            &alice,
            vec![
                ig("grace", "liked", "p1"),
                ig("grace", "liked", "p2"),
                ig("ada", "liked", "p3"),
            ],
        )
        .await;
    let grace = r["results"][0]["person_id"].as_str().unwrap().to_string();
    let ada = r["results"][2]["person_id"].as_str().unwrap().to_string();
    let events = domain_events(&app, &alice).await;
    assert_eq!(
        events.len(),
        1,
        "one event per batch, not per item: {events:?}"
    );
    assert_eq!(events[0].0, "person_event.ingested");
    assert_eq!(events[0].1["created"], 3);
    assert_eq!(events[0].1["people_created"], 2);
    // A batch of duplicates stores nothing and says nothing.
    app.ingest(&alice, vec![ig("grace", "liked", "p1")]).await;
    assert_eq!(domain_events(&app, &alice).await.len(), 1);

    let m = app
        .post(
            "/api/v1/outbound-messages",
            json!({"person_id": grace, "channel": "instagram", "variant": "A", "body": "see https://ada.dev/x"}),
            &alice.auth(),
        )
        .await;
    assert_eq!(m.status, StatusCode::CREATED, "{}", m.body);
    let message = m.body["message"]["id"].as_str().unwrap().to_string();
    let local = |url: &str| url.trim_start_matches("http://127.0.0.1:8080").to_string();
    let open = local(m.body["tracking"]["open_url"].as_str().unwrap());
    let click = local(
        m.body["tracking"]["click_urls"]["https://ada.dev/x"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(app.get(&open, &As::Anonymous).await.status, StatusCode::OK);
    assert_eq!(
        app.get(&click, &As::Anonymous).await.status,
        StatusCode::FOUND
    );
    app.ingest(&alice, vec![ig("grace", "dm_reply", "r1")])
        .await;
    let merged = app
        .post(
            &format!("/api/v1/people/{grace}/merge"),
            json!({"other_id": ada}),
            &alice.auth(),
        )
        .await;
    let merge_id = merged.body["merge"]["id"].as_str().unwrap().to_string();
    app.post(
        &format!("/api/v1/people/merges/{merge_id}/undo"),
        json!({}),
        &alice.auth(),
    )
    .await;
    let event_id = r["results"][2]["event_id"].as_i64().unwrap();
    app.send(
        Method::DELETE,
        &format!("/api/v1/person-events/{event_id}"),
        None,
        &alice.auth(),
    )
    .await;
    app.send(
        Method::DELETE,
        &format!("/api/v1/outbound-messages/{message}"),
        None,
        &alice.auth(),
    )
    .await;
    // Erasing someone removes the events about them, so look before, then erase.
    let mut events = domain_events(&app, &alice).await;
    let lin = app.ingest(&alice, vec![ig("lin", "liked", "l1")]).await["results"][0]["person_id"]
        .as_str()
        .unwrap()
        .to_string();
    let erased = app
        .send(
            Method::DELETE,
            &format!("/api/v1/people/{lin}"),
            None,
            &alice.auth(),
        )
        .await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.body);
    let after = domain_events(&app, &alice).await;
    events.extend(after.into_iter().filter(|e| e.0 == "person.erased"));
    let of = |name: &str| {
        events
            .iter()
            .filter(|e| e.0 == name)
            .map(|e| &e.1)
            .collect::<Vec<_>>()
    };
    assert_eq!(of("outbound_message.sent")[0]["variant"], "A");
    assert_eq!(of("outbound_message.opened").len(), 1);
    assert_eq!(
        of("outbound_message.clicked")[0]["url"],
        "https://ada.dev/x"
    );
    assert_eq!(
        of("outbound_message.replied")[0]["person_id"],
        grace.as_str()
    );
    assert_eq!(of("person.merged")[0]["merged_id"], ada.as_str());
    assert_eq!(of("person.merge_undone")[0]["merge_id"], merge_id.as_str());
    assert_eq!(of("person_event.deleted")[0]["event_id"], event_id);
    assert_eq!(
        of("outbound_message.deleted")[0]["timeline_events_deleted"],
        3,
        "sent, opened, clicked"
    );
    assert!(of("person.erased")[0]["removed"]["people"] == 1);
    let emitted: BTreeSet<String> = events.iter().map(|e| e.0.clone()).collect();
    // the people graph's events; other domains' tests hold theirs to the document
    let people_graph = ["person.", "person_event.", "outbound_message."];
    let documented: BTreeSet<String> = documented_events()
        .into_iter()
        .filter(|e| people_graph.iter().any(|p| e.starts_with(p)))
        .collect();
    assert_eq!(
        emitted, documented,
        "docs/EVENTS.md lists exactly what is emitted"
    );
}
