//! One vCard property line, unfolded: `[group.]NAME[;param…]:value`, its
//! parameters read and its value decoded (see the module above for the cases).

use std::borrow::Cow;

use base64::Engine;

use crate::text::decode;

/// A property's name, group and parameters; its value starts at `value_start`.
#[derive(Debug)]
pub(super) struct Property {
    /// Lower-cased.
    pub group: Option<String>,
    /// Upper-cased.
    pub name: String,
    /// (upper-cased name, value unquoted); each `TYPE` on its own, lower-cased.
    pub params: Vec<(String, String)>,
    pub value_start: usize,
}

impl Property {
    /// The property on `line`, `None` when it has no `:`.
    pub fn parse(line: &[u8]) -> Option<Property> {
        let head_end = head_end(line)?;
        let head = decode(&line[..head_end], None);
        let mut parts = split_unquoted(&head, ';').into_iter();
        let full_name = parts.next().unwrap_or_default();
        let (group, name) = match full_name.rsplit_once('.') {
            Some((g, n)) => (Some(g.trim().to_lowercase()), n),
            None => (None, full_name),
        };
        let mut params = Vec::new();
        for param in parts {
            match param.split_once('=') {
                Some((key, value)) => {
                    let key = key.trim().to_ascii_uppercase();
                    if key == "TYPE" {
                        // `TYPE=work,pref`, `TYPE="work,pref"`, `TYPE="work","pref"`.
                        for t in unquote(value.trim()).split(',') {
                            let t = t.trim().trim_matches('"').trim().to_lowercase();
                            if !t.is_empty() {
                                params.push((key.clone(), t));
                            }
                        }
                    } else {
                        params.push((key, unquote(value.trim()).to_string()));
                    }
                }
                None => {
                    // vCard 2.1's bare parameters: an encoding, else a type.
                    let bare = param.trim();
                    let upper = bare.to_ascii_uppercase();
                    if matches!(
                        upper.as_str(),
                        "QUOTED-PRINTABLE" | "BASE64" | "B" | "8BIT" | "7BIT"
                    ) {
                        params.push(("ENCODING".to_string(), upper));
                    } else if !bare.is_empty() {
                        params.push(("TYPE".to_string(), bare.to_lowercase()));
                    }
                }
            }
        }
        Some(Property {
            group,
            name: name.trim().to_ascii_uppercase(),
            params,
            value_start: head_end + 1,
        })
    }

    /// The first value of parameter `name` (upper-case).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every `TYPE`, lower-cased.
    pub fn types(&self) -> Vec<String> {
        self.params
            .iter()
            .filter(|(k, _)| k == "TYPE")
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The value's text: its transfer encoding undone, its bytes decoded in its
    /// charset. Escapes are left for the field to undo (structured values split
    /// first).
    pub fn decode_value(&self, value: &[u8]) -> Result<String, String> {
        let encoding = self.param("ENCODING").map(str::to_ascii_uppercase);
        let bytes: Cow<'_, [u8]> = match encoding.as_deref() {
            Some("QUOTED-PRINTABLE") => Cow::Owned(
                quoted_printable::decode(value, quoted_printable::ParseMode::Robust)
                    .map_err(|e| format!("not quoted-printable ({e})"))?,
            ),
            Some("B" | "BASE64") => {
                let compact: Vec<u8> = value
                    .iter()
                    .copied()
                    .filter(|b| !b.is_ascii_whitespace())
                    .collect();
                let engine = base64::engine::general_purpose::STANDARD;
                let lenient = base64::engine::general_purpose::STANDARD_NO_PAD;
                Cow::Owned(
                    engine
                        .decode(&compact)
                        .or_else(|_| lenient.decode(compact.strip_suffix(b"=").unwrap_or(&compact)))
                        .map_err(|e| format!("not base64 ({e})"))?,
                )
            }
            _ => Cow::Borrowed(value),
        };
        Ok(decode(&bytes, self.param("CHARSET")).into_owned())
    }
}

/// Where a line's name and parameters end: its first `:` outside double quotes.
pub(super) fn head_end(line: &[u8]) -> Option<usize> {
    let mut quoted = false;
    for (i, &b) in line.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b':' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// A head's property name, upper-cased, without group or parameters.
pub(super) fn name_of(head: &[u8]) -> String {
    let name = head.split(|&b| b == b';').next().unwrap_or(head);
    let name = name.rsplit(|&b| b == b'.').next().unwrap_or(name);
    String::from_utf8_lossy(name).trim().to_ascii_uppercase()
}

/// Whether a head says its value is quoted-printable (`ENCODING=QUOTED-PRINTABLE`
/// or 2.1's bare `QUOTED-PRINTABLE`).
pub(super) fn is_quoted_printable(head: &[u8]) -> bool {
    head.windows(16)
        .any(|w| w.eq_ignore_ascii_case(b"QUOTED-PRINTABLE"))
}

/// A text value with its escapes undone: `\n`/`\N` a newline, `\x` any other `x`.
pub(super) fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// A structured value's components: split at unescaped `;`, each unescaped.
pub(super) fn components(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ';' => {
                out.push(unescape(&s[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(unescape(&s[start..]));
    out
}

fn split_unquoted(s: &str, at: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if c == '"' {
            quoted = !quoted;
        } else if c == at && !quoted {
            out.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    out.push(&s[start..]);
    out
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_parameters_and_quoted_values_are_read() {
        let line =
            b"item1.EMAIL;TYPE=\"work,pref\";type=\"INTERNET\",x;X-LABEL=\"a:b;c\":ann@x.com";
        let p = Property::parse(line).unwrap();
        assert_eq!(p.group.as_deref(), Some("item1"));
        assert_eq!(p.name, "EMAIL");
        assert_eq!(p.types(), ["work", "pref", "internet", "x"]);
        assert_eq!(p.param("X-LABEL"), Some("a:b;c"));
        assert_eq!(&line[p.value_start..], b"ann@x.com");
        let bare = Property::parse(b"TEL;WORK;VOICE;QUOTED-PRINTABLE:1").unwrap();
        assert_eq!(bare.types(), ["work", "voice"]);
        assert_eq!(bare.param("ENCODING"), Some("QUOTED-PRINTABLE"));
        assert!(Property::parse(b"no colon here").is_none());
    }

    #[test]
    fn escapes_are_undone_and_structured_values_split_first() {
        assert_eq!(
            unescape(r"a\, b\; c\nd\\e http\://x"),
            "a, b; c\nd\\e http://x"
        );
        assert_eq!(
            components(r"Doe\; Jr;Jane;;;"),
            ["Doe; Jr", "Jane", "", "", ""]
        );
        assert_eq!(components(r"Acme\, Inc.;Sales"), ["Acme, Inc.", "Sales"]);
    }

    #[test]
    fn values_are_decoded_from_their_encoding_and_charset() {
        let p = Property::parse(b"NOTE;ENCODING=b;CHARSET=ISO-8859-1:Y2Fm6Q==").unwrap();
        assert_eq!(p.decode_value(b"Y2Fm6Q==").unwrap(), "café");
        let p = Property::parse(b"NOTE;ENCODING=BASE64:!!!").unwrap();
        assert!(p.decode_value(b"!!!").unwrap_err().contains("base64"));
    }
}
