//! The text primitives person insights read a person's own messages with, no
//! language model: which events are their words ([`AUTHORED_TYPES`]), words for
//! interests ([`terms_of`]: lower-cased, accents kept, split at punctuation, URLs,
//! @mentions, e-mail addresses, numbers, words under 3 characters and stop words
//! left out, each kept word marked when it follows another with nothing between but
//! spaces or a hyphen), the stop-word lists (English, and Spanish, Portuguese,
//! French and German for [`language`]), emoji, and a cheap language detector (the
//! language whose function words the text uses most). docs/SCORING.md gives every
//! rule.

use std::collections::HashSet;
use std::sync::LazyLock;

/// Event types whose `content_excerpt` is the person's own words (a message, a
/// comment, an e-mail to us). A like, an open or a share carries the text of what
/// they acted on, not theirs; our own `dm_sent` / `email_sent` are ours.
pub const AUTHORED_TYPES: [&str; 9] = [
    "dm_reply",
    "dm_received",
    "commented",
    "comment",
    "comment_reply",
    "replied",
    "email_received",
    "mentioned",
    "mention",
];

/// Words that name what happened on a platform rather than a topic ("commented",
/// "replied"): notifications and imports often carry them in the excerpt, so they
/// are never interests.
pub const EVENT_WORDS: [&str; 12] = [
    "comment",
    "commented",
    "comments",
    "liked",
    "mention",
    "mentioned",
    "mentions",
    "messaged",
    "replied",
    "replies",
    "reply",
    "replying",
];

/// Shortest word kept for interests, in characters.
pub const MIN_WORD_CHARS: usize = 3;

/// English stop words (function words, and chat words that say nothing of a topic),
/// all of [`MIN_WORD_CHARS`] or more: shorter words are left out anyway.
#[rustfmt::skip]
pub const ENGLISH_STOP_WORDS: &[&str] = &[
    "about", "above", "after", "again", "against", "ain't", "all", "also", "always", "am", "and",
    "any", "anyone", "anything", "are", "aren't", "around", "awesome", "back", "because", "been",
    "before", "being", "below", "best", "better", "between", "both", "but", "bye", "can", "can't",
    "cannot", "cheers", "come", "cool", "could", "couldn't", "day", "dear", "did", "didn't",
    "does", "doesn't", "doing", "don't", "done", "down", "during", "each", "else", "even", "ever",
    "every", "few", "for", "from", "further", "get", "gets", "getting", "give", "going", "gonna",
    "good", "got", "great", "had", "hadn't", "haha", "hahaha", "has", "hasn't", "have", "haven't",
    "having", "he'd", "he'll", "he's", "hello", "her", "here", "here's", "hers", "herself", "hey",
    "him", "himself", "his", "how", "how's", "i'd", "i'll", "i'm", "i've", "into", "isn't", "it's",
    "its", "itself", "just", "know", "let", "let's", "like", "lol", "love", "loved", "ready",
    "send", "talk", "useful", "look", "lot", "lots", "make", "many", "may", "maybe", "more",
    "most", "much", "must", "mustn't", "myself", "need", "new", "next", "nice", "nor", "not",
    "now", "off", "okay", "omg", "once", "one", "only", "other", "ought", "our", "ours",
    "ourselves", "out", "over", "own", "please", "pls", "really", "regards", "right", "said",
    "same", "say", "see", "shall", "shan't", "she", "she'd", "she'll", "she's", "should",
    "shouldn't", "since", "some", "something", "soon", "still", "such", "sure", "take", "than",
    "thank", "thanks", "that", "that's", "thats", "the", "their", "theirs", "them", "themselves",
    "then", "there", "there's", "these", "they", "they'd", "they'll", "they're", "they've",
    "thing", "things", "think", "this", "those", "though", "through", "thx", "time", "today",
    "too", "under", "until", "upon", "very", "via", "want", "was", "wasn't", "way", "we'd",
    "we'll", "we're", "we've", "well", "were", "weren't", "what", "what's", "when", "when's",
    "where", "where's", "which", "while", "who", "who's", "whom", "why", "why's", "will", "wow",
    "with", "won't", "would", "wouldn't", "yeah", "yes", "yet", "yep", "you", "you'd", "you'll",
    "you're", "you've", "your", "yours", "yourself", "yourselves",
];

