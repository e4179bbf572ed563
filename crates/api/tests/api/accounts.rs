//! Signing up, in and out (here or everywhere); passwords changed and reset; mailed
//! links; API tokens and their idempotent creation; roles; account erasure.

use axum::http::{Method, StatusCode, header};
use everreach_core::accounts::Role;
use serde_json::json;

use crate::helpers::{As, TestApp, session_from};

#[tokio::test]
async fn sign_up_sign_in_and_sign_out_with_a_session_cookie() {
    let app = TestApp::spawn().await;
    let up = app
        .post(
            "/api/v1/auth/sign-up",
            json!({"email": "Ada@Example.com", "password": "analytical engine", "name": "Ada"}),
            &As::Anonymous,
        )
        .await;
    assert_eq!(up.status, StatusCode::CREATED, "{}", up.body);
    assert_eq!(up.body["user"]["email"], "ada@example.com");
    assert!(
        up.body["user"].get("password_hash").is_none(),
        "the hash never leaves the server"
    );
    let set_cookie = up
        .headers
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap();
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }

    let signed_in = app
        .post(
            "/api/v1/auth/sign-in",
            json!({"email": "ada@example.com", "password": "analytical engine"}),
            &As::Anonymous,
        )
        .await;
    assert_eq!(signed_in.status, StatusCode::OK);
    assert!(signed_in.body["user"]["last_login_at"].is_string());
    let session = As::Cookie(session_from(&signed_in.headers).unwrap());
    let me = app.get("/api/v1/me", &session).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["user"]["name"], "Ada");

    let out = app
        .send(Method::POST, "/api/v1/auth/sign-out", None, &session)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    app.get("/api/v1/me", &session).await.problem(401);
}

#[tokio::test]
async fn a_wrong_password_or_unknown_email_is_401_and_says_nothing_more() {
    let app = TestApp::spawn().await;
    app.member("ada@example.com").await;
    let wrong = app
        .post(
            "/api/v1/auth/sign-in",
            json!({"email": "ada@example.com", "password": "wrong password!"}),
            &As::Anonymous,
        )
        .await;
    let unknown = app
        .post(
            "/api/v1/auth/sign-in",
            json!({"email": "bob@example.com", "password": "wrong password!"}),
            &As::Anonymous,
        )
        .await;
    assert_eq!(wrong.problem(401)["detail"], unknown.problem(401)["detail"]);
}

#[tokio::test]
async fn a_deactivated_user_cannot_sign_in_or_use_a_token() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    sqlx::query("UPDATE users SET is_active = false WHERE id = $1")
        .bind(ada.id)
        .execute(&app.db.admin)
        .await
        .unwrap();
    let signed_in = app
        .post(
            "/api/v1/auth/sign-in",
            json!({"email": ada.email, "password": ada.password}),
            &As::Anonymous,
        )
        .await;
    assert!(
        signed_in.problem(403)["detail"]
            .as_str()
            .unwrap()
            .contains("deactivated")
    );
    app.get("/api/v1/me", &ada.auth()).await.problem(401);
}

#[tokio::test]
async fn api_tokens_are_shown_once_used_listed_and_revoked() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    assert!(ada.token.starts_with("er_"));
    let me = app.get("/api/v1/me", &ada.auth()).await;
    assert_eq!(me.body["user"]["email"], "ada@example.com");

    let listed = app.get("/api/v1/me/api-tokens", &ada.auth()).await;
    let items = listed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert!(
        !listed.body.to_string().contains(&ada.token),
        "a listing never shows a token"
    );
    let id = items[0]["id"].as_str().unwrap();

    let dup = app
        .post(
            "/api/v1/me/api-tokens",
            json!({"name": "tests"}),
            &ada.auth(),
        )
        .await;
    assert_eq!(dup.problem(409)["errors"][0]["field"], "/name");

    let revoked = app
        .send(
            Method::DELETE,
            &format!("/api/v1/me/api-tokens/{id}"),
            None,
            &ada.auth(),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    app.get("/api/v1/me", &ada.auth()).await.problem(401);
    app.get("/api/v1/me", &As::Token("er_not-a-real-token".into()))
        .await
        .problem(401);
}

