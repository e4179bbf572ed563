//! Contact cards — one person as an address book, a CSV or LinkedIn describes them —
//! stored on the people graph and in the e-mail CRM, shared by the LinkedIn, CSV and
//! vCard importers.
//!
//! A [`Card`] names a person by any of their identities (e-mails, profile URLs or
//! handles); [`store`] finds the person behind the first of them already known, or
//! creates one, then:
//! - adds the card's other identities to that person (an identity already another
//!   person's is left there and reported: two people to merge, not one to overwrite);
//! - fills the person's empty `full_name`, `primary_email`, `company` and `role`
//!   (never overwriting what is there: an import does not undo an edit);
//! - for each e-mail, keeps one live 002 `contacts` row (DESIGN §9: one per normalised
//!   e-mail) linked to the person, with its `organizations` row by company name;
//! - records the card's event (LinkedIn's "connected") through the people graph's
//!   ingestion, keyed so a second import stores it once.
//!
//! A card is `created` (a new person), `updated` (something was filled or added) or
//! skipped as already imported; one whose identities are all invalid is rejected.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use everreach_formats::Problem;
use serde_json::{Value, json};
use uuid::Uuid;

use super::Report;
use crate::db::tenant::TenantTx;
use crate::error::DomainResult;
use crate::people::ingest;
use crate::people::model::{EventChannel, NewEvent, Subject};
use crate::people::{Channel, normalize_handle};

/// One person as a file describes them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Card {
    /// Where it came from (`file`, line) for problems.
    pub file: String,
    pub line: Option<u64>,
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    /// `(channel, handle or profile URL)`, as written.
    pub profiles: Vec<(Channel, String)>,
    pub company: Option<String>,
    pub title: Option<String>,
    pub note: Option<String>,
    /// What the import is (`linkedin`, `csv`, `vcard`), for `contacts.source_details`.
    pub source: &'static str,
    pub event: Option<CardEvent>,
}

/// Something that happened with the person, stored once.
#[derive(Debug, Clone, PartialEq)]
pub struct CardEvent {
    pub channel: Channel,
    /// e.g. `connected`.
    pub event_type: &'static str,
    /// Keeps it once per person (e.g. `linkedin:connected`).
    pub platform_id: String,
    pub occurred_at: DateTime<Utc>,
    pub excerpt: Option<String>,
}

/// What storing one card did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
    Rejected,
}

