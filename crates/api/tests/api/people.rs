//! The people graph through the API: ingestion (one and batch), timelines, merges
//! and their undo, suggestions, outbound messages with signed tracking, and one
//! person's export and erasure — each with its bad input and other tenants' ids.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use everreach_core::accounts::{Role, store};
use everreach_core::db::tenant;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{As, Member, TestApp};

/// An Instagram event about `handle`.
pub fn ig(handle: &str, event_type: &str, platform_id: &str) -> Value {
    json!({"identity": {"channel": "instagram", "handle": handle}, "event_type": event_type,
           "platform_id": platform_id})
}

/// The person the `i`th item of a batch answer went to.
fn person_of(r: &crate::helpers::Reply, i: usize) -> String {
    r.body["results"][i]["person_id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn batch(app: &TestApp, who: &Member, events: Vec<Value>) -> crate::helpers::Reply {
    app.post(
        "/api/v1/person-events/batch",
        json!({ "events": events }),
        &who.auth(),
    )
    .await
}

/// Rebuilds the tenant's match keys and merge candidates, as the people.match_keys
/// job does after a write.
pub async fn refresh_match_keys(app: &TestApp, who: &Member) {
    let mut tx = tenant::begin(&app.db.app, who.id).await.unwrap();
    everreach_core::people::match_keys::refresh_everyone(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn count(app: &TestApp, who: &Member, sql: &str) -> i64 {
    let mut tx = tenant::begin(&app.db.app, who.id).await.unwrap();
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    n
}

#[tokio::test]
async fn a_batch_is_stored_with_per_item_results_and_duplicates_are_ignored() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let r = batch(
        &app,
        &alice,
        vec![
            ig("@Grace.Hopper", "commented", "c1"),
            ig("https://instagram.com/grace.hopper/", "liked", "p1"),
            ig("grace.hopper", "commented", "c1"), // the first again
            json!({"identity": {"channel": "email", "handle": " Ada@Example.com "},
                   "event_type": "email_received", "platform_id": "m1", "sentiment": 0.5}),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["created"], 3);
    assert_eq!(r.body["duplicates"], 1);
    assert_eq!(r.body["people_created"], 2);
    let results = r.body["results"].as_array().unwrap();
    let statuses: Vec<&str> = results
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["created", "created", "duplicate", "created"]);
    assert_eq!(results[0]["person_id"], results[1]["person_id"]);
    assert_eq!(
        results[2]["event_id"], results[0]["event_id"],
        "a duplicate points at the stored row"
    );
    assert_eq!(results[0]["person_created"], true);
    assert_eq!(results[1]["person_created"], false);

    // The same batch again stores nothing.
    let again = batch(&app, &alice, vec![ig("grace.hopper", "commented", "c1")]).await;
    assert_eq!(again.body["duplicates"], 1, "{}", again.body);
    assert_eq!(
        count(&app, &alice, "SELECT count(*) FROM person_events").await,
        3
    );
    assert_eq!(
        count(
            &app,
            &alice,
            "SELECT count(*) FROM identities WHERE handle IN ('grace.hopper', 'ada@example.com')"
        )
        .await,
        2,
        "handles are stored normalised"
    );
    // The people touched are queued for an insight recompute: each batch one job
    // naming its people once (the repeat batch touched nobody new).
    let queued: Vec<Value> = sqlx::query_scalar(
        "SELECT data->'person_ids' FROM jobs WHERE name = 'people.insights' AND user_id = $1",
    )
    .bind(alice.id)
    .fetch_all(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_batch_with_one_bad_item_stores_nothing_and_names_every_bad_field() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let r = batch(
        &app,
        &alice,
        vec![
            ig("grace", "liked", "p1"),
            json!({"identity": {"channel": "myspace", "handle": "tom"}, "event_type": "liked"}),
            json!({"identity": {"channel": "instagram", "handle": " @ "}, "event_type": "liked"}),
            json!({"identity": {"channel": "twitter", "handle": "ada"}, "event_type": "liked", "sentiment": 3}),
            json!({"identity": {"channel": "twitter", "handle": "ada"}, "event_type": "liked", "traffic_type": "viral"}),
            json!({"identity": {"channel": "twitter", "handle": "ada"}, "event_type": "liked",
                   "occurred_at": "1900-01-01T00:00:00Z"}),
        ],
    )
    .await;
    let p = r.problem(422);
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "/events/1/identity/channel",
            "/events/2/identity/handle",
            "/events/3/sentiment",
            "/events/4/traffic_type",
            "/events/5/occurred_at"
        ]
    );
    assert_eq!(
        count(&app, &alice, "SELECT count(*) FROM person_events").await,
        0
    );
    assert_eq!(count(&app, &alice, "SELECT count(*) FROM people").await, 0);

    // 10,001 events: refused whole.
    let many: Vec<Value> = (0..10_001)
        .map(|i| {
            let mut e = ig(&format!("u{i}"), "liked", &format!("p{i}"));
            e["content_excerpt"] = json!("a comment long enough to matter ".repeat(2));
            e
        })
        .collect();
    let body = json!({ "events": many }).to_string();
    assert!(body.len() > 1024 * 1024, "over the ordinary 1 MiB limit");
    let r = batch(&app, &alice, many).await;
    let p = r.problem(422);
    assert_eq!(p["errors"][0]["field"], "/events", "{p}");
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("10001")
    );
    // With an Idempotency-Key the middleware reads it too, to the batch route's limit.
    let keyed = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/person-events/batch")
        .header(header::AUTHORIZATION, format!("Bearer {}", alice.token))
        .header(header::CONTENT_TYPE, "application/json")
        .header("idempotency-key", "big-batch-1")
        .body(Body::from(body))
        .unwrap();
    assert_eq!(
        app.raw(keyed).await.problem(422)["errors"][0]["field"],
        "/events"
    );
    // An unknown person id is named too.
    let r = batch(
        &app,
        &alice,
        vec![json!({"person_id": Uuid::new_v4(), "channel": "email", "event_type": "x"})],
    )
    .await;
    assert_eq!(r.problem(422)["errors"][0]["field"], "/events/0/person_id");
    // Malformed JSON is a 400 with its position.
    let raw = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/person-events/batch")
        .header(header::AUTHORIZATION, format!("Bearer {}", alice.token))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"events\": [{\"event_type\": "))
        .unwrap();
    app.raw(raw).await.problem(400);
}

