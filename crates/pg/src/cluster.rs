//! One PostgreSQL cluster under a data directory: initdb on first use, start on a
//! private Unix socket, stop on drop, recover after a crash.
//!
//! Layout: `<data>/pgdata` is the cluster, `<data>/pgdata.lock` is held (flock) by the
//! one process that manages it — beside the cluster, not inside, because initdb wants
//! an empty directory — and `<data>/postgres.log` is the server's log. A second process
//! that finds the lock taken connects to the running server as a client.
//!
//! The server listens on no TCP address (`listen_addresses=''`), only on a 0700 socket
//! directory under /tmp named by a hash of the data directory (socket paths are limited
//! to 107 bytes), and trusts local connections: whoever can open that directory is
//! root or the cluster's own OS user, who can read the files anyway. So that directory
//! is refused unless it is a real directory of that user with mode 0700 (a symlink or
//! someone else's directory planted in /tmp would hand them the socket), and the log,
//! which holds queries, is 0600.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::fs::FlockOperation;
use rustix::process::{Pid, Signal};
use sha2::{Digest, Sha256};

use crate::os_user::{self, OsUser};
use crate::{Binaries, PgError};

/// The superuser initdb creates; it owns the schema (the "admin" role).
const SUPERUSER: &str = "postgres";
/// The socket's port number: only names the socket file, nothing listens on TCP.
const PORT: u16 = 5432;
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const FAST_STOP_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone)]
pub struct ClusterOptions {
    pub data_dir: PathBuf,
    pub binaries: Binaries,
    /// `fsync=off` and friends: for throwaway test clusters only.
    pub durability_off: bool,
}

/// Where to connect: a socket directory and port, with the superuser's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub socket_dir: PathBuf,
    pub port: u16,
    pub superuser: String,
}

impl Connection {
    /// A libpq/sqlx URL for `user` on database `db` over the socket.
    pub fn url(&self, user: &str, db: &str) -> String {
        format!(
            "postgresql://{user}@localhost/{db}?host={}&port={}",
            self.socket_dir.display(),
            self.port
        )
    }
}

/// Whether this process started the server (and stops it) or joined one.
#[derive(Debug)]
pub enum Role {
    Manager,
    Client,
}

#[derive(Debug)]
pub struct Cluster {
    connection: Connection,
    role: Role,
    server: Option<Child>,
    log_path: PathBuf,
    _lock: File,
}

impl Cluster {
    /// Opens the cluster under `opts.data_dir`, creating and starting it if this process
    /// gets the lock, else waiting for the process that holds it to have it ready.
    ///
    /// The server gets SIGINT when the *thread* calling this exits (parent-death signal
    /// is per thread): call it from the main thread or one that lives as long as the
    /// cluster is needed.
    pub fn open(opts: &ClusterOptions) -> Result<Cluster, PgError> {
        let data_dir = &opts.data_dir;
        std::fs::create_dir_all(data_dir).map_err(|source| PgError::DataDirNotWritable {
            dir: data_dir.clone(),
            source,
        })?;
        let data_dir = data_dir
            .canonicalize()
            .map_err(PgError::io("resolving the data directory"))?;
        let lock_path = data_dir.join("pgdata.lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| PgError::DataDirNotWritable {
                dir: data_dir.clone(),
                source,
            })?;
        let pgdata = data_dir.join("pgdata");
        let log_path = data_dir.join("postgres.log");
        let connection = Cluster::connection_for(&data_dir);

        let got_lock = rustix::fs::flock(&lock, FlockOperation::NonBlockingLockExclusive).is_ok();
        if !got_lock {
            wait_ready(&pgdata, None, &log_path)?;
            return Ok(Cluster {
                connection,
                role: Role::Client,
                server: None,
                log_path,
                _lock: lock,
            });
        }

