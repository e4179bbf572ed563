//! The import journey: a new user uploads a small Instagram export on the Imports
//! page → watches it while the worker imports it → reads the report with its
//! rejected files → the new contacts are in the Inbox and on People.

use crate::{Browser, Server, needs, scratch_dir};

#[tokio::test]
async fn an_uploaded_instagram_export_is_imported_reported_and_its_contacts_appear() {
    let Some(Some(tools)) = needs("imports", true) else {
        return;
    };
    let server = Server::start().await;
    let mut b = Browser::open(&tools, &server, 120, 130).await;
    b.go("/first-run").await;
    b.fill("[name=name]", "Cleo Park").await;
    b.fill("[name=email]", "cleo@example.com").await;
    b.fill("[name=password]", "imports are everything 42").await;
    b.click("button[type=submit]").await;
    b.until_path("the people list after signing up", |p| {
        p.starts_with("/people")
    })
    .await;

    b.go("/imports").await;
    assert!(b.text("main").await.contains("No imports yet"));
    b.check("imports-empty").await;

    // Upload without a file: the problem is beside the file input.
    b.click("main form button[type=submit]").await;
    b.find("#file-error").await;
    b.check("imports-error").await;

    let zip = scratch_dir("imports").join("instagram-cleo.zip");
    everreach_testkit::files::zip_dir(&everreach_testkit::files::instagram_export(), &zip).unwrap();
    b.find("#f-file")
        .await
        .send_keys(&zip.display().to_string())
        .await
        .unwrap();
    b.click("main form button[type=submit]").await;
    b.until_path("the import's page", |p| p.starts_with("/imports/"))
        .await;
    // The worker imports it; the page follows without a reload.
    for _ in 0..100 {
        if b.text("#import-progress").await.contains("Imported") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let report = b.text("#import-progress").await;
    assert!(
        report.contains("Imported") && report.contains("Created"),
        "{report}"
    );
    assert!(b.text("main").await.contains("not an Instagram thread"));
    b.check("import-report").await;

    b.go("/inbox").await;
    let inbox = b.text(".conversations").await;
    assert!(
        inbox.contains("Júlia Ribeiro") && inbox.contains("Sam Builds"),
        "{inbox}"
    );
    b.go("/people").await;
    let people = b.text("main").await;
    assert!(people.contains("Júlia Ribeiro"), "{people}");
    b.close().await;
}
