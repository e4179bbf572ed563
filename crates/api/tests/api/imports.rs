//! Imports by upload: a multipart upload is stored and queued (202), the
//! `imports.run` job imports it with its progress on the row and stores the report,
//! a second upload of the same file adds nothing, and bad uploads are 4xx naming the
//! field. Another tenant's import is a 404.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use everreach_core::imports::store;
use serde_json::Value;

use crate::helpers::{Member, Reply, TestApp};

const BOUNDARY: &str = "everreach-test-boundary";

/// A multipart body of text `fields` and then, when given, a file.
fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    if let Some((name, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/zip\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn upload(app: &TestApp, who: &Member, body: Vec<u8>) -> Reply {
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/imports")
        .header(header::AUTHORIZATION, format!("Bearer {}", who.token))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(Body::from(body))
        .unwrap();
    app.raw(request).await
}

fn export_zip() -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("everreach-api-imports-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let zip = dir.join("instagram.zip");
    everreach_testkit::files::zip_dir(&everreach_testkit::files::instagram_export(), &zip).unwrap();
    std::fs::read(&zip).unwrap()
}

#[tokio::test]
async fn an_uploaded_export_is_imported_by_its_job_and_reported() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let bob = app.member("bob@example.com").await;
    let zip = export_zip();

    // The kind is guessed from the zip; the answer is at once, queued.
    let r = upload(
        &app,
        &alice,
        multipart(&[], Some(("cleo-export.zip", &zip))),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["status"], "queued");
    assert_eq!(r.body["kind"], "instagram");
    assert_eq!(r.body["file_name"], "cleo-export.zip");
    assert_eq!(r.body["file_size"], zip.len());
    let id: uuid::Uuid = r.body["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        r.headers[header::LOCATION],
        format!("/api/v1/imports/{id}").as_str()
    );
    let queued: i64 =
        sqlx::query_scalar("SELECT count(*) FROM jobs WHERE name = $1 AND data->>'import_id' = $2")
            .bind(store::QUEUE)
            .bind(id.to_string())
            .fetch_one(&app.db.admin)
            .await
            .unwrap();
    assert_eq!(queued, 1);

    // The job: imported, progress complete, report stored, the bytes dropped.
    let view = store::run(&app.db.app, alice.id, id).await.unwrap();
    assert_eq!(view.status, "done");
    let r = app
        .get(&format!("/api/v1/imports/{id}"), &alice.auth())
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let report = &r.body["report"];
    assert_eq!(report["created"], 9, "{report}");
    assert_eq!(report["rejected"], 2, "{report}");
    let file = report["problems"][0]["file"].as_str().unwrap();
    assert!(
        file.starts_with("cleo-export.zip:your_instagram_activity/"),
        "problems name the uploaded file, not a scratch path: {file}"
    );
    assert_eq!(r.body["progress_done"], r.body["progress_total"]);
    assert_eq!(r.body["progress_unit"], "files");
    let chunks: i64 = sqlx::query_scalar("SELECT count(*) FROM import_chunks")
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(chunks, 0);
    // Run again (a retried job): left alone.
    assert_eq!(
        store::run(&app.db.app, alice.id, id).await.unwrap().report,
        view.report
    );

    // The same file again, as a dry run: nothing stored, counted as new (not checked
    // against what is stored); then for real: everything already there.
    let r = upload(
        &app,
        &alice,
        multipart(
            &[("kind", "instagram"), ("dry_run", "true")],
            Some(("x.zip", &zip)),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let dry: uuid::Uuid = r.body["id"].as_str().unwrap().parse().unwrap();
    let v = store::run(&app.db.app, alice.id, dry).await.unwrap();
    assert_eq!(v.report.as_ref().unwrap()["dry_run"], true);
    let r = upload(
        &app,
        &alice,
        multipart(&[("kind", "instagram")], Some(("again.zip", &zip))),
    )
    .await;
    let again: uuid::Uuid = r.body["id"].as_str().unwrap().parse().unwrap();
    let v = store::run(&app.db.app, alice.id, again).await.unwrap();
    let report = v.report.unwrap();
    assert_eq!(report["created"], 0, "{report}");
    assert_eq!(report["reasons"]["already imported"], 9, "{report}");
    let messages: i64 = sqlx::query_scalar("SELECT count(*) FROM instagram_messages")
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(messages, 6);

    // The list, newest first; another tenant sees none of it.
    let list = app.get("/api/v1/imports", &alice.auth()).await;
    let ids: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [again.to_string(), dry.to_string(), id.to_string()]);
    assert_eq!(
        app.get(&format!("/api/v1/imports/{id}"), &bob.auth())
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/v1/imports", &bob.auth()).await.body["items"],
        Value::Array(vec![])
    );
}

#[tokio::test]
async fn a_bad_upload_names_its_field_and_a_file_that_is_no_export_fails_saying_why() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let field = |r: &Reply| {
        r.problem(422)["errors"][0]["field"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        field(&upload(&app, &alice, multipart(&[("kind", "instagram")], None)).await),
        "/file"
    );
    assert_eq!(
        field(
            &upload(
                &app,
                &alice,
                multipart(&[("kind", "tarot")], Some(("a.zip", b"PK\x03\x04")))
            )
            .await
        ),
        "/kind"
    );
    assert_eq!(
        field(
            &upload(
                &app,
                &alice,
                multipart(&[("dry_run", "maybe")], Some(("a.zip", b"PK\x03\x04")))
            )
            .await
        ),
        "/dry_run"
    );
    assert_eq!(
        field(&upload(&app, &alice, multipart(&[], Some(("notes.txt", b"hello")))).await),
        "/kind",
        "a file that is not a zip cannot be guessed"
    );
    assert_eq!(
        field(
            &upload(
                &app,
                &alice,
                multipart(&[("colour", "blue")], Some(("a.zip", b"PK")))
            )
            .await
        ),
        "/colour"
    );
    assert_eq!(
        field(
            &upload(
                &app,
                &alice,
                multipart(&[("kind", "instagram")], Some(("empty.zip", b"")))
            )
            .await
        ),
        "/file"
    );
    let json = app
        .post(
            "/api/v1/imports",
            serde_json::json!({"file": "x"}),
            &alice.auth(),
        )
        .await;
    assert_eq!(
        json.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{}",
        json.body
    );
    assert_eq!(
        json.headers[header::CONTENT_TYPE],
        "application/problem+json"
    );
    let none: i64 = sqlx::query_scalar("SELECT count(*) FROM imports")
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(none, 0, "nothing half-written");

    // A file that says it is a zip but is not: the import fails, saying why.
    let r = upload(
        &app,
        &alice,
        multipart(
            &[("kind", "instagram")],
            Some(("fake.zip", b"PK\x03\x04 not really a zip")),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let id: uuid::Uuid = r.body["id"].as_str().unwrap().parse().unwrap();
    let v = store::run(&app.db.app, alice.id, id).await.unwrap();
    assert_eq!(v.status, "failed");
    let error = v.error.unwrap();
    assert!(
        error.starts_with("fake.zip: ") && error.contains("zip"),
        "{error}"
    );

    // A picture guessed as CSV (a comma in its first line): the reason names its
    // "columns", NUL bytes and all, and is stored (PostgreSQL text holds no NUL).
    let jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01,\x00\x00\xff\xdb\n\x00C\x00P7<F";
    let r = upload(&app, &alice, multipart(&[], Some(("file.jpg", jpeg)))).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["kind"], "csv");
    let id: uuid::Uuid = r.body["id"].as_str().unwrap().parse().unwrap();
    let v = store::run(&app.db.app, alice.id, id).await.unwrap();
    assert_eq!(v.status, "failed");
    let error = v.error.unwrap();
    assert!(
        error.starts_with("file.jpg: ") && error.contains("no e-mail or name column"),
        "{error}"
    );
}

#[tokio::test]
async fn csv_and_vcard_uploads_are_guessed_and_imported() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let csv = std::fs::read(everreach_testkit::files::fixture("contacts.csv")).unwrap();
    let r = upload(
        &app,
        &alice,
        multipart(&[("map", "notes=Notes")], Some(("people.csv", &csv))),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["kind"], "csv");
    let id: uuid::Uuid = r.body["id"].as_str().unwrap().parse().unwrap();
    let v = store::run(&app.db.app, alice.id, id).await.unwrap();
    let report = v.report.unwrap();
    assert_eq!(report["created"], 3, "{report}");
    assert!(
        report["mapping"]
            .as_str()
            .unwrap()
            .contains("notes ← Notes"),
        "{report}"
    );
    let vcf = std::fs::read(everreach_testkit::files::fixture("contacts.vcf")).unwrap();
    let r = upload(&app, &alice, multipart(&[], Some(("people.vcf", &vcf)))).await;
    assert_eq!(r.body["kind"], "vcard", "{}", r.body);
    let id: uuid::Uuid = r.body["id"].as_str().unwrap().parse().unwrap();
    let v = store::run(&app.db.app, alice.id, id).await.unwrap();
    assert_eq!(v.report.unwrap()["created"], 2);
    let people: i64 = sqlx::query_scalar("SELECT count(*) FROM people")
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(people, 5);
}

#[tokio::test]
async fn an_uploaded_mailbox_is_read_as_the_uploaders_own() {
    let app = TestApp::spawn().await;
    // the fixture mailbox is Cleo's: her address says which messages she sent
    let cleo = app.member("cleo@example.com").await;
    let mbox = std::fs::read(everreach_testkit::files::fixture("mail.mbox")).unwrap();
    let r = upload(&app, &cleo, multipart(&[], Some(("All mail.mbox", &mbox)))).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["kind"], "mbox");
    let id: uuid::Uuid = r.body["id"].as_str().unwrap().parse().unwrap();
    let v = store::run(&app.db.app, cleo.id, id).await.unwrap();
    let report = v.report.unwrap();
    assert_eq!(report["created"], 4, "{report}");
    let sent: i64 = sqlx::query_scalar("SELECT count(*) FROM emails WHERE is_sent")
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(sent, 1, "m2 is Cleo's");
    let cleo_contact: i64 =
        sqlx::query_scalar("SELECT count(*) FROM contacts WHERE email = 'cleo@example.com'")
            .fetch_one(&app.db.admin)
            .await
            .unwrap();
    assert_eq!(cleo_contact, 0, "the uploader is not their own contact");
}
