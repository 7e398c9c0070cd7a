//! Durable background jobs: a table-based queue in the application database.
//!
//! Jobs are enqueued inside the caller's transaction (the job exists if and only if the business
//! change committed), delivered at least once, retried with exponential backoff and jitter,
//! dead-lettered after their attempt limit, and leased to one worker at a time; a worker that
//! vanishes loses its lease and the job runs again. Handlers must therefore be idempotent.

mod scheduler;
pub mod store;
mod worker;

use std::{collections::HashMap, fmt, future::Future, pin::Pin, sync::Arc, time::Duration};

use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use uuid::Uuid;

pub use scheduler::Schedule;
pub use worker::{WorkerOptions, WorkerPool};

use crate::{
    app::AppState,
    db::{Timestamp, Tx},
    error::ApiError,
    ids::TenantId,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct JobId(pub Uuid);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A kind of background work with a serde payload.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Stable name stored with each job; renaming it orphans queued jobs.
    const KIND: &'static str;
    /// Attempts before the job is dead-lettered.
    const MAX_ATTEMPTS: u32 = 5;
    /// How long one attempt may run before it counts as failed.
    const TIMEOUT: Duration = Duration::from_secs(60);
}

/// Why an attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt (after backoff) while attempts remain.
    #[error("{0}")]
    Retry(String),
    /// Will never succeed: dead-letter now.
    #[error("{0}")]
    Permanent(String),
}

impl From<ApiError> for JobError {
    fn from(err: ApiError) -> Self {
        Self::Retry(err.to_string())
    }
}

/// What a handler knows about the attempt it runs.
#[derive(Clone)]
pub struct JobContext {
    pub state: AppState,
    pub job_id: JobId,
    pub tenant: Option<TenantId>,
    pub attempt: u32,
}

type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>>;
type Handler = Arc<dyn Fn(JobContext, Value) -> HandlerFuture + Send + Sync>;

#[derive(Clone)]
struct Registered {
    timeout: Duration,
    handler: Handler,
}

/// The job kinds a worker pool runs, with their handlers and periodic schedules.
#[derive(Clone, Default)]
pub struct JobRegistry {
    handlers: HashMap<&'static str, Registered>,
    periodic: Vec<scheduler::Periodic>,
}

impl JobRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `handler` for jobs of kind `J::KIND`.
    pub fn register<J, F, Fut>(&mut self, handler: F) -> &mut Self
    where
        J: Job,
        F: Fn(JobContext, J) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let erased: Handler = Arc::new(move |context, payload| {
            let handler = Arc::clone(&handler);
            Box::pin(async move {
                let job: J = serde_json::from_value(payload).map_err(|err| {
                    JobError::Permanent(format!("payload does not decode as {}: {err}", J::KIND))
                })?;
                handler(context, job).await
            })
        });
        self.handlers.insert(
            J::KIND,
            Registered {
                timeout: J::TIMEOUT,
                handler: erased,
            },
        );
        self
    }

    /// Enqueues `job` once per period of `schedule`, however many schedulers run.
    pub fn every<J: Job>(&mut self, schedule: Schedule, job: J) -> &mut Self {
        let payload = serde_json::to_value(&job).unwrap_or(Value::Null);
        self.periodic.push(scheduler::Periodic {
            kind: J::KIND,
            max_attempts: J::MAX_ATTEMPTS,
            schedule,
            payload,
        });
        self
    }

    fn kinds(&self) -> Vec<&'static str> {
        let mut kinds: Vec<_> = self.handlers.keys().copied().collect();
        kinds.sort_unstable();
        kinds
    }
}

/// Options of one enqueue.
#[derive(Debug, Default, Clone)]
pub struct EnqueueOptions {
    /// The tenant the work is for, if any.
    pub tenant: Option<TenantId>,
    /// Not before this time (default: now).
    pub run_at: Option<Timestamp>,
    /// A key no other job may share: enqueueing it again is a no-op.
    pub unique_key: Option<String>,
}

/// A job ready to go into the queue, alone (`enqueue`) or with others in one statement
/// (`enqueue_all`).
pub struct Pending {
    kind: &'static str,
    payload: Value,
    max_attempts: u32,
    options: EnqueueOptions,
}

impl Pending {
    pub fn new<J: Job>(job: &J, options: EnqueueOptions) -> Result<Self, ApiError> {
        Ok(Self {
            kind: J::KIND,
            payload: serde_json::to_value(job).map_err(ApiError::internal)?,
            max_attempts: J::MAX_ATTEMPTS,
            options,
        })
    }

    fn row(&self, id: JobId, now: Timestamp) -> store::NewJob<'_> {
        store::NewJob {
            id,
            tenant: self.options.tenant,
            kind: self.kind,
            payload: &self.payload,
            max_attempts: self.max_attempts,
            run_at: self.options.run_at.unwrap_or(now),
            unique_key: self.options.unique_key.as_deref(),
            now,
        }
    }
}

/// Adds `job` to the queue within the caller's transaction. Returns `None` when a job with the
/// same unique key already exists.
pub async fn enqueue<J: Job>(
    tx: &mut Tx,
    job: &J,
    options: EnqueueOptions,
) -> Result<Option<JobId>, ApiError> {
    let pending = Pending::new(job, options)?;
    let id = JobId(Uuid::now_v7());
    let inserted = store::insert(tx, &[pending.row(id, Timestamp::now())]).await? == 1;
    if inserted {
        tracing::debug!(job_id = %id, kind = J::KIND, "job enqueued");
    }
    Ok(inserted.then_some(id))
}

/// Adds `jobs` to the queue within the caller's transaction in one statement (one round trip
/// for all the work a change schedules); jobs whose unique key is taken are skipped.
pub async fn enqueue_all(tx: &mut Tx, jobs: &[Pending]) -> Result<(), ApiError> {
    if jobs.is_empty() {
        return Ok(());
    }
    let now = Timestamp::now();
    let rows: Vec<store::NewJob> = jobs
        .iter()
        .map(|job| job.row(JobId(Uuid::now_v7()), now))
        .collect();
    let inserted = store::insert(tx, &rows).await?;
    tracing::debug!(inserted, "jobs enqueued");
    Ok(())
}

/// Deletes finished jobs older than the retention period.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct PruneFinishedJobs {
    pub retention_hours: u32,
}

impl Job for PruneFinishedJobs {
    const KIND: &'static str = "jobs.prune";
    const MAX_ATTEMPTS: u32 = 3;
}

pub async fn prune_finished_jobs(
    context: JobContext,
    job: PruneFinishedJobs,
) -> Result<(), JobError> {
    let cutoff = Timestamp::now() - time::Duration::hours(i64::from(job.retention_hours));
    let deleted = store::prune_done(&context.state.db, cutoff).await?;
    tracing::info!(deleted, "pruned finished jobs");
    Ok(())
}
