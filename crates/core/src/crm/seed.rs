//! 001's rows every user starts with (DESIGN §9): automation patterns (known handles,
//! the DM page's selectors, skip and spam patterns), next-best-action templates and
//! fit signals, in the totals 001's `seed-patterns` script names (35, 7, 5, 3, 20,
//! 13) and with 001's example rows verbatim. [`seed`] inserts whatever a tenant lacks
//! of them — at sign-up, in the sign-up transaction, and again through
//! `everreach seed-patterns` — and never changes or duplicates a row already there
//! (the tables' unique keys decide what "there" is), so a user's edits stay.

use serde_json::json;

use super::patterns::SpamAction;
use crate::DomainResult;
use crate::audit::Operation;
use crate::db::tenant::TenantTx;

/// A `pattern_key` → `pattern_value` row of `automation_patterns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pattern {
    pub key: &'static str,
    pub value: &'static str,
}

const fn p(key: &'static str, value: &'static str) -> Pattern {
    Pattern { key, value }
}

/// `known_handle`: an Instagram username → the display name the DM page shows for it.
pub const KNOWN_HANDLES: &[Pattern] = &[
    p("saraheashley", "Sarah Ashley"),
    p("marcusbuilds", "Marcus Reid"),
    p("jenna.codes", "Jenna Park"),
    p("thedevinwalsh", "Devin Walsh"),
    p("priya.makes", "Priya Raman"),
    p("coachtonyj", "Tony Jackson"),
    p("lena.studio", "Lena Hoffmann"),
    p("kwame.creates", "Kwame Mensah"),
    p("alexisgrowth", "Alexis Moreno"),
    p("ben_ships", "Ben Carter"),
    p("rachelwrites.co", "Rachel Kim"),
    p("danielfitlife", "Daniel Ortiz"),
    p("mayabrandlab", "Maya Lopez"),
    p("jordan.founder", "Jordan Blake"),
    p("sofiaonsocial", "Sofia Rossi"),
    p("chrisautomates", "Chris Nguyen"),
    p("hannah.designs", "Hannah Weber"),
    p("omar.ventures", "Omar Haddad"),
    p("taylorteaches", "Taylor Brooks"),
    p("nina.podcasts", "Nina Patel"),
    p("ethanbuildsai", "Ethan Cole"),
    p("grace.consults", "Grace Liu"),
    p("mikethemarketer", "Mike Sullivan"),
    p("zoe.creative", "Zoe Laurent"),
    p("samir.saas", "Samir Shah"),
    p("olivia.ugc", "Olivia Grant"),
    p("lucas.edits", "Lucas Silva"),
    p("aishacreates", "Aisha Bello"),
    p("noahnocode", "Noah Fischer"),
    p("emma.growthlab", "Emma Davis"),
    p("ryan.reels", "Ryan Murphy"),
    p("isabel.brands", "Isabel Costa"),
    p("victor.devlog", "Victor Petrov"),
    p("chloecoaches", "Chloe Martin"),
    p("jamal.studio", "Jamal Wright"),
];

