//! What each resource is, read from PostgreSQL's catalog: columns with their types,
//! defaults and generated-ness, the key, and which column each constraint guards.

use std::collections::HashMap;

use sqlx::{PgPool, Row};

/// `(API path segment, schema, table)` of every table exposed as a resource: the seed
/// tables a user owns. Credentials (sessions, API tokens, verification links) and the
/// Message-ID dedupe table have endpoints of their own or none; so has the event store
/// (`public.events`, append-only through `log_event()`, read at `/api/v1/events`).
pub const RESOURCES: &[(&str, &str, &str)] = &[
    // people graph (000)
    ("people", "public", "people"),
    ("identities", "public", "identities"),
    ("person-events", "public", "person_events"),
    ("person-insights", "public", "person_insights"),
    ("segments", "public", "segments"),
    ("segment-members", "public", "segment_members"),
    ("segment-insights", "public", "segment_insights"),
    ("outbound-messages", "public", "outbound_messages"),
    // saved views of list pages (issue 12)
    ("saved-views", "public", "saved_views"),
    // the allowlist of tracked destinations (issue 11)
    ("tracking-domains", "public", "tracking_domains"),
    // content graph (000)
    ("content-items", "public", "content_items"),
    ("content-variants", "public", "content_variants"),
    ("content-metrics", "public", "content_metrics"),
    ("content-rollups", "public", "content_rollups"),
    ("content-experiments", "public", "content_experiments"),
    // connectors (000)
    ("ig-connections", "public", "ig_connections"),
    ("connector-configs", "public", "connector_configs"),
    // instagram crm (001)
    ("instagram-contacts", "public", "instagram_contacts"),
    (
        "instagram-conversations",
        "public",
        "instagram_conversations",
    ),
    ("instagram-messages", "public", "instagram_messages"),
    ("automation-patterns", "public", "automation_patterns"),
    ("next-best-actions", "public", "next_best_actions"),
    ("fit-signals", "public", "fit_signals"),
    ("outreach-queue", "public", "outreach_queue"),
    // mail and AI (002)
    ("accounts", "public", "accounts"),
    ("contacts", "public", "contacts"),
    ("organizations", "public", "organizations"),
    ("emails", "public", "emails"),
    ("email-interactions", "public", "email_interactions"),
    ("ai-conversations", "public", "ai_conversations"),
    ("ai-messages", "public", "ai_messages"),
    ("ai-agents", "public", "ai_agents"),
    ("agent-executions", "public", "agent_executions"),
    ("contact-stats", "public", "contact_stats"),
    ("user-analytics", "public", "user_analytics"),
    ("enrichments", "public", "enrichments"),
    // studio (003)
    ("content", "public", "content"),
    ("user-profiles", "public", "user_profiles"),
    ("content-performance", "public", "content_performance"),
    ("campaigns", "public", "campaigns"),
    ("analytics-events", "analytics", "events"),
    ("performance-metrics", "analytics", "performance_metrics"),
    ("content-embeddings", "ml_data", "content_embeddings"),
    (
        "user-preference-embeddings",
        "ml_data",
        "user_preference_embeddings",
    ),
    // publishing (004)
    ("platform-connections", "public", "platform_connections"),
    ("content-adaptations", "public", "content_adaptations"),
    ("voice-profiles", "public", "voice_profiles"),
    ("published-posts", "public", "published_posts"),
    ("scheduled-posts", "public", "scheduled_posts"),
];

/// A column's type as far as validation cares.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnType {
    Uuid,
    /// `text` (None) or `varchar(n)`.
    Text(Option<usize>),
    Int {
        min: i64,
        max: i64,
    },
    /// numeric/decimal/real/double: any JSON number (the database checks precision).
    Number,
    Bool,
    Json,
    Timestamp,
    Date,
    TextArray,
    Enum(Vec<String>),
    Vector(usize),
    /// interval, ranges, inet, tsvector…: a string the database parses.
    Other(String),
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub pg_type: String,
    pub ty: ColumnType,
    pub not_null: bool,
    pub has_default: bool,
    /// Computed by the database (generated column or identity): never written.
    pub generated: bool,
}

