//! Scoring contacts against the database: [`rescore`] reads each contact's evidence
//! (their non-spam messages, card, `value_delivered_log`, `trust_signals`, the user's
//! active `fit_signals`), assesses it ([`super::revio`]) and stores the five
//! components, `relationship_score`, the stage (a pinned `stage_override` wins), the
//! fit-signal hits and the trust signals found in messages, recording each stage
//! change in `instagram_contact_stages`. It runs in the transaction of every write
//! that changes the evidence: DM ingestion and generic writes of a contact.
//! [`explain`] and [`next_best_action`] answer the contact's score and suggestion.
//!
//! Scores also move with time alone (reliability and value delivered look back a
//! fixed window) and with the user's fit signals: [`rescore_tenant`] rescores every
//! contact of a tenant, [`RESCORE_CHUNK`] to a transaction. The `crm.rescore` job
//! runs it; `crm.rescore.nightly` queues it for every tenant, and a write of a fit
//! signal queues it for its tenant ([`enqueue_rescore`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::fit::{self, FitHit, FitSignal};
use super::nba::{self, Fill, NextBestAction, Template};
use super::revio::{
    self, Assessment, Card, Evidence, Message, TRUST_KINDS, TrustSignal, ValueEntry,
};
use crate::db::tenant::{Actor, TenantTx};
use crate::error::{DomainError, DomainResult};
use crate::jobs::{self, JobError, SendOptions};

/// The queue of a tenant's full rescore (the job names its tenant).
pub const RESCORE_QUEUE: &str = "crm.rescore";

/// The nightly queue that sends [`RESCORE_QUEUE`] for every tenant.
pub const NIGHTLY_QUEUE: &str = "crm.rescore.nightly";

/// Contacts rescored in one transaction of [`rescore_tenant`].
pub const RESCORE_CHUNK: usize = 500;

/// Queues a rescore of every contact of the transaction's tenant, sent when it
/// commits.
pub async fn enqueue_rescore(tx: &mut TenantTx) -> Result<(), sqlx::Error> {
    let opts = SendOptions {
        user_id: Some(tx.user_id()),
        ..SendOptions::default()
    };
    jobs::send(tx, RESCORE_QUEUE, &json!({}), &opts)
        .await
        .map(|_| ())
        .map_err(|e| match e {
            JobError::Db(e) => e,
            other => sqlx::Error::Protocol(other.to_string()),
        })
}

/// Rescores every contact of tenant `user_id` as the worker, [`RESCORE_CHUNK`] to a
/// transaction in id order (a contact written meanwhile is rescored by that write);
/// returns how many contacts were rescored.
pub async fn rescore_tenant(pool: &sqlx::PgPool, user_id: Uuid) -> DomainResult<usize> {
    let mut after: Option<Uuid> = None;
    let mut done = 0;
    loop {
        let mut tx = TenantTx::begin_as(pool, user_id, Actor::Worker).await?;
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT id FROM instagram_contacts
              WHERE user_id = $1 AND ($2::uuid IS NULL OR id > $2)
              ORDER BY id LIMIT $3",
        )
        .bind(user_id)
        .bind(after)
        .bind(RESCORE_CHUNK as i64)
        .fetch_all(&mut *tx)
        .await?;
        let Some(last) = ids.last().copied() else {
            tx.commit().await?;
            return Ok(done);
        };
        rescore(&mut tx, &ids).await?;
        tx.commit().await?;
        done += ids.len();
        after = Some(last);
        if ids.len() < RESCORE_CHUNK {
            return Ok(done);
        }
    }
}

/// A contact's row as scoring reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
struct ContactRow {
    id: Uuid,
    instagram_username: String,
    display_name: Option<String>,
    relationship_stage: Option<String>,
    stage_override: Option<String>,
    what_theyre_building: Option<String>,
    current_friction: Option<String>,
    their_definition_of_win: Option<String>,
    constraints: Option<String>,
    preferred_contact_style: Option<String>,
    trust_signals: Option<Value>,
    value_delivered_log: Option<Value>,
}

