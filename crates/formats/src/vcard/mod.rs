//! vCard files (`.vcf`: Apple Contacts, Google Contacts, Outlook, Android), any
//! number of cards between `BEGIN:VCARD` and `END:VCARD`, read as a stream of
//! [`Card`]s line by line within bounds ([`Cards`]). Versions 2.1, 3.0 and 4.0:
//! - **unfolding**: a line starting with a space or a tab continues the one before.
//! - **quoted-printable** (`ENCODING=QUOTED-PRINTABLE`, or 2.1's bare
//!   `;QUOTED-PRINTABLE`): a line ending in `=` is a soft line break, continued on
//!   the next line whether it is indented or not; `=C3=A9` are bytes.
//! - **base64** (`ENCODING=b`, `ENCODING=BASE64`) values are decoded; the
//!   properties read here rarely use it, photos do, and photos are skipped unread.
//! - **charsets**: `CHARSET=ISO-8859-1`, `windows-1252`, … decode a value's bytes;
//!   without one, a value that is not UTF-8 is read as Windows-1252 ([`decode`]). A
//!   UTF-16 file (with its byte-order mark, as Outlook saves) is read as UTF-8.
//! - **groups** (`item1.EMAIL`, `item1.X-ABLabel:Instagram`): Apple's custom labels
//!   are given to the e-mail, phone or URL of their group.
//! - **parameters**: `TYPE=work`, `TYPE=work,pref`, `TYPE="work,pref"`, repeated
//!   `TYPE=`s and 2.1's bare `;WORK;PREF` are all types, lower-cased; a quoted
//!   parameter value may hold `:` and `;`.
//! - **escapes**: `\,` `\;` `\\` `\n`/`\N` (a newline), and `\:` that Apple writes
//!   in URLs; structured values (`N`, `ORG`) split at unescaped `;`.
//! - **profiles**: URLs and `X-SOCIALPROFILE`s (a URL, or `x-apple:handle` with
//!   `type=instagram`/`x-user=`) are classified as Instagram, LinkedIn or X profiles
//!   ([`crate::social`]) for the importer's identities.
//!
//! Problems never stop the file: a line outside any card, a property that cannot be
//! decoded, a line past [`MAX_LINE_BYTES`] (a photo not folded) are reported by
//! line and skipped; a card that never ends (a file cut short, or a `BEGIN:VCARD`
//! before its `END:VCARD`) is reported at the line it starts and skipped, and the
//! cards around it are read.

mod property;

use std::collections::{HashMap, VecDeque};
use std::io::{BufReader, Read};

use chrono::NaiveDate;

use crate::Problem;
use crate::social::{self, Network, Profile};
use crate::text::{Line, Lines, Utf8Reader, decode};
use property::{Property, unescape};

/// Longest physical line read; a longer one is skipped.
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;
/// Longest unfolded property kept (of the properties read; others are not kept).
pub const MAX_PROPERTY_BYTES: usize = 1024 * 1024;

/// An e-mail address or a phone number, with its types and label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    /// An e-mail lower-cased; a phone as written (`tel:` dropped).
    pub value: String,
    /// `work`, `home`, `cell`, `pref`, … lower-cased.
    pub types: Vec<String>,
    /// Apple's custom label for it (`X-ABLabel` of its group).
    pub label: Option<String>,
}

/// A URL, and the profile it is when it is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub url: String,
    pub profile: Option<Profile>,
    pub types: Vec<String>,
    pub label: Option<String>,
}

/// One contact card.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Card {
    /// The line of its `BEGIN:VCARD`.
    pub line: u64,
    /// `2.1`, `3.0`, `4.0` as written.
    pub version: Option<String>,
    /// `FN`.
    pub full_name: Option<String>,
    /// `N`'s components: family; given; additional; prefix; suffix.
    pub family: Option<String>,
    pub given: Option<String>,
    pub additional: Option<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
    pub nickname: Option<String>,
    pub emails: Vec<Value>,
    pub phones: Vec<Value>,
    /// `URL`s and `X-SOCIALPROFILE`s, in the card's order.
    pub urls: Vec<Link>,
    /// `ORG`'s first component: the organisation.
    pub org: Option<String>,
    pub title: Option<String>,
    /// Every `NOTE`, joined by blank lines.
    pub note: Option<String>,
    /// `BDAY` as written (`1990-05-17`, `19900517`, `--0517`) and as a date when it
    /// has a year.
    pub bday: Option<String>,
    pub birthday: Option<NaiveDate>,
    /// Group → label (`X-ABLabel`), while the card is read.
    labels: HashMap<String, String>,
    /// Group of each e-mail, phone and URL, while the card is read.
    groups: Vec<(Kind, usize, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Email,
    Phone,
    Url,
}

