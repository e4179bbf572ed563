//! Data rights of one person: everything we hold about them across every table
//! (`export`), and erasing it (`erase`). "About them" is: their `people` row; every
//! row with their `person_id`; their channel records (`instagram_contacts`,
//! `contacts`) and every row of those (conversations, DMs, queued outreach, e-mail
//! links, stats, enrichments); e-mails whose only linked contacts are theirs; merge
//! records naming them or anyone merged into them (a merged person's row lives on in
//! the record of their merge); domain events about them; and, on erase, the values the audit
//! log holds of them (scrubbed, not deleted: who did what when stays).
//!
//! One list ([`PARTS`]) drives both, children before parents, so export and erase
//! cannot drift apart; a test checks every table with a `person_id` is on it.

use serde_json::{Map, Value, json};
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::audit;

/// The person's channel records' ids, as SQL (`$1` tenant, `$2` person).
const IG_CONTACTS: &str = "SELECT id FROM instagram_contacts WHERE user_id = $1 AND person_id = $2";
const MAIL_CONTACTS: &str = "SELECT id FROM contacts WHERE user_id = $1 AND person_id = $2";

/// `(table, condition on alias t)`, children first: erase deletes in this order.
pub const PARTS: [(&str, &str); 18] = [
    // e-mails that involve nobody else (every linked contact is theirs)
    (
        "emails",
        "EXISTS (SELECT 1 FROM email_interactions x WHERE x.user_id = $1 AND x.email_id = t.id
                    AND x.contact_id IN (SELECT id FROM contacts WHERE user_id = $1 AND person_id = $2))
         AND NOT EXISTS (SELECT 1 FROM email_interactions x WHERE x.user_id = $1 AND x.email_id = t.id
                    AND (x.contact_id IS NULL OR x.contact_id NOT IN (SELECT id FROM contacts WHERE user_id = $1 AND person_id = $2)))",
    ),
    ("email_interactions", "t.contact_id IN (MAIL)"),
    ("contact_stats", "t.contact_id IN (MAIL)"),
    ("enrichments", "t.contact_id IN (MAIL)"),
    ("contacts", "t.person_id = $2"),
    ("instagram_messages", "t.contact_id IN (IG)"),
    ("instagram_conversations", "t.contact_id IN (IG)"),
    ("outreach_queue", "t.contact_id IN (IG)"),
    ("instagram_contacts", "t.person_id = $2"),
    ("identities", "t.person_id = $2"),
    ("person_events", "t.person_id = $2"),
    ("person_insights", "t.person_id = $2"),
    ("segment_members", "t.person_id = $2"),
    ("outbound_messages", "t.person_id = $2"),
    // every merge record naming them or anyone merged into them, however far back
    // ($3); an undo record goes with the merge it undid (ON DELETE CASCADE)
    (
        "person_merges",
        "(t.survivor_id = ANY($3) OR t.merged_id = ANY($3))",
    ),
    (
        "events",
        "t.entity_type = 'person' AND (t.entity_id = ANY($3) OR t.payload->>'merged_id' = ANY($3::text[]))",
    ),
    // not the person's own rows, but they name the person in their values
    (
        "events",
        "t.entity_type <> 'person' AND t.payload->>'person_id' = $2::text",
    ),
    ("people", "t.id = $2"),
];

/// The person and everyone merged into them (and not separated again by an undo),
/// following merges back as far as they go.
async fn absorbed(
    conn: &mut PgConnection,
    user_id: Uuid,
    person_id: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "WITH RECURSIVE absorbed(id) AS (
             SELECT $2::uuid
             UNION
             SELECT m.merged_id FROM person_merges m JOIN absorbed a ON m.survivor_id = a.id
              WHERE m.user_id = $1 AND m.kind = 'merge'
                AND NOT EXISTS (SELECT 1 FROM person_merges u WHERE u.user_id = $1 AND u.undoes = m.id))
         SELECT id FROM absorbed",
    )
    .bind(user_id)
    .bind(person_id)
    .fetch_all(conn)
    .await
}

