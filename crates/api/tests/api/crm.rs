//! The Instagram DM CRM through the API: DM ingestion (contacts, conversations,
//! dedupe, totals, unread state, the people graph's timeline), skip and spam
//! patterns, bad input, other tenants, and the generic writes it refuses.

use axum::http::{Method, StatusCode};
use everreach_core::db::tenant;
use serde_json::{Value, json};

use crate::helpers::{Member, Reply, TestApp};

/// A DM with `who` at `at` (minutes after 2026-11-30 09:00 UTC).
fn dm(who: &str, text: &str, outbound: bool, at: u32) -> Value {
    json!({
        "instagram_username": who,
        "message_text": text,
        "is_outbound": outbound,
        "sent_at": format!("2026-11-30T{:02}:{:02}:00Z", 9 + at / 60, at % 60),
    })
}

async fn send(app: &TestApp, who: &Member, messages: Vec<Value>) -> Reply {
    app.post(
        "/api/v1/instagram-messages/batch",
        json!({ "messages": messages }),
        &who.auth(),
    )
    .await
}

/// One row of a tenant query, as JSON.
async fn row(app: &TestApp, who: &Member, sql: &str) -> Value {
    let mut tx = tenant::begin(&app.db.app, who.id).await.unwrap();
    let v: Value = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT coalesce(to_jsonb(r), 'null') FROM ({sql}) r"
    )))
    .fetch_optional(&mut *tx)
    .await
    .unwrap()
    .unwrap_or(Value::Null);
    tx.commit().await.unwrap();
    v
}

async fn count(app: &TestApp, who: &Member, sql: &str) -> i64 {
    row(app, who, &format!("SELECT count(*) AS n FROM ({sql}) x")).await["n"]
        .as_i64()
        .unwrap()
}

async fn pattern(app: &TestApp, who: &Member, kind: &str, key: &str, value: &str, meta: Value) {
    let mut tx = tenant::begin(&app.db.app, who.id).await.unwrap();
    sqlx::query(
        "INSERT INTO automation_patterns (user_id, pattern_type, pattern_key, pattern_value, metadata)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(who.id)
    .bind(kind)
    .bind(key)
    .bind(value)
    .bind(meta)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

fn statuses(r: &Reply) -> Vec<String> {
    r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_batch_creates_the_contact_thread_and_timeline_and_a_resend_changes_nothing() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let mut named = dm("@Grace.Hopper", "hey! loved your talk", false, 0);
    named["display_name"] = json!("Grace Hopper");
    let batch = vec![
        named,
        dm(
            "grace.hopper",
            "thank you 🙏 what are you building?",
            true,
            5,
        ),
        dm(
            "grace.hopper",
            "a compiler, and follow-ups are a mess",
            false,
            9,
        ),
        dm(
            "grace.hopper",
            "a compiler, and follow-ups are a mess",
            false,
            9,
        ), // the same again
        dm("ada", "🔥🔥", false, 1),
    ];
    let r = send(&app, &alice, batch.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        statuses(&r),
        ["created", "created", "created", "duplicate", "created"]
    );
    assert_eq!(r.body["created"], 4);
    assert_eq!(r.body["duplicates"], 1);
    assert_eq!(r.body["contacts_created"], 2);
    assert_eq!(r.body["person_events_created"], 4);
    let results = r.body["results"].as_array().unwrap();
    assert_eq!(
        results[3]["message_id"], results[2]["message_id"],
        "a duplicate names the stored message"
    );
    assert_eq!(
        results[0]["conversation_id"], results[2]["conversation_id"],
        "one thread per contact"
    );
    let person = results[0]["person_id"].as_str().unwrap().to_string();

    let contact = row(
        &app,
        &alice,
        "SELECT instagram_username, display_name, total_messages_sent, total_messages_received,
                last_meaningful_touch, person_id::text, relationship_score, profile_url
           FROM instagram_contacts WHERE instagram_username = 'grace.hopper'",
    )
    .await;
    assert_eq!(contact["display_name"], "Grace Hopper");
    assert_eq!(contact["total_messages_sent"], 1);
    assert_eq!(contact["total_messages_received"], 2);
    assert_eq!(
        contact["last_meaningful_touch"],
        "2026-11-30T09:09:00+00:00"
    );
    assert_eq!(
        contact["person_id"],
        person.as_str(),
        "linked to the people graph"
    );
    // R = 1 (our turn answered), D = 0.19 (5.5 words) → 14; C = 1/6, P = 1/2 → 6
    assert_eq!(
        contact["relationship_score"], 20,
        "scored from the messages"
    );
    assert_eq!(
        contact["profile_url"],
        "https://www.instagram.com/grace.hopper/"
    );

    let thread = row(
        &app,
        &alice,
        "SELECT v.last_message_at, v.last_message_preview, v.last_message_is_outbound, v.is_read
           FROM instagram_conversations v JOIN instagram_contacts c ON c.id = v.contact_id
          WHERE c.instagram_username = 'grace.hopper'",
    )
    .await;
    assert_eq!(
        thread["last_message_preview"],
        "a compiler, and follow-ups are a mess"
    );
    assert_eq!(thread["last_message_is_outbound"], false);
    assert_eq!(
        thread["is_read"], false,
        "their newest message leaves it unread"
    );

    // The person's timeline has each DM as dm_reply / dm_sent.
    let timeline = app
        .get(&format!("/api/v1/people/{person}/timeline"), &alice.auth())
        .await;
    let types: Vec<&str> = timeline.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["dm_reply", "dm_sent", "dm_reply"]);

    // The same batch again: every message a duplicate, nothing moves.
    let again = send(&app, &alice, batch).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["created"], 0);
    assert_eq!(again.body["duplicates"], 5);
    assert_eq!(
        again.body["results"][0]["message_id"],
        results[0]["message_id"]
    );
    assert_eq!(
        count(&app, &alice, "SELECT 1 FROM instagram_messages").await,
        4
    );
    assert_eq!(
        count(&app, &alice, "SELECT 1 FROM instagram_conversations").await,
        2
    );
    assert_eq!(
        count(
            &app,
            &alice,
            "SELECT 1 FROM person_events WHERE channel = 'instagram'"
        )
        .await,
        4
    );
    assert_eq!(
        row(&app, &alice, "SELECT total_messages_received FROM instagram_contacts WHERE instagram_username = 'grace.hopper'").await["total_messages_received"],
        2
    );
}

