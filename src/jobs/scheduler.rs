//! Periodic jobs. Every scheduler (one per worker pool, any number of replicas) enqueues the
//! current period's run under a unique key derived from the period's start, so each period
//! yields exactly one job however many schedulers race for it.

use std::time::Duration;

use serde_json::Value;

use super::store::{self, NewJob};
use crate::{
    db::{Db, Timestamp},
    error::ApiError,
};

/// Fire once in each period of this length, periods aligned to the Unix epoch (an hourly job
/// fires at the top of each hour UTC).
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    period: Duration,
}

impl Schedule {
    pub fn every(period: Duration) -> Self {
        Self {
            period: period.max(Duration::from_secs(1)),
        }
    }

    /// Start of the period containing `now`, in Unix microseconds.
    fn period_start(self, now: Timestamp) -> i64 {
        let period = self.period.as_micros() as i64;
        now.unix_micros().div_euclid(period) * period
    }

    pub fn period(self) -> Duration {
        self.period
    }
}

#[derive(Clone)]
pub(super) struct Periodic {
    pub kind: &'static str,
    pub max_attempts: u32,
    pub schedule: Schedule,
    pub payload: Value,
}

/// Enqueues each periodic job's current run unless some scheduler already did.
pub(super) async fn tick(db: &Db, periodic: &[Periodic], now: Timestamp) -> Result<(), ApiError> {
    for job in periodic {
        let start = job.schedule.period_start(now);
        let key = format!("periodic:{}:{start}", job.kind);
        let run_at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(start) * 1_000)
            .map(Timestamp::from)
            .unwrap_or(now);
        let mut tx = db.begin().await?;
        let inserted = store::insert(
            &mut tx,
            &[NewJob {
                id: super::JobId(uuid::Uuid::now_v7()),
                tenant: None,
                kind: job.kind,
                payload: &job.payload,
                max_attempts: job.max_attempts,
                run_at,
                unique_key: Some(&key),
                now,
            }],
        )
        .await?;
        tx.commit().await?;
        if inserted == 1 {
            tracing::debug!(
                kind = job.kind,
                period_start = start,
                "periodic job enqueued"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn periods_align_to_the_epoch() {
        let hourly = Schedule::every(Duration::from_secs(3600));
        let a = Timestamp::from(datetime!(2026-11-29 17:00:00 UTC));
        let b = Timestamp::from(datetime!(2026-11-29 17:59:59.999999 UTC));
        let c = Timestamp::from(datetime!(2026-11-29 18:00:00 UTC));
        assert_eq!(hourly.period_start(a), hourly.period_start(b));
        assert_ne!(hourly.period_start(b), hourly.period_start(c));
        assert_eq!(hourly.period_start(c), c.unix_micros());
    }
}
