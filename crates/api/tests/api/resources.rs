//! The seed tables as resources: create, read, update, delete, list with cursors and
//! filters, validation naming fields, tenants walled off, audit rows, idempotency.

use axum::http::{Method, StatusCode, header};
use everreach_core::accounts::Role;
use serde_json::{Value, json};

use crate::helpers::{As, TestApp};

async fn create(app: &TestApp, who: &As, path: &str, body: Value) -> Value {
    let reply = app.post(&format!("/api/v1/{path}"), body, who).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

#[tokio::test]
async fn a_person_is_created_read_updated_listed_and_deleted() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let reply = app
        .post(
            "/api/v1/people",
            json!({"full_name": "Grace Hopper", "company": "Navy"}),
            &ada.auth(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let id = reply.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        reply.headers.get(header::LOCATION).unwrap(),
        &format!("/api/v1/people/{id}")
    );
    assert_eq!(reply.body["user_id"], ada.id.to_string());

    let read = app.get(&format!("/api/v1/people/{id}"), &ada.auth()).await;
    assert_eq!(read.body["company"], "Navy");
    let patched = app
        .send(
            Method::PATCH,
            &format!("/api/v1/people/{id}"),
            Some(json!({"role": "Rear Admiral"})),
            &ada.auth(),
        )
        .await;
    assert_eq!(patched.body["role"], "Rear Admiral");
    assert_eq!(
        patched.body["company"], "Navy",
        "a patch changes only what it names"
    );
    let listed = app.get("/api/v1/people", &ada.auth()).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed.body["next_cursor"], Value::Null);

    let deleted = app
        .send(
            Method::DELETE,
            &format!("/api/v1/people/{id}"),
            None,
            &ada.auth(),
        )
        .await;
    // A person's delete is the people graph's erase: 200 with what it removed.
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert_eq!(deleted.body["removed"]["people"], 1);
    app.get(&format!("/api/v1/people/{id}"), &ada.auth())
        .await
        .problem(404);
}

#[tokio::test]
async fn another_users_rows_are_404_and_never_listed() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let bob = app.member("bob@example.com").await;
    let person = create(
        &app,
        &ada.auth(),
        "people",
        json!({"full_name": "Ada's contact"}),
    )
    .await;
    let url = format!("/api/v1/people/{}", person["id"].as_str().unwrap());
    app.get(&url, &bob.auth()).await.problem(404);
    app.send(
        Method::PATCH,
        &url,
        Some(json!({"full_name": "taken"})),
        &bob.auth(),
    )
    .await
    .problem(404);
    app.send(Method::DELETE, &url, None, &bob.auth())
        .await
        .problem(404);
    assert_eq!(
        app.get("/api/v1/people", &bob.auth()).await.body["items"],
        json!([])
    );
    // Bob cannot point his rows at Ada's person either: the key carries the tenant.
    let forged = app
        .post(
            "/api/v1/identities",
            json!({"person_id": person["id"], "channel": "email", "handle": "x@y.io"}),
            &bob.auth(),
        )
        .await;
    assert_eq!(forged.problem(422)["errors"][0]["field"], "/person_id");
    assert_eq!(
        app.get(&url, &ada.auth()).await.body["full_name"],
        "Ada's contact"
    );
}

#[tokio::test]
async fn invalid_input_names_each_field_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let person = create(&app, &ada.auth(), "people", json!({"full_name": "P"})).await;
    let bad = app
        .post(
            "/api/v1/identities",
            json!({"person_id": "not-a-uuid", "channel": 5, "nickname": "x", "is_verified": "yes"}),
            &ada.auth(),
        )
        .await;
    let mut fields: Vec<&str> = bad.problem(422)["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        vec![
            "/channel",
            "/handle",
            "/is_verified",
            "/nickname",
            "/person_id"
        ]
    );

    let myspace = app
        .post(
            "/api/v1/identities",
            json!({"person_id": person["id"], "channel": "myspace", "handle": "tom"}),
            &ada.auth(),
        )
        .await;
    assert_eq!(myspace.problem(422)["errors"][0]["field"], "/channel");
    let sentiment = app
        .post("/api/v1/person-events", json!({"person_id": person["id"], "channel": "email", "event_type": "opened_email", "sentiment": 3}), &ada.auth())
        .await;
    assert_eq!(sentiment.problem(422)["errors"][0]["field"], "/sentiment");
    let long = app
        .post(
            "/api/v1/organizations",
            json!({"name": "x".repeat(300)}),
            &ada.auth(),
        )
        .await;
    assert_eq!(long.problem(422)["errors"][0]["field"], "/name");
    let not_object = app.post("/api/v1/people", json!(["a"]), &ada.auth()).await;
    assert_eq!(not_object.problem(422)["errors"][0]["field"], "/");

    let sql = "Robert'); DROP TABLE people;--";
    let stored = create(&app, &ada.auth(), "people", json!({"full_name": sql})).await;
    assert_eq!(stored["full_name"], sql, "stored literally");
    let identities: i64 = sqlx::query_scalar("SELECT count(*) FROM identities")
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(identities, 0);
}

