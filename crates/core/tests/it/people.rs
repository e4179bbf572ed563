//! Identity resolution on real PostgreSQL: one person per (channel, handle), even
//! when many writers see the same new handle at once.

use everreach_core::db::tenant::{self, TenantTx};
use everreach_core::people::store::{IdentityKey, Resolved, resolve_identities};
use everreach_core::people::{Channel, normalize_handle};
use everreach_testkit::TestDb;

/// One identity through the batch resolver.
async fn resolve_one(tx: &mut TenantTx, channel: Channel, handle: &str) -> Resolved {
    let key = IdentityKey {
        channel,
        handle: handle.to_string(),
    };
    let now = chrono::Utc::now();
    resolve_identities(tx, &[(key.clone(), now, now)], &Default::default())
        .await
        .unwrap()[&key]
}

#[tokio::test]
async fn concurrent_ingestion_of_one_new_handle_creates_one_person() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let handle = normalize_handle(Channel::Instagram, "@Grace.Hopper").unwrap();
    let mut writers = Vec::new();
    for _ in 0..12 {
        let (pool, handle) = (db.app.clone(), handle.clone());
        writers.push(tokio::spawn(async move {
            let mut tx = tenant::begin(&pool, alice).await.unwrap();
            let resolved = resolve_one(&mut tx, Channel::Instagram, &handle).await;
            // Hold the transaction a moment so the writers overlap.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            tx.commit().await.unwrap();
            resolved
        }));
    }
    let mut people = Vec::new();
    let mut created = 0;
    for w in writers {
        let r = w.await.unwrap();
        people.push(r.person_id);
        created += usize::from(r.created);
    }
    people.dedup();
    assert_eq!(people.len(), 1, "every writer resolved to the same person");
    assert_eq!(created, 1, "exactly one writer created it");
    let mut tx = tenant::begin(&db.app, alice).await.unwrap();
    let (persons, identities): (i64, i64) =
        sqlx::query_as("SELECT (SELECT count(*) FROM people), (SELECT count(*) FROM identities)")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(
        (persons, identities),
        (1, 1),
        "no orphan person left behind"
    );
}

#[tokio::test]
async fn the_same_handle_of_two_tenants_is_two_people() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let bob = db.create_user("bob@example.com").await;
    let mut resolved = Vec::new();
    for user in [alice, bob] {
        let mut tx = tenant::begin(&db.app, user).await.unwrap();
        resolved.push(resolve_one(&mut tx, Channel::Email, "grace@navy.mil").await);
        tx.commit().await.unwrap();
    }
    assert_ne!(resolved[0].person_id, resolved[1].person_id);
    let mut tx = tenant::begin(&db.app, alice).await.unwrap();
    let again = resolve_one(&mut tx, Channel::Email, "grace@navy.mil").await;
    assert_eq!(again.person_id, resolved[0].person_id);
    assert!(!again.created);
}

mod graph {
    //! Ingestion, merge/undo, insights and the timeline's plans, below the API.

    use chrono::{Duration, Utc};
    use everreach_core::db::tenant;
    use everreach_core::people::model::EventInput;
    use everreach_core::people::timeline::{TimelineFilter, page_sql};
    use everreach_core::people::{Channel, ingest, insights, merge};
    use everreach_testkit::TestDb;
    use serde_json::{Value, json};
    use sqlx::PgPool;
    use uuid::Uuid;

    fn event(v: Value) -> EventInput {
        serde_json::from_value(v).unwrap()
    }

    async fn ingest_as(pool: &PgPool, user: Uuid, events: Vec<Value>) -> Vec<Uuid> {
        let inputs: Vec<EventInput> = events.into_iter().map(event).collect();
        let out = ingest::ingest_tx(pool, user, &inputs).await.unwrap();
        out.results.iter().map(|r| r.person_id).collect()
    }

    /// Whether B is left, how many identities and channel records A has, A's e-mail.
    async fn on_a(pool: &PgPool, user: Uuid, a: Uuid, b: Uuid) -> (i64, i64, Option<String>) {
        let mut tx = tenant::begin(pool, user).await.unwrap();
        let row = sqlx::query_as(
            "SELECT (SELECT count(*) FROM people WHERE id = $2),
                    (SELECT count(*) FROM identities WHERE person_id = $1)
                      + (SELECT count(*) FROM instagram_contacts WHERE person_id = $1)
                      + (SELECT count(*) FROM contacts WHERE person_id = $1),
                    (SELECT primary_email FROM people WHERE id = $1)",
        )
        .bind(a)
        .bind(b)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        row
    }

