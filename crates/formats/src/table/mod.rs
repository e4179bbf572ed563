//! CSV and its cousins, read as a stream of records ([`Table`]):
//! - **the delimiter** is sniffed from the header line: whichever of `,` `;` tab `|`
//!   appears most outside quotes (Excel in much of Europe writes `;`; "Unicode text"
//!   is tab-separated); none of them means one column, `,`.
//! - **a UTF-8 byte-order mark** before the header is dropped; a UTF-16 file (one
//!   with its byte-order mark: Excel's "Unicode text") is read as UTF-8; a field that
//!   is not UTF-8 is read as Windows-1252 (Excel's and Outlook's exports).
//! - **quoted fields** may hold the delimiter, `""` and newlines; a record's line is
//!   the line it starts on, counted in the file.
//! - **notes before the header** are skipped: LinkedIn's `Connections.csv` opens with
//!   `Notes:`, a quoted paragraph and a blank line. The header is the first line
//!   holding the wanted columns ([`find_header`]) within the first
//!   [`MAX_PREAMBLE_LINES`] lines, or (when nothing is wanted, or nothing matches)
//!   the first line that is not blank. Blank lines are no records.
//! - **ragged rows** are reported with their line: with more fields than the header
//!   the row is skipped (a delimiter in an unquoted value shifts every column after
//!   it, so its values cannot be trusted), unless the extra fields are all empty
//!   (trailing delimiters); with fewer, the missing trailing fields read as empty.
//! - **a record past [`MAX_RECORD_BYTES`]** (an unclosed quote swallowing the rest
//!   of the file) ends the reading with a problem, in bounded memory.
//!
//! Contacts are read on top of this ([`mapping`]: columns mapped to our fields), and
//! LinkedIn's two files by name ([`linkedin`]).

pub mod linkedin;
pub mod mapping;

use std::collections::VecDeque;
use std::io::{self, BufReader, Chain, Cursor, Read};

use chrono::NaiveDate;

use crate::Problem;
use crate::text::{Line, Lines, Utf8Reader, decode};

/// Lines looked at for the header before giving up and taking the first one.
pub const MAX_PREAMBLE_LINES: usize = 50;
/// Longest line looked at for the header.
pub const MAX_HEADER_LINE_BYTES: usize = 64 * 1024;
/// Longest record (all its lines).
pub const MAX_RECORD_BYTES: u64 = 16 * 1024 * 1024;

/// What the CSV reader reads: the lines read looking for the header, then the rest.
type Input<R> = Bounded<Chain<Cursor<Vec<u8>>, BufReader<Utf8Reader<R>>>>;

/// One record (row) of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The line in the file it starts on (1-based).
    pub line: u64,
    /// As many fields as the header has.
    pub fields: Vec<String>,
}

/// A table's records, read as a stream; problems come between them (see the
/// module's first comment), and after a problem that ends the file nothing does.
#[derive(Debug)]
pub struct Table<R: Read> {
    file: String,
    header: Vec<String>,
    header_line: u64,
    delimiter: u8,
    csv: csv::Reader<Input<R>>,
    record: csv::ByteRecord,
    queued: VecDeque<Result<Record, Problem>>,
    max_record: u64,
    /// The line the CSV reader's input starts with, counted on as it reads.
    line: u64,
    done: bool,
}

impl<R: Read> Table<R> {
    /// Opens the table in `reader` (named `file` in problems), its header the first
    /// line holding every `wanted` column (compared as [`column_key`]s; none wanted:
    /// the first line that is not blank).
    pub fn open(reader: R, file: &str, wanted: &[&str]) -> Result<Table<R>, Problem> {
        Table::open_where(reader, file, &|columns| has_columns(columns, wanted))
    }

