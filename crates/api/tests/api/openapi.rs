//! The OpenAPI document: 3.1, in step with the committed `docs/openapi.json`, served
//! with Swagger UI, and every path it lists is a real route; every operation declares
//! the answers it can give (what `scripts/fuzz-api` checks against a running server),
//! and the answers that fuzzing found undeclared are what the document says.

use axum::http::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{As, TestApp};

fn snapshot_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

async fn document() -> utoipa::openapi::OpenApi {
    let db = everreach_testkit::TestDb::new().await;
    let catalog = everreach_core::resources::Catalog::load(&db.app)
        .await
        .unwrap();
    everreach_api::openapi::document(&catalog)
}

#[tokio::test]
async fn the_document_matches_the_committed_snapshot() {
    let document = everreach_api::openapi::to_json(&document().await);
    let json = serde_json::to_string_pretty(&document).unwrap() + "\n";
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(
        value["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        value["openapi"]
    );
    if std::env::var_os("EVERREACH_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(snapshot_path(), &json).unwrap();
    }
    let committed = std::fs::read_to_string(snapshot_path()).unwrap_or_default();
    assert!(
        committed == json,
        "docs/openapi.json is out of date: run `EVERREACH_UPDATE_SNAPSHOTS=1 cargo test -p everreach-api --test api openapi` and commit it"
    );
}

#[tokio::test]
async fn every_documented_path_is_routed_and_the_document_is_served() {
    let app = TestApp::spawn().await;
    let document = serde_json::to_value(document().await).unwrap();
    let paths = document["paths"].as_object().unwrap();
    let mut ids: Vec<&str> = paths
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|op| op["operationId"].as_str())
        .collect();
    let all = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all, "operation ids must be unique");
    assert!(paths.len() >= 11 + 2 * 48, "{} paths", paths.len());
    for (path, item) in paths {
        if path.contains("{token}") {
            // A token not signed here is a 404 by design; people.rs follows real ones.
            continue;
        }
        let concrete = path.replace("{id}", "00000000-0000-0000-0000-000000000000");
        for method in item.as_object().unwrap().keys() {
            let method: Method = method.to_uppercase().parse().unwrap();
            let reply = app
                .send(method.clone(), &concrete, None, &As::Anonymous)
                .await;
            let fell_through = reply.body["type"] == "https://everreach.dev/problems/not-found"
                || reply.status == StatusCode::METHOD_NOT_ALLOWED;
            assert!(
                !fell_through || concrete.ends_with("openapi.json"),
                "{method} {path} is documented but not routed"
            );
        }
    }
    let served = app.get("/api/v1/openapi.json", &As::Anonymous).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.body["info"]["title"], "EverReach API");
    let ui = app.get("/api/docs/", &As::Anonymous).await;
    assert_eq!(ui.status, StatusCode::OK);
    assert!(
        ui.body.as_str().unwrap_or_default().contains("swagger"),
        "Swagger UI is served from the binary"
    );
}

/// `value`, or what its `$ref` points at in `document`.
fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str().and_then(|r| r.strip_prefix("#/")) {
        Some(pointer) => pointer.split('/').fold(document, |v, part| &v[part]),
        None => value,
    }
}

