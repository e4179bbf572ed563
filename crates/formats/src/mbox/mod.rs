//! mbox mailboxes (Gmail Takeout's `All mail Including Spam and Trash.mbox`,
//! Thunderbird, Apple Mail, `mutt`), read as a stream of [`Mail`]s ([`Mbox`]):
//! - **separators**: a message starts at a line `From <sender> <date>`. Only a line
//!   that looks like one — `From `, a sender, then a time (`10:11:12`) or a year —
//!   separates: an mboxo writer that forgot to quote a body line `From here on…`
//!   does not split its message. `>From `, `>>From ` (mboxrd's quoting) lose one
//!   `>`.
//! - **bounds**: a message past [`MAX_MESSAGE_BYTES`] (25 MB, Gmail's own limit) is
//!   reported with its line and size and skipped without being held: its bytes are
//!   counted, not kept. A single line is bounded the same way.
//! - **broken files**: lines before the first separator (a file cut at the start,
//!   a separator mangled) are reported once with their first line; a separator
//!   followed by no header is reported and skipped; a last message cut short is
//!   still returned, marked [`Mail::truncated`] when its headers never ended or a
//!   multipart lost its closing boundary.
//! - each message is parsed by [`parse_message`] (headers, addresses, dates,
//!   bodies: see [`message`]'s first comment). Duplicates (one Message-ID twice,
//!   Gmail's labels exporting a message once per label in some tools) are all
//!   returned: deduplicating is the importer's job.
//!
//! [`generate_mbox`] writes synthetic mailboxes for benchmarks and tests.

mod generate;
pub mod message;

use std::collections::VecDeque;
use std::io::{BufReader, Read};

use chrono::{DateTime, Utc};

use crate::Problem;
use crate::text::{Line, Lines};
pub use generate::generate_mbox;
pub use message::parse_message;

/// Largest message read.
pub const MAX_MESSAGE_BYTES: usize = 25 * 1024 * 1024;

/// An address on a message: `"Doe, Jane" <Jane@Example.com>` is the name
/// `Doe, Jane` and the e-mail `jane@example.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The display name (RFC 2047 decoded), when it has one.
    pub name: Option<String>,
    /// Lower-cased.
    pub email: String,
}

/// One message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mail {
    /// The line of its `From ` separator.
    pub line: u64,
    /// Without its angle brackets; `None` when it has none.
    pub message_id: Option<String>,
    pub from: Vec<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub bcc: Vec<Address>,
    pub reply_to: Vec<Address>,
    pub subject: Option<String>,
    /// `None` when missing or unreadable.
    pub date: Option<DateTime<Utc>>,
    /// The Message-ID it answers (brackets stripped).
    pub in_reply_to: Option<String>,
    /// The thread's Message-IDs, oldest first (brackets stripped).
    pub references: Vec<String>,
    /// Gmail's thread (`X-GM-THRID`).
    pub thread_id: Option<String>,
    /// Gmail's labels (`X-Gmail-Labels`): `Inbox`, `Sent`, `Important`, …
    pub labels: Vec<String>,
    /// The first text/plain body, decoded.
    pub text: Option<String>,
    /// The first text/html body, decoded.
    pub html: Option<String>,
    /// The start of the text (or of the HTML's text), whitespace collapsed.
    pub snippet: String,
    /// Parts that are attachments (a `Content-Disposition: attachment` or a file name).
    pub attachments: usize,
    /// The message's size in bytes.
    pub size: u64,
    /// Cut short: its headers never ended, or a multipart lost its closing boundary.
    pub truncated: bool,
}

impl Mail {
    /// The first `From` address.
    pub fn sender(&self) -> Option<&Address> {
        self.from.first()
    }
}

/// The message being gathered.
#[derive(Debug)]
struct Gathering {
    line: u64,
    raw: Vec<u8>,
    size: u64,
    /// Past the bound: `raw` is dropped, `size` still counted.
    too_big: bool,
}

/// The messages of an mbox, as a stream; problems come between them.
#[derive(Debug)]
pub struct Mbox<R: Read> {
    lines: Lines<BufReader<R>>,
    file: String,
    max: usize,
    gathering: Option<Gathering>,
    /// Lines before the first separator: the first one's number, and how many.
    stray: Option<(u64, u64)>,
    queued: VecDeque<Result<Mail, Problem>>,
    done: bool,
}

impl<R: Read> Mbox<R> {
    /// The messages in `reader`, named `file` in problems.
    pub fn new(reader: R, file: &str) -> Mbox<R> {
        Mbox::with_max_message(reader, file, MAX_MESSAGE_BYTES)
    }