        let user = os_user::cluster_user()?;
        if let Some(user) = &user {
            let_cluster_user_through(&data_dir, user)?;
            if let Some((blocked, mode)) = os_user::blocking_ancestor(&data_dir, user) {
                return Err(PgError::Unreachable {
                    user: user.name.clone(),
                    blocked,
                    mode,
                });
            }
            if let Some((blocked, mode)) = os_user::blocking_ancestor(&opts.binaries.bin_dir, user)
            {
                return Err(PgError::Unreachable {
                    user: user.name.clone(),
                    blocked,
                    mode,
                });
            }
        }
        if !pgdata.join("PG_VERSION").is_file() {
            initdb(opts, &data_dir, &pgdata, user.as_ref())?;
        }
        recover_after_crash(&pgdata);
        make_private_dir(&connection.socket_dir, user.as_ref())?;
        let server = spawn_server(opts, &pgdata, &connection, &log_path, user.as_ref())?;
        let mut cluster = Cluster {
            connection,
            role: Role::Manager,
            server: Some(server),
            log_path,
            _lock: lock,
        };
        let child = cluster.server.as_mut();
        wait_ready(&pgdata, child, &cluster.log_path)?;
        Ok(cluster)
    }

    /// Where the cluster under `data_dir` listens, whether or not it runs now.
    pub fn connection_for(data_dir: &Path) -> Connection {
        let data_dir = data_dir
            .canonicalize()
            .unwrap_or_else(|_| data_dir.to_path_buf());
        Connection {
            socket_dir: socket_dir_for(&data_dir.join("pgdata")),
            port: PORT,
            superuser: SUPERUSER.to_string(),
        }
    }

    /// Whether a server runs (and is ready) on the cluster under `data_dir`.
    pub fn is_running(data_dir: &Path) -> bool {
        let pid_file = data_dir.join("pgdata/postmaster.pid");
        let Ok(contents) = std::fs::read_to_string(pid_file) else {
            return false;
        };
        let pid = contents
            .lines()
            .next()
            .and_then(|l| l.trim().parse::<i32>().ok());
        let alive = pid
            .and_then(Pid::from_raw)
            .is_some_and(|p| rustix::process::test_kill_process(p).is_ok());
        alive && contents.lines().nth(7).map(str::trim) == Some("ready")
    }

    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    pub fn role(&self) -> &Role {
        &self.role
    }

    /// Fast shutdown (SIGINT: roll back open transactions, checkpoint, exit); SIGQUIT
    /// if that takes too long. SIGTERM would wait for every client, forever.
    pub fn stop(&mut self) {
        let Some(mut child) = self.server.take() else {
            return;
        };
        stop_server(&mut child);
        // The server removed its socket; the private directory goes with it.
        let _ = std::fs::remove_dir(&self.connection.socket_dir);
    }
}

