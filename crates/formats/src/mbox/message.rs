//! One message of a mailbox, parsed (MIME through `mailparse`):
//! - **headers**: folded lines unfolded; RFC 2047 encoded-words (`=?UTF-8?B?…?=`,
//!   `=?ISO-8859-1?Q?…?=`) decoded, adjacent ones joined without the whitespace
//!   between them; raw 8-bit header bytes read as UTF-8, else Latin-1.
//! - **ids**: `Message-ID`, `In-Reply-To`, `References` without angle brackets,
//!   trimmed; a missing or empty Message-ID is `None`.
//! - **addresses**: `From`, `To`, `Cc`, `Bcc`, `Reply-To` (each may repeat) as
//!   display name and lower-cased e-mail; quoted names may hold commas, encoded
//!   names are decoded, groups (`undisclosed-recipients:;`) flattened; a header
//!   that does not parse is read leniently, address by address.
//! - **date**: RFC 2822 and what mailers write instead (no day name, one-digit
//!   day, a `(UTC)` comment, zone names); unreadable: `None`.
//! - **Gmail**: `X-GM-THRID` is the thread; `X-Gmail-Labels` the labels,
//!   comma-separated, a label with a comma quoted, encoded-words decoded.
//! - **bodies**: the first text/plain and the first text/html part anywhere in the
//!   tree (alternative, mixed, related), transfer encoding undone (base64,
//!   quoted-printable) and charset decoded ([`crate::text::decode`]: ISO-8859-1,
//!   windows-1252, UTF-8, any WHATWG label; unlabelled 8-bit text as UTF-8, else
//!   windows-1252); line ends as `\n`. A part with `Content-Disposition: attachment`
//!   or a file name is an attachment: counted, not read.
//! - **snippet**: the first [`SNIPPET_CHARS`] characters of the text, or of the
//!   HTML's text (tags, `<head>`, `<style>`, `<script>` and comments dropped,
//!   entities decoded), whitespace collapsed.

use chrono::{DateTime, Utc};
use mailparse::{DispositionType, MailAddr, MailHeader, ParsedMail};

use super::{Address, Mail};
use crate::text::decode;

/// Characters in a snippet.
pub const SNIPPET_CHARS: usize = 200;

/// Parses one message (its bytes without the `From ` line), `line` being where it
/// starts; an error says why it is not a message.
pub fn parse_message(raw: &[u8], line: u64) -> Result<Mail, String> {
    let parsed = mailparse::parse_mail(raw).map_err(|e| format!("not a message: {e}"))?;
    let mut mail = Mail {
        line,
        size: raw.len() as u64,
        ..Mail::default()
    };
    for header in &parsed.headers {
        let key = header.get_key_ref();
        let is = |name: &str| key.eq_ignore_ascii_case(name);
        if is("from") {
            mail.from.extend(addresses(header));
        } else if is("to") {
            mail.to.extend(addresses(header));
        } else if is("cc") {
            mail.cc.extend(addresses(header));
        } else if is("bcc") {
            mail.bcc.extend(addresses(header));
        } else if is("reply-to") {
            mail.reply_to.extend(addresses(header));
        } else if is("subject") {
            if mail.subject.is_none() {
                let subject = header.get_value();
                let subject = subject.trim();
                mail.subject = (!subject.is_empty()).then(|| subject.to_string());
            }
        } else if is("message-id") {
            if mail.message_id.is_none() {
                mail.message_id = message_id(&header.get_value());
            }
        } else if is("date") {
            if mail.date.is_none() {
                mail.date = parse_date(&header.get_value());
            }
        } else if is("in-reply-to") {
            if mail.in_reply_to.is_none() {
                mail.in_reply_to = message_id(&header.get_value());
            }
        } else if is("references") {
            if mail.references.is_empty() {
                mail.references = message_ids(&header.get_value());
            }
        } else if is("x-gm-thrid") {
            let id = header.get_value();
            let id = id.trim();
            if mail.thread_id.is_none() && !id.is_empty() {
                mail.thread_id = Some(id.to_string());
            }
        } else if is("x-gmail-labels") && mail.labels.is_empty() {
            mail.labels = gmail_labels(header.get_value_raw());
        }
    }
    mail.truncated = !headers_end(raw);
    walk(&parsed, &mut mail);
    mail.snippet = match mail.text.as_deref().filter(|t| !t.trim().is_empty()) {
        Some(text) => {
            let mut s = Snippet::new(SNIPPET_CHARS);
            text.chars().all(|c| s.push(c));
            s.out
        }
        None => mail
            .html
            .as_deref()
            .map(|h| html_text(h, SNIPPET_CHARS))
            .unwrap_or_default(),
    };
    Ok(mail)
}

