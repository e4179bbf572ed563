//! Queues, their loops, the wake-up listener, the expiry sweeper and shutdown.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use everreach_core::jobs::{self, Job, JobError};
use futures_util::StreamExt;
use serde_json::Value;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::handler::{Handler, JobContext};
use crate::scheduler::Schedule;

/// How one queue is worked.
#[derive(Debug, Clone, Copy)]
pub struct QueueOptions {
    /// Fetch loops running side by side (pg-boss's `localConcurrency`).
    pub loops: usize,
    /// Jobs claimed per fetch (pg-boss's `batchSize`).
    pub batch_size: i64,
    /// Handlers of one batch running at once.
    pub parallel: usize,
}

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions {
            loops: 4,
            batch_size: 100,
            parallel: 16,
        }
    }
}

/// Queue names → handlers, and the recurring schedules that feed them.
#[derive(Clone, Default)]
pub struct Registry {
    queues: HashMap<String, (Handler, QueueOptions)>,
    schedules: Vec<Schedule>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("queues", &self.queues.keys().collect::<Vec<_>>())
            .field("schedules", &self.schedules.len())
            .finish()
    }
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    pub fn register(&mut self, name: &str, handler: Handler) -> Result<&mut Registry, JobError> {
        self.register_with(name, handler, QueueOptions::default())
    }

    pub fn register_with(
        &mut self,
        name: &str,
        handler: Handler,
        opts: QueueOptions,
    ) -> Result<&mut Registry, JobError> {
        jobs::model::check_name(name)?;
        if opts.loops == 0 || opts.batch_size < 1 || opts.parallel == 0 {
            return Err(JobError::BadOption(format!(
                "queue {name}: loops, batch_size and parallel must be at least 1"
            )));
        }
        self.queues.insert(name.to_string(), (handler, opts));
        Ok(self)
    }

    /// Adds a recurring schedule (written to `job_schedules` when the runner starts);
    /// its queue must have a handler here.
    pub fn schedule(
        &mut self,
        queue: &str,
        cron: &str,
        zone: &str,
    ) -> Result<&mut Registry, JobError> {
        let schedule = Schedule::new(queue, cron, zone, serde_json::Value::Null)
            .map_err(|e| JobError::BadOption(format!("schedule of {queue}: {e}")))?;
        self.schedules.push(schedule);
        Ok(self)
    }

    /// The queues with a handler.
    pub fn queues(&self) -> impl Iterator<Item = &str> {
        self.queues.keys().map(String::as_str)
    }

    /// The schedules added.
    pub fn schedules(&self) -> &[Schedule] {
        &self.schedules
    }
}

/// Timings of the runner.
#[derive(Debug, Clone, Copy)]
pub struct RunnerOptions {
    /// The safety net when a notification is missed.
    pub poll_interval: Duration,
    /// How often active jobs past `expire_in` are looked for.
    pub expire_interval: Duration,
    /// How often due schedules are fired (None: this process fires none).
    pub schedule_interval: Option<Duration>,
    /// How long shutdown waits for the jobs in hand.
    pub shutdown_timeout: Duration,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        RunnerOptions {
            poll_interval: Duration::from_secs(2),
            expire_interval: Duration::from_secs(5),
            schedule_interval: Some(Duration::from_secs(1)),
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Debug)]
pub struct Runner;

/// A running runner; [`RunnerHandle::shutdown`] stops it.
#[derive(Debug)]
pub struct RunnerHandle {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    timeout: Duration,
}

impl RunnerHandle {
    /// Stops fetching, waits up to the shutdown timeout for the jobs in hand (their
    /// results are recorded), then abandons what is left (it expires and runs again).
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        let waited = tokio::time::timeout(self.timeout, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if waited.is_err() {
            tracing::warn!(
                "jobs still running after the shutdown timeout were abandoned; they will expire and run again"
            );
            self.tasks.abort_all();
        }
    }
}

impl Runner {
    /// Creates the queues of `registry` and starts working them on `pool` (the app
    /// role's pool).
    pub async fn start(
        pool: PgPool,
        registry: Registry,
        opts: RunnerOptions,
    ) -> Result<RunnerHandle, JobError> {
        for name in registry.queues.keys() {
            jobs::create_queue(&pool, name).await?;
        }
        for schedule in &registry.schedules {
            if !registry.queues.contains_key(&schedule.queue) {
                return Err(JobError::BadOption(format!(
                    "schedule of {}: no handler is registered for that queue",
                    schedule.queue
                )));
            }
            crate::scheduler::register(&pool, schedule)
                .await
                .map_err(|e| JobError::BadOption(format!("schedule of {}: {e}", schedule.queue)))?;
        }
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let mut wakers = HashMap::new();
        for (name, (handler, queue)) in registry.queues {
            let wake = Arc::new(Notify::new());
            wakers.insert(name.clone(), wake.clone());
            for _ in 0..queue.loops {
                let work = Loop {
                    pool: pool.clone(),
                    name: name.clone(),
                    handler: handler.clone(),
                    queue,
                    wake: wake.clone(),
                    poll: opts.poll_interval,
                };
                tasks.spawn(work.run(stop_rx.clone()));
            }
        }
        tasks.spawn(listen(pool.clone(), wakers, stop_rx.clone()));
        tasks.spawn(sweep(pool, opts, stop_rx));
        Ok(RunnerHandle {
            stop,
            tasks,
            timeout: opts.shutdown_timeout,
        })
    }
}

