//! The server every test database lives on, and the migrated template they clone.

use std::path::PathBuf;
use std::sync::OnceLock;

use everreach_core::Config;
use everreach_core::db::{DbTarget, migrate};
use everreach_pg::{Binaries, Cluster, ClusterOptions};
use sha2::{Digest, Sha256};
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection};
use tokio::sync::OnceCell;

#[derive(Debug)]
pub struct Server {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    External {
        url: String,
    },
    Throwaway {
        connection: everreach_pg::Connection,
    },
}

impl Server {
    /// A target for database `name` on this server.
    pub fn target_for(&self, name: &str) -> DbTarget {
        match &self.kind {
            Kind::External { url } => DbTarget::External {
                url: with_database(url, name),
                app_url: None,
            },
            Kind::Throwaway { connection } => DbTarget::Embedded {
                connection: connection.clone(),
                database: name.to_string(),
            },
        }
    }

    /// A connection to the server's maintenance database as the owner.
    async fn maintenance(&self) -> PgConnection {
        let url = match &self.kind {
            Kind::External { url } => url.clone(),
            Kind::Throwaway { connection } => connection.url(&connection.superuser, "postgres"),
        };
        PgConnection::connect(&url)
            .await
            .expect("connect to the test server")
    }
}

/// `url` with its database replaced by `name` (keeping user, password, host and options).
fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("DATABASE_URL has a scheme");
    let (main, query) = rest
        .split_once('?')
        .map_or((rest, None), |(m, q)| (m, Some(q)));
    let authority = main.split_once('/').map_or(main, |(a, _)| a);
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    format!("{scheme}://{authority}/{name}{query}")
}

static SERVER: OnceLock<Server> = OnceLock::new();

/// The server, started on first use.
pub fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        let config = Config::from_env().expect("test configuration");
        match config.database_url {
            Some(url) => Server {
                kind: Kind::External { url },
            },
            None => Server {
                kind: Kind::Throwaway {
                    connection: start_throwaway(&config),
                },
            },
        }
    })
}

/// Starts a cluster from a thread that lives as long as the test process: the server
/// gets its parent-death signal when the thread that spawned it ends.
fn start_throwaway(config: &Config) -> everreach_pg::Connection {
    remove_stale_clusters();
    let binaries = Binaries::locate(config.pg_bin_dir.as_deref(), &config.pg_cache_dir)
        .expect("PostgreSQL binaries for the test cluster");
    let data_dir = PathBuf::from(format!(
        "/tmp/everreach-test-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("test-postgres".into())
        .spawn(move || {
            let opts = ClusterOptions {
                data_dir,
                binaries,
                durability_off: true,
            };
            match Cluster::open(&opts) {
                Ok(cluster) => {
                    let _ = tx.send(Ok(cluster.connection().clone()));
                    loop {
                        std::thread::park();
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                }
            }
        })
        .expect("spawn the cluster thread");
    rx.recv()
        .expect("cluster thread answers")
        .expect("start the test cluster")
}

/// Data directories of test runs that have ended (their lock is free).
fn remove_stale_clusters() {
    let Ok(entries) = std::fs::read_dir("/tmp") else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !entry
            .file_name()
            .to_string_lossy()
            .starts_with("everreach-test-")
        {
            continue;
        }
        let Ok(lock) = std::fs::File::open(path.join("pgdata.lock")) else {
            continue;
        };
        if rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok() {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// The migrated template's name, migrating it on first use. Named by a hash of the
/// migrations, under an advisory lock, so concurrent test processes share one.
pub async fn template(server: &Server) -> String {
    TEMPLATE.get_or_init(|| make_template(server)).await.clone()
}

async fn make_template(server: &Server) -> String {
    let mut hash = Sha256::new();
    for m in migrate::MIGRATOR.iter() {
        hash.update(m.version.to_le_bytes());
        hash.update(&*m.checksum);
    }
    let digest = hash.finalize();
    let name: String = format!(
        "everreach_tpl_{}",
        digest
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let mut conn = server.maintenance().await;
    sqlx::query("SELECT pg_advisory_lock(727274)")
        .execute(&mut conn)
        .await
        .expect("lock");
    let ready: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate)",
    )
    .bind(&name)
    .fetch_one(&mut conn)
    .await
    .expect("look up the template");
    if !ready {
        exec(
            &mut conn,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        )
        .await;
        exec(&mut conn, &format!("CREATE DATABASE {name}")).await;
        let target = server.target_for(&name);
        let admin = everreach_core::db::Database::connect_admin(&target)
            .await
            .expect("connect to template");
        migrate::run(&admin)
            .await
            .expect("migrate the template database");
        admin.close().await;
        exec(
            &mut conn,
            &format!("ALTER DATABASE {name} IS_TEMPLATE true"),
        )
        .await;
    }
    sqlx::query("SELECT pg_advisory_unlock(727274)")
        .execute(&mut conn)
        .await
        .expect("unlock");
    let _ = conn.close().await;
    name
}

pub async fn create_database(server: &Server, name: &str, template: Option<&str>) {
    let mut conn = server.maintenance().await;
    let sql = match template {
        Some(t) => format!("CREATE DATABASE {name} TEMPLATE {t}"),
        None => format!("CREATE DATABASE {name}"),
    };
    exec(&mut conn, &sql).await;
    let _ = conn.close().await;
}

pub fn drop_database(server: &Server, name: &str) {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    rt.block_on(async {
        let mut conn = server.maintenance().await;
        let _ = sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
        let _ = conn.close().await;
    });
}

async fn exec(conn: &mut PgConnection, sql: &str) {
    sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}
