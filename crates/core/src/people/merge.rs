//! Merging two people into one, and undoing it. A merge moves everything that names
//! the merged person — identities, events, our messages, segment memberships and the
//! channel records (`instagram_contacts`, `contacts`) — to the survivor, fills the
//! survivor's blank fields from the merged person, deletes the merged person, and
//! writes an append-only `person_merges` record holding both people as they were and
//! the id of every row moved or dropped. Undo reads that record and puts every row
//! back as it was (updated_at included), then records the undo; a merge is undone at
//! most once, and only while its survivor still exists.
//!
//! Rows that cannot move because the survivor already has their key — an event the
//! survivor also has (same channel, type and platform id), a segment both are in —
//! are dropped and kept whole in the record, so undo can restore them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::insights;
use crate::db::tenant::TenantTx;
use crate::error::{DomainError, DomainResult};

fn already_undone() -> DomainError {
    DomainError::conflict("this merge was already undone")
}

/// A merge or undo as the API shows it: how many rows of each table moved.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct MergeSummary {
    pub id: Uuid,
    /// merge or undo
    pub kind: String,
    pub survivor_id: Uuid,
    pub merged_id: Uuid,
    /// For an undo: the merge it reversed.
    pub undoes: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    /// Rows per table moved (or put back), e.g. `{"identities": 2, "person_events": 40}`.
    #[schema(value_type = Object)]
    pub counts: Value,
    pub created_at: DateTime<Utc>,
}

/// Tables whose rows point at a person by `person_id` and move with a merge, with the
/// type of their id. (`person_insights` is recomputed; `segment_members` is keyed by
/// segment.)
const MOVED_BY_ID: [(&str, &str); 5] = [
    ("identities", "int8"),
    ("person_events", "int8"),
    ("outbound_messages", "uuid"),
    ("instagram_contacts", "uuid"),
    ("contacts", "uuid"),
];

/// Every `(table, column)` keyed to `people` that a merge handles: moved by id,
/// moved by segment (`segment_members`), or recomputed (`person_insights`, and the
/// match keys and merge candidates, rebuilt for the survivor by the jobs the merge
/// queues; the merged person's go with their row). A dismissed pair naming the
/// merged person goes with them too. A test holds the database's foreign keys
/// against it ([`super::references`]).
pub const HANDLED: [(&str, &str); 12] = [
    ("person_match_keys", "person_id"),
    ("person_merge_candidates", "person_a"),
    ("person_merge_candidates", "person_b"),
    ("person_merge_dismissals", "person_a"),
    ("person_merge_dismissals", "person_b"),
    ("identities", "person_id"),
    ("person_events", "person_id"),
    ("outbound_messages", "person_id"),
    ("instagram_contacts", "person_id"),
    ("contacts", "person_id"),
    ("segment_members", "person_id"),
    ("person_insights", "person_id"),
];

/// Tables with an `updated_at` the move touches (restored exactly on undo).
const STAMPED: [&str; 2] = ["instagram_contacts", "contacts"];

async fn people_rows(tx: &mut TenantTx, ids: [Uuid; 2]) -> Result<Vec<(Uuid, Value)>, sqlx::Error> {
    let user_id = tx.user_id();
    sqlx::query_as(
        "SELECT id, to_jsonb(p) FROM people p WHERE user_id = $1 AND id = ANY($2) ORDER BY id FOR UPDATE",
    )
    .bind(user_id)
    .bind(&ids[..])
    .fetch_all(&mut **tx)
    .await
}

