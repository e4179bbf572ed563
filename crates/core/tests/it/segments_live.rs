//! Segments kept current and described (issue 15, items 3 and 4) on real
//! PostgreSQL: an ingested event moves its person into a saved segment through the
//! people-insights job alone (no full refresh), leaving everyone else's rows as they
//! were; the hourly job's tenant refresh catches what time alone changes; and the
//! insights of planted members come out exactly, organic and paid never mixed.

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use everreach_core::db::tenant::{self, TenantTx};
use everreach_core::people::model::EventInput;
use everreach_core::people::{ingest, insights};
use everreach_core::segments::store::{self, SegmentInput};
use everreach_core::segments::{insights as seg_insights, refresh};
use everreach_testkit::TestDb;
use serde_json::{Value, json};
use uuid::Uuid;

fn dm(handle: &str, kind: &str, id: &str, when: DateTime<Utc>) -> EventInput {
    serde_json::from_value(json!({
        "identity": {"channel": "instagram", "handle": handle},
        "event_type": kind, "platform_id": id, "occurred_at": when,
    }))
    .unwrap()
}

/// Runs every queued `people.insights` job of `user` as the worker does.
async fn run_insight_jobs(db: &TestDb, user: Uuid) {
    let rows: Vec<Value> = sqlx::query_scalar(
        "DELETE FROM jobs WHERE name = 'people.insights' AND user_id = $1 RETURNING data",
    )
    .bind(user)
    .fetch_all(&db.admin)
    .await
    .unwrap();
    for data in rows {
        let job: insights::Recompute = serde_json::from_value(data).unwrap();
        let seen = job.seen().unwrap();
        insights::run(&db.app, user, tenant::Actor::Worker, &job, &seen)
            .await
            .unwrap();
    }
}

async fn member_handles(tx: &mut TenantTx, segment: Uuid) -> Vec<(String, DateTime<Utc>)> {
    sqlx::query_as(
        "SELECT i.handle, m.added_at FROM segment_members m
           JOIN identities i ON i.user_id = m.user_id AND i.person_id = m.person_id
          WHERE m.user_id = $1 AND m.segment_id = $2 ORDER BY i.handle",
    )
    .bind(tx.user_id())
    .bind(segment)
    .fetch_all(&mut **tx)
    .await
    .unwrap()
}

async fn events_of(db: &TestDb, user: Uuid, kind: &str) -> Vec<Value> {
    sqlx::query_scalar(
        "SELECT payload FROM events WHERE user_id = $1 AND event_type = $2 ORDER BY created_at, id",
    )
    .bind(user)
    .bind(kind)
    .fetch_all(&db.admin)
    .await
    .unwrap()
}

