//! Row-level security holds on every tenant table, through the application role:
//! user B can neither see nor change nor forge user A's rows.

use everreach_core::db::tenant::{self, Actor};
use everreach_testkit::TestDb;
use sqlx::{AssertSqlSafe, PgPool, Row};
use uuid::Uuid;

use crate::fill_tenant_tables;

/// Tables that carry a user_id but are not tenant tables (DESIGN §1).
const NOT_TENANT: &[&str] = &["audit_log", "jobs"];
/// Tenant tables the app role may not delete from at all (rows go with their tenant,
/// or through a checked function): bob's delete is refused outright.
const APP_CANNOT_DELETE: &[&str] = &["public.person_merges"];

#[derive(Debug)]
struct Table {
    qualified: String,
    rls: bool,
    forced: bool,
    /// Columns an INSERT may name (not generated, not GENERATED ALWAYS identity).
    insertable: Vec<String>,
}

/// Every table (not partition) with a user_id column in the tenant schemas.
async fn tenant_tables(pool: &PgPool) -> Vec<Table> {
    let rows = sqlx::query(
        "SELECT format('%I.%I', n.nspname, c.relname) AS qualified, c.relname AS name,
                c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
                array(SELECT quote_ident(a.attname) FROM pg_attribute a
                      WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                        AND a.attgenerated = '' AND a.attidentity <> 'a'
                      ORDER BY a.attnum) AS insertable
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
           AND n.nspname IN ('public', 'analytics', 'ml_data')
           AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                       AND a.attname = 'user_id' AND NOT a.attisdropped)
         ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .filter(|r| !NOT_TENANT.contains(&r.get::<String, _>("name").as_str()))
        .map(|r| Table {
            qualified: r.get("qualified"),
            rls: r.get("rls"),
            forced: r.get("forced"),
            insertable: r.get("insertable"),
        })
        .collect()
}

async fn count(pool: &PgPool, as_user: Option<Uuid>, sql: &str, arg: Uuid) -> i64 {
    let query = sqlx::query_scalar(AssertSqlSafe(sql.to_string())).bind(arg);
    match as_user {
        Some(u) => {
            let mut tx = tenant::begin(pool, u).await.unwrap();
            query.fetch_one(&mut *tx).await.unwrap()
        }
        None => query.fetch_one(pool).await.unwrap(),
    }
}

