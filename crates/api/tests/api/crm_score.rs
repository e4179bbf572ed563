//! Revio scoring through the API: the score explained with its evidence, stages
//! reached by rules and pinned by hand with their history, fit signals counted per
//! message, the next best action's lane — never an offer without consent — and the
//! bad input the contact's computed fields and templates get.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use everreach_core::crm::score;

use crate::helpers::{Member, Reply, TestApp};

fn dm(text: &str, outbound: bool, minute: u32) -> Value {
    json!({
        "instagram_username": "grace",
        "display_name": "Grace Hopper",
        "message_text": text,
        "is_outbound": outbound,
        "sent_at": format!("2026-11-30T10:{minute:02}:00Z"),
    })
}

async fn send(app: &TestApp, who: &Member, messages: Vec<Value>) -> Reply {
    let r = app
        .post(
            "/api/v1/instagram-messages/batch",
            json!({ "messages": messages }),
            &who.auth(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r
}

async fn patch(app: &TestApp, who: &Member, contact: &str, body: Value) -> Reply {
    app.send(
        Method::PATCH,
        &format!("/api/v1/instagram-contacts/{contact}"),
        Some(body),
        &who.auth(),
    )
    .await
}

async fn score(app: &TestApp, who: &Member, contact: &str) -> Value {
    let r = app
        .get(
            &format!("/api/v1/instagram-contacts/{contact}/score"),
            &who.auth(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

async fn next(app: &TestApp, who: &Member, contact: &str) -> Value {
    let r = app
        .get(
            &format!("/api/v1/instagram-contacts/{contact}/next-best-action"),
            &who.auth(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

async fn create(app: &TestApp, who: &Member, path: &str, body: Value) -> Reply {
    app.post(&format!("/api/v1/{path}"), body, &who.auth())
        .await
}

fn component<'a>(view: &'a Value, name: &str) -> &'a Value {
    view["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
}

#[tokio::test]
async fn the_score_is_explained_by_its_evidence_and_stored_on_the_contact() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    // A contact with no evidence keeps the seed's 50.
    let bare = create(
        &app,
        &alice,
        "instagram-contacts",
        json!({"instagram_username": "nobody_yet"}),
    )
    .await;
    assert_eq!(bare.status, StatusCode::CREATED, "{}", bare.body);
    let view = score(&app, &alice, bare.body["id"].as_str().unwrap()).await;
    assert_eq!(
        (
            view["relationship_score"].as_i64(),
            view["has_evidence"].as_bool()
        ),
        (Some(50), Some(false))
    );

    let r = send(
        &app,
        &alice,
        vec![
            dm("hey! loved the workshop", false, 0),
            dm("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty", true, 5),
        ],
    )
    .await;
    let contact = r.body["results"][0]["contact_id"]
        .as_str()
        .unwrap()
        .to_string();
    let p = patch(
        &app,
        &alice,
        &contact,
        json!({"what_theyre_building": "a design studio", "current_friction": "clients ghost after the first call",
               "value_delivered_log": [{"what": "sent my onboarding checklist", "at": "2026-11-29T10:00:00Z"}]}),
    )
    .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    let view = score(&app, &alice, &contact).await;
    let sum: i64 = view["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["score"].as_i64().unwrap())
        .sum();
    assert_eq!(view["relationship_score"].as_i64(), Some(sum));
    assert_eq!(
        component(&view, "need_clarity_score")["score"],
        11,
        "building 5 + friction 6"
    );
    assert_eq!(component(&view, "value_delivered_score")["score"], 6);
    let cited: Vec<&str> = component(&view, "need_clarity_score")["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(cited, ["what_theyre_building", "current_friction"]);
    assert!(
        component(&view, "resonance_score")["why"]
            .as_str()
            .unwrap()
            .contains("12·R + 8·D")
    );
    // The stored columns are the explained figures.
    let stored = app
        .get(
            &format!("/api/v1/instagram-contacts/{contact}"),
            &alice.auth(),
        )
        .await
        .body;
    assert_eq!(stored["relationship_score"].as_i64(), Some(sum));
    assert_eq!(stored["need_clarity_score"], 11);
    assert_eq!(stored["relationship_stage"], "micro_win_delivered");
    let history: Vec<&str> = view["stage_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["stage"].as_str().unwrap())
        .collect();
    assert_eq!(view["stage"], "micro_win_delivered");
    assert!(history.contains(&"micro_win_delivered"), "{history:?}");
}

#[tokio::test]
async fn stages_follow_fit_signals_and_a_pinned_stage_is_kept_and_shown() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let fit = create(
        &app,
        &alice,
        "fit-signals",
        json!({"product": "t_crm", "signal_key": "t_forget", "signal_description": "I keep forgetting to follow up",
               "offer_template": "want to see how i never miss a follow-up, {first_name}?"}),
    )
    .await;
    assert_eq!(fit.status, StatusCode::CREATED, "{}", fit.body);
    let r = send(
        &app,
        &alice,
        vec![dm(
            "ugh, I keep forgetting to follow-up with leads",
            false,
            0,
        )],
    )
    .await;
    let contact = r.body["results"][0]["contact_id"]
        .as_str()
        .unwrap()
        .to_string();
    let view = score(&app, &alice, &contact).await;
    assert_ne!(view["stage"], "fit_repeats", "one message is not a repeat");
    send(
        &app,
        &alice,
        vec![dm("i always forget to follow up, it's bad", false, 10)],
    )
    .await;
    let view = score(&app, &alice, &contact).await;
    assert_eq!(view["stage"], "fit_repeats", "{}", view["stage_why"]);
    let stored = app
        .get(
            &format!("/api/v1/instagram-contacts/{contact}"),
            &alice.auth(),
        )
        .await
        .body;
    let hit = stored["fit_signals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["signal_key"] == "t_forget")
        .cloned()
        .unwrap();
    assert_eq!(hit["count"], 2);

    // Pinned by hand: shown, kept through new evidence, in the history; then lifted.
    let p = patch(
        &app,
        &alice,
        &contact,
        json!({"relationship_stage": "cadence_established"}),
    )
    .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_eq!(
        p.body["relationship_stage"], "cadence_established",
        "{}",
        p.body
    );
    send(&app, &alice, vec![dm("thanks!", true, 20)]).await;
    let view = score(&app, &alice, &contact).await;
    assert_eq!(
        (
            view["relationship_stage"].as_str(),
            view["stage_override"].as_str()
        ),
        (Some("cadence_established"), Some("cadence_established"))
    );
    assert_eq!(
        view["stage"], "fit_repeats",
        "the rules' stage is still shown beside it"
    );
    assert_eq!(view["stage_history"][0]["source"], "manual");
    let p = patch(&app, &alice, &contact, json!({"relationship_stage": null})).await;
    assert_eq!(p.body["relationship_stage"], "fit_repeats", "{}", p.body);

    // Unknown stages and computed fields are refused by name; nothing changes.
    let bad = patch(
        &app,
        &alice,
        &contact,
        json!({"relationship_stage": "besties", "resonance_score": 25, "notes": "x"}),
    )
    .await;
    let fields: Vec<&str> = bad.problem(422)["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["/resonance_score", "/relationship_stage"]);
    let stored = app
        .get(
            &format!("/api/v1/instagram-contacts/{contact}"),
            &alice.auth(),
        )
        .await
        .body;
    assert!(stored["notes"].is_null(), "nothing half-written");
}

#[tokio::test]
async fn an_offer_needs_repeating_fit_trust_and_explicit_consent() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    create(
        &app,
        &alice,
        "fit-signals",
        json!({"product": "t_crm", "signal_key": "t_forget", "signal_description": "I keep forgetting to follow up",
               "offer_template": "want to see how i never miss a follow-up, {first_name}?"}),
    )
    .await;
    let r = send(
        &app,
        &alice,
        vec![
            dm("I keep forgetting to follow up", false, 0),
            dm(
                "honestly i keep forgetting to follow up. what do you think i should do?",
                false,
                1,
            ),
        ],
    )
    .await;
    let contact = r.body["results"][0]["contact_id"]
        .as_str()
        .unwrap()
        .to_string();
    let n = next(&app, &alice, &contact).await;
    assert_ne!(n["lane"], "offer", "no consent recorded: {n}");
    assert!(
        n["reason"]
            .as_str()
            .unwrap()
            .contains("no explicit consent"),
        "{n}"
    );

    let consent = |kind: &str, at: &str| json!({"kind": kind, "at": at});
    let p = patch(
        &app,
        &alice,
        &contact,
        json!({"trust_signals": [consent("consent_given", "2026-11-30T11:00:00Z")]}),
    )
    .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    let n = next(&app, &alice, &contact).await;
    assert_eq!(n["lane"], "offer", "{n}");
    assert_eq!(
        n["text"],
        "want to see how i never miss a follow-up, Grace?"
    );
    assert_eq!(n["action_key"], "fit:t_crm/t_forget");
    let view = score(&app, &alice, &contact).await;
    assert_eq!(component(&view, "consent_level")["score"], 20);
    assert_eq!(view["stage"], "permissioned_offer");

    // Withdrawn later: no offer again.
    patch(
        &app,
        &alice,
        &contact,
        json!({"trust_signals": [consent("consent_given", "2026-11-30T11:00:00Z"), consent("consent_withdrawn", "2026-11-30T12:00:00Z")]}),
    )
    .await;
    assert_ne!(next(&app, &alice, &contact).await["lane"], "offer");
    assert_eq!(
        component(&score(&app, &alice, &contact).await, "consent_level")["score"],
        0
    );
}

#[tokio::test]
async fn templates_and_patterns_are_checked_and_other_tenants_contacts_are_404() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let bob = app.member("bob@example.com").await;
    let bad = create(
        &app,
        &alice,
        "next-best-actions",
        json!({"lane": "service", "action_key": "t_bad", "action_text": "hey {name}, {first_name}"}),
    )
    .await;
    let problem = bad.problem(422);
    assert_eq!(problem["errors"][0]["field"], "/action_text", "{problem}");
    assert!(problem.to_string().contains("{name}"), "{problem}");
    let ok = create(
        &app,
        &alice,
        "next-best-actions",
        json!({"lane": "curiosity", "action_key": "t_ok", "action_text": "what's {what_theyre_building} up to, {first_name}?"}),
    )
    .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    let regex = create(
        &app,
        &alice,
        "automation-patterns",
        json!({"pattern_type": "skip_pattern", "pattern_key": "t_bad", "pattern_value": "(oops"}),
    )
    .await;
    assert_eq!(regex.problem(422)["errors"][0]["field"], "/pattern_value");
    let lane = create(
        &app,
        &alice,
        "next-best-actions",
        json!({"lane": "sales", "stage": "besties", "action_key": "t_lane", "action_text": "hi"}),
    )
    .await;
    let fields: Vec<Value> = lane.problem(422)["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].clone())
        .collect();
    assert_eq!(fields, [json!("/lane"), json!("/stage")]);
    let kind = create(
        &app,
        &alice,
        "automation-patterns",
        json!({"pattern_type": "regex", "pattern_key": "t_kind", "pattern_value": "x"}),
    )
    .await;
    assert_eq!(kind.problem(422)["errors"][0]["field"], "/pattern_type");

    let r = send(&app, &alice, vec![dm("hi", false, 0)]).await;
    let contact = r.body["results"][0]["contact_id"].as_str().unwrap();
    for path in ["score", "next-best-action"] {
        let theirs = app
            .get(
                &format!("/api/v1/instagram-contacts/{contact}/{path}"),
                &bob.auth(),
            )
            .await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{path}");
        let junk = app
            .get(
                &format!("/api/v1/instagram-contacts/not-an-id/{path}"),
                &alice.auth(),
            )
            .await;
        assert_eq!(junk.status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn a_new_fit_signal_rescores_old_messages_and_the_night_rescores_every_tenant() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let bob = app.member("bob@example.com").await;
    let r = send(
        &app,
        &alice,
        vec![
            dm("my calendar is chaos, honestly", false, 0),
            dm("the calendar is chaos again!!", false, 5),
        ],
    )
    .await;
    let contact = r.body["results"][0]["contact_id"]
        .as_str()
        .unwrap()
        .to_string();
    let hits = |v: &Value| {
        v["fit_signals"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["signal_key"] == "t_chaos")
            .count()
    };
    let before = app
        .get(
            &format!("/api/v1/instagram-contacts/{contact}"),
            &alice.auth(),
        )
        .await
        .body;
    assert_eq!(hits(&before), 0);

    // The signal arrives after the messages: its write queues a rescore of the tenant.
    let fit = create(
        &app,
        &alice,
        "fit-signals",
        json!({"product": "t_cal", "signal_key": "t_chaos", "signal_description": "my calendar is chaos"}),
    )
    .await;
    assert_eq!(fit.status, StatusCode::CREATED, "{}", fit.body);
    let queued: Vec<Option<uuid::Uuid>> =
        sqlx::query_scalar("SELECT user_id FROM jobs WHERE name = $1 AND state = 'created'")
            .bind(score::RESCORE_QUEUE)
            .fetch_all(&app.db.admin)
            .await
            .unwrap();
    assert_eq!(queued, [Some(alice.id)]);
    let done = score::rescore_tenant(&app.db.app, alice.id).await.unwrap();
    assert_eq!(done, 1);
    let after = app
        .get(
            &format!("/api/v1/instagram-contacts/{contact}"),
            &alice.auth(),
        )
        .await
        .body;
    assert_eq!(hits(&after), 1, "{}", after["fit_signals"]);
    let view = score(&app, &alice, &contact).await;
    assert_eq!(view["stage"], "fit_repeats", "{}", view["stage_why"]);

    // The night queues one rescore per tenant with contacts (bob has none).
    sqlx::query("DELETE FROM jobs WHERE name = $1")
        .bind(score::RESCORE_QUEUE)
        .execute(&app.db.admin)
        .await
        .unwrap();
    let tenants = everreach_jobs::crm::rescore_everyone(&app.db.app)
        .await
        .unwrap();
    assert_eq!(tenants, 1);
    let queued: Vec<Option<uuid::Uuid>> =
        sqlx::query_scalar("SELECT user_id FROM jobs WHERE name = $1")
            .bind(score::RESCORE_QUEUE)
            .fetch_all(&app.db.admin)
            .await
            .unwrap();
    assert_eq!(queued, [Some(alice.id)]);
    assert!(!queued.contains(&Some(bob.id)));
}
