//! 003's `audit_log`: every create, update and delete made through the API is
//! recorded in the same transaction as the change — the table, the operation, the
//! row before and after, and who — with secrets redacted. The app role may only
//! insert here; admins read it through `GET /api/v1/audit-log`.

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::secrets::columns::SECRET_COLUMNS;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Insert,
    Update,
    Delete,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Insert => "INSERT",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
        }
    }
}

/// Written in place of a secret's value.
pub const REDACTED: &str = "[redacted]";

/// A row fit for the audit log: secret columns (and anything named like a secret)
/// replaced, search vectors dropped.
pub fn redact(table: &str, row: &Value) -> Value {
    let Value::Object(map) = row else {
        return row.clone();
    };
    let mut out = map.clone();
    out.remove("search_vector");
    for (name, value) in out.iter_mut() {
        let listed = SECRET_COLUMNS
            .iter()
            .any(|c| c.table == table && c.column == name);
        let named_like = ["token", "secret", "password", "api_key"]
            .iter()
            .any(|w| name.contains(w))
            && !name.ends_with("_at")
            && !name.ends_with("_count")
            && !name.ends_with("_prefix")
            && name != "tokens_used";
        if (listed || named_like) && !value.is_null() {
            *value = Value::String(REDACTED.into());
        }
    }
    Value::Object(out)
}

pub async fn record(
    conn: &mut PgConnection,
    user_id: Uuid,
    table: &str,
    operation: Operation,
    old: Option<&Value>,
    new: Option<&Value>,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO audit_log (table_name, operation, old_values, new_values, user_id) VALUES ($1, $2, $3, $4, $5)")
        .bind(table)
        .bind(operation.as_str())
        .bind(old.map(|v| redact(table, v)))
        .bind(new.map(|v| redact(table, v)))
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn secrets_are_redacted_and_the_rest_kept() {
        let row = json!({"access_token": "er1:abc", "refresh_token": null, "scope": "mail", "token_expires_at": "2026-01-01",
                         "config": {"api_key": "k"}, "search_vector": "'x':1", "tokens_used": 12});
        let out = redact("platform_connections", &row);
        assert_eq!(out["access_token"], REDACTED);
        assert_eq!(out["refresh_token"], Value::Null);
        assert_eq!(out["scope"], "mail");
        assert_eq!(out["token_expires_at"], "2026-01-01");
        assert_eq!(out["tokens_used"], 12);
        assert!(out.get("search_vector").is_none());
        assert_eq!(redact("connector_configs", &row)["config"], REDACTED);
    }
}
