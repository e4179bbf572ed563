//! Merge suggestions: pairs of people who are probably one human, each with a score
//! and the evidence for it, read best first from `person_merge_candidates` (built
//! incrementally by [`super::match_keys`]: see there for every kind of key). Strong
//! evidence is an exact shared e-mail, LinkedIn profile, or name with company; weak
//! evidence — scored below every strong kind — is the same handle stem on two
//! networks, or similar names (trigram similarity).
//!
//! Pairs where both people carry a verified identity on the same channel are never
//! suggested: two verified accounts on one network are two humans until a person says
//! otherwise (they can still merge by hand with `force`). A pair a person answered
//! "not the same person" ([`dismiss`]) is never suggested again.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::db::tenant::TenantTx;
use crate::error::{DomainError, DomainResult};

/// What made two people look alike.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    SameEmail,
    SameLinkedin,
    SameNameAndCompany,
    /// The same handle stem on two identities (`@ana.smith`, `@anasmith`, `ana.smith@…`).
    SameHandleStem,
    /// Names at least `match_keys::NAME_SIMILARITY` alike by trigram similarity.
    SimilarName,
}

impl EvidenceKind {
    /// The kind of a match key (`person_match_keys.kind`), or of a name similarity.
    pub fn parse(text: &str) -> Option<EvidenceKind> {
        match text {
            "email" => Some(EvidenceKind::SameEmail),
            "linkedin" => Some(EvidenceKind::SameLinkedin),
            "name_company" => Some(EvidenceKind::SameNameAndCompany),
            "handle_stem" => Some(EvidenceKind::SameHandleStem),
            "similar_name" => Some(EvidenceKind::SimilarName),
            _ => None,
        }
    }

    /// How strongly one piece of this evidence alone says "same human". The weak
    /// kinds stay below the strong ones; a stem alone passes the default threshold
    /// (0.5), a similar name alone does not, both together do.
    pub fn weight(self) -> f64 {
        match self {
            EvidenceKind::SameEmail => 0.9,
            EvidenceKind::SameLinkedin => 0.9,
            EvidenceKind::SameNameAndCompany => 0.6,
            EvidenceKind::SameHandleStem => 0.55,
            EvidenceKind::SimilarName => 0.4,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Evidence {
    pub kind: EvidenceKind,
    /// The matching value (the address, the profile URL, "name | company", the stem,
    /// "name ~ other name").
    pub value: String,
    /// Where each side has it, e.g. "email identity", "instagram bio".
    pub sources: [String; 2],
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Suggestion {
    pub person_a: Uuid,
    pub person_b: Uuid,
    /// From 0 to 1.
    pub score: f64,
    pub evidence: Vec<Evidence>,
    /// When the evidence was last gathered.
    pub computed_at: DateTime<Utc>,
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

/// Where a page of suggestions starts: after this `(score, person_a, person_b)`.
pub type After = (f64, Uuid, Uuid);

/// The best suggestions scoring at least `min_score`, after `after`, at most `limit`:
/// highest score first, ties by the pair's ids.
pub async fn page(
    tx: &mut TenantTx,
    min_score: f64,
    after: Option<After>,
    limit: i64,
) -> Result<Vec<Suggestion>, sqlx::Error> {
    let user_id = tx.user_id();
    let rows: Vec<(Uuid, Uuid, f64, Value, DateTime<Utc>)> = sqlx::query_as(
        "SELECT c.person_a, c.person_b, c.score, c.evidence, c.computed_at
           FROM person_merge_candidates c
          WHERE c.user_id = $1 AND c.score >= $2
            AND ($3::float8 IS NULL OR c.score < $3 OR (c.score = $3 AND (c.person_a, c.person_b) > ($4, $5)))
            AND NOT EXISTS (SELECT 1 FROM person_merge_dismissals d
                             WHERE d.user_id = $1 AND d.person_a = c.person_a AND d.person_b = c.person_b)
            AND NOT EXISTS (SELECT 1 FROM identities x JOIN identities y
                                ON y.user_id = x.user_id AND y.channel = x.channel AND y.person_id = c.person_b
                               AND y.is_verified
                             WHERE x.user_id = $1 AND x.person_id = c.person_a AND x.is_verified)
          ORDER BY c.score DESC, c.person_a, c.person_b
          LIMIT $6",
    )
    .bind(user_id)
    .bind(min_score)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(after.map(|a| a.2))
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?;
    rows.into_iter()
        .map(|(a, b, score, evidence, computed_at)| {
            Ok(Suggestion {
                person_a: a,
                person_b: b,
                score,
                evidence: serde_json::from_value(evidence)
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                computed_at,
            })
        })
        .collect()
}

/// The pair in stored order (`person_a < person_b`).
fn ordered(one: Uuid, other: Uuid) -> (Uuid, Uuid) {
    if one < other {
        (one, other)
    } else {
        (other, one)
    }
}

/// Records "not the same person" for two people: the pair is never suggested again.
/// Saying it twice is harmless.
pub async fn dismiss(tx: &mut TenantTx, one: Uuid, other: Uuid) -> DomainResult<()> {
    if one == other {
        return Err(DomainError::invalid(
            "/other_id",
            "a person is always the same person as themselves",
        ));
    }
    let user_id = tx.user_id();
    let actor = tx.actor_id();
    let (a, b) = ordered(one, other);
    sqlx::query(
        "INSERT INTO person_merge_dismissals (user_id, person_a, person_b, actor_id)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(user_id)
    .bind(a)
    .bind(b)
    .bind(actor)
    .execute(&mut **tx)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => DomainError::NotFound,
        _ => DomainError::Db(e),
    })?;
    Ok(())
}

/// Takes a "not the same person" answer back; `NotFound` if there was none.
pub async fn undismiss(tx: &mut TenantTx, one: Uuid, other: Uuid) -> DomainResult<()> {
    let user_id = tx.user_id();
    let (a, b) = ordered(one, other);
    let n = sqlx::query(
        "DELETE FROM person_merge_dismissals WHERE user_id = $1 AND person_a = $2 AND person_b = $3",
    )
    .bind(user_id)
    .bind(a)
    .bind(b)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(DomainError::NotFound);
    }
    Ok(())
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

    #[test]
    fn weak_evidence_scores_below_every_strong_kind() {
        let stem = score(&[piece(EvidenceKind::SameHandleStem, "anasmith")]);
        let name = score(&[piece(EvidenceKind::SimilarName, "ana smith ~ ana smyth")]);
        assert!(stem < 0.6 && name < stem, "{stem} {name}");
        assert!(stem >= 0.5, "a stem alone passes the default threshold");
        assert!(name < 0.5, "a similar name alone does not");
        assert_eq!(
            score(&[
                piece(EvidenceKind::SameHandleStem, "anasmith"),
                piece(EvidenceKind::SimilarName, "ana smith ~ ana smyth")
            ]),
            0.73
        );
    }
}