#[tokio::test]
async fn a_taken_unique_value_is_409_naming_a_field() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let person = create(&app, &ada.auth(), "people", json!({"full_name": "P"})).await;
    let body = json!({"person_id": person["id"], "channel": "instagram", "handle": "grace"});
    create(&app, &ada.auth(), "identities", body.clone()).await;
    let again = app.post("/api/v1/identities", body, &ada.auth()).await;
    assert!(
        again.problem(409)["errors"][0]["field"]
            .as_str()
            .unwrap()
            .starts_with('/')
    );
    // Another user may hold the same handle: uniqueness is per tenant.
    let bob = app.member("bob@example.com").await;
    let his = create(&app, &bob.auth(), "people", json!({"full_name": "P"})).await;
    create(
        &app,
        &bob.auth(),
        "identities",
        json!({"person_id": his["id"], "channel": "instagram", "handle": "grace"}),
    )
    .await;
}

#[tokio::test]
async fn lists_page_with_cursors_and_filter_by_field() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let person = create(&app, &ada.auth(), "people", json!({"full_name": "P"})).await;
    for n in 0..7 {
        let (channel, handle) = if n % 2 == 0 {
            ("email", format!("h{n}@example.com"))
        } else {
            ("instagram", format!("h{n}"))
        };
        create(
            &app,
            &ada.auth(),
            "identities",
            json!({"person_id": person["id"], "channel": channel, "handle": handle}),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut url = "/api/v1/identities?limit=3".to_string();
    loop {
        let page = app.get(&url, &ada.auth()).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        seen.extend(
            page.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_i64().unwrap()),
        );
        match page.body["next_cursor"].as_str() {
            Some(c) => url = format!("/api/v1/identities?limit=3&cursor={c}"),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "a stable order");
    assert_eq!(seen.len(), 7, "every row once");
    let emails = app
        .get("/api/v1/identities?channel=email", &ada.auth())
        .await;
    assert_eq!(emails.body["items"].as_array().unwrap().len(), 4);
    app.get("/api/v1/identities?cursor=garbage", &ada.auth())
        .await
        .problem(422);
    assert_eq!(
        app.get("/api/v1/identities?limit=0", &ada.auth())
            .await
            .problem(422)["errors"][0]["field"],
        "/limit"
    );
    app.get("/api/v1/identities?limit=501", &ada.auth())
        .await
        .problem(422);
    assert_eq!(
        app.get("/api/v1/identities?colour=red", &ada.auth())
            .await
            .problem(422)["errors"][0]["field"],
        "/colour"
    );
}

#[tokio::test]
async fn secrets_are_sealed_never_shown_and_redacted_in_the_audit_log() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let account = create(
        &app,
        &ada.auth(),
        "accounts",
        json!({"provider": "google", "provider_account_id": "g-1", "access_token": "ya29.very-secret"}),
    )
    .await;
    assert!(account.get("access_token").is_none(), "{account}");
    let id = account["id"].as_str().unwrap();
    app.send(
        Method::PATCH,
        &format!("/api/v1/accounts/{id}"),
        Some(json!({"scope": "mail"})),
        &ada.auth(),
    )
    .await;
    app.send(
        Method::DELETE,
        &format!("/api/v1/accounts/{id}"),
        None,
        &ada.auth(),
    )
    .await;
    let audit: Vec<(String, Option<Value>, Option<Value>)> = sqlx::query_as(
        "SELECT operation, old_values, new_values FROM audit_log WHERE table_name = 'accounts' AND user_id = $1 ORDER BY timestamp",
    )
    .bind(ada.id)
    .fetch_all(&app.db.admin)
    .await
    .unwrap();
    let ops: Vec<&str> = audit.iter().map(|a| a.0.as_str()).collect();
    assert_eq!(ops, vec!["INSERT", "UPDATE", "DELETE"]);
    let all = serde_json::to_string(&audit).unwrap();
    assert!(
        !all.contains("very-secret") && !all.contains("er2:"),
        "{all}"
    );
    assert_eq!(audit[0].2.as_ref().unwrap()["access_token"], "[redacted]");
    assert_eq!(audit[1].2.as_ref().unwrap()["scope"], "mail");
}

