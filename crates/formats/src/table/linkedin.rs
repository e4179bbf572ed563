//! LinkedIn's "Get a copy of your data" export, its two CSV files people import:
//! - **`Connections.csv`**: notes first (`Notes:`, a quoted paragraph about missing
//!   e-mails, a blank line), then `First Name,Last Name,URL,Email Address,Company,
//!   Position,Connected On` ([`connections`]). Older exports lack `URL`; e-mail is
//!   empty for most people (they choose whether to share it). `Connected On` is
//!   `05 Dec 2024`.
//! - **`messages.csv`**: `CONVERSATION ID, CONVERSATION TITLE, FROM, SENDER PROFILE
//!   URL, TO, RECIPIENT PROFILE URLS, DATE, SUBJECT, CONTENT, FOLDER` and in newer
//!   exports `IS MESSAGE DRAFT` ([`messages`]). `DATE` is `2024-12-05 10:11:12 UTC`;
//!   `CONTENT` may span lines and hold HTML; `RECIPIENT PROFILE URLS` lists several
//!   for a group, comma-separated. A message whose date cannot be read is reported
//!   and skipped: a timeline needs its time.
//!
//! Columns are found by name wherever they are, so a reordered or extended export
//! still reads.

use std::io::Read;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::{Record, Table, parse_date};
use crate::Problem;
use crate::social::{self, Network};

/// One row of `Connections.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub line: u64,
    pub first_name: String,
    pub last_name: String,
    /// The profile's URL, when the export has it.
    pub url: Option<String>,
    /// The public profile slug from the URL (`jane-doe-12ab`).
    pub handle: Option<String>,
    /// Lower-cased; only when the person shares it.
    pub email: Option<String>,
    pub company: Option<String>,
    pub position: Option<String>,
    pub connected_on: Option<NaiveDate>,
}

/// One row of `messages.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub line: u64,
    pub conversation_id: String,
    pub conversation_title: Option<String>,
    /// The sender's name.
    pub from: String,
    pub sender_profile_url: Option<String>,
    /// The recipients' names as written.
    pub to: Option<String>,
    pub recipient_profile_urls: Vec<String>,
    pub date: DateTime<Utc>,
    pub subject: Option<String>,
    pub content: Option<String>,
    /// `INBOX`, `SENT`, `ARCHIVE`, …
    pub folder: Option<String>,
    /// `IS MESSAGE DRAFT` was `Yes`.
    pub draft: bool,
}

/// The columns of a file, found by name in its header.
struct Columns(Vec<Option<usize>>);

impl Columns {
    fn find<R: Read>(table: &Table<R>, names: &[&str]) -> Columns {
        Columns(names.iter().map(|n| table.column(n)).collect())
    }

    /// Column `i`'s trimmed cell in `record`, `None` when empty or absent.
    fn get(&self, record: &Record, i: usize) -> Option<String> {
        let cell = record.fields.get(self.0[i]?)?.trim();
        (!cell.is_empty()).then(|| cell.to_string())
    }
}

const CONNECTION_COLUMNS: [&str; 7] = [
    "First Name",
    "Last Name",
    "URL",
    "Email Address",
    "Company",
    "Position",
    "Connected On",
];

