//! Tone preferences: how a person writes, from their own messages, no language
//! model — formality (greetings, contractions, capitals, chat words), emoji use,
//! message length, question rate and language ([`super::text::language`]), each
//! a figure kept beside the labels it gives. docs/SCORING.md gives every threshold.

use serde::Serialize;

use super::text::{has_emoji, language};

/// Fewest messages for labels (fewer say too little; the figures are kept).
pub const MIN_MESSAGES_FOR_LABELS: usize = 3;
/// Formality at or above this is "formal", at or below [`CASUAL_AT`] "casual".
pub const FORMAL_AT: f64 = 0.6;
pub const CASUAL_AT: f64 = 0.4;
/// Share of messages with an emoji from which the label "emoji" is given.
pub const EMOJI_AT: f64 = 0.3;
/// Share of messages asking something from which the label "inquisitive" is given.
pub const QUESTIONS_AT: f64 = 0.3;
/// Median length (characters) under which messages are "short-form", over which
/// [`LONG_OVER`] "long-form"; between, "medium-form".
pub const SHORT_UNDER: usize = 60;
pub const LONG_OVER: usize = 240;

/// Greetings and closings of formal writing (lower-case; matched as whole words
/// or phrases at word boundaries).
pub const FORMAL_MARKERS: &[&str] = &[
    "dear",
    "good morning",
    "good afternoon",
    "good evening",
    "greetings",
    "regards",
    "sincerely",
    "respectfully",
    "kind regards",
    "best regards",
    "estimado",
    "estimada",
    "prezado",
    "prezada",
    "atenciosamente",
    "atentamente",
    "saludos cordiales",
    "cordialmente",
    "cordialement",
    "madame",
    "monsieur",
    "sehr geehrte",
    "sehr geehrter",
    "mit freundlichen",
];

/// Casual greetings and chat words (lower-case whole words).
pub const CASUAL_MARKERS: &[&str] = &[
    "hey", "hi", "hiya", "heya", "yo", "sup", "lol", "haha", "hahaha", "omg", "btw", "thx", "pls",
    "plz", "gonna", "wanna", "gotta", "yeah", "yep", "nope", "cool", "awesome", "xd", "jaja",
    "kkk", "rs", "coucou", "salut", "hola", "oi",
];

/// Contractions that are never a possessive (other `'s` words may be one).
const S_CONTRACTIONS: [&str; 10] = [
    "it's", "that's", "what's", "let's", "he's", "she's", "there's", "here's", "who's", "where's",
];

/// Whether `word` (lower-case, `'` apostrophes) is an English contraction.
pub fn is_contraction(word: &str) -> bool {
    ["n't", "'m", "'re", "'ve", "'ll", "'d"]
        .iter()
        .any(|s| word.ends_with(s) && word.len() > s.len())
        || S_CONTRACTIONS.contains(&word)
}

/// The words of a message for markers: lower-case, apostrophes kept inside words.
fn marker_words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace('\u{2019}', "'")
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\'').to_string())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Whether the words hold `marker` (a word or a phrase of words).
fn has_marker(words: &[String], marker: &str) -> bool {
    let parts: Vec<&str> = marker.split(' ').collect();
    words
        .windows(parts.len())
        .any(|w| w.iter().zip(&parts).all(|(a, b)| a == b))
}

/// Formality of one message from 0 (casual) to 1 (formal): formal signals ÷ all
/// signals, 0.5 when there are none. Formal: it starts with a capital letter; it
/// ends with `.`, `!` or `?`; a formal greeting or closing. Casual: it starts with
/// a lower-case letter; a contraction; a casual greeting or chat word; an emoji;
/// `!!` or `??`.
pub fn message_formality(text: &str) -> f64 {
    let text = text.trim();
    let words = marker_words(text);
    let (mut formal, mut casual) = (0u32, 0u32);
    match text.chars().find(|c| c.is_alphabetic()) {
        Some(c) if c.is_uppercase() => formal += 1,
        Some(c) if c.is_lowercase() => casual += 1,
        _ => {}
    }
    if text.ends_with(['.', '!', '?']) && !text.ends_with("!!") && !text.ends_with("??") {
        formal += 1;
    }
    if FORMAL_MARKERS.iter().any(|m| has_marker(&words, m)) {
        formal += 1;
    }
    if words.iter().any(|w| is_contraction(w)) {
        casual += 1;
    }
    if CASUAL_MARKERS.iter().any(|m| has_marker(&words, m)) {
        casual += 1;
    }
    if has_emoji(text) {
        casual += 1;
    }
    if text.contains("!!") || text.contains("??") {
        casual += 1;
    }
    if formal + casual == 0 {
        0.5
    } else {
        f64::from(formal) / f64::from(formal + casual)
    }
}

/// Whether a message asks something.
pub fn asks(text: &str) -> bool {
    text.contains('?') || text.contains('¿')
}

/// The median of `values` (the mean of the two middle ones, rounded down, when
/// their number is even); 0 for none.
pub fn median(values: &mut [usize]) -> usize {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2
    }
}