/// Moves `merged` into `survivor` (see the module doc); the transaction's actor is
/// recorded as who asked.
pub async fn merge(
    tx: &mut TenantTx,
    survivor: Uuid,
    merged: Uuid,
    force: bool,
) -> DomainResult<MergeSummary> {
    let user_id = tx.user_id();
    if survivor == merged {
        return Err(DomainError::invalid(
            "/other_id",
            "a person cannot be merged into themselves",
        ));
    }
    let rows = people_rows(tx, [survivor, merged]).await?;
    let before = |id| rows.iter().find(|r| r.0 == id).map(|r| r.1.clone());
    let (Some(survivor_before), Some(merged_before)) = (before(survivor), before(merged)) else {
        return Err(DomainError::NotFound);
    };
    if !force {
        let conflict: Option<String> = sqlx::query_scalar(
            "SELECT a.channel FROM identities a JOIN identities b
                 ON b.user_id = a.user_id AND b.channel = a.channel AND b.person_id = $3 AND b.is_verified
              WHERE a.user_id = $1 AND a.person_id = $2 AND a.is_verified LIMIT 1",
        )
        .bind(user_id)
        .bind(survivor)
        .bind(merged)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(channel) = conflict {
            return Err(DomainError::conflict_on(
                "/force",
                format!(
                    "both people have a verified {channel} identity, so they are probably two humans; send \"force\": true to merge anyway"
                ),
            ));
        }
    }

    let mut moved = serde_json::Map::new();
    let mut counts = serde_json::Map::new();
    moved.insert("survivor_before".into(), survivor_before);
    moved.insert("merged_before".into(), merged_before);

    // Rows the survivor already has the key of: kept whole in the record, then dropped.
    let dropped_events: Vec<Value> = sqlx::query_scalar(
        "DELETE FROM person_events m USING person_events s
          WHERE m.user_id = $1 AND m.person_id = $3 AND m.platform_id IS NOT NULL
            AND s.user_id = $1 AND s.person_id = $2 AND s.channel = m.channel
            AND s.event_type = m.event_type AND s.platform_id = m.platform_id
         RETURNING to_jsonb(m)",
    )
    .bind(user_id)
    .bind(survivor)
    .bind(merged)
    .fetch_all(&mut **tx)
    .await?;
    let dropped_members: Vec<Value> = sqlx::query_scalar(
        "DELETE FROM segment_members m USING segment_members s
          WHERE m.user_id = $1 AND m.person_id = $3 AND s.user_id = $1 AND s.person_id = $2
            AND s.segment_id = m.segment_id
         RETURNING to_jsonb(m)",
    )
    .bind(user_id)
    .bind(survivor)
    .bind(merged)
    .fetch_all(&mut **tx)
    .await?;
    let insights: Vec<Value> = sqlx::query_scalar(
        "SELECT to_jsonb(i) FROM person_insights i WHERE user_id = $1 AND person_id = ANY($2)",
    )
    .bind(user_id)
    .bind(&[survivor, merged][..])
    .fetch_all(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM person_insights WHERE user_id = $1 AND person_id = $2")
        .bind(user_id)
        .bind(merged)
        .execute(&mut **tx)
        .await?;
    counts.insert("person_events_dropped".into(), json!(dropped_events.len()));
    counts.insert(
        "segment_members_dropped".into(),
        json!(dropped_members.len()),
    );
    moved.insert("person_events_dropped".into(), Value::Array(dropped_events));
    moved.insert(
        "segment_members_dropped".into(),
        Value::Array(dropped_members),
    );
    moved.insert("person_insights_before".into(), Value::Array(insights));

    for (table, _) in MOVED_BY_ID {
        let stamped = STAMPED.contains(&table);
        // The updated_at each row had, for undo (the move stamps a new one).
        let returning = if stamped {
            "jsonb_build_object('id', t.id, 'updated_at', old.updated_at)"
        } else {
            "to_jsonb(t.id)"
        };
        let ids: Vec<Value> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "UPDATE {table} t SET person_id = $2 WHERE t.user_id = $1 AND t.person_id = $3 RETURNING {returning}"
        )))
        .bind(user_id)
        .bind(survivor)
        .bind(merged)
        .fetch_all(&mut **tx)
        .await?;
        counts.insert(table.into(), json!(ids.len()));
        moved.insert(table.into(), Value::Array(ids));
    }
    let segments: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE segment_members SET person_id = $2 WHERE user_id = $1 AND person_id = $3 RETURNING segment_id",
    )
    .bind(user_id)
    .bind(survivor)
    .bind(merged)
    .fetch_all(&mut **tx)
    .await?;
    counts.insert("segment_members".into(), json!(segments.len()));
    moved.insert("segment_members".into(), json!(segments));

    sqlx::query(
        "UPDATE people s SET full_name = coalesce(s.full_name, m.full_name),
                             primary_email = coalesce(s.primary_email, m.primary_email),
                             company = coalesce(s.company, m.company), role = coalesce(s.role, m.role)
           FROM people m WHERE s.user_id = $1 AND s.id = $2 AND m.user_id = $1 AND m.id = $3",
    )
    .bind(user_id)
    .bind(survivor)
    .bind(merged)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM people WHERE user_id = $1 AND id = $2")
        .bind(user_id)
        .bind(merged)
        .execute(&mut **tx)
        .await?;

    let summary = record(
        tx,
        "merge",
        survivor,
        merged,
        None,
        Value::Object(moved),
        Value::Object(counts),
    )
    .await?;
    insights::enqueue(tx, [survivor].into_iter(), &[]).await?;
    Ok(summary)
}