struct Loop {
    pool: PgPool,
    name: String,
    handler: Handler,
    queue: QueueOptions,
    wake: Arc<Notify>,
    poll: Duration,
}

impl Loop {
    async fn run(self, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            // Interest in a wake-up is registered before fetching, so a job sent while
            // this fetch runs is not missed.
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let batch = match jobs::fetch(&self.pool, &self.name, self.queue.batch_size).await {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::warn!(queue = %self.name, error = %e, "fetching jobs failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = stop.changed() => {}
                    }
                    continue;
                }
            };
            if batch.is_empty() {
                tokio::select! {
                    _ = &mut woken => {}
                    _ = tokio::time::sleep(self.poll) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
            let results = self.run_batch(batch).await;
            self.record(results).await;
        }
    }

    async fn run_batch(&self, batch: Vec<Job>) -> Vec<(Uuid, Result<Value, String>)> {
        futures_util::stream::iter(batch)
            .map(|job| {
                let id = job.id;
                let limit =
                    Duration::from_secs_f64(job.expire_in_seconds.clamp(0.001, 7.0 * 86_400.0));
                let ctx = JobContext {
                    job,
                    pool: self.pool.clone(),
                };
                let run = (self.handler)(ctx);
                async move {
                    // Each handler on its own task: a panic fails that job only. A
                    // handler past the job's expire_in is cancelled (aborted at its
                    // next await), so it never runs beside the retry its expiry makes.
                    let mut task = tokio::spawn(run);
                    let outcome = match tokio::time::timeout(limit, &mut task).await {
                        Ok(Ok(Ok(output))) => Ok(output.unwrap_or(Value::Null)),
                        Ok(Ok(Err(e))) => Err(e.0),
                        Ok(Err(join)) => Err(panic_message(join)),
                        Err(_) => {
                            task.abort();
                            Err(format!(
                                "cancelled: the handler ran past the job's expire_in ({}s)",
                                limit.as_secs_f64()
                            ))
                        }
                    };
                    (id, outcome)
                }
            })
            .buffer_unordered(self.queue.parallel)
            .collect()
            .await
    }

    /// Completes and fails the batch, retrying the bookkeeping itself a few times: a
    /// job whose result cannot be recorded stays active and expires into a retry.
    async fn record(&self, results: Vec<(Uuid, Result<Value, String>)>) {
        let mut done = Vec::new();
        let mut failed = Vec::new();
        for (id, outcome) in results {
            match outcome {
                Ok(output) => done.push((id, output)),
                Err(error) => {
                    tracing::warn!(queue = %self.name, job = %id, %error, "job failed");
                    failed.push((id, error));
                }
            }
        }
        for attempt in 1..=3 {
            let recorded = async {
                jobs::complete(&self.pool, &done).await?;
                jobs::fail(&self.pool, &failed).await
            }
            .await;
            match recorded {
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(queue = %self.name, attempt, error = %e, "recording job results failed");
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
            }
        }
    }
}

fn panic_message(join: tokio::task::JoinError) -> String {
    if !join.is_panic() {
        return "the handler was cancelled".into();
    }
    let payload = join.into_panic();
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text panic".into());
    format!("handler panicked: {text}")
}

/// LISTEN jobs: a notification names a queue; its loops wake.
async fn listen(
    pool: PgPool,
    wakers: HashMap<String, Arc<Notify>>,
    mut stop: watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot LISTEN for jobs; polling until it works");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
        };
        if let Err(e) = listener.listen("jobs").await {
            tracing::warn!(error = %e, "LISTEN jobs failed");
            continue;
        }
        loop {
            tokio::select! {
                note = listener.recv() => match note {
                    Ok(note) => {
                        if let Some(wake) = wakers.get(note.payload()) {
                            wake.notify_waiters();
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "the jobs listener lost its connection");
                        break;
                    }
                },
                _ = stop.changed() => return,
            }
        }
    }
}

/// Expires jobs whose worker died and fires due schedules.
async fn sweep(pool: PgPool, opts: RunnerOptions, mut stop: watch::Receiver<bool>) {
    let mut expire = tokio::time::interval(opts.expire_interval);
    let mut schedules =
        tokio::time::interval(opts.schedule_interval.unwrap_or(Duration::from_secs(3600)));
    loop {
        tokio::select! {
            _ = expire.tick() => match jobs::expire(&pool).await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(jobs = n, "expired jobs whose worker stopped answering"),
                Err(e) => tracing::warn!(error = %e, "expiring jobs failed"),
            },
            _ = schedules.tick(), if opts.schedule_interval.is_some() => {
                if let Err(e) = crate::scheduler::tick(&pool, chrono::Utc::now()).await {
                    tracing::warn!(error = %e, "firing schedules failed");
                }
            }
            _ = stop.changed() => return,
        }
    }
}
