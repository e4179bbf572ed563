//! Compiles a [`Definition`] into one parameterised SQL query over `people p`:
//!
//! ```sql
//! SELECT p.id FROM people p WHERE p.user_id = $1 AND (…)
//! ```
//!
//! Every value is a bound parameter ([`Param`]); every table and column name comes
//! from a `match` arm here or in `super::fields`. Related rows are asked for with
//! `EXISTS (SELECT 1 FROM t WHERE t.user_id = p.user_id AND t.person_id = p.id AND …)`,
//! which PostgreSQL plans as a semi-join (anti-join under `NOT`) served by the
//! `person_id` indexes; windows are one `timestamptz` computed here from `now`.
//! Membership of another segment is compiled inline from its definition (so a
//! preview and the stored membership agree); a cycle is refused.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::dsl::{Definition, DefinitionError, MAX_DEPTH, Node};
use super::fields::Table;

/// Longest chain of segments naming segments.
pub const MAX_SEGMENT_NESTING: usize = 8;
/// Most nodes once referenced segments are inlined.
pub const MAX_EXPANDED_NODES: usize = 2_000;

/// Whom the query may return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every person of the tenant.
    All,
    /// Only these people (an incremental refresh after their rows changed).
    People(Vec<Uuid>),
}

/// A bound value, `$2` onwards (`$1` is always the tenant's user id).
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Uuid(Uuid),
    Text(String),
    TextArray(Vec<String>),
    Int(i64),
    Float(f64),
    Bool(bool),
    Time(DateTime<Utc>),
    UuidArray(Vec<Uuid>),
}

/// A compiled definition: SQL text with placeholders only, and the values.
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    /// `SELECT p.id FROM people p WHERE p.user_id = $1 AND …`
    pub sql: String,
    /// The values of `$2`, `$3`, … in order.
    pub params: Vec<Param>,
    /// What follows `WHERE`.
    condition: String,
}

impl Compiled {
    /// The same query counting its people.
    pub fn count_sql(&self) -> String {
        format!("SELECT count(*) FROM people p WHERE {}", self.condition)
    }

    /// The ids of the people who match, in no particular order.
    pub async fn fetch_ids(
        &self,
        conn: &mut sqlx::PgConnection,
        user_id: Uuid,
    ) -> Result<Vec<Uuid>, sqlx::Error> {
        sqlx::query_scalar_with(
            sqlx::AssertSqlSafe(self.sql.clone()),
            self.arguments(user_id)?,
        )
        .fetch_all(conn)
        .await
    }

    /// How many people match.
    pub async fn count(
        &self,
        conn: &mut sqlx::PgConnection,
        user_id: Uuid,
    ) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar_with(
            sqlx::AssertSqlSafe(self.count_sql()),
            self.arguments(user_id)?,
        )
        .fetch_one(conn)
        .await
    }

    /// The placeholder number after this query's own (`$1` and its params), for a
    /// statement that wraps the query and binds more.
    pub fn next_placeholder(&self) -> usize {
        self.params.len() + 2
    }

    /// `$1` (the tenant) and every param, bound in order.
    pub fn arguments(&self, user_id: Uuid) -> Result<sqlx::postgres::PgArguments, sqlx::Error> {
        use sqlx::Arguments;
        let mut args = sqlx::postgres::PgArguments::default();
        let add = |r: Result<(), sqlx::error::BoxDynError>| r.map_err(sqlx::Error::Encode);
        add(args.add(user_id))?;
        for p in &self.params {
            add(match p {
                Param::Uuid(v) => args.add(*v),
                Param::Text(v) => args.add(v.clone()),
                Param::TextArray(v) => args.add(v.clone()),
                Param::Int(v) => args.add(*v),
                Param::Float(v) => args.add(*v),
                Param::Bool(v) => args.add(*v),
                Param::Time(v) => args.add(*v),
                Param::UuidArray(v) => args.add(v.clone()),
            })?;
        }
        Ok(args)
    }
}

/// Compiles a definition that is not (yet) a stored segment.
pub fn compile(
    def: &Definition,
    segments: &dyn Fn(Uuid) -> Option<Definition>,
    scope: Scope,
    now: DateTime<Utc>,
) -> Result<Compiled, DefinitionError> {
    compile_segment(None, def, segments, scope, now)
}

/// Compiles the definition of segment `id` (when saving or refreshing it), so a
/// definition that reaches `id` again through other segments is refused as a cycle.
/// `segments` returns a stored segment's definition; the one being saved is `def`.
pub fn compile_segment(
    id: Option<Uuid>,
    def: &Definition,
    segments: &dyn Fn(Uuid) -> Option<Definition>,
    scope: Scope,
    now: DateTime<Utc>,
) -> Result<Compiled, DefinitionError> {
    let mut c = Compiler {
        params: Vec::new(),
        segments,
        now,
        chain: id.into_iter().collect(),
        expanded: 0,
        scope: None,
    };
    let mut condition = "p.user_id = $1".to_string();
    if let Scope::People(ids) = scope {
        let at = c.bind(Param::UuidArray(ids));
        condition.push_str(&format!(" AND p.id = ANY({at})"));
        c.scope = Some(at);
    }
    let body = c.node(&def.root, "", 1)?;
    condition.push_str(" AND ");
    condition.push_str(&body);
    Ok(Compiled {
        sql: format!("SELECT p.id FROM people p WHERE {condition}"),
        params: c.params,
        condition,
    })
}

