//! Which keys the stored secrets name: for every secret column, each key id (and
//! format) its sealed values carry and how many carry it, across all tenants.
//!
//! Read through `everreach_sealed_key_ids()` (migration `…130000_sealed_key_ids`), the
//! one cross-tenant read of secret columns, which returns ids and counts and never a
//! value. Only the owner role may call it, so these functions take a connection of
//! `db.admin`. Start-up ([`super::columns::verify_and_register`]) refuses a value
//! whose key is not configured; rotation retires a key only once nothing names it.

use sqlx::PgConnection;

use super::columns::SECRET_COLUMNS;
use super::{Keyring, SecretError};

/// The values of one secret column that carry one key id in one format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUse {
    pub table: &'static str,
    pub column: &'static str,
    /// `er1`, `er2`; `None` for legacy plaintext (not sealed yet).
    pub format: Option<String>,
    /// `None` for legacy plaintext.
    pub key_id: Option<String>,
    pub values: i64,
}

impl KeyUse {
    /// `table.column`, as errors name it.
    pub fn place(&self) -> String {
        format!("{}.{}", self.table, self.column)
    }
}

/// Every (column, format, key id) the stored secrets carry, with their counts.
pub async fn key_usage(admin: &mut PgConnection) -> Result<Vec<KeyUse>, SecretError> {
    let mut found = Vec::new();
    let columns = SECRET_COLUMNS
        .iter()
        .map(|c| (c.table, c.column))
        .chain(super::columns::INSTALLATION_COLUMNS.iter().copied());
    for (table, column) in columns {
        let rows: Vec<(Option<String>, Option<String>, i64)> = sqlx::query_as(
            "SELECT format, key_id, n_values FROM everreach_sealed_key_ids($1::regclass, $2)",
        )
        .bind(table)
        .bind(column)
        .fetch_all(&mut *admin)
        .await?;
        found.extend(rows.into_iter().map(|(format, key_id, values)| KeyUse {
            table,
            column,
            format,
            key_id,
            values,
        }));
    }
    Ok(found)
}

/// The first stored use of a key the keyring does not hold, as the error that names
/// its column and key.
pub fn first_missing_key(uses: &[KeyUse], keyring: &Keyring) -> Result<(), SecretError> {
    match uses
        .iter()
        .find(|u| u.key_id.as_deref().is_some_and(|id| !keyring.has(id)))
    {
        Some(u) => Err(SecretError::MissingKeyInColumn {
            place: u.place(),
            key_id: u.key_id.clone().unwrap_or_default(),
            values: u.values,
        }),
        None => Ok(()),
    }
}
