//! Finding people and the duplicates among them, as a user of the people graph:
//! weak evidence across channels, "not the same person" answers that are kept,
//! search by part of a handle, the directory, and paging through all of it.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Member, TestApp};
use crate::people::refresh_match_keys;

const HUMANS: [&str; 10] = [
    "ana.smith",
    "ben.jones",
    "cleo.park",
    "dara.khan",
    "eli.moore",
    "fay.wong",
    "gus.berg",
    "hana.ito",
    "ivan.petrov",
    "jo.marsh",
];

/// 2,000 events about 10 humans, each seen on 4 channels under the same handle stem.
async fn ten_humans_on_four_channels(app: &TestApp, who: &Member) {
    let mut events = Vec::new();
    for i in 0..2_000 {
        let human = HUMANS[i % 10];
        let (channel, handle, name) = match (i / 10) % 4 {
            0 => ("instagram", format!("@{human}"), None),
            1 => ("twitter", human.replace('.', ""), None),
            2 => (
                "email",
                format!("{human}@example.com"),
                Some(human.replace('.', " ")),
            ),
            _ => (
                "linkedin",
                format!("https://www.linkedin.com/in/{}", human.replace('.', "-")),
                None,
            ),
        };
        events.push(
            json!({"identity": {"channel": channel, "handle": handle, "name": name},
                           "event_type": "liked", "platform_id": format!("post-{i}")}),
        );
    }
    let r = app.ingest(who, events).await;
    assert_eq!(r["people_created"], 40);
    refresh_match_keys(app, who).await;
}

/// Every suggestion, following cursors `limit` at a time.
async fn all_suggestions(app: &TestApp, who: &Member, limit: usize) -> Vec<Value> {
    let mut items = Vec::new();
    let mut path = format!("/api/v1/people/merge-suggestions?limit={limit}");
    loop {
        let page = app.get(&path, &who.auth()).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        items.extend(page.body["items"].as_array().unwrap().iter().cloned());
        match page.body["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/people/merge-suggestions?limit={limit}&cursor={c}"),
            None => return items,
        }
    }
}

fn pair(s: &Value) -> (String, String) {
    (
        s["person_a"].as_str().unwrap().into(),
        s["person_b"].as_str().unwrap().into(),
    )
}

#[tokio::test]
async fn one_human_on_four_channels_is_suggested_and_a_dismissed_pair_stays_dismissed() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    ten_humans_on_four_channels(&app, &alice).await;

    let all = all_suggestions(&app, &alice, 25).await;
    assert_eq!(all.len(), 60, "6 pairs among each human's 4 people");
    let pairs: BTreeSet<(String, String)> = all.iter().map(pair).collect();
    assert_eq!(pairs.len(), 60, "pages do not overlap");
    for s in &all {
        assert_eq!(s["evidence"][0]["kind"], "same_handle_stem", "{s}");
        assert_eq!(
            s["score"], 0.55,
            "weak evidence scores below the strong kinds"
        );
    }
    // The e-mail person took its address and the name the channel gave.
    let ana = app
        .get(
            "/api/v1/people/search?q=ana.smith@example.com",
            &alice.auth(),
        )
        .await;
    assert_eq!(
        ana.body["items"][0]["primary_email"], "ana.smith@example.com",
        "{}",
        ana.body
    );
    assert_eq!(ana.body["items"][0]["full_name"], "ana smith");

    let (a, b) = pair(&all[0]);
    let dismissed = app
        .post(
            &format!("/api/v1/people/{b}/not-same"),
            json!({"other_id": a}),
            &alice.auth(),
        )
        .await;
    assert_eq!(
        dismissed.status,
        StatusCode::NO_CONTENT,
        "{}",
        dismissed.body
    );
    app.post(
        &format!("/api/v1/people/{a}/not-same"),
        json!({"other_id": a}),
        &alice.auth(),
    )
    .await
    .problem(422);
    let left = all_suggestions(&app, &alice, 500).await;
    assert_eq!(left.len(), 59);
    assert!(!left.iter().any(|s| pair(s) == (a.clone(), b.clone())));
    // The evidence is gathered again (a later write, the nightly rebuild): still kept.
    refresh_match_keys(&app, &alice).await;
    assert_eq!(all_suggestions(&app, &alice, 500).await.len(), 59);
    let undone = app
        .send(
            Method::DELETE,
            &format!("/api/v1/people/{a}/not-same/{b}"),
            None,
            &alice.auth(),
        )
        .await;
    assert_eq!(undone.status, StatusCode::NO_CONTENT, "{}", undone.body);
    assert_eq!(all_suggestions(&app, &alice, 500).await.len(), 60);
    app.get(
        "/api/v1/people/merge-suggestions?cursor=garbage",
        &alice.auth(),
    )
    .await
    .problem(422);
}