/// Every operation under /api/v1 declares the answers it shares with others, each
/// error as application/problem+json.
#[tokio::test]
async fn every_operation_declares_the_answers_it_can_give() {
    let document = serde_json::to_value(document().await).unwrap();
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let label = format!("{method} {path}");
            let responses = op["responses"].as_object().unwrap();
            for (status, response) in responses {
                let response = resolve(&document, response);
                if status.starts_with('4') || status.starts_with('5') {
                    let types: Vec<&String> =
                        response["content"].as_object().unwrap().keys().collect();
                    assert_eq!(
                        types,
                        ["application/problem+json"],
                        "{label} {status} is problem+json"
                    );
                }
            }
            if !path.starts_with("/api/v1/") {
                continue;
            }
            checked += 1;
            let declares = |status: &str, why: &str| {
                assert!(
                    responses.contains_key(status),
                    "{label} does not declare {status} ({why})"
                );
            };
            declares("429", "every route is rate limited");
            assert!(
                resolve(&document, &responses["429"])["headers"]
                    .as_object()
                    .is_some_and(|h| h.contains_key("Retry-After")),
                "{label}: 429 says Retry-After"
            );
            declares("500", "anything can fail");
            declares("503", "the database can be away");
            if op.get("requestBody").is_some() {
                for status in ["400", "413", "415", "422"] {
                    declares(status, "it takes a JSON body");
                }
            }
            let parameters: Vec<&Value> = op["parameters"]
                .as_array()
                .map(|ps| ps.iter().map(|p| resolve(&document, p)).collect())
                .unwrap_or_default();
            if parameters.iter().any(|p| p["in"] == "query") {
                declares("422", "a query parameter can be wrong");
            }
            if parameters.iter().any(|p| p["in"] == "path") {
                declares("404", "a path names a row");
            }
            let signed_in = op.get("security").is_none();
            if signed_in {
                declares("401", "it needs sign-in");
            }
            if signed_in && method != "get" {
                declares("403", "viewers cannot write");
            }
            if signed_in && method == "post" {
                assert!(
                    parameters.iter().any(|p| p["name"] == "Idempotency-Key"),
                    "{label} takes an Idempotency-Key"
                );
            }
        }
    }
    assert!(checked > 250, "{checked} operations");
    let public = &document["paths"]["/api/v1/auth/sign-in"]["post"];
    assert_eq!(
        public["security"],
        json!([]),
        "sign-in needs no credentials"
    );
}

/// Every `next_cursor` (generic lists and the hand-written pages) may be null, and
/// every nullable column of a resource may come back null; jsonb is any JSON value.
#[tokio::test]
async fn list_cursors_and_nullable_columns_accept_null() {
    fn accepts_null(schema: &Value) -> bool {
        match &schema["type"] {
            Value::Null => schema.get("$ref").is_none(),
            Value::String(t) => t == "null",
            Value::Array(types) => types.iter().any(|t| t == "null"),
            _ => false,
        }
    }
    fn cursors<'a>(value: &'a Value, found: &mut Vec<&'a Value>) {
        match value {
            Value::Object(map) => {
                if let Some(c) = map.get("properties").and_then(|p| p.get("next_cursor")) {
                    found.push(c);
                }
                map.values().for_each(|v| cursors(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| cursors(v, found)),
            _ => {}
        }
    }
    let db = everreach_testkit::TestDb::new().await;
    let catalog = everreach_core::resources::Catalog::load(&db.app)
        .await
        .unwrap();
    let document = everreach_api::openapi::to_json(&everreach_api::openapi::document(&catalog));
    let mut found = Vec::new();
    cursors(&document, &mut found);
    assert!(found.len() >= 47 + 5, "{} lists", found.len());
    for cursor in found {
        assert!(
            accepts_null(cursor),
            "next_cursor must accept null: {cursor}"
        );
    }
    let schemas = &document["components"]["schemas"];
    let mut nullable = 0;
    for resource in &catalog.resources {
        let out = schemas
            .as_object()
            .unwrap()
            .iter()
            .find(|(name, s)| {
                name.ends_with("Out")
                    && resource
                        .visible()
                        .all(|c| s["properties"].get(&c.name).is_some())
                    && s["properties"].as_object().unwrap().len() == resource.visible().count()
            })
            .map(|(_, s)| s)
            .unwrap_or_else(|| panic!("no Out schema for {}", resource.path));
        for column in resource.visible().filter(|c| !c.not_null) {
            nullable += 1;
            assert!(
                accepts_null(&out["properties"][&column.name]),
                "{}.{} is nullable: {}",
                resource.path,
                column.name,
                out["properties"][&column.name]
            );
        }
    }
    assert!(nullable > 150, "{nullable} nullable columns");
    // jsonb holds any JSON: arrays come back where the seed's default is '[]'
    let contact = &schemas["InstagramContactOut"]["properties"]["fit_signals"];
    assert!(contact.get("type").is_none(), "{contact}");
}

/// A number PostgreSQL stores but cannot give back (at the float limit) is refused
/// before the write, naming where it is, instead of a 500 on every later read.
#[tokio::test]
async fn a_number_the_database_cannot_give_back_is_a_422_naming_it() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let body: Value = serde_json::from_str(
        r#"{"name": "x", "config": {}, "memory": {"a": 1.7976931348623157e+308}}"#,
    )
    .unwrap();
    let reply = app.post("/api/v1/ai-agents", body, &alice.auth()).await;
    assert_eq!(reply.problem(422)["errors"][0]["field"], "/memory/a");
    let list = app.get("/api/v1/ai-agents", &alice.auth()).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_eq!(list.body["items"], json!([]), "nothing was stored");
    let event = app
        .post(
            "/api/v1/person-events",
            json!({"identity": {"channel": "instagram", "handle": "ada"}, "event_type": "liked",
                   "metadata": {"score": [1, -1.7976931348623157e308]}}),
            &alice.auth(),
        )
        .await;
    assert_eq!(
        event.problem(422)["errors"][0]["field"],
        "/metadata/score/1"
    );
    // and what the database refuses is said in our words, not PostgreSQL's
    let refused = app
        .post(
            "/api/v1/analytics-events",
            json!({"event_type": "x", "ip_address": "not an address"}),
            &alice.auth(),
        )
        .await;
    let problem = refused.problem(422).to_string();
    assert!(
        !problem.contains("inet") && !problem.contains("syntax"),
        "{problem}"
    );
}