/// Whether `raw` starts with a header line (`Name: …`): what a message does.
pub(super) fn starts_with_header(raw: &[u8]) -> bool {
    let line = raw.split(|&b| b == b'\n').next().unwrap_or(raw);
    match line.iter().position(|&b| b == b':') {
        Some(colon) => colon > 0 && line[..colon].iter().all(|b| b.is_ascii_graphic()),
        None => false,
    }
}

/// Whether the header block ends (a blank line follows it).
fn headers_end(raw: &[u8]) -> bool {
    raw.starts_with(b"\n")
        || raw.starts_with(b"\r\n")
        || raw.windows(2).any(|w| w == b"\n\n")
        || raw.windows(4).any(|w| w == b"\r\n\r\n")
}

/// The addresses of an address header (see the module's first comment).
fn addresses(header: &MailHeader<'_>) -> Vec<Address> {
    let address = |name: Option<String>, email: &str| {
        let email = email.trim().trim_matches(['<', '>']).to_lowercase();
        let name = name
            .map(|n| n.trim().trim_matches('"').trim().to_string())
            .filter(|n| !n.is_empty() && *n != email);
        (!email.is_empty()).then_some(Address { name, email })
    };
    match mailparse::addrparse_header(header) {
        Ok(list) => list
            .iter()
            .flat_map(|a| match a {
                MailAddr::Single(s) => vec![address(s.display_name.clone(), &s.addr)],
                MailAddr::Group(g) => g
                    .addrs
                    .iter()
                    .map(|s| address(s.display_name.clone(), &s.addr))
                    .collect(),
            })
            .flatten()
            .collect(),
        Err(_) => split_unquoted(&header.get_value())
            .into_iter()
            .filter_map(|piece| match piece.rfind('<') {
                Some(lt) => address(Some(piece[..lt].to_string()), &piece[lt..]),
                None => address(None, piece),
            })
            .filter(|a| a.email.contains('@'))
            .collect(),
    }
}

/// `s` split at commas outside double quotes and angle brackets.
fn split_unquoted(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quoted, mut angle, mut start) = (false, false, 0);
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// A Message-ID without its angle brackets (the first, when a header holds more).
pub fn message_id(value: &str) -> Option<String> {
    message_ids(value).into_iter().next()
}

/// The Message-IDs in a header (`References`), brackets stripped, in order.
pub fn message_ids(value: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut rest = value;
    while let Some(lt) = rest.find('<') {
        let after = &rest[lt + 1..];
        let (id, next) = match after.find('>') {
            Some(gt) => (&after[..gt], &after[gt + 1..]),
            None => (after, ""),
        };
        let id = id.trim();
        if !id.is_empty() {
            ids.push(id.to_string());
        }
        rest = next;
    }
    if ids.is_empty() {
        // Without brackets: whatever words it has.
        ids = value.split_whitespace().map(String::from).collect();
    }
    ids
}

/// A `Date` header's time (see the module's first comment).
pub fn parse_date(value: &str) -> Option<DateTime<Utc>> {
    let value = value.trim();
    if let Ok(t) = DateTime::parse_from_rfc2822(value) {
        return Some(t.with_timezone(&Utc));
    }
    // mailparse reads what chrono refuses, and nonsense as 0: never a real date here.
    mailparse::dateparse(value)
        .ok()
        .filter(|&s| s != 0)
        .and_then(|s| DateTime::from_timestamp(s, 0))
}

/// Gmail's labels from `X-Gmail-Labels`' raw value.
pub fn gmail_labels(raw: &[u8]) -> Vec<String> {
    let value: String = decode(raw, None)
        .chars()
        .filter(|c| *c != '\r' && *c != '\n')
        .collect();
    split_unquoted(&value)
        .into_iter()
        .map(|label| {
            let label = label.trim();
            let label = label
                .strip_prefix('"')
                .and_then(|l| l.strip_suffix('"'))
                .map_or_else(|| label.to_string(), |l| l.replace("\\\"", "\""));
            if label.contains("=?") {
                decode_words(&label)
            } else {
                label
            }
        })
        .filter(|l| !l.is_empty())
        .collect()
}

/// `s` with its RFC 2047 encoded-words decoded.
fn decode_words(s: &str) -> String {
    let line = format!("X: {s}");
    mailparse::parse_header(line.as_bytes())
        .map(|(h, _)| h.get_value().trim().to_string())
        .unwrap_or_else(|_| s.to_string())
}

