//! Fit signals (seed 001's `fit_signals`), pure: a contact's own messages matched
//! against each active signal's `signal_description` — the words a person with that
//! need says ("I keep forgetting to follow up") — ignoring case and punctuation:
//! - **phrase**: the description's words appear in the message in order;
//! - **fuzzy**: enough of its content words (stop words left out) appear in any
//!   order, a word matching another when their stems agree ("forgetting" and
//!   "forget"), one starts the other (at least 4 letters), or, from 5 letters, one
//!   letter differs (a typo). Enough: at least 2 and two thirds of them; a
//!   description of one content word needs that word.
//!
//! A hit counts distinct messages, which is what `fit_repeats` reads (2 or more).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One active row of `fit_signals`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FitSignal {
    pub product: String,
    pub signal_key: String,
    pub signal_description: String,
    pub offer_template: Option<String>,
}

/// A signal found in a contact's messages; stored in `instagram_contacts.fit_signals`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FitHit {
    pub product: String,
    pub signal_key: String,
    pub signal_description: String,
    pub offer_template: Option<String>,
    /// The distinct messages it appears in, oldest first.
    pub message_ids: Vec<Uuid>,
}

/// Words that carry no need of their own.
const STOP_WORDS: [&str; 40] = [
    "a", "about", "all", "am", "an", "and", "are", "at", "be", "but", "by", "do", "for", "from",
    "get", "have", "i", "im", "in", "is", "it", "its", "just", "me", "my", "of", "on", "or", "so",
    "that", "the", "this", "to", "too", "up", "was", "what", "with", "you", "your",
];

/// Lower-cased words, punctuation dropped (an apostrophe joins: "don't" → "dont").
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            word.push(c);
        } else if c == '\'' || c == '’' {
            continue;
        } else if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// A crude English stem: a plural or verb ending and a final `e` dropped.
fn stem(word: &str) -> &str {
    let mut w = word;
    for suffix in ["ing", "ed", "es", "s"] {
        if w.len() > suffix.len() + 2
            && let Some(s) = w.strip_suffix(suffix)
        {
            w = s;
            break;
        }
    }
    if w.len() > 3 {
        w.strip_suffix('e').unwrap_or(w)
    } else {
        w
    }
}

/// Whether two words differ by at most one letter (substitution, insertion or
/// deletion).
fn one_edit(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let (short, long) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    if long.len() - short.len() > 1 {
        return false;
    }
    let mut i = 0;
    while i < short.len() && short[i] == long[i] {
        i += 1;
    }
    if short.len() == long.len() {
        short[i + 1..] == long[i + 1..] || i == short.len()
    } else {
        short[i..] == long[i + 1..]
    }
}

/// Whether two words are the same word for matching.
fn alike(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (sa, sb) = (stem(a), stem(b));
    if sa == sb {
        return true;
    }
    let (short, long) = if sa.len() <= sb.len() {
        (sa, sb)
    } else {
        (sb, sa)
    };
    (short.chars().count() >= 4 && long.starts_with(short))
        || (a.chars().count() >= 5 && b.chars().count() >= 5 && one_edit(a, b))
}

/// Whether a message (its [`tokens`]) says what a description (its tokens) says.
pub fn matches(description: &[String], message: &[String]) -> bool {
    if description.is_empty() || message.is_empty() {
        return false;
    }
    // phrase: the description's words in order, side by side
    if message.len() >= description.len()
        && message
            .windows(description.len())
            .any(|w| w.iter().zip(description).all(|(m, d)| m == d))
    {
        return true;
    }
    let content: Vec<&String> = description
        .iter()
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .collect();
    let found = content
        .iter()
        .filter(|d| message.iter().any(|m| alike(d, m)))
        .count();
    match content.len() {
        0 => false,
        1 => found == 1 && content[0].chars().count() >= 4,
        n => found >= 2 && found * 3 >= n * 2,
    }
}

/// The signals found in `messages` (`(id, text)`, theirs, oldest first), most
/// repeated first.
pub fn hits(signals: &[FitSignal], messages: &[(Uuid, &str)]) -> Vec<FitHit> {
    let texts: Vec<(Uuid, Vec<String>)> = messages.iter().map(|(id, t)| (*id, tokens(t))).collect();
    let mut found: Vec<FitHit> = signals
        .iter()
        .filter_map(|s| {
            let d = tokens(&s.signal_description);
            let mut ids: Vec<Uuid> = texts
                .iter()
                .filter(|(_, m)| matches(&d, m))
                .map(|(id, _)| *id)
                .collect();
            ids.dedup();
            (!ids.is_empty()).then(|| FitHit {
                product: s.product.clone(),
                signal_key: s.signal_key.clone(),
                signal_description: s.signal_description.clone(),
                offer_template: s.offer_template.clone(),
                message_ids: ids,
            })
        })
        .collect();
    found.sort_by(|a, b| {
        b.message_ids
            .len()
            .cmp(&a.message_ids.len())
            .then_with(|| (&a.product, &a.signal_key).cmp(&(&b.product, &b.signal_key)))
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn says(description: &str, message: &str) -> bool {
        matches(&tokens(description), &tokens(message))
    }

    #[test]
    fn phrases_match_ignoring_case_and_punctuation() {
        assert!(says(
            "I keep forgetting to follow up",
            "ugh, I KEEP forgetting to follow-up!!"
        ));
        assert!(says(
            "I don't know what to post",
            "honestly i dont know what to post lol"
        ));
    }

    #[test]
    fn fuzzy_matches_take_stems_prefixes_and_typos() {
        assert!(says(
            "I keep forgetting to follow up",
            "i always forget to follow up with people"
        ));
        assert!(says("This is taking me forever", "this takes forever"));
        assert!(says(
            "My posts aren't converting",
            "none of my post are convertng"
        ));
        assert!(!says("My posts aren't converting", "loved your post"));
        assert!(!says("I keep forgetting to follow up", "follow me"));
        assert!(
            !says("This is taking me forever", "forever young"),
            "one of two content words is not enough"
        );
    }

    #[test]
    fn one_letter_apart() {
        assert!(one_edit("convertng", "converting"));
        assert!(one_edit("posts", "pasts"));
        assert!(!one_edit("post", "pasta"));
    }

    #[test]
    fn hits_count_distinct_messages_most_repeated_first() {
        let signals = [
            FitSignal {
                product: "everreach".into(),
                signal_key: "follow_up_messy".into(),
                signal_description: "I keep forgetting to follow up".into(),
                offer_template: None,
            },
            FitSignal {
                product: "keywordradar".into(),
                signal_key: "no_topics".into(),
                signal_description: "I don't know what to post".into(),
                offer_template: None,
            },
        ];
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let found = hits(
            &signals,
            &[
                (
                    a,
                    "no idea what to post this week, i don't know what to post",
                ),
                (
                    b,
                    "forgot to follow up again. i keep forgetting to follow up",
                ),
                (c, "i keep forgetting to follow up with leads"),
            ],
        );
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].signal_key, "follow_up_messy");
        assert_eq!(found[0].message_ids, [b, c]);
        assert_eq!(
            found[1].message_ids,
            [a],
            "one message, however often it says it"
        );
    }
}
