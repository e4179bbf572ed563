//! Handles as stored and matched: one canonical form per channel, so that
//! `UNIQUE (user_id, channel, handle)` holds on what a person *is*, not on how it
//! was typed (`@Ada`, `ada`, `https://instagram.com/ada/` are one Instagram user).
//!
//! | channel | canonical form |
//! |---|---|
//! | email | trimmed, lower-cased address |
//! | instagram, threads | username without `@`, lower-cased (letters, digits, `.`, `_`; ≤ 30) |
//! | twitter | username without `@`, lower-cased (letters, digits, `_`; ≤ 15) |
//! | tiktok | username without `@`, lower-cased (letters, digits, `.`, `_`; ≤ 24) |
//! | linkedin | `https://www.linkedin.com/in/<slug>` (lower-cased slug, no query, no slash) |
//! | youtube | `@handle` lower-cased, or a channel id `UC…` (24 characters, case kept) |
//! | facebook | username lower-cased, or the numeric id of `profile.php?id=` |
//! | bluesky | the handle's domain lower-cased (`ada.bsky.social`), or a `did:plc:`/`did:web:` DID |
//! | pinterest | username lower-cased (letters, digits, `_`; ≤ 30) |
//!
//! Profile URLs of each network are accepted and reduced to the same form.

use std::fmt;

/// 000's identities.channel values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    Email,
    Instagram,
    Linkedin,
    Twitter,
    Facebook,
    Tiktok,
    Youtube,
    Threads,
    Bluesky,
    Pinterest,
}

pub const CHANNELS: [Channel; 10] = [
    Channel::Email,
    Channel::Instagram,
    Channel::Linkedin,
    Channel::Twitter,
    Channel::Facebook,
    Channel::Tiktok,
    Channel::Youtube,
    Channel::Threads,
    Channel::Bluesky,
    Channel::Pinterest,
];

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Instagram => "instagram",
            Channel::Linkedin => "linkedin",
            Channel::Twitter => "twitter",
            Channel::Facebook => "facebook",
            Channel::Tiktok => "tiktok",
            Channel::Youtube => "youtube",
            Channel::Threads => "threads",
            Channel::Bluesky => "bluesky",
            Channel::Pinterest => "pinterest",
        }
    }

    /// A channel by its name (`x` is accepted for twitter).
    pub fn parse(text: &str) -> Result<Channel, HandleError> {
        let lower = text.trim().to_ascii_lowercase();
        if lower == "x" {
            return Ok(Channel::Twitter);
        }
        CHANNELS
            .into_iter()
            .find(|c| c.as_str() == lower)
            .ok_or(HandleError::UnknownChannel(text.to_string()))
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandleError {
    #[error(
        "{0:?} is not a channel; use one of email, instagram, linkedin, twitter, facebook, tiktok, youtube, threads, bluesky, pinterest"
    )]
    UnknownChannel(String),
    #[error("the handle is empty once normalised")]
    Empty,
    #[error("{handle:?} is not a valid {channel} handle: {why}")]
    Invalid {
        channel: Channel,
        handle: String,
        why: &'static str,
    },
}

/// The canonical form of `raw` on `channel`.
pub fn normalize_handle(channel: Channel, raw: &str) -> Result<String, HandleError> {
    let text = raw.trim();
    let invalid = |why| HandleError::Invalid {
        channel,
        handle: raw.to_string(),
        why,
    };
    let out = match channel {
        Channel::Email => email(text).map_err(invalid)?,
        Channel::Instagram => username(strip_url(text, &["instagram.com/"]), 30, ".", invalid)?,
        Channel::Threads => username(
            strip_url(text, &["threads.net/", "threads.com/"]),
            30,
            ".",
            invalid,
        )?,
        Channel::Twitter => username(
            strip_url(text, &["twitter.com/", "x.com/"]),
            15,
            "",
            invalid,
        )?,
        Channel::Tiktok => username(strip_url(text, &["tiktok.com/"]), 24, ".", invalid)?,
        Channel::Pinterest => username(strip_url(text, &["pinterest.com/"]), 30, "", invalid)?,
        Channel::Linkedin => linkedin(text).map_err(invalid)?,
        Channel::Youtube => youtube(text).map_err(invalid)?,
        Channel::Facebook => facebook(text).map_err(invalid)?,
        Channel::Bluesky => bluesky(text).map_err(invalid)?,
    };
    if out.is_empty() {
        Err(HandleError::Empty)
    } else {
        Ok(out)
    }
}

