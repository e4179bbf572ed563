//! Segments stored and their members kept current (seed 000's `segments`,
//! `segment_members`): a definition is checked and compiled before it is saved
//! (every error at its JSON pointer under `/definition`, nothing saved), so a stored
//! segment always compiles; its members are refreshed by a diff — people who now
//! match are inserted, people who no longer match deleted, and those who stay keep
//! their `added_at` — with the changes recorded as `segment.entered` /
//! `segment.left` domain events (one per refresh and direction, never one per
//! person). A refresh can be scoped to a few people (after their events), which
//! touches only their rows.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Compiled, Definition, DefinitionError, Scope, compile_segment, parse};
use crate::audit::Operation;
use crate::db::tenant::TenantTx;
use crate::error::{DomainError, DomainResult};

/// Longest segment name.
pub const MAX_NAME: usize = 200;
/// Most members a preview lists.
pub const MAX_PREVIEW: i64 = 100;
/// Most person ids one `segment.entered`/`segment.left` event names (the count is
/// always whole).
pub const EVENT_IDS: usize = 1_000;

/// A segment to create, or the whole of one to replace.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentInput {
    pub name: String,
    pub description: Option<String>,
    /// The membership definition (docs/SEGMENTS.md).
    #[schema(schema_with = definition_schema)]
    pub definition: Value,
}

/// A definition in an OpenAPI document: the language's own schema, published among
/// the components (`schema::openapi_components`).
pub fn definition_schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    utoipa::openapi::Ref::from_schema_name(super::schema::OPENAPI_NAME).into()
}

/// A stored segment.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct SegmentView {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    #[schema(value_type = Object)]
    pub definition: Option<Value>,
    pub members: i64,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// A member as lists show them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct MemberView {
    pub person_id: Uuid,
    pub full_name: Option<String>,
    pub primary_email: Option<String>,
    /// When they entered (null in a preview).
    pub added_at: Option<DateTime<Utc>>,
}

/// Who a definition matches, unsaved.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Preview {
    pub count: i64,
    /// The first members by name (at most the limit asked, ≤ 100).
    pub members: Vec<MemberView>,
}

/// What a refresh changed.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Refreshed {
    pub entered: u64,
    pub left: u64,
    /// Members after the refresh (of the whole segment, whatever the scope).
    pub members: i64,
}

fn under_definition(errors: Vec<DefinitionError>) -> DomainError {
    DomainError::Invalid(
        errors
            .into_iter()
            .map(|e| (format!("/definition{}", e.pointer), e.message))
            .collect(),
    )
}

/// Every stored definition of the tenant, parsed (one that no longer parses is left
/// out, so a segment naming it is refused as naming a missing segment).
pub async fn definitions(tx: &mut TenantTx) -> DomainResult<HashMap<Uuid, Definition>> {
    let rows: Vec<(Uuid, Option<Value>)> =
        sqlx::query_as("SELECT id, definition FROM segments WHERE user_id = $1")
            .bind(tx.user_id())
            .fetch_all(&mut **tx)
            .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, d)| Some((id, parse(&d?).ok()?)))
        .collect())
}

/// Parses and compiles `definition` as segment `id` (None: not stored yet) over the
/// tenant's stored segments, errors under `/definition`.
pub async fn compiled(
    tx: &mut TenantTx,
    id: Option<Uuid>,
    definition: &Value,
    scope: Scope,
) -> DomainResult<Compiled> {
    let def = parse(definition).map_err(under_definition)?;
    let stored = definitions(tx).await?;
    compile_segment(id, &def, &|s| stored.get(&s).cloned(), scope, Utc::now())
        .map_err(|e| under_definition(vec![e]))
}

fn check(input: &SegmentInput) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let name = input.name.trim();
    if name.is_empty() {
        problems.push(("/name".into(), "give the segment a name".into()));
    } else if name.chars().count() > MAX_NAME {
        problems.push((
            "/name".into(),
            format!("at most {MAX_NAME} characters: shorten it"),
        ));
    }
    if input
        .description
        .as_deref()
        .is_some_and(|d| d.chars().count() > 2_000)
    {
        problems.push((
            "/description".into(),
            "at most 2,000 characters: shorten it".into(),
        ));
    }
    problems
}

