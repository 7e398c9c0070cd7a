//! Logs the outages of an optional dependency (Redis) by their changes of state, not per request:
//! one warning when it becomes unavailable, a reminder at most once a minute while it stays so
//! (with how many calls failed meanwhile), and one line when it answers again.

use std::{
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

/// How often a lasting outage is logged again.
pub const REMINDER_INTERVAL: Duration = Duration::from_secs(60);

struct Outage {
    since: Instant,
    last_logged: Instant,
    /// Failed calls since the last line logged.
    failures: u64,
}

/// The health of one use of a dependency, e.g. "the Redis rate limiter".
pub struct OutageLog {
    /// What fails, for the log lines (e.g. `Redis rate limit`).
    what: &'static str,
    /// What the service does meanwhile (e.g. `limiting in process`).
    fallback: &'static str,
    down: AtomicBool,
    outage: Mutex<Option<Outage>>,
}

impl OutageLog {
    pub const fn new(what: &'static str, fallback: &'static str) -> Self {
        Self {
            what,
            fallback,
            down: AtomicBool::new(false),
            outage: Mutex::new(None),
        }
    }

    /// A call failed with `error`.
    pub fn failed(&self, error: &dyn std::fmt::Display) {
        let now = Instant::now();
        let mut outage = self
            .outage
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match outage.as_mut() {
            None => {
                tracing::warn!(%error, "{} unavailable; {} until it answers again", self.what, self.fallback);
                *outage = Some(Outage {
                    since: now,
                    last_logged: now,
                    failures: 0,
                });
                self.down.store(true, Ordering::Release);
            }
            Some(outage) => {
                outage.failures += 1;
                if now.duration_since(outage.last_logged) >= REMINDER_INTERVAL {
                    tracing::warn!(
                        %error,
                        failed_calls = outage.failures,
                        down_for_secs = now.duration_since(outage.since).as_secs(),
                        "{} still unavailable; {}",
                        self.what,
                        self.fallback
                    );
                    outage.last_logged = now;
                    outage.failures = 0;
                }
            }
        }
    }

    /// A call succeeded: ends the outage, if there was one.
    pub fn succeeded(&self) {
        if !self.down.load(Ordering::Acquire) {
            return;
        }
        let mut outage = self
            .outage
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(ended) = outage.take() {
            self.down.store(false, Ordering::Release);
            tracing::info!(
                down_for_secs = ended.since.elapsed().as_secs(),
                "{} available again",
                self.what
            );
        }
    }

    /// Records the outcome of a call and passes it on.
    pub fn observe<T, E: std::fmt::Display>(&self, result: Result<T, E>) -> Result<T, E> {
        match &result {
            Ok(_) => self.succeeded(),
            Err(err) => self.failed(err),
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_changes_state_once_each_way() {
        let log = OutageLog::new("Redis test", "carrying on");
        log.succeeded();
        assert!(!log.down.load(Ordering::Acquire));
        for _ in 0..100 {
            log.failed(&"connection refused");
        }
        assert!(log.down.load(Ordering::Acquire));
        assert_eq!(log.outage.lock().unwrap().as_ref().unwrap().failures, 99);
        log.succeeded();
        assert!(!log.down.load(Ordering::Acquire));
        assert!(log.outage.lock().unwrap().is_none());
    }
}