    /// Opens the table in `reader`, its header the first line `is_header` accepts
    /// within the first [`MAX_PREAMBLE_LINES`], else the first line that is not blank.
    pub fn open_where(
        reader: R,
        file: &str,
        is_header: &dyn Fn(&[String]) -> bool,
    ) -> Result<Table<R>, Problem> {
        let problem = |line: Option<u64>, message: String| Problem::new(file, line, message);
        let mut reader = BufReader::new(Utf8Reader::new(reader));
        // Lines looked at, `None` for one past the bound.
        let mut seen: Vec<(u64, Option<Vec<u8>>)> = Vec::new();
        let mut found = None;
        let mut lines = Lines::new(&mut reader, MAX_HEADER_LINE_BYTES);
        while seen.len() < MAX_PREAMBLE_LINES {
            let line = lines
                .next_line()
                .map_err(|e| problem(None, format!("cannot be read: {e}")))?;
            match line {
                None => break,
                Some(Line::TooLong(n)) => {
                    seen.push((n, None));
                    break;
                }
                Some(Line::Text(n, mut bytes)) => {
                    if seen.is_empty() && bytes.starts_with(b"\xEF\xBB\xBF") {
                        bytes.drain(..3);
                    }
                    let matches = !is_blank(&bytes) && is_header(&split_line(&bytes));
                    seen.push((n, Some(bytes)));
                    if matches {
                        found = Some(seen.len() - 1);
                        break;
                    }
                }
            }
        }
        let at = found
            .or_else(|| {
                seen.iter()
                    .take_while(|(_, l)| l.is_some())
                    .position(|(_, l)| l.as_deref().is_some_and(|l| !is_blank(l)))
            })
            .ok_or_else(|| match seen.last() {
                Some((n, None)) => problem(
                    Some(*n),
                    format!(
                        "line {n} is longer than {} KB before any header: not a table",
                        MAX_HEADER_LINE_BYTES / 1024
                    ),
                ),
                _ => problem(None, "empty: it has no header line".into()),
            })?;
        let (header_line, header_bytes) = (seen[at].0, seen[at].1.take().unwrap_or_default());
        let delimiter = sniff_delimiter(&header_bytes);
        let header = split(&header_bytes, delimiter)
            .into_iter()
            .map(|c| c.trim().to_string())
            .collect();
        // The lines read past the header are records: given back to the CSV reader,
        // but a line past the bound was dropped unread, so it is reported (and given
        // back blank, to keep the count of lines).
        let mut queued = VecDeque::new();
        let mut rest = Vec::new();
        for (n, bytes) in &seen[at + 1..] {
            if let Some(bytes) = bytes {
                rest.extend_from_slice(bytes);
            }
            rest.push(b'\n');
            match bytes {
                Some(_) => {}
                None => queued.push_back(Err(problem(
                    Some(*n),
                    format!(
                        "longer than {} KB, read while looking for the header: skipped",
                        MAX_HEADER_LINE_BYTES / 1024
                    ),
                ))),
            }
        }
        let csv = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(Bounded::new(
                Cursor::new(rest).chain(reader),
                MAX_RECORD_BYTES,
            ));
        Ok(Table {
            file: file.to_string(),
            header,
            header_line,
            delimiter,
            csv,
            record: csv::ByteRecord::new(),
            queued,
            max_record: MAX_RECORD_BYTES,
            line: header_line + 1,
            done: false,
        })
    }

    /// Bounds a record at `bytes` instead of [`MAX_RECORD_BYTES`].
    pub fn with_max_record(mut self, bytes: u64) -> Table<R> {
        self.max_record = bytes;
        self
    }

    /// The file's name, as problems give it.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The header's column names (trimmed).
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// The header's line in the file.
    pub fn header_line(&self) -> u64 {
        self.header_line
    }

    /// The delimiter sniffed from the header.
    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    /// The index of the column named `name` (compared as [`column_key`]s).
    pub fn column(&self, name: &str) -> Option<usize> {
        column_index(&self.header, name)
    }

    /// A problem at `line` of this table's file.
    pub fn problem(&self, line: Option<u64>, message: impl Into<String>) -> Problem {
        Problem::new(&self.file, line, message)
    }

    /// The line of byte `offset` of the CSV reader's input (offsets asked for in order).
    fn line_at(&mut self, offset: u64) -> u64 {
        self.line += self.csv.get_mut().newlines_up_to(offset);
        self.line
    }

