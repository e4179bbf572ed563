//! Readers of the files people already have, for the importers (issue 14): pure,
//! synchronous and streaming — no database, no async — so each format is tested on
//! small fixture files and the importers in `everreach-core` only map what these
//! read onto the people graph and the CRMs.
//!
//! - `problem`: a problem found in a file, named by file and line, never fatal to
//!   the rest of the file.
//! - `archive`: a folder or a zip as one tree of files, read within bounds (zip
//!   bombs and lying sizes refused).
//! - `text`: text repair (Meta's UTF-8-as-Latin-1 mojibake), bounded line reading,
//!   bytes in a named charset, UTF-16 files read as UTF-8.
//! - `social`: Instagram, LinkedIn and X profiles recognised in URLs and handles.
//! - `instagram`: Instagram's "Download your information" export — threads,
//!   followers and following, the owner — wherever the export version put them.
//! - `table`: CSV (any delimiter, notes before the header, ragged rows) as contacts
//!   through a column mapping (automatic or `field=Column`), and LinkedIn's
//!   `Connections.csv` and `messages.csv`.
//! - `vcard`: vCard 2.1/3.0/4.0 cards (folding, groups, parameters, quoted-printable,
//!   charsets, profile URLs), streamed.
//! - `mbox`: mbox mail (Gmail Takeout and others) streamed message by message within
//!   a size bound: RFC 2047 headers, addresses, dates, threads and labels, MIME
//!   bodies in their charsets; and a generator of synthetic mailboxes for benchmarks.

pub mod archive;
pub mod instagram;
pub mod mbox;
pub mod problem;
pub mod social;
pub mod table;
pub mod text;
pub mod vcard;

pub use problem::Problem;
