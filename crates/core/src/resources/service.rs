//! The SQL of the generic resources, each operation in the caller's tenant
//! transaction, with its audit row written in the same transaction.
//!
//! Rows travel as JSON: `jsonb_populate_record(NULL::table, $body)` types the input by
//! the table's own row type, `to_jsonb(t)` shapes the output, so one code path serves
//! every table without a Rust struct per table.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use sqlx::{AssertSqlSafe, PgConnection, PgPool};
use uuid::Uuid;

use super::catalog::{Catalog, ColumnType, Resource};
use super::rules::{self, TableRule};
use super::validate::{self, Mode};
use crate::audit;
use crate::db::tenant;
use crate::secrets::Keyring;
use crate::secrets::columns::SECRET_COLUMNS;

/// Largest page a list returns.
pub const MAX_LIMIT: u32 = 500;
pub const DEFAULT_LIMIT: u32 = 50;

/// The generic layer's errors are the domain error: a rule that refuses a change
/// in the row's current state is a conflict.
pub type ResourceError = crate::DomainError;

#[derive(Debug, Clone)]
pub struct ListPage {
    pub items: Vec<Value>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Resources {
    pool: PgPool,
    catalog: Arc<Catalog>,
    keyring: Arc<Keyring>,
    /// Row rules the domains hand over ([`TableRule`]), applied before a write.
    rules: Arc<[TableRule]>,
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

impl Resources {
    pub fn new(pool: PgPool, catalog: Arc<Catalog>, keyring: Arc<Keyring>) -> Resources {
        Resources {
            pool,
            catalog,
            keyring,
            rules: Arc::new([]),
        }
    }

    /// The same, applying `rules` (every registered domain's) to creates and patches.
    pub fn with_rules(mut self, rules: impl IntoIterator<Item = TableRule>) -> Resources {
        self.rules = rules.into_iter().collect();
        self
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// `to_jsonb(t)` without what a response never shows, and with vectors as the
    /// arrays of numbers they are written as (`to_jsonb` would give pgvector's text
    /// form, a string).
    fn projection(r: &Resource) -> String {
        let hidden: Vec<String> = r
            .columns
            .iter()
            .filter(|c| r.visible().all(|v| v.name != c.name))
            .map(|c| format!("'{}'", c.name.replace('\'', "''")))
            .collect();
        let mut shown = if hidden.is_empty() {
            "to_jsonb(t)".to_string()
        } else {
            format!("(to_jsonb(t) - ARRAY[{}]::text[])", hidden.join(", "))
        };
        for c in r.visible() {
            if let ColumnType::Vector(_) = c.ty {
                // pgvector's text form `[1,2.5,-3e+15]` is a JSON array
                shown = format!(
                    "({shown} || jsonb_build_object('{name}', (t.{q}::text)::jsonb))",
                    name = c.name.replace('\'', "''"),
                    q = quote(&c.name)
                );
            }
        }
        shown
    }

    /// `t.k1 = (…).k1 AND …` against the key decoded from a path id.
    fn key_match(r: &Resource, param: usize) -> String {
        r.key
            .iter()
            .map(|k| {
                format!(
                    "t.{q} = (jsonb_populate_record(NULL::{tbl}, ${param})).{q}",
                    q = quote(k),
                    tbl = r.qualified
                )
            })
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// A path id (`uuid`, `123`, or `a,b` for two-column keys) as a key object.
    fn parse_id(r: &Resource, id: &str) -> Result<Value, ResourceError> {
        let parts: Vec<&str> = id.split(',').collect();
        if parts.len() != r.key.len() {
            return Err(ResourceError::NotFound);
        }
        let mut key = Map::new();
        for (name, part) in r.key.iter().zip(parts) {
            let column = r.column(name).ok_or(ResourceError::NotFound)?;
            let value = match column.ty {
                ColumnType::Uuid => Uuid::parse_str(part)
                    .map(|u| Value::String(u.to_string()))
                    .ok(),
                ColumnType::Int { .. } => part.parse::<i64>().ok().map(Value::from),
                _ => Some(Value::String(part.to_string())),
            };
            key.insert(name.clone(), value.ok_or(ResourceError::NotFound)?);
        }
        Ok(Value::Object(key))
    }

    /// The path id of a row.
    pub fn id_of(r: &Resource, row: &Value) -> String {
        r.key
            .iter()
            .map(|k| match &row[k] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Whether `body` holds a secret value to seal.
    fn has_secrets(r: &Resource, body: &Map<String, Value>) -> bool {
        SECRET_COLUMNS
            .iter()
            .any(|c| c.table == r.table && body.get(c.column).is_some_and(|v| !v.is_null()))
    }

    /// Replaces secret values by their sealed form, bound to row `(user_id, row_id)`:
    /// every table with a secret column is keyed `(user_id, id)`, so `row_id` is the
    /// row's `id` (a new row's is chosen before the insert, see [`Resources::create`]).
    fn seal_secrets(
        &self,
        r: &Resource,
        user_id: Uuid,
        row_id: Option<Uuid>,
        body: &mut Map<String, Value>,
    ) -> Result<(), ResourceError> {
        if !Self::has_secrets(r, body) {
            return Ok(());
        }
        let row_id = row_id.ok_or_else(|| {
            ResourceError::Db(sqlx::Error::Protocol(format!(
                "{} holds a secret column but has no UUID `id` key to bind it to",
                r.table
            )))
        })?;
        for col in SECRET_COLUMNS.iter().filter(|c| c.table == r.table) {
            let Some(value) = body.get_mut(col.column) else {
                continue;
            };
            if value.is_null() {
                continue;
            }
            let plaintext = match &*value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            *value = col.stored(&self.keyring, user_id, row_id, &plaintext);
        }
        Ok(())
    }

    /// The `id` of a key object, when it is a UUID.
    fn uuid_id(key: &Value) -> Option<Uuid> {
        key.get("id")
            .and_then(Value::as_str)
            .and_then(|id| Uuid::parse_str(id).ok())
    }

    pub async fn list(
        &self,
        user_id: Uuid,
        r: &Resource,
        filters: &[(String, String)],
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<ListPage, ResourceError> {
        let limit = limit.clamp(1, MAX_LIMIT);
        let mut filter = Map::new();
        let mut problems = Vec::new();
        for (name, raw) in filters {
            match r.visible().find(|c| &c.name == name) {
                Some(c) => match typed_filter(&c.ty, raw) {
                    Some(v) => {
                        filter.insert(name.clone(), v);
                    }
                    None => problems.push((
                        format!("/{name}"),
                        format!("is not a valid {} to filter by", c.pg_type),
                    )),
                },
                None => problems.push((
                    format!("/{name}"),
                    format!("is not a field of {} to filter by", r.path),
                )),
            }
        }
        if !problems.is_empty() {
            return Err(ResourceError::Invalid(problems));
        }
        let after: Option<Value> = cursor.map(|c| decode_cursor(r, c)).transpose()?;
        let keys: Vec<String> = r.key.iter().map(|k| format!("t.{}", quote(k))).collect();
        let mut sql = format!(
            "SELECT {} AS row FROM {} t WHERE t.user_id = $1",
            Self::projection(r),
            r.qualified
        );
        for name in filter.keys() {
            let q = quote(name);
            sql.push_str(&format!(
                " AND t.{q} = (jsonb_populate_record(NULL::{}, $2)).{q}",
                r.qualified
            ));
        }
        if after.is_some() {
            let cursor_keys: Vec<String> = r
                .key
                .iter()
                .map(|k| {
                    format!(
                        "(jsonb_populate_record(NULL::{}, $3)).{}",
                        r.qualified,
                        quote(k)
                    )
                })
                .collect();
            sql.push_str(&format!(
                " AND ({}) > ({})",
                keys.join(", "),
                cursor_keys.join(", ")
            ));
        }
        sql.push_str(&format!(" ORDER BY {} LIMIT $4", keys.join(", ")));

        let mut tx = tenant::begin(&self.pool, user_id).await?;
        let mut items: Vec<Value> = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(user_id)
            .bind(Value::Object(filter))
            .bind(after.unwrap_or(Value::Null))
            .bind(i64::from(limit) + 1)
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| self.db_error(r, e))?;
        tx.commit().await?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|row| encode_cursor(r, row))
        } else {
            None
        };
        Ok(ListPage { items, next_cursor })
    }

    pub async fn get(&self, user_id: Uuid, r: &Resource, id: &str) -> Result<Value, ResourceError> {
        let key = Self::parse_id(r, id)?;
        let sql = format!(
            "SELECT {} FROM {} t WHERE t.user_id = $1 AND {}",
            Self::projection(r),
            r.qualified,
            Self::key_match(r, 2)
        );
        let mut tx = tenant::begin(&self.pool, user_id).await?;
        let row: Option<Value> = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(user_id)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        row.ok_or(ResourceError::NotFound)
    }

    pub async fn create(
        &self,
        user_id: Uuid,
        r: &Resource,
        mut body: Map<String, Value>,
    ) -> Result<Value, ResourceError> {
        let mut problems = validate::check(r, &body, Mode::Create);
        if problems.is_empty() {
            problems = rules::apply(&self.rules, r.table, &mut body, Mode::Create);
        }
        if !problems.is_empty() {
            return Err(ResourceError::Invalid(problems));
        }
        if Self::has_secrets(r, &body) && r.column("id").is_some() {
            // The sealed values name the row, so its id is chosen here rather than by
            // the column's default after the insert (the client may not set it).
            let id = Uuid::new_v4();
            body.insert("id".into(), Value::String(id.to_string()));
            self.seal_secrets(r, user_id, Some(id), &mut body)?;
        } else {
            self.seal_secrets(r, user_id, None, &mut body)?;
        }
        let columns: Vec<String> = body.keys().map(|k| quote(k)).collect();
        let from_input: Vec<String> = body.keys().map(|k| format!("i.{}", quote(k))).collect();
        let sql = format!(
            "INSERT INTO {tbl} AS t (user_id{sep}{cols}) SELECT $1{sep}{vals} FROM jsonb_populate_record(NULL::{tbl}, $2) i
             RETURNING to_jsonb(t) AS full, {proj} AS shown",
            tbl = r.qualified,
            sep = if columns.is_empty() { "" } else { ", " },
            cols = columns.join(", "),
            vals = from_input.join(", "),
            proj = Self::projection(r),
        );
        let mut tx = tenant::begin(&self.pool, user_id).await?;
        let (full, shown): (Value, Value) = sqlx::query_as(AssertSqlSafe(sql))
            .bind(user_id)
            .bind(Value::Object(body))
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.db_error(r, e))?;
        tx.audit(r.table, audit::Operation::Insert, None, Some(&full))
            .await?;
        rules::after_write(&self.rules, r.table, &mut tx, std::slice::from_ref(&full)).await?;
        let shown = self
            .shown_after_rules(&mut tx, user_id, r, &full, shown)
            .await?;
        tx.commit().await?;
        Ok(shown)
    }

    /// The row as shown once the rules' `after_write` ran, which may have changed it (a
    /// rescored contact): read again in the write's transaction when the table has one.
    async fn shown_after_rules(
        &self,
        tx: &mut PgConnection,
        user_id: Uuid,
        r: &Resource,
        full: &Value,
        shown: Value,
    ) -> Result<Value, ResourceError> {
        if !rules::has_after_write(&self.rules, r.table) {
            return Ok(shown);
        }
        let sql = format!(
            "SELECT {} FROM {} t WHERE t.user_id = $1 AND {}",
            Self::projection(r),
            r.qualified,
            Self::key_match(r, 2)
        );
        let row: Option<Value> = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(user_id)
            .bind(full)
            .fetch_optional(tx)
            .await?;
        Ok(row.unwrap_or(shown))
    }

    pub async fn patch(
        &self,
        user_id: Uuid,
        r: &Resource,
        id: &str,
        mut body: Map<String, Value>,
    ) -> Result<Value, ResourceError> {
        let key = Self::parse_id(r, id)?;
        let mut problems = validate::check(r, &body, Mode::Patch);
        if problems.is_empty() {
            problems = rules::apply(&self.rules, r.table, &mut body, Mode::Patch);
        }
        if !problems.is_empty() {
            return Err(ResourceError::Invalid(problems));
        }
        self.seal_secrets(r, user_id, Self::uuid_id(&key), &mut body)?;
        let sets: Vec<String> = body
            .keys()
            .map(|k| format!("{q} = i.{q}", q = quote(k)))
            .collect();
        let mut tx = tenant::begin(&self.pool, user_id).await?;
        let old = self.lock_row(&mut tx, user_id, r, &key).await?;
        let sql = format!(
            "UPDATE {tbl} AS t SET {sets} FROM jsonb_populate_record(NULL::{tbl}, $3) i
             WHERE t.user_id = $1 AND {key} RETURNING to_jsonb(t) AS full, {proj} AS shown",
            tbl = r.qualified,
            sets = sets.join(", "),
            key = Self::key_match(r, 2),
            proj = Self::projection(r),
        );
        let updated: Option<(Value, Value)> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(user_id)
            .bind(&key)
            .bind(Value::Object(body))
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.db_error(r, e))?;
        let Some((full, shown)) = updated else {
            return Err(ResourceError::conflict(format!(
                "this {} cannot be changed in its current state",
                singular(r)
            )));
        };
        tx.audit(r.table, audit::Operation::Update, Some(&old), Some(&full))
            .await?;
        rules::after_write(&self.rules, r.table, &mut tx, &[old, full.clone()]).await?;
        let shown = self
            .shown_after_rules(&mut tx, user_id, r, &full, shown)
            .await?;
        tx.commit().await?;
        Ok(shown)
    }

    pub async fn delete(&self, user_id: Uuid, r: &Resource, id: &str) -> Result<(), ResourceError> {
        let key = Self::parse_id(r, id)?;
        let mut tx = tenant::begin(&self.pool, user_id).await?;
        let old = self.lock_row(&mut tx, user_id, r, &key).await?;
        let sql = format!(
            "DELETE FROM {} t WHERE t.user_id = $1 AND {}",
            r.qualified,
            Self::key_match(r, 2)
        );
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(user_id)
            .bind(&key)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db_error(r, e))?;
        if done.rows_affected() == 0 {
            return Err(ResourceError::conflict(format!(
                "this {} cannot be deleted in its current state",
                singular(r)
            )));
        }
        tx.audit(r.table, audit::Operation::Delete, Some(&old), None)
            .await?;
        rules::after_write(&self.rules, r.table, &mut tx, std::slice::from_ref(&old)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The row as it is, locked for the change; `NotFound` when the user has none.
    async fn lock_row(
        &self,
        tx: &mut PgConnection,
        user_id: Uuid,
        r: &Resource,
        key: &Value,
    ) -> Result<Value, ResourceError> {
        let sql = format!(
            "SELECT to_jsonb(t) FROM {} t WHERE t.user_id = $1 AND {} FOR UPDATE",
            r.qualified,
            Self::key_match(r, 2)
        );
        sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(user_id)
            .bind(key)
            .fetch_optional(tx)
            .await?
            .ok_or(ResourceError::NotFound)
    }

    /// What the database refused, named by field where a constraint says which.
    fn db_error(&self, r: &Resource, e: sqlx::Error) -> ResourceError {
        let sqlx::Error::Database(d) = &e else {
            return e.into();
        };
        let constraint = d.constraint().unwrap_or_default();
        let column = d
            .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
            .and_then(|p| p.column())
            .map(|c| format!("/{c}"));
        let field = r.field_of_constraint(constraint).or(column);
        match d.code().as_deref() {
            Some("23505") => ResourceError::Conflict {
                detail: match &field {
                    Some(f) => format!(
                        "another {} already has this {}",
                        singular(r),
                        f.trim_start_matches('/')
                    ),
                    None => format!("another {} already has these values", singular(r)),
                },
                field,
            },
            Some("23503") => ResourceError::invalid(
                field.as_deref().unwrap_or("/"),
                "refers to something that does not exist",
            ),
            Some("23514") => {
                ResourceError::invalid(field.as_deref().unwrap_or("/"), "is not an allowed value")
            }
            Some("23502") => {
                ResourceError::invalid(field.as_deref().unwrap_or("/"), "must not be null")
            }
            Some(code) if code.starts_with("22") => {
                ResourceError::invalid(field.as_deref().unwrap_or("/"), data_exception(code))
            }
            Some("42501") => ResourceError::conflict("this change is not allowed"),
            _ => e.into(),
        }
    }
}

/// "person_events" → "person event" (for messages).
fn singular(r: &Resource) -> String {
    let name = r.table.replace('_', " ");
    name.strip_suffix('s').map_or(name.clone(), str::to_string)
}

/// What a PostgreSQL data exception (SQLSTATE class 22) says about the value, in our
/// words: the database's own message names its internals and never reaches a client.
fn data_exception(code: &str) -> &'static str {
    match code {
        "22001" => "is too long",
        "22003" => "is out of range for this field",
        "22007" | "22008" => "is not a valid date or time",
        "22021" | "22P05" => "holds a character the database cannot store (NUL)",
        "22P02" => "is not a valid value for this field",
        _ => "is not a value this field can hold",
    }
}

/// A query-string value typed for its column, or None when it cannot be one.
fn typed_filter(ty: &ColumnType, raw: &str) -> Option<Value> {
    match ty {
        ColumnType::Uuid => Uuid::parse_str(raw)
            .ok()
            .map(|u| Value::String(u.to_string())),
        ColumnType::Int { min, max } => raw
            .parse::<i64>()
            .ok()
            .filter(|n| n >= min && n <= max)
            .map(Value::from),
        ColumnType::Number => raw
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
        ColumnType::Bool => raw.parse::<bool>().ok().map(Value::Bool),
        ColumnType::Enum(labels) => labels
            .iter()
            .any(|l| l == raw)
            .then(|| Value::String(raw.into())),
        ColumnType::Timestamp => chrono::DateTime::parse_from_rfc3339(raw)
            .ok()
            .map(|_| Value::String(raw.into())),
        ColumnType::Date => chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .ok()
            .map(|_| Value::String(raw.into())),
        ColumnType::Text(_) => (!raw.contains('\0')).then(|| Value::String(raw.into())),
        ColumnType::Json | ColumnType::TextArray | ColumnType::Vector(_) | ColumnType::Other(_) => {
            None
        }
    }
}

fn encode_cursor(r: &Resource, row: &Value) -> String {
    let key: Map<String, Value> = r.key.iter().map(|k| (k.clone(), row[k].clone())).collect();
    URL_SAFE_NO_PAD.encode(Value::Object(key).to_string())
}

fn decode_cursor(r: &Resource, cursor: &str) -> Result<Value, ResourceError> {
    let bad = || ResourceError::invalid("/cursor", "is not a cursor this list gave out");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let object = value.as_object().ok_or_else(bad)?;
    if object.len() != r.key.len() || !r.key.iter().all(|k| object.contains_key(k)) {
        return Err(bad());
    }
    let problems = validate::check_key_values(r, object);
    if problems { Err(bad()) } else { Ok(value) }
}