#[tokio::test]
async fn search_finds_people_by_part_of_a_handle_and_the_directory_pages_in_order() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let bob = app.member("bob@example.com").await;
    ten_humans_on_four_channels(&app, &alice).await;

    // Part of a handle: every one of Dara's four people, each with what matched.
    let found = app.get("/api/v1/people/search?q=khan", &alice.auth()).await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    let matched: Vec<&str> = found.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["matched"].as_str().unwrap())
        .collect();
    assert_eq!(matched.len(), 4, "{matched:?}");
    assert!(matched.iter().all(|m| m.contains("khan")), "{matched:?}");
    // From the middle of a handle.
    let middle = app
        .get("/api/v1/people/search?q=rakha", &alice.auth())
        .await;
    assert_eq!(
        middle.body["items"][0]["matched"], "darakhan",
        "{}",
        middle.body
    );
    // A prefix ranks first; a typo still finds by similarity.
    let prefix = app.get("/api/v1/people/search?q=ivan", &alice.auth()).await;
    assert!(
        prefix.body["items"][0]["matched"]
            .as_str()
            .unwrap()
            .starts_with("ivan"),
        "{}",
        prefix.body
    );
    let fuzzy = app
        .get("/api/v1/people/search?q=ivan.petrof", &alice.auth())
        .await;
    assert!(
        !fuzzy.body["items"].as_array().unwrap().is_empty(),
        "{}",
        fuzzy.body
    );
    // Another tenant finds nothing; too short a query is named.
    let theirs = app.get("/api/v1/people/search?q=khan", &bob.auth()).await;
    assert!(theirs.body["items"].as_array().unwrap().is_empty());
    app.get("/api/v1/people/search?q=a", &alice.auth())
        .await
        .problem(422);
    app.get("/api/v1/people/search?sort=loudest", &alice.auth())
        .await
        .problem(422);

    // The directory by name: the ten named people first, A to Z, 7 at a time.
    for sort in ["name", "warmth", "last_active"] {
        let mut seen = Vec::new();
        let mut path = format!("/api/v1/people/search?sort={sort}&limit=7");
        loop {
            let page = app.get(&path, &alice.auth()).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.body);
            seen.extend(page.body["items"].as_array().unwrap().iter().cloned());
            match page.body["next_cursor"].as_str() {
                Some(c) => path = format!("/api/v1/people/search?sort={sort}&limit=7&cursor={c}"),
                None => break,
            }
        }
        let ids: BTreeSet<&str> = seen.iter().map(|p| p["id"].as_str().unwrap()).collect();
        assert_eq!((seen.len(), ids.len()), (40, 40), "{sort}: everyone once");
        if sort == "name" {
            let names: Vec<&str> = seen
                .iter()
                .filter_map(|p| p["full_name"].as_str())
                .collect();
            let mut sorted = names.clone();
            sorted.sort();
            assert_eq!(names, sorted);
            assert_eq!(names.len(), 10);
            assert!(
                seen[10..].iter().all(|p| p["full_name"].is_null()),
                "unnamed last"
            );
        }
    }
}

#[tokio::test]
async fn merges_page_with_cursors() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    ten_humans_on_four_channels(&app, &alice).await;
    let all = all_suggestions(&app, &alice, 500).await;
    // Three merges of three different pairs.
    let mut merged = BTreeSet::new();
    for s in all
        .iter()
        .filter(|s| {
            let (a, b) = pair(s);
            !merged.contains(&a) && !merged.contains(&b)
        })
        .take(3)
        .cloned()
        .collect::<Vec<_>>()
    {
        let (a, b) = pair(&s);
        let r = app
            .post(
                &format!("/api/v1/people/{a}/merge"),
                json!({"other_id": b}),
                &alice.auth(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        merged.insert(a);
        merged.insert(b);
    }
    let first = app
        .get("/api/v1/people/merges?limit=2", &alice.auth())
        .await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 2);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = app
        .get(
            &format!("/api/v1/people/merges?limit=2&cursor={cursor}"),
            &alice.auth(),
        )
        .await;
    assert_eq!(
        second.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        second.body
    );
    assert!(second.body["next_cursor"].is_null());
    let ids: BTreeSet<&str> = first.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second.body["items"].as_array().unwrap())
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
}

