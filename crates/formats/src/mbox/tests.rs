//! The mbox reader's tests: each awkward case in a small inline mailbox.

use super::*;

fn read(data: &[u8]) -> Vec<Result<Mail, Problem>> {
    Mbox::new(data, "m.mbox").collect()
}

fn mails(data: &[u8]) -> Vec<Mail> {
    read(data).into_iter().map(Result::unwrap).collect()
}

fn emails(list: &[Address]) -> Vec<(Option<&str>, &str)> {
    list.iter()
        .map(|a| (a.name.as_deref(), a.email.as_str()))
        .collect()
}

const SEP: &str = "From 1797053040658734622@xxx Sat Dec 07 10:11:12 +0000 2024";

#[test]
fn encoded_word_headers_are_decoded_in_utf8_and_iso_8859_1() {
    let data = format!(
        "{SEP}\n\
Subject: =?UTF-8?B?UsOpdW5pb24g8J+agA==?=\n =?utf-8?q?_demain_=C3=A0_9h?= (confirm)\n\
From: =?ISO-8859-1?Q?Jos=E9_M=FCller?= <Jose@Example.DE>\n\
To: \"Doe, Jane\" <jane@x.com>, bob@y.com,\n\tundisclosed-recipients:;\n\
Cc: =?UTF-8?Q?Zo=C3=AB?= <zoe@z.org>\n\
Reply-To: Help Desk <help@x.com>\n\
Message-ID:   <ABC.123@mail.example.com>  \n\
\n\
body\n"
    );
    let m = &mails(data.as_bytes())[0];
    assert_eq!(
        m.subject.as_deref(),
        Some("Réunion 🚀 demain à 9h (confirm)"),
        "adjacent encoded-words joined without the whitespace between, folds unfolded"
    );
    assert_eq!(emails(&m.from), [(Some("José Müller"), "jose@example.de")]);
    assert_eq!(
        emails(&m.to),
        [(Some("Doe, Jane"), "jane@x.com"), (None, "bob@y.com")]
    );
    assert_eq!(emails(&m.cc), [(Some("Zoë"), "zoe@z.org")]);
    assert_eq!(emails(&m.reply_to), [(Some("Help Desk"), "help@x.com")]);
    assert_eq!(m.message_id.as_deref(), Some("ABC.123@mail.example.com"));
    assert_eq!(
        m.sender().map(|a| a.email.as_str()),
        Some("jose@example.de")
    );
}

#[test]
fn ids_threads_labels_and_dates_are_read() {
    let data = format!(
        "{SEP}\n\
X-GM-THRID: 1797053040658734622\n\
X-Gmail-Labels: Inbox,Important,\"Work, Projects\",Category Updates,\n =?UTF-8?Q?F=C3=A9rias?=\n\
Date: Sat, 7 Dec 2024 10:11:12 +0100 (CET)\n\
In-Reply-To: <parent@x.com>\n\
References: <root@x.com>\n <parent@x.com>\n\
From: a@x.com\n\
\n\
hi\n\
{SEP}\n\
Date: 7 Dec 2024 10:11:12 GMT\n\
From: b@x.com\n\
\n\
no message-id\n\
{SEP}\n\
Date: whenever\n\
Message-ID:\n\
From: c@x.com\n\
\n\
hi\n"
    );
    let m = mails(data.as_bytes());
    assert_eq!(m[0].thread_id.as_deref(), Some("1797053040658734622"));
    assert_eq!(
        m[0].labels,
        [
            "Inbox",
            "Important",
            "Work, Projects",
            "Category Updates",
            "Férias"
        ]
    );
    assert_eq!(
        m[0].date.map(|d| d.to_rfc3339()).as_deref(),
        Some("2024-12-07T09:11:12+00:00")
    );
    assert_eq!(m[0].in_reply_to.as_deref(), Some("parent@x.com"));
    assert_eq!(m[0].references, ["root@x.com", "parent@x.com"]);
    assert_eq!(
        m[1].date.map(|d| d.to_rfc3339()).as_deref(),
        Some("2024-12-07T10:11:12+00:00"),
        "no day name, a zone name"
    );
    assert_eq!(m[1].message_id, None);
    assert_eq!((m[2].date, m[2].message_id.as_deref()), (None, None));
}

