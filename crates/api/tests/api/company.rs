//! A company's admin manages its members, invites new ones and reads the audit log;
//! nobody else can; and a user's data rights (export, erase) cover every table.

use axum::http::{Method, StatusCode};
use everreach_core::accounts::Role;
use serde_json::{Value, json};

use crate::helpers::{As, Member, TestApp, session_from};

#[tokio::test]
async fn an_admin_invites_a_member_who_joins_and_is_managed() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let company = app.get("/api/v1/company", &ada.auth()).await;
    assert!(
        company.body["company"]["name"]
            .as_str()
            .unwrap()
            .contains("workspace")
    );

    let invited = app
        .post(
            "/api/v1/company/invitations",
            json!({"email": "Cy@Example.com", "role": "viewer"}),
            &ada.auth(),
        )
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
    assert_eq!(invited.body["invitation"]["email"], "cy@example.com");
    let again = app
        .post(
            "/api/v1/company/invitations",
            json!({"email": "cy@example.com"}),
            &ada.auth(),
        )
        .await;
    assert_eq!(again.problem(409)["errors"][0]["field"], "/email");

    // The link is mailed (the outbox here); it lets Cy choose a password and signs her in.
    let link = app.link_token("cy@example.com", "accept-invitation").await;
    let mail = &app.mails_to("cy@example.com").await[0];
    assert!(
        mail.subject
            .contains(company.body["company"]["name"].as_str().unwrap())
    );
    let joined = app
        .post(
            "/api/v1/auth/accept-invitation",
            json!({"token": link, "password": "a good long password"}),
            &As::Anonymous,
        )
        .await;
    assert_eq!(joined.status, StatusCode::OK, "{}", joined.body);
    assert_eq!(joined.body["user"]["role"], "viewer");
    assert_eq!(joined.body["user"]["email_verified"], true);
    assert_eq!(
        joined.body["user"]["company_id"],
        company.body["company"]["id"]
    );
    let cy = As::Cookie(session_from(&joined.headers).unwrap());
    app.post(
        "/api/v1/auth/accept-invitation",
        json!({"token": link, "password": "a good long password"}),
        &As::Anonymous,
    )
    .await
    .problem(422);
    let pending = app.get("/api/v1/company/invitations", &ada.auth()).await;
    assert_eq!(
        pending.body["items"],
        json!([]),
        "accepted: no longer pending"
    );

    let members = app.get("/api/v1/company/members", &ada.auth()).await;
    let emails: Vec<&str> = members.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, vec!["ada@example.com", "cy@example.com"]);
    let cy_id = members.body["items"][1]["id"].as_str().unwrap();
    let promoted = app
        .send(
            Method::PATCH,
            &format!("/api/v1/company/members/{cy_id}"),
            Some(json!({"role": "user", "subscription_tier": "pro"})),
            &ada.auth(),
        )
        .await;
    assert_eq!(
        promoted.body["member"]["subscription_tier"], "pro",
        "{}",
        promoted.body
    );
    assert_eq!(
        app.get("/api/v1/me", &cy).await.body["user"]["role"],
        "user"
    );
    let deactivated = app
        .send(
            Method::PATCH,
            &format!("/api/v1/company/members/{cy_id}"),
            Some(json!({"is_active": false})),
            &ada.auth(),
        )
        .await;
    assert_eq!(deactivated.status, StatusCode::OK);
    app.get("/api/v1/me", &cy).await.problem(401);
}

#[tokio::test]
async fn an_invitation_never_blocks_the_address_and_can_be_revoked_resent_or_expire() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let invite = |email: &'static str| {
        let app = &app;
        let ada = ada.clone();
        async move {
            let r = app
                .post(
                    "/api/v1/company/invitations",
                    json!({"email": email}),
                    &ada.auth(),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            r.body["invitation"]["id"].as_str().unwrap().to_string()
        }
    };

    // Invited, Bob still signs up on his own (today's squatting made that a 409); the
    // invitation then cannot make a second account for him.
    invite("bob@example.com").await;
    let users: i64 =
        sqlx::query_scalar("SELECT count(*) FROM users WHERE email = 'bob@example.com'")
            .fetch_one(&app.db.admin)
            .await
            .unwrap();
    assert_eq!(users, 0, "no user row until the invitation is accepted");
    app.member("bob@example.com").await;
    let bob_link = app.link_token("bob@example.com", "accept-invitation").await;
    let taken = app
        .post(
            "/api/v1/auth/accept-invitation",
            json!({"token": bob_link, "password": "a good long password"}),
            &As::Anonymous,
        )
        .await;
    taken.problem(409);

    // Revoked: the link stops working.
    let cy = invite("cy@example.com").await;
    let cy_link = app.link_token("cy@example.com", "accept-invitation").await;
    let revoked = app
        .send(
            Method::DELETE,
            &format!("/api/v1/company/invitations/{cy}"),
            None,
            &ada.auth(),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    app.post(
        "/api/v1/auth/accept-invitation",
        json!({"token": cy_link, "password": "a good long password"}),
        &As::Anonymous,
    )
    .await
    .problem(422);

    // Resent: a new link, the old one dead.
    let dee = invite("dee@example.com").await;
    let first = app.link_token("dee@example.com", "accept-invitation").await;
    let resent = app
        .post(
            &format!("/api/v1/company/invitations/{dee}/resend"),
            json!({}),
            &ada.auth(),
        )
        .await;
    assert_eq!(resent.status, StatusCode::OK, "{}", resent.body);
    let second = app.link_token("dee@example.com", "accept-invitation").await;
    assert_ne!(first, second);
    app.post(
        "/api/v1/auth/accept-invitation",
        json!({"token": first, "password": "a good long password"}),
        &As::Anonymous,
    )
    .await
    .problem(422);
    let listed = app.get("/api/v1/company/invitations", &ada.auth()).await;
    let emails: Vec<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, vec!["bob@example.com", "dee@example.com"]);

    // Expired: refused, whatever the link.
    sqlx::query("UPDATE company_invitations SET expires_at = now() - interval '1 second'")
        .execute(&app.db.admin)
        .await
        .unwrap();
    app.post(
        "/api/v1/auth/accept-invitation",
        json!({"token": second, "password": "a good long password"}),
        &As::Anonymous,
    )
    .await
    .problem(422);

    // Only an admin of the company manages its invitations.
    let eve = app.member("eve@example.com").await;
    app.send(
        Method::DELETE,
        &format!("/api/v1/company/invitations/{dee}"),
        None,
        &eve.auth(),
    )
    .await
    .problem(404);
}