#[tokio::test]
async fn one_event_is_201_then_200_as_a_duplicate() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let e = ig("grace", "dm_reply", "m1");
    let first = app
        .post("/api/v1/person-events", e.clone(), &alice.auth())
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let second = app.post("/api/v1/person-events", e, &alice.auth()).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.body["status"], "duplicate");
    let bad = app
        .post(
            "/api/v1/person-events",
            json!({"identity": {"channel": "instagram", "handle": "grace"}, "event_type": "x", "sentiment": 3}),
            &alice.auth(),
        )
        .await;
    assert_eq!(bad.problem(422)["errors"][0]["field"], "/sentiment");
}

#[tokio::test]
async fn the_timeline_pages_newest_first_with_filters_and_hides_other_tenants() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let bob = app.member("bob@example.com").await;
    let events: Vec<Value> = (0..7)
        .map(|i| {
            json!({"identity": {"channel": "email", "handle": "grace@navy.mil"},
                   "channel": if i % 2 == 0 { "email" } else { "site" },
                   "event_type": if i % 3 == 0 { "opened_email" } else { "visit" },
                   "platform_id": format!("e{i}"),
                   "occurred_at": format!("2026-11-0{}T10:00:00Z", i + 1)})
        })
        .collect();
    let r = batch(&app, &alice, events).await;
    let person = person_of(&r, 0);
    let path = format!("/api/v1/people/{person}/timeline");

    let page1 = app.get(&format!("{path}?limit=3"), &alice.auth()).await;
    assert_eq!(page1.status, StatusCode::OK, "{}", page1.body);
    let ids = |p: &Value| -> Vec<String> {
        p["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["platform_id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&page1.body), ["e6", "e5", "e4"]);
    let cursor = page1.body["next_cursor"].as_str().unwrap();
    let page2 = app
        .get(&format!("{path}?limit=3&cursor={cursor}"), &alice.auth())
        .await;
    assert_eq!(ids(&page2.body), ["e3", "e2", "e1"]);
    let page3 = app
        .get(
            &format!(
                "{path}?limit=3&cursor={}",
                page2.body["next_cursor"].as_str().unwrap()
            ),
            &alice.auth(),
        )
        .await;
    assert_eq!(ids(&page3.body), ["e0"]);
    assert!(page3.body["next_cursor"].is_null());

    let site = app
        .get(&format!("{path}?channel=site"), &alice.auth())
        .await;
    assert_eq!(ids(&site.body), ["e5", "e3", "e1"]);
    let opened = app
        .get(&format!("{path}?event_type=opened_email"), &alice.auth())
        .await;
    assert_eq!(ids(&opened.body), ["e6", "e3", "e0"]);
    let range = app
        .get(
            &format!("{path}?since=2026-11-02T00:00:00Z&until=2026-11-04T00:00:00Z"),
            &alice.auth(),
        )
        .await;
    assert_eq!(ids(&range.body), ["e2", "e1"]);

    let bad = app
        .get(&format!("{path}?since=yesterday"), &alice.auth())
        .await;
    assert_eq!(bad.problem(422)["errors"][0]["field"], "/since");
    let bad = app
        .get(&format!("{path}?channel=myspace"), &alice.auth())
        .await;
    assert_eq!(bad.problem(422)["errors"][0]["field"], "/channel");
    // Bob cannot see Alice's person; nor can anyone see a person that is not there.
    app.get(&path, &bob.auth()).await.problem(404);
    app.get(
        &format!("/api/v1/people/{}/timeline", Uuid::new_v4()),
        &alice.auth(),
    )
    .await
    .problem(404);
}