fn clean(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The card's identities, normalised, in order (e-mails first), each once; the
/// invalid ones as problems.
fn identities(card: &Card) -> (Vec<(Channel, String)>, Vec<String>) {
    let mut out: Vec<(Channel, String)> = Vec::new();
    let mut bad = Vec::new();
    let all = card
        .emails
        .iter()
        .map(|e| (Channel::Email, e.as_str()))
        .chain(card.profiles.iter().map(|(c, h)| (*c, h.as_str())));
    for (channel, raw) in all {
        if raw.trim().is_empty() {
            continue;
        }
        match normalize_handle(channel, raw) {
            Ok(h) if !out.iter().any(|(c, x)| *c == channel && *x == h) => out.push((channel, h)),
            Ok(_) => {}
            Err(e) => bad.push(e.to_string()),
        }
    }
    (out, bad)
}

/// Stores `card` in the caller's transaction; its problems go to `report`.
pub async fn store(tx: &mut TenantTx, card: &Card, report: &mut Report) -> DomainResult<Outcome> {
    let user_id = tx.user_id();
    let (ids, bad) = identities(card);
    for why in &bad {
        report.problem(Problem::new(&card.file, card.line, why.clone()));
    }
    if ids.is_empty() {
        report.reject(
            "no e-mail or profile to know the person by",
            Problem::new(
                &card.file,
                card.line,
                "no valid e-mail address or profile: a person is known by at least one",
            ),
        );
        return Ok(Outcome::Rejected);
    }
    let name = clean(&card.name).or_else(|| {
        let parts: Vec<String> = [clean(&card.first_name), clean(&card.last_name)]
            .into_iter()
            .flatten()
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    });
    let company = clean(&card.company);
    let title = clean(&card.title);
    let email = ids
        .iter()
        .find(|(c, _)| *c == Channel::Email)
        .map(|(_, h)| h.clone());

    // Who: the person of the first known identity.
    let channels: Vec<&str> = ids.iter().map(|(c, _)| c.as_str()).collect();
    let handles: Vec<&str> = ids.iter().map(|(_, h)| h.as_str()).collect();
    let known: Vec<(String, String, Option<Uuid>)> = sqlx::query_as(
        "SELECT i.channel, i.handle, i.person_id FROM identities i
           JOIN unnest($2::text[], $3::text[]) WITH ORDINALITY AS u(c, h, n) ON i.channel = u.c AND i.handle = u.h
          WHERE i.user_id = $1 ORDER BY u.n",
    )
    .bind(user_id)
    .bind(&channels)
    .bind(&handles)
    .fetch_all(&mut **tx)
    .await?;
    let mut changed = false;
    let (person, created) = match known.iter().find_map(|k| k.2) {
        Some(p) => (p, false),
        None => {
            let p = Uuid::now_v7();
            sqlx::query(
                "INSERT INTO people (user_id, id, full_name, primary_email, company, role) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(user_id)
            .bind(p)
            .bind(&name)
            .bind(&email)
            .bind(&company)
            .bind(&title)
            .execute(&mut **tx)
            .await?;
            (p, true)
        }
    };
    for (channel, handle, owner) in &known {
        if let Some(o) = owner
            && *o != person
        {
            report.problem(Problem::new(
                &card.file,
                card.line,
                format!(
                    "{channel} {handle} belongs to another person than the card's other identities: merge the two on the People page if they are one"
                ),
            ));
        }
    }
    let known_keys: HashSet<(&str, &str)> = known
        .iter()
        .map(|(c, h, _)| (c.as_str(), h.as_str()))
        .collect();
    let new: Vec<&(Channel, String)> = ids
        .iter()
        .filter(|(c, h)| !known_keys.contains(&(c.as_str(), h.as_str())))
        .collect();
    if !new.is_empty() {
        let added = sqlx::query(
            "INSERT INTO identities (user_id, person_id, channel, handle, extra)
             SELECT $1, $2, c, h, CASE WHEN $5::text IS NULL THEN NULL ELSE jsonb_build_object('name', $5::text) END
               FROM unnest($3::text[], $4::text[]) AS u(c, h)
             ON CONFLICT (user_id, channel, handle) DO NOTHING",
        )
        .bind(user_id)
        .bind(person)
        .bind(new.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>())
        .bind(new.iter().map(|(_, h)| h.as_str()).collect::<Vec<_>>())
        .bind(&name)
        .execute(&mut **tx)
        .await?;
        changed |= added.rows_affected() > 0;
    }
    if !created {
        let filled = sqlx::query(
            "UPDATE people SET full_name = coalesce(full_name, $3), primary_email = coalesce(primary_email, $4),
                    company = coalesce(company, $5), role = coalesce(role, $6)
              WHERE user_id = $1 AND id = $2
                AND ((full_name IS NULL AND $3::text IS NOT NULL) OR (primary_email IS NULL AND $4::text IS NOT NULL)
                  OR (company IS NULL AND $5::text IS NOT NULL) OR (role IS NULL AND $6::text IS NOT NULL))",
        )
        .bind(user_id)
        .bind(person)
        .bind(&name)
        .bind(&email)
        .bind(&company)
        .bind(&title)
        .execute(&mut **tx)
        .await?;
        changed |= filled.rows_affected() > 0;
    }

    // The e-mail CRM: one live contact per e-mail, linked to the person.
    let org = match &company {
        Some(c) => Some(organization(tx, c).await?),
        None => None,
    };
    let socials: serde_json::Map<String, Value> = ids
        .iter()
        .filter(|(c, _)| *c != Channel::Email)
        .map(|(c, h)| (c.as_str().to_string(), json!(h)))
        .collect();
    for (_, address) in ids.iter().filter(|(c, _)| *c == Channel::Email) {
        let inserted = sqlx::query(
            "INSERT INTO contacts (user_id, person_id, email, name, first_name, last_name, phone, organization_id,
                                   title, bio, social_profiles, source, source_details)
             SELECT $1, $2, $3, $4, left($5, 100), left($6, 100), left($7, 50), $8, $9, $10, $11, 'import', $12
              WHERE NOT EXISTS (SELECT 1 FROM contacts WHERE user_id = $1 AND lower(email) = $3
                                   AND is_deleted IS NOT TRUE AND merged_into_id IS NULL)
             ON CONFLICT DO NOTHING",
        )
        .bind(user_id)
        .bind(person)
        .bind(address)
        .bind(name.as_deref().map(|n| n.chars().take(255).collect::<String>()))
        .bind(clean(&card.first_name))
        .bind(clean(&card.last_name))
        .bind(card.phones.first())
        .bind(org)
        .bind(title.as_deref().map(|t| t.chars().take(255).collect::<String>()))
        .bind(clean(&card.note))
        .bind(Value::Object(socials.clone()))
        .bind(json!({"importer": card.source, "file": card.file, "line": card.line}))
        .execute(&mut **tx)
        .await?;
        if inserted.rows_affected() > 0 {
            changed = true;
            report.detail("email_contacts_created", 1);
        } else {
            // an existing contact without a person is linked to this one
            let linked = sqlx::query(
                "UPDATE contacts SET person_id = $2 WHERE user_id = $1 AND lower(email) = $3 AND person_id IS NULL
                    AND is_deleted IS NOT TRUE AND merged_into_id IS NULL",
            )
            .bind(user_id)
            .bind(person)
            .bind(address)
            .execute(&mut **tx)
            .await?;
            changed |= linked.rows_affected() > 0;
        }
    }

    if let Some(e) = &card.event {
        let event = NewEvent {
            subject: Subject::Person(person),
            channel: EventChannel::Network(e.channel),
            event_type: e.event_type.to_string(),
            platform_id: Some(e.platform_id.clone()),
            content_excerpt: e.excerpt.clone(),
            sentiment: None,
            traffic_type: "organic",
            metadata: Some(json!({"source": card.source})),
            occurred_at: e.occurred_at,
            identity_name: None,
        };
        let o = ingest::store_checked(tx, vec![event]).await?;
        changed |= o.created > 0;
    }
    if created {
        report.detail("people_created", 1);
    }
    Ok(if created {
        Outcome::Created
    } else if changed {
        Outcome::Updated
    } else {
        Outcome::Unchanged
    })
}

/// The tenant's organization named `name` (case ignored), created when new.
async fn organization(tx: &mut TenantTx, name: &str) -> DomainResult<Uuid> {
    let user_id = tx.user_id();
    let name: String = name.chars().take(255).collect();
    let found: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM organizations WHERE user_id = $1 AND lower(name) = lower($2) ORDER BY created_at, id LIMIT 1",
    )
    .bind(user_id)
    .bind(&name)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(id) = found {
        return Ok(id);
    }
    Ok(
        sqlx::query_scalar(
            "INSERT INTO organizations (user_id, name) VALUES ($1, $2) RETURNING id",
        )
        .bind(user_id)
        .bind(&name)
        .fetch_one(&mut **tx)
        .await?,
    )
}

