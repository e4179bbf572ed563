//! The user's `automation_patterns` as DM ingestion applies them (pure; the rows are
//! read in `dm.rs`):
//! - `skip_pattern`: `pattern_value` is a regular expression (Rust `regex` syntax,
//!   case-sensitive unless it says `(?i)`) tried against the whole trimmed text of
//!   every message, either direction; a match is a system line Instagram's page
//!   shows between messages (a date, "Seen", "Active now"), and it is not stored.
//! - `spam_pattern`: `pattern_value` is a comma-separated list of words or phrases,
//!   found in an incoming message ignoring case, as whole words; `metadata.action`
//!   says what then happens: `flag` (the default: stored, marked with the pattern,
//!   kept out of previews, unread counts, totals and the timeline) or `skip` (not
//!   stored). Our own messages are never spam.
//!
//! Skip patterns are tried first, then spam patterns, each in `pattern_key` order; the
//! first that matches decides. A pattern that does not compile is left out, with the
//! reason, so one bad row never stops ingestion (pattern edits are checked when made).

use regex::{Regex, RegexBuilder};
use serde_json::Value;

/// 001's four pattern types, with what each is for.
pub const PATTERN_TYPES: [(&str, &str); 4] = [
    (
        "known_handle",
        "a username and the display name it stands for",
    ),
    (
        "selector",
        "a CSS selector of Instagram's page, for extraction",
    ),
    (
        "skip_pattern",
        "a regular expression: matching lines are dropped",
    ),
    (
        "spam_pattern",
        "comma-separated phrases: matching messages are flagged or dropped",
    ),
];

/// One row of `automation_patterns`, as read.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PatternRow {
    pub pattern_type: String,
    pub pattern_key: String,
    pub pattern_value: String,
    pub metadata: Option<Value>,
}

/// What a spam pattern does to a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpamAction {
    /// Keep the message, marked as spam.
    Flag,
    /// Drop it.
    Skip,
}

impl SpamAction {
    /// As written in `metadata.action`.
    pub fn as_str(self) -> &'static str {
        match self {
            SpamAction::Flag => "flag",
            SpamAction::Skip => "skip",
        }
    }
}

#[derive(Debug, Clone)]
struct SpamRule {
    key: String,
    /// Lower-cased, trimmed, non-empty.
    phrases: Vec<String>,
    action: SpamAction,
}

/// The compiled skip and spam patterns of one user.
#[derive(Debug, Clone, Default)]
pub struct Patterns {
    skip: Vec<(String, Regex)>,
    spam: Vec<SpamRule>,
}

/// What to do with one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    /// Not stored; the pattern's key.
    Skip(String),
    /// Stored, flagged as spam; the pattern's key.
    Flag(String),
}

/// Largest compiled regular expression (bytes): a pattern is a line matcher, not a
/// program.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// Compiles a skip pattern's regular expression.
pub fn compile_skip(value: &str) -> Result<Regex, String> {
    RegexBuilder::new(value)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| e.to_string())
}

/// A spam pattern's phrases: comma-separated, lower-cased, blanks dropped.
pub fn spam_phrases(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|p| p.trim().to_lowercase())
        .filter(|p| !p.is_empty())
        .collect()
}

/// A spam pattern's action from its metadata (`{"action": "flag" | "skip"}`).
pub fn spam_action(metadata: Option<&Value>) -> Result<SpamAction, String> {
    match metadata.and_then(|m| m.get("action")) {
        None | Some(Value::Null) => Ok(SpamAction::Flag),
        Some(Value::String(s)) if s == "flag" => Ok(SpamAction::Flag),
        Some(Value::String(s)) if s == "skip" => Ok(SpamAction::Skip),
        Some(other) => Err(format!(
            "metadata.action is {other}; use \"flag\" (keep it, marked) or \"skip\" (drop it)"
        )),
    }
}

impl Patterns {
    /// Compiles the skip and spam rows (other types are ignored), returning the
    /// patterns and, for each row left out, its key and why.
    pub fn compile(rows: &[PatternRow]) -> (Patterns, Vec<(String, String)>) {
        let mut rows: Vec<&PatternRow> = rows.iter().collect();
        rows.sort_by(|a, b| a.pattern_key.cmp(&b.pattern_key));
        let mut patterns = Patterns::default();
        let mut broken = Vec::new();
        for row in rows {
            match row.pattern_type.as_str() {
                "skip_pattern" => match compile_skip(&row.pattern_value) {
                    Ok(re) => patterns.skip.push((row.pattern_key.clone(), re)),
                    Err(e) => broken.push((row.pattern_key.clone(), e)),
                },
                "spam_pattern" => {
                    let phrases = spam_phrases(&row.pattern_value);
                    match spam_action(row.metadata.as_ref()) {
                        Err(e) => broken.push((row.pattern_key.clone(), e)),
                        Ok(_) if phrases.is_empty() => {
                            broken.push((row.pattern_key.clone(), "has no phrases".into()))
                        }
                        Ok(action) => patterns.spam.push(SpamRule {
                            key: row.pattern_key.clone(),
                            phrases,
                            action,
                        }),
                    }
                }
                _ => {}
            }
        }
        (patterns, broken)
    }