impl ContactRow {
    fn card(&self) -> Card {
        Card {
            what_theyre_building: self.what_theyre_building.clone(),
            current_friction: self.current_friction.clone(),
            their_definition_of_win: self.their_definition_of_win.clone(),
            constraints: self.constraints.clone(),
            preferred_contact_style: self.preferred_contact_style.clone(),
        }
    }

    fn fill(&self) -> Fill {
        Fill {
            username: self.instagram_username.clone(),
            display_name: self.display_name.clone(),
            what_theyre_building: self.what_theyre_building.clone(),
            current_friction: self.current_friction.clone(),
            their_definition_of_win: self.their_definition_of_win.clone(),
        }
    }
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// The user's own trust signals (`source` other than `message`) of known kinds.
fn user_trust(v: Option<&Value>) -> Vec<TrustSignal> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| e.get("source").and_then(Value::as_str) != Some("message"))
        .filter_map(|e| {
            let kind = e.get("kind")?.as_str()?;
            TRUST_KINDS.contains(&kind).then(|| TrustSignal {
                kind: kind.to_string(),
                at: e.get("at").and_then(time),
                note: e.get("note").and_then(Value::as_str).map(str::to_string),
                message_id: None,
            })
        })
        .collect()
}

/// `value_delivered_log` entries: `{"what", "at"}` objects, or plain strings.
fn value_log(v: Option<&Value>) -> Vec<ValueEntry> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| match e {
            Value::String(s) => Some(ValueEntry {
                what: s.clone(),
                at: None,
            }),
            Value::Object(o) => Some(ValueEntry {
                what: o
                    .get("what")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                at: o.get("at").and_then(time),
            }),
            _ => None,
        })
        .collect()
}

/// The stored form of the trust signals: the user's, then those found in messages.
fn trust_json(a: &Assessment) -> Value {
    Value::Array(
        a.trust
            .iter()
            .map(|t| {
                json!({
                    "kind": t.kind,
                    "at": t.at,
                    "note": t.note,
                    "source": if t.message_id.is_some() { "message" } else { "user" },
                    "message_id": t.message_id,
                })
            })
            .collect(),
    )
}

/// Reads contacts (locked for the update when `lock`: rescoring) and their
/// evidence; each with its assessment at `now`.
async fn assess_contacts(
    tx: &mut TenantTx,
    ids: &[Uuid],
    now: DateTime<Utc>,
    lock: bool,
) -> DomainResult<Vec<(ContactRow, Assessment)>> {
    let user_id = tx.user_id();
    let contacts: Vec<ContactRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, instagram_username, display_name, relationship_stage, stage_override,
                what_theyre_building, current_friction, their_definition_of_win, constraints,
                preferred_contact_style, trust_signals, value_delivered_log
           FROM instagram_contacts WHERE user_id = $1 AND id = ANY($2) ORDER BY id{}",
        if lock { " FOR UPDATE" } else { "" }
    )))
    .bind(user_id)
    .bind(ids)
    .fetch_all(&mut **tx)
    .await?;
    let rows: Vec<(Uuid, Uuid, bool, String, DateTime<Utc>, bool)> = sqlx::query_as(
        "SELECT contact_id, id, NOT is_outbound, message_text, sent_at, coalesce(sent_by_automation, false)
           FROM instagram_messages
          WHERE user_id = $1 AND contact_id = ANY($2) AND spam_pattern IS NULL
          ORDER BY contact_id, sent_at, id",
    )
    .bind(user_id)
    .bind(ids)
    .fetch_all(&mut **tx)
    .await?;
    let mut messages: HashMap<Uuid, Vec<Message>> = HashMap::new();
    for (contact, id, inbound, text, sent_at, automated) in rows {
        messages.entry(contact).or_default().push(Message {
            id,
            inbound,
            text,
            sent_at,
            automated,
        });
    }
    let signals: Vec<FitSignal> = sqlx::query_as(
        "SELECT product, signal_key, signal_description, offer_template FROM fit_signals
          WHERE user_id = $1 AND is_active ORDER BY product, signal_key",
    )
    .bind(user_id)
    .fetch_all(&mut **tx)
    .await?;
    Ok(contacts
        .into_iter()
        .map(|c| {
            let msgs = messages.remove(&c.id).unwrap_or_default();
            let theirs: Vec<(Uuid, &str)> = msgs
                .iter()
                .filter(|m| m.inbound)
                .map(|m| (m.id, m.text.as_str()))
                .collect();
            let fit_hits: Vec<FitHit> = fit::hits(&signals, &theirs);
            let evidence = Evidence {
                card: c.card(),
                value_log: value_log(c.value_delivered_log.as_ref()),
                trust: user_trust(c.trust_signals.as_ref()),
                fit_hits,
                messages: msgs,
            };
            let a = revio::assess(&evidence, now);
            (c, a)
        })
        .collect())
}

