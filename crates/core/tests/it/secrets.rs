//! Secrets at rest: what reaches the database is ciphertext, old keys keep opening
//! until rotated away, and a wrong key is refused before anything is written.

use everreach_core::db::tenant;
use everreach_core::secrets::columns::{self, SECRET_COLUMNS};
use everreach_core::secrets::{Keyring, SecretError};
use everreach_testkit::TestDb;
use sqlx::{AssertSqlSafe, PgPool};
use uuid::Uuid;

use crate::fill_tenant_tables;

fn marker(user: Uuid, table: &str, column: &str) -> String {
    format!("PLAINTEXT-{table}-{column}-{}", user.simple())
}

/// Rows (as the tenant) whose text anywhere in any table contains `needle`.
async fn rows_containing(db: &TestDb, user: Uuid, needle: &str) -> Vec<String> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
           AND n.nspname IN ('public', 'analytics', 'ml_data')
           AND has_table_privilege('everreach_app', c.oid, 'SELECT')",
    )
    .fetch_all(&db.admin)
    .await
    .unwrap();
    let mut found = Vec::new();
    let mut tx = tenant::begin(&db.app, user).await.unwrap();
    for t in tables {
        let sql = format!("SELECT count(*) FROM {t} x WHERE x::text LIKE '%' || $1 || '%'");
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(needle)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        if n > 0 {
            found.push(t);
        }
    }
    found
}

async fn row_id(app: &PgPool, user: Uuid, table: &str) -> Uuid {
    let mut tx = tenant::begin(app, user).await.unwrap();
    sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT id FROM {table} WHERE user_id = $1 LIMIT 1"
    )))
    .bind(user)
    .fetch_one(&mut *tx)
    .await
    .unwrap()
}