impl Card {
    /// The name to show: `FN`, else the given and family names, else the
    /// organisation, else the first e-mail.
    pub fn display_name(&self) -> Option<String> {
        if let Some(name) = &self.full_name {
            return Some(name.clone());
        }
        let joined = [&self.given, &self.family]
            .iter()
            .filter_map(|n| n.as_deref())
            .collect::<Vec<_>>()
            .join(" ");
        if !joined.is_empty() {
            return Some(joined);
        }
        self.org
            .clone()
            .or_else(|| self.emails.first().map(|e| e.value.clone()))
    }

    /// The profiles among its links, each once.
    pub fn profiles(&self) -> Vec<Profile> {
        let mut out: Vec<Profile> = Vec::new();
        for p in self.urls.iter().filter_map(|l| l.profile.clone()) {
            if !out.contains(&p) {
                out.push(p);
            }
        }
        out
    }

    /// Takes what one property says.
    fn take(&mut self, p: &Property, value: &str) {
        let first = |slot: &mut Option<String>, v: String| {
            if slot.is_none() && !v.is_empty() {
                *slot = Some(v);
            }
        };
        match p.name.as_str() {
            "VERSION" => first(&mut self.version, value.trim().to_string()),
            "FN" => first(&mut self.full_name, unescape(value).trim().to_string()),
            "N" => {
                let parts = property::components(value);
                let part = |i: usize| {
                    let v = parts.get(i).map_or("", |s| s.trim());
                    (!v.is_empty()).then(|| v.to_string())
                };
                if self.family.is_none() && self.given.is_none() {
                    self.family = part(0);
                    self.given = part(1);
                    self.additional = part(2);
                    self.prefix = part(3);
                    self.suffix = part(4);
                }
            }
            "NICKNAME" => first(&mut self.nickname, unescape(value).trim().to_string()),
            "ORG" => {
                let org = property::components(value).into_iter().next();
                first(&mut self.org, org.unwrap_or_default().trim().to_string());
            }
            "TITLE" => first(&mut self.title, unescape(value).trim().to_string()),
            "NOTE" => {
                let note = unescape(value).trim().to_string();
                if !note.is_empty() {
                    self.note = Some(match self.note.take() {
                        Some(before) => format!("{before}\n\n{note}"),
                        None => note,
                    });
                }
            }
            "BDAY" => {
                let raw = unescape(value).trim().to_string();
                if self.bday.is_none() && !raw.is_empty() {
                    self.birthday = birthday(&raw);
                    self.bday = Some(raw);
                }
            }
            "EMAIL" => {
                let email = unescape(value).trim().to_string();
                let email = strip_scheme(&email, "mailto:").to_lowercase();
                if !email.is_empty() {
                    self.group(p, Kind::Email, self.emails.len());
                    self.emails.push(Value {
                        value: email,
                        types: p.types(),
                        label: None,
                    });
                }
            }
            "TEL" => {
                let tel = unescape(value).trim().to_string();
                let tel = strip_scheme(&tel, "tel:").to_string();
                if !tel.is_empty() {
                    self.group(p, Kind::Phone, self.phones.len());
                    self.phones.push(Value {
                        value: tel,
                        types: p.types(),
                        label: None,
                    });
                }
            }
            "URL" => {
                let url = unescape(value).trim().to_string();
                if !url.is_empty() {
                    self.group(p, Kind::Url, self.urls.len());
                    self.urls.push(Link {
                        profile: social::profile_of_url(&url),
                        url,
                        types: p.types(),
                        label: None,
                    });
                }
            }
            "X-SOCIALPROFILE" => {
                let url = unescape(value).trim().to_string();
                let named = p.types().iter().find_map(|t| Network::from_label(t));
                let profile = social::profile_of_url(&url).or_else(|| {
                    let network = named?;
                    let user = p
                        .param("X-USER")
                        .map(str::to_string)
                        .unwrap_or_else(|| strip_scheme(&url, "x-apple:").to_string());
                    let handle = social::handle(network, &user)?;
                    Some(Profile { network, handle })
                });
                if !url.is_empty() || profile.is_some() {
                    self.group(p, Kind::Url, self.urls.len());
                    self.urls.push(Link {
                        url,
                        profile,
                        types: p.types(),
                        label: None,
                    });
                }
            }
            "X-ABLABEL" => {
                if let Some(group) = &p.group {
                    let label = unescape(value);
                    let label = label.trim();
                    let label = label
                        .strip_prefix("_$!<")
                        .and_then(|l| l.strip_suffix(">!$_"))
                        .unwrap_or(label);
                    self.labels.insert(group.clone(), label.to_string());
                }
            }
            _ => {}
        }
    }