/// Checks every field at once: the name's problems and the definition's.
async fn checked(tx: &mut TenantTx, id: Option<Uuid>, input: &SegmentInput) -> DomainResult<()> {
    let mut problems = check(input);
    if let Err(e) = compiled(tx, id, &input.definition, Scope::All).await {
        match e {
            DomainError::Invalid(more) => problems.extend(more),
            other => return Err(other),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Invalid(problems))
    }
}

const VIEW: &str = "SELECT s.id, s.name, s.description, s.definition, s.created_at, s.updated_at,
        (SELECT count(*) FROM segment_members m WHERE m.user_id = s.user_id AND m.segment_id = s.id) AS members
   FROM segments s WHERE s.user_id = $1";

/// One segment with its member count.
pub async fn get(tx: &mut TenantTx, id: Uuid) -> DomainResult<SegmentView> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{VIEW} AND s.id = $2")))
        .bind(tx.user_id())
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(DomainError::NotFound)
}

/// The tenant's segments by name.
pub async fn list(tx: &mut TenantTx) -> DomainResult<Vec<SegmentView>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{VIEW} ORDER BY lower(s.name), s.id"
    )))
    .bind(tx.user_id())
    .fetch_all(&mut **tx)
    .await?)
}

/// Creates a segment and fills its members.
pub async fn create(tx: &mut TenantTx, input: &SegmentInput) -> DomainResult<SegmentView> {
    checked(tx, None, input).await?;
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO segments (user_id, name, description, definition, created_by)
         VALUES ($1, $2, $3, $4, $1) RETURNING id",
    )
    .bind(tx.user_id())
    .bind(input.name.trim())
    .bind(input.description.as_deref().map(str::trim))
    .bind(&input.definition)
    .fetch_one(&mut **tx)
    .await?;
    let new = json!({"id": id, "name": input.name.trim(), "definition": input.definition});
    tx.audit("segments", Operation::Insert, None, Some(&new))
        .await?;
    refresh(tx, id, Scope::All).await?;
    get(tx, id).await
}

/// Replaces a segment's name, description and definition, and refreshes its members.
pub async fn update(
    tx: &mut TenantTx,
    id: Uuid,
    input: &SegmentInput,
) -> DomainResult<SegmentView> {
    let old = get(tx, id).await?;
    checked(tx, Some(id), input).await?;
    sqlx::query(
        "UPDATE segments SET name = $3, description = $4, definition = $5 WHERE user_id = $1 AND id = $2",
    )
    .bind(tx.user_id())
    .bind(id)
    .bind(input.name.trim())
    .bind(input.description.as_deref().map(str::trim))
    .bind(&input.definition)
    .execute(&mut **tx)
    .await?;
    let before = json!({"id": id, "name": old.name, "definition": old.definition});
    let after = json!({"id": id, "name": input.name.trim(), "definition": input.definition});
    tx.audit("segments", Operation::Update, Some(&before), Some(&after))
        .await?;
    refresh(tx, id, Scope::All).await?;
    get(tx, id).await
}

