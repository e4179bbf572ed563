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
//! cannot drift apart; a test holds the database's foreign keys against it
//! ([`super::references`]). Merge records and the audit log are beyond the app
//! role's reach: `erase_person_audit()` removes and scrubs them, and refuses while
//! any of the people it is given still exists.

use serde_json::{Map, Value, json};
use sqlx::Row;
use uuid::Uuid;

use crate::db::tenant::TenantTx;

use crate::audit;
use crate::error::{DomainError, DomainResult};

/// How a table's rows are about the person (`$1` tenant, `$2` person, `$3` the person
/// and everyone merged into them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum About {
    /// The column names the person (a foreign key to `people`).
    Person(&'static str),
    /// The column names one of the person's mail contacts (`contacts`).
    MailContact(&'static str),
    /// The column names one of the person's Instagram contacts (`instagram_contacts`).
    InstagramContact(&'static str),
    /// Any other condition on alias `t`.
    Where(&'static str),
}

impl About {
    fn condition(self) -> String {
        match self {
            About::Person(c) => format!("t.{c} = $2"),
            About::MailContact(c) => {
                format!("t.{c} IN (SELECT id FROM contacts WHERE user_id = $1 AND person_id = $2)")
            }
            About::InstagramContact(c) => format!(
                "t.{c} IN (SELECT id FROM instagram_contacts WHERE user_id = $1 AND person_id = $2)"
            ),
            About::Where(sql) => sql.to_string(),
        }
    }

    /// The `(column, referenced table)` this covers, for the catalog check
    /// ([`super::references`]).
    pub fn reference(self) -> Option<(&'static str, &'static str)> {
        match self {
            About::Person(c) => Some((c, "people")),
            About::MailContact(c) => Some((c, "contacts")),
            About::InstagramContact(c) => Some((c, "instagram_contacts")),
            About::Where(_) => None,
        }
    }
}

/// Every table holding something about a person, children first: erase deletes in
/// this order. A test holds the database's foreign keys to `people`, `contacts` and
/// `instagram_contacts` against it ([`super::references`]).
pub const PARTS: [(&str, About); 24] = [
    // e-mails that involve nobody else (every linked contact is theirs)
    (
        "emails",
        About::Where(
            "EXISTS (SELECT 1 FROM email_interactions x WHERE x.user_id = $1 AND x.email_id = t.id
                    AND x.contact_id IN (SELECT id FROM contacts WHERE user_id = $1 AND person_id = $2))
         AND NOT EXISTS (SELECT 1 FROM email_interactions x WHERE x.user_id = $1 AND x.email_id = t.id
                    AND (x.contact_id IS NULL OR x.contact_id NOT IN (SELECT id FROM contacts WHERE user_id = $1 AND person_id = $2)))",
        ),
    ),
    ("email_interactions", About::MailContact("contact_id")),
    ("contact_stats", About::MailContact("contact_id")),
    ("enrichments", About::MailContact("contact_id")),
    ("contacts", About::Person("person_id")),
    ("instagram_messages", About::InstagramContact("contact_id")),
    ("instagram_contact_stages", About::InstagramContact("contact_id")),
    ("instagram_conversations", About::InstagramContact("contact_id")),
    ("outreach_queue", About::InstagramContact("contact_id")),
    ("instagram_contacts", About::Person("person_id")),
    ("identities", About::Person("person_id")),
    ("person_events", About::Person("person_id")),
    ("person_insights", About::Person("person_id")),
    ("person_match_keys", About::Person("person_id")),
    ("person_merge_candidates", About::Person("person_a")),
    ("person_merge_candidates", About::Person("person_b")),
    ("person_merge_dismissals", About::Person("person_a")),
    ("person_merge_dismissals", About::Person("person_b")),
    ("segment_members", About::Person("person_id")),
    ("outbound_messages", About::Person("person_id")),
    // every merge record naming them or anyone merged into them, however far back;
    // exported here, erased by erase_person_audit() (the app role cannot delete them)
    (
        "person_merges",
        About::Where("(t.survivor_id = ANY($3) OR t.merged_id = ANY($3))"),
    ),
    (
        "events",
        About::Where(
            "t.entity_type = 'person' AND (t.entity_id = ANY($3) OR t.payload->>'merged_id' = ANY($3::text[]))",
        ),
    ),
    // not the person's own rows, but they name the person in their values
    (
        "events",
        About::Where("t.entity_type <> 'person' AND t.payload->>'person_id' = $2::text"),
    ),
    ("people", About::Person("id")),
];

/// Parts erased by `erase_person_audit()` rather than by a DELETE of the app's.
const ERASED_BY_FUNCTION: [&str; 1] = ["person_merges"];

/// The person and everyone merged into them (and not separated again by an undo),
/// following merges back as far as they go.
async fn absorbed(tx: &mut TenantTx, person_id: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    let user_id = tx.user_id();
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
    .fetch_all(&mut **tx)
    .await
}

/// The rows of `table` matching `cond` (`$1` tenant, `$2` person, `$3` absorbed ids).
fn part_query<'q>(
    sql: String,
    user_id: Uuid,
    person_id: Uuid,
    absorbed: &'q [Uuid],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let uses_absorbed = sql.contains("$3");
    let q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .bind(person_id);
    if uses_absorbed { q.bind(absorbed) } else { q }
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
pub async fn exists(tx: &mut TenantTx, person_id: Uuid) -> Result<bool, sqlx::Error> {
    let user_id = tx.user_id();
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM people WHERE user_id = $1 AND id = $2)")
        .bind(user_id)
        .bind(person_id)
        .fetch_one(&mut **tx)
        .await
}

/// Everything about the person: `{"person": {...}, "tables": {"identities": [...], ...}}`,
/// secrets redacted as in the audit log; `None` if there is no such person.
pub async fn export(tx: &mut TenantTx, person_id: Uuid) -> DomainResult<Value> {
    let user_id = tx.user_id();
    if !exists(tx, person_id).await? {
        return Err(DomainError::NotFound);
    }
    let absorbed = absorbed(tx, person_id).await?;
    let mut tables = Map::new();
    let mut person = Value::Null;
    for (table, about) in PARTS.iter() {
        let sql = format!(
            "SELECT to_jsonb(t) FROM {table} t WHERE t.user_id = $1 AND {}",
            about.condition()
        );
        let rows: Vec<Value> = part_query(sql, user_id, person_id, &absorbed)
            .fetch_all(&mut **tx)
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
    Ok(json!({
        "format": "everreach-person-export/1",
        "exported_at": chrono::Utc::now(),
        "person": person,
        "tables": tables,
    }))
}

/// Erases the person and every row about them; returns rows removed per table (and
/// audit rows scrubbed). The audit log keeps that it happened (not what they were),
/// and `person.erased` is recorded with the counts.
pub async fn erase(tx: &mut TenantTx, person_id: Uuid) -> DomainResult<Map<String, Value>> {
    let user_id = tx.user_id();
    // Locked first: a batch about them either commits before (and its events are
    // erased with the rest) or waits, finds them gone and resolves afresh.
    let locked: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM people WHERE user_id = $1 AND id = $2 FOR UPDATE")
            .bind(user_id)
            .bind(person_id)
            .fetch_optional(&mut **tx)
            .await?;
    if locked.is_none() {
        return Err(DomainError::NotFound);
    }
    let absorbed = absorbed(tx, person_id).await?;
    // Their channel records, whose child rows' audit entries name them by contact_id.
    let records: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM contacts WHERE user_id = $1 AND person_id = $2
         UNION ALL SELECT id FROM instagram_contacts WHERE user_id = $1 AND person_id = $2",
    )
    .bind(user_id)
    .bind(person_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut counts = Map::new();
    for (table, about) in PARTS.iter() {
        if ERASED_BY_FUNCTION.contains(table) {
            continue;
        }
        let sql = format!(
            "DELETE FROM {table} t WHERE t.user_id = $1 AND {}",
            about.condition()
        );
        let n = part_query(sql, user_id, person_id, &absorbed)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        let before = counts.get(*table).and_then(Value::as_u64).unwrap_or(0);
        counts.insert((*table).to_string(), json!(before + n));
    }
    // Once nobody of them exists: their merge records, and what the audit log holds
    // of them and of their channel records' rows.
    let (merges, scrubbed): (i64, i64) =
        sqlx::query_as("SELECT merges, scrubbed FROM erase_person_audit($1, $2)")
            .bind(&absorbed)
            .bind(&records)
            .fetch_one(&mut **tx)
            .await?;
    counts.insert("person_merges".into(), json!(merges));
    counts.insert("audit_log_scrubbed".into(), json!(scrubbed));
    tx.audit(
        "people",
        audit::Operation::Delete,
        Some(&json!({ "id": person_id, "erased": true, "removed": counts })),
        None,
    )
    .await?;
    tx.log_event(
        "person",
        person_id,
        "person.erased",
        &json!({ "removed": counts }),
    )
    .await?;
    Ok(counts)
}
