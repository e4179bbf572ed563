//! Merge suggestions: pairs of people who are probably one human, each with a score
//! and the evidence for it. Evidence comes from facts per person, matched across
//! people:
//! - an e-mail address: an e-mail identity, `primary_email`, or an address written in
//!   an identity's `extra`, an Instagram bio or a mail contact's `email`;
//! - a LinkedIn profile: a LinkedIn identity, or a `linkedin.com/in/…` URL in an
//!   identity's `extra`, an Instagram bio or a mail contact's `social_profiles`;
//! - the normalised full name together with the normalised company.
//!
//! A value shared by more than [`MAX_SHARING`] people (an agency's inbox in every
//! bio) is not evidence for any pair of them.
//!
//! Pairs where both people carry a verified identity on the same channel are never
//! suggested: two verified accounts on one network are two humans until a person says
//! otherwise (they can still merge by hand with `force`).

use std::collections::BTreeMap;

use serde::Serialize;
use uuid::Uuid;

use crate::db::tenant::TenantTx;

/// What made two people look alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    SameEmail,
    SameLinkedin,
    SameNameAndCompany,
}

impl EvidenceKind {
    fn parse(text: &str) -> Option<EvidenceKind> {
        match text {
            "email" => Some(EvidenceKind::SameEmail),
            "linkedin" => Some(EvidenceKind::SameLinkedin),
            "name_company" => Some(EvidenceKind::SameNameAndCompany),
            _ => None,
        }
    }