    fn group(&mut self, p: &Property, kind: Kind, index: usize) {
        if let Some(group) = &p.group {
            self.groups.push((kind, index, group.clone()));
        }
    }

    /// Gives each grouped value its group's label; a URL labelled with a network's
    /// name and holding a handle becomes that profile.
    fn finish(mut self) -> Card {
        for (kind, index, group) in std::mem::take(&mut self.groups) {
            let Some(label) = self.labels.get(&group).cloned() else {
                continue;
            };
            match kind {
                Kind::Email => self.emails[index].label = Some(label),
                Kind::Phone => self.phones[index].label = Some(label),
                Kind::Url => {
                    let link = &mut self.urls[index];
                    if link.profile.is_none()
                        && let Some(network) = Network::from_label(&label)
                    {
                        link.profile = social::handle(network, &link.url)
                            .map(|handle| Profile { network, handle });
                    }
                    link.label = Some(label);
                }
            }
        }
        self.labels.clear();
        self
    }
}

fn strip_scheme<'a>(s: &'a str, scheme: &str) -> &'a str {
    s.get(..scheme.len())
        .filter(|head| head.eq_ignore_ascii_case(scheme))
        .map_or(s, |_| s[scheme.len()..].trim())
}

/// A `BDAY` with a year as a date: `1990-05-17`, `19900517`, with a time after it
/// or not.
pub fn birthday(raw: &str) -> Option<NaiveDate> {
    let date = raw.split('T').next().unwrap_or(raw).trim();
    ["%Y-%m-%d", "%Y%m%d"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(date, f).ok())
}

/// Properties kept when unfolded; any other is skipped unread past its name.
const READ: &[&str] = &[
    "BEGIN",
    "END",
    "VERSION",
    "FN",
    "N",
    "NICKNAME",
    "EMAIL",
    "TEL",
    "URL",
    "X-SOCIALPROFILE",
    "ORG",
    "TITLE",
    "NOTE",
    "BDAY",
    "X-ABLABEL",
];

/// One unfolded line.
struct Logical {
    line: u64,
    text: Vec<u8>,
    /// It was past a bound: `text` is empty.
    too_long: bool,
}

/// The cards of a vCard file, as a stream; problems come between them.
#[derive(Debug)]
pub struct Cards<R: Read> {
    lines: Lines<BufReader<Utf8Reader<R>>>,
    file: String,
    peeked: Option<Line>,
    card: Option<Card>,
    queued: VecDeque<Result<Card, Problem>>,
    /// A line outside any card was reported since the last card.
    stray_reported: bool,
    first: bool,
    done: bool,
}

impl<R: Read> Cards<R> {
    /// The cards in `reader`, named `file` in problems.
    pub fn new(reader: R, file: &str) -> Cards<R> {
        Cards {
            lines: Lines::new(BufReader::new(Utf8Reader::new(reader)), MAX_LINE_BYTES),
            file: file.to_string(),
            peeked: None,
            card: None,
            queued: VecDeque::new(),
            stray_reported: false,
            first: true,
            done: false,
        }
    }

    fn problem(&self, line: u64, message: impl Into<String>) -> Problem {
        Problem::new(&self.file, Some(line), message)
    }

