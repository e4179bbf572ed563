//! The Revio score of an Instagram contact (seed 001), pure: five components of 0–20
//! computed from evidence — their messages and ours, the context card, the
//! `value_delivered_log`, the `trust_signals` (recorded by the user, or found in
//! their messages) and the fit-signal hits ([`super::fit`]) — their sum as
//! `relationship_score`, and the relationship stage those facts reach. Every
//! component says why, citing the rows behind it. docs/SCORING.md states each formula;
//! the constants below are its thresholds.

use chrono::{DateTime, Datelike, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::fit::FitHit;

/// 001's eight stages, in the order a relationship reaches them.
pub const STAGES: [&str; 8] = [
    "first_touch",
    "context_captured",
    "micro_win_delivered",
    "cadence_established",
    "trust_signals",
    "fit_repeats",
    "permissioned_offer",
    "post_win",
];

/// The score a contact keeps while nothing is known of them (001's column default).
pub const NO_EVIDENCE_SCORE: i32 = 50;

/// A turn of ours counts as answered when their next message comes within this.
pub const ANSWER_WINDOW_DAYS: i64 = 7;
/// We answered them when our next message comes within this.
pub const PROMPT_WINDOW_HOURS: i64 = 48;
/// How far back cadence looks.
pub const CADENCE_DAYS: i64 = 90;
/// Weeks of contact (in [`CADENCE_DAYS`]) that make a full cadence score.
pub const CADENCE_FULL_WEEKS: f64 = 6.0;
/// Two-way weeks (in [`CADENCE_DAYS`]) that establish a cadence (the stage).
pub const CADENCE_STAGE_WEEKS: usize = 3;
/// A value-delivered entry this recent counts in full.
pub const VALUE_RECENT_DAYS: i64 = 90;
/// Distinct messages one fit signal must appear in for `fit_repeats` (001: "same
/// pain shows up 2-3 times").
pub const FIT_REPEATS: usize = 2;

/// Kinds of trust signal. `consent_given` / `consent_withdrawn` and `purchased` are
/// recorded by the user only, never guessed from text.
pub const TRUST_KINDS: [&str; 6] = [
    "asked_opinion",
    "referral",
    "shared_win",
    "consent_given",
    "consent_withdrawn",
    "purchased",
];

/// Kinds that show trust (the `trust_signals` stage, the offer lane).
const TRUST_SHOWN: [&str; 3] = ["asked_opinion", "referral", "shared_win"];

/// Phrases in their messages that show a trust signal, by kind (lower-case; matched
/// after the text is lower-cased).
pub const TRUST_PHRASES: [(&str, &[&str]); 3] = [
    (
        "asked_opinion",
        &[
            "what do you think",
            "your opinion",
            "your thoughts",
            "would you recommend",
            "what would you do",
            "any advice",
            "your take on",
        ],
    ),
    (
        "referral",
        &[
            "you should talk to",
            "introduce you",
            "intro you to",
            "sent them your way",
            "send them your way",
            "told my friend about you",
            "referred",
        ],
    ),
    (
        "shared_win",
        &[
            "thanks to you",
            "that helped",
            "it worked",
            "we launched",
            "just launched",
            "finally shipped",
        ],
    ),
];

/// One message, as scoring reads it (spam is left out before).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: Uuid,
    /// Theirs (true) or ours.
    pub inbound: bool,
    pub text: String,
    pub sent_at: DateTime<Utc>,
    pub automated: bool,
}

/// The contact's context card (001).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Card {
    pub what_theyre_building: Option<String>,
    pub current_friction: Option<String>,
    pub their_definition_of_win: Option<String>,
    pub constraints: Option<String>,
    pub preferred_contact_style: Option<String>,
}

/// One entry of `value_delivered_log`: `{"what": "...", "at": "RFC 3339"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueEntry {
    pub what: String,
    pub at: Option<DateTime<Utc>>,
}

/// One trust signal: recorded by the user (`message_id` none) or found in a message.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TrustSignal {
    pub kind: String,
    pub at: Option<DateTime<Utc>>,
    pub note: Option<String>,
    /// The message it was found in (source `message`), or none (source `user`).
    pub message_id: Option<Uuid>,
}

/// Everything scoring reads about one contact.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// Oldest first.
    pub messages: Vec<Message>,
    pub card: Card,
    pub value_log: Vec<ValueEntry>,
    /// Recorded by the user.
    pub trust: Vec<TrustSignal>,
    pub fit_hits: Vec<FitHit>,
}

