//! Segments through the API on real PostgreSQL: a preview equals the members a save
//! materialises; a refresh is a diff that keeps `added_at` for people who stay and
//! records who entered and left; bad definitions are 422s naming the JSON pointer
//! with nothing saved; cycles refused; a segment another uses cannot be deleted;
//! other tenants' segments are 404s; the generic writes of members are refused.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Member, TestApp};

fn dm(handle: &str, event_type: &str, days_ago: i64) -> Value {
    let at = chrono::Utc::now() - chrono::Duration::days(days_ago);
    json!({"identity": {"channel": "instagram", "handle": handle}, "event_type": event_type,
           "platform_id": format!("{handle}-{event_type}-{days_ago}"), "occurred_at": at.to_rfc3339()})
}

/// People who replied on Instagram in the last 30 days.
fn recent_repliers() -> Value {
    json!({"all": [
        {"identity": {"channel": "instagram"}},
        {"event": {"type": "dm_reply", "channel": "instagram", "within": "last 30 days"}}
    ]})
}

fn errors(r: &crate::helpers::Reply) -> Vec<String> {
    r.problem(422)["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect()
}

async fn count_segments(app: &TestApp, m: &Member) -> usize {
    let r = app.get("/api/v1/segments", &m.auth()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["data"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn a_preview_equals_the_saved_members_and_a_refresh_is_a_diff() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    app.ingest(
        &ada,
        vec![
            dm("julia", "dm_reply", 3),
            dm("sam", "dm_reply", 45),
            dm("kim", "dm_reply", 1),
        ],
    )
    .await;

    let r = app
        .post(
            "/api/v1/segments/preview",
            json!({"definition": recent_repliers()}),
            &ada.auth(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["count"], 2, "{}", r.body);
    let previewed: Vec<String> = r.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["person_id"].as_str().unwrap().to_string())
        .collect();

    let r = app
        .post(
            "/api/v1/segments",
            json!({"name": "Recent repliers", "definition": recent_repliers()}),
            &ada.auth(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["members"], 2);
    let id = r.body["id"].as_str().unwrap().to_string();
    let members = app
        .get(&format!("/api/v1/segments/{id}/members"), &ada.auth())
        .await;
    assert_eq!(members.status, StatusCode::OK, "{}", members.body);
    let mut saved: Vec<String> = members
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["person_id"].as_str().unwrap().to_string())
        .collect();
    saved.sort();
    let mut previewed = previewed;
    previewed.sort();
    assert_eq!(
        saved, previewed,
        "the preview is the materialised membership"
    );
    let added: std::collections::HashMap<String, String> = members
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["person_id"].as_str().unwrap().to_string(),
                m["added_at"].as_str().unwrap().to_string(),
            )
        })
        .collect();

    // Sam replies today: he enters; the others stay with their added_at.
    app.ingest(&ada, vec![dm("sam", "dm_reply", 0)]).await;
    let r = app
        .post(
            &format!("/api/v1/segments/{id}/refresh"),
            json!({}),
            &ada.auth(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (
            r.body["entered"].as_u64(),
            r.body["left"].as_u64(),
            r.body["members"].as_i64()
        ),
        (Some(1), Some(0), Some(3))
    );
    let after = app
        .get(&format!("/api/v1/segments/{id}/members"), &ada.auth())
        .await;
    for m in after.body.as_array().unwrap() {
        if let Some(before) = added.get(m["person_id"].as_str().unwrap()) {
            assert_eq!(
                m["added_at"].as_str().unwrap(),
                before,
                "stayers keep added_at"
            );
        }
    }
    // Narrowed to the last 2 days: Julia (3 days) leaves.
    let r = app
        .send(
            Method::PATCH,
            &format!("/api/v1/segments/{id}"),
            Some(json!({"definition": {"event": {"type": "dm_reply", "within": "last 2 days"}}})),
            &ada.auth(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["members"], 2, "{}", r.body);

    // The changes are domain events.
    let mut tx = everreach_core::db::tenant::begin(&app.db.app, ada.id)
        .await
        .unwrap();
    let events: Vec<(String, i64)> = sqlx::query_as(
        "SELECT event_type, sum(jsonb_array_length(payload->'person_ids'))::int8 FROM events
          WHERE entity_type = 'segment' GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    assert_eq!(
        events,
        [
            ("segment.entered".to_string(), 3),
            ("segment.left".to_string(), 1)
        ]
    );
    tx.commit().await.unwrap();

    // Another tenant sees none of it.
    // Insights: none until computed, then organic and paid rows.
    let r = app
        .get(&format!("/api/v1/segments/{id}/insights"), &ada.auth())
        .await;
    assert_eq!(r.body, json!([]), "{}", r.body);
    let r = app
        .post(
            &format!("/api/v1/segments/{id}/insights"),
            json!({}),
            &ada.auth(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body[0]["traffic_type"], "organic");
    assert_eq!(r.body[0]["top_platforms"][0]["name"], "instagram");
    assert_eq!(r.body[1]["traffic_type"], "paid");
    assert_eq!(r.body[1]["engagement_style"]["events"], 0);

    let eve = app.member("eve@example.com").await;
    for path in [
        format!("/api/v1/segments/{id}/members"),
        format!("/api/v1/segments/{id}/insights"),
    ] {
        assert_eq!(
            app.get(&path, &eve.auth()).await.status,
            StatusCode::NOT_FOUND
        );
    }
    let r = app
        .post(
            &format!("/api/v1/segments/{id}/refresh"),
            json!({}),
            &eve.auth(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .post(
            &format!("/api/v1/segments/{id}/insights"),
            json!({}),
            &eve.auth(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .post(
            "/api/v1/segments/preview",
            json!({"definition": recent_repliers()}),
            &eve.auth(),
        )
        .await;
    assert_eq!(r.body["count"], 0, "{}", r.body);
}

#[tokio::test]
async fn bad_definitions_are_422s_at_their_pointer_and_nothing_is_saved() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let save = |def: Value| {
        let app = &app;
        let ada = &ada;
        async move {
            app.post(
                "/api/v1/segments",
                json!({"name": "x", "definition": def}),
                &ada.auth(),
            )
            .await
        }
    };
    let r = save(json!({"all": [{"identity": {"channel": "instagram"}},
                                {"event": {"type": "dm_reply", "within": "last -5 days"}}]}))
    .await;
    assert_eq!(errors(&r), ["/definition/all/1/event/within"]);
    let r = save(json!({"field": "person.full_name; DROP TABLE people", "op": "eq", "value": "x"}))
        .await;
    assert_eq!(errors(&r), ["/definition/field"]);
    let r = save(json!({"field": "insight.warmth", "op": "resembles", "value": 3})).await;
    assert_eq!(errors(&r), ["/definition/op"]);
    let r = save(json!({"field": "insight.warmth", "op": "gte", "value": "warm"})).await;
    assert_eq!(errors(&r), ["/definition/value"]);
    let wide: Vec<Value> = (0..10_000)
        .map(|i| json!({"field": "person.company", "op": "eq", "value": format!("c{i}")}))
        .collect();
    let r = save(json!({ "any": wide })).await;
    assert_eq!(
        errors(&r),
        ["/definition"],
        "10,000 nodes: refused at the root"
    );
    let mut deep = json!({"identity": {"channel": "instagram"}});
    for _ in 0..100 {
        deep = json!({ "not": deep });
    }
    let r = save(deep).await;
    assert_eq!(errors(&r), ["/definition"], "100 deep: refused at the root");
    let r = app
        .post(
            "/api/v1/segments",
            json!({"name": " ", "definition": {"nope": 1}}),
            &ada.auth(),
        )
        .await;
    assert_eq!(errors(&r), ["/name", "/definition"], "every field at once");
    assert_eq!(count_segments(&app, &ada).await, 0, "nothing saved");

    // Cycles: B names A; A changed to name B is refused; A naming itself too.
    let a = app
        .post(
            "/api/v1/segments",
            json!({"name": "A", "definition": recent_repliers()}),
            &ada.auth(),
        )
        .await;
    let a_id = a.body["id"].as_str().unwrap().to_string();
    let b = app
        .post(
            "/api/v1/segments",
            json!({"name": "B", "definition": {"segment": a_id}}),
            &ada.auth(),
        )
        .await;
    assert_eq!(b.status, StatusCode::CREATED, "{}", b.body);
    let b_id = b.body["id"].as_str().unwrap().to_string();
    for target in [&b_id, &a_id] {
        let r = app
            .send(
                Method::PATCH,
                &format!("/api/v1/segments/{a_id}"),
                Some(json!({"definition": {"any": [{"segment": target}]}})),
                &ada.auth(),
            )
            .await;
        assert_eq!(errors(&r), ["/definition/any/0/segment"], "{}", r.body);
    }
    // A is used by B: not deleted; B first, then A.
    let r = app
        .send(
            Method::DELETE,
            &format!("/api/v1/segments/{a_id}"),
            None,
            &ada.auth(),
        )
        .await;
    assert!(
        r.problem(409)["detail"].as_str().unwrap().contains('B'),
        "{}",
        r.body
    );
    for id in [&b_id, &a_id] {
        let r = app
            .send(
                Method::DELETE,
                &format!("/api/v1/segments/{id}"),
                None,
                &ada.auth(),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    }
    // Members are not written by hand.
    let r = app
        .post(
            "/api/v1/segment-members",
            json!({"segment_id": a_id, "person_id": a_id}),
            &ada.auth(),
        )
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{}", r.body);
}

#[tokio::test]
async fn a_crm_edit_moves_its_person_into_a_segment_at_once() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let r = app
        .post(
            "/api/v1/instagram-messages/batch",
            json!({"messages": [{
                "instagram_username": "grace", "display_name": "Grace Hopper",
                "message_text": "hello!", "is_outbound": false,
                "sent_at": "2026-11-30T10:00:00Z"
            }]}),
            &ada.auth(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .post(
            "/api/v1/segments",
            json!({"name": "Ready for an offer",
                   "definition": {"field": "crm.stage", "op": "eq", "value": "permissioned_offer"}}),
            &ada.auth(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["members"], 0);
    let id = r.body["id"].as_str().unwrap().to_string();
    let contact: uuid::Uuid = sqlx::query_scalar("SELECT id FROM instagram_contacts")
        .fetch_one(&app.db.admin)
        .await
        .unwrap();

    // Pinning the stage by hand: no refresh asked for, no job run.
    let r = app
        .send(
            Method::PATCH,
            &format!("/api/v1/instagram-contacts/{contact}"),
            Some(json!({"relationship_stage": "permissioned_offer"})),
            &ada.auth(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let members = app
        .get(&format!("/api/v1/segments/{id}/members"), &ada.auth())
        .await;
    assert_eq!(
        members.body.as_array().map(Vec::len),
        Some(1),
        "{}",
        members.body
    );
    assert_eq!(members.body[0]["full_name"], "Grace Hopper");
    // ...and lifting the pin lets the evidence decide: out again.
    let r = app
        .send(
            Method::PATCH,
            &format!("/api/v1/instagram-contacts/{contact}"),
            Some(json!({"relationship_stage": null})),
            &ada.auth(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let members = app
        .get(&format!("/api/v1/segments/{id}/members"), &ada.auth())
        .await;
    assert_eq!(members.body, json!([]));
}