/// `selector`: CSS selectors of Instagram's DM web page (instagram.com/direct/),
/// ARIA roles and labels rather than its generated class names, which change weekly.
pub const SELECTORS: &[Pattern] = &[
    p("textbox", r#"[role="textbox"]"#),
    p("inbox_link", r#"a[href="/direct/inbox/"]"#),
    p("thread_list", r#"[aria-label="Thread list"]"#),
    p(
        "thread_row",
        r#"[aria-label="Thread list"] [role="listitem"], a[href^="/direct/t/"]"#,
    ),
    p(
        "message_list",
        r#"[aria-label^="Messages in conversation"]"#,
    ),
    p(
        "message_row",
        r#"[aria-label^="Messages in conversation"] [role="row"]"#,
    ),
    p("send_button", r#"[role="button"][aria-label="Send"]"#),
];

/// `skip_pattern`: a regular expression (Rust `regex` syntax) matched against a whole
/// incoming message's text; a match marks a line the DM page shows that nobody wrote
/// (a date, a time, "Seen", "Active now", an attachment notice), which ingestion
/// drops.
pub const SKIP_PATTERNS: &[Pattern] = &[
    p("date_pattern", r"^\d{1,2}/\d{1,2}/\d{2}"),
    p(
        "time_pattern",
        r"(?i)^(?:(?:today|yesterday|mon|tue|wed|thu|fri|sat|sun)[a-z]*,? )?\d{1,2}:\d{2}(?: ?[ap]m)?$",
    ),
    p(
        "seen_receipt",
        r"(?i)^seen(?: just now| \d+ ?[smhdw] ago| by .{1,60})?$",
    ),
    p(
        "active_status",
        r"(?i)^active (?:now|today|yesterday|\d+ ?(?:m|h|d|w|mins?|minutes?|hours?|days?|weeks?) ago)$",
    ),
    p(
        "attachment_notice",
        r"(?i)^(?:you|[\w.]{1,30}(?: [\w.]{1,30})?) sent an attachment\.?$",
    ),
];

/// `spam_pattern`: `keywords` is a comma-separated list of words and phrases matched
/// case-insensitively as whole words in a message; `action` goes in `metadata`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpamPattern {
    pub key: &'static str,
    pub keywords: &'static str,
    pub action: SpamAction,
}

pub const SPAM_PATTERNS: &[SpamPattern] = &[
    SpamPattern {
        key: "crypto",
        keywords: "bitcoin,crypto,invest now",
        action: SpamAction::Flag,
    },
    SpamPattern {
        key: "promotion",
        keywords: "promote it on,dm for promo,brand ambassador,shoutout for,collab offer",
        action: SpamAction::Flag,
    },
    SpamPattern {
        key: "phishing",
        keywords: "verify your account,copyright violation,account will be disabled,claim your prize,you've won",
        action: SpamAction::Skip,
    },
];

/// Every lane a template may have: 001's five and `curiosity`, the 40–59 score band
/// of 001's weekly-task query (issue 13).
pub const LANES: &[&str] = &[
    "friendship",
    "service",
    "curiosity",
    "offer",
    "retention",
    "rewarm",
];

/// A `next_best_actions` row; `why` goes in `metadata` as `{"why": …}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Template {
    pub lane: &'static str,
    pub stage: &'static str,
    pub action_key: &'static str,
    pub action_text: &'static str,
    pub why: &'static str,
}

const fn t(
    lane: &'static str,
    stage: &'static str,
    action_key: &'static str,
    action_text: &'static str,
    why: &'static str,
) -> Template {
    Template {
        lane,
        stage,
        action_key,
        action_text,
        why,
    }
}

/// Reply templates by lane: friendship (score 80+), service (60–79), curiosity
/// (40–59), rewarm (below 40), offer (fit repeats and trust), retention (after a
/// purchase). The first of each of 001's five lanes is 001's example, verbatim.
pub const NEXT_BEST_ACTIONS: &[Template] = &[
    t(
        "friendship",
        "any",
        "check_in",
        "yo—how'd that thing go from last week?",
        "picks up a thread they started; asks for nothing",
    ),
    t(
        "friendship",
        "any",
        "celebrate_win",
        "saw the news — that's huge, {first_name}. how are you celebrating?",
        "a win of theirs is the best reason to show up",
    ),
    t(
        "friendship",
        "cadence_established",
        "thought_of_you",
        "this made me think of you — no reason, just figured you'd like it",
        "keeps the thread warm without an ask",
    ),
    t(
        "friendship",
        "trust_signals",
        "good_week",
        "random q — what's been the best part of your week?",
        "lets them talk about something other than work",
    ),
    t(
        "service",
        "context",
        "permission_to_help",
        "want ideas or just want to vent?",
        "asks what kind of help they want before giving any",
    ),
    t(
        "service",
        "first_touch",
        "ask_building",
        "what are you building right now? curious what a win looks like for you this month",
        "fills the context card: what they build and what a win is",
    ),
    t(
        "service",
        "context_captured",
        "offer_micro_win",
        "had an idea for {current_friction} — want me to send it over? takes 2 min to try",
        "a small, fast win on the friction they named",
    ),
    t(
        "service",
        "micro_win_delivered",
        "check_micro_win",
        "did that help with {current_friction} at all? happy to tweak it",
        "closes the loop on help already given",
    ),
    t(
        "curiosity",
        "first_touch",
        "ask_win",
        "what would make this month a win for you?",
        "learns their definition of a win before anything else",
    ),
    t(
        "curiosity",
        "context_captured",
        "ask_origin",
        "curious — how'd you get into {what_theyre_building}?",
        "asks about their story, not their problems",
    ),
    t(
        "curiosity",
        "any",
        "ask_friction",
        "what's the most annoying part of your week right now?",
        "surfaces a friction worth helping with",
    ),
    t(
        "offer",
        "fit_repeats",
        "permissioned_offer",
        "want me to show you a simple way i solve that? no pressure.",
        "the same need came up again; asks before pitching",
    ),
    t(
        "offer",
        "fit_repeats",
        "name_the_pattern",
        "you've mentioned {current_friction} a few times now — want to talk through what would fix it for good?",
        "names the repeated need and lets them choose to go on",
    ),
    t(
        "offer",
        "permissioned_offer",
        "pick_format",
        "cool — want the quick version here in dms or a 15 min call this week? either works",
        "they said yes; they choose how",
    ),
    t(
        "retention",
        "post_win",
        "post_win_care",
        "how's it feeling now that ___ is live? anything still annoying?",
        "after the win, checks what still gets in the way",
    ),
    t(
        "retention",
        "post_win",
        "first_week_check",
        "how's week one going? anything confusing i can clear up?",
        "catches early trouble before it turns into regret",
    ),
    t(
        "retention",
        "post_win",
        "celebrate_result",
        "{first_name}, you hit {their_definition_of_win} — that's the whole point. what's next on your list?",
        "ties the result to the win they named and looks ahead",
    ),
    t(
        "rewarm",
        "cold",
        "low_friction",
        "no rush to reply — what are you focused on this month?",
        "easy to answer after a long gap",
    ),
    t(
        "rewarm",
        "cold",
        "remember_thread",
        "saw something that made me think of {what_theyre_building} — still working on that?",
        "shows you remembered what they were building",
    ),
    t(
        "rewarm",
        "cold",
        "simple_hello",
        "hey {first_name}, been a minute! how've things been?",
        "a plain hello, nothing to live up to",
    ),
];

/// A `fit_signals` row: the phrase a contact says that fits a product, and the offer
/// to make when it repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FitSignal {
    pub product: &'static str,
    pub signal_key: &'static str,
    pub signal_description: &'static str,
    pub offer_template: &'static str,
}

const fn f(
    product: &'static str,
    signal_key: &'static str,
    signal_description: &'static str,
    offer_template: &'static str,
) -> FitSignal {
    FitSignal {
        product,
        signal_key,
        signal_description,
        offer_template,
    }
}

/// The first of each product is 001's example, verbatim.
pub const FIT_SIGNALS: &[FitSignal] = &[
    f(
        "everreach",
        "follow_up_messy",
        "I keep forgetting to follow up",
        "i built a relationship OS for this—want a quick look when it's ready?",
    ),
    f(
        "everreach",
        "lost_in_dms",
        "I lose track of people in my DMs",
        "i keep every dm thread and who's waiting on a reply in one place—want a peek at how?",
    ),
    f(
        "everreach",
        "spreadsheet_crm",
        "I'm tracking everyone in a spreadsheet",
        "spreadsheets get messy fast. want to see how i keep context on every person without one?",
    ),
    f(
        "everreach",
        "forgot_context",
        "I never remember what we talked about last time",
        "i keep a little context card for everyone i talk to—want me to show you how it works?",
    ),
    f(
        "matrixloop",
        "content_not_converting",
        "My posts aren't converting",
        "want me to show you a simple way to track what's actually moving the needle?",
    ),
    f(
        "matrixloop",
        "no_idea_what_works",
        "I can't tell which posts are working",
        "want me to show you how i see which posts actually bring in replies and sales?",
    ),
    f(
        "matrixloop",
        "cross_posting_grind",
        "Posting on every platform is exhausting",
        "want to see how i turn one idea into posts for every platform without redoing it each time?",
    ),
    f(
        "keywordradar",
        "no_topics",
        "I don't know what to post",
        "want a list of topics/hooks tailored to your niche that you can post this week?",
    ),
    f(
        "keywordradar",
        "out_of_ideas",
        "I'm running out of content ideas",
        "want me to pull a few topics people in your niche are searching for right now?",
    ),
    f(
        "keywordradar",
        "hooks_fall_flat",
        "My hooks aren't landing",
        "want a handful of hooks that are working in your niche this week? happy to send them",
    ),
    f(
        "services",
        "manual_overload",
        "This is taking me forever",
        "if you want, i can either give you a quick blueprint, or build the automation with you.",
    ),
    f(
        "services",
        "no_time_to_automate",
        "I know I should automate this but I don't have time",
        "want me to map out what to automate first? takes me 20 min and you'd have a plan",
    ),
    f(
        "services",
        "tools_dont_talk",
        "My tools don't talk to each other",
        "i wire tools together a lot—want a quick sketch of how i'd connect yours?",
    ),
];

/// How many rows [`seed`] added, per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Seeded {
    pub known_handle: u64,
    pub selector: u64,
    pub skip_pattern: u64,
    pub spam_pattern: u64,
    pub next_best_actions: u64,
    pub fit_signals: u64,
}