/// Undoes merge `merge_id` (see the module doc).
pub async fn undo(tx: &mut TenantTx, merge_id: Uuid) -> DomainResult<MergeSummary> {
    let user_id = tx.user_id();
    let found: Option<(Uuid, Uuid, Value, DateTime<Utc>, bool)> = sqlx::query_as(
        "SELECT survivor_id, merged_id, moved, created_at,
                EXISTS (SELECT 1 FROM person_merges u WHERE u.user_id = $1 AND u.undoes = m.id)
           FROM person_merges m WHERE user_id = $1 AND id = $2 AND kind = 'merge'
            FOR UPDATE",
    )
    .bind(user_id)
    .bind(merge_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((survivor, merged, moved, merged_at, undone)) = found else {
        return Err(DomainError::NotFound);
    };
    if undone {
        return Err(already_undone());
    }
    if people_rows(tx, [survivor, survivor]).await?.is_empty() {
        return Err(DomainError::conflict(format!(
            "the survivor {survivor} no longer exists (erased, or merged into someone else since): undo the later merge first"
        )));
    }
    let part = |k: &str| moved.get(k).cloned().unwrap_or(Value::Null);
    let mut counts = serde_json::Map::new();

    // The merged person as they were, and the survivor's own fields.
    sqlx::query("INSERT INTO people SELECT * FROM jsonb_populate_record(NULL::people, $1)")
        .bind(part("merged_before"))
        .execute(&mut **tx)
        .await?;
    // Only the fields the merge filled, and only while they still hold what it put
    // there: an edit of the survivor since the merge stays. updated_at goes back too
    // when nothing touched the row after the merge (it still has the merge's stamp).
    sqlx::query(
        "UPDATE people p SET
             full_name = CASE WHEN b.full_name IS NULL AND p.full_name IS NOT DISTINCT FROM m.full_name
                              THEN NULL ELSE p.full_name END,
             primary_email = CASE WHEN b.primary_email IS NULL AND p.primary_email IS NOT DISTINCT FROM m.primary_email
                                  THEN NULL ELSE p.primary_email END,
             company = CASE WHEN b.company IS NULL AND p.company IS NOT DISTINCT FROM m.company
                            THEN NULL ELSE p.company END,
             role = CASE WHEN b.role IS NULL AND p.role IS NOT DISTINCT FROM m.role THEN NULL ELSE p.role END,
             updated_at = CASE WHEN p.updated_at = $5 THEN b.updated_at ELSE p.updated_at END
           FROM jsonb_populate_record(NULL::people, $3) b, jsonb_populate_record(NULL::people, $4) m
          WHERE p.user_id = $1 AND p.id = $2",
    )
    .bind(user_id)
    .bind(survivor)
    .bind(part("survivor_before"))
    .bind(part("merged_before"))
    .bind(merged_at)
    .execute(&mut **tx)
    .await?;

    for (table, id_type) in MOVED_BY_ID {
        let stamped = STAMPED.contains(&table);
        let sql = if stamped {
            format!(
                "UPDATE {table} t SET person_id = $3, updated_at = b.updated_at
                   FROM jsonb_to_recordset($4) AS b(id {id_type}, updated_at timestamptz)
                  WHERE t.user_id = $1 AND t.person_id = $2 AND t.id = b.id"
            )
        } else {
            format!(
                "UPDATE {table} t SET person_id = $3
                  WHERE t.user_id = $1 AND t.person_id = $2
                    AND t.id IN (SELECT v::{id_type} FROM jsonb_array_elements_text($4) AS v)"
            )
        };
        let n = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .bind(survivor)
            .bind(merged)
            .bind(part(table))
            .execute(&mut **tx)
            .await?
            .rows_affected();
        counts.insert(table.into(), json!(n));
    }
    let n = sqlx::query(
        "UPDATE segment_members SET person_id = $3
          WHERE user_id = $1 AND person_id = $2
            AND segment_id IN (SELECT v::uuid FROM jsonb_array_elements_text($4) AS v)",
    )
    .bind(user_id)
    .bind(survivor)
    .bind(merged)
    .bind(part("segment_members"))
    .execute(&mut **tx)
    .await?
    .rows_affected();
    counts.insert("segment_members".into(), json!(n));
    for (table, key) in [
        ("person_events", "person_events_dropped"),
        ("segment_members", "segment_members_dropped"),
    ] {
        let n = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {table} SELECT * FROM jsonb_populate_recordset(NULL::{table}, $1)"
        )))
        .bind(part(key))
        .execute(&mut **tx)
        .await?
        .rows_affected();
        counts.insert(key.into(), json!(n));
    }
    sqlx::query("DELETE FROM person_insights WHERE user_id = $1 AND person_id = ANY($2)")
        .bind(user_id)
        .bind(&[survivor, merged][..])
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO person_insights SELECT * FROM jsonb_populate_recordset(NULL::person_insights, $1)",
    )
    .bind(part("person_insights_before"))
    .execute(&mut **tx)
    .await?;

    let summary = record(
        tx,
        "undo",
        survivor,
        merged,
        Some(merge_id),
        Value::Object(counts.clone()),
        Value::Object(counts),
    )
    .await?;
    insights::enqueue(tx, [survivor, merged].into_iter(), &[]).await?;
    Ok(summary)
}