    fn physical(&mut self) -> Result<Option<Line>, Problem> {
        if let Some(line) = self.peeked.take() {
            return Ok(Some(line));
        }
        let line = self
            .lines
            .next_line()
            .map_err(|e| Problem::new(&self.file, None, format!("cannot be read: {e}")))?;
        Ok(match line {
            Some(Line::Text(n, mut bytes)) if self.first => {
                self.first = false;
                if bytes.starts_with(b"\xEF\xBB\xBF") {
                    bytes.drain(..3);
                }
                Some(Line::Text(n, bytes))
            }
            other => {
                self.first = false;
                other
            }
        })
    }

    /// The next unfolded line (see the module's first comment).
    fn logical(&mut self) -> Result<Option<Logical>, Problem> {
        let (line, mut text) = match self.physical()? {
            None => return Ok(None),
            Some(Line::TooLong(n)) => {
                return Ok(Some(Logical {
                    line: n,
                    text: Vec::new(),
                    too_long: true,
                }));
            }
            Some(Line::Text(n, bytes)) => (n, bytes),
        };
        let head_end = property::head_end(&text).unwrap_or(text.len());
        let keep = READ.contains(&property::name_of(&text[..head_end]).as_str());
        let qp = property::is_quoted_printable(&text[..head_end]);
        let mut too_long = false;
        // Whether the last physical line ended in `=`: a soft break, when
        // quoted-printable.
        let mut ends_in_eq = text.last() == Some(&b'=');
        if !keep {
            // Its name is all that is needed: the line is skipped.
            text.truncate(head_end + 1);
        }
        loop {
            let soft_break = qp && ends_in_eq;
            let (n, next) = match self.physical()? {
                Some(Line::Text(n, next)) => (n, next),
                other => {
                    self.peeked = other;
                    break;
                }
            };
            let continued = if soft_break {
                if keep && !too_long {
                    text.pop();
                }
                &next[..]
            } else if matches!(next.first(), Some(b' ' | b'\t')) {
                &next[1..]
            } else {
                self.peeked = Some(Line::Text(n, next));
                break;
            };
            ends_in_eq = continued.last() == Some(&b'=');
            if keep && !too_long {
                if text.len() + continued.len() > MAX_PROPERTY_BYTES {
                    too_long = true;
                    text = Vec::new();
                } else {
                    text.extend_from_slice(continued);
                }
            }
        }
        Ok(Some(Logical {
            line,
            text,
            too_long,
        }))
    }

    /// Reads on until a card ends or the file does, queueing what it finds.
    fn read(&mut self) -> Result<(), Problem> {
        while self.queued.is_empty() {
            let Some(logical) = self.logical()? else {
                if let Some(card) = self.card.take() {
                    let name = card
                        .display_name()
                        .map_or(String::new(), |n| format!(" ({n})"));
                    let p = self.problem(
                        card.line,
                        format!(
                            "the card{name} has no END:VCARD: the file ends inside it (cut short?); skipped"
                        ),
                    );
                    self.queued.push_back(Err(p));
                }
                self.done = true;
                return Ok(());
            };
            self.line(logical);
        }
        Ok(())
    }