#[tokio::test]
async fn a_generic_edit_queues_the_match_keys_of_the_people_it_names() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let r = app
        .ingest(
            &alice,
            vec![
                json!({"identity": {"channel": "instagram", "handle": "grace_h"}, "event_type": "liked", "platform_id": "1"}),
                json!({"identity": {"channel": "twitter", "handle": "admiral_g"}, "event_type": "liked", "platform_id": "2"}),
            ],
        )
        .await;
    let people: Vec<String> = (0..2)
        .map(|i| r["results"][i]["person_id"].as_str().unwrap().to_string())
        .collect();
    sqlx::query("DELETE FROM jobs")
        .execute(&app.db.admin)
        .await
        .unwrap();
    for p in &people {
        let edited = app
            .send(
                Method::PATCH,
                &format!("/api/v1/people/{p}"),
                Some(json!({"full_name": "Grace Hopper", "company": "US Navy"})),
                &alice.auth(),
            )
            .await;
        assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
    }
    // What the worker would run: the queued people.match_keys jobs.
    let queued: Vec<Value> = sqlx::query_scalar(
        "SELECT data->'person_ids' FROM jobs WHERE name = 'people.match_keys' AND user_id = $1",
    )
    .bind(alice.id)
    .fetch_all(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(queued.len(), 2, "one job per edit");
    let mut tx = everreach_core::db::tenant::begin(&app.db.app, alice.id)
        .await
        .unwrap();
    for ids in queued {
        let ids: Vec<uuid::Uuid> = serde_json::from_value(ids).unwrap();
        everreach_core::people::match_keys::refresh(&mut tx, &ids)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let all = all_suggestions(&app, &alice, 50).await;
    assert_eq!(all.len(), 1, "{all:?}");
    let kinds: Vec<&str> = all[0]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["same_name_and_company", "similar_name"]);
}

#[tokio::test]
async fn search_ignores_accents_in_both_directions_and_shows_what_matched_as_stored() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let seen = |channel: &str, handle: &str, name: Option<&str>, id: &str| {
        json!({"identity": {"channel": channel, "handle": handle, "name": name},
               "event_type": "liked", "platform_id": id})
    };
    app.ingest(
        &alice,
        vec![
            seen("email", "j.souza@example.com", Some("Júlia Souza"), "1"),
            seen("instagram", "@jroberts", Some("Julia Roberts"), "2"),
            seen("email", "zoë@example.com", None, "3"),
            seen(
                "linkedin",
                "https://www.linkedin.com/in/josé-garcía",
                None,
                "4",
            ),
            seen("instagram", "@someone_else", Some("Ben Jones"), "5"),
        ],
    )
    .await;
    refresh_match_keys(&app, &alice).await;
    let search = |q: &'static str| {
        let app = &app;
        let alice = &alice;
        async move {
            let found = app
                .get(&format!("/api/v1/people/search?q={q}"), &alice.auth())
                .await;
            assert_eq!(found.status, StatusCode::OK, "{q}: {}", found.body);
            found.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["matched"].as_str().unwrap().to_string())
                .collect::<BTreeSet<String>>()
        }
    };
    let julias = BTreeSet::from(["Júlia Souza".to_string(), "Julia Roberts".to_string()]);
    // An accent in the query or in the name: both Julias, each as stored.
    for q in ["j%C3%BAlia", "julia", "JULIA", "J%C3%9ALIA"] {
        assert_eq!(search(q).await, julias, "{q}");
    }
    // Zoë by her e-mail, typed without the diaeresis, and with it.
    for q in ["zoe", "zo%C3%AB", "ZO%C3%8B"] {
        assert_eq!(
            search(q).await,
            BTreeSet::from(["zoë@example.com".to_string()]),
            "{q}"
        );
    }
    // A handle (a match key): part of it without accents, and in capitals with them.
    for q in ["jose-garcia", "GARC%C3%8DA"] {
        assert_eq!(
            search(q).await,
            BTreeSet::from(["https://www.linkedin.com/in/josé-garcía".to_string()]),
            "{q}"
        );
    }
}