#[tokio::test]
async fn merge_then_undo_round_trips_and_other_tenants_get_404() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let bob = app.member("bob@example.com").await;
    let r = batch(
        &app,
        &alice,
        vec![
            ig("grace", "liked", "p1"),
            json!({"identity": {"channel": "email", "handle": "grace@navy.mil"}, "event_type": "email_received", "platform_id": "m1"}),
        ],
    )
    .await;
    let a = person_of(&r, 0);
    let b = person_of(&r, 1);
    assert_ne!(a, b);

    app.post(
        &format!("/api/v1/people/{a}/merge"),
        json!({"other_id": b}),
        &bob.auth(),
    )
    .await
    .problem(404);
    app.post(
        &format!("/api/v1/people/{a}/merge"),
        json!({"other_id": a}),
        &alice.auth(),
    )
    .await
    .problem(422);

    let merged = app
        .post(
            &format!("/api/v1/people/{a}/merge"),
            json!({"other_id": b}),
            &alice.auth(),
        )
        .await;
    assert_eq!(merged.status, StatusCode::OK, "{}", merged.body);
    assert_eq!(merged.body["merge"]["counts"]["identities"], 1);
    assert_eq!(merged.body["merge"]["counts"]["person_events"], 1);
    let merge_id = merged.body["merge"]["id"].as_str().unwrap().to_string();
    let timeline = app
        .get(&format!("/api/v1/people/{a}/timeline"), &alice.auth())
        .await;
    assert_eq!(timeline.body["items"].as_array().unwrap().len(), 2);
    app.get(&format!("/api/v1/people/{b}"), &alice.auth())
        .await
        .problem(404);

    app.post(
        &format!("/api/v1/people/merges/{merge_id}/undo"),
        json!({}),
        &bob.auth(),
    )
    .await
    .problem(404);
    let undone = app
        .post(
            &format!("/api/v1/people/merges/{merge_id}/undo"),
            json!({}),
            &alice.auth(),
        )
        .await;
    assert_eq!(undone.status, StatusCode::OK, "{}", undone.body);
    assert_eq!(undone.body["merge"]["kind"], "undo");
    let back = app
        .get(&format!("/api/v1/people/{b}/timeline"), &alice.auth())
        .await;
    assert_eq!(back.body["items"].as_array().unwrap().len(), 1);
    app.post(
        &format!("/api/v1/people/merges/{merge_id}/undo"),
        json!({}),
        &alice.auth(),
    )
    .await
    .problem(409);
    let list = app.get("/api/v1/people/merges", &alice.auth()).await;
    assert_eq!(
        list.body["items"].as_array().unwrap().len(),
        2,
        "{}",
        list.body
    );
}

#[tokio::test]
async fn verified_identities_on_one_channel_block_a_merge_unless_forced() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let r = batch(
        &app,
        &alice,
        vec![ig("grace", "liked", "p1"), ig("grace_two", "liked", "p2")],
    )
    .await;
    let a = person_of(&r, 0);
    let b = person_of(&r, 1);
    let mut tx = tenant::begin(&app.db.app, alice.id).await.unwrap();
    sqlx::query("UPDATE identities SET is_verified = true")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let refused = app
        .post(
            &format!("/api/v1/people/{a}/merge"),
            json!({"other_id": b}),
            &alice.auth(),
        )
        .await;
    assert_eq!(refused.problem(409)["errors"][0]["field"], "/force");
    let forced = app
        .post(
            &format!("/api/v1/people/{a}/merge"),
            json!({"other_id": b, "force": true}),
            &alice.auth(),
        )
        .await;
    assert_eq!(forced.status, StatusCode::OK, "{}", forced.body);
}