/// `person_insights.tone_preferences`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tone {
    /// formal or casual (or neither), emoji, short-form / medium-form / long-form,
    /// inquisitive — only from [`MIN_MESSAGES_FOR_LABELS`] messages on.
    pub labels: Vec<&'static str>,
    /// Mean of [`message_formality`], 2 decimals.
    pub formality: f64,
    /// Share of messages with an emoji or emoticon, 2 decimals.
    pub emoji_rate: f64,
    /// Median length in characters.
    pub median_chars: usize,
    /// Share of messages with a question mark, 2 decimals.
    pub question_rate: f64,
    /// en, es, pt, fr, de or unknown.
    pub language: &'static str,
    /// Messages these figures come from.
    pub messages: usize,
}

fn two_decimals(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The tone of `messages` (each one event's text; blank ones are not messages);
/// `None` when there is none.
pub fn tone(messages: &[&str]) -> Option<Tone> {
    let messages: Vec<&str> = messages
        .iter()
        .map(|m| m.trim())
        .filter(|m| !m.is_empty())
        .collect();
    let n = messages.len();
    if n == 0 {
        return None;
    }
    let share = |k: usize| two_decimals(k as f64 / n as f64);
    let formality =
        two_decimals(messages.iter().map(|m| message_formality(m)).sum::<f64>() / n as f64);
    let emoji_rate = share(messages.iter().filter(|m| has_emoji(m)).count());
    let question_rate = share(messages.iter().filter(|m| asks(m)).count());
    let mut lengths: Vec<usize> = messages.iter().map(|m| m.chars().count()).collect();
    let median_chars = median(&mut lengths);
    let mut labels = Vec::new();
    if n >= MIN_MESSAGES_FOR_LABELS {
        if formality >= FORMAL_AT {
            labels.push("formal");
        } else if formality <= CASUAL_AT {
            labels.push("casual");
        }
        if emoji_rate >= EMOJI_AT {
            labels.push("emoji");
        }
        labels.push(if median_chars < SHORT_UNDER {
            "short-form"
        } else if median_chars > LONG_OVER {
            "long-form"
        } else {
            "medium-form"
        });
        if question_rate >= QUESTIONS_AT {
            labels.push("inquisitive");
        }
    }
    Some(Tone {
        labels,
        formality,
        emoji_rate,
        median_chars,
        question_rate,
        language: language(messages.iter().copied()),
        messages: n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formality_of_one_message_from_its_signals() {
        // capital, full stop, "Dear", "regards": 3 formal, nothing casual
        assert_eq!(
            message_formality("Dear Ana, thank you for the proposal. Kind regards."),
            1.0
        );
        // lower-case start, "hey", a contraction, an emoji, "!!": all casual
        assert_eq!(message_formality("hey i'm in!! 🎉"), 0.0);
        // capital start (formal) and "lol" (casual), no end punctuation
        assert_eq!(message_formality("Sounds fun lol"), 0.5);
        assert_eq!(message_formality("👍"), 0.0, "an emoji alone is casual");
        assert_eq!(message_formality("12345"), 0.5, "no signal");
    }

    #[test]
    fn contractions_but_not_possessives() {
        assert!(is_contraction("don't"));
        assert!(is_contraction("i'm"));
        assert!(is_contraction("it's"));
        assert!(!is_contraction("maria's"));
        assert!(!is_contraction("'ll"));
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut []), 0);
        assert_eq!(median(&mut [5, 1, 3]), 3);
        assert_eq!(median(&mut [4, 1, 3, 10]), 3);
    }

    #[test]
    fn a_casual_emoji_short_writer() {
        let t = tone(&[
            "hey love this 😍",
            "omg yes!! when's the next one?",
            "haha cool",
            "   ",
        ])
        .unwrap();
        assert_eq!(t.messages, 3, "blank text is not a message");
        assert_eq!(t.labels, ["casual", "emoji", "short-form", "inquisitive"]);
        assert_eq!(t.emoji_rate, 0.33);
        assert_eq!(t.question_rate, 0.33);
        assert_eq!(t.median_chars, 15);
        assert_eq!(t.language, "en", "hey, this, the: 3 of 12 words");
        assert!(t.formality <= CASUAL_AT);
    }

    #[test]
    fn a_formal_long_writer_in_english() {
        let long = "Dear team, thank you for the detailed proposal you sent over last week. \
                    We have reviewed it with our board and would like to schedule a call to \
                    discuss the pricing, the delivery timeline and the support terms in more \
                    detail. Kind regards, Maria.";
        let t = tone(&[long, long, long]).unwrap();
        assert_eq!(t.labels, ["formal", "long-form"]);
        assert_eq!(t.formality, 1.0);
        assert_eq!(t.language, "en");
        assert_eq!((t.emoji_rate, t.question_rate), (0.0, 0.0));
    }

    #[test]
    fn few_messages_keep_figures_without_labels() {
        let t = tone(&["Hola, gracias por la información, es muy útil para mi tienda."]).unwrap();
        assert!(t.labels.is_empty());
        assert_eq!(t.language, "es");
        assert_eq!(t.messages, 1);
        assert_eq!(tone(&[]), None);
        assert_eq!(tone(&[" "]), None);
    }
}