/// SIGINT, then SIGQUIT, then SIGKILL, each given time to take.
fn stop_server(child: &mut Child) {
    let Some(pid) = Pid::from_child(child).into() else {
        return;
    };
    for (signal, timeout) in [
        (Signal::INT, FAST_STOP_TIMEOUT),
        (Signal::QUIT, Duration::from_secs(5)),
    ] {
        if rustix::process::kill_process(pid, signal).is_err() {
            break;
        }
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The data directory is ours: when root made it private (e.g. `mktemp -d`), let the
/// cluster user pass through it (search only, not list); `pgdata` inside stays 0700.
fn let_cluster_user_through(data_dir: &Path, user: &OsUser) -> Result<(), PgError> {
    let blocked = os_user::blocking_ancestor(data_dir, user);
    if blocked.as_ref().is_some_and(|(dir, _)| dir == data_dir) {
        let mode =
            std::fs::metadata(data_dir).map_err(PgError::io("reading the data directory"))?;
        let mode = mode.permissions().mode() | 0o001;
        std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(mode)).map_err(
            |source| PgError::DataDirNotWritable {
                dir: data_dir.to_path_buf(),
                source,
            },
        )?;
    }
    Ok(())
}

fn socket_dir_for(pgdata: &Path) -> PathBuf {
    let digest = Sha256::digest(pgdata.as_os_str().as_encoded_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    PathBuf::from(format!("/tmp/everreach-{hex}"))
}

/// A directory only the server's OS user can open: made here (0700, handed to that
/// user), or found from an earlier run and accepted only as it would have been made.
///
/// The socket directory is in /tmp, where anyone may create a name first: a symlink
/// there would turn our chmod and chown onto its target, and a directory of someone
/// else's would give them the socket. So nothing is changed on a directory we did
/// not just create, and what is there is checked without following links (lstat).
/// One we made stays ours: /tmp is sticky, so no one else can rename or remove it.
fn make_private_dir(dir: &Path, user: Option<&OsUser>) -> Result<(), PgError> {
    let context = || format!("creating {}", dir.display());
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {
            // Exactly 0700, whatever the umask or a set-gid parent left.
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(PgError::io(context()))?;
            if let Some(user) = user {
                std::os::unix::fs::lchown(dir, Some(user.uid), Some(user.gid)).map_err(
                    PgError::io(format!("chown {} to {}", dir.display(), user.name)),
                )?;
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(PgError::io(context())(e)),
    }
    let owner = user.map_or_else(|| rustix::process::geteuid().as_raw(), |u| u.uid);
    check_private_dir(dir, owner)
}

/// `dir` is a real directory (not a symlink), owned by `owner`, mode 0700.
fn check_private_dir(dir: &Path, owner: u32) -> Result<(), PgError> {
    let meta = std::fs::symlink_metadata(dir)
        .map_err(PgError::io(format!("checking {}", dir.display())))?;
    let mode = meta.mode() & 0o7777;
    let problem = if meta.file_type().is_symlink() {
        "is a symbolic link".to_string()
    } else if !meta.is_dir() {
        "is not a directory".to_string()
    } else if meta.uid() != owner {
        format!(
            "is owned by uid {}, not by uid {owner} that the server runs as",
            meta.uid()
        )
    } else if mode != 0o700 {
        format!("has mode {mode:04o}, not 0700 (others may have put files in it)")
    } else {
        return Ok(());
    };
    Err(PgError::UnsafeDir {
        dir: dir.to_path_buf(),
        problem,
    })
}

fn as_user(cmd: &mut Command, user: Option<&OsUser>) {
    // initdb with an inherited but uninstalled LANG fails; with no locale at all it
    // would pick SQL_ASCII — so clear the environment and name the encoding.
    cmd.env_clear().env("PATH", "/usr/bin:/bin");
    if let Some(user) = user {
        cmd.uid(user.uid).gid(user.gid);
    }
}

/// initdb into a temporary directory and rename it: a half-finished initdb leaves a
/// cluster that starts but has no `postgres` database.
fn initdb(
    opts: &ClusterOptions,
    data_dir: &Path,
    pgdata: &Path,
    user: Option<&OsUser>,
) -> Result<(), PgError> {
    let staging = data_dir.join("pgdata.initdb-tmp");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(PgError::io("removing a stale initdb"))?;
    }
    if pgdata.exists()
        && std::fs::read_dir(pgdata)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(PgError::Initdb {
            dir: pgdata.to_path_buf(),
            detail: "the directory exists but holds no cluster (no PG_VERSION); move it away"
                .into(),
        });
    }
    make_private_dir(&staging, user)?;
    let mut cmd = Command::new(opts.binaries.initdb());
    cmd.arg("-D").arg(&staging);
    cmd.args([
        "-U",
        SUPERUSER,
        "--encoding=UTF8",
        "--locale-provider=builtin",
    ]);
    cmd.args(["--builtin-locale=C.UTF-8", "--locale=C"]);
    cmd.args(["--auth-local=trust", "--auth-host=reject"]);
    if opts.durability_off {
        cmd.arg("--no-sync");
    }
    as_user(&mut cmd, user);
    let out = cmd.output().map_err(|e| PgError::Initdb {
        dir: pgdata.to_path_buf(),
        detail: e.to_string(),
    })?;
    if !out.status.success() {
        let detail = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(PgError::Initdb {
            dir: pgdata.to_path_buf(),
            detail,
        });
    }
    if pgdata.exists() {
        std::fs::remove_dir(pgdata).map_err(PgError::io("replacing an empty pgdata"))?;
    }
    std::fs::rename(&staging, pgdata).map_err(PgError::io("moving the new cluster into place"))
}

/// After a crash: an empty `postmaster.pid` blocks every start until removed, and a
/// server orphaned by a manager killed with -9 (rare: it gets the parent-death signal)
/// still runs. We hold the lock, so no other process manages it: stop it.
fn recover_after_crash(pgdata: &Path) {
    let pid_file = pgdata.join("postmaster.pid");
    let Ok(contents) = std::fs::read_to_string(&pid_file) else {
        return;
    };
    let Some(pid) = contents
        .lines()
        .next()
        .and_then(|l| l.trim().parse::<i32>().ok())
    else {
        tracing::warn!(file = %pid_file.display(), "removing an empty postmaster.pid left by a crash");
        let _ = std::fs::remove_file(&pid_file);
        return;
    };
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let is_our_postgres = String::from_utf8_lossy(&cmdline).contains("postgres")
        && String::from_utf8_lossy(&cmdline).contains(&*pgdata.to_string_lossy());
    let Some(pid) = Pid::from_raw(pid) else {
        return;
    };
    if is_our_postgres {
        tracing::warn!(
            pid = pid.as_raw_nonzero().get(),
            "stopping an orphaned server from a previous run"
        );
        let _ = rustix::process::kill_process(pid, Signal::INT);
        let deadline = Instant::now() + FAST_STOP_TIMEOUT;
        while Instant::now() < deadline && rustix::process::test_kill_process(pid).is_ok() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn spawn_server(
    opts: &ClusterOptions,
    pgdata: &Path,
    connection: &Connection,
    log_path: &Path,
    user: Option<&OsUser>,
) -> Result<Child, PgError> {
    // The log holds queries and their errors: 0600 when made, made 0600 when found
    // (older versions left it 0644), and never opened through a symlink.
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(log_path)
        .map_err(PgError::io(format!("opening {}", log_path.display())))?;
    log.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(PgError::io(format!("chmod 600 {}", log_path.display())))?;
    let log_err = log
        .try_clone()
        .map_err(PgError::io("duplicating the log handle"))?;
    let mut cmd = Command::new(opts.binaries.postgres());
    cmd.arg("-D")
        .arg(pgdata)
        .arg("-p")
        .arg(connection.port.to_string());
    cmd.arg("-c").arg("listen_addresses=");
    cmd.arg("-c").arg(format!(
        "unix_socket_directories={}",
        connection.socket_dir.display()
    ));
    cmd.args([
        "-c",
        "unix_socket_permissions=0700",
        "-c",
        "max_connections=200",
    ]);
    // PostgreSQL's defaults suit a shared host; this server is EverReach's own. Give it
    // an eighth of the memory for its cache (128 MiB to 1 GiB) and room for WAL, so a
    // burst of writes does not force checkpoints mid-burst.
    // (Throwaway test clusters keep the small default: many run side by side.)
    if !opts.durability_off {
        cmd.arg("-c")
            .arg(format!("shared_buffers={}MB", shared_buffers_mb()));
    }
    cmd.args([
        "-c",
        "max_wal_size=4GB",
        "-c",
        "checkpoint_completion_target=0.9",
        // A batch of 10,000 events writes tens of MB of WAL: buffers that hold it let
        // the commit write it once instead of the backend flushing as it goes.
        "-c",
        "wal_buffers=64MB",
    ]);
    if opts.durability_off {
        cmd.args([
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]);
    }
    as_user(&mut cmd, user);
    cmd.stdin(Stdio::null()).stdout(log).stderr(log_err);
    set_parent_death_signal(&mut cmd);
    cmd.spawn().map_err(|e| PgError::Start {
        detail: format!("cannot run {}: {e}", opts.binaries.postgres().display()),
        log: log_path.to_path_buf(),
    })
}

/// An eighth of the machine's memory, clamped to 128 MiB..1 GiB.
fn shared_buffers_mb() -> u64 {
    let total_kb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|n| n.parse::<u64>().ok())
                })
        })
        .unwrap_or(0);
    (total_kb / 1024 / 8).clamp(128, 1024)
}

