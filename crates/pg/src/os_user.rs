//! The unprivileged OS user the server runs as when we are root (initdb and postgres
//! refuse root), and the check that this user can reach the data directory through
//! every parent — a spawn under /root (0700) fails with a bare "Permission denied"
//! otherwise, so we name the blocking directory first.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::PgError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// `None` when we are not root: the server then runs as ourselves.
pub fn cluster_user() -> Result<Option<OsUser>, PgError> {
    if !rustix::process::geteuid().is_root() {
        return Ok(None);
    }
    for name in ["postgres", "everreach-pg"] {
        if let Some(user) = lookup(name) {
            return Ok(Some(user));
        }
    }
    let status = Command::new("useradd")
        .args([
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
        ])
        .args(["--shell", "/usr/sbin/nologin", "everreach-pg"])
        .status()
        .map_err(|e| PgError::NoClusterUser(format!("cannot run useradd: {e}")))?;
    if !status.success() {
        return Err(PgError::NoClusterUser(format!(
            "useradd everreach-pg exited with {status}"
        )));
    }
    lookup("everreach-pg")
        .map(Some)
        .ok_or_else(|| PgError::NoClusterUser("everreach-pg is not in /etc/passwd".into()))
}

fn lookup(name: &str) -> Option<OsUser> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() < 4 || fields[0] != name {
            return None;
        }
        Some(OsUser {
            name: name.to_string(),
            uid: fields[2].parse().ok()?,
            gid: fields[3].parse().ok()?,
        })
    })
}

/// The first directory on the way to `path` that `user` cannot search, with its mode.
pub fn blocking_ancestor(path: &Path, user: &OsUser) -> Option<(PathBuf, u32)> {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mut ancestors: Vec<&Path> = path.ancestors().collect();
    ancestors.reverse();
    ancestors.into_iter().find_map(|dir| {
        let meta = std::fs::metadata(dir).ok()?;
        let mode = meta.mode() & 0o7777;
        let bit = if meta.uid() == user.uid {
            0o100
        } else if meta.gid() == user.gid {
            0o010
        } else {
            0o001
        };
        (mode & bit == 0).then(|| (dir.to_path_buf(), mode))
    })
}