#[tokio::test]
async fn every_tenant_table_isolates_users_through_the_app_role() {
    let db = TestDb::new().await;
    let role: (bool, bool) =
        sqlx::query_as("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&db.app)
            .await
            .unwrap();
    assert_eq!(
        role,
        (false, false),
        "the app role must be subject to RLS, or this test proves nothing"
    );

    let alice = db.create_user("alice@example.com").await;
    let bob = db.create_user("bob@example.com").await;
    fill_tenant_tables(&db, alice).await;
    fill_tenant_tables(&db, bob).await;

    let tables = tenant_tables(&db.admin).await;
    assert!(
        tables.len() >= 49,
        "expected every seed's tenant tables, found {}",
        tables.len()
    );
    let mut failures = Vec::new();
    for t in &tables {
        let q = &t.qualified;
        if !(t.rls && t.forced) {
            failures.push(format!("{q}: RLS enabled={} forced={}", t.rls, t.forced));
        }
        let own = count(
            &db.app,
            Some(alice),
            &format!("SELECT count(*) FROM {q} WHERE user_id = $1"),
            alice,
        )
        .await;
        if own == 0 {
            failures.push(format!("{q}: the fixture put no row of alice's here"));
        }
        let others = count(
            &db.app,
            Some(alice),
            &format!("SELECT count(*) FROM {q} WHERE user_id <> $1"),
            alice,
        )
        .await;
        if others != 0 {
            failures.push(format!("{q}: alice sees {others} rows of other users"));
        }
        let no_tenant = count(
            &db.app,
            None,
            &format!("SELECT count(*) FROM {q} WHERE user_id = $1"),
            alice,
        )
        .await;
        if no_tenant != 0 {
            failures.push(format!("{q}: {no_tenant} rows visible with no tenant set"));
        }
        failures.extend(bob_cannot_touch(&db.app, t, alice, bob).await);
    }
    assert!(
        failures.is_empty(),
        "isolation failures:\n{}",
        failures.join("\n")
    );
}

/// As bob: alice's rows cannot be updated, deleted, or taken over, and a copy of one
/// of them cannot be inserted under alice's id.
async fn bob_cannot_touch(pool: &PgPool, t: &Table, alice: Uuid, bob: Uuid) -> Vec<String> {
    let q = &t.qualified;
    let mut failures = Vec::new();
    for (what, sql) in [
        (
            "update",
            format!("UPDATE {q} SET user_id = user_id WHERE user_id = $1"),
        ),
        (
            "take over",
            format!("UPDATE {q} SET user_id = '{bob}' WHERE user_id = $1"),
        ),
        ("delete", format!("DELETE FROM {q} WHERE user_id = $1")),
    ] {
        let mut tx = tenant::begin(pool, bob).await.unwrap();
        match sqlx::query(AssertSqlSafe(sql))
            .bind(alice)
            .execute(&mut *tx)
            .await
        {
            Ok(done) if done.rows_affected() == 0 => {}
            Err(sqlx::Error::Database(e))
                if what == "delete"
                    && APP_CANNOT_DELETE.contains(&q.as_str())
                    && e.code().as_deref() == Some("42501") => {}
            Ok(done) => failures.push(format!(
                "{q}: bob could {what} {} of alice's rows",
                done.rows_affected()
            )),
            Err(e) => failures.push(format!(
                "{q}: bob's {what} raised instead of affecting 0 rows: {e}"
            )),
        }
    }

    // A copy of alice's row, read as alice, inserted by bob: the policy's WITH CHECK refuses it.
    let cols = t.insertable.join(", ");
    let mut as_alice = tenant::begin(pool, alice).await.unwrap();
    let row: serde_json::Value = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT to_jsonb(x) FROM (SELECT {cols} FROM {q} WHERE user_id = $1 LIMIT 1) x"
    )))
    .bind(alice)
    .fetch_one(&mut *as_alice)
    .await
    .unwrap();
    drop(as_alice);
    let mut tx = tenant::begin(pool, bob).await.unwrap();
    let insert =
        format!("INSERT INTO {q} ({cols}) SELECT {cols} FROM jsonb_populate_record(NULL::{q}, $1)");
    match sqlx::query(AssertSqlSafe(insert))
        .bind(&row)
        .execute(&mut *tx)
        .await
    {
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42501") => {}
        Err(e) => failures.push(format!(
            "{q}: forged insert failed, but not by the RLS policy: {e}"
        )),
        Ok(_) => failures.push(format!("{q}: bob inserted a row under alice's user_id")),
    }

    // Bob cannot hand one of his own rows to alice either.
    let mut tx = tenant::begin(pool, bob).await.unwrap();
    let give = format!("UPDATE {q} SET user_id = '{alice}' WHERE user_id = $1");
    match sqlx::query(AssertSqlSafe(give))
        .bind(bob)
        .execute(&mut *tx)
        .await
    {
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42501") => {}
        Err(sqlx::Error::Database(e))
            if e.code().as_deref().is_some_and(|c| c.starts_with("23")) =>
        {
            // A key or check refused it before the policy did: the row still did not move.
        }
        Err(e) => failures.push(format!("{q}: moving bob's row failed oddly: {e}")),
        Ok(done) if done.rows_affected() == 0 => {
            // Every row of bob's is hidden from UPDATE by a finer rule (e.g. published posts).
        }
        Ok(_) => failures.push(format!("{q}: bob moved his row to alice")),
    }
    failures
}

#[tokio::test]
async fn erasing_a_user_leaves_no_row_behind() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let bob = db.create_user("bob@example.com").await;
    fill_tenant_tables(&db, alice).await;
    fill_tenant_tables(&db, bob).await;
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(alice)
        .execute(&db.admin)
        .await
        .unwrap();
    for t in tenant_tables(&db.admin).await {
        let q = &t.qualified;
        let sql = format!("SELECT count(*) FROM {q} WHERE user_id = $1");
        assert_eq!(
            count(&db.admin, Some(alice), &sql, alice).await,
            0,
            "{q} kept alice's rows"
        );
        assert!(
            count(&db.app, Some(bob), &sql, bob).await > 0,
            "{q} lost bob's rows"
        );
    }
}

#[tokio::test]
async fn users_read_and_edit_only_their_own_account_and_not_their_role() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let bob = db.create_user("bob@example.com").await;
    let mut tx = tenant::begin(&db.app, alice).await.unwrap();
    let visible: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM users")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(visible, vec![alice]);
    let renamed = sqlx::query("UPDATE users SET full_name = 'Bobby' WHERE id = $1")
        .bind(bob)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(renamed.rows_affected(), 0);
    let own = sqlx::query("UPDATE users SET full_name = 'Alice A.' WHERE id = $1")
        .bind(alice)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(own.rows_affected(), 1);
    tx.commit().await.unwrap();

    let mut tx = tenant::begin(&db.app, alice).await.unwrap();
    let err = sqlx::query(
        "UPDATE users SET role = 'admin', subscription_tier = 'enterprise' WHERE id = $1",
    )
    .bind(alice)
    .execute(&mut *tx)
    .await
    .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
}

