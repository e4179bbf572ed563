//! 001's documented queries as endpoints: each answers what the seed's own SQL,
//! run verbatim under the tenant's row-level security, answers on the same data —
//! and message search is served by the trigram index, not a sequential scan.

use axum::http::StatusCode;
use everreach_core::db::tenant;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Member, TestApp};

/// The seed's SQL, verbatim, as the tenant (rows as JSON, in the seed's order).
async fn seed_sql(app: &TestApp, who: &Member, sql: &str) -> Vec<Value> {
    let mut tx = tenant::begin(&app.db.app, who.id).await.unwrap();
    let rows: Vec<Value> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT to_jsonb(r) FROM ({sql}) r"
    )))
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    rows
}

/// A contact written as the database's owner would (scores set by hand, as test data).
async fn contact(
    app: &TestApp,
    who: &Member,
    username: &str,
    score: i32,
    touched_days_ago: Option<i32>,
) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO instagram_contacts (user_id, instagram_username, display_name, relationship_score,
                                         resonance_score, consent_level, last_meaningful_touch)
         VALUES ($1, $2, initcap($2), $3, $3 / 5, 2, now() - make_interval(days => $4))
         RETURNING id",
    )
    .bind(who.id)
    .bind(username)
    .bind(score)
    .bind(touched_days_ago)
    .fetch_one(&app.db.admin)
    .await
    .unwrap()
}

async fn message(
    app: &TestApp,
    who: &Member,
    contact: Uuid,
    text: &str,
    minutes_ago: i32,
    outbound: bool,
) {
    sqlx::query(
        "INSERT INTO instagram_messages (user_id, contact_id, message_text, is_outbound, sent_at)
         VALUES ($1, $2, $3, $4, now() - make_interval(mins => $5))",
    )
    .bind(who.id)
    .bind(contact)
    .bind(text)
    .bind(outbound)
    .bind(minutes_ago)
    .execute(&app.db.admin)
    .await
    .unwrap();
}

fn usernames(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["instagram_username"].as_str().unwrap().to_string())
        .collect()
}

async fn get(app: &TestApp, who: &Member, path: &str) -> Value {
    let r = app.get(path, &who.auth()).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
    r.body
}