    /// How strongly one piece of this evidence alone says "same human".
    pub fn weight(self) -> f64 {
        match self {
            EvidenceKind::SameEmail => 0.9,
            EvidenceKind::SameLinkedin => 0.9,
            EvidenceKind::SameNameAndCompany => 0.6,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Evidence {
    pub kind: EvidenceKind,
    /// The matching value (the address, the profile URL, "name | company").
    pub value: String,
    /// Where each side has it, e.g. "identity", "instagram bio".
    pub sources: [String; 2],
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Suggestion {
    pub person_a: Uuid,
    pub person_b: Uuid,
    /// From 0 to 1.
    pub score: f64,
    pub evidence: Vec<Evidence>,
}

/// Combines independent pieces of evidence: `1 - Π(1 - weight)`, counting each kind
/// once (the same address found twice is one piece), rounded to three decimals.
pub fn score(evidence: &[Evidence]) -> f64 {
    let mut kinds: Vec<EvidenceKind> = evidence.iter().map(|e| e.kind).collect();
    kinds.sort();
    kinds.dedup();
    let miss: f64 = kinds.iter().map(|k| 1.0 - k.weight()).product();
    ((1.0 - miss) * 1000.0).round() / 1000.0
}

/// A value shared by more people than this is not evidence (bounds the pairs too).
pub const MAX_SHARING: i64 = 5;

const EMAIL_RE: &str = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}";
const LINKEDIN_RE: &str = r"linkedin\.com/in/([A-Za-z0-9_%-]+)";

/// The facts of every person of the tenant, as `(person, kind, value, source)`.
fn facts_sql() -> String {
    format!(
        "facts AS (
            SELECT person_id AS p, 'email' AS kind, handle AS v, 'email identity' AS src
              FROM identities WHERE user_id = $1 AND channel = 'email' AND person_id IS NOT NULL
            UNION SELECT id, 'email', lower(trim(primary_email)), 'primary_email'
              FROM people WHERE user_id = $1 AND coalesce(trim(primary_email), '') <> ''
            UNION SELECT i.person_id, 'email', lower(m[1]), i.channel || ' identity extra'
              FROM identities i, regexp_matches(i.extra::text, '({EMAIL_RE})', 'g') AS m
             WHERE i.user_id = $1 AND i.person_id IS NOT NULL AND i.extra IS NOT NULL
            UNION SELECT c.person_id, 'email', lower(m[1]), 'instagram bio'
              FROM instagram_contacts c, regexp_matches(c.bio, '({EMAIL_RE})', 'g') AS m
             WHERE c.user_id = $1 AND c.person_id IS NOT NULL
            UNION SELECT person_id, 'email', lower(trim(email)), 'mail contact'
              FROM contacts WHERE user_id = $1 AND person_id IS NOT NULL AND coalesce(trim(email), '') <> ''
            UNION SELECT person_id, 'linkedin', handle, 'linkedin identity'
              FROM identities WHERE user_id = $1 AND channel = 'linkedin' AND person_id IS NOT NULL
            UNION SELECT i.person_id, 'linkedin', 'https://www.linkedin.com/in/' || lower(m[1]), i.channel || ' identity extra'
              FROM identities i, regexp_matches(i.extra::text, '{LINKEDIN_RE}', 'gi') AS m
             WHERE i.user_id = $1 AND i.person_id IS NOT NULL AND i.extra IS NOT NULL
            UNION SELECT c.person_id, 'linkedin', 'https://www.linkedin.com/in/' || lower(m[1]), 'instagram bio'
              FROM instagram_contacts c, regexp_matches(c.bio, '{LINKEDIN_RE}', 'gi') AS m
             WHERE c.user_id = $1 AND c.person_id IS NOT NULL
            UNION SELECT c.person_id, 'linkedin', 'https://www.linkedin.com/in/' || lower(m[1]), 'mail contact social_profiles'
              FROM contacts c, regexp_matches(c.social_profiles::text, '{LINKEDIN_RE}', 'gi') AS m
             WHERE c.user_id = $1 AND c.person_id IS NOT NULL
            UNION SELECT id, 'name_company',
                         lower(regexp_replace(trim(full_name), '\\s+', ' ', 'g')) || ' | ' ||
                         lower(regexp_replace(trim(company), '\\s+', ' ', 'g')),
                         'name and company'
              FROM people WHERE user_id = $1 AND coalesce(trim(full_name), '') <> '' AND coalesce(trim(company), '') <> ''
        )"
    )
}

/// The best `limit` suggestions, highest score first (ties: the pair's ids).
pub async fn suggestions(
    tx: &mut TenantTx,
    min_score: f64,
    limit: usize,
) -> Result<Vec<Suggestion>, sqlx::Error> {
    let user_id = tx.user_id();
    let rows: Vec<(Uuid, Uuid, String, String, String, String)> = sqlx::query_as(
        sqlx::AssertSqlSafe(format!(
            "WITH {facts},
             -- a value many people share (an agency inbox, a company page) says
             -- nothing about any pair of them, and would pair them all
             telling AS (SELECT kind, v FROM facts GROUP BY kind, v
                          HAVING count(DISTINCT p) BETWEEN 2 AND {MAX_SHARING})
             SELECT a.p, b.p, a.kind, a.v, a.src, b.src
               FROM telling t
               JOIN facts a ON a.kind = t.kind AND a.v = t.v
               JOIN facts b ON b.kind = t.kind AND b.v = t.v AND a.p < b.p
              WHERE NOT EXISTS (
                    SELECT 1 FROM identities x JOIN identities y
                        ON y.user_id = x.user_id AND y.channel = x.channel AND y.person_id = b.p AND y.is_verified
                     WHERE x.user_id = $1 AND x.person_id = a.p AND x.is_verified)",
            facts = facts_sql()
        )),
    )
    .bind(user_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut pairs: BTreeMap<(Uuid, Uuid), Vec<Evidence>> = BTreeMap::new();
    for (a, b, kind, value, src_a, src_b) in rows {
        let Some(kind) = EvidenceKind::parse(&kind) else {
            continue;
        };
        let evidence = pairs.entry((a, b)).or_default();
        let piece = Evidence {
            kind,
            value,
            sources: [src_a, src_b],
        };
        if !evidence.contains(&piece) {
            evidence.push(piece);
        }
    }
    let mut out: Vec<Suggestion> = pairs
        .into_iter()
        .map(|((a, b), mut evidence)| {
            evidence.sort_by(|x, y| (x.kind, &x.value).cmp(&(y.kind, &y.value)));
            Suggestion {
                person_a: a,
                person_b: b,
                score: score(&evidence),
                evidence,
            }
        })
        .filter(|s| s.score >= min_score)
        .collect();
    out.sort_by(|x, y| {
        y.score
            .total_cmp(&x.score)
            .then((x.person_a, x.person_b).cmp(&(y.person_a, y.person_b)))
    });
    out.truncate(limit);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(kind: EvidenceKind, value: &str) -> Evidence {
        Evidence {
            kind,
            value: value.into(),
            sources: ["a".into(), "b".into()],
        }
    }

    #[test]
    fn kinds_combine_and_repeats_count_once() {
        assert_eq!(score(&[]), 0.0);
        assert_eq!(score(&[piece(EvidenceKind::SameEmail, "a@x.io")]), 0.9);
        assert_eq!(
            score(&[
                piece(EvidenceKind::SameEmail, "a@x.io"),
                piece(EvidenceKind::SameEmail, "a@y.io")
            ]),
            0.9
        );
        assert_eq!(
            score(&[
                piece(EvidenceKind::SameEmail, "a@x.io"),
                piece(EvidenceKind::SameNameAndCompany, "ada | acme")
            ]),
            0.96
        );
        assert_eq!(
            score(&[piece(EvidenceKind::SameNameAndCompany, "ada | acme")]),
            0.6
        );
    }
}
