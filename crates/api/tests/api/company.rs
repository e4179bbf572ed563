//! A company's admin manages its members, invites new ones and reads the audit log;
//! nobody else can; and a user's data rights (export, erase) cover every table.

use axum::http::{Method, StatusCode};
use everreach_core::accounts::company::Companies;
use everreach_core::accounts::{Email, Principal, Role};
use serde_json::{Value, json};

use crate::helpers::{As, TestApp, session_from};

async fn principal(app: &TestApp, token: &str) -> Principal {
    let accounts = everreach_core::accounts::Accounts::new(app.db.app.clone());
    accounts.authenticate_token(token).await.unwrap().unwrap()
}

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
            json!({"email": "bob@example.com", "role": "manager"}),
            &ada.auth(),
        )
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
    let again = app
        .post(
            "/api/v1/company/invitations",
            json!({"email": "bob@example.com"}),
            &ada.auth(),
        )
        .await;
    again.problem(409);

    // The link (mailed, in production) lets Bob choose a password; he is signed in.
    let companies = Companies::new(app.db.app.clone());
    let admin = principal(&app, &ada.token).await;
    let (_, link) = companies
        .invite(
            &admin,
            &Email::parse("cy@example.com").unwrap(),
            Role::Viewer,
        )
        .await
        .unwrap();
    let joined = app
        .post(
            "/api/v1/auth/accept-invitation",
            json!({"token": link, "password": "a good long password"}),
            &As::Anonymous,
        )
        .await;
    assert_eq!(joined.status, StatusCode::OK, "{}", joined.body);
    assert_eq!(joined.body["user"]["role"], "viewer");
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

    let members = app.get("/api/v1/company/members", &ada.auth()).await;
    let emails: Vec<&str> = members.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        vec!["ada@example.com", "bob@example.com", "cy@example.com"]
    );
    let cy_id = members.body["items"][2]["id"].as_str().unwrap();
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
