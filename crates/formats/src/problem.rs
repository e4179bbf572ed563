//! A problem found while reading a file: where (file, and line or item when known)
//! and why, said so a person can fix the file. Readers collect problems and go on
//! with the rest of the file; an importer's report lists them.

use std::fmt;

use serde::Serialize;

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The file as the user named it (a path inside a zip is `export.zip:path`).
    pub file: String,
    /// 1-based line (or record) number, when the format has lines.
    pub line: Option<u64>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Problem {
    pub fn new(file: impl Into<String>, line: Option<u64>, message: impl Into<String>) -> Problem {
        Problem {
            file: file.into(),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}