#[tokio::test]
async fn the_database_never_holds_a_secret_in_plaintext() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    fill_tenant_tables(&db, alice).await;
    let keyring = Keyring::from_raw(vec![[11u8; 32]], None);
    columns::verify_and_register(&db.admin, &keyring)
        .await
        .unwrap();

    let mut tx = tenant::begin(&db.app, alice).await.unwrap();
    for col in SECRET_COLUMNS {
        let id = row_id(&db.app, alice, col.table).await;
        columns::write(
            &mut tx,
            &keyring,
            col,
            alice,
            id,
            &marker(alice, col.table, col.column),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();

    for col in SECRET_COLUMNS {
        let secret = marker(alice, col.table, col.column);
        assert_eq!(
            rows_containing(&db, alice, &secret).await,
            Vec::<String>::new(),
            "{secret} stored in clear"
        );
        let id = row_id(&db.app, alice, col.table).await;
        let mut tx = tenant::begin(&db.app, alice).await.unwrap();
        let opened = columns::read(&mut tx, &keyring, col, alice, id)
            .await
            .unwrap();
        assert_eq!(
            opened.as_deref(),
            Some(secret.as_str()),
            "{}.{}",
            col.table,
            col.column
        );
    }
}

#[tokio::test]
async fn rotation_reseals_every_secret_and_seals_legacy_plaintext() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let bob = db.create_user("bob@example.com").await;
    for user in [alice, bob] {
        fill_tenant_tables(&db, user).await;
    }
    let old = Keyring::from_raw(vec![[1u8; 32]], None);
    columns::verify_and_register(&db.admin, &old).await.unwrap();
    // alice's secrets sealed with the old key; bob's left as legacy plaintext.
    let mut tx = tenant::begin(&db.app, alice).await.unwrap();
    for col in SECRET_COLUMNS {
        let id = row_id(&db.app, alice, col.table).await;
        columns::write(
            &mut tx,
            &old,
            col,
            alice,
            id,
            &marker(alice, col.table, col.column),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let mut tx = tenant::begin(&db.app, bob).await.unwrap();
    for col in SECRET_COLUMNS {
        let value = marker(bob, col.table, col.column);
        let (sql, bound) = if col.column == "config" {
            (
                format!(
                    "UPDATE {} SET config = jsonb_build_object('api_key', $2::text) WHERE user_id = $1",
                    col.table
                ),
                value,
            )
        } else {
            (
                format!(
                    "UPDATE {} SET {} = $2 WHERE user_id = $1",
                    col.table, col.column
                ),
                value,
            )
        };
        sqlx::query(AssertSqlSafe(sql))
            .bind(bob)
            .bind(bound)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();

    let new = Keyring::from_raw(vec![[2u8; 32], [1u8; 32]], None);
    let report = columns::rotate(&db.admin, &db.app, &new).await.unwrap();
    assert_eq!(report.values_resealed, SECRET_COLUMNS.len() as u64);
    assert!(report.plaintext_sealed >= SECRET_COLUMNS.len() as u64);

    let only_new = Keyring::from_raw(vec![[2u8; 32]], None);
    for col in SECRET_COLUMNS {
        let id = row_id(&db.app, alice, col.table).await;
        let mut tx = tenant::begin(&db.app, alice).await.unwrap();
        let opened = columns::read(&mut tx, &only_new, col, alice, id)
            .await
            .unwrap();
        assert_eq!(opened, Some(marker(alice, col.table, col.column)));
        let bobs = marker(bob, col.table, col.column);
        assert_eq!(
            rows_containing(&db, bob, &bobs).await,
            Vec::<String>::new(),
            "{bobs} still in clear"
        );
    }
    columns::verify_and_register(&db.admin, &only_new)
        .await
        .expect("the old key is retired");
    let again = columns::rotate(&db.admin, &db.app, &only_new)
        .await
        .unwrap();
    assert_eq!(
        (again.values_resealed, again.plaintext_sealed),
        (0, 0),
        "rotation is idempotent"
    );
}

#[tokio::test]
async fn a_wrong_key_is_refused_before_anything_is_written() {
    let db = TestDb::new().await;
    let right = Keyring::from_raw(vec![[5u8; 32]], None);
    columns::verify_and_register(&db.admin, &right)
        .await
        .unwrap();
    let wrong = Keyring::from_raw(vec![[6u8; 32]], None);
    let err = columns::verify_and_register(&db.admin, &wrong)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SecretError::MissingKey { key_id } if key_id == right.current_id()),
        "{err}"
    );
    assert!(
        err.to_string().contains("EVERREACH_ENCRYPTION_KEY"),
        "{err}"
    );
    let registered: i64 = sqlx::query_scalar("SELECT count(*) FROM encryption_keys")
        .fetch_one(&db.admin)
        .await
        .unwrap();
    assert_eq!(registered, 1, "the wrong key was not recorded");
}

/// A second row of `table` for `user` (beside the fixture's), with no secret yet.
async fn second_row(db: &TestDb, user: Uuid, table: &str) -> Uuid {
    let sql = match table {
        "accounts" => {
            "INSERT INTO accounts (user_id, provider, provider_account_id) \
             VALUES ($1, 'google', 'second-' || $1::text) RETURNING id"
        }
        "connector_configs" => {
            "INSERT INTO connector_configs (user_id, connector_type, config) \
             VALUES ($1, 'second', '{}') RETURNING id"
        }
        other => panic!("no second-row recipe for {other}"),
    };
    let mut tx = tenant::begin(&db.app, user).await.unwrap();
    let id = sqlx::query_scalar(sql)
        .bind(user)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

fn secret_column(table: &str, column: &str) -> &'static columns::SecretColumn {
    SECRET_COLUMNS
        .iter()
        .find(|c| c.table == table && c.column == column)
        .unwrap()
}

#[tokio::test]
async fn a_secret_copied_to_another_row_of_the_same_tenant_and_column_does_not_open() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    fill_tenant_tables(&db, alice).await;
    let keyring = Keyring::from_raw(vec![[11u8; 32]], None);
    for (table, column) in [
        ("accounts", "access_token"),
        ("connector_configs", "config"),
    ] {
        let col = secret_column(table, column);
        let first = row_id(&db.app, alice, table).await;
        let second = second_row(&db, alice, table).await;
        let mut tx = tenant::begin(&db.app, alice).await.unwrap();
        columns::write(&mut tx, &keyring, col, alice, first, "first row's secret")
            .await
            .unwrap();
        columns::write(&mut tx, &keyring, col, alice, second, "second row's secret")
            .await
            .unwrap();
        // Someone who can write the database, but holds no key, copies the first
        // row's ciphertext over the second's.
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE {table} SET {column} = (SELECT {column} FROM {table} WHERE user_id = $1 AND id = $2) \
             WHERE user_id = $1 AND id = $3"
        )))
        .bind(alice)
        .bind(first)
        .bind(second)
        .execute(&mut *tx)
        .await
        .unwrap();
        let copied = columns::read(&mut tx, &keyring, col, alice, second).await;
        assert!(
            matches!(copied, Err(SecretError::Corrupt { .. })),
            "{table}.{column}: a value copied from another row opened: {copied:?}"
        );
        let own = columns::read(&mut tx, &keyring, col, alice, first)
            .await
            .unwrap();
        assert_eq!(own.as_deref(), Some("first row's secret"));
    }
}

