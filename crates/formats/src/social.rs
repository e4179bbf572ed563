//! Profiles on the networks the importers make identities for — Instagram,
//! LinkedIn, X (formerly Twitter) — recognised in a URL or a bare handle in whatever
//! shape a file wrote it: with or without a scheme or `www.`/`m.`, a country
//! subdomain (`uk.linkedin.com`), `twitter.com` or `x.com`, `@`, a trailing slash, a
//! query or a fragment. Links that are not a person's profile (`instagram.com/p/…`,
//! `x.com/intent/…`, `linkedin.com/company/…`) are not one. Handles are lower-cased:
//! the three networks compare them without case.

/// A network the importers know profiles of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Network {
    Instagram,
    LinkedIn,
    /// X, formerly Twitter (`x.com` and `twitter.com`).
    Twitter,
}

impl Network {
    /// The network's name as identities store it.
    pub fn name(self) -> &'static str {
        match self {
            Network::Instagram => "instagram",
            Network::LinkedIn => "linkedin",
            Network::Twitter => "twitter",
        }
    }

    /// The network a label names (`Instagram`, `linkedin`, `X`, `twitter`), if any.
    pub fn from_label(label: &str) -> Option<Network> {
        match label.trim().to_ascii_lowercase().as_str() {
            "instagram" | "ig" => Some(Network::Instagram),
            "linkedin" => Some(Network::LinkedIn),
            "twitter" | "x" => Some(Network::Twitter),
            _ => None,
        }
    }
}

/// A person's profile on a network.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Profile {
    pub network: Network,
    /// The username (Instagram, X) or the public profile slug (LinkedIn), lower-cased.
    pub handle: String,
}

/// The profile a URL links to, when it is a profile on one of the networks.
pub fn profile_of_url(url: &str) -> Option<Profile> {
    let url = url.trim();
    let rest = strip_prefix_ci(url, "https://")
        .or_else(|| strip_prefix_ci(url, "http://"))
        .unwrap_or(url);
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = host.to_ascii_lowercase();
    let host = host
        .strip_prefix("www.")
        .or_else(|| host.strip_prefix("m."))
        .or_else(|| host.strip_prefix("mobile."))
        .unwrap_or(&host);
    let mut segments = path.split('/').filter(|s| !s.is_empty());
    let (network, handle) = match host {
        "instagram.com" | "instagr.am" => {
            let first = segments.next()?;
            let handle = match first {
                "_u" | "stories" => segments.next()?,
                "p" | "reel" | "reels" | "tv" | "explore" | "accounts" | "direct" | "about"
                | "legal" | "developer" | "web" => return None,
                user => user,
            };
            (Network::Instagram, handle)
        }
        "twitter.com" | "x.com" => {
            let first = segments.next()?;
            let reserved = [
                "intent",
                "share",
                "home",
                "i",
                "search",
                "hashtag",
                "explore",
                "settings",
                "messages",
                "notifications",
                "login",
                "signup",
                "tos",
                "privacy",
            ];
            if reserved.contains(&first.to_ascii_lowercase().as_str()) {
                return None;
            }
            (Network::Twitter, first)
        }
        h if h == "linkedin.com" || h.ends_with(".linkedin.com") => {
            match segments.next()? {
                "in" | "pub" => {}
                _ => return None,
            }
            (Network::LinkedIn, segments.next()?)
        }
        _ => return None,
    };
    bare_handle(network, handle).map(|handle| Profile { network, handle })
}

/// The handle in `value` for `network`: a bare handle (`@Ann.B`, `ann.b`) or a URL of
/// a profile on that network; `None` for an empty value, another network's URL or
/// characters the network does not allow in a handle.
pub fn handle(network: Network, value: &str) -> Option<String> {
    let value = value.trim();
    if value.contains('/') {
        return profile_of_url(value)
            .filter(|p| p.network == network)
            .map(|p| p.handle);
    }
    if value.contains(".com") || value.contains("instagr.am") {
        // `instagram.com/ann` without a slash is not a thing, but `ann.com` is a
        // domain, not a handle.
        return None;
    }
    bare_handle(network, value)
}