    const STATE_TABLES: [&str; 8] = [
        "people",
        "identities",
        "person_events",
        "person_insights",
        "segment_members",
        "outbound_messages",
        "instagram_contacts",
        "contacts",
    ];

    /// Every row of the tenant's people-graph tables, as JSON, in a stable order.
    async fn state(pool: &PgPool, user: Uuid) -> Value {
        let mut tx = tenant::begin(pool, user).await.unwrap();
        let mut out = serde_json::Map::new();
        for table in STATE_TABLES {
            let rows: Option<Value> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT jsonb_agg(to_jsonb(t) ORDER BY to_jsonb(t)::text) FROM {table} t"
            )))
            .fetch_one(&mut *tx)
            .await
            .unwrap();
            out.insert(table.into(), rows.unwrap_or(Value::Null));
        }
        tx.commit().await.unwrap();
        Value::Object(out)
    }

    #[tokio::test]
    async fn merge_moves_everything_and_undo_restores_the_exact_prior_state() {
        let db = TestDb::new().await;
        let alice = db.create_user("alice@example.com").await;
        db.fill_tenant_tables(alice).await;
        let mut tx = tenant::begin(&db.app, alice).await.unwrap();
        let (a, segment): (Uuid, Uuid) = sqlx::query_as(
            "SELECT p.id, s.id FROM people p, segments s WHERE p.full_name = 'Ada Fixture' LIMIT 1",
        )
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        sqlx::query("UPDATE people SET primary_email = NULL WHERE id = $1")
            .bind(a)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        // B: an e-mail identity, an event A also has (same key), one of its own.
        let b = ingest_as(
            &db.app,
            alice,
            vec![
                json!({"identity": {"channel": "email", "handle": "ada@lovelace.dev"},
                       "channel": "instagram", "event_type": "dm_reply", "platform_id": "ig-msg-1"}),
                json!({"identity": {"channel": "email", "handle": "ada@lovelace.dev"},
                       "event_type": "email_received", "platform_id": "m-1", "sentiment": 0.25}),
            ],
        )
        .await[0];
        let mut tx = tenant::begin(&db.app, alice).await.unwrap();
        for sql in [
            "UPDATE people SET primary_email = 'ada@lovelace.dev', role = 'countess' WHERE id = $1",
            "INSERT INTO segment_members (user_id, segment_id, person_id) SELECT user_id, $2, $1 FROM people WHERE id = $1",
            "INSERT INTO segments (user_id, name) SELECT user_id, 'Second' FROM people WHERE id = $1",
            "INSERT INTO segment_members (user_id, segment_id, person_id)
                 SELECT user_id, (SELECT id FROM segments WHERE name = 'Second'), $1 FROM people WHERE id = $1",
            "INSERT INTO person_insights (user_id, person_id, activity_state, warmth_score, avg_reply_time)
                 SELECT user_id, $1, 'warming', 42.5, interval '3 hours' FROM people WHERE id = $1",
            "INSERT INTO outbound_messages (user_id, person_id, channel, variant) SELECT user_id, $1, 'email', 'B' FROM people WHERE id = $1",
            "INSERT INTO instagram_contacts (user_id, person_id, instagram_username) SELECT user_id, $1, 'ada_ig' FROM people WHERE id = $1",
            "INSERT INTO contacts (user_id, person_id, email, name) SELECT user_id, $1, 'ada@lovelace.dev', 'Ada' FROM people WHERE id = $1",
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(b)
                .bind(segment)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        // Let the clock move, so a restored updated_at differs from a fresh stamp.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let before = state(&db.app, alice).await;
        let (_, on_a_before, _) = on_a(&db.app, alice, a, b).await;

        let mut tx = tenant::begin(&db.app, alice).await.unwrap();
        let done = merge::merge(&mut tx, a, b, false).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(done.counts["identities"], 1);
        assert_eq!(done.counts["person_events"], 1);
        assert_eq!(done.counts["person_events_dropped"], 1);
        assert_eq!(done.counts["segment_members"], 1);
        assert_eq!(done.counts["segment_members_dropped"], 1);
        assert_eq!(done.counts["outbound_messages"], 1);
        assert_eq!(done.counts["instagram_contacts"], 1);
        assert_eq!(done.counts["contacts"], 1);

        let (left, on_a_after, email) = on_a(&db.app, alice, a, b).await;
        assert_eq!(left, 0, "the merged person is gone");
        assert_eq!(
            on_a_after,
            on_a_before + 3,
            "B's identity and B's two channel records"
        );
        assert_eq!(
            email.as_deref(),
            Some("ada@lovelace.dev"),
            "blanks filled from B"
        );
        let mut tx = tenant::begin(&db.app, alice).await.unwrap();
        let rewritten = sqlx::query("UPDATE person_merges SET actor_id = NULL")
            .execute(&mut *tx)
            .await;
        assert!(rewritten.is_err(), "the merge record is append-only");
        drop(tx);

        let mut tx = tenant::begin(&db.app, alice).await.unwrap();
        merge::undo(&mut tx, done.id).await.unwrap();
        tx.commit().await.unwrap();
        let after = state(&db.app, alice).await;
        for table in STATE_TABLES {
            assert_eq!(after[table], before[table], "{table} is back as it was");
        }
        let mut tx = tenant::begin(&db.app, alice).await.unwrap();
        let again = merge::undo(&mut tx, done.id).await;
        assert!(
            matches!(&again, Err(everreach_core::DomainError::Conflict { detail, .. }) if detail.contains("already undone")),
            "{again:?}"
        );
    }

    #[tokio::test]
    async fn a_batch_that_read_an_identity_a_merge_then_moved_runs_again() {
        let db = TestDb::new().await;
        let alice = db.create_user("alice@example.com").await;
        let a = ingest_as(&db.app, alice, vec![json!({"identity": {"channel": "instagram", "handle": "ada"}, "event_type": "liked", "platform_id": "1"})]).await[0];
        let b = ingest_as(&db.app, alice, vec![json!({"identity": {"channel": "instagram", "handle": "bob"}, "event_type": "liked", "platform_id": "2"})]).await[0];
        // The merge of B into A holds its locks while a batch about bob reads bob's
        // identity (still B's, to it) and waits on B's row to check its foreign key.
        let mut merging = tenant::begin(&db.app, alice).await.unwrap();
        merge::merge(&mut merging, a, b, false).await.unwrap();
        let pool = db.app.clone();
        let batch = tokio::spawn(async move {
            ingest_as(&pool, alice, vec![json!({"identity": {"channel": "instagram", "handle": "bob"}, "event_type": "liked", "platform_id": "3"})]).await
        });
        let waiting = async || -> i64 {
            sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .fetch_one(&db.admin)
            .await
            .unwrap()
        };
        let mut tries = 0;
        while waiting().await == 0 {
            tries += 1;
            assert!(tries < 500, "the batch never waited on the merge");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        merging.commit().await.unwrap();
        // B is gone: the foreign key fails, the batch runs again and finds bob on A.
        let people = batch.await.unwrap();
        assert_eq!(people, vec![a]);
        let mut tx = tenant::begin(&db.app, alice).await.unwrap();
        let on_a: i64 =
            sqlx::query_scalar("SELECT count(*) FROM person_events WHERE person_id = $1")
                .bind(a)
                .fetch_one(&mut *tx)
                .await
                .unwrap();
        assert_eq!(on_a, 3);
    }

    #[tokio::test]
    async fn concurrent_batches_naming_the_same_new_handles_make_one_person_each() {
        let db = TestDb::new().await;
        let alice = db.create_user("alice@example.com").await;
        let mut writers = Vec::new();
        for w in 0..6 {
            let pool = db.app.clone();
            writers.push(tokio::spawn(async move {
                // every writer names the same 50 handles, in its own order
                let mut events: Vec<Value> = (0..50)
                    .map(|i| {
                        json!({"identity": {"channel": "instagram", "handle": format!("@user{i}")},
                                    "event_type": "liked", "platform_id": format!("w{w}-{i}")})
                    })
                    .collect();
                events.rotate_left(w * 7);
                ingest_as(&pool, alice, events).await
            }));
        }
        for w in writers {
            w.await.unwrap();
        }
        // Again, now that the handles exist: every batch widens the same identities'
        // seen times, in its own order, at once — they wait for each other, never
        // deadlock.
        let mut writers = Vec::new();
        for w in 0..6 {
            let pool = db.app.clone();
            writers.push(tokio::spawn(async move {
                let mut events: Vec<Value> = (0..50)
                    .map(|i| {
                        json!({"identity": {"channel": "instagram", "handle": format!("user{i}")},
                                    "event_type": "liked", "platform_id": format!("again-w{w}-{i}"),
                                    "occurred_at": Utc::now() - Duration::days(w as i64 * 10 + 1)})
                    })
                    .collect();
                events.rotate_left(w * 7);
                if w % 2 == 1 {
                    events.reverse();
                }
                ingest_as(&pool, alice, events).await
            }));
        }
        for w in writers {
            w.await.unwrap();
        }
        let oldest = async || -> i64 {
            let mut tx = tenant::begin(&db.app, alice).await.unwrap();
            sqlx::query_scalar(
                "SELECT count(*) FROM identities WHERE first_seen_at < now() - interval '50 days'",
            )
            .fetch_one(&mut *tx)
            .await
            .unwrap()
        };
        assert_eq!(
            oldest().await,
            0,
            "batches do not write existing identities"
        );
        // The insight jobs widen the seen times, in any order.
        for job in queued(&db, alice).await.iter().rev() {
            run_job(&db, alice, job).await;
        }
        assert_eq!(
            oldest().await,
            50,
            "every identity widened to the oldest batch's time"
        );
        let mut tx = tenant::begin(&db.app, alice).await.unwrap();
        let (people, identities, events): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM people), (SELECT count(*) FROM identities), (SELECT count(*) FROM person_events)",
        )
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        assert_eq!((people, identities, events), (50, 50, 600));
    }

    #[tokio::test]
    async fn insights_are_recomputed_from_the_stream() {
        let db = TestDb::new().await;
        let alice = db.create_user("alice@example.com").await;
        let now = Utc::now();
        let person = ingest_as(
            &db.app,
            alice,
            vec![
                json!({"identity": {"channel": "instagram", "handle": "grace"}, "event_type": "liked",
                       "platform_id": "1", "occurred_at": now - Duration::days(2), "sentiment": 1.0}),
                json!({"identity": {"channel": "instagram", "handle": "grace"}, "event_type": "commented",
                       "platform_id": "2", "occurred_at": now - Duration::days(3), "sentiment": 0.0}),
                json!({"identity": {"channel": "instagram", "handle": "grace"}, "channel": "email",
                       "event_type": "email_received", "platform_id": "3", "occurred_at": now - Duration::days(4)}),
                json!({"identity": {"channel": "instagram", "handle": "grace"}, "channel": "email",
                       "event_type": "email_sent", "platform_id": "4", "occurred_at": now}),
            ],
        )
        .await[0];
        let mut tx = tenant::begin(&db.app, alice).await.unwrap();
        assert_eq!(
            insights::recompute_many(&mut tx, &[person]).await.unwrap(),
            1
        );
        let (state, prefs, last, warmth): (String, Value, chrono::DateTime<Utc>, f64) = sqlx::query_as(
            "SELECT activity_state, channel_preferences, last_active_at, warmth_score::float8 FROM person_insights WHERE person_id = $1",
        )
        .bind(person)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        assert_eq!(state, "active");
        assert_eq!(prefs, json!({"email": 0.33, "instagram": 0.67}));
        assert!(
            (last - (now - Duration::days(2))).num_seconds().abs() <= 1,
            "our own email_sent is not their activity"
        );
        assert!(warmth > 50.0 && warmth < 100.0, "{warmth}");
        let seasonality: Value =
            sqlx::query_scalar("SELECT seasonality FROM person_insights WHERE person_id = $1")
                .bind(person)
                .fetch_one(&mut *tx)
                .await
                .unwrap();
        let mut weekday = [0; 7];
        let mut month = [0; 12];
        for days in 2..=4 {
            let t = now - Duration::days(days);
            weekday[chrono::Datelike::weekday(&t).num_days_from_monday() as usize] += 1;
            month[chrono::Datelike::month0(&t) as usize] += 1;
        }
        assert_eq!(
            seasonality,
            json!({"weekday_mon_first": weekday, "month_jan_first": month}),
            "their three events, by UTC weekday and month"
        );
        assert_eq!(
            insights::recompute_many(&mut tx, &[Uuid::new_v4()])
                .await
                .unwrap(),
            0,
            "nobody to recompute"
        );
        // Many at once: those that exist are stored, a person without events too.
        let quiet: Uuid =
            sqlx::query_scalar("INSERT INTO people (user_id) VALUES ($1) RETURNING id")
                .bind(alice)
                .fetch_one(&mut *tx)
                .await
                .unwrap();
        let n = insights::recompute_many(&mut tx, &[quiet, Uuid::new_v4(), person])
            .await
            .unwrap();
        assert_eq!(n, 2);
        let (state, warmth): (String, f64) = sqlx::query_as(
            "SELECT activity_state, warmth_score::float8 FROM person_insights WHERE person_id = $1",
        )
        .bind(quiet)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        assert_eq!((state.as_str(), warmth), ("dormant", 10.0));
        tx.commit().await.unwrap();
    }

    /// The insight jobs queued for `user`, oldest first.
    async fn queued(db: &TestDb, user: Uuid) -> Vec<insights::Recompute> {
        let rows: Vec<Value> = sqlx::query_scalar(
            "SELECT data FROM jobs WHERE name = 'people.insights' AND user_id = $1 ORDER BY created_on, id",
        )
        .bind(user)
        .fetch_all(&db.admin)
        .await
        .unwrap();
        rows.into_iter()
            .map(|d| serde_json::from_value(d).unwrap())
            .collect()
    }

    /// Runs one insight job as the worker does; how many people it recomputed.
    async fn run_job(db: &TestDb, user: Uuid, job: &insights::Recompute) -> usize {
        let seen = job.seen().unwrap();
        insights::run(&db.app, user, tenant::Actor::Worker, job, &seen)
            .await
            .unwrap()
            .recomputed
    }

    #[tokio::test]
    async fn a_recompute_job_skips_people_already_recomputed_since_its_write() {
        let db = TestDb::new().await;
        let alice = db.create_user("alice@example.com").await;
        let grace = json!({"identity": {"channel": "instagram", "handle": "grace"}, "event_type": "liked", "platform_id": "1",
                           "occurred_at": Utc::now() - Duration::hours(1)});
        let ada = json!({"identity": {"channel": "instagram", "handle": "ada"}, "event_type": "liked", "platform_id": "2"});
        ingest_as(&db.app, alice, vec![grace, ada]).await;
        let jobs = queued(&db, alice).await;
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].person_ids.len(), 2, "one job names both people");
        assert!(jobs[0].identity_ids.is_empty(), "new identities start wide");
        let first = jobs[0].clone();
        assert_eq!(run_job(&db, alice, &first).await, 2);
        assert_eq!(
            run_job(&db, alice, &first).await,
            0,
            "already computed after that write"
        );
        // A later write about Grace, seen after her last-seen time: its job names
        // her (due again) and her identity (to widen).
        ingest_as(
            &db.app,
            alice,
            vec![json!({"identity": {"channel": "instagram", "handle": "grace"}, "event_type": "commented", "platform_id": "3"})],
        )
        .await;
        let later = queued(&db, alice).await.pop().unwrap();
        assert!(later.after_xid > first.after_xid);
        assert_eq!(later.person_ids.len(), 1);
        assert_eq!(later.identity_ids.len(), 1);
        assert_eq!(run_job(&db, alice, &later).await, 1);
        assert_eq!(run_job(&db, alice, &later).await, 0);
        let mut tx = tenant::begin(&db.app, alice).await.unwrap();
        let last_seen: chrono::DateTime<Utc> =
            sqlx::query_scalar("SELECT last_seen_at FROM identities WHERE handle = 'grace'")
                .fetch_one(&mut *tx)
                .await
                .unwrap();
        drop(tx);
        assert!(
            last_seen > Utc::now() - Duration::minutes(1),
            "widened by the job"
        );
        // The first job run late (after the second): nobody is stale for it any more.
        assert_eq!(run_job(&db, alice, &first).await, 0);
    }

    #[tokio::test]
    async fn a_job_recomputes_more_people_than_one_transaction_holds() {
        let db = TestDb::new().await;
        let alice = db.create_user("alice@example.com").await;
        let n = insights::RECOMPUTE_CHUNK + 1;
        let events: Vec<Value> = (0..n)
            .map(|i| {
                json!({"identity": {"channel": "email", "handle": format!("p{i}@example.com")},
                            "event_type": "opened_email", "platform_id": format!("{i}")})
            })
            .collect();
        ingest_as(&db.app, alice, events).await;
        let jobs = queued(&db, alice).await;
        assert_eq!(jobs.len(), 1);
        assert_eq!(run_job(&db, alice, &jobs[0]).await, n);
        let mut tx = tenant::begin(&db.app, alice).await.unwrap();
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM person_insights")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(stored, n as i64);
    }

    #[tokio::test]
    async fn every_foreign_key_to_a_person_is_merged_and_erased() {
        use everreach_core::people::references::{in_catalog, uncovered};
        let db = TestDb::new().await;
        let mut conn = db.admin.acquire().await.unwrap();
        let refs = in_catalog(&mut conn).await.unwrap();
        let names: Vec<String> = refs
            .iter()
            .map(|r| format!("{}.{}", r.table, r.column))
            .collect();
        for known in [
            "identities.person_id",
            "contacts.person_id",
            "instagram_messages.contact_id",
            "email_interactions.contact_id",
        ] {
            assert!(names.contains(&known.to_string()), "{known} in {names:?}");
        }
        assert_eq!(uncovered(&refs), Vec::<String>::new());

        // A table that names a person and a mail contact, handled by neither list.
        sqlx::query(
            "CREATE TABLE person_notes (user_id uuid NOT NULL, id uuid NOT NULL, person_id uuid, contact_id uuid,
                 PRIMARY KEY (user_id, id),
                 FOREIGN KEY (user_id, person_id) REFERENCES people (user_id, id),
                 FOREIGN KEY (user_id, contact_id) REFERENCES contacts (user_id, id))",
        )
        .execute(&mut *conn)
        .await
        .unwrap();
        let missing = uncovered(&in_catalog(&mut conn).await.unwrap());
        assert_eq!(missing.len(), 3, "{missing:#?}");
        assert!(
            missing[0]
                .starts_with("person_notes.contact_id → contacts: not in people::rights::PARTS")
        );
        assert!(
            missing[1].starts_with("person_notes.person_id → people: not in people::rights::PARTS")
        );
        assert!(
            missing[2]
                .starts_with("person_notes.person_id → people: not in people::merge::HANDLED")
        );
    }

    #[tokio::test]
    async fn merge_records_are_beyond_the_app_role_and_erasure_waits_for_the_person() {
        let db = TestDb::new().await;
        let alice = db.create_user("alice@example.com").await;
        let mut tx = tenant::begin(&db.app, alice).await.unwrap();
        let a = super::resolve_one(&mut tx, Channel::Instagram, "ada")
            .await
            .person_id;
        let b = super::resolve_one(&mut tx, Channel::Instagram, "ada2")
            .await
            .person_id;
        everreach_core::people::merge::merge(&mut tx, a, b, false)
            .await
            .unwrap();
        tx.commit().await.unwrap();

        let mut tx = tenant::begin(&db.app, alice).await.unwrap();
        let refused = sqlx::query("DELETE FROM person_merges")
            .execute(&mut *tx)
            .await
            .unwrap_err();
        assert_eq!(
            refused
                .as_database_error()
                .and_then(|d| d.code())
                .as_deref(),
            Some("42501"),
            "{refused}"
        );
        tx.rollback().await.unwrap();

        let mut tx = tenant::begin(&db.app, alice).await.unwrap();
        let refused = sqlx::query("SELECT * FROM erase_person_audit($1, '{}')")
            .bind(vec![a, b])
            .execute(&mut *tx)
            .await
            .unwrap_err();
        assert!(refused.to_string().contains("still exists"), "{refused}");
        tx.rollback().await.unwrap();
        let records: i64 = sqlx::query_scalar("SELECT count(*) FROM person_merges")
            .fetch_one(&db.admin)
            .await
            .unwrap();
        assert_eq!(records, 1);
    }

    #[tokio::test]
    async fn the_timeline_is_served_by_the_seed_indexes() {
        let db = TestDb::new().await;
        let alice = db.create_user("alice@example.com").await;
        // One person with 2,000 events (a busy timeline is where the plan matters: a
        // short one is sorted whole) among 2,000 others with 40, over two channels.
        let mut events = Vec::new();
        for p in (1..=2_000).rev() {
            for e in 0..(if p == 1 { 2_000 } else { 40 }) {
                events.push(
                    json!({"identity": {"channel": "email", "handle": format!("p{p}@example.com")},
                                   "channel": if e % 2 == 0 { "email" } else { "instagram" },
                                   "event_type": "opened_email", "platform_id": format!("{p}-{e}"),
                                   "occurred_at": Utc::now() - Duration::minutes(e)}),
                );
            }
        }
        let mut person = Uuid::nil();
        for chunk in events.chunks(10_000) {
            person = *ingest_as(&db.app, alice, chunk.to_vec())
                .await
                .last()
                .unwrap();
        }
        sqlx::query("ANALYZE person_events")
            .execute(&db.admin)
            .await
            .unwrap();
        for (filter, index) in [
            (
                TimelineFilter {
                    limit: 50,
                    ..TimelineFilter::default()
                },
                "idx_person_events_person",
            ),
            (
                TimelineFilter {
                    channel: Some("email".into()),
                    limit: 50,
                    ..TimelineFilter::default()
                },
                "idx_events_person_channel",
            ),
        ] {
            let sql = page_sql(&filter);
            let mut tx = tenant::begin(&db.app, alice).await.unwrap();
            let mut q =
                sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!("EXPLAIN {sql}")))
                    .bind(alice)
                    .bind(person);
            if let Some(c) = &filter.channel {
                q = q.bind(c.clone());
            }
            let plan = q
                .bind(filter.limit)
                .fetch_all(&mut *tx)
                .await
                .unwrap()
                .join("\n");
            assert!(plan.contains(index), "{index} not in\n{plan}");
            assert!(!plan.contains("Seq Scan"), "{plan}");
        }
    }
}