/// Stores `cards` in transactions of [`super::BATCH`], counting each in `report`
/// (nothing in a dry run but the checks).
pub async fn store_all(
    pool: &sqlx::PgPool,
    user_id: Uuid,
    cards: &[Card],
    dry_run: bool,
    report: &mut Report,
) -> DomainResult<()> {
    if dry_run {
        for card in cards {
            let (ids, bad) = identities(card);
            for why in bad {
                report.problem(Problem::new(&card.file, card.line, why));
            }
            if ids.is_empty() {
                report.reject(
                    "no e-mail or profile to know the person by",
                    Problem::new(&card.file, card.line, "no valid e-mail address or profile"),
                );
            } else {
                report.created += 1;
            }
        }
        return Ok(());
    }
    for chunk in cards.chunks(super::BATCH) {
        let mut tx = TenantTx::begin(pool, user_id).await?;
        for card in chunk {
            match store(&mut tx, card, report).await? {
                Outcome::Created => report.created += 1,
                Outcome::Updated => report.updated += 1,
                Outcome::Unchanged => report.skip("already imported", 1),
                Outcome::Rejected => {}
            }
        }
        tx.commit().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_are_normalised_deduplicated_and_bad_ones_named() {
        let card = Card {
            emails: vec![
                "Ada@Example.com".into(),
                "ada@example.com".into(),
                "not an email".into(),
            ],
            profiles: vec![(
                Channel::Linkedin,
                "https://www.linkedin.com/in/ada-lovelace/".into(),
            )],
            ..Card::default()
        };
        let (ids, bad) = identities(&card);
        assert_eq!(ids[0], (Channel::Email, "ada@example.com".to_string()));
        assert_eq!(ids.len(), 2, "{ids:?}");
        assert_eq!(ids[1].0, Channel::Linkedin);
        assert_eq!(bad.len(), 1);
    }
}
