//! Synthetic mailboxes for benchmarks and tests ([`generate_mbox`]): the same `n`
//! gives the same bytes, and message `i` is the same whatever `n` is. Six kinds of
//! message in turn, between an owner and eight correspondents (names with accents,
//! a quoted name with a comma), in Gmail Takeout's shape (`X-GM-THRID` threads of
//! three, `X-Gmail-Labels` with quoted labels):
//! 0. plain UTF-8 text, 8-bit;
//! 1. multipart/alternative, quoted-printable text and HTML;
//! 2. a subject in two adjacent UTF-8 base64 encoded-words, a base64 body;
//! 3. a subject as an ISO-8859-1 Q encoded-word, an ISO-8859-1 quoted-printable body;
//! 4. multipart/mixed: alternative bodies and one or two attachments;
//! 5. a reply (`In-Reply-To`, `References`) whose body has a `From ` line, quoted
//!    `>From ` as mboxrd does.

use std::io::{self, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration};

const OWNER: (&str, &str) = ("Sam Owner", "sam@everreach.test");

const PEOPLE: [(&str, &str); 8] = [
    ("Ann Lee", "ann@example.com"),
    ("José Müller", "jose.muller@example.de"),
    ("\"O'Brien, Pat\"", "pat@obrien.example.ie"),
    ("Zoë Ng", "zoe@example.org"),
    ("Bob Builder", "Bob@Builders.example.com"),
    ("", "noreply@service.example.net"),
    ("Chen Wei", "chen.wei@example.cn"),
    ("Fatima Zahra", "fatima@example.ma"),
];

const LABELS: [&str; 4] = [
    "Inbox,Important,Opened",
    "Sent",
    "Archived,\"Category: Updates\"",
    "Inbox,\"Work, Projects\",Opened",
];

const WORDS: [&str; 24] = [
    "meeting", "next", "week", "thanks", "for", "the", "notes", "proposal", "budget", "call",
    "tomorrow", "launch", "draft", "review", "invoice", "attached", "great", "idea", "schedule",
    "coffee", "team", "update", "follow", "up",
];

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn sentence(rng: &mut Rng) -> String {
    let n = 6 + rng.below(10);
    let mut words: Vec<&str> = (0..n).map(|_| WORDS[rng.below(WORDS.len())]).collect();
    let first = words[0];
    let capital = first[..1].to_uppercase() + &first[1..];
    words[0] = &capital;
    format!("{}.", words.join(" "))
}