#[tokio::test]
async fn each_endpoint_answers_what_the_seeds_sql_answers() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let bob = app.member("bob@example.com").await;
    // Alice: scores across the bands, touches old and new; Bob's rows must not show.
    let sarah = contact(&app, &alice, "saraheashley", 72, Some(3)).await;
    for (name, score, days) in [
        ("ana", 91, Some(45)),
        ("ben", 65, None),
        ("cai", 58, Some(31)),
        ("dee", 41, Some(2)),
        ("eli", 39, Some(90)),
        ("fay", 12, None),
        ("gus", 60, Some(29)),
    ] {
        contact(&app, &alice, name, score, days).await;
    }
    let bobs = contact(&app, &bob, "zed", 99, None).await;
    message(&app, &alice, sarah, "I use AI for captions", 10, false).await;
    message(&app, &alice, sarah, "no ai here? yes: mAIn", 5, true).await;
    message(&app, &alice, sarah, "nothing to see", 1, false).await;
    message(&app, &bob, bobs, "AI everywhere", 1, false).await;

    // Relationship health, with days_since_touch.
    let seed = seed_sql(
        &app,
        &alice,
        "SELECT instagram_username, display_name, relationship_score, relationship_stage, resonance_score,
                need_clarity_score, value_delivered_score, reliability_score, consent_level,
                EXTRACT(DAY FROM NOW() - last_meaningful_touch) as days_since_touch
           FROM instagram_contacts WHERE instagram_username = 'saraheashley'",
    )
    .await;
    let ours = get(
        &app,
        &alice,
        "/api/v1/instagram-contacts/health?username=@SarahEAshley",
    )
    .await;
    assert_eq!(seed.len(), 1);
    for (k, v) in seed[0].as_object().unwrap() {
        let want = if k == "days_since_touch" {
            json!(v.as_f64().map(|d| d as i64))
        } else {
            v.clone()
        };
        assert_eq!(ours[k], want, "{k}");
    }
    assert_eq!(ours["days_since_touch"], 3);
    let missing = app
        .get(
            "/api/v1/instagram-contacts/health?username=zed",
            &alice.auth(),
        )
        .await;
    assert_eq!(
        missing.status,
        StatusCode::NOT_FOUND,
        "bob's contact is not alice's"
    );

    // Contacts needing attention.
    let seed = seed_sql(
        &app,
        &alice,
        "SELECT instagram_username, display_name, relationship_score, last_meaningful_touch
           FROM instagram_contacts
          WHERE last_meaningful_touch < NOW() - INTERVAL '30 days' OR last_meaningful_touch IS NULL
          ORDER BY relationship_score DESC LIMIT 10",
    )
    .await;
    let ours = get(&app, &alice, "/api/v1/instagram-contacts/needing-attention").await;
    assert_eq!(usernames(ours.as_array().unwrap()), usernames(&seed));
    assert_eq!(usernames(&seed), ["ana", "ben", "cai", "eli", "fay"]);

    // Weekly tasks: the first band in the seed's order, the others as sets (the seed
    // gives them no order).
    let ours = get(&app, &alice, "/api/v1/instagram-contacts/weekly-tasks").await;
    let high = seed_sql(&app, &alice, "SELECT instagram_username FROM instagram_contacts WHERE relationship_score >= 60 ORDER BY relationship_score DESC LIMIT 10").await;
    let mid = seed_sql(&app, &alice, "SELECT instagram_username FROM instagram_contacts WHERE relationship_score >= 40 AND relationship_score < 60 LIMIT 10").await;
    let low = seed_sql(
        &app,
        &alice,
        "SELECT instagram_username FROM instagram_contacts WHERE relationship_score < 40 LIMIT 5",
    )
    .await;
    assert_eq!(
        usernames(ours["micro_wins"].as_array().unwrap()),
        usernames(&high)
    );
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        sorted(usernames(ours["curiosity"].as_array().unwrap())),
        sorted(usernames(&mid))
    );
    assert_eq!(
        sorted(usernames(ours["rewarm"].as_array().unwrap())),
        sorted(usernames(&low))
    );
    assert_eq!(usernames(&high), ["ana", "saraheashley", "ben", "gus"]);

    // Message search.
    let seed = seed_sql(
        &app,
        &alice,
        "SELECT m.message_text, m.is_outbound, m.sent_at, c.instagram_username
           FROM instagram_messages m JOIN instagram_contacts c ON m.contact_id = c.id
          WHERE m.message_text ILIKE '%AI%' ORDER BY m.sent_at DESC LIMIT 20",
    )
    .await;
    let ours = get(&app, &alice, "/api/v1/instagram-messages/search?q=AI").await;
    let texts = |rows: &[Value]| {
        rows.iter()
            .map(|r| r["message_text"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(texts(ours.as_array().unwrap()), texts(&seed));
    assert_eq!(
        texts(&seed),
        ["no ai here? yes: mAIn", "I use AI for captions"]
    );
    assert_eq!(ours[0]["instagram_username"], "saraheashley");
    let pct = get(&app, &alice, "/api/v1/instagram-messages/search?q=%25").await;
    assert_eq!(
        pct.as_array().unwrap().len(),
        0,
        "% is a character to find, not a wildcard"
    );

    // Active fit signals (sign-up seeded 13): the same rows, by product.
    let seed = seed_sql(
        &app,
        &alice,
        "SELECT * FROM fit_signals WHERE is_active = true ORDER BY product",
    )
    .await;
    let ours = get(&app, &alice, "/api/v1/fit-signals/active").await;
    let ids = |rows: &[Value]| {
        let mut v: Vec<String> = rows
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids(ours.as_array().unwrap()), ids(&seed));
    let products = |rows: &[Value]| {
        rows.iter()
            .map(|r| r["product"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(products(ours.as_array().unwrap()), products(&seed));
    assert_eq!(seed.len(), 13);
}

#[tokio::test]
async fn bad_parameters_are_named() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    for (path, field) in [
        (
            "/api/v1/instagram-contacts/needing-attention?days=0",
            "/days",
        ),
        (
            "/api/v1/instagram-contacts/needing-attention?limit=1000",
            "/limit",
        ),
        ("/api/v1/instagram-messages/search?q=%20", "/q"),
        (
            "/api/v1/instagram-contacts/health?username=not%20a%20handle!",
            "/username",
        ),
    ] {
        let r = app.get(path, &alice.auth()).await;
        assert_eq!(
            r.problem(422)["errors"][0]["field"],
            field,
            "{path}: {}",
            r.body
        );
    }
}

#[tokio::test]
async fn message_search_is_served_by_the_trigram_index() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice@example.com").await;
    let grace = contact(&app, &alice, "grace", 50, None).await;
    sqlx::query(
        "INSERT INTO instagram_messages (user_id, contact_id, message_text, is_outbound, sent_at)
         SELECT $1, $2, 'message number ' || g || ' about ' || (ARRAY['pricing','launch','hiring','design'])[1 + g % 4],
                g % 2 = 0, now() - make_interval(mins => g)
           FROM generate_series(1, 100000) g",
    )
    .bind(alice.id)
    .bind(grace)
    .execute(&app.db.admin)
    .await
    .unwrap();
    message(&app, &alice, grace, "the pier at dawn", 0, false).await;
    sqlx::query("ANALYZE instagram_messages")
        .execute(&app.db.admin)
        .await
        .unwrap();

    // The function's own body, planned as it runs (its owner bypasses row-level
    // security; the tenant comes from app.user_id).
    let body: String = sqlx::query_scalar(
        "SELECT prosrc FROM pg_proc WHERE proname = 'everreach_instagram_message_hits'",
    )
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    let sql = body.replace("$1", "'%pier%'").replace("$2", "20");
    let mut conn = app.db.admin.acquire().await.unwrap();
    sqlx::query("SELECT set_config('app.user_id', $1, false)")
        .bind(alice.id.to_string())
        .execute(&mut *conn)
        .await
        .unwrap();
    let plan: Value =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("EXPLAIN (FORMAT JSON) {sql}")))
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    let plan = plan.to_string();
    assert!(plan.contains("idx_instagram_messages_text_trgm"), "{plan}");
    assert!(!plan.contains("Seq Scan"), "{plan}");

    let hits = get(&app, &alice, "/api/v1/instagram-messages/search?q=PIER").await;
    assert_eq!(hits.as_array().unwrap().len(), 1);
    assert_eq!(hits[0]["message_text"], "the pier at dawn");
}
