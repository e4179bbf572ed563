//! Which columns hold secrets, the start-up check that the configured keys fit the
//! database, and `everreach keys rotate`.
//!
//! `encryption_keys` records every key that has sealed something, with a check value
//! sealed by it. At start a stored value naming a key that is not configured (found
//! by reading every secret column, [`super::usage`]), a key in use in the record but
//! not configured, or a configured key that does not open its check value, stops
//! EverReach before it writes anything.
//!
//! Retiring a key (`retired_at`) is what lets an operator drop it from the
//! configuration: start-up stops asking for it. So rotation retires a key only once
//! no stored value names it, checked with the secret tables locked against writers.

use serde_json::Value;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::{Binding, Format, Keyring, SecretError, format_of, is_sealed, key_id_of, usage};
use crate::db::tenant;

/// How a secret is stored in its column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// The whole TEXT value is sealed.
    Text,
    /// A JSONB object of settings sealed whole as `{"sealed": "er2:…"}` (connector
    /// configs hold API keys and webhook secrets beside harmless settings; all sealed).
    JsonObject,
}

#[derive(Debug, Clone, Copy)]
pub struct SecretColumn {
    pub table: &'static str,
    pub column: &'static str,
    pub shape: Shape,
}

impl SecretColumn {
    /// What a value of this column in row `(user_id, row_id)` is bound to.
    pub fn binding(&self, user_id: Uuid, row_id: Uuid) -> Binding<'static> {
        Binding {
            table: self.table,
            column: self.column,
            user_id,
            row_id,
        }
    }

    /// What the column of row `(user_id, row_id)` stores for `plaintext`: the sealed
    /// text, or for a JSON column `{"sealed": "er2:…"}`.
    pub fn stored(&self, keyring: &Keyring, user_id: Uuid, row_id: Uuid, plaintext: &str) -> Value {
        let sealed = keyring.seal(plaintext, self.binding(user_id, row_id));
        match self.shape {
            Shape::Text => Value::String(sealed),
            Shape::JsonObject => serde_json::json!({ "sealed": sealed }),
        }
    }

    /// [`SecretColumn::stored`] as the text of an SQL parameter (cast to jsonb for a
    /// JSON column).
    fn stored_text(
        &self,
        keyring: &Keyring,
        user_id: Uuid,
        row_id: Uuid,
        plaintext: &str,
    ) -> String {
        match self.stored(keyring, user_id, row_id, plaintext) {
            Value::String(text) => text,
            json => json.to_string(),
        }
    }
}

const fn text(table: &'static str, column: &'static str) -> SecretColumn {
    SecretColumn {
        table,
        column,
        shape: Shape::Text,
    }
}

/// Every column that holds a token or secret (002 marks them `TEXT ENCRYPTED`; 004 and
/// 000 call them tokens). A new secret column is added here (its table keyed
/// `(user_id, id)`, `id` a UUID: the row a value is sealed to), and granted to
/// `everreach_definer` for `everreach_sealed_key_ids()` in its migration; the
/// encryption tests then walk it too.
pub const SECRET_COLUMNS: &[SecretColumn] = &[
    text("accounts", "access_token"),
    text("accounts", "refresh_token"),
    text("accounts", "id_token"),
    text("platform_connections", "access_token"),
    text("platform_connections", "refresh_token"),
    text("ig_connections", "access_token"),
    SecretColumn {
        table: "connector_configs",
        column: "config",
        shape: Shape::JsonObject,
    },
];

const CHECK_PLAINTEXT: &str = "everreach encryption key check";

fn check_binding() -> Binding<'static> {
    Binding {
        table: "encryption_keys",
        column: "check_value",
        user_id: Uuid::nil(),
        row_id: Uuid::nil(),
    }
}

/// Refuses a keyring that does not fit the database, then records the current key.
pub async fn verify_and_register(admin: &PgPool, keyring: &Keyring) -> Result<(), SecretError> {
    let uses = usage::key_usage(&mut *admin.acquire().await?).await?;
    usage::first_missing_key(&uses, keyring)?;
    for plain in uses.iter().filter(|u| u.key_id.is_none()) {
        tracing::warn!(
            column = %plain.place(),
            values = plain.values,
            "secrets stored in plaintext by an older version: run `everreach keys rotate` to seal them"
        );
    }
    let rows =
        sqlx::query("SELECT key_id, check_value FROM encryption_keys WHERE retired_at IS NULL")
            .fetch_all(admin)
            .await?;
    for row in rows {
        let key_id: String = row.get("key_id");
        let check: String = row.get("check_value");
        if !keyring.has(&key_id) {
            return Err(SecretError::MissingKey { key_id });
        }
        if keyring.open(&check, check_binding()).ok().as_deref() != Some(CHECK_PLAINTEXT) {
            return Err(SecretError::WrongKey { key_id });
        }
    }
    sqlx::query(
        "INSERT INTO encryption_keys (key_id, check_value) VALUES ($1, $2) \
         ON CONFLICT (key_id) DO UPDATE SET retired_at = NULL",
    )
    .bind(keyring.current_id())
    .bind(keyring.seal(CHECK_PLAINTEXT, check_binding()))
    .execute(admin)
    .await?;
    Ok(())
}

