//! The embedded cluster's life cycle with the real PostgreSQL binaries: first start
//! (initdb), restart without re-initialising, one manager and many clients, recovery
//! after a crash, the clear error when the cluster user cannot reach the data, and
//! the files others must not touch: the socket directory and the server's log.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use everreach_pg::binaries::default_cache_dir;
use everreach_pg::{Binaries, Cluster, ClusterOptions, PgError, Role};

fn options(data_dir: PathBuf) -> ClusterOptions {
    let bin_dir = std::env::var_os("EVERREACH_PG_BINDIR").map(PathBuf::from);
    let cache =
        std::env::var_os("EVERREACH_PG_CACHE_DIR").map_or_else(default_cache_dir, PathBuf::from);
    let binaries = Binaries::locate(bin_dir.as_deref(), &cache).expect("PostgreSQL binaries");
    ClusterOptions {
        data_dir,
        binaries,
        durability_off: true,
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("everreach-pgtest-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn postmaster_pid(data_dir: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(data_dir.join("pgdata/postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

/// Runs `f` on a thread of its own: the server's parent-death signal follows the
/// thread that started it, and each test thread ends with its test.
fn on_own_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(f).join().expect("cluster thread")
}

#[test]
fn first_start_initialises_then_restarts_keep_the_cluster() {
    let dir = scratch("restart");
    let opts = options(dir.clone());
    let control = dir.join("pgdata/global/pg_control");
    let inode = on_own_thread({
        let opts = opts.clone();
        let control = control.clone();
        move || {
            let cluster = Cluster::open(&opts).expect("first start");
            assert!(matches!(cluster.role(), Role::Manager));
            assert!(
                cluster
                    .connection()
                    .socket_dir
                    .join(".s.PGSQL.5432")
                    .exists()
            );
            let inode = std::fs::metadata(&control).unwrap().ino();
            drop(cluster);
            inode
        }
    });
    assert!(postmaster_pid(&dir).is_none(), "stopped on drop");
    on_own_thread({
        let opts = opts.clone();
        move || {
            let _cluster = Cluster::open(&opts).expect("second start");
            assert_eq!(
                std::fs::metadata(&control).unwrap().ino(),
                inode,
                "not re-initialised"
            );
        }
    });
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_second_opener_is_a_client_of_the_first() {
    let dir = scratch("client");
    let opts = options(dir.clone());
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let manager = std::thread::spawn({
        let opts = opts.clone();
        move || {
            let cluster = Cluster::open(&opts).expect("manager");
            assert!(matches!(cluster.role(), Role::Manager));
            ready_tx.send(()).unwrap();
            rx.recv().unwrap();
        }
    });
    ready_rx.recv().unwrap();
    let client = Cluster::open(&opts).expect("client");
    assert!(matches!(client.role(), Role::Client));
    let pid = postmaster_pid(&dir).unwrap();
    drop(client);
    assert!(alive(pid), "a client leaving does not stop the server");
    tx.send(()).unwrap();
    manager.join().unwrap();
    assert!(postmaster_pid(&dir).is_none());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn starts_after_a_crash_left_a_stale_or_empty_pid_file() {
    let dir = scratch("crash");
    let opts = options(dir.clone());
    on_own_thread({
        let opts = opts.clone();
        move || drop(Cluster::open(&opts).expect("first start"))
    });
    let pid_file = dir.join("pgdata/postmaster.pid");
    std::fs::write(&pid_file, "").unwrap();
    on_own_thread({
        let opts = opts.clone();
        move || drop(Cluster::open(&opts).expect("starts despite an empty postmaster.pid"))
    });
    std::fs::write(&pid_file, "999999\n/nowhere\n").unwrap();
    on_own_thread(move || {
        drop(Cluster::open(&opts).expect("starts despite a stale postmaster.pid"))
    });
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_server_dies_with_the_thread_that_started_it() {
    let dir = scratch("pdeath");
    let opts = options(dir.clone());
    let data_dir = dir.clone();
    let pid = on_own_thread(move || {
        let cluster = Cluster::open(&opts).expect("start");
        // Leak the handle: no stop() runs, only the parent-death signal.
        let pid = postmaster_pid(&data_dir).unwrap();
        std::mem::forget(cluster);
        pid
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while alive(pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!alive(pid), "postgres {pid} outlived its parent thread");
    std::fs::remove_dir_all(dir).unwrap();
}

fn running_as_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The uid the server runs as: the cluster user when we are root, else ourselves.
fn server_uid() -> u32 {
    everreach_pg::os_user::cluster_user()
        .expect("the cluster user")
        .map_or_else(|| rustix::process::geteuid().as_raw(), |u| u.uid)
}

/// The cluster's socket directory, made ready for a test to plant something there.
fn socket_dir_of(data_dir: &Path) -> PathBuf {
    std::fs::create_dir_all(data_dir).expect("create the data directory");
    let socket_dir = Cluster::connection_for(data_dir).socket_dir;
    let _ = std::fs::remove_file(&socket_dir);
    let _ = std::fs::remove_dir_all(&socket_dir);
    socket_dir
}

/// As root the server runs as the cluster user, who cannot pass a 0700 directory of
/// root's: the error names that directory. As anyone else the server runs as
/// ourselves: a directory we cannot enter is named as the data directory's problem.
/// (CI runs as root, then runs these tests again as the cluster user: .ci/run.)
#[test]
fn an_unreachable_data_directory_is_named() {
    let locked = scratch("locked");
    std::fs::create_dir_all(&locked).unwrap();
    if running_as_root() {
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
        let err = Cluster::open(&options(locked.join("data"))).unwrap_err();
        match &err {
            PgError::Unreachable { blocked, .. } => {
                assert_eq!(blocked, &locked.canonicalize().unwrap())
            }
            other => panic!("expected Unreachable, got {other}"),
        }
        assert!(err.to_string().contains("EVERREACH_DATA_DIR"), "{err}");
    } else {
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o600)).unwrap();
        let data = locked.join("data");
        let err = Cluster::open(&options(data.clone())).unwrap_err();
        match &err {
            PgError::DataDirNotWritable { dir, .. } => assert_eq!(dir, &data),
            other => panic!("expected DataDirNotWritable, got {other}"),
        }
        let message = err.to_string();
        assert!(
            message.contains(&data.display().to_string()) && message.contains("EVERREACH_DATA_DIR"),
            "{message}"
        );
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    std::fs::remove_dir_all(locked).unwrap();
}

/// A 0700 data directory of ours is opened (search only) for the cluster user when
/// root runs the server as that user, and left private when the server runs as us.
#[test]
fn a_private_data_directory_of_our_own_is_opened_only_for_another_server_user() {
    let dir = scratch("private");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let opts = options(dir.clone());
    on_own_thread(move || drop(Cluster::open(&opts).expect("starts in a 0700 data directory")));
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    if running_as_root() {
        assert_eq!(mode, 0o701, "search only for others, nothing more");
    } else {
        assert_eq!(
            mode, 0o700,
            "the server runs as us: nothing to open to others"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_socket_directory_that_is_a_symlink_is_refused_and_its_target_left_alone() {
    let dir = scratch("socket-link");
    let socket_dir = socket_dir_of(&dir);
    let target = scratch("socket-link-target");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink(&target, &socket_dir).unwrap();
    let before = std::fs::metadata(&target).unwrap();
    let opts = options(dir.clone());
    let err = on_own_thread(move || Cluster::open(&opts).map(drop))
        .expect_err("a symlink in place of the socket directory is refused");
    let message = err.to_string();
    assert!(
        message.contains(&socket_dir.display().to_string())
            && message.contains("symbolic link")
            && message.contains(&format!("rm -r {}", socket_dir.display())),
        "{message}"
    );
    let after = std::fs::metadata(&target).unwrap();
    assert_eq!(
        (after.uid(), after.mode()),
        (before.uid(), before.mode()),
        "the link's target was not chowned or chmod-ed"
    );
    std::fs::remove_file(&socket_dir).unwrap();
    std::fs::remove_dir_all(target).unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_socket_directory_others_can_open_or_someone_else_owns_is_refused() {
    let dir = scratch("socket-open");
    let socket_dir = socket_dir_of(&dir);
    // The server's own user's directory, but open to others.
    std::fs::create_dir(&socket_dir).unwrap();
    std::fs::set_permissions(&socket_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::lchown(&socket_dir, Some(server_uid()), None).unwrap();
    let opts = options(dir.clone());
    let err = on_own_thread({
        let opts = opts.clone();
        move || Cluster::open(&opts).map(drop)
    })
    .expect_err("a socket directory others can open is refused");
    let message = err.to_string();
    assert!(
        message.contains(&socket_dir.display().to_string()) && message.contains("0755"),
        "{message}"
    );
    if running_as_root() {
        // Private, but root's rather than the cluster user's: someone else's.
        std::fs::set_permissions(&socket_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::lchown(&socket_dir, Some(0), None).unwrap();
        let err = on_own_thread(move || Cluster::open(&opts).map(drop))
            .expect_err("a socket directory of another owner is refused");
        let message = err.to_string();
        assert!(
            message.contains(&socket_dir.display().to_string()) && message.contains("owned by"),
            "{message}"
        );
        assert_eq!(
            std::fs::metadata(&socket_dir).unwrap().uid(),
            0,
            "not chowned"
        );
    }
    std::fs::remove_dir_all(&socket_dir).unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_server_log_is_private_when_created_and_made_private_when_found_open() {
    let fresh = scratch("log-fresh");
    let opts = options(fresh.clone());
    on_own_thread(move || drop(Cluster::open(&opts).expect("start")));
    let mode = std::fs::metadata(fresh.join("postgres.log"))
        .unwrap()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "a new log is created 0600");

    let found = scratch("log-found");
    std::fs::create_dir_all(&found).unwrap();
    let log = found.join("postgres.log");
    std::fs::write(&log, "a line from an older version\n").unwrap();
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o644)).unwrap();
    let opts = options(found.clone());
    on_own_thread(move || drop(Cluster::open(&opts).expect("start")));
    let mode = std::fs::metadata(&log).unwrap().mode() & 0o777;
    assert_eq!(mode, 0o600, "an existing log is made 0600");
    std::fs::remove_dir_all(fresh).unwrap();
    std::fs::remove_dir_all(found).unwrap();
}

#[test]
fn an_unwritable_data_directory_says_so() {
    let err = Cluster::open(&options(PathBuf::from("/proc/everreach-data"))).unwrap_err();
    assert!(matches!(err, PgError::DataDirNotWritable { .. }), "{err}");
    assert!(err.to_string().contains("EVERREACH_DATA_DIR"), "{err}");
}