    fn line(&mut self, logical: Logical) {
        let n = logical.line;
        if logical.too_long {
            let p = self.problem(
                n,
                format!(
                    "a line or property longer than {} KB (a photo?): skipped",
                    MAX_PROPERTY_BYTES / 1024
                ),
            );
            self.queued.push_back(Err(p));
            return;
        }
        let text = &logical.text;
        if text.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let Some(property) = Property::parse(text) else {
            if self.card.is_some() {
                let p = self.problem(n, "not a vCard property (no ':'): skipped");
                self.queued.push_back(Err(p));
            } else if !self.stray_reported {
                let p = self.stray(n);
                self.queued.push_back(Err(p));
            }
            return;
        };
        let value = &text[property.value_start..];
        let is = |word: &str| decode(value, None).trim().eq_ignore_ascii_case(word);
        match property.name.as_str() {
            "BEGIN" if is("VCARD") => {
                if let Some(open) = self.card.take() {
                    let p = self.problem(
                        open.line,
                        format!(
                            "the card has no END:VCARD before the next BEGIN:VCARD at line {n}: skipped"
                        ),
                    );
                    self.queued.push_back(Err(p));
                }
                self.card = Some(Card {
                    line: n,
                    ..Card::default()
                });
                self.stray_reported = false;
            }
            "END" if is("VCARD") => match self.card.take() {
                Some(card) => self.queued.push_back(Ok(card.finish())),
                None => {
                    let p = self.problem(n, "END:VCARD without a BEGIN:VCARD: skipped");
                    self.queued.push_back(Err(p));
                }
            },
            _ => {
                if self.card.is_none() {
                    if !self.stray_reported {
                        let p = self.stray(n);
                        self.queued.push_back(Err(p));
                    }
                    return;
                }
                match property.decode_value(value) {
                    Ok(decoded) => {
                        if let Some(card) = self.card.as_mut() {
                            card.take(&property, &decoded);
                        }
                    }
                    Err(why) => {
                        let p = self.problem(n, format!("{}: {why}; skipped", property.name));
                        self.queued.push_back(Err(p));
                    }
                }
            }
        }
    }

    fn stray(&mut self, n: u64) -> Problem {
        self.stray_reported = true;
        self.problem(
            n,
            "outside any BEGIN:VCARD … END:VCARD: skipped (and any lines after it up to the next card)",
        )
    }
}

impl<R: Read> Iterator for Cards<R> {
    type Item = Result<Card, Problem>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.queued.is_empty()
            && !self.done
            && let Err(p) = self.read()
        {
            self.done = true;
            return Some(Err(p));
        }
        self.queued.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(data: &[u8]) -> Vec<Result<Card, Problem>> {
        Cards::new(data, "c.vcf").collect()
    }

    fn cards(data: &[u8]) -> Vec<Card> {
        read(data).into_iter().map(Result::unwrap).collect()
    }

    #[test]
    fn a_vcard_3_card_is_read_with_its_names_values_and_escapes() {
        let data = b"\xEF\xBB\xBFBEGIN:VCARD\r\n\
VERSION:3.0\r\n\
FN:Jane Doe\r\n\
N:Doe;Jane;Q.;Dr.;\r\n\
EMAIL;TYPE=INTERNET;TYPE=WORK,pref:Jane@Acme.com\r\n\
EMAIL;type=home:jane@home.org\r\n\
TEL;TYPE=CELL:+1 555 0100\r\n\
TEL;VALUE=uri;TYPE=work:tel:+1-555-0101\r\n\
ORG:Acme\\, Inc.;Research\r\n\
TITLE:CTO\r\n\
NOTE:Met at the fair\\; likes tea\\nSecond line\r\n\
BDAY:1990-05-17\r\n\
PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQAAAQABAAD\r\n \
/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0\r\n\
END:VCARD\r\n";
        let c = cards(data);
        assert_eq!(c.len(), 1);
        let c = &c[0];
        assert_eq!(c.line, 1);
        assert_eq!(c.version.as_deref(), Some("3.0"));
        assert_eq!(c.full_name.as_deref(), Some("Jane Doe"));
        assert_eq!(
            (c.family.as_deref(), c.given.as_deref()),
            (Some("Doe"), Some("Jane"))
        );
        assert_eq!(
            (c.additional.as_deref(), c.prefix.as_deref()),
            (Some("Q."), Some("Dr."))
        );
        let emails: Vec<&str> = c.emails.iter().map(|e| e.value.as_str()).collect();
        assert_eq!(emails, ["jane@acme.com", "jane@home.org"]);
        assert_eq!(c.emails[0].types, ["internet", "work", "pref"]);
        let phones: Vec<&str> = c.phones.iter().map(|p| p.value.as_str()).collect();
        assert_eq!(phones, ["+1 555 0100", "+1-555-0101"]);
        assert_eq!(c.org.as_deref(), Some("Acme, Inc."));
        assert_eq!(c.title.as_deref(), Some("CTO"));
        assert_eq!(
            c.note.as_deref(),
            Some("Met at the fair; likes tea\nSecond line")
        );
        assert_eq!(c.birthday, NaiveDate::from_ymd_opt(1990, 5, 17));
    }