#[derive(Debug, Clone)]
pub struct Resource {
    /// Path segment under /api/v1.
    pub path: &'static str,
    /// `schema.table`, quoted for SQL.
    pub qualified: String,
    pub table: &'static str,
    pub columns: Vec<Column>,
    /// The columns that find one row of a user (primary key minus `user_id`, and minus
    /// the partition key where the rest is unique on its own).
    pub key: Vec<String>,
    /// Constraint name → the column it is about, for naming the field of a refusal.
    pub constraint_columns: HashMap<String, String>,
}

/// Columns never shown nor written through the generic API.
const HIDDEN: &[&str] = &["search_vector"];
/// Columns the server keeps: readable, never written by a client.
const SERVER_KEPT: &[&str] = &[
    "user_id",
    "created_at",
    "updated_at",
    "everreach_user_id",
    "computed_snapshot",
];

impl Resource {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Columns shown in responses (secrets and search vectors never are).
    pub fn visible(&self) -> impl Iterator<Item = &Column> {
        self.columns
            .iter()
            .filter(|c| !HIDDEN.contains(&c.name.as_str()) && !self.is_secret(&c.name))
    }

    pub fn is_secret(&self, column: &str) -> bool {
        crate::secrets::columns::SECRET_COLUMNS
            .iter()
            .any(|s| s.table == self.table && s.column == column)
    }

    /// Whether a client may set `column` when creating a row.
    pub fn writable_on_create(&self, column: &Column) -> bool {
        let server_made = column.generated
            || HIDDEN.contains(&column.name.as_str())
            || SERVER_KEPT.contains(&column.name.as_str())
            || (self.key.contains(&column.name) && column.has_default);
        !server_made
    }

    /// Whether a client may change `column` of an existing row (never its key).
    pub fn writable_on_patch(&self, column: &Column) -> bool {
        self.writable_on_create(column) && !self.key.contains(&column.name)
    }

    /// The field a refused constraint is about, as a JSON pointer.
    pub fn field_of_constraint(&self, constraint: &str) -> Option<String> {
        self.constraint_columns
            .get(constraint)
            .map(|c| format!("/{c}"))
    }
}

/// Every resource, loaded once at start.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub resources: Vec<Resource>,
}

impl Catalog {
    pub fn get(&self, path: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.path == path)
    }

    pub async fn load(pool: &PgPool) -> Result<Catalog, sqlx::Error> {
        let mut resources = Vec::with_capacity(RESOURCES.len());
        for (path, schema, table) in RESOURCES {
            resources.push(load_one(pool, path, schema, table).await?);
        }
        Ok(Catalog { resources })
    }
}