/// Brings the scores, stages, fit-signal hits and found trust signals of `ids` up to
/// date, recording stage changes, and refreshes every segment for their people (a
/// contact edit, a DM or the nightly rescore moves them in or out at once). Unknown
/// ids are ignored.
pub async fn rescore(tx: &mut TenantTx, ids: &[Uuid]) -> DomainResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    let assessed = assess_contacts(tx, ids, now, true).await?;
    let n = assessed.len();
    let mut id = Vec::with_capacity(n);
    let mut parts: [Vec<i32>; 5] = Default::default();
    let mut total = Vec::with_capacity(n);
    let mut stage = Vec::with_capacity(n);
    let mut fits = Vec::with_capacity(n);
    let mut trust = Vec::with_capacity(n);
    let (mut changed, mut from, mut to, mut source, mut reason) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (c, a) in &assessed {
        id.push(c.id);
        for (i, comp) in a.components.iter().enumerate() {
            parts[i].push(comp.score);
        }
        total.push(a.relationship_score);
        let (now_stage, src, why) = match &c.stage_override {
            Some(s) => (
                s.clone(),
                "manual",
                format!("pinned by you (the rules say {})", a.stage),
            ),
            None => (a.stage.to_string(), "rules", a.stage_why.clone()),
        };
        if c.relationship_stage.as_deref() != Some(now_stage.as_str()) {
            changed.push(c.id);
            from.push(c.relationship_stage.clone());
            to.push(now_stage.clone());
            source.push(src);
            reason.push(why);
        }
        stage.push(now_stage);
        fits.push(Value::Array(a.fit_hits_stored()));
        trust.push(trust_json(a));
    }
    sqlx::query(
        "UPDATE instagram_contacts k
            SET resonance_score = x.r, need_clarity_score = x.n, value_delivered_score = x.v,
                reliability_score = x.l, consent_level = x.c, relationship_score = x.t,
                relationship_stage = x.s, fit_signals = x.f, trust_signals = x.ts
           FROM unnest($2::uuid[], $3::int[], $4::int[], $5::int[], $6::int[], $7::int[], $8::int[],
                       $9::text[], $10::jsonb[], $11::jsonb[]) AS x(id, r, n, v, l, c, t, s, f, ts)
          WHERE k.user_id = $1 AND k.id = x.id
            AND (k.resonance_score, k.need_clarity_score, k.value_delivered_score, k.reliability_score,
                 k.consent_level, k.relationship_score, k.relationship_stage, k.fit_signals, k.trust_signals)
                IS DISTINCT FROM (x.r, x.n, x.v, x.l, x.c, x.t, x.s, x.f, x.ts)",
    )
    .bind(tx.user_id())
    .bind(&id)
    .bind(&parts[0])
    .bind(&parts[1])
    .bind(&parts[2])
    .bind(&parts[3])
    .bind(&parts[4])
    .bind(&total)
    .bind(&stage)
    .bind(&fits)
    .bind(&trust)
    .execute(&mut **tx)
    .await?;
    if !changed.is_empty() {
        sqlx::query(
            "INSERT INTO instagram_contact_stages (user_id, contact_id, previous_stage, stage, source, reason)
             SELECT $1, c, p, s, o, r FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[])
                 AS x(c, p, s, o, r)",
        )
        .bind(tx.user_id())
        .bind(&changed)
        .bind(&from)
        .bind(&to)
        .bind(&source)
        .bind(&reason)
        .execute(&mut **tx)
        .await?;
    }
    // Segments on CRM fields (score, stage, tags, fit signals, consent) follow at once:
    // every segment is refreshed for these contacts' people in this transaction.
    let people: Vec<Uuid> = sqlx::query_scalar(
        "SELECT DISTINCT person_id FROM instagram_contacts
          WHERE user_id = $1 AND id = ANY($2) AND person_id IS NOT NULL",
    )
    .bind(tx.user_id())
    .bind(ids)
    .fetch_all(&mut **tx)
    .await?;
    crate::segments::store::refresh_people(tx, &people).await?;
    Ok(())
}