#[test]
fn alternative_bodies_are_decoded_and_attachments_counted() {
    let data = format!(
        "{SEP}\n\
From: a@x.com\n\
Subject: parts\n\
Content-Type: multipart/mixed; boundary=\"outer\"\n\
\n\
preamble\n\
--outer\n\
Content-Type: multipart/alternative; boundary=inner\n\
\n\
--inner\n\
Content-Type: text/plain; charset=UTF-8\n\
Content-Transfer-Encoding: quoted-printable\n\
\n\
Ol=C3=A1, this line is soft=\n\
-broken.\n\
--inner\n\
Content-Type: text/html; charset=UTF-8\n\
Content-Transfer-Encoding: base64\n\
\n\
PHA+T2zDoSwgPGI+aHRtbDwvYj48L3A+\n\
--inner--\n\
--outer\n\
Content-Type: application/pdf; name=\"a.pdf\"\n\
Content-Transfer-Encoding: base64\n\
\n\
JVBERi0=\n\
--outer\n\
Content-Type: image/png\n\
Content-Disposition: attachment\n\
\n\
xx\n\
--outer\n\
Content-Type: text/plain\n\
Content-Disposition: inline; filename=\"notes.txt\"\n\
\n\
not the body\n\
--outer--\n"
    );
    let m = &mails(data.as_bytes())[0];
    assert_eq!(m.text.as_deref(), Some("Olá, this line is soft-broken."));
    assert_eq!(m.html.as_deref(), Some("<p>Olá, <b>html</b></p>"));
    assert_eq!(m.attachments, 3, "a name, a disposition, a filename");
    assert!(!m.truncated);
    assert_eq!(m.snippet, "Olá, this line is soft-broken.");
}

#[test]
fn bodies_in_other_charsets_are_decoded() {
    let mut data = format!(
        "{SEP}\nFrom: a@x.com\nContent-Type: text/plain; charset=ISO-8859-1\nContent-Transfer-Encoding: 8bit\n\n"
    )
    .into_bytes();
    data.extend_from_slice(b"Caf\xe9 cr\xe8me\n");
    data.extend_from_slice(
        format!(
            "{SEP}\nFrom: a@x.com\nContent-Type: text/plain; charset=\"windows-1252\"\nContent-Transfer-Encoding: quoted-printable\n\n=93Quoted=94 =80 5\n"
        )
        .as_bytes(),
    );
    data.extend_from_slice(format!("{SEP}\nFrom: a@x.com\n\n").as_bytes());
    data.extend_from_slice(b"unlabelled na\xefve\n");
    data.extend_from_slice(
        format!("{SEP}\nFrom: a@x.com\nContent-Type: text/plain; charset=koi8-r\n\n").as_bytes(),
    );
    data.extend_from_slice(b"\xf0\xd2\xc9\xd7\xc5\xd4\n");
    let m = mails(&data);
    assert_eq!(m[0].text.as_deref(), Some("Café crème\n"));
    assert_eq!(m[1].text.as_deref(), Some("\u{201c}Quoted\u{201d} € 5\n"));
    assert_eq!(m[2].text.as_deref(), Some("unlabelled naïve\n"));
    assert_eq!(m[3].text.as_deref(), Some("Привет\n"));
}

#[test]
fn an_html_only_message_has_a_snippet_of_its_text() {
    let long = "word ".repeat(100);
    let data = format!(
        "{SEP}\nFrom: a@x.com\nContent-Type: text/html\n\n\
<html><head><title>T</title><style>p {{color: red}}</style></head>\
<body><!-- hidden --><script>var x = '<p>';</script><p>Fish &amp; chips&nbsp;&#8364;5</p>\n\n  <div>{long}</div></body></html>\n"
    );
    let m = &mails(data.as_bytes())[0];
    assert_eq!(m.text, None);
    assert!(
        m.snippet.starts_with("Fish & chips €5 word word"),
        "{}",
        m.snippet
    );
    assert_eq!(m.snippet.chars().count(), 200);
    assert!(!m.snippet.contains("  "));
}

