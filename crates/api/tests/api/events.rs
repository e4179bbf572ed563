//! The event store through the API: listed with filters and cursors, and streamed
//! live (Server-Sent Events) to its own user only, resumable with Last-Event-ID.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use everreach_core::db::tenant;
use everreach_core::platform::events;
use http_body_util::BodyExt;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{Member, TestApp};

async fn log(app: &TestApp, who: &Member, event_type: &str) -> Uuid {
    let mut tx = tenant::begin(&app.db.app, who.id).await.unwrap();
    let id = events::log(
        &mut tx,
        who.id,
        "contact",
        Uuid::new_v4(),
        event_type,
        &json!({"n": event_type}),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

fn stream_request(who: &Member, last: Option<Uuid>) -> Request<Body> {
    let mut b = Request::builder()
        .uri("/api/v1/events/stream")
        .header(header::AUTHORIZATION, format!("Bearer {}", who.token));
    if let Some(id) = last {
        b = b.header("last-event-id", id.to_string());
    }
    b.body(Body::empty()).unwrap()
}

/// Reads the stream until `want` appears in it (or 10 s pass); returns all it read.
async fn read_until(body: &mut Body, want: &str) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains(want) {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("the stream delivered in time");
        let frame = frame.expect("the stream is open").unwrap();
        if let Ok(data) = frame.into_data() {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
    }
    seen
}

#[tokio::test]
async fn events_are_listed_newest_first_with_filters_and_cursors() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let bob = app.member("bob@example.com").await;
    let first = log(&app, &ada, "contact.created").await;
    log(&app, &ada, "contact.updated").await;
    let third = log(&app, &ada, "contact.updated").await;
    log(&app, &bob, "contact.created").await;
    let all = app.get("/api/v1/events", &ada.auth()).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    let ids: Vec<&str> = all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "only ada's");
    assert_eq!(ids[0], third.to_string());
    let updated = app
        .get("/api/v1/events?event_type=contact.updated", &ada.auth())
        .await;
    assert_eq!(updated.body["items"].as_array().unwrap().len(), 2);
    let page = app.get("/api/v1/events?limit=2", &ada.auth()).await;
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let rest = app
        .get(
            &format!("/api/v1/events?limit=2&cursor={cursor}"),
            &ada.auth(),
        )
        .await;
    assert_eq!(rest.body["items"][0]["id"], first.to_string());
    let future = app
        .get("/api/v1/events?since=2999-01-01T00:00:00Z", &ada.auth())
        .await;
    assert_eq!(future.body["items"], json!([]));
}

#[tokio::test]
async fn the_stream_delivers_an_event_written_by_another_connection_to_its_user_only() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let bob = app.member("bob@example.com").await;
    let response = app.open(stream_request(&ada, None)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .headers()
            .get(header::CONTENT_TYPE)
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut body = response.into_body();
    tokio::time::sleep(Duration::from_millis(200)).await; // the stream has subscribed
    let bobs = log(&app, &bob, "secret.of.bob").await;
    let adas = log(&app, &ada, "contact.created").await;
    let seen = read_until(&mut body, &adas.to_string()).await;
    assert!(seen.contains("event: contact.created"), "{seen}");
    assert!(
        !seen.contains(&bobs.to_string()) && !seen.contains("secret.of.bob"),
        "another tenant's event leaked: {seen}"
    );
}

#[tokio::test]
async fn a_stream_resumed_with_last_event_id_first_gets_what_it_missed() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let seen_before = log(&app, &ada, "one").await;
    let missed = log(&app, &ada, "two").await;
    let mut body = app
        .open(stream_request(&ada, Some(seen_before)))
        .await
        .into_body();
    let seen = read_until(&mut body, &missed.to_string()).await;
    assert!(
        !seen.contains(&format!("id: {seen_before}")),
        "already seen: {seen}"
    );
}

/// Reads the stream to its end (or fails after 10 s).
async fn read_to_end(body: &mut Body) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("the stream ended in time");
        if frame.is_none() {
            return;
        }
    }
}

#[tokio::test]
async fn a_stream_ends_when_its_token_is_revoked_or_its_user_deactivated() {
    let app = TestApp::spawn_with(|mut s| {
        s.events.recheck_every = Duration::from_millis(200);
        s
    })
    .await;
    let ada = app.member("ada@example.com").await;
    let response = app.open(stream_request(&ada, None)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let tokens = app.get("/api/v1/me/api-tokens", &ada.auth()).await;
    let id = tokens.body["items"][0]["id"].as_str().unwrap().to_string();
    let revoked = app
        .send(
            axum::http::Method::DELETE,
            &format!("/api/v1/me/api-tokens/{id}"),
            None,
            &ada.auth(),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    read_to_end(&mut body).await;

    let bob = app
        .member_with_role("bob@example.com", everreach_core::accounts::Role::User)
        .await;
    let response = app.open(stream_request(&bob, None)).await;
    let mut body = response.into_body();
    sqlx::query("UPDATE users SET is_active = false WHERE id = $1")
        .bind(bob.id)
        .execute(&app.db.admin)
        .await
        .unwrap();
    read_to_end(&mut body).await;
}

#[tokio::test]
async fn a_user_holds_at_most_five_streams() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let mut open = Vec::new();
    for _ in 0..5 {
        let r = app.open(stream_request(&ada, None)).await;
        assert_eq!(r.status(), StatusCode::OK);
        open.push(r);
    }
    let sixth = app.open(stream_request(&ada, None)).await;
    assert_eq!(sixth.status(), StatusCode::TOO_MANY_REQUESTS);
    let bob = app.member("bob@example.com").await;
    assert_eq!(
        app.open(stream_request(&bob, None)).await.status(),
        StatusCode::OK,
        "the cap is per user"
    );
    drop(open.pop());
    let mut status = StatusCode::TOO_MANY_REQUESTS;
    for _ in 0..50 {
        let r = app.open(stream_request(&ada, None)).await;
        status = r.status();
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        status,
        StatusCode::OK,
        "a closed stream gives its slot back"
    );
}
