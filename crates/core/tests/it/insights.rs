//! Person insights completed (issue 13, item 1): interests weighted against the
//! tenant's people, tone, best channel and send hour, after the `people.insights`
//! job runs on ingested events; the tenant's document frequencies follow every
//! write and erase.

use chrono::{DateTime, Duration, Utc};
use everreach_core::db::tenant;
use everreach_core::people::model::EventInput;
use everreach_core::people::{ingest, insights, rights};
use everreach_testkit::TestDb;
use serde_json::{Value, json};
use uuid::Uuid;

/// `days` ago at `hour`:00 UTC.
fn at(days: i64, hour: u32) -> DateTime<Utc> {
    (Utc::now() - Duration::days(days))
        .date_naive()
        .and_hms_opt(hour, 0, 0)
        .unwrap()
        .and_utc()
}

fn event(
    channel: &str,
    handle: &str,
    kind: &str,
    id: &str,
    when: DateTime<Utc>,
    text: &str,
) -> EventInput {
    serde_json::from_value(json!({
        "identity": {"channel": channel, "handle": handle},
        "event_type": kind,
        "platform_id": id,
        "occurred_at": when,
        "content_excerpt": text,
    }))
    .unwrap()
}

/// Runs every queued insight job of `user` as the worker does.
async fn run_jobs(db: &TestDb, user: Uuid) -> usize {
    let rows: Vec<Value> = sqlx::query_scalar(
        "DELETE FROM jobs WHERE name = 'people.insights' AND user_id = $1 RETURNING data",
    )
    .bind(user)
    .fetch_all(&db.admin)
    .await
    .unwrap();
    let mut recomputed = 0;
    for data in rows {
        let job: insights::Recompute = serde_json::from_value(data).unwrap();
        let seen = job.seen().unwrap();
        recomputed += insights::run(&db.app, user, tenant::Actor::Worker, &job, &seen)
            .await
            .unwrap()
            .recomputed;
    }
    recomputed
}

/// A person's interests (terms, in order), tone, best channel and hour, and terms.
type Lens = (
    Value,
    Value,
    Option<String>,
    Option<i16>,
    Value,
    Vec<String>,
);

type Row = (
    Option<Value>,
    Option<Value>,
    Option<String>,
    Option<i16>,
    Option<Value>,
    Vec<String>,
);

async fn lens(db: &TestDb, user: Uuid, person: Uuid) -> Lens {
    let mut tx = tenant::begin(&db.app, user).await.unwrap();
    let row: Row = sqlx::query_as(
        "SELECT interests, tone_preferences, best_channel, best_send_hour, best_send_evidence, terms
           FROM person_insights WHERE person_id = $1",
    )
    .bind(person)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let nullable = |v: Option<Value>| v.unwrap_or(Value::Null);
    (
        nullable(row.0),
        nullable(row.1),
        row.2,
        row.3,
        nullable(row.4),
        row.5,
    )
}

