//! The incremental index behind merge suggestions and search: `person_match_keys`
//! (per person, the normalised facts they can be matched on) and
//! `person_merge_candidates` (per pair of people sharing one, its score and
//! evidence). [`refresh`] rebuilds both for a set of people; it runs as the
//! `people.match_keys` job, which the insight job queues for the people a write
//! touched, and for everyone after the nightly recompute — so ingestion pays nothing
//! for it, and reading suggestions is one indexed query.
//!
//! Keys (kind, value, where the person has it):
//! - `email`: an e-mail identity, `primary_email`, an address written in an
//!   identity's `extra`, an Instagram bio or a mail contact's `email`;
//! - `linkedin`: a LinkedIn identity, or a `linkedin.com/in/…` URL in an identity's
//!   `extra`, an Instagram bio or a mail contact's `social_profiles`;
//! - `name_company`: normalised full name and company together;
//! - `handle_stem`: a handle (an e-mail's local part, a LinkedIn slug) lower-cased
//!   with everything but letters and digits removed — `@ana.smith`, `@anasmith` and
//!   `ana_smith@…` share `anasmith`; stems under 5 characters are too common to mean
//!   anything and are left out;
//! - `name`: the normalised full name, matched by trigram similarity (at least
//!   [`NAME_SIMILARITY`], each person's [`MAX_SIMILAR_NAMES`] closest);
//! - `handle`: every handle as stored, for search only.
//!
//! A value shared by more than [`super::suggest::MAX_SHARING`] people is evidence for
//! none of them. Scores are [`super::suggest::score`].

use std::collections::BTreeMap;

use serde_json::Value;
use uuid::Uuid;

use super::suggest::{Evidence, EvidenceKind, MAX_SHARING, score};
use crate::db::tenant::TenantTx;
use crate::jobs::{self, JobError, SendOptions};

/// The queue of refreshes (created by migration).
pub const QUEUE: &str = "people.match_keys";

/// Most people one refresh job lists.
pub const MAX_PEOPLE_PER_JOB: usize = 10_000;

/// Shortest handle stem that counts as evidence.
pub const MIN_STEM: usize = 5;

/// Names at least this similar (pg_trgm `similarity`, 0–1) are evidence.
pub const NAME_SIMILARITY: f64 = 0.6;

/// Each person's most similar names that count (a common name, or many names sharing
/// a long part, would otherwise pair everyone with everyone).
pub const MAX_SIMILAR_NAMES: i64 = 5;

const EMAIL_RE: &str = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}";
const LINKEDIN_RE: &str = r"linkedin\.com/in/([A-Za-z0-9_%-]+)";

/// `handle` reduced to its stem (see the module doc), in SQL over `channel`, `handle`.
const STEM_SQL: &str = "regexp_replace(lower(CASE channel WHEN 'email' THEN split_part(handle, '@', 1)
                                                       WHEN 'linkedin' THEN regexp_replace(handle, '^.*/in/', '')
                                                       ELSE handle END), '[^a-z0-9]', '', 'g')";