#[test]
fn duplicate_message_ids_are_all_returned() {
    let one =
        format!("{SEP}\nMessage-ID: <same@x.com>\nFrom: a@x.com\nX-Gmail-Labels: Inbox\n\nhi\n");
    let two = one.replace("Inbox", "Sent");
    let m = mails(format!("{one}{two}").as_bytes());
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].message_id, m[1].message_id);
    assert_eq!((m[0].line, m[1].line), (1, 7));
    assert_eq!(m[1].labels, ["Sent"]);
}

#[test]
fn a_truncated_last_message_is_returned_marked() {
    let data = format!(
        "{SEP}\nFrom: a@x.com\nSubject: whole\n\nfine\n\
{SEP}\nFrom: b@x.com\nSubject: cut\nContent-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\nthe text so f"
    );
    let m = mails(data.as_bytes());
    assert_eq!(m.len(), 2);
    assert!(!m[0].truncated);
    assert!(m[1].truncated);
    assert_eq!(m[1].subject.as_deref(), Some("cut"));
    assert_eq!(m[1].text.as_deref(), Some("the text so f\n"));
    // Cut inside the headers.
    let m = mails(format!("{SEP}\nFrom: a@x.com\nSubject: cut in the head").as_bytes());
    assert!(m[0].truncated);
    assert_eq!(m[0].subject.as_deref(), Some("cut in the head"));
}

#[test]
fn lines_before_the_first_separator_and_a_headerless_message_are_reported() {
    let data = format!(
        "garbage\nmore garbage\n\nFrom: not a separator (a mangled one)\n\
{SEP}\nFrom: a@x.com\nSubject: one\n\n\
From here on, an unquoted body line (mboxo) does not split.\n\
>From quoted, >>From twice:\n>>From x\n\
{SEP}\n\u{1}\u{2}binary junk\n\n\
{SEP}\nFrom: b@x.com\nSubject: two\n\nok\n"
    );
    let read = read(data.as_bytes());
    let problems: Vec<&Problem> = read.iter().filter_map(|r| r.as_ref().err()).collect();
    let mails: Vec<&Mail> = read.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert_eq!(problems[0].line, Some(1));
    assert!(
        problems[0].message.starts_with("3 lines before the first"),
        "{}",
        problems[0]
    );
    assert_eq!(problems[1].line, Some(12));
    assert!(
        problems[1].message.contains("no headers"),
        "{}",
        problems[1]
    );
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[0].line, 5);
    assert_eq!(
        mails[0].text.as_deref(),
        Some(
            "From here on, an unquoted body line (mboxo) does not split.\nFrom quoted, >>From twice:\n>From x\n"
        )
    );
    assert_eq!(mails[1].subject.as_deref(), Some("two"));
}

#[test]
fn a_message_past_the_bound_is_skipped_in_bounded_memory() {
    let big = "x".repeat(2_000);
    let data = format!(
        "{SEP}\nFrom: a@x.com\nSubject: small\n\nok\n\
{SEP}\nFrom: b@x.com\nSubject: big\n\n{big}\n{big}\n\
{SEP}\nFrom: c@x.com\nSubject: after\n\nok\n"
    );
    let read: Vec<_> = Mbox::with_max_message(data.as_bytes(), "m.mbox", 3_000).collect();
    assert_eq!(read.len(), 3);
    assert_eq!(read[0].as_ref().unwrap().subject.as_deref(), Some("small"));
    let p = read[1].as_ref().unwrap_err();
    assert_eq!(p.line, Some(6));
    assert!(p.message.contains("past the"), "{p}");
    assert_eq!(read[2].as_ref().unwrap().subject.as_deref(), Some("after"));
    // One line past the bound is the same.
    let data = format!(
        "{SEP}\nFrom: b@x.com\n\n{}\n{SEP}\nFrom: c@x.com\n\nok\n",
        "y".repeat(5_000)
    );
    let read: Vec<_> = Mbox::with_max_message(data.as_bytes(), "m.mbox", 3_000).collect();
    assert!(read[0].is_err());
    assert!(read[1].is_ok());
}

