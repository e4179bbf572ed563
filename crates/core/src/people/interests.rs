//! Interests: the words and two-word phrases a person writes most, weighted by how
//! rare they are among the tenant's people (TF-IDF), no language model. A person's
//! terms come from their own messages ([`super::text::terms_of`]); their document
//! frequency is the number of people of the tenant whose messages hold the term,
//! kept per tenant in `person_term_df` (maintained by triggers on
//! `person_insights.terms`, the distinct terms of each person, so it is exact at
//! every commit); [`df_changes`] is what a recompute will add to it, so everyone of
//! one recompute is weighted against the same counts. docs/SCORING.md gives the
//! formulas.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use super::text::terms_of;

/// Interests stored per person.
pub const TOP_INTERESTS: usize = 8;
/// A term must be in at least this many of a person's messages to be an interest…
pub const MIN_TERM_EVENTS: u32 = 2;
/// …once they have this many messages (with fewer, one is enough).
pub const REPEATS_FROM_MESSAGES: usize = 3;
/// The `person_term_df` row counting the people who have any term at all (the N of
/// the inverse document frequency): no word is empty.
pub const EVERYONE: &str = "";

/// How often a person used a term.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    /// Occurrences in all their messages (term frequency).
    pub tf: u32,
    /// Messages (events) holding it.
    pub events: u32,
}

/// The terms of `messages` (each one event's text) in `language`: every kept word
/// (a unigram) and every two kept words that join (a bigram, "email marketing"),
/// with their counts, A to Z.
pub fn count_terms<'a>(
    messages: impl IntoIterator<Item = &'a str>,
    language: &str,
) -> BTreeMap<String, Count> {
    let mut counts: BTreeMap<String, Count> = BTreeMap::new();
    let mut in_message: HashSet<String> = HashSet::new();
    for message in messages {
        in_message.clear();
        let terms = terms_of(message, language);
        let mut previous: Option<&str> = None;
        for t in &terms {
            let mut add = |term: String| {
                let c = counts.entry(term.clone()).or_default();
                c.tf += 1;
                if in_message.insert(term) {
                    c.events += 1;
                }
            };
            if t.joined
                && let Some(p) = previous
            {
                add(format!("{p} {}", t.word));
            }
            add(t.word.clone());
            previous = Some(&t.word);
        }
    }
    counts
}

/// Inverse document frequency of a term `df` of `people` people hold (smoothed: a
/// term everyone holds still weighs 1).
pub fn idf(df: u64, people: u64) -> f64 {
    ((1.0 + people as f64) / (1.0 + df as f64)).ln() + 1.0
}

/// TF-IDF weight of a term used `tf` times by the person (sublinear: the tenth use
/// adds less than the second).
pub fn weight(tf: u32, df: u64, people: u64) -> f64 {
    (1.0 + f64::from(tf.max(1)).ln()) * idf(df, people)
}

/// One interest as stored in `person_insights.interests`: every figure its weight
/// is made of.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Interest {
    pub term: String,
    /// [`weight`], rounded to 3 decimals.
    pub weight: f64,
    /// Their messages holding it.
    pub events: u32,
    /// Times they used it.
    pub count: u32,
    /// People of the tenant whose messages hold it (them included).
    pub people: u64,
}

/// The person's [`TOP_INTERESTS`]-or-`n` best terms by weight (then more messages,
/// then A to Z). `messages` is how many messages the counts come from; `df` gives a
/// term's document frequency and `people` the tenant's N (both including this
/// person). A word is left out when a phrase already chosen contains it and is in
/// as many of their messages (the phrase says it better); choosing a phrase drops
/// such words chosen before it.
pub fn top_interests(
    counts: &BTreeMap<String, Count>,
    messages: usize,
    df: impl Fn(&str) -> u64,
    people: u64,
    n: usize,
) -> Vec<Interest> {
    let min_events = if messages >= REPEATS_FROM_MESSAGES {
        MIN_TERM_EVENTS
    } else {
        1
    };
    let mut ranked: Vec<Interest> = counts
        .iter()
        .filter(|(_, c)| c.events >= min_events)
        .map(|(term, c)| {
            let d = df(term).max(1);
            let people = people.max(d);
            Interest {
                term: term.clone(),
                weight: weight(c.tf, d, people),
                events: c.events,
                count: c.tf,
                people: d,
            }
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.weight
            .total_cmp(&a.weight)
            .then(b.events.cmp(&a.events))
            .then(a.term.cmp(&b.term))
    });
    let words_of =
        |phrase: &str| -> Vec<String> { phrase.split(' ').map(str::to_string).collect() };
    let mut chosen: Vec<Interest> = Vec::with_capacity(n);
    for candidate in ranked {
        if chosen.len() == n {
            break;
        }
        let is_phrase = candidate.term.contains(' ');
        if is_phrase {
            let words = words_of(&candidate.term);
            chosen.retain(|c| {
                c.term.contains(' ') || !(words.contains(&c.term) && c.events == candidate.events)
            });
        } else if chosen.iter().any(|c| {
            c.term.contains(' ')
                && c.events == candidate.events
                && words_of(&c.term).contains(&candidate.term)
        }) {
            continue;
        }
        chosen.push(candidate);
    }
    for c in &mut chosen {
        c.weight = (c.weight * 1000.0).round() / 1000.0;
    }
    chosen
}