    /// What happens to a message with this (trimmed) text.
    pub fn verdict(&self, text: &str, is_outbound: bool) -> Verdict {
        if let Some((key, _)) = self.skip.iter().find(|(_, re)| re.is_match(text)) {
            return Verdict::Skip(key.clone());
        }
        if is_outbound {
            return Verdict::Keep;
        }
        let lower = text.to_lowercase();
        for rule in &self.spam {
            if rule.phrases.iter().any(|p| contains_words(&lower, p)) {
                return match rule.action {
                    SpamAction::Flag => Verdict::Flag(rule.key.clone()),
                    SpamAction::Skip => Verdict::Skip(rule.key.clone()),
                };
            }
        }
        Verdict::Keep
    }
}

/// Whether `phrase` occurs in `text` with no letter or digit joined to either end
/// ("crypto" is in "crypto!" but not in "cryptography").
fn contains_words(text: &str, phrase: &str) -> bool {
    let joined = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    text.match_indices(phrase).any(|(at, m)| {
        !joined(text[..at].chars().next_back()) && !joined(text[at + m.len()..].chars().next())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(t: &str, key: &str, value: &str, metadata: Option<Value>) -> PatternRow {
        PatternRow {
            pattern_type: t.into(),
            pattern_key: key.into(),
            pattern_value: value.into(),
            metadata,
        }
    }

    fn seedlike() -> Patterns {
        let (p, broken) = Patterns::compile(&[
            row(
                "skip_pattern",
                "date_pattern",
                r"^\d{1,2}/\d{1,2}/\d{2}",
                None,
            ),
            row("skip_pattern", "seen", r"^(?i)seen$", None),
            row(
                "spam_pattern",
                "crypto",
                "bitcoin,crypto,invest now",
                Some(json!({"action": "flag"})),
            ),
            row(
                "spam_pattern",
                "giveaway",
                "you won, claim your prize",
                Some(json!({"action": "skip"})),
            ),
            row("known_handle", "saraheashley", "Sarah Ashley", None),
        ]);
        assert!(broken.is_empty(), "{broken:?}");
        p
    }

    #[test]
    fn system_lines_are_skipped_either_way() {
        let p = seedlike();
        assert_eq!(
            p.verdict("12/31/25, 9:14 PM", false),
            Verdict::Skip("date_pattern".into())
        );
        assert_eq!(p.verdict("Seen", true), Verdict::Skip("seen".into()));
        assert_eq!(p.verdict("seen it yet?", false), Verdict::Keep);
    }

    #[test]
    fn spam_is_whole_words_ignoring_case_and_only_theirs() {
        let p = seedlike();
        assert_eq!(
            p.verdict("Want to INVEST NOW? DM me", false),
            Verdict::Flag("crypto".into())
        );
        assert_eq!(p.verdict("crypto!", false), Verdict::Flag("crypto".into()));
        assert_eq!(p.verdict("I study cryptography", false), Verdict::Keep);
        assert_eq!(p.verdict("bitcoin talk", true), Verdict::Keep);
        assert_eq!(
            p.verdict("You won a trip", false),
            Verdict::Skip("giveaway".into())
        );
    }

    #[test]
    fn a_broken_row_is_left_out_with_its_reason() {
        let (p, broken) = Patterns::compile(&[
            row("skip_pattern", "bad", "(unclosed", None),
            row("spam_pattern", "empty", " , ", None),
            row(
                "spam_pattern",
                "odd",
                "x",
                Some(json!({"action": "delete"})),
            ),
            row("skip_pattern", "ok", "^ok$", None),
        ]);
        let keys: Vec<&str> = broken.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["bad", "empty", "odd"]);
        assert_eq!(p.verdict("ok", false), Verdict::Skip("ok".into()));
    }

    #[test]
    fn phrases_are_split_and_folded() {
        assert_eq!(
            spam_phrases(" Bitcoin, ,Invest Now "),
            ["bitcoin", "invest now"]
        );
        assert!(contains_words("é crypto", "crypto"));
        assert!(!contains_words("écrypto", "crypto"));
    }
}
