//! The next best action for a contact, pure: the lane their assessment puts them in,
//! then the best active `next_best_actions` template of that lane for their stage,
//! filled from the context card, with the reason why.
//!
//! Lanes (001, with the 40–59 band its weekly-task query calls `curiosity`):
//! - `retention` once they bought (a `purchased` trust signal);
//! - `offer` only when a fit signal repeats, trust is shown, **and** their explicit
//!   consent stands — never otherwise, whatever the score;
//! - else by `relationship_score`: `friendship` 80+, `service` 60–79, `curiosity`
//!   40–59, `rewarm` under 40.
//!
//! A template fits the contact's stage when its `stage` names it, or names it the way
//! 001's examples do (`context` for context_captured, `cold` in rewarm); `any` or no
//! stage fits every stage; a template for another stage is used only when nothing
//! else is left. Among those, one whose placeholders the card can fill comes first;
//! among equals the order is a hash of the contact and the template (stable per
//! contact, different across contacts, so a lane does not say the same words to all). In the offer lane the repeating fit signal's own
//! `offer_template` is the text when it has one.

use serde::Serialize;
use uuid::Uuid;

use super::revio::Assessment;

/// 001's lanes plus `curiosity`.
pub const LANES: [&str; 6] = [
    "friendship",
    "service",
    "curiosity",
    "rewarm",
    "offer",
    "retention",
];

/// Placeholders a template may use, filled from the contact.
pub const PLACEHOLDERS: [&str; 5] = [
    "first_name",
    "display_name",
    "what_theyre_building",
    "current_friction",
    "their_definition_of_win",
];

/// The `{word}` placeholders in a template that are not [`PLACEHOLDERS`], each once,
/// in order (001's `___` is a blank the user fills, not a placeholder).
pub fn unknown_placeholders(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in placeholders(text) {
        if !PLACEHOLDERS.contains(&p.as_str()) && !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// Every `{word}` in a text, in order.
fn placeholders(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close)
                if !after[..close].is_empty()
                    && after[..close]
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                out.push(after[..close].to_string());
                rest = &after[close + 1..];
            }
            _ => rest = after,
        }
    }
    out
}

/// The lane an assessment puts a contact in, and why.
pub fn lane(a: &Assessment) -> (&'static str, String) {
    let shown = a
        .trust
        .iter()
        .any(|t| matches!(t.kind.as_str(), "asked_opinion" | "referral" | "shared_win"));
    if a.purchased {
        return (
            "retention",
            "they bought: keep helping after the sale".into(),
        );
    }
    if let Some(fit) = &a.repeating_fit
        && shown
        && a.consent_given
    {
        return (
            "offer",
            format!(
                "{} came up in {} messages, they have shown trust and gave explicit consent",
                fit.signal_key,
                fit.message_ids.len()
            ),
        );
    }
    let s = a.relationship_score;
    let (lane, band) = match s {
        80.. => ("friendship", "80+"),
        60..=79 => ("service", "60–79"),
        40..=59 => ("curiosity", "40–59"),
        _ => ("rewarm", "under 40"),
    };
    let mut why = format!("score {s} ({band})");
    if a.repeating_fit.is_some() && !a.consent_given {
        why.push_str("; a fit signal repeats but no explicit consent is recorded, so no offer");
    }
    (lane, why)
}

/// One active template.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Template {
    pub id: Uuid,
    pub lane: String,
    pub stage: Option<String>,
    pub action_key: String,
    pub action_text: String,
}

/// What the contact is called and their card, for filling.
#[derive(Debug, Clone, Default)]
pub struct Fill {
    pub username: String,
    pub display_name: Option<String>,
    pub what_theyre_building: Option<String>,
    pub current_friction: Option<String>,
    pub their_definition_of_win: Option<String>,
}

impl Fill {
    fn value(&self, placeholder: &str) -> Option<String> {
        let some = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        match placeholder {
            "first_name" => Some(
                some(&self.display_name)
                    .and_then(|d| d.split_whitespace().next().map(str::to_string))
                    .unwrap_or_else(|| self.username.clone()),
            ),
            "display_name" => {
                Some(some(&self.display_name).unwrap_or_else(|| format!("@{}", self.username)))
            }
            "what_theyre_building" => some(&self.what_theyre_building),
            "current_friction" => some(&self.current_friction),
            "their_definition_of_win" => some(&self.their_definition_of_win),
            _ => None,
        }
    }

    /// The text with every placeholder filled, or `None` when one cannot be.
    pub fn apply(&self, text: &str) -> Option<String> {
        let mut out = text.to_string();
        for p in placeholders(text) {
            let v = self.value(&p)?;
            out = out.replace(&format!("{{{p}}}"), &v);
        }
        Some(out)
    }
}