#[tokio::test]
async fn identities_are_normalised_through_the_generic_resource() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let person = app
        .post(
            "/api/v1/people",
            json!({"full_name": "Grace"}),
            &alice.auth(),
        )
        .await;
    assert_eq!(person.status, StatusCode::CREATED, "{}", person.body);
    let id = person.body["id"].as_str().unwrap();
    let created = app
        .post(
            "/api/v1/identities",
            json!({"person_id": id, "channel": "x", "handle": "https://x.com/GraceH"}),
            &alice.auth(),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["channel"], "twitter");
    assert_eq!(created.body["handle"], "graceh");
    let taken = app
        .post(
            "/api/v1/identities",
            json!({"person_id": id, "channel": "twitter", "handle": "@GRACEH"}),
            &alice.auth(),
        )
        .await;
    taken.problem(409);
    let empty = app
        .post(
            "/api/v1/identities",
            json!({"person_id": id, "channel": "instagram", "handle": "@"}),
            &alice.auth(),
        )
        .await;
    assert_eq!(empty.problem(422)["errors"][0]["field"], "/handle");
}

fn token_of(url: &str, marker: &str) -> String {
    url.split(marker)
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn outbound_tracking_is_signed_counts_once_and_feeds_the_stats() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let bob = app.member("bob@example.com").await;
    let r = batch(&app, &alice, vec![ig("grace", "liked", "p1")]).await;
    let person = person_of(&r, 0);
    let mut ids = Vec::new();
    for variant in ["A", "A", "B"] {
        let m = app
            .post(
                "/api/v1/outbound-messages",
                json!({"person_id": person, "channel": "instagram", "goal_type": "nurture", "variant": variant,
                       "body": "Saw this and thought of you: https://ada.dev/post?a=1"}),
                &alice.auth(),
            )
            .await;
        assert_eq!(m.status, StatusCode::CREATED, "{}", m.body);
        ids.push(m.body.clone());
    }
    let first = &ids[0];
    let open_url = first["tracking"]["open_url"].as_str().unwrap();
    let open_token = token_of(open_url, "/track/open/");
    let click_url = first["tracking"]["click_urls"]["https://ada.dev/post?a=1"]
        .as_str()
        .unwrap();
    let click_token = token_of(click_url, "/track/click/");

    // Tampered or unsigned: 404, nothing recorded.
    let mut tampered = open_token.clone();
    tampered.pop();
    tampered.push(if open_token.ends_with('A') { 'B' } else { 'A' });
    app.get(&format!("/api/v1/track/open/{tampered}"), &As::Anonymous)
        .await
        .problem(404);
    app.get(
        &format!("/api/v1/track/click/{click_token}?u=https%3A%2F%2Fevil.example%2F"),
        &As::Anonymous,
    )
    .await
    .problem(404);
    assert_eq!(
        count(
            &app,
            &alice,
            "SELECT count(*) FROM outbound_messages WHERE opened_at IS NOT NULL"
        )
        .await,
        0
    );

    // The real pixel, twice: one open.
    for _ in 0..2 {
        let pixel = app
            .get(&format!("/api/v1/track/open/{open_token}"), &As::Anonymous)
            .await;
        assert_eq!(pixel.status, StatusCode::OK);
        assert_eq!(pixel.content_type(), "image/gif");
    }
    let click = app
        .get(
            &format!("/api/v1/track/click/{click_token}?u=https%3A%2F%2Fada.dev%2Fpost%3Fa%3D1"),
            &As::Anonymous,
        )
        .await;
    assert_eq!(click.status, StatusCode::FOUND);
    assert_eq!(click.headers[header::LOCATION], "https://ada.dev/post?a=1");
    assert_eq!(
        count(&app, &alice, "SELECT count(*) FROM person_events WHERE event_type IN ('opened_email', 'clicked_link')").await,
        2
    );
    // A reply on the same channel marks the last message replied.
    let reply = batch(
        &app,
        &alice,
        vec![json!({"person_id": person, "channel": "instagram", "event_type": "dm_reply", "platform_id": "r1"})],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    let stats = app
        .get(
            "/api/v1/outbound-messages/stats?group_by=variant",
            &alice.auth(),
        )
        .await;
    assert_eq!(stats.status, StatusCode::OK, "{}", stats.body);
    let rows = stats.body["items"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{}", stats.body);
    assert_eq!(rows[0]["variant"], "A");
    assert_eq!(rows[0]["sent"], 2);
    assert_eq!(rows[0]["opened"], 1);
    assert_eq!(rows[0]["clicked"], 1);
    assert_eq!(rows[0]["replied"], 2);
    assert_eq!(rows[0]["open_rate"], 0.5);
    assert_eq!(rows[1]["variant"], "B");
    assert_eq!(rows[1]["opened"], 0);
    app.get(
        "/api/v1/outbound-messages/stats?group_by=colour",
        &alice.auth(),
    )
    .await
    .problem(422);
    // Bob sees no stats of Alice's and cannot sign links for her messages.
    let bob_stats = app
        .get("/api/v1/outbound-messages/stats", &bob.auth())
        .await;
    assert!(bob_stats.body["items"].as_array().unwrap().is_empty());
    let message_id = first["message"]["id"].as_str().unwrap();
    app.get(
        &format!("/api/v1/outbound-messages/{message_id}/tracking"),
        &bob.auth(),
    )
    .await
    .problem(404);
    // Unknown person: 422 on person_id.
    let bad = app
        .post(
            "/api/v1/outbound-messages",
            json!({"person_id": Uuid::new_v4(), "channel": "email"}),
            &alice.auth(),
        )
        .await;
    assert_eq!(bad.problem(422)["errors"][0]["field"], "/person_id");
}

#[tokio::test]
async fn one_person_is_exported_and_erased_everywhere() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let bob = app.member("bob@example.com").await;
    let r = batch(
        &app,
        &alice,
        vec![
            ig("grace", "liked", "p1"),
            ig("someone_else", "liked", "p2"),
        ],
    )
    .await;
    let person = person_of(&r, 0);
    let pid: Uuid = person.parse().unwrap();
    // A channel record with a DM, and a message we sent.
    let mut tx = tenant::begin(&app.db.app, alice.id).await.unwrap();
    let contact: Uuid = sqlx::query_scalar(
        "INSERT INTO instagram_contacts (user_id, person_id, instagram_username, bio) VALUES ($1, $2, 'grace', 'hi') RETURNING id",
    )
    .bind(alice.id)
    .bind(pid)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    sqlx::query("INSERT INTO instagram_messages (user_id, contact_id, message_text, is_outbound) VALUES ($1, $2, 'hello', false)")
        .bind(alice.id)
        .bind(contact)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    app.post(
        "/api/v1/outbound-messages",
        json!({"person_id": person, "channel": "instagram", "body": "hey"}),
        &alice.auth(),
    )
    .await;

    let named = app
        .send(
            Method::PATCH,
            &format!("/api/v1/people/{person}"),
            Some(json!({"full_name": "Grace Hopper"})),
            &alice.auth(),
        )
        .await;
    assert_eq!(named.status, StatusCode::OK, "{}", named.body);
    let audit_mentions = async || -> i64 {
        sqlx::query_scalar(
            "SELECT count(*) FROM audit_log WHERE (coalesce(old_values::text, '') || coalesce(new_values::text, '')) LIKE '%Grace Hopper%'",
        )
        .fetch_one(&app.db.admin)
        .await
        .unwrap()
    };
    assert_eq!(audit_mentions().await, 1, "the rename is audited");

    app.get(&format!("/api/v1/people/{person}/export"), &bob.auth())
        .await
        .problem(404);
    let export = app
        .get(&format!("/api/v1/people/{person}/export"), &alice.auth())
        .await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.body);
    assert_eq!(export.body["person"]["id"], person.as_str());
    let tables = &export.body["tables"];
    assert_eq!(tables["identities"].as_array().unwrap().len(), 1);
    assert_eq!(
        tables["person_events"].as_array().unwrap().len(),
        2,
        "the like and dm_sent"
    );
    assert_eq!(tables["instagram_contacts"].as_array().unwrap().len(), 1);
    assert_eq!(tables["instagram_messages"].as_array().unwrap().len(), 1);
    assert_eq!(tables["outbound_messages"].as_array().unwrap().len(), 1);

    app.send(
        Method::DELETE,
        &format!("/api/v1/people/{person}"),
        None,
        &bob.auth(),
    )
    .await
    .problem(404);
    let erased = app
        .send(
            Method::DELETE,
            &format!("/api/v1/people/{person}"),
            None,
            &alice.auth(),
        )
        .await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.body);
    assert_eq!(erased.body["removed"]["instagram_messages"], 1);
    for sql in [
        "SELECT count(*) FROM people",
        "SELECT count(*) FROM identities",
        "SELECT count(*) FROM person_events",
    ] {
        assert_eq!(
            count(&app, &alice, sql).await,
            1,
            "{sql}: only someone_else is left"
        );
    }
    for sql in [
        "SELECT count(*) FROM instagram_contacts",
        "SELECT count(*) FROM instagram_messages",
        "SELECT count(*) FROM outbound_messages",
    ] {
        assert_eq!(count(&app, &alice, sql).await, 0, "{sql}");
    }
    assert_eq!(
        audit_mentions().await,
        0,
        "the audit log keeps nothing of her"
    );
    app.get(&format!("/api/v1/people/{person}/export"), &alice.auth())
        .await
        .problem(404);
}

