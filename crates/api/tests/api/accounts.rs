//! Signing up, in and out; API tokens; roles; account erasure.

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

#[tokio::test]
async fn email_verification_links_work_once() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let accounts = everreach_core::accounts::Accounts::new(app.db.app.clone());
    let link = accounts.request_email_verification(ada.id).await.unwrap();
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