/// A row behind a component.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cite {
    Message {
        id: Uuid,
        sent_at: DateTime<Utc>,
        inbound: bool,
        excerpt: String,
    },
    CardField {
        field: String,
        value: String,
    },
    ValueDelivered {
        /// Position in `value_delivered_log`.
        index: usize,
        what: String,
        at: Option<DateTime<Utc>>,
    },
    TrustSignal {
        signal_kind: String,
        at: Option<DateTime<Utc>>,
        message_id: Option<Uuid>,
    },
    FitSignal {
        product: String,
        signal_key: String,
        messages: usize,
    },
}

/// One component: 0–20, why, and the rows behind it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Component {
    /// The `instagram_contacts` column it is stored in.
    pub name: &'static str,
    pub score: i32,
    pub max: i32,
    pub why: String,
    pub evidence: Vec<Cite>,
}

/// A contact's whole assessment.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Assessment {
    /// resonance, need clarity, value delivered, reliability, consent level.
    pub components: Vec<Component>,
    /// Their sum, or [`NO_EVIDENCE_SCORE`] while there is no evidence.
    pub relationship_score: i32,
    pub has_evidence: bool,
    /// The stage the evidence reaches (an override is applied by the caller).
    pub stage: &'static str,
    pub stage_why: String,
    /// Trust signals: the user's and those found in their messages.
    pub trust: Vec<TrustSignal>,
    /// Whether their latest explicit consent stands.
    pub consent_given: bool,
    pub purchased: bool,
    /// Every fit signal found in their messages, most repeated first.
    pub fit_hits: Vec<FitHit>,
    /// The fit signal that repeats most (in ≥ [`FIT_REPEATS`] messages), if any.
    pub repeating_fit: Option<FitHit>,
}

/// Cut to a short excerpt for a citation.
fn excerpt(text: &str) -> String {
    super::model::preview(text)
}

fn cite(m: &Message) -> Cite {
    Cite::Message {
        id: m.id,
        sent_at: m.sent_at,
        inbound: m.inbound,
        excerpt: excerpt(&m.text),
    }
}

/// `n` and its noun: "1 turn", "3 turns".
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn words(text: &str) -> usize {
    text.split_whitespace().count()
}

fn median(mut v: Vec<usize>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable();
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2] as f64
    } else {
        (v[n / 2 - 1] + v[n / 2]) as f64 / 2.0
    }
}

fn clamp20(x: f64) -> i32 {
    (x.round() as i32).clamp(0, 20)
}

/// Trust signals found in their messages ([`TRUST_PHRASES`]), one per message and kind.
pub fn detect_trust(messages: &[Message]) -> Vec<TrustSignal> {
    let mut found = Vec::new();
    for m in messages.iter().filter(|m| m.inbound) {
        let lower = m.text.to_lowercase();
        for (kind, phrases) in TRUST_PHRASES {
            if phrases.iter().any(|p| lower.contains(p)) {
                found.push(TrustSignal {
                    kind: kind.to_string(),
                    at: Some(m.sent_at),
                    note: Some(excerpt(&m.text)),
                    message_id: Some(m.id),
                });
            }
        }
    }
    found
}

