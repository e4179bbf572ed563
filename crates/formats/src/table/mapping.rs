//! Contacts in a table: which column holds which of our fields ([`Mapping`]), and
//! each row read through it ([`Contacts`], [`Row`]).
//! - **automatic**: a header name is compared without case, spaces, punctuation or
//!   numbers (`E-mail 2 Address`, `email_address`, `E-mail 1 - Value` are all
//!   `email`), through synonyms (`Mail`, `Organization`, `Job Title`, `Surname`,
//!   Google's `Organization 1 - Name`, Outlook's `Mobile Phone`). Columns that
//!   describe another (`E-mail 1 - Type`, `Phone 1 - Label`) map to nothing. E-mail,
//!   phone and URL take every column that maps to them; any other field takes its
//!   best-named column only (Outlook's `Title` is "Mr."; its `Job Title` wins).
//! - **explicit**: `name=Full Name,email=E-mail,email=E-mail 2` ([`Mapping::new`]),
//!   a column named with a comma quoted (`email="Mail, work"`); what it names
//!   replaces what the automatic mapping chose for that field and column. An
//!   unknown field or a column the header lacks is an error that names it.
//! - a table with no e-mail and no name column is refused as a whole: nothing in it
//!   could become a person.
//! - cells may hold several values (Google writes `a@x.com ::: b@y.com`; others
//!   `;`): e-mails are split, cleaned of `mailto:` and `<>`, lower-cased and kept
//!   only when they hold an `@`; phones and URLs are split too. A row whose mapped
//!   cells are all empty is skipped.

use std::io::Read;

use chrono::NaiveDate;

use super::{Table, column_key, parse_date};
use crate::Problem;
use crate::social::{self, Network};

/// One of our fields a column can map to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Name,
    FirstName,
    LastName,
    Email,
    Phone,
    Company,
    Title,
    Url,
    Instagram,
    LinkedIn,
    Twitter,
    Notes,
    ConnectedOn,
}

impl Field {
    /// Every field, in the order they are listed to people.
    pub const ALL: [Field; 13] = [
        Field::Name,
        Field::FirstName,
        Field::LastName,
        Field::Email,
        Field::Phone,
        Field::Company,
        Field::Title,
        Field::Url,
        Field::Instagram,
        Field::LinkedIn,
        Field::Twitter,
        Field::Notes,
        Field::ConnectedOn,
    ];

    /// The name `--map` uses.
    pub fn name(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::FirstName => "first_name",
            Field::LastName => "last_name",
            Field::Email => "email",
            Field::Phone => "phone",
            Field::Company => "company",
            Field::Title => "title",
            Field::Url => "url",
            Field::Instagram => "instagram",
            Field::LinkedIn => "linkedin",
            Field::Twitter => "twitter",
            Field::Notes => "notes",
            Field::ConnectedOn => "connected_on",
        }
    }

    /// The field a `--map` target names (its name or an alias: `position`,
    /// `website`, `x`, `note`, `date`).
    pub fn parse(target: &str) -> Option<Field> {
        Some(match column_key(target).as_str() {
            "name" | "fullname" => Field::Name,
            "firstname" | "first" | "givenname" => Field::FirstName,
            "lastname" | "last" | "familyname" | "surname" => Field::LastName,
            "email" | "mail" => Field::Email,
            "phone" | "tel" => Field::Phone,
            "company" | "organization" | "organisation" | "org" => Field::Company,
            "title" | "position" | "jobtitle" => Field::Title,
            "url" | "website" | "web" => Field::Url,
            "instagram" | "ig" => Field::Instagram,
            "linkedin" => Field::LinkedIn,
            "twitter" | "x" => Field::Twitter,
            "notes" | "note" => Field::Notes,
            "connectedon" | "date" => Field::ConnectedOn,
            _ => return None,
        })
    }

    /// Whether every column mapped to it counts (else only the best-named one).
    pub fn is_multi(self) -> bool {
        matches!(self, Field::Email | Field::Phone | Field::Url)
    }
}