#[tokio::test]
async fn an_event_moves_its_person_in_through_the_insights_job_alone() {
    let db = TestDb::new().await;
    let ada = db.create_user("ada@example.com").await;
    let now = Utc::now();
    let old = vec![
        dm("julia", "dm_reply", "j1", now - Duration::days(45)),
        dm("kim", "dm_reply", "k1", now - Duration::days(2)),
        dm("lee", "dm_reply", "l1", now - Duration::days(50)),
    ];
    ingest::ingest_tx(&db.app, ada, &old).await.unwrap();
    run_insight_jobs(&db, ada).await;

    let mut tx = tenant::begin(&db.app, ada).await.unwrap();
    let seg = store::create(
        &mut tx,
        &SegmentInput {
            name: "Replied lately".into(),
            description: None,
            definition: json!({"event": {"type": "dm_reply", "channel": "instagram", "within": "last 30 days"}}),
        },
    )
    .await
    .unwrap();
    let before = member_handles(&mut tx, seg.id).await;
    tx.commit().await.unwrap();
    assert_eq!(
        before.iter().map(|m| m.0.as_str()).collect::<Vec<_>>(),
        ["kim"]
    );

    // Julia replies today: only the ingestion and its insights job run.
    ingest::ingest_tx(
        &db.app,
        ada,
        &[dm("julia", "dm_reply", "j2", now - Duration::hours(1))],
    )
    .await
    .unwrap();
    let mut tx = tenant::begin(&db.app, ada).await.unwrap();
    assert_eq!(
        member_handles(&mut tx, seg.id).await.len(),
        1,
        "not before the job"
    );
    tx.commit().await.unwrap();
    run_insight_jobs(&db, ada).await;

    let mut tx = tenant::begin(&db.app, ada).await.unwrap();
    let after = member_handles(&mut tx, seg.id).await;
    tx.commit().await.unwrap();
    assert_eq!(
        after.iter().map(|m| m.0.as_str()).collect::<Vec<_>>(),
        ["julia", "kim"]
    );
    // Kim stayed: her added_at is the one from the save
    assert_eq!(after[1], before[0]);
    let entered = events_of(&db, ada, "segment.entered").await;
    assert_eq!(entered.len(), 2, "the save's and the event's: {entered:?}");
    assert_eq!(entered[1]["count"], 1);

    // Time alone: Kim's reply ages out of the window. The event-driven refresh
    // does not see it (no event of hers); the tenant refresh does.
    sqlx::query("UPDATE person_events SET occurred_at = occurred_at - interval '40 days' WHERE platform_id = 'k1'")
        .execute(&db.admin)
        .await
        .unwrap();
    let done = refresh::refresh_tenant(&db.app, ada).await.unwrap();
    assert_eq!((done.segments, done.entered, done.left), (1, 0, 1));
    let mut tx = tenant::begin(&db.app, ada).await.unwrap();
    let last = member_handles(&mut tx, seg.id).await;
    tx.commit().await.unwrap();
    assert_eq!(
        last.iter().map(|m| m.0.as_str()).collect::<Vec<_>>(),
        ["julia"]
    );
    assert_eq!(events_of(&db, ada, "segment.left").await.len(), 1);
    // ...and it computed the insights of the segment as it went
    let mut tx = tenant::begin(&db.app, ada).await.unwrap();
    let rows = seg_insights::for_segment(&mut tx, seg.id).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| r.traffic_type.as_str())
            .collect::<Vec<_>>(),
        ["organic", "paid"]
    );
}

async fn planted_person(tx: &mut TenantTx, name: &str, company: &str) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO people (user_id, full_name, company) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(tx.user_id())
    .bind(name)
    .bind(company)
    .fetch_one(&mut **tx)
    .await
    .unwrap()
}