#[tokio::test]
async fn suggestions_find_planted_duplicates_and_skip_verified_conflicts() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let r = batch(
        &app,
        &alice,
        vec![
            json!({"identity": {"channel": "email", "handle": "grace@navy.mil"}, "event_type": "email_received", "platform_id": "m1"}),
            ig("amazing_grace", "liked", "p1"),
            ig("ada_l", "liked", "p2"),
            ig("countess_ada", "liked", "p3"),
            ig("alan_t", "liked", "p4"),
            json!({"identity": {"channel": "linkedin", "handle": "linkedin.com/in/AlanTuring"}, "event_type": "viewed", "platform_id": "v1"}),
        ],
    )
    .await;
    let id = |i: usize| person_of(&r, i);
    let (grace_mail, grace_ig, ada1, ada2, alan_ig, alan_li) =
        (id(0), id(1), id(2), id(3), id(4), id(5));
    let mut tx = tenant::begin(&app.db.app, alice.id).await.unwrap();
    // Grace's Instagram bio gives her e-mail.
    sqlx::query("UPDATE identities SET extra = '{\"bio\": \"Admiral. Write to GRACE@navy.mil\"}' WHERE handle = 'amazing_grace'")
        .execute(&mut *tx)
        .await
        .unwrap();
    // Ada twice with the same name and company, both verified on Instagram.
    sqlx::query("UPDATE people SET full_name = 'Ada  Lovelace', company = 'Analytical Engines' WHERE id = ANY($1)")
        .bind(vec![ada1.parse::<Uuid>().unwrap(), ada2.parse::<Uuid>().unwrap()])
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE identities SET is_verified = true WHERE handle IN ('ada_l', 'countess_ada')",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    // Alan's Instagram links his LinkedIn profile.
    sqlx::query("UPDATE identities SET extra = '{\"website\": \"https://www.LinkedIn.com/in/alanturing/\"}' WHERE handle = 'alan_t'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // What the people.match_keys job does after a write.
    refresh_match_keys(&app, &alice).await;

    let s = app
        .get("/api/v1/people/merge-suggestions", &alice.auth())
        .await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.body);
    let pairs: Vec<(String, String, String)> = s.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let mut p = [
                i["person_a"].as_str().unwrap().to_string(),
                i["person_b"].as_str().unwrap().to_string(),
            ];
            p.sort();
            (
                p[0].clone(),
                p[1].clone(),
                i["evidence"][0]["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let pair = |a: &str, b: &str, kind: &str| {
        let mut p = [a.to_string(), b.to_string()];
        p.sort();
        (p[0].clone(), p[1].clone(), kind.to_string())
    };
    assert!(
        pairs.contains(&pair(&grace_mail, &grace_ig, "same_email")),
        "{}",
        s.body
    );
    assert!(
        pairs.contains(&pair(&alan_ig, &alan_li, "same_linkedin")),
        "{}",
        s.body
    );
    assert!(
        !pairs.iter().any(|p| p.2 == "same_name_and_company"),
        "verified on the same channel: never suggested {}",
        s.body
    );
    assert_eq!(pairs.len(), 2);
    assert_eq!(s.body["items"][0]["score"], 0.9);

    // Without the verified conflict, Ada is suggested.
    let mut tx = tenant::begin(&app.db.app, alice.id).await.unwrap();
    sqlx::query("UPDATE identities SET is_verified = false WHERE handle = 'ada_l'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let s = app
        .get("/api/v1/people/merge-suggestions", &alice.auth())
        .await;
    assert_eq!(s.body["items"].as_array().unwrap().len(), 3, "{}", s.body);
    app.get(
        "/api/v1/people/merge-suggestions?min_score=2",
        &alice.auth(),
    )
    .await
    .problem(422);
}

#[tokio::test]
async fn undo_keeps_later_edits_and_erase_follows_merge_chains() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let r = batch(
        &app,
        &alice,
        vec![
            ig("ada", "liked", "p1"),
            ig("ada_at_acme", "liked", "p2"),
            ig("countess", "liked", "p3"),
        ],
    )
    .await;
    let id = |i: usize| person_of(&r, i);
    let (a, b, c) = (id(0), id(1), id(2));
    let patch = |who: String, body: Value| {
        let app = &app;
        let auth = alice.auth();
        async move {
            let r = app
                .send(
                    Method::PATCH,
                    &format!("/api/v1/people/{who}"),
                    Some(body),
                    &auth,
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        }
    };
    patch(b.clone(), json!({"company": "Acme", "full_name": "Ada L."})).await;
    // B's Instagram record and a DM in it, both written (and audited) generically.
    let contact = app
        .post(
            "/api/v1/instagram-contacts",
            json!({"person_id": b, "instagram_username": "ada_at_acme"}),
            &alice.auth(),
        )
        .await;
    assert_eq!(contact.status, StatusCode::CREATED, "{}", contact.body);
    let dm = app
        .post(
            "/api/v1/instagram-messages/batch",
            json!({"messages": [{"instagram_username": "ada_at_acme", "message_text": "meet me at the pier",
                                 "is_outbound": false, "sent_at": "2026-11-30T09:00:00Z"}]}),
            &alice.auth(),
        )
        .await;
    assert_eq!(dm.status, StatusCode::OK, "{}", dm.body);
    assert_eq!(
        dm.body["results"][0]["person_id"], b,
        "the contact's person, not a new one"
    );
    patch(a.clone(), json!({"full_name": "Ada Lovelace"})).await;
    let merged = app
        .post(
            &format!("/api/v1/people/{a}/merge"),
            json!({"other_id": b}),
            &alice.auth(),
        )
        .await;
    let merge_id = merged.body["merge"]["id"].as_str().unwrap().to_string();
    let after = app.get(&format!("/api/v1/people/{a}"), &alice.auth()).await;
    assert_eq!(after.body["company"], "Acme", "a blank filled from B");
    assert_eq!(after.body["full_name"], "Ada Lovelace", "A's own name kept");
    // An edit after the merge survives its undo; the filled blank goes.
    patch(a.clone(), json!({"role": "countess"})).await;
    app.post(
        &format!("/api/v1/people/merges/{merge_id}/undo"),
        json!({}),
        &alice.auth(),
    )
    .await;
    let undone = app.get(&format!("/api/v1/people/{a}"), &alice.auth()).await;
    assert_eq!(undone.body["role"], "countess");
    assert!(undone.body["company"].is_null(), "{}", undone.body);

    // A chain: B into A, then A into C; erasing C erases both merge records (B's row
    // lives in the first) and everything of A and B.
    app.post(
        &format!("/api/v1/people/{a}/merge"),
        json!({"other_id": b}),
        &alice.auth(),
    )
    .await;
    app.post(
        &format!("/api/v1/people/{c}/merge"),
        json!({"other_id": a}),
        &alice.auth(),
    )
    .await;
    let erased = app
        .send(
            Method::DELETE,
            &format!("/api/v1/people/{c}"),
            None,
            &alice.auth(),
        )
        .await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.body);
    for sql in [
        "SELECT count(*) FROM people",
        "SELECT count(*) FROM person_events",
        "SELECT count(*) FROM identities",
    ] {
        assert_eq!(count(&app, &alice, sql).await, 0, "{sql}");
    }
    let records: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM person_merges WHERE user_id = $1 AND kind = 'merge'",
    )
    .bind(alice.id)
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    // the first merge (undone) and its undo named A only: they go as A's; none stay
    assert_eq!(records, 0);
    let mentions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM person_merges WHERE moved::text LIKE '%Ada L.%'")
            .fetch_one(&app.db.admin)
            .await
            .unwrap();
    assert_eq!(mentions, 0, "B's row is nowhere");
    // Nor in the audit log: not B's name (B was merged into A, A into C), not the DM
    // of B's Instagram record; no row but the erase's own names C, A or B.
    for secret in ["Ada L.", "pier", "ada_at_acme"] {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM audit_log WHERE user_id = $1
               AND (coalesce(old_values::text, '') || coalesce(new_values::text, '')) LIKE '%' || $2 || '%'",
        )
        .bind(alice.id)
        .bind(secret)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
        assert_eq!(n, 0, "the audit log still holds {secret:?}");
    }
    for who in [&a, &b] {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM audit_log WHERE user_id = $1
               AND (coalesce(old_values::text, '') || coalesce(new_values::text, '')) LIKE '%' || $2 || '%'
               AND NOT (coalesce(old_values, new_values) = jsonb_build_object('erased', true, 'id', $2::text))",
        )
        .bind(alice.id)
        .bind(who)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
        assert_eq!(n, 0, "an audit row names {who} beyond the erased marker");
    }
}

