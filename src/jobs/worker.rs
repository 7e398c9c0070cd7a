//! Worker pools: each worker leases one job at a time, keeps the lease alive while the handler
//! runs, and records the outcome only while it still holds the lease.

use std::{sync::Arc, time::Duration};

use tokio::{sync::watch, task::JoinHandle, time::Instant};
use tracing::Instrument;

use super::{
    JobContext, JobError, JobId, JobRegistry, scheduler,
    store::{self, ClaimedRow, Outcome},
};
use crate::ids::TenantId;
use crate::{app::AppState, config::Config, db::Timestamp};

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Concurrent workers in this pool; 0 runs none (and no scheduler).
    pub workers: usize,
    /// Wait between polls when the queue is empty.
    pub poll_interval: Duration,
    /// How long a claim holds a job without a heartbeat; a vanished worker's job runs again
    /// after this.
    pub lease: Duration,
    /// First retry delay; doubles per attempt up to `backoff_max`, with jitter.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// How long a running job may finish after shutdown starts before it is released.
    pub shutdown_grace: Duration,
}

impl WorkerOptions {
    pub fn from_config(config: &Config) -> Self {
        Self {
            workers: config.workers,
            poll_interval: Duration::from_millis(config.job_poll_interval_ms),
            lease: Duration::from_secs(config.job_lease_seconds),
            backoff_base: Duration::from_millis(config.job_backoff_base_ms),
            backoff_max: Duration::from_millis(config.job_backoff_max_ms),
            shutdown_grace: Duration::from_secs(config.shutdown_grace_seconds),
        }
    }

    /// Delay before attempt `attempt + 1`: exponential, capped, with "equal jitter" so that
    /// jobs that failed together do not retry together.
    fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        let full = self
            .backoff_base
            .saturating_mul(1u32 << exponent)
            .min(self.backoff_max);
        full.mul_f64(0.5 + fastrand::f64() * 0.5)
    }
}