/// The path after any of `hosts` (with or without scheme and `www.`/country
/// subdomain), without query, fragment or trailing slash; else `text` itself.
fn strip_url<'a>(text: &'a str, hosts: &[&str]) -> &'a str {
    let lower = text.to_ascii_lowercase();
    for host in hosts {
        if let Some(at) = lower.find(host) {
            let before = &lower[..at];
            let plausible = before.is_empty()
                || before.ends_with("://")
                || before.ends_with('.')
                || before.ends_with("//");
            if plausible {
                let rest = &text[at + host.len()..];
                let rest = rest.split(['?', '#']).next().unwrap_or("");
                return rest.trim_end_matches('/');
            }
        }
    }
    text
}

/// `@Name` / `Name` → `name`; letters, digits, `_` and the extra characters allowed.
fn username(
    text: &str,
    max: usize,
    extra: &str,
    invalid: impl Fn(&'static str) -> HandleError,
) -> Result<String, HandleError> {
    let name = text.trim().trim_start_matches('@').to_lowercase();
    if name.is_empty() {
        return Err(HandleError::Empty);
    }
    if name.contains('/') {
        return Err(invalid(
            "it looks like a link to something other than a profile",
        ));
    }
    if name.chars().count() > max {
        return Err(invalid("it is too long for this network"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || extra.contains(c))
    {
        return Err(invalid("it has characters this network does not allow"));
    }
    Ok(name)
}

fn email(text: &str) -> Result<String, &'static str> {
    let text = text
        .strip_prefix("mailto:")
        .unwrap_or(text)
        .trim()
        .to_lowercase();
    if text.is_empty() {
        return Ok(text);
    }
    let (local, domain) = text.split_once('@').ok_or("an e-mail address needs an @")?;
    if local.is_empty()
        || !domain.contains('.')
        || domain.contains('@')
        || text.chars().any(char::is_whitespace)
    {
        return Err("it is not an e-mail address like name@example.com");
    }
    Ok(text)
}

fn linkedin(text: &str) -> Result<String, &'static str> {
    let path = strip_url(text, &["linkedin.com/"]);
    let slug = if path.len() != text.len() || path.contains('/') {
        let path = path.trim_start_matches('/');
        match path.split_once('/') {
            Some(("in", slug)) => slug,
            Some((kind, _)) if kind == "company" || kind == "school" => {
                return Err("it is a company or school page, not a person");
            }
            _ => return Err("a profile link looks like linkedin.com/in/<name>"),
        }
    } else {
        text
    };
    let slug = slug.trim_matches('/').to_lowercase();
    if slug.is_empty() {
        return Ok(slug);
    }
    if slug.contains('/')
        || !slug
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_' || c == '%')
    {
        return Err("the profile name has characters LinkedIn does not use");
    }
    Ok(format!("https://www.linkedin.com/in/{slug}"))
}

fn youtube(text: &str) -> Result<String, &'static str> {
    let path = strip_url(text, &["youtube.com/", "youtu.be/"]);
    let id = path.strip_prefix("channel/").unwrap_or(path).trim();
    if id.len() == 24
        && id.starts_with("UC")
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Ok(id.to_string()); // channel ids are case-sensitive
    }
    let handle = id
        .strip_prefix("c/")
        .or_else(|| id.strip_prefix("user/"))
        .unwrap_or(id)
        .trim_start_matches('@');
    if handle.is_empty() {
        return Ok(String::new());
    }
    if handle.chars().count() > 30
        || !handle
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err("a YouTube handle is 3-30 letters, digits, '_', '-' or '.'");
    }
    Ok(format!("@{}", handle.to_lowercase()))
}

fn facebook(text: &str) -> Result<String, &'static str> {
    let lower = text.to_ascii_lowercase();
    if let Some(at) = lower.find("profile.php?id=") {
        let id: String = text[at + "profile.php?id=".len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        return if id.is_empty() {
            Err("profile.php needs a numeric id")
        } else {
            Ok(id)
        };
    }
    let path = strip_url(text, &["facebook.com/", "fb.com/"]);
    let name = path.trim_start_matches('@').to_lowercase();
    if name.contains('/') {
        return Err("it looks like a link to something other than a profile");
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') {
        return Err("a Facebook username has letters, digits and '.'");
    }
    Ok(name)
}