#[test]
fn separators_need_a_sender_and_a_date() {
    assert!(is_separator(SEP.as_bytes()));
    assert!(is_separator(b"From - Sat Dec 07 10:11:12 2024"));
    assert!(is_separator(b"From MAILER-DAEMON Fri Jul  8 12:08:34 2011"));
    assert!(is_separator(b"From bob@x.com 2024"));
    assert!(!is_separator(b"From here on, we ship."));
    assert!(!is_separator(b"From: a@x.com"));
    assert!(!is_separator(b"From "));
    assert!(!is_separator(b">From bob Sat Dec 07 10:11:12 2024"));
}

#[test]
fn a_lenient_reading_saves_addresses_the_parser_refuses() {
    let data = format!(
        "{SEP}\nFrom: Broken \"Quote <a@x.com>, Ok <B@Y.com>\nTo: <<weird>>, c@z.com\n\nx\n"
    );
    let m = &mails(data.as_bytes())[0];
    assert!(
        m.from
            .iter()
            .any(|a| a.email == "a@x.com" || a.email == "b@y.com"),
        "{:?}",
        m.from
    );
    assert!(m.to.iter().any(|a| a.email == "c@z.com"), "{:?}", m.to);
}

#[test]
fn generated_mailboxes_read_back_whole() {
    let mut bytes = Vec::new();
    generate_mbox(60, &mut bytes).unwrap();
    let mut again = Vec::new();
    generate_mbox(60, &mut again).unwrap();
    assert_eq!(bytes, again, "deterministic");
    let read = read(&bytes);
    let mails: Vec<&Mail> = read.iter().map(|r| r.as_ref().unwrap()).collect();
    assert_eq!(mails.len(), 60);
    let mut ids: Vec<&str> = mails
        .iter()
        .filter_map(|m| m.message_id.as_deref())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 60, "unique Message-IDs");
    assert!(
        mails
            .iter()
            .all(|m| m.date.is_some() && !m.snippet.is_empty() && !m.truncated)
    );
    assert!(mails.iter().all(|m| !m.from.is_empty() && !m.to.is_empty()));
    assert_eq!(mails[2].subject.as_deref(), Some("Réunion 🚀 numéro 2"));
    assert_eq!(mails[3].subject.as_deref(), Some("Café crème n°3"));
    assert!(
        mails[3]
            .text
            .as_deref()
            .unwrap()
            .starts_with("Voilà le café.")
    );
    assert!(mails[1].html.is_some());
    assert!(
        mails[1].text.as_deref().unwrap().ends_with("— ✓"),
        "{:?}",
        mails[1].text
    );
    assert_eq!((mails[4].attachments, mails[10].attachments), (1, 2));
    assert_eq!(mails[5].in_reply_to, mails[4].message_id);
    assert!(
        mails[5]
            .text
            .as_deref()
            .unwrap()
            .contains("\nFrom the archive")
    );
    assert_eq!(mails[2].labels, ["Archived", "Category: Updates"]);
    assert_eq!(mails[3].labels, ["Inbox", "Work, Projects", "Opened"]);
    let senders: std::collections::HashSet<&str> =
        mails.iter().map(|m| m.from[0].email.as_str()).collect();
    assert!(senders.len() >= 5, "several correspondents: {senders:?}");
    assert!(senders.contains("bob@builders.example.com"), "lower-cased");
    assert_eq!(
        mails
            .iter()
            .filter(|m| m.thread_id == mails[0].thread_id)
            .count(),
        3
    );
}