#[expect(clippy::too_many_arguments, reason = "one planted event, spelled out")]
async fn planted_event(
    tx: &mut TenantTx,
    person: Uuid,
    channel: &str,
    kind: &str,
    traffic: &str,
    at: DateTime<Utc>,
    text: Option<&str>,
    metadata: Value,
) {
    sqlx::query(
        "INSERT INTO person_events (user_id, person_id, channel, event_type, traffic_type, occurred_at, content_excerpt, metadata)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tx.user_id()).bind(person).bind(channel).bind(kind).bind(traffic).bind(at).bind(text).bind(metadata)
    .execute(&mut **tx).await.unwrap();
}

#[tokio::test]
async fn insights_keep_organic_and_paid_apart_on_planted_data() {
    let db = TestDb::new().await;
    let ada = db.create_user("ada@example.com").await;
    let mut tx = tenant::begin(&db.app, ada).await.unwrap();
    let a = planted_person(&mut tx, "Ann", "Clay").await;
    let b = planted_person(&mut tx, "Bo", "Clay").await;
    let c = planted_person(&mut tx, "Cy", "Clay").await;
    let d = planted_person(&mut tx, "Di", "Elsewhere").await;
    // One moment a week, the same weekday and hour: week k is k weeks before `base`.
    let base = Utc::now() - Duration::hours(1);
    let week = |k: i64| base - Duration::days(7 * k);
    for k in 0..12 {
        planted_event(
            &mut tx,
            a,
            "instagram",
            "comment",
            "organic",
            week(k),
            Some("pottery glaze"),
            json!({}),
        )
        .await;
        if k < 6 {
            planted_event(
                &mut tx,
                b,
                "instagram",
                "comment",
                "organic",
                week(k),
                Some("pottery kiln"),
                json!({}),
            )
            .await;
        }
    }
    for k in 0..3 {
        planted_event(
            &mut tx,
            c,
            "facebook",
            "link_click",
            "paid",
            week(k),
            Some("Spring sale"),
            json!({"format": "video"}),
        )
        .await;
    }
    // Not a member: never counted. Our own sends: never counted.
    for k in 0..12 {
        planted_event(
            &mut tx,
            d,
            "tiktok",
            "comment",
            "organic",
            week(k),
            Some("dancing"),
            json!({}),
        )
        .await;
        planted_event(
            &mut tx,
            a,
            "instagram",
            "dm_sent",
            "organic",
            week(k),
            Some("hello pottery"),
            json!({}),
        )
        .await;
    }
    let seg = store::create(
        &mut tx,
        &SegmentInput {
            name: "Clay people".into(),
            description: None,
            definition: json!({"field": "person.company", "op": "eq", "value": "Clay"}),
        },
    )
    .await
    .unwrap();
    assert_eq!(seg.members, 3);
    let rows = seg_insights::recompute(&mut tx, seg.id).await.unwrap();
    tx.commit().await.unwrap();

    let [organic, paid] = &rows[..] else {
        panic!("two rows: {rows:?}")
    };
    assert_eq!(organic.traffic_type, "organic");
    assert_eq!(
        organic.top_platforms,
        Some(json!([{"name": "instagram", "share": 1.0}]))
    );
    assert_eq!(
        organic.top_topics,
        Some(json!([
            {"name": "pottery", "share": 0.5},
            {"name": "glaze", "share": 0.3333},
            {"name": "kiln", "share": 0.1667}
        ]))
    );
    assert_eq!(
        organic.top_formats,
        Some(json!([{"name": "comment", "share": 1.0}]))
    );
    let style = organic.engagement_style.as_ref().unwrap();
    assert_eq!(style["style"], "conversational");
    assert_eq!(style["events"], 18);
    assert_eq!(style["members_engaged"], 2);
    // weekly engaged members: six weeks of 2, six of 1 → IQR 1..2 of 3 members
    assert_eq!((organic.reach_low, organic.reach_high), (Some(1), Some(2)));
    assert_eq!(
        (organic.engagement_rate_low, organic.engagement_rate_high),
        (Some(0.3333), Some(0.6667))
    );
    let day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        [base.weekday().num_days_from_monday() as usize];
    let times = organic.best_times.as_ref().unwrap();
    assert_eq!(times["timezone"], "UTC");
    assert_eq!(times["shares"][day][(base.hour() / 4) as usize], 1.0);

    assert_eq!(paid.traffic_type, "paid");
    assert_eq!(
        paid.top_platforms,
        Some(json!([{"name": "facebook", "share": 1.0}]))
    );
    assert_eq!(
        paid.top_formats,
        Some(json!([{"name": "video", "share": 1.0}]))
    );
    assert_eq!(
        paid.top_topics,
        Some(json!([])),
        "a click is not their words"
    );
    let style = paid.engagement_style.as_ref().unwrap();
    assert_eq!(style["style"], "passive");
    assert_eq!(style["events"], 3);
    // one member in each of the 3 weeks the paid events cover (not 12): 1..1
    assert_eq!((paid.reach_low, paid.reach_high), (Some(1), Some(1)));
    assert_eq!(
        (paid.engagement_rate_low, paid.engagement_rate_high),
        (Some(0.3333), Some(0.3333))
    );
}