#[tokio::test]
async fn stored_secrets_are_ciphertext() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let created = create(
        &app,
        &ada.auth(),
        "platform-connections",
        json!({"platform": "linkedin", "platform_user_id": "li-1", "access_token": "AQX-secret"}),
    )
    .await;
    let id: uuid::Uuid = created["id"].as_str().unwrap().parse().unwrap();
    let stored = || async {
        sqlx::query_scalar::<_, String>(
            "SELECT access_token FROM platform_connections WHERE user_id = $1 AND id = $2",
        )
        .bind(ada.id)
        .bind(id)
        .fetch_one(&app.db.admin)
        .await
        .unwrap()
    };
    let sealed = stored().await;
    assert!(
        sealed.starts_with("er2:") && !sealed.contains("AQX-secret"),
        "{sealed}"
    );
    // Sealed to the row it was written in: created and patched alike.
    let keyring = everreach_core::secrets::Keyring::from_raw(vec![[7u8; 32]], None);
    let column = everreach_core::secrets::columns::SECRET_COLUMNS
        .iter()
        .find(|c| c.table == "platform_connections" && c.column == "access_token")
        .unwrap();
    let opened = keyring.open(&sealed, column.binding(ada.id, id)).unwrap();
    assert_eq!(opened, "AQX-secret");
    app.send(
        Method::PATCH,
        &format!("/api/v1/platform-connections/{id}"),
        Some(json!({"access_token": "AQX-renewed"})),
        &ada.auth(),
    )
    .await;
    let opened = keyring
        .open(&stored().await, column.binding(ada.id, id))
        .unwrap();
    assert_eq!(opened, "AQX-renewed");
}

#[tokio::test]
async fn a_viewer_cannot_create_and_rules_of_the_data_are_409() {
    let app = TestApp::spawn().await;
    let vera = app.member_with_role("vera@example.com", Role::Viewer).await;
    app.post("/api/v1/people", json!({"full_name": "x"}), &vera.auth())
        .await
        .problem(403);
    assert_eq!(
        app.get("/api/v1/people", &vera.auth()).await.status,
        StatusCode::OK
    );

    let ada = app.member("ada@example.com").await;
    let post = create(
        &app,
        &ada.auth(),
        "published-posts",
        json!({"platform": "linkedin", "content": "hello", "status": "published"}),
    )
    .await;
    let gone = app
        .send(
            Method::DELETE,
            &format!("/api/v1/published-posts/{}", post["id"].as_str().unwrap()),
            None,
            &ada.auth(),
        )
        .await;
    assert!(
        gone.problem(409)["detail"]
            .as_str()
            .unwrap()
            .contains("cannot be deleted")
    );
}

#[tokio::test]
async fn an_idempotency_key_makes_a_retry_return_the_first_response() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let send = |body: Value| {
        axum::http::Request::builder()
            .method(Method::POST)
            .uri("/api/v1/people")
            .header(header::AUTHORIZATION, format!("Bearer {}", ada.token))
            .header(header::CONTENT_TYPE, "application/json")
            .header("idempotency-key", "retry-1")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap()
    };
    let first = app.raw(send(json!({"full_name": "Once"}))).await;
    let second = app.raw(send(json!({"full_name": "Once"}))).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(second.status, StatusCode::CREATED);
    assert_eq!(first.body["id"], second.body["id"]);
    assert_eq!(second.headers.get("idempotent-replayed").unwrap(), "true");
    let people: i64 = sqlx::query_scalar("SELECT count(*) FROM people")
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(people, 1);
    let other = app.raw(send(json!({"full_name": "Twice"}))).await;
    assert_eq!(other.problem(422)["errors"][0]["field"], "/Idempotency-Key");
}
