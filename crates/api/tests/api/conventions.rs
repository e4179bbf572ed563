//! The conventions every endpoint shares: problem+json for every error, field-level
//! messages for bad input, body limits, rate limits, request ids, metrics.

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use everreach_api::rate_limit::Limits;
use serde_json::json;

use crate::helpers::{As, TestApp};

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = TestApp::spawn().await;
    app.get("/api/v1/nothing-here", &As::Anonymous)
        .await
        .problem(404);
    app.send(Method::PUT, "/api/v1/me", None, &As::Anonymous)
        .await
        .problem(405);
    app.get("/api/v1/me", &As::Anonymous).await.problem(401);
}

#[tokio::test]
async fn bad_bodies_get_a_4xx_naming_the_field_and_write_nothing() {
    let app = TestApp::spawn().await;
    let sign_up = |body: &'static str| {
        Request::builder()
            .method(Method::POST)
            .uri("/api/v1/auth/sign-up")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    assert!(
        app.raw(sign_up("{\"email\": ")).await.problem(400)["detail"]
            .as_str()
            .unwrap()
            .contains("line 1")
    );
    assert_eq!(
        app.raw(sign_up(r#"{"email": 42, "password": "x"}"#))
            .await
            .problem(422)["errors"][0]["field"],
        "/email"
    );
    assert_eq!(
        app.raw(sign_up(
            r#"{"email": "a@b.io", "password": "0123456789", "role": "admin"}"#
        ))
        .await
        .problem(422)["errors"][0]["field"],
        "/role"
    );
    let both = app
        .raw(sign_up(r#"{"email": "not-an-email", "password": "short"}"#))
        .await;
    let fields: Vec<&str> = both.problem(422)["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["/email", "/password"]);
    let long = format!(
        r#"{{"email": "{}@example.com", "password": "0123456789"}}"#,
        "a".repeat(5000)
    );
    let long = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/auth/sign-up")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(long))
        .unwrap();
    assert_eq!(
        app.raw(long).await.problem(422)["errors"][0]["field"],
        "/email"
    );
    let sql = app
        .post(
            "/api/v1/auth/sign-in",
            json!({"email": "' OR 1=1; DROP TABLE users; --", "password": "x'; --"}),
            &As::Anonymous,
        )
        .await;
    sql.problem(401);

    let text = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/auth/sign-up")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("hello"))
        .unwrap();
    app.raw(text).await.problem(415);

    let huge = format!(
        r#"{{"email": "a@b.io", "password": "{}"}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    let huge = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/auth/sign-up")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(huge))
        .unwrap();
    app.raw(huge).await.problem(413);

    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(users, 0, "nothing was written by a rejected request");
}

#[tokio::test]
async fn a_taken_email_is_409_naming_the_field() {
    let app = TestApp::spawn().await;
    app.member("ada@example.com").await;
    let again = app
        .post(
            "/api/v1/auth/sign-up",
            json!({"email": "ADA@example.com", "password": "0123456789"}),
            &As::Anonymous,
        )
        .await;
    assert_eq!(again.problem(409)["errors"][0]["field"], "/email");
}

#[tokio::test]
async fn unknown_enum_values_and_bad_timezones_are_422() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let tz = app
        .send(
            Method::PATCH,
            "/api/v1/me",
            Some(json!({"timezone": "Mars/Olympus_Mons"})),
            &ada.auth(),
        )
        .await;
    assert_eq!(tz.problem(422)["errors"][0]["field"], "/timezone");
    let ok = app
        .send(
            Method::PATCH,
            "/api/v1/me",
            Some(json!({"timezone": "Europe/Berlin"})),
            &ada.auth(),
        )
        .await;
    assert_eq!(ok.body["user"]["timezone"], "Europe/Berlin");
    let onboarding = app
        .send(
            Method::PATCH,
            "/api/v1/me",
            Some(json!({"onboarding_completed": "yes"})),
            &ada.auth(),
        )
        .await;
    assert_eq!(
        onboarding.problem(422)["errors"][0]["field"],
        "/onboarding_completed"
    );
}

#[tokio::test]
async fn invalid_headers_are_refused_cleanly() {
    let app = TestApp::spawn().await;
    let request = Request::builder()
        .uri("/api/v1/me")
        .header(
            header::AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
        )
        .body(Body::empty())
        .unwrap();
    app.raw(request).await.problem(401);
    let request = Request::builder()
        .uri("/api/v1/me")
        .header(
            header::COOKIE,
            HeaderValue::from_bytes(b"everreach_session=\xff").unwrap(),
        )
        .body(Body::empty())
        .unwrap();
    app.raw(request).await.problem(401);
}

#[tokio::test]
async fn over_the_limit_is_429_with_retry_after() {
    let app = TestApp::with_limits(Limits {
        auth_per_minute: 3,
        account_per_minute: 100,
        public_per_minute: 100,
        read_per_minute: 5,
        write_per_minute: 5,
    })
    .await;
    let ada = app.member("ada@example.com").await;
    for _ in 0..5 {
        assert_eq!(
            app.get("/api/v1/me", &ada.auth()).await.status,
            StatusCode::OK
        );
    }
    let limited = app.get("/api/v1/me", &ada.auth()).await;
    limited.problem(429);
    let retry: u64 = limited
        .headers
        .get(header::RETRY_AFTER)
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    for _ in 0..2 {
        app.post(
            "/api/v1/auth/sign-in",
            json!({"email": "x@y.io", "password": "0123456789"}),
            &As::Anonymous,
        )
        .await;
    }
    app.post(
        "/api/v1/auth/sign-in",
        json!({"email": "x@y.io", "password": "0123456789"}),
        &As::Anonymous,
    )
    .await
    .problem(429);
}

#[tokio::test]
async fn request_ids_are_echoed_and_metrics_count_routes() {
    let app = TestApp::spawn().await;
    let request = Request::builder()
        .uri("/healthz")
        .header("x-request-id", "abc-123")
        .body(Body::empty())
        .unwrap();
    let reply = app.raw(request).await;
    assert_eq!(reply.headers.get("x-request-id").unwrap(), "abc-123");
    let fresh = app.get("/healthz", &As::Anonymous).await;
    assert_eq!(fresh.headers.get("x-request-id").unwrap().len(), 36);
    let metrics = app
        .send_from(Method::GET, "/metrics", None, "127.0.0.1:9000", &[])
        .await;
    let text = metrics.body.as_str().unwrap();
    assert!(
        text.contains(
            r#"everreach_http_requests_total{method="GET",route="/healthz",status="200"} 2"#
        ),
        "{text}"
    );
    assert!(text.contains("everreach_db_pool_connections"), "{text}");
    everreach_core::jobs::create_queue(&app.db.app, "metrics.check")
        .await
        .unwrap();
    let mut tx = app.db.app.begin().await.unwrap();
    everreach_core::jobs::send(&mut tx, "metrics.check", &json!({}), &Default::default())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let metrics = app
        .send_from(Method::GET, "/metrics", None, "[::1]:9000", &[])
        .await;
    let text = metrics.body.as_str().unwrap();
    assert!(
        text.contains(r#"everreach_jobs_live{queue="metrics.check",state="created"} 1"#),
        "{text}"
    );
}

#[tokio::test]
async fn metrics_are_for_the_operator_only() {
    let open = TestApp::spawn().await;
    open.get("/metrics", &As::Anonymous).await.problem(401);
    open.send_from(Method::GET, "/metrics", None, "203.0.113.5:9000", &[])
        .await
        .problem(401);
    let with_token =
        TestApp::spawn_with(|s| s.with_metrics_token(Some("operator-secret-1".into()))).await;
    with_token
        .send_from(Method::GET, "/metrics", None, "127.0.0.1:9000", &[])
        .await
        .problem(401);
    with_token
        .send_from(
            Method::GET,
            "/metrics",
            None,
            "203.0.113.5:9000",
            &[("authorization", "Bearer operator-secret-2")],
        )
        .await
        .problem(401);
    let ok = with_token
        .send_from(
            Method::GET,
            "/metrics",
            None,
            "203.0.113.5:9000",
            &[("authorization", "Bearer operator-secret-1")],
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
}

#[tokio::test]
async fn the_client_limit_counts_ipv6_per_64_and_trusts_forwarded_for_only_from_proxies() {
    let limits = Limits {
        auth_per_minute: 2,
        account_per_minute: 100,
        public_per_minute: 100,
        read_per_minute: 100,
        write_per_minute: 100,
    };
    let app = TestApp::with_limits(limits).await;
    let try_from = |peer: &'static str, forwarded: &'static str| {
        let app = &app;
        async move {
            let headers: Vec<(&str, &str)> = if forwarded.is_empty() {
                vec![]
            } else {
                vec![("x-forwarded-for", forwarded)]
            };
            app.send_from(
                Method::POST,
                "/api/v1/auth/sign-in",
                Some(json!({"email": "x@example.com", "password": "nope"})),
                peer,
                &headers,
            )
            .await
            .status
        }
    };
    // One /64, several addresses: one bucket.
    assert_eq!(
        try_from("[2001:db8:0:1::1]:1", "").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        try_from("[2001:db8:0:1::2]:1", "").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        try_from("[2001:db8:0:1::3]:1", "").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // A client that is no proxy cannot pick its own address with X-Forwarded-For.
    assert_eq!(
        try_from("198.51.100.7:1", "192.0.2.1").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        try_from("198.51.100.7:1", "192.0.2.2").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        try_from("198.51.100.7:1", "192.0.2.3").await,
        StatusCode::TOO_MANY_REQUESTS
    );

    let proxies = everreach_api::rate_limit::TrustedProxies::parse("10.0.0.0/8").unwrap();
    let behind = TestApp::build_with_limits(limits, move |s| s.with_trusted_proxies(proxies)).await;
    let via_proxy = |forwarded: &'static str| {
        let behind = &behind;
        async move {
            behind
                .send_from(
                    Method::POST,
                    "/api/v1/auth/sign-in",
                    Some(json!({"email": "x@example.com", "password": "nope"})),
                    "10.0.0.2:1",
                    &[("x-forwarded-for", forwarded)],
                )
                .await
                .status
        }
    };
    for client in ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"] {
        assert_eq!(
            via_proxy(client).await,
            StatusCode::UNAUTHORIZED,
            "{client} has its own bucket"
        );
    }
    assert_eq!(via_proxy("192.0.2.1").await, StatusCode::UNAUTHORIZED);
    assert_eq!(via_proxy("192.0.2.1").await, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn readyz_answers_200_when_migrated() {
    let app = TestApp::spawn().await;
    let ready = app.get("/readyz", &As::Anonymous).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.body["status"], "ready");
}
