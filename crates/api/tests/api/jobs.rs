//! A company admin sees and handles the jobs acting for the company, no one else's.

use axum::http::{Method, StatusCode};
use everreach_core::accounts::Role;
use everreach_core::jobs::{self, SendOptions};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::TestApp;

async fn failed_job(app: &TestApp, user: Uuid) -> Uuid {
    jobs::create_queue(&app.db.app, "insights.recompute")
        .await
        .unwrap();
    let mut tx = app.db.app.begin().await.unwrap();
    let opts = SendOptions {
        retry_limit: 0,
        ..SendOptions::for_user(user)
    };
    let id = jobs::send(&mut tx, "insights.recompute", &json!({"person": 1}), &opts)
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    jobs::fetch(&app.db.app, "insights.recompute", 10)
        .await
        .unwrap();
    jobs::fail(&app.db.app, &[(id, "the model timed out".into())])
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn an_admin_lists_retries_and_cancels_the_companys_jobs_only() {
    let app = TestApp::spawn().await;
    let ada = app.member("ada@example.com").await;
    let bob = app.member("bob@example.com").await;
    let mine = failed_job(&app, ada.id).await;
    let theirs = failed_job(&app, bob.id).await;

    let listed = app.get("/api/v1/jobs?state=failed", &ada.auth()).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let ids: Vec<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![mine.to_string()]);
    assert_eq!(
        listed.body["items"][0]["output"]["error"],
        "the model timed out"
    );

    let retried = app
        .send(
            Method::POST,
            &format!("/api/v1/jobs/{mine}/retry"),
            None,
            &ada.auth(),
        )
        .await;
    assert_eq!(retried.body["job"]["state"], "retry", "{}", retried.body);
    app.send(
        Method::POST,
        &format!("/api/v1/jobs/{mine}/retry"),
        None,
        &ada.auth(),
    )
    .await
    .problem(409);
    let cancelled = app
        .send(
            Method::POST,
            &format!("/api/v1/jobs/{mine}/cancel"),
            None,
            &ada.auth(),
        )
        .await;
    assert_eq!(cancelled.body["job"]["state"], "cancelled");
    app.send(
        Method::POST,
        &format!("/api/v1/jobs/{theirs}/retry"),
        None,
        &ada.auth(),
    )
    .await
    .problem(404);
    assert_eq!(
        app.get("/api/v1/jobs?state=sleeping", &ada.auth())
            .await
            .problem(422)["errors"][0]["field"],
        "/state"
    );
    let manager = app.member_with_role("max@example.com", Role::Manager).await;
    app.get("/api/v1/jobs", &manager.auth()).await.problem(403);
}