/// What a rotation did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RotationReport {
    pub tenants: u64,
    pub values_resealed: u64,
    pub plaintext_sealed: u64,
    /// Keys retired: no stored value names them, so they may leave the configuration.
    pub retired: Vec<String>,
    /// Old keys kept because stored values still name them (written while the
    /// rotation ran, by a process still sealing with an old key): rotate again.
    pub still_named: Vec<usage::KeyUse>,
}

/// How long the last step waits for writers to let go of the secret tables.
const RETIRE_LOCK_TIMEOUT_SECS: u64 = 10;

/// Re-seals every secret not sealed by the current key in the current format (and
/// seals any legacy plaintext), tenant by tenant through the app role, then retires
/// the old keys that no stored value names any more.
///
/// It starts with the start-up check, which reads every stored value's key id: a
/// value whose key is not configured stops it before anything changes.
pub async fn rotate(
    admin: &PgPool,
    app: &PgPool,
    keyring: &Keyring,
) -> Result<RotationReport, SecretError> {
    verify_and_register(admin, keyring).await?;
    let tenants: Vec<Uuid> = sqlx::query_scalar("SELECT everreach_tenant_ids()")
        .fetch_all(app)
        .await?;
    let mut report = RotationReport {
        tenants: tenants.len() as u64,
        ..Default::default()
    };
    for user_id in tenants {
        let mut tx = tenant::begin(app, user_id).await?;
        for col in SECRET_COLUMNS {
            reseal_column(&mut tx, keyring, col, user_id, &mut report).await?;
        }
        tx.commit().await?;
    }
    reseal_installation_columns(admin, keyring, &mut report).await?;
    let (retired, still_named) = retire_unnamed_keys(admin, keyring).await?;
    report.retired = retired;
    report.still_named = still_named;
    Ok(report)
}

/// Retires every recorded old key that no stored value names, and returns them with
/// the old keys' uses that kept theirs.
///
/// A process started before the rotation still seals with the old key, so "nothing
/// names it" must hold at the moment of retiring: one transaction locks every secret
/// table in SHARE mode (it waits for writes in flight to commit and holds new ones
/// back; reads go on), then reads the key ids, then retires, then commits. A value
/// written after that commit by such a process is caught by the next start-up check,
/// which reads stored values, not the record of retired keys.
async fn retire_unnamed_keys(
    admin: &PgPool,
    keyring: &Keyring,
) -> Result<(Vec<String>, Vec<usage::KeyUse>), SecretError> {
    // Sorted: two rotations lock in the same order.
    let mut tables: Vec<&str> = SECRET_COLUMNS
        .iter()
        .map(|c| c.table)
        .chain(INSTALLATION_COLUMNS.iter().map(|(t, _)| *t))
        .collect();
    tables.sort_unstable();
    tables.dedup();
    let tables = tables.join(", ");
    let mut tx = admin.begin().await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SET LOCAL lock_timeout = '{RETIRE_LOCK_TIMEOUT_SECS}s'"
    )))
    .execute(&mut *tx)
    .await?;
    let locked = sqlx::query(sqlx::AssertSqlSafe(format!(
        "LOCK TABLE {tables} IN SHARE MODE"
    )))
    .execute(&mut *tx)
    .await;
    match locked {
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("55P03") => {
            return Err(SecretError::RetireBusy {
                tables,
                seconds: RETIRE_LOCK_TIMEOUT_SECS,
            });
        }
        other => other?,
    };
    let uses = usage::key_usage(&mut tx).await?;
    let named: Vec<String> = uses.iter().filter_map(|u| u.key_id.clone()).collect();
    let retired: Vec<String> = sqlx::query_scalar(
        "UPDATE encryption_keys SET retired_at = now() \
         WHERE key_id <> $1 AND retired_at IS NULL AND key_id <> ALL($2) RETURNING key_id",
    )
    .bind(keyring.current_id())
    .bind(&named)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let still_named = uses
        .into_iter()
        .filter(|u| {
            u.key_id
                .as_deref()
                .is_some_and(|id| id != keyring.current_id())
        })
        .collect();
    Ok((retired, still_named))
}

/// Sealed columns of installation tables (no tenant: the row's id binds the value,
/// under the nil tenant): the mail outbox's bodies. Read and re-sealed by the owner.
pub const INSTALLATION_COLUMNS: &[(&str, &str)] = &[("mail_outbox", "body")];

/// What a value of an installation column is bound to.
pub fn installation_binding<'a>(table: &'a str, column: &'a str, row_id: Uuid) -> Binding<'a> {
    Binding {
        table,
        column,
        user_id: Uuid::nil(),
        row_id,
    }
}

