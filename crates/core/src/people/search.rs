//! Finding people: search by part of a name, handle or e-mail (prefix and substring
//! first, then fuzzy by trigram similarity), ignoring case and accents (`júlia` finds
//! Julia, `zoe` finds Zoë), and the directory of everyone ordered by warmth, last
//! activity or name. Both page with cursors.
//!
//! Names and primary e-mails are searched on the `people` row itself (a rename is
//! found at once); handles and every other e-mail through `person_match_keys`, which
//! the `people.match_keys` job rebuilds within seconds of a change. Both sides are
//! compared folded by `everreach_fold()` (lower-cased, `unaccent`ed), and trigram
//! indexes on the folded values serve both, read through the definer function
//! `everreach_people_search_hits` (`…150000_people_search_unaccent.sql` says why);
//! what matched is shown as stored.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::db::tenant::TenantTx;

/// A person as a list shows them.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct PersonRow {
    pub id: Uuid,
    pub full_name: Option<String>,
    pub primary_email: Option<String>,
    pub company: Option<String>,
    pub role: Option<String>,
    pub warmth_score: Option<f64>,
    pub activity_state: Option<String>,
    pub last_active_at: Option<DateTime<Utc>>,
    /// For a search: the value that matched (a name, a handle, an address), as stored.
    pub matched: Option<String>,
    /// The sort key of this row (a cursor is made of it and the id).
    #[serde(skip)]
    pub sort_key: String,
}

/// How the directory is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Warmest first; people without insights last.
    Warmth,
    /// Most recently active first; never active last.
    LastActive,
    /// A to Z by full name; people without a name last.
    Name,
}

impl Order {
    pub fn parse(text: &str) -> Option<Order> {
        match text {
            "warmth" => Some(Order::Warmth),
            "last_active" => Some(Order::LastActive),
            "name" => Some(Order::Name),
            _ => None,
        }
    }

    /// The sort key as text that orders the same way as the rows, and the direction.
    fn key_sql(self) -> (&'static str, &'static str) {
        match self {
            // compared as float8 (see `directory`): as text, numbers lose their order
            Order::Warmth => ("coalesce(i.warmth_score::float8, -1)", "DESC"),
            Order::LastActive => (
                "coalesce(extract(epoch FROM i.last_active_at)::float8, '-Infinity'::float8)",
                "DESC",
            ),
            Order::Name => (
                "(CASE WHEN p.full_name IS NULL THEN '1' ELSE '0' || lower(p.full_name) END)",
                "ASC",
            ),
        }
    }
}

/// What narrows a list or a search: people with an identity on this channel, in
/// this activity state (`person_insights.activity_state`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub channel: Option<String>,
    pub activity_state: Option<String>,
}

/// The filter's SQL over `p` (people) and `i` (insights), its parameters numbered
/// from `$n`.
fn filter_sql(n: usize) -> String {
    "($%C::text IS NULL OR EXISTS (SELECT 1 FROM identities x
                                    WHERE x.user_id = p.user_id AND x.person_id = p.id AND x.channel = $%C))
     AND ($%S::text IS NULL OR i.activity_state = $%S)"
        .replace("%C", &n.to_string())
        .replace("%S", &(n + 1).to_string())
}

const ROW: &str =
    "p.id, p.full_name, p.primary_email, p.company, p.role, i.warmth_score::float8 AS warmth_score,
                   i.activity_state, i.last_active_at";

/// One page of the directory, after `after` (`(sort key, id)` of the last row of the
/// previous page).
pub async fn directory(
    tx: &mut TenantTx,
    order: Order,
    filter: &Filter,
    after: Option<(String, Uuid)>,
    limit: i64,
) -> Result<Vec<PersonRow>, sqlx::Error> {
    let user_id = tx.user_id();
    let (key, dir) = order.key_sql();
    let (cmp, cast) = match order {
        Order::Name => (">", "text"),
        Order::Warmth | Order::LastActive => ("<", "float8"),
    };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ROW}, NULL::text AS matched, {key}::text AS sort_key
           FROM people p
           LEFT JOIN person_insights i ON i.user_id = p.user_id AND i.person_id = p.id
          WHERE p.user_id = $1
            AND ($2::text IS NULL OR {key} {cmp} $2::{cast} OR ({key} = $2::{cast} AND p.id > $3))
            AND {}
          ORDER BY {key} {dir}, p.id
          LIMIT $4",
        filter_sql(5)
    )))
    .bind(user_id)
    .bind(after.as_ref().map(|a| a.0.clone()))
    .bind(after.as_ref().map(|a| a.1))
    .bind(limit)
    .bind(&filter.channel)
    .bind(&filter.activity_state)
    .fetch_all(&mut **tx)
    .await
}

