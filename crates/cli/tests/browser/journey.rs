//! A newcomer's first session, end to end, every page checked on the way.

use std::time::Instant;

use fantoccini::Locator;
use serde_json::Value;

use crate::{Browser, Server, curl, fixture, needs};

const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "analytical engine 1843";

#[tokio::test]
async fn a_newcomer_signs_up_imports_finds_merges_undoes_and_uses_a_token() {
    let Some(Some(tools)) = needs("journey", true) else {
        return;
    };
    let started = Instant::now();
    let server = Server::start().await;
    let mut b = Browser::open(&tools, &server, 1, 80).await;

    // First run: with nobody signed up yet, the start page is the first account's form.
    b.go("/").await;
    b.until_path("/ to lead to /first-run", |p| p == "/first-run")
        .await;
    b.check("first-run").await;
    b.click("button[type=submit]").await;
    let summary = b.text(".error-summary").await;
    assert!(summary.contains("E-mail address"), "{summary}");
    b.check("first-run-errors").await;
    b.fill("[name=name]", "Ada Lovelace").await;
    b.fill("[name=email]", EMAIL).await;
    b.fill("[name=password]", PASSWORD).await;
    b.click("button[type=submit]").await;
    b.until_path("the people list after the first run", |p| {
        p.starts_with("/people")
    })
    .await;
    assert!(b.absent("#people-table").await, "nobody is there yet");
    let empty = b.text("#people-results").await;
    assert!(empty.contains("No people yet"), "{empty}");
    b.check("people-empty").await;

    // A small events file imported with the CLI: six people, two of them one human
    // (@julia.souza on Instagram, @juliasouza on X).
    server.import(&fixture("journey.jsonl"), EMAIL);
    b.go("/people").await;
    let list = b.text("#people-table").await;
    for name in ["Júlia Souza", "Julia Souza", "Marco Rossi", "Priya Nair"] {
        assert!(list.contains(name), "{name} is listed: {list}");
    }
    b.check("people").await;

    // Handles are searchable once the background match-keys job has indexed them.
    b.until("the match-keys job to index the handles", async || {
        b.go("/people?q=julia.so").await;
        (!b.absent("#people-results a.row-link").await).then_some(())
    })
    .await;

    // Typing part of a handle updates the results in place (htmx) and the URL.
    b.go("/people").await;
    b.fill("#people-search", "julia.so").await;
    b.until_path("the search to reach the URL", |p| p.contains("q=julia.so"))
        .await;
    let julia = "//*[@id='people-results']//a[contains(@class, 'row-link') and normalize-space()='Júlia Souza']";
    b.until("Júlia Souza among the results", async || {
        b.client.find(Locator::XPath(julia)).await.ok()
    })
    .await;
    let results = b.text("#people-results").await;
    assert!(!results.contains("Marco Rossi"), "{results}");
    b.check("people-search").await;

    // Her page suggests merging the X account into her (the job may still be running).
    b.client
        .find(Locator::XPath(julia))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let person = b
        .until_path("the person page", |p| p.starts_with("/people/"))
        .await;
    b.until("a merge suggestion", async || {
        if b.absent("#suggestions button[data-action=merge]").await {
            b.go(&person).await;
            return None;
        }
        Some(())
    })
    .await;
    let suggestions = b.text("#suggestions").await;
    assert!(
        suggestions.contains("Julia Souza") && suggestions.contains("Same handle"),
        "the other person and the evidence: {suggestions}"
    );
    b.check("person").await;

    // Merge: an undo banner. Undo: the page says so, and both are listed again.
    b.click("#suggestions button[data-action=merge]").await;
    let banner = b.text("#undo-banner").await;
    assert!(banner.contains("Julia Souza"), "{banner}");
    let merged = b.path().await;
    assert!(merged.contains("merged="), "{merged}");
    b.check("person-merged").await;
    b.click("#undo-banner button[data-action=undo]").await;
    b.until_path("the undo", |p| p.contains("done=undone"))
        .await;
    let notice = b.text("main").await;
    assert!(notice.contains("undone"), "the page says it: {notice}");
    assert!(b.absent("#undo-banner").await);
    b.check("person-undone").await;
    b.go("/people").await;
    let list = b.text("#people-table").await;
    assert!(
        list.contains("Júlia Souza") && list.contains("Julia Souza"),
        "{list}"
    );
    let mut two = Vec::new();
    for link in b
        .client
        .find_all(Locator::Css("#people-table a.row-link"))
        .await
        .unwrap()
        .into_iter()
        .take(2)
    {
        let href = link.attr("href").await.unwrap().unwrap_or_default();
        two.push(href.trim_start_matches("/people/").to_string());
    }
    b.check("people-after-undo").await;

    // An API token, shown once, works with curl.
    b.go("/settings/tokens").await;
    b.check("tokens").await;
    b.fill("form[action='/settings/tokens'] [name=name]", "curl")
        .await;
    b.click("form[action='/settings/tokens'] button[type=submit]")
        .await;
    let token = b.find("#new-token").await.prop("value").await.unwrap();
    let token = token.unwrap_or_default();
    assert!(
        token.starts_with("er_"),
        "#new-token holds the token: {token:?}"
    );
    b.check("token-created").await;
    let me = curl(&[
        "-H",
        &format!("Authorization: Bearer {token}"),
        &server.url("/api/v1/me"),
    ]);
    assert_eq!(me.status, 200, "{}", me.body);
    let me: Value = serde_json::from_str(&me.body).unwrap();
    assert_eq!(me["user"]["email"], EMAIL, "{me}");

    // The other signed-in pages, each checked.
    for (page, path) in [
        ("activity", "/activity".to_string()),
        ("jobs", "/jobs".to_string()),
        ("settings", "/settings".to_string()),
        ("settings-company", "/settings/company".to_string()),
        ("person-erase", format!("{person}/erase")),
        (
            "merge-preview",
            format!("/people/merge?ids={}&ids={}", two[0], two[1]),
        ),
        ("not-found", "/no-such-page".to_string()),
    ] {
        b.go(&path).await;
        b.find("main h1").await;
        if page == "person-erase" {
            let heading = b.text("main h1").await;
            assert!(
                heading.contains("Júlia Souza"),
                "names the person: {heading}"
            );
        }
        b.check(page).await;
    }

    // Sign out, and back in where the visitor was going.
    b.go("/settings").await;
    b.click("form[action='/sign-out'] button[type=submit]")
        .await;
    b.until_path("the sign-in page after signing out", |p| {
        p.starts_with("/sign-in")
    })
    .await;
    b.check("signed-out").await;
    for (page, path) in [
        ("sign-up", "/sign-up"),
        ("reset-password", "/reset-password"),
    ] {
        b.go(path).await;
        b.find("main h1").await;
        b.check(page).await;
    }
    b.go("/people").await;
    b.until_path("/people to ask for a sign-in", |p| {
        p.starts_with("/sign-in?next=")
    })
    .await;
    b.fill("[name=email]", EMAIL).await;
    b.fill("[name=password]", PASSWORD).await;
    b.click("button[type=submit]").await;
    b.until_path("the people list after signing in", |p| p == "/people")
        .await;
    b.find("#people-table").await;
    b.check("signed-in").await;

    b.close().await;
    eprintln!("the journey took {:.1} s", started.elapsed().as_secs_f64());
}