async fn reseal_installation_columns(
    admin: &PgPool,
    keyring: &Keyring,
    report: &mut RotationReport,
) -> Result<(), SecretError> {
    for (table, column) in INSTALLATION_COLUMNS {
        let mut tx = admin.begin().await?;
        let rows: Vec<(Uuid, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL FOR UPDATE"
        )))
        .fetch_all(&mut *tx)
        .await?;
        for (id, stored) in rows {
            if key_id_of(&stored) == Some(keyring.current_id())
                && format_of(&stored) == Some(Format::V2)
            {
                continue;
            }
            let binding = installation_binding(table, column, id);
            let plain = keyring.open(&stored, binding)?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE {table} SET {column} = $2 WHERE id = $1"
            )))
            .bind(id)
            .bind(keyring.seal(&plain, binding))
            .execute(&mut *tx)
            .await?;
            report.values_resealed += 1;
        }
        tx.commit().await?;
    }
    Ok(())
}

async fn reseal_column(
    tx: &mut sqlx::PgConnection,
    keyring: &Keyring,
    col: &SecretColumn,
    user_id: Uuid,
    report: &mut RotationReport,
) -> Result<(), SecretError> {
    let select = format!(
        "SELECT id, {c}::text AS value FROM {t} WHERE user_id = $1 AND {c} IS NOT NULL FOR UPDATE",
        c = col.column,
        t = col.table
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(select))
        .bind(user_id)
        .fetch_all(&mut *tx)
        .await?;
    let update = format!(
        "UPDATE {t} SET {c} = $3{cast} WHERE user_id = $1 AND id = $2",
        t = col.table,
        c = col.column,
        cast = if col.shape == Shape::JsonObject {
            "::jsonb"
        } else {
            ""
        }
    );
    for row in rows {
        let id: Uuid = row.get("id");
        let stored: String = row.get("value");
        let (inner, plaintext) = match col.shape {
            Shape::Text => (stored.clone(), !is_sealed(&stored)),
            Shape::JsonObject => match serde_json::from_str::<Value>(&stored).ok() {
                Some(Value::Object(map)) => match map.get("sealed").and_then(Value::as_str) {
                    Some(s) if map.len() == 1 => (s.to_string(), false),
                    _ => (stored.clone(), true),
                },
                _ => (stored.clone(), true),
            },
        };
        // Left alone only when sealed by the current key in the current format: a
        // format-1 value is re-sealed to bind it to its row.
        if !plaintext
            && key_id_of(&inner) == Some(keyring.current_id())
            && format_of(&inner) == Some(Format::V2)
        {
            continue;
        }
        let clear = if plaintext {
            inner
        } else {
            keyring.open(&inner, col.binding(user_id, id))?
        };
        let new_value = col.stored_text(keyring, user_id, id, &clear);
        sqlx::query(sqlx::AssertSqlSafe(update.clone()))
            .bind(user_id)
            .bind(id)
            .bind(new_value)
            .execute(&mut *tx)
            .await?;
        if plaintext {
            report.plaintext_sealed += 1;
        } else {
            report.values_resealed += 1;
        }
    }
    Ok(())
}

/// Seals `plaintext` into one row's secret column (the row must exist and belong to
/// the transaction's tenant). Stores that insert whole rows seal with
/// [`Keyring::seal`] and the same [`Binding`] instead.
pub async fn write(
    tx: &mut sqlx::PgConnection,
    keyring: &Keyring,
    col: &SecretColumn,
    user_id: Uuid,
    row_id: Uuid,
    plaintext: &str,
) -> Result<(), SecretError> {
    let value = col.stored_text(keyring, user_id, row_id, plaintext);
    let cast = if col.shape == Shape::JsonObject {
        "::jsonb"
    } else {
        ""
    };
    let sql = format!(
        "UPDATE {t} SET {c} = $3{cast} WHERE user_id = $1 AND id = $2",
        t = col.table,
        c = col.column
    );
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .bind(row_id)
        .bind(value)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() != 1 {
        return Err(SecretError::Db(sqlx::Error::RowNotFound));
    }
    Ok(())
}

/// Opens one row's secret column; `None` when the column is NULL.
pub async fn read(
    tx: &mut sqlx::PgConnection,
    keyring: &Keyring,
    col: &SecretColumn,
    user_id: Uuid,
    row_id: Uuid,
) -> Result<Option<String>, SecretError> {
    let sql = match col.shape {
        Shape::Text => format!(
            "SELECT {c} FROM {t} WHERE user_id = $1 AND id = $2",
            c = col.column,
            t = col.table
        ),
        Shape::JsonObject => format!(
            "SELECT {c}->>'sealed' FROM {t} WHERE user_id = $1 AND id = $2",
            c = col.column,
            t = col.table
        ),
    };
    let stored: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .bind(row_id)
        .fetch_optional(&mut *tx)
        .await?
        .flatten();
    let binding = col.binding(user_id, row_id);
    stored.map(|s| keyring.open(&s, binding)).transpose()
}