pub struct WorkerPool {
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl WorkerPool {
    pub fn start(state: AppState, registry: JobRegistry, options: WorkerOptions) -> Self {
        let (shutdown, shutdown_rx) = watch::channel(false);
        let registry = Arc::new(registry);
        let pool_id = format!(
            "{}:{}:{}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "staybase".into()),
            std::process::id(),
            &uuid::Uuid::now_v7().simple().to_string()[24..]
        );
        let mut tasks = Vec::new();
        for n in 0..options.workers {
            let worker = Worker {
                id: format!("{pool_id}/{n}"),
                state: state.clone(),
                registry: Arc::clone(&registry),
                options: options.clone(),
            };
            tasks.push(tokio::spawn(worker.run_until(shutdown_rx.clone())));
        }
        if options.workers > 0 && !registry.periodic.is_empty() {
            tasks.push(tokio::spawn(run_scheduler(
                state,
                Arc::clone(&registry),
                options.poll_interval.min(Duration::from_secs(1)),
                shutdown_rx,
            )));
        }
        tracing::info!(workers = options.workers, pool = %pool_id, "job workers started");
        Self { shutdown, tasks }
    }

    /// Starts the shutdown: no new claims; running jobs have the grace period to finish.
    pub fn stop_claiming(&self) {
        let _ = self.shutdown.send(true);
    }

    /// Stops claiming, lets running jobs finish within the grace period, releases the rest.
    pub async fn shutdown(self) {
        self.stop_claiming();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

async fn run_scheduler(
    state: AppState,
    registry: Arc<JobRegistry>,
    tick: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    while !*shutdown.borrow() {
        if let Err(err) = scheduler::tick(&state.db, &registry.periodic, Timestamp::now()).await {
            tracing::warn!(error = %err, "periodic scheduler tick failed");
        }
        tokio::select! {
            () = tokio::time::sleep(tick) => {}
            _ = shutdown.changed() => {}
        }
    }
}

struct Worker {
    id: String,
    state: AppState,
    registry: Arc<JobRegistry>,
    options: WorkerOptions,
}

enum Ending {
    Returned(Result<(), JobError>),
    Panicked,
    TimedOut,
    Released,
    LeaseLost,
}

impl Worker {
    async fn run_until(self, mut shutdown: watch::Receiver<bool>) {
        let kinds = self.registry.kinds();
        while !*shutdown.borrow() {
            let now = Timestamp::now();
            let lease_until = now + lease_duration(self.options.lease);
            match store::claim(&self.state.db, &self.id, &kinds, now, lease_until).await {
                Ok(Some(row)) => {
                    self.run_job(row, shutdown.clone()).await;
                    continue;
                }
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(worker = %self.id, error = %err, "claiming a job failed")
                }
            }
            tokio::select! {
                () = tokio::time::sleep(self.options.poll_interval) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    async fn run_job(&self, row: ClaimedRow, mut shutdown: watch::Receiver<bool>) {
        let id = JobId(row.id);
        let attempt = u32::try_from(row.attempts).unwrap_or(u32::MAX);
        let max_attempts = u32::try_from(row.max_attempts).unwrap_or(1);
        let span =
            tracing::info_span!("job", job_id = %id, kind = %row.kind, attempt, worker = %self.id);
        let Some(registered) = self.registry.handlers.get(row.kind.as_str()) else {
            // Claims filter by registered kinds, so this is a bug rather than bad data.
            self.record(
                id,
                Outcome::Dead {
                    error: "no handler for this kind",
                },
                &span,
            )
            .await;
            return;
        };
        let context = JobContext {
            state: self.state.clone(),
            job_id: id,
            tenant: row.tenant_id.map(TenantId),
            attempt,
        };
        span.in_scope(|| tracing::info!("job attempt started"));
        let started = Instant::now();
        let mut handle =
            tokio::spawn((registered.handler)(context, row.payload.0).instrument(span.clone()));

        let timeout = tokio::time::sleep(registered.timeout);
        let grace = self.options.shutdown_grace;
        let release = async move {
            let _ = shutdown.wait_for(|stopping| *stopping).await;
            tokio::time::sleep(grace).await;
        };
        let mut heartbeat = tokio::time::interval(self.options.lease / 3);
        heartbeat.tick().await;
        let mut last_renewal = Instant::now();
        tokio::pin!(timeout, release);
        let ending = loop {
            tokio::select! {
                joined = &mut handle => break match joined {
                    Ok(result) => Ending::Returned(result),
                    Err(_) => Ending::Panicked,
                },
                () = &mut timeout => break Ending::TimedOut,
                () = &mut release => break Ending::Released,
                _ = heartbeat.tick() => {
                    let lease_until = Timestamp::now() + lease_duration(self.options.lease);
                    match store::extend_lease(&self.state.db, id, &self.id, lease_until).await {
                        Ok(true) => last_renewal = Instant::now(),
                        Ok(false) => break Ending::LeaseLost,
                        // Past the lease, another worker may hold the job: stop running it.
                        Err(_) if last_renewal.elapsed() >= self.options.lease => break Ending::LeaseLost,
                        Err(err) => span.in_scope(|| tracing::warn!(error = %err, "lease heartbeat failed")),
                    }
                }
            }
        };
        if !handle.is_finished() {
            handle.abort();
        }
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        let (outcome_error, dead_now) = match &ending {
            Ending::Returned(Ok(())) => (None, false),
            Ending::Returned(Err(JobError::Permanent(error))) => (Some(error.clone()), true),
            Ending::Returned(Err(JobError::Retry(error))) => (Some(error.clone()), false),
            Ending::Panicked => (Some("handler panicked".to_owned()), false),
            Ending::TimedOut => (
                Some(format!("timed out after {:?}", registered.timeout)),
                false,
            ),
            Ending::Released => {
                span.in_scope(|| tracing::info!(elapsed_ms, "job released at shutdown"));
                self.record(id, Outcome::Released, &span).await;
                return;
            }
            Ending::LeaseLost => {
                span.in_scope(|| {
                    tracing::warn!(elapsed_ms, "lease lost; another worker owns the job")
                });
                return;
            }
        };
        let outcome = match &outcome_error {
            None => {
                span.in_scope(|| tracing::info!(elapsed_ms, "job done"));
                Outcome::Done
            }
            Some(error) if dead_now || attempt >= max_attempts => {
                span.in_scope(|| tracing::error!(elapsed_ms, error = %error, "job dead-lettered"));
                Outcome::Dead { error }
            }
            Some(error) => {
                let delay = self.options.backoff(attempt);
                span.in_scope(|| {
                    tracing::warn!(elapsed_ms, error = %error, retry_in_ms = delay.as_millis() as u64, "job attempt failed")
                });
                Outcome::RetryAt {
                    run_at: Timestamp::now() + lease_duration(delay),
                    error,
                }
            }
        };
        self.record(id, outcome, &span).await;
    }

    async fn record(&self, id: JobId, outcome: Outcome<'_>, span: &tracing::Span) {
        match store::finish(&self.state.db, id, &self.id, outcome, Timestamp::now()).await {
            Ok(true) => {}
            Ok(false) => {
                span.in_scope(|| tracing::warn!("lease lost before the outcome was recorded"))
            }
            Err(err) => {
                span.in_scope(|| tracing::error!(error = %err, "recording the job outcome failed"))
            }
        }
    }
}

fn lease_duration(duration: Duration) -> time::Duration {
    time::Duration::try_from(duration).unwrap_or(time::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> WorkerOptions {
        WorkerOptions {
            workers: 1,
            poll_interval: Duration::from_millis(100),
            lease: Duration::from_secs(30),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(5),
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let options = options();
        for attempt in 1..=10u32 {
            let full = Duration::from_secs(1u64 << (attempt - 1)).min(Duration::from_secs(60));
            let delay = options.backoff(attempt);
            assert!(
                delay >= full / 2 && delay <= full,
                "attempt {attempt}: {delay:?}"
            );
        }
        assert!(options.backoff(1000) <= Duration::from_secs(60));
    }
}