#[tokio::test]
async fn a_tracking_recording_can_mark_a_message_seen_and_nothing_more() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    db.fill_tenant_tables(alice).await;
    let mut tx = tenant::begin(&db.app, alice).await.unwrap();
    let person = resolve_one(&mut tx, Channel::Instagram, "grace")
        .await
        .person_id;
    let message: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO outbound_messages (user_id, person_id, channel, body) VALUES ($1, $2, 'instagram', 'hi') RETURNING id",
    )
    .bind(alice)
    .bind(person)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let mut tx = everreach_core::people::tracking::begin_recording(&db.app, alice)
        .await
        .unwrap();
    everreach_core::people::tracking::record_click(&mut tx, message, "https://ada.dev/")
        .await
        .unwrap();
    tx.commit().await.unwrap();

    for forbidden in [
        "SELECT body FROM outbound_messages",
        "SELECT * FROM platform_connections",
        "SELECT * FROM users",
        "DELETE FROM person_events",
        "UPDATE outbound_messages SET body = 'x'",
        "INSERT INTO tracking_domains (user_id, domain) VALUES (current_user_id(), 'evil.example')",
    ] {
        let mut tx = everreach_core::people::tracking::begin_recording(&db.app, alice)
            .await
            .unwrap();
        let err = sqlx::query(forbidden).execute(&mut *tx).await.unwrap_err();
        assert!(
            err.to_string().contains("permission denied"),
            "{forbidden}: {err}"
        );
    }
}