    fn read(&mut self) -> Option<Result<Record, Problem>> {
        loop {
            let at = self.csv.position().byte();
            self.csv.get_mut().limit = at + self.max_record;
            match self.csv.read_byte_record(&mut self.record) {
                Ok(false) => return None,
                Ok(true) => {}
                Err(e) => {
                    self.done = true;
                    let line = Some(self.line_at(at));
                    let message = match e.kind() {
                        csv::ErrorKind::Io(io) if io.kind() == io::ErrorKind::InvalidData => {
                            format!(
                                "a record longer than {} KB (a quote left open?): the rest of the file is not read",
                                self.max_record / 1024
                            )
                        }
                        _ => format!("cannot be read further: {e}"),
                    };
                    return Some(Err(self.problem(line, message)));
                }
            }
            let line = self.line_at(self.record.position().map_or(at, |p| p.byte()));
            if self.record.iter().all(is_blank) {
                continue;
            }
            let width = self.header.len();
            let got = self.record.len();
            if got > width && self.record.iter().skip(width).any(|f| !is_blank(f)) {
                return Some(Err(self.problem(
                    Some(line),
                    format!(
                        "{got} fields where the header has {width}: skipped (a delimiter in an unquoted value?)"
                    ),
                )));
            }
            let mut fields: Vec<String> = self
                .record
                .iter()
                .take(width)
                .map(|f| decode(f, None).into_owned())
                .collect();
            let record = if got < width {
                fields.resize(width, String::new());
                self.queued.push_back(Ok(Record { line, fields }));
                Err(self.problem(
                    Some(line),
                    format!(
                        "{got} fields where the header has {width}: the missing ones read as empty"
                    ),
                ))
            } else {
                Ok(Record { line, fields })
            };
            return Some(record);
        }
    }
}

impl<R: Read> Iterator for Table<R> {
    type Item = Result<Record, Problem>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(queued) = self.queued.pop_front() {
            return Some(queued);
        }
        if self.done {
            return None;
        }
        self.read()
    }
}

/// A reader that fails once it has given `limit` bytes: the table moves the limit
/// past each record it reads, so only a record past the bound fails. It keeps the
/// bytes it gave since the record being read began, to count lines: the CSV
/// reader's own count misses newlines inside quoted fields.
#[derive(Debug)]
struct Bounded<R> {
    inner: R,
    read: u64,
    limit: u64,
    /// The bytes given from offset `kept_from` on.
    kept: Vec<u8>,
    kept_from: u64,
}

impl<R> Bounded<R> {
    fn new(inner: R, limit: u64) -> Bounded<R> {
        Bounded {
            inner,
            read: 0,
            limit,
            kept: Vec::new(),
            kept_from: 0,
        }
    }