/// The connections in `Connections.csv` (named `file`); the file is refused when
/// no line within its first lines has `First Name` and `Last Name`.
pub fn connections<R: Read>(
    reader: R,
    file: &str,
) -> Result<impl Iterator<Item = Result<Connection, Problem>>, Problem> {
    let wanted = ["First Name", "Last Name"];
    let table = Table::open(reader, file, &wanted)?;
    if !super::has_columns(table.header(), &wanted) {
        return Err(table.problem(
            Some(table.header_line()),
            "not LinkedIn's Connections.csv: no header with First Name and Last Name",
        ));
    }
    let columns = Columns::find(&table, &CONNECTION_COLUMNS);
    let file = file.to_string();
    Ok(table.filter_map(move |record| {
        let record = match record {
            Ok(r) => r,
            Err(p) => return Some(Err(p)),
        };
        let get = |i| columns.get(&record, i);
        let (first_name, last_name) = (get(0).unwrap_or_default(), get(1).unwrap_or_default());
        let url = get(2);
        if first_name.is_empty() && last_name.is_empty() && url.is_none() {
            return None;
        }
        let connected_on = match get(6) {
            Some(d) => match parse_date(&d) {
                Some(date) => Some(date),
                None => {
                    return Some(Err(Problem::new(
                        &file,
                        Some(record.line),
                        format!("Connected On \"{d}\" is not a date like 05 Dec 2024: skipped"),
                    )));
                }
            },
            None => None,
        };
        Some(Ok(Connection {
            line: record.line,
            handle: url
                .as_deref()
                .and_then(|u| social::handle(Network::LinkedIn, u)),
            url,
            email: get(3).map(|e| e.to_lowercase()),
            company: get(4),
            position: get(5),
            first_name,
            last_name,
            connected_on,
        }))
    }))
}

const MESSAGE_COLUMNS: [&str; 11] = [
    "CONVERSATION ID",
    "CONVERSATION TITLE",
    "FROM",
    "SENDER PROFILE URL",
    "TO",
    "RECIPIENT PROFILE URLS",
    "DATE",
    "SUBJECT",
    "CONTENT",
    "FOLDER",
    "IS MESSAGE DRAFT",
];