/// The keys of the people in `$2` (tenant `$1`), as `(p, kind, v, src)`.
fn keys_sql() -> String {
    format!(
        "SELECT person_id AS p, 'email' AS kind, handle AS v, 'email identity' AS src
           FROM identities WHERE user_id = $1 AND person_id = ANY($2) AND channel = 'email'
         UNION SELECT id, 'email', lower(trim(primary_email)), 'primary_email'
           FROM people WHERE user_id = $1 AND id = ANY($2) AND coalesce(trim(primary_email), '') <> ''
         UNION SELECT i.person_id, 'email', lower(m[1]), i.channel || ' identity extra'
           FROM identities i, regexp_matches(i.extra::text, '({EMAIL_RE})', 'g') AS m
          WHERE i.user_id = $1 AND i.person_id = ANY($2) AND i.extra IS NOT NULL
         UNION SELECT c.person_id, 'email', lower(m[1]), 'instagram bio'
           FROM instagram_contacts c, regexp_matches(c.bio, '({EMAIL_RE})', 'g') AS m
          WHERE c.user_id = $1 AND c.person_id = ANY($2)
         UNION SELECT person_id, 'email', lower(trim(email)), 'mail contact'
           FROM contacts WHERE user_id = $1 AND person_id = ANY($2) AND coalesce(trim(email), '') <> ''
         UNION SELECT person_id, 'linkedin', handle, 'linkedin identity'
           FROM identities WHERE user_id = $1 AND person_id = ANY($2) AND channel = 'linkedin'
         UNION SELECT i.person_id, 'linkedin', 'https://www.linkedin.com/in/' || lower(m[1]), i.channel || ' identity extra'
           FROM identities i, regexp_matches(i.extra::text, '{LINKEDIN_RE}', 'gi') AS m
          WHERE i.user_id = $1 AND i.person_id = ANY($2) AND i.extra IS NOT NULL
         UNION SELECT c.person_id, 'linkedin', 'https://www.linkedin.com/in/' || lower(m[1]), 'instagram bio'
           FROM instagram_contacts c, regexp_matches(c.bio, '{LINKEDIN_RE}', 'gi') AS m
          WHERE c.user_id = $1 AND c.person_id = ANY($2)
         UNION SELECT c.person_id, 'linkedin', 'https://www.linkedin.com/in/' || lower(m[1]), 'mail contact social_profiles'
           FROM contacts c, regexp_matches(c.social_profiles::text, '{LINKEDIN_RE}', 'gi') AS m
          WHERE c.user_id = $1 AND c.person_id = ANY($2)
         UNION SELECT id, 'name_company',
                      lower(regexp_replace(trim(full_name), '\\s+', ' ', 'g')) || ' | ' ||
                      lower(regexp_replace(trim(company), '\\s+', ' ', 'g')),
                      'name and company'
           FROM people WHERE user_id = $1 AND id = ANY($2)
            AND coalesce(trim(full_name), '') <> '' AND coalesce(trim(company), '') <> ''
         UNION SELECT person_id, 'handle_stem', stem, channel || ' handle'
           FROM (SELECT person_id, channel, {STEM_SQL} AS stem
                   FROM identities WHERE user_id = $1 AND person_id = ANY($2)) s
          WHERE length(stem) >= {MIN_STEM}
         UNION SELECT id, 'name', lower(regexp_replace(trim(full_name), '\\s+', ' ', 'g')), 'name'
           FROM people WHERE user_id = $1 AND id = ANY($2) AND coalesce(trim(full_name), '') <> ''
         UNION SELECT person_id, 'handle', handle, channel || ' identity'
           FROM identities WHERE user_id = $1 AND person_id = ANY($2)"
    )
}

/// One pair's piece of evidence as read: `(p, q, kind, value, p's source, q's source)`.
type Shared = (Uuid, Uuid, String, String, String, String);

