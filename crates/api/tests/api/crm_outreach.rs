//! The outreach queue through the API and its sender on real PostgreSQL: queueing,
//! listing, cancelling and retrying; bad input naming its field; other tenants' ids;
//! the state machine's 409s; the daily cap and quiet hours in the user's zone; two
//! runs at once sending each message once; a sent message as a DM in the contact's
//! conversation and on the person's timeline; the events and audit rows.
//!
//! The sender is driven here by calling `outreach::send_due` with the time to run at
//! (the job calls it with the clock), so nothing depends on the time of day: tests
//! that are not about quiet hours first switch them off, and the quiet-hours test
//! puts "now" in the middle of its window.

use axum::http::{Method, StatusCode};
use chrono::{DateTime, Duration, Utc};
use everreach_core::crm::outreach::{
    self, OutboxSender, Outgoing, OutreachSender, RunOutcome, SendError, SentReceipt, zone,
};
use everreach_core::db::tenant::{self, TenantTx};
use serde_json::{Value, json};

use crate::helpers::{Member, Reply, TestApp};

/// Stores one DM from `who` to `member` (making the contact); the batch's answer.
async fn contact(app: &TestApp, member: &Member, who: &str) -> Value {
    let r = app
        .post(
            "/api/v1/instagram-messages/batch",
            json!({"messages": [{"instagram_username": who, "message_text": format!("hi, {who} here"),
                                 "is_outbound": false, "sent_at": "2026-11-30T09:00:00Z"}]}),
            &member.auth(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["results"][0].clone()
}

async fn enqueue(app: &TestApp, member: &Member, body: Value) -> Reply {
    app.post("/api/v1/outreach", body, &member.auth()).await
}

/// Queues `text` to `who`; the row (it must be accepted).
async fn queue(app: &TestApp, member: &Member, who: &str, text: &str, priority: i32) -> Value {
    let r = enqueue(
        app,
        member,
        json!({"username": who, "message_text": text, "priority": priority}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

async fn limits(app: &TestApp, member: &Member, cap: i32, start: &str, end: &str) -> Value {
    let r = app
        .send(
            Method::PUT,
            "/api/v1/outreach/settings",
            Some(json!({"daily_cap": cap, "quiet_start": start, "quiet_end": end})),
            &member.auth(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

/// No quiet hours, so the time of day does not matter.
async fn never_quiet(app: &TestApp, member: &Member, cap: i32) {
    limits(app, member, cap, "00:00", "00:00").await;
}

async fn run_at(app: &TestApp, member: &Member, now: DateTime<Utc>) -> RunOutcome {
    outreach::send_due(&app.db.app, member.id, &OutboxSender, now)
        .await
        .unwrap()
}

async fn item(app: &TestApp, member: &Member, id: &Value) -> Value {
    let r = app
        .get(
            &format!("/api/v1/outreach/{}", id.as_str().unwrap()),
            &member.auth(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

async fn post(app: &TestApp, member: &Member, id: &Value, action: &str) -> Reply {
    app.post(
        &format!("/api/v1/outreach/{}/{action}", id.as_str().unwrap()),
        json!({}),
        &member.auth(),
    )
    .await
}

/// One value of a tenant query.
async fn scalar(app: &TestApp, member: &Member, sql: &str) -> Value {
    let mut tx = tenant::begin(&app.db.app, member.id).await.unwrap();
    let v: Option<Value> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT to_jsonb(x.v) FROM ({sql}) x(v)"
    )))
    .fetch_optional(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    v.unwrap_or(Value::Null)
}

fn fields(r: &Reply, status: u16) -> Vec<String> {
    r.problem(status)["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect()
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("not a time: {v}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_message_is_queued_listed_read_and_cancelled() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let grace = contact(&app, &alice, "grace").await;
    never_quiet(&app, &alice, 20).await;

    let now = Utc::now();
    let r = enqueue(
        &app,
        &alice,
        json!({"username": "@Grace", "message_text": "  how did the launch go?  ", "priority": 2}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let first = r.body.clone();
    assert_eq!(
        r.headers["location"].to_str().unwrap(),
        format!("/api/v1/outreach/{}", first["id"].as_str().unwrap())
    );
    assert_eq!(first["status"], "pending");
    assert_eq!(first["contact_id"], grace["contact_id"]);
    assert_eq!(first["username"], "grace");
    assert_eq!(first["message_text"], "how did the launch go?");
    assert_eq!(first["priority"], 2);
    assert_eq!(first["waiting_for"], "next_run", "{first}");
    assert!(time(&first["next_attempt_at"]) <= now + Duration::minutes(2));

    let at = (now + Duration::hours(2)).to_rfc3339();
    let later = enqueue(
        &app,
        &alice,
        json!({"contact_id": grace["contact_id"], "message_text": "ps", "scheduled_at": at}),
    )
    .await;
    assert_eq!(later.status, StatusCode::CREATED, "{}", later.body);
    let later = later.body;
    assert_eq!(later["priority"], 5, "001's default");
    assert_eq!(later["waiting_for"], "scheduled_time");
    assert_eq!(later["next_attempt_at"], later["scheduled_at"]);

    let all = app.get("/api/v1/outreach", &alice.auth()).await;
    let ids: Vec<&Value> = all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["id"])
        .collect();
    assert_eq!(ids, [&later["id"], &first["id"]], "newest first");
    assert!(all.body["next_cursor"].is_null());
    let page = app.get("/api/v1/outreach?limit=1", &alice.auth()).await;
    assert_eq!(page.body["items"][0]["id"], later["id"]);
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let rest = app
        .get(
            &format!("/api/v1/outreach?limit=1&cursor={cursor}"),
            &alice.auth(),
        )
        .await;
    assert_eq!(rest.body["items"][0]["id"], first["id"]);
    for (status, n) in [("pending", 2), ("sent", 0)] {
        let r = app
            .get(&format!("/api/v1/outreach?status={status}"), &alice.auth())
            .await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), n, "{status}");
    }
    assert_eq!(
        item(&app, &alice, &first["id"]).await["waiting_for"],
        "next_run"
    );

    let cancelled = post(&app, &alice, &first["id"], "cancel").await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    assert_eq!(cancelled.body["status"], "cancelled");
    assert!(cancelled.body["cancelled_at"].is_string());
    assert!(cancelled.body["waiting_for"].is_null());
    let again = post(&app, &alice, &first["id"], "cancel").await;
    assert!(
        again.problem(409)["detail"]
            .as_str()
            .unwrap()
            .contains("is cancelled"),
        "{}",
        again.body
    );
    // a cancelled message is never sent
    let run = run_at(&app, &alice, now + Duration::hours(3)).await;
    assert_eq!((run.sent, run.claimed), (1, 1), "only the later one");
    assert_eq!(
        item(&app, &alice, &first["id"]).await["status"],
        "cancelled"
    );

    // every change the user made has its audit row
    let audited: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name, operation FROM audit_log WHERE user_id = $1
            AND table_name IN ('outreach_queue', 'outreach_settings') ORDER BY \"timestamp\"",
    )
    .bind(alice.id)
    .fetch_all(&app.db.admin)
    .await
    .unwrap();
    let audited: Vec<(&str, &str)> = audited
        .iter()
        .map(|(t, o)| (t.as_str(), o.as_str()))
        .collect();
    assert_eq!(
        audited,
        [
            ("outreach_settings", "INSERT"),
            ("outreach_queue", "INSERT"),
            ("outreach_queue", "INSERT"),
            ("outreach_queue", "UPDATE"),
        ]
    );
}

#[tokio::test]
async fn bad_input_names_its_fields_and_an_unknown_contact_is_not_created() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let grace = contact(&app, &alice, "grace").await;

    let r = enqueue(&app, &alice, json!({})).await;
    assert_eq!(fields(&r, 422), ["/contact_id", "/message_text"]);
    let r = enqueue(
        &app,
        &alice,
        json!({"username": "grace", "message_text": "x".repeat(1001), "priority": 0,
               "scheduled_at": (Utc::now() - Duration::minutes(5)).to_rfc3339()}),
    )
    .await;
    assert_eq!(
        fields(&r, 422),
        ["/message_text", "/priority", "/scheduled_at"]
    );
    let r = enqueue(
        &app,
        &alice,
        json!({"username": "grace", "message_text": "hi",
               "scheduled_at": (Utc::now() + Duration::days(400)).to_rfc3339()}),
    )
    .await;
    assert_eq!(fields(&r, 422), ["/scheduled_at"]);
    let r = enqueue(
        &app,
        &alice,
        json!({"username": "grace", "message_text": "a\u{0}b"}),
    )
    .await;
    assert_eq!(fields(&r, 422), ["/message_text"]);

    // an unknown username is refused, naming it: no contact is made
    let r = enqueue(
        &app,
        &alice,
        json!({"username": "@nobody.here", "message_text": "hi"}),
    )
    .await;
    assert_eq!(fields(&r, 422), ["/username"]);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("@nobody.here is not one of your contacts"),
        "{}",
        r.body
    );
    let r = enqueue(
        &app,
        &alice,
        json!({"contact_id": uuid::Uuid::new_v4(), "message_text": "hi"}),
    )
    .await;
    assert_eq!(fields(&r, 422), ["/contact_id"]);
    let r = enqueue(
        &app,
        &alice,
        json!({"contact_id": grace["contact_id"], "username": "ada", "message_text": "hi"}),
    )
    .await;
    assert_eq!(fields(&r, 422), ["/username"]);
    let r = enqueue(
        &app,
        &alice,
        json!({"username": "grace", "message_text": "hi", "status": "sent"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(
        scalar(&app, &alice, "SELECT count(*) FROM outreach_queue").await,
        0,
        "nothing stored"
    );
    assert_eq!(
        scalar(&app, &alice, "SELECT count(*) FROM instagram_contacts").await,
        1,
        "no contact made"
    );
    assert_eq!(
        app.get("/api/v1/outreach?status=queued", &alice.auth())
            .await
            .problem(422)["errors"][0]["field"],
        "/status"
    );
    assert_eq!(
        app.get("/api/v1/outreach?cursor=nonsense", &alice.auth())
            .await
            .problem(422)["errors"][0]["field"],
        "/cursor"
    );

    let r = app
        .send(
            Method::PUT,
            "/api/v1/outreach/settings",
            Some(json!({"daily_cap": 5000, "quiet_start": "9pm"})),
            &alice.auth(),
        )
        .await;
    assert_eq!(
        fields(&r, 422),
        ["/daily_cap", "/quiet_start", "/quiet_end"]
    );
    let defaults = app.get("/api/v1/outreach/settings", &alice.auth()).await;
    assert_eq!(
        (
            &defaults.body["daily_cap"],
            &defaults.body["quiet_start"],
            &defaults.body["quiet_end"],
            &defaults.body["timezone"]
        ),
        (&json!(20), &json!("21:00"), &json!("08:00"), &json!("UTC")),
        "untouched: {}",
        defaults.body
    );
}

#[tokio::test]
async fn other_tenants_ids_are_404_and_generic_writes_are_refused() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let bob = app.member("bob@example.com").await;
    let grace = contact(&app, &alice, "grace").await;
    contact(&app, &bob, "grace").await;
    let mine = queue(&app, &alice, "grace", "hello", 5).await;
    let id = mine["id"].as_str().unwrap();

    assert_eq!(
        app.get(&format!("/api/v1/outreach/{id}"), &bob.auth())
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    for action in ["cancel", "retry"] {
        post(&app, &bob, &mine["id"], action).await.problem(404);
    }
    post(&app, &alice, &json!("not-an-id"), "cancel")
        .await
        .problem(404);
    let theirs = app.get("/api/v1/outreach", &bob.auth()).await;
    assert_eq!(theirs.body["items"], json!([]));
    // bob's own grace is a different contact: alice's id is none of his
    let r = enqueue(
        &app,
        &bob,
        json!({"contact_id": grace["contact_id"], "message_text": "hi"}),
    )
    .await;
    assert_eq!(fields(&r, 422), ["/contact_id"]);
    assert_eq!(item(&app, &alice, &mine["id"]).await["status"], "pending");

    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/outreach-queue".to_string(),
            Some(json!({"username": "grace", "message_text": "x"})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/outreach-queue/{id}"),
            Some(json!({"status": "sent"})),
        ),
        (Method::DELETE, format!("/api/v1/outreach-queue/{id}"), None),
    ] {
        let r = app.send(method.clone(), &path, body, &alice.auth()).await;
        assert_eq!(
            r.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {}",
            r.body
        );
        assert!(
            r.body.to_string().contains("/api/v1/outreach"),
            "says what to do: {}",
            r.body
        );
    }
    // the generic read stays
    let read = app
        .get(&format!("/api/v1/outreach-queue/{id}"), &alice.auth())
        .await;
    assert_eq!(read.body["status"], "pending", "{}", read.body);
}

/// Refuses every message, as Instagram's sender will outside Meta's 24-hour window.
struct Refusing;

impl OutreachSender for Refusing {
    async fn send(&self, _: &mut TenantTx, _: &Outgoing) -> Result<SentReceipt, SendError> {
        Err(SendError::Rejected(
            "outside the 24-hour messaging window".into(),
        ))
    }
}

/// Records the DM as the outbox does, then fails as if the process died before the
/// send was marked: nothing it wrote may stay.
struct DiesAfterRecording;

impl OutreachSender for DiesAfterRecording {
    async fn send(&self, tx: &mut TenantTx, m: &Outgoing) -> Result<SentReceipt, SendError> {
        OutboxSender.send(tx, m).await?;
        Err(SendError::Unavailable("connection reset".into()))
    }
}

#[tokio::test]
async fn the_state_machine_moves_only_where_it_may_and_says_why_not() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    contact(&app, &alice, "grace").await;
    never_quiet(&app, &alice, 20).await;
    let now = Utc::now();

    // pending → scheduled → failed (the sender refuses) → pending (retry) → sent
    let refused = queue(&app, &alice, "grace", "want the template?", 5).await;
    assert_eq!(
        post(&app, &alice, &refused["id"], "retry")
            .await
            .problem(409)["detail"],
        "this message is pending: only a failed message can be retried"
    );
    let run = outreach::send_due(&app.db.app, alice.id, &Refusing, now)
        .await
        .unwrap();
    assert_eq!((run.claimed, run.failed, run.sent), (1, 1, 0));
    let failed = item(&app, &alice, &refused["id"]).await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error"], "outside the 24-hour messaging window");
    assert_eq!(failed["attempts"], 1);
    assert!(failed["waiting_for"].is_null());
    assert!(
        post(&app, &alice, &refused["id"], "cancel")
            .await
            .problem(409)["detail"]
            .as_str()
            .unwrap()
            .contains("is failed")
    );
    let retried = post(&app, &alice, &refused["id"], "retry").await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.body);
    assert_eq!(
        (
            &retried.body["status"],
            &retried.body["error"],
            &retried.body["attempts"]
        ),
        (&json!("pending"), &Value::Null, &json!(0))
    );
    assert_eq!(run_at(&app, &alice, now).await.sent, 1);
    let sent = item(&app, &alice, &refused["id"]).await;
    assert_eq!(sent["status"], "sent");
    assert!(sent["sent_at"].is_string() && sent["sent_message_id"].is_string());
    for action in ["cancel", "retry"] {
        let detail = post(&app, &alice, &refused["id"], action)
            .await
            .problem(409)["detail"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(detail.starts_with("this message is sent"), "{detail}");
    }

    // a send that dies after recording leaves no DM, and the row claimed: it counts
    // as an attempt, can be cancelled while claimed, and is then never sent
    let dying = queue(&app, &alice, "grace", "one more thing", 5).await;
    let run = outreach::send_due(&app.db.app, alice.id, &DiesAfterRecording, now)
        .await
        .unwrap();
    assert_eq!((run.claimed, run.retrying, run.sent), (1, 1, 0));
    let claimed = item(&app, &alice, &dying["id"]).await;
    assert_eq!(claimed["status"], "scheduled");
    assert_eq!(claimed["attempts"], 1);
    assert_eq!(claimed["waiting_for"], "sending");
    assert!(
        claimed["error"]
            .as_str()
            .unwrap()
            .contains("connection reset")
    );
    assert_eq!(
        scalar(
            &app,
            &alice,
            "SELECT count(*) FROM instagram_messages WHERE message_text = 'one more thing'"
        )
        .await,
        0,
        "what the dead attempt wrote is gone"
    );
    let cancelled = post(&app, &alice, &dying["id"], "cancel").await;
    assert_eq!(cancelled.body["status"], "cancelled", "{}", cancelled.body);
    assert_eq!(run_at(&app, &alice, now).await, RunOutcome::default());

    // an unavailable sender is tried again on each run, then the row fails
    let flaky = queue(&app, &alice, "grace", "still there?", 5).await;
    for attempt in 1..=outreach::MAX_ATTEMPTS {
        let run = outreach::send_due(&app.db.app, alice.id, &DiesAfterRecording, now)
            .await
            .unwrap();
        let last = attempt == outreach::MAX_ATTEMPTS;
        assert_eq!(
            (run.retrying, run.failed),
            (usize::from(!last), usize::from(last)),
            "attempt {attempt}"
        );
    }
    let gave_up = item(&app, &alice, &flaky["id"]).await;
    assert_eq!(gave_up["status"], "failed");
    assert_eq!(gave_up["attempts"], outreach::MAX_ATTEMPTS);
    assert!(
        gave_up["error"]
            .as_str()
            .unwrap()
            .contains("unavailable 5 times"),
        "{gave_up}"
    );
}

#[tokio::test]
async fn the_daily_cap_holds_the_rest_until_the_next_day() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    contact(&app, &alice, "grace").await;
    contact(&app, &alice, "ada").await;
    never_quiet(&app, &alice, 2).await;
    let low = queue(&app, &alice, "grace", "low", 9).await;
    let urgent = queue(&app, &alice, "ada", "urgent", 1).await;
    let middle = queue(&app, &alice, "grace", "middle", 3).await;

    // before the run, the list says which go next and which wait for the cap
    let now = Utc::now();
    assert_eq!(
        item(&app, &alice, &low["id"]).await["waiting_for"],
        "daily_cap"
    );
    assert_eq!(
        item(&app, &alice, &urgent["id"]).await["waiting_for"],
        "next_run"
    );

    let run = run_at(&app, &alice, now).await;
    assert_eq!((run.claimed, run.sent), (2, 2));
    assert_eq!(item(&app, &alice, &urgent["id"]).await["status"], "sent");
    assert_eq!(item(&app, &alice, &middle["id"]).await["status"], "sent");
    let held = item(&app, &alice, &low["id"]).await;
    assert_eq!(held["status"], "pending");
    assert_eq!(held["waiting_for"], "daily_cap", "{held}");
    let usage = app.get("/api/v1/outreach/settings", &alice.auth()).await;
    assert_eq!(
        (
            &usage.body["daily_cap"],
            &usage.body["sent_today"],
            &usage.body["remaining_today"],
            &usage.body["quiet_now"]
        ),
        (&json!(2), &json!(2), &json!(0), &json!(false)),
        "{}",
        usage.body
    );
    // the earliest it may go is when the day ends (no quiet hours)
    let tomorrow = time(&usage.body["day_ends_at"]);
    assert_eq!(time(&held["next_attempt_at"]), tomorrow);
    assert_eq!(
        tomorrow,
        outreach::local_day(zone(None), now).1,
        "the day in UTC"
    );

    // again today: nothing; tomorrow: the third
    assert_eq!(
        run_at(&app, &alice, now + Duration::seconds(30)).await.sent,
        0
    );
    let next_day = run_at(&app, &alice, tomorrow + Duration::minutes(1)).await;
    assert_eq!(next_day.sent, 1);
    assert_eq!(item(&app, &alice, &low["id"]).await["status"], "sent");

    // a cap of 0 pauses sending: no time is promised
    never_quiet(&app, &alice, 0).await;
    let paused = queue(&app, &alice, "ada", "paused", 5).await;
    let paused = item(&app, &alice, &paused["id"]).await;
    assert_eq!(
        (&paused["waiting_for"], &paused["next_attempt_at"]),
        (&json!("daily_cap"), &Value::Null)
    );
    assert_eq!(
        run_at(&app, &alice, tomorrow + Duration::days(1))
            .await
            .sent,
        0
    );
}

#[tokio::test]
async fn quiet_hours_in_the_users_zone_hold_every_message() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    contact(&app, &alice, "grace").await;
    let r = app
        .send(
            Method::PATCH,
            "/api/v1/me",
            Some(json!({"timezone": "Asia/Tokyo"})),
            &alice.auth(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // a quiet window from an hour before "now" in Tokyo to an hour after (it may cross
    // midnight there)
    let now = Utc::now();
    let tokyo = now.with_timezone(&zone(Some("Asia/Tokyo")));
    let start = (tokyo - Duration::hours(1)).format("%H:%M").to_string();
    let end = (tokyo + Duration::hours(1)).format("%H:%M").to_string();
    let settings = limits(&app, &alice, 20, &start, &end).await;
    assert_eq!(settings["timezone"], "Asia/Tokyo");
    assert_eq!(settings["quiet_now"], true, "{settings}");
    let quiet_until = time(&settings["quiet_until"]);
    assert!(
        quiet_until > now + Duration::minutes(58) && quiet_until <= now + Duration::hours(1),
        "{quiet_until} ends an hour from {now}"
    );

    let queued = queue(&app, &alice, "grace", "good morning!", 5).await;
    let run = run_at(&app, &alice, now).await;
    assert!(run.quiet);
    assert_eq!((run.claimed, run.sent), (0, 0));
    let waiting = item(&app, &alice, &queued["id"]).await;
    assert_eq!(waiting["status"], "pending");
    assert_eq!(waiting["waiting_for"], "quiet_hours", "{waiting}");
    assert_eq!(time(&waiting["next_attempt_at"]), quiet_until);
    assert_eq!(
        scalar(
            &app,
            &alice,
            "SELECT count(*) FROM instagram_messages WHERE is_outbound"
        )
        .await,
        0
    );

    // when the window ends, it goes
    let run = run_at(&app, &alice, quiet_until + Duration::minutes(1)).await;
    assert_eq!((run.quiet, run.sent), (false, 1));
}

#[tokio::test]
async fn two_runs_at_once_send_each_message_once() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    contact(&app, &alice, "grace").await;
    contact(&app, &alice, "ada").await;
    never_quiet(&app, &alice, 1000).await;
    let now = Utc::now();
    for round in 0..5 {
        let one = queue(&app, &alice, "grace", &format!("only once {round}"), 5).await;
        let (a, b) = tokio::join!(run_at(&app, &alice, now), run_at(&app, &alice, now));
        assert_eq!(a.sent + b.sent, 1, "round {round}: {a:?} {b:?}");
        assert_eq!(a.claimed + b.claimed, 1, "claimed once: {a:?} {b:?}");
        let text = format!("only once {round}");
        assert_eq!(
            scalar(
                &app,
                &alice,
                &format!("SELECT count(*) FROM instagram_messages WHERE message_text = '{text}'")
            )
            .await,
            1,
            "one DM"
        );
        assert_eq!(item(&app, &alice, &one["id"]).await["status"], "sent");
    }

    // many rows, several runs at once, a cap: never more than the cap, never twice
    never_quiet(&app, &alice, 5 + 7).await;
    for i in 0..12 {
        let who = if i % 2 == 0 { "grace" } else { "ada" };
        queue(&app, &alice, who, "same words to both", 5).await;
    }
    let runs = futures_like::join4(
        run_at(&app, &alice, now),
        run_at(&app, &alice, now),
        run_at(&app, &alice, now),
        run_at(&app, &alice, now),
    )
    .await;
    let sent: usize = runs.iter().map(|r| r.sent).sum();
    assert_eq!(
        sent, 7,
        "the cap of 12 less the 5 sent earlier today: {runs:?}"
    );
    assert_eq!(
        scalar(
            &app,
            &alice,
            "SELECT count(*) FROM instagram_messages WHERE message_text = 'same words to both'"
        )
        .await,
        7,
        "one DM per sent row, though the texts repeat"
    );
    assert_eq!(
        scalar(
            &app,
            &alice,
            "SELECT count(DISTINCT sent_message_id) FROM outreach_queue WHERE status = 'sent'"
        )
        .await,
        12
    );
    assert_eq!(
        scalar(
            &app,
            &alice,
            "SELECT count(*) FROM outreach_queue WHERE status = 'pending'"
        )
        .await,
        5
    );
}

/// `tokio::join!` of four, collected.
mod futures_like {
    use std::future::Future;

    pub async fn join4<T>(
        a: impl Future<Output = T>,
        b: impl Future<Output = T>,
        c: impl Future<Output = T>,
        d: impl Future<Output = T>,
    ) -> Vec<T> {
        let (a, b, c, d) = tokio::join!(a, b, c, d);
        vec![a, b, c, d]
    }
}

#[tokio::test]
async fn a_sent_message_is_a_dm_in_the_conversation_and_on_the_timeline() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let grace = contact(&app, &alice, "grace").await;
    never_quiet(&app, &alice, 20).await;
    let queued = queue(&app, &alice, "grace", "loved your post about compilers", 5).await;
    let now = Utc::now();
    assert_eq!(run_at(&app, &alice, now).await.sent, 1);

    let sent = item(&app, &alice, &queued["id"]).await;
    let message = scalar(
        &app,
        &alice,
        &format!(
            "SELECT to_jsonb(m) - 'raw_data' - 'created_at' FROM instagram_messages m WHERE id = '{}'",
            sent["sent_message_id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(message["message_text"], "loved your post about compilers");
    assert_eq!(message["is_outbound"], true);
    assert_eq!(message["sent_by_automation"], true);
    assert_eq!(message["contact_id"], grace["contact_id"]);
    assert_eq!(
        message["conversation_id"], grace["conversation_id"],
        "the contact's conversation"
    );
    assert_eq!(time(&message["sent_at"]), time(&sent["sent_at"]));
    let thread = scalar(
        &app,
        &alice,
        "SELECT to_jsonb(v) FROM instagram_conversations v",
    )
    .await;
    assert_eq!(
        thread["last_message_preview"],
        "loved your post about compilers"
    );
    assert_eq!(thread["is_read"], true);
    assert_eq!(
        scalar(
            &app,
            &alice,
            "SELECT total_messages_sent FROM instagram_contacts"
        )
        .await,
        1
    );
    let person = grace["person_id"].as_str().unwrap();
    let timeline = app
        .get(&format!("/api/v1/people/{person}/timeline"), &alice.auth())
        .await;
    let types: Vec<&str> = timeline.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["dm_sent", "dm_reply"],
        "newest first: {}",
        timeline.body
    );
}

#[tokio::test]
async fn every_outreach_event_is_emitted_and_documented() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    contact(&app, &alice, "grace").await;
    never_quiet(&app, &alice, 20).await;
    let now = Utc::now();
    let a = queue(&app, &alice, "grace", "one", 5).await;
    let b = queue(&app, &alice, "grace", "two", 5).await;
    post(&app, &alice, &b["id"], "cancel").await;
    outreach::send_due(&app.db.app, alice.id, &Refusing, now)
        .await
        .unwrap();
    post(&app, &alice, &a["id"], "retry").await;
    run_at(&app, &alice, now).await;

    let events: Vec<(String, Value)> = sqlx::query_as(
        "SELECT event_type::text, payload FROM events WHERE user_id = $1 AND event_type LIKE 'outreach.%'
          ORDER BY created_at, id",
    )
    .bind(alice.id)
    .fetch_all(&app.db.admin)
    .await
    .unwrap();
    let names: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "outreach.settings_updated",
            "outreach.queued",
            "outreach.queued",
            "outreach.cancelled",
            "outreach.failed",
            "outreach.retried",
            "outreach.sent"
        ]
    );
    assert_eq!(events[3].1["previous_status"], "pending");
    assert_eq!(events[4].1["error"], "outside the 24-hour messaging window");
    assert!(events[6].1["message_id"].is_string());
    let emitted: std::collections::BTreeSet<String> = names.iter().map(|n| n.to_string()).collect();
    let documented: std::collections::BTreeSet<String> = crate::people_domain::documented_events()
        .into_iter()
        .filter(|e| e.starts_with("outreach."))
        .collect();
    assert_eq!(emitted, documented, "docs/EVENTS.md lists exactly these");
}