impl Seeded {
    /// Every row of the seed: what [`seed`] adds for a tenant that has none of them.
    pub const ALL: Seeded = Seeded {
        known_handle: KNOWN_HANDLES.len() as u64,
        selector: SELECTORS.len() as u64,
        skip_pattern: SKIP_PATTERNS.len() as u64,
        spam_pattern: SPAM_PATTERNS.len() as u64,
        next_best_actions: NEXT_BEST_ACTIONS.len() as u64,
        fit_signals: FIT_SIGNALS.len() as u64,
    };

    /// Rows added to `automation_patterns`.
    pub fn patterns(&self) -> u64 {
        self.known_handle + self.selector + self.skip_pattern + self.spam_pattern
    }

    pub fn total(&self) -> u64 {
        self.patterns() + self.next_best_actions + self.fit_signals
    }
}

/// 001's automation patterns as `(pattern_type, pattern_key, pattern_value,
/// metadata)` rows.
fn pattern_rows() -> Vec<(&'static str, &'static str, &'static str, String)> {
    let plain = [
        ("known_handle", KNOWN_HANDLES),
        ("selector", SELECTORS),
        ("skip_pattern", SKIP_PATTERNS),
    ];
    let mut rows: Vec<_> = plain
        .iter()
        .flat_map(|(kind, patterns)| {
            patterns
                .iter()
                .map(move |p| (*kind, p.key, p.value, "{}".to_string()))
        })
        .collect();
    rows.extend(SPAM_PATTERNS.iter().map(|s| {
        let metadata = json!({ "action": s.action.as_str() }).to_string();
        ("spam_pattern", s.key, s.keywords, metadata)
    }));
    rows
}