async fn thread(app: &TestApp, who: &Member) -> Value {
    row(
        app,
        who,
        "SELECT last_message_preview AS p, is_read FROM instagram_conversations",
    )
    .await
}

#[tokio::test]
async fn the_thread_follows_its_newest_message_and_a_reply_marks_it_read() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    send(&app, &alice, vec![dm("grace", "first", false, 10)]).await;
    assert_eq!(
        thread(&app, &alice).await,
        json!({"p": "first", "is_read": false})
    );
    // An older message (a backfill) changes neither the preview nor the unread state.
    send(&app, &alice, vec![dm("grace", "older, ours", true, 1)]).await;
    assert_eq!(
        thread(&app, &alice).await,
        json!({"p": "first", "is_read": false})
    );
    // Our reply is newer: read.
    send(&app, &alice, vec![dm("grace", "our reply", true, 20)]).await;
    assert_eq!(
        thread(&app, &alice).await,
        json!({"p": "our reply", "is_read": true})
    );
    // An automated message of ours is not a meaningful touch.
    let mut auto = dm("grace", "auto follow-up", true, 30);
    auto["sent_by_automation"] = json!(true);
    send(&app, &alice, vec![auto]).await;
    assert_eq!(
        row(
            &app,
            &alice,
            "SELECT last_meaningful_touch AS t, total_messages_sent AS s FROM instagram_contacts"
        )
        .await,
        json!({"t": "2026-11-30T09:20:00+00:00", "s": 3})
    );
    // A thread id opens its own conversation.
    let mut other = dm("grace", "in a group", false, 40);
    other["thread_id"] = json!("340282366841710300949128");
    let r = send(
        &app,
        &alice,
        vec![other, dm("grace", "no thread named", false, 41)],
    )
    .await;
    assert_ne!(
        r.body["results"][0]["conversation_id"],
        r.body["results"][1]["conversation_id"]
    );
    assert_eq!(
        count(&app, &alice, "SELECT 1 FROM instagram_conversations").await,
        2
    );
}

