//! The OpenAPI document: 3.1, in step with the committed `docs/openapi.json`, served
//! with Swagger UI, and every path it lists is a real route.

use axum::http::{Method, StatusCode};

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
    let document = document().await;
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