/// Resonance = round(12·R + 8·D): R, the share of our turns (consecutive messages
/// of ours, automation left out) they answered within [`ANSWER_WINDOW_DAYS`] — or 1
/// when they wrote and we have not yet; D, the depth of their messages,
/// clamp((median words − 2) / 18, 0, 1).
fn resonance(messages: &[Message]) -> Component {
    let human: Vec<&Message> = messages
        .iter()
        .filter(|m| m.inbound || !m.automated)
        .collect();
    let mut turns = 0usize;
    let mut answered = 0usize;
    let mut evidence = Vec::new();
    let mut i = 0;
    while i < human.len() {
        if human[i].inbound {
            i += 1;
            continue;
        }
        let mut last_ours = human[i];
        while i + 1 < human.len() && !human[i + 1].inbound {
            i += 1;
            last_ours = human[i];
        }
        turns += 1;
        if let Some(reply) = human.get(i + 1)
            && reply.sent_at - last_ours.sent_at <= Duration::days(ANSWER_WINDOW_DAYS)
        {
            answered += 1;
            if evidence.len() < 5 {
                evidence.push(cite(reply));
            }
        }
        i += 1;
    }
    let theirs: Vec<&Message> = messages.iter().filter(|m| m.inbound).collect();
    let r = if turns > 0 {
        answered as f64 / turns as f64
    } else if theirs.is_empty() {
        0.0
    } else {
        1.0
    };
    if turns == 0 {
        evidence.extend(theirs.iter().take(5).map(|m| cite(m)));
    }
    let median_words = median(theirs.iter().map(|m| words(&m.text)).collect());
    let d = ((median_words - 2.0) / 18.0).clamp(0.0, 1.0);
    let why = if turns > 0 {
        format!(
            "they answered {answered} of our {} within {ANSWER_WINDOW_DAYS} days (R = {r:.2}); their messages run {median_words} words at the median (D = {d:.2}); 12·R + 8·D",
            count(turns, "turn", "turns")
        )
    } else if theirs.is_empty() {
        "no messages from them yet".to_string()
    } else {
        format!(
            "they wrote first and we have not answered yet (R = 1); their messages run {median_words} words at the median (D = {d:.2}); 12·R + 8·D"
        )
    };
    Component {
        name: "resonance_score",
        score: clamp20(12.0 * r + 8.0 * d),
        max: 20,
        why,
        evidence,
    }
}

/// A card field counts when it holds at least 3 characters.
fn filled(v: &Option<String>) -> Option<&str> {
    v.as_deref()
        .map(str::trim)
        .filter(|v| v.chars().count() >= 3)
}

/// Need clarity: the context card, what they are building 5, their current friction 6,
/// their definition of a win 5, constraints 2, preferred contact style 2. With no
/// friction written, a fit signal they voiced counts as it.
fn need_clarity(card: &Card, fit_hits: &[FitHit]) -> Component {
    let fields: [(&str, &Option<String>, i32); 5] = [
        ("what_theyre_building", &card.what_theyre_building, 5),
        ("current_friction", &card.current_friction, 6),
        ("their_definition_of_win", &card.their_definition_of_win, 5),
        ("constraints", &card.constraints, 2),
        ("preferred_contact_style", &card.preferred_contact_style, 2),
    ];
    let mut score = 0;
    let mut evidence = Vec::new();
    let mut named = Vec::new();
    for (field, value, points) in fields {
        if let Some(v) = filled(value) {
            score += points;
            named.push(format!("{field} +{points}"));
            evidence.push(Cite::CardField {
                field: field.to_string(),
                value: v.to_string(),
            });
        }
    }
    if filled(&card.current_friction).is_none()
        && let Some(hit) = fit_hits.first()
    {
        score += 6;
        named.push(format!(
            "current_friction +6 from the fit signal they voiced ({})",
            hit.signal_key
        ));
        evidence.push(Cite::FitSignal {
            product: hit.product.clone(),
            signal_key: hit.signal_key.clone(),
            messages: hit.message_ids.len(),
        });
    }
    let why = if named.is_empty() {
        "the context card is empty".to_string()
    } else {
        format!("context card: {}", named.join(", "))
    };
    Component {
        name: "need_clarity_score",
        score: score.min(20),
        max: 20,
        why,
        evidence,
    }
}

/// Value delivered: 6 points per `value_delivered_log` entry of the last
/// [`VALUE_RECENT_DAYS`] days (or undated), 3 per older one, at most 20.
fn value_delivered(log: &[ValueEntry], now: DateTime<Utc>) -> Component {
    let mut points = 0;
    let mut recent = 0;
    let mut older = 0;
    let mut evidence = Vec::new();
    for (index, e) in log.iter().enumerate() {
        if e.at
            .is_some_and(|at| now - at > Duration::days(VALUE_RECENT_DAYS))
        {
            points += 3;
            older += 1;
        } else {
            points += 6;
            recent += 1;
        }
        evidence.push(Cite::ValueDelivered {
            index,
            what: e.what.clone(),
            at: e.at,
        });
    }
    let why = if log.is_empty() {
        "nothing logged as delivered yet (value_delivered_log)".to_string()
    } else {
        format!(
            "{recent} recent entries × 6 + {older} older × 3 in value_delivered_log (at most 20)"
        )
    };
    Component {
        name: "value_delivered_score",
        score: points.min(20),
        max: 20,
        why,
        evidence,
    }
}