/// Who `definition` matches now: the count and the first `limit` by name.
pub async fn preview(tx: &mut TenantTx, definition: &Value, limit: i64) -> DomainResult<Preview> {
    let c = compiled(tx, None, definition, Scope::All).await?;
    let user_id = tx.user_id();
    let count = c.count(tx, user_id).await?;
    let n = c.next_placeholder();
    let members = sqlx::query_as_with(
        sqlx::AssertSqlSafe(format!(
            "SELECT p.id AS person_id, p.full_name, p.primary_email, NULL::timestamptz AS added_at
               FROM people p WHERE p.user_id = $1 AND p.id IN ({})
              ORDER BY lower(p.full_name) NULLS LAST, p.id LIMIT ${n}",
            c.sql
        )),
        {
            use sqlx::Arguments;
            let mut args = c.arguments(user_id)?;
            args.add(limit.clamp(0, MAX_PREVIEW))
                .map_err(sqlx::Error::Encode)?;
            args
        },
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(Preview { count, members })
}

/// Brings segment `id`'s members up to date for `scope` (everyone, or a few people)
/// by a diff, and records who entered and who left.
pub async fn refresh(tx: &mut TenantTx, id: Uuid, scope: Scope) -> DomainResult<Refreshed> {
    let definition: Option<Value> =
        sqlx::query_scalar("SELECT definition FROM segments WHERE user_id = $1 AND id = $2")
            .bind(tx.user_id())
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(DomainError::NotFound)?;
    let definition = definition.unwrap_or(Value::Null);
    let scoped = match &scope {
        Scope::All => None,
        Scope::People(ids) => Some(ids.clone()),
    };
    let c = compiled(tx, Some(id), &definition, scope).await?;
    let (entered, left) = diff(tx, id, &c, scoped).await?;
    let members: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM segment_members WHERE user_id = $1 AND segment_id = $2",
    )
    .bind(tx.user_id())
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(Refreshed {
        entered,
        left,
        members,
    })
}

/// What an incremental refresh changed, over every segment of the tenant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Touched {
    pub segments: usize,
    pub entered: u64,
    pub left: u64,
}

/// Brings every segment of the tenant up to date for `people` alone (after their
/// events or their insights changed): each stored definition is compiled once,
/// scoped to them, and diffed; rows of other people are not read. A definition that
/// no longer compiles (a segment it names was deleted by hand) is skipped.
pub async fn refresh_people(tx: &mut TenantTx, people: &[Uuid]) -> DomainResult<Touched> {
    let mut done = Touched::default();
    if people.is_empty() {
        return Ok(done);
    }
    let stored = definitions(tx).await?;
    let now = Utc::now();
    let mut ids: Vec<&Uuid> = stored.keys().collect();
    ids.sort();
    for id in ids {
        let scope = Scope::People(people.to_vec());
        let Ok(c) = compile_segment(
            Some(*id),
            &stored[id],
            &|s| stored.get(&s).cloned(),
            scope,
            now,
        ) else {
            continue;
        };
        let (entered, left) = diff(tx, *id, &c, Some(people.to_vec())).await?;
        done.segments += 1;
        done.entered += entered;
        done.left += left;
    }
    Ok(done)
}

/// The tenant's segment ids, oldest first.
pub async fn ids(tx: &mut TenantTx) -> DomainResult<Vec<Uuid>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM segments WHERE user_id = $1 ORDER BY created_at, id")
            .bind(tx.user_id())
            .fetch_all(&mut **tx)
            .await?,
    )
}

/// The diff of one compiled segment against its members (restricted to `only` when
/// given): one statement, so it sees one snapshot of who matches. Logs
/// `segment.entered` / `segment.left`; returns how many entered and left.
async fn diff(
    tx: &mut TenantTx,
    id: Uuid,
    c: &Compiled,
    only: Option<Vec<Uuid>>,
) -> DomainResult<(u64, u64)> {
    let user_id = tx.user_id();
    let (seg, only_at) = (c.next_placeholder(), c.next_placeholder() + 1);
    let sql = format!(
        "WITH want AS ({}),
         gone AS (
             DELETE FROM segment_members m
              WHERE m.user_id = $1 AND m.segment_id = ${seg}
                AND (${only_at}::uuid[] IS NULL OR m.person_id = ANY(${only_at}::uuid[]))
                AND NOT EXISTS (SELECT 1 FROM want w WHERE w.id = m.person_id)
             RETURNING m.person_id),
         came AS (
             INSERT INTO segment_members (user_id, segment_id, person_id)
             SELECT $1, ${seg}, w.id FROM want w
             ON CONFLICT (user_id, segment_id, person_id) DO NOTHING
             RETURNING person_id)
         SELECT true, person_id FROM came UNION ALL SELECT false, person_id FROM gone",
        c.sql
    );
    let mut args = c.arguments(user_id)?;
    {
        use sqlx::Arguments;
        args.add(id).map_err(sqlx::Error::Encode)?;
        args.add(only).map_err(sqlx::Error::Encode)?;
    }
    let changed: Vec<(bool, Uuid)> = sqlx::query_as_with(sqlx::AssertSqlSafe(sql), args)
        .fetch_all(&mut **tx)
        .await?;
    let (came, gone): (Vec<_>, Vec<_>) = changed.into_iter().partition(|(entered, _)| *entered);
    for (event, people) in [("segment.entered", &came), ("segment.left", &gone)] {
        for chunk in people.chunks(EVENT_IDS) {
            let ids: Vec<Uuid> = chunk.iter().map(|(_, p)| *p).collect();
            tx.log_event(
                "segment",
                id,
                event,
                &json!({"segment_id": id, "count": people.len(), "person_ids": ids}),
            )
            .await?;
        }
    }
    Ok((came.len() as u64, gone.len() as u64))
}