#[tokio::test]
async fn search_ignores_accents_and_is_served_by_the_folded_trigram_indexes() {
    use everreach_core::people::search::{self, SEARCH_SQL, like_literal};

    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    // 20,000 people with a handle each, for the planner to weigh, and the few we look for.
    let mut tx = tenant::begin(&db.app, alice).await.unwrap();
    sqlx::query(
        "INSERT INTO people (user_id, full_name, primary_email)
         SELECT $1, 'Person ' || g, 'person' || g || '@example.com' FROM generate_series(1, 20000) g
         UNION ALL VALUES ($1, 'Júlia Souza', NULL), ($1, 'Julia Roberts', NULL),
                          ($1, 'Zoë Kravitz', 'zoë@example.com'), ($1, 'Zoe Ball', NULL),
                          ($1, 'Ångström', NULL)",
    )
    .bind(alice)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO person_match_keys (user_id, person_id, kind, value, source)
         SELECT user_id, id, 'handle',
                CASE WHEN full_name = 'Zoe Ball' THEN 'https://www.linkedin.com/in/josé-garcía'
                     ELSE 'handle.' || md5(id::text) END, 'test'
           FROM people",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    sqlx::query("ANALYZE people, person_match_keys")
        .execute(&db.admin)
        .await
        .unwrap();

    let mut tx = tenant::begin(&db.app, alice).await.unwrap();
    assert_eq!(
        search::fold(&mut tx, "  Zoë ÅNGSTRÖM Straße ")
            .await
            .unwrap(),
        "zoe angstrom strasse"
    );
    for (query, expected) in [
        ("júlia", &["Julia Roberts", "Júlia Souza"][..]),
        ("julia", &["Julia Roberts", "Júlia Souza"]),
        ("JÚLIA", &["Julia Roberts", "Júlia Souza"]),
        ("zoe", &["Zoe Ball", "Zoë Kravitz", "zoë@example.com"]),
        ("zoë", &["Zoe Ball", "Zoë Kravitz", "zoë@example.com"]),
        ("angstrom", &["Ångström"]),
        ("jose-garcia", &["https://www.linkedin.com/in/josé-garcía"]),
        ("garcía", &["https://www.linkedin.com/in/josé-garcía"]),
    ] {
        let found = search::search(&mut tx, query, &search::Filter::default(), None, 50)
            .await
            .unwrap();
        let mut matched: Vec<String> = found.into_iter().filter_map(|p| p.matched).collect();
        matched.sort();
        // Zoë Kravitz is one person matched by name or e-mail, whichever ranks first.
        if query.starts_with("zo") {
            assert_eq!(matched.len(), 2, "{query}: {matched:?}");
            assert!(
                matched.iter().all(|m| expected.contains(&m.as_str())),
                "{query}: {matched:?}"
            );
        } else {
            assert_eq!(matched, expected, "{query}");
        }
    }

    // The folded query goes to the folded trigram indexes, not a scan of everyone: the
    // app's query asks everreach_people_search_hits, whose body (planned as its owner,
    // with the values and generically) reads the indexes.
    let q = search::fold(&mut tx, "Júlia").await.unwrap();
    let like = like_literal(&q);
    let plan = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!(
        "EXPLAIN {}",
        SEARCH_SQL.as_str()
    )))
    .bind(alice)
    .bind(&q)
    .bind(&like)
    .bind(None::<f64>)
    .bind(None::<uuid::Uuid>)
    .bind(50_i64)
    .bind(None::<String>)
    .bind(None::<String>)
    .fetch_all(&mut *tx)
    .await
    .unwrap()
    .join("\n");
    assert!(plan.contains("everreach_people_search_hits"), "{plan}");
    assert!(!plan.contains("Seq Scan"), "{plan}");
    tx.commit().await.unwrap();

    let body: String = sqlx::query_scalar(
        "SELECT prosrc FROM pg_proc WHERE proname = 'everreach_people_search_hits'",
    )
    .fetch_one(&db.admin)
    .await
    .unwrap();
    for explain in ["EXPLAIN", "EXPLAIN (GENERIC_PLAN)"] {
        let mut owner = db.admin.begin().await.unwrap();
        sqlx::query("SELECT set_config('app.user_id', $1, true)")
            .bind(alice.to_string())
            .execute(&mut *owner)
            .await
            .unwrap();
        sqlx::query("SET LOCAL ROLE everreach_definer")
            .execute(&mut *owner)
            .await
            .unwrap();
        let sql = sqlx::AssertSqlSafe(format!("{explain} {body}"));
        let plan: Vec<String> = if explain == "EXPLAIN" {
            sqlx::query_scalar(sql)
                .bind(&q)
                .bind(&like)
                .fetch_all(&mut *owner)
                .await
                .unwrap()
        } else {
            // the parameters stay unknown: the simple protocol, which binds none
            let rows = sqlx::raw_sql(sql).fetch_all(&mut *owner).await.unwrap();
            rows.iter().map(|r| sqlx::Row::get(r, 0)).collect()
        };
        let plan = plan.join("\n");
        for index in [
            "idx_people_full_name_fold_trgm",
            "idx_people_primary_email_fold_trgm",
            "idx_person_match_keys_search_fold_trgm",
        ] {
            assert!(plan.contains(index), "{explain}: {index} not in\n{plan}");
        }
        assert!(!plan.contains("Seq Scan"), "{explain}: {plan}");
        owner.rollback().await.unwrap();
    }
}