/// What storing new term sets does to the tenant's document frequencies: per term,
/// +1 for each person who now has it and had not, −1 for each who had it and no
/// longer has; [`EVERYONE`] counts people going from no terms to some and back.
/// Each pair is `(old, new)`, both sorted and distinct. Terms whose count does not
/// change are left out.
pub fn df_changes<'a>(
    pairs: impl IntoIterator<Item = (&'a [String], &'a [String])>,
) -> HashMap<String, i64> {
    let mut out: HashMap<String, i64> = HashMap::new();
    for (old, new) in pairs {
        let (mut i, mut j) = (0, 0);
        while i < old.len() || j < new.len() {
            match (old.get(i), new.get(j)) {
                (Some(o), Some(n)) if o == n => {
                    i += 1;
                    j += 1;
                }
                (Some(o), Some(n)) if o < n => {
                    *out.entry(o.clone()).or_default() -= 1;
                    i += 1;
                }
                (Some(o), None) => {
                    *out.entry(o.clone()).or_default() -= 1;
                    i += 1;
                }
                (_, Some(n)) => {
                    *out.entry(n.clone()).or_default() += 1;
                    j += 1;
                }
                (None, None) => break,
            }
        }
        let had = i64::from(!old.is_empty());
        let has = i64::from(!new.is_empty());
        if has != had {
            *out.entry(EVERYONE.to_string()).or_default() += has - had;
        }
    }
    out.retain(|_, d| *d != 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn counts_words_and_phrases_once_per_message_for_events() {
        let c = count_terms(
            [
                "Email marketing for pottery studios",
                "email marketing, email marketing!",
                "Pottery",
            ],
            "en",
        );
        assert_eq!(c["email marketing"], Count { tf: 3, events: 2 });
        assert_eq!(c["email"], Count { tf: 3, events: 2 });
        assert_eq!(c["pottery"], Count { tf: 2, events: 2 });
        assert_eq!(c["pottery studios"], Count { tf: 1, events: 1 });
        assert!(
            !c.contains_key("marketing email"),
            "a comma breaks the phrase"
        );
        assert!(!c.contains_key("for"));
    }

    #[test]
    fn idf_and_weight_formulas() {
        assert!(
            (idf(1, 1) - 1.0).abs() < 1e-12,
            "a term everyone has weighs 1"
        );
        assert!((idf(1, 3) - (2.0_f64.ln() + 1.0)).abs() < 1e-12);
        assert!(idf(1, 1000) > idf(500, 1000));
        assert!((weight(1, 1, 1) - 1.0).abs() < 1e-12);
        assert!((weight(4, 1, 1) - (1.0 + 4.0_f64.ln())).abs() < 1e-12);
        assert!(weight(0, 1, 1) > 0.0, "a term is used at least once");
    }

    #[test]
    fn top_interests_rank_by_weight_and_prefer_rare_terms() {
        let counts: BTreeMap<String, Count> = [
            ("ceramics", Count { tf: 3, events: 3 }),
            ("shop", Count { tf: 3, events: 3 }),
            ("glaze", Count { tf: 2, events: 2 }),
            ("once", Count { tf: 1, events: 1 }),
        ]
        .into_iter()
        .map(|(t, c)| (t.to_string(), c))
        .collect();
        let df = |t: &str| match t {
            "ceramics" => 5,
            "shop" => 90,
            _ => 2,
        };
        let top = top_interests(&counts, 4, df, 100, 8);
        let terms: Vec<&str> = top.iter().map(|i| i.term.as_str()).collect();
        assert_eq!(
            terms,
            ["ceramics", "glaze", "shop"],
            "a one-off term is left out"
        );
        assert_eq!(
            top[0].weight,
            ((1.0 + 3.0_f64.ln()) * idf(5, 100) * 1000.0).round() / 1000.0
        );
        assert_eq!((top[0].events, top[0].count, top[0].people), (3, 3, 5));
        // with only two messages, one mention is enough
        assert_eq!(top_interests(&counts, 2, df, 100, 8).len(), 4);
        assert_eq!(top_interests(&counts, 4, df, 100, 1).len(), 1);
    }

    #[test]
    fn a_phrase_replaces_its_words_when_as_frequent() {
        let counts = count_terms(
            [
                "email marketing rocks",
                "email marketing again",
                "email list",
            ],
            "en",
        );
        let top = top_interests(&counts, 3, |_| 1, 10, 8);
        let terms: Vec<&str> = top.iter().map(|i| i.term.as_str()).collect();
        // "marketing" is only ever in the phrase; "email" is in a third message too
        assert_eq!(terms, ["email", "email marketing"]);
    }

    #[test]
    fn df_changes_count_people_gaining_and_losing_terms() {
        let a_old = strings(&["glaze", "kiln"]);
        let a_new = strings(&["glaze", "pottery"]);
        let b_old: Vec<String> = vec![];
        let b_new = strings(&["pottery"]);
        let c_old = strings(&["kiln"]);
        let c_new: Vec<String> = vec![];
        let d = df_changes([
            (&a_old[..], &a_new[..]),
            (&b_old[..], &b_new[..]),
            (&c_old[..], &c_new[..]),
        ]);
        assert_eq!(d.get("pottery"), Some(&2));
        assert_eq!(d.get("kiln"), Some(&-2));
        assert_eq!(d.get("glaze"), None, "unchanged");
        assert_eq!(d.get(EVERYONE), None, "one person in, one out");
        let d = df_changes([(&b_old[..], &b_new[..])]);
        assert_eq!(d.get(EVERYONE), Some(&1));
    }
}