/// Reads the bodies and counts the attachments of `part` and its subparts (as deep
/// as mailparse nests them: it stops at 100).
fn walk(part: &ParsedMail<'_>, mail: &mut Mail) {
    let mimetype = part.ctype.mimetype.as_str();
    if mimetype.starts_with("multipart/") {
        if let Some(boundary) = part.ctype.params.get("boundary") {
            let closing = format!("--{boundary}--");
            if !part
                .raw_bytes
                .windows(closing.len())
                .rev()
                .any(|w| w == closing.as_bytes())
            {
                mail.truncated = true;
            }
        }
        for sub in &part.subparts {
            walk(sub, mail);
        }
        return;
    }
    let disposition = part.get_content_disposition();
    if disposition.disposition == DispositionType::Attachment
        || disposition.params.contains_key("filename")
        || part.ctype.params.contains_key("name")
    {
        mail.attachments += 1;
        return;
    }
    let slot = match mimetype {
        "text/plain" => &mut mail.text,
        "text/html" => &mut mail.html,
        _ => return,
    };
    if slot.is_some() {
        return;
    }
    let Ok(bytes) = part.get_body_raw() else {
        return;
    };
    let charset = part.ctype.params.get("charset").map(String::as_str);
    let text = decode(&bytes, charset);
    *slot = Some(if text.contains('\r') {
        text.replace("\r\n", "\n")
    } else {
        text.into_owned()
    });
}

/// Collects up to `limit` characters, whitespace collapsed.
struct Snippet {
    out: String,
    left: usize,
    space: bool,
}

impl Snippet {
    fn new(limit: usize) -> Snippet {
        Snippet {
            out: String::new(),
            left: limit,
            space: false,
        }
    }

    /// Takes `c`; false once full.
    fn push(&mut self, c: char) -> bool {
        if self.left == 0 {
            return false;
        }
        if c.is_whitespace() {
            self.space = !self.out.is_empty();
            return true;
        }
        if self.space {
            self.out.push(' ');
            self.space = false;
            self.left -= 1;
            if self.left == 0 {
                return false;
            }
        }
        self.out.push(c);
        self.left -= 1;
        self.left > 0
    }
}

/// The first `limit` characters of an HTML document's text, whitespace collapsed.
pub fn html_text(html: &str, limit: usize) -> String {
    let mut s = Snippet::new(limit);
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => {
                rest = skip_tag(rest);
                s.push(' ');
            }
            '&' => {
                let (decoded, after) = entity(rest);
                rest = after;
                if !s.push(decoded) {
                    break;
                }
            }
            c => {
                rest = &rest[c.len_utf8()..];
                if !s.push(c) {
                    break;
                }
            }
        }
    }
    s.out.trim_end().to_string()
}

/// `html` past the tag (or comment) it starts with, and past the content of a
/// `<head>`, `<style>` or `<script>`.
fn skip_tag(html: &str) -> &str {
    if let Some(comment) = html.strip_prefix("<!--") {
        return comment.find("-->").map_or("", |end| &comment[end + 3..]);
    }
    let after = html.find('>').map_or("", |end| &html[end + 1..]);
    let name: String = html[1..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if matches!(name.as_str(), "head" | "style" | "script") {
        let close = format!("</{name}");
        let at = after
            .as_bytes()
            .windows(close.len())
            .position(|w| w.eq_ignore_ascii_case(close.as_bytes()));
        // `<` is ASCII: where it is found is a character boundary.
        return match at {
            Some(at) => after[at..]
                .find('>')
                .map_or("", |end| &after[at + end + 1..]),
            None => "",
        };
    }
    after
}

/// The character an entity at the start of `html` stands for, and what follows it;
/// an unknown one is a literal `&`.
fn entity(html: &str) -> (char, &str) {
    let literal = ('&', &html[1..]);
    // `;` is ASCII: where it is found is a character boundary.
    let Some(end) = html.bytes().take(12).position(|b| b == b';') else {
        return literal;
    };
    let name = &html[1..end];
    let c = match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" | "#39" => Some('\''),
        "nbsp" => Some(' '),
        "mdash" => Some('—'),
        "ndash" => Some('–'),
        "hellip" => Some('…'),
        "lsquo" => Some('‘'),
        "rsquo" => Some('’'),
        "ldquo" => Some('“'),
        "rdquo" => Some('”'),
        "copy" => Some('©'),
        _ => name
            .strip_prefix("#x")
            .or_else(|| name.strip_prefix("#X"))
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
            .and_then(char::from_u32),
    };
    match c {
        Some(c) => (c, &html[end + 1..]),
        None => literal,
    }
}
