//! Opening the database for a command: `DATABASE_URL` as given, or the embedded
//! cluster — started by this process (and stopped when it exits) unless another
//! process already manages it. Runs on the main thread, before the async runtime,
//! because the cluster's parent-death signal is tied to the thread that spawns it.

use everreach_core::Config;
use everreach_core::db::DbTarget;
use everreach_pg::{Binaries, Cluster, ClusterOptions, Role};

/// The target, and the cluster handle to keep alive while the command runs.
pub fn open(config: &Config) -> anyhow::Result<(DbTarget, Option<Cluster>)> {
    if let Some(url) = &config.database_url {
        let target = DbTarget::External {
            url: url.clone(),
            app_url: config.app_database_url.clone(),
        };
        return Ok((target, None));
    }
    let binaries = Binaries::locate(config.pg_bin_dir.as_deref(), &config.pg_cache_dir)?;
    let opts = ClusterOptions {
        data_dir: config.data_dir.clone(),
        binaries,
        durability_off: false,
    };
    let cluster = Cluster::open(&opts)?;
    if let Role::Client = cluster.role() {
        tracing::info!("using the embedded cluster another everreach process runs");
    }
    Ok((
        DbTarget::embedded(cluster.connection().clone()),
        Some(cluster),
    ))
}

/// The target without starting anything (for `db url`).
pub fn describe(config: &Config) -> (DbTarget, bool) {
    match &config.database_url {
        Some(url) => (
            DbTarget::External {
                url: url.clone(),
                app_url: config.app_database_url.clone(),
            },
            true,
        ),
        None => (
            DbTarget::embedded(Cluster::connection_for(&config.data_dir)),
            Cluster::is_running(&config.data_dir),
        ),
    }
}
