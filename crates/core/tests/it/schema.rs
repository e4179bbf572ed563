//! The schema's own behaviour: partitions on demand, triggers, the event notification,
//! and grants that never reach a partition.

use everreach_core::db::tenant;
use everreach_testkit::TestDb;
use sqlx::postgres::PgListener;

#[tokio::test]
async fn partitions_are_created_per_month_idempotently() {
    let db = TestDb::new().await;
    let created: i32 =
        sqlx::query_scalar("SELECT create_monthly_partitions('2031-01-01', '2031-03-01')")
            .fetch_one(&db.admin)
            .await
            .unwrap();
    assert!(
        created >= 15,
        "3 months × 5 partitioned tables, got {created}"
    );
    let again: i32 =
        sqlx::query_scalar("SELECT create_monthly_partitions('2031-01-01', '2031-03-01')")
            .fetch_one(&db.admin)
            .await
            .unwrap();
    assert_eq!(again, 0);
    let exists: bool =
        sqlx::query_scalar("SELECT to_regclass('public.emails_2031_02') IS NOT NULL")
            .fetch_one(&db.admin)
            .await
            .unwrap();
    assert!(exists);
}

#[tokio::test]
async fn the_app_role_is_granted_no_partition() {
    let db = TestDb::new().await;
    let leaks: Vec<String> = sqlx::query_scalar(
        "SELECT c.oid::regclass::text FROM pg_class c
         WHERE c.relispartition AND has_table_privilege('everreach_app', c.oid, 'SELECT')",
    )
    .fetch_all(&db.admin)
    .await
    .unwrap();
    assert_eq!(
        leaks,
        Vec::<String>::new(),
        "a partition bypasses its parent's policies"
    );
}

#[tokio::test]
async fn updated_at_and_contact_search_vector_are_kept_by_triggers() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let mut tx = tenant::begin(&db.app, alice).await.unwrap();
    let (id, created): (uuid::Uuid, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
        "INSERT INTO contacts (user_id, name, email, title) VALUES ($1, 'Grace Hopper', 'grace@navy.mil', 'Rear Admiral')
         RETURNING id, updated_at",
    )
    .bind(alice)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut tx = tenant::begin(&db.app, alice).await.unwrap();
    let (updated, found): (chrono::DateTime<chrono::Utc>, bool) = sqlx::query_as(
        "UPDATE contacts SET bio = 'compilers' WHERE user_id = $1 AND id = $2
         RETURNING updated_at, search_vector @@ to_tsquery('english', 'hopper & compiler')",
    )
    .bind(alice)
    .bind(id)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert!(updated > created);
    assert!(found, "search_vector covers name and bio");
}

#[tokio::test]
async fn log_event_stores_the_event_and_notifies_listeners_on_commit() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let mut listener = PgListener::connect_with(&db.admin).await.unwrap();
    listener.listen("events").await.unwrap();
    let entity = uuid::Uuid::new_v4();
    let mut tx = tenant::begin(&db.app, alice).await.unwrap();
    let id: uuid::Uuid = sqlx::query_scalar(
        "SELECT log_event($1, 'contact', $2, 'contact.created', '{\"name\": \"Grace\"}'::jsonb)",
    )
    .bind(alice)
    .bind(entity)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let note = tokio::time::timeout(std::time::Duration::from_secs(5), listener.recv())
        .await
        .expect("a notification within 5 s")
        .unwrap();
    let payload: serde_json::Value = serde_json::from_str(note.payload()).unwrap();
    assert_eq!(payload["id"], id.to_string());
    assert_eq!(payload["type"], "contact.created");
    assert_eq!(payload["entity_id"], entity.to_string());
}

#[tokio::test]
async fn the_cache_keeps_values_until_their_ttl() {
    use everreach_core::platform::cache;
    let db = TestDb::new().await;
    let key = cache::tenant_key(
        uuid::Uuid::nil(),
        &["analytics", "performance", "c1", "instagram"],
    );
    assert_eq!(
        cache::get::<serde_json::Value>(&db.app, &key)
            .await
            .unwrap(),
        None
    );
    cache::set(
        &db.app,
        &key,
        &serde_json::json!({"views": 10}),
        Some(std::time::Duration::from_secs(60)),
    )
    .await
    .unwrap();
    let hit: serde_json::Value = cache::get(&db.app, &key).await.unwrap().unwrap();
    assert_eq!(hit["views"], 10);
    cache::set(
        &db.app,
        "short",
        &1,
        Some(std::time::Duration::from_millis(1)),
    )
    .await
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert_eq!(
        cache::get::<i32>(&db.app, "short").await.unwrap(),
        None,
        "expired"
    );
    let mut calls = 0;
    for _ in 0..2 {
        let v: i32 = cache::get_or_compute(
            &db.app,
            "computed",
            std::time::Duration::from_secs(60),
            || {
                calls += 1;
                async { Ok::<_, cache::CacheError>(42) }
            },
        )
        .await
        .unwrap();
        assert_eq!(v, 42);
    }
    assert_eq!(calls, 1, "computed once, then served from the cache");
    assert!(
        cache::set(&db.app, &"k".repeat(256), &1, None)
            .await
            .is_err()
    );
    assert!(cache::delete(&db.app, &key).await.unwrap());
}