/// A query parameter of the wrong type, or a missing one, is a 422 problem naming
/// it, not axum's plain-text 400.
#[tokio::test]
async fn a_bad_query_parameter_is_a_problem_naming_it() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    for (path, field) in [
        ("/api/v1/audit-log?limit=x", "/limit"),
        ("/api/v1/people/merges?person_id=nope", "/person_id"),
        (
            "/api/v1/people/merge-suggestions?limit=99999999999999999999",
            "/limit",
        ),
        ("/api/v1/events?since=yesterday", "/since"),
        ("/api/v1/identities?limit=x", "/limit"),
        ("/api/v1/track/click/abc", "/u"),
    ] {
        let reply = app.get(path, &alice.auth()).await;
        assert_eq!(reply.problem(422)["errors"][0]["field"], field, "{path}");
    }
}

/// A generic operation a domain refuses is a 405 that says why and, in `Allow`,
/// exactly the methods the path does serve (the refused one is not among them).
#[tokio::test]
async fn a_refused_method_says_what_is_allowed() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let id = "00000000-0000-0000-0000-000000000000";
    for (method, path, allow) in [
        (
            Method::PATCH,
            format!("/api/v1/person-events/{id}"),
            "DELETE,GET,HEAD",
        ),
        (
            Method::PATCH,
            format!("/api/v1/outbound-messages/{id}"),
            "DELETE,GET,HEAD",
        ),
        (
            Method::PATCH,
            format!("/api/v1/person-insights/{id}"),
            "GET,HEAD",
        ),
        (
            Method::OPTIONS,
            format!("/api/v1/person-insights/{id}"),
            "GET,HEAD",
        ),
        (
            Method::POST,
            "/api/v1/person-insights".to_string(),
            "GET,HEAD",
        ),
    ] {
        let reply = app
            .send(method.clone(), &path, Some(json!({})), &alice.auth())
            .await;
        let detail = reply.problem(405)["detail"].as_str().unwrap().to_string();
        if method != Method::OPTIONS {
            assert!(
                detail.contains("insights") || detail.contains("delete"),
                "{detail}"
            );
        }
        let mut methods: Vec<&str> = reply
            .headers
            .get(header::ALLOW)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .collect();
        methods.sort_unstable();
        assert_eq!(methods.join(","), allow, "{method} {path}");
    }
}

/// What the document refuses, the server refuses: an array where an object is
/// declared (serde would fill a struct from it by position), an Idempotency-Key
/// with a space.
#[tokio::test]
async fn input_outside_the_document_is_refused() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let reply = app
        .send(
            Method::PATCH,
            "/api/v1/me",
            Some(json!([null, null])),
            &alice.auth(),
        )
        .await;
    assert_eq!(reply.problem(422)["errors"][0]["field"], "/");
    let request = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/api/v1/auth/sign-out-everywhere")
        .header(header::AUTHORIZATION, format!("Bearer {}", alice.token))
        .header("idempotency-key", "two words")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(
        app.raw(request).await.problem(422)["errors"][0]["field"],
        "/Idempotency-Key"
    );
}