    /// The newlines between offset `kept_from` and the record starting at `to`,
    /// forgetting the bytes before it. The CSV reader puts a record's start right
    /// after the previous one's, before the `\n` of a `\r\n` and any blank lines, so
    /// those are counted too: no record starts with a line break.
    fn newlines_up_to(&mut self, to: u64) -> u64 {
        let mut n = usize::try_from(to.saturating_sub(self.kept_from))
            .unwrap_or(usize::MAX)
            .min(self.kept.len());
        while self.kept.get(n).is_some_and(|&b| b == b'\r' || b == b'\n') {
            n += 1;
        }
        let lines = self.kept[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        self.kept.drain(..n);
        self.kept_from += n as u64;
        lines
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.limit.saturating_sub(self.read);
        if left == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "record too long",
            ));
        }
        let take = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..take])?;
        self.kept.extend_from_slice(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

/// The index of the line among `lines` that holds every `wanted` column (compared as
/// [`column_key`]s), its delimiter sniffed: where a table's header is, after any notes.
pub fn find_header(lines: &[&str], wanted: &[&str]) -> Option<usize> {
    lines.iter().position(|line| {
        let line = line.strip_prefix('\u{feff}').unwrap_or(line);
        !is_blank(line.as_bytes()) && has_columns(&split_line(line.as_bytes()), wanted)
    })
}

/// Whether `columns` holds every one of `wanted` (as [`column_key`]s).
pub fn has_columns(columns: &[String], wanted: &[&str]) -> bool {
    wanted.iter().all(|w| column_index(columns, w).is_some())
}

/// A column name compared without case, spaces or punctuation: `E-mail Address` and
/// `email_address` are one name.
pub fn column_key(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn column_index(columns: &[String], name: &str) -> Option<usize> {
    let key = column_key(name);
    columns
        .iter()
        .position(|c| c.trim() == name.trim())
        .or_else(|| columns.iter().position(|c| column_key(c) == key))
}

/// The delimiter a header line uses: the one of `,` `;` tab `|` seen most often
/// outside quotes (ties in that order; none: `,`).
pub fn sniff_delimiter(line: &[u8]) -> u8 {
    let candidates = [b',', b';', b'\t', b'|'];
    let mut counts = [0usize; 4];
    let mut quoted = false;
    for &b in line {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted && let Some(i) = candidates.iter().position(|&c| c == b) {
            counts[i] += 1;
        }
    }
    let mut best = 0;
    for i in 1..candidates.len() {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    candidates[best]
}

/// One line's fields, its delimiter sniffed.
fn split_line(line: &[u8]) -> Vec<String> {
    split(line, sniff_delimiter(line))
}

fn split(line: &[u8], delimiter: u8) -> Vec<String> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(line);
    let mut record = csv::ByteRecord::new();
    match reader.read_byte_record(&mut record) {
        Ok(true) => record
            .iter()
            .map(|f| decode(f, None).into_owned())
            .collect(),
        _ => Vec::new(),
    }
}

fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

/// A date as contact files write one: `05 Dec 2024` (LinkedIn), `Dec 5, 2024`,
/// `5 December 2024`, `2024-12-05` (with a time after it or not), `2024/12/05`.
/// Day-first and month-first numeric dates (`05/12/2024`) are ambiguous: `None`.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    let iso = s.get(..10).unwrap_or(s);
    for format in ["%Y-%m-%d", "%Y/%m/%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(iso, format) {
            return Some(d);
        }
    }
    [
        "%d %b %Y",
        "%d %B %Y",
        "%b %d, %Y",
        "%B %d, %Y",
        "%b %d %Y",
        "%d-%b-%Y",
    ]
    .iter()
    .find_map(|f| NaiveDate::parse_from_str(s, f).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<'a>(
        data: &'a [u8],
        wanted: &[&str],
    ) -> (Table<&'a [u8]>, Vec<Result<Record, Problem>>) {
        let mut table = Table::open(data, "c.csv", wanted).unwrap();
        let records = table.by_ref().collect();
        (table, records)
    }

    fn ok(r: &Result<Record, Problem>) -> (u64, Vec<&str>) {
        let r = r.as_ref().unwrap();
        (r.line, r.fields.iter().map(String::as_str).collect())
    }

    #[test]
    fn a_bom_semicolons_and_a_quoted_newline_are_read() {
        let data = "\u{feff}Name;E-mail;Notes\r\n\"Doe; Jane\";jane@x.com;\"line one\r\nline \"\"two\"\"\"\r\nBob;bob@y.com;\r\n";
        let (table, records) = read(data.as_bytes(), &[]);
        assert_eq!(table.delimiter(), b';');
        assert_eq!(table.header(), ["Name", "E-mail", "Notes"]);
        assert_eq!(records.len(), 2);
        assert_eq!(
            ok(&records[0]),
            (
                2,
                vec!["Doe; Jane", "jane@x.com", "line one\r\nline \"two\""]
            )
        );
        assert_eq!(
            ok(&records[1]),
            (4, vec!["Bob", "bob@y.com", ""]),
            "line counts the quoted newline"
        );
    }

    #[test]
    fn a_utf16_table_is_read() {
        let mut data = vec![0xFF, 0xFE];
        data.extend(
            "Name\tE-mail\r\nJosé\tj@x.com\r\n"
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        );
        let (table, records) = read(&data, &[]);
        assert_eq!(table.header(), ["Name", "E-mail"]);
        assert_eq!(ok(&records[0]), (2, vec!["José", "j@x.com"]));
    }

    #[test]
    fn the_delimiter_is_the_one_most_used_outside_quotes() {
        assert_eq!(sniff_delimiter(b"a,b,c"), b',');
        assert_eq!(sniff_delimiter(b"\"a,b,c\";d;e"), b';');
        assert_eq!(sniff_delimiter(b"a\tb\tc,d"), b'\t');
        assert_eq!(sniff_delimiter(b"a|b|c"), b'|');
        assert_eq!(sniff_delimiter(b"single"), b',');
    }

    #[test]
    fn linkedins_notes_before_the_header_are_skipped() {
        let lines = [
            "Notes:",
            "\"When exporting your connection data, you may notice that some of the email addresses are missing. You will only see email addresses for connections who have allowed their connections to see or download their email address using this setting https://www.linkedin.com/psettings/privacy/email\"",
            "",
            "First Name,Last Name,URL,Email Address,Company,Position,Connected On",
            "Jane,Doe,https://www.linkedin.com/in/jane-doe,,Acme,CTO,05 Dec 2024",
        ];
        assert_eq!(
            find_header(&lines, &["First Name", "last name", "URL"]),
            Some(3)
        );
        assert_eq!(find_header(&lines, &["Birthday"]), None);
        let data = lines.join("\n");
        let (table, records) = read(data.as_bytes(), &["First Name", "Last Name"]);
        assert_eq!(table.header_line(), 4);
        assert_eq!(table.column("email address"), Some(3));
        assert_eq!(records.len(), 1);
        assert_eq!(ok(&records[0]).0, 5);
        assert_eq!(ok(&records[0]).1[0], "Jane");
    }

    #[test]
    fn ragged_rows_are_reported_by_line() {
        let data = b"a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12,,\n\n,,\n13,14,15\n";
        let (_, records) = read(data, &[]);
        let problem = |r: &Result<Record, Problem>| r.as_ref().unwrap_err().clone();
        assert_eq!(ok(&records[0]), (2, vec!["1", "2", "3"]));
        let short = problem(&records[1]);
        assert_eq!(short.line, Some(3));
        assert!(
            short.message.contains("2 fields where the header has 3"),
            "{short}"
        );
        assert_eq!(
            ok(&records[2]),
            (3, vec!["4", "5", ""]),
            "a short row is kept"
        );
        let long = problem(&records[3]);
        assert_eq!(long.line, Some(4));
        assert!(long.message.contains("skipped"), "{long}");
        assert_eq!(
            ok(&records[4]),
            (5, vec!["10", "11", "12"]),
            "trailing empties are fine"
        );
        assert_eq!(
            ok(&records[5]),
            (8, vec!["13", "14", "15"]),
            "blank rows are none"
        );
        assert_eq!(records.len(), 6);
    }

    #[test]
    fn fields_that_are_not_utf8_read_as_windows_1252() {
        let (_, records) = read(b"Name,Company\nJos\xe9,Caf\xe9 \x80\n", &[]);
        assert_eq!(ok(&records[0]).1, ["José", "Café €"]);
    }

    #[test]
    fn an_open_quote_ends_the_file_within_the_record_bound() {
        let mut data = b"Name,Notes\nAnn,\"unclosed\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', 200_000));
        let table = Table::open(&data[..], "c.csv", &[])
            .unwrap()
            .with_max_record(10_000);
        let records: Vec<_> = table.collect();
        assert_eq!(records.len(), 1);
        let p = records[0].as_ref().unwrap_err();
        assert_eq!(p.line, Some(2));
        assert!(p.message.contains("quote left open"), "{p}");
    }

    #[test]
    fn a_huge_line_met_while_looking_for_the_header_is_reported_and_lines_still_count() {
        // No line names the wanted columns, so the scan meets the long line before it
        // settles on the first line as the header.
        let mut data = b"a,b\n1,2\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', MAX_HEADER_LINE_BYTES + 1));
        data.extend_from_slice(b"\n3,4\n");
        let (table, records) = read(&data, &["Email"]);
        assert_eq!(table.header_line(), 1);
        let p = records[0].as_ref().unwrap_err();
        assert_eq!(p.line, Some(3));
        assert_eq!(ok(&records[1]), (2, vec!["1", "2"]));
        assert_eq!(ok(&records[2]), (4, vec!["3", "4"]));
    }

    #[test]
    fn an_empty_file_or_a_huge_first_line_is_no_table() {
        let e = Table::open(&b"\n  \n"[..], "c.csv", &[]).unwrap_err();
        assert!(e.message.contains("no header"), "{e}");
        let huge = vec![b'a'; MAX_HEADER_LINE_BYTES + 10];
        let e = Table::open(&huge[..], "c.csv", &[]).unwrap_err();
        assert_eq!(e.line, Some(1));
    }

    #[test]
    fn dates_are_read_in_the_unambiguous_shapes_only() {
        let d = NaiveDate::from_ymd_opt(2024, 12, 5);
        assert_eq!(parse_date("05 Dec 2024"), d);
        assert_eq!(parse_date("5 December 2024"), d);
        assert_eq!(parse_date("Dec 5, 2024"), d);
        assert_eq!(parse_date("2024-12-05"), d);
        assert_eq!(parse_date("2024-12-05 10:11:12 UTC"), d);
        assert_eq!(parse_date("05/12/2024"), None);
        assert_eq!(parse_date("soon"), None);
    }
}
