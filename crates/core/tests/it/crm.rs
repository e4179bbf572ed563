//! The Instagram CRM's seeded rows (DESIGN §9): sign-up gives every new user exactly
//! 001's patterns, templates and fit signals in its own transaction, and seeding
//! again adds only what a tenant lacks, never touching another tenant's rows.

use std::collections::BTreeMap;

use everreach_core::accounts::company::Companies;
use everreach_core::accounts::{Accounts, Email, Password, Principal, User};
use everreach_core::crm::seed::{self, Seeded};
use everreach_core::db::tenant;
use everreach_testkit::TestDb;
use uuid::Uuid;

async fn sign_up(db: &TestDb, email: &str) -> User {
    Accounts::new(db.app.clone())
        .sign_up(
            &Email::parse(email).unwrap(),
            &Password::parse("a long enough password").unwrap(),
            None,
        )
        .await
        .unwrap()
}

/// What a tenant has, counted as [`Seeded`] counts (through the tenant's own view).
async fn held(db: &TestDb, user_id: Uuid) -> Seeded {
    let mut tx = tenant::begin(&db.app, user_id).await.unwrap();
    let kinds: BTreeMap<String, i64> = sqlx::query_as(
        "SELECT pattern_type, count(*) FROM automation_patterns GROUP BY pattern_type",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap()
    .into_iter()
    .collect();
    let templates: i64 = sqlx::query_scalar("SELECT count(*) FROM next_best_actions")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let signals: i64 = sqlx::query_scalar("SELECT count(*) FROM fit_signals")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let kind = |k: &str| kinds.get(k).copied().unwrap_or(0) as u64;
    Seeded {
        known_handle: kind("known_handle"),
        selector: kind("selector"),
        skip_pattern: kind("skip_pattern"),
        spam_pattern: kind("spam_pattern"),
        next_best_actions: templates as u64,
        fit_signals: signals as u64,
    }
}

async fn seed_again(db: &TestDb, user_id: Uuid) -> Seeded {
    let mut tx = tenant::begin(&db.app, user_id).await.unwrap();
    let added = seed::seed(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    added
}

async fn audit_rows(db: &TestDb, user_id: Uuid) -> Vec<(String, serde_json::Value)> {
    sqlx::query_as(
        "SELECT table_name::text, new_values FROM audit_log
          WHERE user_id = $1 AND table_name IN ('automation_patterns', 'next_best_actions', 'fit_signals')
          ORDER BY table_name",
    )
    .bind(user_id)
    .fetch_all(&db.admin)
    .await
    .unwrap()
}

#[tokio::test]
async fn sign_up_seeds_exactly_the_seeds_rows_and_seeding_again_adds_nothing() {
    let db = TestDb::new().await;
    let ada = sign_up(&db, "ada@example.com").await;
    let expected = Seeded {
        known_handle: 35,
        selector: 7,
        skip_pattern: 5,
        spam_pattern: 3,
        next_best_actions: 20,
        fit_signals: 13,
    };
    assert_eq!(held(&db, ada.id).await, expected);

    let mut tx = tenant::begin(&db.app, ada.id).await.unwrap();
    let sarah: String = sqlx::query_scalar(
        "SELECT pattern_value FROM automation_patterns WHERE pattern_type = 'known_handle' AND pattern_key = 'saraheashley'",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(sarah, "Sarah Ashley");
    let crypto: serde_json::Value = sqlx::query_scalar(
        "SELECT metadata FROM automation_patterns WHERE pattern_type = 'spam_pattern' AND pattern_key = 'crypto'",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(crypto, serde_json::json!({"action": "flag"}));
    let lanes: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT lane FROM next_best_actions ORDER BY lane")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    assert_eq!(
        lanes,
        [
            "curiosity",
            "friendship",
            "offer",
            "retention",
            "rewarm",
            "service"
        ]
    );
    let without_why: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM next_best_actions WHERE coalesce(metadata->>'why', '') = ''",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(without_why, 0, "every template says why it fits");
    let check_in: (String, String) = sqlx::query_as(
        "SELECT stage, action_text FROM next_best_actions WHERE lane = 'friendship' AND action_key = 'check_in'",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(
        check_in,
        (
            "any".to_string(),
            "yo\u{2014}how'd that thing go from last week?".to_string()
        )
    );
    tx.commit().await.unwrap();

    let audited = audit_rows(&db, ada.id).await;
    assert_eq!(audited.len(), 3, "one audit row per table: {audited:?}");
    assert_eq!(audited[0].0, "automation_patterns");
    assert_eq!(audited[0].1["added"]["known_handle"], 35);

    assert_eq!(seed_again(&db, ada.id).await, Seeded::default());
    assert_eq!(held(&db, ada.id).await, expected, "nothing was added");
    assert_eq!(
        audit_rows(&db, ada.id).await.len(),
        3,
        "nothing added, nothing audited"
    );
}

#[tokio::test]
async fn seeding_adds_only_what_a_tenant_lacks_and_never_touches_another_tenant() {
    let db = TestDb::new().await;
    let ada = sign_up(&db, "ada@example.com").await;
    let bob = sign_up(&db, "bob@example.com").await;
    // Bob deletes a known handle and rewrites a template.
    let mut tx = tenant::begin(&db.app, bob.id).await.unwrap();
    let deleted = sqlx::query(
        "DELETE FROM automation_patterns WHERE pattern_type = 'known_handle' AND pattern_key = 'saraheashley'",
    )
    .execute(&mut *tx)
    .await
    .unwrap()
    .rows_affected();
    assert_eq!(deleted, 1);
    sqlx::query(
        "UPDATE next_best_actions SET action_text = 'bob''s own words' WHERE lane = 'rewarm' AND action_key = 'low_friction'",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();

    assert_eq!(seed_again(&db, ada.id).await, Seeded::default());
    assert_eq!(held(&db, ada.id).await, Seeded::ALL);
    let bobs = held(&db, bob.id).await;
    assert_eq!(
        bobs.known_handle, 34,
        "seeding ada gave bob nothing back: {bobs:?}"
    );

    let added = seed_again(&db, bob.id).await;
    assert_eq!(
        added,
        Seeded {
            known_handle: 1,
            ..Seeded::default()
        }
    );
    assert_eq!(held(&db, bob.id).await, Seeded::ALL);
    let mut tx = tenant::begin(&db.app, bob.id).await.unwrap();
    let text: String = sqlx::query_scalar(
        "SELECT action_text FROM next_best_actions WHERE lane = 'rewarm' AND action_key = 'low_friction'",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(text, "bob's own words", "an edited row stays as edited");
    let all: i64 = sqlx::query_scalar("SELECT count(*) FROM automation_patterns")
        .fetch_one(&db.admin)
        .await
        .unwrap();
    assert_eq!(all, 2 * 50, "each tenant has its own 50 patterns, no more");
}

#[tokio::test]
async fn a_seed_that_fails_leaves_no_account_behind() {
    let db = TestDb::new().await;
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_for_the_test() RETURNS trigger LANGUAGE plpgsql
             AS $$ BEGIN RAISE EXCEPTION 'refused for the test'; END $$;
         CREATE TRIGGER refuse BEFORE INSERT ON fit_signals
             FOR EACH ROW EXECUTE FUNCTION refuse_for_the_test();",
    )
    .execute(&db.admin)
    .await
    .unwrap();
    let failed = Accounts::new(db.app.clone())
        .sign_up(
            &Email::parse("ada@example.com").unwrap(),
            &Password::parse("a long enough password").unwrap(),
            None,
        )
        .await;
    assert!(failed.is_err(), "the seed's failure is the sign-up's");
    for table in ["users", "companies", "automation_patterns", "audit_log"] {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&db.admin)
                .await
                .unwrap();
        assert_eq!(n, 0, "{table} kept a row of the failed sign-up");
    }
}

#[tokio::test]
async fn an_invited_member_is_seeded_when_they_join() {
    let db = TestDb::new().await;
    let ada = sign_up(&db, "ada@example.com").await;
    let companies = Companies::new(db.app.clone());
    let admin = Principal {
        user_id: ada.id,
        role: ada.role,
        company_id: ada.company_id,
    };
    let (_, link) = companies
        .invite(
            &admin,
            &Email::parse("cy@example.com").unwrap(),
            everreach_core::accounts::Role::User,
        )
        .await
        .unwrap();
    let cy = companies
        .accept_invitation(&link, &Password::parse("a long enough password").unwrap())
        .await
        .unwrap();
    assert_eq!(held(&db, cy).await, Seeded::ALL);
    assert_eq!(held(&db, ada.id).await, Seeded::ALL);
}