/// `admin` invites `email` with `role`, who accepts with a password: their id and session.
async fn join_by_invitation(
    app: &TestApp,
    admin: &Member,
    email: &str,
    role: &str,
) -> (String, As) {
    let invited = app
        .post(
            "/api/v1/company/invitations",
            json!({"email": email, "role": role}),
            &admin.auth(),
        )
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
    let link = app.link_token(email, "accept-invitation").await;
    let joined = app
        .post(
            "/api/v1/auth/accept-invitation",
            json!({"token": link, "password": "a good long password"}),
            &As::Anonymous,
        )
        .await;
    assert_eq!(joined.status, StatusCode::OK, "{}", joined.body);
    let id = joined.body["user"]["id"].as_str().unwrap().to_string();
    (id, As::Cookie(session_from(&joined.headers).unwrap()))
}

#[tokio::test]
async fn an_admin_removes_a_member_who_keeps_their_account_but_loses_the_company() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let (bob_id, bob_session) = join_by_invitation(&app, &ada, "bob@example.com", "manager").await;
    let bob_token = app
        .post(
            "/api/v1/me/api-tokens",
            json!({"name": "cli"}),
            &bob_session,
        )
        .await
        .body["token"]
        .as_str()
        .unwrap()
        .to_string();

    app.send(
        Method::DELETE,
        &format!("/api/v1/company/members/{}", ada.id),
        None,
        &As::Token(bob_token.clone()),
    )
    .await
    .problem(403);
    app.send(
        Method::DELETE,
        &format!("/api/v1/company/members/{}", ada.id),
        None,
        &ada.auth(),
    )
    .await
    .problem(409);
    let removed = app
        .send(
            Method::DELETE,
            &format!("/api/v1/company/members/{bob_id}"),
            None,
            &ada.auth(),
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    app.get("/api/v1/me", &bob_session).await.problem(401);
    app.get("/api/v1/me", &As::Token(bob_token))
        .await
        .problem(401);
    let members = app.get("/api/v1/company/members", &ada.auth()).await;
    assert_eq!(members.body["items"].as_array().unwrap().len(), 1);

    let back = app
        .post(
            "/api/v1/auth/sign-in",
            json!({"email": "bob@example.com", "password": "a good long password"}),
            &As::Anonymous,
        )
        .await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.body);
    assert_eq!(
        back.body["user"]["role"], "admin",
        "of a company of his own"
    );
    assert_ne!(
        back.body["user"]["company_id"],
        app.get("/api/v1/company", &ada.auth()).await.body["company"]["id"]
    );
    app.send(
        Method::DELETE,
        &format!("/api/v1/company/members/{bob_id}"),
        None,
        &ada.auth(),
    )
    .await
    .problem(404);
}

#[tokio::test]
async fn the_last_admin_of_a_company_with_members_cannot_erase_their_account() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let (bob_id, _) = join_by_invitation(&app, &ada, "bob@example.com", "user").await;
    let erase = json!({"password": ada.password});
    let refused = app
        .send(
            Method::DELETE,
            "/api/v1/me",
            Some(erase.clone()),
            &ada.auth(),
        )
        .await;
    assert!(
        refused.problem(409)["detail"]
            .as_str()
            .unwrap()
            .contains("admin")
    );
    app.get("/api/v1/me", &ada.auth()).await;
    app.send(
        Method::PATCH,
        &format!("/api/v1/company/members/{bob_id}"),
        Some(json!({"role": "admin"})),
        &ada.auth(),
    )
    .await;
    let erased = app
        .send(Method::DELETE, "/api/v1/me", Some(erase), &ada.auth())
        .await;
    assert_eq!(erased.status, StatusCode::NO_CONTENT, "{}", erased.body);
}

