//! Readers of the files people already have, for the importers (issue 14): pure,
//! synchronous and streaming — no database, no async — so each format is tested on
//! small fixture files and the importers in `everreach-core` only map what these
//! read onto the people graph and the CRMs.
//!
//! - `problem`: a problem found in a file, named by file and line, never fatal to
//!   the rest of the file.
//! - `archive`: a folder or a zip as one tree of files, read within bounds (zip
//!   bombs and lying sizes refused).
//! - `text`: text repair (Meta's UTF-8-as-Latin-1 mojibake) and bounded line reading.
//! - `instagram`: Instagram's "Download your information" export — threads,
//!   followers and following, the owner — wherever the export version put them.
//! - `vcard`, `mbox`: vCard 3.0/4.0 and mbox (RFC 2047 headers, MIME bodies).

pub mod archive;
pub mod instagram;
pub mod problem;
pub mod text;

pub use problem::Problem;