/// Inserts the seed's rows the tenant does not have yet (one statement per table;
/// existing rows, edited or not, are left as they are) and records one audit row per
/// table it added to. Returns what it added.
pub async fn seed(tx: &mut TenantTx) -> DomainResult<Seeded> {
    let user_id = tx.user_id();
    let patterns = pattern_rows();
    let added_types: Vec<String> = sqlx::query_scalar(
        "INSERT INTO automation_patterns (user_id, pattern_type, pattern_key, pattern_value, metadata)
         SELECT $1, t, k, v, m::jsonb FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS u(t, k, v, m)
         ON CONFLICT (user_id, pattern_type, pattern_key) DO NOTHING
         RETURNING pattern_type",
    )
    .bind(user_id)
    .bind(patterns.iter().map(|r| r.0).collect::<Vec<_>>())
    .bind(patterns.iter().map(|r| r.1).collect::<Vec<_>>())
    .bind(patterns.iter().map(|r| r.2).collect::<Vec<_>>())
    .bind(patterns.iter().map(|r| r.3.as_str()).collect::<Vec<_>>())
    .fetch_all(&mut **tx)
    .await?;
    let count = |kind: &str| added_types.iter().filter(|t| *t == kind).count() as u64;
    let next_best_actions = sqlx::query(
        "INSERT INTO next_best_actions (user_id, lane, stage, action_key, action_text, metadata)
         SELECT $1, l, s, k, a, jsonb_build_object('why', w)
           FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS u(l, s, k, a, w)
         ON CONFLICT (user_id, lane, action_key) DO NOTHING",
    )
    .bind(user_id)
    .bind(NEXT_BEST_ACTIONS.iter().map(|t| t.lane).collect::<Vec<_>>())
    .bind(NEXT_BEST_ACTIONS.iter().map(|t| t.stage).collect::<Vec<_>>())
    .bind(NEXT_BEST_ACTIONS.iter().map(|t| t.action_key).collect::<Vec<_>>())
    .bind(NEXT_BEST_ACTIONS.iter().map(|t| t.action_text).collect::<Vec<_>>())
    .bind(NEXT_BEST_ACTIONS.iter().map(|t| t.why).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    let fit_signals = sqlx::query(
        "INSERT INTO fit_signals (user_id, product, signal_key, signal_description, offer_template)
         SELECT $1, p, k, d, o FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS u(p, k, d, o)
         ON CONFLICT (user_id, product, signal_key) DO NOTHING",
    )
    .bind(user_id)
    .bind(FIT_SIGNALS.iter().map(|s| s.product).collect::<Vec<_>>())
    .bind(FIT_SIGNALS.iter().map(|s| s.signal_key).collect::<Vec<_>>())
    .bind(FIT_SIGNALS.iter().map(|s| s.signal_description).collect::<Vec<_>>())
    .bind(FIT_SIGNALS.iter().map(|s| s.offer_template).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    let seeded = Seeded {
        known_handle: count("known_handle"),
        selector: count("selector"),
        skip_pattern: count("skip_pattern"),
        spam_pattern: count("spam_pattern"),
        next_best_actions,
        fit_signals,
    };
    audit(tx, &seeded).await?;
    Ok(seeded)
}

/// One audit row per table the seed added rows to, saying how many.
async fn audit(tx: &mut TenantTx, seeded: &Seeded) -> Result<(), sqlx::Error> {
    let added = [
        (
            "automation_patterns",
            seeded.patterns(),
            json!({
                "known_handle": seeded.known_handle,
                "selector": seeded.selector,
                "skip_pattern": seeded.skip_pattern,
                "spam_pattern": seeded.spam_pattern,
            }),
        ),
        (
            "next_best_actions",
            seeded.next_best_actions,
            json!(seeded.next_best_actions),
        ),
        ("fit_signals", seeded.fit_signals, json!(seeded.fit_signals)),
    ];
    for (table, n, what) in added {
        if n > 0 {
            let row = json!({ "seeded_from": "001", "added": what });
            tx.audit(table, Operation::Insert, None, Some(&row)).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::crm::nba::unknown_placeholders;
    use crate::people::{Channel, normalize_handle};

    #[test]
    fn the_totals_are_the_seeds() {
        assert_eq!(
            Seeded::ALL,
            Seeded {
                known_handle: 35,
                selector: 7,
                skip_pattern: 5,
                spam_pattern: 3,
                next_best_actions: 20,
                fit_signals: 13,
            }
        );
        assert_eq!(Seeded::ALL.total(), 83);
        assert_eq!(pattern_rows().len(), 50);
    }

    #[test]
    fn every_unique_key_is_unique() {
        let patterns: HashSet<(&str, &str)> = pattern_rows().iter().map(|r| (r.0, r.1)).collect();
        assert_eq!(patterns.len(), 50);
        let templates: HashSet<(&str, &str)> = NEXT_BEST_ACTIONS
            .iter()
            .map(|t| (t.lane, t.action_key))
            .collect();
        assert_eq!(templates.len(), NEXT_BEST_ACTIONS.len());
        let signals: HashSet<(&str, &str)> = FIT_SIGNALS
            .iter()
            .map(|s| (s.product, s.signal_key))
            .collect();
        assert_eq!(signals.len(), FIT_SIGNALS.len());
    }

    #[test]
    fn the_seeds_examples_are_there_verbatim() {
        let patterns = pattern_rows();
        for (kind, key, value) in [
            ("known_handle", "saraheashley", "Sarah Ashley"),
            ("selector", "textbox", r#"[role="textbox"]"#),
            ("skip_pattern", "date_pattern", r"^\d{1,2}/\d{1,2}/\d{2}"),
            ("spam_pattern", "crypto", "bitcoin,crypto,invest now"),
        ] {
            assert!(
                patterns
                    .iter()
                    .any(|r| (r.0, r.1, r.2) == (kind, key, value)),
                "{kind} {key} → {value} is missing"
            );
        }
        for (lane, stage, key, text) in [
            (
                "friendship",
                "any",
                "check_in",
                "yo\u{2014}how'd that thing go from last week?",
            ),
            (
                "service",
                "context",
                "permission_to_help",
                "want ideas or just want to vent?",
            ),
            (
                "offer",
                "fit_repeats",
                "permissioned_offer",
                "want me to show you a simple way i solve that? no pressure.",
            ),
            (
                "retention",
                "post_win",
                "post_win_care",
                "how's it feeling now that ___ is live? anything still annoying?",
            ),
            (
                "rewarm",
                "cold",
                "low_friction",
                "no rush to reply \u{2014} what are you focused on this month?",
            ),
        ] {
            assert!(
                NEXT_BEST_ACTIONS
                    .iter()
                    .any(|t| (t.lane, t.stage, t.action_key, t.action_text)
                        == (lane, stage, key, text)),
                "{lane}/{key} is not 001's"
            );
        }
        for (product, key, description, offer) in [
            (
                "everreach",
                "follow_up_messy",
                "I keep forgetting to follow up",
                "i built a relationship OS for this\u{2014}want a quick look when it's ready?",
            ),
            (
                "matrixloop",
                "content_not_converting",
                "My posts aren't converting",
                "want me to show you a simple way to track what's actually moving the needle?",
            ),
            (
                "keywordradar",
                "no_topics",
                "I don't know what to post",
                "want a list of topics/hooks tailored to your niche that you can post this week?",
            ),
            (
                "services",
                "manual_overload",
                "This is taking me forever",
                "if you want, i can either give you a quick blueprint, or build the automation with you.",
            ),
        ] {
            assert!(
                FIT_SIGNALS.iter().any(|s| (
                    s.product,
                    s.signal_key,
                    s.signal_description,
                    s.offer_template
                ) == (product, key, description, offer)),
                "{product}/{key} is not 001's"
            );
        }
    }

    #[test]
    fn every_lane_has_templates_and_none_is_outside_the_lanes() {
        for lane in LANES {
            assert!(
                NEXT_BEST_ACTIONS.iter().any(|t| t.lane == *lane),
                "no template in lane {lane}"
            );
        }
        for t in NEXT_BEST_ACTIONS {
            assert!(
                LANES.contains(&t.lane),
                "{} has lane {}",
                t.action_key,
                t.lane
            );
        }
    }

    #[test]
    fn stages_are_the_seeds_words_or_relationship_stages() {
        let allowed = [
            "any",
            "context",
            "cold",
            "first_touch",
            "context_captured",
            "micro_win_delivered",
            "cadence_established",
            "trust_signals",
            "fit_repeats",
            "permissioned_offer",
            "post_win",
        ];
        for t in NEXT_BEST_ACTIONS {
            assert!(
                allowed.contains(&t.stage),
                "{}: stage {}",
                t.action_key,
                t.stage
            );
        }
    }

    #[test]
    fn every_product_has_signals_in_the_contacts_words() {
        for product in ["everreach", "matrixloop", "keywordradar", "services"] {
            assert!(FIT_SIGNALS.iter().filter(|s| s.product == product).count() >= 3);
        }
        for s in FIT_SIGNALS {
            assert!(
                s.signal_description.starts_with(|c: char| c.is_uppercase()),
                "{}: a phrase as a contact says it",
                s.signal_key
            );
            assert!(!s.offer_template.is_empty());
        }
    }

    #[test]
    fn templates_name_only_known_placeholders() {
        for t in NEXT_BEST_ACTIONS {
            assert_eq!(
                unknown_placeholders(t.action_text),
                Vec::<String>::new(),
                "{}",
                t.action_key
            );
            assert!(!t.why.is_empty(), "{} says why it fits", t.action_key);
            assert_eq!(
                t.action_text,
                t.action_text.to_lowercase(),
                "{}: lowercase voice",
                t.action_key
            );
        }
        for s in FIT_SIGNALS {
            assert_eq!(unknown_placeholders(s.offer_template), Vec::<String>::new());
        }
    }

    #[test]
    fn known_handles_are_instagram_usernames_as_stored() {
        for h in KNOWN_HANDLES {
            assert_eq!(
                normalize_handle(Channel::Instagram, h.key).as_deref(),
                Ok(h.key),
                "{} is not a normalised Instagram username",
                h.key
            );
            assert!(!h.value.trim().is_empty());
        }
    }

    #[test]
    fn selectors_have_balanced_brackets_and_quotes() {
        for s in SELECTORS {
            assert_eq!(
                s.value.matches('[').count(),
                s.value.matches(']').count(),
                "{}",
                s.key
            );
            assert_eq!(s.value.matches('"').count() % 2, 0, "{}", s.key);
        }
    }

    #[test]
    fn skip_patterns_compile_and_drop_system_lines_only() {
        let compiled: Vec<(&str, regex::Regex)> = SKIP_PATTERNS
            .iter()
            .map(|p| {
                let re = regex::Regex::new(p.value)
                    .unwrap_or_else(|e| panic!("{} does not compile: {e}", p.key));
                (p.key, re)
            })
            .collect();
        let skipped = |text: &str| compiled.iter().any(|(_, re)| re.is_match(text));
        for system in [
            "1/15/24",
            "12/3/25, 4:05 PM",
            "3:45 PM",
            "Tue 9:12 AM",
            "Yesterday 11:30 pm",
            "14:05",
            "Seen",
            "Seen just now",
            "Seen 2h ago",
            "Seen by Sarah Ashley",
            "Active now",
            "Active 5m ago",
            "Active 3 hours ago",
            "Active yesterday",
            "You sent an attachment.",
            "saraheashley sent an attachment.",
            "Sarah Ashley sent an attachment",
        ] {
            assert!(skipped(system), "{system:?} is a system line");
        }
        for message in [
            "seen that new reel?",
            "i'm active now on threads too",
            "let's talk at 3:45 PM tomorrow",
            "can you send an attachment with the deck?",
            "my landlord finally sent an attachment of the lease, lol",
            "12 things i learned this year",
        ] {
            assert!(!skipped(message), "{message:?} is someone's message");
        }
        for (key, re) in &compiled {
            assert!(!re.is_match(""), "{key} drops an empty message");
        }
    }

    #[test]
    fn spam_lists_are_lowercase_words_with_an_action() {
        for s in SPAM_PATTERNS {
            let words: Vec<&str> = s.keywords.split(',').collect();
            assert!(!words.is_empty());
            for w in words {
                assert!(
                    !w.is_empty() && w.trim() == w && w.to_lowercase() == w,
                    "{}: {w:?}",
                    s.key
                );
            }
        }
        let crypto = SPAM_PATTERNS.iter().find(|s| s.key == "crypto");
        assert_eq!(crypto.map(|s| s.action), Some(SpamAction::Flag));
        let metadata = pattern_rows()
            .into_iter()
            .find(|r| r.1 == "crypto")
            .map(|r| r.3);
        assert_eq!(metadata.as_deref(), Some(r#"{"action":"flag"}"#));
    }
}