#[tokio::test]
async fn only_admins_manage_and_only_their_own_company() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let eve = app.member("eve@example.com").await; // admin of her own company
    let manager = app.member_with_role("max@example.com", Role::Manager).await;
    app.get("/api/v1/company/members", &manager.auth())
        .await
        .problem(403);
    app.get("/api/v1/audit-log", &manager.auth())
        .await
        .problem(403);
    let across = app
        .send(
            Method::PATCH,
            &format!("/api/v1/company/members/{}", ada.id),
            Some(json!({"role": "viewer"})),
            &eve.auth(),
        )
        .await;
    across.problem(404);
    let last_admin = app
        .send(
            Method::PATCH,
            &format!("/api/v1/company/members/{}", ada.id),
            Some(json!({"role": "user"})),
            &ada.auth(),
        )
        .await;
    last_admin.problem(409);
    assert_eq!(
        app.get("/api/v1/me", &ada.auth()).await.body["user"]["role"],
        "admin"
    );
}

#[tokio::test]
async fn the_audit_log_pages_through_the_companys_writes_including_account_changes() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let bob = app.member("bob@example.com").await;
    for n in 0..5 {
        app.post(
            "/api/v1/people",
            json!({"full_name": format!("P{n}")}),
            &ada.auth(),
        )
        .await;
    }
    app.post("/api/v1/people", json!({"full_name": "Bob's"}), &bob.auth())
        .await;
    let mut seen = Vec::new();
    let mut url = "/api/v1/audit-log?limit=2".to_string();
    loop {
        let page = app.get(&url, &ada.auth()).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for entry in page.body["items"].as_array().unwrap() {
            assert_eq!(
                entry["user_id"],
                Value::String(ada.id.to_string()),
                "only ada's company"
            );
            if entry["table_name"] == "people" {
                seen.push(
                    entry["new_values"]["full_name"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                );
            }
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => url = format!("/api/v1/audit-log?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, vec!["P4", "P3", "P2", "P1", "P0"], "newest first");
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, operation::text FROM audit_log WHERE user_id = $1",
    )
    .bind(ada.id)
    .fetch_all(&app.db.admin)
    .await
    .unwrap();
    assert!(
        tables.contains(&("users".into(), "INSERT".into())),
        "sign-up is audited: {tables:?}"
    );
    assert!(
        tables.contains(&("api_tokens".into(), "INSERT".into())),
        "token creation is audited: {tables:?}"
    );
    let all: String =
        sqlx::query_scalar("SELECT string_agg(coalesce(new_values::text, ''), ' ') FROM audit_log")
            .fetch_one(&app.db.admin)
            .await
            .unwrap();
    assert!(
        !all.contains(&ada.token) && !all.contains("$argon2"),
        "no secret reaches the audit log"
    );
}

#[tokio::test]
async fn the_export_holds_every_table_the_user_owns_and_nothing_else() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let bob = app.member("bob@example.com").await;
    app.db.fill_tenant_tables(ada.id).await;
    app.db.fill_tenant_tables(bob.id).await;
    let reply = app.get("/api/v1/me/export", &ada.auth()).await;
    assert_eq!(reply.status, StatusCode::OK);
    let export = &reply.body;
    assert_eq!(export["format"], "everreach-export/1");
    assert_eq!(export["user"]["email"], "ada@example.com");
    assert!(export["user"].get("password_hash").is_none());
    let tables = everreach_core::accounts::export::tenant_tables(&app.db.admin)
        .await
        .unwrap();
    for (schema, table) in tables {
        let key = if schema == "public" {
            table.clone()
        } else {
            format!("{schema}.{table}")
        };
        let rows = export["tables"][&key]
            .as_array()
            .unwrap_or_else(|| panic!("{key} missing from the export"));
        assert!(!rows.is_empty(), "{key} has none of ada's rows");
        assert!(
            rows.iter()
                .all(|r| r["user_id"] == Value::String(ada.id.to_string())),
            "{key} holds another user's rows"
        );
    }
    let text = export.to_string();
    assert!(
        !text.contains("token-hash-") && !text.contains("session-hash-"),
        "credentials are left out"
    );
}

#[tokio::test]
async fn a_slow_export_reader_holds_no_database_connection() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    app.db.fill_tenant_tables(ada.id).await;
    let request = axum::http::Request::builder()
        .uri("/api/v1/me/export")
        .header(
            axum::http::header::AUTHORIZATION,
            format!("Bearer {}", ada.token),
        )
        .body(axum::body::Body::empty())
        .unwrap();
    // The client has the response and reads nothing of its body for a while.
    let response = app.open(request).await;
    assert_eq!(response.status(), StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let held: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
          WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
    )
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(held, 0, "a transaction waits on the reader");
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let export: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(export["user"]["email"], "ada@example.com");
}
