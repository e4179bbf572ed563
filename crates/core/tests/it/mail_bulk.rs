//! The mbox importer's batch writes of `email_message_keys` and
//! `email_interactions` (migration 20261205000000): their references are checked
//! once per batch, and the rules are those of the foreign keys they stand in for.
//! A key or link naming a missing e-mail, or another tenant's contact, is a
//! foreign-key violation that leaves nothing behind. The tenant is always the
//! transaction's own, and the replica mode the functions write in never outlives
//! them.

use chrono::{DateTime, TimeZone, Utc};
use everreach_core::db::tenant::{self, TenantTx};
use everreach_testkit::TestDb;
use uuid::Uuid;

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 4, 5, 6, 7).unwrap()
}

async fn email(tx: &mut TenantTx) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO emails (user_id, message_id, internal_date) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(tx.user_id())
    .bind(Uuid::new_v4().to_string())
    .bind(at())
    .fetch_one(&mut **tx)
    .await
    .unwrap()
}

async fn contact(tx: &mut TenantTx, address: &str) -> Uuid {
    sqlx::query_scalar("INSERT INTO contacts (user_id, email) VALUES ($1, $2) RETURNING id")
        .bind(tx.user_id())
        .bind(address)
        .fetch_one(&mut **tx)
        .await
        .unwrap()
}

async fn claim(tx: &mut TenantTx, key: &str, id: Uuid) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT everreach_claim_message_keys($1::text[], $2::uuid[], $3::timestamptz[])",
    )
    .bind(vec![key])
    .bind(vec![id])
    .bind(vec![at()])
    .fetch_all(&mut **tx)
    .await
}

async fn link(
    tx: &mut TenantTx,
    keys: &[Uuid],
    email: Uuid,
    contact: Uuid,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT everreach_link_mail($1::uuid[], $2::timestamptz[], $3::uuid[], $4::timestamptz[], $5::uuid[], $6::text[])",
    )
    .bind(keys)
    .bind(keys.iter().map(|_| at()).collect::<Vec<_>>())
    .bind(vec![email])
    .bind(vec![at()])
    .bind(vec![contact])
    .bind(vec!["to"])
    .fetch_one(&mut **tx)
    .await
}

fn code(e: &sqlx::Error) -> String {
    e.as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.to_string())
        .unwrap_or_default()
}

async fn rows(db: &TestDb, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(&db.admin)
        .await
        .unwrap()
}

#[tokio::test]
async fn batch_links_keep_the_foreign_keys_rules_for_the_tenant_alone() {
    let db = TestDb::new().await;
    let ada = db.create_user("ada@example.com").await;
    let bob = db.create_user("bob@example.com").await;
    sqlx::query("SELECT create_monthly_partitions('2025-03-01', '2025-03-01')")
        .execute(&db.admin)
        .await
        .unwrap();
    let mut tx = tenant::begin(&db.app, bob).await.unwrap();
    let bobs_contact = contact(&mut tx, "eve@example.com").await;
    let bobs_email = email(&mut tx).await;
    tx.commit().await.unwrap();

    // The happy path: a key claimed once, its e-mail stored, a link; replica mode gone.
    let mut tx = tenant::begin(&db.app, ada).await.unwrap();
    let e = email(&mut tx).await;
    let c = contact(&mut tx, "kim@example.com").await;
    assert_eq!(claim(&mut tx, "<a@x>", e).await.unwrap(), ["<a@x>"]);
    assert!(
        claim(&mut tx, "<a@x>", e).await.unwrap().is_empty(),
        "claimed once"
    );
    assert_eq!(link(&mut tx, &[e], e, c).await.unwrap(), 1);
    let mode: String = sqlx::query_scalar("SHOW session_replication_role")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(mode, "origin");
    tx.commit().await.unwrap();
    assert_eq!(rows(&db, "email_interactions").await, 1);

    // A claimed key whose e-mail was never stored: the batch fails whole.
    let mut tx = tenant::begin(&db.app, ada).await.unwrap();
    let e2 = email(&mut tx).await;
    let ghost = Uuid::new_v4();
    claim(&mut tx, "<ghost@x>", ghost).await.unwrap();
    let err = link(&mut tx, &[ghost], e2, c).await.unwrap_err();
    assert_eq!(code(&err), "23503", "{err}");
    assert!(err.to_string().contains(&ghost.to_string()), "{err}");
    drop(tx);
    assert_eq!(rows(&db, "email_message_keys").await, 1);

    // Bob's contact or Bob's e-mail from Ada's transaction: refused the same way.
    let mut tx = tenant::begin(&db.app, ada).await.unwrap();
    let err = link(&mut tx, &[], e, bobs_contact).await.unwrap_err();
    assert_eq!(code(&err), "23503", "{err}");
    drop(tx);
    let mut tx = tenant::begin(&db.app, ada).await.unwrap();
    let err = link(&mut tx, &[], bobs_email, c).await.unwrap_err();
    assert_eq!(code(&err), "23503", "{err}");
    drop(tx);
    assert_eq!(rows(&db, "email_interactions").await, 1);

    // Outside a tenant transaction there is no tenant to write for.
    let err = sqlx::query_scalar::<_, String>(
        "SELECT everreach_claim_message_keys(ARRAY['<b@x>'], ARRAY[gen_random_uuid()], ARRAY[now()])",
    )
    .fetch_all(&db.app)
    .await
    .unwrap_err();
    assert!(err.to_string().contains("no tenant"), "{err}");
}
