//! No credential or secret is stored in clear anywhere: everything is written through
//! the API (with idempotency keys, so the replay store sees it too), then every table
//! of every schema, `audit_log` and `idempotency_keys` included, is scanned through
//! the owner with row security off (a role that can read every row; the scan fails
//! loudly rather than seeing nothing when it cannot).

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use sqlx::Connection;

use crate::helpers::{As, TestApp, session_from};

async fn post_with_key(app: &TestApp, auth: &As, path: &str, body: Value, key: &str) -> Value {
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .header("idempotency-key", key);
    builder = match auth {
        As::Token(t) => builder.header(header::AUTHORIZATION, format!("Bearer {t}")),
        As::Cookie(c) => builder.header(header::COOKIE, format!("everreach_session={c}")),
        As::Anonymous => builder,
    };
    let reply = app
        .raw(builder.body(Body::from(body.to_string())).unwrap())
        .await;
    assert!(reply.status.is_success(), "{path}: {}", reply.body);
    reply.body
}

#[tokio::test]
async fn no_table_holds_a_credential_or_secret_in_clear() {
    let app = TestApp::spawn().await;
    let password = "a password nobody should ever see";
    let up = app
        .post(
            "/api/v1/auth/sign-up",
            json!({"email": "ada@example.com", "password": password}),
            &As::Anonymous,
        )
        .await;
    assert_eq!(up.status, StatusCode::CREATED);
    let cookie = session_from(&up.headers).unwrap();
    let session = As::Cookie(cookie.clone());
    let created = post_with_key(
        &app,
        &session,
        "/api/v1/me/api-tokens",
        json!({"name": "ci"}),
        "k1",
    )
    .await;
    let token = created["token"].as_str().unwrap().to_string();
    let ada = As::Token(token.clone());
    let secret = "AQX-platform-secret-4711";
    post_with_key(
        &app,
        &ada,
        "/api/v1/platform-connections",
        json!({"platform": "linkedin", "platform_user_id": "li-1", "access_token": secret}),
        "k2",
    )
    .await;
    let config_secret = "whsec-connector-0815";
    post_with_key(
        &app,
        &ada,
        "/api/v1/connector-configs",
        json!({"connector_type": "webhook", "config": {"api_key": config_secret}}),
        "k3",
    )
    .await;
    post_with_key(&app, &ada, "/api/v1/me/verify-email", json!({}), "k4").await;
    post_with_key(
        &app,
        &ada,
        "/api/v1/company/invitations",
        json!({"email": "bob@example.com"}),
        "k5",
    )
    .await;
    app.post(
        "/api/v1/auth/password-reset",
        json!({"email": "ada@example.com"}),
        &As::Anonymous,
    )
    .await;
    let links = [
        app.link_token("ada@example.com", "verify-email").await,
        app.link_token("bob@example.com", "accept-invitation").await,
        app.link_token("ada@example.com", "reset-password").await,
    ];

    let mut conn = sqlx::PgConnection::connect_with(&app.db.target.admin_options().unwrap())
        .await
        .unwrap();
    sqlx::query("SET row_security = off")
        .execute(&mut conn)
        .await
        .unwrap();
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
            AND n.nspname IN ('public', 'analytics', 'ml_data') ORDER BY 1, 2",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(tables.len() > 50, "{} tables", tables.len());
    let mut scanned_rows = 0i64;
    let needles: Vec<(&str, &str)> = [
        ("password", password),
        ("API token", token.as_str()),
        ("session cookie", cookie.as_str()),
        ("platform secret", secret),
        ("connector secret", config_secret),
    ]
    .into_iter()
    .chain(links.iter().map(|l| ("link token", l.as_str())))
    .collect();
    for (schema, table) in &tables {
        let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM \"{schema}\".\"{table}\""
        )))
        .fetch_one(&mut conn)
        .await
        .unwrap();
        scanned_rows += rows;
        let bytea: Vec<String> = sqlx::query_scalar(
            "SELECT quote_ident(a.attname) FROM pg_attribute a
              WHERE a.attrelid = format('%I.%I', $1::text, $2::text)::regclass
                AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypid = 'bytea'::regtype",
        )
        .bind(schema)
        .bind(table)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        for (what, needle) in &needles {
            let mut sql = format!(
                "SELECT count(*) FROM \"{schema}\".\"{table}\" t WHERE strpos(to_jsonb(t)::text, $1) > 0"
            );
            for column in &bytea {
                sql.push_str(&format!(" OR position($2::bytea IN t.{column}) > 0"));
            }
            let found: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(*needle)
                .bind(needle.as_bytes())
                .fetch_one(&mut conn)
                .await
                .unwrap();
            assert_eq!(found, 0, "the {what} is in clear in {schema}.{table}");
        }
    }
    assert!(scanned_rows > 20, "the scan saw {scanned_rows} rows");
    for table in [
        "audit_log",
        "idempotency_keys",
        "platform_connections",
        "mail_outbox",
        "sessions",
    ] {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&mut conn)
                .await
                .unwrap();
        assert!(n > 0, "{table} was written and scanned");
    }
}