struct Compiler<'a> {
    params: Vec<Param>,
    segments: &'a dyn Fn(Uuid) -> Option<Definition>,
    now: DateTime<Utc>,
    /// The segments being inlined, outermost first.
    chain: Vec<Uuid>,
    expanded: usize,
    /// The placeholder of the people of `Scope::People`.
    scope: Option<String>,
}

/// The correlation of a related table's alias with the person.
fn keyed(alias: &str) -> String {
    format!("{alias}.user_id = p.user_id AND {alias}.person_id = p.id")
}

fn exists(from: &str, conds: &[String]) -> String {
    format!(
        "EXISTS (SELECT 1 FROM {from} WHERE {})",
        conds.join(" AND ")
    )
}

/// `%` and `_` match literally in a LIKE pattern (backslash is the escape).
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.to_lowercase().chars() {
        if matches!(ch, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

impl Compiler<'_> {
    /// Adds a value and returns its placeholder.
    fn bind(&mut self, p: Param) -> String {
        self.params.push(p);
        format!("${}", self.params.len() + 1)
    }

    fn time(&mut self, t: DateTime<Utc>) -> String {
        self.bind(Param::Time(t))
    }

    fn node(&mut self, node: &Node, ptr: &str, depth: usize) -> Result<String, DefinitionError> {
        self.expanded += 1;
        if self.expanded > MAX_EXPANDED_NODES {
            return Err(DefinitionError::new(
                ptr,
                format!(
                    "with the segments it names inlined, the definition has more than {MAX_EXPANDED_NODES} nodes; simplify the segments it uses"
                ),
            ));
        }
        if depth > MAX_DEPTH * (MAX_SEGMENT_NESTING + 1) {
            return Err(DefinitionError::new(ptr, "the definition nests too deeply"));
        }
        match node {
            Node::All(items) => self.all(items, ptr, depth),
            Node::Any(items) => {
                let mut parts = Vec::with_capacity(items.len());
                for (i, n) in items.iter().enumerate() {
                    parts.push(self.node(n, &format!("{ptr}/any/{i}"), depth + 1)?);
                }
                Ok(wrap(parts, " OR "))
            }
            Node::Not(inner) => Ok(format!(
                "NOT {}",
                self.node(inner, &format!("{ptr}/not"), depth + 1)?
            )),
            Node::Field(f) => Ok(self.field(f)),
            Node::Identity(i) => Ok(self.identity(i)),
            Node::Event(e) => Ok(self.event(e)),
            Node::Outbound(o) => Ok(self.outbound(o)),
            Node::Segment(id) => self.segment(*id, &format!("{ptr}/segment"), depth),
        }
    }

    /// Positive tests of `person_insights` (one row per person) are asked in one
    /// `EXISTS`, as a person writing the SQL would join the row once.
    fn all(&mut self, items: &[Node], ptr: &str, depth: usize) -> Result<String, DefinitionError> {
        let mut parts = Vec::with_capacity(items.len());
        let mut insight: Option<(usize, Vec<String>)> = None;
        for (i, n) in items.iter().enumerate() {
            if let Node::Field(f) = n
                && f.field.column().0 == Table::Insight
                && let Some(cond) = self.insight_positive(f)
            {
                self.expanded += 1;
                match &mut insight {
                    Some((_, conds)) => conds.push(cond),
                    None => {
                        insight = Some((parts.len(), vec![cond]));
                        parts.push(String::new());
                    }
                }
                continue;
            }
            parts.push(self.node(n, &format!("{ptr}/all/{i}"), depth + 1)?);
        }
        if let Some((at, mut conds)) = insight {
            conds.insert(0, keyed("i"));
            parts[at] = exists("person_insights i", &conds);
        }
        Ok(wrap(parts, " AND "))
    }

    fn segment(&mut self, id: Uuid, ptr: &str, depth: usize) -> Result<String, DefinitionError> {
        if self.chain.contains(&id) {
            let names: Vec<String> = self
                .chain
                .iter()
                .chain([&id])
                .map(Uuid::to_string)
                .collect();
            return Err(DefinitionError::new(
                ptr,
                format!(
                    "segments may not name themselves, directly or through others: {}",
                    names.join(" → ")
                ),
            ));
        }
        if self.chain.len() >= MAX_SEGMENT_NESTING {
            return Err(DefinitionError::new(
                ptr,
                format!("segments name segments more than {MAX_SEGMENT_NESTING} deep"),
            ));
        }
        let Some(def) = (self.segments)(id) else {
            return Err(DefinitionError::new(
                ptr,
                format!("there is no segment {id}"),
            ));
        };
        self.chain.push(id);
        // Errors inside the named segment point at the node that names it.
        let sql = self
            .node(&def.root, ptr, depth + 1)
            .map_err(|e| DefinitionError::new(ptr, e.message))?;
        self.chain.pop();
        Ok(format!("({sql})"))
    }
}

/// `(a AND b)`; a single part stands alone.
fn wrap(mut parts: Vec<String>, sep: &str) -> String {
    if parts.len() == 1 {
        return parts.remove(0);
    }
    format!("({})", parts.join(sep))
}

mod predicates;
