//! `TestApp`: a migrated database, the app's router over it, and typed helpers so
//! tests read like what a user does.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use everreach_api::rate_limit::Limits;
use everreach_api::{AppState, router};
use everreach_core::accounts::{Role, store};
use everreach_core::db::Database;
use everreach_testkit::TestDb;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

pub struct TestApp {
    pub db: TestDb,
    router: Router,
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts the RFC 9457 shape and returns the problem.
    pub fn problem(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(
            self.content_type(),
            "application/problem+json",
            "{}",
            self.body
        );
        assert_eq!(self.body["status"], status);
        assert!(
            self.body["type"]
                .as_str()
                .unwrap()
                .starts_with("https://everreach.dev/problems/")
        );
        assert!(
            self.body["title"].is_string() && self.body["detail"].is_string(),
            "{}",
            self.body
        );
        &self.body
    }
}

/// How a request is authenticated.
#[derive(Debug, Clone)]
pub enum As {
    Anonymous,
    Token(String),
    Cookie(String),
}

/// A signed-up user with an API token.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: Uuid,
    pub email: String,
    pub password: String,
    pub token: String,
}

impl Member {
    pub fn auth(&self) -> As {
        As::Token(self.token.clone())
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::with_limits(Limits {
            auth_per_minute: 10_000,
            account_per_minute: 10_000,
            public_per_minute: 10_000,
            read_per_minute: 100_000,
            write_per_minute: 100_000,
        })
        .await
    }

    pub async fn with_limits(limits: Limits) -> TestApp {
        TestApp::build(limits, |s| s).await
    }

    /// An app whose state `configure` adjusts first (metrics token, proxies, mailer).
    pub async fn spawn_with(configure: impl FnOnce(AppState) -> AppState) -> TestApp {
        TestApp::build(
            Limits {
                auth_per_minute: 10_000,
                account_per_minute: 10_000,
                public_per_minute: 10_000,
                read_per_minute: 100_000,
                write_per_minute: 100_000,
            },
            configure,
        )
        .await
    }

    /// An app with these limits whose state `configure` adjusts first.
    pub async fn build_with_limits(
        limits: Limits,
        configure: impl FnOnce(AppState) -> AppState,
    ) -> TestApp {
        TestApp::build(limits, configure).await
    }

    async fn build(limits: Limits, configure: impl FnOnce(AppState) -> AppState) -> TestApp {
        let db = TestDb::new().await;
        let database = Database {
            admin: db.admin.clone(),
            app: db.app.clone(),
            target: db.target.clone(),
        };
        let keyring = std::sync::Arc::new(everreach_core::secrets::Keyring::from_raw(
            vec![[7u8; 32]],
            None,
        ));
        let router = router(configure(
            AppState::new(database, keyring, limits).await.unwrap(),
        ));
        TestApp { db, router }
    }

    /// The keyring every test app seals with.
    pub fn keyring() -> everreach_core::secrets::Keyring {
        everreach_core::secrets::Keyring::from_raw(vec![[7u8; 32]], None)
    }

    /// The mails in the outbox to `to`, oldest first, opened.
    pub async fn mails_to(&self, to: &str) -> Vec<everreach_core::platform::mailer::OutboxMail> {
        let mut mails = everreach_core::platform::mailer::read_outbox(
            &self.db.admin,
            &TestApp::keyring(),
            Some(to),
            100,
        )
        .await
        .unwrap();
        mails.reverse();
        mails
    }

    /// The token of the link in the newest mail to `to` that links to `page`.
    pub async fn link_token(&self, to: &str, page: &str) -> String {
        let mails = self.mails_to(to).await;
        let needle = format!("/{page}?token=");
        let body = &mails
            .iter()
            .rev()
            .find(|m| m.body.contains(&needle))
            .unwrap_or_else(|| panic!("no mail to {to} links to /{page}: {mails:?}"))
            .body;
        let start = body.find(&needle).unwrap() + needle.len();
        body[start..]
            .split(|c: char| c.is_whitespace())
            .next()
            .unwrap()
            .to_string()
    }

    /// A request as if it came over a connection from `peer`.
    pub async fn send_from(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        peer: &str,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let mut request = match body {
            Some(b) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => builder.body(Body::empty()),
        }
        .unwrap();
        let addr: std::net::SocketAddr = peer.parse().unwrap();
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(addr));
        self.raw(request).await
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>, auth: &As) -> Reply {
        let mut builder = Request::builder().method(method).uri(path);
        builder = match auth {
            As::Anonymous => builder,
            As::Token(t) => builder.header(header::AUTHORIZATION, format!("Bearer {t}")),
            As::Cookie(c) => builder.header(header::COOKIE, format!("everreach_session={c}")),
        };
        let request = match body {
            Some(b) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => builder.body(Body::empty()),
        }
        .unwrap();
        self.raw(request).await
    }

    /// The response itself, body unread (for streams).
    pub async fn open(&self, request: Request<Body>) -> axum::response::Response {
        self.router.clone().oneshot(request).await.unwrap()
    }

    pub async fn raw(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, auth: &As) -> Reply {
        self.send(Method::GET, path, None, auth).await
    }

    pub async fn post(&self, path: &str, body: Value, auth: &As) -> Reply {
        self.send(Method::POST, path, Some(body), auth).await
    }

    /// Ingests a batch of person events as `who` (it must succeed); the answer.
    pub async fn ingest(&self, who: &Member, events: Vec<Value>) -> Value {
        let r = self
            .post(
                "/api/v1/person-events/batch",
                json!({ "events": events }),
                &who.auth(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body
    }

    /// Signs up `email` and creates an API token for them.
    pub async fn member(&self, email: &str) -> Member {
        let password = "correct horse battery staple".to_string();
        let signed_up = self
            .post(
                "/api/v1/auth/sign-up",
                json!({"email": email, "password": password}),
                &As::Anonymous,
            )
            .await;
        assert_eq!(signed_up.status, StatusCode::CREATED, "{}", signed_up.body);
        let cookie = session_from(&signed_up.headers).unwrap();
        let token = self
            .post(
                "/api/v1/me/api-tokens",
                json!({"name": "tests"}),
                &As::Cookie(cookie),
            )
            .await;
        assert_eq!(token.status, StatusCode::CREATED, "{}", token.body);
        Member {
            id: signed_up.body["user"]["id"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap(),
            email: email.to_string(),
            password,
            token: token.body["token"].as_str().unwrap().to_string(),
        }
    }

    /// A member whose role is `role` (set by the operator path).
    pub async fn member_with_role(&self, email: &str, role: Role) -> Member {
        let m = self.member(email).await;
        assert!(
            store::set_role_as_operator(&self.db.admin, m.id, role)
                .await
                .unwrap()
        );
        m
    }
}

/// The session cookie a response sets.
pub fn session_from(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("everreach_session="))
        .map(|c| c.split(';').next().unwrap_or("").to_string())
        .filter(|c| !c.is_empty())
}