/// How well a template's stage fits a relationship stage: 0 names it, 1 fits any, 2
/// another stage.
fn stage_fit(template_stage: Option<&str>, stage: &str) -> u8 {
    match template_stage.map(str::trim) {
        None | Some("") | Some("any") => 1,
        Some(s) if s == stage => 0,
        Some("context") if stage == "context_captured" => 0,
        Some("cold") => 1,
        Some(_) => 2,
    }
}

/// FNV-1a of a text: a stable, well-spread order.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The suggestion.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct NextBestAction {
    pub lane: &'static str,
    pub stage: String,
    /// The template's key (`fit:<product>/<signal_key>` for a fit signal's offer);
    /// `null` when the lane has no active template.
    pub action_key: Option<String>,
    /// The template, `null` for a fit signal's offer text.
    pub template_id: Option<Uuid>,
    /// Ready to send: placeholders filled (a `___` blank is left for you); `null`
    /// when the lane has no active template.
    pub text: Option<String>,
    /// Why this lane and this template.
    pub reason: String,
}

/// The next best action for an assessed contact at `stage` (its override, if any,
/// applied), from the user's active templates; without text when the lane has none.
pub fn choose(a: &Assessment, stage: &str, templates: &[Template], fill: &Fill) -> NextBestAction {
    let (lane, lane_why) = lane(a);
    if lane == "offer"
        && let Some(fit) = &a.repeating_fit
        && let Some(text) = fit.offer_template.as_deref().and_then(|t| fill.apply(t))
    {
        return NextBestAction {
            lane,
            stage: stage.to_string(),
            action_key: Some(format!("fit:{}/{}", fit.product, fit.signal_key)),
            template_id: None,
            text: Some(text),
            reason: format!(
                "offer lane: {lane_why}; the text is {}'s offer for {}",
                fit.product, fit.signal_key
            ),
        };
    }
    let mut ranked: Vec<(u8, bool, &Template, Option<String>)> = templates
        .iter()
        .filter(|t| t.lane == lane)
        .map(|t| {
            let filled = fill.apply(&t.action_text);
            (
                stage_fit(t.stage.as_deref(), stage),
                filled.is_none(),
                t,
                filled,
            )
        })
        .collect();
    // among equals, a different template per contact (stable for that contact), so
    // two contacts in one lane do not get the very same words
    let spread = |t: &Template| fnv(&format!("{}\u{0}{}", fill.username, t.action_key));
    ranked.sort_by(|x, y| {
        (x.0, x.1, spread(x.2), &x.2.action_key).cmp(&(y.0, y.1, spread(y.2), &y.2.action_key))
    });
    let Some((fit, unfilled, t, filled)) = ranked.into_iter().next() else {
        return NextBestAction {
            lane,
            stage: stage.to_string(),
            action_key: None,
            template_id: None,
            text: None,
            reason: format!(
                "{lane} lane: {lane_why}; you have no active template in this lane: add one (next-best-actions)"
            ),
        };
    };
    let how = match (fit, unfilled) {
        (0, _) => format!("written for stage {stage}"),
        (1, _) => match t.stage.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() && s != "any" => format!("written for {s} contacts"),
            _ => "written for any stage".to_string(),
        },
        _ => format!(
            "the lane has nothing for stage {stage}; this one is for {}",
            t.stage.as_deref().unwrap_or("any")
        ),
    };
    NextBestAction {
        lane,
        stage: stage.to_string(),
        action_key: Some(t.action_key.clone()),
        template_id: Some(t.id),
        text: Some(filled.unwrap_or_else(|| t.action_text.clone())),
        reason: format!("{lane} lane: {lane_why}; template {} ({how})", t.action_key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crm::fit::FitHit;
    use crate::crm::revio::{Assessment, TrustSignal};

    fn assessment(score: i32) -> Assessment {
        Assessment {
            components: Vec::new(),
            relationship_score: score,
            has_evidence: true,
            stage: "first_touch",
            stage_why: String::new(),
            trust: Vec::new(),
            consent_given: false,
            purchased: false,
            fit_hits: Vec::new(),
            repeating_fit: None,
        }
    }

    fn trust(kind: &str) -> TrustSignal {
        TrustSignal {
            kind: kind.into(),
            at: None,
            note: None,
            message_id: None,
        }
    }

    fn fit() -> FitHit {
        FitHit {
            product: "everreach".into(),
            signal_key: "follow_up_messy".into(),
            signal_description: "I keep forgetting to follow up".into(),
            offer_template: Some(
                "i built a relationship OS for this—want a quick look when it's ready?".into(),
            ),
            message_ids: vec![Uuid::from_u128(1), Uuid::from_u128(2)],
        }
    }

    fn template(lane: &str, stage: Option<&str>, key: &str, text: &str) -> Template {
        Template {
            id: Uuid::new_v4(),
            lane: lane.into(),
            stage: stage.map(str::to_string),
            action_key: key.into(),
            action_text: text.into(),
        }
    }

    #[test]
    fn score_bands_pick_the_lane() {
        for (score, want) in [
            (100, "friendship"),
            (80, "friendship"),
            (79, "service"),
            (60, "service"),
            (59, "curiosity"),
            (40, "curiosity"),
            (39, "rewarm"),
            (0, "rewarm"),
        ] {
            assert_eq!(lane(&assessment(score)).0, want, "score {score}");
        }
    }

    #[test]
    fn no_offer_without_consent_whatever_the_score() {
        let mut a = assessment(95);
        a.repeating_fit = Some(fit());
        a.trust = vec![trust("asked_opinion")];
        let (l, why) = lane(&a);
        assert_eq!(l, "friendship");
        assert!(why.contains("no explicit consent"), "{why}");
        a.consent_given = true;
        assert_eq!(lane(&a).0, "offer");
        // consent without trust shown, or without a repeating need: no offer
        a.trust.clear();
        assert_ne!(lane(&a).0, "offer");
        a.trust = vec![trust("referral")];
        a.repeating_fit = None;
        assert_ne!(lane(&a).0, "offer");
    }

    #[test]
    fn a_purchase_means_retention() {
        let mut a = assessment(30);
        a.purchased = true;
        assert_eq!(lane(&a).0, "retention");
    }

    #[test]
    fn the_offer_uses_the_fit_signals_own_text() {
        let mut a = assessment(70);
        a.repeating_fit = Some(fit());
        a.trust = vec![trust("asked_opinion")];
        a.consent_given = true;
        let n = choose(&a, "permissioned_offer", &[], &Fill::default());
        assert_eq!(n.lane, "offer");
        assert_eq!(
            n.action_key.as_deref(),
            Some("fit:everreach/follow_up_messy")
        );
        assert!(n.text.unwrap().starts_with("i built a relationship OS"));
    }

    #[test]
    fn templates_fit_the_stage_then_the_card() {
        let templates = [
            template(
                "service",
                Some("any"),
                "a_generic",
                "how's it going, {first_name}?",
            ),
            template(
                "service",
                Some("context"),
                "permission_to_help",
                "want ideas or just want to vent?",
            ),
            template(
                "service",
                Some("context"),
                "b_card",
                "still fighting {current_friction}?",
            ),
            template(
                "friendship",
                Some("any"),
                "check_in",
                "yo—how'd that thing go from last week?",
            ),
        ];
        let fill = Fill {
            username: "grace".into(),
            display_name: Some("Grace Hopper".into()),
            ..Fill::default()
        };
        let n = choose(&assessment(65), "context_captured", &templates, &fill);
        // b_card sorts first but its friction is unknown: the one that fills wins
        assert_eq!(n.action_key.as_deref(), Some("permission_to_help"));
        assert!(
            n.reason.contains("service lane") && n.reason.contains("stage context_captured"),
            "{}",
            n.reason
        );
        let fill = Fill {
            current_friction: Some("cold outreach".into()),
            ..fill
        };
        let n = choose(&assessment(65), "context_captured", &templates, &fill);
        assert_eq!(n.text.as_deref(), Some("still fighting cold outreach?"));
        let n = choose(&assessment(65), "first_touch", &templates, &fill);
        assert_eq!(n.text.as_deref(), Some("how's it going, Grace?"));
        let none = choose(&assessment(10), "first_touch", &templates, &fill);
        assert_eq!(
            (none.lane, none.text),
            ("rewarm", None),
            "no rewarm template"
        );
        assert!(
            none.reason.contains("no active template"),
            "{}",
            none.reason
        );
    }

    #[test]
    fn placeholders_are_known_or_named() {
        assert!(unknown_placeholders("hi {first_name}, how's {what_theyre_building}?").is_empty());
        assert_eq!(
            unknown_placeholders("hi {firstname} {x y} {}"),
            ["firstname"]
        );
        assert!(unknown_placeholders("how's it feeling now that ___ is live?").is_empty());
    }

    #[test]
    fn unknown_placeholders_finds_words_in_braces_not_in_the_list() {
        assert_eq!(
            unknown_placeholders("hey {first_name}, how's {what_theyre_building}?"),
            Vec::<String>::new()
        );
        assert_eq!(
            unknown_placeholders("hey {firstname} — {company} and {company} again, {first_name}"),
            vec!["firstname".to_string(), "company".to_string()]
        );
        assert_eq!(
            unknown_placeholders("now that ___ is live { not one } {} {open"),
            Vec::<String>::new()
        );
        assert_eq!(unknown_placeholders("{{name}}"), vec!["name".to_string()]);
    }
}
