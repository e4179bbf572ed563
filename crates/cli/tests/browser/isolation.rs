//! Two users in two browsers on one server: neither ever sees the other's people.

use fantoccini::Locator;

use crate::{Browser, Server, curl, fixture, needs};

const ANN: &str = "ann@example.com";
const BOB: &str = "bob@example.org";
const PASSWORD: &str = "correct horse battery";

/// Signs up through the form at `path` (`/first-run` or `/sign-up`), checking it.
async fn sign_up(b: &mut Browser, path: &str, name: &str, email: &str) {
    b.go(path).await;
    b.find("main h1").await;
    b.check(&format!(
        "{}{}",
        name.to_lowercase(),
        path.replace('/', "-")
    ))
    .await;
    b.fill("[name=name]", name).await;
    b.fill("[name=email]", email).await;
    b.fill("[name=password]", PASSWORD).await;
    b.click("button[type=submit]").await;
    b.until_path("the people list after signing up", |p| {
        p.starts_with("/people")
    })
    .await;
}

/// The status of GET `url` with `session` as the session cookie.
fn status_as(session: &str, url: &str) -> u16 {
    curl(&["-H", &format!("Cookie: everreach_session={session}"), url]).status
}

#[tokio::test]
async fn two_users_never_see_each_others_people() {
    let Some(Some(tools)) = needs("isolation", true) else {
        return;
    };
    let server = Server::start().await;
    let mut ann = Browser::open(&tools, &server, 80, 90).await;
    let mut bob = Browser::open(&tools, &server, 90, 100).await;

    // Ann's people come from an import.
    sign_up(&mut ann, "/first-run", "Ann", ANN).await;
    server.import(&fixture("journey.jsonl"), ANN);
    ann.go("/people").await;
    let link = ann
        .client
        .wait()
        .for_element(Locator::Css("#people-table a.row-link"))
        .await
        .unwrap();
    let person = link.attr("href").await.unwrap().unwrap();
    assert!(person.starts_with("/people/"), "{person}");
    ann.check("ann-people").await;
    ann.go(&person).await;
    ann.find("main h1").await;
    ann.check("ann-person").await;

    // Bob, signed up beside her, has nobody — by list, search, or Ann's URL.
    sign_up(&mut bob, "/sign-up", "Bob", BOB).await;
    assert!(bob.absent("#people-table").await, "Bob's list is empty");
    let list = bob.text("main").await;
    for name in ["Júlia", "Julia", "Marco", "Priya"] {
        assert!(!list.contains(name), "Bob sees {name}: {list}");
    }
    bob.check("bob-people").await;
    bob.go("/people?q=julia").await;
    bob.find("#people-results").await;
    assert!(bob.absent("#people-results a.row-link").await);
    bob.check("bob-search").await;
    bob.go(&person).await;
    let heading = bob.text("main h1").await;
    assert!(
        heading.to_lowercase().contains("not found"),
        "Ann's person is no page of Bob's: {heading}"
    );
    let page = bob.text("main").await;
    assert!(!page.contains("Souza"), "{page}");
    bob.check("bob-not-found").await;

    // The same over HTTP, the pages and the API: 404 for Bob, 200 for Ann.
    let (ann_session, bob_session) = (
        ann.cookie("everreach_session").await,
        bob.cookie("everreach_session").await,
    );
    let id = person.trim_start_matches("/people/");
    for path in [
        person.clone(),
        format!("{person}/timeline"),
        format!("{person}/export"),
        format!("/api/v1/people/{id}"),
    ] {
        let url = server.url(&path);
        assert_eq!(status_as(&bob_session, &url), 404, "Bob: {path}");
        assert_eq!(status_as(&ann_session, &url), 200, "Ann: {path}");
    }

    ann.close().await;
    bob.close().await;
}