fn bluesky(text: &str) -> Result<String, &'static str> {
    let path = strip_url(text, &["bsky.app/profile/"]);
    let handle = path.trim_start_matches('@');
    if handle.starts_with("did:") {
        let valid = (handle.starts_with("did:plc:") || handle.starts_with("did:web:"))
            && !handle.contains(char::is_whitespace);
        return if valid {
            Ok(handle.to_string())
        } else {
            Err("a DID looks like did:plc:… or did:web:…")
        };
    }
    let handle = handle.to_lowercase();
    if handle.is_empty() {
        return Ok(handle);
    }
    let labels_ok = handle.split('.').count() >= 2
        && handle
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if !labels_ok {
        return Err("a Bluesky handle is a domain such as ada.bsky.social");
    }
    Ok(handle)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every way a handle is written, per channel, and its one canonical form.
    #[test]
    fn each_channel_has_one_canonical_form() {
        let table: &[(Channel, &[&str], &str)] = &[
            (
                Channel::Email,
                &["  Ada@Example.COM ", "mailto:ada@example.com"],
                "ada@example.com",
            ),
            (
                Channel::Instagram,
                &[
                    "@Ada_Lovelace",
                    "ada_lovelace",
                    "https://www.instagram.com/ada_lovelace/",
                    "instagram.com/Ada_Lovelace?hl=en",
                ],
                "ada_lovelace",
            ),
            (
                Channel::Threads,
                &["@ada.codes", "https://www.threads.net/@Ada.Codes"],
                "ada.codes",
            ),
            (
                Channel::Twitter,
                &[
                    "@AdaL",
                    "adal",
                    "https://twitter.com/AdaL",
                    "https://x.com/adal/",
                ],
                "adal",
            ),
            (
                Channel::Tiktok,
                &["@ada.dev", "https://www.tiktok.com/@Ada.Dev?lang=en"],
                "ada.dev",
            ),
            (
                Channel::Pinterest,
                &[
                    "AdaPins",
                    "https://www.pinterest.com/adapins/",
                    "https://uk.pinterest.com/AdaPins",
                ],
                "adapins",
            ),
            (
                Channel::Linkedin,
                &[
                    "ada-lovelace",
                    "https://www.linkedin.com/in/Ada-Lovelace/",
                    "linkedin.com/in/ada-lovelace?trk=x",
                    "https://uk.linkedin.com/in/ada-lovelace",
                ],
                "https://www.linkedin.com/in/ada-lovelace",
            ),
            (
                Channel::Youtube,
                &[
                    "@AdaCodes",
                    "adacodes",
                    "https://www.youtube.com/@AdaCodes",
                    "https://youtube.com/c/AdaCodes",
                ],
                "@adacodes",
            ),
            (
                Channel::Youtube,
                &[
                    "UCabcdefghijklmnopqrstuv",
                    "https://www.youtube.com/channel/UCabcdefghijklmnopqrstuv",
                ],
                "UCabcdefghijklmnopqrstuv",
            ),
            (
                Channel::Facebook,
                &[
                    "Ada.Lovelace",
                    "https://www.facebook.com/ada.lovelace/",
                    "fb.com/Ada.Lovelace",
                ],
                "ada.lovelace",
            ),
            (
                Channel::Facebook,
                &["https://www.facebook.com/profile.php?id=100012345&ref=x"],
                "100012345",
            ),
            (
                Channel::Bluesky,
                &[
                    "@Ada.bsky.social",
                    "ada.bsky.social",
                    "https://bsky.app/profile/ada.bsky.social",
                ],
                "ada.bsky.social",
            ),
            (
                Channel::Bluesky,
                &["did:plc:z72i7hdynmk6r22z27h6tvur"],
                "did:plc:z72i7hdynmk6r22z27h6tvur",
            ),
        ];
        for (channel, inputs, want) in table {
            for input in *inputs {
                assert_eq!(
                    normalize_handle(*channel, input).as_deref(),
                    Ok(*want),
                    "{channel} {input:?}"
                );
            }
        }
    }

    #[test]
    fn handles_that_normalise_to_nothing_or_nonsense_are_refused() {
        for channel in CHANNELS {
            assert_eq!(
                normalize_handle(channel, "   "),
                Err(HandleError::Empty),
                "{channel}"
            );
        }
        assert_eq!(
            normalize_handle(Channel::Instagram, "@"),
            Err(HandleError::Empty)
        );
        for (channel, bad) in [
            (Channel::Email, "not-an-email"),
            (Channel::Twitter, "this_name_is_way_too_long"),
            (Channel::Instagram, "ada lovelace"),
            (Channel::Instagram, "https://instagram.com/p/Cx12/extra"),
            (
                Channel::Linkedin,
                "https://www.linkedin.com/company/analytical-engines",
            ),
            (Channel::Bluesky, "justaword"),
            (Channel::Youtube, "@has spaces"),
        ] {
            let err = normalize_handle(channel, bad).unwrap_err();
            assert!(
                matches!(err, HandleError::Invalid { .. }),
                "{channel} {bad:?}: {err:?}"
            );
        }
    }

    #[test]
    fn channels_parse_by_name_and_unknown_ones_say_which_exist() {
        assert_eq!(Channel::parse("Instagram"), Ok(Channel::Instagram));
        assert_eq!(Channel::parse("x"), Ok(Channel::Twitter));
        let err = Channel::parse("myspace").unwrap_err().to_string();
        assert!(err.contains("myspace") && err.contains("bluesky"), "{err}");
    }
}