/// The server gets SIGINT (fast shutdown) when we die, even by SIGKILL.
#[expect(
    unsafe_code,
    reason = "pre_exec is unsafe; the closure only calls prctl, which is async-signal-safe"
)]
fn set_parent_death_signal(cmd: &mut Command) {
    // SAFETY: runs in the forked child before exec; prctl(PR_SET_PDEATHSIG) allocates
    // nothing and takes no locks.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(Signal::INT))
                .map_err(std::io::Error::from)
        });
    }
}

/// Ready when line 8 of `postmaster.pid` says `ready` (what pg_ctl itself waits for).
fn wait_ready(pgdata: &Path, mut child: Option<&mut Child>, log: &Path) -> Result<(), PgError> {
    let pid_file = pgdata.join("postmaster.pid");
    let deadline = Instant::now() + READY_TIMEOUT;
    while Instant::now() < deadline {
        if let Some(child) = child.as_deref_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            return Err(PgError::Start {
                detail: format!("the server exited ({status}): {}", log_tail(log)),
                log: log.to_path_buf(),
            });
        }
        if let Ok(contents) = std::fs::read_to_string(&pid_file)
            && contents.lines().nth(7).map(str::trim) == Some("ready")
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(PgError::Start {
        detail: format!("not ready after {}s", READY_TIMEOUT.as_secs()),
        log: log.to_path_buf(),
    })
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(3).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
}