/// A value in the first sealed format (`er1:`, bound to table, column and tenant but
/// not to the row), made here with AES-GCM directly: what older versions stored.
fn sealed_in_format_1(
    key: [u8; 32],
    plaintext: &str,
    table: &str,
    column: &str,
    user: Uuid,
) -> String {
    use aes_gcm::aead::{Aead, Payload};
    use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
    use base64::Engine;
    let id = Keyring::from_raw(vec![key], None).current_id().to_string();
    let nonce = [3u8; 12];
    let aad = format!("{table}.{column}/{user}");
    let sealed = Aes256Gcm::new(&key.into())
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plaintext.as_bytes(),
                aad: aad.as_bytes(),
            },
        )
        .unwrap();
    let mut blob = nonce.to_vec();
    blob.extend_from_slice(&sealed);
    format!(
        "er1:{id}:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(blob)
    )
}

#[tokio::test]
async fn values_in_the_first_format_still_open_and_rotation_upgrades_them() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    fill_tenant_tables(&db, alice).await;
    let key = [9u8; 32];
    let keyring = Keyring::from_raw(vec![key], None);
    columns::verify_and_register(&db.admin, &keyring)
        .await
        .unwrap();
    let col = secret_column("accounts", "access_token");
    let id = row_id(&db.app, alice, "accounts").await;
    let old = sealed_in_format_1(
        key,
        "ya29.from-an-older-version",
        "accounts",
        "access_token",
        alice,
    );
    let mut tx = tenant::begin(&db.app, alice).await.unwrap();
    sqlx::query("UPDATE accounts SET access_token = $2 WHERE user_id = $1 AND id = $3")
        .bind(alice)
        .bind(&old)
        .bind(id)
        .execute(&mut *tx)
        .await
        .unwrap();
    let opened = columns::read(&mut tx, &keyring, col, alice, id)
        .await
        .unwrap();
    assert_eq!(opened.as_deref(), Some("ya29.from-an-older-version"));
    tx.commit().await.unwrap();

    // Same key, so only the format is old: rotation still re-seals it.
    let report = columns::rotate(&db.admin, &db.app, &keyring).await.unwrap();
    assert!(report.values_resealed >= 1, "{report:?}");
    let mut tx = tenant::begin(&db.app, alice).await.unwrap();
    let stored: String =
        sqlx::query_scalar("SELECT access_token FROM accounts WHERE user_id = $1 AND id = $2")
            .bind(alice)
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert!(stored.starts_with("er2:"), "not upgraded: {stored}");
    let opened = columns::read(&mut tx, &keyring, col, alice, id)
        .await
        .unwrap();
    assert_eq!(opened.as_deref(), Some("ya29.from-an-older-version"));
}

#[tokio::test]
async fn start_up_refuses_a_stored_value_whose_key_is_not_configured_naming_its_column() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    fill_tenant_tables(&db, alice).await;
    let old = Keyring::from_raw(vec![[1u8; 32]], None);
    columns::verify_and_register(&db.admin, &old).await.unwrap();
    let col = secret_column("accounts", "refresh_token");
    let id = row_id(&db.app, alice, "accounts").await;
    let mut tx = tenant::begin(&db.app, alice).await.unwrap();
    columns::write(&mut tx, &old, col, alice, id, "1//refresh")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // The record calls the key retired (as a rotation that raced a writer still
    // sealing with it could leave it), and the operator dropped it from the config.
    sqlx::query("UPDATE encryption_keys SET retired_at = now()")
        .execute(&db.admin)
        .await
        .unwrap();

    let new = Keyring::from_raw(vec![[2u8; 32]], None);
    let err = columns::verify_and_register(&db.admin, &new)
        .await
        .expect_err("a value sealed with a key that is not configured stops start-up")
        .to_string();
    assert!(err.contains("accounts.refresh_token"), "{err}");
    assert!(err.contains(old.current_id()), "{err}");
    assert!(err.contains("EVERREACH_ENCRYPTION_KEYS_OLD"), "{err}");
    let registered: Vec<String> =
        sqlx::query_scalar("SELECT key_id FROM encryption_keys WHERE key_id = $1")
            .bind(new.current_id())
            .fetch_all(&db.admin)
            .await
            .unwrap();
    assert!(registered.is_empty(), "nothing recorded before the refusal");
    let by_app = sqlx::query("SELECT * FROM everreach_sealed_key_ids('accounts', 'access_token')")
        .execute(&db.app)
        .await;
    assert!(
        by_app.is_err(),
        "the app role may not read key ids across tenants"
    );
}