/// Function words per language, for [`language`] and, in the person's language
/// besides English, for interests. Short words are listed too (the detector counts
/// every word).
#[rustfmt::skip]
pub const LANGUAGES: [(&str, &[&str]); 5] = [
    ("en", &[
        "the", "and", "you", "that", "this", "with", "for", "are", "was", "have", "what", "your",
        "but", "not", "just", "from", "they", "will", "would", "can", "about", "how", "there",
        "been", "our", "it", "is", "of", "to", "in", "i", "my", "me", "we", "be", "on", "at", "so",
        "if", "do", "an", "or", "thanks", "hi", "hey",
    ]),
    ("es", &[
        "que", "el", "los", "las", "del", "y", "por", "para", "con", "una", "es", "muy", "pero",
        "mi", "te", "lo", "se", "su", "al", "más", "como", "gracias", "hola", "está", "estoy",
        "tengo", "qué", "también", "sí", "yo", "eso", "esto", "bien", "hay", "ya", "saludos",
        "buenos", "buenas", "días", "estimado", "estimada", "atentamente", "cordiales", "sobre",
        "encanta", "gusta", "este", "esta",
    ]),
    ("pt", &[
        "que", "não", "uma", "um", "com", "para", "por", "é", "os", "do", "da", "dos", "das", "em",
        "no", "na", "mas", "muito", "você", "vocês", "obrigado", "obrigada", "olá", "está",
        "estou", "tenho", "isso", "também", "sim", "eu", "meu", "minha", "bem", "oi", "tudo",
        "abraço", "abraços", "atenciosamente", "prezado", "prezada", "bom", "boa", "sobre", "pelo",
        "pela", "gosto", "este", "esta",
    ]),
    ("fr", &[
        "le", "les", "des", "et", "un", "une", "est", "je", "tu", "vous", "nous", "pas", "pour",
        "qui", "dans", "sur", "avec", "mais", "très", "merci", "bonjour", "c", "j", "l", "d", "ce",
        "cette", "ça", "oui", "mon", "ma", "suis", "avez", "salut", "au", "cordialement", "bonne",
        "journée", "content", "contente",
    ]),
    ("de", &[
        "der", "die", "das", "und", "ich", "du", "sie", "wir", "ist", "nicht", "ein", "eine",
        "mit", "für", "auf", "zu", "den", "dem", "auch", "aber", "sehr", "danke", "hallo", "bin",
        "habe", "wie", "was", "es", "noch", "mein", "meine", "ja", "gut", "ihr", "bitte", "grüße",
        "viele", "liebe", "geehrte", "über", "mag",
    ]),
];

/// Fewest function words of the winning language for [`language`] to name it.
pub const MIN_LANGUAGE_HITS: usize = 3;
/// Least share of all words that must be the winning language's function words.
pub const MIN_LANGUAGE_SHARE: f64 = 0.10;

static ENGLISH: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| ENGLISH_STOP_WORDS.iter().copied().collect());

static FUNCTION_WORDS: LazyLock<Vec<(&'static str, HashSet<&'static str>)>> = LazyLock::new(|| {
    LANGUAGES
        .iter()
        .map(|(code, words)| (*code, words.iter().copied().collect()))
        .collect()
});

/// Whether `word` (lower-case) is a stop word for interests: English, an
/// [`EVENT_WORDS`] word, or a function word of `language` (a code of [`LANGUAGES`]; others add nothing).
pub fn is_stop_word(word: &str, language: &str) -> bool {
    ENGLISH.contains(word)
        || EVENT_WORDS.contains(&word)
        || (language != "en"
            && FUNCTION_WORDS
                .iter()
                .any(|(code, words)| *code == language && words.contains(word)))
}