#[tokio::test]
async fn another_users_token_is_not_found() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let bob = app.member("bob@example.com").await;
    let listed = app.get("/api/v1/me/api-tokens", &ada.auth()).await;
    let ada_token_id = listed.body["items"][0]["id"].as_str().unwrap().to_string();
    let attempt = app
        .send(
            Method::DELETE,
            &format!("/api/v1/me/api-tokens/{ada_token_id}"),
            None,
            &bob.auth(),
        )
        .await;
    attempt.problem(404);
    assert_eq!(
        app.get("/api/v1/me", &ada.auth()).await.status,
        StatusCode::OK,
        "ada's token still works"
    );
}

#[tokio::test]
async fn a_viewer_reads_but_every_write_is_403() {
    let app = TestApp::spawn().await;
    let viewer = app.member_with_role("vera@example.com", Role::Viewer).await;
    assert_eq!(
        app.get("/api/v1/me", &viewer.auth()).await.body["user"]["role"],
        "viewer"
    );
    let patch = app
        .send(
            Method::PATCH,
            "/api/v1/me",
            Some(json!({"full_name": "Vera"})),
            &viewer.auth(),
        )
        .await;
    assert!(
        patch.problem(403)["detail"]
            .as_str()
            .unwrap()
            .contains("viewer")
    );
}

/// Everything traced on this thread while it lives (the tests' runtime is
/// single-threaded, so the handlers' log lines land here).
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn email_verification_links_are_mailed_never_logged_and_work_once() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let log = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(log.clone())
        .with_max_level(tracing::Level::TRACE)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    let asked = app
        .post("/api/v1/me/verify-email", json!({}), &ada.auth())
        .await;
    drop(guard);
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    let link = app.link_token("ada@example.com", "verify-email").await;
    assert!(link.starts_with("erv_"), "{link}");
    assert!(
        !log.text().contains(&link),
        "the link is in the log: {}",
        log.text()
    );
    let stored: Vec<String> = sqlx::query_scalar("SELECT body FROM mail_outbox")
        .fetch_all(&app.db.admin)
        .await
        .unwrap();
    assert!(
        stored
            .iter()
            .all(|b| b.starts_with("er2:") && !b.contains(&link)),
        "the outbox keeps bodies sealed"
    );

    let used = app
        .post(
            "/api/v1/auth/verify-email",
            json!({"token": link}),
            &As::Anonymous,
        )
        .await;
    assert_eq!(used.status, StatusCode::OK, "{}", used.body);
    assert_eq!(
        app.get("/api/v1/me", &ada.auth()).await.body["user"]["email_verified"],
        true
    );
    let again = app
        .post(
            "/api/v1/auth/verify-email",
            json!({"token": link}),
            &As::Anonymous,
        )
        .await;
    assert_eq!(again.problem(422)["errors"][0]["field"], "/token");
}

async fn sign_in(app: &TestApp, email: &str, password: &str) -> crate::helpers::Reply {
    app.post(
        "/api/v1/auth/sign-in",
        json!({"email": email, "password": password}),
        &As::Anonymous,
    )
    .await
}

async fn session(app: &TestApp, email: &str, password: &str) -> As {
    let r = sign_in(app, email, password).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    As::Cookie(session_from(&r.headers).unwrap())
}

#[tokio::test]
async fn a_password_change_needs_the_current_one_and_ends_the_other_sessions() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let here = session(&app, &ada.email, &ada.password).await;
    let elsewhere = session(&app, &ada.email, &ada.password).await;
    let wrong = app
        .post(
            "/api/v1/me/password",
            json!({"current_password": "not it at all", "new_password": "a brand new password"}),
            &here,
        )
        .await;
    wrong.problem(401);
    let short = app
        .post(
            "/api/v1/me/password",
            json!({"current_password": ada.password, "new_password": "short"}),
            &here,
        )
        .await;
    assert_eq!(short.problem(422)["errors"][0]["field"], "/new_password");
    let changed = app
        .post(
            "/api/v1/me/password",
            json!({"current_password": ada.password, "new_password": "a brand new password"}),
            &here,
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{}", changed.body);
    assert_eq!(app.get("/api/v1/me", &here).await.status, StatusCode::OK);
    app.get("/api/v1/me", &elsewhere).await.problem(401);
    assert_eq!(
        app.get("/api/v1/me", &ada.auth()).await.status,
        StatusCode::OK,
        "tokens stay"
    );
    sign_in(&app, &ada.email, &ada.password).await.problem(401);
    session(&app, &ada.email, "a brand new password").await;

    // The app role cannot change the hash (or the address) by a plain UPDATE.
    let mut tx = everreach_core::db::tenant::begin(&app.db.app, ada.id)
        .await
        .unwrap();
    for column in [
        "password_hash = 'x'",
        "email = 'mallory@example.com'",
        "email_verified = true",
    ] {
        let mut sp = sqlx::Connection::begin(&mut *tx).await.unwrap();
        let err = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE users SET {column} WHERE id = $1"
        )))
        .bind(ada.id)
        .execute(&mut *sp)
        .await
        .unwrap_err();
        assert!(
            err.to_string().contains("permission denied"),
            "{column}: {err}"
        );
    }
}