    #[test]
    fn folded_lines_and_quoted_printable_soft_breaks_are_joined() {
        // vCard 2.1 from an Android phone: bare QUOTED-PRINTABLE, UTF-8 bytes as
        // =XX, soft breaks with unindented continuations; a 3.0-style fold too.
        let data = b"BEGIN:VCARD\n\
VERSION:2.1\n\
N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=4A=C3=BA=6C=69=61;Ribeiro=\n\
;;;\n\
FN;CHARSET=UTF-8;QUOTED-PRINTABLE:J=C3=BAlia Ribeiro da Silva Sa=\n\
ntos\n\
NOTE:A note folded \n \
across\n\
\tthree lines\n\
EMAIL;HOME:julia@x.com\n\
X-ANDROID-CUSTOM;ENCODING=QUOTED-PRINTABLE:vnd.android=\n\
=3Bcustom=\n\
 value\n\
END:VCARD\n";
        let read = read(data);
        assert_eq!(
            read.len(),
            1,
            "a skipped property's soft breaks are no properties: {read:?}"
        );
        let c = read[0].as_ref().unwrap();
        assert_eq!(c.family.as_deref(), Some("Júlia"));
        assert_eq!(c.given.as_deref(), Some("Ribeiro"));
        assert_eq!(
            c.full_name.as_deref(),
            Some("Júlia Ribeiro da Silva Santos")
        );
        assert_eq!(c.note.as_deref(), Some("A note folded acrossthree lines"));
        assert_eq!(c.emails[0].types, ["home"]);
    }

    #[test]
    fn values_in_other_charsets_are_decoded() {
        let data = b"BEGIN:VCARD\n\
VERSION:2.1\n\
FN;CHARSET=ISO-8859-1:Jos\xe9 M\xfcller\n\
ORG;CHARSET=windows-1252;ENCODING=QUOTED-PRINTABLE:Caf=E9 =80 Co\n\
NOTE:caf\xe9 without a charset\n\
TITLE;CHARSET=ISO-8859-2:\xbfona\n\
END:VCARD\n";
        let c = &cards(data)[0];
        assert_eq!(c.full_name.as_deref(), Some("José Müller"));
        assert_eq!(c.org.as_deref(), Some("Café € Co"));
        assert_eq!(c.note.as_deref(), Some("café without a charset"));
        assert_eq!(c.title.as_deref(), Some("żona"));
    }