async fn df(db: &TestDb, user: Uuid, term: &str) -> Option<i32> {
    let mut tx = tenant::begin(&db.app, user).await.unwrap();
    let n = sqlx::query_scalar("SELECT people FROM person_term_df WHERE term = $1")
        .bind(term)
        .fetch_optional(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    n
}

fn terms(interests: &Value) -> Vec<&str> {
    interests
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["term"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn interests_tone_and_best_send_time_follow_their_own_messages() {
    let db = TestDb::new().await;
    let user = db.create_user("owner@example.com").await;
    sqlx::query("UPDATE users SET timezone = 'America/Sao_Paulo' WHERE id = $1")
        .bind(user)
        .execute(&db.admin)
        .await
        .unwrap();
    // Ana: casual Instagram replies about pottery, at 21:00 UTC (18:00 in São Paulo);
    // a post she liked carries our words, not hers.
    let ana = |n: i64, text: &str| {
        event(
            "instagram",
            "ana_pots",
            "dm_reply",
            &format!("a{n}"),
            at(n, 21),
            text,
        )
    };
    // Bruno: formal Spanish e-mails about a marketing workshop, at 13:00 UTC (10:00).
    let bruno = |n: i64, text: &str| {
        event(
            "email",
            "bruno@example.com",
            "email_received",
            &format!("b{n}"),
            at(n, 13),
            text,
        )
    };
    let events = vec![
        ana(1, "omg the glaze recipes workshop was amazing 😍"),
        ana(2, "hey! any tips on glaze recipes for stoneware? 🙏"),
        ana(3, "loved the pottery workshop!! when's the next one?"),
        ana(4, "pottery wheel arrived 🎉 glaze recipes next"),
        event(
            "instagram",
            "ana_pots",
            "liked",
            "post-1",
            at(5, 9),
            "Our guide to email marketing for marketing teams",
        ),
        bruno(
            1,
            "Estimado equipo, gracias por la propuesta del workshop de marketing. Saludos cordiales.",
        ),
        bruno(
            2,
            "Estimado Carlos, el workshop de marketing fue muy útil para nuestra empresa. Atentamente.",
        ),
        bruno(3, "Buenos días, ¿cuándo es el próximo workshop? Saludos."),
    ];
    let out = ingest::ingest_tx(&db.app, user, &events).await.unwrap();
    let (ana_id, bruno_id) = (out.results[0].person_id, out.results[5].person_id);
    assert_eq!(run_jobs(&db, user).await, 2);

    let (interests, tone, channel, hour, evidence, ana_terms) = lens(&db, user, ana_id).await;
    // "glaze" and "recipes" are only ever in the phrase; "workshop" is Bruno's too
    assert_eq!(terms(&interests), ["glaze recipes", "pottery", "workshop"]);
    assert_eq!(
        interests[0],
        json!({"term": "glaze recipes", "weight": 2.95, "events": 3, "count": 3, "people": 1})
    );
    assert_eq!(interests[2]["people"], 2);
    assert!(
        !ana_terms.iter().any(|t| t == "marketing"),
        "the text of a post she liked is not hers: {ana_terms:?}"
    );
    assert_eq!(
        tone["labels"],
        json!(["casual", "emoji", "short-form", "inquisitive"])
    );
    assert_eq!(
        (
            tone["messages"].clone(),
            tone["emoji_rate"].clone(),
            tone["question_rate"].clone()
        ),
        (json!(4), json!(0.75), json!(0.5))
    );
    assert_eq!(tone["language"], "en");
    assert_eq!((channel.as_deref(), hour), (Some("instagram"), Some(18)));
    assert_eq!(evidence["basis"], "replies");
    assert_eq!(evidence["events"], 4);
    assert_eq!(evidence["hour_events"], 4);
    assert_eq!(evidence["timezone"], "America/Sao_Paulo");

    let (interests, tone, channel, hour, evidence, _) = lens(&db, user, bruno_id).await;
    assert_eq!(
        terms(&interests),
        ["marketing", "workshop"],
        "greetings and closings are stop words"
    );
    assert_eq!(
        tone["labels"],
        json!(["formal", "medium-form", "inquisitive"])
    );
    assert_eq!(tone["language"], "es");
    assert_eq!((channel.as_deref(), hour), (Some("email"), Some(10)));
    assert_eq!(
        (
            evidence["basis"].clone(),
            evidence["channel_events"].clone()
        ),
        (json!("replies"), json!(3))
    );

    // The tenant's document frequencies: both people hold "workshop".
    assert_eq!(df(&db, user, "workshop").await, Some(2));
    assert_eq!(df(&db, user, "pottery").await, Some(1));
    assert_eq!(df(&db, user, "").await, Some(2), "people with any term");

    // One new message: only Ana is recomputed, and her new term is counted.
    let more = vec![ana(0, "raku firing tonight, raku is magic")];
    ingest::ingest_tx(&db.app, user, &more).await.unwrap();
    assert_eq!(run_jobs(&db, user).await, 1);
    assert_eq!(df(&db, user, "raku").await, Some(1));
    let (interests, tone, ..) = lens(&db, user, ana_id).await;
    assert_eq!(tone["messages"], 5);
    assert!(terms(&interests).contains(&"pottery"));

    // Erasing Bruno takes his terms out of the counts.
    let mut tx = tenant::begin(&db.app, user).await.unwrap();
    rights::erase(&mut tx, bruno_id).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(df(&db, user, "workshop").await, Some(1));
    assert_eq!(
        df(&db, user, "marketing").await,
        None,
        "nobody holds it any more"
    );
    assert_eq!(df(&db, user, "").await, Some(1));
}

#[tokio::test]
async fn nothing_written_leaves_interests_and_tone_empty_and_counts_untouched() {
    let db = TestDb::new().await;
    let user = db.create_user("owner@example.com").await;
    let quiet = vec![event(
        "email",
        "q@example.com",
        "opened_email",
        "o1",
        at(1, 9),
        "Our newsletter",
    )];
    let out = ingest::ingest_tx(&db.app, user, &quiet).await.unwrap();
    assert_eq!(run_jobs(&db, user).await, 1);
    let (interests, tone, channel, hour, _, terms) =
        lens(&db, user, out.results[0].person_id).await;
    assert_eq!((interests, tone), (Value::Null, Value::Null));
    assert!(terms.is_empty());
    // one open: the activity basis, on UTC (the user has no zone)
    assert_eq!((channel.as_deref(), hour), (Some("email"), Some(9)));
    assert_eq!(df(&db, user, "").await, None);
}