/// The rows of `table` matching `cond` (`$1` tenant, `$2` person, `$3` absorbed ids).
fn part_query<'q>(
    sql: String,
    cond: &str,
    user_id: Uuid,
    person_id: Uuid,
    absorbed: &'q [Uuid],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .bind(person_id);
    if cond.contains("$3") {
        q.bind(absorbed)
    } else {
        q
    }
}

fn condition(raw: &str) -> String {
    raw.replace("(MAIL)", &format!("({MAIL_CONTACTS})"))
        .replace("(IG)", &format!("({IG_CONTACTS})"))
}

/// Columns left out of an export: derived search data, not information.
fn trim(table: &str, mut row: Value) -> Value {
    if table == "contacts"
        && let Some(m) = row.as_object_mut()
    {
        m.remove("search_vector");
        m.remove("embedding");
    }
    row
}

/// Whether the tenant has this person.
pub async fn exists(
    conn: &mut PgConnection,
    user_id: Uuid,
    person_id: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM people WHERE user_id = $1 AND id = $2)")
        .bind(user_id)
        .bind(person_id)
        .fetch_one(conn)
        .await
}

/// Everything about the person: `{"person": {...}, "tables": {"identities": [...], ...}}`,
/// secrets redacted as in the audit log; `None` if there is no such person.
pub async fn export(
    conn: &mut PgConnection,
    user_id: Uuid,
    person_id: Uuid,
) -> Result<Option<Value>, sqlx::Error> {
    if !exists(conn, user_id, person_id).await? {
        return Ok(None);
    }
    let absorbed = absorbed(conn, user_id, person_id).await?;
    let mut tables = Map::new();
    let mut person = Value::Null;
    for (table, cond) in PARTS.iter() {
        let sql = format!(
            "SELECT to_jsonb(t) FROM {table} t WHERE t.user_id = $1 AND {}",
            condition(cond)
        );
        let rows: Vec<Value> = part_query(sql, cond, user_id, person_id, &absorbed)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| r.try_get::<Value, _>(0))
            .collect::<Result<_, _>>()?;
        let rows: Vec<Value> = rows
            .into_iter()
            .map(|r| trim(table, audit::redact(table, &r)))
            .collect();
        if *table == "people" {
            person = rows.into_iter().next().unwrap_or(Value::Null);
            continue;
        }
        match tables.get_mut(*table) {
            Some(Value::Array(existing)) => existing.extend(rows),
            _ => {
                tables.insert((*table).to_string(), Value::Array(rows));
            }
        }
    }
    Ok(Some(json!({
        "format": "everreach-person-export/1",
        "exported_at": chrono::Utc::now(),
        "person": person,
        "tables": tables,
    })))
}

/// Erases the person and every row about them; returns rows removed per table (and
/// audit rows scrubbed), or `None` if there is no such person.
pub async fn erase(
    conn: &mut PgConnection,
    user_id: Uuid,
    person_id: Uuid,
) -> Result<Option<Map<String, Value>>, sqlx::Error> {
    // Locked first: a batch about them either commits before (and its events are
    // erased with the rest) or waits, finds them gone and resolves afresh.
    let locked: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM people WHERE user_id = $1 AND id = $2 FOR UPDATE")
            .bind(user_id)
            .bind(person_id)
            .fetch_optional(&mut *conn)
            .await?;
    if locked.is_none() {
        return Ok(None);
    }
    let absorbed = absorbed(conn, user_id, person_id).await?;
    let mut counts = Map::new();
    for (table, cond) in PARTS.iter() {
        let sql = format!(
            "DELETE FROM {table} t WHERE t.user_id = $1 AND {}",
            condition(cond)
        );
        let n = part_query(sql, cond, user_id, person_id, &absorbed)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        let before = counts.get(*table).and_then(Value::as_u64).unwrap_or(0);
        counts.insert((*table).to_string(), json!(before + n));
    }
    let scrubbed: i64 = sqlx::query_scalar("SELECT erase_person_audit($1)")
        .bind(person_id)
        .fetch_one(&mut *conn)
        .await?;
    counts.insert("audit_log_scrubbed".into(), json!(scrubbed));
    Ok(Some(counts))
}
