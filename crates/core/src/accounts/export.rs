//! "Everything I own" as one JSON document (`GET /api/v1/me/export`), streamed a row
//! at a time so its size never has to fit in memory:
//!
//! `{"format": "everreach-export/1", "user": {…}, "tables": {"people": [{…}, …], …}}`
//!
//! Every tenant table is included (found in the catalog, so a new table cannot be
//! forgotten), read through the user's own tenant transaction. Credentials (token
//! hashes) are left out and secrets are redacted, as in the audit log.

use futures_util::TryStreamExt;
use serde_json::Value;
use sqlx::{AssertSqlSafe, PgPool};
use tokio::sync::mpsc::Sender;
use uuid::Uuid;

use crate::audit;
use crate::db::tenant;

/// Tables with a user_id that are not the user's data to export.
const NOT_EXPORTED: &[&str] = &["audit_log", "jobs"];
/// Columns that are credentials rather than data.
const CREDENTIAL_COLUMNS: &[&str] = &["token_hash", "request_hash", "response_body"];

/// Every tenant table, as `(schema, table)`, in a stable order.
pub async fn tenant_tables(pool: &PgPool) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname IN ('public', 'analytics', 'ml_data')
           AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'user_id' AND NOT a.attisdropped)
         ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter(|(_, t)| !NOT_EXPORTED.contains(&t.as_str()))
        .collect())
}

/// Writes the export of `user_id` into `out` in chunks. Stops early (without error)
/// when the receiver goes away.
pub async fn export(pool: &PgPool, user_id: Uuid, out: Sender<Vec<u8>>) -> Result<(), sqlx::Error> {
    let tables = tenant_tables(pool).await?;
    // One snapshot for the whole document.
    let mut tx = tenant::begin_snapshot(pool, user_id).await?;
    let user: Value =
        sqlx::query_scalar("SELECT to_jsonb(u) - 'password_hash' FROM users u WHERE id = $1")
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?;
    let head = format!(
        "{{\"format\":\"everreach-export/1\",\"exported_at\":{},\"user\":{},\"tables\":{{",
        Value::String(chrono::Utc::now().to_rfc3339()),
        user
    );
    if out.send(head.into_bytes()).await.is_err() {
        return Ok(());
    }
    for (n, (schema, table)) in tables.iter().enumerate() {
        let name = if schema == "public" {
            table.clone()
        } else {
            format!("{schema}.{table}")
        };
        let open = format!("{}{}:[", if n > 0 { "," } else { "" }, Value::String(name));
        if out.send(open.into_bytes()).await.is_err() {
            return Ok(());
        }
        let sql =
            format!("SELECT to_jsonb(t) FROM \"{schema}\".\"{table}\" t WHERE t.user_id = $1");
        let mut rows = sqlx::query_scalar::<_, Value>(AssertSqlSafe(sql))
            .bind(user_id)
            .fetch(&mut *tx);
        let mut first = true;
        let mut chunk = Vec::with_capacity(64 * 1024);
        while let Some(row) = rows.try_next().await? {
            let mut row = audit::redact(table, &row);
            if let Value::Object(map) = &mut row {
                for column in CREDENTIAL_COLUMNS {
                    map.remove(*column);
                }
            }
            if !first {
                chunk.push(b',');
            }
            first = false;
            serde_json::to_writer(&mut chunk, &row)
                .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
            if chunk.len() >= 60 * 1024 && out.send(std::mem::take(&mut chunk)).await.is_err() {
                return Ok(());
            }
        }
        drop(rows);
        chunk.push(b']');
        if out.send(chunk).await.is_err() {
            return Ok(());
        }
    }
    let _ = out.send(b"}}".to_vec()).await;
    tx.commit().await?;
    Ok(())
}