#[tokio::test]
async fn rotation_keeps_a_key_that_a_value_written_during_it_still_names() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    fill_tenant_tables(&db, alice).await;
    let old = Keyring::from_raw(vec![[1u8; 32]], None);
    columns::verify_and_register(&db.admin, &old).await.unwrap();
    let col = secret_column("accounts", "access_token");

    // A process still running with the old key adds an account and seals its token
    // with the old key; it commits only while the rotation runs.
    let mut writer = tenant::begin(&db.app, alice).await.unwrap();
    let added: Uuid = sqlx::query_scalar(
        "INSERT INTO accounts (user_id, provider, provider_account_id) \
         VALUES ($1, 'github', 'late-writer') RETURNING id",
    )
    .bind(alice)
    .fetch_one(&mut *writer)
    .await
    .unwrap();
    columns::write(&mut writer, &old, col, alice, added, "gho_written-late")
        .await
        .unwrap();

    let rotation = tokio::spawn({
        let (admin, app) = (db.admin.clone(), db.app.clone());
        async move {
            let new = Keyring::from_raw(vec![[2u8; 32], [1u8; 32]], None);
            columns::rotate(&admin, &app, &new).await
        }
    });
    // Let the rotation run until it is done or waits for the writer.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
             WHERE d.datname = current_database() AND NOT l.granted",
        )
        .fetch_one(&db.admin)
        .await
        .unwrap();
        if waiting > 0 || rotation.is_finished() || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    writer.commit().await.unwrap();
    rotation.await.unwrap().unwrap();

    let retired: Option<bool> =
        sqlx::query_scalar("SELECT retired_at IS NOT NULL FROM encryption_keys WHERE key_id = $1")
            .bind(old.current_id())
            .fetch_one(&db.admin)
            .await
            .unwrap();
    assert_eq!(
        retired,
        Some(false),
        "the old key was retired although a stored value names it"
    );
    let only_new = Keyring::from_raw(vec![[2u8; 32]], None);
    let err = columns::verify_and_register(&db.admin, &only_new)
        .await
        .expect_err("the old key is still needed");
    assert!(err.to_string().contains("accounts.access_token"), "{err}");

    // Rotating again re-seals the late value, and only then retires the old key.
    let new = Keyring::from_raw(vec![[2u8; 32], [1u8; 32]], None);
    columns::rotate(&db.admin, &db.app, &new).await.unwrap();
    columns::verify_and_register(&db.admin, &only_new)
        .await
        .expect("nothing names the old key any more");
    let mut tx = tenant::begin(&db.app, alice).await.unwrap();
    let opened = columns::read(&mut tx, &only_new, col, alice, added)
        .await
        .unwrap();
    assert_eq!(opened.as_deref(), Some("gho_written-late"));
}

#[tokio::test]
async fn every_secret_column_is_bound_to_a_uuid_row_id_and_read_by_the_key_scan() {
    let db = TestDb::new().await;
    for col in SECRET_COLUMNS {
        let key: Vec<(String, String)> = sqlx::query_as(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) \
             FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
             WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)",
        )
        .bind(col.table)
        .fetch_all(&db.admin)
        .await
        .unwrap();
        assert_eq!(
            key,
            vec![
                ("user_id".into(), "uuid".into()),
                ("id".into(), "uuid".into())
            ],
            "{}: a secret is sealed to its row (user_id, id)",
            col.table
        );
        sqlx::query("SELECT * FROM everreach_sealed_key_ids($1::regclass, $2)")
            .bind(col.table)
            .bind(col.column)
            .execute(&db.admin)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{}.{}: grant SELECT on it to everreach_definer in its migration: {e}",
                    col.table, col.column
                )
            });
    }
}