/// Fills the blank `primary_email` and `full_name` of `people` from their identities,
/// then rebuilds their match keys and every merge candidate pair naming one of them;
/// returns how many candidate pairs they are in now.
pub async fn refresh(tx: &mut TenantTx, people: &[Uuid]) -> Result<usize, sqlx::Error> {
    let user_id = tx.user_id();
    if people.is_empty() {
        return Ok(0);
    }
    // Blank fields a channel can fill: the primary e-mail from the first e-mail
    // identity, the name from the first identity that gave one.
    sqlx::query(
        "UPDATE people p
            SET primary_email = coalesce(p.primary_email,
                    (SELECT handle FROM identities i WHERE i.user_id = $1 AND i.person_id = p.id AND i.channel = 'email'
                      ORDER BY i.first_seen_at NULLS LAST, i.id LIMIT 1)),
                full_name = coalesce(p.full_name,
                    (SELECT i.extra->>'name' FROM identities i WHERE i.user_id = $1 AND i.person_id = p.id
                        AND coalesce(i.extra->>'name', '') <> '' ORDER BY i.first_seen_at NULLS LAST, i.id LIMIT 1))
          WHERE p.user_id = $1 AND p.id = ANY($2) AND (p.primary_email IS NULL OR p.full_name IS NULL)
            AND EXISTS (SELECT 1 FROM identities i WHERE i.user_id = $1 AND i.person_id = p.id
                           AND (i.channel = 'email' OR coalesce(i.extra->>'name', '') <> ''))",
    )
    .bind(user_id)
    .bind(people)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM person_match_keys WHERE user_id = $1 AND person_id = ANY($2)")
        .bind(user_id)
        .bind(people)
        .execute(&mut **tx)
        .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO person_match_keys (user_id, person_id, kind, value, source)
         SELECT $1, p, kind, left(v, 512), src FROM ({}) k
          WHERE v IS NOT NULL AND v <> ''
            AND EXISTS (SELECT 1 FROM people WHERE user_id = $1 AND id = k.p)
         ON CONFLICT DO NOTHING",
        keys_sql()
    )))
    .bind(user_id)
    .bind(people)
    .execute(&mut **tx)
    .await?;

    sqlx::query("SELECT set_config('pg_trgm.similarity_threshold', $1, true)")
        .bind(NAME_SIMILARITY.to_string())
        .execute(&mut **tx)
        .await?;
    let shared: Vec<Shared> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH mine AS (SELECT person_id, kind, value, source FROM person_match_keys
                        WHERE user_id = $1 AND person_id = ANY($2) AND kind NOT IN ('handle', 'name'))
         SELECT m.person_id, o.person_id, m.kind, m.value, m.source, o.source
           FROM mine m
           JOIN person_match_keys o ON o.user_id = $1 AND o.kind = m.kind AND o.value = m.value
                                   AND o.person_id <> m.person_id
          WHERE (SELECT count(DISTINCT c.person_id) FROM person_match_keys c
                  WHERE c.user_id = $1 AND c.kind = m.kind AND c.value = m.value) <= {MAX_SHARING}
         UNION ALL
         SELECT p, q, 'similar_name', v, src_p, src_q FROM (
             SELECT m.person_id AS p, o.person_id AS q, m.value || ' ~ ' || o.value AS v,
                    m.source AS src_p, o.source AS src_q,
                    row_number() OVER (PARTITION BY m.person_id
                                       ORDER BY similarity(o.value, m.value) DESC, o.person_id) AS nearest
               FROM person_match_keys m
               JOIN person_match_keys o ON o.user_id = $1 AND o.kind = 'name' AND o.value % m.value
                                       AND o.person_id <> m.person_id
              WHERE m.user_id = $1 AND m.person_id = ANY($2) AND m.kind = 'name') named
          WHERE nearest <= {MAX_SIMILAR_NAMES}"
    )))
    .bind(user_id)
    .bind(people)
    .fetch_all(&mut **tx)
    .await?;

    let mut pairs: BTreeMap<(Uuid, Uuid), Vec<Evidence>> = BTreeMap::new();
    for (p, q, kind, value, src_p, src_q) in shared {
        let Some(kind) = EvidenceKind::parse(&kind) else {
            continue;
        };
        let (key, sources) = if p < q {
            ((p, q), [src_p, src_q])
        } else {
            ((q, p), [src_q, src_p])
        };
        let evidence = pairs.entry(key).or_default();
        let piece = Evidence {
            kind,
            value,
            sources,
        };
        // the same fact seen from both sides, or an a ~ b name seen as b ~ a
        if !evidence.iter().any(|e| {
            e.kind == piece.kind && (e.kind == EvidenceKind::SimilarName || e.value == piece.value)
        }) {
            evidence.push(piece);
        }
    }
    sqlx::query(
        "DELETE FROM person_merge_candidates WHERE user_id = $1 AND (person_a = ANY($2) OR person_b = ANY($2))",
    )
    .bind(user_id)
    .bind(people)
    .execute(&mut **tx)
    .await?;
    let (mut a, mut b, mut scores, mut evidence) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for ((p, q), mut pieces) in pairs {
        pieces.sort_by(|x, y| (x.kind, &x.value).cmp(&(y.kind, &y.value)));
        let s = score(&pieces);
        if s <= 0.0 {
            continue;
        }
        a.push(p);
        b.push(q);
        scores.push(s);
        evidence.push(serde_json::to_value(&pieces).map_err(|e| sqlx::Error::Encode(Box::new(e)))?);
    }
    sqlx::query(
        "INSERT INTO person_merge_candidates (user_id, person_a, person_b, score, evidence)
         SELECT $1, a, b, s, e FROM unnest($2::uuid[], $3::uuid[], $4::float8[], $5::jsonb[]) AS u(a, b, s, e)
         ON CONFLICT (user_id, person_a, person_b) DO UPDATE SET score = EXCLUDED.score,
             evidence = EXCLUDED.evidence, computed_at = now()",
    )
    .bind(user_id)
    .bind(&a)
    .bind(&b)
    .bind(&scores)
    .bind(&evidence)
    .execute(&mut **tx)
    .await?;
    Ok(a.len())
}

/// Every person of the transaction's tenant, refreshed (tests, and a first build).
pub async fn refresh_everyone(tx: &mut TenantTx) -> Result<usize, sqlx::Error> {
    let user_id = tx.user_id();
    let people: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM people WHERE user_id = $1")
        .bind(user_id)
        .fetch_all(&mut **tx)
        .await?;
    let mut pairs = 0;
    for chunk in people.chunks(MAX_PEOPLE_PER_JOB) {
        pairs += refresh(tx, chunk).await?;
    }
    Ok(pairs)
}

/// Queues a refresh of `people` in the caller's transaction.
pub async fn enqueue(tx: &mut TenantTx, people: &[Uuid]) -> Result<(), sqlx::Error> {
    let opts = SendOptions {
        user_id: Some(tx.user_id()),
        ..SendOptions::default()
    };
    for chunk in people.chunks(MAX_PEOPLE_PER_JOB) {
        let data: Value = serde_json::json!({ "person_ids": chunk });
        jobs::send(tx, QUEUE, &data, &opts)
            .await
            .map_err(|e| match e {
                JobError::Db(e) => e,
                other => sqlx::Error::Protocol(other.to_string()),
            })?;
    }
    Ok(())
}