fn bare_handle(network: Network, value: &str) -> Option<String> {
    let handle = value.trim().trim_start_matches('@');
    let allowed = |b: u8| match network {
        Network::Instagram => b.is_ascii_alphanumeric() || b == b'.' || b == b'_',
        Network::Twitter => b.is_ascii_alphanumeric() || b == b'_',
        // Public profile slugs: letters, digits, dashes; non-ASCII ones arrive
        // percent-encoded.
        Network::LinkedIn => b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'%',
    };
    let max = match network {
        Network::Instagram => 30,
        Network::Twitter => 15,
        Network::LinkedIn => 200,
    };
    (!handle.is_empty() && handle.len() <= max && handle.bytes().all(allowed))
        .then(|| handle.to_ascii_lowercase())
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    s.get(..prefix.len())
        .filter(|head| head.eq_ignore_ascii_case(prefix))
        .map(|_| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(url: &str) -> Option<(Network, String)> {
        profile_of_url(url).map(|p| (p.network, p.handle))
    }

    #[test]
    fn profile_urls_of_every_shape_are_recognised() {
        let ig = |h: &str| Some((Network::Instagram, h.to_string()));
        assert_eq!(p("https://www.instagram.com/Ann.B/"), ig("ann.b"));
        assert_eq!(p("instagram.com/ann_b?igsh=xyz"), ig("ann_b"));
        assert_eq!(p("https://instagram.com/_u/bob.builds"), ig("bob.builds"));
        assert_eq!(p("HTTP://M.INSTAGRAM.COM/Zed"), ig("zed"));
        let li = |h: &str| Some((Network::LinkedIn, h.to_string()));
        assert_eq!(
            p("https://www.linkedin.com/in/jane-doe-12ab/"),
            li("jane-doe-12ab")
        );
        assert_eq!(p("http://uk.linkedin.com/in/JaneDoe#x"), li("janedoe"));
        assert_eq!(p("linkedin.com/pub/jane-doe/1/2/3"), li("jane-doe"));
        let tw = |h: &str| Some((Network::Twitter, h.to_string()));
        assert_eq!(p("https://twitter.com/JDoe"), tw("jdoe"));
        assert_eq!(p("https://x.com/jdoe/status/1"), tw("jdoe"));
        assert_eq!(p("mobile.twitter.com/jdoe"), tw("jdoe"));
    }

    #[test]
    fn links_that_are_not_profiles_are_not_taken_for_one() {
        assert_eq!(p("https://www.instagram.com/p/C0abc/"), None);
        assert_eq!(p("https://www.instagram.com/"), None);
        assert_eq!(p("https://x.com/intent/tweet?text=hi"), None);
        assert_eq!(p("https://www.linkedin.com/company/acme"), None);
        assert_eq!(p("https://notinstagram.com/ann"), None);
        assert_eq!(p("https://example.com/in/ann"), None);
        assert_eq!(p("https://instagram.com/bad handle"), None);
    }

    #[test]
    fn a_column_of_handles_takes_bare_handles_and_its_own_networks_urls() {
        assert_eq!(
            handle(Network::Instagram, " @Ann.B ").as_deref(),
            Some("ann.b")
        );
        assert_eq!(
            handle(Network::Instagram, "https://instagram.com/ann.b").as_deref(),
            Some("ann.b")
        );
        assert_eq!(handle(Network::Instagram, "https://x.com/ann"), None);
        assert_eq!(
            handle(Network::Twitter, "@jane_doe").as_deref(),
            Some("jane_doe")
        );
        assert_eq!(handle(Network::Twitter, "jane.doe"), None, "no dots on X");
        assert_eq!(handle(Network::Instagram, "ann.com"), None);
        assert_eq!(handle(Network::Instagram, ""), None);
        assert_eq!(Network::from_label("X"), Some(Network::Twitter));
        assert_eq!(Network::from_label("Instagram"), Some(Network::Instagram));
    }
}