/// `(ISO year, week)` of a time.
fn week(at: DateTime<Utc>) -> (i32, u32) {
    let w = at.iso_week();
    (w.year(), w.week())
}

/// Reliability = round(12·C + 8·P): C, the weeks of the last [`CADENCE_DAYS`] days in
/// which we wrote to them (automation left out), over [`CADENCE_FULL_WEEKS`], at most 1;
/// P, the share of their messages we answered within [`PROMPT_WINDOW_HOURS`] hours.
fn reliability(messages: &[Message], now: DateTime<Utc>) -> Component {
    let since = now - Duration::days(CADENCE_DAYS);
    let mut weeks: Vec<(i32, u32)> = messages
        .iter()
        .filter(|m| !m.inbound && !m.automated && m.sent_at >= since)
        .map(|m| week(m.sent_at))
        .collect();
    weeks.sort_unstable();
    weeks.dedup();
    let c = (weeks.len() as f64 / CADENCE_FULL_WEEKS).min(1.0);
    let mut theirs = 0usize;
    let mut answered = 0usize;
    let mut evidence = Vec::new();
    for (i, m) in messages.iter().enumerate().filter(|(_, m)| m.inbound) {
        theirs += 1;
        let reply = messages[i + 1..]
            .iter()
            .find(|n| !n.inbound && !n.automated);
        if let Some(r) = reply
            && r.sent_at - m.sent_at <= Duration::hours(PROMPT_WINDOW_HOURS)
        {
            answered += 1;
            if evidence.len() < 5 {
                evidence.push(cite(r));
            }
        }
    }
    let p = if theirs == 0 {
        0.0
    } else {
        answered as f64 / theirs as f64
    };
    Component {
        name: "reliability_score",
        score: clamp20(12.0 * c + 8.0 * p),
        max: 20,
        why: format!(
            "we wrote in {} of the last {CADENCE_DAYS} days (C = {c:.2}, full at {CADENCE_FULL_WEEKS}); we answered {answered} of their {} within {PROMPT_WINDOW_HOURS} h (P = {p:.2}); 12·C + 8·P",
            count(weeks.len(), "week", "weeks"),
            count(theirs, "message", "messages")
        ),
        evidence,
    }
}

/// The latest explicit consent entry: given (true), withdrawn (false), or none.
fn consent(trust: &[TrustSignal]) -> (Option<bool>, Option<&TrustSignal>) {
    let latest = trust
        .iter()
        .filter(|t| t.kind == "consent_given" || t.kind == "consent_withdrawn")
        .max_by_key(|t| t.at);
    (latest.map(|t| t.kind == "consent_given"), latest)
}

/// Consent level: 20 while their latest explicit consent (`consent_given`) stands, 0
/// once withdrawn; without either, 5 per time they asked our opinion (an invitation
/// to help, not to sell), at most 10.
fn consent_level(trust: &[TrustSignal]) -> Component {
    let (explicit, entry) = consent(trust);
    let cite_of = |t: &TrustSignal| Cite::TrustSignal {
        signal_kind: t.kind.clone(),
        at: t.at,
        message_id: t.message_id,
    };
    match (explicit, entry) {
        (Some(true), Some(t)) => Component {
            name: "consent_level",
            score: 20,
            max: 20,
            why: "they gave explicit consent (consent_given) and have not withdrawn it".into(),
            evidence: vec![cite_of(t)],
        },
        (Some(false), Some(t)) => Component {
            name: "consent_level",
            score: 0,
            max: 20,
            why: "they withdrew consent (consent_withdrawn): nothing is offered".into(),
            evidence: vec![cite_of(t)],
        },
        _ => {
            let asks: Vec<&TrustSignal> =
                trust.iter().filter(|t| t.kind == "asked_opinion").collect();
            Component {
                name: "consent_level",
                score: (5 * asks.len() as i32).min(10),
                max: 20,
                why: format!(
                    "no explicit consent recorded; they asked our opinion {} (5 each, at most 10)",
                    count(asks.len(), "time", "times")
                ),
                evidence: asks.into_iter().map(cite_of).collect(),
            }
        }
    }
}