async fn load_one(
    pool: &PgPool,
    path: &'static str,
    schema: &str,
    table: &'static str,
) -> Result<Resource, sqlx::Error> {
    let qualified = format!("\"{schema}\".\"{table}\"");
    let rows = sqlx::query(
        "SELECT a.attname::text AS name, format_type(a.atttypid, a.atttypmod) AS pg_type,
                a.attnotnull AS not_null, a.atthasdef AS has_default,
                (a.attgenerated <> '' OR a.attidentity = 'a') AS generated,
                t.typtype::text AS typtype,
                array(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = a.atttypid ORDER BY e.enumsortorder) AS labels
         FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
         WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
         ORDER BY a.attnum",
    )
    .bind(&qualified)
    .fetch_all(pool)
    .await?;
    let columns: Vec<Column> = rows
        .iter()
        .map(|r| {
            let pg_type: String = r.get("pg_type");
            let typtype: String = r.get("typtype");
            let labels: Vec<String> = r.get("labels");
            Column {
                name: r.get("name"),
                ty: column_type(&pg_type, &typtype, labels),
                pg_type,
                not_null: r.get("not_null"),
                has_default: r.get("has_default"),
                generated: r.get("generated"),
            }
        })
        .collect();

    let pk: Vec<String> = sqlx::query_scalar(
        "SELECT a.attname::text FROM pg_constraint k
         CROSS JOIN LATERAL unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum
         WHERE k.conrelid = $1::regclass AND k.contype = 'p' ORDER BY u.ord",
    )
    .bind(&qualified)
    .fetch_all(pool)
    .await?;
    let partition_keys: Vec<String> = sqlx::query_scalar(
        "SELECT a.attname::text FROM pg_partitioned_table p
         CROSS JOIN LATERAL unnest(p.partattrs) AS u(attnum)
         JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = u.attnum
         WHERE p.partrelid = $1::regclass",
    )
    .bind(&qualified)
    .fetch_all(pool)
    .await?;
    let mut key: Vec<String> = pk.into_iter().filter(|c| c != "user_id").collect();
    if key.len() > 1 {
        key.retain(|c| !partition_keys.contains(c));
    }

    // The non-tenant column each constraint (and unique index) is about.
    let constraint_rows = sqlx::query(
        "SELECT k.conname::text AS name,
                array(SELECT a.attname::text FROM unnest(k.conkey) u(n)
                      JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n) AS cols
         FROM pg_constraint k WHERE k.conrelid = $1::regclass
         UNION ALL
         SELECT i.relname::text, array(SELECT a.attname::text FROM unnest(x.indkey) u(n)
                      JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = u.n)
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
         WHERE x.indrelid = $1::regclass AND x.indisunique",
    )
    .bind(&qualified)
    .fetch_all(pool)
    .await?;
    let mut constraint_columns = HashMap::new();
    for r in constraint_rows {
        let name: String = r.get("name");
        let cols: Vec<String> = r.get("cols");
        let col = cols
            .iter()
            .find(|c| *c != "user_id" && !partition_keys.contains(c))
            .or(cols.first());
        if let Some(col) = col {
            constraint_columns.insert(name, col.clone());
        }
    }
    Ok(Resource {
        path,
        qualified,
        table,
        columns,
        key,
        constraint_columns,
    })
}

/// Maps `format_type()` output to what validation checks.
pub fn column_type(pg_type: &str, typtype: &str, labels: Vec<String>) -> ColumnType {
    if typtype == "e" {
        return ColumnType::Enum(labels);
    }
    let t = pg_type;
    if let Some(n) = t
        .strip_prefix("character varying(")
        .and_then(|r| r.strip_suffix(')'))
    {
        return ColumnType::Text(n.parse().ok());
    }
    if let Some(n) = t.strip_prefix("vector(").and_then(|r| r.strip_suffix(')')) {
        return n
            .parse()
            .map_or_else(|_| ColumnType::Other(t.into()), ColumnType::Vector);
    }
    match t {
        "uuid" => ColumnType::Uuid,
        "text" | "character varying" => ColumnType::Text(None),
        "smallint" => ColumnType::Int {
            min: i16::MIN.into(),
            max: i16::MAX.into(),
        },
        "integer" => ColumnType::Int {
            min: i32::MIN.into(),
            max: i32::MAX.into(),
        },
        "bigint" => ColumnType::Int {
            min: i64::MIN,
            max: i64::MAX,
        },
        "boolean" => ColumnType::Bool,
        "jsonb" | "json" => ColumnType::Json,
        "timestamp with time zone" | "timestamp without time zone" => ColumnType::Timestamp,
        "date" => ColumnType::Date,
        "text[]" | "character varying[]" => ColumnType::TextArray,
        _ if t.starts_with("numeric") || t == "real" || t == "double precision" => {
            ColumnType::Number
        }
        _ if t.starts_with("timestamp(") => ColumnType::Timestamp,
        _ => ColumnType::Other(t.into()),
    }
}
