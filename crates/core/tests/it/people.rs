//! Identity resolution on real PostgreSQL: one person per (channel, handle), even
//! when many writers see the same new handle at once.

use everreach_core::db::tenant;
use everreach_core::people::store::resolve_identity;
use everreach_core::people::{Channel, normalize_handle};
use everreach_testkit::TestDb;

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
            let resolved = resolve_identity(&mut tx, alice, Channel::Instagram, &handle)
                .await
                .unwrap();
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
        resolved.push(
            resolve_identity(&mut tx, user, Channel::Email, "grace@navy.mil")
                .await
                .unwrap(),
        );
        tx.commit().await.unwrap();
    }
    assert_ne!(resolved[0].person_id, resolved[1].person_id);
    let mut tx = tenant::begin(&db.app, alice).await.unwrap();
    let again = resolve_identity(&mut tx, alice, Channel::Email, "grace@navy.mil")
        .await
        .unwrap();
    assert_eq!(again.person_id, resolved[0].person_id);
    assert!(!again.created);
}