/// One word kept for interests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub word: String,
    /// The word before it was kept too, with only spaces or a hyphen between: the
    /// two make a phrase (a bigram).
    pub joined: bool,
}

/// Whether a whitespace-separated chunk is a link, an @mention or an e-mail address.
fn is_link_or_handle(chunk: &str) -> bool {
    let lower = chunk.to_lowercase();
    lower.starts_with("http://")
        || lower.starts_with("https://")
        || lower.starts_with("www.")
        || lower.contains("://")
        || chunk.starts_with('@')
        || chunk
            .find('@')
            .is_some_and(|at| at > 0 && chunk[at..].contains('.'))
}

fn is_apostrophe(c: char) -> bool {
    c == '\'' || c == '\u{2019}'
}

/// The raw words of a chunk with what separates each from the one before:
/// `(word, joined)` where `joined` is false after any punctuation or symbol other
/// than a hyphen.
fn chunk_words(chunk: &str, out: &mut Vec<(String, bool)>, mut joined: bool) {
    let chars: Vec<char> = chunk.chars().collect();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let inner_apostrophe = is_apostrophe(c)
            && !word.is_empty()
            && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric());
        if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else if inner_apostrophe {
            word.push('\'');
        } else {
            if !word.is_empty() {
                out.push((std::mem::take(&mut word), joined));
                joined = true;
            }
            // a hyphen or a leading '#' keeps a phrase together; anything else ends it
            if !(c == '-' || (c == '#' && i == 0)) {
                joined = false;
            }
        }
    }
    if !word.is_empty() {
        out.push((word, joined));
    }
}

/// The words of `text` for interests (see the module doc), in order, each marked
/// whether it continues a phrase. `language` adds that language's function words to
/// the English stop words.
pub fn terms_of(text: &str, language: &str) -> Vec<Term> {
    let mut raw: Vec<(String, bool)> = Vec::new();
    let mut joined = false;
    for chunk in text.split_whitespace() {
        if is_link_or_handle(chunk) {
            joined = false;
            continue;
        }
        let before = raw.len();
        chunk_words(chunk, &mut raw, joined);
        // a chunk ending in punctuation ("word," "word.") breaks the phrase
        joined = raw.len() > before
            && chunk
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '-');
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut previous_kept = false;
    for (mut word, joined) in raw {
        if let Some(stem) = word.strip_suffix("'s") {
            word = stem.to_string();
        }
        let keep = word.chars().count() >= MIN_WORD_CHARS
            && word.chars().any(char::is_alphabetic)
            && !is_stop_word(&word, language);
        if keep {
            out.push(Term {
                word,
                joined: joined && previous_kept,
            });
        }
        previous_kept = keep;
    }
    out
}

/// Whether `c` is an emoji (the pictographic blocks, dingbats and symbols).
pub fn is_emoji(c: char) -> bool {
    matches!(u32::from(c),
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF)
}

/// Text emoticons counted as emoji.
pub const EMOTICONS: [&str; 10] = [
    ":)", ":-)", ";)", ";-)", ":D", ":-D", ":(", ":-(", ":P", "<3",
];

/// Whether `text` has an emoji or an emoticon.
pub fn has_emoji(text: &str) -> bool {
    text.chars().any(is_emoji) || EMOTICONS.iter().any(|e| text.contains(e))
}

