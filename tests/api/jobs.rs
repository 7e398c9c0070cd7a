//! The durable queue: transactional enqueue, retries, dead letters, leases, exclusivity and
//! periodic runs, against the real database of each backend.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use serde::{Deserialize, Serialize};
use staybase::{
    AppState,
    db::Timestamp,
    jobs::{
        self, EnqueueOptions, Job, JobError, JobRegistry, Schedule, WorkerOptions, WorkerPool,
        store,
    },
};

use crate::helpers::{eventually, spawn_app_with};

fn fast_options(workers: usize) -> WorkerOptions {
    WorkerOptions {
        workers,
        poll_interval: Duration::from_millis(20),
        lease: Duration::from_secs(3),
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        shutdown_grace: Duration::from_secs(2),
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Flaky {
    key: String,
    /// How many attempts fail before one succeeds.
    failures: u32,
    permanent: bool,
}

impl Job for Flaky {
    const KIND: &'static str = "test.flaky";
    const MAX_ATTEMPTS: u32 = 4;
}

type Runs = Arc<Mutex<HashMap<String, u32>>>;

fn flaky_registry(runs: &Runs) -> JobRegistry {
    let runs = Arc::clone(runs);
    let mut registry = JobRegistry::new();
    registry.register(move |_context, job: Flaky| {
        let runs = Arc::clone(&runs);
        async move {
            let attempt = {
                let mut runs = runs.lock().unwrap();
                let count = runs.entry(job.key.clone()).or_default();
                *count += 1;
                *count
            };
            if attempt <= job.failures {
                let message = format!("failure {attempt} of {}", job.key);
                return Err(if job.permanent {
                    JobError::Permanent(message)
                } else {
                    JobError::Retry(message)
                });
            }
            Ok(())
        }
    });
    registry
}

async fn enqueue(state: &AppState, job: &impl Job) {
    let mut tx = state.db.begin().await.unwrap();
    jobs::enqueue(&mut tx, job, EnqueueOptions::default())
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

fn flaky(key: &str, failures: u32) -> Flaky {
    Flaky {
        key: key.to_owned(),
        failures,
        permanent: false,
    }
}

async fn jobs_in(state: &AppState, status: &str) -> Vec<store::JobSummary> {
    store::list_by_status(&state.db, status, 1000)
        .await
        .unwrap()
}

fn runs_of(runs: &Runs, key: &str) -> u32 {
    runs.lock().unwrap().get(key).copied().unwrap_or(0)
}

#[tokio::test]
async fn a_job_enqueued_in_a_rolled_back_transaction_never_runs() {
    let app = spawn_app_with(|config| config.workers = 0).await;
    let runs = Runs::default();
    {
        let mut tx = app.state.db.begin().await.unwrap();
        jobs::enqueue(&mut tx, &flaky("rolled-back", 0), EnqueueOptions::default())
            .await
            .unwrap();
        // Dropped without commit, as when a service returns an error.
    }
    enqueue(&app.state, &flaky("committed", 0)).await;

    let pool = WorkerPool::start(app.state.clone(), flaky_registry(&runs), fast_options(1));
    eventually(|| async { runs_of(&runs, "committed") == 1 }).await;
    pool.shutdown().await;

    assert_eq!(runs_of(&runs, "rolled-back"), 0);
    let counts = store::counts(&app.state.db).await.unwrap();
    let total: i64 = counts
        .iter()
        .filter(|c| c.kind == Flaky::KIND)
        .map(|c| c.count)
        .sum();
    assert_eq!(total, 1, "only the committed job exists: {counts:?}");
}

#[tokio::test]
async fn a_job_failing_twice_then_succeeding_runs_three_times_and_ends_done() {
    let app = spawn_app_with(|config| config.workers = 0).await;
    let runs = Runs::default();
    enqueue(&app.state, &flaky("twice", 2)).await;
    let pool = WorkerPool::start(app.state.clone(), flaky_registry(&runs), fast_options(1));
    eventually(|| async { jobs_in(&app.state, "done").await.len() == 1 }).await;
    pool.shutdown().await;

    assert_eq!(runs_of(&runs, "twice"), 3);
    let done = jobs_in(&app.state, "done").await;
    assert_eq!(done[0].attempts, 3);
    assert!(done[0].finished_at.is_some());
}

#[tokio::test]
async fn a_job_that_always_fails_is_dead_lettered_after_its_limit() {
    let app = spawn_app_with(|config| config.workers = 0).await;
    let runs = Runs::default();
    enqueue(&app.state, &flaky("always", u32::MAX)).await;
    enqueue(
        &app.state,
        &Flaky {
            key: "permanent".into(),
            failures: u32::MAX,
            permanent: true,
        },
    )
    .await;
    let pool = WorkerPool::start(app.state.clone(), flaky_registry(&runs), fast_options(2));
    eventually(|| async { jobs_in(&app.state, "dead").await.len() == 2 }).await;
    // Give a wrongly scheduled retry the chance to show up before checking the counts.
    tokio::time::sleep(Duration::from_millis(200)).await;
    pool.shutdown().await;

    assert_eq!(runs_of(&runs, "always"), Flaky::MAX_ATTEMPTS);
    assert_eq!(
        runs_of(&runs, "permanent"),
        1,
        "a permanent failure is not retried"
    );
    let dead = jobs_in(&app.state, "dead").await;
    for job in &dead {
        assert!(
            job.last_error.as_deref().unwrap().starts_with("failure"),
            "{job:?}"
        );
    }
    let counts = store::counts(&app.state.db).await.unwrap();
    assert!(
        counts
            .iter()
            .any(|c| c.kind == Flaky::KIND && c.status == "dead" && c.count == 2)
    );
}

#[tokio::test]
async fn a_job_held_by_a_vanished_worker_runs_again_after_its_lease() {
    let app = spawn_app_with(|config| config.workers = 0).await;
    let runs = Runs::default();
    enqueue(&app.state, &flaky("orphan", 0)).await;

    // A worker claims the job and then disappears without finishing or renewing it.
    let now = Timestamp::now();
    let claimed = store::claim(
        &app.state.db,
        "vanished-worker",
        &[Flaky::KIND],
        now,
        now + time::Duration::milliseconds(500),
    )
    .await
    .unwrap();
    assert!(claimed.is_some());
    assert_eq!(jobs_in(&app.state, "running").await.len(), 1);

    let pool = WorkerPool::start(app.state.clone(), flaky_registry(&runs), fast_options(1));
    eventually(|| async { jobs_in(&app.state, "done").await.len() == 1 }).await;
    pool.shutdown().await;

    assert_eq!(runs_of(&runs, "orphan"), 1);
    assert_eq!(
        jobs_in(&app.state, "done").await[0].attempts,
        2,
        "the lost attempt counts"
    );
}

#[derive(Debug, Serialize, Deserialize)]
struct Exclusive {
    key: String,
}

impl Job for Exclusive {
    const KIND: &'static str = "test.exclusive";
}

#[tokio::test]
async fn two_worker_pools_never_run_the_same_job_at_once() {
    let app = spawn_app_with(|config| config.workers = 0).await;
    let other = AppState::start(app.state.config.clone()).await.unwrap();

    const JOBS: usize = 150;
    let mut tx = app.state.db.begin().await.unwrap();
    for n in 0..JOBS {
        let job = Exclusive {
            key: format!("job-{n}"),
        };
        jobs::enqueue(&mut tx, &job, EnqueueOptions::default())
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();

    let runs = Runs::default();
    let running = Arc::new(Mutex::new(HashSet::<String>::new()));
    let overlaps = Arc::new(Mutex::new(Vec::<String>::new()));
    let registry = || {
        let (runs, running, overlaps) = (runs.clone(), running.clone(), overlaps.clone());
        let mut registry = JobRegistry::new();
        registry.register(move |_context, job: Exclusive| {
            let (runs, running, overlaps) = (runs.clone(), running.clone(), overlaps.clone());
            async move {
                if !running.lock().unwrap().insert(job.key.clone()) {
                    overlaps.lock().unwrap().push(job.key.clone());
                }
                *runs.lock().unwrap().entry(job.key.clone()).or_default() += 1;
                tokio::time::sleep(Duration::from_millis(fastrand::u64(1..5))).await;
                running.lock().unwrap().remove(&job.key);
                Ok(())
            }
        });
        registry
    };
    let first = WorkerPool::start(app.state.clone(), registry(), fast_options(4));
    let second = WorkerPool::start(other.clone(), registry(), fast_options(4));
    eventually(|| async { jobs_in(&app.state, "done").await.len() == JOBS }).await;
    first.shutdown().await;
    second.shutdown().await;

    assert!(
        overlaps.lock().unwrap().is_empty(),
        "ran concurrently: {:?}",
        overlaps.lock().unwrap()
    );
    let runs = runs.lock().unwrap();
    assert_eq!(runs.len(), JOBS);
    assert!(
        runs.values().all(|&count| count == 1),
        "every job ran exactly once"
    );
}

#[derive(Debug, Serialize, Deserialize)]
struct Tick;

impl Job for Tick {
    const KIND: &'static str = "test.tick";
}

#[tokio::test]
async fn a_periodic_job_fires_once_per_period_across_two_pools() {
    let app = spawn_app_with(|config| config.workers = 0).await;
    let other = AppState::start(app.state.config.clone()).await.unwrap();
    let ticks = Arc::new(Mutex::new(0u32));
    let registry = || {
        let ticks = ticks.clone();
        let mut registry = JobRegistry::new();
        registry
            .register(move |_context, _job: Tick| {
                let ticks = ticks.clone();
                async move {
                    *ticks.lock().unwrap() += 1;
                    Ok(())
                }
            })
            .every(Schedule::every(Duration::from_secs(1)), Tick);
        registry
    };

    let started = Timestamp::now();
    let first = WorkerPool::start(app.state.clone(), registry(), fast_options(2));
    let second = WorkerPool::start(other.clone(), registry(), fast_options(2));
    tokio::time::sleep(Duration::from_millis(3300)).await;
    let ended = Timestamp::now();
    eventually(|| async {
        let pending =
            jobs_in(&app.state, "queued").await.len() + jobs_in(&app.state, "running").await.len();
        pending == 0
    })
    .await;
    first.shutdown().await;
    second.shutdown().await;

    let periods =
        (ended.unix_micros() / 1_000_000 - started.unix_micros() / 1_000_000 + 1) as usize;
    let done = jobs_in(&app.state, "done").await;
    let fired = done.iter().filter(|job| job.kind == Tick::KIND).count();
    assert!(
        fired + 1 >= periods && fired <= periods,
        "{fired} runs for {periods} periods"
    );
    assert_eq!(
        *ticks.lock().unwrap() as usize,
        fired,
        "each run executed once"
    );
}

#[derive(Debug, Serialize, Deserialize)]
struct Slow {
    millis: u64,
}

impl Job for Slow {
    const KIND: &'static str = "test.slow";
}

fn slow_registry(started: &Arc<tokio::sync::Notify>) -> JobRegistry {
    let started = Arc::clone(started);
    let mut registry = JobRegistry::new();
    registry.register(move |_context, job: Slow| {
        let started = Arc::clone(&started);
        async move {
            started.notify_one();
            tokio::time::sleep(Duration::from_millis(job.millis)).await;
            Ok(())
        }
    });
    registry
}

#[tokio::test]
async fn shutdown_lets_a_running_job_finish_within_the_grace_period() {
    let app = spawn_app_with(|config| config.workers = 0).await;
    enqueue(&app.state, &Slow { millis: 300 }).await;
    let started = Arc::new(tokio::sync::Notify::new());
    let pool = WorkerPool::start(app.state.clone(), slow_registry(&started), fast_options(1));
    started.notified().await;
    pool.shutdown().await;

    let done = jobs_in(&app.state, "done").await;
    assert_eq!(done.len(), 1, "finished during the grace period");
}

#[tokio::test]
async fn shutdown_releases_a_job_that_outlives_the_grace_period() {
    let app = spawn_app_with(|config| config.workers = 0).await;
    enqueue(&app.state, &Slow { millis: 30_000 }).await;
    let started = Arc::new(tokio::sync::Notify::new());
    let options = WorkerOptions {
        shutdown_grace: Duration::from_millis(100),
        ..fast_options(1)
    };
    let pool = WorkerPool::start(app.state.clone(), slow_registry(&started), options);
    started.notified().await;
    pool.shutdown().await;

    let queued = jobs_in(&app.state, "queued").await;
    assert_eq!(queued.len(), 1, "handed back for another worker");
    assert_eq!(queued[0].attempts, 0, "a released attempt does not count");
}

#[derive(Debug, Serialize, Deserialize)]
struct OneShot;

impl Job for OneShot {
    const KIND: &'static str = "test.one_shot";
    const MAX_ATTEMPTS: u32 = 1;
}

#[tokio::test]
async fn a_job_whose_every_attempt_lost_its_worker_is_dead_lettered() {
    let app = spawn_app_with(|config| config.workers = 0).await;
    enqueue(&app.state, &OneShot).await;
    let now = Timestamp::now();
    let claimed = store::claim(
        &app.state.db,
        "crashed-worker",
        &[OneShot::KIND],
        now,
        now + time::Duration::milliseconds(100),
    )
    .await
    .unwrap();
    assert!(claimed.is_some());

    let runs = Arc::new(Mutex::new(0u32));
    let mut registry = JobRegistry::new();
    let counter = runs.clone();
    registry.register(move |_context, _job: OneShot| {
        let counter = counter.clone();
        async move {
            *counter.lock().unwrap() += 1;
            Ok(())
        }
    });
    let pool = WorkerPool::start(app.state.clone(), registry, fast_options(1));
    eventually(|| async { jobs_in(&app.state, "dead").await.len() == 1 }).await;
    pool.shutdown().await;
    assert_eq!(*runs.lock().unwrap(), 0, "not run past its attempts");
    let dead = jobs_in(&app.state, "dead").await;
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("lease expired")
    );
}