impl Assessment {
    /// The fit-signal hits as stored on the contact, with a count per hit.
    fn fit_hits_stored(&self) -> Vec<Value> {
        self.fit_hits
            .iter()
            .map(|h| {
                json!({
                    "product": h.product,
                    "signal_key": h.signal_key,
                    "signal_description": h.signal_description,
                    "count": h.message_ids.len(),
                    "message_ids": h.message_ids,
                })
            })
            .collect()
    }
}

/// A change of stage, for the contact page.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct StageChange {
    pub stage: String,
    pub previous_stage: Option<String>,
    /// `rules` or `manual`.
    pub source: String,
    pub reason: String,
    pub changed_at: DateTime<Utc>,
}

/// A contact's score, explained.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScoreView {
    pub contact_id: Uuid,
    pub instagram_username: String,
    #[serde(flatten)]
    pub assessment: Assessment,
    /// The stage shown: the pinned one while there is one, else the rules'.
    pub relationship_stage: String,
    pub stage_override: Option<String>,
    /// Newest first (at most 50).
    pub stage_history: Vec<StageChange>,
}

/// The score of contact `id`, each component with the rows behind it; `NotFound`
/// for an id that is not one of the tenant's contacts.
pub async fn explain(tx: &mut TenantTx, id: Uuid) -> DomainResult<ScoreView> {
    let (c, a) = assess_contacts(tx, &[id], Utc::now(), false)
        .await?
        .into_iter()
        .next()
        .ok_or(DomainError::NotFound)?;
    let stage_history: Vec<StageChange> = sqlx::query_as(
        "SELECT stage, previous_stage, source, reason, changed_at FROM instagram_contact_stages
          WHERE user_id = $1 AND contact_id = $2 ORDER BY changed_at DESC, id LIMIT 50",
    )
    .bind(tx.user_id())
    .bind(id)
    .fetch_all(&mut **tx)
    .await?;
    Ok(ScoreView {
        contact_id: c.id,
        instagram_username: c.instagram_username.clone(),
        relationship_stage: c
            .stage_override
            .clone()
            .unwrap_or_else(|| a.stage.to_string()),
        stage_override: c.stage_override.clone(),
        assessment: a,
        stage_history,
    })
}

/// The next best action for contact `id` from the user's active templates.
pub async fn next_best_action(tx: &mut TenantTx, id: Uuid) -> DomainResult<NextBestAction> {
    next_best_actions(tx, &[id])
        .await?
        .remove(&id)
        .ok_or(DomainError::NotFound)
}

/// The next best action of each of `ids` (unknown ids left out).
pub async fn next_best_actions(
    tx: &mut TenantTx,
    ids: &[Uuid],
) -> DomainResult<HashMap<Uuid, NextBestAction>> {
    let assessed = assess_contacts(tx, ids, Utc::now(), false).await?;
    let templates: Vec<Template> = sqlx::query_as(
        "SELECT id, lane, stage, action_key, action_text FROM next_best_actions
          WHERE user_id = $1 AND is_active ORDER BY lane, action_key",
    )
    .bind(tx.user_id())
    .fetch_all(&mut **tx)
    .await?;
    Ok(assessed
        .into_iter()
        .map(|(c, a)| {
            let stage = c
                .stage_override
                .clone()
                .unwrap_or_else(|| a.stage.to_string());
            (c.id, nba::choose(&a, &stage, &templates, &c.fill()))
        })
        .collect())
}