fn paragraphs(rng: &mut Rng) -> String {
    let n = 1 + rng.below(4);
    (0..n)
        .map(|_| {
            (0..1 + rng.below(3))
                .map(|_| sentence(rng))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn address((name, email): (&str, &str)) -> String {
    if name.is_empty() {
        email.to_string()
    } else {
        format!("{name} <{email}>")
    }
}

fn message_id(i: usize) -> String {
    format!(
        "<gen.{i}.{:08x}@everreach.test>",
        Rng::new(i as u64 + 7).next() as u32
    )
}

/// Wraps base64 at 76 columns, as mailers do.
fn base64_lines(bytes: &[u8]) -> String {
    let encoded = STANDARD.encode(bytes);
    encoded
        .as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

fn quoted_printable(bytes: &[u8]) -> String {
    quoted_printable::encode_to_str(bytes)
}

/// Writes `n` synthetic messages as an mbox (see the module's first comment).
pub fn generate_mbox<W: Write>(n: usize, mut out: W) -> io::Result<()> {
    let start = DateTime::from_timestamp(1_704_103_200, 0).unwrap_or_default();
    for i in 0..n {
        let mut rng = Rng::new(i as u64);
        let person = PEOPLE[rng.below(PEOPLE.len())];
        let (from, to) = if i % 2 == 0 {
            (person, OWNER)
        } else {
            (OWNER, person)
        };
        let date = start + Duration::minutes(7 * i as i64);
        let thread = 1_780_000_000_000_000_000u64 + (i / 3) as u64;
        writeln!(
            out,
            "From {thread}@xxx {}",
            date.format("%a %b %d %H:%M:%S %z %Y")
        )?;
        writeln!(out, "X-GM-THRID: {thread}")?;
        writeln!(out, "X-Gmail-Labels: {}", LABELS[i % LABELS.len()])?;
        writeln!(out, "Message-ID: {}", message_id(i))?;
        writeln!(out, "Date: {}", date.to_rfc2822())?;
        writeln!(out, "From: {}", address(from))?;
        writeln!(out, "To: {}", address(to))?;
        if rng.below(4) == 0 {
            let other = PEOPLE[(i + 3) % PEOPLE.len()];
            writeln!(out, "Cc: {},\n {}", address(other), address(OWNER))?;
        }
        let text = paragraphs(&mut rng);
        match i % 6 {
            0 => {
                writeln!(out, "Subject: Notes {i}: {}", sentence(&mut rng))?;
                writeln!(out, "MIME-Version: 1.0")?;
                writeln!(out, "Content-Type: text/plain; charset=utf-8")?;
                writeln!(out, "Content-Transfer-Encoding: 8bit\n")?;
                writeln!(out, "{text}\n\n— {}", from.0.trim_matches('"'))?;
            }
            1 => {
                writeln!(out, "Subject: Re: the plan for {i}")?;
                alternative(&mut out, &format!("alt-{i}"), &text)?;
            }
            2 => {
                let subject = format!("Réunion 🚀 numéro {i}");
                let (a, b) = subject.split_at(subject.find(' ').unwrap_or(0));
                writeln!(
                    out,
                    "Subject: =?UTF-8?B?{}?=\n =?UTF-8?B?{}?=",
                    STANDARD.encode(a),
                    STANDARD.encode(b)
                )?;
                writeln!(out, "MIME-Version: 1.0")?;
                writeln!(out, "Content-Type: text/plain; charset=\"UTF-8\"")?;
                writeln!(out, "Content-Transfer-Encoding: base64\n")?;
                writeln!(out, "{}\n", base64_lines(format!("Olá! {text}").as_bytes()))?;
            }
            3 => {
                writeln!(out, "Subject: =?ISO-8859-1?Q?Caf=E9_cr=E8me_n=B0{i}?=")?;
                writeln!(out, "MIME-Version: 1.0")?;
                writeln!(out, "Content-Type: text/plain; charset=ISO-8859-1")?;
                writeln!(out, "Content-Transfer-Encoding: quoted-printable\n")?;
                let latin1: Vec<u8> = format!("Voil\u{e0} le caf\u{e9}. {text}")
                    .chars()
                    .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
                    .collect();
                writeln!(out, "{}\n", quoted_printable(&latin1))?;
            }
            4 => {
                writeln!(out, "Subject: Invoice {i} attached")?;
                writeln!(out, "MIME-Version: 1.0")?;
                writeln!(
                    out,
                    "Content-Type: multipart/mixed; boundary=\"mixed-{i}\"\n"
                )?;
                writeln!(out, "--mixed-{i}")?;
                alternative(&mut out, &format!("alt-{i}"), &text)?;
                for k in 0..1 + (i / 6) % 2 {
                    let size = 300 + rng.below(1700);
                    let bytes: Vec<u8> = (0..size).map(|_| rng.next() as u8).collect();
                    writeln!(out, "--mixed-{i}")?;
                    writeln!(
                        out,
                        "Content-Type: application/pdf; name=\"invoice-{i}-{k}.pdf\""
                    )?;
                    writeln!(
                        out,
                        "Content-Disposition: attachment; filename=\"invoice-{i}-{k}.pdf\""
                    )?;
                    writeln!(out, "Content-Transfer-Encoding: base64\n")?;
                    writeln!(out, "{}", base64_lines(&bytes))?;
                }
                writeln!(out, "--mixed-{i}--\n")?;
            }
            _ => {
                let parent = message_id(i - 1);
                writeln!(out, "Subject: Re: follow up {}", i - 1)?;
                writeln!(out, "In-Reply-To: {parent}")?;
                writeln!(
                    out,
                    "References: {} {parent}",
                    message_id(i.saturating_sub(2))
                )?;
                writeln!(out, "Content-Type: text/plain; charset=us-ascii\n")?;
                writeln!(out, "{text}\n\n>From the archive: see below.\n")?;
            }
        }
    }
    out.flush()
}

/// A multipart/alternative part (headers and body) of `text` and its HTML.
fn alternative<W: Write>(out: &mut W, boundary: &str, text: &str) -> io::Result<()> {
    writeln!(
        out,
        "Content-Type: multipart/alternative; boundary=\"{boundary}\"\n"
    )?;
    writeln!(out, "--{boundary}")?;
    writeln!(out, "Content-Type: text/plain; charset=UTF-8")?;
    writeln!(out, "Content-Transfer-Encoding: quoted-printable\n")?;
    writeln!(
        out,
        "{}",
        quoted_printable(format!("{text} — ✓").as_bytes())
    )?;
    writeln!(out, "--{boundary}")?;
    writeln!(out, "Content-Type: text/html; charset=UTF-8\n")?;
    let html: String = text.split("\n\n").map(|p| format!("<p>{p}</p>")).collect();
    writeln!(
        out,
        "<html><head><style>p {{ margin: 0 }}</style></head><body>{html}<p>&mdash; &#10003;</p></body></html>"
    )?;
    writeln!(out, "--{boundary}--\n")
}