    /// The same, each message bounded at `max` bytes.
    pub fn with_max_message(reader: R, file: &str, max: usize) -> Mbox<R> {
        Mbox {
            lines: Lines::new(BufReader::with_capacity(64 * 1024, reader), max),
            file: file.to_string(),
            max,
            gathering: None,
            stray: None,
            queued: VecDeque::new(),
            done: false,
        }
    }

    fn problem(&self, line: u64, message: String) -> Problem {
        Problem::new(&self.file, Some(line), message)
    }

    /// Reads on until a message is complete or the file ends.
    fn read(&mut self) {
        while self.queued.is_empty() {
            let line = match self.lines.next_line() {
                Ok(line) => line,
                Err(e) => {
                    let p = Problem::new(&self.file, None, format!("cannot be read further: {e}"));
                    self.queued.push_back(Err(p));
                    self.finish();
                    self.done = true;
                    return;
                }
            };
            match line {
                None => {
                    self.finish();
                    self.report_stray();
                    self.done = true;
                    return;
                }
                Some(Line::TooLong(n)) => match self.gathering.as_mut() {
                    Some(g) => {
                        g.too_big = true;
                        g.raw = Vec::new();
                        g.size += self.max as u64;
                    }
                    None => self.stray_line(n),
                },
                Some(Line::Text(n, bytes)) => {
                    if is_separator(&bytes) {
                        self.finish();
                        self.report_stray();
                        self.gathering = Some(Gathering {
                            line: n,
                            raw: Vec::new(),
                            size: 0,
                            too_big: false,
                        });
                        continue;
                    }
                    let max = self.max;
                    match self.gathering.as_mut() {
                        Some(g) => {
                            let body = unquote_from(&bytes);
                            g.size += body.len() as u64 + 1;
                            if !g.too_big {
                                if g.raw.len() + body.len() + 1 > max {
                                    g.too_big = true;
                                    g.raw = Vec::new();
                                } else {
                                    g.raw.extend_from_slice(body);
                                    g.raw.push(b'\n');
                                }
                            }
                        }
                        None if bytes.iter().all(u8::is_ascii_whitespace) => {}
                        None => self.stray_line(n),
                    }
                }
            }
        }
    }

    fn stray_line(&mut self, n: u64) {
        match self.stray.as_mut() {
            Some((_, count)) => *count += 1,
            None => self.stray = Some((n, 1)),
        }
    }

    fn report_stray(&mut self) {
        if let Some((first, count)) = self.stray.take() {
            let what = if count == 1 {
                "a line".to_string()
            } else {
                format!("{count} lines")
            };
            let p = self.problem(
                first,
                format!(
                    "{what} before the first \"From \" separator line: not a message (a broken separator?); skipped"
                ),
            );
            self.queued.push_back(Err(p));
        }
    }

    /// Queues the message gathered, parsed, or why not.
    fn finish(&mut self) {
        let Some(g) = self.gathering.take() else {
            return;
        };
        if g.too_big {
            let p = self.problem(
                g.line,
                format!(
                    "a message of {} MB or more, past the {} MB bound: skipped",
                    g.size / (1024 * 1024),
                    self.max / (1024 * 1024)
                ),
            );
            self.queued.push_back(Err(p));
            return;
        }
        let item = match message::starts_with_header(&g.raw) {
            false => Err(self.problem(
                g.line,
                "no headers after this \"From \" line: not a message (a broken separator?); skipped"
                    .to_string(),
            )),
            true => parse_message(&g.raw, g.line).map_err(|why| self.problem(g.line, why)),
        };
        self.queued.push_back(item);
    }
}

impl<R: Read> Iterator for Mbox<R> {
    type Item = Result<Mail, Problem>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.queued.is_empty() && !self.done {
            self.read();
        }
        self.queued.pop_front()
    }
}

/// Whether `line` separates messages: `From `, a sender, then something with a time
/// (`10:11:12`) or a year in it (see the module's first comment).
pub fn is_separator(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"From ") else {
        return false;
    };
    let mut tokens = rest
        .split(|b| b.is_ascii_whitespace())
        .filter(|t| !t.is_empty());
    if tokens.next().is_none() {
        return false;
    }
    tokens.any(|t| {
        let time = t.len() >= 4
            && t.iter().all(|b| b.is_ascii_digit() || *b == b':')
            && t.windows(3)
                .any(|w| w[0].is_ascii_digit() && w[1] == b':' && w[2].is_ascii_digit());
        let year = t.len() == 4 && t.iter().all(u8::is_ascii_digit);
        time || year
    })
}

/// A body line with mboxrd's quoting undone: `>From ` → `From `, `>>From ` → `>From `.
fn unquote_from(line: &[u8]) -> &[u8] {
    let quotes = line.iter().take_while(|&&b| b == b'>').count();
    if quotes > 0 && line[quotes..].starts_with(b"From ") {
        &line[1..]
    } else {
        line
    }
}

#[cfg(test)]
mod tests;