/// Weeks of the last [`CADENCE_DAYS`] days in which both sides wrote (automation left
/// out).
fn two_way_weeks(messages: &[Message], now: DateTime<Utc>) -> usize {
    let since = now - Duration::days(CADENCE_DAYS);
    let mut ours: Vec<(i32, u32)> = Vec::new();
    let mut theirs: Vec<(i32, u32)> = Vec::new();
    for m in messages.iter().filter(|m| m.sent_at >= since) {
        if m.inbound {
            theirs.push(week(m.sent_at));
        } else if !m.automated {
            ours.push(week(m.sent_at));
        }
    }
    ours.sort_unstable();
    ours.dedup();
    ours.iter().filter(|w| theirs.contains(w)).count()
}

/// Scores a contact's evidence at `now`.
pub fn assess(evidence: &Evidence, now: DateTime<Utc>) -> Assessment {
    let mut trust: Vec<TrustSignal> = evidence.trust.clone();
    trust.extend(detect_trust(&evidence.messages));
    let components = vec![
        resonance(&evidence.messages),
        need_clarity(&evidence.card, &evidence.fit_hits),
        value_delivered(&evidence.value_log, now),
        reliability(&evidence.messages, now),
        consent_level(&trust),
    ];
    let card = &evidence.card;
    let has_evidence = !evidence.messages.is_empty()
        || !evidence.value_log.is_empty()
        || !evidence.trust.is_empty()
        || [
            &card.what_theyre_building,
            &card.current_friction,
            &card.their_definition_of_win,
            &card.constraints,
            &card.preferred_contact_style,
        ]
        .into_iter()
        .any(|f| filled(f).is_some());
    let relationship_score = if has_evidence {
        components.iter().map(|c| c.score).sum()
    } else {
        NO_EVIDENCE_SCORE
    };
    let (explicit, _) = consent(&trust);
    let consent_given = explicit == Some(true);
    let purchased = trust.iter().any(|t| t.kind == "purchased");
    let repeating_fit = evidence
        .fit_hits
        .iter()
        .filter(|h| h.message_ids.len() >= FIT_REPEATS)
        .max_by_key(|h| h.message_ids.len())
        .cloned();
    let shown: Vec<&TrustSignal> = trust
        .iter()
        .filter(|t| TRUST_SHOWN.contains(&t.kind.as_str()))
        .collect();
    let weeks = two_way_weeks(&evidence.messages, now);

    // the highest stage whose rule holds
    let (stage, stage_why) = if purchased {
        (
            "post_win",
            "they bought (a purchased signal is recorded)".to_string(),
        )
    } else if consent_given && let Some(hit) = &repeating_fit {
        (
            "permissioned_offer",
            format!(
                "they gave explicit consent and {} came up in {} messages",
                hit.signal_key,
                hit.message_ids.len()
            ),
        )
    } else if let Some(hit) = &repeating_fit {
        (
            "fit_repeats",
            format!(
                "the same need ({}) came up in {} distinct messages (at least {FIT_REPEATS})",
                hit.signal_key,
                hit.message_ids.len()
            ),
        )
    } else if let Some(t) = shown.first() {
        (
            "trust_signals",
            format!("{} trust signal(s), first: {}", shown.len(), t.kind),
        )
    } else if weeks >= CADENCE_STAGE_WEEKS {
        (
            "cadence_established",
            format!(
                "both of you wrote in {weeks} weeks of the last {CADENCE_DAYS} days (at least {CADENCE_STAGE_WEEKS})"
            ),
        )
    } else if !evidence.value_log.is_empty() {
        (
            "micro_win_delivered",
            format!(
                "{} entries in value_delivered_log",
                evidence.value_log.len()
            ),
        )
    } else if components[1].score >= 10 {
        (
            "context_captured",
            format!("need clarity is {} (at least 10)", components[1].score),
        )
    } else {
        ("first_touch", "no stage rule holds yet".to_string())
    };

    Assessment {
        components,
        relationship_score,
        has_evidence,
        stage,
        stage_why,
        trust,
        consent_given,
        purchased,
        fit_hits: evidence.fit_hits.clone(),
        repeating_fit,
    }
}