/// Members of segment `id`, newest first, a page at a time (`before`: the last
/// `added_at`/person of the previous page).
pub async fn members(
    tx: &mut TenantTx,
    id: Uuid,
    limit: i64,
    before: Option<(DateTime<Utc>, Uuid)>,
) -> DomainResult<Vec<MemberView>> {
    get(tx, id).await?;
    Ok(sqlx::query_as(
        "SELECT m.person_id, p.full_name, p.primary_email, m.added_at
           FROM segment_members m JOIN people p ON p.user_id = m.user_id AND p.id = m.person_id
          WHERE m.user_id = $1 AND m.segment_id = $2
            AND ($4::timestamptz IS NULL OR (m.added_at, m.person_id) < ($4, $5))
          ORDER BY m.added_at DESC, m.person_id DESC LIMIT $3",
    )
    .bind(tx.user_id())
    .bind(id)
    .bind(limit.clamp(1, 500))
    .bind(before.map(|b| b.0))
    .bind(before.map(|b| b.1))
    .fetch_all(&mut **tx)
    .await?)
}

/// Changes to a segment; what is absent stays.
// `SegmentChanges` in the document: `SegmentPatch` is the generic resource's name.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = SegmentChanges)]
#[serde(deny_unknown_fields)]
pub struct SegmentPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    #[schema(schema_with = definition_schema)]
    pub definition: Option<Value>,
}

/// Applies `patch` to segment `id` (checked as a whole, members refreshed).
pub async fn patch(tx: &mut TenantTx, id: Uuid, patch: &SegmentPatch) -> DomainResult<SegmentView> {
    let old = get(tx, id).await?;
    let input = SegmentInput {
        name: patch.name.clone().unwrap_or(old.name),
        description: patch.description.clone().or(old.description),
        definition: patch
            .definition
            .clone()
            .or(old.definition)
            .unwrap_or(Value::Null),
    };
    update(tx, id, &input).await
}

/// Deletes segment `id` with its members and insights, unless another segment's
/// definition names it (409 naming them: change those first).
pub async fn delete(tx: &mut TenantTx, id: Uuid) -> DomainResult<()> {
    let old = get(tx, id).await?;
    let users: Vec<Uuid> = definitions(tx)
        .await?
        .into_iter()
        .filter(|(other, d)| *other != id && d.segment_refs().contains(&id))
        .map(|(other, _)| other)
        .collect();
    if !users.is_empty() {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM segments WHERE user_id = $1 AND id = ANY($2) ORDER BY name",
        )
        .bind(tx.user_id())
        .bind(&users)
        .fetch_all(&mut **tx)
        .await?;
        return Err(DomainError::conflict(format!(
            "{} use this segment in their definition: remove it from them first",
            names.join(", ")
        )));
    }
    sqlx::query("DELETE FROM segments WHERE user_id = $1 AND id = $2")
        .bind(tx.user_id())
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let before = json!({"id": id, "name": old.name, "definition": old.definition});
    tx.audit("segments", Operation::Delete, Some(&before), None)
        .await?;
    Ok(())
}