/// Header names (as keys: lower-case letters, no numbers) each field recognises,
/// best first.
const SYNONYMS: &[(Field, &[&str])] = &[
    (
        Field::Name,
        &[
            "name",
            "fullname",
            "displayname",
            "contactname",
            "contact",
            "person",
        ],
    ),
    (
        Field::FirstName,
        &["firstname", "givenname", "first", "forename", "givennames"],
    ),
    (
        Field::LastName,
        &["lastname", "familyname", "surname", "last", "lastnames"],
    ),
    (
        Field::Email,
        &[
            "email",
            "emailaddress",
            "mail",
            "emails",
            "emailaddresses",
            "mailaddress",
            "primaryemail",
            "workemail",
            "homeemail",
            "personalemail",
            "businessemail",
            "otheremail",
        ],
    ),
    (
        Field::Phone,
        &[
            "phone",
            "phonenumber",
            "mobile",
            "mobilephone",
            "mobilenumber",
            "cell",
            "cellphone",
            "telephone",
            "tel",
            "primaryphone",
            "businessphone",
            "workphone",
            "homephone",
            "otherphone",
            "whatsapp",
            "phones",
        ],
    ),
    (
        Field::Company,
        &[
            "company",
            "organization",
            "organisation",
            "companyname",
            "organizationname",
            "organisationname",
            "org",
            "employer",
        ],
    ),
    (
        Field::Title,
        &[
            "jobtitle",
            "position",
            "organizationtitle",
            "organisationtitle",
            "role",
            "occupation",
            "headline",
            "title",
        ],
    ),
    (
        Field::Url,
        &[
            "url",
            "website",
            "webpage",
            "web",
            "homepage",
            "site",
            "websiteurl",
            "personalwebsite",
            "link",
        ],
    ),
    (
        Field::Instagram,
        &[
            "instagram",
            "instagramhandle",
            "instagramusername",
            "instagramurl",
            "instagramprofile",
            "ig",
            "insta",
        ],
    ),
    (
        Field::LinkedIn,
        &[
            "linkedin",
            "linkedinurl",
            "linkedinprofile",
            "linkedinprofileurl",
            "linkedinhandle",
        ],
    ),
    (
        Field::Twitter,
        &[
            "twitter",
            "x",
            "twitterhandle",
            "twitterusername",
            "twitterurl",
            "xhandle",
            "xusername",
        ],
    ),
    (
        Field::Notes,
        &[
            "notes",
            "note",
            "comments",
            "comment",
            "description",
            "remarks",
        ],
    ),
    (
        Field::ConnectedOn,
        &[
            "connectedon",
            "date",
            "dateadded",
            "added",
            "createdat",
            "createdon",
            "created",
            "since",
            "connected",
        ],
    ),
];

/// The field a header name maps to automatically, with its rank (0 = best), if any.
pub fn auto_field(header: &str) -> Option<(Field, usize)> {
    let mut key = String::new();
    for token in header
        .split(|c: char| !c.is_alphanumeric())
        .map(|t| t.trim_end_matches(|c: char| c.is_ascii_digit()))
        .filter(|t| !t.is_empty())
    {
        let token = token.to_lowercase();
        match token.as_str() {
            "type" | "label" | "kind" => return None,
            "value" => {}
            _ => key.push_str(&token),
        }
    }
    SYNONYMS.iter().find_map(|(field, names)| {
        names
            .iter()
            .position(|n| *n == key)
            .map(|rank| (*field, rank))
    })
}

/// Which column feeds which field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// (column index, field), in column order.
    columns: Vec<(usize, Field)>,
}

impl Mapping {
    /// The automatic mapping of `header` (see the module's first comment).
    pub fn auto(header: &[String]) -> Mapping {
        let mut best: Vec<(usize, Field, usize)> = Vec::new();
        for (i, name) in header.iter().enumerate() {
            let Some((field, rank)) = auto_field(name) else {
                continue;
            };
            if field.is_multi() {
                best.push((i, field, rank));
                continue;
            }
            match best.iter_mut().find(|(_, f, _)| *f == field) {
                Some(held) if rank < held.2 => *held = (i, field, rank),
                Some(_) => {}
                None => best.push((i, field, rank)),
            }
        }
        let mut columns: Vec<(usize, Field)> = best.into_iter().map(|(i, f, _)| (i, f)).collect();
        columns.sort_by_key(|(i, _)| *i);
        Mapping { columns }
    }