/// The messages in `messages.csv` (named `file`); the file is refused when its
/// header lacks `CONVERSATION ID`, `FROM` or `DATE`.
pub fn messages<R: Read>(
    reader: R,
    file: &str,
) -> Result<impl Iterator<Item = Result<Message, Problem>>, Problem> {
    let wanted = ["CONVERSATION ID", "FROM", "DATE"];
    let table = Table::open(reader, file, &wanted)?;
    if !super::has_columns(table.header(), &wanted) {
        return Err(table.problem(
            Some(table.header_line()),
            "not LinkedIn's messages.csv: no header with CONVERSATION ID, FROM and DATE",
        ));
    }
    let columns = Columns::find(&table, &MESSAGE_COLUMNS);
    let file = file.to_string();
    Ok(table.map(move |record| {
        let record = record?;
        let get = |i| columns.get(&record, i);
        let problem = |m: String| Problem::new(&file, Some(record.line), m);
        let raw_date = get(6).unwrap_or_default();
        let date = parse_time(&raw_date).ok_or_else(|| {
            problem(format!(
                "DATE \"{raw_date}\" is not a time like 2024-12-05 10:11:12 UTC: skipped"
            ))
        })?;
        Ok(Message {
            line: record.line,
            conversation_id: get(0).ok_or_else(|| problem("no CONVERSATION ID: skipped".into()))?,
            conversation_title: get(1),
            from: get(2).unwrap_or_default(),
            sender_profile_url: get(3),
            to: get(4),
            recipient_profile_urls: get(5)
                .map(|u| {
                    u.split([',', ' '])
                        .map(str::trim)
                        .filter(|u| !u.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default(),
            date,
            subject: get(7),
            content: get(8),
            folder: get(9),
            draft: get(10).is_some_and(|d| d.eq_ignore_ascii_case("yes")),
        })
    }))
}

/// `2024-12-05 10:11:12 UTC` (LinkedIn's), without the zone, or RFC 3339.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let bare = s.strip_suffix("UTC").unwrap_or(s).trim_end();
    ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(bare, f).ok())
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONNECTIONS: &str = "Notes:\r\n\
\"When exporting your connection data, you may notice that some of the email addresses are missing. You will only see email addresses for connections who have allowed their connections to see or download their email address using this setting https://www.linkedin.com/psettings/privacy/email. You can learn more here https://www.linkedin.com/help/linkedin/answer/261\"\r\n\
\r\n\
First Name,Last Name,URL,Email Address,Company,Position,Connected On\r\n\
Jane,Doe,https://www.linkedin.com/in/jane-doe-12ab,Jane@Example.com,\"Acme, Inc.\",CTO,05 Dec 2024\r\n\
Bob,Roe,https://www.linkedin.com/in/bobroe,,,,14 Jan 2023\r\n\
Bad,Date,https://www.linkedin.com/in/bad,,,,yesterday\r\n";

    #[test]
    fn connections_are_read_past_the_notes() {
        let read: Vec<_> = connections(CONNECTIONS.as_bytes(), "Connections.csv")
            .unwrap()
            .collect();
        let jane = read[0].as_ref().unwrap();
        assert_eq!(jane.line, 5);
        assert_eq!(
            (jane.first_name.as_str(), jane.last_name.as_str()),
            ("Jane", "Doe")
        );
        assert_eq!(jane.handle.as_deref(), Some("jane-doe-12ab"));
        assert_eq!(jane.email.as_deref(), Some("jane@example.com"));
        assert_eq!(jane.company.as_deref(), Some("Acme, Inc."));
        assert_eq!(jane.position.as_deref(), Some("CTO"));
        assert_eq!(jane.connected_on, NaiveDate::from_ymd_opt(2024, 12, 5));
        let bob = read[1].as_ref().unwrap();
        assert_eq!((bob.email.as_deref(), bob.company.as_deref()), (None, None));
        assert_eq!(bob.connected_on, NaiveDate::from_ymd_opt(2023, 1, 14));
        let bad = read[2].as_ref().unwrap_err();
        assert_eq!(bad.line, Some(7));
        assert!(bad.message.contains("\"yesterday\""), "{bad}");
        assert_eq!(read.len(), 3);
    }

    #[test]
    fn a_file_that_is_not_connections_is_refused() {
        let e = connections(&b"Name,Email\nAnn,a@x.com\n"[..], "Connections.csv")
            .err()
            .unwrap();
        assert!(e.message.contains("not LinkedIn's Connections.csv"), "{e}");
    }

    #[test]
    fn messages_are_read_with_their_times_and_multi_line_content() {
        let data = "CONVERSATION ID,CONVERSATION TITLE,FROM,SENDER PROFILE URL,TO,RECIPIENT PROFILE URLS,DATE,SUBJECT,CONTENT,FOLDER\n\
2-abc==,,Jane Doe,https://www.linkedin.com/in/jane-doe,Sam Owner,https://www.linkedin.com/in/sam,2024-12-05 10:11:12 UTC,Hi,\"Hello Sam,\nhow are you?\",INBOX\n\
2-grp==,Team,Sam Owner,https://www.linkedin.com/in/sam,\"A, B\",\"https://www.linkedin.com/in/a,https://www.linkedin.com/in/b\",2024-12-06 08:00:00 UTC,,<p>hi all</p>,SENT\n\
2-abc==,,Jane Doe,,Sam Owner,,not a date,,lost,INBOX\n";
        let read: Vec<_> = messages(data.as_bytes(), "messages.csv").unwrap().collect();
        let first = read[0].as_ref().unwrap();
        assert_eq!(first.conversation_id, "2-abc==");
        assert_eq!(first.from, "Jane Doe");
        assert_eq!(first.date.to_rfc3339(), "2024-12-05T10:11:12+00:00");
        assert_eq!(first.content.as_deref(), Some("Hello Sam,\nhow are you?"));
        assert_eq!(first.folder.as_deref(), Some("INBOX"));
        assert!(!first.draft);
        let group = read[1].as_ref().unwrap();
        assert_eq!(group.line, 4, "the line after a record spanning two");
        assert_eq!(group.recipient_profile_urls.len(), 2);
        assert_eq!(group.conversation_title.as_deref(), Some("Team"));
        let bad = read[2].as_ref().unwrap_err();
        assert_eq!(bad.line, Some(5));
        assert!(bad.message.contains("not a time"), "{bad}");
    }
}