#[tokio::test]
async fn a_password_reset_is_mailed_works_once_and_signs_out_everywhere() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let before = session(&app, &ada.email, &ada.password).await;
    for email in ["ada@example.com", "nobody@example.com"] {
        let asked = app
            .post(
                "/api/v1/auth/password-reset",
                json!({"email": email}),
                &As::Anonymous,
            )
            .await;
        assert_eq!(
            asked.status,
            StatusCode::ACCEPTED,
            "the same answer either way"
        );
    }
    assert!(app.mails_to("nobody@example.com").await.is_empty());
    let link = app.link_token("ada@example.com", "reset-password").await;
    let reset = app
        .post(
            "/api/v1/auth/password-reset/confirm",
            json!({"token": link, "password": "reset to something long"}),
            &As::Anonymous,
        )
        .await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT, "{}", reset.body);
    app.get("/api/v1/me", &before).await.problem(401);
    sign_in(&app, &ada.email, &ada.password).await.problem(401);
    session(&app, &ada.email, "reset to something long").await;
    let again = app
        .post(
            "/api/v1/auth/password-reset/confirm",
            json!({"token": link, "password": "and once more please"}),
            &As::Anonymous,
        )
        .await;
    assert_eq!(again.problem(422)["errors"][0]["field"], "/token");
    let tokens: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM password_reset_tokens")
        .fetch_all(&app.db.admin)
        .await
        .unwrap();
    assert!(tokens.iter().all(|t| !t.contains(&link)));
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_session_but_not_the_tokens() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let a = session(&app, &ada.email, &ada.password).await;
    let b = session(&app, &ada.email, &ada.password).await;
    let out = app
        .send(Method::POST, "/api/v1/auth/sign-out-everywhere", None, &a)
        .await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    assert!(out.body["sessions_ended"].as_u64().unwrap() >= 2);
    app.get("/api/v1/me", &a).await.problem(401);
    app.get("/api/v1/me", &b).await.problem(401);
    assert_eq!(
        app.get("/api/v1/me", &ada.auth()).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn sign_in_is_limited_per_account_whatever_the_client() {
    let app = TestApp::with_limits(everreach_api::rate_limit::Limits {
        auth_per_minute: 1_000,
        account_per_minute: 3,
        public_per_minute: 100,
        read_per_minute: 1_000,
        write_per_minute: 1_000,
    })
    .await;
    let ada = app.member("ada@example.com").await;
    for n in 0..3 {
        let peer = format!("198.51.100.{n}:4000");
        let r = app
            .send_from(
                Method::POST,
                "/api/v1/auth/sign-in",
                Some(json!({"email": ada.email, "password": "guess"})),
                &peer,
                &[],
            )
            .await;
        r.problem(401);
    }
    let limited = app
        .send_from(
            Method::POST,
            "/api/v1/auth/sign-in",
            Some(json!({"email": "ADA@example.com", "password": ada.password})),
            "203.0.113.9:4000",
            &[],
        )
        .await;
    limited.problem(429);
    assert!(limited.headers.get("retry-after").is_some());
    let other = sign_in(&app, "bob@example.com", "whatever it is").await;
    other.problem(401);
}

#[tokio::test]
async fn a_new_api_token_is_never_kept_for_replay() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let create = || {
        axum::http::Request::builder()
            .method(Method::POST)
            .uri("/api/v1/me/api-tokens")
            .header(header::AUTHORIZATION, format!("Bearer {}", ada.token))
            .header(header::CONTENT_TYPE, "application/json")
            .header("idempotency-key", "token-1")
            .body(axum::body::Body::from(json!({"name": "ci"}).to_string()))
            .unwrap()
    };
    let first = app.raw(create()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let token = first.body["token"].as_str().unwrap().to_string();
    let stored: Vec<Option<Vec<u8>>> =
        sqlx::query_scalar("SELECT response_body FROM idempotency_keys")
            .fetch_all(&app.db.admin)
            .await
            .unwrap();
    assert_eq!(
        stored,
        vec![None],
        "the response holding the token is not kept"
    );
    let replay = app.raw(create()).await;
    let problem = replay.problem(409);
    assert!(!problem.to_string().contains(&token));
    assert!(
        problem["detail"].as_str().unwrap().contains("revoke"),
        "{problem}"
    );
    let tokens = app.get("/api/v1/me/api-tokens", &ada.auth()).await;
    assert_eq!(
        tokens.body["items"].as_array().unwrap().len(),
        2,
        "created once"
    );
}

#[tokio::test]
async fn an_idempotency_key_whose_request_died_is_free_after_the_lease() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    // A request claimed the key and died (no response) 3 minutes ago; another has
    // been running for 5 seconds. Both are this very request.
    let body = json!({"full_name": "Again"}).to_string();
    let hash: String = {
        use sha2::Digest;
        sha2::Sha256::digest(format!("POST\0/api/v1/people\0{body}").as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let mut tx = everreach_core::db::tenant::begin(&app.db.app, ada.id)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO idempotency_keys (user_id, key, request_hash, created_at)
         VALUES ($1, 'died-1', $2, now() - interval '3 minutes'),
                ($1, 'running-1', $2, now() - interval '5 seconds')",
    )
    .bind(ada.id)
    .bind(&hash)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let post = |key: &'static str| {
        axum::http::Request::builder()
            .method(Method::POST)
            .uri("/api/v1/people")
            .header(header::AUTHORIZATION, format!("Bearer {}", ada.token))
            .header(header::CONTENT_TYPE, "application/json")
            .header("idempotency-key", key)
            .body(axum::body::Body::from(body.clone()))
            .unwrap()
    };
    let retried = app.raw(post("died-1")).await;
    assert_eq!(retried.status, StatusCode::CREATED, "{}", retried.body);
    let replayed = app.raw(post("died-1")).await;
    assert_eq!(replayed.headers.get("idempotent-replayed").unwrap(), "true");
    app.raw(post("running-1")).await.problem(409);
}