/// Whether `name` is one of 001's stages.
pub fn is_stage(name: &str) -> bool {
    STAGES.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-12-01T12:00:00Z".parse().unwrap()
    }

    fn msg(n: u128, inbound: bool, text: &str, days_ago: i64, hours: i64) -> Message {
        Message {
            id: Uuid::from_u128(n),
            inbound,
            text: text.into(),
            sent_at: now() - Duration::days(days_ago) + Duration::hours(hours),
            automated: false,
        }
    }

    fn hit(key: &str, messages: u128) -> FitHit {
        FitHit {
            product: "everreach".into(),
            signal_key: key.into(),
            signal_description: "I keep forgetting to follow up".into(),
            offer_template: Some("want a quick look?".into()),
            message_ids: (1..=messages).map(Uuid::from_u128).collect(),
        }
    }

    fn component<'a>(a: &'a Assessment, name: &str) -> &'a Component {
        a.components.iter().find(|c| c.name == name).unwrap()
    }

    #[test]
    fn no_evidence_keeps_the_seed_default() {
        let a = assess(&Evidence::default(), now());
        assert!(!a.has_evidence);
        assert_eq!(a.relationship_score, 50);
        assert_eq!(a.stage, "first_touch");
        assert!(a.components.iter().all(|c| c.score == 0));
    }

    #[test]
    fn resonance_counts_answered_turns_and_depth() {
        // two turns of ours (the second two messages long); they answer the first
        // within a day with 20 words, the second not at all
        let long = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty";
        let e = Evidence {
            messages: vec![
                msg(1, false, "hey", 10, 0),
                msg(2, true, long, 9, 0),
                msg(3, false, "cool", 5, 0),
                msg(4, false, "also", 5, 1),
            ],
            ..Evidence::default()
        };
        let a = assess(&e, now());
        let r = component(&a, "resonance_score");
        // R = 1/2, D = (20 − 2)/18 = 1 → 12·0.5 + 8 = 14
        assert_eq!(r.score, 14, "{}", r.why);
        assert_eq!(r.evidence.len(), 1);
        // a late answer (8 days) does not count
        let late = Evidence {
            messages: vec![msg(1, false, "hey", 20, 0), msg(2, true, "hi", 12, 0)],
            ..Evidence::default()
        };
        assert_eq!(component(&assess(&late, now()), "resonance_score").score, 0);
        // they wrote first, we have not answered: R = 1, two words: D = 0
        let first = Evidence {
            messages: vec![msg(1, true, "hey you", 1, 0)],
            ..Evidence::default()
        };
        assert_eq!(
            component(&assess(&first, now()), "resonance_score").score,
            12
        );
    }

    #[test]
    fn automated_messages_are_not_turns() {
        let mut auto = msg(1, false, "auto", 10, 0);
        auto.automated = true;
        let e = Evidence {
            messages: vec![auto, msg(2, true, "hi", 9, 0)],
            ..Evidence::default()
        };
        // no turn of ours: they wrote "first" → R = 1
        assert_eq!(component(&assess(&e, now()), "resonance_score").score, 12);
    }

    #[test]
    fn need_clarity_weighs_the_card_and_a_voiced_fit_signal() {
        let card = Card {
            what_theyre_building: Some("a newsletter".into()),
            their_definition_of_win: Some("1k subs".into()),
            constraints: Some("no".into()), // too short to count
            ..Card::default()
        };
        let e = Evidence {
            card: card.clone(),
            ..Evidence::default()
        };
        assert_eq!(
            component(&assess(&e, now()), "need_clarity_score").score,
            10
        );
        let e = Evidence {
            card,
            fit_hits: vec![hit("follow_up_messy", 1)],
            ..Evidence::default()
        };
        let a = assess(&e, now());
        assert_eq!(component(&a, "need_clarity_score").score, 16);
        assert_eq!(a.stage, "context_captured");
    }

    #[test]
    fn value_delivered_counts_recent_entries_fully_and_caps_at_20() {
        let recent = ValueEntry {
            what: "sent a template".into(),
            at: Some(now() - Duration::days(3)),
        };
        let old = ValueEntry {
            what: "intro".into(),
            at: Some(now() - Duration::days(200)),
        };
        let e = Evidence {
            value_log: vec![recent.clone(), old],
            ..Evidence::default()
        };
        let a = assess(&e, now());
        assert_eq!(component(&a, "value_delivered_score").score, 9);
        assert_eq!(a.stage, "micro_win_delivered");
        let e = Evidence {
            value_log: vec![recent; 5],
            ..Evidence::default()
        };
        assert_eq!(
            component(&assess(&e, now()), "value_delivered_score").score,
            20
        );
    }

    #[test]
    fn reliability_is_cadence_and_promptness() {
        // we wrote in 3 distinct weeks; they wrote twice, we answered one within 48 h
        let e = Evidence {
            messages: vec![
                msg(1, false, "a", 30, 0),
                msg(2, true, "b", 29, 0),
                msg(3, false, "c", 29, 10),
                msg(4, true, "d", 15, 0),
                msg(5, false, "e", 1, 0),
            ],
            ..Evidence::default()
        };
        let r = component(&assess(&e, now()), "reliability_score").clone();
        // C = 3/6 = 0.5, P = 1/2 → 6 + 4 = 10
        assert_eq!(r.score, 10, "{}", r.why);
    }

    #[test]
    fn consent_is_explicit_and_withdrawal_wins_when_later() {
        let given = TrustSignal {
            kind: "consent_given".into(),
            at: Some(now() - Duration::days(5)),
            note: None,
            message_id: None,
        };
        let withdrawn = TrustSignal {
            kind: "consent_withdrawn".into(),
            at: Some(now() - Duration::days(1)),
            ..given.clone()
        };
        let e = Evidence {
            trust: vec![given.clone()],
            ..Evidence::default()
        };
        let a = assess(&e, now());
        assert!(a.consent_given);
        assert_eq!(component(&a, "consent_level").score, 20);
        let e = Evidence {
            trust: vec![given, withdrawn],
            ..Evidence::default()
        };
        let a = assess(&e, now());
        assert!(!a.consent_given);
        assert_eq!(component(&a, "consent_level").score, 0);
        // asking our opinion is not consent to an offer: 5 each, at most 10
        let e = Evidence {
            messages: vec![
                msg(1, true, "what do you think of this?", 3, 0),
                msg(2, true, "Any advice on pricing?", 2, 0),
                msg(3, true, "your take on this?", 1, 0),
            ],
            ..Evidence::default()
        };
        let a = assess(&e, now());
        assert_eq!(component(&a, "consent_level").score, 10);
        assert!(!a.consent_given);
        assert_eq!(a.stage, "trust_signals");
    }

    #[test]
    fn stages_follow_the_evidence() {
        // fit repeats once a signal shows in two distinct messages
        let e = Evidence {
            fit_hits: vec![hit("follow_up_messy", 2)],
            messages: vec![msg(1, true, "x", 2, 0), msg(2, true, "y", 1, 0)],
            ..Evidence::default()
        };
        assert_eq!(assess(&e, now()).stage, "fit_repeats");
        let e1 = Evidence {
            fit_hits: vec![hit("follow_up_messy", 1)],
            ..e.clone()
        };
        assert_ne!(assess(&e1, now()).stage, "fit_repeats");
        // consent on top: permissioned offer; a purchase: post win
        let mut with_consent = e.clone();
        with_consent.trust.push(TrustSignal {
            kind: "consent_given".into(),
            at: Some(now()),
            note: None,
            message_id: None,
        });
        assert_eq!(assess(&with_consent, now()).stage, "permissioned_offer");
        with_consent.trust.push(TrustSignal {
            kind: "purchased".into(),
            at: Some(now()),
            note: None,
            message_id: None,
        });
        assert_eq!(assess(&with_consent, now()).stage, "post_win");
        // cadence: both wrote in three distinct weeks
        let e = Evidence {
            messages: vec![
                msg(1, false, "a", 40, 0),
                msg(2, true, "b", 40, 1),
                msg(3, false, "c", 20, 0),
                msg(4, true, "d", 20, 1),
                msg(5, false, "e", 6, 0),
                msg(6, true, "f", 6, 1),
            ],
            ..Evidence::default()
        };
        assert_eq!(assess(&e, now()).stage, "cadence_established");
    }

    #[test]
    fn the_score_is_the_sum_once_evidence_exists() {
        let e = Evidence {
            messages: vec![msg(1, true, "hey you", 1, 0)],
            ..Evidence::default()
        };
        let a = assess(&e, now());
        assert_eq!(
            a.relationship_score,
            a.components.iter().map(|c| c.score).sum::<i32>()
        );
        assert_eq!(a.relationship_score, 12);
        assert!(a.components.iter().all(|c| (0..=20).contains(&c.score)));
    }

    #[test]
    fn stage_names_are_closed() {
        assert!(is_stage("fit_repeats"));
        assert!(!is_stage("fit_repeat"));
    }
}