/// `text` with LIKE's wildcards escaped, lower-cased and trimmed.
pub fn like_literal(text: &str) -> String {
    text.trim()
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The search, over `$1` the tenant, `$2` the folded query (`everreach_fold`), `$3`
/// the same as a LIKE literal ([`like_literal`]), `$4`/`$5` the rank and id to page
/// after, `$6` the limit. The candidates come from `everreach_people_search_hits`
/// (the trigram indexes, which row-level security keeps from this role's own
/// queries), each value folded to rank it and as stored to show it; `$7`/`$8` the
/// [`Filter`].
pub static SEARCH_SQL: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| SEARCH_SQL_TEMPLATE.replace("%FILTER%", &filter_sql(7)));

const SEARCH_SQL_TEMPLATE: &str = "WITH ranked AS (
         SELECT pid, max(rank) AS rank, (array_agg(shown ORDER BY rank DESC, v, shown))[1] AS matched
           FROM (SELECT person_id AS pid, folded AS v, shown,
                        (CASE WHEN folded LIKE $3 || '%' THEN 2 WHEN folded LIKE '%' || $3 || '%' THEN 1 ELSE 0 END)
                        + similarity(folded, $2) AS rank
                   FROM everreach_people_search_hits($2, $3)) h
          GROUP BY pid
     )
     SELECT p.id, p.full_name, p.primary_email, p.company, p.role, i.warmth_score::float8 AS warmth_score,
            i.activity_state, i.last_active_at, r.matched, r.rank::float8::text AS sort_key
       FROM ranked r
       JOIN people p ON p.user_id = $1 AND p.id = r.pid
       LEFT JOIN person_insights i ON i.user_id = p.user_id AND i.person_id = p.id
      WHERE ($4::float8 IS NULL OR r.rank::float8 < $4 OR (r.rank::float8 = $4 AND p.id > $5))
        AND %FILTER%
      ORDER BY r.rank::float8 DESC, p.id
      LIMIT $6";

/// `text` as search compares it: trimmed, lower-cased, accents removed
/// (`everreach_fold`, the function the search indexes are built on).
pub async fn fold(tx: &mut TenantTx, text: &str) -> Result<String, sqlx::Error> {
    let folded: Option<String> = sqlx::query_scalar("SELECT everreach_fold($1)")
        .bind(text.trim())
        .fetch_one(&mut **tx)
        .await?;
    Ok(folded.unwrap_or_default())
}

/// People matching `query` best first: a value starting with it, then containing it,
/// then fuzzily alike, case and accents ignored; after `after` (`(rank, id)` of the
/// last row of the previous page).
pub async fn search(
    tx: &mut TenantTx,
    query: &str,
    filter: &Filter,
    after: Option<(String, Uuid)>,
    limit: i64,
) -> Result<Vec<PersonRow>, sqlx::Error> {
    let user_id = tx.user_id();
    let q = fold(tx, query).await?;
    let like = like_literal(&q);
    sqlx::query_as(sqlx::AssertSqlSafe(SEARCH_SQL.as_str()))
        .bind(user_id)
        .bind(&q)
        .bind(&like)
        .bind(after.as_ref().and_then(|a| a.0.parse::<f64>().ok()))
        .bind(after.as_ref().map(|a| a.1))
        .bind(limit)
        .bind(&filter.channel)
        .bind(&filter.activity_state)
        .fetch_all(&mut **tx)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_are_literal() {
        assert_eq!(like_literal(" Ana_50%\\ "), "ana\\_50\\%\\\\");
        assert_eq!(Order::parse("warmth"), Some(Order::Warmth));
        assert_eq!(Order::parse("nope"), None);
    }
}