#[tokio::test]
async fn nul_characters_are_a_422_not_a_500() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let r = batch(
        &app,
        &alice,
        vec![
            json!({"identity": {"channel": "instagram", "handle": "grace"}, "event_type": "liked",
                    "content_excerpt": "a\u{0}b", "metadata": {"k\u{0}": 1}}),
        ],
    )
    .await;
    let fields: Vec<&str> = r.problem(422)["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["/events/0/content_excerpt", "/events/0/metadata"]);
}

#[tokio::test]
async fn only_writers_sign_destinations_and_only_the_messages_links_or_allowed_domains() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let r = batch(&app, &alice, vec![ig("grace", "liked", "p1")]).await;
    let person = person_of(&r, 0);
    let m = app
        .post(
            "/api/v1/outbound-messages",
            json!({"person_id": person, "channel": "email", "body": "Read https://ada.dev/post"}),
            &alice.auth(),
        )
        .await;
    let id = m.body["message"]["id"].as_str().unwrap().to_string();
    let sign = |url: &'static str| {
        let app = &app;
        let id = id.clone();
        let auth = alice.auth();
        async move {
            app.get(
                &format!(
                    "/api/v1/outbound-messages/{id}/tracking?url={}",
                    urlencode(url)
                ),
                &auth,
            )
            .await
        }
    };
    // The message's own link: fine. Anywhere else: refused, naming the way to allow it.
    assert_eq!(sign("https://ada.dev/post").await.status, StatusCode::OK);
    let open_redirect = sign("https://evil.example/phish").await;
    assert!(
        open_redirect.problem(422)["detail"]
            .as_str()
            .unwrap()
            .contains("tracking-domains"),
        "{}",
        open_redirect.body
    );
    let allowed = app
        .post(
            "/api/v1/tracking-domains",
            json!({"domain": "ada.dev"}),
            &alice.auth(),
        )
        .await;
    assert_eq!(allowed.status, StatusCode::CREATED, "{}", allowed.body);
    let signed = sign("https://shop.ada.dev/launch").await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.body);
    assert!(signed.body["click_urls"]["https://shop.ada.dev/launch"].is_string());
    sign("https://ada.dev.evil.example/").await.problem(422);
    sign("https://notada.dev/").await.problem(422);

    // A viewer of the same account reads the message's links but signs nothing.
    store::set_role_as_operator(&app.db.admin, alice.id, Role::Viewer)
        .await
        .unwrap();
    assert_eq!(
        app.get(
            &format!("/api/v1/outbound-messages/{id}/tracking"),
            &alice.auth()
        )
        .await
        .status,
        StatusCode::OK
    );
    sign("https://ada.dev/post").await.problem(403);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn the_public_tracking_routes_are_rate_limited_per_client() {
    let app = TestApp::with_limits(everreach_api::rate_limit::Limits {
        auth_per_minute: 1_000,
        account_per_minute: 1_000,
        public_per_minute: 3,
        read_per_minute: 1_000,
        write_per_minute: 1_000,
    })
    .await;
    for n in 0..3 {
        let r = app
            .send_from(
                Method::GET,
                "/api/v1/track/open/nonsense",
                None,
                "198.51.100.1:1",
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "request {n}");
    }
    let limited = app
        .send_from(
            Method::GET,
            "/api/v1/track/open/nonsense",
            None,
            "198.51.100.1:1",
            &[],
        )
        .await;
    limited.problem(429);
    let other = app
        .send_from(
            Method::GET,
            "/api/v1/track/open/nonsense",
            None,
            "198.51.100.2:1",
            &[],
        )
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
}