#[tokio::test]
async fn skip_patterns_drop_system_lines_and_spam_patterns_flag_or_drop_theirs() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    pattern(
        &app,
        &alice,
        "skip_pattern",
        "t_clock",
        r"^\d{1,2}:\d{2} ?(AM|PM)$",
        json!({}),
    )
    .await;
    pattern(
        &app,
        &alice,
        "spam_pattern",
        "t_coins",
        "dogecoin,moon soon",
        json!({"action": "flag"}),
    )
    .await;
    pattern(
        &app,
        &alice,
        "spam_pattern",
        "t_prize",
        "free cruise tickets",
        json!({"action": "skip"}),
    )
    .await;
    pattern(
        &app,
        &alice,
        "skip_pattern",
        "t_broken",
        "(unclosed",
        json!({}),
    )
    .await;
    pattern(&app, &alice, "known_handle", "linus", "Linus T.", json!({})).await;
    let r = send(
        &app,
        &alice,
        vec![
            dm("linus", "9:14 PM", false, 0),
            dm("linus", "DOGECOIN to the moon", false, 1),
            dm("linus", "FREE cruise tickets inside!!", false, 2),
            dm("linus", "what about dogecoin?", true, 3),
            dm("linus", "real talk: how do you plan posts?", false, 4),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        statuses(&r),
        ["skipped", "flagged", "skipped", "created", "created"]
    );
    let results = r.body["results"].as_array().unwrap();
    assert_eq!(results[0]["pattern"], "t_clock");
    assert_eq!(results[1]["pattern"], "t_coins");
    assert_eq!(results[2]["pattern"], "t_prize");
    assert!(results[0]["message_id"].is_null() && results[1]["message_id"].is_string());
    assert_eq!(
        (r.body["skipped"].as_u64(), r.body["flagged"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        count(
            &app,
            &alice,
            "SELECT 1 FROM instagram_messages WHERE spam_pattern = 't_coins'"
        )
        .await,
        1,
        "flagged spam is kept, marked"
    );
    let contact = row(
        &app,
        &alice,
        "SELECT display_name, total_messages_received AS received FROM instagram_contacts",
    )
    .await;
    assert_eq!(
        contact,
        json!({"display_name": "Linus T.", "received": 1}),
        "a known handle names them; spam is not counted"
    );
    assert_eq!(
        count(
            &app,
            &alice,
            "SELECT 1 FROM person_events WHERE channel = 'instagram'"
        )
        .await,
        2,
        "spam stays off the timeline"
    );
    assert_eq!(
        row(
            &app,
            &alice,
            "SELECT last_message_preview AS p FROM instagram_conversations"
        )
        .await["p"],
        "real talk: how do you plan posts?"
    );
}

#[tokio::test]
async fn bad_input_names_each_message_and_field_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let mut no_direction = dm("grace", "hi", false, 0);
    no_direction.as_object_mut().unwrap().remove("is_outbound");
    let r = send(
        &app,
        &alice,
        vec![
            dm("grace", "fine", false, 0),
            dm("grace", &"x".repeat(100 * 1024), false, 1),
            dm("not a handle!", "hi", false, 2),
            no_direction,
            dm("grace", "   ", true, 3),
        ],
    )
    .await;
    let problem = r.problem(422);
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "/messages/1/message_text",
            "/messages/2/instagram_username",
            "/messages/3/is_outbound",
            "/messages/4/message_text"
        ],
        "{problem}"
    );
    assert!(problem.to_string().contains("102400 bytes"), "{problem}");
    assert_eq!(
        count(&app, &alice, "SELECT 1 FROM instagram_messages").await,
        0,
        "nothing half-written"
    );
    assert_eq!(
        count(&app, &alice, "SELECT 1 FROM instagram_contacts").await,
        0
    );

    let too_many = vec![dm("grace", "hi", false, 0); 1001];
    assert_eq!(
        send(&app, &alice, too_many).await.problem(422)["errors"][0]["field"],
        "/messages"
    );
    let unknown = app
        .post(
            "/api/v1/instagram-messages/batch",
            json!({"messages": [dm("grace", "hi", false, 0)], "mode": "fast"}),
            &alice.auth(),
        )
        .await;
    assert_eq!(
        unknown.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        unknown.body
    );
}

#[tokio::test]
async fn tenants_keep_their_own_contacts_and_generic_writes_of_messages_are_refused() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let bob = app.member("bob@example.com").await;
    let a = send(&app, &alice, vec![dm("grace", "hi alice", false, 0)]).await;
    let b = send(&app, &bob, vec![dm("grace", "hi bob", false, 0)]).await;
    assert_eq!(b.body["contacts_created"], 1, "bob's grace is his own");
    assert_ne!(
        a.body["results"][0]["contact_id"],
        b.body["results"][0]["contact_id"]
    );
    let message = a.body["results"][0]["message_id"].as_str().unwrap();
    let mine = app.get("/api/v1/instagram-contacts", &bob.auth()).await;
    assert_eq!(
        mine.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        mine.body
    );
    let theirs = app
        .get(
            &format!("/api/v1/instagram-messages/{message}"),
            &bob.auth(),
        )
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);

    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/instagram-messages".to_string(),
            Some(dm("grace", "x", false, 5)),
        ),
        (
            Method::PATCH,
            format!("/api/v1/instagram-messages/{message}"),
            Some(json!({"message_text": "edited"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/instagram-messages/{message}"),
            None,
        ),
    ] {
        let r = app.send(method.clone(), &path, body, &alice.auth()).await;
        assert_eq!(
            r.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {}",
            r.body
        );
        assert!(
            r.body.to_string().contains("/api/v1/instagram-"),
            "says what to do: {}",
            r.body
        );
    }
    assert_eq!(
        count(
            &app,
            &alice,
            "SELECT 1 FROM instagram_messages WHERE message_text = 'hi alice'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_batch_that_stores_messages_records_one_domain_event() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    send(
        &app,
        &alice,
        vec![dm("grace", "a", false, 0), dm("grace", "b", true, 1)],
    )
    .await;
    send(&app, &alice, vec![dm("grace", "a", false, 0)]).await; // duplicates only: silent
    let events: Vec<(String, Value)> = sqlx::query_as(
        "SELECT event_type::text, payload FROM events WHERE user_id = $1 AND event_type LIKE 'instagram_message.%'",
    )
    .bind(alice.id)
    .fetch_all(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "instagram_message.ingested");
    assert_eq!(events[0].1["created"], 2);
    assert_eq!(events[0].1["person_events_created"], 2);
    let documented: Vec<String> = crate::people_domain::documented_events()
        .into_iter()
        .filter(|e| e.starts_with("instagram_message."))
        .collect();
    assert_eq!(
        documented,
        ["instagram_message.ingested"],
        "docs/EVENTS.md lists it"
    );
}