    #[test]
    fn profile_urls_and_social_profiles_are_classified_with_their_labels() {
        let data = b"BEGIN:VCARD\n\
VERSION:3.0\n\
FN:Ann\n\
item1.URL;type=pref:https\\://www.instagram.com/Ann.Lee/\n\
item1.X-ABLabel:_$!<HomePage>!$_\n\
item2.URL:ann_on_ig\n\
item2.X-ABLabel:Instagram\n\
URL:https://ann.dev\n\
X-SOCIALPROFILE;type=linkedin:http://www.linkedin.com/in/ann-lee\n\
X-SOCIALPROFILE;type=twitter;x-user=AnnTweets:x-apple:anntweets\n\
item3.EMAIL:ann@x.com\n\
item3.X-ABLabel:School\n\
END:VCARD\n";
        let c = &cards(data)[0];
        let links: Vec<(Option<&str>, Option<String>, Option<&str>)> = c
            .urls
            .iter()
            .map(|l| {
                (
                    l.profile.as_ref().map(|p| p.network.name()),
                    l.profile.as_ref().map(|p| p.handle.clone()),
                    l.label.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            links,
            [
                (Some("instagram"), Some("ann.lee".into()), Some("HomePage")),
                (
                    Some("instagram"),
                    Some("ann_on_ig".into()),
                    Some("Instagram")
                ),
                (None, None, None),
                (Some("linkedin"), Some("ann-lee".into()), None),
                (Some("twitter"), Some("anntweets".into()), None),
            ]
        );
        assert_eq!(
            c.urls[0].url, "https://www.instagram.com/Ann.Lee/",
            "\\: unescaped"
        );
        assert_eq!(c.emails[0].label.as_deref(), Some("School"));
        assert_eq!(c.profiles().len(), 4);
    }

    #[test]
    fn many_cards_are_read_and_a_truncated_last_one_is_reported_at_its_start() {
        let data = b"BEGIN:VCARD\nVERSION:4.0\nFN:One\nEND:VCARD\n\n\
BEGIN:VCARD\nVERSION:4.0\nFN:Two\nEMAIL:two@x.com\nEND:VCARD\n\
BEGIN:VCARD\nVERSION:4.0\nFN:Three\nEMAIL:thr";
        let read = read(data);
        assert_eq!(read.len(), 3);
        assert_eq!(read[0].as_ref().unwrap().full_name.as_deref(), Some("One"));
        let two = read[1].as_ref().unwrap();
        assert_eq!((two.line, two.emails[0].value.as_str()), (6, "two@x.com"));
        let cut = read[2].as_ref().unwrap_err();
        assert_eq!(cut.line, Some(11));
        assert!(cut.message.contains("(Three) has no END:VCARD"), "{cut}");
    }

    #[test]
    fn a_card_without_its_end_stray_lines_and_bad_values_are_reported_and_skipped() {
        let data = b"garbage before\nmore garbage\n\
BEGIN:VCARD\nFN:Unended\n\
BEGIN:VCARD\nFN:Fine\nNOTE;ENCODING=b:@@@\njust text\nEND:VCARD\n\
END:VCARD\n";
        let read = read(data);
        let problems: Vec<(Option<u64>, &str)> = read
            .iter()
            .filter_map(|r| r.as_ref().err())
            .map(|p| (p.line, p.message.as_str()))
            .collect();
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert_eq!(problems[0].0, Some(1), "stray lines reported once");
        assert!(problems[0].1.starts_with("outside any BEGIN:VCARD"));
        assert_eq!(problems[1].0, Some(3));
        assert!(
            problems[1]
                .1
                .contains("before the next BEGIN:VCARD at line 5")
        );
        assert_eq!(problems[2].0, Some(7));
        assert!(problems[2].1.contains("not base64"));
        assert_eq!(problems[3].0, Some(8));
        assert_eq!(problems[4].0, Some(10));
        assert!(problems[4].1.contains("END:VCARD without a BEGIN:VCARD"));
        let fine: Vec<&Card> = read.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(fine.len(), 1);
        assert_eq!(fine[0].full_name.as_deref(), Some("Fine"));
    }

    #[test]
    fn a_photo_past_the_bounds_is_skipped_and_the_card_kept() {
        let mut data = b"BEGIN:VCARD\nFN:Big\nPHOTO;ENCODING=b:".to_vec();
        data.extend(std::iter::repeat_n(b'A', MAX_LINE_BYTES + 1));
        data.extend_from_slice(b"\nNOTE:");
        data.extend(std::iter::repeat_n(b'n', 1000));
        for _ in 0..(MAX_PROPERTY_BYTES / 1000) {
            data.extend_from_slice(b"\n ");
            data.extend(std::iter::repeat_n(b'n', 1000));
        }
        data.extend_from_slice(b"\nEMAIL:big@x.com\nEND:VCARD\n");
        let read = read(&data);
        assert_eq!(read.len(), 3);
        assert_eq!(read[0].as_ref().unwrap_err().line, Some(3));
        assert_eq!(
            read[1].as_ref().unwrap_err().line,
            Some(4),
            "the note too long"
        );
        let card = read[2].as_ref().unwrap();
        assert_eq!(card.emails[0].value, "big@x.com");
        assert_eq!(card.note, None);
    }

    #[test]
    fn a_utf16_file_is_read() {
        let mut data = vec![0xFF, 0xFE];
        let card = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Zoë\r\nEND:VCARD\r\n";
        data.extend(card.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(cards(&data)[0].full_name.as_deref(), Some("Zoë"));
    }

    #[test]
    fn birthdays_with_a_year_are_dates() {
        assert_eq!(birthday("19900517"), NaiveDate::from_ymd_opt(1990, 5, 17));
        assert_eq!(
            birthday("1990-05-17T00:00:00Z"),
            NaiveDate::from_ymd_opt(1990, 5, 17)
        );
        assert_eq!(birthday("--0517"), None);
    }
}