#[tokio::test]
async fn sign_up_gives_a_personal_company_and_a_free_username() {
    let db = TestDb::new().await;
    let first = db.create_user("Sam@Example.com").await;
    let second = db.create_user("sam@other.org").await;
    let rows: Vec<(String, String, Uuid)> =
        sqlx::query_as("SELECT email, username, company_id FROM users WHERE id = ANY($1) ORDER BY created_at, email")
            .bind(vec![first, second])
            .fetch_all(&db.admin)
            .await
            .unwrap();
    assert_eq!(rows[0].0, "sam@example.com", "e-mail is normalised");
    let mut names: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    names.sort();
    assert_eq!(names, vec!["sam", "sam2"]);
    assert_ne!(rows[0].2, rows[1].2, "each sign-up gets its own company");
    let taken =
        sqlx::query_scalar::<_, Uuid>("SELECT sign_up_user('sam@example.com', NULL, 'Sam')")
            .fetch_one(&db.app)
            .await
            .unwrap_err();
    assert!(taken.to_string().contains("users_email_key"), "{taken}");
}

#[tokio::test]
async fn the_worker_moves_a_scheduled_post_on_but_its_user_cannot_once_processing() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    fill_tenant_tables(&db, alice).await;
    let mut tx = tenant::begin_as(&db.app, alice, Actor::Worker)
        .await
        .unwrap();
    let moved = sqlx::query("UPDATE scheduled_posts SET status = 'processing' WHERE user_id = $1")
        .bind(alice)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert!(moved.rows_affected() > 0);
    tx.commit().await.unwrap();

    let mut tx = tenant::begin(&db.app, alice).await.unwrap();
    let edited = sqlx::query("UPDATE scheduled_posts SET content = 'edited' WHERE user_id = $1")
        .bind(alice)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(
        edited.rows_affected(),
        0,
        "a post being processed is not editable by its user"
    );
    let cancelled = sqlx::query("DELETE FROM scheduled_posts WHERE user_id = $1")
        .bind(alice)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(cancelled.rows_affected(), 0);
}

#[tokio::test]
async fn published_posts_stay_and_the_last_voice_profile_stays() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    fill_tenant_tables(&db, alice).await;
    let mut tx = tenant::begin(&db.app, alice).await.unwrap();
    sqlx::query("UPDATE published_posts SET status = 'published' WHERE user_id = $1")
        .bind(alice)
        .execute(&mut *tx)
        .await
        .unwrap();
    let deleted =
        sqlx::query("DELETE FROM published_posts WHERE user_id = $1 AND status = 'published'")
            .bind(alice)
            .execute(&mut *tx)
            .await
            .unwrap();
    assert_eq!(
        deleted.rows_affected(),
        0,
        "published posts cannot be deleted"
    );

    let profiles: i64 = sqlx::query_scalar("SELECT count(*) FROM voice_profiles")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let last = sqlx::query("DELETE FROM voice_profiles WHERE user_id = $1")
        .bind(alice)
        .execute(&mut *tx)
        .await;
    match last {
        Ok(done) => assert!(
            (done.rows_affected() as i64) < profiles,
            "all {profiles} voice profiles were deleted"
        ),
        Err(e) => assert!(e.to_string().contains("voice profile"), "{e}"),
    }
}

#[tokio::test]
async fn a_pooled_connection_never_carries_a_tenant_into_the_next_transaction() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let one = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(db.target.app_options().unwrap().0)
        .await
        .unwrap();
    let mut tx = tenant::begin(&one, alice).await.unwrap();
    let inside: Option<Uuid> = sqlx::query_scalar("SELECT current_user_id()")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(inside, Some(alice));
    tx.commit().await.unwrap();
    let after: Option<Uuid> = sqlx::query_scalar("SELECT current_user_id()")
        .fetch_one(&one)
        .await
        .unwrap();
    assert_eq!(after, None, "the setting ended with its transaction");
    let mut tx = tenant::begin(&one, alice).await.unwrap();
    let _ = sqlx::query("SELECT 1/0").execute(&mut *tx).await;
    drop(tx);
    let after_rollback: Option<Uuid> = sqlx::query_scalar("SELECT current_user_id()")
        .fetch_one(&one)
        .await
        .unwrap();
    assert_eq!(after_rollback, None, "nor after a rollback");
}

#[tokio::test]
async fn the_app_role_bounds_its_statements_and_idle_transactions() {
    let db = TestDb::new().await;
    let mut tx = db.app.begin().await.unwrap();
    let statement: String = sqlx::query_scalar("SHOW statement_timeout")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let idle: String = sqlx::query_scalar("SHOW idle_in_transaction_session_timeout")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!((statement.as_str(), idle.as_str()), ("1min", "1min"));
    sqlx::query("SET LOCAL statement_timeout = '50ms'")
        .execute(&mut *tx)
        .await
        .unwrap();
    let err = sqlx::query("SELECT pg_sleep(1)")
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("statement timeout"), "{err}");
    let role_default: Option<String> = sqlx::query_scalar(
        "SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
          WHERE r.rolname = 'everreach_app' AND s.setdatabase = 0",
    )
    .fetch_optional(&db.admin)
    .await
    .unwrap();
    assert!(
        role_default
            .as_deref()
            .unwrap_or("")
            .contains("statement_timeout=60s"),
        "{role_default:?}"
    );
}