    /// The automatic mapping of `header` with `spec`'s entries (`field=Column,…`)
    /// in place of what it chose for those fields and columns; an error names the
    /// unknown field, the missing column or the entry that is neither.
    pub fn new(header: &[String], spec: Option<&str>) -> Result<Mapping, String> {
        let mut mapping = Mapping::auto(header);
        let Some(spec) = spec.filter(|s| !s.trim().is_empty()) else {
            return Ok(mapping);
        };
        let mut explicit = Vec::new();
        for entry in split_spec(spec) {
            let (target, column) = entry
                .split_once('=')
                .ok_or_else(|| format!("--map entry \"{entry}\" is not field=column"))?;
            let field = Field::parse(target).ok_or_else(|| {
                let known: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
                format!(
                    "--map names no field \"{}\": the fields are {}",
                    target.trim(),
                    known.join(", ")
                )
            })?;
            let column = unquote(column.trim());
            let index = super::column_index(header, column).ok_or_else(|| {
                format!(
                    "--map {}={column}: the header has no column \"{column}\" (its columns: {})",
                    field.name(),
                    header.join(", ")
                )
            })?;
            explicit.push((index, field));
        }
        mapping
            .columns
            .retain(|(i, f)| !explicit.iter().any(|(ei, ef)| ei == i || ef == f));
        for e in explicit {
            if !mapping.columns.contains(&e) {
                mapping.columns.push(e);
            }
        }
        mapping.columns.sort_by_key(|(i, _)| *i);
        Ok(mapping)
    }

    /// (column index, field) pairs, in column order.
    pub fn columns(&self) -> &[(usize, Field)] {
        &self.columns
    }

    /// Whether some column feeds `field`.
    pub fn has(&self, field: Field) -> bool {
        self.columns.iter().any(|(_, f)| *f == field)
    }