async fn record(
    tx: &mut TenantTx,
    kind: &str,
    survivor: Uuid,
    merged: Uuid,
    undoes: Option<Uuid>,
    moved: Value,
    counts: Value,
) -> DomainResult<MergeSummary> {
    let user_id = tx.user_id();
    let actor = tx.actor_id();
    let (id, created_at): (Uuid, DateTime<Utc>) = sqlx::query_as(
        "INSERT INTO person_merges (user_id, kind, survivor_id, merged_id, undoes, actor_id, moved)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, created_at",
    )
    .bind(user_id)
    .bind(kind)
    .bind(survivor)
    .bind(merged)
    .bind(undoes)
    .bind(actor)
    .bind(&moved)
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => already_undone(),
        _ => DomainError::Db(e),
    })?;
    let event_type = if kind == "merge" {
        "person.merged"
    } else {
        "person.merge_undone"
    };
    tx.log_event(
        "person",
        survivor,
        event_type,
        &json!({ "merge_id": undoes.unwrap_or(id), "survivor_id": survivor, "merged_id": merged, "counts": counts }),
    )
    .await?;
    Ok(MergeSummary {
        id,
        kind: kind.to_string(),
        survivor_id: survivor,
        merged_id: merged,
        undoes,
        actor_id: actor,
        counts,
        created_at,
    })
}

/// The merge records of the tenant (or naming one person), newest first, strictly
/// before `before` (`(created_at, id)`, the last of the previous page).
pub async fn list(
    tx: &mut TenantTx,
    person_id: Option<Uuid>,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<MergeSummary>, sqlx::Error> {
    let user_id = tx.user_id();
    sqlx::query_as(
        "SELECT id, kind, survivor_id, merged_id, undoes, actor_id,
                (SELECT coalesce(jsonb_object_agg(k, CASE WHEN jsonb_typeof(v) = 'array' THEN to_jsonb(jsonb_array_length(v)) ELSE v END), '{}')
                   FROM jsonb_each(moved) AS e(k, v) WHERE k NOT LIKE '%_before') AS counts,
                created_at
           FROM person_merges
          WHERE user_id = $1 AND ($2::uuid IS NULL OR survivor_id = $2 OR merged_id = $2)
            AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
          ORDER BY created_at DESC, id DESC LIMIT $5",
    )
    .bind(user_id)
    .bind(person_id)
    .bind(before.map(|b| b.0))
    .bind(before.map(|b| b.1))
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}