#[tokio::test]
async fn erasing_an_account_needs_the_password_and_leaves_no_row_in_any_table() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let bob = app.member("bob@example.com").await;
    app.db.fill_tenant_tables(ada.id).await;
    app.db.fill_tenant_tables(bob.id).await;
    let wrong = app
        .send(
            Method::DELETE,
            "/api/v1/me",
            Some(json!({"password": "not my password"})),
            &ada.auth(),
        )
        .await;
    wrong.problem(401);
    let erased = app
        .send(
            Method::DELETE,
            "/api/v1/me",
            Some(json!({"password": ada.password})),
            &ada.auth(),
        )
        .await;
    assert_eq!(erased.status, StatusCode::NO_CONTENT, "{}", erased.body);
    for (schema, table) in everreach_core::accounts::export::tenant_tables(&app.db.admin)
        .await
        .unwrap()
    {
        let sql = format!("SELECT count(*) FROM \"{schema}\".\"{table}\" WHERE user_id = $1");
        let left: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
            .bind(ada.id)
            .fetch_one(&app.db.admin)
            .await
            .unwrap();
        assert_eq!(left, 0, "{schema}.{table} kept ada's rows");
        let kept: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(bob.id)
            .fetch_one(&app.db.admin)
            .await
            .unwrap();
        assert!(kept > 0, "{schema}.{table} lost bob's rows");
    }
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE id = $1")
        .bind(ada.id)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(users, 0);
    app.get("/api/v1/me", &ada.auth()).await.problem(401);
}

#[tokio::test]
async fn an_unknown_role_is_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let reply = app
        .send(
            Method::PATCH,
            &format!("/api/v1/company/members/{}", ada.id),
            Some(json!({"role": "owner"})),
            &ada.auth(),
        )
        .await;
    assert_eq!(reply.problem(422)["errors"][0]["field"], "/role");
}
