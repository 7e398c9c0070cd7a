//! The application's jobs: every kind the product enqueues, with its handler, and the periodic
//! housekeeping. It sits at the top, beside the router: features define their jobs and this
//! registry imports them, never the other way round.

use std::time::Duration;

use crate::{
    auth, bookings, calendar, idempotency,
    jobs::{JobRegistry, PruneFinishedJobs, Schedule, prune_finished_jobs},
    mail, payments, photos, reviews,
};

pub fn application(retention_hours: u32) -> JobRegistry {
    let mut registry = JobRegistry::new();
    registry.register(prune_finished_jobs).every(
        Schedule::every(Duration::from_secs(3600)),
        PruneFinishedJobs { retention_hours },
    );
    mail::register_jobs(&mut registry);
    auth::jobs::register_jobs(&mut registry);
    idempotency::register_jobs(&mut registry);
    bookings::jobs::register_jobs(&mut registry);
    payments::jobs::register_jobs(&mut registry);
    reviews::jobs::register_jobs(&mut registry);
    photos::jobs::register_jobs(&mut registry);
    calendar::jobs::register_jobs(&mut registry);
    registry
}