/// Every word of `text`, lower-cased, split at anything that is not a letter (so
/// "c'est" is "c" and "est"): what [`language`] counts.
pub fn plain_words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// The language of `texts` by function words: the code of [`LANGUAGES`] whose
/// words make up the most of the text, if at least [`MIN_LANGUAGE_HITS`] and
/// [`MIN_LANGUAGE_SHARE`] of all words, and strictly more than any other language;
/// else "unknown".
pub fn language<'a>(texts: impl IntoIterator<Item = &'a str>) -> &'static str {
    let mut hits = [0usize; LANGUAGES.len()];
    let mut words = 0usize;
    for text in texts {
        for w in plain_words(text) {
            words += 1;
            for (i, (_, set)) in FUNCTION_WORDS.iter().enumerate() {
                if set.contains(w.as_str()) {
                    hits[i] += 1;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..LANGUAGES.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(hits[i]));
    let (best, second) = (hits[order[0]], hits[order[1]]);
    if best >= MIN_LANGUAGE_HITS
        && best > second
        && best as f64 >= MIN_LANGUAGE_SHARE * words as f64
    {
        LANGUAGES[order[0]].0
    } else {
        "unknown"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<(String, bool)> {
        terms_of(text, "en")
            .into_iter()
            .map(|t| (t.word, t.joined))
            .collect()
    }

    fn want(list: &[(&str, bool)]) -> Vec<(String, bool)> {
        list.iter().map(|(w, j)| (w.to_string(), *j)).collect()
    }

    #[test]
    fn words_are_lower_cased_with_accents_kept_and_noise_left_out() {
        assert_eq!(
            words(
                "Loving the new Café menu! See https://x.io/menu @maria or maria@example.com, 2024 ok"
            ),
            want(&[("loving", false), ("café", false), ("menu", true)])
        );
        // numbers and short words go; a word with digits and letters stays
        assert_eq!(
            words("b2b 42 ai ux 3d printing"),
            want(&[("b2b", false), ("printing", false)])
        );
        // possessive 's dropped, contractions are stop words
        assert_eq!(
            words("Maria's studio, don't worry"),
            want(&[("maria", false), ("studio", true), ("worry", false)])
        );
    }

    #[test]
    fn phrases_join_across_spaces_and_hyphens_but_not_punctuation_or_dropped_words() {
        assert_eq!(
            words("email marketing, growth-hacking and #seo tips. content strategy"),
            want(&[
                ("email", false),
                ("marketing", true),
                ("growth", false),
                ("hacking", true),
                ("seo", false),
                ("tips", true),
                ("content", false),
                ("strategy", true),
            ])
        );
        assert_eq!(
            words("pottery 😍 classes"),
            want(&[("pottery", false), ("classes", false)])
        );
    }

    #[test]
    fn stop_words_of_the_persons_language_go_too() {
        assert!(is_stop_word("about", "en"));
        assert!(!is_stop_word("para", "en"));
        assert!(is_stop_word("para", "es"));
        assert!(is_stop_word("about", "es"), "English always");
        assert_eq!(
            terms_of("gracias por la clase de cerámica", "es")
                .into_iter()
                .map(|t| t.word)
                .collect::<Vec<_>>(),
            vec!["clase".to_string(), "cerámica".into()]
        );
    }

    #[test]
    fn emoji_and_emoticons() {
        assert!(has_emoji("love it 😍"));
        assert!(has_emoji("sure :)"));
        assert!(has_emoji("☕ soon"));
        assert!(!has_emoji("Dear team, thank you."));
    }

    #[test]
    fn language_by_function_words() {
        assert_eq!(
            language(["Thanks, I think this is what we need for the shop"]),
            "en"
        );
        assert_eq!(
            language(["Hola, gracias por la información, es muy útil para mi tienda"]),
            "es"
        );
        assert_eq!(
            language(["Olá, muito obrigado, não tenho tempo hoje mas você é ótimo"]),
            "pt"
        );
        assert_eq!(
            language(["Bonjour, merci pour le message, je suis très content"]),
            "fr"
        );
        assert_eq!(
            language(["Hallo, danke für die Nachricht, ich bin sehr froh und gut"]),
            "de"
        );
        assert_eq!(language(["👍"]), "unknown", "no words");
        assert_eq!(
            language(["pottery ceramics kiln glaze"]),
            "unknown",
            "no function words"
        );
        assert_eq!(language(["the"]), "unknown", "too few");
    }
}