    /// `email ← E-mail Address, name ← Name`: what was mapped, for a report.
    pub fn describe(&self, header: &[String]) -> String {
        self.columns
            .iter()
            .map(|(i, f)| format!("{} ← {}", f.name(), header.get(*i).map_or("?", |h| h)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The contact `fields` of the record at `line` hold through this mapping;
    /// `None` when every mapped cell is empty.
    pub fn row(&self, line: u64, fields: &[String]) -> Option<Row> {
        let mut row = Row {
            line,
            ..Row::default()
        };
        let mut any = false;
        for (i, field) in &self.columns {
            let cell = fields.get(*i).map_or("", |c| c.trim());
            if cell.is_empty() {
                continue;
            }
            any = true;
            let single = |slot: &mut Option<String>| {
                if slot.is_none() {
                    *slot = Some(cell.to_string());
                }
            };
            match field {
                Field::Name => single(&mut row.name),
                Field::FirstName => single(&mut row.first_name),
                Field::LastName => single(&mut row.last_name),
                Field::Company => single(&mut row.company),
                Field::Title => single(&mut row.title),
                Field::Notes => single(&mut row.notes),
                Field::Instagram => single(&mut row.instagram),
                Field::LinkedIn => single(&mut row.linkedin),
                Field::Twitter => single(&mut row.twitter),
                Field::ConnectedOn => {
                    if row.connected_on.is_none() {
                        row.connected_on = Some(cell.to_string());
                        row.connected_on_date = parse_date(cell);
                    }
                }
                Field::Email => {
                    for email in emails_in(cell) {
                        if !row.emails.contains(&email) {
                            row.emails.push(email);
                        }
                    }
                }
                Field::Phone => push_split(&mut row.phones, cell, &[":::", ";"]),
                Field::Url => push_split(&mut row.urls, cell, &[":::", " ", "\n"]),
            }
        }
        any.then_some(row)
    }
}

/// The e-mail addresses in a cell (see the module's first comment).
pub fn emails_in(cell: &str) -> Vec<String> {
    cell.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .map(|t| {
            let t = t.trim().trim_matches(|c| c == '<' || c == '>' || c == '"');
            let t = t
                .get(..7)
                .filter(|p| p.eq_ignore_ascii_case("mailto:"))
                .map_or(t, |_| &t[7..]);
            t.to_lowercase()
        })
        .filter(|t| {
            t.split_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        })
        .collect()
}

fn push_split(values: &mut Vec<String>, cell: &str, separators: &[&str]) {
    let mut parts = vec![cell];
    for sep in separators {
        parts = parts.iter().flat_map(|p| p.split(sep)).collect();
    }
    for part in parts.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
        if !values.iter().any(|v| v == part) {
            values.push(part.to_string());
        }
    }
}

/// `spec` split at commas outside double quotes.
fn split_spec(spec: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in spec.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(spec[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(spec[start..].trim());
    out.retain(|e| !e.is_empty());
    out
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

/// A contact: one row's cells, by field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row {
    /// The line the row starts on.
    pub line: u64,
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Lower-cased, each once, in column order.
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    pub company: Option<String>,
    pub title: Option<String>,
    pub urls: Vec<String>,
    /// As written (a handle or a URL): [`Row::profiles`] reads them.
    pub instagram: Option<String>,
    pub linkedin: Option<String>,
    pub twitter: Option<String>,
    pub notes: Option<String>,
    /// As written, and as a date when it reads as one.
    pub connected_on: Option<String>,
    pub connected_on_date: Option<NaiveDate>,
}

impl Row {
    /// The name to show: the name column, else first and last name joined.
    pub fn display_name(&self) -> Option<String> {
        if let Some(name) = &self.name {
            return Some(name.clone());
        }
        let joined = [&self.first_name, &self.last_name]
            .iter()
            .filter_map(|n| n.as_deref())
            .collect::<Vec<_>>()
            .join(" ");
        (!joined.is_empty()).then_some(joined)
    }

    /// The profiles the row names: its Instagram, LinkedIn and X columns (handles
    /// or URLs), then any profile among its URLs; each once.
    pub fn profiles(&self) -> Vec<social::Profile> {
        let mut out: Vec<social::Profile> = Vec::new();
        let columns = [
            (Network::Instagram, &self.instagram),
            (Network::LinkedIn, &self.linkedin),
            (Network::Twitter, &self.twitter),
        ];
        let named = columns.iter().filter_map(|(network, value)| {
            let handle = social::handle(*network, value.as_deref()?)?;
            Some(social::Profile {
                network: *network,
                handle,
            })
        });
        let linked = self.urls.iter().filter_map(|u| social::profile_of_url(u));
        for p in named.chain(linked) {
            if !out.contains(&p) {
                out.push(p);
            }
        }
        out
    }
}

/// The contacts of a table, one [`Row`] per record; problems between them.
#[derive(Debug)]
pub struct Contacts<R: Read> {
    table: Table<R>,
    mapping: Mapping,
}

impl<R: Read> Contacts<R> {
    /// Reads the contacts in `reader` (named `file`), its columns mapped
    /// automatically and by `spec` (`--map`'s `field=Column,…`). The header is the
    /// first line that maps an e-mail or a name column, after any notes. A table
    /// the mapping cannot read, or with no e-mail and no name column, is refused.
    pub fn open(reader: R, file: &str, spec: Option<&str>) -> Result<Contacts<R>, Problem> {
        let is_header = |columns: &[String]| {
            let mapping = Mapping::auto(columns);
            [Field::Email, Field::Name, Field::FirstName, Field::LastName]
                .iter()
                .any(|f| mapping.has(*f))
        };
        let table = Table::open_where(reader, file, &is_header)?;
        let line = Some(table.header_line());
        let mapping =
            Mapping::new(table.header(), spec).map_err(|message| table.problem(line, message))?;
        let identifying = [Field::Email, Field::Name, Field::FirstName, Field::LastName];
        if !identifying.iter().any(|f| mapping.has(*f)) {
            return Err(table.problem(
                line,
                format!(
                    "no e-mail or name column: map one with --map email=<column> (the columns: {})",
                    table.header().join(", ")
                ),
            ));
        }
        Ok(Contacts { table, mapping })
    }

    pub fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    pub fn table(&self) -> &Table<R> {
        &self.table
    }
}

impl<R: Read> Iterator for Contacts<R> {
    type Item = Result<Row, Problem>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.table.next()? {
                Err(problem) => return Some(Err(problem)),
                Ok(record) => {
                    if let Some(row) = self.mapping.row(record.line, &record.fields) {
                        return Some(Ok(row));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn fields_of(m: &Mapping, h: &[String]) -> Vec<(String, &'static str)> {
        m.columns()
            .iter()
            .map(|(i, f)| (h[*i].clone(), f.name()))
            .collect()
    }

    #[test]
    fn header_names_map_through_synonyms_whatever_their_case_and_punctuation() {
        let h = header(&[
            "Full Name",
            "E-mail Address",
            "E-mail 2 Address",
            "E-mail Display Name",
            "Mobile Phone",
            "Organization",
            "Title",
            "Job Title",
            "Web Page",
            "Instagram",
            "LinkedIn URL",
            "X",
            "Notes",
            "Connected On",
            "Birthday",
        ]);
        let m = Mapping::auto(&h);
        let got = fields_of(&m, &h);
        let want = [
            ("Full Name", "name"),
            ("E-mail Address", "email"),
            ("E-mail 2 Address", "email"),
            ("Mobile Phone", "phone"),
            ("Organization", "company"),
            ("Job Title", "title"),
            ("Web Page", "url"),
            ("Instagram", "instagram"),
            ("LinkedIn URL", "linkedin"),
            ("X", "twitter"),
            ("Notes", "notes"),
            ("Connected On", "connected_on"),
        ];
        let want: Vec<(String, &str)> = want.iter().map(|(h, f)| (h.to_string(), *f)).collect();
        assert_eq!(
            got, want,
            "Outlook's Title (Mr.) loses to Job Title; display names and birthdays map to nothing"
        );
    }

    #[test]
    fn googles_numbered_value_columns_map_and_their_type_columns_do_not() {
        let h = header(&[
            "First Name",
            "Last Name",
            "E-mail 1 - Type",
            "E-mail 1 - Value",
            "E-mail 2 - Value",
            "Phone 1 - Label",
            "Phone 1 - Value",
            "Organization 1 - Name",
            "Organization 1 - Title",
            "Mail",
        ]);
        let m = Mapping::auto(&h);
        let got: Vec<&str> = m.columns().iter().map(|(i, _)| h[*i].as_str()).collect();
        assert_eq!(
            got,
            [
                "First Name",
                "Last Name",
                "E-mail 1 - Value",
                "E-mail 2 - Value",
                "Phone 1 - Value",
                "Organization 1 - Name",
                "Organization 1 - Title",
                "Mail"
            ]
        );
        let row = m
            .row(
                2,
                &header(&[
                    "Ann",
                    "Lee",
                    "* Work",
                    "Ann@X.com ::: ann.lee@y.org",
                    "<mailto:ann@x.com>",
                    "Mobile",
                    "+1 555 0100 ::: +1 555 0101",
                    "Acme",
                    "CTO",
                    "not-an-email",
                ]),
            )
            .unwrap();
        assert_eq!(
            row.emails,
            ["ann@x.com", "ann.lee@y.org"],
            "split, cleaned, each once"
        );
        assert_eq!(row.phones, ["+1 555 0100", "+1 555 0101"]);
        assert_eq!(row.display_name().as_deref(), Some("Ann Lee"));
        assert_eq!(
            (row.company.as_deref(), row.title.as_deref()),
            (Some("Acme"), Some("CTO"))
        );
    }

    #[test]
    fn an_explicit_mapping_replaces_the_automatic_one_for_its_fields_and_columns() {
        let h = header(&["Who", "Contact", "Mail, work", "Email", "Notes"]);
        let m = Mapping::new(
            &h,
            Some("name=Who, email=\"Mail, work\", email=email, notes=contact"),
        )
        .unwrap();
        assert_eq!(
            fields_of(&m, &h),
            [
                ("Who".to_string(), "name"),
                ("Contact".to_string(), "notes"),
                ("Mail, work".to_string(), "email"),
                ("Email".to_string(), "email"),
            ],
            "Contact no longer a name, Notes no longer the notes"
        );
        let e = Mapping::new(&h, Some("emial=Email")).unwrap_err();
        assert!(
            e.contains("no field \"emial\"") && e.contains("first_name"),
            "{e}"
        );
        let e = Mapping::new(&h, Some("email=E-mail 9")).unwrap_err();
        assert!(
            e.contains("no column \"E-mail 9\"") && e.contains("Who, Contact"),
            "{e}"
        );
        let e = Mapping::new(&h, Some("email")).unwrap_err();
        assert!(e.contains("not field=column"), "{e}");
        assert_eq!(Field::parse("Position"), Some(Field::Title));
        assert_eq!(Field::parse("x"), Some(Field::Twitter));
    }

    #[test]
    fn contacts_are_read_through_the_mapping_with_their_profiles() {
        let data = "Name,Email,Instagram,Website,Connected On\n\
                    Ann Lee,ann@x.com,@Ann.Lee,https://www.linkedin.com/in/ann-lee https://ann.dev,05 Dec 2024\n\
                    ,,,,\n\
                    Bob,,,,\n";
        let rows: Vec<Row> = Contacts::open(data.as_bytes(), "c.csv", None)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(rows.len(), 2, "the empty row is skipped");
        assert_eq!(rows[0].line, 2);
        assert_eq!(
            rows[0].urls,
            ["https://www.linkedin.com/in/ann-lee", "https://ann.dev"]
        );
        let profiles: Vec<(&str, String)> = rows[0]
            .profiles()
            .into_iter()
            .map(|p| (p.network.name(), p.handle))
            .collect();
        assert_eq!(
            profiles,
            [
                ("instagram", "ann.lee".into()),
                ("linkedin", "ann-lee".into())
            ]
        );
        assert_eq!(
            rows[0].connected_on_date,
            NaiveDate::from_ymd_opt(2024, 12, 5)
        );
        assert_eq!((rows[1].line, rows[1].name.as_deref()), (4, Some("Bob")));
    }

    #[test]
    fn a_table_with_no_email_and_no_name_column_is_refused_whole() {
        let data = "Company,Phone\nAcme,555\n";
        let e = Contacts::open(data.as_bytes(), "c.csv", None).unwrap_err();
        assert_eq!(e.line, Some(1));
        assert!(
            e.message
                .starts_with("no e-mail or name column: map one with --map email=<column>"),
            "{e}"
        );
        assert!(e.message.contains("Company, Phone"), "{e}");
        // Mapped by hand, it reads.
        let rows: Vec<_> = Contacts::open(data.as_bytes(), "c.csv", Some("name=Company"))
            .unwrap()
            .collect();
        assert_eq!(rows[0].as_ref().unwrap().name.as_deref(), Some("Acme"));
        // A bad --map is an error naming the header line.
        let e = Contacts::open(data.as_bytes(), "c.csv", Some("email=Mail")).unwrap_err();
        assert!(e.message.contains("no column \"Mail\""), "{e}");
    }

    #[test]
    fn the_header_is_found_after_notes_by_its_name_or_email_column() {
        let data = "Exported by SomeCRM\nGenerated 2024-12-05\n\nE-mail;Name\nann@x.com;Ann\n";
        let c = Contacts::open(data.as_bytes(), "c.csv", None).unwrap();
        assert_eq!(c.table().header_line(), 4);
        assert_eq!(
            c.mapping().describe(c.table().header()),
            "email ← E-mail, name ← Name"
        );
        let rows: Vec<_> = c.map(Result::unwrap).collect();
        assert_eq!(
            (rows[0].line, rows[0].emails.as_slice()),
            (5, &["ann@x.com".to_string()][..])
        );
    }
}
